#include "ledger/chain.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "ledger/replay.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {
namespace {

TEST(GenesisTest, JsonRoundTripAndCanonicalHash) {
  ChainFixture f;
  ASSERT_TRUE(ValidateGenesis(f.genesis).ok());
  std::string json = GenesisToJson(f.genesis);
  auto parsed = ParseGenesisJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, f.genesis);
  EXPECT_EQ(GenesisHash(*parsed), GenesisHash(f.genesis));
  // The hash covers content, not JSON formatting: re-serialising compactly changes nothing.
  auto again = ParseGenesisJson(nlohmann::json::parse(json).dump());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(GenesisHash(*again), GenesisHash(f.genesis));
}

TEST(GenesisTest, ErrorsNameTheField) {
  ChainFixture f;
  std::string json = GenesisToJson(f.genesis);
  auto expect_error = [](const std::string& text, const std::string& needle) {
    auto r = ParseGenesisJson(text);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect_error("{not json", "not valid JSON");
  expect_error("[]", "expected a JSON object");
  {
    std::string t = json;
    t.replace(t.find("\"chain_id\""), 10, "\"chain_iX\"");
    expect_error(t, "genesis.chain_id: missing");
  }
  {
    std::string t = json;
    t.replace(t.find("\"kind\": \"province\""), 18, "\"kind\": \"county\"");
    expect_error(t, "genesis.agencies[0].kind");
  }
  {
    std::string t = json;
    size_t k = t.find("\"key\": \"") + 8;
    t.replace(k, 4, "zzzz");
    expect_error(t, "genesis.validators[0].key");
  }
  {
    Genesis g = f.genesis;
    g.validators.validators[0].agency = "unknown";
    expect_error(GenesisToJson(g), "is not among genesis.agencies");
  }
  // Node identities: separate from every consensus key, unique, valid points.
  {
    Genesis g = f.genesis;
    g.validators.validators[0].node_key = g.validators.validators[1].key;
    expect_error(GenesisToJson(g), "is a consensus key");
    g = f.genesis;
    g.validators.validators[0].node_key = g.validators.validators[0].key;
    expect_error(GenesisToJson(g), "is a consensus key");
    g = f.genesis;
    g.validators.validators[1].node_key = g.validators.validators[0].node_key;
    expect_error(GenesisToJson(g), "is named by two validators");
    nlohmann::json j = nlohmann::json::parse(json);
    j["validators"][0].erase("node_key");
    expect_error(j.dump(), "genesis.validators[0].node_key");
  }
  // Numbers where integers are expected (an outside fuzzing finding: 1e300 reached a
  // float-to-integer cast, undefined behaviour): floats, negatives, out-of-range values and
  // booleans are refused with the field's path, never converted.
  for (const char* bad : {"1e300", "2.5", "-1", "18446744073709551616", "true", "\"7\""}) {
    nlohmann::json j = nlohmann::json::parse(json);
    j["params"]["max_block_txs"] = nlohmann::json::parse(bad);
    SCOPED_TRACE(bad);
    expect_error(j.dump(), "genesis.params.max_block_txs");
    nlohmann::json k = nlohmann::json::parse(json);
    k["validators"][0]["power"] = nlohmann::json::parse(bad);
    expect_error(k.dump(), "genesis.validators[0].power");
  }
  {
    Genesis g = f.genesis;
    g.agencies.push_back(g.agencies[0]);
    expect_error(GenesisToJson(g), "duplicate");
  }
}

TEST(BuildBlockTest, LeavesOutRejectedTransactionsAndValidates) {
  ChainFixture f;
  ChainBuilder c(&f);
  auto good = f.Tx(0, f.Issue(0, "A0001"));
  auto replay = good;  // same sequence again: rejected
  auto other = f.Tx(1, f.Issue(1, "B0001"));
  auto built = BuildBlock(c.state, c.state_nodes, c.tip, c.log, {good, replay, other},
                          c.next_time_ms(), f.validator_keys[0].public_key(), DirectVerifier());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  ASSERT_EQ(built->block.txs.size(), 2u);
  ASSERT_EQ(built->rejected.size(), 1u);
  EXPECT_EQ(built->rejected[0].first, 1u);
  EXPECT_STREQ(built->rejected[0].second.code(), "bad-sequence");
  EXPECT_EQ(built->block.header.log_size, 2u);

  auto effects = ValidateBlock(c.state, c.state_nodes, c.tip, c.log, built->block);
  ASSERT_TRUE(effects.ok()) << effects.status().ToString();
  EXPECT_EQ(effects->changes, built->effects.changes);
  EXPECT_EQ(effects->log_after.Root(), built->block.header.log_root);
}

TEST(BuildBlockTest, TimeAlwaysIncreases) {
  ChainFixture f;
  ChainBuilder c(&f);
  auto built = BuildBlock(c.state, c.state_nodes, c.tip, c.log, {}, c.tip.time_ms - 5000,
                          f.validator_keys[0].public_key(), DirectVerifier());
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(built->block.header.time_ms, c.tip.time_ms + 1);
}

// A chain of a few blocks with every kind of certificate event, for replay tests.
std::vector<BuiltBlock> SampleChain(ChainFixture& f) {
  ChainBuilder c(&f);
  std::vector<BuiltBlock> blocks;
  blocks.push_back(c.Next(
      {f.Tx(0, f.Issue(0, "A0001")), f.Tx(0, f.Issue(0, "A0002")), f.Tx(1, f.Issue(1, "B0001"))}));
  ChangeEvent ch;
  ch.identifier = f.CertId(0, "A0001", 2);
  ch.document_hash = Sha256(AsBytes("doc A0001 v2"));
  ch.summary = sample::PermitSummary("B320115S2026-A001");
  std::get<WaterPermitSummary>(ch.summary).annual_quantity_m3 = 900'000;
  ch.changed_fields = {"annual_quantity_m3"};
  blocks.push_back(c.Next({f.Tx(0, ch), f.Tx(1, SuspendEvent{f.BaseId(1, "B0001"), "检查"})}));
  blocks.push_back(c.Next(
      {f.Tx(0, RevokeEvent{f.BaseId(0, "A0002"), RevocationKind::kRevoked, "拒不执行取水量限制"}),
       f.Tx(1, ResumeEvent{f.BaseId(1, "B0001"), ""})}));
  blocks.push_back(c.Next({}));
  return blocks;
}

TEST(ReplayTest, ReproducesEveryBlockAndStateRoot) {
  ChainFixture f;
  auto blocks = SampleChain(f);
  Replayer r(f.genesis);
  for (const auto& b : blocks) {
    ASSERT_TRUE(r.Next(b.block, b.commit).ok());
  }
  EXPECT_EQ(r.tip().height, blocks.size());
  EXPECT_EQ(r.tip().state_root, blocks.back().block.header.state_root);
  EXPECT_EQ(r.events(), 7u);
  auto cert = ReadCertificate(r.state(), f.BaseId(0, "A0002"));
  ASSERT_TRUE(cert.ok() && cert->has_value());
  EXPECT_EQ((*cert)->status, CertStatus::kRevoked);
}

// Replays `blocks` with block `bad` replaced by `tampered`; returns the failure.
Status ReplayWith(const ChainFixture& f, std::vector<BuiltBlock> blocks, size_t bad,
                  const Block& tampered, const CommitCertificate& commit) {
  Replayer r(f.genesis);
  for (size_t i = 0; i < blocks.size(); ++i) {
    Status st = i == bad ? r.Next(tampered, commit) : r.Next(blocks[i].block, blocks[i].commit);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

TEST(ReplayTest, DetectsATamperedBlock) {
  ChainFixture f;
  auto blocks = SampleChain(f);
  {  // A transaction's content changed: its signature no longer verifies.
    Block b = blocks[0].block;
    std::get<IssueEvent>(b.txs[1].tx.event).not_after += 86400;
    // Re-commit so that only the content check can catch it.
    Status st = ReplayWith(f, blocks, 0, b, f.Commit(b.header));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("bad-signature"), std::string::npos) << st.message();
  }
  {  // A header field changed without a new commit: the commit no longer matches.
    Block b = blocks[1].block;
    b.header.state_root.bytes[0] ^= 1;
    Status st = ReplayWith(f, blocks, 1, b, blocks[1].commit);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("commit is for block"), std::string::npos) << st.message();
  }
  {  // A header field changed and re-committed by the validators: the state root is wrong.
    Block b = blocks[1].block;
    b.header.state_root.bytes[0] ^= 1;
    Status st = ReplayWith(f, blocks, 1, b, f.Commit(b.header));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("state root"), std::string::npos) << st.message();
  }
  {  // A transaction dropped from a block.
    Block b = blocks[2].block;
    b.txs.pop_back();
    Status st = ReplayWith(f, blocks, 2, b, f.Commit(b.header));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("transactions root"), std::string::npos) << st.message();
  }
}

TEST(ReplayTest, DetectsAForgedCommit) {
  ChainFixture f;
  auto blocks = SampleChain(f);
  const Block& b = blocks[1].block;
  {  // One signature byte flipped.
    CommitCertificate c = blocks[1].commit;
    c.signatures[2].signature.bytes[5] ^= 1;
    Status st = ReplayWith(f, blocks, 1, b, c);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("is invalid"), std::string::npos) << st.message();
  }
  {  // Only two of four validators (20 of 40 power).
    Status st = ReplayWith(f, blocks, 1, b, f.Commit(b.header, {0, 1}));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("not more than two thirds"), std::string::npos);
  }
  {  // A signer outside the validator set.
    CommitCertificate c = f.Commit(b.header, {0, 1});
    PrivateKey outsider = TestKey("outsider");
    Hash256 d = VoteSigningDigest(f.domain(), VoteType::kPrecommit, c.height, c.round, c.block_id);
    c.signatures.push_back({outsider.public_key(), outsider.Sign(d)});
    Status st = ReplayWith(f, blocks, 1, b, c);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("not in the validator set"), std::string::npos);
  }
  {  // The same validator twice.
    CommitCertificate c = f.Commit(b.header, {0, 1, 2});
    c.signatures.push_back(c.signatures[0]);
    Status st = ReplayWith(f, blocks, 1, b, c);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("two signatures"), std::string::npos);
  }
  {  // A commit for another height.
    Status st = ReplayWith(f, blocks, 1, b, blocks[2].commit);
    ASSERT_FALSE(st.ok());
  }
}

TEST(ReplayTest, DetectsReorderedTransactions) {
  ChainFixture f;
  auto blocks = SampleChain(f);
  {  // Two transactions of one agency swapped: the sequence breaks.
    Block b = blocks[0].block;
    std::swap(b.txs[0], b.txs[1]);
    Status st = ReplayWith(f, blocks, 0, b, f.Commit(b.header));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("bad-sequence"), std::string::npos) << st.message();
  }
  {  // Two transactions of different agencies swapped: the transactions root differs.
    Block b = blocks[1].block;
    std::swap(b.txs[0], b.txs[1]);
    Status st = ReplayWith(f, blocks, 1, b, f.Commit(b.header));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("root"), std::string::npos) << st.message();
  }
  {  // Blocks out of order.
    Replayer r(f.genesis);
    ASSERT_TRUE(r.Next(blocks[0].block, blocks[0].commit).ok());
    EXPECT_FALSE(r.Next(blocks[2].block, blocks[2].commit).ok());
    EXPECT_EQ(r.tip().height, 1u);  // unchanged by the failure
  }
}

TEST(ValidatorChangeTest, TakesEffectTwoHeightsLater) {
  ChainFixture f;
  ChainBuilder c(&f);
  // Replace the set by validators 0..2 only, with a new key for validator 2.
  PrivateKey new_key = TestKey("validator-2-rotated");
  ValidatorSet next;
  next.validators = {
      {f.validator_keys[0].public_key(), 10, f.id(0), TestKey("node-0").public_key()},
      {f.validator_keys[1].public_key(), 10, f.id(1), TestKey("node-1").public_key()},
      {new_key.public_key(), 10, f.id(2), TestKey("node-2-rotated").public_key()}};
  std::sort(next.validators.begin(), next.validators.end(),
            [](const Validator& a, const Validator& b) { return a.key < b.key; });
  auto b1 = c.Next({f.Governance(3, UpdateValidatorsEvent{next}, {0, 1, 2})});  // height 1
  EXPECT_EQ(b1.block.header.validator_set_hash, f.genesis.validators.Hash());
  auto b2 = c.Next({});  // height 2: still the genesis set
  EXPECT_EQ(b2.block.header.validator_set_hash, f.genesis.validators.Hash());
  auto v3 = ValidatorsForHeight(c.state, 3);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(*v3, next);
  auto b3 = c.Next({});  // height 3 = 1 + kValidatorSetDelay: the new set
  EXPECT_EQ(b3.block.header.validator_set_hash, next.Hash());

  // The replayer follows the change: block 3 needs the new set's signatures.
  Replayer r(f.genesis);
  ASSERT_TRUE(r.Next(b1.block, b1.commit).ok());
  ASSERT_TRUE(r.Next(b2.block, b2.commit).ok());
  // Signed by the old validators 2 and 3 plus 0: only 10 of 30 new power is in the new set.
  EXPECT_FALSE(r.Next(b3.block, f.Commit(b3.block.header, {2, 3, 0})).ok());
  CommitCertificate good = f.Commit(b3.block.header, {0, 1});
  Hash256 d =
      VoteSigningDigest(f.domain(), VoteType::kPrecommit, good.height, good.round, good.block_id);
  good.signatures.push_back({new_key.public_key(), new_key.Sign(d)});
  EXPECT_TRUE(r.Next(b3.block, good).ok());
}

}  // namespace
}  // namespace certledger::testing
