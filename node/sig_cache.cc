#include "node/sig_cache.h"

namespace certledger::node {

namespace {
ledger::Hash256 CacheKey(const ledger::PublicKey& key, const ledger::Hash256& digest,
                         const ledger::Signature& sig) {
  ledger::Sha256Hasher hasher;
  hasher.Update(key.span());
  hasher.Update(digest.span());
  hasher.Update(sig.span());
  return hasher.Finish();
}
}  // namespace

bool SignatureCache::Known(const ledger::PublicKey& key, const ledger::Hash256& digest,
                           const ledger::Signature& sig) const {
  const ledger::Hash256 id = CacheKey(key, digest, sig);
  std::lock_guard lock(mu_);
  return set_.count(id) > 0;
}

bool SignatureCache::Verify(const ledger::PublicKey& key, const ledger::Hash256& digest,
                            const ledger::Signature& sig) const {
  const ledger::Hash256 id = CacheKey(key, digest, sig);
  {
    std::lock_guard lock(mu_);
    if (set_.count(id)) {
      ++stats_.hits;
      return true;
    }
    ++stats_.misses;
  }
  if (!ledger::Verify(key, digest, sig)) {
    std::lock_guard lock(mu_);
    ++stats_.failures;
    return false;
  }
  std::lock_guard lock(mu_);
  if (set_.insert(id).second) {
    order_.push_back(id);
    while (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }
  return true;
}

SignatureCache::Stats SignatureCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.size = set_.size();
  return s;
}

}  // namespace certledger::node
