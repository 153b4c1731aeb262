// A local network of real `certledger node` processes for multi-process tests: generated with
// `certledger testnet` in a fresh temp directory (free loopback ports), started and stopped per
// node, queried over HTTP. Every wait is bounded; the destructor kills and reaps every process
// and removes the directory (printing the nodes' last log lines when the test failed).
// Header-only; a target that includes it defines CERTLEDGER_BINARY (the certledger binary).
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/chain.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"
#include "node/config.h"
#include "node/keyfile.h"
#include "tests/testing/chain_fixture.h"
#include "tests/testing/process.h"
#include "tools/http_client.h"

namespace certledger::testing {

namespace cluster_internal {
namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
}  // namespace cluster_internal

using namespace cluster_internal;  // NOLINT(google-build-using-namespace): test-only

inline const std::string kBinary = CERTLEDGER_BINARY;

// Polls `pred` every 50 ms until it holds or `timeout_ms` passes.
template <class Pred>
inline bool WaitFor(int timeout_ms, Pred pred) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

struct NodeInfo {
  std::string name, home, api, p2p, admin;
  bool validator = false;
};

struct AgencyInfo {
  std::string id;
  PrivateKey key;
  uint64_t next_sequence = 1;
};

class Cluster {
 public:
  explicit Cluster(int validators, int observers = 0) {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("certledger-cluster-" + std::to_string(rd()));
    Process gen = Process::Spawn({kBinary, "testnet", "--validators", std::to_string(validators),
                                  "--observers", std::to_string(observers), "--out", dir_.string()},
                                 (fs::temp_directory_path() / "certledger-testnet.log").string());
    EXPECT_TRUE(gen.Wait(30000));
    std::ifstream in(dir_ / "network.json");
    Json net = Json::parse(in);
    for (const auto& n : net["nodes"]) {
      nodes_.push_back({n["name"], n["home"], n["api"], n["p2p"], n["admin"], n["validator"]});
    }
    std::ifstream gin(dir_ / "genesis.json");
    std::stringstream gs;
    gs << gin.rdbuf();
    genesis_ = *ParseGenesisJson(gs.str());
    for (const auto& a : net["agencies"]) {
      auto key = node::ReadKeyFile(a["issuing_key_file"]);
      EXPECT_TRUE(key.ok());
      agencies_.push_back({a["id"], *key, 1});
    }
    procs_.resize(nodes_.size());
  }

  ~Cluster() {
    for (auto& p : procs_) p.Stop(5000);
    if (::testing::Test::HasFailure()) {
      // Keep the logs of a failing run visible in the test output.
      for (const auto& n : nodes_) {
        std::ifstream log(dir_ / (n.name + ".log"));
        std::string line, tail;
        std::deque<std::string> last;
        while (std::getline(log, line)) {
          last.push_back(line);
          if (last.size() > 40) last.pop_front();
        }
        std::fprintf(stderr, "---- last lines of %s.log ----\n", n.name.c_str());
        for (const auto& l : last) std::fprintf(stderr, "%s\n", l.c_str());
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Changes node `i`'s configuration (its config.toml, read and written back).
  void EditConfig(size_t i, const std::function<void(node::NodeConfig&)>& edit) {
    auto cfg = node::LoadConfig(nodes_[i].home);
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    edit(*cfg);
    std::ofstream(fs::path(nodes_[i].home) / "config.toml") << node::ConfigToToml(*cfg);
  }

  void Start(size_t i) {
    procs_[i] = Process::Spawn({kBinary, "node", "--home", nodes_[i].home},
                               (dir_ / (nodes_[i].name + ".log")).string());
  }
  void StartAll() {
    for (size_t i = 0; i < nodes_.size(); ++i) Start(i);
  }
  Process& proc(size_t i) { return procs_[i]; }
  [[nodiscard]] size_t size() const { return nodes_.size(); }
  [[nodiscard]] const NodeInfo& node(size_t i) const { return nodes_[i]; }
  [[nodiscard]] const Genesis& genesis() const { return genesis_; }
  [[nodiscard]] const fs::path& dir() const { return dir_; }
  [[nodiscard]] size_t agency_count() const { return agencies_.size(); }
  AgencyInfo& agency(size_t a) { return agencies_[a]; }

  // Resident memory of node `i`'s process in KiB (0 if it cannot be read).
  uint64_t RssKb(size_t i) {
    std::ifstream in("/proc/" + std::to_string(procs_[i].pid()) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
    }
    return 0;
  }

  std::unique_ptr<tools::HttpClient> Client(size_t i, int timeout_ms = 3000) {
    return std::make_unique<tools::HttpClient>(*tools::ParseUrl(nodes_[i].api), timeout_ms);
  }

  std::optional<Json> GetJson(size_t i, const std::string& path) {
    auto c = Client(i);
    auto r = c->Get(path);
    if (!r.ok() || r->status != 200) return std::nullopt;
    Json j = Json::parse(r->body, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  }

  // The node's committed height, or -1 if it does not answer.
  int64_t Height(size_t i) {
    auto j = GetJson(i, "/v1/status");
    if (!j || !j->contains("height")) return -1;
    return (*j)["height"].get<int64_t>();
  }
  bool WaitHeight(size_t i, int64_t h, int timeout_ms) {
    return WaitFor(timeout_ms, [&] { return Height(i) >= h; });
  }
  std::string BlockHash(size_t i, uint64_t h) {
    auto j = GetJson(i, "/v1/blocks/" + std::to_string(h));
    if (!j) return "";
    return (*j)["header"]["hash"].get<std::string>();
  }
  // A metric's value from node `i`'s admin listener (-1 if it does not answer or lacks it).
  double Metric(size_t i, const std::string& name) {
    tools::HttpClient c(*tools::ParseUrl(nodes_[i].admin), 3000);
    auto r = c.Get("/metrics");
    if (!r.ok()) return -1;
    std::istringstream in(r->body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return -1;
  }

  // A signed issue transaction of agency `a` with the agency's next sequence.
  SignedTransaction IssueTx(size_t a, const std::string& serial) {
    AgencyInfo& ag = agencies_[a];
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    IssueEvent e = sample::Issue(genesis_.params.water_permit_type_code, ag.id, serial,
                                 "cluster-doc/" + ag.id + "/" + serial, now_s, 60);
    return sample::SignedTx({genesis_.params.chain_id, GenesisHash(genesis_)}, ag.id,
                            ag.next_sequence++, std::move(e), ag.key);
  }

  // Submits to node `i`; true if the node admitted it.
  bool Submit(size_t i, const SignedTransaction& stx) {
    auto c = Client(i);
    Json body = {{"encoded", ToHex(Encode(stx))}};
    auto r = c->Post("/v1/tx", body.dump());
    return r.ok() && (r->status == 200 || r->status == 202);
  }
  bool Committed(size_t i, const Hash256& tx) {
    auto j = GetJson(i, "/v1/tx/" + tx.Hex());
    return j && (*j).value("state", "") == "committed";
  }

 private:
  fs::path dir_;
  std::vector<NodeInfo> nodes_;
  std::vector<Process> procs_;
  std::vector<AgencyInfo> agencies_;
  Genesis genesis_;
};

}  // namespace certledger::testing
