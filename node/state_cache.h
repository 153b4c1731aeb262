#pragma once
// A read cache over the committed state, for the event loop (issue 8's rule set applies every
// transaction at admission and again in the block; each application reads the same agency,
// parameter, sequence and chain-domain records, and probes the same absent certificate and
// document keys).
//
// Coherence: the node writes the state only through Store::AppendBlock on the loop, and passes
// each appended block's changes to Committed(), which updates the cached entries in place. A
// failed append calls Clear(). Absent keys are cached too (an empty value, as in StateChange).
// Read errors are never cached.
//
// Not thread-safe: owned and used by the event-loop thread only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/state.h"

namespace certledger::node {

class StateCache : public ledger::StateReader {
 public:
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t resets = 0;  // times the cache was emptied because it reached its bound
  };

  // `base` must outlive the cache. At most `max_entries` keys are held; reaching the bound
  // empties the cache (the working set of one block is far smaller).
  StateCache(const ledger::StateReader* base, size_t max_entries);

  ledger::Status Get(std::string_view key, ledger::Bytes* value) const override;

  // The changes of a block just appended to the base, in order.
  void Committed(const std::vector<ledger::StateChange>& changes);
  void Clear();

  [[nodiscard]] Stats stats() const { return stats_; }
  [[nodiscard]] size_t size() const { return entries_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  const ledger::StateReader* base_;
  size_t max_entries_;
  // key -> value; an empty value means "absent".
  mutable std::unordered_map<std::string, ledger::Bytes, Hash, std::equal_to<>> entries_;
  mutable Stats stats_;
};

}  // namespace certledger::node
