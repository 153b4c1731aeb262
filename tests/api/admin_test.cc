// The admin listener's routes (api/admin.h), health and readiness (api/health.h), and the
// metrics exposition checked by a strict reader of the Prometheus text format.
#include "api/admin.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "api/health.h"
#include "api/metrics.h"
#include "tests/api/api_test_util.h"
#include "tests/testing/prometheus_text.h"

namespace certledger::testing {
namespace {

using api::Request;
using api::Response;
using Json = nlohmann::json;

class AdminTest : public ::testing::Test {
 protected:
  AdminTest() : node_(nullptr) {
    node_.status.published_mono_ms = api::SteadyNowMs();
    metrics_ = std::make_shared<api::Metrics>();
    api::AdminOptions o;
    o.metrics = metrics_;
    o.log_levels = [this] { return levels_; };
    o.set_log_level = [this](const std::string& module, const std::string& level) {
      if (module != "*" && !levels_.count(module)) {
        return ledger::Status::InvalidArgument("log module '" + module + "': unknown");
      }
      if (level != "debug" && level != "info") {
        return ledger::Status::InvalidArgument("log level '" + level + "': bad");
      }
      for (auto& [m, l] : levels_) {
        if (module == "*" || m == module) l = level;
      }
      return ledger::Status::Ok();
    };
    admin_ = std::make_unique<api::AdminApi>(&node_, o);
  }

  Response Call(const std::string& method, const std::string& target, std::string body = "") {
    Response out;
    int calls = 0;
    admin_->Handle(Request{method, target, "application/json", "", std::move(body), "127.0.0.1"},
                   [&](Response r) {
                     out = std::move(r);
                     ++calls;
                   });
    EXPECT_EQ(calls, 1);
    return out;
  }

  FakeNode node_;
  std::shared_ptr<api::Metrics> metrics_;
  std::map<std::string, std::string> levels_ = {{"node", "info"}, {"p2p", "info"}};
  std::unique_ptr<api::AdminApi> admin_;
};

TEST_F(AdminTest, HealthzAnswersWhileTheLoopPublishes) {
  Response r = Call("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"status":"ok"})"));
  // A loop that stopped publishing 11 s ago is stuck: restart.
  node_.status.published_mono_ms = api::SteadyNowMs() - 11'000;
  r = Call("GET", "/healthz");
  EXPECT_EQ(r.status, 503);
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["status"], "stalled");
  ASSERT_EQ(j["reasons"].size(), 1u);
  EXPECT_NE(j["reasons"][0].get<std::string>().find("no status published for 11 s"),
            std::string::npos);
  node_.status.published_mono_ms = 0;
  EXPECT_EQ(Call("GET", "/healthz").status, 503);
}

TEST_F(AdminTest, ReadyzNamesEveryReason) {
  Response r = Call("GET", "/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["status"], "ready");
  // No peers configured (a one-node network): ready. Configured and none connected: not.
  node_.status.peers = {{"node1", ledger::PrivateKey::Generate().public_key(), false},
                        {"node2", ledger::PrivateKey::Generate().public_key(), false}};
  node_.status.syncing = true;
  node_.status.height = 7;
  node_.status.best_peer_height = 90;
  node_.status.storage_ok = false;
  node_.status.storage_problem = "less than 64 MiB free in /data";
  r = Call("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["status"], "not-ready");
  EXPECT_EQ(j["reasons"], Json::parse(R"([
    "syncing: at height 7, peers proved height 90",
    "peers: none of 2 connected",
    "storage: less than 64 MiB free in /data"])"));
  // Each reason alone.
  node_.status.syncing = false;
  node_.status.storage_ok = true;
  r = Call("GET", "/readyz");
  EXPECT_EQ(Json::parse(r.body)["reasons"].size(), 1u);
  node_.status.peers[1].connected = true;
  EXPECT_EQ(Call("GET", "/readyz").status, 200);
  // A stalled loop is never ready.
  node_.status.published_mono_ms = api::SteadyNowMs() - 60'000;
  EXPECT_EQ(Call("GET", "/readyz").status, 503);
}

TEST_F(AdminTest, LogLevelsReadAndChangedAtRuntime) {
  Response r = Call("GET", "/admin/log-level");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"levels":{"node":"info","p2p":"info"}})"));
  r = Call("PUT", "/admin/log-level", R"({"module":"p2p","level":"debug"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(levels_["p2p"], "debug");
  EXPECT_EQ(Json::parse(r.body)["levels"]["p2p"], "debug");
  r = Call("PUT", "/admin/log-level", R"({"module":"*","level":"info"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(levels_["p2p"], "info");
  // Refusals: the module or level the callback refuses, malformed bodies, wrong methods.
  r = Call("PUT", "/admin/log-level", R"({"module":"disk","level":"debug"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("log module 'disk': unknown"), std::string::npos);
  EXPECT_EQ(Call("PUT", "/admin/log-level", R"({"module":"p2p","level":"loud"})").status, 400);
  for (const char* body : {"", "[]", R"({"module":"p2p"})", R"({"module":1,"level":"info"})",
                           R"({"module":"p2p","level":"info","x":1})"}) {
    r = Call("PUT", "/admin/log-level", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(Json::parse(r.body)["error"]["code"], "bad-body");
  }
  EXPECT_EQ(levels_["p2p"], "info");
  r = Call("POST", "/metrics");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "GET");
  EXPECT_EQ(Call("DELETE", "/admin/log-level").status, 405);
  EXPECT_EQ(Call("GET", "/v1/status").status, 404);
}

TEST_F(AdminTest, ExpositionPassesTheStrictReader) {
  // The HTTP metrics, a histogram, a collector, the process metrics, and a label value that
  // needs every escape.
  api::HttpMetrics http(*metrics_);
  http.Record("/v1/status", 200, 0.0004);
  http.Record("/v1/status", 200, 0.02);
  http.Record("/v1/verify/{hash}", 404, 7.0);
  http.SetOpenConnections(5);
  http.RecordVerification(0.003);
  auto& weird = prometheus::BuildCounter()
                    .Name("certledger_test_events_total")
                    .Help("Events for the test.")
                    .Register(metrics_->registry());
  const std::string nasty = "a \"quoted\" back\\slash\nnewline";
  weird.Add({{"what", nasty}}).Increment(1'234'567'890);
  metrics_->AddCollector([] {
    auto f =
        api::CounterFamily("certledger_collected_total", "A collected counter.", 3e9, {{"k", "a"}});
    api::AddSample(f, 1e6, {{"k", "b"}});
    return std::vector<prometheus::MetricFamily>{
        f, api::GaugeFamily("certledger_collected_gauge", "A collected gauge.", 2.5)};
  });
  Response r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  PromParse p = ParsePrometheusText(r.body);
  ASSERT_TRUE(p.ok()) << p.error << "\n" << r.body;
  EXPECT_EQ(p.Value("certledger_http_requests_total", {{"route", "/v1/status"}, {"code", "200"}}),
            2.0);
  EXPECT_EQ(p.Value("certledger_http_request_duration_seconds_bucket",
                    {{"route", "/v1/status"}, {"le", "0.0005"}}),
            1.0);
  EXPECT_EQ(
      p.Value("certledger_http_request_duration_seconds_count", {{"route", "/v1/verify/{hash}"}}),
      1.0);
  EXPECT_EQ(p.Value("certledger_http_open_connections"), 5.0);
  EXPECT_EQ(p.Value("certledger_verification_seconds_count"), 1.0);
  // Escaped on the way out, read back exactly.
  EXPECT_EQ(p.Value("certledger_test_events_total", {{"what", nasty}}), 1'234'567'890.0);
  // Large counters stay integers (3e9 and 1e6 are printed in full).
  EXPECT_NE(r.body.find("certledger_collected_total{k=\"a\"} 3000000000\n"), std::string::npos);
  EXPECT_NE(r.body.find("certledger_collected_total{k=\"b\"} 1000000\n"), std::string::npos);
  EXPECT_EQ(p.Value("certledger_collected_gauge"), 2.5);
  // Process metrics.
  for (const char* name : {"process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    ASSERT_TRUE(p.Value(name).has_value()) << name;
    EXPECT_GT(*p.Value(name), 0) << name;
  }
  // A test process that has just started may have used less than one clock tick of CPU.
  ASSERT_TRUE(p.Value("process_cpu_seconds_total").has_value());
  EXPECT_GE(*p.Value("process_cpu_seconds_total"), 0);
  EXPECT_EQ(p.families.at("process_cpu_seconds_total").type, "counter");
}

TEST(PrometheusReaderTest, RefusesWhatTheFormatForbids) {
  const std::string help = "# HELP x_total H.\n# TYPE x_total counter\n";
  EXPECT_TRUE(ParsePrometheusText(help + "x_total 3\n").ok());
  // One case per rule: each must be refused.
  for (const std::string& bad : {
           help + "x_total 1.5e+06\n",                                  // counter not an integer
           help + "x_total{a=\"b\\t\"} 1\n",                            // bad escape
           help + "x_total{a=b} 1\n",                                   // unquoted label value
           help + "x_total 1\nx_total 2\n",                             // sample twice
           std::string("# TYPE y gauge\ny 1\n"),                        // no HELP
           std::string("# HELP y H.\ny 1\n"),                           // no TYPE
           std::string("# HELP y_ms H.\n# TYPE y_ms gauge\ny_ms 1\n"),  // _ms unit
           std::string("# HELP y H.\n# TYPE y counter\ny 1\n"),         // counter without _total
           help + "x_total 1\n# HELP z H.\n# TYPE z gauge\nz 1\nx_total{a=\"1\"} 1\n",  // split
           help + "x_total one\n",                                                      // bad value
           std::string("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                       "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"),  // decreasing buckets
           std::string("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                       "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"),  // +Inf != count
           help + "x_total 1",                                            // no final newline
       }) {
    EXPECT_FALSE(ParsePrometheusText(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace certledger::testing
