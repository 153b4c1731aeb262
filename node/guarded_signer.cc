#include "node/guarded_signer.h"

#include <utility>

namespace certledger::node {

GuardedSigner::GuardedSigner(ledger::PrivateKey key, ledger::ChainDomain domain)
    : key_(std::move(key)), domain_(std::move(domain)) {}

void GuardedSigner::Note(const consensus::SignRequest& r) {
  const Position p{r.height, r.round, static_cast<uint8_t>(r.step)};
  if (!last_ || *last_ < p) {
    last_ = p;
    last_digest_ = r.digest;
  }
}

void GuardedSigner::Remember(const consensus::Message& m) {
  if (const auto* p = std::get_if<consensus::Proposal>(&m)) {
    if (p->proposer == key_.public_key()) Note(consensus::RequestFor(domain_, *p));
  } else if (const auto* v = std::get_if<consensus::Vote>(&m)) {
    if (v->validator == key_.public_key()) Note(consensus::RequestFor(domain_, *v));
  }
}

std::optional<ledger::Signature> GuardedSigner::Sign(const consensus::SignRequest& r) {
  const Position p{r.height, r.round, static_cast<uint8_t>(r.step)};
  if (last_ && p < *last_) {  // behind what it signed: a conflict in the making
    ++refusals_;
    return std::nullopt;
  }
  if (last_ && p == *last_ && r.digest != last_digest_) {  // the same position, another message
    ++refusals_;
    return std::nullopt;
  }
  Note(r);
  return key_.Sign(r.digest);
}

}  // namespace certledger::node
