// Signing digests and wire records of consensus messages. Every serialize() here is mirrored by a
// table in docs/FORMAT.md §9; change both together.
#include "consensus/message.h"

#include <utility>

#include "ledger/codec.h"
#include "ledger/coding.h"

namespace certledger::consensus {

using ledger::codec::Enum;
using ledger::codec::Reader;
using ledger::codec::VersionTag;
using ledger::codec::Writer;

namespace {

inline constexpr uint8_t kFormatV1 = 1;

// Message kind byte on the wire.
enum class MessageKind : uint8_t { kProposal = 1, kVote = 2 };
constexpr bool IsKnown(MessageKind k) {
  return k == MessageKind::kProposal || k == MessageKind::kVote;
}

}  // namespace

template <class Archive>
void serialize(Archive& ar, Value& v) {
  ar(v.id, v.payload);
}
template <class Archive>
void serialize(Archive& ar, Proposal& p) {
  ar(p.height, p.round, p.valid_round, p.value, p.proposer, p.signature);
}
template <class Archive>
void serialize(Archive& ar, Vote& v) {
  ar(Enum(v.type), v.height, v.round, v.block_id, v.validator, v.signature);
}
template <class Archive>
void serialize(Archive& ar, DuplicateVoteEvidence& e) {
  ar(VersionTag{kFormatV1}, e.first, e.second);
}

// Message: version byte, kind byte, then the record. A template so that an alternative never
// converts implicitly to the variant.
template <class T>
requires std::is_same_v<T, Message>
void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const T& m) {
  w(VersionTag{kFormatV1});
  MessageKind kind =
      std::holds_alternative<Proposal>(m) ? MessageKind::kProposal : MessageKind::kVote;
  w(Enum(kind));
  std::visit([&](const auto& alt) { w(alt); }, m);
}
template <class T>
requires std::is_same_v<T, Message>
void CEREAL_LOAD_FUNCTION_NAME(Reader& r, T& m) {
  r(VersionTag{kFormatV1});
  MessageKind kind{};
  r(Enum(kind));
  if (kind == MessageKind::kProposal) {
    Proposal p;
    r(p);
    m = std::move(p);
  } else {
    Vote v;
    r(v);
    m = std::move(v);
  }
}

DuplicateVoteEvidence MakeEvidence(Vote a, Vote b) {
  if (b.block_id < a.block_id) std::swap(a, b);
  return DuplicateVoteEvidence{std::move(a), std::move(b)};
}

Hash256 ProposalSigningDigest(const ledger::ChainDomain& domain, uint64_t height, uint32_t round,
                              std::optional<uint32_t> valid_round, const Hash256& block_id) {
  Bytes p;
  p.reserve(8 + 4 + 1 + 4 + 32);
  ledger::PutFixed64(&p, height);
  ledger::PutFixed32(&p, round);
  p.push_back(valid_round ? 1 : 0);
  if (valid_round) ledger::PutFixed32(&p, *valid_round);
  p.insert(p.end(), block_id.bytes.begin(), block_id.bytes.end());
  return ledger::SigningDigest(ledger::kTagProposal, domain, p);
}

Hash256 SigningDigestOf(const ledger::ChainDomain& domain, const Proposal& p) {
  return ProposalSigningDigest(domain, p.height, p.round, p.valid_round, p.value.id);
}

Hash256 SigningDigestOf(const ledger::ChainDomain& domain, const Vote& v) {
  return ledger::VoteSigningDigest(domain, v.type, v.height, v.round, v.block_id);
}

const PublicKey& SignerOf(const Message& m) {
  if (const auto* p = std::get_if<Proposal>(&m)) return p->proposer;
  return std::get<Vote>(m).validator;
}
uint64_t HeightOf(const Message& m) {
  return std::visit([](const auto& x) { return x.height; }, m);
}
uint32_t RoundOf(const Message& m) {
  return std::visit([](const auto& x) { return x.round; }, m);
}

ledger::Status CheckEvidenceShape(const DuplicateVoteEvidence& e) {
  const Vote& a = e.first;
  const Vote& b = e.second;
  if (a.validator != b.validator || a.height != b.height || a.round != b.round ||
      a.type != b.type) {
    return ledger::Status::InvalidArgument(
        "evidence votes differ in signer, height, round or type");
  }
  if (!(a.block_id < b.block_id)) {
    return ledger::Status::InvalidArgument("evidence votes not for different block ids in order");
  }
  return ledger::Status::Ok();
}

Bytes EncodeMessage(const Message& m) { return ledger::codec::EncodeRecord(m); }
ledger::Result<Message> DecodeMessage(ByteSpan in) {
  return ledger::codec::DecodeRecord<Message>(in, "consensus message");
}
Bytes EncodeEvidence(const DuplicateVoteEvidence& e) { return ledger::codec::EncodeRecord(e); }
ledger::Result<DuplicateVoteEvidence> DecodeEvidence(ByteSpan in) {
  auto r = ledger::codec::DecodeRecord<DuplicateVoteEvidence>(in, "duplicate vote evidence");
  if (!r.ok()) return r;
  ledger::Status s = CheckEvidenceShape(*r);
  if (!s.ok()) return s;
  return r;
}

}  // namespace certledger::consensus
