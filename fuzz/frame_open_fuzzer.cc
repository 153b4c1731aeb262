// The sealed-frame reader of the peer channel (network/channel.h FrameCipher::Open) with a fixed
// key, fed as the transport feeds it after the handshake: a stream of u32le length || body. A
// length larger than what remains is passed with the rest of the input as body (Open must refuse
// a body of the wrong size). Open must never accept what the sender did not seal: every frame
// that opens must be exactly what sealing its content at the same counter gives (the AEAD admits
// one ciphertext per key, counter and content), and the counter advances only then.
#include "fuzz/fuzz_common.h"
#include "fuzz/fuzz_keys.h"
#include "network/channel.h"
#include "network/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  namespace channel = network::channel;
  const ledger::ByteSpan in = fuzz::Span(data, size);
  channel::FrameCipher receiver(fuzz::FrameOpenKey());
  channel::FrameCipher sender(fuzz::FrameOpenKey());
  size_t at = 0;
  while (in.size() - at >= network::wire::kLengthBytes) {
    const uint32_t length = network::wire::DecodeLength(in.data() + at);
    at += network::wire::kLengthBytes;
    const size_t take = std::min<size_t>(length, in.size() - at);
    const ledger::ByteSpan body = in.subspan(at, take);
    const uint64_t before = receiver.counter();
    uint8_t type = 0;
    ledger::Bytes payload;
    const bool opened = receiver.Open(length, body, &type, &payload);
    if (!opened) {
      FUZZ_CHECK(receiver.counter() == before, "a refused frame does not advance the counter");
      FUZZ_CHECK(payload.empty(), "a refused frame yields no payload");
      if (take < length) break;
      at += take;
      continue;
    }
    FUZZ_CHECK(take == length, "only a whole body opens");
    FUZZ_CHECK(receiver.counter() == before + 1, "an opened frame advances the counter");
    auto resealed = sender.Seal(type, payload);
    FUZZ_CHECK(resealed.ok(), "sealing what opened");
    const ledger::ByteSpan frame =
        in.subspan(at - network::wire::kLengthBytes, network::wire::kLengthBytes + take);
    FUZZ_CHECK(fuzz::SameBytes(*resealed, frame),
               "an opened frame is the sealing of its content\n frame: " + ledger::ToHex(frame));
    at += take;
  }
  return 0;
}
