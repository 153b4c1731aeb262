// The peer protocol's byte layouts: frames, HELLO, AUTH, PING/PONG, CLOSE. Pure functions, no
// sockets, so that the protocol can be tested (and re-implemented) without Boost.Asio. The
// cryptography of the channel (transcript, keys, sealed frames) is in network/channel.h.
// Byte-by-byte description: docs/FORMAT.md §10.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::network::wire {

// Frame types 0..15 belong to the transport; the node uses 16..255.
inline constexpr uint8_t kTypeHello = 0;
inline constexpr uint8_t kTypeAuth = 1;
inline constexpr uint8_t kTypePing = 2;
inline constexpr uint8_t kTypePong = 3;
inline constexpr uint8_t kTypeClose = 4;
inline constexpr uint8_t kFirstAppType = 16;

inline constexpr std::array<uint8_t, 4> kMagic = {'C', 'L', 'P', '2'};
inline constexpr uint16_t kProtocolVersion = 2;
inline constexpr size_t kMaxChainIdBytes = 64;
inline constexpr size_t kEphemeralBytes = 32;             // an X25519 public key
inline constexpr size_t kSealTagBytes = 16;               // the AEAD tag of a sealed frame
inline constexpr size_t kLengthBytes = 4;                 // u32le frame length prefix
inline constexpr size_t kHeaderBytes = kLengthBytes + 1;  // length prefix + type byte
inline constexpr size_t kPingPayloadBytes = 8;            // PING/PONG carry an opaque u64
inline constexpr size_t kMaxCloseReasonBytes = 128;       // CLOSE carries printable ASCII
// Before authentication a frame (type + payload) may be at most this long: the largest HELLO is
// 4 + 2 + 4 + 64 + 32 + 32 + 1 = 139 bytes, so an unauthenticated client cannot make us buffer
// more than this per connection.
inline constexpr uint32_t kMaxHandshakeFrameBytes = 256;
inline constexpr size_t kMinHelloPayloadBytes = 4 + 2 + 4 + 0 + 32 + 32;

using Ephemeral = ledger::FixedBytes<kEphemeralBytes>;

// u32le(1 + payload_size) || type. REQUIRES: payload_size < 2^32 - 1.
std::array<uint8_t, kHeaderBytes> EncodeHeader(uint8_t type, size_t payload_size);
// The whole frame: header || payload.
ledger::Bytes EncodeFrame(uint8_t type, ledger::ByteSpan payload);
// Reads the u32le length prefix. REQUIRES: p points at kLengthBytes readable bytes.
uint32_t DecodeLength(const uint8_t* p);

struct Hello {
  uint16_t version = kProtocolVersion;
  std::string chain_id;
  ledger::PublicKey key;  // the sender's node identity (BIP-340 x-only)
  Ephemeral ephemeral;    // the sender's fresh X25519 public key for this connection
};

// HELLO payload: magic || u16le version || u32le len || chain_id || key(32) || ephemeral(32).
// REQUIRES: hello.chain_id.size() <= kMaxChainIdBytes.
ledger::Bytes EncodeHello(const Hello& hello);
// Parses a HELLO payload. Corruption if the magic, a length or the key is bad or bytes trail.
// The version is returned as sent; the caller decides whether it speaks it.
ledger::Result<Hello> DecodeHello(ledger::ByteSpan payload);

// A CLOSE reason as it is put on the wire: truncated to kMaxCloseReasonBytes, and every byte
// outside printable ASCII replaced by '?'. Also used on received reasons before logging them.
std::string SanitizeReason(std::string_view reason);

}  // namespace certledger::network::wire
