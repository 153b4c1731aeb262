#include "ledger/replay.h"

#include "ledger/commit.h"

namespace certledger::ledger {

namespace {

// Copies the nodes reachable from `root` into *out. False if one is missing (never, for a tree
// built by SmtUpdate).
bool CopyReachable(const MemorySmtNodeStore& from, const Hash256& root, MemorySmtNodeStore* out) {
  if (root == SmtEmptyHash()) return true;
  auto node = from.GetNode(root);
  if (!node.ok() || !node->has_value()) return false;
  out->Put(root, **node);
  if (const auto* inner = std::get_if<SmtInner>(&**node)) {
    return CopyReachable(from, inner->left, out) && CopyReachable(from, inner->right, out);
  }
  return true;
}

}  // namespace

Replayer::Replayer(const Genesis& genesis)
    : domain_{genesis.params.chain_id, GenesisHash(genesis)} {
  state_.Apply(GenesisChanges(genesis));
  std::vector<std::pair<Hash256, SmtNode>> nodes;
  GenesisStateRoot(genesis, &nodes);
  state_nodes_.PutAll(nodes);
  live_state_nodes_ = state_nodes_.node_count();
  tip_ = GenesisTip(genesis);
}

Status Replayer::Next(const Block& block, const CommitCertificate& commit) {
  const uint64_t height = tip_.height + 1;
  if (block.header.height != height) {
    return Status::InvalidArgument("expected block " + std::to_string(height) + ", got " +
                                   std::to_string(block.header.height));
  }
  auto validators = ValidatorsForHeight(state_, height);
  if (!validators.ok()) return validators.status();
  if (Status st = VerifyCommit(domain_, *validators, height, BlockHash(block.header), commit);
      !st.ok()) {
    return Status::InvalidArgument("block " + std::to_string(height) + ": " + st.message());
  }
  auto effects = ValidateBlock(state_, state_nodes_, tip_, log_, block);
  if (!effects.ok()) return effects.status();
  state_.Apply(effects->changes);
  nodes_.PutAll(effects->log_nodes);
  state_nodes_.PutAll(effects->state_nodes);
  // Drop the nodes of old roots once they outnumber the live tree (amortized O(1) per node).
  if (state_nodes_.node_count() > 2 * live_state_nodes_ + 4096) {
    MemorySmtNodeStore live;
    if (CopyReachable(state_nodes_, block.header.state_root, &live)) {
      state_nodes_ = std::move(live);
      live_state_nodes_ = state_nodes_.node_count();
    }
  }
  log_ = effects->log_after;
  tip_ = TipAfter(block.header);
  return Status::Ok();
}

}  // namespace certledger::ledger
