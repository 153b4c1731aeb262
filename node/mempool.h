// The mempool: transactions admitted but not yet committed, bounded in count and bytes.
//
// Admission checks everything that can be checked before ordering: size, chain, a registered
// agency, a sequence above the committed one and not taken, every signature (verified once
// here; blocks built from the pool skip re-verification), and for the agency's next sequence the
// full state transition against the committed state. Transactions with later sequences wait
// until the earlier ones commit. Reap() yields, per agency, the contiguous run of sequences
// after the committed one, interleaved across agencies in arrival order.
//
// Not thread-safe: the node's event loop owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ledger/state.h"
#include "ledger/types.h"

namespace certledger::node {

struct MempoolOptions {
  size_t max_txs = 20000;
  uint64_t max_bytes = 64ull << 20;
  // How far beyond the committed sequence an agency may queue transactions.
  uint64_t max_sequence_ahead = 10000;
};

struct Admission {
  enum class Code : uint8_t { kAccepted, kDuplicate, kRejected, kConflict, kFull };
  Code code = Code::kAccepted;
  std::string reason;  // stable code: a state-machine reason, or "mempool-full", "sequence-taken"
  std::string message;
};

// Checks every signature of `stx` against its signing digest: the stateless, expensive part of
// admission, safe to run on any thread. Empty on success, else the signer that failed.
std::optional<std::string> VerifySignatures(const ledger::SignedTransaction& stx);

class Mempool {
 public:
  explicit Mempool(MempoolOptions options) : options_(options) {}

  // Admits `stx` (whose id is `hash`) against the committed `state`; `ctx` is where it would
  // land if it were the next transaction (next height, now, current log size). With
  // `signatures_verified` the caller has checked every signature against the transaction's
  // signing digest already (VerifySignatures, e.g. on another thread); the signer rules are
  // still enforced here. Without `check_rules` (a transaction relayed by a peer, whose node
  // checked the rules on admission) only the chain, the sequence and the signatures are checked
  // here; block building applies the rules in any case.
  Admission Add(const ledger::SignedTransaction& stx, const ledger::Hash256& hash,
                const ledger::StateReader& state, const ledger::ApplyContext& ctx,
                bool signatures_verified = false, bool check_rules = true);

  // Up to `max` transactions ready for the next block, in the order they should be applied.
  [[nodiscard]] std::vector<ledger::SignedTransaction> Reap(const ledger::StateReader& state,
                                                            size_t max) const;

  // After a block commits: drops every pending transaction whose sequence is now committed.
  void Committed(const ledger::Block& block, const ledger::StateReader& state_after);

  // Drops `hash` (rejected when a block was built) and every later sequence of its agency,
  // which can no longer apply. Returns the hashes dropped, `hash` first.
  std::vector<ledger::Hash256> Drop(const ledger::Hash256& hash);

  [[nodiscard]] bool Contains(const ledger::Hash256& hash) const { return by_hash_.count(hash); }
  // True if the signatures of `hash` were verified on admission.
  [[nodiscard]] bool Verified(const ledger::Hash256& hash) const { return Contains(hash); }
  [[nodiscard]] size_t size() const { return by_hash_.size(); }
  [[nodiscard]] uint64_t bytes() const { return bytes_; }

 private:
  struct Entry {
    ledger::SignedTransaction stx;
    ledger::Hash256 hash;
    uint64_t arrival = 0;
    size_t bytes = 0;
  };
  struct HashKey {
    size_t operator()(const ledger::Hash256& h) const {
      size_t v = 0;
      for (size_t i = 0; i < sizeof(size_t); ++i) v = (v << 8) | h.bytes[i];
      return v;
    }
  };
  void Erase(const std::string& agency, uint64_t sequence);

  MempoolOptions options_;
  // agency -> sequence -> entry
  std::map<std::string, std::map<uint64_t, Entry>, std::less<>> by_agency_;
  std::unordered_map<ledger::Hash256, std::pair<std::string, uint64_t>, HashKey> by_hash_;
  uint64_t bytes_ = 0;
  uint64_t arrivals_ = 0;
};

}  // namespace certledger::node
