// The node's peer messages (node/peer_messages.h, FORMAT.md §11): status (frame type 18), block
// request (19) and block response (20). Every input is tried with all three decoders; whatever
// one accepts must re-encode to the input.
#include "fuzz/fuzz_common.h"
#include "node/peer_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  const ledger::ByteSpan in = fuzz::Span(data, size);
  if (fuzz::CheckRoundTrip(
          in, [](ledger::ByteSpan b) { return node::DecodeStatus(b); },
          [](const node::StatusMessage& s) { return node::EncodeStatus(s); }, "status")) {
    auto s = node::DecodeStatus(in);
    if (s->proof) {
      FUZZ_CHECK(s->proof->first.height == s->height && s->proof->second.height == s->height,
                 "a status proof is for the status height");
    }
  }
  if (fuzz::CheckRoundTrip(
          in, [](ledger::ByteSpan b) { return node::DecodeBlockRequest(b); },
          [](const node::BlockRequest& r) { return node::EncodeBlockRequest(r); },
          "block request")) {
    auto r = node::DecodeBlockRequest(in);
    FUZZ_CHECK(r->from >= 1 && r->count >= 1 && r->count <= node::kMaxSyncBlocks,
               "block request bounds");
  }
  if (fuzz::CheckRoundTrip(
          in, [](ledger::ByteSpan b) { return node::DecodeBlockResponse(b); },
          [](const node::BlockResponse& r) { return node::EncodeBlockResponse(r); },
          "block response")) {
    auto r = node::DecodeBlockResponse(in);
    FUZZ_CHECK(r->blocks.size() <= node::kMaxSyncBlocks, "block response bound");
  }
  return 0;
}
