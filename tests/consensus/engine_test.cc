// Unit tests of the engine, one or more per rule of the paper's Algorithm 1, with real BIP-340
// keys. Validator 0 is the engine under test; n = 4 with power 1 each, so f = 1 and a quorum
// (2f + 1) is 3 validators.
#include "consensus/engine.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ledger/commit.h"
#include "tests/consensus/test_keys.h"

namespace certledger::consensus {
namespace {

using testing::DeterministicKeySigner;
using testing::MakeSet;
using testing::MakeValue;
using testing::TestKey;
using testing::TestValueValidator;

const ledger::ChainDomain kChain{"certledger-test", {}};

template <class T>
std::vector<T> All(const StepResult& r) {
  std::vector<T> out;
  for (const auto& a : r.actions)
    if (const auto* x = std::get_if<T>(&a)) out.push_back(*x);
  return out;
}

std::vector<Vote> SentVotes(const StepResult& r) {
  std::vector<Vote> out;
  for (const auto& b : All<Broadcast>(r))
    if (const auto* v = std::get_if<Vote>(&b.message)) out.push_back(*v);
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = MakeSet(4);
    opts_.domain = kChain;
    ASSERT_TRUE(opts_.Validate().ok());
    Restart({});
  }

  StepResult Restart(std::vector<Message> record) {
    signer_ = std::make_unique<DeterministicKeySigner>(TestKey(0));
    engine_ = std::make_unique<Engine>(opts_, signer_.get(), &verifier_, &values_);
    return engine_->Step(StartHeight{1, set_, std::move(record)});
  }

  uint32_t IndexOf(const PublicKey& k) {
    for (uint32_t i = 0; i < 4; ++i)
      if (TestKey(i).public_key() == k) return i;
    return 99;
  }
  // A round >= from in which validator 0 is not the proposer.
  uint32_t OtherProposerRound(uint32_t from) {
    for (uint32_t r = from;; ++r)
      if (IndexOf(engine_->Proposer(r)) != 0) return r;
  }
  uint32_t SelfProposerRound(uint32_t from) {
    for (uint32_t r = from;; ++r)
      if (IndexOf(engine_->Proposer(r)) == 0) return r;
  }
  // Indices of validators other than 0 and other than `except`.
  std::vector<uint32_t> Others(uint32_t except = 99) {
    std::vector<uint32_t> out;
    for (uint32_t i = 1; i < 4; ++i)
      if (i != except) out.push_back(i);
    return out;
  }

  Vote MakeVote(uint32_t who, VoteType t, uint32_t round, std::optional<Hash256> id,
                uint64_t height = 1) {
    Vote v{t, height, round, id, TestKey(who).public_key(), {}};
    v.signature = TestKey(who).Sign(SigningDigestOf(kChain, v));
    return v;
  }
  Proposal MakeProposal(uint32_t round, const Value& value, std::optional<uint32_t> vr = {},
                        uint64_t height = 1) {
    Proposal p{height, round, vr, value, engine_->Proposer(round), {}};
    p.signature = TestKey(IndexOf(p.proposer)).Sign(SigningDigestOf(kChain, p));
    return p;
  }
  StepResult Feed(const Message& m) { return engine_->Step(Receive{m}); }
  StepResult Fire(RoundStep s, uint32_t round) {
    return engine_->Step(TimeoutFired{Timeout{s, 1, round}});
  }
  // Moves the engine to `round` of height 1 with f + 1 = 2 precommits of that round (nil).
  void SkipTo(uint32_t round) {
    Feed(MakeVote(1, VoteType::kPrecommit, round, std::nullopt));
    Feed(MakeVote(2, VoteType::kPrecommit, round, std::nullopt));
    ASSERT_EQ(engine_->round(), round);
  }
  // Locks validator 0 on `v` in a round where it is not the proposer; returns the round.
  uint32_t LockOn(const Value& v, uint32_t from) {
    uint32_t r = OtherProposerRound(from);
    if (r != engine_->round()) SkipTo(r);
    Feed(MakeProposal(r, v));
    uint32_t prop = IndexOf(engine_->Proposer(r));
    auto others = Others(prop);
    Feed(MakeVote(prop, VoteType::kPrevote, r, v.id));
    StepResult res = Feed(MakeVote(others[0], VoteType::kPrevote, r, v.id));
    EXPECT_EQ(engine_->locked_id(), v.id);
    EXPECT_EQ(engine_->locked_round(), r);
    return r;
  }

  Options opts_;
  ledger::ValidatorSet set_;
  std::unique_ptr<DeterministicKeySigner> signer_;
  Bip340Verifier verifier_;
  TestValueValidator values_;
  std::unique_ptr<Engine> engine_;
};

TEST(OptionsTest, DefaultsNeedChainId) {
  Options o;
  EXPECT_FALSE(o.Validate().ok());
  o.domain.chain_id = "c";
  EXPECT_TRUE(o.Validate().ok());
  o.max_rounds_ahead = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.max_rounds_ahead = 3;
  o.timeout_prevote_ms = 0;
  EXPECT_FALSE(o.Validate().ok());
}

TEST(ProposerTest, EqualPowersRoundRobin) {
  auto set = MakeSet(7);
  ProposerSchedule s(set);
  for (uint64_t h = 1; h < 20; ++h) {
    std::set<size_t> seen;
    for (uint32_t r = 0; r < 7; ++r) seen.insert(s.ProposerIndex(h, r));
    EXPECT_EQ(seen.size(), 7u) << "height " << h;
  }
}

TEST(ProposerTest, WeightedExactlyByPowerOverAWindow) {
  auto set = MakeSet(5, {1, 2, 3, 4, 10});
  ProposerSchedule s(set);
  std::vector<uint64_t> count(5);
  for (uint32_t r = 0; r < 20; ++r) ++count[s.ProposerIndex(7, r)];
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(count[i], set.validators[i].power);
  // Never the same proposer more than twice in a row, despite power 10 of 20.
  int run = 0, max_run = 0;
  size_t prev = 99;
  for (uint32_t r = 0; r < 40; ++r) {
    size_t p = s.ProposerIndex(3, r);
    run = p == prev ? run + 1 : 1;
    max_run = std::max(max_run, run);
    prev = p;
  }
  EXPECT_LE(max_run, 2);
}

TEST_F(EngineTest, ProposerRequestsValuePersistsThenBroadcasts) {
  uint32_t r = SelfProposerRound(0);
  StepResult res = Restart({});
  if (r != 0) {
    Feed(MakeVote(1, VoteType::kPrecommit, r, std::nullopt));
    res = Feed(MakeVote(2, VoteType::kPrecommit, r, std::nullopt));
  }
  auto req = All<RequestProposal>(res);
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].height, 1u);
  Value v = MakeValue(1, "a");
  res = engine_->Step(ProposalReady{1, r, v});
  ASSERT_FALSE(res.rejection);
  // Persist comes before the broadcast of the same message.
  ASSERT_GE(res.actions.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<PersistSigned>(res.actions[0]));
  ASSERT_TRUE(std::holds_alternative<Broadcast>(res.actions[1]));
  EXPECT_EQ(std::get<PersistSigned>(res.actions[0]).message,
            std::get<Broadcast>(res.actions[1]).message);
  // It then prevotes its own valid proposal.
  auto votes = SentVotes(res);
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].block_id, v.id);
  // A second answer is stale.
  EXPECT_EQ(engine_->Step(ProposalReady{1, r, v}).rejection, Reject::kStale);
}

TEST_F(EngineTest, NonProposerSchedulesProposeTimeoutThatGrowsWithRound) {
  auto res = Restart({});
  auto t = All<ScheduleTimeout>(res);
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t.back().timeout.step, RoundStep::kPropose);
  EXPECT_EQ(t.back().delay_ms, opts_.timeout_propose_ms);
  EXPECT_EQ(engine_->TimeoutDelay(RoundStep::kPropose, 3),
            opts_.timeout_propose_ms + 3 * opts_.timeout_propose_delta_ms);
  EXPECT_EQ(engine_->TimeoutDelay(RoundStep::kPrevote, 2),
            opts_.timeout_prevote_ms + 2 * opts_.timeout_prevote_delta_ms);
}

TEST_F(EngineTest, Line22ValidProposalGetsPrevote) {
  uint32_t r = OtherProposerRound(0);
  if (r) SkipTo(r);
  Value v = MakeValue(1, "a");
  auto votes = SentVotes(Feed(MakeProposal(r, v)));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].type, VoteType::kPrevote);
  EXPECT_EQ(votes[0].block_id, v.id);
  EXPECT_EQ(engine_->step(), RoundStep::kPrevote);
}

TEST_F(EngineTest, Line22InvalidProposalGetsNilPrevote) {
  uint32_t r = OtherProposerRound(0);
  if (r) SkipTo(r);
  auto votes = SentVotes(Feed(MakeProposal(r, MakeValue(1, "Xbad"))));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_FALSE(votes[0].block_id.has_value());
}

TEST_F(EngineTest, Line57ProposeTimeoutPrevotesNil) {
  uint32_t r = engine_->round();
  auto votes = SentVotes(Fire(RoundStep::kPropose, r));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_FALSE(votes[0].block_id);
  EXPECT_EQ(engine_->step(), RoundStep::kPrevote);
  // A stale timeout (other round) does nothing.
  EXPECT_TRUE(Fire(RoundStep::kPropose, r + 5).actions.empty());
}

TEST_F(EngineTest, Line36LockAndPrecommitOnPolka) {
  Value v = MakeValue(1, "a");
  uint32_t r = LockOn(v, 0);
  EXPECT_EQ(engine_->step(), RoundStep::kPrecommit);
  EXPECT_EQ(engine_->valid_round(), r);
  EXPECT_EQ(engine_->valid_value()->id, v.id);
}

TEST_F(EngineTest, Line22LockedValidatorPrevotesNilForOtherValueButYesForLockedValue) {
  Value v = MakeValue(1, "a");
  uint32_t r0 = LockOn(v, 0);
  uint32_t r1 = OtherProposerRound(r0 + 1);
  SkipTo(r1);
  auto votes = SentVotes(Feed(MakeProposal(r1, MakeValue(1, "b"))));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_FALSE(votes[0].block_id) << "locked on a, must not prevote b with vr = -1";

  uint32_t r2 = OtherProposerRound(r1 + 1);
  SkipTo(r2);
  votes = SentVotes(Feed(MakeProposal(r2, v)));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].block_id, v.id) << "lockedValue == v";
}

TEST_F(EngineTest, Line28NewerPolkaUnlocks) {
  Value a = MakeValue(1, "a"), b = MakeValue(1, "b");
  uint32_t r0 = LockOn(a, 0);
  // 2f+1 prevotes for b in a later round vr (validator 0 did not take part).
  uint32_t vr = r0 + 1;
  for (uint32_t i : {1u, 2u, 3u}) Feed(MakeVote(i, VoteType::kPrevote, vr, b.id));
  uint32_t r = OtherProposerRound(vr + 1);
  if (engine_->round() < r) SkipTo(r);
  ASSERT_EQ(engine_->step(), RoundStep::kPropose);
  auto votes = SentVotes(Feed(MakeProposal(r, b, vr)));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].block_id, b.id) << "lockedRound <= vr";
}

TEST_F(EngineTest, Line28OlderPolkaDoesNotUnlock) {
  Value a = MakeValue(1, "a"), b = MakeValue(1, "b");
  // A polka for b at round 0, then validator 0 locks a at a later round.
  for (uint32_t i : {1u, 2u, 3u}) Feed(MakeVote(i, VoteType::kPrevote, 0, b.id));
  uint32_t r0 = LockOn(a, 1);
  ASSERT_GT(r0, 0u);
  uint32_t r = OtherProposerRound(r0 + 1);
  SkipTo(r);
  auto votes = SentVotes(Feed(MakeProposal(r, b, 0)));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_FALSE(votes[0].block_id) << "lockedRound > vr and lockedValue != b";
}

TEST_F(EngineTest, Line28WithoutPolkaAtVrNoPrevoteUntilTimeout) {
  Value b = MakeValue(1, "b");
  uint32_t r = OtherProposerRound(1);
  SkipTo(r);
  // Only f + 1 prevotes for b at vr = 0: not enough.
  Feed(MakeVote(1, VoteType::kPrevote, 0, b.id));
  EXPECT_TRUE(SentVotes(Feed(MakeProposal(r, b, 0))).empty());
  EXPECT_EQ(engine_->step(), RoundStep::kPropose);
  // The third prevote at vr completes the rule.
  auto votes = SentVotes(Feed(MakeVote(2, VoteType::kPrevote, 0, b.id)));
  ASSERT_TRUE(votes.empty());  // still two: 1 and 2
  votes = SentVotes(Feed(MakeVote(3, VoteType::kPrevote, 0, b.id)));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].block_id, b.id);
}

TEST_F(EngineTest, ProposalWithValidRoundNotBelowRoundIsMalformed) {
  uint32_t r = OtherProposerRound(0);
  Proposal p = MakeProposal(r, MakeValue(1, "a"), r);
  EXPECT_EQ(Feed(p).rejection, Reject::kMalformed);
}

TEST_F(EngineTest, Line34And61PrevoteTimeoutThenNilPrecommit) {
  uint32_t r = engine_->round();
  Fire(RoundStep::kPropose, r);  // prevote nil
  Value a = MakeValue(1, "a");
  Feed(MakeVote(1, VoteType::kPrevote, r, a.id));
  auto res = Feed(MakeVote(2, VoteType::kPrevote, r, MakeValue(1, "b").id));
  auto t = All<ScheduleTimeout>(res);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].timeout.step, RoundStep::kPrevote);
  auto votes = SentVotes(Fire(RoundStep::kPrevote, r));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].type, VoteType::kPrecommit);
  EXPECT_FALSE(votes[0].block_id);
}

TEST_F(EngineTest, Line44NilPolkaPrecommitsNil) {
  uint32_t r = engine_->round();
  Fire(RoundStep::kPropose, r);
  Feed(MakeVote(1, VoteType::kPrevote, r, std::nullopt));
  auto votes = SentVotes(Feed(MakeVote(2, VoteType::kPrevote, r, std::nullopt)));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].type, VoteType::kPrecommit);
  EXPECT_FALSE(votes[0].block_id);
  EXPECT_FALSE(engine_->locked_round());
}

TEST_F(EngineTest, Line47And65PrecommitTimeoutStartsNextRound) {
  uint32_t r = engine_->round();
  Feed(MakeVote(1, VoteType::kPrecommit, r, std::nullopt));
  Feed(MakeVote(2, VoteType::kPrecommit, r, std::nullopt));
  auto res = Feed(MakeVote(3, VoteType::kPrecommit, r, MakeValue(1, "z").id));
  auto t = All<ScheduleTimeout>(res);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].timeout.step, RoundStep::kPrecommit);
  Fire(RoundStep::kPrecommit, r);
  EXPECT_EQ(engine_->round(), r + 1);
  EXPECT_EQ(engine_->step(), RoundStep::kPropose);
}

TEST_F(EngineTest, Line55RoundSkipNeedsMoreThanAThird) {
  Feed(MakeVote(1, VoteType::kPrecommit, 5, std::nullopt));
  EXPECT_EQ(engine_->round(), 0u) << "f messages must not move the round";
  Feed(MakeVote(2, VoteType::kPrevote, 5, std::nullopt));
  EXPECT_EQ(engine_->round(), 5u);
}

TEST_F(EngineTest, RoundSkipBeyondWindowUsesHighestRoundHint) {
  uint32_t far = opts_.max_rounds_ahead + 7;
  auto res = Feed(MakeVote(1, VoteType::kPrevote, far, std::nullopt));
  EXPECT_EQ(res.rejection, Reject::kRoundTooFar);
  EXPECT_EQ(engine_->round(), 0u);
  res = Feed(MakeVote(2, VoteType::kPrecommit, far + 1, std::nullopt));
  EXPECT_EQ(res.rejection, Reject::kRoundTooFar);
  EXPECT_EQ(engine_->round(), far);  // two signers at >= far
}

TEST_F(EngineTest, Line49DecideOnProposalAndQuorumOfPrecommitsFromAnyRound) {
  Value v = MakeValue(1, "a");
  uint32_t r = 3;  // a later round, while validator 0 is still in round 0
  Feed(MakeProposal(r, v));
  Feed(MakeVote(1, VoteType::kPrecommit, r, v.id));
  Feed(MakeVote(2, VoteType::kPrecommit, r, v.id));
  EXPECT_EQ(engine_->round(), r);  // skipped by f + 1
  auto res = Feed(MakeVote(3, VoteType::kPrecommit, r, v.id));
  auto commits = All<Commit>(res);
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].value, v);
  EXPECT_TRUE(engine_->decided());
  EXPECT_TRUE(ledger::VerifyCommit(kChain, set_, 1, v.id, commits[0].certificate).ok());
  EXPECT_EQ(Feed(MakeVote(3, VoteType::kPrevote, r, v.id)).rejection, Reject::kDecided);
}

TEST_F(EngineTest, DecideInAnEarlierRoundWithProposalArrivingLast) {
  Value v = MakeValue(1, "a");
  SkipTo(4);
  for (uint32_t i : {1u, 2u, 3u}) Feed(MakeVote(i, VoteType::kPrecommit, 1, v.id));
  EXPECT_FALSE(engine_->decided());
  auto commits = All<Commit>(Feed(MakeProposal(1, v)));
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].certificate.round, 1u);
}

TEST_F(EngineTest, NoDecisionOnInvalidValue) {
  Value v = MakeValue(1, "Xbad");
  Feed(MakeProposal(0, v));
  for (uint32_t i : {1u, 2u, 3u}) Feed(MakeVote(i, VoteType::kPrecommit, 0, v.id));
  EXPECT_FALSE(engine_->decided());
}

TEST_F(EngineTest, RejectsWithoutChangingState) {
  Value v = MakeValue(1, "a");
  auto before = engine_->GossipMessages().size();
  // Unknown signer.
  Vote u{VoteType::kPrevote, 1, 0, v.id, TestKey(9).public_key(), {}};
  u.signature = TestKey(9).Sign(SigningDigestOf(kChain, u));
  EXPECT_EQ(Feed(u).rejection, Reject::kUnknownSigner);
  // Bad signature: a valid signature over another vote.
  Vote bad = MakeVote(1, VoteType::kPrevote, 0, v.id);
  bad.block_id = MakeValue(1, "b").id;
  EXPECT_EQ(Feed(bad).rejection, Reject::kBadSignature);
  // Wrong height.
  EXPECT_EQ(Feed(MakeVote(1, VoteType::kPrevote, 0, v.id, 2)).rejection, Reject::kWrongHeight);
  // Not the proposer.
  Proposal p = MakeProposal(0, v);
  uint32_t other = IndexOf(p.proposer) == 1 ? 2 : 1;
  p.proposer = TestKey(other).public_key();
  p.signature = TestKey(other).Sign(SigningDigestOf(kChain, p));
  EXPECT_EQ(Feed(p).rejection, Reject::kNotProposer);
  // Malformed vote type.
  Vote m = MakeVote(1, VoteType::kPrevote, 0, v.id);
  m.type = static_cast<VoteType>(7);
  EXPECT_EQ(Feed(m).rejection, Reject::kMalformed);
  EXPECT_EQ(engine_->GossipMessages().size(), before);
  EXPECT_EQ(engine_->round(), 0u);
  // Duplicate: accepted once, then rejected.
  Vote ok = MakeVote(1, VoteType::kPrevote, 0, v.id);
  EXPECT_FALSE(Feed(ok).rejection);
  EXPECT_EQ(Feed(ok).rejection, Reject::kDuplicate);
  EXPECT_EQ(engine_->GossipMessages().size(), before + 1);
  // Not started.
  Engine fresh(opts_, signer_.get(), &verifier_, &values_);
  EXPECT_EQ(fresh.Step(Receive{ok}).rejection, Reject::kNotStarted);
}

TEST_F(EngineTest, MemoryBoundedUnderRoundFlood) {
  for (uint32_t r = 1; r < 200; ++r) {
    Feed(MakeVote(1, VoteType::kPrevote, r, std::nullopt));
    Feed(MakeVote(1, VoteType::kPrecommit, r, MakeValue(1, "x").id));
  }
  EXPECT_EQ(engine_->round(), 0u);
  // Only rounds within the window were stored: 2 votes per round for rounds 1..W.
  EXPECT_EQ(engine_->GossipMessages().size(), 2u * opts_.max_rounds_ahead);
}

TEST_F(EngineTest, EquivocationProducesVerifiableEvidenceOnce) {
  Value a = MakeValue(1, "a"), b = MakeValue(1, "b");
  Vote va = MakeVote(2, VoteType::kPrecommit, 0, a.id);
  Vote vb = MakeVote(2, VoteType::kPrecommit, 0, b.id);
  EXPECT_FALSE(Feed(va).rejection);
  auto res = Feed(vb);
  // b is named by no other vote or proposal: not kept, but the pair is evidence.
  EXPECT_EQ(res.rejection, Reject::kEquivocation);
  auto ev = All<ReportEvidence>(res);
  ASSERT_EQ(ev.size(), 1u);
  auto check = [](const PublicKey& k, const Hash256& d, const Signature& s) {
    return ledger::Verify(k, d, s);
  };
  EXPECT_TRUE(CheckEvidence(kChain, ev[0].evidence, check).ok());
  auto bytes = EncodeEvidence(ev[0].evidence);
  auto back = DecodeEvidence(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, ev[0].evidence);
  // Evidence is reported once per validator, round and type.
  auto res3 = Feed(MakeVote(2, VoteType::kPrecommit, 0, std::nullopt));
  EXPECT_TRUE(All<ReportEvidence>(res3).empty());
}

TEST_F(EngineTest, EquivocatorCountsTowardEachNamedValueLikeThePaper) {
  // Validator 3 prevotes a (first) and b (second) in round 0. 1 and 2 prevote b. Counting only
  // first votes would hide the polka for b; the paper counts every message.
  Value a = MakeValue(1, "a"), b = MakeValue(1, "b");
  uint32_t r = OtherProposerRound(0);
  if (r) SkipTo(r);
  Fire(RoundStep::kPropose, r);  // validator 0 prevotes nil
  Feed(MakeVote(3, VoteType::kPrevote, r, a.id));
  Feed(MakeVote(1, VoteType::kPrevote, r, b.id));
  Feed(MakeVote(2, VoteType::kPrevote, r, b.id));
  auto res = Feed(MakeVote(3, VoteType::kPrevote, r, b.id));
  EXPECT_EQ(All<ReportEvidence>(res).size(), 1u);
  EXPECT_FALSE(res.rejection);
  // 3 of 4 prevotes for b at round r: a proposal for b in a later round with vr = r is accepted.
  uint32_t r2 = OtherProposerRound(r + 1);
  SkipTo(r2);
  auto votes = SentVotes(Feed(MakeProposal(r2, b, r)));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].block_id, b.id);
}

TEST_F(EngineTest, RestartRestoresValidValueFromPersistedLockProposal) {
  Value a = MakeValue(1, "a");
  uint32_t r = OtherProposerRound(0);
  if (r) SkipTo(r);
  std::vector<Message> record;
  auto keep = [&](const StepResult& res) {
    for (const auto& p : All<PersistSigned>(res)) record.push_back(p.message);
  };
  keep(Feed(MakeProposal(r, a)));
  uint32_t prop = IndexOf(engine_->Proposer(r));
  keep(Feed(MakeVote(prop, VoteType::kPrevote, r, a.id)));
  keep(Feed(MakeVote(Others(prop)[0], VoteType::kPrevote, r, a.id)));
  ASSERT_EQ(engine_->locked_id(), a.id);
  ASSERT_EQ(record.size(), 3u);  // prevote, the locked proposal, precommit
  Restart(record);
  EXPECT_EQ(engine_->locked_id(), a.id);
  ASSERT_TRUE(engine_->valid_value());
  EXPECT_EQ(engine_->valid_value()->id, a.id);
  EXPECT_EQ(engine_->valid_round(), r);
  // As proposer later, it re-proposes a with vr = r (no RequestProposal).
  uint32_t mine = SelfProposerRound(r + 1);
  SkipTo(mine);
  bool proposed = false;
  for (const auto& m : engine_->GossipMessages()) {
    const auto* p = std::get_if<Proposal>(&m);
    if (p && p->round == mine && p->value.id == a.id && p->valid_round == r) proposed = true;
  }
  EXPECT_TRUE(proposed);
}

TEST_F(EngineTest, RestartAfterPersistBeforeSendResendsSameVote) {
  Value v = MakeValue(1, "a");
  uint32_t r = OtherProposerRound(0);
  if (r) SkipTo(r);
  auto res = Feed(MakeProposal(r, v));
  auto persisted = All<PersistSigned>(res);
  ASSERT_EQ(persisted.size(), 1u);
  // Crash here: persisted, never sent. Restart from the record.
  std::vector<Message> record{persisted[0].message};
  auto after = Restart(record);
  auto votes = SentVotes(after);
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(Message(votes[0]), persisted[0].message);
  EXPECT_TRUE(All<PersistSigned>(after).empty());
  // The propose timeout would normally prevote nil; it must re-send the recorded prevote.
  auto again = SentVotes(Fire(RoundStep::kPropose, r));
  for (const auto& x : again) EXPECT_EQ(x.block_id, v.id);
  EXPECT_TRUE(All<PersistSigned>(Fire(RoundStep::kPropose, r)).empty());
}

TEST_F(EngineTest, RestartAfterSendRestoresLock) {
  Value a = MakeValue(1, "a");
  uint32_t r0 = LockOn(a, 0);
  // Collect everything validator 0 signed (its own messages in the gossip set).
  std::vector<Message> record;
  for (const auto& m : engine_->GossipMessages())
    if (SignerOf(m) == TestKey(0).public_key()) record.push_back(m);
  ASSERT_GE(record.size(), 2u);
  Restart(record);
  EXPECT_EQ(engine_->round(), r0);
  EXPECT_EQ(engine_->locked_id(), a.id);
  uint32_t r1 = OtherProposerRound(r0 + 1);
  SkipTo(r1);
  auto votes = SentVotes(Feed(MakeProposal(r1, MakeValue(1, "b"))));
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_FALSE(votes[0].block_id) << "restored lock on a";
}

TEST_F(EngineTest, RestartedProposerResendsItsProposal) {
  uint32_t r = SelfProposerRound(0);
  Value v = MakeValue(1, "mine");
  Proposal p{1, r, std::nullopt, v, TestKey(0).public_key(), {}};
  p.signature = TestKey(0).Sign(SigningDigestOf(kChain, p));
  auto res = Restart({p});
  EXPECT_EQ(engine_->round(), r);
  EXPECT_TRUE(All<RequestProposal>(res).empty());
  bool resent = false;
  for (const auto& b : All<Broadcast>(res)) resent = resent || b.message == Message(p);
  EXPECT_TRUE(resent);
}

TEST_F(EngineTest, StartHeightRejectsOldHeightAndBadSet) {
  EXPECT_EQ(engine_->Step(StartHeight{1, set_, {}}).rejection, Reject::kBadStart);
  ledger::ValidatorSet empty;
  EXPECT_EQ(engine_->Step(StartHeight{2, empty, {}}).rejection, Reject::kBadStart);
  EXPECT_FALSE(engine_->Step(StartHeight{2, set_, {}}).rejection);
  EXPECT_EQ(engine_->height(), 2u);
}

TEST(WireTest, MessagesRoundTripAndRejectTrailingBytes) {
  Proposal p{5, 2, 1, MakeValue(5, "x"), TestKey(1).public_key(), {}};
  Vote v{VoteType::kPrecommit, 5, 2, std::nullopt, TestKey(2).public_key(), {}};
  for (const Message& m : {Message(p), Message(v)}) {
    Bytes b = EncodeMessage(m);
    auto back = DecodeMessage(b);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, m);
    b.push_back(0);
    EXPECT_FALSE(DecodeMessage(b).ok());
  }
  Bytes b = EncodeMessage(v);
  b[1] = 9;  // unknown kind
  EXPECT_FALSE(DecodeMessage(b).ok());
}

}  // namespace
}  // namespace certledger::consensus
