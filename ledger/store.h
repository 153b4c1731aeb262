// ledger::Store: durable storage of the chain — blocks, commit certificates, state, the nodes of
// the state tree and of the event log, and the indexes — behind a small interface. The LevelDB
// implementation is in leveldb_store.h; the key layout is in docs/FORMAT.md §12.
//
// AppendBlock is atomic: after a crash at any point the store reopens either with the block
// and everything it implies (state changes, log nodes, indexes, new tip) or with none of it.
// A failed write makes the store read-only for good (a sticky error): the node must halt
// rather than diverge.
//
// Thread safety: reads may run concurrently with each other and with one writer; AppendBlock
// calls must be serialised by the caller.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/chain.h"
#include "ledger/merkle.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::ledger {

// A consistent, read-only view of the store at one committed height: every read through it sees
// the same tip, state, headers, commits and event-log leaves, whatever blocks are appended
// meanwhile (the LevelDB implementation holds a LevelDB snapshot). Cheap to take; hold one only
// for the duration of a request (a snapshot keeps LevelDB from dropping overwritten records).
// Thread safety: as the store's reads.
class StoreView : public StateReader, public MerkleNodeReader, public SmtNodeReader {
 public:
  ~StoreView() override = default;
  // The committed tip this view sees.
  [[nodiscard]] virtual ChainTip Tip() const = 0;
  virtual Result<BlockHeader> GetHeader(uint64_t height) const = 0;
  virtual Result<CommitCertificate> GetCommit(uint64_t height) const = 0;
  virtual Result<TxLocation> GetLeafLocation(uint64_t log_index) const = 0;
  virtual Result<Bytes> GetLeaf(uint64_t log_index) const = 0;
  // StateReader: the state at Tip().
  Status Get(std::string_view key, Bytes* value) const override = 0;
  // MerkleNodeReader: the event log's complete nodes of the first Tip().log_size leaves.
  Result<Hash256> GetNode(uint32_t level, uint64_t index) const override = 0;
  // SmtNodeReader: state-tree nodes (every committed root's tree is readable).
  Result<std::optional<SmtNode>> GetNode(const Hash256& hash) const override = 0;
};

class Store : public StateReader, public MerkleNodeReader, public SmtNodeReader {
 public:
  ~Store() override = default;

  // A consistent view of the store as it is now (after Initialize()). Never null.
  [[nodiscard]] virtual std::unique_ptr<StoreView> View() const = 0;

  // On an empty store: writes the genesis state. Otherwise: checks that the stored genesis hash
  // equals GenesisHash(g) (InvalidArgument if the data belongs to another chain).
  virtual Status Initialize(const Genesis& g) = 0;

  // The last committed block's facts (the genesis tip before block 1).
  // REQUIRES: Initialize() succeeded.
  [[nodiscard]] virtual ChainTip Tip() const = 0;
  [[nodiscard]] uint64_t Height() const { return Tip().height; }
  // The event log at the tip (frontier only; nodes are read through this store).
  [[nodiscard]] virtual MerkleLog Log() const = 0;

  // Atomically appends block Tip().height + 1 with its commit certificate and effects
  // (from ValidateBlock or BuildBlock), and syncs it to disk before returning.
  // REQUIRES: the block was validated against this store's tip.
  virtual Status AppendBlock(const Block& block, const CommitCertificate& commit,
                             const BlockEffects& effects) = 0;

  virtual Result<Block> GetBlock(uint64_t height) const = 0;
  virtual Result<BlockHeader> GetHeader(uint64_t height) const = 0;
  virtual Result<CommitCertificate> GetCommit(uint64_t height) const = 0;
  virtual Result<Genesis> GetGenesis() const = 0;
  // Where a committed transaction is. NotFound if it is not committed.
  virtual Result<TxLocation> GetTxLocation(const Hash256& tx_hash) const = 0;
  // The location of event-log leaf `log_index`.
  virtual Result<TxLocation> GetLeafLocation(uint64_t log_index) const = 0;
  // The data of event-log leaf `log_index`: the encoded SignedTransaction (TxLeaf), without
  // reading its whole block.
  virtual Result<Bytes> GetLeaf(uint64_t log_index) const = 0;
  // Hashes of the committed transactions of `agency` with sequence >= `from_sequence`,
  // ascending, at most `limit`.
  virtual Result<std::vector<Hash256>> AgencyTxs(const std::string& agency, uint64_t from_sequence,
                                                 size_t limit) const = 0;

  // StateReader: the state at the tip.
  Status Get(std::string_view key, Bytes* value) const override = 0;
  // MerkleNodeReader: the event log's complete nodes at the tip.
  Result<Hash256> GetNode(uint32_t level, uint64_t index) const override = 0;
  // SmtNodeReader: the state tree's nodes. Nodes are content-addressed and never removed, so the
  // tree of every committed state root (from genesis on) is readable. The LevelDB store keeps them
  // in pages (FORMAT.md §12): GetNode finds page tops (a root, for one) and nodes of cached pages;
  // the tree functions read through GetNodeInPage, which finds every node of a tree.
  Result<std::optional<SmtNode>> GetNode(const Hash256& hash) const override = 0;
};

}  // namespace certledger::ledger
