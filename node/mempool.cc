#include "node/mempool.h"

#include <queue>

#include "ledger/encoding.h"

namespace certledger::node {

using ledger::Hash256;
using ledger::SignedTransaction;

namespace {
Admission Reject(Admission::Code code, std::string reason, std::string message) {
  return Admission{code, std::move(reason), std::move(message)};
}
}  // namespace

std::optional<std::string> VerifySignatures(const SignedTransaction& stx) {
  const Hash256 digest = ledger::TxSigningDigest(stx.tx);
  for (const auto& s : stx.signatures) {
    if (!ledger::Verify(s.signer, digest, s.signature)) return s.signer.Hex();
  }
  return std::nullopt;
}

Admission Mempool::Add(const SignedTransaction& stx, const Hash256& hash,
                       const ledger::StateReader& state, const ledger::ApplyContext& ctx,
                       bool signatures_verified, bool check_rules) {
  if (by_hash_.count(hash)) return {Admission::Code::kDuplicate, "", "already pending"};
  const size_t size = ledger::Encode(stx).size();
  if (by_hash_.size() >= options_.max_txs || bytes_ + size > options_.max_bytes) {
    return Reject(Admission::Code::kFull, "mempool-full",
                  "the mempool holds " + std::to_string(by_hash_.size()) + " transactions");
  }
  auto committed = ledger::ReadSequence(state, stx.tx.agency);
  if (!committed.ok())
    return Reject(Admission::Code::kRejected, "internal", committed.status().ToString());
  const uint64_t next = *committed + 1;
  if (stx.tx.sequence < next) {
    return Reject(Admission::Code::kConflict, "bad-sequence",
                  "sequence " + std::to_string(stx.tx.sequence) +
                      " is already committed; next is " + std::to_string(next));
  }
  if (stx.tx.sequence > *committed + options_.max_sequence_ahead) {
    return Reject(Admission::Code::kRejected, "bad-sequence",
                  "sequence " + std::to_string(stx.tx.sequence) + " is too far ahead of " +
                      std::to_string(next));
  }
  auto agency_it = by_agency_.find(stx.tx.agency);
  if (agency_it != by_agency_.end() && agency_it->second.count(stx.tx.sequence)) {
    return Reject(
        Admission::Code::kConflict, "sequence-taken",
        "another transaction with sequence " + std::to_string(stx.tx.sequence) + " is pending");
  }
  // Full check, signatures included, as if this were the next transaction: for the agency's
  // next sequence that is exact; for later ones everything but the sequence and what the
  // earlier pending transactions change is checked now, the rest at block building.
  const bool exact = stx.tx.sequence == next;
  if (check_rules) {
    std::optional<ledger::SignedTransaction> probe;
    if (!exact) {
      probe = stx;
      probe->tx.sequence = next;
    }
    auto outcome = exact && !signatures_verified
                       ? ledger::Apply(state, stx, ctx)
                       : ledger::ApplyVerified(state, exact ? stx : *probe, ctx);
    if (!outcome.ok()) {
      return Reject(Admission::Code::kRejected, "internal", outcome.status().ToString());
    }
    if (!outcome->accepted()) {
      const auto& r = *outcome->rejection;
      const bool depends_on_pending =
          !exact &&
          (r.reason == ledger::Reason::kCertNotFound || r.reason == ledger::Reason::kBadVersion ||
           r.reason == ledger::Reason::kInvalidTransition ||
           r.reason == ledger::Reason::kNotIssuer || r.reason == ledger::Reason::kUnknownAgency);
      if (!depends_on_pending) return Reject(Admission::Code::kRejected, r.code(), r.message);
    }
  } else {
    auto params = ledger::ReadParams(state);
    if (!params.ok())
      return Reject(Admission::Code::kRejected, "internal", params.status().ToString());
    if (stx.tx.chain_id != params->chain_id) {
      return Reject(Admission::Code::kRejected, "wrong-chain", "transaction for another chain");
    }
  }
  if ((!exact || !check_rules) && !signatures_verified) {
    // The probe skipped signatures (they cover the real sequence): verify them now.
    if (auto bad = VerifySignatures(stx)) {
      return Reject(Admission::Code::kRejected, "bad-signature",
                    "signature by " + *bad + " does not verify");
    }
  }
  Entry e{stx, hash, arrivals_++, size};
  by_agency_[stx.tx.agency].emplace(stx.tx.sequence, std::move(e));
  by_hash_.emplace(hash, std::make_pair(stx.tx.agency, stx.tx.sequence));
  bytes_ += size;
  return {};
}

std::vector<SignedTransaction> Mempool::Reap(const ledger::StateReader& state, size_t max) const {
  // Per agency: the contiguous run after the committed sequence. Across agencies: merge by
  // arrival, so that no agency starves another.
  struct Head {
    uint64_t arrival;
    std::map<uint64_t, Entry>::const_iterator it, end;
    uint64_t expected;
    bool operator>(const Head& o) const { return arrival > o.arrival; }
  };
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  for (const auto& [agency, txs] : by_agency_) {
    auto committed = ledger::ReadSequence(state, agency);
    if (!committed.ok()) continue;
    auto it = txs.find(*committed + 1);
    if (it == txs.end()) continue;
    heads.push({it->second.arrival, it, txs.end(), *committed + 1});
  }
  std::vector<SignedTransaction> out;
  while (!heads.empty() && out.size() < max) {
    Head h = heads.top();
    heads.pop();
    out.push_back(h.it->second.stx);
    auto next = std::next(h.it);
    if (next != h.end && next->first == h.expected + 1) {
      heads.push({next->second.arrival, next, h.end, h.expected + 1});
    }
  }
  return out;
}

void Mempool::Erase(const std::string& agency, uint64_t sequence) {
  auto a = by_agency_.find(agency);
  if (a == by_agency_.end()) return;
  auto it = a->second.find(sequence);
  if (it == a->second.end()) return;
  bytes_ -= it->second.bytes;
  by_hash_.erase(it->second.hash);
  a->second.erase(it);
  if (a->second.empty()) by_agency_.erase(a);
}

void Mempool::Committed(const ledger::Block& block, const ledger::StateReader& state_after) {
  std::map<std::string, bool, std::less<>> agencies;
  for (const auto& stx : block.txs) agencies[stx.tx.agency] = true;
  for (const auto& [agency, unused] : agencies) {
    auto committed = ledger::ReadSequence(state_after, agency);
    if (!committed.ok()) continue;
    auto a = by_agency_.find(agency);
    if (a == by_agency_.end()) continue;
    std::vector<uint64_t> stale;
    for (auto it = a->second.begin(); it != a->second.end() && it->first <= *committed; ++it) {
      stale.push_back(it->first);
    }
    for (uint64_t s : stale) Erase(agency, s);
  }
}

std::vector<Hash256> Mempool::Drop(const Hash256& hash) {
  std::vector<Hash256> dropped;
  auto h = by_hash_.find(hash);
  if (h == by_hash_.end()) return dropped;
  const std::string agency = h->second.first;
  const uint64_t sequence = h->second.second;
  auto a = by_agency_.find(agency);
  std::vector<uint64_t> seqs;
  for (auto it = a->second.lower_bound(sequence); it != a->second.end(); ++it) {
    seqs.push_back(it->first);
    dropped.push_back(it->second.hash);
  }
  for (uint64_t s : seqs) Erase(agency, s);
  return dropped;
}

}  // namespace certledger::node
