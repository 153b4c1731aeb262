#include "api/json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/attestation.h"
#include "ledger/encoding.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {
namespace {

using api::FromJson;
using api::Json;
using api::ToJson;

template <class T>
void ExpectRoundTrip(const T& v) {
  Json j = ToJson(v);
  // Through text too, as clients see it.
  auto parsed = api::ParseJson(j.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto back = FromJson<T>(*parsed);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << j.dump(2);
  EXPECT_EQ(*back, v) << j.dump(2);
}

std::vector<Event> EveryEvent(ChainFixture& f) {
  std::vector<Event> out;
  IssueEvent issue = f.Issue(0, "S0001");
  std::get<WaterPermitSummary>(issue.summary)
      .intakes.push_back(
          {"2号井", -1, 2, WaterSource::kGroundwater, IntakeState::kSealed, "第四系"});
  out.emplace_back(issue);
  ChangeEvent change{f.CertId(0, "S0001", 2),
                     Sha256(AsBytes("x")),
                     std::nullopt,
                     sample::PermitSummary("B320115G2026-0001"),
                     {"source", "purpose"}};
  out.emplace_back(change);
  change.holder_commitment = Sha256(AsBytes("holder"));
  out.emplace_back(change);
  out.emplace_back(RenewEvent{f.CertId(0, "S0001", 3), Sha256(AsBytes("y")), 1'900'000'000});
  out.emplace_back(SuspendEvent{f.BaseId(0, "S0001"), "理由"});
  out.emplace_back(ResumeEvent{f.BaseId(0, "S0001"), ""});
  for (auto k :
       {RevocationKind::kWithdrawn, RevocationKind::kCancelled, RevocationKind::kRevoked}) {
    out.emplace_back(RevokeEvent{f.BaseId(0, "S0001"), k, "r"});
  }
  out.emplace_back(TransferEvent{f.BaseId(0, "S0001"), f.id(1)});
  out.emplace_back(RegisterAgencyEvent{f.genesis.agencies[2]});
  out.emplace_back(UpdateValidatorsEvent{f.genesis.validators});
  return out;
}

// The summary's two forms agree: WriteJson (answers, canonical text) is ToJson's tree
// serialised canonically, whatever the strings hold (Chinese, quotes, control characters, bytes
// that are not UTF-8: both repair them the same way) and however many intakes.
TEST(JsonTest, SummaryWriterMatchesTree) {
  WaterPermitSummary s = sample::PermitSummary("B320115S2026-0001");
  std::vector<std::string> texts = {"", "南京 \"引号\" \\ 反斜杠", std::string("a\x01\x1f\tb\n"),
                                    std::string("bad \xff\xfe utf-8"), "\x7f"};
  for (const std::string& t : texts) {
    s.holder_name = t;
    s.purpose = t;
    s.intakes.push_back(
        {t, -118796877, 32060255, WaterSource::kGroundwater, IntakeState::kEmergencyBackup, t});
    for (const CertSummary& summary : {CertSummary(s)}) {
      std::string text;
      api::JsonWriter w(&text);
      api::WriteJson(w, summary);
      EXPECT_EQ(text, ToJson(summary).dump(-1, ' ', false, Json::error_handler_t::replace)) << t;
    }
  }
}

// FORMAT.md §15: the worked example, and the canonical text the answer hash covers.
TEST(AttestationTest, FormatExampleAndCanonicalText) {
  Json answer = Json::parse(R"({ "b" : "水", "a" : 1, "attestation": {"x": 2} })");
  EXPECT_EQ(Json(answer).erase("attestation"), 1u);
  Json without = answer;
  without.erase("attestation");
  EXPECT_EQ(without.dump(), "{\"a\":1,\"b\":\"水\"}");
  EXPECT_EQ(api::AnswerHash(answer).Hex(),
            "540a2376d543c14c6758e10e67c4c7a4d4281f158e89805e867fcdaf4118c0bd");
  ChainDomain domain{"cn-water-1", {}};
  domain.genesis_hash.bytes.fill(0x11);
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(
      api::AnswerSigningDigest(domain, "GET /v1/verify/" + hex, 7, api::AnswerHash(answer)).Hex(),
      "e89fd64704860f368579a9bb6bc2ee04409e6f02584d7eceb4a94775737a1e53");
  // Control characters and quotes: the minimal escapes, lowercase hex.
  EXPECT_EQ(Json(std::string("\"\\\b\f\n\r\t\x01\x1f/é")).dump(),
            "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f/é\"");
}

TEST(JsonTest, EveryEventRoundTrips) {
  ChainFixture f;
  for (const Event& e : EveryEvent(f)) {
    ExpectRoundTrip(e);
    SignedTransaction stx = f.Tx(0, e);
    f.SignWith(&stx, f.agencies[1].issuing[0]);
    ExpectRoundTrip(stx.tx);
    ExpectRoundTrip(stx);
  }
}

TEST(JsonTest, EventTypeNamesAndHexForm) {
  ChainFixture f;
  SignedTransaction stx = f.Tx(0, f.Issue(0, "S0001"));
  Json j = ToJson(stx);
  EXPECT_EQ(j["tx"]["event"]["type"], "issue");
  EXPECT_EQ(j["tx"]["event"]["summary"]["source"], "surface");
  EXPECT_EQ(j["tx"]["event"]["summary"]["holder_kind"], "organisation");
  EXPECT_EQ(j["tx"]["event"]["summary"]["intakes"][0]["state"], "in-use");
  EXPECT_EQ(j["hash"], TxHash(stx.tx).Hex());
  EXPECT_EQ(j["signatures"][0]["signer"], f.agencies[0].issuing[0].public_key().Hex());

  // The binary form decodes to the same transaction.
  Json enc{{"encoded", ToHex(Encode(stx))}};
  auto back = FromJson<SignedTransaction>(enc);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, stx);
}

TEST(JsonTest, BlocksCommitsAgenciesValidators) {
  ChainFixture f;
  ChainBuilder c(&f);
  BuiltBlock b = c.Next({f.Tx(0, f.Issue(0, "S0001")), f.Tx(1, f.Issue(1, "S0002"))});
  ExpectRoundTrip(b.block.header);
  ExpectRoundTrip(b.block);
  ExpectRoundTrip(b.commit);
  for (const auto& a : f.genesis.agencies) ExpectRoundTrip(a);
  ExpectRoundTrip(f.genesis.validators);
  EXPECT_EQ(ToJson(b.block.header)["hash"], BlockHash(b.block.header).Hex());
  EXPECT_EQ(ToJson(f.genesis.validators)["total_power"], 40u);
}

TEST(JsonTest, CertificateStateHasEffectiveStatus) {
  CertificateState s;
  s.base_id = "1.2.156.3005.2.x";
  s.summary = sample::PermitSummary("P");
  s.not_before = 100;
  s.not_after = 200;
  s.version = 2;
  s.status = CertStatus::kSuspended;
  s.versions = {{1, Sha256(AsBytes("1"))}, {2, Sha256(AsBytes("2"))}};
  s.history = {{EventType::kIssue, 1, 0, Sha256(AsBytes("t1"))},
               {EventType::kSuspend, 2, 5, Sha256(AsBytes("t2"))}};
  Json j = ToJson(s, 150'000);
  EXPECT_EQ(j["status"], "suspended");
  EXPECT_EQ(j["effective_status"], "suspended");
  EXPECT_EQ(ToJson(s, 300'000)["effective_status"], "expired");
  auto back = FromJson<CertificateState>(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
}

// An outside fuzzing finding: a transaction whose signer key is not on the curve was accepted in
// `encoded` form and refused in plain JSON form. Both forms must accept exactly the same set.
TEST(JsonTest, EncodedAndPlainFormsRefuseOffCurveKeysAlike) {
  ChainFixture f;
  PublicKey off_curve;
  off_curve.bytes.fill(0xff);  // x >= p: no point has it
  ASSERT_FALSE(PublicKey::Parse(off_curve.span()).has_value());
  std::vector<SignedTransaction> bad;
  {
    SignedTransaction stx = f.Tx(0, f.Issue(0, "S0001"));
    stx.signatures[0].signer = off_curve;
    bad.push_back(stx);
  }
  {
    RegisterAgencyEvent r{f.genesis.agencies[2]};
    r.agency.issuing_keys.push_back(off_curve);
    bad.push_back(f.Tx(0, r));
  }
  {
    UpdateValidatorsEvent u{f.genesis.validators};
    u.validators.validators[0].key = off_curve;
    bad.push_back(f.Tx(0, u));
  }
  for (const auto& stx : bad) {
    auto encoded = FromJson<SignedTransaction>(Json{{"encoded", ToHex(Encode(stx))}});
    ASSERT_FALSE(encoded.ok());
    EXPECT_NE(encoded.status().message().find("not a 32-byte x-only secp256k1 public key"),
              std::string::npos)
        << encoded.status().message();
    EXPECT_FALSE(FromJson<SignedTransaction>(ToJson(stx)).ok());
  }
  // Control: the same transactions with valid keys pass in both forms.
  const SignedTransaction good = f.Tx(0, f.Issue(0, "S0001"));
  EXPECT_TRUE(FromJson<SignedTransaction>(Json{{"encoded", ToHex(Encode(good))}}).ok());
  EXPECT_TRUE(FromJson<SignedTransaction>(ToJson(good)).ok());
}

TEST(JsonTest, ErrorsNameTheField) {
  ChainFixture f;
  Json j = ToJson(f.Tx(0, f.Issue(0, "S0001")));
  auto err = [](const Json& x) {
    auto r = FromJson<SignedTransaction>(x);
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.status().message();
  };
  {
    Json x = j;
    x["tx"]["event"]["summary"]["division"] = 320115;
    EXPECT_EQ(err(x), "tx.event.summary.division: expected a string");
  }
  {
    Json x = j;
    x["tx"]["event"]["summary"].erase("purpose");
    EXPECT_EQ(err(x), "tx.event.summary.purpose: missing");
  }
  {
    Json x = j;
    x["tx"]["event"]["not_afer"] = 1;
    EXPECT_EQ(err(x), "tx.event.not_afer: unknown field");
  }
  {
    Json x = j;
    x["tx"]["sequence"] = -1;
    EXPECT_EQ(err(x), "tx.sequence: expected a non-negative integer");
  }
  {
    Json x = j;
    x["tx"]["sequence"] = 1.5;
    EXPECT_EQ(err(x), "tx.sequence: expected an integer");
  }
  {
    Json x = j;
    x["signatures"][0]["signature"] = "zz";
    EXPECT_EQ(err(x), "signatures[0].signature: expected hex");
  }
  {
    Json x = j;
    x["tx"]["event"]["summary"]["intakes"][0]["source"] = "sea";
    EXPECT_EQ(err(x), "tx.event.summary.intakes[0].source: expected one of: surface, groundwater");
  }
  {
    Json x = j;
    x["tx"]["event"]["type"] = "explode";
    EXPECT_NE(err(x).find("tx.event.type: expected one of: issue, change"), std::string::npos);
  }
  {
    Json x = j;
    x["hash"] = Sha256(AsBytes("other")).Hex();
    EXPECT_EQ(err(x), "hash: does not match the transaction");
  }
  {
    Json x = j;
    x["tx"]["event"]["document_hash"] = "abcd";
    EXPECT_EQ(err(x), "tx.event.document_hash: expected 32 bytes of hex");
  }
  EXPECT_EQ(err(Json::array()), "(root): expected an object");
  EXPECT_NE(err(Json{{"encoded", "00"}}).find("encoded: "), std::string::npos);
  EXPECT_EQ(err(Json{{"encoded", "0g"}}), "encoded: expected hex");
}

TEST(JsonTest, ParseJsonBoundsDepth) {
  EXPECT_TRUE(api::ParseJson("{\"a\": [1, 2, {\"b\": null}]}").ok());
  EXPECT_FALSE(api::ParseJson("{\"a\": ").ok());
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = api::ParseJson(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper"), std::string::npos);
}

}  // namespace
}  // namespace certledger::testing
