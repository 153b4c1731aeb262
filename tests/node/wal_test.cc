#include "node/wal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace certledger::node {
namespace {

std::string TempFile() {
  std::random_device rd;
  return (std::filesystem::temp_directory_path() /
          ("certledger-wal-test-" + std::to_string(rd()) + std::to_string(rd())))
      .string();
}

TEST(WalTest, AppendReadResetAndTornTail) {
  const std::string path = TempFile();
  {
    auto wal = Wal::Open(path);
    ASSERT_TRUE(wal.ok());
    ledger::Bytes a = {1, 2, 3}, b(1000, 7);
    ASSERT_TRUE((*wal)->Append(a).ok());
    ASSERT_TRUE((*wal)->Append(b).ok());
    auto all = (*wal)->ReadAll();
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0], a);
    EXPECT_EQ((*all)[1], b);
  }
  // A crash mid-append leaves a torn record: it is ignored, the intact ones survive.
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    const char torn[] = {10, 0, 0, 0, 1, 2};
    out.write(torn, sizeof(torn));
  }
  {
    auto wal = Wal::Open(path);
    ASSERT_TRUE(wal.ok());
    auto all = (*wal)->ReadAll();
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 2u);
    ASSERT_TRUE((*wal)->Reset().ok());
    EXPECT_TRUE((*wal)->ReadAll()->empty());
  }
  // A corrupted checksum ends the readable part.
  {
    auto wal = Wal::Open(path);
    ASSERT_TRUE((*wal)->Append(ledger::Bytes{9, 9}).ok());
    ASSERT_TRUE((*wal)->Append(ledger::Bytes{8, 8}).ok());
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4 + 4 + 2 + 4);  // the second record's checksum
    f.put('\x55');
  }
  auto wal = Wal::Open(path);
  auto all = (*wal)->ReadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0], (ledger::Bytes{9, 9}));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace certledger::node
