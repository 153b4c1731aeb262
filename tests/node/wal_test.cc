#include "node/wal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ledger/coding.h"

namespace certledger::node {
namespace {

namespace fs = std::filesystem;

// Every test works in a fresh directory of its own, removed afterwards.
class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "certledger-wal-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name = "consensus.wal") const {
    return (dir_ / name).string();
  }

  static ledger::Bytes FileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return ledger::Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  static void WriteFileBytes(const std::string& path, const ledger::Bytes& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  static void XorByte(const std::string& path, size_t offset, uint8_t mask) {
    ledger::Bytes b = FileBytes(path);
    ASSERT_LT(offset, b.size());
    b[offset] ^= mask;
    WriteFileBytes(path, b);
  }
  static void PutU32(const std::string& path, size_t offset, uint32_t v) {
    ledger::Bytes b = FileBytes(path);
    ASSERT_LE(offset + 4, b.size());
    ledger::EncodeFixed32(b.data() + offset, v);
    WriteFileBytes(path, b);
  }

  // Writes `records` to a new file at `path` through Wal and returns each record's offset (plus
  // the end of the file as the last element).
  static std::vector<size_t> WriteRecords(const std::string& path,
                                          const std::vector<ledger::Bytes>& records) {
    std::vector<size_t> offsets;
    auto wal = Wal::Open(path);
    EXPECT_TRUE(wal.ok()) << wal.status().ToString();
    if (!wal.ok()) return offsets;
    size_t off = 0;
    for (const auto& r : records) {
      offsets.push_back(off);
      EXPECT_TRUE((*wal)->Append(r).ok());
      off += 8 + r.size();
    }
    offsets.push_back(off);
    EXPECT_EQ(fs::file_size(path), off);
    return offsets;
  }

  static std::vector<ledger::Bytes> ReadOk(const std::string& path) {
    auto wal = Wal::Open(path);
    EXPECT_TRUE(wal.ok()) << wal.status().ToString();
    if (!wal.ok()) return {};
    auto all = (*wal)->ReadAll();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    return all.ok() ? *all : std::vector<ledger::Bytes>{};
  }

  fs::path dir_;
  const std::vector<ledger::Bytes> records_ = {
      {1, 2, 3}, ledger::Bytes(1000, 7), {}, {4, 5, 6, 7, 8, 9, 10, 11, 12, 13}};
};

TEST_F(WalTest, AppendReadAndReset) {
  const std::string path = Path();
  auto wal = Wal::Open(path);
  ASSERT_TRUE(wal.ok());
  for (const auto& r : records_) ASSERT_TRUE((*wal)->Append(r).ok());
  auto all = (*wal)->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, records_);
  ASSERT_TRUE((*wal)->Reset().ok());
  EXPECT_EQ(fs::file_size(path), 0u);
  EXPECT_TRUE((*wal)->ReadAll()->empty());
  ASSERT_TRUE((*wal)->Append(records_[0]).ok());
  EXPECT_EQ(ReadOk(path), std::vector<ledger::Bytes>{records_[0]});
}

// Open creates the file (0600) in a fresh directory and fsyncs the directory; a missing
// directory is an error naming the path.
TEST_F(WalTest, OpenCreatesTheFileAndSyncsItsDirectory) {
  const std::string path = Path();
  ASSERT_FALSE(fs::exists(path));
  {
    auto wal = Wal::Open(path);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    ASSERT_TRUE(fs::exists(path));
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE((*wal)->ReadAll()->empty());
    ASSERT_TRUE((*wal)->Append(records_[1]).ok());
  }
  EXPECT_EQ(ReadOk(path), std::vector<ledger::Bytes>{records_[1]});

  auto missing = Wal::Open(Path("no-such-dir/consensus.wal"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsIOError());
  EXPECT_NE(missing.status().message().find("no-such-dir"), std::string::npos);

  // A directory that can be written but not opened for reading: creating the file works, the
  // directory fsync cannot, and Open must say so instead of pretending the file is durable.
  // Root ignores permissions, so this part only runs as an ordinary user.
  if (::geteuid() != 0) {
    const fs::path sub = dir_ / "write-only";
    fs::create_directory(sub);
    fs::permissions(sub, fs::perms::owner_write | fs::perms::owner_exec);
    auto wal = Wal::Open((sub / "consensus.wal").string());
    fs::permissions(sub, fs::perms::owner_all);
    ASSERT_FALSE(wal.ok());
    EXPECT_TRUE(wal.status().IsIOError());
    EXPECT_NE(wal.status().message().find("directory"), std::string::npos)
        << wal.status().ToString();
  }
}

// A crash mid-append leaves a prefix of the last record. Whatever the cut (inside the header,
// right after it, inside the payload), the intact records are read, the tail is cut off before
// the next append, and that append is readable after a restart.
TEST_F(WalTest, TornLastRecordIsDroppedAndAppendsContinue) {
  const ledger::Bytes& last = records_[3];  // 10-byte payload: record bytes [0, 18)
  for (size_t cut : {size_t{1}, size_t{4}, size_t{7}, size_t{8}, size_t{9}, size_t{13},
                     size_t{8} + last.size() - 1}) {
    SCOPED_TRACE("record cut after " + std::to_string(cut) + " bytes");
    const std::string path = Path("torn-" + std::to_string(cut) + ".wal");
    std::vector<size_t> off = WriteRecords(path, records_);
    ASSERT_EQ(off.size(), records_.size() + 1);
    const size_t intact_end = off[3];
    fs::resize_file(path, intact_end + cut);

    const std::vector<ledger::Bytes> intact(records_.begin(), records_.begin() + 3);
    auto wal = Wal::Open(path);
    ASSERT_TRUE(wal.ok());
    auto all = (*wal)->ReadAll();
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_EQ(*all, intact);
    // Reading does not modify the file; the next append does, first.
    EXPECT_EQ(fs::file_size(path), intact_end + cut);
    const ledger::Bytes fresh = {42, 43};
    ASSERT_TRUE((*wal)->Append(fresh).ok());
    EXPECT_EQ(fs::file_size(path), intact_end + 8 + fresh.size());
    wal = Wal::Open(path);  // a restart
    ASSERT_TRUE(wal.ok());
    all = (*wal)->ReadAll();
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    std::vector<ledger::Bytes> expected = intact;
    expected.push_back(fresh);
    EXPECT_EQ(*all, expected);
  }
}

// Choice: a complete last record that fails its checksum, with nothing after it, is a torn
// append (a file system may extend the file before the data reach the disk, leaving zeros or
// stale bytes in the payload). Its message was never sent (sending waits for the fsync), so
// dropping it is safe; the same damage anywhere else halts (next tests).
TEST_F(WalTest, CompleteLastRecordFailingItsChecksumIsTreatedAsTorn) {
  struct Case {
    const char* what;
    size_t delta;  // from the last record's offset
  };
  for (const Case& c : {Case{"checksum byte", 4}, Case{"checksum byte", 7}, Case{"payload byte", 8},
                        Case{"payload byte", 17}}) {
    SCOPED_TRACE(std::string(c.what) + " at +" + std::to_string(c.delta));
    const std::string path = Path("badsum-" + std::to_string(c.delta) + ".wal");
    std::vector<size_t> off = WriteRecords(path, records_);
    ASSERT_EQ(off.size(), records_.size() + 1);
    XorByte(path, off[3] + c.delta, 0x55);
    const std::vector<ledger::Bytes> intact(records_.begin(), records_.begin() + 3);
    EXPECT_EQ(ReadOk(path), intact);
    {
      auto wal = Wal::Open(path);
      ASSERT_TRUE((*wal)->Append(ledger::Bytes{9}).ok());
    }
    EXPECT_EQ(fs::file_size(path), off[3] + 9);
    std::vector<ledger::Bytes> expected = intact;
    expected.push_back({9});
    EXPECT_EQ(ReadOk(path), expected);
  }
}

// A damaged record followed by anything (intact records, or even only a torn tail) is not a torn
// append: ReadAll fails with Corruption naming the file and offset, Append refuses, and the file
// is left exactly as it was for inspection.
TEST_F(WalTest, DamagedRecordInTheMiddleHalts) {
  struct Case {
    const char* name;
    size_t record;
    size_t delta;
    size_t keep_tail;  // bytes of the last record kept (0: the whole file)
  };
  for (const Case& c :
       {Case{"payload", 1, 8 + 500, 0}, Case{"checksum", 1, 5, 0}, Case{"first-record", 0, 9, 0},
        Case{"empty-payload", 2, 4, 0}, Case{"before-torn-tail", 2, 6, 5}}) {
    SCOPED_TRACE(c.name);
    const std::string path = Path(std::string("mid-") + c.name + ".wal");
    std::vector<size_t> off = WriteRecords(path, records_);
    ASSERT_EQ(off.size(), records_.size() + 1);
    XorByte(path, off[c.record] + c.delta, 0x01);
    if (c.keep_tail != 0) fs::resize_file(path, off[3] + c.keep_tail);
    const ledger::Bytes before = FileBytes(path);
    const size_t follow = before.size() - off[c.record + 1];

    auto wal = Wal::Open(path);
    ASSERT_TRUE(wal.ok());
    auto all = (*wal)->ReadAll();
    ASSERT_FALSE(all.ok());
    const ledger::Status& st = all.status();
    EXPECT_TRUE(st.IsCorruption()) << st.ToString();
    const std::string& msg = st.message();
    EXPECT_NE(msg.find("consensus write-ahead record " + path), std::string::npos) << msg;
    EXPECT_NE(msg.find("record at offset " + std::to_string(off[c.record]) +
                       " fails its checksum and " + std::to_string(follow) + " bytes follow"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("refusing to start"), std::string::npos) << msg;

    ledger::Status append = (*wal)->Append(ledger::Bytes{1});
    EXPECT_TRUE(append.IsCorruption()) << append.ToString();
    EXPECT_FALSE((*wal)->Reset().ok());  // sticky: nothing may erase the evidence
    EXPECT_EQ(FileBytes(path), before);
  }
}

// A length no Append writes halts wherever it is: in the middle, and at the end (a torn append
// is a prefix of a record Append wrote, so its length is always <= the maximum). ReadAll must
// fail without trying to allocate the claimed size.
TEST_F(WalTest, ImpossibleLengthHalts) {
  for (size_t record : {size_t{1}, size_t{3}}) {
    for (uint32_t len : {kMaxWalRecordBytes + 1, uint32_t{0xFFFFFFFF}}) {
      SCOPED_TRACE("record " + std::to_string(record) + " length " + std::to_string(len));
      const std::string path =
          Path("len-" + std::to_string(record) + "-" + std::to_string(len) + ".wal");
      std::vector<size_t> off = WriteRecords(path, records_);
      ASSERT_EQ(off.size(), records_.size() + 1);
      PutU32(path, off[record], len);
      const ledger::Bytes before = FileBytes(path);

      auto wal = Wal::Open(path);
      ASSERT_TRUE(wal.ok());
      auto all = (*wal)->ReadAll();
      ASSERT_FALSE(all.ok());
      EXPECT_TRUE(all.status().IsCorruption());
      const std::string& msg = all.status().message();
      EXPECT_NE(msg.find("record at offset " + std::to_string(off[record]) +
                         " claims a length of " + std::to_string(len) + " bytes"),
                std::string::npos)
          << msg;
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_TRUE((*wal)->Append(ledger::Bytes{1}).IsCorruption());
      EXPECT_EQ(FileBytes(path), before);
    }
  }
}

// A payload above the maximum is refused before anything is written; the record stays usable.
TEST_F(WalTest, OversizedAppendIsRefused) {
  const std::string path = Path();
  auto wal = Wal::Open(path);
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE((*wal)->Append(records_[0]).ok());
  const ledger::Bytes huge(size_t{kMaxWalRecordBytes} + 1, 0);
  ledger::Status st = (*wal)->Append(huge);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_EQ(fs::file_size(path), 8 + records_[0].size());
  ASSERT_TRUE((*wal)->Append(records_[1]).ok());
  EXPECT_EQ(ReadOk(path), (std::vector<ledger::Bytes>{records_[0], records_[1]}));
}

}  // namespace
}  // namespace certledger::node
