#include "ledger/types.h"

#include <algorithm>

#include "ledger/coding.h"
#include "ledger/encoding.h"

namespace certledger::ledger {

uint64_t ValidatorSet::TotalPower() const {
  uint64_t total = 0;
  for (const auto& v : validators) total += v.power;
  return total;
}

const Validator* ValidatorSet::Find(const PublicKey& key) const {
  // Canonical sets are sorted by key; fall back to a scan for sets that are not (yet) checked.
  auto it = std::lower_bound(validators.begin(), validators.end(), key,
                             [](const Validator& v, const PublicKey& k) { return v.key < k; });
  if (it != validators.end() && it->key == key) return &*it;
  for (const auto& v : validators)
    if (v.key == key) return &v;
  return nullptr;
}

Hash256 ValidatorSet::Hash() const { return Sha256(Encode(*this)); }

CertType SummaryType(const CertSummary& s) {
  switch (s.index()) {
    case 0:
      return CertType::kWaterAbstractionPermit;
  }
  return CertType::kWaterAbstractionPermit;
}

Hash256 HolderCommitment(const Holder& h) { return TaggedHash("certledger/holder", Encode(h)); }

Hash256 DocumentHash(const CertificateDocument& doc) { return Sha256(Encode(doc)); }

EventType TypeOf(const Event& e) { return static_cast<EventType>(e.index() + 1); }

const char* EventTypeName(EventType t) {
  switch (t) {
    case EventType::kIssue:
      return "issue";
    case EventType::kChange:
      return "change";
    case EventType::kRenew:
      return "renew";
    case EventType::kSuspend:
      return "suspend";
    case EventType::kResume:
      return "resume";
    case EventType::kRevoke:
      return "revoke";
    case EventType::kTransfer:
      return "transfer";
    case EventType::kRegisterAgency:
      return "register-agency";
    case EventType::kUpdateValidators:
      return "update-validators";
    case EventType::kDuplicateVote:
      return "duplicate-vote";
  }
  return "unknown";
}

Hash256 TxHash(const Transaction& tx) { return Sha256(Encode(tx)); }

Hash256 TxSigningDigest(const Transaction& tx, const Hash256& genesis_hash) {
  return SigningDigest(kTagTx, ChainDomain{tx.chain_id, genesis_hash}, Encode(tx));
}

Hash256 TxSigningDigestOfEncoded(ByteSpan encoded_tx, std::string_view chain_id,
                                 const Hash256& genesis_hash) {
  return SigningDigest(kTagTx, ChainDomain{std::string(chain_id), genesis_hash}, encoded_tx);
}

Bytes TxLeaf(const SignedTransaction& stx) { return Encode(stx); }

Hash256 BlockHash(const BlockHeader& h) { return Sha256(Encode(h)); }

Hash256 VoteSigningDigest(const ChainDomain& domain, VoteType type, uint64_t height, uint32_t round,
                          const std::optional<Hash256>& block_id) {
  Bytes p;
  p.reserve(1 + 8 + 4 + 1 + 32);
  p.push_back(static_cast<uint8_t>(type));
  PutFixed64(&p, height);
  PutFixed32(&p, round);
  p.push_back(block_id ? 1 : 0);
  if (block_id) p.insert(p.end(), block_id->bytes.begin(), block_id->bytes.end());
  return SigningDigest(kTagVote, domain, p);
}

}  // namespace certledger::ledger
