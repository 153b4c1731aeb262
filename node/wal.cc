#include "node/wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "ledger/crypto.h"

namespace certledger::node {

using ledger::Status;

ledger::Result<std::unique_ptr<Wal>> Wal::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  return std::unique_ptr<Wal>(new Wal(path, fd));
}

Wal::~Wal() {
  if (fd_ >= 0) ::close(fd_);
}

Status Wal::Append(ledger::ByteSpan payload) {
  if (!sticky_.ok()) return sticky_;
  ledger::Bytes rec;
  rec.reserve(8 + payload.size());
  const auto len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) rec.push_back(static_cast<uint8_t>(len >> (8 * i)));
  ledger::Hash256 h = ledger::Sha256(payload);
  rec.insert(rec.end(), h.bytes.begin(), h.bytes.begin() + 4);
  rec.insert(rec.end(), payload.begin(), payload.end());
  size_t off = 0;
  while (off < rec.size()) {
    ssize_t n = ::write(fd_, rec.data() + off, rec.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      sticky_ = Status::IOError("write " + path_ + ": " + std::strerror(errno));
      return sticky_;
    }
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    sticky_ = Status::IOError("fsync " + path_ + ": " + std::strerror(errno));
    return sticky_;
  }
  return Status::Ok();
}

ledger::Result<std::vector<ledger::Bytes>> Wal::ReadAll() const {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot read " + path_ + ": " + std::strerror(errno));
  ledger::Bytes data;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::IOError("read " + path_ + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  ::close(fd);
  std::vector<ledger::Bytes> out;
  size_t pos = 0;
  while (data.size() - pos >= 8) {
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i)
      len |= static_cast<uint32_t>(data[pos + static_cast<size_t>(i)]) << (8 * i);
    if (len > data.size() - pos - 8) break;  // torn tail
    ledger::ByteSpan payload(data.data() + pos + 8, len);
    ledger::Hash256 h = ledger::Sha256(payload);
    if (std::memcmp(h.data(), data.data() + pos + 4, 4) != 0) break;  // corrupt tail
    out.emplace_back(payload.begin(), payload.end());
    pos += 8 + len;
  }
  return out;
}

Status Wal::Reset() {
  if (!sticky_.ok()) return sticky_;
  if (::ftruncate(fd_, 0) != 0 || ::fsync(fd_) != 0) {
    sticky_ = Status::IOError("truncate " + path_ + ": " + std::strerror(errno));
    return sticky_;
  }
  return Status::Ok();
}

}  // namespace certledger::node
