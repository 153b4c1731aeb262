#include "tools/verify.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <tuple>
#include <type_traits>
#include <utility>

#include "api/attestation.h"
#include "api/json.h"
#include "api/staple.h"
#include "api/verify_status.h"
#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"
#include "ledger/merkle.h"
#include "ledger/smt.h"
#include "ledger/state.h"

namespace certledger::tools {

using ledger::Result;
using ledger::Status;
using Json = nlohmann::json;

namespace {

Status Mismatch(const std::string& what) { return Status::InvalidArgument(what); }

bool IsVersionEvent(const ledger::Event& e) {
  return std::holds_alternative<ledger::IssueEvent>(e) ||
         std::holds_alternative<ledger::ChangeEvent>(e) ||
         std::holds_alternative<ledger::RenewEvent>(e);
}
bool IsStatusEvent(const ledger::Event& e) {
  return std::holds_alternative<ledger::SuspendEvent>(e) ||
         std::holds_alternative<ledger::ResumeEvent>(e) ||
         std::holds_alternative<ledger::RevokeEvent>(e);
}

// The full identifier a version event creates.
std::string IdentifierOf(const ledger::Event& e) {
  if (const auto* i = std::get_if<ledger::IssueEvent>(&e)) return i->identifier;
  if (const auto* c = std::get_if<ledger::ChangeEvent>(&e)) return c->identifier;
  if (const auto* r = std::get_if<ledger::RenewEvent>(&e)) return r->identifier;
  return "";
}
ledger::Hash256 DocumentHashOf(const ledger::Event& e) {
  if (const auto* i = std::get_if<ledger::IssueEvent>(&e)) return i->document_hash;
  if (const auto* c = std::get_if<ledger::ChangeEvent>(&e)) return c->document_hash;
  if (const auto* r = std::get_if<ledger::RenewEvent>(&e)) return r->document_hash;
  return {};
}
std::string StatusCertificateOf(const ledger::Event& e) {
  if (const auto* s = std::get_if<ledger::SuspendEvent>(&e)) return s->certificate;
  if (const auto* r = std::get_if<ledger::ResumeEvent>(&e)) return r->certificate;
  if (const auto* v = std::get_if<ledger::RevokeEvent>(&e)) return v->certificate;
  return "";
}

struct ProvenEvent {
  std::string role;
  uint64_t log_index = 0;
  ledger::SignedTransaction stx;
  std::string base_id;   // the certificate the event is about
  uint32_t version = 0;  // version events: the version they create
};

Result<std::string> Str(const Json& j, const std::string& path, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
    return Mismatch(path + "." + key + ": missing or not a string");
  }
  return j[key].get<std::string>();
}

// Checks one proof event: inclusion, decoding, transaction id, signatures.
Result<ProvenEvent> CheckEvent(const Json& e, size_t i, const ledger::BlockHeader& header,
                               const ledger::Genesis& genesis) {
  const std::string path = "proof.events[" + std::to_string(i) + "]";
  ProvenEvent out;
  auto role = Str(e, path, "role");
  if (!role.ok()) return role.status();
  out.role = *role;
  auto leaf_hex = Str(e, path, "leaf");
  if (!leaf_hex.ok()) return leaf_hex.status();
  auto leaf = ledger::FromHex(*leaf_hex);
  if (!leaf) return Mismatch(path + ".leaf: not hex");
  const ledger::Hash256 leaf_hash = ledger::MerkleLeafHash(*leaf);
  if (e.contains("leaf_hash")) {
    auto claimed = Str(e, path, "leaf_hash");
    if (!claimed.ok()) return claimed.status();
    if (*claimed != leaf_hash.Hex()) return Mismatch(path + ".leaf_hash: does not hash the leaf");
  }
  if (!e.contains("inclusion") || !e["inclusion"].is_object()) {
    return Mismatch(path + ".inclusion: missing");
  }
  const Json& inc = e["inclusion"];
  if (!inc.contains("leaf_index") || !inc["leaf_index"].is_number_unsigned() ||
      !inc.contains("tree_size") || !inc["tree_size"].is_number_unsigned() ||
      !inc.contains("path") || !inc["path"].is_array()) {
    return Mismatch(path + ".inclusion: expected leaf_index, tree_size and path");
  }
  out.log_index = inc["leaf_index"].get<uint64_t>();
  if (e.contains("log_index") &&
      (!e["log_index"].is_number_unsigned() || e["log_index"].get<uint64_t>() != out.log_index)) {
    return Mismatch(path + ".log_index: differs from inclusion.leaf_index");
  }
  if (inc["tree_size"].get<uint64_t>() != header.log_size) {
    return Mismatch(path + ".inclusion.tree_size: not the header's log_size");
  }
  if (inc["path"].size() > 64) return Mismatch(path + ".inclusion.path: too long");
  std::vector<ledger::Hash256> proof;
  for (const auto& p : inc["path"]) {
    auto h = p.is_string() ? ledger::Hash256::FromHexString(p.get<std::string>()) : std::nullopt;
    if (!h) return Mismatch(path + ".inclusion.path: expected 64-hex hashes");
    proof.push_back(*h);
  }
  if (!ledger::VerifyInclusion(out.log_index, header.log_size, leaf_hash, proof, header.log_root)) {
    return Mismatch(path + ": inclusion proof of leaf " + std::to_string(out.log_index) +
                    " does not lead to the header's log_root");
  }
  auto stx = ledger::Decode<ledger::SignedTransaction>(*leaf);
  if (!stx.ok())
    return Mismatch(path + ".leaf: not a SignedTransaction: " + stx.status().message());
  out.stx = std::move(stx).value();
  const ledger::Transaction& tx = out.stx.tx;
  if (tx.chain_id != genesis.params.chain_id)
    return Mismatch(path + ": transaction of another chain");
  if (e.contains("tx_hash")) {
    auto claimed = Str(e, path, "tx_hash");
    if (!claimed.ok()) return claimed.status();
    if (*claimed != ledger::TxHash(tx).Hex()) return Mismatch(path + ".tx_hash: not the leaf's id");
  }
  if (e.contains("type")) {
    auto claimed = Str(e, path, "type");
    if (!claimed.ok()) return claimed.status();
    if (*claimed != ledger::EventTypeName(ledger::TypeOf(tx.event))) {
      return Mismatch(path + ".type: the leaf holds a " +
                      ledger::EventTypeName(ledger::TypeOf(tx.event)) + " event");
    }
  }
  // Signatures: all verify; one by an issuing key of the acting agency (per genesis).
  const ledger::Hash256 digest = ledger::TxSigningDigest(tx, ledger::GenesisHash(genesis));
  if (out.stx.signatures.empty()) return Mismatch(path + ": transaction carries no signature");
  for (const auto& s : out.stx.signatures) {
    if (!ledger::Verify(s.signer, digest, s.signature)) {
      return Mismatch(path + ": signature by " + s.signer.Hex() + " does not verify");
    }
  }
  if (IsVersionEvent(tx.event)) {
    auto id = ledger::ParseCertificateId(IdentifierOf(tx.event));
    if (!id) return Mismatch(path + ": the event's identifier does not parse");
    out.base_id = id->Base();
    out.version = id->version;
  } else if (IsStatusEvent(tx.event)) {
    out.base_id = StatusCertificateOf(tx.event);
  } else {
    return Mismatch(path + ": a " + ledger::EventTypeName(ledger::TypeOf(tx.event)) +
                    " event cannot decide a certificate's status");
  }
  return out;
}

}  // namespace

std::string StatusLine(const VerifiedAnswer& v) {
  const api::StatusLabel label = api::StatusLabelOf(v.status, v.stored_status);
  return std::string(label.zh) + " / " + label.en;
}

namespace {

// The header and its commit (step 1). Fills v.header and the signing power.
Status CheckHeader(const Json& proof, const ledger::Genesis& genesis, const VerifyOptions& options,
                   VerifiedAnswer* v) {
  if (!proof.contains("header") || !proof.contains("commit")) {
    return Mismatch("proof: no committed header (the chain has no block yet?)");
  }
  auto header = api::FromJson<ledger::BlockHeader>(proof["header"]);
  if (!header.ok()) return Mismatch("proof.header: " + header.status().message());
  v->header = *header;
  if (header->chain_id != genesis.params.chain_id) {
    return Mismatch("proof.header.chain_id: " + header->chain_id + " is not the genesis chain " +
                    genesis.params.chain_id);
  }
  auto commit = api::FromJson<ledger::CommitCertificate>(proof["commit"]);
  if (!commit.ok()) return Mismatch("proof.commit: " + commit.status().message());
  ledger::ValidatorSet set = genesis.validators;
  if (header->validator_set_hash != set.Hash()) {
    if (!options.resolve_validators) {
      return Mismatch("validator set changed since genesis: cannot verify (header " +
                      std::to_string(header->height) + " names validator set " +
                      header->validator_set_hash.Hex() + ")");
    }
    auto resolved = options.resolve_validators(header->height);
    if (!resolved.ok()) {
      return Mismatch("validator set changed since genesis: " + resolved.status().message());
    }
    set = *resolved;
    if (set.Hash() != header->validator_set_hash) {
      return Mismatch("proof.header.validator_set_hash: not the set that commits height " +
                      std::to_string(header->height));
    }
    v->notes.push_back("validator set followed from genesis by replaying the chain");
  }
  const ledger::Hash256 block_id = ledger::BlockHash(*header);
  if (Status st =
          ledger::VerifyCommit(ledger::ChainDomain{header->chain_id, ledger::GenesisHash(genesis)},
                               set, header->height, block_id, *commit);
      !st.ok()) {
    return Mismatch("proof.commit: " + st.message());
  }
  v->total_power = set.TotalPower();
  for (const auto& s : commit->signatures) {
    if (const auto* val = set.Find(s.validator)) {
      v->signed_power += val->power;
      ++v->signers;
    }
  }
  const std::pair<const char*, std::string> same_as_header[] = {
      {"log_root", header->log_root.Hex()}, {"state_root", header->state_root.Hex()}};
  for (const auto& [k, want] : same_as_header) {
    if (proof.contains(k) && (!proof[k].is_string() || proof[k].get<std::string>() != want)) {
      return Mismatch(std::string("proof.") + k + ": differs from the header's");
    }
  }
  if (proof.contains("log_size") && (!proof["log_size"].is_number_unsigned() ||
                                     proof["log_size"].get<uint64_t>() != header->log_size)) {
    return Mismatch("proof.log_size: differs from the header's");
  }
  const int64_t age_ms = options.now_ms - header->time_ms;
  if (options.max_age_ms > 0 && age_ms > options.max_age_ms) {
    return Mismatch("stale answer: its header (height " + std::to_string(header->height) + ") is " +
                    std::to_string(age_ms / 1000) + " s old, more than the " +
                    std::to_string(options.max_age_ms / 1000) + " s allowed (--max-age)");
  }
  if (age_ms < -5 * 60 * 1000) {
    v->notes.push_back("the header's time is " + std::to_string(-age_ms / 1000) +
                       " s ahead of this computer's clock");
  }
  return Status::Ok();
}

// The state entries (step 2): key -> proven value (nullopt: proven absent).
using ProvenState = std::map<std::string, std::optional<ledger::Bytes>>;

Result<ProvenState> CheckState(const Json& proof, const ledger::BlockHeader& header) {
  ProvenState out;
  if (!proof.contains("state") || !proof["state"].is_array()) {
    return Mismatch("proof.state: missing (the answer proves nothing about the current state)");
  }
  const Json& state = proof["state"];
  if (state.size() > 8) return Mismatch("proof.state: more than 8 entries");
  for (size_t i = 0; i < state.size(); ++i) {
    const std::string path = "proof.state[" + std::to_string(i) + "]";
    const Json& e = state[i];
    auto key = Str(e, path, "key");
    if (!key.ok()) return key.status();
    if (key->size() > 512) return Mismatch(path + ".key: longer than 512 bytes");
    auto proof_hex = Str(e, path, "proof");
    if (!proof_hex.ok()) return proof_hex.status();
    auto proof_bytes = ledger::FromHex(*proof_hex);
    if (!proof_bytes) return Mismatch(path + ".proof: not hex");
    if (!e.contains("value")) return Mismatch(path + ".value: missing (null for an absent key)");
    std::optional<ledger::Bytes> value;
    if (!e["value"].is_null()) {
      auto value_hex = Str(e, path, "value");
      if (!value_hex.ok()) return value_hex.status();
      value = ledger::FromHex(*value_hex);
      if (!value || value->empty()) return Mismatch(path + ".value: not hex or empty");
    }
    const ledger::Hash256 k = ledger::SmtKeyHash(*key);
    Status st = value ? ledger::SmtVerifyPresence(header.state_root, k,
                                                  ledger::SmtValueHash(*value), *proof_bytes)
                      : ledger::SmtVerifyAbsence(header.state_root, k, *proof_bytes);
    if (!st.ok()) {
      return Mismatch(path + " (" + *key + "): the proof does not show " +
                      (value ? "this value" : "absence") +
                      " under the header's state_root: " + st.message());
    }
    if (!out.emplace(*key, std::move(value)).second) {
      return Mismatch(path + ".key: " + *key + " appears twice");
    }
  }
  return out;
}

template <class T>
Result<std::optional<T>> ProvenRecord(const ProvenState& state, const std::string& key,
                                      bool required) {
  auto it = state.find(key);
  if (it == state.end()) {
    if (!required) return std::optional<T>();
    return Mismatch("proof.state: no proof for " + key);
  }
  if (!it->second) return std::optional<T>();
  auto r = ledger::Decode<T>(*it->second);
  if (!r.ok()) return Mismatch("proof.state " + key + ": " + r.status().message());
  return std::optional<T>(std::move(r).value());
}

// A claim of the answer that must equal what the proofs give.
template <class T>
Status Claim(const Json& answer, const char* key, const T& proven) {
  if (!answer.contains(key)) return Status::Ok();
  const Json& j = answer[key];
  bool same = false;
  if constexpr (std::is_same_v<T, std::string>) {
    same = j.is_string() && j.get<std::string>() == proven;
  } else {
    same = j.is_number_integer() && j.get<int64_t>() == static_cast<int64_t>(proven);
  }
  if (same) return Status::Ok();
  std::string shown;
  if constexpr (std::is_same_v<T, std::string>) {
    shown = proven;
  } else {
    shown = std::to_string(proven);
  }
  return Mismatch(std::string(key) + ": the answer says " + j.dump() + ", the proven state says " +
                  shown);
}

}  // namespace

Result<VerifiedAnswer> CheckVerificationAnswer(const Json& answer, const ledger::Genesis& genesis,
                                               const VerifyOptions& options) {
  VerifiedAnswer v;
  if (!answer.is_object()) return Mismatch("the answer is not a JSON object");
  auto doc_hex = Str(answer, "answer", "document_hash");
  if (!doc_hex.ok()) return doc_hex.status();
  auto doc_hash = ledger::Hash256::FromHexString(*doc_hex);
  if (!doc_hash || *doc_hash != options.document_hash) {
    return Mismatch("document_hash: the answer is about another document");
  }
  auto claimed_status = Str(answer, "answer", "status");
  if (!claimed_status.ok()) return claimed_status.status();

  // 1. The header and its commit.
  if (!answer.contains("proof") || !answer["proof"].is_object()) return Mismatch("proof: missing");
  const Json& proof = answer["proof"];
  if (Status st = CheckHeader(proof, genesis, options, &v); !st.ok()) return st;

  // Accountable reads: a signature that does not verify refuses the answer; none is noted.
  {
    const ledger::ChainDomain domain{genesis.params.chain_id, ledger::GenesisHash(genesis)};
    auto att =
        api::CheckAttestation(answer, domain, "GET /v1/verify/" + doc_hash->Hex(), v.header.height);
    if (att.ok()) {
      v.signed_by = att->node_key;
      for (const auto& val : genesis.validators.validators) {
        if (val.node_key == att->node_key) v.signer_agency = val.agency;
      }
    } else if (att.status().IsNotFound()) {
      v.notes.push_back("the node did not sign its answer");
    } else {
      return Mismatch(att.status().message());
    }
  }

  // 2. The state entries.
  auto state = CheckState(proof, v.header);
  if (!state.ok()) return state.status();
  v.state_entries = state->size();
  auto doc = ProvenRecord<ledger::DocumentRef>(*state, ledger::DocKey(*doc_hash), true);
  if (!doc.ok()) return doc.status();

  // 3. The events.
  const Json events = proof.value("events", Json::array());
  if (!events.is_array()) return Mismatch("proof.events: expected an array");
  if (events.size() > 16) return Mismatch("proof.events: more than 16 events");
  std::map<std::string, ProvenEvent> by_role;
  for (size_t i = 0; i < events.size(); ++i) {
    auto e = CheckEvent(events[i], i, v.header, genesis);
    if (!e.ok()) return e.status();
    const std::string role = e->role;
    if (role != "document" && role != "latest-version" && role != "latest-status") {
      return Mismatch("proof.events[" + std::to_string(i) + "].role: unknown role " + role);
    }
    if (!by_role.emplace(role, std::move(e).value()).second) {
      return Mismatch("proof.events: two events with role " + role);
    }
  }
  v.events = by_role.size();

  if (!doc->has_value()) {
    // A proven absence: no certificate on this ledger has this document hash.
    v.status = "unknown";
    if (*claimed_status != v.status) {
      return Mismatch("status: the answer says " + *claimed_status +
                      ", the state proves the document hash is not on the ledger");
    }
    if (!by_role.empty()) return Mismatch("status: unknown, yet the proof holds events");
    return v;
  }
  const ledger::DocumentRef& ref = **doc;
  auto cert_or = ProvenRecord<ledger::CertificateState>(*state, ledger::CertKey(ref.base_id), true);
  if (!cert_or.ok()) return cert_or.status();
  if (!cert_or->has_value()) {
    return Mismatch("proof.state: the document names certificate " + ref.base_id +
                    ", whose state is proven absent");
  }
  const ledger::CertificateState& c = **cert_or;
  if (c.base_id != ref.base_id) {
    return Mismatch("proof.state cert/" + ref.base_id + ": holds certificate " + c.base_id);
  }
  const ledger::VersionRecord* scanned = nullptr;
  for (const auto& r : c.versions) {
    if (r.version == ref.version) scanned = &r;
  }
  if (scanned == nullptr || scanned->document_hash != *doc_hash) {
    return Mismatch("proof.state: the certificate has no version " + std::to_string(ref.version) +
                    " with the scanned document hash");
  }

  // 4. Everything the verifier reports, from the proven state.
  v.certificate = c.base_id;
  v.version = ref.version;
  v.current_version = c.version;
  v.issuer = c.issuer;
  v.controller = c.controller;
  v.not_after = c.not_after;
  v.stored_status = api::CertStatusName(c.status);
  v.status_reason = c.status_reason;
  v.status = api::VerifyStatusName(api::DecideStatus(c, ref.version, options.now_ms));
  const ledger::HistoryEntry* version_event = nullptr;
  const ledger::HistoryEntry* latest_version_event = nullptr;
  const ledger::HistoryEntry* status_event = nullptr;
  {
    size_t n = 0;
    for (const auto& h : c.history) {
      const bool creates = h.type == ledger::EventType::kIssue ||
                           h.type == ledger::EventType::kChange ||
                           h.type == ledger::EventType::kRenew;
      if (creates) {
        if (n < c.versions.size() && c.versions[n].version == ref.version) version_event = &h;
        latest_version_event = &h;
        ++n;
      }
      if (h.type == ledger::EventType::kSuspend || h.type == ledger::EventType::kResume ||
          h.type == ledger::EventType::kRevoke) {
        status_event = &h;
      }
    }
  }
  if (status_event != nullptr) v.status_changed_ms = status_event->time_ms;
  if (ref.version < c.version) {
    v.superseded_by_version = c.versions.back().version;
    v.superseded_by_document = c.versions.back().document_hash;
  }
  for (const auto& [agency_id, name] :
       {std::pair{c.issuer, &v.issuer_name}, std::pair{c.controller, &v.controller_name}}) {
    auto agency = ProvenRecord<ledger::Agency>(*state, ledger::AgencyKey(agency_id), false);
    if (!agency.ok()) return agency.status();
    if (agency->has_value()) {
      *name = (*agency)->name;
    } else {
      v.notes.push_back("no proven record of agency " + agency_id + ": its name is not shown");
    }
  }

  // The cited events must be the ones the proven state records.
  auto matches = [](const ProvenEvent& e, const ledger::HistoryEntry* h) {
    return h != nullptr && e.log_index == h->log_index && ledger::TxHash(e.stx.tx) == h->tx_hash;
  };
  auto doc_it = by_role.find("document");
  if (doc_it == by_role.end()) return Mismatch("proof.events: no document event");
  const ProvenEvent& doc_event = doc_it->second;
  if (!matches(doc_event, version_event)) {
    return Mismatch("document event: not the event the certificate state records for version " +
                    std::to_string(ref.version));
  }
  if (!IsVersionEvent(doc_event.stx.tx.event) ||
      DocumentHashOf(doc_event.stx.tx.event) != *doc_hash) {
    return Mismatch("document event: does not carry the scanned document hash");
  }
  v.identifier = IdentifierOf(doc_event.stx.tx.event);
  if (doc_event.base_id != c.base_id || doc_event.version != ref.version) {
    return Mismatch("document event: creates " + v.identifier + ", not version " +
                    std::to_string(ref.version) + " of " + c.base_id);
  }
  if (auto it = by_role.find("latest-version"); it != by_role.end()) {
    if (!matches(it->second, latest_version_event) || ref.version == c.version) {
      return Mismatch("latest-version event: not the certificate's latest version event");
    }
  } else if (ref.version < c.version) {
    return Mismatch("proof.events: no latest-version event for a superseded version");
  }
  if (auto it = by_role.find("latest-status"); it != by_role.end()) {
    if (!matches(it->second, status_event)) {
      return Mismatch("latest-status event: not the certificate's latest status event");
    }
    const ledger::Event& e = it->second.stx.tx.event;
    if (const auto* r = std::get_if<ledger::RevokeEvent>(&e)) {
      if (c.status == ledger::CertStatus::kValid || c.status == ledger::CertStatus::kSuspended ||
          r->reason != c.status_reason) {
        return Mismatch("latest-status event: the signed revocation differs from the state");
      }
    }
  } else if (status_event != nullptr) {
    return Mismatch("proof.events: no latest-status event, yet the state records one");
  }
  // Signed by a current issuing key of the acting agency (keys may have been replaced since).
  for (const auto& [role, e] : by_role) {
    auto agency = ProvenRecord<ledger::Agency>(*state, ledger::AgencyKey(e.stx.tx.agency), false);
    if (!agency.ok()) return agency.status();
    if (!agency->has_value()) continue;
    bool by_issuer = false;
    for (const auto& s : e.stx.signatures) {
      const auto& keys = (*agency)->issuing_keys;
      if (std::find(keys.begin(), keys.end(), s.signer) != keys.end()) by_issuer = true;
    }
    if (!by_issuer) {
      v.notes.push_back(role + " event: not signed by a current issuing key of " + e.stx.tx.agency +
                        " (its keys were replaced since)");
    }
  }

  // The answer's words must agree with what is proven. Expiry depends on the clock: a status
  // that the node's own clock (checked_at_ms) explains is accepted, with a note.
  if (*claimed_status != v.status) {
    const int64_t node_now = answer.value("checked_at_ms", int64_t{0});
    if (node_now <= 0 ||
        api::VerifyStatusName(api::DecideStatus(c, ref.version, node_now)) != *claimed_status) {
      return Mismatch("status: the answer says " + *claimed_status + ", the proven state says " +
                      v.status);
    }
    v.notes.push_back("the node said " + *claimed_status + " by its clock; by this computer's " +
                      "clock it is " + v.status);
  }
  for (Status st :
       {Claim(answer, "certificate", v.certificate), Claim(answer, "identifier", v.identifier),
        Claim(answer, "version", v.version), Claim(answer, "current_version", v.current_version),
        Claim(answer, "stored_status", v.stored_status),
        Claim(answer, "status_reason", v.status_reason), Claim(answer, "not_after", v.not_after)}) {
    if (!st.ok()) return st;
  }
  {
    const int64_t node_now = answer.value("checked_at_ms", options.now_ms);
    if (Status st = Claim(answer, "certificate_status",
                          std::string(api::EffectiveStatusName(
                              ledger::EffectiveStatusAt(c, node_now > 0 ? node_now : 0))));
        !st.ok()) {
      return st;
    }
  }
  if (answer.contains("status_changed")) {
    const Json& s = answer["status_changed"];
    if (status_event == nullptr || !s.is_object() || !s.contains("time_ms") ||
        s["time_ms"] != status_event->time_ms ||
        s.value("height", uint64_t{0}) != status_event->height ||
        s.value("type", "") != ledger::EventTypeName(status_event->type)) {
      return Mismatch("status_changed: not the certificate's latest status event");
    }
  }
  if (answer.contains("summary") && answer["summary"] != api::ToJson(c.summary)) {
    return Mismatch("summary: differs from the proven certificate state");
  }
  for (const auto& [field, id, name] :
       {std::tuple{"issuer", &v.issuer, &v.issuer_name},
        std::tuple{"controller", &v.controller, &v.controller_name}}) {
    if (!answer.contains(field)) continue;
    const Json& a = answer[field];
    if (!a.is_object() || a.value("id", "") != *id ||
        (!name->empty() && a.value("name", "") != *name)) {
      return Mismatch(std::string(field) + ": differs from the proven state (" + *id + " " + *name +
                      ")");
    }
  }
  if (answer.contains("superseded_by")) {
    const Json& s = answer["superseded_by"];
    if (v.superseded_by_version == 0 || !s.is_object() ||
        s.value("document_hash", "") != v.superseded_by_document.Hex()) {
      return Mismatch("superseded_by: not the certificate's latest version");
    }
  }
  return v;
}

// ---- evidence ----------------------------------------------------------------------------------

Json MakeEvidence(const ledger::Genesis& genesis, const ledger::Hash256& document_hash,
                  const std::vector<std::pair<std::string, Json>>& answers, int64_t now_ms) {
  Json e{{"type", "certledger-evidence"},
         {"version", 1},
         {"chain_id", genesis.params.chain_id},
         {"genesis_hash", ledger::GenesisHash(genesis).Hex()},
         {"document_hash", document_hash.Hex()},
         {"created_ms", now_ms},
         {"answers", Json::array()}};
  for (const auto& [source, answer] : answers) {
    e["answers"].push_back(Json{{"source", source}, {"answer", answer}});
  }
  Json findings = Json::array();
  auto found = CheckEvidence(e, genesis);
  if (found.ok()) {
    for (const auto& f : *found) {
      findings.push_back((f.node_key == ledger::PublicKey{} ? std::string("validators")
                                                            : "node " + f.node_key.Hex()) +
                         (f.agency.empty() ? "" : " (agency " + f.agency + ")") + " at height " +
                         std::to_string(f.height) + ": " + f.reason);
    }
  }
  e["findings"] = std::move(findings);
  return e;
}

Result<std::vector<EvidenceFinding>> CheckEvidence(const Json& evidence,
                                                   const ledger::Genesis& genesis) {
  if (!evidence.is_object() || evidence.value("type", "") != "certledger-evidence" ||
      evidence.value("version", 0) != 1) {
    return Mismatch("not a certledger evidence file of version 1");
  }
  if (evidence.value("genesis_hash", "") != ledger::GenesisHash(genesis).Hex()) {
    return Mismatch("the evidence is about another chain (genesis_hash differs)");
  }
  auto doc = ledger::Hash256::FromHexString(evidence.value("document_hash", ""));
  if (!doc) return Mismatch("document_hash: expected 64 hex characters");
  if (!evidence.contains("answers") || !evidence["answers"].is_array() ||
      evidence["answers"].size() > 16) {
    return Mismatch("answers: expected an array of at most 16 answers");
  }
  const ledger::ChainDomain domain{genesis.params.chain_id, ledger::GenesisHash(genesis)};
  const std::string request = "GET /v1/verify/" + doc->Hex();
  auto agency_of = [&](const ledger::PublicKey& k) {
    for (const auto& val : genesis.validators.validators) {
      if (val.node_key == k) return val.agency;
    }
    return std::string();
  };
  std::vector<EvidenceFinding> out;
  std::vector<std::pair<ledger::BlockHeader, ledger::CommitCertificate>> committed;
  for (const auto& item : evidence["answers"]) {
    if (!item.is_object() || !item.contains("answer")) return Mismatch("answers: malformed item");
    const Json& answer = item["answer"];
    if (!answer.is_object() || !answer.contains("proof") || !answer["proof"].is_object()) {
      continue;
    }
    const Json& proof = answer["proof"];
    // Committed headers, for the fork check.
    {
      VerifiedAnswer scratch;
      VerifyOptions o;
      o.document_hash = *doc;
      if (CheckHeader(proof, genesis, o, &scratch).ok()) {
        auto commit = api::FromJson<ledger::CommitCertificate>(proof["commit"]);
        if (commit.ok()) committed.emplace_back(scratch.header, *commit);
      }
    }
    if (!proof.contains("header")) continue;
    auto header = api::FromJson<ledger::BlockHeader>(proof["header"]);
    if (!header.ok()) continue;
    auto att = api::CheckAttestation(answer, domain, request, header->height);
    if (!att.ok()) continue;  // not attributable to anyone
    VerifyOptions o;
    o.document_hash = *doc;
    o.now_ms = answer.value("checked_at_ms", header->time_ms);
    o.max_age_ms = 0;
    auto r = CheckVerificationAnswer(answer, genesis, o);
    if (r.ok()) continue;
    const std::string& why = r.status().message();
    if (why.rfind("validator set changed since genesis", 0) == 0) continue;  // cannot judge
    out.push_back({att->node_key, agency_of(att->node_key), header->height,
                   "signed an answer that its own proofs contradict: " + why});
  }
  // Two committed headers of one height that differ: the validators that signed both.
  for (size_t i = 0; i < committed.size(); ++i) {
    for (size_t j = i + 1; j < committed.size(); ++j) {
      const auto& [ha, ca] = committed[i];
      const auto& [hb, cb] = committed[j];
      if (ha.height != hb.height || ledger::BlockHash(ha) == ledger::BlockHash(hb)) continue;
      std::string both;
      for (const auto& sa : ca.signatures) {
        for (const auto& sb : cb.signatures) {
          if (sa.validator == sb.validator) both += " " + sa.validator.Hex().substr(0, 16);
        }
      }
      out.push_back({ledger::PublicKey{}, "", ha.height,
                     "two different blocks are committed at this height; validators that "
                     "signed both:" +
                         both});
    }
  }
  return out;
}

}  // namespace certledger::tools
