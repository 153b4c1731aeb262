#include "node/mempool.h"

#include <gtest/gtest.h>

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
  Admission Add(Mempool& m, const SignedTransaction& stx) {
    return m.Add(stx, TxHash(stx.tx), builder.state, Ctx());
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
  ChainFixture::SignWith(&clash, f.agencies[0].issuing[0]);
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
  ChainFixture::SignWith(&expired, f.agencies[2].issuing[0]);
  r = Add(fresh, expired);
  EXPECT_EQ(r.code, Admission::Code::kRejected);
  EXPECT_EQ(r.reason, "bad-validity");
}

TEST_F(MempoolTest, RelayedTransactionsGetOnlyTheCheapChecks) {
  Mempool m(MempoolOptions{});
  SignedTransaction expired;
  IssueEvent e = f.Issue(2, "C1");
  e.not_after = builder.tip.time_ms / 1000 - 10;
  e.not_before = e.not_after - 3600;
  expired.tx = f.Unsigned(2, e, 1);
  ChainFixture::SignWith(&expired, f.agencies[2].issuing[0]);
  const ApplyContext ctx = Ctx();
  // Relayed by a peer: the rules are left to block building.
  auto r = m.Add(expired, TxHash(expired.tx), builder.state, ctx, false, /*check_rules=*/false);
  EXPECT_EQ(r.code, Admission::Code::kAccepted);
  // ... but not the signatures, the chain or the sequence.
  auto bad = f.Tx(1, f.Issue(1, "B1"));
  bad.signatures[0].signature.bytes[0] ^= 1;
  r = m.Add(bad, TxHash(bad.tx), builder.state, ctx, false, false);
  EXPECT_EQ(r.reason, "bad-signature");
  auto other_chain = f.Tx(1, f.Issue(1, "B2"));
  other_chain.tx.chain_id = "elsewhere";
  r = m.Add(other_chain, TxHash(other_chain.tx), builder.state, ctx, true, false);
  EXPECT_EQ(r.reason, "wrong-chain");
  // Block building drops what the rules reject.
  auto built = BuildBlock(builder.state, builder.tip, builder.log, m.Reap(builder.state, 10),
                          builder.next_time_ms(), f.validator_keys[0].public_key(), true);
  ASSERT_TRUE(built.ok());
  ASSERT_EQ(built->rejected.size(), 1u);
  EXPECT_STREQ(built->rejected[0].second.code(), "bad-validity");
}

TEST_F(MempoolTest, BoundedAndDropCascades) {
  Mempool m(MempoolOptions{3, 64ull << 20, 10000});
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
