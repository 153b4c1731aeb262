// Checking a node's verification answer (GET /v1/verify/{hash}) without trusting the node.
//
// What is checked (docs/API.md "How a verifier checks an answer"):
//  1. the header is for the genesis chain, BlockHash(header) is the commit's block id, and the
//     commit carries precommits of more than 2/3 of the power of the validator set that commits
//     that height: the genesis set, or (when the header names another set) the set that
//     `resolve_validators` returns (the CLI replays the chain from genesis to get it); the header
//     is not older than `max_age_ms` by the verifier's clock;
//  2. every state entry's proof (FORMAT.md §6.6) shows its value, or its absence, under the
//     header's state_root: the document-index entry `doc/<hash>` (absent: a proven "unknown"),
//     the certificate's state `cert/<base>`, and the records of the agencies it names;
//  3. every proof event's leaf hashes to its leaf_hash, its RFC 9162 inclusion path leads to the
//     header's log_root, it decodes as a SignedTransaction of this chain whose signatures verify,
//     and it is the event the proven certificate state records at that log index;
//  4. status, supersession, suspension, revocation (kind, reason, date) and expiry are derived
//     from the proven state (revoked > superseded > expired > suspended > valid at `now_ms`);
//     every claim the answer makes about them must agree, or the answer is refused.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ledger/chain.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::tools {

struct VerifyOptions {
  // The scanned document hash; the answer must be about it.
  ledger::Hash256 document_hash;
  // The verifier's clock (unix ms) for expiry.
  int64_t now_ms = 0;
  // Called when the header's validator set is not the genesis set: the verified set that
  // commits `height` (or an error). Unset: such answers fail with "validator set changed since
  // genesis: cannot verify".
  std::function<ledger::Result<ledger::ValidatorSet>(uint64_t height)> resolve_validators;
  // Refuse answers whose header time is more than this before now_ms (0: no limit).
  int64_t max_age_ms = 0;
};

struct VerifiedAnswer {
  std::string status;  // valid | superseded | suspended | revoked | expired | unknown
  std::string stored_status;
  std::string certificate;  // base identifier
  std::string identifier;   // full identifier of the scanned version
  uint32_t version = 0;
  uint32_t current_version = 0;
  std::string issuer;       // agency id
  std::string issuer_name;  // from the proven agency record
  std::string controller;   // agency now responsible (differs from issuer after a transfer)
  std::string controller_name;
  int64_t not_after = 0;          // unix seconds, of the current version (proven)
  std::string status_reason;      // of the latest suspend, resume or revoke
  int64_t status_changed_ms = 0;  // block time of that event (0: none)
  uint32_t superseded_by_version = 0;
  ledger::Hash256 superseded_by_document;
  ledger::BlockHeader header;
  uint64_t signed_power = 0, total_power = 0;
  size_t signers = 0;
  size_t events = 0;
  size_t state_entries = 0;
  // The node that signed the answer (accountable reads, FORMAT.md §15), if it did, and the
  // agency whose validator uses that node identity in the genesis set ("" if none).
  std::optional<ledger::PublicKey> signed_by;
  std::string signer_agency;
  std::vector<std::string> notes;  // things the proofs could not establish
};

// OK with the verified facts, or InvalidArgument naming the first mismatch.
ledger::Result<VerifiedAnswer> CheckVerificationAnswer(const nlohmann::json& answer,
                                                       const ledger::Genesis& genesis,
                                                       const VerifyOptions& options);

// ---- evidence ----------------------------------------------------------------------------------
//
// An evidence file (docs/API.md "Accountable reads") holds signed answers about one document:
// {"type": "certledger-evidence", "version": 1, "chain_id", "genesis_hash", "document_hash",
//  "created_ms", "answers": [{"source": "<where it came from>", "answer": {...}}, ...],
//  "findings": ["<what the writer found>", ...]}.
// The findings are informational: CheckEvidence recomputes them from the answers alone.

struct EvidenceFinding {
  ledger::PublicKey node_key;  // the signer it incriminates (zero for a fork finding)
  std::string agency;          // the genesis validator's agency using that node identity, or ""
  uint64_t height = 0;         // the header height of the answer
  std::string reason;
};

// The evidence file for `answers` (source, answer) about `document_hash`.
nlohmann::json MakeEvidence(const ledger::Genesis& genesis, const ledger::Hash256& document_hash,
                            const std::vector<std::pair<std::string, nlohmann::json>>& answers,
                            int64_t now_ms);

// What the evidence proves, from the answers and the genesis alone (offline): every answer whose
// node signature (attestation) verifies and that its own proofs contradict (checked as
// CheckVerificationAnswer does, at the node's own clock, with no freshness limit), and every
// pair of answers whose headers of one height are both committed yet differ (a fork: the
// validators that signed both are named). Empty: the file proves nothing against anyone.
// InvalidArgument if the file is malformed or of another chain.
ledger::Result<std::vector<EvidenceFinding>> CheckEvidence(const nlohmann::json& evidence,
                                                           const ledger::Genesis& genesis);

// The status line a person reads: "有效 / Valid", "已被新版本取代 / Superseded", ...
std::string StatusLine(const VerifiedAnswer& v);

}  // namespace certledger::tools
