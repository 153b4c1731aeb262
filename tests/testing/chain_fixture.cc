#include "tests/testing/chain_fixture.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "ledger/identifier.h"

namespace certledger::testing {

std::string CreditCode(const std::string& first17) {
  static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  static constexpr int kWeights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                       29, 25, 13, 8,  24, 10, 30, 28};
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    sum += static_cast<int>(kAlphabet.find(first17[i])) * kWeights[i];
  }
  return first17 + kAlphabet[static_cast<size_t>((31 - sum % 31) % 31)];
}

PrivateKey TestKey(const std::string& label) {
  Hash256 h = Sha256(AsBytes("certledger-test/" + label));
  return *PrivateKey::FromBytes(h.span());
}

ChainFixture::ChainFixture() {
  struct Spec {
    const char* code17;
    const char* name;
    AgencyKind kind;
    const char* division;
  };
  const Spec specs[] = {
      {"11320000014000001", "江苏省水利厅", AgencyKind::kProvince, "320000"},
      {"11330000002482071", "浙江省水利厅", AgencyKind::kProvince, "330000"},
      {"12100000425010163", "水利部太湖流域管理局", AgencyKind::kRiverBasin, "310000"},
      {"11100000000019655", "中华人民共和国水利部", AgencyKind::kMinistry, "100000"},
  };
  genesis.params.chain_id = "certledger-test";
  genesis.genesis_time_ms = (now_s - 86400) * 1000;
  for (size_t i = 0; i < 4; ++i) {
    TestAgency ta;
    ta.agency.id = CreditCode(specs[i].code17);
    ta.agency.name = specs[i].name;
    ta.agency.kind = specs[i].kind;
    ta.agency.division = specs[i].division;
    for (int k = 0; k < 2; ++k) {
      ta.issuing.push_back(TestKey("issuing-" + std::to_string(i) + "-" + std::to_string(k)));
      ta.agency.issuing_keys.push_back(ta.issuing.back().public_key());
    }
    genesis.agencies.push_back(ta.agency);
    agencies.push_back(std::move(ta));
    validator_keys.push_back(TestKey("validator-" + std::to_string(i)));
    genesis.validators.validators.push_back({validator_keys.back().public_key(), 10,
                                             agencies.back().agency.id,
                                             TestKey("node-" + std::to_string(i)).public_key()});
  }
  std::sort(genesis.validators.validators.begin(), genesis.validators.validators.end(),
            [](const Validator& a, const Validator& b) { return a.key < b.key; });
  genesis.params.water_permit_type_code = agencies[3].agency.id + "001";
}

std::string ChainFixture::BaseId(size_t agency, const std::string& serial) const {
  CertificateId c{type_code(), id(agency), serial, 1};
  return c.Base();
}

std::string ChainFixture::CertId(size_t agency, const std::string& serial, uint32_t version) const {
  CertificateId c{type_code(), id(agency), serial, version};
  return c.Full();
}

IssueEvent ChainFixture::Issue(size_t agency, const std::string& serial,
                               const std::string& tag) const {
  return sample::Issue(type_code(), id(agency), serial,
                       "doc/" + id(agency) + "/" + serial + "/" + tag, now_s);
}

Transaction ChainFixture::Unsigned(size_t agency, Event event, uint64_t sequence) const {
  Transaction tx;
  tx.chain_id = genesis.params.chain_id;
  tx.agency = id(agency);
  tx.sequence = sequence;
  tx.event = std::move(event);
  return tx;
}

SignedTransaction ChainFixture::Tx(size_t agency, Event event) {
  SignedTransaction stx;
  stx.tx = Unsigned(agency, std::move(event), agencies[agency].next_sequence++);
  SignWith(&stx, agencies[agency].issuing[0]);
  return stx;
}

SignedTransaction ChainFixture::Governance(size_t acting, Event event,
                                           const std::vector<size_t>& signers) {
  SignedTransaction stx;
  stx.tx = Unsigned(acting, std::move(event), agencies[acting].next_sequence++);
  for (size_t s : signers) SignWith(&stx, validator_keys[s]);
  return stx;
}

CommitCertificate ChainFixture::Commit(const BlockHeader& header,
                                       const std::vector<size_t>& signers) const {
  CommitCertificate c;
  c.height = header.height;
  c.round = 0;
  c.block_id = BlockHash(header);
  Hash256 digest = VoteSigningDigest(domain(), VoteType::kPrecommit, c.height, c.round, c.block_id);
  std::vector<size_t> who = signers;
  if (who.empty()) {
    for (size_t i = 0; i < validator_keys.size(); ++i) who.push_back(i);
  }
  for (size_t i : who) {
    c.signatures.push_back({validator_keys[i].public_key(), validator_keys[i].Sign(digest)});
  }
  return c;
}

ChainBuilder::ChainBuilder(ChainFixture* f) : fixture(f), tip(GenesisTip(f->genesis)) {
  state.Apply(GenesisChanges(f->genesis));
  std::vector<std::pair<Hash256, SmtNode>> genesis_nodes;
  GenesisStateRoot(f->genesis, &genesis_nodes);
  state_nodes.PutAll(genesis_nodes);
}

BuiltBlock ChainBuilder::Next(const std::vector<SignedTransaction>& txs) {
  auto built = BuildBlock(state, state_nodes, tip, log, txs, next_time_ms(),
                          fixture->validator_keys[0].public_key(), DirectVerifier());
  if (!built.ok()) {
    std::fprintf(stderr, "ChainBuilder: %s\n", built.status().ToString().c_str());
    std::abort();
  }
  if (!built->rejected.empty()) {
    std::fprintf(stderr, "ChainBuilder: transaction %zu rejected: %s: %s\n",
                 built->rejected[0].first, built->rejected[0].second.code(),
                 built->rejected[0].second.message.c_str());
    std::abort();
  }
  BuiltBlock out{built->block, fixture->Commit(built->block.header), built->effects};
  state.Apply(out.effects.changes);
  nodes.PutAll(out.effects.log_nodes);
  state_nodes.PutAll(out.effects.state_nodes);
  log = out.effects.log_after;
  tip = TipAfter(out.block.header);
  return out;
}

}  // namespace certledger::testing
