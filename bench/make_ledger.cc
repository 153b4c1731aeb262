// Builds a large ledger offline for the verification benchmark: into the store of node0 of a
// one-validator testnet (`certledger testnet --validators 1`), appends blocks of validly signed
// issue events committed by that validator, and writes the document hashes, one per line.
//
//   make_ledger NETDIR EVENTS HASHES_FILE
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/accept_all_verifier.h"
#include "ledger/chain.h"
#include "ledger/encoding.h"
#include "ledger/leveldb_store.h"
#include "ledger/testing/sample_permit.h"
#include "node/keyfile.h"

using namespace certledger;  // NOLINT(google-build-using-namespace): a small tool

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_ledger NETDIR EVENTS HASHES_FILE\n");
    return 2;
  }
  const std::filesystem::path net(argv[1]);
  const uint64_t events = std::stoull(argv[2]);
  std::ifstream nin(net / "network.json");
  auto network = nlohmann::json::parse(nin);
  std::ifstream gin(net / "genesis.json");
  std::stringstream gs;
  gs << gin.rdbuf();
  auto genesis = ledger::ParseGenesisJson(gs.str());
  if (!genesis.ok()) return std::fprintf(stderr, "%s\n", genesis.status().ToString().c_str()), 1;
  const ledger::ChainDomain domain{genesis->params.chain_id, ledger::GenesisHash(*genesis)};
  const std::filesystem::path home = network["nodes"][0]["home"].get<std::string>();
  auto validator = node::ReadKeyFile((home / "validator_key.json").string());
  auto issuer = node::ReadKeyFile(network["agencies"][0]["issuing_key_file"].get<std::string>());
  if (!validator.ok() || !issuer.ok()) return std::fprintf(stderr, "cannot read keys\n"), 1;
  const std::string agency = network["agencies"][0]["id"];

  ledger::LevelDBStoreOptions so;
  so.path = (home / "data" / "ledger").string();
  so.sync = false;  // bulk load; the final state is flushed when the store closes
  auto store = ledger::OpenLevelDBStore(so);
  if (!store.ok() || !(*store)->Initialize(*genesis).ok()) {
    return std::fprintf(stderr, "cannot open the store\n"), 1;
  }
  std::ofstream hashes(argv[3]);
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  uint64_t sequence = 1;
  const uint64_t per_block = 1000;
  for (uint64_t done = 0; done < events; done += per_block) {
    std::vector<ledger::SignedTransaction> txs;
    for (uint64_t i = done; i < std::min(events, done + per_block); ++i) {
      const std::string serial = "VB" + std::to_string(1000000 + i);
      ledger::IssueEvent e = ledger::sample::Issue(genesis->params.water_permit_type_code, agency,
                                                   serial, "verify-bench/" + serial, now_s);
      e.summary = ledger::sample::LoadPermitSummary(i);
      ledger::SignedTransaction stx =
          ledger::sample::SignedTx(domain, agency, sequence++, std::move(e), *issuer);
      hashes << std::get<ledger::IssueEvent>(stx.tx.event).document_hash.Hex() << "\n";
      txs.push_back(std::move(stx));
    }
    const ledger::ChainTip tip = (*store)->Tip();
    auto built = ledger::BuildBlock(**store, **store, tip, (*store)->Log(), txs, tip.time_ms + 1,
                                    validator->public_key(), bench::AcceptAllVerifier());
    if (!built.ok() || !built->rejected.empty()) {
      return std::fprintf(stderr, "block building failed at %llu\n",
                          static_cast<unsigned long long>(done)),
             1;
    }
    ledger::CommitCertificate commit;
    commit.height = built->block.header.height;
    commit.block_id = ledger::BlockHash(built->block.header);
    commit.signatures.push_back({validator->public_key(), validator->Sign(ledger::VoteSigningDigest(
                                                              domain, ledger::VoteType::kPrecommit,
                                                              commit.height, 0, commit.block_id))});
    if (auto st = (*store)->AppendBlock(built->block, commit, built->effects); !st.ok()) {
      return std::fprintf(stderr, "%s\n", st.ToString().c_str()), 1;
    }
    if ((done / per_block) % 100 == 0) {
      std::fprintf(stderr, "  %llu events\n", static_cast<unsigned long long>(done + per_block));
    }
  }
  std::printf("built %llu events in %llu blocks\n", static_cast<unsigned long long>(events),
              static_cast<unsigned long long>((*store)->Height()));
  return 0;
}
