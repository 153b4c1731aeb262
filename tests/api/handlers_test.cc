#include "api/handlers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>

#include "api/json.h"
#include "api/metrics.h"
#include "ledger/coding.h"
#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "tests/api/api_test_util.h"

namespace certledger::testing {
namespace {

using api::Json;
using api::Request;
using api::Response;

class HandlersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ledger_ = new TestLedger(); }
  static void TearDownTestSuite() {
    delete ledger_;
    ledger_ = nullptr;
  }

  HandlersTest() : node_(ledger_->store.get()) {
    api::ApiOptions o;
    o.now_ms = [this] { return now_ms_; };
    o.max_body_bytes = 64 * 1024;
    api_ = std::make_unique<api::Api>(&node_, o);
    now_ms_ = ledger_->now_ms();
  }

  // Every answer's status is one its route declares (and docs/openapi.yaml documents:
  // OpenApiTest).
  void TearDown() override {
    for (const auto& a : api_->UndeclaredAnswers()) ADD_FAILURE() << "undeclared answer: " << a;
  }

  Response Call(const std::string& method, const std::string& target, std::string body = "",
                std::string content_type = "application/json") {
    Request r{method,           target,          std::move(content_type),
              "zh-CN,zh;q=0.9", std::move(body), "127.0.0.1"};
    // Signed answers come from the answer signer's thread: wait for the reply (bounded).
    struct Got {
      std::mutex mu;
      std::condition_variable cv;
      Response out;
      int calls = 0;
    };
    auto got = std::make_shared<Got>();
    api_->Handle(r, [got](Response resp) {
      std::lock_guard lock(got->mu);
      got->out = std::move(resp);
      ++got->calls;
      got->cv.notify_all();
    });
    std::unique_lock lock(got->mu);
    EXPECT_TRUE(got->cv.wait_for(lock, std::chrono::seconds(10), [&] { return got->calls > 0; }))
        << method << " " << target;
    EXPECT_EQ(got->calls, 1) << method << " " << target;
    return got->out;
  }
  // Calls and parses the JSON answer, checking the status.
  Json Get(const std::string& target, int status = 200) {
    Response r = Call("GET", target);
    EXPECT_EQ(r.status, status) << target << "\n" << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    auto j = api::ParseJson(r.body);
    EXPECT_TRUE(j.ok()) << r.body;
    if (j.ok() && target.rfind("/v1/verify/", 0) == 0) {
      // Answers are written without a JSON tree (api::JsonWriter): the text must be exactly the
      // canonical serialisation (FORMAT.md §15) that the verifier hashes, with the attestation
      // spliced in at the end.
      EXPECT_EQ(r.body.back(), '\n');
      std::string text = r.body.substr(0, r.body.size() - 1);
      if (auto at = text.find(",\"attestation\":"); at != std::string::npos) {
        text = text.substr(0, at) + "}";
      }
      Json copy = *j;
      copy.erase("attestation");
      EXPECT_EQ(text, copy.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    return j.ok() ? *j : Json();
  }
  static void ExpectError(const Response& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    auto j = api::ParseJson(r.body);
    ASSERT_TRUE(j.ok()) << r.body;
    EXPECT_EQ((*j)["error"]["code"], code) << r.body;
    EXPECT_TRUE((*j)["error"]["message"].is_string());
  }

  // Checks every proof of a verification answer against its header and commit.
  void ExpectProofsVerify(const Json& j, const std::vector<std::string>& roles) {
    const Json& proof = j["proof"];
    auto header = api::FromJson<BlockHeader>(proof["header"]);
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    auto commit = api::FromJson<CommitCertificate>(proof["commit"]);
    ASSERT_TRUE(commit.ok()) << commit.status().ToString();
    auto vals = api::FromJson<ValidatorSet>(proof["validators"]);
    ASSERT_TRUE(vals.ok()) << vals.status().ToString();
    // The verifier trusts the genesis validator set, not the node's copy.
    EXPECT_EQ(*vals, ledger_->f.genesis.validators);
    EXPECT_EQ(header->validator_set_hash, ledger_->f.genesis.validators.Hash());
    Status st = VerifyCommit(ledger_->f.domain(), ledger_->f.genesis.validators, header->height,
                             BlockHash(*header), *commit);
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(proof["log_size"], header->log_size);
    EXPECT_EQ(proof["log_root"], header->log_root.Hex());
    std::vector<std::string> got_roles;
    for (const Json& e : proof["events"]) {
      got_roles.push_back(e["role"]);
      auto leaf = FromHex(e["leaf"].get<std::string>());
      ASSERT_TRUE(leaf);
      auto stx = Decode<SignedTransaction>(*leaf);
      ASSERT_TRUE(stx.ok());
      EXPECT_EQ(TxHash(stx->tx).Hex(), e["tx_hash"]);
      EXPECT_EQ(EventTypeName(TypeOf(stx->tx.event)), e["type"]);
      // Signatures check too: the leaf is the signed transaction.
      for (const auto& s : stx->signatures) {
        EXPECT_TRUE(Verify(s.signer, TxSigningDigest(stx->tx, ledger_->f.domain().genesis_hash),
                           s.signature));
      }
      std::vector<Hash256> path;
      for (const Json& p : e["inclusion"]["path"]) {
        path.push_back(*Hash256::FromHexString(p.get<std::string>()));
      }
      EXPECT_EQ(e["inclusion"]["tree_size"], header->log_size);
      EXPECT_TRUE(VerifyInclusion(e["inclusion"]["leaf_index"], header->log_size,
                                  MerkleLeafHash(*leaf), path, header->log_root))
          << e.dump();
    }
    EXPECT_EQ(got_roles, roles);
  }

  static TestLedger* ledger_;
  FakeNode node_;
  std::unique_ptr<api::Api> api_;
  int64_t now_ms_ = 0;
};

TestLedger* HandlersTest::ledger_ = nullptr;

// ---- verification ---------------------------------------------------------------------------

TEST_F(HandlersTest, VerifyValidCurrentVersion) {
  Json j = Get("/v1/verify/" + ledger_->a3.Hex());
  EXPECT_EQ(j["status"], "valid");
  EXPECT_EQ(j["certificate_status"], "valid");
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["current_version"], 3);
  EXPECT_EQ(j["certificate"], ledger_->base_a);
  EXPECT_EQ(j["identifier"], ledger_->f.CertId(0, "A0001", 3));
  EXPECT_EQ(j["issuer"]["name"], "江苏省水利厅");
  EXPECT_EQ(j["summary"]["annual_quantity_m3"], 2'000'000);
  EXPECT_EQ(j["proof"]["header"]["height"], 3);
  ExpectProofsVerify(j, {"document"});
}

TEST_F(HandlersTest, VerifySupersededNamesTheLatestVersion) {
  for (const Hash256& h : {ledger_->a1, ledger_->a2}) {
    Json j = Get("/v1/verify/" + h.Hex());
    EXPECT_EQ(j["status"], "superseded");
    EXPECT_EQ(j["certificate_status"], "valid");
    EXPECT_EQ(j["superseded_by"]["version"], 3);
    EXPECT_EQ(j["superseded_by"]["document_hash"], ledger_->a3.Hex());
    ExpectProofsVerify(j, {"document", "latest-version"});
  }
  // Upper-case hex is accepted.
  std::string upper = ledger_->a1.Hex();
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(Get("/v1/verify/" + upper)["status"], "superseded");
}

TEST_F(HandlersTest, VerifySuspendedRevokedExpiredUnknown) {
  Json b = Get("/v1/verify/" + ledger_->b1.Hex());
  EXPECT_EQ(b["status"], "suspended");
  EXPECT_EQ(b["status_reason"], "未按规定安装计量设施");
  ExpectProofsVerify(b, {"document", "latest-status"});

  Json c = Get("/v1/verify/" + ledger_->c1.Hex());
  EXPECT_EQ(c["status"], "revoked");
  EXPECT_EQ(c["stored_status"], "revoked");
  ExpectProofsVerify(c, {"document", "latest-status"});

  Json e = Get("/v1/verify/" + ledger_->e1.Hex());
  EXPECT_EQ(e["status"], "expired");
  ExpectProofsVerify(e, {"document"});

  // Before its end of validity the same certificate is valid.
  now_ms_ = (ledger_->f.now_s - 7200) * 1000;
  EXPECT_EQ(Get("/v1/verify/" + ledger_->e1.Hex())["status"], "valid");

  Json u = Get("/v1/verify/" + Sha256(AsBytes("nothing")).Hex(), 404);
  EXPECT_EQ(u["status"], "unknown");
  EXPECT_EQ(u["proof"]["header"]["height"], 3);  // a header anyway

  ExpectError(Call("GET", "/v1/verify/xyz"), 400, "bad-hex");
}

TEST_F(HandlersTest, VerifyTransferredShowsController) {
  Json j = Get("/v1/verify/" + ledger_->d1.Hex());
  EXPECT_EQ(j["status"], "valid");
  EXPECT_EQ(j["issuer"]["id"], ledger_->f.id(0));
  EXPECT_EQ(j["controller"]["id"], ledger_->f.id(1));
  EXPECT_EQ(j["controller"]["name"], "浙江省水利厅");
}

TEST_F(HandlersTest, VerifyReportsSyncing) {
  node_.status.syncing = true;
  Json j = Get("/v1/verify/" + ledger_->a3.Hex());
  EXPECT_EQ(j["syncing"], true);
  EXPECT_EQ(j["status"], "valid");
}

// ---- the HTML page --------------------------------------------------------------------------

TEST_F(HandlersTest, HtmlPageShowsStatusAndEscapes) {
  Response r = Call("GET", "/v/" + ledger_->h1.Hex());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("id=\"status\""), std::string::npos);
  EXPECT_NE(r.body.find("有效"), std::string::npos);
  EXPECT_NE(r.body.find("Valid"), std::string::npos);
  EXPECT_EQ(r.body.find("<script>"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;Co &quot;Ltd&quot;"),
            std::string::npos);
  EXPECT_NE(r.body.find("江苏省水利厅"), std::string::npos);
  EXPECT_NE(r.body.find("B320115S2026-H000"), std::string::npos);
  // Self-contained: no external resources.
  EXPECT_EQ(r.body.find("http://"), std::string::npos);
  EXPECT_EQ(r.body.find("https://"), std::string::npos);
  EXPECT_EQ(r.body.find("src="), std::string::npos);
  // The headers that keep it so: a strict CSP that also forbids framing, and no sniffing.
  auto header = [&r](const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return std::string();
  };
  const std::string csp = header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("script-src"), std::string::npos) << csp;
  EXPECT_EQ(header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header("Cache-Control"), "no-store");
}

TEST_F(HandlersTest, HtmlPageStatuses) {
  struct Case {
    Hash256 hash;
    int code;
    const char* zh;
    const char* data;
  };
  const Case cases[] = {
      {ledger_->a1, 200, "已被新版本取代", "superseded"},
      {ledger_->b1, 200, "暂扣", "suspended"},
      {ledger_->c1, 200, "已吊销", "revoked"},
      {ledger_->e1, 200, "已过期", "expired"},
      {Sha256(AsBytes("none")), 404, "未找到", "unknown"},
  };
  for (const auto& c : cases) {
    Response r = Call("GET", "/v/" + c.hash.Hex());
    EXPECT_EQ(r.status, c.code);
    EXPECT_NE(r.body.find(std::string("data-status=\"") + c.data + "\">" + c.zh), std::string::npos)
        << c.data;
  }
  Response bad = Call("GET", "/v/<b>");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.content_type, "text/html; charset=utf-8");
  EXPECT_NE(bad.body.find("未找到"), std::string::npos);
}

TEST_F(HandlersTest, HtmlPageHidesIndividualHolder) {
  Response r = Call("GET", "/v/" + ledger_->i1.Hex());
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("个人 <span lang=\"en\">Individual</span>"), std::string::npos);
  EXPECT_EQ(r.body.find("南京某某水务有限公司"), std::string::npos);
}

// "YYYY-MM-DD" and "YYYY-MM-DD HH:MM:SS (UTC+8)" of unix milliseconds in China Standard Time.
std::string CstDate(int64_t unix_ms) {
  using namespace std::chrono;
  const sys_seconds t{seconds{unix_ms / 1000 + 8 * 3600}};
  const year_month_day ymd{floor<days>(t)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}
std::string CstDateTime(int64_t unix_ms) {
  using namespace std::chrono;
  const sys_seconds t{seconds{unix_ms / 1000 + 8 * 3600}};
  const hh_mm_ss hms{t - floor<days>(t)};
  char buf[32];
  std::snprintf(buf, sizeof buf, " %02ld:%02ld:%02ld (UTC+8)",
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return CstDate(unix_ms) + buf;
}

// The table row with id `id` ("" if there is none).
std::string RowById(const std::string& html, const std::string& id) {
  const size_t b = html.find("<tr id=\"" + id + "\">");
  if (b == std::string::npos) return "";
  const size_t e = html.find("</tr>", b);
  return html.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

TEST_F(HandlersTest, HtmlPageShowsReasonDateAndKind) {
  const int64_t block2_ms = ledger_->blocks[1].block.header.time_ms;
  Response c = Call("GET", "/v/" + ledger_->c1.Hex());
  ASSERT_EQ(c.status, 200);
  EXPECT_NE(RowById(c.body, "status-reason").find("擅自转让"), std::string::npos) << c.body;
  EXPECT_NE(RowById(c.body, "status-date").find("吊销日期"), std::string::npos) << c.body;
  EXPECT_NE(RowById(c.body, "status-date").find(CstDate(block2_ms)), std::string::npos) << c.body;
  EXPECT_NE(RowById(c.body, "status-kind").find("吊销 <span lang=\"en\">revoked</span>"),
            std::string::npos)
      << c.body;

  Response b = Call("GET", "/v/" + ledger_->b1.Hex());
  ASSERT_EQ(b.status, 200);
  EXPECT_NE(RowById(b.body, "status-reason").find("未按规定安装计量设施"), std::string::npos);
  EXPECT_NE(RowById(b.body, "status-date").find("暂扣日期"), std::string::npos);
  EXPECT_NE(RowById(b.body, "status-date").find(CstDate(block2_ms)), std::string::npos);
  EXPECT_EQ(RowById(b.body, "status-kind"), "");  // a suspension is not a revocation

  // Valid and never suspended: no status change to explain, no newer version.
  Response a = Call("GET", "/v/" + ledger_->a3.Hex());
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(RowById(a.body, "status-date"), "");
  EXPECT_EQ(RowById(a.body, "status-reason"), "");
  EXPECT_EQ(a.body.find("id=\"newer\""), std::string::npos);
}

TEST_F(HandlersTest, HtmlPageRevocationKinds) {
  // Cancelled (注销) and withdrawn (撤销), each on a chain of its own: the page names the kind in
  // the status line and in the kind row.
  const std::pair<RevocationKind, std::array<const char*, 3>> kinds[] = {
      {RevocationKind::kCancelled,
       {"已注销", "注销 <span lang=\"en\">cancelled</span>", "注销日期"}},
      {RevocationKind::kWithdrawn,
       {"已撤销", "撤销 <span lang=\"en\">withdrawn</span>", "撤销日期"}},
  };
  for (const auto& [kind, want] : kinds) {
    TempDir dir;
    LevelDBStoreOptions o;
    o.path = dir.path();
    o.sync = false;
    auto store = OpenLevelDBStore(o);
    ASSERT_TRUE(store.ok());
    ChainFixture f;
    ASSERT_TRUE((*store)->Initialize(f.genesis).ok());
    ChainBuilder chain(&f);
    IssueEvent e = f.Issue(0, "K0001");
    SignedTransaction issue = f.Tx(0, e);
    SignedTransaction revoke = f.Tx(0, RevokeEvent{f.BaseId(0, "K0001"), kind, "申请注销"});
    BuiltBlock b1 = chain.Next({issue});
    BuiltBlock b2 = chain.Next({revoke});
    ASSERT_TRUE((*store)->AppendBlock(b1.block, b1.commit, b1.effects).ok());
    ASSERT_TRUE((*store)->AppendBlock(b2.block, b2.commit, b2.effects).ok());
    FakeNode node(store->get());
    api::ApiOptions opts;
    opts.now_ms = [this] { return now_ms_; };
    api::Api api(&node, opts);
    Response r;
    api.Handle(Request{"GET", "/v/" + e.document_hash.Hex(), "", "", "", "127.0.0.1"},
               [&](Response resp) { r = std::move(resp); });
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(std::string("data-status=\"revoked\">") + want[0]), std::string::npos)
        << r.body;
    EXPECT_NE(RowById(r.body, "status-kind").find(want[1]), std::string::npos) << r.body;
    EXPECT_NE(RowById(r.body, "status-date").find(want[2]), std::string::npos) << r.body;
    EXPECT_NE(RowById(r.body, "status-date").find(CstDate(b2.block.header.time_ms)),
              std::string::npos);
    EXPECT_NE(RowById(r.body, "status-reason").find("申请注销"), std::string::npos);
  }
}

TEST_F(HandlersTest, HtmlPageLinksTheNewerVersionAndTheProof) {
  for (const Hash256& h : {ledger_->a1, ledger_->a2}) {
    Response r = Call("GET", "/v/" + h.Hex());
    ASSERT_EQ(r.status, 200);
    const std::string row = RowById(r.body, "newer-version");
    EXPECT_NE(row.find("<a id=\"newer\" href=\"/v/" + ledger_->a3.Hex() + "\">第 3 版 " +
                       "<span lang=\"en\">version 3</span></a>"),
              std::string::npos)
        << r.body;
    EXPECT_NE(row.find(ledger_->f.CertId(0, "A0001", 3)), std::string::npos) << row;
    EXPECT_NE(r.body.find("<a id=\"proof\" href=\"/v1/verify/" + h.Hex() + "\">"),
              std::string::npos)
        << r.body;
  }
  const Hash256 unknown = Sha256(AsBytes("none"));
  Response u = Call("GET", "/v/" + unknown.Hex());
  EXPECT_EQ(u.status, 404);
  EXPECT_NE(u.body.find("href=\"/v1/verify/" + unknown.Hex() + "\""), std::string::npos);
  EXPECT_EQ(u.body.find("id=\"newer\""), std::string::npos);
}

TEST_F(HandlersTest, HtmlPageShowsWhenCheckedAndTheHeader) {
  now_ms_ = ledger_->now_ms() + 1234;  // 1'790'000'001'234: 2026-09-21 22:13:21 in UTC+8
  const BlockHeader& tip = ledger_->blocks.back().block.header;
  for (const Hash256& h : {ledger_->a3, Sha256(AsBytes("none"))}) {
    Response r = Call("GET", "/v/" + h.Hex());
    EXPECT_NE(RowById(r.body, "checked-at").find("2026-09-21 22:13:21 (UTC+8)"), std::string::npos)
        << r.body;
    EXPECT_NE(RowById(r.body, "block-height").find("<td>3</td>"), std::string::npos) << r.body;
    EXPECT_NE(RowById(r.body, "block-time").find(CstDateTime(tip.time_ms)), std::string::npos)
        << r.body;
    EXPECT_NE(RowById(r.body, "block-hash").find(BlockHash(tip).Hex().substr(0, 16) + "…"),
              std::string::npos)
        << r.body;
    EXPECT_EQ(RowById(r.body, "block-hash").find(BlockHash(tip).Hex().substr(0, 17)),
              std::string::npos);
    EXPECT_NE(RowById(r.body, "state-root").find(tip.state_root.Hex().substr(0, 16) + "…"),
              std::string::npos)
        << r.body;
  }
}

TEST_F(HandlersTest, HtmlPageMarksEnglishText) {
  Response r = Call("GET", "/v/" + ledger_->c1.Hex());
  EXPECT_NE(r.body.find("<html lang=\"zh-CN\">"), std::string::npos);
  EXPECT_NE(r.body.find("<small lang=\"en\">Revoked</small></div>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<span lang=\"en\">Water-abstraction permit verification</span>"),
            std::string::npos);
  for (const char* heading : {"Issuer", "Permit number", "Holder", "Validity", "Document hash",
                              "Checked at", "Block hash", "State root", "Reason"}) {
    EXPECT_NE(r.body.find(std::string("<small lang=\"en\">") + heading + "</small></th>"),
              std::string::npos)
        << heading;
  }
  EXPECT_NE(r.body.find("地表水 <span lang=\"en\">Surface water</span>"), std::string::npos);
  EXPECT_NE(r.body.find("<span lang=\"en\">Generated by a ledger node"), std::string::npos);
  // Every <small> and <span> carries lang="en" (they exist only to mark English).
  for (const char* tag : {"<small", "<span"}) {
    for (size_t at = r.body.find(tag); at != std::string::npos; at = r.body.find(tag, at + 1)) {
      EXPECT_EQ(r.body.compare(at + std::strlen(tag), 11, " lang=\"en\">"), 0)
          << r.body.substr(at, 40);
    }
  }
}

// WCAG 2.1 relative luminance of "#rrggbb" (sRGB linearisation).
double Luminance(const std::string& hex) {
  auto channel = [&](size_t i) {
    const double c = std::stoi(hex.substr(1 + 2 * i, 2), nullptr, 16) / 255.0;
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
}
double ContrastRatio(const std::string& a, const std::string& b) {
  const double la = Luminance(a), lb = Luminance(b);
  return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

// The values of every `property:` declaration in `css` (a whole declaration: after '{' or ';'),
// as #rrggbb (#rgb expanded); "" for a value that is not a hex colour.
std::vector<std::string> CssColours(const std::string& css, const std::string& property) {
  std::vector<std::string> out;
  const std::string key = property + ":";
  for (size_t at = css.find(key); at != std::string::npos; at = css.find(key, at + 1)) {
    if (at == 0 || (css[at - 1] != '{' && css[at - 1] != ';')) continue;
    const size_t b = at + key.size();
    const size_t e = css.find_first_of(";}", b);
    std::string v = css.substr(b, e - b);
    const bool hex = (v.size() == 7 || v.size() == 4) && v[0] == '#' &&
                     v.find_first_not_of("0123456789abcdefABCDEF", 1) == std::string::npos;
    if (hex && v.size() == 4) v = std::string("#") + v[1] + v[1] + v[2] + v[2] + v[3] + v[3];
    out.push_back(hex ? v : "");
  }
  return out;
}

TEST_F(HandlersTest, HtmlPageMeetsWcagAAContrastForEveryStatus) {
  // Known values of the formula: black on white is 21:1, #767676 on white just passes 4.5:1.
  EXPECT_NEAR(ContrastRatio("#000000", "#ffffff"), 21.0, 1e-9);
  EXPECT_NEAR(ContrastRatio("#767676", "#ffffff"), 4.54, 0.01);
  // The grey the page's notes used to have (#8c959f) fails: about 3:1.
  EXPECT_LT(ContrastRatio("#8c959f", "#ffffff"), 4.5);
  // The parser takes whole declarations only, and expands #rgb.
  EXPECT_EQ(CssColours("a{border-color:#000;color:#abc}b{color:red;background:#fff}", "color"),
            (std::vector<std::string>{"#aabbcc", ""}));
  EXPECT_EQ(CssColours("a{border-color:#000;color:#abc}b{color:red;background:#fff}", "background"),
            std::vector<std::string>{"#ffffff"});
  const std::pair<Hash256, const char*> pages[] = {
      {ledger_->a3, "valid"},   {ledger_->a1, "superseded"}, {ledger_->b1, "suspended"},
      {ledger_->c1, "revoked"}, {ledger_->e1, "expired"},    {Sha256(AsBytes("none")), "unknown"},
  };
  std::set<std::string> status_colours;
  for (const auto& [hash, status] : pages) {
    SCOPED_TRACE(status);
    Response r = Call("GET", "/v/" + hash.Hex());
    ASSERT_NE(r.body.find(std::string("data-status=\"") + status + "\""), std::string::npos);
    const size_t b = r.body.find("<style>"), e = r.body.find("</style>");
    ASSERT_NE(b, std::string::npos);
    ASSERT_NE(e, std::string::npos);
    const std::string css = r.body.substr(b + 7, e - b - 7);
    // Colours come from this one style sheet only.
    EXPECT_EQ(r.body.find("style=\""), std::string::npos);
    EXPECT_EQ(r.body.find("<style", e), std::string::npos);
    EXPECT_EQ(css.find("background-color"), std::string::npos);  // only `background:`
    EXPECT_EQ(css.find("opacity"), std::string::npos);
    const std::vector<std::string> colours = CssColours(css, "color");
    const std::vector<std::string> backgrounds = CssColours(css, "background");
    ASSERT_GE(colours.size(), 5u) << css;
    ASSERT_FALSE(backgrounds.empty()) << css;
    // The card, which holds all the text, is white.
    EXPECT_NE(css.find(".card{"), std::string::npos);
    const std::string card = css.substr(css.find(".card{"));
    EXPECT_EQ(CssColours(card.substr(0, card.find('}') + 1), "background"),
              std::vector<std::string>{"#ffffff"});
    // Every text colour against every background of the page (the body's too): 4.5:1, the
    // threshold for normal text, even for the large status heading (3:1 would do there).
    for (const std::string& c : colours) {
      ASSERT_NE(c, "") << "a colour that is not #rrggbb in " << css;
      for (const std::string& bg : backgrounds) {
        ASSERT_NE(bg, "") << "a background that is not #rrggbb in " << css;
        EXPECT_GE(ContrastRatio(c, bg), 4.5) << c << " on " << bg;
      }
    }
    // The status heading has its own colour.
    const size_t at = css.find("#status{");
    ASSERT_NE(at, std::string::npos);
    const std::vector<std::string> heading =
        CssColours(css.substr(at, css.find('}', at) - at + 1), "color");
    ASSERT_EQ(heading.size(), 1u);
    status_colours.insert(heading[0]);
  }
  EXPECT_EQ(status_colours.size(), 6u);  // each status looks different
}

// ---- certificates ---------------------------------------------------------------------------

TEST_F(HandlersTest, CertificateByBaseAndFullId) {
  Json j = Get("/v1/certificates/" + ledger_->base_a);
  EXPECT_EQ(j["status"], "valid");
  EXPECT_EQ(j["stored_status"], "valid");
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["issuer"]["name"], "江苏省水利厅");
  ASSERT_EQ(j["versions"].size(), 3u);
  EXPECT_EQ(j["versions"][0]["document_hash"], ledger_->a1.Hex());
  EXPECT_EQ(j["versions"][2]["document_hash"], ledger_->a3.Hex());
  ASSERT_EQ(j["history"].size(), 3u);
  EXPECT_EQ(j["history"][0]["type"], "issue");
  EXPECT_EQ(j["history"][1]["type"], "change");
  EXPECT_EQ(j["history"][2]["type"], "renew");
  EXPECT_EQ(j["history"][2]["height"], 3);

  Json v1 = Get("/v1/certificates/" + ledger_->f.CertId(0, "A0001", 1));
  EXPECT_EQ(v1["requested_version"], 1);
  EXPECT_EQ(v1["requested_is_current"], false);

  EXPECT_EQ(Get("/v1/certificates/" + ledger_->base_b)["status"], "suspended");
  Json c = Get("/v1/certificates/" + ledger_->base_c);
  EXPECT_EQ(c["status"], "revoked");
  EXPECT_EQ(c["status_reason"], "擅自转让");
  EXPECT_EQ(Get("/v1/certificates/" + ledger_->base_e)["status"], "expired");
  Json d = Get("/v1/certificates/" + ledger_->base_d);
  EXPECT_EQ(d["controller"]["id"], ledger_->f.id(1));
  EXPECT_EQ(d["history"][1]["type"], "transfer");

  ExpectError(Call("GET", "/v1/certificates/" + ledger_->f.CertId(0, "A0001", 4)), 404,
              "not-found");
  ExpectError(Call("GET", "/v1/certificates/" + ledger_->f.BaseId(0, "Z9999")), 404, "not-found");
  ExpectError(Call("GET", "/v1/certificates/nonsense"), 400, "bad-parameter");
  // A full identifier with a wrong check character is not accepted as either form.
  std::string bad = ledger_->f.CertId(0, "A0001", 1);
  bad.back() = bad.back() == 'A' ? 'B' : 'A';
  ExpectError(Call("GET", "/v1/certificates/" + bad), 400, "bad-parameter");
}

// ---- transactions ---------------------------------------------------------------------------

TEST_F(HandlersTest, SubmitAcceptedIs202Pending) {
  SignedTransaction stx = ledger_->f.Tx(0, ledger_->f.Issue(0, "N0001"));
  Response r = Call("POST", "/v1/tx", api::ToJson(stx).dump());
  EXPECT_EQ(r.status, 202) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["state"], "pending");
  EXPECT_EQ(j["tx_hash"], TxHash(stx.tx).Hex());
  ASSERT_EQ(node_.submitted.size(), 1u);
  EXPECT_EQ(node_.submitted[0], stx);
}

// A fuzzing finding: the octet-stream body took the keys as they decoded, so an off-curve signer
// reached the node (422 bad-signature) where both JSON forms answer 400. All three agree now.
TEST_F(HandlersTest, SubmitOffCurveKeyRefusedInEveryForm) {
  SignedTransaction stx = ledger_->f.Tx(0, ledger_->f.Issue(0, "N0003"));
  stx.signatures[0].signer.bytes.fill(0xff);  // x >= p: no point has it
  const Bytes raw = Encode(stx);
  for (const Response& r :
       {Call("POST", "/v1/tx", std::string(raw.begin(), raw.end()), "application/octet-stream"),
        Call("POST", "/v1/tx", Json{{"encoded", ToHex(raw)}}.dump()),
        Call("POST", "/v1/tx", api::ToJson(stx).dump())}) {
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("signatures[0].signer: not a"), std::string::npos) << r.body;
  }
  EXPECT_TRUE(node_.submitted.empty());
}

TEST_F(HandlersTest, SubmitBinaryForms) {
  SignedTransaction stx = ledger_->f.Tx(0, ledger_->f.Issue(0, "N0002"));
  Json enc{{"encoded", ToHex(Encode(stx))}};
  EXPECT_EQ(Call("POST", "/v1/tx", enc.dump()).status, 202);
  Bytes raw = Encode(stx);
  EXPECT_EQ(Call("POST", "/v1/tx", std::string(raw.begin(), raw.end()), "application/octet-stream")
                .status,
            202);
  ASSERT_EQ(node_.submitted.size(), 2u);
  EXPECT_EQ(node_.submitted[0], stx);
  EXPECT_EQ(node_.submitted[1], stx);
  ExpectError(Call("POST", "/v1/tx", "\x01\x02", "application/octet-stream"), 400, "bad-encoding");
  ExpectError(Call("POST", "/v1/tx", Json{{"encoded", "0102"}}.dump()), 400, "bad-encoding");
  ExpectError(Call("POST", "/v1/tx", Json{{"encoded", "xyz"}}.dump()), 400, "bad-hex");
}

TEST_F(HandlersTest, SubmitWaitForCommit) {
  SignedTransaction stx = ledger_->f.Tx(0, ledger_->f.Issue(0, "N0003"));
  Hash256 h = TxHash(stx.tx);
  api::TxStatusInfo committed;
  committed.state = api::TxState::kCommitted;
  committed.tx_hash = h;
  committed.height = 4;
  committed.index = 1;
  committed.log_index = 13;
  node_.txs[h] = committed;
  Response r = Call("POST", "/v1/tx?wait=commit&timeout_ms=2500", api::ToJson(stx).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["state"], "committed");
  EXPECT_EQ(j["height"], 4);
  EXPECT_EQ(j["index"], 1);
  EXPECT_EQ(j["log_index"], 13);
  EXPECT_EQ(node_.last_wait_ms, 2500u);

  Call("POST", "/v1/tx?wait=commit", api::ToJson(stx).dump());
  EXPECT_EQ(node_.last_wait_ms, 10000u);  // the default

  api::TxStatusInfo rejected;
  rejected.state = api::TxState::kRejected;
  rejected.tx_hash = h;
  rejected.reason = "bad-sequence";
  rejected.message = "sequence 9, expected 8";
  node_.txs[h] = rejected;
  Response rr = Call("POST", "/v1/tx?wait=commit", api::ToJson(stx).dump());
  ExpectError(rr, 422, "bad-sequence");

  node_.txs[h].state = api::TxState::kPending;
  Response p = Call("POST", "/v1/tx?wait=commit", api::ToJson(stx).dump());
  EXPECT_EQ(p.status, 202);
  EXPECT_EQ(Json::parse(p.body)["timed_out"], true);

  ExpectError(Call("POST", "/v1/tx?wait=commit&timeout_ms=60001", api::ToJson(stx).dump()), 400,
              "bad-parameter");
  ExpectError(Call("POST", "/v1/tx?wait=forever", api::ToJson(stx).dump()), 400, "bad-parameter");
  ExpectError(Call("POST", "/v1/tx?wait=commit&timeout_ms=-5", api::ToJson(stx).dump()), 400,
              "bad-parameter");
}

TEST_F(HandlersTest, SubmitResultsMapToStatuses) {
  std::string body = api::ToJson(ledger_->f.Tx(0, ledger_->f.Issue(0, "N0004"))).dump();
  struct Case {
    api::SubmitResult::Code code;
    std::string reason;
    int status;
    std::string expect_code;
  };
  const Case cases[] = {
      {api::SubmitResult::Code::kRejected, "not-issuer", 422, "not-issuer"},
      {api::SubmitResult::Code::kRejected, "bad-signature", 422, "bad-signature"},
      {api::SubmitResult::Code::kConflict, "sequence-taken", 409, "sequence-taken"},
      {api::SubmitResult::Code::kConflict, "", 409, "conflict"},
      {api::SubmitResult::Code::kBusy, "", 429, "mempool-full"},
      {api::SubmitResult::Code::kUnavailable, "", 503, "unavailable"},
  };
  for (const auto& c : cases) {
    node_.submit_result.code = c.code;
    node_.submit_result.reason = c.reason;
    node_.submit_result.message = "detail";
    Response r = Call("POST", "/v1/tx", body);
    ExpectError(r, c.status, c.expect_code);
    EXPECT_TRUE(Json::parse(r.body).contains("tx_hash"));
  }
}

TEST_F(HandlersTest, SubmitInputErrors) {
  ExpectError(Call("POST", "/v1/tx", "{not json"), 400, "bad-json");
  Response r = Call("POST", "/v1/tx", Json{{"tx", {{"chain_id", 1}}}}.dump());
  ExpectError(r, 400, "bad-json");
  EXPECT_NE(r.body.find("tx.chain_id: expected a string"), std::string::npos);
  ExpectError(Call("POST", "/v1/tx", std::string(64 * 1024 + 1, ' ')), 413, "body-too-large");
  EXPECT_TRUE(node_.submitted.empty());
}

TEST_F(HandlersTest, SubmitWhileSyncingIs503) {
  node_.status.syncing = true;
  std::string body = api::ToJson(ledger_->f.Tx(0, ledger_->f.Issue(0, "N0005"))).dump();
  ExpectError(Call("POST", "/v1/tx", body), 503, "not-synced");
  EXPECT_TRUE(node_.submitted.empty());
}

// ---- POST /v1/txs ----

// Frames of the binary batch body: u32 little-endian length, then the bytes.
std::string Frames(const std::vector<Bytes>& items) {
  std::string out;
  for (const Bytes& b : items) ledger::PutLengthPrefixed(&out, b);
  return out;
}

TEST_F(HandlersTest, SubmitBatchJsonGivesOneResultPerTransaction) {
  const SignedTransaction t0 = ledger_->f.Tx(0, ledger_->f.Issue(0, "B0001"));
  const SignedTransaction t1 = ledger_->f.Tx(0, ledger_->f.Issue(0, "B0002"));
  const SignedTransaction t2 = ledger_->f.Tx(1, ledger_->f.Issue(1, "B0003"));
  const Json body{{"txs",
                   {api::ToJson(t0), Json{{"encoded", ToHex(Encode(t1))}},
                    Json{{"tx", {{"chain_id", 1}}}}, api::ToJson(t2)}}};
  Response r = Call("POST", "/v1/txs", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = Json::parse(r.body);
  ASSERT_EQ(j["results"].size(), 4u);
  EXPECT_EQ(j["results"][0], (Json{{"tx_hash", TxHash(t0.tx).Hex()}, {"state", "pending"}}));
  EXPECT_EQ(j["results"][1], (Json{{"tx_hash", TxHash(t1.tx).Hex()}, {"state", "pending"}}));
  EXPECT_EQ(j["results"][2]["status"], 400);
  EXPECT_EQ(j["results"][2]["error"]["code"], "bad-json");
  EXPECT_NE(j["results"][2]["error"]["message"].get<std::string>().find("tx.chain_id"),
            std::string::npos);
  EXPECT_FALSE(j["results"][2].contains("tx_hash"));
  EXPECT_EQ(j["results"][3]["tx_hash"], TxHash(t2.tx).Hex());
  // The bad one is not submitted; the others are, in order.
  ASSERT_EQ(node_.submitted.size(), 3u);
  EXPECT_EQ(node_.submitted[0], t0);
  EXPECT_EQ(node_.submitted[1], t1);
  EXPECT_EQ(node_.submitted[2], t2);

  // Refusals carry the single route's status and code, per transaction.
  node_.submit_result.code = api::SubmitResult::Code::kBusy;
  const Json busy =
      Json::parse(Call("POST", "/v1/txs", Json{{"txs", {api::ToJson(t0)}}}.dump()).body);
  EXPECT_EQ(busy["results"][0]["status"], 429);
  EXPECT_EQ(busy["results"][0]["error"]["code"], "mempool-full");
  EXPECT_EQ(busy["results"][0]["tx_hash"], TxHash(t0.tx).Hex());
}

TEST_F(HandlersTest, SubmitBatchBinaryFrames) {
  const SignedTransaction t0 = ledger_->f.Tx(0, ledger_->f.Issue(0, "B0011"));
  const SignedTransaction t1 = ledger_->f.Tx(0, ledger_->f.Issue(0, "B0012"));
  Response r = Call("POST", "/v1/txs", Frames({Encode(t0), Bytes{1, 2, 3}, Encode(t1)}),
                    "application/octet-stream");
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = Json::parse(r.body);
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["results"][0]["state"], "pending");
  EXPECT_EQ(j["results"][1]["error"]["code"], "bad-encoding");
  EXPECT_EQ(j["results"][2]["tx_hash"], TxHash(t1.tx).Hex());
  ASSERT_EQ(node_.submitted.size(), 2u);
  EXPECT_EQ(node_.submitted[1], t1);

  // Framing errors refuse the whole request, before anything is submitted.
  std::string truncated = Frames({Encode(t0)});
  truncated.pop_back();
  ExpectError(Call("POST", "/v1/txs", truncated, "application/octet-stream"), 400, "bad-encoding");
  ExpectError(
      Call("POST", "/v1/txs", Frames({Encode(t0)}) + "\x05\x00", "application/octet-stream"), 400,
      "bad-encoding");
  EXPECT_EQ(node_.submitted.size(), 2u);
}

TEST_F(HandlersTest, SubmitBatchInputErrors) {
  ExpectError(Call("POST", "/v1/txs", "{not json"), 400, "bad-json");
  ExpectError(Call("POST", "/v1/txs", Json{{"txs", 1}}.dump()), 400, "bad-json");
  ExpectError(Call("POST", "/v1/txs", Json{{"txs", Json::array()}, {"x", 1}}.dump()), 400,
              "bad-json");
  ExpectError(Call("POST", "/v1/txs", Json{{"txs", Json::array()}}.dump()), 400, "bad-parameter");
  ExpectError(Call("POST", "/v1/txs", "", "application/octet-stream"), 400, "bad-parameter");
  // More than max_batch_txs (1000), in either form: refused before anything is decoded.
  ExpectError(Call("POST", "/v1/txs", Json{{"txs", std::vector<int>(1001, 1)}}.dump()), 400,
              "too-many-txs");
  ExpectError(Call("POST", "/v1/txs", Frames(std::vector<Bytes>(1001)), "application/octet-stream"),
              400, "too-many-txs");
  ExpectError(Call("POST", "/v1/txs", std::string(64 * 1024 + 1, ' ')), 413, "body-too-large");
  node_.status.syncing = true;
  const SignedTransaction t = ledger_->f.Tx(0, ledger_->f.Issue(0, "B0021"));
  ExpectError(Call("POST", "/v1/txs", Json{{"txs", {api::ToJson(t)}}}.dump()), 503, "not-synced");
  EXPECT_TRUE(node_.submitted.empty());
}

TEST_F(HandlersTest, TxStates) {
  // Committed: from the store even when the node does not remember it.
  const SignedTransaction& stx = ledger_->blocks[1].block.txs[2];
  Json j = Get("/v1/tx/" + TxHash(stx.tx).Hex());
  EXPECT_EQ(j["state"], "committed");
  EXPECT_EQ(j["height"], 2);
  EXPECT_EQ(j["index"], 2);
  EXPECT_EQ(j["log_index"], 9);
  EXPECT_EQ(j["tx"]["tx"]["event"]["type"], "revoke");

  Hash256 pending = Sha256(AsBytes("pending"));
  node_.txs[pending] = {api::TxState::kPending, pending, 0, 0, 0, "", ""};
  EXPECT_EQ(Get("/v1/tx/" + pending.Hex())["state"], "pending");

  Hash256 rejected = Sha256(AsBytes("rejected"));
  node_.txs[rejected] = {api::TxState::kRejected, rejected, 0, 0, 0, "not-issuer", "no"};
  Json rj = Get("/v1/tx/" + rejected.Hex());
  EXPECT_EQ(rj["state"], "rejected");
  EXPECT_EQ(rj["reason"], "not-issuer");

  Json u = Get("/v1/tx/" + Sha256(AsBytes("unknown")).Hex(), 404);
  EXPECT_EQ(u["error"]["code"], "not-found");
  EXPECT_EQ(u["state"], "unknown");
  ExpectError(Call("GET", "/v1/tx/1234"), 400, "bad-hex");
}

// ---- blocks and proofs ----------------------------------------------------------------------

TEST_F(HandlersTest, BlockByHeight) {
  Json j = Get("/v1/blocks/2");
  auto block = api::FromJson<Block>(Json{{"header", j["header"]}, {"txs", j["txs"]}});
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  EXPECT_EQ(*block, ledger_->blocks[1].block);
  EXPECT_EQ(j["txs"][0]["hash"], TxHash(ledger_->blocks[1].block.txs[0].tx).Hex());
  auto commit = api::FromJson<CommitCertificate>(j["commit"]);
  ASSERT_TRUE(commit.ok());
  EXPECT_EQ(*commit, ledger_->blocks[1].commit);

  Json b = Get("/v1/blocks/2?format=binary");
  auto raw = FromHex(b["block"].get<std::string>());
  ASSERT_TRUE(raw);
  EXPECT_EQ(*Decode<Block>(*raw), ledger_->blocks[1].block);
  auto raw_commit = FromHex(b["commit"].get<std::string>());
  ASSERT_TRUE(raw_commit);
  EXPECT_EQ(*Decode<CommitCertificate>(*raw_commit), ledger_->blocks[1].commit);

  ExpectError(Call("GET", "/v1/blocks/0"), 404, "not-found");
  ExpectError(Call("GET", "/v1/blocks/4"), 404, "not-found");
  ExpectError(Call("GET", "/v1/blocks/x"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/blocks/99999999999999999999999"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/blocks/1?format=xml"), 400, "bad-parameter");
}

TEST_F(HandlersTest, BlockRanges) {
  Json j = Get("/v1/blocks?from=1&to=3");
  ASSERT_EQ(j["blocks"].size(), 3u);
  EXPECT_EQ(j["blocks"][2]["header"]["height"], 3);
  EXPECT_TRUE(j["next"].is_null());
  Json open = Get("/v1/blocks?from=2");
  EXPECT_EQ(open["blocks"].size(), 2u);
  EXPECT_EQ(open["to"], 3);
  Json bin = Get("/v1/blocks?from=1&to=2&format=binary");
  EXPECT_TRUE(bin["blocks"][0]["block"].is_string());

  // The per-call maximum.
  api::ApiOptions o;
  o.max_block_range = 2;
  api::Api small(&node_, o);
  Response out;
  small.Handle({"GET", "/v1/blocks?from=1&to=3", "", "", "", ""},
               [&](Response r) { out = std::move(r); });
  Json s = Json::parse(out.body);
  EXPECT_EQ(s["blocks"].size(), 2u);
  EXPECT_EQ(s["next"], 3);

  ExpectError(Call("GET", "/v1/blocks"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/blocks?from=0"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/blocks?from=3&to=2"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/blocks?from=9"), 404, "not-found");
}

TEST_F(HandlersTest, ConsistencyProofs) {
  const uint64_t size = ledger_->store->Tip().log_size;
  const uint64_t size1 = ledger_->blocks[0].block.header.log_size;
  Json j =
      Get("/v1/proofs/consistency?from=" + std::to_string(size1) + "&to=" + std::to_string(size));
  EXPECT_EQ(j["from_root"], ledger_->blocks[0].block.header.log_root.Hex());
  EXPECT_EQ(j["to_root"], ledger_->blocks[2].block.header.log_root.Hex());
  std::vector<Hash256> proof;
  for (const Json& p : j["proof"]) proof.push_back(*Hash256::FromHexString(p.get<std::string>()));
  EXPECT_TRUE(VerifyConsistency(size1, size, ledger_->blocks[0].block.header.log_root,
                                ledger_->blocks[2].block.header.log_root, proof));
  ExpectError(Call("GET", "/v1/proofs/consistency?from=0&to=3"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/proofs/consistency?from=1&to=" + std::to_string(size + 1)), 400,
              "bad-parameter");
  ExpectError(Call("GET", "/v1/proofs/consistency?from=1"), 400, "bad-parameter");
}

TEST_F(HandlersTest, InclusionProofs) {
  const BlockHeader& h2 = ledger_->blocks[1].block.header;
  Json j = Get("/v1/proofs/inclusion?leaf=8&size=" + std::to_string(h2.log_size));
  EXPECT_EQ(j["root"], h2.log_root.Hex());
  EXPECT_EQ(j["height"], 2);
  auto leaf = FromHex(j["leaf"].get<std::string>());
  ASSERT_TRUE(leaf);
  std::vector<Hash256> path;
  for (const Json& p : j["path"]) path.push_back(*Hash256::FromHexString(p.get<std::string>()));
  EXPECT_TRUE(VerifyInclusion(8, h2.log_size, MerkleLeafHash(*leaf), path, h2.log_root));
  // Default size: the committed log.
  EXPECT_EQ(Get("/v1/proofs/inclusion?leaf=0")["tree_size"], ledger_->store->Tip().log_size);
  ExpectError(Call("GET", "/v1/proofs/inclusion?leaf=5&size=5"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/proofs/inclusion?leaf=0&size=1000"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/proofs/inclusion"), 400, "bad-parameter");
}

// ---- node, agencies, genesis, metrics -------------------------------------------------------

TEST_F(HandlersTest, StatusAgenciesGenesis) {
  node_.status.moniker = "jiangsu-1";
  node_.status.chain_id = "certledger-test";
  node_.status.validator = true;
  node_.status.peers.push_back({"zhejiang-1", ledger_->f.validator_keys[1].public_key(), true});
  Json s = Get("/v1/status");
  EXPECT_EQ(s["moniker"], "jiangsu-1");
  EXPECT_EQ(s["height"], 3);
  EXPECT_EQ(s["latest_block"]["hash"], BlockHash(ledger_->blocks[2].block.header).Hex());
  EXPECT_EQ(s["latest_block"]["time_ms"], ledger_->blocks[2].block.header.time_ms);
  EXPECT_EQ(s["validators"]["validators"].size(), 4u);
  EXPECT_EQ(s["peers"][0]["connected"], true);
  EXPECT_EQ(s["syncing"], false);

  Json a = Get("/v1/agencies");
  ASSERT_EQ(a["agencies"].size(), 4u);
  EXPECT_EQ(a["validators"]["total_power"], 40);
  bool found = false;
  for (const Json& ag : a["agencies"]) {
    if (ag["id"] == ledger_->f.id(2)) {
      found = true;
      EXPECT_EQ(ag["kind"], "river-basin");
      EXPECT_EQ(ag["validator_power"], 10);
    }
  }
  EXPECT_TRUE(found);

  Json g = Get("/v1/genesis");
  EXPECT_EQ(g["genesis_hash"], GenesisHash(ledger_->f.genesis).Hex());
  auto parsed = ParseGenesisJson(g["genesis"].dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, ledger_->f.genesis);
}

TEST_F(HandlersTest, MetricsCountRequests) {
  Get("/v1/status");
  Get("/v1/status");
  Call("GET", "/nope");
  api_->OnConnectionsChanged(3);
  // Metrics are not on the public API (the admin listener serves them: AdminTest).
  ExpectError(Call("GET", "/metrics"), 404, "not-found");
  Response r;
  r.body = api_->metrics().Render();
  EXPECT_NE(r.body.find("certledger_http_requests_total{code=\"200\",route=\"/v1/status\"} 2"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("certledger_http_requests_total{code=\"404\",route=\"(unmatched)\"} 2"),
            std::string::npos);
  EXPECT_NE(r.body.find("certledger_http_request_duration_seconds_bucket{route=\"/v1/status\","
                        "le=\"+Inf\"} 2"),
            std::string::npos);
  EXPECT_NE(r.body.find("certledger_http_open_connections 3"), std::string::npos);
}

// ---- routing errors -------------------------------------------------------------------------

TEST_F(HandlersTest, RoutingErrors) {
  Response r = Call("DELETE", "/v1/status");
  ExpectError(r, 405, "method-not-allowed");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET");
  ExpectError(Call("GET", "/v1/tx"), 405, "method-not-allowed");
  ExpectError(Call("POST", "/v1/verify/" + ledger_->a1.Hex()), 405, "method-not-allowed");
  ExpectError(Call("GET", "/v2/status"), 404, "not-found");
  ExpectError(Call("GET", "/"), 404, "not-found");
  ExpectError(Call("GET", "/v1/status%zz"), 400, "bad-parameter");
  ExpectError(Call("GET", "/v1/blocks?" + std::string(9000, 'a')), 400, "bad-parameter");
  // Trailing slash and percent-encoding are normalised.
  EXPECT_EQ(Call("GET", "/v1/status/").status, 200);
  EXPECT_EQ(Call("GET", "/v1/%73tatus").status, 200);
}

}  // namespace
}  // namespace certledger::testing
