// A signing key kept in the form libsecp256k1 signs with (the key pair, computed once), for a
// key that signs at high rates: PrivateKey::Sign derives the key pair again for every signature,
// which costs about as much as the signature itself.
#pragma once

#include <array>
#include <cstdint>

#include "ledger/crypto.h"

namespace certledger::ledger {

class KeyPairSigner {
 public:
  explicit KeyPairSigner(const PrivateKey& key);
  ~KeyPairSigner();  // wipes the key pair
  KeyPairSigner(const KeyPairSigner&) = delete;
  KeyPairSigner& operator=(const KeyPairSigner&) = delete;

  [[nodiscard]] const PublicKey& public_key() const { return public_key_; }
  // BIP-340 signature of `digest` with fresh auxiliary randomness: the same signatures as
  // PrivateKey::Sign. Thread-safe (const).
  [[nodiscard]] Signature Sign(const Hash256& digest) const;

 private:
  std::array<unsigned char, 96> keypair_{};  // secp256k1_keypair
  PublicKey public_key_;
};

}  // namespace certledger::ledger
