// Accountable reads (docs/FORMAT.md §15): a node signs each verification answer with its node
// identity key, binding the request, the height of the header the answer rests on and the
// answer's hash. A signed answer that its own proofs contradict is evidence against its signer
// that anyone can check offline (tools/verify.h CheckEvidence).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::api {

inline constexpr std::string_view kTagAnswer = "certledger/answer";

// SHA-256 of the answer's canonical JSON (RFC 8785 style: members sorted by key, no whitespace,
// integers only, strings UTF-8 with the minimal escapes) with its "attestation" member removed.
ledger::Hash256 AnswerHash(const nlohmann::json& answer);

// SigningDigest("certledger/answer", domain,
//               u8 1 || text request || u64 height || hash answer_hash)   (FORMAT.md §15)
ledger::Hash256 AnswerSigningDigest(const ledger::ChainDomain& domain, std::string_view request,
                                    uint64_t height, const ledger::Hash256& answer_hash);

struct Attestation {
  ledger::PublicKey node_key;
  std::string request;  // "GET /v1/verify/<64 lowercase hex>"
  uint64_t height = 0;
  ledger::Hash256 answer_hash;
  ledger::Signature signature;
};

// The JSON object put under the answer's "attestation" member.
nlohmann::json AttestationJson(const Attestation& a);

// Decodes answer["attestation"] and checks it: the answer hash is the answer's, the height is
// `header_height`, the request is `request`, and the signature verifies under the node key.
// InvalidArgument naming what is wrong; NotFound if the answer carries no attestation.
ledger::Result<Attestation> CheckAttestation(const nlohmann::json& answer,
                                             const ledger::ChainDomain& domain,
                                             std::string_view request, uint64_t header_height);

}  // namespace certledger::api
