#include "tools/audit.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "api/json.h"
#include "ledger/chain.h"
#include "ledger/encoding.h"
#include "ledger/leveldb_store.h"
#include "ledger/replay.h"
#include "ledger/state.h"
#include "tools/http_client.h"

namespace certledger::tools {

using ledger::Result;
using ledger::Status;
using Json = nlohmann::json;

Status AuditOptions::Validate() const {
  if (home.empty() == node_url.empty()) {
    return Status::InvalidArgument("give exactly one of --home DIR or --node URL");
  }
  if (!node_url.empty() && genesis_file.empty()) {
    return Status::InvalidArgument("--genesis: required with --node (the genesis you trust)");
  }
  if (!(sample_fraction >= 0 && sample_fraction <= 1)) {
    return Status::InvalidArgument("--sample: a fraction 0..1");
  }
  return Status::Ok();
}

namespace {

// Where blocks come from.
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  virtual uint64_t Height() = 0;
  // Block `h` with its commit; a failure is an anomaly at `h`.
  virtual Status Get(uint64_t h, ledger::Block* block, ledger::CommitCertificate* commit) = 0;
  // A consistency proof from the source, if it serves them.
  virtual std::optional<Result<std::vector<ledger::Hash256>>> Consistency(uint64_t, uint64_t) {
    return std::nullopt;
  }
};

class StoreSource : public BlockSource {
 public:
  explicit StoreSource(std::unique_ptr<ledger::Store> store) : store_(std::move(store)) {}
  uint64_t Height() override { return store_->Height(); }
  Status Get(uint64_t h, ledger::Block* block, ledger::CommitCertificate* commit) override {
    auto b = store_->GetBlock(h);
    if (!b.ok()) return Status::Corruption("block record: " + b.status().message());
    auto c = store_->GetCommit(h);
    if (!c.ok()) return Status::Corruption("commit record: " + c.status().message());
    auto hd = store_->GetHeader(h);
    if (!hd.ok()) return Status::Corruption("header record: " + hd.status().message());
    if (!(*hd == b->header)) {
      return Status::Corruption("the stored header differs from the block's header");
    }
    *block = std::move(b).value();
    *commit = std::move(c).value();
    return Status::Ok();
  }

 private:
  std::unique_ptr<ledger::Store> store_;
};

class NodeSource : public BlockSource {
 public:
  NodeSource(Url url, const std::string& ca_file)
      : client_(std::move(url), HttpClientOptions{30000, ca_file}) {}
  Status Init() {
    auto r = client_.Get("/v1/status");
    if (!r.ok()) return r.status();
    Json j = Json::parse(r->body, nullptr, false);
    if (r->status != 200 || !j.is_object()) return Status::Unavailable("/v1/status did not answer");
    height_ = j.value("height", uint64_t{0});
    return Status::Ok();
  }
  uint64_t Height() override { return height_; }
  Status Get(uint64_t h, ledger::Block* block, ledger::CommitCertificate* commit) override {
    auto it = cache_.find(h);
    if (it == cache_.end()) {
      cache_.clear();
      const uint64_t to = std::min(height_, h + 99);
      auto r = client_.Get("/v1/blocks?from=" + std::to_string(h) + "&to=" + std::to_string(to) +
                           "&format=binary");
      if (!r.ok()) return r.status();
      if (r->status != 200)
        return Status::Unavailable("/v1/blocks: HTTP " + std::to_string(r->status));
      auto j = api::ParseJson(r->body, 8);
      if (!j.ok()) return j.status();
      for (const auto& b : (*j).value("blocks", Json::array())) {
        if (!b.is_object() || !b.contains("height") || !b["height"].is_number_unsigned()) continue;
        cache_[b["height"].get<uint64_t>()] = {b.value("block", ""), b.value("commit", "")};
      }
      it = cache_.find(h);
      if (it == cache_.end())
        return Status::Corruption("the node did not return block " + std::to_string(h));
    }
    auto bb = ledger::FromHex(it->second.first);
    auto cb = ledger::FromHex(it->second.second);
    if (!bb || !cb) return Status::Corruption("block or commit is not hex");
    auto b = ledger::Decode<ledger::Block>(*bb);
    if (!b.ok()) return Status::Corruption("block: " + b.status().message());
    auto c = ledger::Decode<ledger::CommitCertificate>(*cb);
    if (!c.ok()) return Status::Corruption("commit: " + c.status().message());
    *block = std::move(b).value();
    *commit = std::move(c).value();
    return Status::Ok();
  }
  std::optional<Result<std::vector<ledger::Hash256>>> Consistency(uint64_t from,
                                                                  uint64_t to) override {
    auto r = client_.Get("/v1/proofs/consistency?from=" + std::to_string(from) +
                         "&to=" + std::to_string(to));
    if (!r.ok()) return Result<std::vector<ledger::Hash256>>(r.status());
    Json j = Json::parse(r->body, nullptr, false);
    if (r->status != 200 || !j.is_object() || !j.contains("proof") || !j["proof"].is_array()) {
      return Result<std::vector<ledger::Hash256>>(
          Status::Unavailable("/v1/proofs/consistency: HTTP " + std::to_string(r->status)));
    }
    std::vector<ledger::Hash256> out;
    for (const auto& p : j["proof"]) {
      auto h = p.is_string() ? ledger::Hash256::FromHexString(p.get<std::string>()) : std::nullopt;
      if (!h) return Result<std::vector<ledger::Hash256>>(Status::Corruption("bad proof hash"));
      out.push_back(*h);
    }
    return Result<std::vector<ledger::Hash256>>(std::move(out));
  }

 private:
  HttpClient client_;
  uint64_t height_ = 0;
  std::map<uint64_t, std::pair<std::string, std::string>> cache_;
};

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<AuditReport> RunAudit(const AuditOptions& o) {
  if (Status st = o.Validate(); !st.ok()) return st;
  const std::string genesis_path = !o.genesis_file.empty()
                                       ? o.genesis_file
                                       : (std::filesystem::path(o.home) / "genesis.json").string();
  std::ifstream gin(genesis_path);
  if (!gin) return Status::IOError("cannot read genesis " + genesis_path);
  std::stringstream gs;
  gs << gin.rdbuf();
  auto genesis = ledger::ParseGenesisJson(gs.str());
  if (!genesis.ok())
    return Status::InvalidArgument(genesis_path + ": " + genesis.status().message());
  if (Status st = ledger::ValidateGenesis(*genesis); !st.ok()) return st;

  AuditReport report;
  report.chain_id = genesis->params.chain_id;
  report.genesis_hash = ledger::GenesisHash(*genesis).Hex();
  report.seed = o.seed;
  std::unique_ptr<BlockSource> source;
  if (!o.home.empty()) {
    const std::string path = (std::filesystem::path(o.home) / "data" / "ledger").string();
    if (!std::filesystem::exists(path)) return Status::NotFound("no ledger store at " + path);
    ledger::LevelDBStoreOptions so;
    so.path = path;
    so.block_cache_bytes = 8 << 20;
    auto store = ledger::OpenLevelDBStore(so);
    if (!store.ok()) {
      return Status::IOError(
          "cannot open " + path +
          " (is the node still running? audit a copy): " + store.status().message());
    }
    if (Status st = (*store)->Initialize(*genesis); !st.ok()) {
      if (!st.IsInvalidArgument()) {  // a damaged store, e.g. its state tree is missing
        report.anomalies.push_back({0, "store", st.message()});
        return report;
      }
      report.anomalies.push_back(
          {0, "genesis", "the store's genesis is not " + genesis_path + ": " + st.message()});
      return report;
    }
    source = std::make_unique<StoreSource>(std::move(store).value());
    report.source = path;
  } else {
    auto url = ParseUrl(o.node_url);
    if (!url.ok()) return url.status();
    auto node = std::make_unique<NodeSource>(*url, o.ca_file);
    if (Status st = node->Init(); !st.ok()) return st;
    source = std::move(node);
    report.source = o.node_url;
  }

  const auto t0 = std::chrono::steady_clock::now();
  ledger::Replayer replayer(*genesis);
  report.tip_height = source->Height();
  std::vector<std::pair<uint64_t, ledger::Hash256>> roots;  // (log size, root) after each block
  for (uint64_t h = 1; h <= report.tip_height; ++h) {
    ledger::Block block;
    ledger::CommitCertificate commit;
    if (Status st = source->Get(h, &block, &commit); !st.ok()) {
      report.anomalies.push_back({h, "read", st.message()});
      break;
    }
    const uint64_t size_before = replayer.log().size();
    const ledger::Hash256 root_before = replayer.log().Root();
    if (Status st = replayer.Next(block, commit); !st.ok()) {
      report.anomalies.push_back({h, "replay", st.message()});
      break;
    }
    ++report.blocks;
    // Successive event-log roots: the older tree is a prefix of the newer one.
    const uint64_t size_after = replayer.log().size();
    if (size_before > 0 && size_after > size_before) {
      auto proof = replayer.log().ConsistencyProof(size_before, size_after, replayer.log_nodes());
      ++report.consistency_checks;
      if (!proof.ok() || !ledger::VerifyConsistency(size_before, size_after, root_before,
                                                    replayer.log().Root(), *proof)) {
        report.anomalies.push_back({h, "log-consistency",
                                    "event log of block " + std::to_string(h - 1) +
                                        " is not a prefix of block " + std::to_string(h) + "'s"});
      }
    }
    if (size_after > 0 && (roots.empty() || roots.back().first != size_after)) {
      roots.emplace_back(size_after, replayer.log().Root());
    }
    for (const auto& stx : block.txs) {
      ++report.events;
      ++report.events_by_agency[stx.tx.agency][ledger::EventTypeName(ledger::TypeOf(stx.tx.event))];
      if (const auto* r = std::get_if<ledger::RevokeEvent>(&stx.tx.event)) {
        report.revocations.push_back(
            {h, r->certificate, stx.tx.agency, api::RevocationKindName(r->kind), r->reason});
      }
      if (const auto* d = std::get_if<ledger::DuplicateVoteEvent>(&stx.tx.event)) {
        report.evidence.push_back(
            {h, d->first.validator.Hex(),
             d->first.type == ledger::VoteType::kPrevote ? "prevote" : "precommit", d->first.height,
             d->first.round});
      }
    }
    if (o.progress) o.progress(h, report.tip_height);
  }

  // The source's own consistency proofs (node API) against the roots we replayed: up to 32
  // evenly spaced sizes, each to the final size.
  if (!roots.empty()) {
    const auto [last_size, last_root] = roots.back();
    const size_t step = std::max<size_t>(1, roots.size() / 32);
    for (size_t i = 0; i < roots.size(); i += step) {
      auto proof = source->Consistency(roots[i].first, last_size);
      if (!proof) break;
      ++report.consistency_checks;
      if (!proof->ok()) {
        report.anomalies.push_back({report.blocks, "consistency-proof", proof->status().message()});
        break;
      }
      if (!ledger::VerifyConsistency(roots[i].first, last_size, roots[i].second, last_root,
                                     **proof)) {
        report.anomalies.push_back(
            {report.blocks, "consistency-proof",
             "the node's proof from log size " + std::to_string(roots[i].first) + " to " +
                 std::to_string(last_size) + " does not verify against the replayed roots"});
      }
    }
  }

  // A reproducible sample of the certificates (about sample_fraction, at least one).
  std::vector<std::string> certs;
  for (const auto& [key, value] : replayer.state().entries()) {
    if (key.rfind("cert/", 0) == 0) certs.push_back(key.substr(5));
  }
  report.certificates = certs.size();
  if (!certs.empty() && o.sample_fraction > 0) {
    const size_t n = std::max<size_t>(
        1, static_cast<size_t>(std::ceil(static_cast<double>(certs.size()) * o.sample_fraction)));
    std::mt19937_64 rng(o.seed);
    for (size_t i = 0; i < n && i < certs.size(); ++i) {  // partial Fisher-Yates
      const size_t j = i + static_cast<size_t>(rng() % (certs.size() - i));
      std::swap(certs[i], certs[j]);
    }
    certs.resize(std::min(n, certs.size()));
    std::sort(certs.begin(), certs.end());
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (const auto& base : certs) {
      auto c = ledger::ReadCertificate(replayer.state(), base);
      if (!c.ok() || !c->has_value()) continue;
      const auto& cs = **c;
      report.sample.push_back({cs.base_id, cs.issuer, cs.controller,
                               api::EffectiveStatusName(ledger::EffectiveStatusAt(cs, now_ms)),
                               cs.versions.empty() ? "" : cs.versions.back().document_hash.Hex(),
                               cs.version, cs.not_after});
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

Json AuditReport::ToJson() const {
  Json by_agency = Json::object();
  for (const auto& [agency, types] : events_by_agency) {
    for (const auto& [type, n] : types) by_agency[agency][type] = n;
  }
  Json revs = Json::array();
  for (const auto& r : revocations) {
    revs.push_back({{"height", r.height},
                    {"certificate", r.certificate},
                    {"agency", r.agency},
                    {"kind", r.kind},
                    {"reason", r.reason}});
  }
  Json evid = Json::array();
  for (const auto& e : evidence) {
    evid.push_back({{"height", e.height},
                    {"validator", e.validator},
                    {"vote_type", e.vote_type},
                    {"vote_height", e.vote_height},
                    {"round", e.round}});
  }
  Json anoms = Json::array();
  for (const auto& a : anomalies) {
    anoms.push_back({{"height", a.height}, {"check", a.check}, {"message", a.message}});
  }
  Json samp = Json::array();
  for (const auto& s : sample) {
    samp.push_back({{"certificate", s.certificate},
                    {"issuer", s.issuer},
                    {"controller", s.controller},
                    {"status", s.status},
                    {"version", s.version},
                    {"document_hash", s.document_hash},
                    {"not_after", s.not_after}});
  }
  return Json{{"ok", ok()},
              {"chain_id", chain_id},
              {"genesis_hash", genesis_hash},
              {"source", source},
              {"tip_height", tip_height},
              {"blocks_verified", blocks},
              {"events", events},
              {"certificates", certificates},
              {"consistency_checks", consistency_checks},
              {"seconds", seconds},
              {"events_per_agency", by_agency},
              {"revocations", revs},
              {"evidence", evid},
              {"anomalies", anoms},
              {"sample_seed", seed},
              {"sample", samp}};
}

std::string AuditReport::ToCsv() const {
  std::ostringstream o;
  o << "section,height,agency,type,count,certificate,detail\n";
  for (const auto& [agency, types] : events_by_agency) {
    for (const auto& [type, n] : types)
      o << "events,," << agency << "," << type << "," << n << ",,\n";
  }
  for (const auto& r : revocations) {
    o << "revocation," << r.height << "," << r.agency << "," << r.kind << ",," << Csv(r.certificate)
      << "," << Csv(r.reason) << "\n";
  }
  for (const auto& e : evidence) {
    o << "evidence," << e.height << ",," << e.vote_type << ",," << e.validator << ",height "
      << e.vote_height << " round " << e.round << "\n";
  }
  for (const auto& a : anomalies) {
    o << "anomaly," << a.height << ",," << Csv(a.check) << ",,," << Csv(a.message) << "\n";
  }
  for (const auto& s : sample) {
    o << "sample,," << s.issuer << "," << s.status << "," << s.version << "," << Csv(s.certificate)
      << "," << s.document_hash << "\n";
  }
  return o.str();
}

std::string AuditReport::ToText() const {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(2);
  o << "chain " << chain_id << " (genesis " << genesis_hash.substr(0, 16) << "…), source " << source
    << "\n";
  o << "replayed " << blocks << " of " << tip_height << " blocks, " << events << " events, "
    << certificates << " certificates in " << seconds << " s";
  if (seconds > 0) o << " (" << static_cast<double>(events) / seconds << " events/s)";
  o << "\n"
    << consistency_checks << " consistency checks, " << revocations.size() << " revocations, "
    << evidence.size() << " recorded double votes, sample of " << sample.size()
    << " certificates (seed " << seed << ")\n";
  for (const auto& e : evidence) {
    o << "EVIDENCE at height " << e.height << ": validator " << e.validator.substr(0, 16)
      << "… signed two " << e.vote_type << "s at height " << e.vote_height << " round " << e.round
      << "\n";
  }
  for (const auto& a : anomalies) {
    o << "ANOMALY at height " << a.height << " [" << a.check << "]: " << a.message << "\n";
  }
  o << (ok() ? "audit passed" : "audit FAILED") << "\n";
  return o.str();
}

Result<ledger::ValidatorSet> ReplayValidatorSet(const std::string& node_url,
                                                const ledger::Genesis& genesis, uint64_t height,
                                                const std::string& ca_file) {
  auto url = ParseUrl(node_url);
  if (!url.ok()) return url.status();
  NodeSource source(*url, ca_file);
  if (Status st = source.Init(); !st.ok()) return st;
  if (source.Height() < height) {
    return Status::InvalidArgument("the node holds only " + std::to_string(source.Height()) +
                                   " blocks");
  }
  ledger::Replayer replayer(genesis);
  for (uint64_t h = 1; h <= height; ++h) {
    ledger::Block block;
    ledger::CommitCertificate commit;
    if (Status st = source.Get(h, &block, &commit); !st.ok()) return st;
    if (Status st = replayer.Next(block, commit); !st.ok()) {
      return Status::InvalidArgument("replay failed at height " + std::to_string(h) + ": " +
                                     st.message());
    }
  }
  // Promotions happen only at the start of a block, so the current set after block `height` is
  // the set that committed it (FORMAT.md §6.5).
  return ledger::ReadValidators(replayer.state());
}

Status WriteAuditReport(const AuditReport& report, const std::string& prefix) {
  {
    std::ofstream out(prefix + ".json");
    out << report.ToJson().dump(2) << "\n";
    if (!out) return Status::IOError("cannot write " + prefix + ".json");
  }
  std::ofstream out(prefix + ".csv");
  out << report.ToCsv();
  if (!out) return Status::IOError("cannot write " + prefix + ".csv");
  return Status::Ok();
}

}  // namespace certledger::tools
