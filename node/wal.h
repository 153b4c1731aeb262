// The consensus write-ahead record: every proposal and vote this validator signs is appended and
// fsynced here before it is sent, so that after a crash the engine is restarted with what it
// signed and never signs a conflicting message (consensus/engine.h, PersistSigned).
//
// File: a sequence of records, each u32le length || first 4 bytes of SHA-256(payload) || payload,
// payload = consensus::EncodeMessage(message). A torn or corrupt tail (a crash mid-append) is
// ignored on reading. The file holds the records of the current height only: Reset() empties it
// when a new height starts.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/status.h"

namespace certledger::node {

class Wal {
 public:
  // Opens (creating) the file at `path`.
  static ledger::Result<std::unique_ptr<Wal>> Open(const std::string& path);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends and fsyncs one record. A failure is sticky: the node must halt (it may not send a
  // message it could not record).
  ledger::Status Append(ledger::ByteSpan payload);
  // Every intact record, in order.
  ledger::Result<std::vector<ledger::Bytes>> ReadAll() const;
  // Empties the file (durably).
  ledger::Status Reset();

 private:
  Wal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
  ledger::Status sticky_;
};

}  // namespace certledger::node
