// Commit certificates as block sync and the status proof carry them:
// ledger::Decode<CommitCertificate>. Whatever decodes must re-encode to the same bytes.
#include "fuzz/fuzz_common.h"
#include "ledger/encoding.h"
#include "ledger/types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  fuzz::CheckRoundTrip(
      fuzz::Span(data, size),
      [](ledger::ByteSpan b) { return ledger::Decode<ledger::CommitCertificate>(b); },
      [](const ledger::CommitCertificate& v) { return ledger::Encode(v); }, "CommitCertificate");
  return 0;
}
