// Replay: re-verifies a chain from genesis, trusting nothing but the genesis file.
//
// For every block: the header links to the previous one, the commit certificate carries more
// than two thirds of the voting power of the validator set for that height (following
// validator-set changes), every transaction's signatures and state transition are valid, and
// the transactions root, event-log size and root and state root are reproduced exactly.
// The audit tool and tests drive it; it keeps the replayed state and its state tree in memory
// (tree nodes no longer reachable from the current root are dropped from time to time, so the
// tree's memory follows the size of the state, not the length of the history).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ledger/chain.h"
#include "ledger/merkle.h"
#include "ledger/smt.h"
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
  // The state tree at the tip (root tip().state_root).
  [[nodiscard]] const MemorySmtNodeStore& state_nodes() const { return state_nodes_; }
  [[nodiscard]] uint64_t events() const { return log_.size(); }

 private:
  ChainDomain domain_;
  ChainTip tip_;
  MemoryState state_;
  MerkleLog log_;
  MemoryMerkleNodeStore nodes_;
  MemorySmtNodeStore state_nodes_;
  size_t live_state_nodes_ = 0;  // reachable nodes at the last compaction
};

}  // namespace certledger::ledger
