#include "node/mempool.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ledger/chain.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {
namespace {

using node::Admission;
using node::Mempool;
using node::MempoolOptions;

class MempoolTest : public ::testing::Test {
 protected:
  MempoolTest() : builder(&f) {}
  ApplyContext Ctx() const {
    return {builder.tip.height + 1, builder.next_time_ms(), builder.log.size()};
  }
  Admission Add(Mempool& m, const SignedTransaction& stx, const std::string& source = "test",
                int64_t now_ms = 0) {
    return m.Add(stx, TxHash(stx.tx), builder.state, Ctx(), DirectVerifier(), source, now_ms);
  }
  ChainFixture f;
  ChainBuilder builder;
};

TEST_F(MempoolTest, AdmitsReapsInOrderAndForgetsCommitted) {
  Mempool m(MempoolOptions{});
  auto a1 = f.Tx(0, f.Issue(0, "A1"));
  auto a2 = f.Tx(0, f.Issue(0, "A2"));
  auto b1 = f.Tx(1, f.Issue(1, "B1"));
  // a2 arrives first: it waits for a1.
  EXPECT_EQ(Add(m, a2).code, Admission::Code::kAccepted);
  EXPECT_EQ(Add(m, b1).code, Admission::Code::kAccepted);
  EXPECT_EQ(Add(m, a1).code, Admission::Code::kAccepted);
  EXPECT_EQ(Add(m, a1).code, Admission::Code::kDuplicate);
  EXPECT_EQ(m.size(), 3u);
  auto reaped = m.Reap(builder.state, 10);
  ASSERT_EQ(reaped.size(), 3u);
  // b1 arrived before a1; a2 follows a1.
  EXPECT_EQ(reaped[0], b1);
  EXPECT_EQ(reaped[1], a1);
  EXPECT_EQ(reaped[2], a2);
  EXPECT_EQ(m.Reap(builder.state, 2).size(), 2u);

  auto block = builder.Next({a1, b1});
  m.Committed(block.block, builder.state);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_TRUE(m.Contains(TxHash(a2.tx)));
  EXPECT_FALSE(m.Contains(TxHash(a1.tx)));
}

TEST_F(MempoolTest, RejectsWithStableReasons) {
  Mempool m(MempoolOptions{});
  auto good = f.Tx(0, f.Issue(0, "A1"));
  auto bad_sig = good;
  bad_sig.signatures[0].signature.bytes[3] ^= 1;
  auto r = Add(m, bad_sig);
  EXPECT_EQ(r.code, Admission::Code::kRejected);
  EXPECT_EQ(r.reason, "bad-signature");

  // A later sequence with a bad signature is caught on admission too.
  auto later = f.Tx(0, f.Issue(0, "A2"));
  later.signatures[0].signature.bytes[3] ^= 1;
  r = Add(m, later);
  EXPECT_EQ(r.reason, "bad-signature");

  auto wrong_chain = f.Tx(1, f.Issue(1, "B1"));
  wrong_chain.tx.chain_id = "other";
  f.agencies[1].next_sequence--;
  r = Add(m, wrong_chain);
  EXPECT_EQ(r.reason, "wrong-chain");

  EXPECT_EQ(Add(m, good).code, Admission::Code::kAccepted);
  // The same sequence with other content.
  SignedTransaction clash;
  clash.tx = f.Unsigned(0, f.Issue(0, "A9"), 1);
  f.SignWith(&clash, f.agencies[0].issuing[0]);
  r = Add(m, clash);
  EXPECT_EQ(r.code, Admission::Code::kConflict);
  EXPECT_EQ(r.reason, "sequence-taken");

  // Committed sequences are stale.
  builder.Next({good});
  Mempool fresh(MempoolOptions{});
  r = Add(fresh, clash);
  EXPECT_EQ(r.code, Admission::Code::kConflict);
  EXPECT_EQ(r.reason, "bad-sequence");

  // Rule failures of the next sequence are caught at once.
  SignedTransaction expired;
  IssueEvent e = f.Issue(2, "C1");
  e.not_after = builder.tip.time_ms / 1000 - 10;  // before the next block's time
  e.not_before = e.not_after - 3600;
  expired.tx = f.Unsigned(2, e, 1);
  f.SignWith(&expired, f.agencies[2].issuing[0]);
  r = Add(fresh, expired);
  EXPECT_EQ(r.code, Admission::Code::kRejected);
  EXPECT_EQ(r.reason, "bad-validity");
}

// The attacks of issue 8: a peer (or a client) used to get transactions admitted with only the
// cheap checks, or queued "behind pending ones" whatever they were. Every path now gets the same
// rules, and what can never become valid is refused at once.
TEST_F(MempoolTest, EveryTransactionGetsTheFullRulesWhateverItsSource) {
  Mempool m(MempoolOptions{});
  // An expired permit: refused for a peer as for a client.
  SignedTransaction expired;
  IssueEvent e = f.Issue(2, "C1");
  e.not_after = builder.tip.time_ms / 1000 - 10;
  e.not_before = e.not_after - 3600;
  expired.tx = f.Unsigned(2, e, 1);
  f.SignWith(&expired, f.agencies[2].issuing[0]);
  EXPECT_EQ(Add(m, expired, "peer:ab").reason, "bad-validity");
  // Unsigned, as the next sequence or queued ahead.
  SignedTransaction unsigned_next;
  unsigned_next.tx = f.Unsigned(0, f.Issue(0, "U1"), 1);
  EXPECT_EQ(Add(m, unsigned_next, "peer:ab").reason, "missing-signature");
  SignedTransaction unsigned_ahead;
  unsigned_ahead.tx = f.Unsigned(0, f.Issue(0, "U2"), 7);
  EXPECT_EQ(Add(m, unsigned_ahead, "client:1.2.3.4").reason, "missing-signature");
  // An agency nobody registered, queued ahead with no signature (the pinning attack).
  SignedTransaction stranger;
  stranger.tx = f.Unsigned(0, f.Issue(0, "S1"), 5);
  stranger.tx.agency = CreditCode("91320000MA1XXXXX0");
  auto r = Add(m, stranger, "client:1.2.3.4");
  EXPECT_EQ(r.code, Admission::Code::kRejected);
  EXPECT_EQ(r.reason, "unknown-agency");
  // A surplus signer (another agency's key) queued ahead.
  SignedTransaction surplus;
  surplus.tx = f.Unsigned(0, f.Issue(0, "S2"), 3);
  f.SignWith(&surplus, f.agencies[0].issuing[0]);
  f.SignWith(&surplus, f.agencies[1].issuing[0]);
  std::sort(surplus.signatures.begin(), surplus.signatures.end(),
            [](const auto& a, const auto& b) { return a.signer < b.signer; });
  EXPECT_EQ(Add(m, surplus).reason, "unknown-signer");
  // A forged signature queued ahead.
  auto forged = f.Tx(1, f.Issue(1, "B1"));
  forged.tx.sequence = 4;
  EXPECT_EQ(Add(m, forged, "peer:ab").reason, "bad-signature");
  EXPECT_EQ(m.size(), 0u);
  // What an earlier pending transaction can cure still waits: a change of a permit issued by
  // a pending transaction.
  auto issue = f.Tx(0, f.Issue(0, "W1"));
  ChangeEvent ch;
  ch.identifier = f.CertId(0, "W1", 2);
  ch.document_hash = Sha256(AsBytes("w1-v2"));
  auto summary = sample::PermitSummary("B320115S2026-W1");
  summary.annual_quantity_m3 = 900'000;
  ch.summary = summary;
  ch.changed_fields = {"annual_quantity_m3"};
  auto change = f.Tx(0, ch);
  EXPECT_EQ(Add(m, change).code, Admission::Code::kAccepted);
  EXPECT_EQ(m.ReadyAgencies(builder.state), 0u);  // nothing for the next block yet
  EXPECT_EQ(Add(m, issue).code, Admission::Code::kAccepted);
  EXPECT_EQ(m.ReadyAgencies(builder.state), 1u);
}

TEST_F(MempoolTest, QuotasPerAgencyAndPerSource) {
  MempoolOptions o;
  o.max_txs_per_agency = 2;
  o.max_txs_per_source = 3;
  Mempool m(o);
  EXPECT_EQ(Add(m, f.Tx(0, f.Issue(0, "A1")), "s1").code, Admission::Code::kAccepted);
  EXPECT_EQ(Add(m, f.Tx(0, f.Issue(0, "A2")), "s1").code, Admission::Code::kAccepted);
  auto r = Add(m, f.Tx(0, f.Issue(0, "A3")), "s2");
  EXPECT_EQ(r.code, Admission::Code::kFull);
  EXPECT_EQ(r.reason, "agency-quota");
  EXPECT_EQ(Add(m, f.Tx(1, f.Issue(1, "B1")), "s1").code, Admission::Code::kAccepted);
  r = Add(m, f.Tx(1, f.Issue(1, "B2")), "s1");
  EXPECT_EQ(r.reason, "source-quota");
  // Another source still gets in, and a dropped transaction frees its share.
  EXPECT_EQ(Add(m, f.Tx(2, f.Issue(2, "C1")), "s2").code, Admission::Code::kAccepted);
  const auto pending = m.Reap(builder.state, 10);
  auto a1 = std::find_if(pending.begin(), pending.end(),
                         [&](const SignedTransaction& s) { return s.tx.agency == f.id(0); });
  ASSERT_NE(a1, pending.end());
  EXPECT_EQ(m.Drop(TxHash(a1->tx)).size(), 2u);  // A1, and A2 with it
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(Add(m, f.Tx(1, f.Issue(1, "B3")), "s1").code, Admission::Code::kAccepted);
}

TEST_F(MempoolTest, RecheckAfterABlockAndExpiry) {
  MempoolOptions o;
  o.max_age_ms = 1000;
  Mempool m(o);
  // Two pending issues of the same document by two agencies: once one commits, the other can
  // never apply.
  IssueEvent doc_a = f.Issue(0, "D1");
  IssueEvent doc_b = f.Issue(1, "D1");
  doc_b.document_hash = doc_a.document_hash;
  auto a = f.Tx(0, doc_a);
  auto b = f.Tx(1, doc_b);
  auto b2 = f.Tx(1, f.Issue(1, "D2"));
  ASSERT_EQ(Add(m, b, "s", 0).code, Admission::Code::kAccepted);
  ASSERT_EQ(Add(m, b2, "s", 0).code, Admission::Code::kAccepted);
  auto block = builder.Next({a});
  m.Committed(block.block, builder.state);
  auto dropped = m.Recheck(builder.state, Ctx(), DirectVerifier());
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0].hash, TxHash(b.tx));
  EXPECT_EQ(dropped[0].reason, "document-exists");
  EXPECT_EQ(dropped[1].reason, "bad-sequence");
  EXPECT_EQ(m.size(), 0u);
  // Expiry by age.
  auto c1 = f.Tx(2, f.Issue(2, "E1"));
  ASSERT_EQ(Add(m, c1, "s", 5000).code, Admission::Code::kAccepted);
  EXPECT_TRUE(m.Expire(5900).empty());
  auto expired = m.Expire(6001);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].reason, "expired");
  EXPECT_EQ(m.size(), 0u);
}

TEST_F(MempoolTest, BoundedAndDropCascades) {
  MempoolOptions o;
  o.max_txs = 3;
  Mempool m(o);
  auto a1 = f.Tx(0, f.Issue(0, "A1"));
  auto a2 = f.Tx(0, f.Issue(0, "A2"));
  auto a3 = f.Tx(0, f.Issue(0, "A3"));
  auto a4 = f.Tx(0, f.Issue(0, "A4"));
  ASSERT_EQ(Add(m, a1).code, Admission::Code::kAccepted);
  ASSERT_EQ(Add(m, a2).code, Admission::Code::kAccepted);
  ASSERT_EQ(Add(m, a3).code, Admission::Code::kAccepted);
  auto full = Add(m, a4);
  EXPECT_EQ(full.code, Admission::Code::kFull);
  EXPECT_EQ(full.reason, "mempool-full");
  // Dropping a2 drops a3 too (it can no longer apply), not a1.
  auto dropped = m.Drop(TxHash(a2.tx));
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0], TxHash(a2.tx));
  EXPECT_EQ(m.size(), 1u);
  EXPECT_TRUE(m.Contains(TxHash(a1.tx)));
  EXPECT_GT(m.bytes(), 0u);
}

}  // namespace
}  // namespace certledger::testing
