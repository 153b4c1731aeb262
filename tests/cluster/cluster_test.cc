// Multi-process cluster tests: real `certledger node` processes on 127.0.0.1 (free ports picked
// by `certledger testnet`), driven over HTTP. Every wait is bounded; every process is killed and
// reaped when a test ends, pass or fail.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "consensus/proposer.h"
#include "ledger/chain.h"
#include "ledger/encoding.h"
#include "ledger/host_port.h"
#include "ledger/identifier.h"
#include "node/keyfile.h"
#include "node/testnet.h"
#include "node/version.h"
#include "tests/testing/chain_fixture.h"
#include "tests/testing/cluster.h"
#include "tests/testing/process.h"
#include "tests/testing/prometheus_text.h"
#include "tests/testing/tls_certs.h"
#include "tools/http_client.h"

namespace certledger::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// (a) Four validators commit the same blocks: the same hash at every height on every node.
TEST(ClusterTest, FourValidatorsCommitTheSameBlocks) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 2, 30000)) << "node" << i;
  std::vector<Hash256> txs;
  for (int k = 0; k < 12; ++k) {
    auto stx = c.IssueTx(static_cast<size_t>(k % 3), "CL" + std::to_string(1000 + k));
    ASSERT_TRUE(c.Submit(static_cast<size_t>(k % 4), stx));
    txs.push_back(TxHash(stx.tx));
  }
  for (const auto& h : txs) {
    ASSERT_TRUE(WaitFor(30000, [&] { return c.Committed(0, h); })) << h.Hex();
  }
  int64_t top = c.Height(0);
  for (size_t i = 1; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, top, 20000));
  for (int64_t h = 1; h <= top; ++h) {
    const std::string ref = c.BlockHash(0, static_cast<uint64_t>(h));
    ASSERT_FALSE(ref.empty());
    for (size_t i = 1; i < 4; ++i) {
      EXPECT_EQ(c.BlockHash(i, static_cast<uint64_t>(h)), ref) << "node" << i << " height " << h;
    }
  }
  for (size_t i = 0; i < 4; ++i) {
    for (const auto& h : txs) EXPECT_TRUE(c.Committed(i, h)) << "node" << i;
  }
}

// (b) One validator killed with SIGKILL under load: the rest keep committing; restarted, it
// catches up by block sync and commits again; nothing committed is lost on any node.
TEST(ClusterTest, KilledValidatorCatchesUpAndNothingIsLost) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 2, 30000));
  std::vector<Hash256> txs;
  int serial = 0;
  auto load = [&](int n) {
    for (int k = 0; k < n; ++k, ++serial) {
      auto stx = c.IssueTx(static_cast<size_t>(serial % 3), "KL" + std::to_string(1000 + serial));
      const size_t target = std::vector<size_t>{0, 2, 3}[static_cast<size_t>(serial % 3)];
      if (c.Submit(target, stx)) txs.push_back(TxHash(stx.tx));
    }
  };
  load(10);
  c.proc(1).Signal(SIGKILL);
  ASSERT_TRUE(c.proc(1).Wait(5000));
  const int64_t at_kill = c.Height(0);
  load(20);
  ASSERT_TRUE(c.WaitHeight(0, at_kill + 3, 30000)) << "the other three stopped committing";
  for (const auto& h : txs) ASSERT_TRUE(WaitFor(30000, [&] { return c.Committed(0, h); }));
  const int64_t before_restart = c.Height(0);
  c.Start(1);
  ASSERT_TRUE(c.WaitHeight(1, before_restart, 60000)) << "the restarted node did not catch up";
  load(5);
  for (const auto& h : txs) ASSERT_TRUE(WaitFor(30000, [&] { return c.Committed(1, h); }));
  const int64_t top = c.Height(0);
  ASSERT_TRUE(c.WaitHeight(1, top + 1, 30000)) << "the restarted node does not commit again";
  for (int64_t h = 1; h <= top; ++h) {
    const std::string ref = c.BlockHash(0, static_cast<uint64_t>(h));
    for (size_t i = 1; i < 4; ++i) ASSERT_EQ(c.BlockHash(i, static_cast<uint64_t>(h)), ref);
  }
  for (size_t i = 0; i < 4; ++i) {
    for (const auto& h : txs) EXPECT_TRUE(c.Committed(i, h)) << "node" << i << " lost " << h.Hex();
  }
}

// (c) The proposer killed: the network moves to the next round and continues.
TEST(ClusterTest, ProposerKilledNetworkMovesToNextRound) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 2, 30000));
  // The validator that proposes round 0 of the next few heights, found from the genesis set.
  consensus::ProposerSchedule schedule(c.genesis().validators);
  const int64_t h = c.Height(0);
  const PublicKey proposer =
      c.genesis()
          .validators.validators[schedule.ProposerIndex(static_cast<uint64_t>(h + 2), 0)]
          .key;
  size_t victim = 0;
  for (size_t i = 0; i < 4; ++i) {
    auto key = node::ReadPublicKey((fs::path(c.node(i).home) / "validator_key.json").string());
    if (key.ok() && *key == proposer) victim = i;
  }
  c.proc(victim).Signal(SIGKILL);
  ASSERT_TRUE(c.proc(victim).Wait(5000));
  const size_t watcher = (victim + 1) % 4;
  const double skipped_before = c.Metric(watcher, "certledger_rounds_skipped_total");
  // Its heights now need round 1: the chain still grows, through round changes.
  ASSERT_TRUE(c.WaitHeight(watcher, h + 6, 60000)) << "no progress without the proposer";
  EXPECT_GT(c.Metric(watcher, "certledger_rounds_skipped_total"), skipped_before);
}

// (d) Two of four validators stopped: no block is committed (no quorum); restarted: it continues.
TEST(ClusterTest, NoQuorumNoBlocksThenRecovers) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 2, 30000));
  c.proc(2).Stop(5000);
  c.proc(3).Stop(5000);
  // A block in flight may still land; after that nothing can.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int64_t stalled = c.Height(0);
  const int64_t stalled1 = c.Height(1);
  auto stx = c.IssueTx(0, "NQ1000");
  ASSERT_TRUE(c.Submit(0, stx));
  // Bounded observation window: three seconds at one block per second would add three blocks.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  EXPECT_EQ(c.Height(0), stalled);
  EXPECT_EQ(c.Height(1), stalled1);
  EXPECT_FALSE(c.Committed(0, TxHash(stx.tx)));
  c.Start(2);
  c.Start(3);
  ASSERT_TRUE(c.WaitHeight(0, stalled + 2, 60000)) << "did not recover";
  ASSERT_TRUE(WaitFor(30000, [&] { return c.Committed(0, TxHash(stx.tx)); }));
}

// (e) A peer presenting an unknown key is refused; a peer sending malformed frames is dropped.
TEST(ClusterTest, UnknownKeyRefusedAndGarbageDropped) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 2, 30000));
  // A rogue node: a copy of node3's home with a fresh key that no validator knows.
  fs::path rogue = c.dir() / "rogue";
  fs::create_directories(rogue / "data");
  fs::copy_file(fs::path(c.node(3).home) / "genesis.json", rogue / "genesis.json");
  auto cfg = node::LoadConfig(c.node(3).home);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  cfg->moniker = "rogue";
  const std::vector<int> ports = node::FindFreePorts("127.0.0.1", 3);
  ASSERT_EQ(ports.size(), 3u);
  cfg->p2p_listen.port = static_cast<uint16_t>(ports[0]);
  cfg->api_listen.port = static_cast<uint16_t>(ports[1]);
  cfg->admin_listen->port = static_cast<uint16_t>(ports[2]);
  // The earlier JSON form of the configuration is still read.
  std::ofstream(rogue / "config.json") << node::ConfigToJson(*cfg);
  ASSERT_TRUE(
      node::WriteKeyFile((rogue / "validator_key.json").string(), PrivateKey::Generate()).ok());
  ASSERT_TRUE(node::WriteKeyFile((rogue / "node_key.json").string(), PrivateKey::Generate()).ok());
  Process rp =
      Process::Spawn({kBinary, "node", "--home", rogue.string()}, (c.dir() / "rogue.log").string());
  ASSERT_TRUE(WaitFor(20000, [&] {
    return c.Metric(0, "certledger_p2p_handshake_failures_total{reason=\"unknown_key\"}") > 0;
  })) << "node0 did not refuse the unknown key";
  auto status = c.GetJson(0, "/v1/status");
  ASSERT_TRUE(status);
  for (const auto& p : (*status)["peers"]) EXPECT_NE(p.value("name", ""), "rogue");
  rp.Stop(5000);

  // Garbage on node0's peer port: a huge length prefix, then random bytes.
  const double protocol_before =
      c.Metric(0, "certledger_p2p_handshake_failures_total{reason=\"protocol\"}");
  auto p2p = *ledger::ParseHostPort(c.node(0).p2p);
  for (int round = 0; round < 3; ++round) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(p2p.port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const unsigned char junk[] = {0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8};
    (void)!::send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
    // The node closes the connection: recv returns 0 (bounded by a receive timeout).
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[256];
    ssize_t n;
    do {
      n = ::recv(fd, buf, sizeof(buf), 0);
    } while (n > 0);
    EXPECT_EQ(n, 0) << "node0 kept a connection that sent garbage";
    ::close(fd);
  }
  // Metrics are refreshed every 500 ms.
  EXPECT_TRUE(WaitFor(5000, [&] {
    return c.Metric(0, "certledger_p2p_handshake_failures_total{reason=\"protocol\"}") >=
           protocol_before + 3;
  }));
  const int64_t h = c.Height(0);
  ASSERT_TRUE(c.WaitHeight(0, h + 2, 30000)) << "node0 stopped committing";
}

// Observer mode: a node without a validator key follows the chain by block sync and serves reads.
TEST(ClusterTest, ObserverFollowsTheChainAndServesReads) {
  Cluster c(4, 1);
  ASSERT_EQ(c.size(), 5u);
  ASSERT_FALSE(c.node(4).validator);
  for (size_t i = 0; i < 4; ++i) c.Start(i);
  ASSERT_TRUE(c.WaitHeight(0, 3, 30000));
  auto stx = c.IssueTx(1, "OB1000");
  ASSERT_TRUE(c.Submit(0, stx));
  ASSERT_TRUE(WaitFor(30000, [&] { return c.Committed(0, TxHash(stx.tx)); }));
  // Started late, the observer catches up from nothing.
  c.Start(4);
  const int64_t target = c.Height(0);
  ASSERT_TRUE(c.WaitHeight(4, target, 60000)) << "the observer did not catch up";
  EXPECT_TRUE(c.Committed(4, TxHash(stx.tx)));
  for (int64_t h = 1; h <= target; ++h) {
    ASSERT_EQ(c.BlockHash(4, static_cast<uint64_t>(h)), c.BlockHash(0, static_cast<uint64_t>(h)));
  }
  auto status = c.GetJson(4, "/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ((*status).value("validator", true), false);
  // It keeps following.
  ASSERT_TRUE(c.WaitHeight(4, target + 2, 30000));
  // Submitting through the observer reaches the validators.
  auto via_observer = c.IssueTx(1, "OB1001");
  ASSERT_TRUE(c.Submit(4, via_observer));
  EXPECT_TRUE(WaitFor(30000, [&] { return c.Committed(0, TxHash(via_observer.tx)); }));
}

// Key custody (issue 9): a validator whose key file was encrypted with `certledger
// reencrypt-key` starts with the passphrase from its configured file and takes part in
// consensus; a node with a plain key file warns; a wrong passphrase stops the node with a clear
// message.
TEST(ClusterTest, ValidatorWithEncryptedKeyFile) {
  Cluster c(4);
  const fs::path home = c.node(3).home;
  const fs::path pass = home / "passphrase";
  {
    std::ofstream(pass) << "river basin 2026\n";
    fs::permissions(pass, fs::perms::owner_read | fs::perms::owner_write);
  }
  // Both of its keys: the consensus key and the node identity.
  for (const std::string& file :
       {(home / "validator_key.json").string(), (home / "node_key.json").string()}) {
    Process enc = Process::Spawn(
        {kBinary, "reencrypt-key", "--key", file, "--new-passphrase-file", pass.string()},
        (c.dir() / "reencrypt.log").string());
    ASSERT_TRUE(enc.Wait(30000));
    EXPECT_EQ(enc.exit_status(), 0);
    ASSERT_TRUE(node::IsEncryptedKeyFile(file).value());
  }
  auto set_passphrase_file = [&](const std::string& file) {
    c.EditConfig(3, [&](node::NodeConfig& cfg) { cfg.key_passphrase_file = file; });
  };
  // A node identity other than the one the validator set names: the node refuses to start.
  {
    const fs::path mine = home / "node_key.json", saved = home / "node_key.saved";
    fs::rename(mine, saved);
    ASSERT_TRUE(node::WriteKeyFile(mine.string(), PrivateKey::Generate()).ok());
    set_passphrase_file("passphrase");
    c.Start(3);
    ASSERT_TRUE(c.proc(3).Wait(30000));
    EXPECT_NE(c.proc(3).exit_status(), 0);
    std::stringstream ss;
    ss << std::ifstream(c.dir() / (c.node(3).name + ".log")).rdbuf();
    EXPECT_NE(ss.str().find("but the validator set names"), std::string::npos) << ss.str();
    fs::remove(mine);
    fs::rename(saved, mine);
  }
  // A wrong passphrase: the node refuses to start and says why.
  const fs::path wrong = home / "wrong";
  {
    std::ofstream(wrong) << "not it\n";
    fs::permissions(wrong, fs::perms::owner_read | fs::perms::owner_write);
  }
  set_passphrase_file("wrong");
  c.Start(3);
  ASSERT_TRUE(c.proc(3).Wait(30000));
  EXPECT_NE(c.proc(3).exit_status(), 0);
  {
    std::ifstream log(c.dir() / (c.node(3).name + ".log"));
    std::stringstream ss;
    ss << log.rdbuf();
    EXPECT_NE(ss.str().find("wrong passphrase"), std::string::npos) << ss.str();
  }
  set_passphrase_file("passphrase");
  const fs::path log3_path = c.dir() / (c.node(3).name + ".log");
  const size_t log3_before = fs::exists(log3_path) ? fs::file_size(log3_path) : 0;
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 3, 30000)) << "node" << i;
  // Node 3 signs: stop another validator; the remaining three (node 3 among them) still commit.
  const int64_t h = c.Height(0);
  c.proc(1).Stop(5000);
  ASSERT_TRUE(c.WaitHeight(3, h + 2, 30000)) << "the encrypted-key validator does not vote";
  std::stringstream log0, log3;
  log0 << std::ifstream(c.dir() / (c.node(0).name + ".log")).rdbuf();
  log3 << std::ifstream(log3_path).rdbuf();
  const std::string run3 = log3.str().size() > log3_before ? log3.str().substr(log3_before) : "";
  EXPECT_NE(log0.str().find("is not encrypted"), std::string::npos);
  EXPECT_NE(run3.find("started"), std::string::npos) << run3;  // this run's part of the log
  EXPECT_EQ(run3.find("is not encrypted"), std::string::npos) << run3;
  EXPECT_EQ(log3.str().find("river basin"), std::string::npos);  // the passphrase is never logged
}

// The HTTP API of a real node process answers bad requests with the documented status and
// error code (the handler tests cover the same against a fake node, 503 included).
// A node configured with api.tls_certificate_file / api.tls_key_file serves its API over https
// only: a client trusting the CA gets answers, one that does not is refused at the handshake,
// and plain http gets no answer.
TEST(ClusterTest, ValidatorServesHttpsWithTheConfiguredCertificate) {
  Cluster c(1);
  const fs::path home = c.node(0).home;
  testing::TestCertificateAuthority ca("agency test CA");
  ASSERT_TRUE(ca.ok());
  const testing::TlsIdentity id = ca.Issue("IP:127.0.0.1,DNS:localhost");
  ASSERT_FALSE(id.certificate_pem.empty());
  ASSERT_TRUE(testing::WriteTestFile((home / "api-cert.pem").string(), id.certificate_pem, 0644));
  ASSERT_TRUE(testing::WriteTestFile((home / "api-key.pem").string(), id.private_key_pem, 0600));
  ASSERT_TRUE(testing::WriteTestFile((c.dir() / "ca.pem").string(), ca.certificate_pem(), 0644));
  c.EditConfig(0, [](node::NodeConfig& cfg) {
    cfg.api_tls_certificate_file = "api-cert.pem";
    cfg.api_tls_key_file = "api-key.pem";
  });
  c.Start(0);
  auto url = tools::ParseUrl(c.node(0).api);
  ASSERT_TRUE(url.ok());
  url->tls = true;
  api::HttpClientOptions trusted;
  trusted.timeout_ms = 3000;
  trusted.ca_file = (c.dir() / "ca.pem").string();
  int64_t height = -1;
  ASSERT_TRUE(WaitFor(30000, [&] {
    tools::HttpClient https(*url, trusted);
    auto r = https.Get("/v1/status");
    if (!r.ok() || r->status != 200) return false;
    height = Json::parse(r->body)["height"].get<int64_t>();
    return height >= 1;
  })) << "no https answer with a height >= 1";
  // Not trusting the CA: refused at the handshake, with the reason.
  {
    tools::HttpClient untrusted(*url, api::HttpClientOptions{3000, ""});
    auto r = untrusted.Get("/v1/status");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos)
        << r.status().message();
  }
  // Plain http to the https port: no HTTP answer (bounded by the client's timeout).
  {
    auto plain = c.Client(0, 3000);
    auto r = plain->Get("/v1/status");
    EXPECT_FALSE(r.ok()) << "plain http got status " << r->status;
  }
}

TEST(ClusterTest, ApiErrorStatusesFromARealNode) {
  Cluster c(4);
  // node3 gets a tight rate limit, to see 429.
  c.EditConfig(3, [](node::NodeConfig& cfg) {
    cfg.api_rate_limit_per_second = 1;
    cfg.api_rate_limit_burst = 2;
  });
  c.StartAll();
  for (size_t i = 0; i < 3; ++i) ASSERT_TRUE(c.WaitHeight(i, 2, 30000));
  auto code_of = [](const tools::HttpResponse& r) {
    Json j = Json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
  };
  auto client = c.Client(0);
  auto r = client->Post("/v1/tx", "{not json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(code_of(*r), "bad-json");
  r = client->Get("/v1/verify/zz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  r = client->Get("/v1/blocks/999999");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(code_of(*r), "not-found");
  r = client->Raw("DELETE /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  r = client->Post("/v1/tx", std::string(2 << 20, ' '));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  // 422: a rule rejection carries the state machine's reason code unchanged.
  auto bad = c.IssueTx(0, "ER1000");
  bad.signatures[0].signature.bytes[7] ^= 1;
  r = client->Post("/v1/tx", Json{{"encoded", ToHex(Encode(bad))}}.dump());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(code_of(*r), "bad-signature");
  // 409: a second, different transaction with a sequence that is taken.
  auto first = c.IssueTx(1, "ER2000");
  ASSERT_TRUE(c.Submit(0, first));
  SignedTransaction clash = first;
  std::get<IssueEvent>(clash.tx.event).not_after -= 86400;
  clash.signatures.clear();
  auto key = node::ReadKeyFile(
      Json::parse(std::ifstream(c.dir() / "network.json"))["agencies"][1]["issuing_key_file"]
          .get<std::string>());
  ASSERT_TRUE(key.ok());
  sample::AddSignature(&clash, *key, GenesisHash(c.genesis()));
  r = client->Post("/v1/tx", Json{{"encoded", ToHex(Encode(clash))}}.dump());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 409) << r->body;
  // 200 with state "committed": the same transaction again once it is committed.
  const Hash256 first_hash = TxHash(first.tx);
  ASSERT_TRUE(WaitFor(30000, [&] { return c.Committed(0, first_hash); }));
  r = c.Client(0)->Post("/v1/tx", Json{{"encoded", ToHex(Encode(first))}}.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Json::parse(r->body, nullptr, false).value("state", ""), "committed") << r->body;
  // 429 from the rate-limited node.
  auto limited = c.Client(3);
  int too_many = 0;
  for (int i = 0; i < 10; ++i) {
    auto q = limited->Get("/v1/status");
    if (q.ok() && q->status == 429) {
      ++too_many;
      EXPECT_EQ(code_of(*q), "rate-limited");
    }
  }
  EXPECT_GT(too_many, 0);
}

}  // namespace
}  // namespace certledger::testing

namespace certledger::testing {
namespace {

// The admin listener of a real node: metrics that pass the strict exposition reader, health
// and readiness that follow the node's state, log levels changed at runtime; the public API
// answers /healthz and /readyz too but not /metrics.
TEST(ClusterTest, AdminListenerServesMetricsHealthAndLogLevels) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 2, 30000));
  tools::HttpClient admin(*tools::ParseUrl(c.node(0).admin), 3000);
  auto m = admin.Get("/metrics");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->status, 200);
  PromParse p = ParsePrometheusText(m->body);
  ASSERT_TRUE(p.ok()) << p.error << "\n" << m->body;
  EXPECT_GE(p.Value("certledger_height").value_or(0), 2);
  EXPECT_GE(p.Value("certledger_commit_latency_seconds_count").value_or(0), 1);
  EXPECT_GE(p.Value("certledger_store_write_seconds_count").value_or(0), 1);
  EXPECT_GE(p.Value("certledger_wal_write_seconds_count").value_or(0), 1);
  EXPECT_EQ(p.Value("certledger_peers_connected"), 3.0);
  ASSERT_TRUE(p.families.count("certledger_build_info"));
  EXPECT_EQ(p.families.at("certledger_build_info").samples.at(0).labels.at("version"),
            node::GetBuildInfo().version);
  EXPECT_TRUE(p.families.count("process_resident_memory_bytes"));
  // Every metric the sample Grafana dashboard queries is one this node exposes.
  {
    std::ifstream in(std::string(CERTLEDGER_SOURCE_DIR) + "/docs/grafana-dashboard.json");
    std::stringstream dash;
    dash << in.rdbuf();
    std::set<std::string> exposed;
    for (const auto& [name, f] : p.families) {
      for (const auto& s : f.samples) exposed.insert(s.name);
    }
    const std::string text = dash.str();
    const std::regex metric("\\b((certledger|process)_[a-z0-9_]+)");
    size_t queried = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
         it != std::sregex_iterator(); ++it) {
      ++queried;
      const std::string name = (*it)[1].str();  // a sample, or a histogram's family
      EXPECT_TRUE(exposed.count(name) || p.families.count(name)) << "dashboard queries " << name;
    }
    EXPECT_GT(queried, 15u);
  }
  auto pub = c.Client(0)->Get("/metrics");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->status, 404) << "metrics must not be on the public API";
  for (const char* path : {"/healthz", "/readyz"}) {
    auto a = admin.Get(path);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->status, 200) << path << " " << a->body;
    auto b = c.Client(0)->Get(path);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->status, 200) << path << " " << b->body;
  }
  // Log levels: p2p to debug at runtime; the node says so in its log.
  const std::string body = R"({"module":"p2p","level":"debug"})";
  auto put = admin.Raw(
      "PUT /admin/log-level HTTP/1.1\r\nHost: t\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(nlohmann::json::parse(put->body)["levels"]["p2p"], "debug");
  // Every peer gone: alive, but not ready, and the reason says why.
  for (size_t i = 1; i < 4; ++i) ASSERT_TRUE(c.proc(i).Stop(10000));
  EXPECT_TRUE(WaitFor(10000, [&] {
    auto r = admin.Get("/readyz");
    return r.ok() && r->status == 503 &&
           r->body.find("peers: none of 3 connected") != std::string::npos;
  }));
  auto h = admin.Get("/healthz");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->status, 200) << h->body;
  ASSERT_TRUE(c.proc(0).Stop(10000));
  std::ifstream log(c.dir() / (c.node(0).name + ".log"));
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("log level of p2p set to debug"), std::string::npos);
  EXPECT_NE(text.str().find(" node0 p2p: "), std::string::npos);
}

}  // namespace
}  // namespace certledger::testing
