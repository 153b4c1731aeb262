// Byzantine attacks on a real four-validator network (issue 8): three honest `certledger node`
// processes and one in-process ByzantinePeer holding the fourth validator's keys. Each test runs
// one attack, checks that it was actually delivered and evaluated (a counter on the honest
// nodes moved), that it failed, that the honest nodes keep committing, and that their memory
// stays bounded. Every wait is bounded; every process is reaped when a test ends.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "ledger/encoding.h"
#include "node/keyfile.h"
#include "node/peer_messages.h"
#include "tests/testing/byzantine_peer.h"
#include "tests/testing/cluster.h"
#include "tools/audit.h"

namespace certledger::testing {
namespace {

constexpr size_t kByz = 3;                  // the validator the attacker holds
constexpr size_t kHonest = 3;               // nodes 0..2
constexpr uint64_t kMaxRssKb = 400 * 1024;  // an honest node's memory under attack

class ByzantineTest : public ::testing::Test {
 public:
  ByzantineTest() : c(4) {
    for (size_t i = 0; i < kHonest; ++i) c.Start(i);
    byz = std::make_unique<ByzantinePeer>(c, kByz);
  }
  void SetUp() override {
    ASSERT_TRUE(byz->WaitConnected(kHonest, 30000)) << "honest nodes did not connect";
    for (size_t i = 0; i < kHonest; ++i) ASSERT_TRUE(c.WaitHeight(i, 2, 30000)) << "node" << i;
  }
  int64_t MinHonestHeight() {
    int64_t h = INT64_MAX;
    for (size_t i = 0; i < kHonest; ++i) h = std::min(h, c.Height(i));
    return h;
  }
  int64_t MaxHonestHeight() {
    int64_t h = -1;
    for (size_t i = 0; i < kHonest; ++i) h = std::max(h, c.Height(i));
    return h;
  }
  double SumMetric(const std::string& name) {
    double sum = 0;
    for (size_t i = 0; i < kHonest; ++i) sum += std::max(0.0, c.Metric(i, name));
    return sum;
  }
  // Honest nodes still commit: a fresh, properly signed transaction submitted to each honest
  // node commits on all of them, and nothing used too much memory.
  void ExpectHonestProgress(const std::string& tag) {
    std::vector<Hash256> txs;
    for (size_t i = 0; i < kHonest; ++i) {
      auto stx = c.IssueTx(1, tag + std::to_string(i));
      ASSERT_TRUE(c.Submit(i, stx)) << "node" << i << " refused a valid transaction";
      txs.push_back(TxHash(stx.tx));
    }
    for (const auto& h : txs) {
      for (size_t i = 0; i < kHonest; ++i) {
        EXPECT_TRUE(WaitFor(30000, [&] { return c.Committed(i, h); })) << "node" << i;
      }
    }
    for (size_t i = 0; i < kHonest; ++i) {
      const uint64_t rss = c.RssKb(i);
      EXPECT_GT(rss, 0u);
      EXPECT_LT(rss, kMaxRssKb) << "node" << i << " uses " << rss / 1024 << " MiB";
    }
  }
  // Waits until the next height is one whose round-0 proposer is the attacker and the honest
  // nodes are all waiting at it (synced the attacker to their tip); true then.
  bool WaitOurTurn(int timeout_ms) {
    return WaitFor(timeout_ms, [&] {
      const int64_t lo = MinHonestHeight();
      if (lo != MaxHonestHeight() || lo < 1) return false;
      if (!byz->SyncTo(static_cast<uint64_t>(lo), 5000)) return false;
      auto rounds = byz->OurRounds(1);
      return !rounds.empty() && MaxHonestHeight() == lo;
    });
  }
  // A signature that does not verify: the real one with one bit flipped.
  static void Forge(SignedTransaction* stx) { stx->signatures.at(0).signature.bytes[7] ^= 0x20; }

  Cluster c;
  std::unique_ptr<ByzantinePeer> byz;
};

// A Byzantine proposer puts a forged issue and a governance transaction with forged signatures
// (handing the chain to itself) into its proposal, after relaying the unsigned and forged
// transactions through gossip (variant "relayed first") or without relaying them.
void RunForgedProposal(ByzantineTest* t, Cluster& c, ByzantinePeer& byz, bool relay_first) {
  SignedTransaction forged_issue = c.IssueTx(0, relay_first ? "FG1" : "FG2");
  ByzantineTest::Forge(&forged_issue);
  // update-validators: the attacker alone, "signed" by every validator.
  AgencyInfo& gov = c.agency(2);
  UpdateValidatorsEvent takeover;
  takeover.validators.validators.push_back(
      {byz.key().public_key(), 100, c.genesis().validators.Find(byz.key().public_key())->agency,
       c.genesis().validators.Find(byz.key().public_key())->node_key});
  SignedTransaction forged_gov;
  forged_gov.tx.chain_id = c.genesis().params.chain_id;
  forged_gov.tx.agency = gov.id;
  forged_gov.tx.sequence = gov.next_sequence;  // not consumed: it must never commit
  forged_gov.tx.event = takeover;
  const Hash256 digest = TxSigningDigest(forged_gov.tx, GenesisHash(c.genesis()));
  for (const auto& v : c.genesis().validators.validators) {
    Signature sig = v.key == byz.key().public_key() ? byz.key().Sign(digest) : Signature{};
    forged_gov.signatures.push_back({v.key, sig});
  }
  SignedTransaction unsigned_gov = forged_gov;
  unsigned_gov.signatures.clear();
  if (relay_first) {
    byz.Broadcast(node::kMsgTx, Encode(unsigned_gov));
    byz.Broadcast(node::kMsgTx, Encode(forged_issue));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const double invalid_before = t->SumMetric("certledger_invalid_proposals_total");
  ASSERT_TRUE(t->WaitOurTurn(60000)) << "the attacker never became a round-0 proposer";
  ledger::Block block = byz.BuildBlock({forged_issue, forged_gov});
  ASSERT_EQ(block.txs.size(), 2u);
  for (uint32_t r : byz.OurRounds(10)) byz.BroadcastProposal(byz.MakeProposal(r, block));
  // Delivered and evaluated: every honest node found the proposal invalid.
  EXPECT_TRUE(WaitFor(10000, [&] {
    return t->SumMetric("certledger_invalid_proposals_total") >= invalid_before + kHonest;
  })) << "the forged proposal was not evaluated by every honest node";
  t->ExpectHonestProgress(relay_first ? "FP" : "FQ");
  for (size_t i = 0; i < kHonest; ++i) {
    EXPECT_FALSE(c.Committed(i, TxHash(forged_issue.tx))) << "node" << i;
    EXPECT_FALSE(c.Committed(i, TxHash(forged_gov.tx))) << "node" << i;
    // The validator set is untouched: four validators, no change pending.
    auto ag = c.GetJson(i, "/v1/agencies");
    ASSERT_TRUE(ag.has_value());
    EXPECT_EQ((*ag)["validators"]["validators"].size(), 4u) << "node" << i;
    EXPECT_FALSE(ag->contains("pending_validators")) << "node" << i;
  }
}

TEST_F(ByzantineTest, ForgedSignaturesInAProposalAreNeverCommitted) {
  RunForgedProposal(this, c, *byz, /*relay_first=*/false);
}

TEST_F(ByzantineTest, ForgedSignaturesRelayedFirstAreNeverCommitted) {
  RunForgedProposal(this, c, *byz, /*relay_first=*/true);
}

// A proposal far above the chain's max_block_bytes is refused before it is decoded or checked.
TEST_F(ByzantineTest, OversizedProposalIsRefusedCheaply) {
  ASSERT_TRUE(WaitOurTurn(60000));
  ledger::Block block = byz->BuildBlock({});
  ledger::Bytes huge = Encode(block);
  huge.resize(20u << 20, 0xAB);  // 20 MiB, above the 8 MiB limit, still a valid frame
  const double before = SumMetric("certledger_peer_penalties_total");
  byz->BroadcastProposal(byz->MakeProposal(0, block, huge));
  EXPECT_TRUE(WaitFor(
      10000, [&] { return SumMetric("certledger_peer_penalties_total") >= before + kHonest; }));
  ExpectHonestProgress("OV");
}

// The same proposal id with other bytes (the signature covers the id only): the sender is
// blamed, the real value is not poisoned, and nothing is validated twice.
TEST_F(ByzantineTest, SameProposalIdWithOtherBytesIsRefused) {
  ASSERT_TRUE(WaitOurTurn(60000));
  ledger::Block block = byz->BuildBlock({});
  ledger::Block other = block;
  other.txs.push_back(c.IssueTx(2, "SID1"));
  c.agency(2).next_sequence--;  // never committed: the agency's next transaction reuses it
  const double before = SumMetric("certledger_peer_penalties_total");
  byz->BroadcastProposal(byz->MakeProposal(0, block, Encode(other)));
  EXPECT_TRUE(WaitFor(
      10000, [&] { return SumMetric("certledger_peer_penalties_total") >= before + kHonest; }));
  ExpectHonestProgress("SI");
}

// A status claiming height 2^64-1, without proof and with a proof signed by the attacker only:
// no honest node reports syncing or refuses submissions, and block sync never follows the lie.
TEST_F(ByzantineTest, LyingStatusHeightIsNotBelieved) {
  const double before = SumMetric("certledger_peer_penalties_total");
  node::StatusMessage lie;
  lie.height = UINT64_MAX;
  byz->Broadcast(node::kMsgStatus, node::EncodeStatus(lie));
  // With a "proof": a header at that height and a commit by the attacker alone.
  ledger::BlockHeader h;
  h.chain_id = c.genesis().params.chain_id;
  h.height = 1'000'000;
  ledger::CommitCertificate commit;
  commit.height = h.height;
  commit.block_id = BlockHash(h);
  commit.signatures.push_back(
      {byz->key().public_key(),
       byz->key().Sign(VoteSigningDigest({h.chain_id, GenesisHash(c.genesis())},
                                         VoteType::kPrecommit, h.height, 0, commit.block_id))});
  lie.height = h.height;
  lie.proof = std::make_pair(h, commit);
  for (int k = 0; k < 4; ++k) {
    byz->Broadcast(node::kMsgStatus, node::EncodeStatus(lie));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_TRUE(WaitFor(
      10000, [&] { return SumMetric("certledger_peer_penalties_total") >= before + kHonest; }));
  for (size_t i = 0; i < kHonest; ++i) {
    auto s = c.GetJson(i, "/v1/status");
    ASSERT_TRUE(s.has_value());
    EXPECT_FALSE((*s)["syncing"].get<bool>()) << "node" << i;
  }
  ExpectHonestProgress("LS");
}

// Thousands of large transaction frames (bad signatures, each near max_tx_bytes): verification
// is bounded in queued bytes per peer, the sender is ignored once caught, memory stays flat.
TEST_F(ByzantineTest, FloodOfLargeTransactionFramesIsBounded) {
  const double before = SumMetric("certledger_peer_penalties_total");
  SignedTransaction big = c.IssueTx(0, "FLOOD");
  auto& e = std::get<IssueEvent>(big.tx.event);
  for (int k = 0; k < 3000; ++k) {
    // Unique transactions of about 60 KiB each: 180 MB in all.
    std::get<WaterPermitSummary>(e.summary).location =
        std::string(60000, static_cast<char>('a' + k % 26)) + std::to_string(k);
    byz->Broadcast(node::kMsgTx, Encode(big));
  }
  EXPECT_TRUE(WaitFor(
      10000, [&] { return SumMetric("certledger_peer_penalties_total") >= before + kHonest; }));
  ExpectHonestProgress("FL");
}

// A validator that signs two prevotes for one height and round: every honest node that sees
// both turns them into an evidence transaction; it is committed once, listed by the API, and
// the audit report names it.
TEST_F(ByzantineTest, DoubleVoteEndsUpAsEvidenceOnTheLedger) {
  ASSERT_TRUE(WaitFor(60000, [&] {
    const int64_t h = MaxHonestHeight();
    return h >= 1 && byz->SyncTo(static_cast<uint64_t>(h), 5000) && byz->DoubleVote();
  })) << "no honest prevote to equivocate against";
  const std::string who = byz->key().public_key().Hex();
  for (size_t i = 0; i < kHonest; ++i) {
    EXPECT_TRUE(WaitFor(30000,
                        [&] {
                          auto ev = c.GetJson(i, "/v1/evidence");
                          return ev && (*ev)["count"].get<uint64_t>() >= 1 &&
                                 (*ev)["evidence"][0]["validator"].get<std::string>() == who;
                        }))
        << "node" << i;
  }
  auto ev = c.GetJson(0, "/v1/evidence");
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ((*ev)["count"].get<uint64_t>(), 1u) << "the same double vote was recorded twice";
  EXPECT_EQ((*ev)["evidence"][0]["vote_type"], "prevote");
  // The audit replays it (checking both vote signatures again) and reports it.
  tools::AuditOptions ao;
  ao.node_url = c.node(1).api;
  ao.genesis_file = (c.dir() / "genesis.json").string();
  auto report = tools::RunAudit(ao);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << report->ToText();
  ASSERT_EQ(report->evidence.size(), 1u) << report->ToText();
  EXPECT_EQ(report->evidence[0].validator, who);
  EXPECT_NE(report->ToText().find("EVIDENCE at height"), std::string::npos);
  ExpectHonestProgress("DV");
}

// Mempool pinning over HTTP: anyone, with no key, submits transactions of an unknown agency
// queued "ahead" with no signature, and an agency's own transactions with forged signatures.
// Every one is refused with its reason; the mempool stays empty; signed transactions still get
// in and commit.
TEST_F(ByzantineTest, MempoolPinningOverHttpFails) {
  auto client = c.Client(0);
  int refused = 0;
  for (int k = 0; k < 600; ++k) {
    SignedTransaction stx = c.IssueTx(0, "PIN" + std::to_string(k));
    c.agency(0).next_sequence--;
    stx.tx.sequence = 100 + static_cast<uint64_t>(k);
    if (k % 2 == 0) {
      stx.tx.agency = "91110000MA00000000";  // nobody registered it
      stx.signatures.clear();
    } else {
      Forge(&stx);
    }
    Json body = {{"encoded", ToHex(Encode(stx))}};
    auto r = client->Post("/v1/tx", body.dump());
    ASSERT_TRUE(r.ok());
    if (r->status == 422) {
      Json j = Json::parse(r->body, nullptr, false);
      const std::string code =
          j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
      EXPECT_TRUE(code == "unknown-agency" || code == "bad-signature") << r->body;
      ++refused;
    } else {
      EXPECT_EQ(r->status, 429) << r->body;  // the rate limit may answer first; never admitted
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_EQ(c.Metric(0, "certledger_mempool_txs"), 0);
  ExpectHonestProgress("PN");
}

}  // namespace
}  // namespace certledger::testing
