// The verifier (tools/verify.h) against answers of the real /v1/verify handler over a store
// holding every life-cycle event (tests/api/api_test_util.h): statuses derived from proven state,
// proven absence, every field of an answer tampered with, dropped and stale state, freshness.
#include "tools/verify.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/attestation.h"
#include "api/handlers.h"
#include "api/json.h"
#include "api/staple.h"
#include "tests/api/api_test_util.h"
#include "tools/qr.h"

namespace certledger::testing {
namespace {

using Json = nlohmann::json;

// The facts a verifier reports: tampering with an answer must refuse it or change none of them.
struct Facts {
  std::string status, stored_status, certificate, identifier, issuer, issuer_name, controller,
      controller_name, status_reason;
  uint32_t version = 0, current_version = 0, superseded_by_version = 0;
  int64_t not_after = 0, status_changed_ms = 0;
  Hash256 superseded_by_document;
  uint64_t height = 0;
  bool operator==(const Facts&) const = default;
};
Facts FactsOf(const tools::VerifiedAnswer& v) {
  return {v.status,
          v.stored_status,
          v.certificate,
          v.identifier,
          v.issuer,
          v.issuer_name,
          v.controller,
          v.controller_name,
          v.status_reason,
          v.version,
          v.current_version,
          v.superseded_by_version,
          v.not_after,
          v.status_changed_ms,
          v.superseded_by_document,
          v.header.height};
}

class VerifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ledger_ = new TestLedger(); }
  static void TearDownTestSuite() {
    delete ledger_;
    ledger_ = nullptr;
  }

  // The answer of the /v1/verify handler over `store` at the fixture's "now", signed by the
  // node identity `key` if one is given.
  static Json Answer(const Store& store, const Hash256& hash,
                     const std::optional<PrivateKey>& key = std::nullopt) {
    FakeNode node(&store);
    node.answer_key = key;
    api::ApiOptions o;
    o.now_ms = [] { return ledger_->now_ms(); };
    api::Api api(&node, o);
    // The reply comes from the answer signer's thread: wait for it (bounded).
    std::promise<api::Response> promise;
    auto future = promise.get_future();
    api.Handle({"GET", "/v1/verify/" + hash.Hex(), "", "", "", "127.0.0.1"},
               [&promise](api::Response r) { promise.set_value(std::move(r)); });
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const api::Response out = future.get();
    auto j = api::ParseJson(out.body);
    EXPECT_TRUE(j.ok()) << out.body;
    return j.ok() ? *j : Json();
  }
  static Json Answer(const Hash256& hash) { return Answer(*ledger_->store, hash); }
  // What a Byzantine node does: sign whatever it answers.
  static void Resign(Json* answer, const PrivateKey& key) {
    answer->erase("attestation");
    const std::string request = "GET /v1/verify/" + (*answer)["document_hash"].get<std::string>();
    const uint64_t height = (*answer)["proof"]["header"]["height"].get<uint64_t>();
    const Hash256 h = api::AnswerHash(*answer);
    (*answer)["attestation"] = api::AttestationJson(
        {key.public_key(), request, height, h,
         key.Sign(api::AnswerSigningDigest(ledger_->f.domain(), request, height, h))});
  }

  // The same, but signed as answer `index` of a batch of `size` (FORMAT.md §15 version 2; the
  // other leaves are digests of other answers).
  static void ResignInBatch(Json* answer, const PrivateKey& key, size_t index, size_t size) {
    answer->erase("attestation");
    const std::string request = "GET /v1/verify/" + (*answer)["document_hash"].get<std::string>();
    const uint64_t height = (*answer)["proof"]["header"]["height"].get<uint64_t>();
    const Hash256 h = api::AnswerHash(*answer);
    std::vector<Hash256> leaves;
    for (size_t i = 0; i < size; ++i) {
      leaves.push_back(i == index
                           ? api::AnswerSigningDigest(ledger_->f.domain(), request, height, h)
                           : Sha256(AsBytes("another answer " + std::to_string(i))));
    }
    auto batch = api::SignAnswerBatch(
        ledger_->f.domain(), leaves,
        [&](const Hash256& d) -> std::optional<std::pair<PublicKey, Signature>> {
          return std::pair{key.public_key(), key.Sign(d)};
        });
    ASSERT_TRUE(batch.has_value());
    (*answer)["attestation"] =
        api::AttestationJson(api::MakeAttestation((*batch)[index], request, height, h));
  }

  static Result<tools::VerifiedAnswer> Check(const Json& answer, const Hash256& hash,
                                             int64_t now_ms = 0, int64_t max_age_ms = 0) {
    tools::VerifyOptions o;
    o.document_hash = hash;
    o.now_ms = now_ms == 0 ? ledger_->now_ms() : now_ms;
    o.max_age_ms = max_age_ms;
    return tools::CheckVerificationAnswer(answer, ledger_->f.genesis, o);
  }
  // An answer about `hash` altered by someone other than its signer: refused for its
  // attestation, and no evidence against the node.
  static void ExpectRefusedAndNoEvidence(const Json& altered, const Hash256& hash) {
    auto r = Check(altered, hash);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("attestation"), std::string::npos) << r.status().ToString();
    auto none = tools::CheckEvidence(
        tools::MakeEvidence(ledger_->f.genesis, hash, {{"altered", altered}}, ledger_->now_ms()),
        ledger_->f.genesis);
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->empty());
  }
  static int64_t BlockTime(size_t height) {
    return ledger_->blocks[height - 1].block.header.time_ms;
  }

  static TestLedger* ledger_;
};
TestLedger* VerifyTest::ledger_ = nullptr;

TEST_F(VerifyTest, EveryStatusIsDerivedFromProvenState) {
  struct Case {
    Hash256 hash;
    std::string status, stored;
    uint32_t version, current;
  };
  const TestLedger& l = *ledger_;
  const std::vector<Case> cases = {
      {l.a1, "superseded", "valid", 1, 3}, {l.a2, "superseded", "valid", 2, 3},
      {l.a3, "valid", "valid", 3, 3},      {l.b1, "suspended", "suspended", 1, 1},
      {l.c1, "revoked", "revoked", 1, 1},  {l.d1, "valid", "valid", 1, 1},
      {l.e1, "expired", "valid", 1, 1},    {l.i1, "valid", "valid", 1, 1}};
  for (const Case& c : cases) {
    auto v = Check(Answer(c.hash), c.hash);
    ASSERT_TRUE(v.ok()) << c.status << ": " << v.status().ToString();
    EXPECT_EQ(v->status, c.status);
    EXPECT_EQ(v->stored_status, c.stored);
    EXPECT_EQ(v->version, c.version);
    EXPECT_EQ(v->current_version, c.current);
    EXPECT_EQ(v->header.height, 3u);
    EXPECT_EQ(v->issuer, l.f.id(0));
    EXPECT_FALSE(v->issuer_name.empty());
    EXPECT_GE(v->state_entries, 3u);  // doc, cert, agency
  }
  // Superseded: the newer version is named from the proven state.
  auto a1 = Check(Answer(l.a1), l.a1);
  ASSERT_TRUE(a1.ok());
  EXPECT_EQ(a1->superseded_by_version, 3u);
  EXPECT_EQ(a1->superseded_by_document, l.a3);
  // The renewed version's end of validity is proven (it is the state's, not an event's).
  auto a3 = Check(Answer(l.a3), l.a3);
  ASSERT_TRUE(a3.ok());
  auto cert = ReadCertificate(*l.store, l.base_a);
  ASSERT_TRUE(cert.ok() && cert->has_value());
  EXPECT_EQ(a3->not_after, (*cert)->not_after);
  // Suspension and revocation: reason and date (the block time of the event).
  auto b1 = Check(Answer(l.b1), l.b1);
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(b1->status_reason, "未按规定安装计量设施");
  EXPECT_EQ(b1->status_changed_ms, BlockTime(2));
  auto c1 = Check(Answer(l.c1), l.c1);
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->status_reason, "擅自转让");
  EXPECT_EQ(c1->status_changed_ms, BlockTime(2));
  EXPECT_EQ(tools::StatusLine(*c1), "已吊销 / Revoked");
  // Transferred: the responsible agency is proven too.
  auto d1 = Check(Answer(l.d1), l.d1);
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1->controller, l.f.id(1));
  EXPECT_EQ(d1->controller_name, "浙江省水利厅");
}

TEST_F(VerifyTest, UnknownIsProvenAbsent) {
  const Hash256 nothing = Sha256(AsBytes("no such document"));
  Json answer = Answer(nothing);
  auto v = Check(answer, nothing);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->status, "unknown");
  EXPECT_EQ(v->state_entries, 1u);
  // A node cannot hide a certificate by claiming "unknown": the absence proof fails for it.
  Json lie = Answer(ledger_->c1);
  Json absent = answer;
  absent["document_hash"] = ledger_->c1.Hex();
  absent["proof"]["state"][0]["key"] = DocKey(ledger_->c1);
  auto r = Check(absent, ledger_->c1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not show absence"), std::string::npos)
      << r.status().ToString();
  // Nor claim "unknown" over a real proof.
  lie["status"] = "unknown";
  EXPECT_FALSE(Check(lie, ledger_->c1).ok());
}

// Every leaf of an answer changed, and every member removed, one at a time: the verifier either
// refuses the answer or reports exactly the same facts. Changes to what the facts rest on (the
// header, the commit's signatures, the state entries, the event leaves and paths, the claims)
// must be refused.
TEST_F(VerifyTest, EveryFieldTamperedIsRefusedOrChangesNothing) {
  const TestLedger& l = *ledger_;
  size_t refused = 0, harmless = 0;
  for (const Hash256& hash : {l.a1, l.b1, l.c1, l.d1, Sha256(AsBytes("absent"))}) {
    const Json honest = Answer(hash);
    auto base = Check(honest, hash);
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    const Facts want = FactsOf(*base);
    const Json flat = honest.flatten();
    auto must_refuse = [](const std::string& ptr) {
      for (const char* p : {"/status", "/document_hash", "/proof/header/", "/proof/state/",
                            "/proof/state_root", "/proof/log_root", "/certificate", "/identifier",
                            "/certificate_status", "/version", "/current_version", "/stored_status",
                            "/status_reason", "/not_after", "/superseded_by/document_hash",
                            "/status_changed/", "/summary/", "/issuer/", "/controller/"}) {
        if (ptr.rfind(p, 0) == 0) return true;
      }
      // Event leaves, inclusion paths, indexes, ids.
      if (ptr.rfind("/proof/events/", 0) == 0) {
        for (const char* p : {"/leaf", "/inclusion/", "/log_index", "/tx_hash", "/role"}) {
          if (ptr.find(p) != std::string::npos) return true;
        }
      }
      // Commit signatures and block id.
      if (ptr.rfind("/proof/commit/", 0) == 0) {
        return ptr.find("/signature") != std::string::npos ||
               ptr.find("/block_hash") != std::string::npos ||
               ptr.find("/height") != std::string::npos;
      }
      return false;
    };
    auto expect = [&](const Json& tampered, const std::string& what, bool refuse) {
      auto r = Check(tampered, hash);
      if (!r.ok()) {
        ++refused;
        return;
      }
      EXPECT_FALSE(refuse) << what << " was accepted";
      EXPECT_EQ(FactsOf(*r), want) << what << " changed the verified facts";
      ++harmless;
    };
    for (const auto& [ptr, value] : flat.items()) {
      Json t = flat;
      if (value.is_string()) {
        std::string s = value.get<std::string>();
        if (!s.empty() && std::isxdigit(static_cast<unsigned char>(s.back()))) {
          s.back() = s.back() == '0' ? '1' : '0';
        } else {
          s += "x";
        }
        t[ptr] = s;
      } else if (value.is_number_unsigned()) {
        t[ptr] = value.get<uint64_t>() + 1;
      } else if (value.is_number_integer()) {
        t[ptr] = value.get<int64_t>() + 1;
      } else if (value.is_boolean()) {
        t[ptr] = !value.get<bool>();
      } else if (value.is_null()) {
        t[ptr] = "00";
      } else {
        continue;
      }
      expect(t.unflatten(), "changing " + ptr, must_refuse(ptr));
    }
    // Removing members of the answer and of the proof.
    for (const std::string member :
         {"/status", "/proof/state", "/proof/events", "/proof/header", "/proof/commit"}) {
      Json t = honest;
      Json::json_pointer p(member);
      if (!t.contains(p)) continue;
      t[p.parent_pointer()].erase(p.back());
      expect(t, "removing " + member,
             member != "/proof/events" || !honest["proof"]["events"].empty());
    }
    for (size_t i = 0; i < honest["proof"]["state"].size(); ++i) {
      Json t = honest;
      t["proof"]["state"].erase(i);
      // The agency records only name the agencies: without them the facts lose the names.
      auto r = Check(t, hash);
      if (r.ok()) {
        EXPECT_EQ(FactsOf(*r).status, want.status);
        EXPECT_NE(honest["proof"]["state"][i]["key"].get<std::string>().rfind("agency/", 0),
                  std::string::npos)
            << "dropping state entry " << i << " was accepted";
      }
    }
    for (size_t i = 0; i < honest["proof"]["events"].size(); ++i) {
      Json t = honest;
      t["proof"]["events"].erase(i);
      expect(t, "dropping event " + std::to_string(i), true);
    }
  }
  // The test must bite: most changes are refused.
  EXPECT_GT(refused, 300u);
  EXPECT_GT(harmless, 0u);
}

// A node that serves an older certificate state (from before the revocation) under the current
// header, or an old answer as a whole.
TEST_F(VerifyTest, DroppedOrStaleStateIsRefused) {
  const TestLedger& l = *ledger_;
  TempDir dir;
  LevelDBStoreOptions o;
  o.path = dir.path();
  o.sync = false;
  auto opened = OpenLevelDBStore(o);
  ASSERT_TRUE(opened.ok());
  std::unique_ptr<Store> old = std::move(opened).value();
  ASSERT_TRUE(old->Initialize(l.f.genesis).ok());
  const BuiltBlock& b1 = l.blocks[0];
  ASSERT_TRUE(old->AppendBlock(b1.block, b1.commit, b1.effects).ok());

  const Json then = Answer(*old, l.c1);  // valid at height 1
  const Json now = Answer(l.c1);         // revoked at height 3
  ASSERT_EQ(then["status"], "valid");
  ASSERT_EQ(now["status"], "revoked");

  // The old state entries under the new header.
  {
    Json t = now;
    t["proof"]["state"] = then["proof"]["state"];
    t["proof"]["events"] = then["proof"]["events"];
    for (const char* k : {"status", "stored_status", "status_reason"}) t[k] = then[k];
    t.erase("status_changed");
    auto r = Check(t, l.c1);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("state_root"), std::string::npos) << r.status().ToString();
  }
  // The latest-status event left out (the attack of issue #10): the state still records it.
  {
    Json t = now;
    Json events = Json::array();
    for (const auto& e : t["proof"]["events"]) {
      if (e["role"] != "latest-status") events.push_back(e);
    }
    t["proof"]["events"] = events;
    t["status"] = "valid";
    auto r = Check(t, l.c1);
    ASSERT_FALSE(r.ok());
  }
  // The old answer as a whole is a correct proof of an old state: only freshness refuses it.
  const int64_t max_age = 10 * 60 * 1000;
  auto fresh_then = Check(then, l.c1, BlockTime(1) + 5 * 60 * 1000, max_age);
  ASSERT_TRUE(fresh_then.ok()) << fresh_then.status().ToString();
  EXPECT_EQ(fresh_then->status, "valid");
  auto stale = Check(then, l.c1, BlockTime(1) + max_age + 1000, max_age);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.status().message().find("stale answer"), std::string::npos)
      << stale.status().ToString();
  auto fresh_now = Check(now, l.c1, BlockTime(3) + max_age - 1000, max_age);
  ASSERT_TRUE(fresh_now.ok()) << fresh_now.status().ToString();
  EXPECT_EQ(fresh_now->status, "revoked");
}

// Accountable reads: a signed answer names its signer; one that lies is evidence against it that
// anyone can check offline; tampering with someone else's signed answer incriminates nobody.
TEST_F(VerifyTest, SignedAnswersAndEvidence) {
  const TestLedger& l = *ledger_;
  const PrivateKey node0 = TestKey("node-0");
  const Json honest = Answer(*l.store, l.c1, node0);
  ASSERT_TRUE(honest.contains("attestation"));
  auto v = Check(honest, l.c1);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_TRUE(v->signed_by.has_value());
  EXPECT_EQ(*v->signed_by, node0.public_key());
  EXPECT_EQ(v->signer_agency, l.f.id(0));
  // Unsigned answers verify with a note.
  auto unsigned_answer = Check(Answer(l.c1), l.c1);
  ASSERT_TRUE(unsigned_answer.ok());
  EXPECT_FALSE(unsigned_answer->signed_by.has_value());

  // Someone else's change breaks the signature: refused, and not evidence against the node.
  Json tampered = honest;
  tampered["status"] = "valid";
  ExpectRefusedAndNoEvidence(tampered, l.c1);

  // The node itself signs the lie (a revoked permit answered "valid"): evidence.
  Json lie = honest;
  for (const char* k : {"status", "stored_status", "certificate_status"}) lie[k] = "valid";
  Resign(&lie, node0);
  Json file = tools::MakeEvidence(l.f.genesis, l.c1,
                                  {{"http://liar", lie}, {"http://honest", honest}}, l.now_ms());
  ASSERT_EQ(file["findings"].size(), 1u) << file["findings"].dump();
  // Round trip through text, checked by a third party with only the genesis.
  auto findings = tools::CheckEvidence(Json::parse(file.dump()), l.f.genesis);
  ASSERT_TRUE(findings.ok()) << findings.status().ToString();
  ASSERT_EQ(findings->size(), 1u);
  EXPECT_EQ((*findings)[0].node_key, node0.public_key());
  EXPECT_EQ((*findings)[0].agency, l.f.id(0));
  EXPECT_EQ((*findings)[0].height, 3u);
  EXPECT_NE((*findings)[0].reason.find("status"), std::string::npos) << (*findings)[0].reason;
  // Editing the evidence (the lie's status put back) breaks its signature: nothing is proven.
  Json edited = file;
  edited["answers"][0]["answer"]["status"] = "revoked";
  auto after_edit = tools::CheckEvidence(edited, l.f.genesis);
  ASSERT_TRUE(after_edit.ok());
  EXPECT_TRUE(after_edit->empty());
  // Evidence of another chain is refused.
  Json other = file;
  other["genesis_hash"] = std::string(64, '0');
  EXPECT_FALSE(tools::CheckEvidence(other, l.f.genesis).ok());

  // A stale but true signed answer is not a lie.
  TempDir dir;
  LevelDBStoreOptions o;
  o.path = dir.path();
  o.sync = false;
  auto opened = OpenLevelDBStore(o);
  ASSERT_TRUE(opened.ok());
  std::unique_ptr<Store> old = std::move(opened).value();
  ASSERT_TRUE(old->Initialize(l.f.genesis).ok());
  ASSERT_TRUE(old->AppendBlock(l.blocks[0].block, l.blocks[0].commit, l.blocks[0].effects).ok());
  const Json then = Answer(*old, l.c1, node0);
  auto stale = tools::CheckEvidence(
      tools::MakeEvidence(l.f.genesis, l.c1, {{"old", then}, {"new", honest}}, l.now_ms()),
      l.f.genesis);
  ASSERT_TRUE(stale.ok());
  EXPECT_TRUE(stale->empty());
}

// The same with answers signed in a batch (attestation version 2): the verifier names the signer,
// a lie is evidence, an altered batch position is refused and incriminates nobody.
TEST_F(VerifyTest, BatchSignedAnswersAndEvidence) {
  const TestLedger& l = *ledger_;
  const PrivateKey node0 = TestKey("node-0");
  Json honest = Answer(*l.store, l.c1);
  ResignInBatch(&honest, node0, 2, 5);
  ASSERT_EQ(honest["attestation"]["version"], 2);
  auto v = Check(honest, l.c1);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_TRUE(v->signed_by.has_value());
  EXPECT_EQ(*v->signed_by, node0.public_key());
  EXPECT_EQ(v->signer_agency, l.f.id(0));

  // A batch position altered by someone else: refused, and not evidence against the node.
  Json moved = honest;
  moved["attestation"]["batch"]["index"] = 3;
  ExpectRefusedAndNoEvidence(moved, l.c1);

  // The node signs a lie in a batch: evidence, checked offline through text.
  Json lie = honest;
  for (const char* k : {"status", "stored_status", "certificate_status"}) lie[k] = "valid";
  ResignInBatch(&lie, node0, 0, 3);
  Json file = tools::MakeEvidence(l.f.genesis, l.c1,
                                  {{"http://liar", lie}, {"http://honest", honest}}, l.now_ms());
  ASSERT_EQ(file["findings"].size(), 1u) << file["findings"].dump();
  auto findings = tools::CheckEvidence(Json::parse(file.dump()), l.f.genesis);
  ASSERT_TRUE(findings.ok()) << findings.status().ToString();
  ASSERT_EQ(findings->size(), 1u);
  EXPECT_EQ((*findings)[0].node_key, node0.public_key());
  EXPECT_EQ((*findings)[0].agency, l.f.id(0));
  EXPECT_NE((*findings)[0].reason.find("status"), std::string::npos) << (*findings)[0].reason;
  // Editing a path hash of the evidence breaks the attribution: nothing is proven.
  Json edited = file;
  auto p0 = edited["answers"][0]["answer"]["attestation"]["batch"]["path"][0].get<std::string>();
  p0[0] = p0[0] == '0' ? '1' : '0';
  edited["answers"][0]["answer"]["attestation"]["batch"]["path"][0] = p0;
  auto after_edit = tools::CheckEvidence(edited, l.f.genesis);
  ASSERT_TRUE(after_edit.ok());
  EXPECT_TRUE(after_edit->empty());
}

// Two different blocks committed at one height (more than 1/3 of the validators equivocated):
// the evidence names the validators that signed both.
TEST_F(VerifyTest, EvidenceOfTwoCommittedBlocksAtOneHeight) {
  ChainFixture f;
  ChainBuilder a(&f), b(&f);
  BuiltBlock ba = a.Next({f.Tx(0, f.Issue(0, "F0001"))});
  BuiltBlock bb = b.Next({f.Tx(1, f.Issue(1, "F0002"))});
  ASSERT_NE(BlockHash(ba.block.header), BlockHash(bb.block.header));
  auto answer_of = [](const BuiltBlock& x) {
    return Json{
        {"proof", {{"header", api::ToJson(x.block.header)}, {"commit", api::ToJson(x.commit)}}}};
  };
  const Hash256 doc = Sha256(AsBytes("any"));
  auto findings = tools::CheckEvidence(
      tools::MakeEvidence(f.genesis, doc, {{"a", answer_of(ba)}, {"b", answer_of(bb)}}, 0),
      f.genesis);
  ASSERT_TRUE(findings.ok()) << findings.status().ToString();
  ASSERT_EQ(findings->size(), 1u);
  EXPECT_EQ((*findings)[0].height, 1u);
  EXPECT_NE((*findings)[0].reason.find(f.genesis.validators.validators[0].key.Hex().substr(0, 16)),
            std::string::npos)
      << (*findings)[0].reason;
  // One block twice proves nothing.
  auto same = tools::CheckEvidence(
      tools::MakeEvidence(f.genesis, doc, {{"a", answer_of(ba)}, {"a2", answer_of(ba)}}, 0),
      f.genesis);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty());
}

// ---- offline status staples (FORMAT.md §16) ----------------------------------------------------

TEST(Base45Test, Rfc9285Examples) {
  const std::pair<const char*, const char*> examples[] = {
      {"AB", "BB8"}, {"Hello!!", "%69 VD92EX0"}, {"base-45", "UJCLQE7W581"}, {"ietf!", "QED8WEX0"}};
  for (const auto& [plain, encoded] : examples) {
    EXPECT_EQ(api::Base45Encode(AsBytes(plain)), encoded);
    auto back = api::Base45Decode(encoded);
    ASSERT_TRUE(back);
    EXPECT_EQ(std::string(back->begin(), back->end()), plain);
  }
  EXPECT_FALSE(api::Base45Decode("GGW"));  // 65535 + 1: out of range
  EXPECT_FALSE(api::Base45Decode("A"));    // a lone character
  EXPECT_FALSE(api::Base45Decode("ab"));   // not in the alphabet
}

class StapleTest : public VerifyTest {
 protected:
  static Result<api::Staple> GetStaple(const Hash256& hash, int* http = nullptr,
                                       std::shared_ptr<const StoreView> checkpoint = nullptr) {
    FakeNode node(ledger_->store.get());
    node.checkpoint_view = std::move(checkpoint);
    api::ApiOptions o;
    o.now_ms = [] { return ledger_->now_ms(); };
    api::Api api(&node, o);
    api::Response out;
    api.Handle({"GET", "/v1/staple/" + hash.Hex(), "", "", "", "127.0.0.1"},
               [&](api::Response r) { out = std::move(r); });
    if (http != nullptr) *http = out.status;
    if (out.status != 200) return Status::NotFound(out.body);
    EXPECT_EQ(out.content_type, "application/octet-stream");
    return api::Staple::Decode(AsBytes(out.body));
  }
  static Result<api::StapleFacts> VerifyAt(const api::Staple& s, int64_t now_ms,
                                           const std::vector<BlockHeader>& checkpoints = {}) {
    return api::VerifyStaple(s, ledger_->f.domain(), ledger_->f.genesis.validators, checkpoints,
                             now_ms, 0);
  }
};

TEST_F(StapleTest, EveryStatusOffline) {
  const TestLedger& l = *ledger_;
  const std::pair<Hash256, std::string> cases[] = {{l.a1, "superseded"}, {l.a3, "valid"},
                                                   {l.b1, "suspended"},  {l.c1, "revoked"},
                                                   {l.e1, "expired"},    {l.d1, "valid"}};
  for (const auto& [hash, status] : cases) {
    auto s = GetStaple(hash);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->anchor, api::Staple::Anchor::kEmbedded);
    EXPECT_EQ(s->document_hash, hash);
    EXPECT_EQ(api::Staple::Decode(s->Encode())->Encode(), s->Encode());
    auto f = VerifyAt(*s, l.now_ms());
    ASSERT_TRUE(f.ok()) << status << ": " << f.status().ToString();
    EXPECT_EQ(f->status, status);
    EXPECT_EQ(f->header.height, 3u);
    // Only as many signatures as a quorum needs (3 of 4 equal powers).
    EXPECT_EQ(s->signatures.size(), 3u);
  }
  auto c1 = VerifyAt(*GetStaple(l.c1), l.now_ms());
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->cert.status_reason, "擅自转让");
  // No staple for a document that is not on the ledger (the JSON answer proves the absence).
  int http = 0;
  EXPECT_FALSE(GetStaple(Sha256(AsBytes("absent")), &http).ok());
  EXPECT_EQ(http, 404);
}

TEST_F(StapleTest, ExpiresAndRefusesEveryAlteredByte) {
  const TestLedger& l = *ledger_;
  auto s = GetStaple(l.c1);
  ASSERT_TRUE(s.ok());
  const int64_t header_ms = s->header.time_ms;
  EXPECT_TRUE(VerifyAt(*s, header_ms + api::kStapleValidityMs).ok());
  auto late = VerifyAt(*s, header_ms + api::kStapleValidityMs + 1);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("expired"), std::string::npos);
  // A later expiry written into the staple (it is not signed) changes nothing.
  api::Staple extended = *s;
  extended.expires_ms += 365LL * 86400 * 1000;
  EXPECT_FALSE(VerifyAt(extended, header_ms + api::kStapleValidityMs + 1).ok());
  // The verifier's own maximum age.
  EXPECT_FALSE(
      api::VerifyStaple(*s, l.f.domain(), l.f.genesis.validators, {}, header_ms + 61'000, 60'000)
          .ok());

  // Every byte altered (each bit position in turn across bytes): refused, or (the unsigned
  // expiry) the same facts with no later limit. Truncations and a trailing byte are refused.
  const Bytes bytes = s->Encode();
  const auto want = VerifyAt(*s, l.now_ms());
  ASSERT_TRUE(want.ok());
  size_t refused = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    Bytes t = bytes;
    t[i] ^= static_cast<uint8_t>(1u << (i % 8));
    auto d = api::Staple::Decode(t);
    if (!d.ok()) {
      ++refused;
      continue;
    }
    auto f = VerifyAt(*d, l.now_ms());
    if (!f.ok()) {
      ++refused;
      continue;
    }
    EXPECT_EQ(f->status, want->status) << "byte " << i;
    EXPECT_EQ(f->cert, want->cert) << "byte " << i;
    EXPECT_LE(f->expires_ms, want->expires_ms + 0) << "byte " << i;
    EXPECT_TRUE(i >= 33 && i < 41) << "byte " << i << " (not the expiry) was accepted";
  }
  EXPECT_GT(refused, bytes.size() - 9);
  for (size_t n = 0; n < bytes.size(); n += 7) {
    EXPECT_FALSE(api::Staple::Decode(ByteSpan(bytes.data(), n)).ok()) << n;
  }
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(api::Staple::Decode(longer).ok());
  // Another chain's validators.
  ChainFixture other;
  other.genesis.params.chain_id = "other-chain";
  EXPECT_FALSE(
      api::VerifyStaple(*s, other.domain(), other.genesis.validators, {}, l.now_ms(), 0).ok());
}

// Large validator sets: the staple rests on a checkpoint the verifier holds.
TEST_F(StapleTest, CheckpointAnchoredStaple) {
  const TestLedger& l = *ledger_;
  auto embedded = GetStaple(l.b1);
  ASSERT_TRUE(embedded.ok());
  api::Staple s = *embedded;
  s.anchor = api::Staple::Anchor::kCheckpoint;
  s.checkpoint_height = s.header.height;
  s.checkpoint_block_id = BlockHash(s.header);
  const BlockHeader checkpoint = s.header;
  s.header = BlockHeader{};
  s.signers.clear();
  s.signatures.clear();
  auto decoded = api::Staple::Decode(s.Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_LT(s.Encode().size(), embedded->Encode().size());
  auto f = VerifyAt(*decoded, l.now_ms(), {checkpoint});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->status, "suspended");
  auto missing = VerifyAt(*decoded, l.now_ms());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("checkpoint"), std::string::npos);
  BlockHeader other = checkpoint;
  other.time_ms += 1;
  EXPECT_FALSE(VerifyAt(*decoded, l.now_ms(), {other}).ok());

  // GET /v1/checkpoint serves the node's checkpoint view; none: 404.
  FakeNode node(l.store.get());
  api::ApiOptions o;
  api::Api api(&node, o);
  api::Response out;
  api.Handle({"GET", "/v1/checkpoint", "", "", "", "127.0.0.1"},
             [&](api::Response r) { out = std::move(r); });
  EXPECT_EQ(out.status, 404);
  node.checkpoint_view = l.store->View();
  api.Handle({"GET", "/v1/checkpoint", "", "", "", "127.0.0.1"},
             [&](api::Response r) { out = std::move(r); });
  ASSERT_EQ(out.status, 200) << out.body;
  auto j = api::ParseJson(out.body);
  ASSERT_TRUE(j.ok());
  auto header = api::FromJson<BlockHeader>((*j)["header"]);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(*header, checkpoint);
}

// The sizes FORMAT.md §16 reports: this ledger's staples with 4 validators, the same with the
// quorum signatures of 7 and 40 validators, and with a proof as deep as in a tree of a million
// certificates (3 million entries: ~23 levels); which fit in one QR code at level M with a URL.
TEST_F(StapleTest, SizesAndQrFit) {
  const TestLedger& l = *ledger_;
  auto s = GetStaple(l.a3);
  ASSERT_TRUE(s.ok());
  auto proof = SmtProof::Decode(s->cert_proof);
  ASSERT_TRUE(proof.ok());
  ASSERT_FALSE(s->signatures.empty());
  const Signature sig0 = s->signatures.front();
  SmtProof deep = *proof;
  std::vector<Hash256> upper(23 - std::min<size_t>(23, deep.siblings.size()), Sha256(AsBytes("x")));
  deep.siblings.insert(deep.siblings.begin(), upper.begin(), upper.end());
  const std::string url = "https://verify.mwr.gov.cn/v/" + l.a3.Hex();
  TempDir dir;
  for (const size_t n : {size_t{4}, size_t{7}, size_t{40}}) {
    const size_t quorum = n * 2 / 3 + 1;
    for (const bool deep_proof : {false, true}) {
      api::Staple t = *s;
      if (deep_proof) t.cert_proof = deep.Encode();
      t.signers.assign((n + 7) / 8, 0);
      t.signatures = std::vector<Signature>(quorum, sig0);
      const size_t embedded = t.Encode().size();
      api::Staple cp = t;
      cp.anchor = api::Staple::Anchor::kCheckpoint;
      const size_t anchored = cp.Encode().size();
      int version = 0;
      const bool fits =
          tools::WriteStapleQr(url, t.Encode(), dir.path() + "/q.png", 1, &version).ok();
      int cp_version = 0;
      ASSERT_TRUE(
          tools::WriteStapleQr(url, cp.Encode(), dir.path() + "/q.png", 1, &cp_version).ok());
      std::printf(
          "[ figures  ] %zu validators (%zu signatures), %s proof: staple %zu bytes with "
          "its commit (%s), %zu bytes on a checkpoint (QR version %d)\n",
          n, quorum, deep_proof ? "1M-certificate depth" : "test-ledger", embedded,
          fits ? ("QR version " + std::to_string(version)).c_str() : "does not fit", anchored,
          cp_version);
      if (n == 4) {
        EXPECT_TRUE(fits);
      }
      if (n == 40) {
        EXPECT_FALSE(fits);
      }
      EXPECT_EQ(embedded <= api::kStapleEmbeddedMaxBytes || !fits, true);
    }
  }
}

// A staple QR code written as PNG and read back through the image decoder.
TEST_F(StapleTest, QrImageRoundTrip) {
  const TestLedger& l = *ledger_;
  auto s = GetStaple(l.c1);
  ASSERT_TRUE(s.ok());
  TempDir dir;
  const std::string png = dir.path() + "/staple.png";
  const std::string url = "http://127.0.0.1:8080/v/" + l.c1.Hex();
  int version = 0;
  ASSERT_TRUE(tools::WriteStapleQr(url, s->Encode(), png, 4, &version).ok());
  auto text = tools::ReadQrImage(png);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto parsed = tools::ParseStapleQrText(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->url, url);
  EXPECT_EQ(parsed->staple, s->Encode());
  EXPECT_FALSE(tools::ReadQrImage(dir.path() + "/missing.png").ok());
}

}  // namespace
}  // namespace certledger::testing
