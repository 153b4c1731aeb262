// Blocks as proposals carry them (the consensus value's payload) and block sync returns them:
// ledger::Decode<Block>. Whatever decodes must re-encode to the same bytes.
#include "fuzz/fuzz_common.h"
#include "ledger/encoding.h"
#include "ledger/types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  const ledger::ByteSpan in = fuzz::Span(data, size);
  if (fuzz::CheckRoundTrip(
          in, [](ledger::ByteSpan b) { return ledger::Decode<ledger::Block>(b); },
          [](const ledger::Block& v) { return ledger::Encode(v); }, "Block")) {
    auto block = ledger::Decode<ledger::Block>(in);
    (void)ledger::BlockHash(block->header);
    for (const auto& stx : block->txs) (void)ledger::TxHash(stx.tx);
  }
  return 0;
}
