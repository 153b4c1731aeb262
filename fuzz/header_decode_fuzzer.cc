// Block headers as the status message's proof carries them: ledger::Decode<BlockHeader>.
// Whatever decodes must re-encode to the same bytes (the block id is the hash of the encoding).
#include "fuzz/fuzz_common.h"
#include "ledger/encoding.h"
#include "ledger/types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  fuzz::CheckRoundTrip(
      fuzz::Span(data, size),
      [](ledger::ByteSpan b) { return ledger::Decode<ledger::BlockHeader>(b); },
      [](const ledger::BlockHeader& v) { return ledger::Encode(v); }, "BlockHeader");
  return 0;
}
