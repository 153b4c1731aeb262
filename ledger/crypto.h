// Hashing and signatures: SHA-256 (OpenSSL) and BIP-340 Schnorr over secp256k1 (libsecp256k1).
//
// Every signature in certledger is over a domain-separated digest (SigningDigest) that binds a
// type tag ("certledger/tx", "certledger/vote", ...) and the chain id, so that a signature can
// never be replayed in another context or on another chain. Byte layouts: docs/FORMAT.md §2.
//
// Thread safety: all functions are safe to call concurrently; they share one randomized,
// read-only secp256k1 context.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ledger/bytes.h"

namespace certledger::ledger {

struct Hash256 : FixedBytes<32> {
  static std::optional<Hash256> FromSpan(ByteSpan s) {
    auto f = FixedBytes<32>::FromSpan(s);
    if (!f) return std::nullopt;
    return Hash256{*f};
  }
  static std::optional<Hash256> FromHexString(std::string_view hex) {
    auto f = FixedBytes<32>::FromHexString(hex);
    if (!f) return std::nullopt;
    return Hash256{*f};
  }
  auto operator<=>(const Hash256&) const = default;
};

// SHA-256 of `data`.
Hash256 Sha256(ByteSpan data);

// Incremental SHA-256.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  Sha256Hasher& Update(ByteSpan data);
  Sha256Hasher& Update(uint8_t byte) { return Update(ByteSpan(&byte, 1)); }
  Hash256 Finish();

 private:
  alignas(8) unsigned char ctx_[128];  // SHA256_CTX storage; keeps OpenSSL out of this header.
};

// BIP-340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || msg).
Hash256 TaggedHash(std::string_view tag, ByteSpan msg);

// The chain a signature belongs to: its id and the hash of its genesis (FORMAT.md §2.3). Binding
// both means a signature made for one chain never verifies on another, not even on a relaunch
// of the chain under the same id.
struct ChainDomain {
  std::string chain_id;
  Hash256 genesis_hash;
  bool operator==(const ChainDomain&) const = default;
};

// The digest that certledger signs:
// TaggedHash(tag, u16le(len(chain_id)) || chain_id || genesis_hash || payload).
Hash256 SigningDigest(std::string_view tag, const ChainDomain& domain, ByteSpan payload);

// Domain tags. One per kind of signed message; never reuse a tag for another layout.
inline constexpr std::string_view kTagTx = "certledger/tx";
inline constexpr std::string_view kTagVote = "certledger/vote";
inline constexpr std::string_view kTagProposal = "certledger/proposal";
// The peer channel (network/channel.h): the handshake transcript (a SigningDigest) and the
// AUTH digest over it (a TaggedHash).
inline constexpr std::string_view kTagHandshakeTranscript = "certledger/handshake/v2";
inline constexpr std::string_view kTagHandshakeAuth = "certledger/handshake/v2/auth";

// x-only public key (BIP-340), 32 bytes. Parse() guarantees it is a point on the curve.
struct PublicKey : FixedBytes<32> {
  static std::optional<PublicKey> Parse(ByteSpan s);
  static std::optional<PublicKey> ParseHex(std::string_view hex);
  auto operator<=>(const PublicKey&) const = default;
};

// BIP-340 signature, 64 bytes.
struct Signature : FixedBytes<64> {
  static std::optional<Signature> FromSpan(ByteSpan s) {
    auto f = FixedBytes<64>::FromSpan(s);
    if (!f) return std::nullopt;
    return Signature{*f};
  }
  auto operator<=>(const Signature&) const = default;
};

// A secp256k1 secret key. Wiped on destruction; never printed.
class PrivateKey {
 public:
  // A fresh key from OpenSSL's CSPRNG.
  static PrivateKey Generate();
  // nullopt unless `s` is 32 bytes and a valid secret (0 < k < n).
  static std::optional<PrivateKey> FromBytes(ByteSpan s);

  PrivateKey(const PrivateKey& other);
  PrivateKey& operator=(const PrivateKey& other);
  ~PrivateKey();

  [[nodiscard]] const PublicKey& public_key() const { return public_key_; }
  // Secret bytes, for writing a key file. Handle with care.
  [[nodiscard]] ByteSpan secret() const { return secret_; }

  // BIP-340 signature of `msg` (any length) with 32 bytes of auxiliary randomness.
  [[nodiscard]] Signature Sign(ByteSpan msg, ByteSpan aux_rand32) const;
  // Same, with fresh auxiliary randomness.
  [[nodiscard]] Signature Sign(const Hash256& digest) const;

 private:
  PrivateKey() = default;
  std::array<uint8_t, 32> secret_{};
  PublicKey public_key_;
};

// BIP-340 verification over the raw byte forms (a malformed key simply fails).
[[nodiscard]] bool VerifySchnorr(ByteSpan pubkey32, ByteSpan msg, ByteSpan sig64);
[[nodiscard]] inline bool Verify(const PublicKey& key, const Hash256& digest,
                                 const Signature& sig) {
  return VerifySchnorr(key.span(), digest.span(), sig.span());
}

// Checks BIP-340 signatures for the state machine and block validation. An implementation may
// remember what it verified (the node's cache, node/sig_cache.h), but only keyed by exactly what
// was verified: the key, the digest and the signature. Implementations must be thread-safe.
class SignatureVerifier {
 public:
  virtual ~SignatureVerifier() = default;
  [[nodiscard]] virtual bool Verify(const PublicKey& key, const Hash256& digest,
                                    const Signature& sig) const = 0;
};
// Verifies every call afresh (no memory).
const SignatureVerifier& DirectVerifier();

// Fills `out` from OpenSSL's CSPRNG; aborts if the generator fails (no safe fallback exists).
void RandomBytes(std::span<uint8_t> out);

}  // namespace certledger::ledger
