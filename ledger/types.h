// The ledger's records: agencies, validators, certificates, events, transactions, blocks and
// commit certificates. Plain value types; their canonical byte encoding is in encoding.h and is
// specified byte by byte in docs/FORMAT.md. Field limits are enforced by the state machine
// (state.cc, FORMAT.md §5.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ledger/crypto.h"

namespace certledger::ledger {

// ---- agencies and validators ------------------------------------------------------------------

enum class AgencyKind : uint8_t { kProvince = 1, kRiverBasin = 2, kMinistry = 3 };
constexpr bool IsKnown(AgencyKind k) {
  return k >= AgencyKind::kProvince && k <= AgencyKind::kMinistry;
}

// An issuing agency. `id` is its unified social credit code (GB 32100, 18 characters): the same
// code appears as the issuer code in the identifiers of the certificates it issues.
struct Agency {
  std::string id;
  std::string name;  // e.g. "江苏省水利厅"
  AgencyKind kind = AgencyKind::kProvince;
  std::string division;  // GB/T 2260 six-digit administrative division code, e.g. "320000"
  std::vector<PublicKey> issuing_keys;  // keys that may sign this agency's certificate events
  bool operator==(const Agency&) const = default;
};

struct Validator {
  PublicKey key;  // consensus key: signs votes and proposals, nothing else
  uint64_t power = 0;
  std::string agency;  // the agency that runs it
  // The node identity this validator uses on the peer network (handshake AUTH, FORMAT §10);
  // distinct from every consensus key of the set, and unique in the set.
  PublicKey node_key;
  bool operator==(const Validator&) const = default;
};

// The validators that must commit a block, in canonical order (ascending key, unique keys).
struct ValidatorSet {
  std::vector<Validator> validators;

  [[nodiscard]] uint64_t TotalPower() const;
  // nullptr if `key` is not in the set.
  [[nodiscard]] const Validator* Find(const PublicKey& key) const;
  // SHA-256 of the canonical encoding.
  [[nodiscard]] Hash256 Hash() const;
  bool operator==(const ValidatorSet&) const = default;
};

// True iff `power` is more than two thirds of `total` (exact integer arithmetic).
[[nodiscard]] constexpr bool IsSupermajority(uint64_t power, uint64_t total) {
  __extension__ using U128 = unsigned __int128;
  return static_cast<U128>(power) * 3 > static_cast<U128>(total) * 2;
}

// ---- certificates -----------------------------------------------------------------------------

// The certificate types this ledger knows; each has a typed public summary.
enum class CertType : uint8_t { kWaterAbstractionPermit = 1 };
constexpr bool IsKnown(CertType t) { return t == CertType::kWaterAbstractionPermit; }

enum class WaterSource : uint8_t { kSurface = 1, kGroundwater = 2 };
constexpr bool IsKnown(WaterSource s) {
  return s == WaterSource::kSurface || s == WaterSource::kGroundwater;
}

enum class IntakeState : uint8_t { kInUse = 1, kEmergencyBackup = 2, kSealed = 3 };
constexpr bool IsKnown(IntakeState s) {
  return s >= IntakeState::kInUse && s <= IntakeState::kSealed;
}

enum class HolderKind : uint8_t { kOrganisation = 1, kIndividual = 2 };
constexpr bool IsKnown(HolderKind k) {
  return k == HolderKind::kOrganisation || k == HolderKind::kIndividual;
}

// One abstraction intake (取水口). Coordinates in micro-degrees (WGS-84), so no floats are hashed.
struct Intake {
  std::string name;
  int64_t longitude_e6 = 0;
  int64_t latitude_e6 = 0;
  WaterSource source = WaterSource::kSurface;
  IntakeState state = IntakeState::kInUse;
  std::string aquifer;  // groundwater only; empty otherwise
  bool operator==(const Intake&) const = default;
};

// Public summary of a water-abstraction permit (取水许可证), as the regulations make public.
// For an individual holder the holder name and credit code stay empty: they are only in the
// holder's document, behind the holder commitment.
struct WaterPermitSummary {
  std::string permit_number;  // e.g. "B513422S2021-0080"
  HolderKind holder_kind = HolderKind::kOrganisation;
  std::string holder_name;         // organisations only
  std::string holder_credit_code;  // organisations only (GB 32100)
  WaterSource source = WaterSource::kSurface;
  uint64_t annual_quantity_m3 = 0;  // maximum annual abstraction in an average year, m3
  std::string purpose;              // e.g. "工业用水"
  std::string location;             // abstraction location
  std::string division;             // GB/T 2260 division of the location
  std::string method;               // abstraction method
  std::string return_location;      // return-flow location (may be empty)
  std::vector<Intake> intakes;
  bool operator==(const WaterPermitSummary&) const = default;
};

// The public summary of any certificate type; the alternative must match the CertType.
using CertSummary = std::variant<WaterPermitSummary>;
CertType SummaryType(const CertSummary& s);

enum class CertStatus : uint8_t {
  kValid = 1,
  kSuspended = 2,
  kWithdrawn = 3,  // 撤销
  kCancelled = 4,  // 注销
  kRevoked = 7,    // 吊销
};
constexpr bool IsKnown(CertStatus s) {
  return s == CertStatus::kValid || s == CertStatus::kSuspended || s == CertStatus::kWithdrawn ||
         s == CertStatus::kCancelled || s == CertStatus::kRevoked;
}
// Withdrawn, cancelled and revoked are terminal: the certificate accepts nothing more.
constexpr bool IsTerminal(CertStatus s) {
  return s == CertStatus::kWithdrawn || s == CertStatus::kCancelled || s == CertStatus::kRevoked;
}

// The holder's identity. Never on the ledger in clear: only its salted commitment is.
enum class HolderIdType : uint8_t { kCreditCode = 1 /* 001 */, kCitizenId = 2 /* 111 */ };
constexpr bool IsKnown(HolderIdType t) {
  return t == HolderIdType::kCreditCode || t == HolderIdType::kCitizenId;
}

struct Holder {
  HolderIdType id_type = HolderIdType::kCreditCode;
  std::string id_number;
  std::string name;
  Hash256 salt;  // 32 random bytes chosen by the issuer, kept in the document only
  bool operator==(const Holder&) const = default;
};
// TaggedHash("certledger/holder", encoding of Holder). See FORMAT.md.
Hash256 HolderCommitment(const Holder& h);

// The canonical certificate document of one version. Its SHA-256 is the document hash that the
// QR code carries; the holder and the issuer keep the document, the ledger keeps the hash.
struct CertificateDocument {
  std::string chain_id;
  std::string identifier;  // full GB/T 36904 identifier of this version (with version and check)
  std::string issuer;      // agency id
  CertType type = CertType::kWaterAbstractionPermit;
  Holder holder;
  int64_t not_before = 0;  // unix seconds, UTC
  int64_t not_after = 0;
  int64_t issued_at = 0;
  CertSummary summary;
  std::optional<Hash256> previous_document;  // for a change or renewal: the version it replaces
  bool operator==(const CertificateDocument&) const = default;
};
Hash256 DocumentHash(const CertificateDocument& doc);

// ---- events and transactions ------------------------------------------------------------------

// Issue a new certificate (version given by `identifier`, normally 001).
struct IssueEvent {
  std::string identifier;  // full GB/T 36904 identifier
  Hash256 document_hash;
  Hash256 holder_commitment;
  int64_t not_before = 0;
  int64_t not_after = 0;
  CertSummary summary;
  bool operator==(const IssueEvent&) const = default;
};
// A new version with changed content (变更).
struct ChangeEvent {
  std::string identifier;  // full identifier of the NEW version (current version + 1)
  Hash256 document_hash;
  std::optional<Hash256> holder_commitment;  // when the holder changes
  CertSummary summary;
  std::vector<std::string> changed_fields;
  bool operator==(const ChangeEvent&) const = default;
};
// A new version with a later validity end (延续).
struct RenewEvent {
  std::string identifier;  // full identifier of the NEW version
  Hash256 document_hash;
  int64_t not_after = 0;
  bool operator==(const RenewEvent&) const = default;
};
struct SuspendEvent {
  std::string certificate;  // base identifier (without version and check character)
  std::string reason;
  bool operator==(const SuspendEvent&) const = default;
};
struct ResumeEvent {
  std::string certificate;
  std::string reason;
  bool operator==(const ResumeEvent&) const = default;
};
enum class RevocationKind : uint8_t { kWithdrawn = 3, kCancelled = 4, kRevoked = 7 };
constexpr bool IsKnown(RevocationKind k) {
  return k == RevocationKind::kWithdrawn || k == RevocationKind::kCancelled ||
         k == RevocationKind::kRevoked;
}
struct RevokeEvent {
  std::string certificate;
  RevocationKind kind = RevocationKind::kRevoked;
  std::string reason;
  bool operator==(const RevokeEvent&) const = default;
};
// Transfer of authority over a certificate to another agency; both agencies sign.
struct TransferEvent {
  std::string certificate;
  std::string to_agency;
  bool operator==(const TransferEvent&) const = default;
};
// Governance: register a new agency or replace an existing one's record.
struct RegisterAgencyEvent {
  Agency agency;
  bool operator==(const RegisterAgencyEvent&) const = default;
};
// Governance: replace the validator set (takes effect kValidatorSetDelay heights later).
struct UpdateValidatorsEvent {
  ValidatorSet validators;
  bool operator==(const UpdateValidatorsEvent&) const = default;
};

enum class VoteType : uint8_t { kPrevote = 1, kPrecommit = 2 };
constexpr bool IsKnown(VoteType t) { return t == VoteType::kPrevote || t == VoteType::kPrecommit; }

// A consensus vote as its validator signed it (consensus::Vote, mirrored so that the ledger can
// check evidence without depending on consensus). `block_id` nullopt is a nil vote.
struct SignedVote {
  VoteType type = VoteType::kPrevote;
  uint64_t height = 0;
  uint32_t round = 0;
  std::optional<Hash256> block_id;
  PublicKey validator;
  Signature signature;
  bool operator==(const SignedVote&) const = default;
};
// Evidence: one validator signed two votes of the same type for the same height and round with
// different block ids. Canonical order: first.block_id < second.block_id, nil first. Submitted by
// any node that saw both; needs no agency, sequence or signature of its own (the two votes are
// its authentication). Recorded, not punished: what to do about it is governance's decision.
struct DuplicateVoteEvent {
  SignedVote first;
  SignedVote second;
  bool operator==(const DuplicateVoteEvent&) const = default;
};

using Event =
    std::variant<IssueEvent, ChangeEvent, RenewEvent, SuspendEvent, ResumeEvent, RevokeEvent,
                 TransferEvent, RegisterAgencyEvent, UpdateValidatorsEvent, DuplicateVoteEvent>;

// Wire tag of each event alternative (FORMAT.md): index + 1.
enum class EventType : uint8_t {
  kIssue = 1,
  kChange = 2,
  kRenew = 3,
  kSuspend = 4,
  kResume = 5,
  kRevoke = 6,
  kTransfer = 7,
  kRegisterAgency = 8,
  kUpdateValidators = 9,
  kDuplicateVote = 10,
};
constexpr bool IsKnown(EventType t) {
  return t >= EventType::kIssue && t <= EventType::kDuplicateVote;
}
EventType TypeOf(const Event& e);
const char* EventTypeName(EventType t);  // "issue", "change", ...

struct Transaction {
  std::string chain_id;
  std::string agency;     // the acting agency
  uint64_t sequence = 0;  // per agency: 1, 2, 3, ... with no gaps
  Event event;
  bool operator==(const Transaction&) const = default;
};

struct TxSignature {
  PublicKey signer;
  Signature signature;
  bool operator==(const TxSignature&) const = default;
};

struct SignedTransaction {
  Transaction tx;
  std::vector<TxSignature> signatures;
  bool operator==(const SignedTransaction&) const = default;
};

// SHA-256 of the encoding of the unsigned Transaction: the transaction's id.
Hash256 TxHash(const Transaction& tx);
// The digest every signer of `tx` signs: SigningDigest(kTagTx, {tx.chain_id, genesis_hash},
// Encode(tx)), `genesis_hash` being the hash of the chain's genesis (GenesisHash).
Hash256 TxSigningDigest(const Transaction& tx, const Hash256& genesis_hash);
// The same from Encode(tx), for callers that already hold it (one encoding per use).
Hash256 TxSigningDigestOfEncoded(ByteSpan encoded_tx, std::string_view chain_id,
                                 const Hash256& genesis_hash);
// The event-log leaf of an accepted transaction: the encoding of the SignedTransaction.
Bytes TxLeaf(const SignedTransaction& stx);

// ---- blocks and commits -----------------------------------------------------------------------

struct BlockHeader {
  std::string chain_id;
  uint64_t height = 0;          // first block is 1
  int64_t time_ms = 0;          // unix milliseconds, proposer's clock, strictly increasing
  Hash256 previous_block_hash;  // zero for height 1
  Hash256 tx_root;              // RFC 9162 root over this block's transaction leaves
  uint64_t log_size = 0;        // size of the whole event log after this block
  Hash256 log_root;             // root of the whole event log after this block
  Hash256 state_root;           // state tree root after this block (FORMAT.md §6.3, §6.6)
  Hash256 validator_set_hash;   // the set that commits this block
  PublicKey proposer;
  bool operator==(const BlockHeader&) const = default;
};
// The block id: SHA-256 of the header's encoding.
Hash256 BlockHash(const BlockHeader& h);

struct Block {
  BlockHeader header;
  std::vector<SignedTransaction> txs;
  bool operator==(const Block&) const = default;
};

// The digest a validator signs for a vote: SigningDigest(kTagVote, domain, payload) with
// payload = u8 type || u64 height || u32 round || optional block id (FORMAT.md).
Hash256 VoteSigningDigest(const ChainDomain& domain, VoteType type, uint64_t height, uint32_t round,
                          const std::optional<Hash256>& block_id);

struct CommitSignature {
  PublicKey validator;
  Signature signature;  // over the precommit for (height, round, block_id)
  bool operator==(const CommitSignature&) const = default;
};

// Precommits of more than two thirds of the voting power for one block.
struct CommitCertificate {
  uint64_t height = 0;
  uint32_t round = 0;
  Hash256 block_id;
  std::vector<CommitSignature> signatures;
  bool operator==(const CommitCertificate&) const = default;
};

}  // namespace certledger::ledger
