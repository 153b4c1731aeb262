// Deterministic proposer selection, weighted by voting power.
//
// The rule (stateless, a function of the set, height and round only):
//   P = total power; slot = (height + round) mod P;
//   s = (slot * M) mod P, with M the largest integer <= P * 0.618... (golden ratio conjugate)
//       that is coprime to P (M = 1 when P <= 2);
//   the proposer is the validator whose cumulative power interval [c_i, c_i + p_i) in set order
//   (ascending key) contains s.
// Since M is coprime to P, slot -> s is a permutation of [0, P): over any P consecutive values
// of height + round every validator proposes exactly `power` times. With equal powers this is a
// round robin: n consecutive rounds of one height have n distinct proposers, so a height meets a
// correct proposer within f + 1 rounds. The golden-ratio stride spreads a validator's slots
// apart instead of giving it `power` consecutive rounds. docs/FORMAT.md §9.
#pragma once

#include <cstdint>

#include "ledger/types.h"

namespace certledger::consensus {

// Precomputed per validator set (REQUIRES: ledger::ValidateValidatorSet(set).ok()).
class ProposerSchedule {
 public:
  explicit ProposerSchedule(const ledger::ValidatorSet& set);
  // Index into set.validators of proposer(height, round).
  [[nodiscard]] size_t ProposerIndex(uint64_t height, uint32_t round) const;

 private:
  std::vector<uint64_t> cumulative_;  // cumulative_[i] = sum of powers of validators [0, i)
  uint64_t total_ = 0;
  uint64_t stride_ = 1;
};

}  // namespace certledger::consensus
