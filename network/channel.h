// The encrypted peer channel of protocol version 2 (docs/FORMAT.md §10): X25519 key agreement,
// the handshake transcript hash, the AUTH digests, key derivation (HKDF-SHA256) and the
// per-direction ChaCha20-Poly1305 frame cipher. Pure computation over OpenSSL: no sockets, no
// clocks, so that the channel can be tested against published vectors and re-implemented from
// the format document.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::network::channel {

inline constexpr size_t kX25519Bytes = 32;
inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;

using X25519Key = ledger::FixedBytes<kX25519Bytes>;  // a public key or a shared secret
using AeadKey = ledger::FixedBytes<kAeadKeyBytes>;
using AeadNonce = ledger::FixedBytes<kAeadNonceBytes>;

// An ephemeral X25519 key pair (RFC 7748), one per connection. Move-only; the private key is
// never exposed.
class EphemeralKey {
 public:
  // A fresh key from OpenSSL's CSPRNG.
  static ledger::Result<EphemeralKey> Generate();
  // From 32 raw private-key bytes (test vectors and FORMAT.md examples only).
  static ledger::Result<EphemeralKey> FromPrivate(ledger::ByteSpan raw);

  EphemeralKey(EphemeralKey&&) noexcept;
  EphemeralKey& operator=(EphemeralKey&&) noexcept;
  ~EphemeralKey();

  [[nodiscard]] const X25519Key& public_key() const { return public_; }
  // X25519(own private key, peer_public). Corruption if the result is all zero (the peer sent a
  // low-order point, which would make the session keys predictable).
  [[nodiscard]] ledger::Result<X25519Key> Agree(const X25519Key& peer_public) const;

 private:
  struct Pkey;
  explicit EphemeralKey(std::unique_ptr<Pkey> key);
  std::unique_ptr<Pkey> key_;
  X25519Key public_;
};

// Who dialled: the initiator opened the TCP connection, the responder accepted it.
enum class Role : uint8_t { kInitiator = 0x49, kResponder = 0x52 };  // 'I', 'R'

// The transcript hash both sides sign:
//   SigningDigest("certledger/handshake/v2", {chain_id, genesis_hash},
//                 u16le(version) || initiator_identity || initiator_ephemeral ||
//                 responder_identity || responder_ephemeral)                     (130 bytes)
ledger::Hash256 TranscriptHash(const ledger::ChainDomain& domain, uint16_t version,
                               const ledger::PublicKey& initiator_identity,
                               const X25519Key& initiator_ephemeral,
                               const ledger::PublicKey& responder_identity,
                               const X25519Key& responder_ephemeral);

// What a side signs in AUTH: TaggedHash("certledger/handshake/v2/auth", transcript || role).
// The role byte keeps a side's signature from being reflected back as the other side's.
ledger::Hash256 AuthDigest(const ledger::Hash256& transcript, Role signer);

// HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` to `length` bytes (<= 8160).
ledger::Result<ledger::Bytes> Hkdf(ledger::ByteSpan salt, ledger::ByteSpan ikm,
                                   ledger::ByteSpan info, size_t length);

struct SessionKeys {
  AeadKey initiator_to_responder;
  AeadKey responder_to_initiator;
};
// HKDF-SHA256(salt = transcript, ikm = shared secret, info = "certledger/p2p/v2 keys", 64 bytes):
// the first 32 bytes key the initiator's frames, the last 32 the responder's.
ledger::Result<SessionKeys> DeriveKeys(const X25519Key& shared, const ledger::Hash256& transcript);

// ChaCha20-Poly1305 (RFC 8439) in one call, for the published test vector and tools.
// Seal returns ciphertext || 16-byte tag; Open returns the plaintext, or Corruption.
ledger::Result<ledger::Bytes> AeadSeal(const AeadKey& key, const AeadNonce& nonce,
                                       ledger::ByteSpan aad, ledger::ByteSpan plaintext);
ledger::Result<ledger::Bytes> AeadOpen(const AeadKey& key, const AeadNonce& nonce,
                                       ledger::ByteSpan aad, ledger::ByteSpan sealed);

// The nonce of the frame with sequence number `counter` in a direction: 4 zero bytes ||
// u64le(counter).
AeadNonce FrameNonce(uint64_t counter);

// One direction of a session. Frames are numbered from 0; frame i is sealed with FrameNonce(i)
// and, as associated data, its 4-byte length prefix. A sealed frame on the wire is
//   u32le(L) || ChaCha20-Poly1305(key, nonce, aad = u32le(L), type || payload)
// with L = 1 + len(payload) + 16.
class FrameCipher {
 public:
  explicit FrameCipher(const AeadKey& key);
  FrameCipher(FrameCipher&&) noexcept;
  FrameCipher& operator=(FrameCipher&&) noexcept;
  ~FrameCipher();

  // The whole wire frame for (type, payload), and advances the counter. ResourceExhausted-like
  // failure (InvalidArgument) when the counter is spent: the caller closes the connection.
  ledger::Result<ledger::Bytes> Seal(uint8_t type, ledger::ByteSpan payload);
  // Opens the frame whose length prefix is `length` and whose body (the L bytes after the prefix)
  // is `body`; on success *type and *payload hold the frame and the counter advances. False if
  // the frame does not authenticate (tampered, reordered, replayed, or under another key).
  bool Open(uint32_t length, ledger::ByteSpan body, uint8_t* type, ledger::Bytes* payload);

  [[nodiscard]] uint64_t counter() const { return counter_; }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  uint64_t counter_ = 0;
};

}  // namespace certledger::network::channel
