// Node-level peer messages (frame types >= 16 of the transport; docs/FORMAT.md §10).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::node {

inline constexpr uint8_t kMsgConsensus = 16;     // consensus::EncodeMessage(proposal or vote)
inline constexpr uint8_t kMsgTx = 17;            // Encode(SignedTransaction)
inline constexpr uint8_t kMsgStatus = 18;        // StatusMessage
inline constexpr uint8_t kMsgBlockRequest = 19;  // u64le from || u32le count
inline constexpr uint8_t kMsgBlockResponse =
    20;  // u32le n || n × (u32le len || Block, u32le len || CommitCertificate)

inline constexpr uint32_t kMaxPeerFrameBytes = 32u << 20;
inline constexpr uint32_t kMaxSyncBlocks = 64;

struct BlockRequest {
  uint64_t from = 0;
  uint32_t count = 0;  // 1..kMaxSyncBlocks
};
struct BlockResponse {
  std::vector<std::pair<ledger::Block, ledger::CommitCertificate>> blocks;
};

// A node's committed height, with the proof of it (the header and commit certificate of that
// height) from height 1 on: a receiver believes a height only once the commit verifies.
struct StatusMessage {
  uint64_t height = 0;
  std::optional<std::pair<ledger::BlockHeader, ledger::CommitCertificate>> proof;
};
ledger::Bytes EncodeStatus(const StatusMessage& s);
ledger::Result<StatusMessage> DecodeStatus(ledger::ByteSpan in);
ledger::Bytes EncodeBlockRequest(const BlockRequest& r);
ledger::Result<BlockRequest> DecodeBlockRequest(ledger::ByteSpan in);
ledger::Bytes EncodeBlockResponse(const BlockResponse& r);
ledger::Result<BlockResponse> DecodeBlockResponse(ledger::ByteSpan in);

}  // namespace certledger::node
