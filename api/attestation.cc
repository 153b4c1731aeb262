#include "api/attestation.h"

#include <nlohmann/json.hpp>

#include <optional>

namespace certledger::api {

using Json = nlohmann::json;
using ledger::Status;

ledger::Hash256 AnswerHash(const Json& answer) {
  if (answer.is_object() && answer.contains("attestation")) {
    Json copy = answer;
    copy.erase("attestation");
    return ledger::Sha256(
        ledger::AsBytes(copy.dump(-1, ' ', false, Json::error_handler_t::replace)));
  }
  return ledger::Sha256(
      ledger::AsBytes(answer.dump(-1, ' ', false, Json::error_handler_t::replace)));
}

ledger::Hash256 AnswerSigningDigest(const ledger::ChainDomain& domain, std::string_view request,
                                    uint64_t height, const ledger::Hash256& answer_hash) {
  ledger::Bytes p;
  p.reserve(1 + 4 + request.size() + 8 + 32);
  p.push_back(1);
  const auto len = static_cast<uint32_t>(request.size());
  for (int i = 0; i < 4; ++i) p.push_back(static_cast<uint8_t>(len >> (8 * i)));
  p.insert(p.end(), request.begin(), request.end());
  for (int i = 0; i < 8; ++i) p.push_back(static_cast<uint8_t>(height >> (8 * i)));
  p.insert(p.end(), answer_hash.bytes.begin(), answer_hash.bytes.end());
  return ledger::SigningDigest(kTagAnswer, domain, p);
}

Json AttestationJson(const Attestation& a) {
  return Json{
      {"version", 1},       {"node_key", a.node_key.Hex()},       {"request", a.request},
      {"height", a.height}, {"answer_hash", a.answer_hash.Hex()}, {"signature", a.signature.Hex()}};
}

ledger::Result<Attestation> CheckAttestation(const Json& answer, const ledger::ChainDomain& domain,
                                             std::string_view request, uint64_t header_height) {
  if (!answer.is_object() || !answer.contains("attestation")) {
    return Status::NotFound("the answer is not signed by the node");
  }
  const Json& j = answer["attestation"];
  auto str = [&](const char* k) -> std::string {
    return j.is_object() && j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
  };
  if (!j.is_object() || j.value("version", 0) != 1) {
    return Status::InvalidArgument("attestation: expected an object of version 1");
  }
  Attestation a;
  auto key = ledger::PublicKey::ParseHex(str("node_key"));
  auto hash = ledger::Hash256::FromHexString(str("answer_hash"));
  auto sig_bytes = ledger::FixedBytes<64>::FromHexString(str("signature"));
  std::optional<ledger::Signature> sig;
  if (sig_bytes) sig = ledger::Signature{*sig_bytes};
  if (!key || !hash || !sig || !j.contains("height") || !j["height"].is_number_unsigned()) {
    return Status::InvalidArgument(
        "attestation: expected node_key, answer_hash, signature (hex) and height");
  }
  a.node_key = *key;
  a.answer_hash = *hash;
  a.signature = *sig;
  a.height = j["height"].get<uint64_t>();
  a.request = str("request");
  if (a.request != request) {
    return Status::InvalidArgument("attestation: signed for request \"" + a.request.substr(0, 100) +
                                   "\", not this one");
  }
  if (a.height != header_height) {
    return Status::InvalidArgument("attestation: signed for height " + std::to_string(a.height) +
                                   ", the answer's header is " + std::to_string(header_height));
  }
  if (a.answer_hash != AnswerHash(answer)) {
    return Status::InvalidArgument("attestation: answer_hash is not the hash of this answer");
  }
  if (!ledger::Verify(a.node_key, AnswerSigningDigest(domain, request, a.height, a.answer_hash),
                      a.signature)) {
    return Status::InvalidArgument("attestation: the signature by " + a.node_key.Hex() +
                                   " does not verify");
  }
  return a;
}

}  // namespace certledger::api
