// Consensus messages as peers send them (frame type 16: proposals and votes) and the evidence of
// a double vote: consensus::DecodeMessage and DecodeEvidence. Both must give back the input
// when re-encoded. Every input is tried with both decoders.
#include "consensus/message.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  const ledger::ByteSpan in = fuzz::Span(data, size);
  if (fuzz::CheckRoundTrip(
          in, [](ledger::ByteSpan b) { return consensus::DecodeMessage(b); },
          [](const consensus::Message& m) { return consensus::EncodeMessage(m); },
          "consensus message")) {
    auto m = consensus::DecodeMessage(in);
    (void)consensus::HeightOf(*m);
    (void)consensus::RoundOf(*m);
    (void)consensus::SignerOf(*m);
  }
  if (fuzz::CheckRoundTrip(
          in, [](ledger::ByteSpan b) { return consensus::DecodeEvidence(b); },
          [](const consensus::DuplicateVoteEvidence& e) { return consensus::EncodeEvidence(e); },
          "duplicate vote evidence")) {
    auto e = consensus::DecodeEvidence(in);
    FUZZ_CHECK(consensus::CheckEvidenceShape(*e).ok(), "decoded evidence has its shape");
  }
  return 0;
}
