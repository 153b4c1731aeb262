#include "ledger/commit.h"

#include <set>
#include <string>

namespace certledger::ledger {

namespace {
Status CheckCommitTarget(uint64_t height, const Hash256& block_id,
                         const CommitCertificate& commit) {
  if (commit.height != height) {
    return Status::InvalidArgument("commit is for height " + std::to_string(commit.height) +
                                   ", expected " + std::to_string(height));
  }
  if (commit.block_id != block_id) {
    return Status::InvalidArgument("commit is for block " + commit.block_id.Hex() + ", expected " +
                                   block_id.Hex());
  }
  return Status::Ok();
}
}  // namespace

Status VerifyCommitTrusting(const ChainDomain& domain, const ValidatorSet& trusted, uint64_t height,
                            const Hash256& block_id, const CommitCertificate& commit,
                            const SignatureVerifier& verifier) {
  if (Status st = CheckCommitTarget(height, block_id, commit); !st.ok()) return st;
  const Hash256 digest =
      VoteSigningDigest(domain, VoteType::kPrecommit, commit.height, commit.round, commit.block_id);
  std::set<PublicKey> seen;
  uint64_t power = 0;
  for (const auto& s : commit.signatures) {
    const Validator* v = trusted.Find(s.validator);
    if (v == nullptr || !seen.insert(s.validator).second) continue;
    if (!verifier.Verify(s.validator, digest, s.signature)) {
      return Status::InvalidArgument("commit signature by " + s.validator.Hex() + " is invalid");
    }
    power += v->power;
  }
  if (power * 3 <= trusted.TotalPower()) {
    return Status::InvalidArgument("commit power " + std::to_string(power) + " of the trusted " +
                                   std::to_string(trusted.TotalPower()) +
                                   " is not more than a third");
  }
  return Status::Ok();
}

Status VerifyCommit(const ChainDomain& domain, const ValidatorSet& validators, uint64_t height,
                    const Hash256& block_id, const CommitCertificate& commit,
                    const SignatureVerifier& verifier) {
  if (Status st = CheckCommitTarget(height, block_id, commit); !st.ok()) return st;
  Hash256 digest =
      VoteSigningDigest(domain, VoteType::kPrecommit, commit.height, commit.round, commit.block_id);
  std::set<PublicKey> seen;
  uint64_t power = 0;
  for (const auto& s : commit.signatures) {
    const Validator* v = validators.Find(s.validator);
    if (v == nullptr) {
      return Status::InvalidArgument("commit signer " + s.validator.Hex() +
                                     " is not in the validator set");
    }
    if (!seen.insert(s.validator).second) {
      return Status::InvalidArgument("commit has two signatures by " + s.validator.Hex());
    }
    if (!verifier.Verify(s.validator, digest, s.signature)) {
      return Status::InvalidArgument("commit signature by " + s.validator.Hex() + " is invalid");
    }
    power += v->power;
  }
  if (!IsSupermajority(power, validators.TotalPower())) {
    return Status::InvalidArgument("commit power " + std::to_string(power) + " of " +
                                   std::to_string(validators.TotalPower()) +
                                   " is not more than two thirds");
  }
  return Status::Ok();
}

Status ValidateValidatorSet(const ValidatorSet& set) {
  if (set.validators.empty()) return Status::InvalidArgument("validator set is empty");
  if (set.validators.size() > 1000) return Status::InvalidArgument("more than 1000 validators");
  uint64_t total = 0;
  for (size_t i = 0; i < set.validators.size(); ++i) {
    const auto& v = set.validators[i];
    if (v.power == 0) return Status::InvalidArgument("validator " + v.key.Hex() + " has power 0");
    if (v.power > (1ULL << 50)) return Status::InvalidArgument("validator power above 2^50");
    if (i > 0 && !(set.validators[i - 1].key < v.key)) {
      return Status::InvalidArgument("validator keys must be unique and in ascending order");
    }
    if (!PublicKey::Parse(v.key.span())) {
      return Status::InvalidArgument("validator key " + v.key.Hex() + " is not a valid point");
    }
    if (!PublicKey::Parse(v.node_key.span())) {
      return Status::InvalidArgument("node identity " + v.node_key.Hex() + " of validator " +
                                     v.key.Hex() + " is not a valid point");
    }
    total += v.power;
  }
  // Node identities are separate from consensus keys (a consensus key signs votes and proposals
  // only) and name one node each.
  std::set<PublicKey> consensus_keys, node_keys;
  for (const auto& v : set.validators) consensus_keys.insert(v.key);
  for (const auto& v : set.validators) {
    if (consensus_keys.count(v.node_key) != 0) {
      return Status::InvalidArgument("node identity " + v.node_key.Hex().substr(0, 16) +
                                     " of validator " + v.key.Hex().substr(0, 16) +
                                     " is a consensus key; node identities must be separate keys");
    }
    if (!node_keys.insert(v.node_key).second) {
      return Status::InvalidArgument("node identity " + v.node_key.Hex().substr(0, 16) +
                                     " is named by two validators");
    }
  }
  if (total >= (1ULL << 60)) return Status::InvalidArgument("total voting power too large");
  return Status::Ok();
}

}  // namespace certledger::ledger
