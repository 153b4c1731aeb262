// Seal then open on the peer channel (network/channel.h): the input is cut into frames (first
// byte: type, then up to 255 payload bytes as the next byte says, repeated), each sealed by one
// FrameCipher and opened by another under the same key. Every frame must open to exactly its
// type and payload, in order; a copy with one bit flipped (chosen by the input), a replay of an
// earlier frame, and a frame sealed under another key must all be refused without advancing the
// receiver.
#include "fuzz/fuzz_common.h"
#include "fuzz/fuzz_keys.h"
#include "network/channel.h"
#include "network/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  namespace channel = network::channel;
  const ledger::ByteSpan in = fuzz::Span(data, size);
  channel::AeadKey other_key = fuzz::FrameOpenKey();
  other_key.bytes[0] ^= 1;
  channel::FrameCipher sender(fuzz::FrameOpenKey());
  channel::FrameCipher receiver(fuzz::FrameOpenKey());
  channel::FrameCipher stranger(other_key);
  ledger::Bytes previous;
  size_t at = 0;
  while (at < in.size()) {
    const uint8_t type = in[at++];
    size_t n = 0;
    if (at < in.size()) {
      n = in[at++];
      n = std::min(n, in.size() - at);
    }
    const ledger::ByteSpan payload = in.subspan(at, n);
    at += n;

    auto frame = sender.Seal(type, payload);
    FUZZ_CHECK(frame.ok(), "seal");
    const uint32_t length = network::wire::DecodeLength(frame->data());
    FUZZ_CHECK(length == frame->size() - network::wire::kLengthBytes &&
                   length == 1 + payload.size() + channel::kAeadTagBytes,
               "sealed frame length");
    const ledger::ByteSpan body = ledger::ByteSpan(*frame).subspan(network::wire::kLengthBytes);
    const uint64_t before = receiver.counter();
    uint8_t got_type = 0;
    ledger::Bytes got;

    // One flipped bit anywhere in the body (the length prefix is the associated data).
    ledger::Bytes tampered(body.begin(), body.end());
    const size_t bit = (static_cast<size_t>(type) * 131 + n * 7 + at) % (tampered.size() * 8);
    tampered[bit / 8] = static_cast<uint8_t>(tampered[bit / 8] ^ (1u << (bit % 8)));
    FUZZ_CHECK(!receiver.Open(length, tampered, &got_type, &got), "a flipped bit is refused");
    FUZZ_CHECK(receiver.counter() == before, "a refused frame does not advance the counter");
    // A different length prefix (associated data) with the same body.
    FUZZ_CHECK(!receiver.Open(length + 1, body, &got_type, &got), "a wrong length is refused");
    // A replay of the previous frame.
    if (!previous.empty()) {
      const uint32_t plen = network::wire::DecodeLength(previous.data());
      FUZZ_CHECK(
          !receiver.Open(plen, ledger::ByteSpan(previous).subspan(network::wire::kLengthBytes),
                         &got_type, &got),
          "a replayed frame is refused");
    }
    // Another key.
    FUZZ_CHECK(!stranger.Open(length, body, &got_type, &got), "another key is refused");

    FUZZ_CHECK(receiver.Open(length, body, &got_type, &got), "a sealed frame opens");
    FUZZ_CHECK(receiver.counter() == before + 1 && receiver.counter() == sender.counter(),
               "counters advance in step");
    FUZZ_CHECK(got_type == type && fuzz::SameBytes(got, payload), "round trip");
    previous = std::move(*frame);
  }
  return 0;
}
