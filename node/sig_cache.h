// A bounded, thread-safe memory of BIP-340 signatures this node has verified.
//
// Every signature a node accepts is verified once: on admission (API or gossip, on a worker
// thread), and a block built or validated later asks this cache first. The key is exactly what
// was verified, SHA-256(public key || digest || signature), never a transaction hash: a cached
// success says nothing about any other signature over the same transaction. Only successes are
// remembered; failures are cheap to repeat for whoever sent them and are not worth the memory.
// Eviction is first in, first out once `capacity` entries are held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_set>

#include "ledger/coding.h"
#include "ledger/crypto.h"

namespace certledger::node {

class SignatureCache final : public ledger::SignatureVerifier {
 public:
  explicit SignatureCache(size_t capacity) : capacity_(capacity) {}

  // True iff `sig` is a valid BIP-340 signature by `key` over `digest`: from memory if this
  // exact triple verified before, else verified now (outside the lock) and remembered.
  [[nodiscard]] bool Verify(const ledger::PublicKey& key, const ledger::Hash256& digest,
                            const ledger::Signature& sig) const override;

  // True iff this exact triple verified before (a lookup only: nothing is verified).
  [[nodiscard]] bool Known(const ledger::PublicKey& key, const ledger::Hash256& digest,
                           const ledger::Signature& sig) const;

  struct Stats {
    uint64_t hits = 0, misses = 0, failures = 0;
    size_t size = 0;
  };
  [[nodiscard]] Stats stats() const;

 private:
  struct KeyHash {
    size_t operator()(const ledger::Hash256& h) const {
      return ledger::DecodeFixedBE<size_t>(h.data());  // the key is a hash already
    }
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  mutable std::unordered_set<ledger::Hash256, KeyHash> set_;
  mutable std::deque<ledger::Hash256> order_;
  mutable Stats stats_;
};

}  // namespace certledger::node
