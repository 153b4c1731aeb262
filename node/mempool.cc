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

// Rejections of a transaction queued behind pending ones of its agency that an earlier pending
// transaction may cure: the certificate it acts on is issued by one, its version follows one, its
// status changes after one, or a pending transfer makes the agency its controller. Nothing else
// can become valid by waiting.
bool MayDependOnPending(ledger::Reason r) {
  return r == ledger::Reason::kCertNotFound || r == ledger::Reason::kBadVersion ||
         r == ledger::Reason::kInvalidTransition || r == ledger::Reason::kNotIssuer;
}
}  // namespace

std::optional<std::string> VerifySignatures(const SignedTransaction& stx,
                                            const Hash256& genesis_hash,
                                            const ledger::SignatureVerifier& verifier) {
  const Hash256 digest = ledger::TxSigningDigest(stx.tx, genesis_hash);
  for (const auto& s : stx.signatures) {
    if (!verifier.Verify(s.signer, digest, s.signature)) return s.signer.Hex();
  }
  return std::nullopt;
}

Admission Mempool::Add(const SignedTransaction& stx, const Hash256& hash,
                       const ledger::StateReader& state, const ledger::ApplyContext& ctx,
                       const ledger::SignatureVerifier& verifier, const std::string& source,
                       int64_t now_ms) {
  if (Contains(hash)) return {Admission::Code::kDuplicate, "", "already pending"};
  if (ledger::TypeOf(stx.tx.event) == ledger::EventType::kDuplicateVote) {
    return AddEvidence(stx, hash, state, ctx, verifier, source, now_ms);
  }
  const size_t size = ledger::Encode(stx).size();
  if (by_hash_.size() >= options_.max_txs || bytes_ + size > options_.max_bytes) {
    return Reject(Admission::Code::kFull, "mempool-full",
                  "the mempool holds " + std::to_string(by_hash_.size()) + " transactions");
  }
  if (auto a = per_agency_.find(stx.tx.agency); a != per_agency_.end()) {
    if (a->second.txs >= options_.max_txs_per_agency ||
        a->second.bytes + size > options_.max_bytes_per_agency) {
      return Reject(Admission::Code::kFull, "agency-quota",
                    "agency has " + std::to_string(a->second.txs) +
                        " transactions pending, its share of the mempool");
    }
  }
  if (auto s = per_source_.find(source); s != per_source_.end()) {
    if (s->second.txs >= options_.max_txs_per_source ||
        s->second.bytes + size > options_.max_bytes_per_source) {
      return Reject(Admission::Code::kFull, "source-quota",
                    "this source has " + std::to_string(s->second.txs) +
                        " transactions pending, its share of the mempool");
    }
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
  // The full rules, as if this were the agency's next transaction. For the next sequence that is
  // exact (signatures included). For a later one the rules run on a copy with the next sequence
  // (cheap checks first), and then the real signatures.
  const bool exact = stx.tx.sequence == next;
  if (exact) {
    auto outcome = ledger::Apply(state, stx, ctx, verifier);
    if (!outcome.ok()) {
      return Reject(Admission::Code::kRejected, "internal", outcome.status().ToString());
    }
    if (!outcome->accepted()) {
      const auto& r = *outcome->rejection;
      return Reject(Admission::Code::kRejected, r.code(), r.message);
    }
  } else {
    SignedTransaction probe = stx;
    probe.tx.sequence = next;
    auto outcome = ledger::ApplyVerified(state, probe, ctx);
    if (!outcome.ok()) {
      return Reject(Admission::Code::kRejected, "internal", outcome.status().ToString());
    }
    if (!outcome->accepted() && !MayDependOnPending(outcome->rejection->reason)) {
      const auto& r = *outcome->rejection;
      return Reject(Admission::Code::kRejected, r.code(), r.message);
    }
    auto domain = ledger::ReadChainDomain(state);
    if (!domain.ok()) {
      return Reject(Admission::Code::kRejected, "internal", domain.status().ToString());
    }
    if (auto bad = VerifySignatures(stx, domain->genesis_hash, verifier)) {
      return Reject(Admission::Code::kRejected, "bad-signature",
                    "signature by " + *bad + " does not verify");
    }
  }
  Entry e{stx, hash, source, arrivals_++, now_ms, size};
  by_agency_[stx.tx.agency].emplace(stx.tx.sequence, std::move(e));
  by_hash_.emplace(hash, std::make_pair(stx.tx.agency, stx.tx.sequence));
  bytes_ += size;
  Usage& ua = per_agency_[stx.tx.agency];
  ua.txs += 1;
  ua.bytes += size;
  Usage& us = per_source_[source];
  us.txs += 1;
  us.bytes += size;
  return {};
}

Admission Mempool::AddEvidence(const SignedTransaction& stx, const Hash256& hash,
                               const ledger::StateReader& state, const ledger::ApplyContext& ctx,
                               const ledger::SignatureVerifier& verifier, const std::string& source,
                               int64_t now_ms) {
  if (evidence_.size() >= kMaxEvidence) {
    return Reject(Admission::Code::kFull, "mempool-full", "too much evidence pending");
  }
  auto outcome = ledger::Apply(state, stx, ctx, verifier);
  if (!outcome.ok()) {
    return Reject(Admission::Code::kRejected, "internal", outcome.status().ToString());
  }
  if (!outcome->accepted()) {
    const auto& r = *outcome->rejection;
    return Reject(r.reason == ledger::Reason::kEvidenceExists ? Admission::Code::kConflict
                                                              : Admission::Code::kRejected,
                  r.code(), r.message);
  }
  const size_t size = ledger::Encode(stx).size();
  evidence_.emplace(hash, Entry{stx, hash, source, arrivals_++, now_ms, size});
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
  for (const auto& [hash, e] : evidence_) {
    if (out.size() < max) out.push_back(e.stx);
  }
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

size_t Mempool::ReadyAgencies(const ledger::StateReader& state) const {
  size_t ready = evidence_.empty() ? 0 : 1;
  for (const auto& [agency, txs] : by_agency_) {
    auto committed = ledger::ReadSequence(state, agency);
    if (committed.ok() && txs.count(*committed + 1)) ++ready;
  }
  return ready;
}

void Mempool::Erase(const std::string& agency, uint64_t sequence) {
  auto a = by_agency_.find(agency);
  if (a == by_agency_.end()) return;
  auto it = a->second.find(sequence);
  if (it == a->second.end()) return;
  const Entry& e = it->second;
  bytes_ -= e.bytes;
  for (auto* table : {&per_agency_, &per_source_}) {
    const std::string& key = table == &per_agency_ ? agency : e.source;
    auto u = table->find(key);
    if (u == table->end()) continue;
    u->second.txs -= 1;
    u->second.bytes -= e.bytes;
    if (u->second.txs == 0) table->erase(u);
  }
  by_hash_.erase(e.hash);
  a->second.erase(it);
  if (a->second.empty()) by_agency_.erase(a);
}

void Mempool::DropFrom(const std::string& agency, uint64_t sequence, const std::string& reason,
                       const std::string& message, std::vector<Dropped>* out) {
  auto a = by_agency_.find(agency);
  if (a == by_agency_.end()) return;
  std::vector<uint64_t> seqs;
  for (auto it = a->second.lower_bound(sequence); it != a->second.end(); ++it) {
    seqs.push_back(it->first);
    if (it->first == sequence) {
      out->push_back({it->second.hash, reason, message});
    } else {
      out->push_back({it->second.hash, "bad-sequence",
                      "an earlier transaction of the agency was dropped (" + reason + ")"});
    }
  }
  for (uint64_t s : seqs) Erase(agency, s);
}

void Mempool::Committed(const ledger::Block& block, const ledger::StateReader& state_after) {
  std::map<std::string, bool, std::less<>> agencies;
  for (const auto& stx : block.txs) {
    if (ledger::TypeOf(stx.tx.event) == ledger::EventType::kDuplicateVote) {
      auto it = evidence_.find(ledger::TxHash(stx.tx));
      if (it != evidence_.end()) {
        bytes_ -= it->second.bytes;
        evidence_.erase(it);
      }
      continue;
    }
    agencies[stx.tx.agency] = true;
  }
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

std::vector<Dropped> Mempool::Recheck(const ledger::StateReader& state,
                                      const ledger::ApplyContext& ctx,
                                      const ledger::SignatureVerifier& verifier) {
  std::vector<Dropped> out;
  for (auto it = evidence_.begin(); it != evidence_.end();) {
    auto outcome = ledger::Apply(state, it->second.stx, ctx, verifier);
    if (outcome.ok() && !outcome->accepted()) {
      out.push_back({it->first, outcome->rejection->code(), outcome->rejection->message});
      bytes_ -= it->second.bytes;
      it = evidence_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<std::pair<std::string, std::pair<uint64_t, ledger::Rejection>>> rejected;
  for (const auto& [agency, txs] : by_agency_) {
    auto committed = ledger::ReadSequence(state, agency);
    if (!committed.ok()) continue;
    auto head = txs.find(*committed + 1);
    if (head == txs.end()) continue;
    auto outcome = ledger::Apply(state, head->second.stx, ctx, verifier);
    if (outcome.ok() && !outcome->accepted()) {
      rejected.push_back({agency, {head->first, *outcome->rejection}});
    }
  }
  for (const auto& [agency, r] : rejected) {
    DropFrom(agency, r.first, r.second.code(), r.second.message, &out);
  }
  return out;
}

std::vector<Dropped> Mempool::Expire(int64_t now_ms) {
  std::vector<Dropped> out;
  std::vector<std::pair<std::string, uint64_t>> old;
  for (const auto& [agency, txs] : by_agency_) {
    for (const auto& [seq, e] : txs) {
      if (now_ms - e.arrival_ms > options_.max_age_ms) {
        old.emplace_back(agency, seq);
        break;  // the later ones go with it
      }
    }
  }
  for (const auto& [agency, seq] : old) {
    DropFrom(agency, seq, "expired",
             "pending for more than " + std::to_string(options_.max_age_ms / 1000) + " s", &out);
  }
  return out;
}

std::vector<Hash256> Mempool::Drop(const Hash256& hash) {
  std::vector<Hash256> dropped;
  if (auto e = evidence_.find(hash); e != evidence_.end()) {
    bytes_ -= e->second.bytes;
    evidence_.erase(e);
    dropped.push_back(hash);
    return dropped;
  }
  auto h = by_hash_.find(hash);
  if (h == by_hash_.end()) return dropped;
  const std::string agency = h->second.first;
  const uint64_t sequence = h->second.second;
  std::vector<Dropped> out;
  DropFrom(agency, sequence, "", "", &out);
  for (auto& d : out) dropped.push_back(d.hash);
  return dropped;
}

}  // namespace certledger::node
