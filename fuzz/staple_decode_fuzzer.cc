// Offline status staples as a verifier reads them from a QR code or a file (api/staple.h,
// FORMAT.md §16). Whatever decodes must re-encode to the same bytes (only canonical staples
// decode), and checking it against a validator set must answer (no crash) and never accept a
// staple whose commit is not signed by that set.
#include "api/staple.h"
#include "fuzz/fuzz_common.h"
#include "ledger/crypto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  const ledger::ByteSpan in = fuzz::Span(data, size);
  if (!fuzz::CheckRoundTrip(
          in, [](ledger::ByteSpan b) { return api::Staple::Decode(b); },
          [](const api::Staple& s) { return s.Encode(); }, "staple")) {
    return 0;
  }
  auto s = api::Staple::Decode(in);
  // A set of one validator whose key the input cannot know the secret of.
  static const ledger::PrivateKey key = ledger::PrivateKey::Generate();
  ledger::ValidatorSet set;
  set.validators.push_back({key.public_key(), 1, "a", key.public_key()});
  const ledger::ChainDomain domain{s->header.chain_id, {}};
  auto r = api::VerifyStaple(*s, domain, set, {s->header}, s->header.time_ms, 0);
  if (s->anchor == api::Staple::Anchor::kEmbedded) {
    FUZZ_CHECK(!r.ok(), "an embedded staple without the validator's signature was accepted");
  }
  // Base45 round trip of the same bytes.
  auto back = api::Base45Decode(api::Base45Encode(in));
  FUZZ_CHECK(back.has_value() && *back == ledger::Bytes(in.begin(), in.end()), "base45");
  return 0;
}
