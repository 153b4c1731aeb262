// State machine tests: every event type in its happy path with the exact resulting state, every
// rejection reason (a table that must cover them all), transfer of authority, governance and the
// validator-set delay, determinism, Apply vs ApplyVerified, effective status and state roots.
#include "ledger/state.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ledger/coding.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"
#include "ledger/smt.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {
namespace {

// A node identity for a consensus key in these tests: distinct from every consensus key.
PublicKey NodeOf(const PublicKey& k) { return TestKey("node-of-" + k.Hex()).public_key(); }

Bytes U64Le(uint64_t v) {
  Bytes b;
  PutFixed64(&b, v);
  return b;
}

std::vector<std::string> Keys(const std::vector<StateChange>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) out.push_back(c.key);
  return out;
}

// A state initialised from the fixture's genesis, with helpers that build transactions with the
// next sequence read from the state (so rejected transactions consume nothing) and that apply
// them at the current height, block time and event-log index.
class StateTest : public ::testing::Test {
 protected:
  StateTest() { state.Apply(GenesisChanges(f.genesis)); }

  [[nodiscard]] ApplyContext Ctx() const { return {height, time_ms, log_index}; }
  // A later block: height + 1 and block time + `seconds`.
  void NextBlock(int64_t seconds = 1) {
    ++height;
    time_ms += seconds * 1000;
  }

  uint64_t Seq(size_t agency) const {
    auto s = ReadSequence(state, f.id(agency));
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : 0;
  }

  // A transaction of `agency` with its next sequence, signed by `keys` (default: its first
  // issuing key; pass an empty list for no signature).
  SignedTransaction Make(size_t agency, Event event) {
    return MakeSigned(agency, std::move(event), {f.agencies[agency].issuing[0]});
  }
  SignedTransaction MakeSigned(size_t agency, Event event, const std::vector<PrivateKey>& keys) {
    SignedTransaction stx;
    stx.tx = f.Unsigned(agency, std::move(event), Seq(agency) + 1);
    for (const auto& k : keys) f.SignWith(&stx, k);
    return stx;
  }
  // A transaction with an explicit sequence, signed by the agency's first issuing key.
  SignedTransaction At(size_t agency, Event event, uint64_t sequence) const {
    SignedTransaction stx;
    stx.tx = f.Unsigned(agency, std::move(event), sequence);
    f.SignWith(&stx, f.agencies[agency].issuing[0]);
    return stx;
  }
  // A governance transaction acted by `acting`, signed by the validators of the listed agencies.
  SignedTransaction Gov(size_t acting, Event event, const std::vector<size_t>& validators) {
    std::vector<PrivateKey> keys;
    for (size_t v : validators) keys.push_back(f.validator_keys[v]);
    return MakeSigned(acting, std::move(event), keys);
  }
  // Evidence that validator `v` prevoted nil and for a block at (height, round).
  SignedTransaction Evidence(size_t v, uint64_t vote_height, uint32_t round) const {
    auto vote = [&](std::optional<Hash256> id) {
      SignedVote sv{
          VoteType::kPrevote, vote_height, round, id, f.validator_keys[v].public_key(), {}};
      sv.signature =
          f.validator_keys[v].Sign(VoteSigningDigest(f.domain(), sv.type, sv.height, sv.round, id));
      return sv;
    };
    SignedTransaction stx;
    stx.tx.chain_id = f.genesis.params.chain_id;
    stx.tx.event = DuplicateVoteEvent{vote(std::nullopt), vote(Sha256(AsBytes("block")))};
    return stx;
  }
  // Transfer of `serial`'s certificate from `from` to `to`, signed by both agencies.
  SignedTransaction Transfer(size_t from, const std::string& base, size_t to) {
    return MakeSigned(from, TransferEvent{base, f.id(to)},
                      {f.agencies[from].issuing[0], f.agencies[to].issuing[1]});
  }

  ApplyOutcome Run(const SignedTransaction& stx, bool verified = false) {
    auto r = verified ? ApplyVerified(state, stx, Ctx()) : Apply(state, stx, Ctx());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ApplyOutcome{Rejection{Reason::kMalformed, "status"}, {}};
  }

  // Applies `stx`, which must be accepted, and commits its changes.
  std::vector<StateChange> Accept(const SignedTransaction& stx) {
    ApplyOutcome o = Run(stx);
    EXPECT_TRUE(o.accepted()) << o.rejection->code() << ": " << o.rejection->message;
    state.Apply(o.changes);
    ++log_index;
    return o.changes;
  }

  // Applies `stx`, which must be rejected with `want`, and checks that nothing changes.
  void Reject(const SignedTransaction& stx, Reason want, bool verified = false) {
    const auto before = state.entries();
    ApplyOutcome o = Run(stx, verified);
    ASSERT_FALSE(o.accepted()) << "expected " << ReasonCode(want) << ", accepted";
    EXPECT_EQ(o.rejection->reason, want) << "expected " << ReasonCode(want) << ", got "
                                         << o.rejection->code() << ": " << o.rejection->message;
    EXPECT_STREQ(o.rejection->code(), ReasonCode(want));
    EXPECT_TRUE(o.changes.empty());
    EXPECT_EQ(state.entries(), before);
    seen.insert(o.rejection->reason);
  }

  CertificateState Cert(const std::string& base) const {
    auto c = ReadCertificate(state, base);
    EXPECT_TRUE(c.ok() && c->has_value()) << base;
    return c.ok() && c->has_value() ? **c : CertificateState{};
  }
  std::optional<DocumentRef> Doc(const Hash256& h) const {
    auto d = ReadDocument(state, h);
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : std::nullopt;
  }

  // A change event to version `version` of agency's `serial` with a fresh document.
  ChangeEvent Change(size_t agency, const std::string& serial, uint32_t version,
                     uint64_t quantity = 900'000) const {
    ChangeEvent e;
    e.identifier = f.CertId(agency, serial, version);
    e.document_hash = Sha256(AsBytes("change/" + f.id(agency) + serial + std::to_string(version)));
    auto s = sample::PermitSummary("B320115S2026-" + serial.substr(0, 4));
    s.annual_quantity_m3 = quantity;
    e.summary = s;
    e.changed_fields = {"annual_quantity_m3"};
    return e;
  }
  RenewEvent Renew(size_t agency, const std::string& serial, uint32_t version,
                   int64_t extra_s = 365LL * 86400) const {
    const std::string base = f.BaseId(agency, serial);
    RenewEvent e;
    e.identifier = f.CertId(agency, serial, version);
    e.document_hash = Sha256(AsBytes("renew/" + f.id(agency) + serial + std::to_string(version)));
    auto c = ReadCertificate(state, base);
    e.not_after = (c.ok() && c->has_value() ? (*c)->not_after : f.now_s) + extra_s;
    return e;
  }

  ChainFixture f;
  MemoryState state;
  uint64_t height = 1;
  int64_t time_ms = f.now_s * 1000;
  uint64_t log_index = 0;
  std::set<Reason> seen;  // rejection reasons produced in this test
};

// ---- reason codes -----------------------------------------------------------------------------

TEST(ReasonCodeTest, StableDistinctCodes) {
  const char* expected[kReasonCount] = {
      "malformed",          "bad-signature",     "wrong-chain",         "bad-sequence",
      "unknown-agency",     "unknown-signer",    "duplicate-signature", "not-issuer",
      "cert-exists",        "cert-not-found",    "document-exists",     "invalid-transition",
      "bad-identifier",     "bad-version",       "bad-validity",        "missing-cosignature",
      "insufficient-power", "unknown-cert-type", "missing-signature",   "too-large",
      "evidence-exists"};
  std::set<std::string> codes;
  for (int i = 0; i < kReasonCount; ++i) {
    const char* c = ReasonCode(static_cast<Reason>(i));
    EXPECT_STREQ(c, expected[i]) << i;
    codes.insert(c);
  }
  EXPECT_EQ(codes.size(), static_cast<size_t>(kReasonCount));
  EXPECT_STREQ(ReasonCode(static_cast<Reason>(kReasonCount)), "unknown");
}

// ---- happy paths ------------------------------------------------------------------------------

TEST_F(StateTest, IssueCreatesCertificateDocumentAndSequence) {
  IssueEvent e = f.Issue(0, "A0001");
  height = 7;
  log_index = 42;
  SignedTransaction stx = Make(0, e);
  auto changes = Accept(stx);

  CertificateState want;
  want.base_id = f.BaseId(0, "A0001");
  want.type = CertType::kWaterAbstractionPermit;
  want.issuer = f.id(0);
  want.controller = f.id(0);
  want.holder_commitment = e.holder_commitment;
  want.summary = e.summary;
  want.not_before = e.not_before;
  want.not_after = e.not_after;
  want.version = 1;
  want.status = CertStatus::kValid;
  want.versions = {{1, e.document_hash}};
  want.history = {{EventType::kIssue, 7, 42, TxHash(stx.tx), time_ms}};
  EXPECT_EQ(Cert(want.base_id), want);
  EXPECT_EQ(Doc(e.document_hash), (DocumentRef{want.base_id, 1}));
  EXPECT_EQ(Seq(0), 1u);
  EXPECT_EQ(Seq(1), 0u);

  // Exactly three writes, in this order, with canonical values.
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0], (StateChange{CertKey(want.base_id), Encode(want)}));
  EXPECT_EQ(changes[1],
            (StateChange{DocKey(e.document_hash), Encode(DocumentRef{want.base_id, 1})}));
  EXPECT_EQ(changes[2], (StateChange{SequenceKey(f.id(0)), U64Le(1)}));
}

TEST_F(StateTest, IssueIndividualHolderAndGroundwaterIntake) {
  IssueEvent e = f.Issue(0, "A0001");
  auto& s = std::get<WaterPermitSummary>(e.summary);
  s.holder_kind = HolderKind::kIndividual;
  s.holder_name.clear();
  s.holder_credit_code.clear();
  s.source = WaterSource::kGroundwater;
  s.intakes = {{"1号井", 118'000'000, 32'000'000, WaterSource::kGroundwater,
                IntakeState::kEmergencyBackup, "第Ⅱ承压含水层"}};
  Accept(Make(0, e));
  EXPECT_EQ(Cert(f.BaseId(0, "A0001")).summary, e.summary);
}

TEST_F(StateTest, ValidityBoundariesOnIssue) {
  // Exactly the maximum validity is accepted; not_after one second after the block time too.
  IssueEvent e = f.Issue(0, "A0001");
  e.not_before = f.now_s;
  e.not_after = f.now_s + f.genesis.params.max_validity_seconds;
  Accept(Make(0, e));
  IssueEvent g = f.Issue(0, "A0002");
  g.not_before = f.now_s - 10;
  g.not_after = time_ms / 1000 + 1;
  Accept(Make(0, g));
}

TEST_F(StateTest, ChangeAddsVersionAndKeepsHistory) {
  IssueEvent issue = f.Issue(0, "A0001");
  SignedTransaction t1 = Make(0, issue);
  Accept(t1);
  const int64_t time1 = time_ms;
  NextBlock();
  ChangeEvent ch = Change(0, "A0001", 2);
  SignedTransaction t2 = Make(0, ch);
  auto changes = Accept(t2);

  const std::string base = f.BaseId(0, "A0001");
  CertificateState c = Cert(base);
  EXPECT_EQ(c.version, 2u);
  EXPECT_EQ(c.status, CertStatus::kValid);
  EXPECT_EQ(c.summary, ch.summary);
  EXPECT_EQ(c.holder_commitment, issue.holder_commitment);  // unchanged: not given
  EXPECT_EQ(c.not_before, issue.not_before);
  EXPECT_EQ(c.not_after, issue.not_after);
  EXPECT_EQ(c.issuer, f.id(0));
  EXPECT_EQ(c.controller, f.id(0));
  EXPECT_EQ(c.versions,
            (std::vector<VersionRecord>{{1, issue.document_hash}, {2, ch.document_hash}}));
  EXPECT_EQ(c.history,
            (std::vector<HistoryEntry>{{EventType::kIssue, 1, 0, TxHash(t1.tx), time1},
                                       {EventType::kChange, 2, 1, TxHash(t2.tx), time_ms}}));
  EXPECT_LT(time1, time_ms);
  // Both documents resolve: the old one to version 1, the new one to version 2.
  EXPECT_EQ(Doc(issue.document_hash), (DocumentRef{base, 1}));
  EXPECT_EQ(Doc(ch.document_hash), (DocumentRef{base, 2}));
  EXPECT_EQ(Seq(0), 2u);
  EXPECT_EQ(Keys(changes), (std::vector<std::string>{CertKey(base), DocKey(ch.document_hash),
                                                     SequenceKey(f.id(0))}));

  // A change of holder replaces the holder commitment.
  NextBlock();
  ChangeEvent ch3 = Change(0, "A0001", 3, 800'000);
  ch3.holder_commitment = Sha256(AsBytes("new holder"));
  ch3.changed_fields = {"holder", "annual_quantity_m3"};
  Accept(Make(0, ch3));
  c = Cert(base);
  EXPECT_EQ(c.version, 3u);
  EXPECT_EQ(c.holder_commitment, *ch3.holder_commitment);
  EXPECT_EQ(c.versions.size(), 3u);
  EXPECT_EQ(c.history.back().type, EventType::kChange);
}

TEST_F(StateTest, RenewExtendsValidity) {
  IssueEvent issue = f.Issue(0, "A0001");
  SignedTransaction t1 = Make(0, issue);
  Accept(t1);
  const int64_t time1 = time_ms;
  NextBlock(3600);
  RenewEvent r = Renew(0, "A0001", 2);
  SignedTransaction t2 = Make(0, r);
  auto changes = Accept(t2);
  const std::string base = f.BaseId(0, "A0001");
  CertificateState want = Cert(base);
  EXPECT_EQ(want.version, 2u);
  EXPECT_EQ(want.not_after, issue.not_after + 365LL * 86400);
  EXPECT_EQ(want.not_before, issue.not_before);
  EXPECT_EQ(want.summary, issue.summary);
  EXPECT_EQ(want.status, CertStatus::kValid);
  EXPECT_EQ(want.versions,
            (std::vector<VersionRecord>{{1, issue.document_hash}, {2, r.document_hash}}));
  EXPECT_EQ(want.history,
            (std::vector<HistoryEntry>{{EventType::kIssue, 1, 0, TxHash(t1.tx), time1},
                                       {EventType::kRenew, 2, 1, TxHash(t2.tx), time_ms}}));
  EXPECT_EQ(Doc(r.document_hash), (DocumentRef{base, 2}));
  EXPECT_EQ(Keys(changes), (std::vector<std::string>{CertKey(base), DocKey(r.document_hash),
                                                     SequenceKey(f.id(0))}));
}

TEST_F(StateTest, SuspendResumeRevoke) {
  const std::string base = f.BaseId(0, "A0001");
  Accept(Make(0, f.Issue(0, "A0001")));
  NextBlock();
  SignedTransaction s = Make(0, SuspendEvent{base, "监督检查"});
  auto changes = Accept(s);
  CertificateState c = Cert(base);
  EXPECT_EQ(c.status, CertStatus::kSuspended);
  EXPECT_EQ(c.status_reason, "监督检查");
  EXPECT_EQ(c.version, 1u);  // a status event makes no new version
  EXPECT_EQ(c.versions.size(), 1u);
  EXPECT_EQ(c.history.back(), (HistoryEntry{EventType::kSuspend, 2, 1, TxHash(s.tx), time_ms}));
  // A status event writes the certificate and the sequence only.
  EXPECT_EQ(Keys(changes), (std::vector<std::string>{CertKey(base), SequenceKey(f.id(0))}));

  NextBlock();
  SignedTransaction r = Make(0, ResumeEvent{base, ""});  // a resume reason is optional
  Accept(r);
  c = Cert(base);
  EXPECT_EQ(c.status, CertStatus::kValid);
  EXPECT_EQ(c.status_reason, "");
  EXPECT_EQ(c.history.back(), (HistoryEntry{EventType::kResume, 3, 2, TxHash(r.tx), time_ms}));

  NextBlock();
  SignedTransaction v = Make(0, RevokeEvent{base, RevocationKind::kRevoked, "拒不执行取水量限制"});
  Accept(v);
  c = Cert(base);
  EXPECT_EQ(c.status, CertStatus::kRevoked);
  EXPECT_EQ(c.status_reason, "拒不执行取水量限制");
  EXPECT_EQ(c.history.size(), 4u);
  EXPECT_EQ(c.history.back(), (HistoryEntry{EventType::kRevoke, 4, 3, TxHash(v.tx), time_ms}));
  EXPECT_EQ(Seq(0), 4u);
}

TEST_F(StateTest, EveryRevocationKindFromValidAndSuspended) {
  const std::pair<RevocationKind, CertStatus> kinds[] = {
      {RevocationKind::kWithdrawn, CertStatus::kWithdrawn},
      {RevocationKind::kCancelled, CertStatus::kCancelled},
      {RevocationKind::kRevoked, CertStatus::kRevoked}};
  int n = 0;
  for (const auto& [kind, status] : kinds) {
    for (bool suspended_first : {false, true}) {
      const std::string serial = "R" + std::to_string(n++);
      const std::string base = f.BaseId(0, serial);
      Accept(Make(0, f.Issue(0, serial)));
      if (suspended_first) Accept(Make(0, SuspendEvent{base, "暂扣"}));
      Accept(Make(0, RevokeEvent{base, kind, "注销"}));
      EXPECT_EQ(Cert(base).status, status) << serial;
      EXPECT_TRUE(IsTerminal(Cert(base).status));
    }
  }
}

TEST_F(StateTest, TransferMovesControlNotIssuer) {
  const std::string base = f.BaseId(0, "A0001");
  Accept(Make(0, f.Issue(0, "A0001")));
  NextBlock();
  SignedTransaction t = Transfer(0, base, 2);
  auto changes = Accept(t);
  CertificateState c = Cert(base);
  EXPECT_EQ(c.issuer, f.id(0));
  EXPECT_EQ(c.controller, f.id(2));
  EXPECT_EQ(c.status, CertStatus::kValid);
  EXPECT_EQ(c.version, 1u);
  EXPECT_EQ(c.history.back(), (HistoryEntry{EventType::kTransfer, 2, 1, TxHash(t.tx), time_ms}));
  // Only the acting agency's sequence advances.
  EXPECT_EQ(Keys(changes), (std::vector<std::string>{CertKey(base), SequenceKey(f.id(0))}));
  EXPECT_EQ(Seq(0), 2u);
  EXPECT_EQ(Seq(2), 0u);
}

// After a transfer from A to B, B acts on the certificate and A is refused.
TEST_F(StateTest, TransferOfAuthority) {
  const std::string base = f.BaseId(0, "A0001");
  Accept(Make(0, f.Issue(0, "A0001")));
  // Without the receiving agency's signature: refused.
  Reject(Make(0, TransferEvent{base, f.id(1)}), Reason::kMissingCosignature);
  // With two keys of the sending agency only: still refused.
  Reject(MakeSigned(0, TransferEvent{base, f.id(1)},
                    {f.agencies[0].issuing[0], f.agencies[0].issuing[1]}),
         Reason::kMissingCosignature);
  // The receiving agency alone: the acting agency did not sign.
  Reject(MakeSigned(0, TransferEvent{base, f.id(1)}, {f.agencies[1].issuing[0]}),
         Reason::kMissingSignature);
  // A third agency co-signing instead of the receiver.
  Reject(MakeSigned(0, TransferEvent{base, f.id(1)},
                    {f.agencies[0].issuing[0], f.agencies[2].issuing[0]}),
         Reason::kUnknownSigner);
  Accept(Transfer(0, base, 1));

  // A (the issuer) no longer controls it.
  Reject(Make(0, Change(0, "A0001", 2)), Reason::kNotIssuer);
  Reject(Make(0, Renew(0, "A0001", 2)), Reason::kNotIssuer);
  Reject(Make(0, SuspendEvent{base, "检查"}), Reason::kNotIssuer);
  Reject(Make(0, RevokeEvent{base, RevocationKind::kRevoked, "吊销"}), Reason::kNotIssuer);
  Reject(Transfer(0, base, 2), Reason::kNotIssuer);

  // B changes, renews, suspends, resumes, transfers back... and finally revokes.
  ChangeEvent ch = Change(0, "A0001", 2);  // the identifier keeps A's issuer code
  Accept(Make(1, ch));
  Accept(Make(1, Renew(0, "A0001", 3)));
  Accept(Make(1, SuspendEvent{base, "检查"}));
  Reject(Make(0, ResumeEvent{base, ""}), Reason::kNotIssuer);
  Accept(Make(1, ResumeEvent{base, ""}));
  Accept(Make(1, RevokeEvent{base, RevocationKind::kRevoked, "吊销"}));
  CertificateState c = Cert(base);
  EXPECT_EQ(c.issuer, f.id(0));
  EXPECT_EQ(c.controller, f.id(1));
  EXPECT_EQ(c.version, 3u);
  EXPECT_EQ(c.status, CertStatus::kRevoked);
  std::vector<EventType> types;
  for (const auto& h : c.history) types.push_back(h.type);
  EXPECT_EQ(types,
            (std::vector<EventType>{EventType::kIssue, EventType::kTransfer, EventType::kChange,
                                    EventType::kRenew, EventType::kSuspend, EventType::kResume,
                                    EventType::kRevoke}));
  EXPECT_EQ(Seq(0), 2u);
  EXPECT_EQ(Seq(1), 5u);
}

TEST_F(StateTest, TransferBackAndOn) {
  const std::string base = f.BaseId(0, "A0001");
  Accept(Make(0, f.Issue(0, "A0001")));
  Accept(Transfer(0, base, 1));
  Accept(Transfer(1, base, 2));
  EXPECT_EQ(Cert(base).controller, f.id(2));
  Reject(Make(1, SuspendEvent{base, "检查"}), Reason::kNotIssuer);
  Accept(Transfer(2, base, 0));
  EXPECT_EQ(Cert(base).controller, f.id(0));
  Accept(Make(0, SuspendEvent{base, "检查"}));
  // A suspended certificate can be transferred; a revoked one cannot.
  Accept(Transfer(0, base, 1));
  Accept(Make(1, RevokeEvent{base, RevocationKind::kCancelled, "连续两年未取水"}));
  Reject(Transfer(1, base, 0), Reason::kInvalidTransition);
}

// Regression: a transfer to the controlling agency itself used to be reported as
// missing-cosignature (the receiver's keys are the actor's), never as malformed.
TEST_F(StateTest, TransferToSelfIsMalformed) {
  const std::string base = f.BaseId(0, "A0001");
  Accept(Make(0, f.Issue(0, "A0001")));
  Reject(Make(0, TransferEvent{base, f.id(0)}), Reason::kMalformed);
  Reject(MakeSigned(0, TransferEvent{base, f.id(0)},
                    {f.agencies[0].issuing[0], f.agencies[0].issuing[1]}),
         Reason::kMalformed);
}

// ---- governance -------------------------------------------------------------------------------

Agency NewAgency(const std::string& code17, const std::string& label) {
  Agency a;
  a.id = CreditCode(code17);
  a.name = "广东省水利厅";
  a.kind = AgencyKind::kProvince;
  a.division = "440000";
  a.issuing_keys = {TestKey(label).public_key()};
  return a;
}

TEST_F(StateTest, RegisterNewAgencyThenItIssues) {
  Agency gd = NewAgency("11440000006950390", "gd-0");
  SignedTransaction g = Gov(3, RegisterAgencyEvent{gd}, {0, 1, 2});
  auto changes = Accept(g);
  EXPECT_EQ(changes, (std::vector<StateChange>{{AgencyKey(gd.id), Encode(gd)},
                                               {SequenceKey(f.id(3)), U64Le(1)}}));
  auto read = ReadAgency(state, gd.id);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(**read, gd);

  // The new agency issues with its key and its own issuer code.
  IssueEvent e = f.Issue(0, "G0001");
  e.identifier = CertificateId{f.type_code(), gd.id, "G0001", 1}.Full();
  SignedTransaction stx;
  stx.tx.chain_id = f.genesis.params.chain_id;
  stx.tx.agency = gd.id;
  stx.tx.sequence = 1;
  stx.tx.event = e;
  f.SignWith(&stx, TestKey("gd-0"));
  Accept(stx);
  CertificateState c = Cert(CertificateId{f.type_code(), gd.id, "G0001", 1}.Base());
  EXPECT_EQ(c.issuer, gd.id);
  auto seq = ReadSequence(state, gd.id);
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 1u);
}

TEST_F(StateTest, RegisterAgencyUpdateReplacesKeys) {
  Agency js = f.agencies[0].agency;
  js.name = "江苏省水利厅（更新）";
  js.issuing_keys = {TestKey("js-new").public_key()};
  Accept(Gov(2, RegisterAgencyEvent{js}, {0, 1, 3}));
  auto read = ReadAgency(state, js.id);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(**read, js);
  // The old key lost its role; the new one signs.
  Reject(Make(0, f.Issue(0, "A0001")), Reason::kUnknownSigner);
  Accept(MakeSigned(0, f.Issue(0, "A0001"), {TestKey("js-new")}));
}

ValidatorSet SortedSet(std::vector<Validator> v) {
  std::sort(v.begin(), v.end(),
            [](const Validator& a, const Validator& b) { return a.key < b.key; });
  return ValidatorSet{std::move(v)};
}

TEST_F(StateTest, UpdateValidatorsTakesEffectAfterDelay) {
  height = 5;
  ValidatorSet next = SortedSet(
      {{f.validator_keys[0].public_key(), 10, f.id(0), NodeOf(f.validator_keys[0].public_key())},
       {f.validator_keys[1].public_key(), 10, f.id(1), NodeOf(f.validator_keys[1].public_key())},
       {f.validator_keys[2].public_key(), 10, f.id(2), NodeOf(f.validator_keys[2].public_key())},
       {TestKey("validator-new").public_key(), 5, f.id(3),
        NodeOf(TestKey("validator-new").public_key())}});
  auto changes = Accept(Gov(0, UpdateValidatorsEvent{next}, {0, 1, 3}));
  const PendingValidators want{5 + kValidatorSetDelay, next};
  EXPECT_EQ(changes, (std::vector<StateChange>{{std::string(kPendingValidatorsKey), Encode(want)},
                                               {SequenceKey(f.id(0)), U64Le(1)}}));
  auto pending = ReadPendingValidators(state);
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ(**pending, want);
  // The current set is unchanged until the effective height.
  auto current = ReadValidators(state);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, f.genesis.validators);
  // The pending set's new validator has no governance role yet.
  Reject(MakeSigned(1, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")},
                    {f.validator_keys[0], f.validator_keys[1], f.validator_keys[2],
                     TestKey("validator-new")}),
         Reason::kUnknownSigner);

  for (uint64_t h = 5; h < want.effective_height; ++h) {
    auto begin = BeginBlockChanges(state, h);
    ASSERT_TRUE(begin.ok());
    EXPECT_TRUE(begin->empty()) << h;
    auto vs = ValidatorsForHeight(state, h);
    ASSERT_TRUE(vs.ok());
    EXPECT_EQ(*vs, f.genesis.validators) << h;
  }
  auto vs = ValidatorsForHeight(state, want.effective_height);
  ASSERT_TRUE(vs.ok());
  EXPECT_EQ(*vs, next);
  auto begin = BeginBlockChanges(state, want.effective_height);
  ASSERT_TRUE(begin.ok());
  EXPECT_EQ(*begin, (std::vector<StateChange>{{std::string(kValidatorsKey), Encode(next)},
                                              {std::string(kPendingValidatorsKey), Bytes{}}}));
  state.Apply(*begin);
  current = ReadValidators(state);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, next);
  pending = ReadPendingValidators(state);
  ASSERT_TRUE(pending.ok());
  EXPECT_FALSE(pending->has_value());
  auto again = BeginBlockChanges(state, want.effective_height + 1);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());

  // Now the new validator counts: 10 + 10 + 5 = 25 of 35 > 2/3.
  height = want.effective_height;
  Accept(MakeSigned(1, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")},
                    {f.validator_keys[0], f.validator_keys[1], TestKey("validator-new")}));
  // The removed validator (agency 3's old key) is no longer one.
  Reject(Gov(1, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-1")}, {0, 1, 3}),
         Reason::kUnknownSigner);
}

TEST_F(StateTest, UpdateValidatorsMayNameAnAgencyRegisteredEarlier) {
  Agency gd = NewAgency("11440000006950390", "gd-0");
  Accept(Gov(3, RegisterAgencyEvent{gd}, {0, 1, 2}));
  ValidatorSet next = f.genesis.validators;
  next.validators.push_back(
      {TestKey("validator-gd").public_key(), 10, gd.id, TestKey("node-gd").public_key()});
  next = SortedSet(next.validators);
  Accept(Gov(3, UpdateValidatorsEvent{next}, {0, 1, 2}));
  auto pending = ReadPendingValidators(state);
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ((*pending)->validators, next);
}

// "More than two thirds": exactly two thirds (20 of 30) is not enough.
TEST_F(StateTest, GovernanceNeedsMoreThanTwoThirds) {
  ValidatorSet three = SortedSet(
      {{f.validator_keys[0].public_key(), 10, f.id(0), NodeOf(f.validator_keys[0].public_key())},
       {f.validator_keys[1].public_key(), 10, f.id(1), NodeOf(f.validator_keys[1].public_key())},
       {f.validator_keys[2].public_key(), 10, f.id(2), NodeOf(f.validator_keys[2].public_key())}});
  // 2 of 4 validators: 20 of 40, exactly half.
  Reject(Gov(0, UpdateValidatorsEvent{three}, {0, 1}), Reason::kInsufficientPower);
  // No validator at all.
  Reject(Gov(0, UpdateValidatorsEvent{three}, {}), Reason::kInsufficientPower);
  Accept(Gov(0, UpdateValidatorsEvent{three}, {0, 1, 3}));  // 30 of 40
  auto begin = BeginBlockChanges(state, height + kValidatorSetDelay);
  ASSERT_TRUE(begin.ok());
  ASSERT_FALSE(begin->empty());
  state.Apply(*begin);
  height += kValidatorSetDelay;
  const Agency gd = NewAgency("11440000006950390", "gd-0");
  Reject(Gov(0, RegisterAgencyEvent{gd}, {0, 1}), Reason::kInsufficientPower);  // 20 of 30
  Reject(Gov(0, RegisterAgencyEvent{gd}, {0, 3}), Reason::kUnknownSigner);      // 3 left the set
  Accept(Gov(0, RegisterAgencyEvent{gd}, {0, 1, 2}));                           // 30 of 30
}

// ---- every rejection reason -------------------------------------------------------------------

// A state with certificates in every status, at a block time after A0006 expired.
class RejectionTest : public StateTest {
 protected:
  RejectionTest() {
    for (const char* s : {"A0001", "A0002", "A0003", "A0004", "A0005", "A0007"}) {
      Accept(Make(0, f.Issue(0, s)));
    }
    IssueEvent shortlived = f.Issue(0, "A0006");
    shortlived.not_after = f.now_s + 100;
    Accept(Make(0, shortlived));
    Accept(Make(1, f.Issue(1, "B0001")));
    Accept(Make(0, SuspendEvent{Base("A0002"), "检查"}));
    Accept(Make(0, RevokeEvent{Base("A0003"), RevocationKind::kRevoked, "吊销"}));
    Accept(Make(0, RevokeEvent{Base("A0004"), RevocationKind::kWithdrawn, "撤销"}));
    Accept(Make(0, RevokeEvent{Base("A0005"), RevocationKind::kCancelled, "注销"}));
    Accept(Transfer(0, Base("A0007"), 1));
    NextBlock(1000);  // A0006 is now expired
  }
  std::string Base(const std::string& serial, size_t agency = 0) const {
    return f.BaseId(agency, serial);
  }
  static IssueEvent WithSummary(IssueEvent e, const std::function<void(WaterPermitSummary&)>& m) {
    m(std::get<WaterPermitSummary>(e.summary));
    return e;
  }
  IssueEvent Fresh(const std::function<void(WaterPermitSummary&)>& m) const {
    return WithSummary(f.Issue(0, "N0001"), m);
  }
};

struct Case {
  std::string name;
  Reason want;
  std::function<SignedTransaction()> tx;
  bool also_verified = true;  // ApplyVerified must give the same reason
};

TEST_F(RejectionTest, EveryReasonIsCovered) {
  const std::string long_text(513, 'x');
  const PrivateKey outsider = TestKey("outsider");
  std::vector<Case> cases = {
      // -- malformed: summary fields
      {"empty purpose", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.purpose.clear(); })); }},
      {"empty permit number", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.permit_number.clear(); })); }},
      {"empty location", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.location.clear(); })); }},
      {"empty organisation holder name", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.holder_name.clear(); })); }},
      {"location too long", Reason::kMalformed,
       [&] { return Make(0, Fresh([&](auto& s) { s.location = long_text; })); }},
      {"permit number too long", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.permit_number = std::string(65, 'B'); })); }},
      {"method invalid UTF-8 (lone continuation)", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.method = "泵\x80站"; })); }},
      {"purpose truncated UTF-8", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.purpose = "工业\xE7\x94"; })); }},
      {"purpose overlong UTF-8", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.purpose = "\xC0\xAF"; })); }},
      {"purpose UTF-16 surrogate", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.purpose = "\xED\xA0\x80"; })); }},
      {"location control character", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.location = "南京\x01市"; })); }},
      // Invisible format characters: a bidi override in the holder name, a zero-width space in
      // the permit number, a right-to-left isolate in the location, a tag character in the
      // purpose, a BOM in the intake name.
      {"holder name with a bidi override U+202E", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.holder_name = "水务\u202E司公限有"; })); }},
      {"permit number with a zero-width space U+200B", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.permit_number = "B320115S\u200B2026-1"; })); }},
      {"location with an isolate U+2067", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.location = "南京\u2067市"; })); }},
      {"purpose with a tag character U+E0041", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.purpose = "工业\U000E0041用水"; })); }},
      {"return location NUL", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.return_location = std::string("a\0b", 3); })); }},
      {"division not six digits", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.division = "32011"; })); }},
      {"division unknown province", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.division = "990000"; })); }},
      {"division with a letter", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.division = "32011X"; })); }},
      {"zero quantity", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.annual_quantity_m3 = 0; })); }},
      {"individual holder with name", Reason::kMalformed,
       [&] {
         return Make(0, Fresh([](auto& s) {
                       s.holder_kind = HolderKind::kIndividual;
                       s.holder_credit_code.clear();
                       s.holder_name = "张三";
                     }));
       }},
      {"individual holder with number", Reason::kMalformed,
       [&] {
         return Make(0, Fresh([](auto& s) {
                       s.holder_kind = HolderKind::kIndividual;
                       s.holder_name.clear();
                     }));
       }},
      {"bad holder credit code", Reason::kMalformed,
       [&] {
         return Make(0, Fresh([](auto& s) { s.holder_credit_code = "91320100MA1XXXXXI0"; }));
       }},
      {"latitude above 90", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.intakes[0].latitude_e6 = 90'000'001; })); }},
      {"longitude below -180", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.intakes[0].longitude_e6 = -180'000'001; })); }},
      {"aquifer on surface intake", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.intakes[0].aquifer = "潜水"; })); }},
      {"empty intake name", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.intakes[0].name.clear(); })); }},
      {"too many intakes", Reason::kMalformed,
       [&] { return Make(0, Fresh([](auto& s) { s.intakes.assign(65, s.intakes[0]); })); }},
      {"malformed summary on change", Reason::kMalformed,
       [&] {
         ChangeEvent e = Change(0, "A0001", 2);
         std::get<WaterPermitSummary>(e.summary).annual_quantity_m3 = 0;
         return Make(0, e);
       }},
      {"changed_fields empty", Reason::kMalformed,
       [&] {
         ChangeEvent e = Change(0, "A0001", 2);
         e.changed_fields.clear();
         return Make(0, e);
       }},
      {"changed_fields more than 64", Reason::kMalformed,
       [&] {
         ChangeEvent e = Change(0, "A0001", 2);
         e.changed_fields.assign(65, "purpose");
         return Make(0, e);
       }},
      {"changed field empty", Reason::kMalformed,
       [&] {
         ChangeEvent e = Change(0, "A0001", 2);
         e.changed_fields = {"purpose", ""};
         return Make(0, e);
       }},
      // -- malformed: status events and transfer
      {"suspend without reason", Reason::kMalformed,
       [&] {
         return Make(0, SuspendEvent{Base("A0001"), ""});
       }},
      {"revoke without reason", Reason::kMalformed,
       [&] {
         return Make(0, RevokeEvent{Base("A0001"), RevocationKind::kRevoked, ""});
       }},
      {"reason too long", Reason::kMalformed,
       [&] {
         return Make(0, SuspendEvent{Base("A0001"), std::string(1025, 'r')});
       }},
      {"reason with control character", Reason::kMalformed,
       [&] {
         return Make(0, ResumeEvent{Base("A0002"), "ok\x1b[0m"});
       }},
      {"transfer to self", Reason::kMalformed,
       [&] {
         return Make(0, TransferEvent{Base("A0001"), f.id(0)});
       }},
      {"more than 256 signatures", Reason::kMalformed,
       [&] {
         SignedTransaction stx = Make(0, SuspendEvent{Base("A0001"), "检查"});
         for (int i = 0; i < 256; ++i) f.SignWith(&stx, TestKey(std::to_string(i)));
         return stx;
       }},
      // -- malformed: governance records
      {"agency id not a credit code", Reason::kMalformed,
       [&] {
         Agency a = NewAgency("11440000006950390", "gd-0");
         a.id = "44000000";
         return Gov(3, RegisterAgencyEvent{a}, {0, 1, 2});
       }},
      {"agency without name", Reason::kMalformed,
       [&] {
         Agency a = NewAgency("11440000006950390", "gd-0");
         a.name.clear();
         return Gov(3, RegisterAgencyEvent{a}, {0, 1, 2});
       }},
      {"agency bad division", Reason::kMalformed,
       [&] {
         Agency a = NewAgency("11440000006950390", "gd-0");
         a.division = "990000";
         return Gov(3, RegisterAgencyEvent{a}, {0, 1, 2});
       }},
      {"agency without keys", Reason::kMalformed,
       [&] {
         Agency a = NewAgency("11440000006950390", "gd-0");
         a.issuing_keys.clear();
         return Gov(3, RegisterAgencyEvent{a}, {0, 1, 2});
       }},
      {"agency with 17 keys", Reason::kMalformed,
       [&] {
         Agency a = NewAgency("11440000006950390", "gd-0");
         for (int i = 1; i < 17; ++i)
           a.issuing_keys.push_back(TestKey(std::to_string(i)).public_key());
         return Gov(3, RegisterAgencyEvent{a}, {0, 1, 2});
       }},
      {"agency duplicate key", Reason::kMalformed,
       [&] {
         Agency a = NewAgency("11440000006950390", "gd-0");
         a.issuing_keys.push_back(a.issuing_keys[0]);
         return Gov(3, RegisterAgencyEvent{a}, {0, 1, 2});
       }},
      {"agency key not on curve", Reason::kMalformed,
       [&] {
         Agency a = NewAgency("11440000006950390", "gd-0");
         PublicKey bad;
         bad.bytes.fill(0xFF);  // x >= p
         a.issuing_keys.push_back(bad);
         return Gov(3, RegisterAgencyEvent{a}, {0, 1, 2});
       }},
      {"empty validator set", Reason::kMalformed,
       [&] {
         return Gov(3, UpdateValidatorsEvent{}, {0, 1, 2});
       }},
      {"validator of power 0", Reason::kMalformed,
       [&] {
         ValidatorSet v = f.genesis.validators;
         v.validators[1].power = 0;
         return Gov(3, UpdateValidatorsEvent{v}, {0, 1, 2});
       }},
      {"validators out of order", Reason::kMalformed,
       [&] {
         ValidatorSet v = f.genesis.validators;
         std::swap(v.validators[0], v.validators[1]);
         return Gov(3, UpdateValidatorsEvent{v}, {0, 1, 2});
       }},
      {"validator listed twice", Reason::kMalformed,
       [&] {
         ValidatorSet v = f.genesis.validators;
         v.validators[1] = v.validators[0];
         return Gov(3, UpdateValidatorsEvent{v}, {0, 1, 2});
       }},
      // -- bad-signature
      {"flipped signature bit", Reason::kBadSignature,
       [&] {
         SignedTransaction stx = Make(0, f.Issue(0, "N0001"));
         stx.signatures[0].signature.bytes[10] ^= 0x01;
         return stx;
       },
       false},
      {"signature over another transaction", Reason::kBadSignature,
       [&] {
         SignedTransaction stx = Make(0, f.Issue(0, "N0001"));
         SignedTransaction other = Make(0, f.Issue(0, "N0002"));
         stx.signatures = other.signatures;
         return stx;
       },
       false},
      {"signature over the same tx with another sequence", Reason::kBadSignature,
       [&] {
         SignedTransaction stx = Make(0, f.Issue(0, "N0001"));
         SignedTransaction later = stx;
         later.tx.sequence += 1;
         later.signatures.clear();
         f.SignWith(&later, f.agencies[0].issuing[0]);
         stx.signatures = later.signatures;
         return stx;
       },
       false},
      {"co-signature over another transaction", Reason::kBadSignature,
       [&] {
         SignedTransaction stx = Transfer(0, Base("A0001"), 1);
         SignedTransaction other = Transfer(0, Base("A0002"), 1);
         stx.signatures[1] = other.signatures[1];  // the receiver signed another transfer
         return stx;
       },
       false},
      {"governance signature tampered", Reason::kBadSignature,
       [&] {
         SignedTransaction stx =
             Gov(3, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")}, {0, 1, 2});
         stx.signatures[2].signature.bytes[63] ^= 0x01;
         return stx;
       },
       false},
      // -- wrong-chain
      {"other chain id", Reason::kWrongChain,
       [&] {
         SignedTransaction stx;
         stx.tx = f.Unsigned(0, f.Issue(0, "N0001"), Seq(0) + 1);
         stx.tx.chain_id = "certledger-other";
         f.SignWith(&stx, f.agencies[0].issuing[0]);
         return stx;
       }},
      {"empty chain id", Reason::kWrongChain,
       [&] {
         SignedTransaction stx = Make(0, f.Issue(0, "N0001"));
         stx.tx.chain_id.clear();
         return stx;
       }},
      // -- bad-sequence
      {"replayed sequence", Reason::kBadSequence,
       [&] {
         SignedTransaction stx;
         stx.tx = f.Unsigned(0, f.Issue(0, "N0001"), Seq(0));
         f.SignWith(&stx, f.agencies[0].issuing[0]);
         return stx;
       }},
      {"sequence gap", Reason::kBadSequence,
       [&] {
         SignedTransaction stx;
         stx.tx = f.Unsigned(0, f.Issue(0, "N0001"), Seq(0) + 2);
         f.SignWith(&stx, f.agencies[0].issuing[0]);
         return stx;
       }},
      {"sequence 0", Reason::kBadSequence,
       [&] {
         SignedTransaction stx;
         stx.tx = f.Unsigned(2, SuspendEvent{Base("A0001"), "x"}, 0);
         f.SignWith(&stx, f.agencies[2].issuing[0]);
         return stx;
       }},
      {"another agency's sequence", Reason::kBadSequence,
       [&] {
         SignedTransaction stx;
         stx.tx = f.Unsigned(1, f.Issue(1, "B0009"), Seq(0) + 1);  // A's next, not B's
         f.SignWith(&stx, f.agencies[1].issuing[0]);
         return stx;
       }},
      {"governance replay", Reason::kBadSequence,
       [&] {
         SignedTransaction stx;
         stx.tx =
             f.Unsigned(0, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")}, Seq(0));
         for (size_t v : {size_t{0}, size_t{1}, size_t{2}}) f.SignWith(&stx, f.validator_keys[v]);
         return stx;
       }},
      // -- unknown-agency
      {"unknown acting agency", Reason::kUnknownAgency,
       [&] {
         SignedTransaction stx = Make(0, f.Issue(0, "N0001"));
         stx.tx.agency = CreditCode("11440000006950390");
         stx.signatures.clear();
         f.SignWith(&stx, outsider);
         return stx;
       }},
      {"unknown transfer target", Reason::kUnknownAgency,
       [&] {
         return MakeSigned(0, TransferEvent{Base("A0001"), CreditCode("11440000006950390")},
                           {f.agencies[0].issuing[0], outsider});
       }},
      {"validator's agency unknown", Reason::kUnknownAgency,
       [&] {
         ValidatorSet v = f.genesis.validators;
         v.validators[2].agency = CreditCode("11440000006950390");
         return Gov(3, UpdateValidatorsEvent{v}, {0, 1, 2});
       }},
      // -- unknown-signer
      {"cross-agency: B's key on A's issue", Reason::kUnknownSigner,
       [&] { return MakeSigned(0, f.Issue(0, "N0001"), {f.agencies[1].issuing[0]}); }},
      {"cross-agency: B's key next to A's on a change", Reason::kUnknownSigner,
       [&] {
         return MakeSigned(0, Change(0, "A0001", 2),
                           {f.agencies[0].issuing[0], f.agencies[1].issuing[1]});
       }},
      {"cross-agency: B signs A's revocation as A", Reason::kUnknownSigner,
       [&] {
         return MakeSigned(0, RevokeEvent{Base("A0001"), RevocationKind::kRevoked, "x"},
                           {f.agencies[1].issuing[0]});
       }},
      {"validator key on a certificate event", Reason::kUnknownSigner,
       [&] {
         return MakeSigned(0, SuspendEvent{Base("A0001"), "x"},
                           {f.agencies[0].issuing[0], f.validator_keys[0]});
       }},
      {"outsider key on a certificate event", Reason::kUnknownSigner,
       [&] {
         return MakeSigned(0, SuspendEvent{Base("A0001"), "x"}, {outsider});
       }},
      {"issuing key on governance", Reason::kUnknownSigner,
       [&] {
         return MakeSigned(3, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")},
                           {f.validator_keys[0], f.validator_keys[1], f.validator_keys[2],
                            f.agencies[3].issuing[0]});
       }},
      {"non-validator on governance", Reason::kUnknownSigner,
       [&] {
         return MakeSigned(
             3, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")},
             {f.validator_keys[0], f.validator_keys[1], f.validator_keys[2], outsider});
       }},
      // -- duplicate-signature
      {"same key twice", Reason::kDuplicateSignature,
       [&] {
         return MakeSigned(0, f.Issue(0, "N0001"),
                           {f.agencies[0].issuing[0], f.agencies[0].issuing[0]});
       }},
      {"same validator twice on governance", Reason::kDuplicateSignature,
       [&] {
         return MakeSigned(3, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")},
                           {f.validator_keys[0], f.validator_keys[1], f.validator_keys[1]});
       }},
      // -- not-issuer
      {"B changes A's certificate", Reason::kNotIssuer,
       [&] { return Make(1, Change(0, "A0001", 2)); }},
      {"B renews A's certificate", Reason::kNotIssuer,
       [&] { return Make(1, Renew(0, "A0001", 2)); }},
      {"B suspends A's certificate", Reason::kNotIssuer,
       [&] {
         return Make(1, SuspendEvent{Base("A0001"), "x"});
       }},
      {"B resumes A's certificate", Reason::kNotIssuer,
       [&] {
         return Make(1, ResumeEvent{Base("A0002"), ""});
       }},
      {"B revokes A's certificate", Reason::kNotIssuer,
       [&] {
         return Make(1, RevokeEvent{Base("A0001"), RevocationKind::kRevoked, "x"});
       }},
      {"B transfers A's certificate", Reason::kNotIssuer,
       [&] {
         return MakeSigned(1, TransferEvent{Base("A0001"), f.id(2)},
                           {f.agencies[1].issuing[0], f.agencies[2].issuing[0]});
       }},
      {"B issues with A's issuer code", Reason::kNotIssuer,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");  // identifier names A as issuer
         return Make(1, e);
       }},
      {"A acts on the certificate it transferred", Reason::kNotIssuer,
       [&] {
         return Make(0, SuspendEvent{Base("A0007"), "x"});
       }},
      // -- cert-exists
      {"issue an existing serial", Reason::kCertExists,
       [&] { return Make(0, f.Issue(0, "A0001", "another document")); }},
      {"re-issue a revoked serial", Reason::kCertExists,
       [&] { return Make(0, f.Issue(0, "A0003", "another document")); }},
      {"issue version 2 of an existing serial", Reason::kCertExists,
       [&] {
         IssueEvent e = f.Issue(0, "A0001", "v2");
         e.identifier = f.CertId(0, "A0001", 2);
         return Make(0, e);
       }},
      // -- cert-not-found
      {"change unknown", Reason::kCertNotFound, [&] { return Make(0, Change(0, "Z0001", 2)); }},
      {"renew unknown", Reason::kCertNotFound, [&] { return Make(0, Renew(0, "Z0001", 2)); }},
      {"suspend unknown", Reason::kCertNotFound,
       [&] {
         return Make(0, SuspendEvent{Base("Z0001"), "x"});
       }},
      {"resume unknown", Reason::kCertNotFound,
       [&] {
         return Make(0, ResumeEvent{Base("Z0001"), ""});
       }},
      {"revoke unknown", Reason::kCertNotFound,
       [&] {
         return Make(0, RevokeEvent{Base("Z0001"), RevocationKind::kRevoked, "x"});
       }},
      {"transfer unknown", Reason::kCertNotFound, [&] { return Transfer(0, Base("Z0001"), 1); }},
      // -- document-exists
      {"issue reusing another certificate's document", Reason::kDocumentExists,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.document_hash = f.Issue(0, "A0001").document_hash;
         return Make(0, e);
       }},
      {"issue reusing another agency's document", Reason::kDocumentExists,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.document_hash = f.Issue(1, "B0001").document_hash;
         return Make(0, e);
       }},
      {"change reusing the current document", Reason::kDocumentExists,
       [&] {
         ChangeEvent e = Change(0, "A0001", 2);
         e.document_hash = f.Issue(0, "A0001").document_hash;
         return Make(0, e);
       }},
      {"renew reusing a document", Reason::kDocumentExists,
       [&] {
         RenewEvent e = Renew(0, "A0001", 2);
         e.document_hash = f.Issue(0, "A0002").document_hash;
         return Make(0, e);
       }},
      // -- invalid-transition
      {"change revoked", Reason::kInvalidTransition,
       [&] { return Make(0, Change(0, "A0003", 2)); }},
      {"renew revoked", Reason::kInvalidTransition, [&] { return Make(0, Renew(0, "A0003", 2)); }},
      {"suspend revoked", Reason::kInvalidTransition,
       [&] {
         return Make(0, SuspendEvent{Base("A0003"), "x"});
       }},
      {"resume revoked", Reason::kInvalidTransition,
       [&] {
         return Make(0, ResumeEvent{Base("A0003"), ""});
       }},
      {"revoke revoked", Reason::kInvalidTransition,
       [&] {
         return Make(0, RevokeEvent{Base("A0003"), RevocationKind::kRevoked, "x"});
       }},
      {"transfer revoked", Reason::kInvalidTransition,
       [&] { return Transfer(0, Base("A0003"), 1); }},
      {"change withdrawn", Reason::kInvalidTransition,
       [&] { return Make(0, Change(0, "A0004", 2)); }},
      {"resume withdrawn", Reason::kInvalidTransition,
       [&] {
         return Make(0, ResumeEvent{Base("A0004"), ""});
       }},
      {"cancel withdrawn", Reason::kInvalidTransition,
       [&] {
         return Make(0, RevokeEvent{Base("A0004"), RevocationKind::kCancelled, "x"});
       }},
      {"renew cancelled", Reason::kInvalidTransition,
       [&] { return Make(0, Renew(0, "A0005", 2)); }},
      {"suspend cancelled", Reason::kInvalidTransition,
       [&] {
         return Make(0, SuspendEvent{Base("A0005"), "x"});
       }},
      {"transfer cancelled", Reason::kInvalidTransition,
       [&] { return Transfer(0, Base("A0005"), 2); }},
      {"suspend twice", Reason::kInvalidTransition,
       [&] {
         return Make(0, SuspendEvent{Base("A0002"), "again"});
       }},
      {"resume a valid certificate", Reason::kInvalidTransition,
       [&] {
         return Make(0, ResumeEvent{Base("A0001"), ""});
       }},
      {"renew an expired certificate", Reason::kInvalidTransition,
       [&] { return Make(0, Renew(0, "A0006", 2)); }},
      // -- bad-identifier
      {"issue with a wrong check character", Reason::kBadIdentifier,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.identifier.back() = e.identifier.back() == 'A' ? 'B' : 'A';
         return Make(0, e);
       }},
      {"issue with a lower-case serial", Reason::kBadIdentifier,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.identifier = CertificateId{f.type_code(), f.id(0), "n0001", 1}.Full();
         return Make(0, e);
       }},
      {"issue with version 000", Reason::kBadIdentifier,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.identifier = CertificateId{f.type_code(), f.id(0), "N0001", 0}.Full();
         return Make(0, e);
       }},
      {"issue with a base identifier only", Reason::kBadIdentifier,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.identifier = Base("N0001");
         return Make(0, e);
       }},
      {"issue without the OID prefix", Reason::kBadIdentifier,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.identifier = e.identifier.substr(2);
         return Make(0, e);
       }},
      {"change with a wrong check character", Reason::kBadIdentifier,
       [&] {
         ChangeEvent e = Change(0, "A0001", 2);
         e.identifier.back() = e.identifier.back() == 'A' ? 'B' : 'A';
         return Make(0, e);
       }},
      {"renew with a wrong check character", Reason::kBadIdentifier,
       [&] {
         RenewEvent e = Renew(0, "A0001", 2);
         e.identifier.back() = e.identifier.back() == 'A' ? 'B' : 'A';
         return Make(0, e);
       }},
      {"suspend a full identifier", Reason::kBadIdentifier,
       [&] {
         return Make(0, SuspendEvent{f.CertId(0, "A0001", 1), "x"});
       }},
      {"resume malformed base", Reason::kBadIdentifier,
       [&] {
         return Make(0, ResumeEvent{"1.2.156.3005.2.X.Y.Z", ""});
       }},
      {"revoke empty identifier", Reason::kBadIdentifier,
       [&] {
         return Make(0, RevokeEvent{"", RevocationKind::kRevoked, "x"});
       }},
      {"transfer malformed base", Reason::kBadIdentifier,
       [&] { return Transfer(0, Base("A0001") + ".", 1); }},
      // -- bad-version
      {"change skipping a version", Reason::kBadVersion,
       [&] { return Make(0, Change(0, "A0001", 3)); }},
      {"change to the same version", Reason::kBadVersion,
       [&] { return Make(0, Change(0, "A0001", 1)); }},
      {"renew skipping a version", Reason::kBadVersion,
       [&] { return Make(0, Renew(0, "A0001", 3)); }},
      {"renew to the same version", Reason::kBadVersion,
       [&] { return Make(0, Renew(0, "A0001", 1)); }},
      // -- bad-validity
      {"not_before equals not_after", Reason::kBadValidity,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.not_before = e.not_after;
         return Make(0, e);
       }},
      {"not_before after not_after", Reason::kBadValidity,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.not_before = e.not_after + 1;
         return Make(0, e);
       }},
      {"longer than the maximum", Reason::kBadValidity,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.not_after = e.not_before + f.genesis.params.max_validity_seconds + 1;
         return Make(0, e);
       }},
      {"not_before at INT64_MIN (overflow)", Reason::kBadValidity,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.not_before = std::numeric_limits<int64_t>::min();
         return Make(0, e);
       }},
      {"not_before negative, not_after INT64_MAX (overflow)", Reason::kBadValidity,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.not_before = -1'000'000'000;
         e.not_after = std::numeric_limits<int64_t>::max();
         return Make(0, e);
       }},
      {"already expired on issue", Reason::kBadValidity,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.not_before = f.now_s - 1000;
         e.not_after = time_ms / 1000;  // expires at this very block time
         return Make(0, e);
       }},
      {"renewal not extending", Reason::kBadValidity,
       [&] { return Make(0, Renew(0, "A0001", 2, 0)); }},
      {"renewal shortening", Reason::kBadValidity,
       [&] { return Make(0, Renew(0, "A0001", 2, -86400)); }},
      {"renewal beyond the maximum", Reason::kBadValidity,
       [&] {
         RenewEvent e = Renew(0, "A0001", 2);
         e.not_after = time_ms / 1000 + f.genesis.params.max_validity_seconds + 1;
         return Make(0, e);
       }},
      // -- missing-cosignature
      {"transfer without the receiver", Reason::kMissingCosignature,
       [&] {
         return Make(0, TransferEvent{Base("A0001"), f.id(1)});
       }},
      // -- insufficient-power
      {"governance with 2 of 4 validators", Reason::kInsufficientPower,
       [&] {
         return Gov(3, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")}, {0, 1});
       }},
      {"governance with no signature", Reason::kInsufficientPower,
       [&] { return Gov(3, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")}, {}); }},
      {"validator update with 1 of 4", Reason::kInsufficientPower,
       [&] { return Gov(3, UpdateValidatorsEvent{f.genesis.validators}, {2}); }},
      // -- unknown-cert-type
      {"type code not registered", Reason::kUnknownCertType,
       [&] {
         IssueEvent e = f.Issue(0, "N0001");
         e.identifier = CertificateId{f.id(3) + "002", f.id(0), "N0001", 1}.Full();
         return Make(0, e);
       }},
      // -- missing-signature
      {"no signature at all", Reason::kMissingSignature,
       [&] { return MakeSigned(0, f.Issue(0, "N0001"), {}); }},
      {"transfer signed by the receiver only", Reason::kMissingSignature,
       [&] {
         return MakeSigned(0, TransferEvent{Base("A0001"), f.id(1)}, {f.agencies[1].issuing[0]});
       }},
      // -- too-large
      {"transaction above max_tx_bytes", Reason::kTooLarge,
       [&] {
         return Make(0,
                     SuspendEvent{Base("A0001"), std::string(f.genesis.params.max_tx_bytes, 'x')});
       }},
      {"too large governance", Reason::kTooLarge,
       [&] {
         Agency a = NewAgency("11440000006950390", "gd-0");
         a.name = std::string(70'000, 'n');
         return Gov(3, RegisterAgencyEvent{a}, {0, 1, 2});
       }},
  };

  // -- evidence-exists (and the other ways evidence is refused)
  cases.push_back({"the same double vote twice", Reason::kEvidenceExists, [&] {
                     Accept(Evidence(1, 1, 0));
                     return Evidence(1, 1, 0);
                   }});
  cases.push_back({"evidence with an agency", Reason::kMalformed, [&] {
                     auto e = Evidence(1, 1, 1);
                     e.tx.agency = f.id(0);
                     return e;
                   }});
  cases.push_back({"evidence with one vote altered", Reason::kBadSignature,
                   [&] {
                     auto e = Evidence(1, 1, 2);
                     std::get<DuplicateVoteEvent>(e.tx.event).second.signature.bytes[5] ^= 1;
                     return e;
                   },
                   /*also_verified=*/false});
  cases.push_back({"evidence of two votes of one block", Reason::kMalformed, [&] {
                     auto e = Evidence(1, 1, 3);
                     auto& d = std::get<DuplicateVoteEvent>(e.tx.event);
                     d.first = d.second;
                     return e;
                   }});
  cases.push_back({"evidence against a non-validator", Reason::kUnknownSigner,
                   [&] {
                     auto e = Evidence(1, 1, 4);
                     auto& d = std::get<DuplicateVoteEvent>(e.tx.event);
                     d.first.validator = d.second.validator = f.agencies[0].issuing[0].public_key();
                     return e;
                   },
                   /*also_verified=*/false});
  cases.push_back(
      {"evidence from the future", Reason::kMalformed, [&] { return Evidence(1, 1000, 0); }});

  std::set<Reason> listed;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    listed.insert(c.want);
    const SignedTransaction stx = c.tx();
    Reject(stx, c.want);
    if (c.also_verified) Reject(stx, c.want, /*verified=*/true);
  }
  for (int i = 0; i < kReasonCount; ++i) {
    const auto r = static_cast<Reason>(i);
    EXPECT_TRUE(listed.count(r)) << "no case in the table for " << ReasonCode(r);
    EXPECT_TRUE(seen.count(r)) << "no case produced " << ReasonCode(r);
  }

  // Sanity: the same state accepts the well-formed versions of those transactions.
  Accept(Make(0, f.Issue(0, "N0001")));
  Accept(Make(0, Change(0, "A0001", 2)));
  Accept(Make(0, Renew(0, "A0002", 2)));  // renewing a suspended certificate is allowed
  Accept(Make(0, ResumeEvent{Base("A0002"), ""}));
  Accept(Transfer(0, Base("A0001"), 1));
  Accept(Gov(3, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")}, {0, 1, 2}));
}

// Values outside an enum's range cannot be encoded canonically (decoding rejects them), so the
// state machine must not accept them: they would be written into records nobody can read back.
TEST_F(RejectionTest, UnknownEnumValuesAreMalformed) {
  Reject(Make(0, RevokeEvent{Base("A0001"), static_cast<RevocationKind>(5), "x"}),
         Reason::kMalformed);
  Reject(Make(0, Fresh([](auto& s) { s.holder_kind = static_cast<HolderKind>(3); })),
         Reason::kMalformed);
  Reject(Make(0, Fresh([](auto& s) { s.source = static_cast<WaterSource>(0); })),
         Reason::kMalformed);
  Reject(Make(0, Fresh([](auto& s) { s.intakes[0].source = static_cast<WaterSource>(9); })),
         Reason::kMalformed);
  Reject(Make(0, Fresh([](auto& s) { s.intakes[0].state = static_cast<IntakeState>(0); })),
         Reason::kMalformed);
  Agency a = NewAgency("11440000006950390", "gd-0");
  a.kind = static_cast<AgencyKind>(9);
  Reject(Gov(3, RegisterAgencyEvent{a}, {0, 1, 2}), Reason::kMalformed);
}

// The rejection names the character, so that an agency's clerk can find it; ordinary Chinese
// text, full-width punctuation and the ideographic space stay valid.
TEST_F(RejectionTest, FormatCharactersAreNamedAndOrdinaryTextPasses) {
  ApplyOutcome o = Run(Make(0, Fresh([](auto& s) { s.holder_name = "水务\u202E司公限有"; })));
  ASSERT_FALSE(o.accepted());
  EXPECT_NE(o.rejection->message.find("holder_name contains the invisible format character U+202E"),
            std::string::npos)
      << o.rejection->message;
  o = Run(Make(0, Fresh([](auto& s) { s.purpose = "A\uFEFF"; })));
  ASSERT_FALSE(o.accepted());
  EXPECT_NE(o.rejection->message.find("U+FEFF"), std::string::npos) << o.rejection->message;
  // Suspension reasons are shown on the page too.
  Accept(Make(0, f.Issue(0, "F0001")));
  Reject(Make(0, SuspendEvent{Base("F0001"), "超许可\u200D取水"}), Reason::kMalformed);
  Accept(Make(0, Fresh([](auto& s) {
                s.holder_name = "南京（江北）水务有限公司";
                s.location = "长江左岸\u3000取水口 No.1";
              })));
}

TEST_F(RejectionTest, SequenceAdvancesOnlyOnAcceptance) {
  const uint64_t before = Seq(0);
  Reject(Make(0, SuspendEvent{Base("A0003"), "x"}), Reason::kInvalidTransition);
  EXPECT_EQ(Seq(0), before);
  SignedTransaction ok = Make(0, SuspendEvent{Base("A0001"), "x"});
  EXPECT_EQ(ok.tx.sequence, before + 1);
  Accept(ok);
  EXPECT_EQ(Seq(0), before + 1);
  // Replaying the accepted transaction byte for byte is refused.
  Reject(ok, Reason::kBadSequence);
  // Agencies have independent sequences.
  EXPECT_EQ(Seq(2), 0u);
  Accept(Make(2, f.Issue(2, "T0001")));
  EXPECT_EQ(Seq(2), 1u);
}

// ---- determinism and ApplyVerified ------------------------------------------------------------

TEST_F(StateTest, SameInputSameBytes) {
  Accept(Make(0, f.Issue(0, "A0001")));
  const std::vector<SignedTransaction> txs = {
      Make(0, Change(0, "A0001", 2)), Make(1, f.Issue(1, "B0001")),
      Gov(3, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")}, {0, 1, 2})};
  for (const auto& stx : txs) {
    auto a = Apply(state, stx, Ctx());
    auto b = Apply(state, stx, Ctx());
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(a->accepted());
    EXPECT_EQ(Encode(a->changes), Encode(b->changes));
    // Signed again (BIP-340 signatures carry fresh randomness): the changes do not depend on the
    // signature bytes.
    SignedTransaction resigned = stx;
    resigned.signatures.clear();
    const bool gov = std::holds_alternative<RegisterAgencyEvent>(stx.tx.event);
    if (gov) {
      for (size_t v : {size_t{0}, size_t{1}, size_t{2}}) f.SignWith(&resigned, f.validator_keys[v]);
    } else {
      const size_t agency = stx.tx.agency == f.id(0) ? 0 : 1;
      f.SignWith(&resigned, f.agencies[agency].issuing[0]);
    }
    ASSERT_NE(resigned.signatures, stx.signatures);
    auto c = Apply(state, resigned, Ctx());
    ASSERT_TRUE(c.ok() && c->accepted());
    EXPECT_EQ(Encode(c->changes), Encode(a->changes));
  }
  // A second, independently built state reaches byte-identical entries.
  ChainFixture g;
  MemoryState other;
  other.Apply(GenesisChanges(g.genesis));
  other.Apply(Apply(other, At(0, f.Issue(0, "A0001"), 1), {1, time_ms, 0})->changes);
  EXPECT_EQ(Encode(Apply(other, txs[0], Ctx())->changes),
            Encode(Apply(state, txs[0], Ctx())->changes));
  // The context is part of the input: another log index gives another history entry.
  ApplyContext moved = Ctx();
  moved.log_index += 1;
  EXPECT_NE(Apply(state, txs[0], moved)->changes, Apply(state, txs[0], Ctx())->changes);
}

TEST_F(StateTest, ApplyVerifiedMatchesApplyForSignedTransactions) {
  const std::string base = f.BaseId(0, "A0001");
  std::vector<std::function<SignedTransaction()>> script = {
      [&] { return Make(0, f.Issue(0, "A0001")); },
      [&] { return Make(0, Change(0, "A0001", 2)); },
      [&] { return Make(0, Renew(0, "A0001", 3)); },
      [&] {
        return Make(0, SuspendEvent{base, "检查"});
      },
      [&] {
        return Make(0, ResumeEvent{base, "整改完成"});
      },
      [&] { return Transfer(0, base, 1); },
      [&] {
        return Make(1, RevokeEvent{base, RevocationKind::kRevoked, "吊销"});
      },
      [&] {
        return Gov(2, RegisterAgencyEvent{NewAgency("11440000006950390", "gd-0")}, {0, 1, 3});
      },
      [&] {
        return Gov(2, UpdateValidatorsEvent{f.genesis.validators}, {1, 2, 3});
      },
      // Rule-level rejections agree too.
      [&] {
        return Make(1, SuspendEvent{base, "x"});
      },
      [&] { return Make(1, Change(0, "A0001", 4)); },
  };
  for (size_t i = 0; i < script.size(); ++i) {
    SCOPED_TRACE(i);
    SignedTransaction stx = script[i]();
    auto a = Apply(state, stx, Ctx());
    auto v = ApplyVerified(state, stx, Ctx());
    ASSERT_TRUE(a.ok() && v.ok());
    EXPECT_EQ(a->accepted(), v->accepted());
    EXPECT_EQ(a->changes, v->changes);
    if (!a->accepted()) {
      EXPECT_EQ(a->rejection->reason, v->rejection->reason);
      EXPECT_EQ(a->rejection->reason, Reason::kInvalidTransition);
    }
    state.Apply(a->changes);
    ++log_index;
  }
  EXPECT_EQ(Cert(base).status, CertStatus::kRevoked);
}

TEST_F(StateTest, ApplyVerifiedSkipsOnlySignatureVerification) {
  Accept(Make(0, f.Issue(0, "A0001")));
  const std::string base = f.BaseId(0, "A0001");
  // A corrupted signature is caught by Apply only (ApplyVerified trusts the caller).
  SignedTransaction flipped = Make(0, SuspendEvent{base, "x"});
  flipped.signatures[0].signature.bytes[3] ^= 1;
  Reject(flipped, Reason::kBadSignature);
  auto v = ApplyVerified(state, flipped, Ctx());
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->accepted());
  // Signer roles are still enforced.
  Reject(
      MakeSigned(0, SuspendEvent{base, "x"}, {f.agencies[0].issuing[0], f.agencies[0].issuing[0]}),
      Reason::kDuplicateSignature, true);
  Reject(MakeSigned(0, SuspendEvent{base, "x"}, {f.agencies[1].issuing[0]}), Reason::kUnknownSigner,
         true);
  Reject(MakeSigned(0, SuspendEvent{base, "x"}, {}), Reason::kMissingSignature, true);
  Reject(Make(0, TransferEvent{base, f.id(1)}), Reason::kMissingCosignature, true);
  Reject(Gov(0, UpdateValidatorsEvent{f.genesis.validators}, {0, 1}), Reason::kInsufficientPower,
         true);
  Reject(MakeSigned(0, UpdateValidatorsEvent{f.genesis.validators},
                    {f.validator_keys[0], f.validator_keys[1], f.agencies[0].issuing[0]}),
         Reason::kUnknownSigner, true);
}

// ---- effective status and state roots ---------------------------------------------------------

TEST_F(StateTest, EffectiveStatusAtTime) {
  IssueEvent e = f.Issue(0, "A0001");
  Accept(Make(0, e));
  const std::string base = f.BaseId(0, "A0001");
  const int64_t end_ms = e.not_after * 1000;
  CertificateState c = Cert(base);
  EXPECT_EQ(EffectiveStatusAt(c, time_ms), EffectiveStatus::kValid);
  EXPECT_EQ(EffectiveStatusAt(c, end_ms - 1), EffectiveStatus::kValid);
  EXPECT_EQ(EffectiveStatusAt(c, end_ms), EffectiveStatus::kExpired);
  EXPECT_EQ(EffectiveStatusAt(c, end_ms + 86'400'000), EffectiveStatus::kExpired);

  Accept(Make(0, SuspendEvent{base, "检查"}));
  c = Cert(base);
  EXPECT_EQ(EffectiveStatusAt(c, time_ms), EffectiveStatus::kSuspended);
  EXPECT_EQ(EffectiveStatusAt(c, end_ms), EffectiveStatus::kExpired);  // expiry wins

  Accept(Make(0, ResumeEvent{base, ""}));
  EXPECT_EQ(EffectiveStatusAt(Cert(base), time_ms), EffectiveStatus::kValid);

  // A renewal moves the expiry.
  Accept(Make(0, Renew(0, "A0001", 2)));
  c = Cert(base);
  EXPECT_EQ(EffectiveStatusAt(c, end_ms), EffectiveStatus::kValid);
  EXPECT_EQ(EffectiveStatusAt(c, c.not_after * 1000), EffectiveStatus::kExpired);

  for (auto kind : {CertStatus::kWithdrawn, CertStatus::kCancelled, CertStatus::kRevoked}) {
    CertificateState t = c;
    t.status = kind;
    EXPECT_EQ(EffectiveStatusAt(t, time_ms), EffectiveStatus::kRevoked);
    EXPECT_EQ(EffectiveStatusAt(t, c.not_after * 1000 + 1), EffectiveStatus::kRevoked);
  }
  Accept(Make(0, RevokeEvent{base, RevocationKind::kRevoked, "吊销"}));
  EXPECT_EQ(EffectiveStatusAt(Cert(base), time_ms), EffectiveStatus::kRevoked);
}

// The state root commits to the map, not to the history of writes (FORMAT.md §6.3, §6.6).
std::map<Hash256, Hash256> TreeEntries(const MemoryState& s) {
  std::map<Hash256, Hash256> out;
  for (const auto& [k, v] : s.entries()) out[SmtKeyHash(k)] = SmtValueHash(v);
  return out;
}

TEST(StateRootTest, CommitsToTheMapNotTheHistory) {
  MemorySmtNodeStore nodes;
  auto update = [&](const Hash256& root, const std::vector<StateChange>& changes) {
    std::vector<std::pair<Hash256, SmtNode>> out;
    auto r = StateTreeUpdate(nodes, root, changes, &out);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    nodes.PutAll(out);
    return r.ok() ? *r : Hash256{};
  };
  const Hash256 e = SmtEmptyHash();
  const std::vector<StateChange> c1 = {{"cert/a", Bytes{1, 2}}, {"seq/x", Bytes{1}}};
  const std::vector<StateChange> c2 = {{"cert/b", Bytes{3}}};
  const Hash256 r1 = update(e, c1);
  EXPECT_NE(r1, e);
  EXPECT_EQ(r1, update(e, {c1[1], c1[0]}));  // order within a batch does not matter
  std::vector<StateChange> both = c1;
  both.insert(both.end(), c2.begin(), c2.end());
  const Hash256 r12 = update(r1, c2);
  EXPECT_EQ(r12, update(update(e, c2), c1));  // nor the order of the batches
  EXPECT_EQ(r12, update(e, both));
  EXPECT_EQ(r12, SmtRootOf({{SmtKeyHash("cert/a"), SmtValueHash(Bytes{1, 2})},
                            {SmtKeyHash("seq/x"), SmtValueHash(Bytes{1})},
                            {SmtKeyHash("cert/b"), SmtValueHash(Bytes{3})}}));
  // An empty value deletes; deleting an absent key and an empty batch change nothing.
  EXPECT_EQ(update(r12, {{"cert/b", Bytes{}}}), r1);
  EXPECT_EQ(update(r1, {{"cert/zz", Bytes{}}}), r1);
  EXPECT_EQ(update(r1, {}), r1);
  // A key listed twice counts with its last value.
  EXPECT_EQ(update(r1, {{"cert/b", Bytes{9}}, {"cert/b", Bytes{3}}}), r12);
  // Values and key/value boundaries matter.
  EXPECT_NE(update(e, {{"cert/a", Bytes{1}}}), update(e, {{"cert/a", Bytes{2}}}));
  EXPECT_NE(update(e, {{"ab", Bytes{'c'}}}), update(e, {{"a", Bytes{'b', 'c'}}}));
  // A missing node is Corruption, never a silent wrong root.
  MemorySmtNodeStore empty;
  auto missing = StateTreeUpdate(empty, r12, c2, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsCorruption()) << missing.status().ToString();
}

TEST_F(StateTest, GenesisStateRootIsTheTreeOfTheGenesisState) {
  std::vector<std::pair<Hash256, SmtNode>> nodes;
  const Hash256 g = GenesisStateRoot(f.genesis, &nodes);
  EXPECT_EQ(g, SmtRootOf(TreeEntries(state)));
  EXPECT_EQ(g, GenesisTip(f.genesis).state_root);
  // Its nodes prove every genesis entry.
  MemorySmtNodeStore store;
  store.PutAll(nodes);
  for (const auto& [k, v] : state.entries()) {
    auto proof = SmtProve(store, g, SmtKeyHash(k));
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_TRUE(proof->Verify(g, SmtKeyHash(k), SmtValueHash(v)).ok()) << k;
  }
}

}  // namespace
}  // namespace certledger::testing

namespace certledger::testing {
namespace {

// Regression: DEL and C1 control characters are not text (FORMAT.md §5.4).
TEST(TextRuleTest, RejectsDelAndC1Controls) {
  for (const std::string& bad : {std::string("abc\x7f"), std::string("a\xc2\x85z")}) {
    ChainFixture f;
    MemoryState state;
    state.Apply(GenesisChanges(f.genesis));
    IssueEvent e = f.Issue(0, "T1");
    std::get<WaterPermitSummary>(e.summary).purpose = bad;
    auto out = Apply(state, f.Tx(0, e), ApplyContext{1, f.now_s * 1000, 0});
    ASSERT_TRUE(out.ok());
    ASSERT_FALSE(out->accepted());
    EXPECT_STREQ(out->rejection->code(), "malformed");
  }
}

}  // namespace
}  // namespace certledger::testing
