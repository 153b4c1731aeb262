#include "api/handlers.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "api/attestation.h"
#include "api/health.h"
#include "api/json.h"
#include "api/metrics.h"
#include "api/staple.h"
#include "api/verify_status.h"
#include "ledger/coding.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"

namespace certledger::api {

using ledger::Hash256;
using ledger::Result;
using ledger::Status;

// ---- HttpMetrics ------------------------------------------------------------------------------

struct HttpMetrics::Impl {
  explicit Impl(prometheus::Registry& r)
      : requests(prometheus::BuildCounter()
                     .Name("certledger_http_requests_total")
                     .Help("HTTP requests answered, by route pattern and status code.")
                     .Register(r)),
        durations(prometheus::BuildHistogram()
                      .Name("certledger_http_request_duration_seconds")
                      .Help("Time from a request's arrival to its answer, by route pattern.")
                      .Register(r)),
        open(prometheus::BuildGauge()
                 .Name("certledger_http_open_connections")
                 .Help("Open HTTP connections on the public API.")
                 .Register(r)
                 .Add({})),
        verification(prometheus::BuildHistogram()
                         .Name("certledger_verification_seconds")
                         .Help("Time to build one verification answer (proofs, signature).")
                         .Register(r)
                         .Add({}, LatencyBuckets())) {}
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& durations;
  prometheus::Gauge& open;
  prometheus::Histogram& verification;
};

HttpMetrics::HttpMetrics(Metrics& metrics) : impl_(std::make_unique<Impl>(metrics.registry())) {}
HttpMetrics::~HttpMetrics() = default;

void HttpMetrics::Record(const std::string& route, int status, double seconds) {
  impl_->requests.Add({{"route", route}, {"code", std::to_string(status)}}).Increment();
  impl_->durations.Add({{"route", route}}, LatencyBuckets()).Observe(seconds);
}

void HttpMetrics::SetOpenConnections(size_t open) { impl_->open.Set(static_cast<double>(open)); }

void HttpMetrics::RecordVerification(double seconds) { impl_->verification.Observe(seconds); }

// ---- options ----------------------------------------------------------------------------------

Status ApiOptions::Validate() const {
  if (max_body_bytes == 0 || max_body_bytes > (64u << 20)) {
    return Status::InvalidArgument("api.max_body_bytes: 1 byte to 64 MiB");
  }
  if (default_wait_ms == 0 || default_wait_ms > max_wait_ms) {
    return Status::InvalidArgument("api.default_wait_ms: 1 to max_wait_ms");
  }
  if (max_wait_ms > 600'000) return Status::InvalidArgument("api.max_wait_ms: at most 600000");
  if (max_batch_txs == 0 || max_batch_txs > 10'000) {
    return Status::InvalidArgument("api.max_batch_txs: 1 to 10000");
  }
  if (max_block_range == 0 || max_block_range > 10'000) {
    return Status::InvalidArgument("api.max_block_range: 1 to 10000");
  }
  return Status::Ok();
}

// ---- helpers ----------------------------------------------------------------------------------

namespace {

constexpr size_t kMaxTargetBytes = 8192;
constexpr size_t kMaxQueryParams = 16;
constexpr char kJsonType[] = "application/json";

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Response JsonResponse(const Json& j, int status = 200) {
  Response r;
  r.status = status;
  r.content_type = kJsonType;
  r.body = Dump(j);
  return r;
}

Json ErrorJson(const std::string& code, const std::string& message) {
  return Json{{"error", {{"code", code}, {"message", message}}}};
}

Response Error(int status, const std::string& code, const std::string& message) {
  return JsonResponse(ErrorJson(code, message), status);
}

Response StorageError(const Status& st) {
  return Error(500, "internal", "storage: " + st.ToString());
}

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; `plus_is_space` for query components. nullopt on a bad escape.
std::optional<std::string> UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// "1.2.156.3005.2.<type>.<issuer>.<serial>" + version -> the full identifier with check.
std::string FullIdentifier(const std::string& base, uint32_t version) {
  // The last three dot-separated components of the base are type, issuer and serial.
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= base.size(); ++i) {
    if (i == base.size() || base[i] == '.') {
      parts.push_back(base.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() < 3) return base;
  ledger::CertificateId id{parts[parts.size() - 3], parts[parts.size() - 2],
                           parts[parts.size() - 1], version};
  return id.Full();
}

std::string AgencyName(const ledger::StateReader& store, const std::string& id) {
  auto a = ledger::ReadAgency(store, id);
  if (!a.ok() || !a->has_value()) return "";
  return (*a)->name;
}

Json AgencyRef(const ledger::StateReader& store, const std::string& id) {
  return Json{{"id", id}, {"name", AgencyName(store, id)}};
}

struct Query {
  std::map<std::string, std::string> params;
  [[nodiscard]] const std::string* Get(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? nullptr : &it->second;
  }
};

// A parsed request target.
struct Target {
  std::vector<std::string> segments;  // decoded path segments ("/v1/tx/ab" -> v1, tx, ab)
  Query query;
};

std::optional<Target> ParseTarget(std::string_view target, std::string* why) {
  if (target.empty() || target[0] != '/') {
    *why = "the request target must be an absolute path";
    return std::nullopt;
  }
  Target t;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  size_t start = 1;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      auto seg = UrlDecode(path.substr(start, i - start), false);
      if (!seg) {
        *why = "bad percent-encoding in the path";
        return std::nullopt;
      }
      if (!seg->empty() || i != path.size()) t.segments.push_back(*seg);
      start = i + 1;
    }
  }
  // A trailing slash yields an empty last segment; drop it ("/v1/status/" == "/v1/status").
  if (!t.segments.empty() && t.segments.back().empty()) t.segments.pop_back();
  start = 0;
  for (size_t i = 0; i <= query.size(); ++i) {
    if (i == query.size() || query[i] == '&') {
      std::string_view item = query.substr(start, i - start);
      start = i + 1;
      if (item.empty()) continue;
      size_t eq = item.find('=');
      auto k = UrlDecode(item.substr(0, eq), true);
      auto v = UrlDecode(eq == std::string_view::npos ? "" : item.substr(eq + 1), true);
      if (!k || !v) {
        *why = "bad percent-encoding in the query";
        return std::nullopt;
      }
      if (t.query.params.size() >= kMaxQueryParams) {
        *why = "too many query parameters";
        return std::nullopt;
      }
      t.query.params[*k] = *v;
    }
  }
  return t;
}

// ---- the verification answer (shared by /v1/verify and the HTML page) ---------------------------

// One event-log leaf that decides the answer, with its inclusion proof.
struct ProvenEvent {
  std::string role;  // "document", "latest-version", "latest-status"
  ledger::HistoryEntry entry;
  ledger::TxLocation location;
  ledger::Bytes leaf;
  std::vector<Hash256> path;
};

// One state entry with its proof against the header's state root (FORMAT.md §6.6): the value is
// the stored record (absent: the proof shows the key is not in the state).
struct StateEntryProof {
  std::string key;
  std::optional<ledger::Bytes> value;
  ledger::SmtProof proof;
};

bool IsVersionEvent(ledger::EventType t) {
  return t == ledger::EventType::kIssue || t == ledger::EventType::kChange ||
         t == ledger::EventType::kRenew;
}
bool IsStatusEvent(ledger::EventType t) {
  return t == ledger::EventType::kSuspend || t == ledger::EventType::kResume ||
         t == ledger::EventType::kRevoke;
}

// The history entries that decide the answer for `version`.
std::vector<std::pair<std::string, ledger::HistoryEntry>> DecidingEvents(
    const ledger::CertificateState& c, uint32_t version) {
  std::vector<std::pair<std::string, ledger::HistoryEntry>> out;
  // Version-creating events correspond one to one, in order, to c.versions.
  std::vector<const ledger::HistoryEntry*> version_events;
  const ledger::HistoryEntry* latest_status = nullptr;
  for (const auto& h : c.history) {
    if (IsVersionEvent(h.type)) version_events.push_back(&h);
    if (IsStatusEvent(h.type)) latest_status = &h;
  }
  for (size_t i = 0; i < c.versions.size() && i < version_events.size(); ++i) {
    if (c.versions[i].version == version) out.emplace_back("document", *version_events[i]);
  }
  if (version < c.version && !version_events.empty() &&
      version_events.size() == c.versions.size()) {
    out.emplace_back("latest-version", *version_events.back());
  }
  if (latest_status != nullptr) out.emplace_back("latest-status", *latest_status);
  return out;
}

// The stored value of `key` in `view` (nullopt if absent) and its proof against `root`.
Result<StateEntryProof> ProveEntry(const ledger::StoreView& view, const Hash256& root,
                                   std::string key) {
  StateEntryProof e;
  ledger::Bytes value;
  Status st = view.Get(key, &value);
  if (st.ok()) {
    e.value = std::move(value);
  } else if (st.code() != Status::Code::kNotFound) {
    return st;
  }
  auto proof = ledger::SmtProve(view, root, ledger::SmtKeyHash(key));
  if (!proof.ok()) return proof.status();
  e.proof = std::move(proof).value();
  e.key = std::move(key);
  return e;
}

// A member of the answer's proof.state: {"key", "proof", "value"} (canonical text).
void WriteStateEntry(JsonWriter& w, const StateEntryProof& e) {
  w.BeginObject().Key("key").String(e.key).Key("proof").Hex(e.proof.Encode()).Key("value");
  if (e.value) {
    w.Hex(*e.value);
  } else {
    w.Null();
  }
  w.EndObject();
}

// What every answer resting on the header of one height shares: the header (and, with proofs,
// its commit and validator set as canonical JSON text), the chain domain, and the agencies'
// names and records with their state proofs, each made once per height (see TipCache).
struct TipParts {
  uint64_t height = 0;
  ledger::BlockHeader header;
  ledger::ChainDomain domain;
  std::string header_json;      // ToJson(header), canonical
  std::string commit_json;      // empty until made (with proofs only)
  std::string validators_json;  // empty if the stored set is not the header's
  bool with_proofs = false;

  struct AgencyPart {
    std::string name;
    std::string state_json;  // WriteStateEntry of agency/<id>
  };
  // The agency's part, made from `view` (at this height) on first use.
  Result<std::shared_ptr<const AgencyPart>> Agency(const ledger::StoreView& view,
                                                   const std::string& id) const {
    {
      std::lock_guard lock(mu);
      if (auto it = agencies.find(id); it != agencies.end()) return it->second;
    }
    auto part = std::make_shared<AgencyPart>();
    part->name = AgencyName(view, id);
    auto e = ProveEntry(view, header.state_root, ledger::AgencyKey(id));
    if (!e.ok()) return e.status();
    JsonWriter w(&part->state_json);
    WriteStateEntry(w, *e);
    std::lock_guard lock(mu);
    // A bounded map: agencies are few; an id that is not an agency is not kept.
    if (e->value && agencies.size() < 4096) agencies.emplace(id, part);
    return std::shared_ptr<const AgencyPart>(std::move(part));
  }
  mutable std::mutex mu;
  mutable std::unordered_map<std::string, std::shared_ptr<const AgencyPart>>
      agencies;  // GUARDED_BY(mu)
};

// The parts of the latest height asked for, shared by the API threads. A view at another
// height gets its own parts (kept if newer).
class TipCache {
 public:
  Result<std::shared_ptr<const TipParts>> Get(const ledger::StoreView& view, bool with_proofs) {
    const uint64_t height = view.Tip().height;
    {
      std::lock_guard lock(mu_);
      if (latest_ && latest_->height == height && (latest_->with_proofs || !with_proofs)) {
        return latest_;
      }
    }
    auto parts = Make(view, with_proofs);
    if (!parts.ok()) return parts.status();
    std::lock_guard lock(mu_);
    if (!latest_ || latest_->height < height ||
        (latest_->height == height && (*parts)->with_proofs)) {
      latest_ = *parts;
    }
    return parts;
  }

 private:
  static Result<std::shared_ptr<const TipParts>> Make(const ledger::StoreView& view,
                                                      bool with_proofs) {
    const ledger::ChainTip tip = view.Tip();
    auto parts = std::make_shared<TipParts>();
    parts->height = tip.height;
    parts->with_proofs = with_proofs;
    auto header = view.GetHeader(tip.height);
    if (!header.ok()) return header.status();
    if (header->state_root != tip.state_root || header->log_size != tip.log_size) {
      return Status::Corruption("the header of height " + std::to_string(tip.height) +
                                " does not match the stored tip");
    }
    parts->header = *header;
    auto domain = ledger::ReadChainDomain(view);
    if (!domain.ok()) return domain.status();
    parts->domain = *domain;
    parts->header_json = ToJson(*header).dump(-1, ' ', false, Json::error_handler_t::replace);
    if (with_proofs) {
      auto commit = view.GetCommit(tip.height);
      if (!commit.ok()) return commit.status();
      parts->commit_json = ToJson(*commit).dump(-1, ' ', false, Json::error_handler_t::replace);
      auto vals = ledger::ReadValidators(view);
      if (vals.ok() && vals->Hash() == header->validator_set_hash) {
        parts->validators_json = ToJson(*vals).dump(-1, ' ', false, Json::error_handler_t::replace);
      }
    }
    return std::shared_ptr<const TipParts>(std::move(parts));
  }

  std::mutex mu_;
  std::shared_ptr<const TipParts> latest_;  // GUARDED_BY(mu_)
};

struct Verification {
  VerifyStatus status = VerifyStatus::kUnknown;
  Hash256 document_hash;
  std::optional<ledger::DocumentRef> doc;
  std::optional<ledger::CertificateState> cert;
  ledger::EffectiveStatus effective = ledger::EffectiveStatus::kValid;
  std::optional<ledger::BlockHeader> header;  // absent before block 1
  std::shared_ptr<const TipParts> tip;        // the parts shared at header's height
  std::vector<StateEntryProof> state;         // doc/<hash> and cert/<base>
  std::vector<std::shared_ptr<const TipParts::AgencyPart>> agency_state;  // issuer, controller
  std::vector<ProvenEvent> events;
  std::string issuer_name, controller_name;
};

// Everything an answer about `document_hash` says, read from one consistent view of the store:
// the certificate state and document-index entry, the header and commit of the view's tip, the
// state proofs of the entries the answer rests on against that header's state root, and the
// RFC 9162 inclusion of the events it cites against the header's log root.
Result<Verification> Verify(const ledger::Store& store, const ledger::StoreView& view,
                            TipCache& tips, const Hash256& document_hash, int64_t now_ms,
                            bool with_proofs) {
  Verification v;
  v.document_hash = document_hash;
  const ledger::ChainTip tip = view.Tip();
  if (tip.height > 0) {
    auto parts = tips.Get(view, with_proofs);
    if (!parts.ok()) return parts.status();
    v.tip = *parts;
    v.header = v.tip->header;
  }
  auto doc = ledger::ReadDocument(view, document_hash);
  if (!doc.ok()) return doc.status();
  std::vector<std::string> agency_ids;
  if (doc->has_value()) {
    v.doc = **doc;
    auto cert = ledger::ReadCertificate(view, v.doc->base_id);
    if (!cert.ok()) return cert.status();
    if (!cert->has_value()) {
      return Status::Corruption("document index names missing certificate " + v.doc->base_id);
    }
    v.cert = std::move(**cert);
    agency_ids.push_back(v.cert->issuer);
    if (v.cert->controller != v.cert->issuer) agency_ids.push_back(v.cert->controller);
    if (v.tip) {
      std::vector<std::shared_ptr<const TipParts::AgencyPart>> agencies;
      for (const auto& id : agency_ids) {
        auto part = v.tip->Agency(view, id);
        if (!part.ok()) return part.status();
        agencies.push_back(*part);
      }
      v.issuer_name = agencies.front()->name;
      v.controller_name = agencies.back()->name;
      v.agency_state = std::move(agencies);
    } else {
      v.issuer_name = AgencyName(view, v.cert->issuer);
      v.controller_name = AgencyName(view, v.cert->controller);
    }
    v.effective = ledger::EffectiveStatusAt(*v.cert, now_ms);
    v.status = DecideStatus(v.effective, v.doc->version < v.cert->version);
  }
  if (!v.tip || !with_proofs) return v;

  // The state entries: the document index entry (or its absence) and the certificate; the
  // agencies' records come with the tip's parts.
  std::vector<std::string> keys = {ledger::DocKey(document_hash)};
  if (v.cert) keys.push_back(ledger::CertKey(v.cert->base_id));
  for (auto& key : keys) {
    auto e = ProveEntry(view, v.header->state_root, std::move(key));
    if (!e.ok()) return e.status();
    v.state.push_back(std::move(e).value());
  }
  if (!v.cert) return v;

  // Inclusion proofs for the header's log size. The live log is at least as large as the
  // view's; the nodes of the view's tree are read through the view.
  ledger::MerkleLog log = store.Log();
  for (const auto& [role, entry] : DecidingEvents(*v.cert, v.doc->version)) {
    ProvenEvent e;
    e.role = role;
    e.entry = entry;
    auto loc = view.GetLeafLocation(entry.log_index);
    if (!loc.ok()) return loc.status();
    e.location = *loc;
    // The leaf alone: decoding its whole block for one transaction would dominate the cost.
    auto leaf = view.GetLeaf(entry.log_index);
    if (!leaf.ok()) return leaf.status();
    auto stx = ledger::Decode<ledger::SignedTransaction>(*leaf);
    if (!stx.ok() || ledger::TxHash(stx->tx) != entry.tx_hash) {
      return Status::Corruption("leaf " + std::to_string(entry.log_index) +
                                " does not hold the recorded transaction");
    }
    e.leaf = std::move(leaf).value();
    auto path = log.InclusionProof(entry.log_index, v.header->log_size, view);
    if (!path.ok()) return path.status();
    e.path = std::move(path).value();
    v.events.push_back(std::move(e));
  }
  return v;
}

// The answer's canonical text (FORMAT.md §15; its members in key order), written without a
// JSON tree: answers are served at tens of thousands per second.
std::string VerificationText(const Verification& v, int64_t now_ms, bool syncing) {
  std::string out;
  out.reserve(16384);
  JsonWriter w(&out);
  w.BeginObject();
  const ledger::CertificateState* c = v.cert ? &*v.cert : nullptr;
  if (c != nullptr) {
    w.Key("certificate").String(c->base_id);
    w.Key("certificate_status").String(EffectiveStatusName(v.effective));
  }
  w.Key("checked_at_ms").Int(now_ms);
  if (c != nullptr) {
    w.Key("controller")
        .BeginObject()
        .Key("id")
        .String(c->controller)
        .Key("name")
        .String(v.controller_name);
    w.EndObject();
    w.Key("current_version").Uint(c->version);
  }
  w.Key("document_hash").Hex(v.document_hash.span());
  if (c != nullptr) {
    w.Key("identifier").String(FullIdentifier(c->base_id, v.doc->version));
    w.Key("issuer").BeginObject().Key("id").String(c->issuer).Key("name").String(v.issuer_name);
    w.EndObject();
    w.Key("not_after").Int(c->not_after);
    w.Key("not_before").Int(c->not_before);
  }
  w.Key("proof").BeginObject();
  if (v.tip) {
    const TipParts& t = *v.tip;
    if (!t.commit_json.empty()) w.Key("commit").Raw(t.commit_json);
    w.Key("events").BeginArray();
    for (const auto& e : v.events) {
      w.BeginObject();
      w.Key("height").Uint(e.entry.height);
      w.Key("inclusion").BeginObject().Key("leaf_index").Uint(e.entry.log_index).Key("path");
      w.BeginArray();
      for (const auto& h : e.path) w.Hex(h.span());
      w.EndArray().Key("tree_size").Uint(t.header.log_size).EndObject();
      w.Key("index").Uint(e.location.index);
      w.Key("leaf").Hex(e.leaf);
      w.Key("leaf_hash").Hex(ledger::MerkleLeafHash(e.leaf).span());
      w.Key("log_index").Uint(e.entry.log_index);
      w.Key("role").String(e.role);
      w.Key("tx_hash").Hex(e.entry.tx_hash.span());
      w.Key("type").String(ledger::EventTypeName(e.entry.type));
      w.EndObject();
    }
    w.EndArray();
    w.Key("header").Raw(t.header_json);
    w.Key("log_root").Hex(t.header.log_root.span());
    w.Key("log_size").Uint(t.header.log_size);
    w.Key("state").BeginArray();
    for (const auto& e : v.state) WriteStateEntry(w, e);
    for (const auto& a : v.agency_state) w.Raw(a->state_json);
    w.EndArray();
    w.Key("state_root").Hex(t.header.state_root.span());
    if (!t.validators_json.empty()) w.Key("validators").Raw(t.validators_json);
  }
  w.EndObject();
  w.Key("status").String(VerifyStatusName(v.status));
  if (c != nullptr) {
    // When the current status began: the latest suspend, resume or revoke.
    for (auto it = c->history.rbegin(); it != c->history.rend(); ++it) {
      if (!IsStatusEvent(it->type)) continue;
      w.Key("status_changed").BeginObject();
      w.Key("height").Uint(it->height).Key("time_ms").Int(it->time_ms);
      w.Key("type").String(ledger::EventTypeName(it->type)).EndObject();
      break;
    }
    w.Key("status_reason").String(c->status_reason);
    w.Key("stored_status").String(CertStatusName(c->status));
    w.Key("summary");
    WriteJson(w, c->summary);
    if (v.status == VerifyStatus::kSuperseded && !c->versions.empty()) {
      const auto& latest = c->versions.back();
      w.Key("superseded_by").BeginObject();
      w.Key("document_hash").Hex(latest.document_hash.span());
      w.Key("identifier").String(FullIdentifier(c->base_id, latest.version));
      w.Key("version").Uint(latest.version).EndObject();
    }
  }
  w.Key("syncing").Bool(syncing);
  if (c != nullptr) w.Key("version").Uint(v.doc->version);
  w.EndObject();
  return out;
}

// ---- the HTML verification page ---------------------------------------------------------------

// Every text colour is at least 4.5:1 against both backgrounds of the page (the card's #ffffff
// and the body's #f6f8fa): WCAG 2.1 AA for normal text (tests/api/handlers_test.cc checks it).
struct StatusLook {
  const char* zh;
  const char* en;
  const char* colour;
};

const char* ColourOf(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::kValid:
      return "#1a7f37";
    case VerifyStatus::kSuperseded:
      return "#9a6700";
    case VerifyStatus::kSuspended:
      return "#bc4c00";
    case VerifyStatus::kExpired:
      return "#656d76";
    case VerifyStatus::kRevoked:
      return "#cf222e";
    case VerifyStatus::kUnknown:
      break;
  }
  return "#424a53";
}

// The label (api/verify_status.h) in its colour.
StatusLook LookOf(const Verification& v) {
  const StatusLabel label =
      StatusLabelOf(v.status, v.cert ? std::optional(v.cert->status) : std::nullopt);
  return {label.zh, label.en, ColourOf(v.status)};
}

// Dates and times in China Standard Time (UTC+8), as printed on the permits.
std::tm CstOf(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s + 8 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

std::string DateOf(int64_t unix_s) {
  const std::tm tm = CstOf(unix_s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

// Unix milliseconds as "YYYY-MM-DD HH:MM:SS (UTC+8)".
std::string DateTimeOf(int64_t unix_ms) {
  const int64_t s = unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
  const std::tm tm = CstOf(s);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d (UTC+8)", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// An English fragment inside the zh-CN page.
std::string En(std::string_view text) {
  return "<span lang=\"en\">" + HtmlEscape(text) + "</span>";
}

// A table row whose value is HTML already (every ledger value in it escaped by the caller).
std::string RowHtml(const char* zh, const char* en, const std::string& html, const char* id = "") {
  std::string tr = *id != '\0' ? "<tr id=\"" + std::string(id) + "\">" : std::string("<tr>");
  return tr + "<th>" + zh + "<br><small lang=\"en\">" + en + "</small></th><td>" + html +
         "</td></tr>\n";
}

std::string Row(const char* zh, const char* en, const std::string& value, const char* id = "") {
  return RowHtml(zh, en, HtmlEscape(value), id);
}

// The first 16 hex digits of a hash, for people to compare by eye.
std::string ShortHex(const Hash256& h) { return h.Hex().substr(0, 16) + "…"; }

// The rows that explain the certificate's status: the latest suspension, resumption or
// revocation (its date and reason) and the kind of revocation.
std::string StatusChangeRows(const ledger::CertificateState& c) {
  const ledger::HistoryEntry* change = nullptr;
  for (auto it = c.history.rbegin(); it != c.history.rend(); ++it) {
    if (IsStatusEvent(it->type)) {
      change = &*it;
      break;
    }
  }
  if (change == nullptr) return "";
  std::string rows;
  const std::string date = HtmlEscape(DateOf(change->time_ms / 1000));
  switch (change->type) {
    case ledger::EventType::kSuspend:
      rows += RowHtml("暂扣日期", "Suspended on", date, "status-date");
      break;
    case ledger::EventType::kResume:
      rows += RowHtml("恢复日期", "Resumed on", date, "status-date");
      break;
    default:
      if (c.status == ledger::CertStatus::kCancelled) {
        rows += RowHtml("终止方式", "Revocation kind", "注销 " + En("cancelled"), "status-kind");
        rows += RowHtml("注销日期", "Cancelled on", date, "status-date");
      } else if (c.status == ledger::CertStatus::kWithdrawn) {
        rows += RowHtml("终止方式", "Revocation kind", "撤销 " + En("withdrawn"), "status-kind");
        rows += RowHtml("撤销日期", "Withdrawn on", date, "status-date");
      } else {
        rows += RowHtml("终止方式", "Revocation kind", "吊销 " + En("revoked"), "status-kind");
        rows += RowHtml("吊销日期", "Revoked on", date, "status-date");
      }
      break;
  }
  if (!c.status_reason.empty()) {
    rows += Row(change->type == ledger::EventType::kResume ? "说明" : "原因",
                change->type == ledger::EventType::kResume ? "Note" : "Reason", c.status_reason,
                "status-reason");
  }
  return rows;
}

// The page for GET /v/{hash}: `checked_ms` is the time the answer was computed for.
std::string VerificationHtml(const Verification& v, int64_t checked_ms) {
  StatusLook look = LookOf(v);
  std::string rows;
  if (v.cert) {
    const auto& c = *v.cert;
    rows += StatusChangeRows(c);
    if (v.doc->version < c.version && !c.versions.empty()) {
      const ledger::VersionRecord& latest = c.versions.back();
      const std::string n = std::to_string(latest.version);
      rows += RowHtml("最新版本", "Latest version",
                      "<a id=\"newer\" href=\"/v/" + HtmlEscape(latest.document_hash.Hex()) +
                          "\">第 " + n + " 版 " + En("version " + n) + "</a><br>" +
                          HtmlEscape(FullIdentifier(c.base_id, latest.version)),
                      "newer-version");
    }
    const auto* s = std::get_if<ledger::WaterPermitSummary>(&c.summary);
    rows += Row("发证机关", "Issuer", v.issuer_name);
    if (c.controller != c.issuer) {
      rows += Row("现管理机关", "Responsible agency", v.controller_name);
    }
    if (s != nullptr) {
      rows += Row("许可证编号", "Permit number", s->permit_number);
      // Organisation names only: an individual holder's name is personal data.
      rows += s->holder_kind == ledger::HolderKind::kOrganisation
                  ? Row("取水权人", "Holder", s->holder_name)
                  : RowHtml("取水权人", "Holder", "（个人 " + En("Individual") + "）");
      rows += RowHtml("水源类型", "Water source",
                      s->source == ledger::WaterSource::kSurface ? "地表水 " + En("Surface water")
                                                                 : "地下水 " + En("Groundwater"));
      char qty[64];
      std::snprintf(qty, sizeof qty, "%llu m³ (%.2f 万m³)",
                    static_cast<unsigned long long>(s->annual_quantity_m3),
                    static_cast<double>(s->annual_quantity_m3) / 10000.0);
      rows += Row("年取水量", "Annual quantity", qty);
    }
    rows += Row("有效期", "Validity", DateOf(c.not_before) + " — " + DateOf(c.not_after));
    rows +=
        Row("版本", "Version", std::to_string(v.doc->version) + " / " + std::to_string(c.version));
    rows += Row("电子证照标识", "Identifier", FullIdentifier(c.base_id, v.doc->version));
  }
  rows += Row("文档哈希", "Document hash", v.document_hash.Hex());
  rows += Row("核验时间", "Checked at", DateTimeOf(checked_ms), "checked-at");
  const std::string none = "—";
  rows += Row("证明区块高度", "Proof block height",
              v.header ? std::to_string(v.header->height) : none, "block-height");
  rows +=
      Row("区块时间", "Block time", v.header ? DateTimeOf(v.header->time_ms) : none, "block-time");
  rows += Row("区块哈希", "Block hash", v.header ? ShortHex(ledger::BlockHash(*v.header)) : none,
              "block-hash");
  rows +=
      Row("状态根", "State root", v.header ? ShortHex(v.header->state_root) : none, "state-root");

  std::string html;
  html += "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>取水许可电子证照核验</title>\n";
  // One text colour per rule, as #rrggbb; backgrounds #f6f8fa (body) and #ffffff (the card).
  html +=
      "<style>body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
      "margin:0;padding:16px;background:#f6f8fa;color:#24292f}"
      ".card{max-width:560px;margin:0 auto;background:#ffffff;border-radius:12px;padding:20px;"
      "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
      "h1{font-size:15px;font-weight:normal;margin:0 0 12px;color:#57606a}"
      "#status{font-size:34px;font-weight:bold;margin:8px 0 16px;color:" +
      std::string(look.colour) +
      "}#status small{display:block;font-size:18px;font-weight:normal}"
      "table{width:100%;border-collapse:collapse;font-size:15px}"
      "th{text-align:left;vertical-align:top;padding:6px 8px 6px 0;width:38%;color:#57606a;"
      "font-weight:normal}th small{color:#656d76}"
      "td{padding:6px 0;word-break:break-all}tr{border-top:1px solid #eaeef2}"
      "a{color:#0969da}"
      "p.note{font-size:12px;color:#57606a;margin-top:16px}</style>\n</head>\n<body>\n";
  html += "<div class=\"card\">\n<h1>取水许可电子证照核验<br>" +
          En("Water-abstraction permit verification") + "</h1>\n";
  html += "<div id=\"status\" data-status=\"" + std::string(VerifyStatusName(v.status)) + "\">" +
          look.zh + "<small lang=\"en\">" + look.en + "</small></div>\n";
  html += "<table>\n" + rows + "</table>\n";
  html += "<p class=\"note\">本页由账本节点生成，不含证明；<a id=\"proof\" href=\"/v1/verify/" +
          HtmlEscape(v.document_hash.Hex()) + "\">JSON 证明 " + En("JSON proof") +
          "</a>可独立核验（certledger verify）。<br>" +
          En("Generated by a ledger node, without proofs; the JSON answer carries proofs that "
             "can be checked independently (certledger verify).") +
          "</p>\n";
  html += "</div>\n</body>\n</html>\n";
  return html;
}

}  // namespace

// ---- the route table --------------------------------------------------------------------------

struct Api::Routes {
  struct Ctx {
    const Request& request;
    const Target& target;
    std::vector<std::string> params;  // the values of the pattern's {placeholders}
    Reply reply;
  };
  using Fn = void (Routes::*)(Ctx&);
  struct Route {
    const char* method;
    const char* pattern;  // also the metrics label
    Fn fn;
    // Every status the route itself may answer (docs/openapi.yaml documents each; a test
    // checks both ways). Besides these, any route may answer 500 `internal`.
    std::vector<int> statuses;
  };

  Routes(NodeService* node, const ApiOptions* options) : node_(node), options_(options) {}

  [[nodiscard]] const ledger::Store& store() const { return node_->store(); }
  [[nodiscard]] int64_t Now() const {
    return options_->now_ms ? options_->now_ms() : SystemNowMs();
  }

  static const std::vector<Route>& Table() {
    static const std::vector<Route> table = {
        {"POST", "/v1/tx", &Routes::SubmitTx, {200, 202, 400, 409, 413, 422, 429, 503}},
        {"POST", "/v1/txs", &Routes::SubmitTxs, {200, 400, 413, 503}},
        {"GET", "/v1/tx/{hash}", &Routes::GetTx, {200, 400, 404}},
        {"GET", "/v1/certificates/{id}", &Routes::GetCertificate, {200, 400, 404}},
        {"GET", "/v1/verify/{hash}", &Routes::VerifyJson, {200, 400, 404, 503}},
        {"GET", "/v1/staple/{hash}", &Routes::GetStaple, {200, 400, 404, 503}},
        {"GET", "/v1/checkpoint", &Routes::GetCheckpoint, {200, 404}},
        {"GET", "/v1/blocks/{height}", &Routes::GetBlock, {200, 400, 404}},
        {"GET", "/v1/blocks", &Routes::GetBlocks, {200, 400, 404}},
        {"GET", "/v1/proofs/consistency", &Routes::ConsistencyProof, {200, 400}},
        {"GET", "/v1/proofs/inclusion", &Routes::InclusionProof, {200, 400}},
        {"GET", "/v1/agencies", &Routes::GetAgencies, {200}},
        {"GET", "/v1/status", &Routes::GetStatus, {200}},
        {"GET", "/v1/genesis", &Routes::GetGenesis, {200}},
        {"GET", "/v1/evidence", &Routes::GetEvidence, {200, 400}},
        {"GET", "/healthz", &Routes::GetHealthz, {200, 503}},
        {"GET", "/readyz", &Routes::GetReadyz, {200, 503}},
        {"GET", "/v/{hash}", &Routes::VerifyPage, {200, 400, 404, 503}},
    };
    return table;
  }

  static std::optional<std::vector<std::string>> Match(const char* pattern,
                                                       const std::vector<std::string>& segs) {
    std::vector<std::string> pat;
    std::string_view p(pattern);
    size_t start = 1;
    for (size_t i = 1; i <= p.size(); ++i) {
      if (i == p.size() || p[i] == '/') {
        pat.emplace_back(p.substr(start, i - start));
        start = i + 1;
      }
    }
    if (pat.size() != segs.size()) return std::nullopt;
    std::vector<std::string> params;
    for (size_t i = 0; i < pat.size(); ++i) {
      if (!pat[i].empty() && pat[i][0] == '{') {
        if (segs[i].empty()) return std::nullopt;
        params.push_back(segs[i]);
      } else if (pat[i] != segs[i]) {
        return std::nullopt;
      }
    }
    return params;
  }

  // ---- parameters ----

  static std::optional<Hash256> HashParam(Ctx& c, const std::string& s, const char* what) {
    auto h = Hash256::FromHexString(s);
    if (!h) {
      c.reply(Error(400, "bad-hex", std::string(what) + ": expected 64 hex characters"));
    }
    return h;
  }

  // An unsigned query parameter; `def` when absent. Replies 400 and returns nullopt when bad.
  static std::optional<uint64_t> U64Param(Ctx& c, const std::string& name,
                                          std::optional<uint64_t> def) {
    const std::string* s = c.target.query.Get(name);
    if (s == nullptr) {
      if (!def) c.reply(Error(400, "bad-parameter", name + ": required"));
      return def;
    }
    auto v = ParseU64(*s);
    if (!v) c.reply(Error(400, "bad-parameter", name + ": expected a non-negative integer"));
    return v;
  }

  // ---- POST /v1/tx ----

  void SubmitTx(Ctx& c) {
    if (c.request.body.size() > options_->max_body_bytes) {
      c.reply(Error(413, "body-too-large",
                    "the body exceeds " + std::to_string(options_->max_body_bytes) + " bytes"));
      return;
    }
    bool wait = false;
    if (const std::string* w = c.target.query.Get("wait")) {
      if (*w != "commit") {
        c.reply(Error(400, "bad-parameter", "wait: only 'commit' is supported"));
        return;
      }
      wait = true;
    }
    auto timeout = U64Param(c, "timeout_ms", options_->default_wait_ms);
    if (!timeout) return;
    if (*timeout == 0 || *timeout > options_->max_wait_ms) {
      c.reply(
          Error(400, "bad-parameter", "timeout_ms: 1 to " + std::to_string(options_->max_wait_ms)));
      return;
    }
    ledger::SignedTransaction stx;
    if (IsBinary(c.request.content_type)) {
      auto d = DecodeBinaryTx(ledger::AsBytes(c.request.body));
      if (!d.ok()) return c.reply(Error(400, "bad-encoding", d.status().message()));
      stx = std::move(d).value();
    } else {
      auto j = ParseJson(c.request.body);
      if (!j.ok()) return c.reply(Error(400, "bad-json", j.status().message()));
      auto d = DecodeJsonTx(*j);
      if (!d.tx) return c.reply(Error(400, d.code, d.message));
      stx = std::move(*d.tx);
    }
    if (node_->Status().syncing) {
      c.reply(Error(503, "not-synced", "the node is catching up; submit to another node or retry"));
      return;
    }
    NodeService* node = node_;
    uint32_t timeout_ms = static_cast<uint32_t>(*timeout);
    Reply reply = c.reply;
    node_->SubmitTx(std::move(stx), "client:" + c.request.client,
                    [node, wait, timeout_ms, reply](SubmitResult r) {
                      const std::string hash = r.tx_hash.Hex();
                      switch (r.code) {
                        case SubmitResult::Code::kAccepted:
                          if (!wait) {
                            reply(JsonResponse(Json{{"tx_hash", hash}, {"state", "pending"}}, 202));
                            return;
                          }
                          node->WaitTx(r.tx_hash, timeout_ms, [reply](TxStatusInfo info) {
                            reply(TxStateResponse(info, true));
                          });
                          return;
                        case SubmitResult::Code::kCommitted:
                          // Asynchronously: this callback may run on the node's event loop, where a
                          // blocking GetTx would wait on itself.
                          node->WaitTx(r.tx_hash, 0, [reply](TxStatusInfo info) {
                            reply(TxStateResponse(info, true));
                          });
                          return;
                        case SubmitResult::Code::kRejected:
                        case SubmitResult::Code::kConflict:
                        case SubmitResult::Code::kBusy:
                        case SubmitResult::Code::kUnavailable: {
                          const auto [status, code] = RefusalOf(r);
                          reply(TxError(status, code, r.message, hash));
                          return;
                        }
                      }
                      reply(Error(500, "internal", "unknown submit result"));
                    });
  }

  // ---- POST /v1/txs: many signed transactions in one request (docs/API.md) ----

  void SubmitTxs(Ctx& c) {
    if (c.request.body.size() > options_->max_body_bytes) {
      return c.reply(
          Error(413, "body-too-large",
                "the body exceeds " + std::to_string(options_->max_body_bytes) + " bytes"));
    }
    std::vector<DecodedTx> items;  // one per transaction of the request
    const size_t max = options_->max_batch_txs;
    auto too_many = [&] {
      c.reply(Error(400, "too-many-txs",
                    "at most " + std::to_string(max) + " transactions per request"));
    };
    if (IsBinary(c.request.content_type)) {
      // Frames: u32 little-endian length, then that many bytes of one canonical encoding.
      ledger::ByteReader frames(ledger::AsBytes(c.request.body));
      while (!frames.done()) {
        if (items.size() == max) return too_many();
        uint32_t len = 0;
        if (!frames.GetFixed32(&len)) {
          return c.reply(Error(400, "bad-encoding",
                               "frame " + std::to_string(items.size()) + ": truncated length"));
        }
        ledger::ByteSpan frame;
        if (!frames.GetBytes(len, &frame)) {
          return c.reply(Error(400, "bad-encoding",
                               "frame " + std::to_string(items.size()) + ": " +
                                   std::to_string(len) + " bytes declared, " +
                                   std::to_string(frames.remaining()) + " left"));
        }
        DecodedTx item;
        auto d = DecodeBinaryTx(frame);
        if (d.ok()) {
          item.tx = std::move(d).value();
        } else {
          item.code = "bad-encoding";
          item.message = d.status().message();
        }
        items.push_back(std::move(item));
      }
    } else {
      auto j = ParseJson(c.request.body);
      if (!j.ok()) return c.reply(Error(400, "bad-json", j.status().message()));
      if (!j->is_object() || j->size() != 1 || !j->contains("txs") || !(*j)["txs"].is_array()) {
        return c.reply(Error(400, "bad-json", "expected {\"txs\": [transactions]}"));
      }
      const Json& txs = (*j)["txs"];
      if (txs.size() > max) return too_many();
      for (const Json& t : txs) items.push_back(DecodeJsonTx(t));
    }
    if (items.empty()) return c.reply(Error(400, "bad-parameter", "no transactions"));
    if (node_->Status().syncing) {
      return c.reply(
          Error(503, "not-synced", "the node is catching up; submit to another node or retry"));
    }
    std::vector<ledger::SignedTransaction> good;
    for (auto& item : items) {
      if (item.tx) good.push_back(std::move(*item.tx));
    }
    auto results = [items = std::move(items),
                    reply = c.reply](std::vector<SubmitResult> submitted) mutable {
      std::string body;
      JsonWriter w(&body);
      w.BeginObject().Key("results").BeginArray();
      size_t next = 0;
      for (const auto& item : items) {
        w.BeginObject();
        if (!item.tx) {  // not decoded
          w.Key("error").BeginObject().Key("code").String(item.code);
          w.Key("message").String(item.message).EndObject();
          w.Key("status").Uint(400);
          w.EndObject();
          continue;
        }
        const SubmitResult& r = submitted.at(next++);
        switch (r.code) {
          case SubmitResult::Code::kAccepted:
          case SubmitResult::Code::kCommitted:
            w.Key("state").String(r.code == SubmitResult::Code::kAccepted ? "pending"
                                                                          : "committed");
            break;
          default: {
            const auto [status, code] = RefusalOf(r);
            w.Key("error").BeginObject().Key("code").String(code);
            w.Key("message").String(r.message).EndObject();
            w.Key("status").Uint(static_cast<uint64_t>(status));
          }
        }
        w.Key("tx_hash").Hex(r.tx_hash.span());
        w.EndObject();
      }
      w.EndArray().EndObject();
      body += '\n';
      Response resp;
      resp.content_type = kJsonType;
      resp.body = std::move(body);
      reply(std::move(resp));
    };
    node_->SubmitTxs(std::move(good), "client:" + c.request.client, std::move(results));
  }

  static bool IsBinary(const std::string& content_type) {
    return content_type.rfind("application/octet-stream", 0) == 0;
  }
  // One canonical SignedTransaction encoding, with its keys checked (bad-encoding otherwise).
  static Result<ledger::SignedTransaction> DecodeBinaryTx(ledger::ByteSpan bytes) {
    auto d = ledger::Decode<ledger::SignedTransaction>(bytes);
    if (!d.ok()) return d.status();
    if (auto keys = CheckTransactionKeys(*d); !keys.ok()) return keys;
    return d;
  }
  // A transaction decoded from a request, or the error code and message saying why not.
  struct DecodedTx {
    std::optional<ledger::SignedTransaction> tx;
    std::string code, message;
  };
  // A transaction in one of the JSON forms.
  static DecodedTx DecodeJsonTx(const Json& j) {
    DecodedTx out;
    auto d = FromJson<ledger::SignedTransaction>(j);
    if (d.ok()) {
      out.tx = std::move(d).value();
      return out;
    }
    out.message = d.status().message();
    out.code = "bad-json";
    if (out.message.find("hex") != std::string::npos) out.code = "bad-hex";
    if (out.message.rfind("encoded:", 0) == 0 && out.code != "bad-hex") out.code = "bad-encoding";
    return out;
  }
  // The HTTP status and reason code of a refused submission.
  static std::pair<int, std::string> RefusalOf(const SubmitResult& r) {
    switch (r.code) {
      case SubmitResult::Code::kConflict:
        return {409, r.reason.empty() ? "conflict" : r.reason};
      case SubmitResult::Code::kBusy:
        return {429, r.reason.empty() ? "mempool-full" : r.reason};
      case SubmitResult::Code::kUnavailable:
        return {503, r.reason.empty() ? "unavailable" : r.reason};
      default:
        return {422, r.reason.empty() ? "rejected" : r.reason};
    }
  }

  static Response TxError(int status, const std::string& code, const std::string& message,
                          const std::string& hash) {
    Json j = ErrorJson(code, message);
    j["tx_hash"] = hash;
    return JsonResponse(j, status);
  }

  // The answer for a transaction's state; `after_wait`: a pending state means the wait timed out.
  static Response TxStateResponse(const TxStatusInfo& info, bool after_wait) {
    const std::string hash = info.tx_hash.Hex();
    switch (info.state) {
      case TxState::kCommitted:
        return JsonResponse(Json{{"tx_hash", hash},
                                 {"state", "committed"},
                                 {"height", info.height},
                                 {"index", info.index},
                                 {"log_index", info.log_index}});
      case TxState::kRejected: {
        if (after_wait) return TxError(422, info.reason, info.message, hash);
        return JsonResponse(Json{{"tx_hash", hash},
                                 {"state", "rejected"},
                                 {"reason", info.reason},
                                 {"message", info.message}});
      }
      case TxState::kPending: {
        Json j{{"tx_hash", hash}, {"state", "pending"}};
        if (after_wait) j["timed_out"] = true;
        return JsonResponse(j, after_wait ? 202 : 200);
      }
      case TxState::kUnknown:
        break;
    }
    if (after_wait) {
      return JsonResponse(Json{{"tx_hash", hash}, {"state", "unknown"}, {"timed_out", true}}, 202);
    }
    Json j = ErrorJson("not-found", "unknown transaction");
    j["tx_hash"] = hash;
    j["state"] = "unknown";
    return JsonResponse(j, 404);
  }

  // ---- GET /v1/tx/{hash} ----

  void GetTx(Ctx& c) {
    auto h = HashParam(c, c.params[0], "hash");
    if (!h) return;
    // Committed: answered from the store on this thread, with the transaction.
    auto loc = store().GetTxLocation(*h);
    if (loc.ok()) {
      TxStatusInfo info;
      info.tx_hash = *h;
      info.state = TxState::kCommitted;
      info.height = loc->height;
      info.index = loc->index;
      info.log_index = loc->log_index;
      Response r = TxStateResponse(info, false);
      auto block = store().GetBlock(info.height);
      if (block.ok() && info.index < block->txs.size()) {
        Json j = Json::parse(r.body);
        j["tx"] = ToJson(block->txs[info.index]);
        r = JsonResponse(j);
      }
      return c.reply(std::move(r));
    }
    if (!loc.status().IsNotFound()) return c.reply(StorageError(loc.status()));
    // Otherwise the mempool's view, which lives on the node's loop: asked without blocking this
    // thread (and the other connections it serves); the reply is sent from the loop.
    node_->WaitTx(*h, 0, [reply = c.reply, hash = *h](TxStatusInfo info) {
      info.tx_hash = hash;
      reply(TxStateResponse(info, false));
    });
  }

  // ---- GET /v1/certificates/{id} ----

  void GetCertificate(Ctx& c) {
    const std::string& id = c.params[0];
    std::string base;
    std::optional<uint32_t> requested;
    if (auto full = ledger::ParseCertificateId(id)) {
      base = full->Base();
      requested = full->version;
    } else if (ledger::IsValidBaseId(id)) {
      base = id;
    } else {
      c.reply(Error(400, "bad-parameter",
                    "id: not a certificate identifier (full, with version and check "
                    "character, or base)"));
      return;
    }
    auto cert = ledger::ReadCertificate(store(), base);
    if (!cert.ok()) return c.reply(StorageError(cert.status()));
    if (!cert->has_value()) return c.reply(Error(404, "not-found", "no certificate " + base));
    const ledger::CertificateState& s = **cert;
    const int64_t now = Now();
    Json versions = Json::array();
    bool found = !requested;
    for (const auto& v : s.versions) {
      versions.push_back(Json{{"version", v.version},
                              {"identifier", FullIdentifier(base, v.version)},
                              {"document_hash", v.document_hash.Hex()}});
      if (requested && v.version == *requested) found = true;
    }
    if (!found) {
      return c.reply(
          Error(404, "not-found",
                "certificate " + base + " has no version " + std::to_string(*requested)));
    }
    Json history = Json::array();
    for (const auto& h : s.history) history.push_back(ToJson(h));
    Json j{{"base_id", base},
           {"identifier", FullIdentifier(base, s.version)},
           {"type", CertTypeName(s.type)},
           {"status", EffectiveStatusName(ledger::EffectiveStatusAt(s, now))},
           {"stored_status", CertStatusName(s.status)},
           {"status_reason", s.status_reason},
           {"version", s.version},
           {"not_before", s.not_before},
           {"not_after", s.not_after},
           {"issuer", AgencyRef(store(), s.issuer)},
           {"controller", AgencyRef(store(), s.controller)},
           {"holder_commitment", s.holder_commitment.Hex()},
           {"summary", ToJson(s.summary)},
           {"versions", std::move(versions)},
           {"history", std::move(history)},
           {"checked_at_ms", now}};
    if (requested) {
      j["requested_version"] = *requested;
      j["requested_is_current"] = *requested == s.version;
    }
    c.reply(JsonResponse(j));
  }

  // ---- GET /v1/verify/{hash} and GET /v/{hash} ----

  void VerifyJson(Ctx& c) {
    const auto started = std::chrono::steady_clock::now();
    auto h = HashParam(c, c.params[0], "document_hash");
    if (!h) return;
    const int64_t now = Now();
    auto view = store().View();
    auto v = Verify(store(), *view, tips_, *h, now, /*with_proofs=*/true);
    if (!v.ok()) {
      if (v.status().code() == Status::Code::kUnavailable) {
        return c.reply(Error(503, "try-again", v.status().message()));
      }
      return c.reply(StorageError(v.status()));
    }
    Response r;
    r.status = v->status == VerifyStatus::kUnknown ? 404 : 200;
    r.content_type = kJsonType;
    // The canonical text of the answer (FORMAT.md §15), written once: its hash is signed, and
    // the attestation member is spliced in before the closing brace (member order does not
    // matter to a JSON reader; the verifier hashes the answer re-serialised without it).
    r.body = VerificationText(*v, now, node_->Status().syncing);
    metrics->RecordVerification(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (!v->tip) {
      r.body += '\n';
      return c.reply(std::move(r));
    }
    // Accountable reads: the node signs the request, the height and the answer's hash, in a
    // batch with the answers of the same moment (FORMAT.md §15; api::AnswerSigner). The reply
    // is sent from the signer's thread.
    std::string request = "GET /v1/verify/" + h->Hex();
    const Hash256 answer_hash = ledger::Sha256(ledger::AsBytes(r.body));
    const uint64_t height = v->header->height;
    const Hash256 leaf = AnswerSigningDigest(v->tip->domain, request, height, answer_hash);
    signer_.Sign(v->tip->domain, leaf,
                 [r = std::move(r), reply = c.reply, request = std::move(request), height,
                  answer_hash](std::optional<SignedAnswer> s) mutable {
                   if (s) {
                     r.body.pop_back();  // '}'
                     r.body += ",\"attestation\":";
                     r.body +=
                         AttestationJson(MakeAttestation(*s, request, height, answer_hash)).dump();
                     r.body += '}';
                   }
                   r.body += '\n';
                   reply(std::move(r));
                 });
  }

  // ---- GET /v1/staple/{hash} and GET /v1/checkpoint (FORMAT.md §16) ----

  // The staple of `hash` from `view`: NotFound if the document is not there.
  static Result<Staple> StapleFrom(const ledger::StoreView& view, const Hash256& hash,
                                   bool embedded) {
    const ledger::ChainTip tip = view.Tip();
    if (tip.height == 0) return Status::Unavailable("no committed block yet");
    auto doc = ledger::ReadDocument(view, hash);
    if (!doc.ok()) return doc.status();
    if (!doc->has_value()) return Status::NotFound("document " + hash.Hex());
    const std::string key = ledger::CertKey((*doc)->base_id);
    ledger::Bytes value;
    if (Status st = view.Get(key, &value); !st.ok()) return st;
    auto header = view.GetHeader(tip.height);
    if (!header.ok()) return header.status();
    auto proof = ledger::SmtProve(view, header->state_root, ledger::SmtKeyHash(key));
    if (!proof.ok()) return proof.status();
    if (!embedded) {
      Staple s;
      s.document_hash = hash;
      s.expires_ms = header->time_ms + kStapleValidityMs;
      s.cert_value = std::move(value);
      s.cert_proof = proof->Encode();
      s.anchor = Staple::Anchor::kCheckpoint;
      s.checkpoint_height = header->height;
      s.checkpoint_block_id = ledger::BlockHash(*header);
      return s;
    }
    auto commit = view.GetCommit(tip.height);
    if (!commit.ok()) return commit.status();
    auto vals = ledger::ReadValidators(view);
    if (!vals.ok()) return vals.status();
    if (vals->Hash() != header->validator_set_hash) {
      return Status::Unavailable("the validator set changes at this height; retry");
    }
    return MakeEmbeddedStaple(hash, value, proof->Encode(), *header, *commit, *vals);
  }

  void GetStaple(Ctx& c) {
    auto h = HashParam(c, c.params[0], "document_hash");
    if (!h) return;
    auto view = store().View();
    auto s = StapleFrom(*view, *h, /*embedded=*/true);
    ledger::Bytes bytes;
    if (s.ok()) bytes = s->Encode();
    // Too large with the commit (a large validator set): rest on the latest checkpoint, if the
    // document was there already.
    if (s.ok() && bytes.size() > kStapleEmbeddedMaxBytes) {
      if (auto cp = node_->CheckpointView()) {
        auto at_cp = StapleFrom(*cp, *h, /*embedded=*/false);
        if (at_cp.ok()) bytes = at_cp->Encode();
      }
    }
    if (!s.ok()) {
      if (s.status().IsNotFound()) {
        return c.reply(Error(404, "not-found",
                             "no document with this hash (GET /v1/verify proves its absence)"));
      }
      if (s.status().code() == Status::Code::kUnavailable) {
        return c.reply(Error(503, "try-again", s.status().message()));
      }
      return c.reply(StorageError(s.status()));
    }
    Response r;
    if (const std::string* f = c.target.query.Get("format"); f != nullptr && *f == "base45") {
      r.content_type = "text/plain; charset=utf-8";
      r.body = Base45Encode(bytes);
    } else {
      r.content_type = "application/octet-stream";
      r.body.assign(bytes.begin(), bytes.end());
    }
    r.headers.emplace_back("Cache-Control", "no-store");
    c.reply(std::move(r));
  }

  void GetCheckpoint(Ctx& c) {
    auto cp = node_->CheckpointView();
    if (!cp || cp->Tip().height == 0) {
      return c.reply(Error(
          404, "not-found",
          "no checkpoint yet (one every " + std::to_string(kCheckpointInterval) + " blocks)"));
    }
    const uint64_t height = cp->Tip().height;
    auto header = cp->GetHeader(height);
    if (!header.ok()) return c.reply(StorageError(header.status()));
    auto commit = cp->GetCommit(height);
    if (!commit.ok()) return c.reply(StorageError(commit.status()));
    c.reply(JsonResponse(
        Json{{"height", height}, {"header", ToJson(*header)}, {"commit", ToJson(*commit)}}));
  }

  void VerifyPage(Ctx& c) {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.headers.emplace_back("Cache-Control", "no-store");
    // No scripts, no external resources, no forms, never inside another site's frame.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; style-src 'unsafe-inline'; "
                           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    auto h = Hash256::FromHexString(c.params[0]);
    Verification v;
    const int64_t now = Now();
    if (!h) {
      r.status = 400;
    } else {
      v.document_hash = *h;
      auto view = store().View();
      auto got = Verify(store(), *view, tips_, *h, now, /*with_proofs=*/false);
      if (!got.ok()) {
        r.status = got.status().code() == Status::Code::kUnavailable ? 503 : 500;
      } else {
        v = std::move(got).value();
        r.status = v.status == VerifyStatus::kUnknown ? 404 : 200;
      }
    }
    r.body = VerificationHtml(v, now);
    c.reply(std::move(r));
  }

  // ---- blocks ----

  // One block as JSON ({header, txs, commit}) or binary ({height, block, commit} in hex).
  Result<Json> BlockJson(uint64_t height, bool binary) const {
    auto block = store().GetBlock(height);
    if (!block.ok()) return block.status();
    auto commit = store().GetCommit(height);
    if (!commit.ok()) return commit.status();
    if (binary) {
      return Json{{"height", height},
                  {"block", ledger::ToHex(ledger::Encode(*block))},
                  {"commit", ledger::ToHex(ledger::Encode(*commit))}};
    }
    Json j = ToJson(*block);
    j["commit"] = ToJson(*commit);
    return j;
  }

  static std::optional<bool> FormatParam(Ctx& c) {
    const std::string* f = c.target.query.Get("format");
    if (f == nullptr || *f == "json") return false;
    if (*f == "binary") return true;
    c.reply(Error(400, "bad-parameter", "format: json or binary"));
    return std::nullopt;
  }

  void GetBlock(Ctx& c) {
    auto height = ParseU64(c.params[0]);
    if (!height) return c.reply(Error(400, "bad-parameter", "height: expected an integer"));
    auto binary = FormatParam(c);
    if (!binary) return;
    const uint64_t tip = store().Height();
    if (*height == 0 || *height > tip) {
      return c.reply(Error(
          404, "not-found",
          "no block " + std::to_string(*height) + " (height is " + std::to_string(tip) + ")"));
    }
    auto j = BlockJson(*height, *binary);
    if (!j.ok()) return c.reply(StorageError(j.status()));
    c.reply(JsonResponse(*j));
  }

  void GetBlocks(Ctx& c) {
    auto from = U64Param(c, "from", std::nullopt);
    if (!from) return;
    auto to = U64Param(c, "to", UINT64_MAX);
    if (!to) return;
    auto binary = FormatParam(c);
    if (!binary) return;
    const uint64_t tip = store().Height();
    if (*from == 0 || *to < *from) {
      return c.reply(Error(400, "bad-parameter", "need 1 <= from <= to"));
    }
    if (*from > tip) {
      return c.reply(
          Error(404, "not-found",
                "no block " + std::to_string(*from) + " (height is " + std::to_string(tip) + ")"));
    }
    uint64_t last = std::min({*to, tip, *from + options_->max_block_range - 1});
    Json blocks = Json::array();
    for (uint64_t h = *from; h <= last; ++h) {
      auto j = BlockJson(h, *binary);
      if (!j.ok()) return c.reply(StorageError(j.status()));
      blocks.push_back(std::move(*j));
    }
    Json j{{"from", *from}, {"to", last}, {"height", tip}, {"blocks", std::move(blocks)}};
    j["next"] = last < std::min(*to, tip) ? Json(last + 1) : Json(nullptr);
    c.reply(JsonResponse(j));
  }

  // ---- proofs ----

  void ConsistencyProof(Ctx& c) {
    auto from = U64Param(c, "from", std::nullopt);
    if (!from) return;
    auto to = U64Param(c, "to", std::nullopt);
    if (!to) return;
    const ledger::ChainTip tip = store().Tip();
    if (*from == 0 || *from > *to || *to > tip.log_size) {
      return c.reply(Error(
          400, "bad-parameter",
          "need 0 < from <= to <= " + std::to_string(tip.log_size) + " (the committed log size)"));
    }
    ledger::MerkleLog log = store().Log();  // size >= tip.log_size
    auto proof = log.ConsistencyProof(*from, *to, store());
    auto from_root = log.RootAt(*from, store());
    auto to_root = log.RootAt(*to, store());
    if (!proof.ok()) return c.reply(StorageError(proof.status()));
    if (!from_root.ok()) return c.reply(StorageError(from_root.status()));
    if (!to_root.ok()) return c.reply(StorageError(to_root.status()));
    Json path = Json::array();
    for (const auto& h : *proof) path.push_back(h.Hex());
    c.reply(JsonResponse(Json{{"from", *from},
                              {"to", *to},
                              {"from_root", from_root->Hex()},
                              {"to_root", to_root->Hex()},
                              {"proof", std::move(path)}}));
  }

  void InclusionProof(Ctx& c) {
    auto leaf = U64Param(c, "leaf", std::nullopt);
    if (!leaf) return;
    const ledger::ChainTip tip = store().Tip();
    auto size = U64Param(c, "size", tip.log_size);
    if (!size) return;
    if (*leaf >= *size || *size > tip.log_size) {
      return c.reply(Error(
          400, "bad-parameter",
          "need leaf < size <= " + std::to_string(tip.log_size) + " (the committed log size)"));
    }
    ledger::MerkleLog log = store().Log();
    auto proof = log.InclusionProof(*leaf, *size, store());
    if (!proof.ok()) return c.reply(StorageError(proof.status()));
    auto root = log.RootAt(*size, store());
    if (!root.ok()) return c.reply(StorageError(root.status()));
    auto loc = store().GetLeafLocation(*leaf);
    if (!loc.ok()) return c.reply(StorageError(loc.status()));
    auto leaf_data = store().GetLeaf(*leaf);
    if (!leaf_data.ok()) return c.reply(StorageError(leaf_data.status()));
    auto decoded = ledger::Decode<ledger::SignedTransaction>(*leaf_data);
    if (!decoded.ok()) return c.reply(StorageError(Status::Corruption("leaf does not decode")));
    const auto& stx = *decoded;
    ledger::Bytes data = std::move(leaf_data).value();
    Json path = Json::array();
    for (const auto& h : *proof) path.push_back(h.Hex());
    c.reply(JsonResponse(Json{{"leaf_index", *leaf},
                              {"tree_size", *size},
                              {"root", root->Hex()},
                              {"path", std::move(path)},
                              {"leaf", ledger::ToHex(data)},
                              {"leaf_hash", ledger::MerkleLeafHash(data).Hex()},
                              {"tx_hash", ledger::TxHash(stx.tx).Hex()},
                              {"height", loc->height},
                              {"index", loc->index}}));
  }

  // ---- agencies, status, genesis, metrics ----

  // Agency ids: genesis agencies plus those registered later, found by scanning new blocks once.
  Result<std::vector<std::string>> AgencyIds() {
    std::lock_guard lock(agencies_mu_);
    if (!agencies_loaded_) {
      auto g = store().GetGenesis();
      if (!g.ok()) return g.status();
      for (const auto& a : g->agencies) agency_ids_.insert(a.id);
      agencies_loaded_ = true;
    }
    const uint64_t tip = store().Height();
    for (; agencies_scanned_ < tip; ++agencies_scanned_) {
      auto b = store().GetBlock(agencies_scanned_ + 1);
      if (!b.ok()) return b.status();
      for (const auto& stx : b->txs) {
        if (const auto* e = std::get_if<ledger::RegisterAgencyEvent>(&stx.tx.event)) {
          agency_ids_.insert(e->agency.id);
        }
      }
    }
    return std::vector<std::string>(agency_ids_.begin(), agency_ids_.end());
  }

  void GetAgencies(Ctx& c) {
    auto ids = AgencyIds();
    if (!ids.ok()) return c.reply(StorageError(ids.status()));
    auto vals = ledger::ReadValidators(store());
    if (!vals.ok()) return c.reply(StorageError(vals.status()));
    Json agencies = Json::array();
    for (const auto& id : *ids) {
      auto a = ledger::ReadAgency(store(), id);
      if (!a.ok()) return c.reply(StorageError(a.status()));
      if (!a->has_value()) continue;
      Json j = ToJson(**a);
      uint64_t power = 0;
      for (const auto& v : vals->validators) {
        if (v.agency == id) power += v.power;
      }
      j["validator_power"] = power;
      // The agency's last committed sequence: its next transaction carries sequence + 1.
      auto seq = ledger::ReadSequence(store(), id);
      if (!seq.ok()) return c.reply(StorageError(seq.status()));
      j["sequence"] = *seq;
      agencies.push_back(std::move(j));
    }
    Json j{{"agencies", std::move(agencies)}, {"validators", ToJson(*vals)}};
    auto pending = ledger::ReadPendingValidators(store());
    if (pending.ok() && pending->has_value()) {
      j["pending_validators"] = Json{{"effective_height", (*pending)->effective_height},
                                     {"validators", ToJson((*pending)->validators)}};
    }
    c.reply(JsonResponse(j));
  }

  void GetStatus(Ctx& c) {
    NodeStatus s = node_->Status();
    ledger::ChainTip tip = store().Tip();
    auto vals = ledger::ReadValidators(store());
    if (!vals.ok()) return c.reply(StorageError(vals.status()));
    Json peers = Json::array();
    for (const auto& p : s.peers) {
      peers.push_back(Json{{"name", p.name}, {"key", p.key.Hex()}, {"connected", p.connected}});
    }
    c.reply(JsonResponse(Json{{"moniker", s.moniker},
                              {"chain_id", s.chain_id},
                              {"validator", s.validator},
                              {"node_key", s.node_key.Hex()},
                              {"height", tip.height},
                              {"round", s.round},
                              {"syncing", s.syncing},
                              {"best_peer_height", s.best_peer_height},
                              {"latest_block",
                               {{"height", tip.height},
                                {"hash", tip.block_hash.Hex()},
                                {"time_ms", tip.time_ms},
                                {"state_root", tip.state_root.Hex()},
                                {"log_size", tip.log_size},
                                {"log_root", tip.log_root.Hex()}}},
                              {"mempool", {{"txs", s.mempool_txs}, {"bytes", s.mempool_bytes}}},
                              {"validators", ToJson(*vals)},
                              {"peers", std::move(peers)}}));
  }

  void GetGenesis(Ctx& c) {
    auto g = store().GetGenesis();
    if (!g.ok()) return c.reply(StorageError(g.status()));
    c.reply(JsonResponse(Json{{"genesis_hash", ledger::GenesisHash(*g).Hex()},
                              {"genesis", Json::parse(ledger::GenesisToJson(*g))}}));
  }

  // Recorded double votes, oldest first: ?from=N (default 0), ?limit=L (1..1000, default 100).
  void GetEvidence(Ctx& c) {
    auto from = U64Param(c, "from", 0);
    if (!from) return;
    auto limit = U64Param(c, "limit", 100);
    if (!limit) return;
    if (*limit == 0 || *limit > 1000) {
      return c.reply(Error(400, "bad-parameter", "limit: 1 to 1000"));
    }
    auto count = ledger::ReadEvidenceCount(store());
    if (!count.ok()) return c.reply(StorageError(count.status()));
    Json items = Json::array();
    for (uint64_t n = *from; n < *count && n < *from + *limit; ++n) {
      auto rec = ledger::ReadEvidence(store(), n);
      if (!rec.ok()) return c.reply(StorageError(rec.status()));
      if (!rec->has_value()) continue;
      const ledger::EvidenceRecord& e = **rec;
      items.push_back(
          Json{{"index", n},
               {"validator", e.validator.Hex()},
               {"vote_type", e.type == ledger::VoteType::kPrevote ? "prevote" : "precommit"},
               {"vote_height", e.vote_height},
               {"round", e.round},
               {"recorded_height", e.height},
               {"log_index", e.log_index},
               {"tx_hash", e.tx_hash.Hex()}});
    }
    c.reply(JsonResponse(Json{{"count", *count}, {"evidence", std::move(items)}}));
  }

  void GetHealthz(Ctx& c) { c.reply(HealthResponse(node_->Status())); }
  void GetReadyz(Ctx& c) { c.reply(ReadyResponse(node_->Status())); }

  NodeService* node_;
  const ApiOptions* options_;
  std::shared_ptr<HttpMetrics> metrics;

  TipCache tips_;  // the parts every answer at the latest height shares
  // Signs answers in batches, at most one signature per millisecond (api/attestation.h).
  AnswerSigner signer_{[node = node_](const Hash256& digest) { return node->SignAnswer(digest); },
                       std::chrono::milliseconds(1)};

  std::mutex agencies_mu_;
  bool agencies_loaded_ = false;      // GUARDED_BY(agencies_mu_)
  uint64_t agencies_scanned_ = 0;     // GUARDED_BY(agencies_mu_): blocks scanned
  std::set<std::string> agency_ids_;  // GUARDED_BY(agencies_mu_)
};

Api::Api(NodeService* node, ApiOptions options, std::shared_ptr<Metrics> metrics)
    : node_(node),
      options_(std::move(options)),
      registry_(metrics ? std::move(metrics) : std::make_shared<Metrics>()),
      metrics_(std::make_shared<HttpMetrics>(*registry_)),
      routes_(std::make_unique<Routes>(node, &options_)) {
  routes_->metrics = metrics_;
}

Api::~Api() = default;

std::vector<RouteInfo> RouteTable() {
  std::vector<RouteInfo> out;
  for (const auto& r : Api::Routes::Table()) out.push_back({r.method, r.pattern, r.statuses});
  return out;
}

std::set<std::string> Api::UndeclaredAnswers() const {
  std::lock_guard lock(undeclared_->mu);
  return undeclared_->seen;
}

void Api::OnConnectionsChanged(size_t open) { metrics_->SetOpenConnections(open); }
void Api::OnServerResponse(int status) { metrics_->Record("(server)", status, 0.0); }

void Api::Handle(const Request& request, Reply reply) {
  const auto start = std::chrono::steady_clock::now();
  // Exactly one reply; metrics recorded when it is sent, whichever thread sends it.
  auto sent = std::make_shared<std::atomic<bool>>(false);
  auto metrics = metrics_;
  auto make_reply = [&](const char* name) -> Reply {
    std::string route(name);
    return [route, start, sent, metrics, reply](Response r) {
      if (sent->exchange(true)) return;
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics->Record(route, r.status, secs);
      reply(std::move(r));
    };
  };

  Reply finish = make_reply("(unmatched)");
  if (request.target.size() > kMaxTargetBytes) {
    finish(Error(400, "bad-parameter", "the request target is too long"));
    return;
  }
  std::string why;
  auto target = ParseTarget(request.target, &why);
  if (!target) {
    finish(Error(400, "bad-parameter", why));
    return;
  }
  std::string allowed;
  for (const auto& route : Routes::Table()) {
    auto params = Routes::Match(route.pattern, target->segments);
    if (!params) continue;
    if (request.method != route.method) {
      if (!allowed.empty()) allowed += ", ";
      allowed += route.method;
      continue;
    }
    Reply r = make_reply(route.pattern);
    r = [r, &route, undeclared = undeclared_](Response resp) {
      if (resp.status != 500 && std::find(route.statuses.begin(), route.statuses.end(),
                                          resp.status) == route.statuses.end()) {
        std::lock_guard lock(undeclared->mu);
        undeclared->seen.insert(std::string(route.method) + " " + route.pattern + " " +
                                std::to_string(resp.status));
      }
      r(std::move(resp));
    };
    Routes::Ctx ctx{request, *target, std::move(*params), r};
    try {
      (routes_.get()->*route.fn)(ctx);
    } catch (const std::exception& e) {
      r(Error(500, "internal", e.what()));
    }
    return;
  }
  if (!allowed.empty()) {
    Response r = Error(405, "method-not-allowed",
                       request.method + " is not allowed here; allowed: " + allowed);
    r.headers.emplace_back("Allow", allowed);
    finish(std::move(r));
    return;
  }
  finish(
      Error(404, "not-found",
            "no route for " + request.method + " " + std::string(request.target.substr(0, 256))));
}

}  // namespace certledger::api
