#include "tools/verify.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "api/json.h"
#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"
#include "ledger/merkle.h"

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
                               const ledger::Genesis& genesis, std::vector<std::string>* notes) {
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
  const ledger::Agency* agency = nullptr;
  for (const auto& a : genesis.agencies) {
    if (a.id == tx.agency) agency = &a;
  }
  if (agency == nullptr) {
    notes->push_back("agency " + tx.agency +
                     " was registered after genesis: its issuing keys were not checked");
  } else {
    bool by_issuer = false;
    for (const auto& s : out.stx.signatures) {
      if (std::find(agency->issuing_keys.begin(), agency->issuing_keys.end(), s.signer) !=
          agency->issuing_keys.end()) {
        by_issuer = true;
      }
    }
    if (!by_issuer) {
      notes->push_back(path + ": not signed by a genesis issuing key of " + tx.agency +
                       " (keys may have been replaced since genesis)");
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
  if (v.status == "valid") return "有效 / Valid";
  if (v.status == "superseded") return "已被新版本取代 / Superseded";
  if (v.status == "suspended") return "暂扣 / Suspended";
  if (v.status == "expired") return "已过期 / Expired";
  if (v.status == "revoked") {
    if (v.stored_status == "cancelled") return "已注销 / Revoked (cancelled)";
    if (v.stored_status == "withdrawn") return "已撤销 / Revoked (withdrawn)";
    return "已吊销 / Revoked";
  }
  return "未找到 / Unknown";
}

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
  auto status = Str(answer, "answer", "status");
  if (!status.ok()) return status.status();
  v.status = *status;
  static const char* kStatuses[] = {"valid",   "superseded", "suspended",
                                    "revoked", "expired",    "unknown"};
  if (std::find(std::begin(kStatuses), std::end(kStatuses), v.status) == std::end(kStatuses)) {
    return Mismatch("status: unknown status \"" + v.status + "\"");
  }

  // 1. The header and its commit.
  if (!answer.contains("proof") || !answer["proof"].is_object()) return Mismatch("proof: missing");
  const Json& proof = answer["proof"];
  if (!proof.contains("header") || !proof.contains("commit")) {
    return Mismatch("proof: no committed header (the chain has no block yet?)");
  }
  auto header = api::FromJson<ledger::BlockHeader>(proof["header"]);
  if (!header.ok()) return Mismatch("proof.header: " + header.status().message());
  v.header = *header;
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
    v.notes.push_back("validator set followed from genesis by replaying the chain");
  }
  const ledger::Hash256 block_id = ledger::BlockHash(*header);
  if (Status st =
          ledger::VerifyCommit(ledger::ChainDomain{header->chain_id, ledger::GenesisHash(genesis)},
                               set, header->height, block_id, *commit);
      !st.ok()) {
    return Mismatch("proof.commit: " + st.message());
  }
  v.total_power = set.TotalPower();
  for (const auto& s : commit->signatures) {
    if (const auto* val = set.Find(s.validator)) {
      v.signed_power += val->power;
      ++v.signers;
    }
  }
  for (const char* k : {"log_size", "log_root"}) {
    if (!proof.contains(k)) continue;
    const bool same =
        std::string(k) == "log_size"
            ? proof[k].is_number_unsigned() && proof[k].get<uint64_t>() == header->log_size
            : proof[k].is_string() && proof[k].get<std::string>() == header->log_root.Hex();
    if (!same) return Mismatch(std::string("proof.") + k + ": differs from the header's");
  }
  if (options.now_ms - header->time_ms > 5 * 60 * 1000) {
    v.notes.push_back("the node's view is " +
                      std::to_string((options.now_ms - header->time_ms) / 1000) +
                      " s old (header time)");
  }

  // 2-3. The events.
  const Json events = proof.value("events", Json::array());
  if (!events.is_array()) return Mismatch("proof.events: expected an array");
  if (events.size() > 16) return Mismatch("proof.events: more than 16 events");
  std::map<std::string, ProvenEvent> by_role;
  for (size_t i = 0; i < events.size(); ++i) {
    auto e = CheckEvent(events[i], i, *header, genesis, &v.notes);
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

  if (v.status == "unknown") {
    if (!by_role.empty()) return Mismatch("status: unknown, yet the proof holds events");
    v.notes.push_back("not found on this ledger as of block " + std::to_string(header->height) +
                      " (absence cannot be proven)");
    return v;
  }

  // 4. The certificate and the claimed status.
  auto cert = Str(answer, "answer", "certificate");
  if (!cert.ok()) return cert.status();
  v.certificate = *cert;
  auto ident = Str(answer, "answer", "identifier");
  if (!ident.ok()) return ident.status();
  v.identifier = *ident;
  v.stored_status = answer.value("stored_status", "");
  if (answer.contains("current_version") && answer["current_version"].is_number_unsigned()) {
    v.current_version = answer["current_version"].get<uint32_t>();
  }
  auto doc_it = by_role.find("document");
  if (doc_it == by_role.end()) return Mismatch("proof.events: no document event");
  const ProvenEvent& doc = doc_it->second;
  if (!IsVersionEvent(doc.stx.tx.event) || DocumentHashOf(doc.stx.tx.event) != *doc_hash) {
    return Mismatch("document event: does not carry the scanned document hash");
  }
  if (IdentifierOf(doc.stx.tx.event) != v.identifier) {
    return Mismatch("identifier: the document event created " + IdentifierOf(doc.stx.tx.event));
  }
  if (doc.base_id != v.certificate) {
    return Mismatch("certificate: the document event is about " + doc.base_id);
  }
  v.version = doc.version;
  if (answer.contains("version") && (!answer["version"].is_number_unsigned() ||
                                     answer["version"].get<uint32_t>() != doc.version)) {
    return Mismatch("version: the document event created version " + std::to_string(doc.version));
  }
  auto id = ledger::ParseCertificateId(v.identifier);
  v.issuer = id ? id->issuer_code : "";
  for (const auto& a : genesis.agencies) {
    if (a.id == v.issuer) v.issuer_name = a.name;
  }

  const ProvenEvent* later = nullptr;
  if (auto it = by_role.find("latest-version"); it != by_role.end()) {
    later = &it->second;
    if (!IsVersionEvent(later->stx.tx.event)) {
      return Mismatch("latest-version event: not an issue, change or renew event");
    }
    if (later->base_id != v.certificate) {
      return Mismatch("latest-version event: about another certificate " + later->base_id);
    }
    if (later->version <= doc.version || later->log_index <= doc.log_index) {
      return Mismatch("latest-version event: not a later version");
    }
    if (v.current_version != 0 && v.current_version != later->version) {
      return Mismatch("current_version: the latest-version event created version " +
                      std::to_string(later->version));
    }
    if (answer.contains("superseded_by") && answer["superseded_by"].is_object()) {
      if (answer["superseded_by"].value("document_hash", "") !=
          DocumentHashOf(later->stx.tx.event).Hex()) {
        return Mismatch("superseded_by.document_hash: not the latest-version event's");
      }
    }
  } else if (v.current_version > v.version) {
    return Mismatch("current_version: claims version " + std::to_string(v.current_version) +
                    " but the proof has no later version event");
  }
  const ProvenEvent* latest_status = nullptr;
  if (auto it = by_role.find("latest-status"); it != by_role.end()) {
    latest_status = &it->second;
    if (!IsStatusEvent(latest_status->stx.tx.event)) {
      return Mismatch("latest-status event: not a suspend, resume or revoke event");
    }
    if (latest_status->base_id != v.certificate) {
      return Mismatch("latest-status event: about another certificate " + latest_status->base_id);
    }
  }

  // Validity end: proven when the scanned version's own event set it (issue / renew) and no
  // later version exists; otherwise taken from the answer and noted.
  std::optional<int64_t> not_after;
  if (const auto* i = std::get_if<ledger::IssueEvent>(&doc.stx.tx.event)) not_after = i->not_after;
  if (const auto* r = std::get_if<ledger::RenewEvent>(&doc.stx.tx.event)) not_after = r->not_after;
  if (not_after && later == nullptr) {
    v.not_after_proven = true;
    v.not_after = *not_after;
    if (answer.contains("not_after") && (!answer["not_after"].is_number_integer() ||
                                         answer["not_after"].get<int64_t>() != *not_after)) {
      return Mismatch("not_after: the proof gives " + std::to_string(*not_after));
    }
  } else if (answer.contains("not_after") && answer["not_after"].is_number_integer()) {
    v.not_after = answer["not_after"].get<int64_t>();
    if (later == nullptr) {
      v.notes.push_back(
          "the end of validity comes from the node's answer (the proof's change "
          "event does not carry it)");
    }
  }

  std::string expected_stored = "valid";
  if (latest_status != nullptr) {
    if (const auto* r = std::get_if<ledger::RevokeEvent>(&latest_status->stx.tx.event)) {
      expected_stored = api::RevocationKindName(r->kind);
    } else if (std::holds_alternative<ledger::SuspendEvent>(latest_status->stx.tx.event)) {
      expected_stored = "suspended";
    }
  }
  std::string computed;
  const bool expired = v.not_after != 0 && options.now_ms / 1000 >= v.not_after;
  if (expected_stored == "withdrawn" || expected_stored == "cancelled" ||
      expected_stored == "revoked") {
    computed = "revoked";
  } else if (later != nullptr) {
    computed = "superseded";
  } else if (expired) {
    computed = "expired";
  } else if (expected_stored == "suspended") {
    computed = "suspended";
  } else {
    computed = "valid";
  }
  if (!v.stored_status.empty() && v.stored_status != expected_stored) {
    return Mismatch("stored_status: the answer says " + v.stored_status +
                    ", the proof's events say " + expected_stored);
  }
  if (computed != v.status) {
    // Expiry depends on the clock: accept the node's "expired" when the header time is past the
    // end of validity, and its "valid" / "suspended" only when our clock agrees.
    const bool header_expired = v.not_after != 0 && header->time_ms / 1000 >= v.not_after;
    if (!(v.status == "expired" && computed != "revoked" && computed != "superseded" &&
          header_expired)) {
      return Mismatch("status: the answer says " + v.status + ", the proof's events say " +
                      computed);
    }
  }
  v.stored_status = expected_stored;
  return v;
}

}  // namespace certledger::tools
