// The engine's injected environment: signing, signature verification, and the validity
// predicate of proposal values. The engine calls these synchronously from Step() and never from
// any other thread; implementations need no locking unless they are shared between engines.
#pragma once

#include <cstdint>

#include "consensus/message.h"

namespace certledger::consensus {

// Signs digests with one validator key. The engine asks for a signature only after it has
// decided to send a message, and protects against double signing itself (engine.h), so a
// Signer may be a thin wrapper around a key or a remote signing service.
class Signer {
 public:
  virtual ~Signer() = default;
  [[nodiscard]] virtual const PublicKey& public_key() const = 0;
  // A signature of `digest` that the matching Verifier accepts for public_key().
  [[nodiscard]] virtual Signature Sign(const Hash256& digest) = 0;
};

// Verifies signatures. Must be deterministic: the same inputs always give the same answer.
class Verifier {
 public:
  virtual ~Verifier() = default;
  [[nodiscard]] virtual bool Verify(const PublicKey& key, const Hash256& digest,
                                    const Signature& sig) const = 0;
};

// The validity predicate valid(v) of the paper. Must be deterministic for a given (height,
// value), and must return false unless `value.id` is the id of `value.payload` (the proposal
// signature covers only the id). The ledger implements it by decoding and checking the block.
class ValueValidator {
 public:
  virtual ~ValueValidator() = default;
  [[nodiscard]] virtual bool IsValid(uint64_t height, const Value& value) = 0;
};

// A Signer over a ledger::PrivateKey (BIP-340 with fresh auxiliary randomness).
class KeySigner final : public Signer {
 public:
  explicit KeySigner(ledger::PrivateKey key) : key_(std::move(key)) {}
  [[nodiscard]] const PublicKey& public_key() const override { return key_.public_key(); }
  [[nodiscard]] Signature Sign(const Hash256& digest) override { return key_.Sign(digest); }

 private:
  ledger::PrivateKey key_;
};

// A Verifier with BIP-340 (ledger::Verify).
class Bip340Verifier final : public Verifier {
 public:
  [[nodiscard]] bool Verify(const PublicKey& key, const Hash256& digest,
                            const Signature& sig) const override {
    return ledger::Verify(key, digest, sig);
  }
};

}  // namespace certledger::consensus
