// `certledger audit` over a store (no processes): it recomputes every state root from genesis and
// names the first height whose header's state root differs.
#include "tools/audit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "ledger/leveldb_store.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {
namespace {

class TempHome {
 public:
  TempHome() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("certledger-audit-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_ / "data");
  }
  ~TempHome() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes genesis.json and a store holding `blocks` under `home`.
void WriteHome(const TempHome& home, const ChainFixture& f, const std::vector<BuiltBlock>& blocks) {
  std::ofstream(home.path() / "genesis.json") << GenesisToJson(f.genesis);
  LevelDBStoreOptions o;
  o.path = (home.path() / "data" / "ledger").string();
  auto store = OpenLevelDBStore(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Initialize(f.genesis).ok());
  for (const auto& b : blocks) {
    Status st = (*store)->AppendBlock(b.block, b.commit, b.effects);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
}

// Six blocks of issue events. With `tamper_at` (a height), that block's header carries a state
// root with one bit flipped, re-committed by every validator (so only the state root is wrong),
// and the later blocks link to the tampered block.
std::vector<BuiltBlock> Chain(ChainFixture& f, uint64_t tamper_at) {
  ChainBuilder c(&f);
  std::vector<BuiltBlock> blocks;
  for (uint64_t h = 1; h <= 6; ++h) {
    std::vector<SignedTransaction> txs;
    for (size_t i = 0; i < 3; ++i) {
      txs.push_back(f.Tx(i, f.Issue(i, "T" + std::to_string(h * 10 + i))));
    }
    blocks.push_back(c.Next(txs));
    if (h == tamper_at) {
      BuiltBlock& b = blocks.back();
      b.block.header.state_root.bytes[31] ^= 1;
      b.commit = f.Commit(b.block.header);
      c.tip.block_hash = BlockHash(b.block.header);  // the next blocks link to it
    }
  }
  return blocks;
}

tools::AuditOptions Options(const TempHome& home) {
  tools::AuditOptions o;
  o.home = home.path().string();
  return o;
}

TEST(AuditTest, AnHonestStoreHasNoAnomaly) {
  ChainFixture f;
  TempHome home;
  WriteHome(home, f, Chain(f, 0));
  auto report = tools::RunAudit(Options(home));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << report->ToText();
  EXPECT_EQ(report->blocks, 6u);
}

TEST(AuditTest, NamesTheFirstHeightWhoseStateRootDiffers) {
  ChainFixture f;
  TempHome home;
  WriteHome(home, f, Chain(f, 4));
  auto report = tools::RunAudit(Options(home));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_FALSE(report->ok());
  ASSERT_EQ(report->anomalies.size(), 1u) << report->ToText();
  EXPECT_EQ(report->anomalies[0].height, 4u) << report->ToText();
  EXPECT_EQ(report->anomalies[0].check, "replay");
  EXPECT_NE(report->anomalies[0].message.find("state root"), std::string::npos)
      << report->anomalies[0].message;
  EXPECT_EQ(report->blocks, 3u);  // blocks 1..3 replayed cleanly
  EXPECT_NE(report->ToText().find("state root"), std::string::npos) << report->ToText();
}

}  // namespace
}  // namespace certledger::testing
