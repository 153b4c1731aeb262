// Transactions as peers gossip them (frame type 17) and clients post them
// (application/octet-stream): ledger::Decode<SignedTransaction>. Whatever decodes must re-encode
// to the same bytes; the derived hashes must be computable on any decoded value.
#include "fuzz/fuzz_common.h"
#include "ledger/encoding.h"
#include "ledger/types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  const ledger::ByteSpan in = fuzz::Span(data, size);
  const bool ok = fuzz::CheckRoundTrip(
      in, [](ledger::ByteSpan b) { return ledger::Decode<ledger::SignedTransaction>(b); },
      [](const ledger::SignedTransaction& v) { return ledger::Encode(v); }, "SignedTransaction");
  if (ok) {
    auto stx = ledger::Decode<ledger::SignedTransaction>(in);
    (void)ledger::TxHash(stx->tx);
    FUZZ_CHECK(fuzz::SameBytes(ledger::TxLeaf(*stx), in), "the event-log leaf is the encoding");
  }
  // The unsigned transaction alone (what the signing digest and the id are computed over).
  fuzz::CheckRoundTrip(
      in, [](ledger::ByteSpan b) { return ledger::Decode<ledger::Transaction>(b); },
      [](const ledger::Transaction& v) { return ledger::Encode(v); }, "Transaction");
  return 0;
}
