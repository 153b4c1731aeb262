// Checking commit certificates: the proof that a block is final.
#pragma once

#include <string_view>

#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::ledger {

// OK iff `commit` is for (`height`, `block_id`) and carries valid precommit signatures, each by a
// distinct member of `validators`, whose power is more than two thirds of the set's total.
// InvalidArgument with the cause otherwise (unknown signer, duplicate, bad signature, ...).
Status VerifyCommit(std::string_view chain_id, const ValidatorSet& validators, uint64_t height,
                    const Hash256& block_id, const CommitCertificate& commit);

// OK iff `set` is canonical: at least one validator, keys strictly ascending (hence unique),
// every power > 0, total power below 2^60 (so sums never overflow).
Status ValidateValidatorSet(const ValidatorSet& set);

}  // namespace certledger::ledger
