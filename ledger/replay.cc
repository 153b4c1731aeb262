#include "ledger/replay.h"

#include "ledger/commit.h"

namespace certledger::ledger {

Replayer::Replayer(const Genesis& genesis)
    : domain_{genesis.params.chain_id, GenesisHash(genesis)}, tip_(GenesisTip(genesis)) {
  state_.Apply(GenesisChanges(genesis));
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
  auto effects = ValidateBlock(state_, tip_, log_, block);
  if (!effects.ok()) return effects.status();
  state_.Apply(effects->changes);
  nodes_.PutAll(effects->log_nodes);
  log_ = effects->log_after;
  tip_ = TipAfter(block.header);
  return Status::Ok();
}

}  // namespace certledger::ledger
