#include "network/wire.h"

#include <algorithm>

#include "ledger/coding.h"

namespace certledger::network::wire {

std::array<uint8_t, kHeaderBytes> EncodeHeader(uint8_t type, size_t payload_size) {
  std::array<uint8_t, kHeaderBytes> header{};
  ledger::EncodeFixed32(header.data(), static_cast<uint32_t>(payload_size + 1));
  header[4] = type;
  return header;
}

ledger::Bytes EncodeFrame(uint8_t type, ledger::ByteSpan payload) {
  const auto header = EncodeHeader(type, payload.size());
  ledger::Bytes out(header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

uint32_t DecodeLength(const uint8_t* p) { return ledger::DecodeFixed32(p); }

ledger::Bytes EncodeHello(const Hello& hello) {
  ledger::Bytes out(kMagic.begin(), kMagic.end());
  ledger::PutFixed16(&out, hello.version);
  ledger::PutFixed32(&out, static_cast<uint32_t>(hello.chain_id.size()));
  const ledger::ByteSpan chain = ledger::AsBytes(hello.chain_id);
  out.insert(out.end(), chain.begin(), chain.end());
  out.insert(out.end(), hello.key.bytes.begin(), hello.key.bytes.end());
  out.insert(out.end(), hello.ephemeral.bytes.begin(), hello.ephemeral.bytes.end());
  return out;
}

ledger::Result<Hello> DecodeHello(ledger::ByteSpan p) {
  if (p.size() < kMinHelloPayloadBytes) return ledger::Status::Corruption("hello: too short");
  if (!std::equal(kMagic.begin(), kMagic.end(), p.begin())) {
    return ledger::Status::Corruption("hello: bad magic");
  }
  Hello h;
  h.version = ledger::DecodeFixed16(p.data() + 4);
  const uint32_t chain_len = DecodeLength(p.data() + 6);
  if (chain_len > kMaxChainIdBytes) return ledger::Status::Corruption("hello: chain id too long");
  if (p.size() != kMinHelloPayloadBytes + chain_len) {
    return ledger::Status::Corruption("hello: bad length");
  }
  size_t at = 10;
  h.chain_id.assign(reinterpret_cast<const char*>(p.data() + at), chain_len);
  at += chain_len;
  auto key = ledger::PublicKey::Parse(p.subspan(at, 32));
  if (!key) return ledger::Status::Corruption("hello: key is not a valid x-only public key");
  h.key = *key;
  at += 32;
  std::copy_n(p.begin() + static_cast<std::ptrdiff_t>(at), kEphemeralBytes,
              h.ephemeral.bytes.begin());
  return h;
}

std::string SanitizeReason(std::string_view reason) {
  std::string out(reason.substr(0, kMaxCloseReasonBytes));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace certledger::network::wire
