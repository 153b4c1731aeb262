#include "node/peer_messages.h"

#include "ledger/encoding.h"

namespace certledger::node {

using ledger::Bytes;
using ledger::ByteSpan;
using ledger::Status;

namespace {

void Put(Bytes* b, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

class Cursor {
 public:
  explicit Cursor(ByteSpan in) : in_(in) {}
  bool Get(uint64_t* v, int bytes) {
    if (in_.size() - pos_ < static_cast<size_t>(bytes)) return false;
    *v = 0;
    for (int i = 0; i < bytes; ++i)
      *v |= static_cast<uint64_t>(in_[pos_ + static_cast<size_t>(i)]) << (8 * i);
    pos_ += static_cast<size_t>(bytes);
    return true;
  }
  bool Take(size_t n, ByteSpan* out) {
    if (in_.size() - pos_ < n) return false;
    *out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  [[nodiscard]] bool done() const { return pos_ == in_.size(); }

 private:
  ByteSpan in_;
  size_t pos_ = 0;
};

}  // namespace

Bytes EncodeStatus(const StatusMessage& s) {
  Bytes b;
  Put(&b, s.height, 8);
  b.push_back(s.proof ? 1 : 0);
  if (s.proof) {
    for (const Bytes& part : {ledger::Encode(s.proof->first), ledger::Encode(s.proof->second)}) {
      Put(&b, part.size(), 4);
      b.insert(b.end(), part.begin(), part.end());
    }
  }
  return b;
}

ledger::Result<StatusMessage> DecodeStatus(ByteSpan in) {
  Cursor c(in);
  StatusMessage s;
  uint64_t flag = 0;
  if (!c.Get(&s.height, 8) || !c.Get(&flag, 1) || flag > 1) {
    return Status::InvalidArgument("status message: u64 height and a 0/1 proof flag");
  }
  if (flag == 1) {
    uint64_t len = 0;
    ByteSpan part;
    if (!c.Get(&len, 4) || !c.Take(len, &part))
      return Status::InvalidArgument("status message: truncated header");
    auto header = ledger::Decode<ledger::BlockHeader>(part);
    if (!header.ok()) return header.status();
    if (!c.Get(&len, 4) || !c.Take(len, &part))
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
  Put(&b, r.from, 8);
  Put(&b, r.count, 4);
  return b;
}

ledger::Result<BlockRequest> DecodeBlockRequest(ByteSpan in) {
  Cursor c(in);
  uint64_t from = 0, count = 0;
  if (!c.Get(&from, 8) || !c.Get(&count, 4) || !c.done()) {
    return Status::InvalidArgument("block request: 12 bytes");
  }
  if (from == 0 || count == 0 || count > kMaxSyncBlocks) {
    return Status::InvalidArgument("block request: from >= 1, count 1..64");
  }
  return BlockRequest{from, static_cast<uint32_t>(count)};
}

Bytes EncodeBlockResponse(const BlockResponse& r) {
  Bytes b;
  Put(&b, r.blocks.size(), 4);
  for (const auto& [block, commit] : r.blocks) {
    Bytes eb = ledger::Encode(block);
    Put(&b, eb.size(), 4);
    b.insert(b.end(), eb.begin(), eb.end());
    Bytes ec = ledger::Encode(commit);
    Put(&b, ec.size(), 4);
    b.insert(b.end(), ec.begin(), ec.end());
  }
  return b;
}

ledger::Result<BlockResponse> DecodeBlockResponse(ByteSpan in) {
  Cursor c(in);
  uint64_t n = 0;
  if (!c.Get(&n, 4) || n > kMaxSyncBlocks) {
    return Status::InvalidArgument("block response: count above 64");
  }
  BlockResponse r;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    ByteSpan part;
    if (!c.Get(&len, 4) || !c.Take(len, &part))
      return Status::InvalidArgument("block response: truncated");
    auto block = ledger::Decode<ledger::Block>(part);
    if (!block.ok()) return block.status();
    if (!c.Get(&len, 4) || !c.Take(len, &part))
      return Status::InvalidArgument("block response: truncated");
    auto commit = ledger::Decode<ledger::CommitCertificate>(part);
    if (!commit.ok()) return commit.status();
    r.blocks.emplace_back(std::move(*block), std::move(*commit));
  }
  if (!c.done()) return Status::InvalidArgument("block response: trailing bytes");
  return r;
}

}  // namespace certledger::node
