#include "ledger/testing/sample_permit.h"

#include <algorithm>
#include <utility>

#include "ledger/identifier.h"

namespace certledger::ledger::sample {

WaterPermitSummary PermitSummary(std::string_view permit_number) {
  WaterPermitSummary s;
  s.permit_number = permit_number;
  s.holder_kind = HolderKind::kOrganisation;
  s.holder_name = kHolderName;
  s.holder_credit_code = kHolderCreditCode;
  s.source = WaterSource::kSurface;
  s.annual_quantity_m3 = 1'250'000;
  s.purpose = "城镇公共供水";
  s.location = "南京市江宁区长江右岸";
  s.division = "320115";
  s.method = "泵站提水";
  s.return_location = "秦淮河";
  s.intakes.push_back(
      {"1号取水口", 118'796'877, 32'060'255, WaterSource::kSurface, IntakeState::kInUse, ""});
  return s;
}

WaterPermitSummary LoadPermitSummary(uint64_t i) {
  WaterPermitSummary s = PermitSummary("B320115S2026-" + std::to_string(i % 10000));
  s.annual_quantity_m3 = 100'000 + i;
  s.method.clear();
  s.return_location.clear();
  s.intakes.clear();
  return s;
}

IssueEvent Issue(std::string_view type_code, std::string_view agency, std::string_view serial,
                 std::string_view document_seed, int64_t now_s, int64_t backdate_s) {
  IssueEvent e;
  e.identifier =
      CertificateId{std::string(type_code), std::string(agency), std::string(serial), 1}.Full();
  e.document_hash = Sha256(AsBytes(document_seed));
  e.holder_commitment = Sha256(AsBytes("holder/" + std::string(serial)));
  e.not_before = now_s - backdate_s;
  e.not_after = now_s + kValiditySeconds;
  e.summary = PermitSummary("B320115S2026-" + std::string(serial.substr(0, 4)));
  return e;
}

void AddSignature(SignedTransaction* stx, const PrivateKey& key, const Hash256& genesis_hash) {
  TxSignature sig{key.public_key(), key.Sign(TxSigningDigest(stx->tx, genesis_hash))};
  auto pos = std::upper_bound(
      stx->signatures.begin(), stx->signatures.end(), sig,
      [](const TxSignature& a, const TxSignature& b) { return a.signer < b.signer; });
  stx->signatures.insert(pos, sig);
}

SignedTransaction SignedTx(const ChainDomain& domain, std::string_view agency, uint64_t sequence,
                           Event event, const PrivateKey& key) {
  SignedTransaction stx;
  stx.tx.chain_id = domain.chain_id;
  stx.tx.agency = agency;
  stx.tx.sequence = sequence;
  stx.tx.event = std::move(event);
  AddSignature(&stx, key, domain.genesis_hash);
  return stx;
}

}  // namespace certledger::ledger::sample
