#include "api/verification.h"

#include <nlohmann/json.hpp>

#include "ledger/encoding.h"
#include "ledger/identifier.h"

namespace certledger::api {

using ledger::Status;

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

bool IsVersionEvent(ledger::EventType t) {
  return t == ledger::EventType::kIssue || t == ledger::EventType::kChange ||
         t == ledger::EventType::kRenew;
}
bool IsStatusEvent(ledger::EventType t) {
  return t == ledger::EventType::kSuspend || t == ledger::EventType::kResume ||
         t == ledger::EventType::kRevoke;
}

namespace {

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

}  // namespace

Result<std::shared_ptr<const TipParts::AgencyPart>> TipParts::Agency(const ledger::StoreView& view,
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

Result<std::shared_ptr<const TipParts>> TipCache::Get(const ledger::StoreView& view,
                                                      bool with_proofs) {
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

Result<std::shared_ptr<const TipParts>> TipCache::Make(const ledger::StoreView& view,
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

}  // namespace certledger::api
