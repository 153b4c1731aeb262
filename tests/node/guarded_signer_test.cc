#include "node/guarded_signer.h"

#include <gtest/gtest.h>

#include "consensus/message.h"

namespace certledger::node {
namespace {

using consensus::Proposal;
using consensus::SignStep;
using consensus::Vote;
using consensus::VoteType;

const ledger::ChainDomain kDomain{"guard-test", {}};

ledger::Hash256 Id(const char* tag) { return ledger::Sha256(ledger::AsBytes(std::string(tag))); }

Vote MakeVote(const ledger::PublicKey& who, VoteType t, uint64_t h, uint32_t r,
              std::optional<ledger::Hash256> id) {
  Vote v;
  v.type = t;
  v.height = h;
  v.round = r;
  v.block_id = id;
  v.validator = who;
  return v;
}

TEST(GuardedSignerTest, RefusesConflictsAndRegressionsAndSignsTheSameMessageAgain) {
  const auto key = ledger::PrivateKey::Generate();
  GuardedSigner s(key, kDomain);
  const auto pk = key.public_key();
  auto sign = [&](const Vote& v) { return s.Sign(consensus::RequestFor(kDomain, v)); };
  const Vote a = MakeVote(pk, VoteType::kPrevote, 5, 0, Id("A"));
  auto sig = sign(a);
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(ledger::Verify(pk, consensus::SigningDigestOf(kDomain, a), *sig));
  // Another value, or nil, at the same height/round/step: a double vote. Refused.
  EXPECT_FALSE(sign(MakeVote(pk, VoteType::kPrevote, 5, 0, Id("B"))).has_value());
  EXPECT_FALSE(sign(MakeVote(pk, VoteType::kPrevote, 5, 0, std::nullopt)).has_value());
  EXPECT_TRUE(sign(a).has_value());  // the very same vote may be signed again
  ASSERT_TRUE(sign(MakeVote(pk, VoteType::kPrecommit, 5, 0, Id("A"))).has_value());
  // Back to an earlier step, round or height: refused.
  EXPECT_FALSE(sign(a).has_value());
  EXPECT_FALSE(sign(MakeVote(pk, VoteType::kPrevote, 4, 7, Id("C"))).has_value());
  Proposal late;
  late.height = 5;
  late.round = 0;
  late.proposer = pk;
  late.value.id = Id("A");
  EXPECT_FALSE(s.Sign(consensus::RequestFor(kDomain, late)).has_value());
  EXPECT_EQ(s.refusals(), 5u);
  // Moving on is fine.
  EXPECT_TRUE(sign(MakeVote(pk, VoteType::kPrevote, 5, 1, std::nullopt)).has_value());
  EXPECT_TRUE(sign(MakeVote(pk, VoteType::kPrevote, 6, 0, Id("D"))).has_value());
}

TEST(GuardedSignerTest, RemembersWhatTheWriteAheadRecordHoldsAcrossARestart) {
  const auto key = ledger::PrivateKey::Generate();
  const auto pk = key.public_key();
  const auto other = ledger::PrivateKey::Generate().public_key();
  // What the record held before the restart: this validator's precommit at (9, 2), and a
  // message of another validator (ignored).
  GuardedSigner s(key, kDomain);
  s.Remember(MakeVote(pk, VoteType::kPrecommit, 9, 2, Id("X")));
  s.Remember(MakeVote(other, VoteType::kPrecommit, 12, 0, Id("Y")));
  auto sign = [&](const Vote& v) { return s.Sign(consensus::RequestFor(kDomain, v)); };
  EXPECT_FALSE(sign(MakeVote(pk, VoteType::kPrecommit, 9, 2, Id("Z"))).has_value());
  EXPECT_FALSE(sign(MakeVote(pk, VoteType::kPrevote, 9, 2, Id("X"))).has_value());
  EXPECT_TRUE(sign(MakeVote(pk, VoteType::kPrecommit, 9, 2, Id("X"))).has_value());
  EXPECT_TRUE(sign(MakeVote(pk, VoteType::kPrevote, 9, 3, Id("Z"))).has_value());
}

}  // namespace
}  // namespace certledger::node
