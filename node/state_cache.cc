#include "node/state_cache.h"

namespace certledger::node {

StateCache::StateCache(const ledger::StateReader* base, size_t max_entries_per_generation)
    : base_(base), max_entries_(max_entries_per_generation == 0 ? 1 : max_entries_per_generation) {}

void StateCache::Insert(std::string key, ledger::Bytes value) const {
  if (current_.size() >= max_entries_) {
    previous_ = std::move(current_);
    current_ = Map();
    ++stats_.rotations;
  }
  current_.insert_or_assign(std::move(key), std::move(value));
}

ledger::Status StateCache::Get(std::string_view key, ledger::Bytes* value) const {
  auto answer = [&](const ledger::Bytes& v) {
    ++stats_.hits;
    if (v.empty()) return ledger::Status::NotFound(std::string(key));
    *value = v;
    return ledger::Status::Ok();
  };
  if (auto it = current_.find(key); it != current_.end()) return answer(it->second);
  if (auto it = previous_.find(key); it != previous_.end()) {
    auto node = previous_.extract(it);
    ledger::Status st = answer(node.mapped());
    Insert(std::move(node.key()), std::move(node.mapped()));
    return st;
  }
  ++stats_.misses;
  ledger::Bytes v;
  ledger::Status st = base_->Get(key, &v);
  if (!st.ok() && !st.IsNotFound()) return st;  // errors are not remembered
  // A present record is never empty (FORMAT §6: every state value is an encoded record).
  if (st.ok()) *value = v;
  Insert(std::string(key), st.ok() ? std::move(v) : ledger::Bytes{});
  return st;
}

void StateCache::Committed(const std::vector<ledger::StateChange>& changes) {
  for (const auto& c : changes) {
    // Only keys already cached need updating; the others are read from the base when asked.
    if (auto it = current_.find(c.key); it != current_.end()) {
      it->second = c.value;
    } else if (auto p = previous_.find(c.key); p != previous_.end()) {
      p->second = c.value;
    }
  }
}

void StateCache::Clear() {
  current_.clear();
  previous_.clear();
}

}  // namespace certledger::node
