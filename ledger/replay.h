// Replay: re-verifies a chain from genesis, trusting nothing but the genesis file.
//
// For every block: the header links to the previous one, the commit certificate carries more
// than two thirds of the voting power of the validator set for that height (following
// validator-set changes), every transaction's signatures and state transition are valid, and
// the transactions root, event-log size and root and state root are reproduced exactly.
// The audit tool and tests drive it; it keeps the replayed state in memory.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ledger/chain.h"
#include "ledger/merkle.h"
#include "ledger/state.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::ledger {

class Replayer {
 public:
  // REQUIRES: ValidateGenesis(genesis).ok()
  explicit Replayer(const Genesis& genesis);

  // Verifies block tip().height + 1 and its commit, then applies it. On failure the replayer
  // is unchanged and the Status says which check failed.
  Status Next(const Block& block, const CommitCertificate& commit);

  [[nodiscard]] const ChainTip& tip() const { return tip_; }
  [[nodiscard]] const MemoryState& state() const { return state_; }
  [[nodiscard]] const MerkleLog& log() const { return log_; }
  [[nodiscard]] const MemoryMerkleNodeStore& log_nodes() const { return nodes_; }
  [[nodiscard]] uint64_t events() const { return log_.size(); }

 private:
  ChainDomain domain_;
  ChainTip tip_;
  MemoryState state_;
  MerkleLog log_;
  MemoryMerkleNodeStore nodes_;
};

}  // namespace certledger::ledger
