// Test helpers shared by the consensus unit tests, the simulator and the benchmark: deterministic
// validator keys, a fast deterministic test signer/verifier, and the simulator's value validity
// predicate. Not for production use.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "consensus/signer.h"
#include "ledger/types.h"

namespace certledger::consensus::testing {

// The i-th deterministic test key (secret = SHA-256("certledger-test-key" || u32 i)); cached.
const ledger::PrivateKey& TestKey(uint32_t i);

// Validator set of keys 0..n-1 with the given powers (all 1 if empty), in canonical order.
ledger::ValidatorSet MakeSet(uint32_t n, const std::vector<uint64_t>& powers = {});

// A fast stand-in for BIP-340: signature = SHA-256("certledger-fake-sig" || key || digest) || 32
// zero bytes. Forgeable by design; only the simulator's own code signs, and each simulated node
// signs only with its own signer. Used where thousands of seeds must run in CI.
class FastSigner final : public Signer {
 public:
  explicit FastSigner(const PublicKey& key) : key_(key) {}
  [[nodiscard]] const PublicKey& public_key() const override { return key_; }
  [[nodiscard]] std::optional<Signature> Sign(const SignRequest& r) override {
    return SignDigest(r.digest);
  }
  [[nodiscard]] Signature SignDigest(const Hash256& digest) const;

 private:
  PublicKey key_;
};
class FastVerifier final : public Verifier {
 public:
  [[nodiscard]] bool Verify(const PublicKey& key, const Hash256& digest,
                            const Signature& sig) const override;
};

// BIP-340 with all-zero auxiliary randomness, so simulated runs are byte-for-byte reproducible.
class DeterministicKeySigner final : public Signer {
 public:
  explicit DeterministicKeySigner(const ledger::PrivateKey& key) : key_(key) {}
  [[nodiscard]] const PublicKey& public_key() const override { return key_.public_key(); }
  [[nodiscard]] std::optional<Signature> Sign(const SignRequest& r) override {
    return SignDigest(r.digest);
  }
  [[nodiscard]] Signature SignDigest(const Hash256& digest) const;

 private:
  ledger::PrivateKey key_;
};

// Counts calls, then delegates.
class CountingVerifier final : public Verifier {
 public:
  explicit CountingVerifier(const Verifier* inner) : inner_(inner) {}
  [[nodiscard]] bool Verify(const PublicKey& key, const Hash256& digest,
                            const Signature& sig) const override {
    ++count_;
    return inner_->Verify(key, digest, sig);
  }
  [[nodiscard]] uint64_t count() const { return count_; }

 private:
  const Verifier* inner_;
  mutable uint64_t count_ = 0;
};

// Test values: payload = "blk" || u64 height || tag bytes; id = SHA-256(payload).
// A payload whose tag starts with 'X' is invalid (a Byzantine proposer's bad block).
Value MakeValue(uint64_t height, const std::string& tag);
class TestValueValidator final : public ValueValidator {
 public:
  [[nodiscard]] bool IsValid(uint64_t height, const Value& value) override;
};

}  // namespace certledger::consensus::testing
