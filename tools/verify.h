// Checking a node's verification answer (GET /v1/verify/{hash}) without trusting the node.
//
// What is checked (docs/API.md "How a verifier checks an answer"):
//  1. the header is for the genesis chain, BlockHash(header) is the commit's block id, and the
//     commit carries precommits of more than 2/3 of the power of the validator set that commits
//     that height: the genesis set, or (when the header names another set) the set that
//     `resolve_validators` returns (the CLI replays the chain from genesis to get it);
//  2. every proof event's leaf hashes to its leaf_hash and its RFC 9162 inclusion path leads to
//     the header's log_root at the header's log_size;
//  3. every leaf decodes as a SignedTransaction of this chain whose id is the event's tx_hash,
//     whose signatures verify, and at least one of whose signers is an issuing key of the acting
//     agency in genesis (agencies registered later are reported in `notes`);
//  4. the events name the answer's certificate, the `document` event carries the scanned hash
//     and the claimed identifier and version, and the claimed status is the one the events give
//     (revoked > superseded > expired > suspended > valid) at `now_ms`.
// Absence cannot be proven: a node may withhold a later event. Ask several nodes.
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
};

struct VerifiedAnswer {
  std::string status;  // valid | superseded | suspended | revoked | expired | unknown
  std::string stored_status;
  std::string certificate;  // base identifier
  std::string identifier;   // full identifier of the scanned version
  uint32_t version = 0;
  uint32_t current_version = 0;
  std::string issuer;       // agency id
  std::string issuer_name;  // from genesis, if the agency is a genesis agency
  int64_t not_after = 0;
  bool not_after_proven = false;  // from an issue / renew event in the proof
  ledger::BlockHeader header;
  uint64_t signed_power = 0, total_power = 0;
  size_t signers = 0;
  size_t events = 0;
  std::vector<std::string> notes;  // things the proofs could not establish
};

// OK with the verified facts, or InvalidArgument naming the first mismatch.
ledger::Result<VerifiedAnswer> CheckVerificationAnswer(const nlohmann::json& answer,
                                                       const ledger::Genesis& genesis,
                                                       const VerifyOptions& options);

// The status line a person reads: "有效 / Valid", "已被新版本取代 / Superseded", ...
std::string StatusLine(const VerifiedAnswer& v);

}  // namespace certledger::tools
