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
// Bounded in two generations: when the current one reaches its bound it becomes the previous one
// (the older previous one is dropped); a key found in the previous generation moves back to the
// current one. So the working set (the hot agency, parameter and sequence records, the keys of
// pending transactions) stays, memory stays flat, and nothing is ever scanned.
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
    uint64_t rotations = 0;  // times a generation reached its bound and was retired
  };

  // `base` must outlive the cache. At most 2 x `max_entries_per_generation` keys are held.
  StateCache(const ledger::StateReader* base, size_t max_entries_per_generation);

  ledger::Status Get(std::string_view key, ledger::Bytes* value) const override;

  // The changes of a block just appended to the base, in order.
  void Committed(const std::vector<ledger::StateChange>& changes);
  void Clear();

  [[nodiscard]] Stats stats() const { return stats_; }
  [[nodiscard]] size_t size() const { return current_.size() + previous_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, ledger::Bytes, Hash, std::equal_to<>>;
  void Insert(std::string key, ledger::Bytes value) const;

  const ledger::StateReader* base_;
  size_t max_entries_;
  // key -> value; an empty value means "absent".
  mutable Map current_;
  mutable Map previous_;
  mutable Stats stats_;
};

}  // namespace certledger::node
