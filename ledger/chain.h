// Genesis, block construction and block validation: the rules that link blocks into a chain.
//
// A block at height h is valid on top of a chain tip iff its header links to the tip (chain id,
// height, previous hash, strictly later time), names the validator set that must commit it and
// a proposer in that set, and every derived field (transactions root, event-log size and root,
// state root) equals what executing its transactions on the tip's state gives; every
// transaction must be accepted by the state machine (a block never carries rejected ones).
// The state root is the root of the authenticated state tree (smt.h, FORMAT.md §6.3, §6.6) over
// the whole state map after the block.
// Deterministic; no I/O beyond the StateReader and SmtNodeReader passed in.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/merkle.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::ledger {

// ---- genesis ----------------------------------------------------------------------------------

struct Genesis {
  ChainParams params;  // params.chain_id is the chain id
  int64_t genesis_time_ms = 0;
  std::vector<Agency> agencies;
  ValidatorSet validators;
  bool operator==(const Genesis&) const = default;
};

// Parses the JSON genesis file (docs/FORMAT.md §8). InvalidArgument names the bad field.
Result<Genesis> ParseGenesisJson(std::string_view json);
std::string GenesisToJson(const Genesis& g);
// Structural checks: chain id, agencies (unique, well-formed), canonical validator set whose
// agencies exist, parameters within bounds.
Status ValidateGenesis(const Genesis& g);
// The canonical genesis hash: SHA-256 of the binary encoding of Genesis (FORMAT.md §8).
Hash256 GenesisHash(const Genesis& g);
// The initial state: params, agencies, validator set.
std::vector<StateChange> GenesisChanges(const Genesis& g);
// The state root before block 1: the root of the state tree over the genesis state
// (StateTreeUpdate from the empty tree with GenesisChanges(g)). If `nodes` is not null, the
// tree's nodes are appended to it (the store writes them at initialization).
Hash256 GenesisStateRoot(const Genesis& g,
                         std::vector<std::pair<Hash256, SmtNode>>* nodes = nullptr);

// The state tree after `changes` (a change list, FORMAT.md §6.3: value empty = delete) applied to
// the tree whose root is `root`: SmtUpdate with K = SmtKeyHash(key), V = SmtValueHash(value).
// A key listed more than once counts with its last value. New nodes are appended to *new_nodes
// (may be null). Errors: as SmtUpdate's (Corruption for a missing or damaged node).
Result<Hash256> StateTreeUpdate(const SmtNodeReader& nodes, const Hash256& root,
                                const std::vector<StateChange>& changes,
                                std::vector<std::pair<Hash256, SmtNode>>* new_nodes);

// ---- chain tip --------------------------------------------------------------------------------

// What a new block builds on: the last committed header's facts (or genesis').
struct ChainTip {
  std::string chain_id;
  uint64_t height = 0;  // 0 before block 1
  Hash256 block_hash;   // zero before block 1
  int64_t time_ms = 0;  // genesis time before block 1
  Hash256 state_root;
  uint64_t log_size = 0;
  Hash256 log_root;
};
ChainTip GenesisTip(const Genesis& g);
// The tip after `header` has been committed.
ChainTip TipAfter(const BlockHeader& header);

// Where each transaction of a block landed.
struct TxLocation {
  uint64_t height = 0;
  uint32_t index = 0;      // position in the block
  uint64_t log_index = 0;  // event-log leaf index
};

// Everything committing a block writes besides the block itself.
struct BlockEffects {
  std::vector<StateChange> changes;   // ordered: begin-block changes, then each tx's
  std::vector<MerkleNode> log_nodes;  // event-log nodes that became complete
  // State-tree nodes of the new state root that the tip's tree did not have (children first).
  std::vector<std::pair<Hash256, SmtNode>> state_nodes;
  std::vector<Hash256> tx_hashes;  // TxHash of each transaction, in block order
  MerkleLog log_after;             // the event log after the block
};

// Builds a block from candidate transactions in order: each is applied to the state left by the
// ones before it; rejected candidates are left out and reported in *rejected (index, rejection).
// At most params.max_block_txs transactions and params.max_block_bytes encoded bytes. Every
// signature is checked through `verifier` (the node's cache makes that free for transactions
// whose exact signatures it verified on admission). `state_nodes` reads the tip's state tree (the
// one whose root is tip.state_root), e.g. the Store.
struct ProposedBlock {
  Block block;
  BlockEffects effects;
  std::vector<std::pair<size_t, Rejection>> rejected;
};
Result<ProposedBlock> BuildBlock(const StateReader& state, const SmtNodeReader& state_nodes,
                                 const ChainTip& tip, const MerkleLog& log,
                                 const std::vector<SignedTransaction>& txs, int64_t time_ms,
                                 const PublicKey& proposer, const SignatureVerifier& verifier);

// Validates `block` on top of `tip` (see the file comment) and returns its effects. `state_nodes`
// as for BuildBlock.
// InvalidArgument with the first violation found for an invalid block; another Status if the
// state could not be read.
Result<BlockEffects> ValidateBlock(const StateReader& state, const SmtNodeReader& state_nodes,
                                   const ChainTip& tip, const MerkleLog& log, const Block& block,
                                   const SignatureVerifier& verifier = DirectVerifier());

// The cheap checks of a received block, before any signature or state work: its encoding is at
// most params.max_block_bytes (`encoded_bytes`), at most params.max_block_txs transactions, each
// at most params.max_tx_bytes, no transaction twice, and the header's transactions root is the
// root of the transactions carried. InvalidArgument names the first violation. A block that
// passes may still be invalid; one that fails is invalid whatever the state.
Status PrecheckBlock(const ChainParams& params, const Block& block, size_t encoded_bytes);

}  // namespace certledger::ledger
