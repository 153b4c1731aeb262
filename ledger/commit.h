// Checking commit certificates: the proof that a block is final.
#pragma once

#include <string_view>

#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::ledger {

// OK iff `commit` is for (`height`, `block_id`) and carries valid precommit signatures, each by a
// distinct member of `validators`, whose power is more than two thirds of the set's total.
// InvalidArgument with the cause otherwise (unknown signer, duplicate, bad signature, ...).
Status VerifyCommit(const ChainDomain& domain, const ValidatorSet& validators, uint64_t height,
                    const Hash256& block_id, const CommitCertificate& commit,
                    const SignatureVerifier& verifier = DirectVerifier());

// The light client's skipping rule, for a header far ahead of the validator set one trusts (whose
// own set is unknown): OK iff `commit` is for (`height`, `block_id`) and carries valid precommit
// signatures by distinct members of `trusted` whose power is more than a third of its total, so
// that at least one correct validator of the trusted set vouches for the block. Signers outside
// `trusted` are ignored (the set may have changed since).
Status VerifyCommitTrusting(const ChainDomain& domain, const ValidatorSet& trusted, uint64_t height,
                            const Hash256& block_id, const CommitCertificate& commit,
                            const SignatureVerifier& verifier);

// OK iff `set` is canonical: at least one validator, keys strictly ascending (hence unique),
// every power > 0, total power below 2^60 (so sums never overflow).
Status ValidateValidatorSet(const ValidatorSet& set);

}  // namespace certledger::ledger
