// The engine's injected environment: signing, signature verification, and the validity
// predicate of proposal values. The engine calls these synchronously from Step() and never from
// any other thread; implementations need no locking unless they are shared between engines.
#pragma once

#include <cstdint>
#include <optional>

#include "consensus/message.h"

namespace certledger::consensus {

// What the engine asks a signer to sign: the position of the message (height, round, step), the
// value it is for (a proposal's value id, a vote's block id; none for a nil vote), and its
// signing digest. A signer that keeps its own memory (node/guarded_signer.h; a remote signer
// later) uses the position and value to refuse conflicting messages.
enum class SignStep : uint8_t { kProposal = 1, kPrevote = 2, kPrecommit = 3 };
struct SignRequest {
  uint64_t height = 0;
  uint32_t round = 0;
  SignStep step = SignStep::kProposal;
  std::optional<Hash256> value_id;
  Hash256 digest;
};
inline SignRequest RequestFor(const ledger::ChainDomain& domain, const Proposal& p) {
  return {p.height, p.round, SignStep::kProposal, p.value.id, SigningDigestOf(domain, p)};
}
inline SignRequest RequestFor(const ledger::ChainDomain& domain, const Vote& v) {
  return {v.height, v.round,
          v.type == VoteType::kPrevote ? SignStep::kPrevote : SignStep::kPrecommit, v.block_id,
          SigningDigestOf(domain, v)};
}

// Signs the engine's proposals and votes with one validator key: the one small interface a
// remote signer would implement. The engine asks for a signature only after it has decided to
// send a message and never signs twice itself (engine.h); a signer may refuse on top of that
// (nullopt), and the engine then sends nothing.
class Signer {
 public:
  virtual ~Signer() = default;
  [[nodiscard]] virtual const PublicKey& public_key() const = 0;
  // A signature of `request.digest` that the matching Verifier accepts for public_key(), or
  // nullopt if the signer refuses.
  [[nodiscard]] virtual std::optional<Signature> Sign(const SignRequest& request) = 0;
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
  [[nodiscard]] std::optional<Signature> Sign(const SignRequest& request) override {
    return key_.Sign(request.digest);
  }

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
