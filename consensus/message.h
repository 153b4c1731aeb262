// Consensus messages: proposals, votes, and the evidence of a double vote.
//
// Plain value types. Votes are signed over ledger::VoteSigningDigest, so that the precommits for a
// block form a ledger::CommitCertificate that ledger::VerifyCommit accepts; proposals are signed
// over ProposalSigningDigest. Signed bytes and wire encodings: docs/FORMAT.md §9.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::consensus {

using ledger::Bytes;
using ledger::ByteSpan;
using ledger::Hash256;
using ledger::PublicKey;
using ledger::Signature;
using ledger::VoteType;

// The value being agreed on: an opaque payload (the block) and its id (the block id). The engine
// never interprets the payload; the injected ValueValidator (signer.h) decides validity and must
// check that `id` is the id of `payload`.
struct Value {
  Hash256 id;
  Bytes payload;
  bool operator==(const Value&) const = default;
};

// PROPOSAL(height, round, value, valid_round) signed by the round's proposer. `valid_round` is
// the paper's vr: absent for -1, else < round. The signature covers the value id, not the
// payload (the id commits to the payload).
struct Proposal {
  uint64_t height = 0;
  uint32_t round = 0;
  std::optional<uint32_t> valid_round;
  Value value;
  PublicKey proposer;
  Signature signature;
  bool operator==(const Proposal&) const = default;
};

// PREVOTE or PRECOMMIT(height, round, block id or nil), signed by `validator`.
struct Vote {
  VoteType type = VoteType::kPrevote;
  uint64_t height = 0;
  uint32_t round = 0;
  std::optional<Hash256> block_id;  // nullopt is nil
  PublicKey validator;
  Signature signature;
  bool operator==(const Vote&) const = default;
};

using Message = std::variant<Proposal, Vote>;

// Two validly signed votes by one validator for the same height, round and type with different
// block ids. Canonical order: `first.block_id < second.block_id` (nil sorts first), so that the
// same pair always encodes to the same bytes.
struct DuplicateVoteEvidence {
  Vote first;
  Vote second;
  bool operator==(const DuplicateVoteEvidence&) const = default;
};

// Orders a and b canonically. REQUIRES: a and b are a double vote (same validator, height,
// round and type, different block ids).
DuplicateVoteEvidence MakeEvidence(Vote a, Vote b);

// SigningDigest(kTagProposal, domain, u64 height || u32 round || optional u32 valid_round ||
// block id). FORMAT.md §9.
Hash256 ProposalSigningDigest(const ledger::ChainDomain& domain, uint64_t height, uint32_t round,
                              std::optional<uint32_t> valid_round, const Hash256& block_id);
Hash256 SigningDigestOf(const ledger::ChainDomain& domain, const Proposal& p);
// ledger::VoteSigningDigest of the vote's fields.
Hash256 SigningDigestOf(const ledger::ChainDomain& domain, const Vote& v);

// The signer of a message (proposer or validator), its height and its round.
const PublicKey& SignerOf(const Message& m);
uint64_t HeightOf(const Message& m);
uint32_t RoundOf(const Message& m);

// Checks a piece of evidence on its own: same validator, height, round and type, different block
// ids, canonical order, and both signatures valid under `verify` (a function of key, digest,
// signature). Membership of the validator in a set is the caller's check.
template <class VerifyFn>
ledger::Status CheckEvidence(const ledger::ChainDomain& domain, const DuplicateVoteEvidence& e,
                             VerifyFn&& verify);

// Canonical wire encoding (FORMAT.md §9). Decode accepts exactly the bytes Encode
// produces, and rejects anything else with Status::InvalidArgument.
Bytes EncodeMessage(const Message& m);
ledger::Result<Message> DecodeMessage(ByteSpan in);
Bytes EncodeEvidence(const DuplicateVoteEvidence& e);
ledger::Result<DuplicateVoteEvidence> DecodeEvidence(ByteSpan in);

// ---- implementation of the template -----------------------------------------------------------

ledger::Status CheckEvidenceShape(const DuplicateVoteEvidence& e);

template <class VerifyFn>
ledger::Status CheckEvidence(const ledger::ChainDomain& domain, const DuplicateVoteEvidence& e,
                             VerifyFn&& verify) {
  ledger::Status s = CheckEvidenceShape(e);
  if (!s.ok()) return s;
  if (!verify(e.first.validator, SigningDigestOf(domain, e.first), e.first.signature) ||
      !verify(e.second.validator, SigningDigestOf(domain, e.second), e.second.signature)) {
    return ledger::Status::InvalidArgument("evidence vote signature is invalid");
  }
  return ledger::Status::Ok();
}

}  // namespace certledger::consensus
