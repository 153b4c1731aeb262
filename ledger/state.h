// The ledger state and the deterministic state machine that applies transactions to it.
//
// State is a key-value map of canonical records (keys and values: docs/FORMAT.md §6). Apply()
// reads through a StateReader and returns either the changes a transaction makes or a Rejection
// with a stable reason code; it never writes. A block's transactions run in order over an overlay,
// whose change list updates the state tree (chain.h's BuildBlock and ValidateBlock do this). No
// I/O, clocks or threads: block time is an input.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::ledger {

// ---- chain parameters (from genesis) ----------------------------------------------------------

struct ChainParams {
  std::string chain_id;
  int64_t max_validity_seconds = 10LL * 366 * 24 * 3600;  // "at most 10 years"
  uint32_t max_block_txs = 10000;
  uint32_t max_tx_bytes = 64 * 1024;
  // Largest encoded Block a proposal may carry: checked before anything else is done with it.
  uint32_t max_block_bytes = 8u << 20;
  // GB/T 36904 type code (21 characters) of the water-abstraction permit.
  std::string water_permit_type_code;
  bool operator==(const ChainParams&) const = default;
};

// A validator set committed at height h takes effect at height h + kValidatorSetDelay.
inline constexpr uint64_t kValidatorSetDelay = 2;

// ---- state records ----------------------------------------------------------------------------

struct VersionRecord {
  uint32_t version = 0;
  Hash256 document_hash;
  bool operator==(const VersionRecord&) const = default;
};

// One accepted event that touched a certificate, with its place in the event log.
struct HistoryEntry {
  EventType type = EventType::kIssue;
  uint64_t height = 0;
  uint64_t log_index = 0;  // leaf index in the event log
  Hash256 tx_hash;
  int64_t time_ms = 0;  // the block's time (unix ms): when the event took effect
  bool operator==(const HistoryEntry&) const = default;
};

struct CertificateState {
  std::string base_id;
  CertType type = CertType::kWaterAbstractionPermit;
  std::string issuer;      // agency that issued it
  std::string controller;  // agency now responsible (differs from issuer after a transfer)
  Hash256 holder_commitment;
  CertSummary summary;
  int64_t not_before = 0;
  int64_t not_after = 0;
  uint32_t version = 0;  // current version
  CertStatus status = CertStatus::kValid;
  std::string status_reason;
  std::vector<VersionRecord> versions;  // ascending
  std::vector<HistoryEntry> history;    // ascending log index
  bool operator==(const CertificateState&) const = default;
};

// Document-hash index entry: which certificate and version a document hash belongs to.
struct DocumentRef {
  std::string base_id;
  uint32_t version = 0;
  bool operator==(const DocumentRef&) const = default;
};

// Recorded equivocation evidence, the n-th (from 0) at "evidence/n/<16-digit n>".
struct EvidenceRecord {
  PublicKey validator;
  VoteType type = VoteType::kPrevote;
  uint64_t vote_height = 0;
  uint32_t round = 0;
  uint64_t height = 0;     // the block that recorded it
  uint64_t log_index = 0;  // its event-log leaf
  Hash256 tx_hash;
  bool operator==(const EvidenceRecord&) const = default;
};

// A validator set waiting to take effect.
struct PendingValidators {
  uint64_t effective_height = 0;
  ValidatorSet validators;
  bool operator==(const PendingValidators&) const = default;
};

// One write to the state: `value` is the canonical encoding of the new record; an empty value
// deletes the key.
struct StateChange {
  std::string key;
  Bytes value;
  bool operator==(const StateChange&) const = default;
};

// State keys (FORMAT.md §6).
std::string AgencyKey(std::string_view agency_id);    // "agency/<id>"
std::string CertKey(std::string_view base_id);        // "cert/<base id>"
std::string DocKey(const Hash256& document_hash);     // "doc/<64 hex>"
std::string SequenceKey(std::string_view agency_id);  // "seq/<id>"  value: u64 little-endian
inline constexpr std::string_view kValidatorsKey = "validators/current";
inline constexpr std::string_view kPendingValidatorsKey = "validators/pending";
inline constexpr std::string_view kParamsKey = "params";
// The genesis hash (32 raw bytes), written at genesis: signatures bind it (FORMAT.md §2.3).
inline constexpr std::string_view kGenesisHashKey = "genesis";
// Evidence: the count ("evidence/count", u64le), the n-th record, and the per-vote index that
// keeps a double vote from being recorded twice (value: u64le n).
inline constexpr std::string_view kEvidenceCountKey = "evidence/count";
std::string EvidenceKey(uint64_t n);  // "evidence/n/<16-digit n>"
std::string EvidenceVoteKey(const PublicKey& validator, VoteType type, uint64_t height,
                            uint32_t round);  // "evidence/v/<64 hex>/<height>/<round>/<type>"

// ---- reading state ----------------------------------------------------------------------------

class StateReader {
 public:
  virtual ~StateReader() = default;
  // Sets *value and returns OK; NotFound if the key is absent; another Status on failure.
  virtual Status Get(std::string_view key, Bytes* value) const = 0;
};

// Typed reads. nullopt when absent; a Status on I/O failure or an undecodable record.
Result<std::optional<Agency>> ReadAgency(const StateReader& s, std::string_view id);
Result<std::optional<CertificateState>> ReadCertificate(const StateReader& s,
                                                        std::string_view base_id);
Result<std::optional<DocumentRef>> ReadDocument(const StateReader& s, const Hash256& document_hash);
Result<uint64_t> ReadSequence(const StateReader& s, std::string_view agency_id);  // 0 if none
Result<ValidatorSet> ReadValidators(const StateReader& s);
Result<std::optional<PendingValidators>> ReadPendingValidators(const StateReader& s);
Result<ChainParams> ReadParams(const StateReader& s);
// The chain id (from the parameters) and the genesis hash: what every signature binds.
Result<ChainDomain> ReadChainDomain(const StateReader& s);
Result<uint64_t> ReadEvidenceCount(const StateReader& s);  // 0 if none
Result<std::optional<EvidenceRecord>> ReadEvidence(const StateReader& s, uint64_t n);
// The validator set that must commit block `height`, given the state after block height - 1.
Result<ValidatorSet> ValidatorsForHeight(const StateReader& s, uint64_t height);

// An in-memory state (tests, simulation, genesis construction).
class MemoryState : public StateReader {
 public:
  Status Get(std::string_view key, Bytes* value) const override;
  void Apply(const std::vector<StateChange>& changes);
  [[nodiscard]] const std::map<std::string, Bytes, std::less<>>& entries() const { return map_; }

 private:
  std::map<std::string, Bytes, std::less<>> map_;
};

// Uncommitted writes over a base reader. Reads see the writes first.
class StateOverlay : public StateReader {
 public:
  explicit StateOverlay(const StateReader* base) : base_(base) {}
  Status Get(std::string_view key, Bytes* value) const override;
  void Put(std::string key, Bytes value);
  // Every write in order, the last write of a key replacing earlier ones in place.
  [[nodiscard]] std::vector<StateChange> Changes() const;

 private:
  const StateReader* base_;
  std::map<std::string, size_t, std::less<>> index_;
  std::vector<StateChange> writes_;
};

// ---- applying transactions --------------------------------------------------------------------

// Why a transaction was rejected. The codes are stable: clients and the API rely on them.
enum class Reason : uint8_t {
  kMalformed,           // "malformed": a field is missing, too long or badly formed
  kBadSignature,        // "bad-signature"
  kWrongChain,          // "wrong-chain"
  kBadSequence,         // "bad-sequence": replayed, reordered or a gap
  kUnknownAgency,       // "unknown-agency"
  kUnknownSigner,       // "unknown-signer": a signature by a key with no role in this event
  kDuplicateSignature,  // "duplicate-signature"
  kNotIssuer,           // "not-issuer": the acting agency does not control this certificate
  kCertExists,          // "cert-exists"
  kCertNotFound,        // "cert-not-found"
  kDocumentExists,      // "document-exists": this document hash is already on the ledger
  kInvalidTransition,   // "invalid-transition": e.g. any event on a revoked certificate
  kBadIdentifier,       // "bad-identifier"
  kBadVersion,          // "bad-version": a new version must be current + 1
  kBadValidity,         // "bad-validity"
  kMissingCosignature,  // "missing-cosignature"
  kInsufficientPower,   // "insufficient-power": governance without > 2/3 of voting power
  kUnknownCertType,     // "unknown-cert-type"
  kMissingSignature,    // "missing-signature": no signature by an issuing key of the acting agency
  kTooLarge,            // "too-large": the encoded transaction exceeds the chain's limit
  kEvidenceExists,      // "evidence-exists": this double vote is recorded already
};
inline constexpr int kReasonCount = 21;
const char* ReasonCode(Reason r);

struct Rejection {
  Reason reason;
  std::string message;  // human-readable detail; not stable
  [[nodiscard]] const char* code() const { return ReasonCode(reason); }
};

// Where a transaction lands: filled in by the block builder or replayer.
struct ApplyContext {
  uint64_t height = 0;
  int64_t block_time_ms = 0;
  uint64_t log_index = 0;  // the event-log leaf index this transaction will take
};

// The outcome of applying one transaction: either rejected, or the changes it makes.
struct ApplyOutcome {
  std::optional<Rejection> rejection;
  std::vector<StateChange> changes;
  [[nodiscard]] bool accepted() const { return !rejection.has_value(); }
};

// Checks signatures (through `verifier`) and rules and computes the changes of `stx` against
// `state`. A Status error means the state could not be read (the caller must stop, not reject).
Result<ApplyOutcome> Apply(const StateReader& state, const SignedTransaction& stx,
                           const ApplyContext& ctx,
                           const SignatureVerifier& verifier = DirectVerifier());

// Same, minus signature verification. Only for a caller that has just verified these very
// signatures over this very transaction's signing digest and asks "what if it had another
// sequence?" (the mempool's probe of a transaction queued behind pending ones). Blocks are never
// built or validated with it. Rules that depend on who signed are still enforced.
Result<ApplyOutcome> ApplyVerified(const StateReader& state, const SignedTransaction& stx,
                                   const ApplyContext& ctx);

// Status of a certificate as a verifier sees it at time `now_ms`: expiry derives from time.
enum class EffectiveStatus : uint8_t { kValid, kSuspended, kRevoked, kExpired };
EffectiveStatus EffectiveStatusAt(const CertificateState& c, int64_t now_ms);

// ---- blocks -----------------------------------------------------------------------------------

// Block-level changes that precede the block's transactions (the validator-set promotion).
Result<std::vector<StateChange>> BeginBlockChanges(const StateReader& state, uint64_t height);

}  // namespace certledger::ledger
