// Test fixture: a small deterministic chain (agencies, keys, validators, genesis) and helpers
// that build, sign and commit transactions and blocks. Shared by ledger, consensus and node tests.
#pragma once

#include <string>
#include <vector>

#include "ledger/chain.h"
#include "ledger/crypto.h"
#include "ledger/state.h"
#include "ledger/testing/sample_permit.h"
#include "ledger/types.h"

namespace certledger::testing {

using namespace certledger::ledger;  // NOLINT(google-build-using-namespace): test-only

// A credit code with a correct GB 32100 check character from its first 17 characters.
std::string CreditCode(const std::string& first17);
// A deterministic key: secret = SHA-256("certledger-test/" + label).
PrivateKey TestKey(const std::string& label);

struct TestAgency {
  Agency agency;
  std::vector<PrivateKey> issuing;  // matches agency.issuing_keys
  uint64_t next_sequence = 1;
};

// Agencies: 0 = Jiangsu (province), 1 = Zhejiang (province), 2 = Taihu basin, 3 = the ministry.
// Validators: one per agency, power 10 each (so 3 of 4 are needed).
class ChainFixture {
 public:
  ChainFixture();

  Genesis genesis;
  std::vector<TestAgency> agencies;
  std::vector<PrivateKey> validator_keys;  // same order as agencies
  int64_t now_s = 1'790'000'000;           // 2026-09-21, a fixed "today"

  [[nodiscard]] const std::string& id(size_t agency) const { return agencies[agency].agency.id; }
  // The water-permit type code registered in genesis.
  [[nodiscard]] const std::string& type_code() const {
    return genesis.params.water_permit_type_code;
  }
  // Full identifier of certificate `serial` of `agency`, version `version`.
  [[nodiscard]] std::string CertId(size_t agency, const std::string& serial,
                                   uint32_t version) const;
  [[nodiscard]] std::string BaseId(size_t agency, const std::string& serial) const;

  // An issue event for `serial` (sample::Issue) with a fresh document hash derived from
  // (agency, serial, tag).
  IssueEvent Issue(size_t agency, const std::string& serial, const std::string& tag = "") const;

  // Wraps `event` in a transaction of `agency` with its next sequence (consumed) and signs it
  // with the agency's first issuing key.
  SignedTransaction Tx(size_t agency, Event event);
  // Same with an explicit sequence and no automatic signature.
  Transaction Unsigned(size_t agency, Event event, uint64_t sequence) const;
  // Adds `key`'s signature over this chain's transaction digest, in signer order.
  void SignWith(SignedTransaction* stx, const PrivateKey& key) const {
    sample::AddSignature(stx, key, GenesisHash(genesis));
  }
  [[nodiscard]] ChainDomain domain() const {
    return {genesis.params.chain_id, GenesisHash(genesis)};
  }
  // Governance transaction signed by the validators listed (by agency index).
  SignedTransaction Governance(size_t acting, Event event, const std::vector<size_t>& signers);

  // Precommits of the validators listed (default: all) for `header`.
  [[nodiscard]] CommitCertificate Commit(const BlockHeader& header,
                                         const std::vector<size_t>& signers = {}) const;
};

// Builds a chain in memory on top of a fixture's genesis: each Next() builds a block from the
// given transactions (all must be accepted), commits it with every validator's precommit and
// applies it.
struct BuiltBlock {
  Block block;
  CommitCertificate commit;
  BlockEffects effects;
};
class ChainBuilder {
 public:
  explicit ChainBuilder(ChainFixture* f);
  BuiltBlock Next(const std::vector<SignedTransaction>& txs);
  [[nodiscard]] int64_t next_time_ms() const { return tip.time_ms + 1000; }

  ChainFixture* fixture;
  MemoryState state;
  ChainTip tip;
  MerkleLog log;
  MemoryMerkleNodeStore nodes;
  MemorySmtNodeStore state_nodes;  // the state tree (every root's nodes; never pruned)
};

}  // namespace certledger::testing
