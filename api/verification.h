// Internal to api/: the verification answer shared by GET /v1/verify/{hash} and the page
// GET /v/{hash}: what it rests on (state proofs, RFC 9162 inclusion of the events it cites,
// the committed header), read from one consistent view of the store, and its canonical text
// (FORMAT.md §15). The status rules themselves are api/verify_status.h.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/json.h"
#include "api/verify_status.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/store.h"

namespace certledger::api {

using ledger::Hash256;
using ledger::Result;

// "1.2.156.3005.2.<type>.<issuer>.<serial>" + version -> the full identifier with check.
std::string FullIdentifier(const std::string& base, uint32_t version);
// The agency's name ("" if unknown) and {"id", "name"}.
std::string AgencyName(const ledger::StateReader& store, const std::string& id);
Json AgencyRef(const ledger::StateReader& store, const std::string& id);
// Events that make a new version (issue, change, renew) / that change the status.
bool IsVersionEvent(ledger::EventType t);
bool IsStatusEvent(ledger::EventType t);

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
                                                   const std::string& id) const;
  mutable std::mutex mu;
  mutable std::unordered_map<std::string, std::shared_ptr<const AgencyPart>>
      agencies;  // GUARDED_BY(mu)
};

// The parts of the latest height asked for, shared by the API threads. A view at another
// height gets its own parts (kept if newer).
class TipCache {
 public:
  Result<std::shared_ptr<const TipParts>> Get(const ledger::StoreView& view, bool with_proofs);

 private:
  static Result<std::shared_ptr<const TipParts>> Make(const ledger::StoreView& view,
                                                      bool with_proofs);

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
                            bool with_proofs);

// The answer's canonical text (FORMAT.md §15; its members in key order), written without a
// JSON tree: answers are served at tens of thousands per second.
std::string VerificationText(const Verification& v, int64_t now_ms, bool syncing);

}  // namespace certledger::api
