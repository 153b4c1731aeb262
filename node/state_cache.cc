#include "node/state_cache.h"

namespace certledger::node {

StateCache::StateCache(const ledger::StateReader* base, size_t max_entries)
    : base_(base), max_entries_(max_entries == 0 ? 1 : max_entries) {}

ledger::Status StateCache::Get(std::string_view key, ledger::Bytes* value) const {
  if (auto it = entries_.find(key); it != entries_.end()) {
    ++stats_.hits;
    if (it->second.empty()) return ledger::Status::NotFound(std::string(key));
    *value = it->second;
    return ledger::Status::Ok();
  }
  ++stats_.misses;
  ledger::Bytes v;
  ledger::Status st = base_->Get(key, &v);
  if (!st.ok() && !st.IsNotFound()) return st;  // errors are not remembered
  if (entries_.size() >= max_entries_) {
    entries_.clear();
    ++stats_.resets;
  }
  // A present record is never empty (FORMAT §6: every state value is an encoded record).
  auto& slot = entries_[std::string(key)];
  if (st.ok()) {
    slot = v;
    *value = std::move(v);
  }
  return st;
}

void StateCache::Committed(const std::vector<ledger::StateChange>& changes) {
  for (const auto& c : changes) {
    // Only keys already cached need updating; the others are read from the base when asked.
    if (auto it = entries_.find(c.key); it != entries_.end()) it->second = c.value;
  }
}

void StateCache::Clear() { entries_.clear(); }

}  // namespace certledger::node
