#include "tools/loadgen.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "ledger/chain.h"
#include "ledger/coding.h"
#include "ledger/encoding.h"
#include "ledger/testing/sample_permit.h"
#include "tools/http_client.h"

namespace certledger::tools {

using ledger::Result;
using ledger::Status;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

Status LoadgenOptions::Validate() const {
  if (network_file.empty()) return Status::InvalidArgument("--network: required");
  if (rate < 0) return Status::InvalidArgument("--rate: must be >= 0");
  if (duration_s <= 0) return Status::InvalidArgument("--duration: must be > 0");
  if (outstanding == 0) return Status::InvalidArgument("--outstanding: must be >= 1");
  if (connections == 0 || connections > 256)
    return Status::InvalidArgument("--connections: 1..256");
  if (count > 10'000'000) return Status::InvalidArgument("--count: at most 10,000,000");
  if (batch == 0 || batch > 1000) return Status::InvalidArgument("--batch: 1..1000");
  return Status::Ok();
}

namespace {

Result<Json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path);
  Json j = Json::parse(in, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument(path + " is not JSON");
  return j;
}

Result<ledger::PrivateKey> ReadKey(const std::string& path) {
  auto j = ReadJsonFile(path);
  if (!j.ok()) return j.status();
  auto secret = ledger::FromHex(j->value("secret_key", ""));
  if (!secret) return Status::InvalidArgument(path + ": no secret_key");
  auto k = ledger::PrivateKey::FromBytes(*secret);
  if (!k) return Status::InvalidArgument(path + ": invalid key");
  return *k;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

std::string LoadgenReport::ToJson() const {
  Json j = {{"submitted", submitted},
            {"committed", committed},
            {"refused", refused},
            {"blocks", blocks},
            {"committed_per_s", committed_per_s},
            {"window_s", last_commit_s - first_submit_s},
            {"latency_ms", {{"p50", p50_ms}, {"p90", p90_ms}, {"p99", p99_ms}, {"max", max_ms}}}};
  return j.dump(2);
}

std::string LoadgenReport::ToText() const {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "submitted " << submitted << ", committed " << committed << " (refused " << refused
    << ") in " << blocks << " blocks\n"
    << "committed events/s: " << committed_per_s << " over " << (last_commit_s - first_submit_s)
    << " s\n"
    << "submit-to-commit latency ms: p50 " << p50_ms << "  p90 " << p90_ms << "  p99 " << p99_ms
    << "  max " << max_ms << "\n";
  return o.str();
}

Result<LoadgenReport> RunLoadgen(const LoadgenOptions& o) {
  if (Status st = o.Validate(); !st.ok()) return st;
  auto net = ReadJsonFile(o.network_file);
  if (!net.ok()) return net.status();
  std::ifstream gin((*net)["genesis"].get<std::string>());
  std::stringstream gs;
  gs << gin.rdbuf();
  auto genesis = ledger::ParseGenesisJson(gs.str());
  if (!genesis.ok()) return genesis.status();
  const ledger::ChainDomain domain{genesis->params.chain_id, ledger::GenesisHash(*genesis)};

  std::vector<Url> apis;
  for (const auto& n : (*net)["nodes"]) {
    auto u = ParseUrl(n["api"].get<std::string>());
    if (!u.ok()) return u.status();
    apis.push_back(*u);
  }
  std::vector<size_t> targets;
  if (o.nodes == "all") {
    for (size_t i = 0; i < apis.size(); ++i) targets.push_back(i);
  } else {
    std::stringstream ss(o.nodes);
    std::string part;
    while (std::getline(ss, part, ',')) {
      const size_t i = std::stoul(part);
      if (i >= apis.size()) return Status::InvalidArgument("--nodes: no node " + part);
      targets.push_back(i);
    }
  }

  // Agencies, their keys and their next sequence numbers (from the ledger).
  struct Agency {
    std::string id;
    ledger::PrivateKey key;
    uint64_t next = 1;
  };
  std::vector<Agency> agencies;
  HttpClient probe(apis[targets[0]], HttpClientOptions{10000, o.ca_file});
  auto listed = probe.Get("/v1/agencies");
  if (!listed.ok()) return listed.status();
  Json listing = Json::parse(listed->body, nullptr, false);
  for (const auto& a : (*net)["agencies"]) {
    auto key = ReadKey(a["issuing_key_file"].get<std::string>());
    if (!key.ok()) return key.status();
    Agency ag{a["id"].get<std::string>(), *key, 1};
    if (listing.is_object() && listing.contains("agencies")) {
      for (const auto& l : listing["agencies"]) {
        if (l.value("id", "") == ag.id) ag.next = l.value("sequence", uint64_t{0}) + 1;
      }
    }
    agencies.push_back(std::move(ag));
  }
  if (agencies.empty()) return Status::InvalidArgument("network.json lists no agencies");

  // Pre-sign every event, so that signing never limits the submission rate.
  const uint64_t n =
      o.count != 0 ? o.count : (o.rate > 0 ? static_cast<uint64_t>(o.rate * o.duration_s) : 20000);
  std::vector<std::string> bodies(n);
  std::unordered_map<std::string, size_t> index_of;
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const std::string run = std::to_string(now_s % 1000000);
  for (uint64_t i = 0; i < n; ++i) {
    Agency& ag = agencies[i % agencies.size()];
    const std::string serial = "LG" + run + "X" + std::to_string(i);
    ledger::IssueEvent e =
        ledger::sample::Issue(genesis->params.water_permit_type_code, ag.id, serial,
                              "loadgen/" + ag.id + "/" + serial, now_s, /*backdate_s=*/60);
    e.summary = ledger::sample::LoadPermitSummary(i);
    const ledger::SignedTransaction stx =
        ledger::sample::SignedTx(domain, ag.id, ag.next++, std::move(e), ag.key);
    index_of.emplace(ledger::TxHash(stx.tx).Hex(), i);
    const ledger::Bytes encoded = ledger::Encode(stx);
    if (o.batch == 1) {
      bodies[i] = Json{{"encoded", ledger::ToHex(encoded)}}.dump();
    } else {  // one frame of a POST /v1/txs body: u32 little-endian length, then the bytes
      ledger::PutLengthPrefixed(&bodies[i], encoded);
    }
  }

  std::vector<std::atomic<int64_t>> submit_us(n), commit_us(n);
  for (uint64_t i = 0; i < n; ++i) {
    submit_us[i] = -1;
    commit_us[i] = -1;
  }
  std::atomic<uint64_t> next{0}, submitted{0}, committed{0}, refused{0}, blocks{0};
  std::atomic<bool> stop_observer{false};
  const auto t0 = Clock::now();
  auto us_since = [&](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t - t0).count();
  };

  // The observer follows one node's committed blocks.
  std::thread observer([&] {
    HttpClient c(apis[targets[0]], HttpClientOptions{5000, o.ca_file});
    auto st = c.Get("/v1/status");
    uint64_t seen = 0;
    if (st.ok()) seen = Json::parse(st->body, nullptr, false).value("height", uint64_t{0});
    while (!stop_observer.load()) {
      auto s = c.Get("/v1/status");
      uint64_t h = seen;
      if (s.ok()) h = Json::parse(s->body, nullptr, false).value("height", seen);
      for (uint64_t k = seen + 1; k <= h; ++k) {
        // The binary form: the node does not render thousands of transactions as JSON.
        auto b = c.Get("/v1/blocks/" + std::to_string(k) + "?format=binary");
        if (!b.ok() || b->status != 200) break;
        const auto observed = us_since(Clock::now());
        Json answer = Json::parse(b->body, nullptr, false);
        auto raw = ledger::FromHex(answer.is_object() ? answer.value("block", "") : "");
        if (!raw) break;
        auto block = ledger::Decode<ledger::Block>(*raw);
        if (!block.ok()) break;
        for (const auto& stx : block->txs) {
          auto it = index_of.find(ledger::TxHash(stx.tx).Hex());
          if (it == index_of.end()) continue;
          int64_t expected = -1;
          if (commit_us[it->second].compare_exchange_strong(expected, observed)) ++committed;
        }
        ++blocks;
        seen = k;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });

  // POST /v1/txs with the next o.batch events; false once every event is taken. Refusals that
  // say "later" (429, 503) are sent again; other refusals are counted.
  auto SubmitBatch = [&](HttpClient& c) -> bool {
    const uint64_t first = next.fetch_add(o.batch);
    if (first >= n) return false;
    const uint64_t end = std::min<uint64_t>(n, first + o.batch);
    if (o.rate > 0) {
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(static_cast<int64_t>(
                                             static_cast<double>(first) * 1e6 / o.rate)));
    }
    while (submitted.load() + (end - first) > committed.load() + o.outstanding &&
           submitted.load() > committed.load()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::vector<uint64_t> todo;
    for (uint64_t i = first; i < end; ++i) todo.push_back(i);
    for (int attempt = 0; attempt < 100 && !todo.empty(); ++attempt) {
      std::string body;
      for (uint64_t i : todo) body += bodies[i];
      const int64_t at = us_since(Clock::now());
      for (uint64_t i : todo) submit_us[i] = at;
      auto r = c.Post("/v1/txs", body, "application/octet-stream");
      Json answer = r.ok() && r->status == 200 ? Json::parse(r->body, nullptr, false) : Json();
      if (!answer.is_object() || !answer["results"].is_array() ||
          answer["results"].size() != todo.size()) {
        if (r.ok() && (r->status == 429 || r->status == 503)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        if (refused.fetch_add(todo.size()) < 5) {
          std::fprintf(stderr, "loadgen: batch refused: %s\n",
                       r.ok() ? (std::to_string(r->status) + " " + r->body.substr(0, 300)).c_str()
                              : r.status().ToString().c_str());
        }
        return true;
      }
      std::vector<uint64_t> again;
      for (size_t k = 0; k < todo.size(); ++k) {
        const Json& res = answer["results"][k];
        if (res.contains("state")) {
          ++submitted;
          continue;
        }
        const int status = res.value("status", 0);
        if (status == 429 || status == 503) {
          again.push_back(todo[k]);
        } else if (refused.fetch_add(1) < 5) {
          std::fprintf(stderr, "loadgen: event %llu refused: %s\n",
                       static_cast<unsigned long long>(todo[k]), res.dump().substr(0, 300).c_str());
        }
      }
      if (!again.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      todo = std::move(again);
    }
    return true;
  };

  std::vector<std::thread> submitters;
  for (uint32_t w = 0; w < o.connections; ++w) {
    submitters.emplace_back([&, w] {
      HttpClient c(apis[targets[w % targets.size()]], HttpClientOptions{10000, o.ca_file});
      for (;;) {
        if (o.batch > 1) {
          if (!SubmitBatch(c)) return;
          continue;
        }
        const uint64_t i = next.fetch_add(1);
        if (i >= n) return;
        if (o.rate > 0) {
          const auto due = t0 + std::chrono::microseconds(
                                    static_cast<int64_t>(static_cast<double>(i) * 1e6 / o.rate));
          std::this_thread::sleep_until(due);
        }
        while (submitted.load() - committed.load() >= o.outstanding) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        for (int attempt = 0; attempt < 100; ++attempt) {
          submit_us[i] = us_since(Clock::now());
          auto r = c.Post("/v1/tx", bodies[i]);
          if (r.ok() && (r->status == 200 || r->status == 202)) {
            ++submitted;
            break;
          }
          if (r.ok() && (r->status == 429 || r->status == 503)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
          }
          if (refused.fetch_add(1) < 5) {
            std::fprintf(stderr, "loadgen: event %llu refused: %s\n",
                         static_cast<unsigned long long>(i),
                         r.ok() ? (std::to_string(r->status) + " " + r->body.substr(0, 300)).c_str()
                                : r.status().ToString().c_str());
          }
          break;
        }
      }
    });
  }
  for (auto& t : submitters) t.join();
  const auto drain_deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.drain_timeout_s * 1000));
  while (committed.load() < submitted.load() && Clock::now() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop_observer = true;
  observer.join();

  LoadgenReport r;
  r.submitted = submitted.load();
  r.committed = committed.load();
  r.refused = refused.load();
  r.blocks = blocks.load();
  std::vector<double> lat;
  int64_t first = -1, last = -1;
  for (uint64_t i = 0; i < n; ++i) {
    const int64_t s = submit_us[i].load(), c = commit_us[i].load();
    if (s >= 0 && (first < 0 || s < first)) first = s;
    if (s >= 0 && c >= 0) {
      lat.push_back(static_cast<double>(c - s) / 1000.0);
      last = std::max(last, c);
    }
  }
  r.first_submit_s = first < 0 ? 0 : static_cast<double>(first) / 1e6;
  r.last_commit_s = last < 0 ? 0 : static_cast<double>(last) / 1e6;
  const double window = r.last_commit_s - r.first_submit_s;
  r.committed_per_s = window > 0 ? static_cast<double>(r.committed) / window : 0;
  r.p50_ms = Percentile(lat, 0.50);
  r.p90_ms = Percentile(lat, 0.90);
  r.p99_ms = Percentile(lat, 0.99);
  r.max_ms = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  return r;
}

}  // namespace certledger::tools
