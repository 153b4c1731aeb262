// The consensus write-ahead record: every proposal and vote this validator signs is appended and
// fsynced here before it is sent, so that after a crash the engine is restarted with what it
// signed and never signs a conflicting message (consensus/engine.h, PersistSigned).
//
// File: a sequence of records, each u32le length || first 4 bytes of SHA-256(payload) || payload,
// payload = consensus::EncodeMessage(message), length <= kMaxWalRecordBytes. The file holds the
// records of the current height only: Reset() empties it when a new height starts.
//
// Damage. A message is sent only after its record is durable, so the one record a crash can
// leave damaged without harm is the last one, torn by a crash mid-append (its message was never
// sent). ReadAll therefore drops exactly these tails, and nothing else:
//   - the file ends inside a record header (fewer than 8 bytes left);
//   - the file ends inside a payload (a length <= kMaxWalRecordBytes that runs past the end);
//   - the last record is complete but fails its checksum and no byte follows it. This is also
//     what a torn append looks like on file systems that extend the file before its data reach
//     the disk (zeros or stale bytes in place of the payload), so it counts as torn; the price is
//     that damage to the medium confined to the last record goes unnoticed.
// Everything else is Status::Corruption naming the file, the record's byte offset and the fault,
// and the node halts (node.cc, StartHeight): a record that fails its checksum with bytes after
// it, or a length above kMaxWalRecordBytes anywhere (Append never writes one, and refusing it
// also bounds what a corrupt length can make ReadAll allocate). Ignoring such a record would let
// the validator forget a message it sent and sign a conflicting one.
// The checksum does not cover the length, so a length corrupted to run past the end of the file
// looks like a torn tail; the format cannot tell the two apart.
//
// A dropped tail is cut off (ftruncate + fsync) before the next Append, so that no record is ever
// written after garbage; ReadAll itself never modifies the file. Open fsyncs the containing
// directory so that a newly created file survives a power loss; Reset is durable too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/status.h"
#include "node/peer_messages.h"

namespace certledger::node {

// The largest record payload: a record is a consensus message this node sends in one peer frame,
// so no larger one can be legitimate.
inline constexpr uint32_t kMaxWalRecordBytes = kMaxPeerFrameBytes;

class Wal {
 public:
  // Opens the file at `path`, creating it if needed, and fsyncs its directory (on every open, so
  // that a file created by a run that crashed before syncing the directory is covered as well).
  // Does not read or repair the file.
  static ledger::Result<std::unique_ptr<Wal>> Open(const std::string& path);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends and fsyncs one record. The first Append after Open checks the file and cuts off a
  // torn tail (durably); it refuses to write after a corrupt record. A failure is sticky: the
  // node must halt (it may not send a message it could not record). A payload larger than
  // kMaxWalRecordBytes is refused with InvalidArgument and nothing is written.
  ledger::Status Append(ledger::ByteSpan payload);
  // Every intact record, in order, without a torn last record; Corruption if any other record is
  // damaged (see the header comment).
  ledger::Result<std::vector<ledger::Bytes>> ReadAll() const;
  // Empties the file (durably).
  ledger::Status Reset();

 private:
  Wal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  // Before the first Append: checks the file and truncates a torn tail.
  ledger::Status PrepareAppend();
  std::string path_;
  int fd_;
  bool append_ready_ = false;  // the file is known to end with an intact record (or be empty)
  ledger::Status sticky_;
};

}  // namespace certledger::node
