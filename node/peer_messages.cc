#include "node/peer_messages.h"

#include "ledger/coding.h"
#include "ledger/encoding.h"

namespace certledger::node {

using ledger::ByteReader;
using ledger::Bytes;
using ledger::ByteSpan;
using ledger::Status;

Bytes EncodeStatus(const StatusMessage& s) {
  Bytes b;
  ledger::PutFixed64(&b, s.height);
  b.push_back(s.proof ? 1 : 0);
  if (s.proof) {
    for (const Bytes& part : {ledger::Encode(s.proof->first), ledger::Encode(s.proof->second)}) {
      ledger::PutLengthPrefixed(&b, part);
    }
  }
  return b;
}

ledger::Result<StatusMessage> DecodeStatus(ByteSpan in) {
  ByteReader c(in);
  StatusMessage s;
  uint8_t flag = 0;
  if (!c.GetFixed64(&s.height) || !c.GetU8(&flag) || flag > 1) {
    return Status::InvalidArgument("status message: u64 height and a 0/1 proof flag");
  }
  if (flag == 1) {
    ByteSpan part;
    if (!c.GetLengthPrefixed(&part))
      return Status::InvalidArgument("status message: truncated header");
    auto header = ledger::Decode<ledger::BlockHeader>(part);
    if (!header.ok()) return header.status();
    if (!c.GetLengthPrefixed(&part))
      return Status::InvalidArgument("status message: truncated commit");
    auto commit = ledger::Decode<ledger::CommitCertificate>(part);
    if (!commit.ok()) return commit.status();
    if (header->height != s.height || commit->height != s.height) {
      return Status::InvalidArgument("status message: proof is for another height");
    }
    s.proof = std::make_pair(std::move(*header), std::move(*commit));
  }
  if (!c.done()) return Status::InvalidArgument("status message: trailing bytes");
  return s;
}

Bytes EncodeBlockRequest(const BlockRequest& r) {
  Bytes b;
  ledger::PutFixed64(&b, r.from);
  ledger::PutFixed32(&b, r.count);
  return b;
}

ledger::Result<BlockRequest> DecodeBlockRequest(ByteSpan in) {
  ByteReader c(in);
  uint64_t from = 0;
  uint32_t count = 0;
  if (!c.GetFixed64(&from) || !c.GetFixed32(&count) || !c.done()) {
    return Status::InvalidArgument("block request: 12 bytes");
  }
  if (from == 0 || count == 0 || count > kMaxSyncBlocks) {
    return Status::InvalidArgument("block request: from >= 1, count 1..64");
  }
  return BlockRequest{from, count};
}

Bytes EncodeBlockResponse(const BlockResponse& r) {
  Bytes b;
  ledger::PutFixed32(&b, static_cast<uint32_t>(r.blocks.size()));
  for (const auto& [block, commit] : r.blocks) {
    ledger::PutLengthPrefixed(&b, ledger::Encode(block));
    ledger::PutLengthPrefixed(&b, ledger::Encode(commit));
  }
  return b;
}

ledger::Result<BlockResponse> DecodeBlockResponse(ByteSpan in) {
  ByteReader c(in);
  uint32_t n = 0;
  if (!c.GetFixed32(&n) || n > kMaxSyncBlocks) {
    return Status::InvalidArgument("block response: count above 64");
  }
  BlockResponse r;
  for (uint32_t i = 0; i < n; ++i) {
    ByteSpan part;
    if (!c.GetLengthPrefixed(&part)) return Status::InvalidArgument("block response: truncated");
    auto block = ledger::Decode<ledger::Block>(part);
    if (!block.ok()) return block.status();
    if (!c.GetLengthPrefixed(&part)) return Status::InvalidArgument("block response: truncated");
    auto commit = ledger::Decode<ledger::CommitCertificate>(part);
    if (!commit.ok()) return commit.status();
    r.blocks.emplace_back(std::move(*block), std::move(*commit));
  }
  if (!c.done()) return Status::InvalidArgument("block response: trailing bytes");
  return r;
}

}  // namespace certledger::node
