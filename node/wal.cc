#include "node/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "ledger/coding.h"
#include "ledger/crypto.h"

namespace certledger::node {

using ledger::Status;

namespace {

constexpr size_t kHeaderBytes = 8;  // u32le length || 4 checksum bytes

std::string Errno() { return std::strerror(errno); }

// fsync of the directory holding `path`: makes the file's directory entry durable.
Status SyncDirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open directory " + dir + ": " + Errno());
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  const std::string err = rc != 0 ? Errno() : "";
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync directory " + dir + ": " + err);
  return Status::Ok();
}

// The whole file, read through `fd` (positioned reads: the descriptor is O_APPEND).
ledger::Result<ledger::Bytes> ReadFile(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::IOError("stat " + path + ": " + Errno());
  ledger::Bytes data;
  data.reserve(static_cast<size_t>(st.st_size));
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof(buf), static_cast<off_t>(data.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("read " + path + ": " + Errno());
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  return data;
}

Status Refuse(const std::string& path, size_t offset, const std::string& fault) {
  return Status::Corruption(
      "consensus write-ahead record " + path + ": record at offset " + std::to_string(offset) +
      " " + fault +
      "; refusing to start: the validator could sign conflicting votes. Inspect or move the file "
      "only if you know this validator signed nothing at this height.");
}

struct Scan {
  std::vector<ledger::ByteSpan> records;  // payloads, pointing into the scanned bytes
  size_t intact_end = 0;                  // where the intact records end; a torn tail follows
};

// Splits `data` into records; see the header comment for what is torn and what is corrupt.
ledger::Result<Scan> ScanRecords(const ledger::Bytes& data, const std::string& path) {
  Scan scan;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t left = data.size() - pos;
    if (left < kHeaderBytes) break;  // torn inside the header
    const uint32_t len = ledger::DecodeFixed32(data.data() + pos);
    const size_t rest = left - kHeaderBytes;
    if (len > kMaxWalRecordBytes) {
      // Append never writes such a length, so this is not a torn append, wherever it is.
      return Refuse(path, pos,
                    "claims a length of " + std::to_string(len) + " bytes, more than the maximum " +
                        std::to_string(kMaxWalRecordBytes) + ", and " + std::to_string(rest) +
                        " bytes follow its header");
    }
    if (len > rest) break;  // torn inside the payload
    ledger::ByteSpan payload(data.data() + pos + kHeaderBytes, len);
    const ledger::Hash256 h = ledger::Sha256(payload);
    if (std::memcmp(h.data(), data.data() + pos + 4, 4) != 0) {
      const size_t after = rest - len;
      if (after == 0) break;  // the last record: a torn append (see the header comment)
      return Refuse(path, pos, "fails its checksum and " + std::to_string(after) + " bytes follow");
    }
    scan.records.push_back(payload);
    pos += kHeaderBytes + len;
    scan.intact_end = pos;
  }
  return scan;
}

}  // namespace

ledger::Result<std::unique_ptr<Wal>> Wal::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + Errno());
  // Without this a power loss can take the file's directory entry, and with it every record
  // appended (and fsynced) since. Done on every open, not only when this call created the file:
  // an earlier run may have created it and crashed before syncing the directory.
  if (Status st = SyncDirectoryOf(path); !st.ok()) {
    ::close(fd);
    return st;
  }
  return std::unique_ptr<Wal>(new Wal(path, fd));
}

Wal::~Wal() {
  if (fd_ >= 0) ::close(fd_);
}

Status Wal::PrepareAppend() {
  auto data = ReadFile(fd_, path_);
  if (!data.ok()) return data.status();
  auto scan = ScanRecords(*data, path_);
  if (!scan.ok()) return scan.status();
  if (scan->intact_end < data->size()) {
    // Cut off the torn tail, durably, so that the next record follows an intact one: a record
    // written after garbage would be unreadable (and a halt) at the next start.
    if (::ftruncate(fd_, static_cast<off_t>(scan->intact_end)) != 0 || ::fsync(fd_) != 0) {
      return Status::IOError("truncate the torn tail of " + path_ + ": " + Errno());
    }
  }
  append_ready_ = true;
  return Status::Ok();
}

Status Wal::Append(ledger::ByteSpan payload) {
  if (!sticky_.ok()) return sticky_;
  if (payload.size() > kMaxWalRecordBytes) {
    return Status::InvalidArgument("consensus record of " + std::to_string(payload.size()) +
                                   " bytes exceeds the maximum " +
                                   std::to_string(kMaxWalRecordBytes));
  }
  if (!append_ready_) {
    if (Status st = PrepareAppend(); !st.ok()) {
      sticky_ = st;
      return sticky_;
    }
  }
  ledger::Bytes rec;
  rec.reserve(kHeaderBytes + payload.size());
  ledger::PutFixed32(&rec, static_cast<uint32_t>(payload.size()));
  ledger::Hash256 h = ledger::Sha256(payload);
  rec.insert(rec.end(), h.bytes.begin(), h.bytes.begin() + 4);
  rec.insert(rec.end(), payload.begin(), payload.end());
  size_t off = 0;
  while (off < rec.size()) {
    ssize_t n = ::write(fd_, rec.data() + off, rec.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      sticky_ = Status::IOError("write " + path_ + ": " + Errno());
      return sticky_;
    }
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    sticky_ = Status::IOError("fsync " + path_ + ": " + Errno());
    return sticky_;
  }
  return Status::Ok();
}

ledger::Result<std::vector<ledger::Bytes>> Wal::ReadAll() const {
  auto data = ReadFile(fd_, path_);
  if (!data.ok()) return data.status();
  auto scan = ScanRecords(*data, path_);
  if (!scan.ok()) return scan.status();
  std::vector<ledger::Bytes> out;
  out.reserve(scan->records.size());
  for (const auto& r : scan->records) out.emplace_back(r.begin(), r.end());
  return out;
}

Status Wal::Reset() {
  if (!sticky_.ok()) return sticky_;
  if (::ftruncate(fd_, 0) != 0 || ::fsync(fd_) != 0) {
    sticky_ = Status::IOError("truncate " + path_ + ": " + Errno());
    return sticky_;
  }
  append_ready_ = true;  // an empty file ends cleanly
  return Status::Ok();
}

}  // namespace certledger::node
