// The first frame an unauthenticated peer sends: the HELLO payload (network/wire.h DecodeHello,
// FORMAT.md §10). Whatever decodes must re-encode to the input, within the handshake frame cap.
#include "fuzz/fuzz_common.h"
#include "network/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  namespace wire = network::wire;
  const ledger::ByteSpan in = fuzz::Span(data, size);
  if (fuzz::CheckRoundTrip(
          in, [](ledger::ByteSpan b) { return wire::DecodeHello(b); },
          [](const wire::Hello& h) { return wire::EncodeHello(h); }, "hello")) {
    auto h = wire::DecodeHello(in);
    FUZZ_CHECK(h->chain_id.size() <= wire::kMaxChainIdBytes, "chain id bound");
    FUZZ_CHECK(1 + in.size() <= wire::kMaxHandshakeFrameBytes, "a HELLO fits a handshake frame");
    FUZZ_CHECK(ledger::PublicKey::Parse(h->key.span()).has_value(), "the key is on the curve");
  }
  (void)wire::SanitizeReason(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
