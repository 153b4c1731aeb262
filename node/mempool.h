// The mempool: transactions admitted but not yet committed, bounded in count and bytes, in total,
// per acting agency and per source (the peer that relayed it, or the client address).
//
// One rule set for every transaction, whatever its path (client, peer): size, chain, a registered
// agency, a sequence above the committed one and not taken, every signature (through the node's
// signature cache, so each is verified once per node), and the full state transition against the
// committed state as if it were the agency's next transaction. For a transaction queued behind
// pending ones of its agency, only what an earlier pending transaction can change is let through
// (certificate not found yet, version, transition, issuer after a pending transfer); everything
// else (unknown agency, missing or surplus signers, bad fields) is refused at admission.
// Transactions with later sequences wait until the earlier ones commit. Reap() yields, per
// agency, the contiguous run of sequences after the committed one, interleaved across agencies
// in arrival order, after any pending evidence of double votes (which has no agency or
// sequence, and is checked exactly, signatures included, on admission). After each block Recheck()
// applies every agency's next transaction again and drops what can no longer become valid; Expire()
// drops what waited longer than max_age_ms.
//
// Not thread-safe: the node's event loop owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ledger/coding.h"
#include "ledger/state.h"
#include "ledger/types.h"

namespace certledger::node {

struct MempoolOptions {
  size_t max_txs = 20000;
  uint64_t max_bytes = 64ull << 20;
  // How far beyond the committed sequence an agency may queue transactions.
  uint64_t max_sequence_ahead = 10000;
  // Shares one acting agency, or one source, may hold (count and bytes).
  size_t max_txs_per_agency = 5000;
  uint64_t max_bytes_per_agency = 16ull << 20;
  size_t max_txs_per_source = 10000;
  uint64_t max_bytes_per_source = 32ull << 20;
  // A transaction pending longer than this is dropped (reason "expired").
  int64_t max_age_ms = 10 * 60 * 1000;
};

struct Admission {
  enum class Code : uint8_t { kAccepted, kDuplicate, kRejected, kConflict, kFull };
  Code code = Code::kAccepted;
  // Stable code: a state-machine reason, or "mempool-full", "agency-quota", "source-quota",
  // "sequence-taken".
  std::string reason;
  std::string message;
};

// Checks every signature of `stx` against its signing digest through `verifier`: the stateless,
// expensive part of admission, safe to run on any thread. Empty on success, else the signer
// that failed.
std::optional<std::string> VerifySignatures(const ledger::SignedTransaction& stx,
                                            const ledger::Hash256& genesis_hash,
                                            const ledger::SignatureVerifier& verifier);

// A transaction dropped from the pool, with why.
struct Dropped {
  ledger::Hash256 hash;
  std::string reason;
  std::string message;
};

class Mempool {
 public:
  explicit Mempool(MempoolOptions options) : options_(options) {}

  // Admits `stx` (whose id is `hash`) against the committed `state`; `ctx` is where it would
  // land if it were the next transaction (next height, now, current log size). Signatures are
  // checked through `verifier` (cheap when the caller verified them through the same cache).
  // `source` names who sent it ("peer:<key>", "client:<address>") for the per-source quota;
  // `now_ms` is a monotonic clock for expiry.
  Admission Add(const ledger::SignedTransaction& stx, const ledger::Hash256& hash,
                const ledger::StateReader& state, const ledger::ApplyContext& ctx,
                const ledger::SignatureVerifier& verifier, const std::string& source,
                int64_t now_ms);

  // Up to `max` transactions ready for the next block, in the order they should be applied.
  [[nodiscard]] std::vector<ledger::SignedTransaction> Reap(const ledger::StateReader& state,
                                                            size_t max) const;
  // How many agencies have their next transaction pending: zero means nothing can go into the
  // next block, whatever the pool holds.
  [[nodiscard]] size_t ReadyAgencies(const ledger::StateReader& state) const;

  // After a block commits: drops every pending transaction whose sequence is now committed.
  void Committed(const ledger::Block& block, const ledger::StateReader& state_after);

  // Applies each agency's next pending transaction to `state` (as the next block would) and
  // drops those rejected, with the later sequences of their agency. Returns what was dropped.
  std::vector<Dropped> Recheck(const ledger::StateReader& state, const ledger::ApplyContext& ctx,
                               const ledger::SignatureVerifier& verifier);

  // Drops every transaction that arrived before `now_ms - max_age_ms`, with the later
  // sequences of its agency.
  std::vector<Dropped> Expire(int64_t now_ms);

  // Drops `hash` (rejected when a block was built) and every later sequence of its agency,
  // which can no longer apply. Returns the hashes dropped, `hash` first.
  std::vector<ledger::Hash256> Drop(const ledger::Hash256& hash);

  [[nodiscard]] bool Contains(const ledger::Hash256& hash) const {
    return by_hash_.count(hash) || evidence_.count(hash);
  }
  [[nodiscard]] size_t size() const { return by_hash_.size() + evidence_.size(); }
  [[nodiscard]] uint64_t bytes() const { return bytes_; }

 private:
  struct Entry {
    ledger::SignedTransaction stx;
    ledger::Hash256 hash;
    std::string source;
    uint64_t arrival = 0;
    int64_t arrival_ms = 0;
    size_t bytes = 0;
  };
  struct Usage {
    size_t txs = 0;
    uint64_t bytes = 0;
  };
  struct HashKey {
    size_t operator()(const ledger::Hash256& h) const {
      return ledger::DecodeFixedBE<size_t>(h.data());  // the key is a hash already
    }
  };
  void Erase(const std::string& agency, uint64_t sequence);
  // Drops (agency, sequence) and every later sequence of the agency.
  void DropFrom(const std::string& agency, uint64_t sequence, const std::string& reason,
                const std::string& message, std::vector<Dropped>* out);

  MempoolOptions options_;
  // agency -> sequence -> entry
  std::map<std::string, std::map<uint64_t, Entry>, std::less<>> by_agency_;
  std::unordered_map<ledger::Hash256, std::pair<std::string, uint64_t>, HashKey> by_hash_;
  std::map<std::string, Usage, std::less<>> per_source_;
  std::map<std::string, Usage, std::less<>> per_agency_;
  // Evidence (no agency, no sequence): a few at most, ready at once, proposed first.
  static constexpr size_t kMaxEvidence = 64;
  std::map<ledger::Hash256, Entry> evidence_;
  Admission AddEvidence(const ledger::SignedTransaction& stx, const ledger::Hash256& hash,
                        const ledger::StateReader& state, const ledger::ApplyContext& ctx,
                        const ledger::SignatureVerifier& verifier, const std::string& source,
                        int64_t now_ms);
  uint64_t bytes_ = 0;
  uint64_t arrivals_ = 0;
};

}  // namespace certledger::node
