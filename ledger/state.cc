#include "ledger/state.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <utility>

#include "ledger/coding.h"
#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"

namespace certledger::ledger {

// ---- keys and typed reads ---------------------------------------------------------------------

std::string AgencyKey(std::string_view agency_id) { return "agency/" + std::string(agency_id); }
std::string CertKey(std::string_view base_id) { return "cert/" + std::string(base_id); }
std::string DocKey(const Hash256& document_hash) { return "doc/" + document_hash.Hex(); }
std::string SequenceKey(std::string_view agency_id) { return "seq/" + std::string(agency_id); }

namespace {

template <class T>
Result<std::optional<T>> ReadRecord(const StateReader& s, std::string_view key) {
  Bytes raw;
  Status st = s.Get(key, &raw);
  if (st.IsNotFound()) return std::optional<T>();
  if (!st.ok()) return st;
  auto decoded = Decode<T>(raw);
  if (!decoded.ok()) {
    return Status::Corruption("state record '" + std::string(key) +
                              "': " + decoded.status().message());
  }
  return std::optional<T>(std::move(decoded).value());
}

Bytes EncodeU64(uint64_t v) {
  Bytes b;
  PutFixed64(&b, v);
  return b;
}

}  // namespace

Result<std::optional<Agency>> ReadAgency(const StateReader& s, std::string_view id) {
  return ReadRecord<Agency>(s, AgencyKey(id));
}
Result<std::optional<CertificateState>> ReadCertificate(const StateReader& s,
                                                        std::string_view base_id) {
  return ReadRecord<CertificateState>(s, CertKey(base_id));
}
Result<std::optional<DocumentRef>> ReadDocument(const StateReader& s,
                                                const Hash256& document_hash) {
  return ReadRecord<DocumentRef>(s, DocKey(document_hash));
}
Result<uint64_t> ReadSequence(const StateReader& s, std::string_view agency_id) {
  Bytes raw;
  Status st = s.Get(SequenceKey(agency_id), &raw);
  if (st.IsNotFound()) return uint64_t{0};
  if (!st.ok()) return st;
  if (raw.size() != 8) return Status::Corruption("sequence record of " + std::string(agency_id));
  return DecodeFixed64(raw.data());
}
std::string EvidenceKey(uint64_t n) {
  std::string digits = std::to_string(n);
  return "evidence/n/" + std::string(16 - std::min<size_t>(16, digits.size()), '0') + digits;
}
std::string EvidenceVoteKey(const PublicKey& validator, VoteType type, uint64_t height,
                            uint32_t round) {
  return "evidence/v/" + validator.Hex() + "/" + std::to_string(height) + "/" +
         std::to_string(round) + "/" + std::to_string(static_cast<int>(type));
}
Result<uint64_t> ReadEvidenceCount(const StateReader& s) {
  Bytes raw;
  Status st = s.Get(kEvidenceCountKey, &raw);
  if (st.IsNotFound()) return uint64_t{0};
  if (!st.ok()) return st;
  if (raw.size() != 8) return Status::Corruption("evidence count record");
  return DecodeFixed64(raw.data());
}
Result<std::optional<EvidenceRecord>> ReadEvidence(const StateReader& s, uint64_t n) {
  return ReadRecord<EvidenceRecord>(s, EvidenceKey(n));
}
Result<ChainDomain> ReadChainDomain(const StateReader& s) {
  auto params = ReadParams(s);
  if (!params.ok()) return params.status();
  Bytes raw;
  if (Status st = s.Get(kGenesisHashKey, &raw); !st.ok()) return st;
  if (raw.size() != 32) return Status::Corruption("genesis hash record");
  ChainDomain d{params->chain_id, {}};
  std::copy(raw.begin(), raw.end(), d.genesis_hash.bytes.begin());
  return d;
}
Result<ValidatorSet> ReadValidators(const StateReader& s) {
  auto r = ReadRecord<ValidatorSet>(s, kValidatorsKey);
  if (!r.ok()) return r.status();
  if (!r->has_value()) return Status::Corruption("state has no validator set");
  return std::move(**r);
}
Result<std::optional<PendingValidators>> ReadPendingValidators(const StateReader& s) {
  return ReadRecord<PendingValidators>(s, kPendingValidatorsKey);
}
Result<ChainParams> ReadParams(const StateReader& s) {
  auto r = ReadRecord<ChainParams>(s, kParamsKey);
  if (!r.ok()) return r.status();
  if (!r->has_value()) return Status::Corruption("state has no chain parameters");
  return std::move(**r);
}

Result<ValidatorSet> ValidatorsForHeight(const StateReader& s, uint64_t height) {
  auto pending = ReadPendingValidators(s);
  if (!pending.ok()) return pending.status();
  if (pending->has_value() && (*pending)->effective_height <= height) {
    return (*pending)->validators;
  }
  return ReadValidators(s);
}

// ---- in-memory state and overlay --------------------------------------------------------------

Status MemoryState::Get(std::string_view key, Bytes* value) const {
  auto it = map_.find(key);
  if (it == map_.end()) return Status::NotFound(std::string(key));
  *value = it->second;
  return Status::Ok();
}

void MemoryState::Apply(const std::vector<StateChange>& changes) {
  for (const auto& c : changes) {
    if (c.value.empty()) {
      map_.erase(c.key);
    } else {
      map_[c.key] = c.value;
    }
  }
}

Status StateOverlay::Get(std::string_view key, Bytes* value) const {
  auto it = index_.find(key);
  if (it != index_.end()) {
    const Bytes& v = writes_[it->second].value;
    if (v.empty()) return Status::NotFound(std::string(key));
    *value = v;
    return Status::Ok();
  }
  return base_->Get(key, value);
}

void StateOverlay::Put(std::string key, Bytes value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    writes_[it->second].value = std::move(value);
    return;
  }
  index_.emplace(key, writes_.size());
  writes_.push_back({std::move(key), std::move(value)});
}

std::vector<StateChange> StateOverlay::Changes() const { return writes_; }

// ---- reasons ----------------------------------------------------------------------------------

const char* ReasonCode(Reason r) {
  switch (r) {
    case Reason::kMalformed:
      return "malformed";
    case Reason::kBadSignature:
      return "bad-signature";
    case Reason::kWrongChain:
      return "wrong-chain";
    case Reason::kBadSequence:
      return "bad-sequence";
    case Reason::kUnknownAgency:
      return "unknown-agency";
    case Reason::kUnknownSigner:
      return "unknown-signer";
    case Reason::kDuplicateSignature:
      return "duplicate-signature";
    case Reason::kNotIssuer:
      return "not-issuer";
    case Reason::kCertExists:
      return "cert-exists";
    case Reason::kCertNotFound:
      return "cert-not-found";
    case Reason::kDocumentExists:
      return "document-exists";
    case Reason::kInvalidTransition:
      return "invalid-transition";
    case Reason::kBadIdentifier:
      return "bad-identifier";
    case Reason::kBadVersion:
      return "bad-version";
    case Reason::kBadValidity:
      return "bad-validity";
    case Reason::kMissingCosignature:
      return "missing-cosignature";
    case Reason::kInsufficientPower:
      return "insufficient-power";
    case Reason::kUnknownCertType:
      return "unknown-cert-type";
    case Reason::kMissingSignature:
      return "missing-signature";
    case Reason::kTooLarge:
      return "too-large";
    case Reason::kEvidenceExists:
      return "evidence-exists";
  }
  return "unknown";
}

EffectiveStatus EffectiveStatusAt(const CertificateState& c, int64_t now_ms) {
  if (IsTerminal(c.status)) return EffectiveStatus::kRevoked;
  if (now_ms / 1000 >= c.not_after) return EffectiveStatus::kExpired;
  if (c.status == CertStatus::kSuspended) return EffectiveStatus::kSuspended;
  return EffectiveStatus::kValid;
}

// ---- the state machine ------------------------------------------------------------------------

namespace {

// Field limits (FORMAT.md §5.4). Every text field is UTF-8.
constexpr size_t kMaxName = 256;
constexpr size_t kMaxText = 512;
constexpr size_t kMaxReason = 1024;
constexpr size_t kMaxIntakes = 64;
constexpr size_t kMaxChangedFields = 64;
constexpr size_t kMaxIssuingKeys = 16;
constexpr size_t kMaxSignatures = 256;
constexpr size_t kMaxChainId = 64;

// Unicode format characters (general category Cf) and the line/paragraph separators: invisible
// characters that reorder or hide text (bidi overrides and isolates, zero-width characters,
// tag characters), by which a shown permit could read differently from what was signed.
bool IsFormatCharacter(uint32_t cp) {
  static constexpr std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},
      {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x180E, 0x180E},
      {0x200B, 0x200F},   {0x2028, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
      {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
      {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
      {0xE0020, 0xE007F}};
  for (const auto& [lo, hi] : kRanges) {
    if (cp >= lo && cp <= hi) return true;
  }
  return false;
}

// The first format character of valid UTF-8 text `s`, if any.
std::optional<uint32_t> FirstFormatCharacter(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    const size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
    uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1Fu) : n == 2 ? (c & 0x0Fu) : (c & 0x07u);
    for (size_t k = 1; k <= n && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3Fu);
    }
    if (IsFormatCharacter(cp)) return cp;
    i += n + 1;
  }
  return std::nullopt;
}

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) return false;  // no controls
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    // Reject overlong forms, surrogates, out-of-range code points and C1 controls.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// Builds rejections; keeps Apply's body readable.
struct Reject {
  static ApplyOutcome With(Reason r, std::string msg) {
    ApplyOutcome o;
    o.rejection = Rejection{r, std::move(msg)};
    return o;
  }
};

std::optional<Rejection> CheckText(std::string_view field, std::string_view v, size_t max,
                                   bool required) {
  if (required && v.empty()) return Rejection{Reason::kMalformed, std::string(field) + " is empty"};
  if (v.size() > max) {
    return Rejection{Reason::kMalformed,
                     std::string(field) + " longer than " + std::to_string(max) + " bytes"};
  }
  if (!IsUtf8(v))
    return Rejection{Reason::kMalformed, std::string(field) + " is not valid UTF-8 text"};
  if (auto cp = FirstFormatCharacter(v)) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "U+%04X", static_cast<unsigned>(*cp));
    return Rejection{Reason::kMalformed,
                     std::string(field) + " contains the invisible format character " + hex +
                         " (bidirectional controls, zero-width and other format characters are "
                         "refused: shown text must read as signed)"};
  }
  return std::nullopt;
}

std::optional<Rejection> CheckSummary(const CertSummary& summary) {
  const auto& s = std::get<WaterPermitSummary>(summary);
  std::optional<Rejection> r;
  if ((r = CheckText("permit_number", s.permit_number, 64, true))) return r;
  if ((r = CheckText("purpose", s.purpose, kMaxText, true))) return r;
  if ((r = CheckText("location", s.location, kMaxText, true))) return r;
  if ((r = CheckText("method", s.method, kMaxText, false))) return r;
  if ((r = CheckText("return_location", s.return_location, kMaxText, false))) return r;
  if (!IsDivisionCode(s.division)) {
    return Rejection{Reason::kMalformed, "division '" + s.division + "' is not a GB/T 2260 code"};
  }
  if (s.annual_quantity_m3 == 0) return Rejection{Reason::kMalformed, "annual_quantity_m3 is zero"};
  if (!IsKnown(s.holder_kind) || !IsKnown(s.source)) {
    return Rejection{Reason::kMalformed, "unknown holder kind or water source"};
  }
  if (s.holder_kind == HolderKind::kIndividual) {
    // Personal data never goes on the ledger in clear.
    if (!s.holder_name.empty() || !s.holder_credit_code.empty()) {
      return Rejection{Reason::kMalformed,
                       "an individual holder's name and number must not be in the public summary"};
    }
  } else {
    if ((r = CheckText("holder_name", s.holder_name, kMaxName, true))) return r;
    if (!IsCreditCodeSyntax(s.holder_credit_code)) {
      return Rejection{Reason::kMalformed, "holder_credit_code is not an 18-character credit code"};
    }
  }
  if (s.intakes.size() > kMaxIntakes) return Rejection{Reason::kMalformed, "too many intakes"};
  for (const auto& in : s.intakes) {
    if ((r = CheckText("intake name", in.name, kMaxName, true))) return r;
    if ((r = CheckText("intake aquifer", in.aquifer, kMaxName, false))) return r;
    if (!IsKnown(in.source) || !IsKnown(in.state)) {
      return Rejection{Reason::kMalformed, "unknown intake water source or state"};
    }
    if (in.longitude_e6 < -180000000 || in.longitude_e6 > 180000000 || in.latitude_e6 < -90000000 ||
        in.latitude_e6 > 90000000) {
      return Rejection{Reason::kMalformed, "intake coordinates out of range"};
    }
    if (in.source == WaterSource::kSurface && !in.aquifer.empty()) {
      return Rejection{Reason::kMalformed, "a surface-water intake has no aquifer"};
    }
  }
  return std::nullopt;
}

std::optional<Rejection> CheckAgencyRecord(const Agency& a) {
  if (!IsCreditCodeSyntax(a.id)) {
    return Rejection{Reason::kMalformed, "agency id must be an 18-character credit code"};
  }
  std::optional<Rejection> r;
  if ((r = CheckText("agency name", a.name, kMaxName, true))) return r;
  if (!IsDivisionCode(a.division)) return Rejection{Reason::kMalformed, "agency division code"};
  if (!IsKnown(a.kind)) return Rejection{Reason::kMalformed, "unknown agency kind"};
  if (a.issuing_keys.empty() || a.issuing_keys.size() > kMaxIssuingKeys) {
    return Rejection{Reason::kMalformed, "an agency has 1 to 16 issuing keys"};
  }
  std::set<PublicKey> keys;
  for (const auto& k : a.issuing_keys) {
    if (!PublicKey::Parse(k.span()))
      return Rejection{Reason::kMalformed, "issuing key not on curve"};
    if (!keys.insert(k).second) return Rejection{Reason::kMalformed, "duplicate issuing key"};
  }
  return std::nullopt;
}

bool HasKey(const Agency& a, const PublicKey& k) {
  return std::find(a.issuing_keys.begin(), a.issuing_keys.end(), k) != a.issuing_keys.end();
}

class Applier {
 public:
  Applier(const StateReader& base, const SignedTransaction& stx, const ApplyContext& ctx)
      : state_(&base), stx_(stx), tx_(stx.tx), ctx_(ctx) {}

  // `verifier` null: signatures are not verified (ApplyVerified).
  Result<ApplyOutcome> Run(const SignatureVerifier* verifier);

 private:
  Result<ApplyOutcome> Certificate(const Agency& actor);
  Result<ApplyOutcome> Governance();
  Result<ApplyOutcome> DoIssue(const IssueEvent& e);
  Result<ApplyOutcome> DoChange(const ChangeEvent& e);
  Result<ApplyOutcome> DoRenew(const RenewEvent& e);
  Result<ApplyOutcome> DoStatus(std::string_view base, EventType type, CertStatus from,
                                CertStatus to, std::string_view reason);
  Result<ApplyOutcome> DoTransfer(const TransferEvent& e);
  Result<ApplyOutcome> Evidence(const SignatureVerifier* verifier);

  // Loads the certificate controlled by the acting agency, or a rejection.
  Result<std::optional<CertificateState>> LoadControlled(std::string_view base,
                                                         std::optional<Rejection>* why);
  // Change and renew: loads the certificate that `identifier` names the next version of
  // (parsed into *id): controlled by the acting agency, not terminal, version = current + 1.
  Result<std::optional<CertificateState>> LoadForNewVersion(const std::string& identifier,
                                                            CertificateId* id,
                                                            std::optional<Rejection>* why);
  // A rejection if `document_hash` is already on the ledger.
  Result<std::optional<Rejection>> CheckNewDocument(const Hash256& document_hash);
  // Records version `version` with `document_hash` (history, versions, document index).
  ApplyOutcome StoreNewVersion(CertificateState* cert, uint32_t version,
                               const Hash256& document_hash, EventType type);
  void AddHistory(CertificateState* c, EventType t) const {
    c->history.push_back({t, ctx_.height, ctx_.log_index, tx_hash(), ctx_.block_time_ms});
  }
  ApplyOutcome Accept() {
    overlay_.Put(SequenceKey(tx_.agency), EncodeU64(tx_.sequence));
    ApplyOutcome o;
    o.changes = overlay_.Changes();
    return o;
  }

  // TxHash(tx_), from the one encoding of tx_ that Run makes.
  const Hash256& tx_hash() const {
    if (!tx_hash_) tx_hash_ = Sha256(tx_bytes_);
    return *tx_hash_;
  }

  StateOverlay overlay_{nullptr};
  Bytes tx_bytes_;  // Encode(tx_)
  mutable std::optional<Hash256> tx_hash_;
  const StateReader* state_;
  const SignedTransaction& stx_;
  const Transaction& tx_;
  const ApplyContext& ctx_;
  ChainParams params_;
  ChainDomain domain_;
  std::set<PublicKey> signers_;
};

Result<ApplyOutcome> Applier::Run(const SignatureVerifier* verifier) {
  overlay_ = StateOverlay(state_);
  tx_bytes_ = Encode(tx_);
  auto params = ReadParams(*state_);
  if (!params.ok()) return params.status();
  params_ = std::move(params).value();
  // The genesis hash (one read; the chain id comes with the parameters just read).
  {
    Bytes raw;
    if (Status st = state_->Get(kGenesisHashKey, &raw); !st.ok()) return st;
    if (raw.size() != 32) return Status::Corruption("genesis hash record");
    domain_.chain_id = params_.chain_id;
    std::copy(raw.begin(), raw.end(), domain_.genesis_hash.bytes.begin());
  }

  if (tx_.chain_id != params_.chain_id) {
    return Reject::With(Reason::kWrongChain, "transaction for chain '" +
                                                 tx_.chain_id.substr(0, kMaxChainId) +
                                                 "', this is '" + params_.chain_id + "'");
  }
  const size_t size = Encode(stx_).size();
  if (size > params_.max_tx_bytes) {
    return Reject::With(Reason::kTooLarge, "transaction of " + std::to_string(size) +
                                               " bytes exceeds " +
                                               std::to_string(params_.max_tx_bytes));
  }
  if (stx_.signatures.size() > kMaxSignatures) {
    return Reject::With(Reason::kMalformed, "more than 256 signatures");
  }
  if (TypeOf(tx_.event) == EventType::kDuplicateVote) return Evidence(verifier);
  auto actor = ReadAgency(*state_, tx_.agency);
  if (!actor.ok()) return actor.status();
  if (!actor->has_value()) {
    return Reject::With(Reason::kUnknownAgency,
                        "acting agency '" + tx_.agency.substr(0, 64) + "' is not registered");
  }
  auto last = ReadSequence(*state_, tx_.agency);
  if (!last.ok()) return last.status();
  if (tx_.sequence != *last + 1) {
    return Reject::With(Reason::kBadSequence, "sequence " + std::to_string(tx_.sequence) +
                                                  ", expected " + std::to_string(*last + 1));
  }
  const Hash256 digest = TxSigningDigestOfEncoded(tx_bytes_, tx_.chain_id, domain_.genesis_hash);
  // Signatures in strictly ascending signer order, so that a transaction has exactly one
  // encoding (and one event-log leaf) whoever assembles its signatures.
  const PublicKey* previous = nullptr;
  for (const auto& sig : stx_.signatures) {
    if (!signers_.insert(sig.signer).second) {
      return Reject::With(Reason::kDuplicateSignature, "two signatures by " + sig.signer.Hex());
    }
    if (previous != nullptr && sig.signer < *previous) {
      return Reject::With(Reason::kMalformed, "signatures must be in ascending signer-key order");
    }
    previous = &sig.signer;
    if (verifier != nullptr && !verifier->Verify(sig.signer, digest, sig.signature)) {
      return Reject::With(Reason::kBadSignature,
                          "signature by " + sig.signer.Hex() + " does not verify");
    }
  }
  const EventType type = TypeOf(tx_.event);
  if (type == EventType::kRegisterAgency || type == EventType::kUpdateValidators) {
    return Governance();
  }
  return Certificate(**actor);
}

Result<ApplyOutcome> Applier::Certificate(const Agency& actor) {
  const auto* transfer = std::get_if<TransferEvent>(&tx_.event);
  std::optional<Agency> counterparty;
  if (transfer != nullptr) {
    // Checked before the counterparty's signature: the receiver's keys would be the actor's.
    if (transfer->to_agency == tx_.agency) {
      return Reject::With(Reason::kMalformed, "transfer to the agency that controls it");
    }
    auto to = ReadAgency(*state_, transfer->to_agency);
    if (!to.ok()) return to.status();
    if (!to->has_value()) {
      return Reject::With(
          Reason::kUnknownAgency,
          "receiving agency '" + transfer->to_agency.substr(0, 64) + "' is not registered");
    }
    counterparty = std::move(**to);
  }
  bool actor_signed = false;
  bool counterparty_signed = false;
  for (const auto& k : signers_) {
    if (HasKey(actor, k)) {
      actor_signed = true;
    } else if (counterparty && HasKey(*counterparty, k)) {
      counterparty_signed = true;
    } else {
      return Reject::With(Reason::kUnknownSigner, "signer " + k.Hex() + " has no role in this " +
                                                      EventTypeName(TypeOf(tx_.event)) + " event");
    }
  }
  if (!actor_signed) {
    return Reject::With(Reason::kMissingSignature,
                        "no signature by an issuing key of agency " + actor.id);
  }
  if (counterparty && !counterparty_signed) {
    return Reject::With(Reason::kMissingCosignature,
                        "transfer needs a signature by receiving agency " + counterparty->id);
  }

  struct Visitor {
    Applier* a;
    Result<ApplyOutcome> operator()(const IssueEvent& e) { return a->DoIssue(e); }
    Result<ApplyOutcome> operator()(const ChangeEvent& e) { return a->DoChange(e); }
    Result<ApplyOutcome> operator()(const RenewEvent& e) { return a->DoRenew(e); }
    Result<ApplyOutcome> operator()(const SuspendEvent& e) {
      return a->DoStatus(e.certificate, EventType::kSuspend, CertStatus::kValid,
                         CertStatus::kSuspended, e.reason);
    }
    Result<ApplyOutcome> operator()(const ResumeEvent& e) {
      return a->DoStatus(e.certificate, EventType::kResume, CertStatus::kSuspended,
                         CertStatus::kValid, e.reason);
    }
    Result<ApplyOutcome> operator()(const RevokeEvent& e) {
      if (!IsKnown(e.kind)) return Reject::With(Reason::kMalformed, "unknown revocation kind");
      return a->DoStatus(e.certificate, EventType::kRevoke, CertStatus::kValid,
                         static_cast<CertStatus>(e.kind), e.reason);
    }
    Result<ApplyOutcome> operator()(const TransferEvent& e) { return a->DoTransfer(e); }
    Result<ApplyOutcome> operator()(const RegisterAgencyEvent&) {
      return Status::InvalidArgument("unreachable");
    }
    Result<ApplyOutcome> operator()(const UpdateValidatorsEvent&) {
      return Status::InvalidArgument("unreachable");
    }
    Result<ApplyOutcome> operator()(const DuplicateVoteEvent&) {
      return Status::InvalidArgument("unreachable");
    }
  };
  return std::visit(Visitor{this}, tx_.event);
}

Result<ApplyOutcome> Applier::Evidence(const SignatureVerifier* verifier) {
  if (!tx_.agency.empty() || tx_.sequence != 0 || !stx_.signatures.empty()) {
    return Reject::With(Reason::kMalformed,
                        "evidence carries no agency, sequence or signature of its own");
  }
  const auto& e = std::get<DuplicateVoteEvent>(tx_.event);
  const SignedVote& a = e.first;
  const SignedVote& b = e.second;
  if (a.validator != b.validator || a.type != b.type || a.height != b.height ||
      a.round != b.round) {
    return Reject::With(Reason::kMalformed,
                        "the two votes differ in validator, type, height or round");
  }
  if (!(a.block_id < b.block_id)) {
    return Reject::With(Reason::kMalformed,
                        "the votes must name different blocks, in canonical order (nil first)");
  }
  if (a.height > ctx_.height) {
    return Reject::With(Reason::kMalformed, "evidence of a vote for a height not reached");
  }
  auto validators = ReadValidators(*state_);
  if (!validators.ok()) return validators.status();
  if (validators->Find(a.validator) == nullptr) {
    return Reject::With(Reason::kUnknownSigner,
                        "validator " + a.validator.Hex() + " is not a current validator");
  }
  for (const SignedVote* v : {&a, &b}) {
    const Hash256 digest = VoteSigningDigest(domain_, v->type, v->height, v->round, v->block_id);
    if (verifier != nullptr && !verifier->Verify(v->validator, digest, v->signature)) {
      return Reject::With(Reason::kBadSignature,
                          "vote signature by " + v->validator.Hex() + " does not verify");
    }
  }
  const std::string vote_key = EvidenceVoteKey(a.validator, a.type, a.height, a.round);
  Bytes existing;
  Status got = state_->Get(vote_key, &existing);
  if (got.ok()) {
    return Reject::With(Reason::kEvidenceExists, "this double vote is recorded already");
  }
  if (!got.IsNotFound()) return got;
  auto count = ReadEvidenceCount(*state_);
  if (!count.ok()) return count.status();
  EvidenceRecord rec{a.validator, a.type,         a.height, a.round,
                     ctx_.height, ctx_.log_index, tx_hash()};
  overlay_.Put(EvidenceKey(*count), Encode(rec));
  overlay_.Put(vote_key, EncodeU64(*count));
  overlay_.Put(std::string(kEvidenceCountKey), EncodeU64(*count + 1));
  ApplyOutcome o;  // no agency sequence moves
  o.changes = overlay_.Changes();
  return o;
}

Result<ApplyOutcome> Applier::Governance() {
  auto validators = ReadValidators(*state_);
  if (!validators.ok()) return validators.status();
  uint64_t power = 0;
  for (const auto& k : signers_) {
    const Validator* v = validators->Find(k);
    if (v == nullptr) {
      return Reject::With(Reason::kUnknownSigner,
                          "governance signer " + k.Hex() + " is not a current validator");
    }
    power += v->power;
  }
  if (!IsSupermajority(power, validators->TotalPower())) {
    return Reject::With(Reason::kInsufficientPower,
                        "governance signed by " + std::to_string(power) + " of " +
                            std::to_string(validators->TotalPower()) +
                            " voting power; more than two thirds needed");
  }
  if (const auto* reg = std::get_if<RegisterAgencyEvent>(&tx_.event)) {
    if (auto r = CheckAgencyRecord(reg->agency)) return Reject::With(r->reason, r->message);
    overlay_.Put(AgencyKey(reg->agency.id), Encode(reg->agency));
    return Accept();
  }
  const auto& upd = std::get<UpdateValidatorsEvent>(tx_.event);
  if (Status st = ValidateValidatorSet(upd.validators); !st.ok()) {
    return Reject::With(Reason::kMalformed, st.message());
  }
  for (const auto& v : upd.validators.validators) {
    auto a = ReadAgency(overlay_, v.agency);
    if (!a.ok()) return a.status();
    if (!a->has_value()) {
      return Reject::With(Reason::kUnknownAgency,
                          "validator's agency '" + v.agency.substr(0, 64) + "' is not registered");
    }
  }
  PendingValidators p{ctx_.height + kValidatorSetDelay, upd.validators};
  overlay_.Put(std::string(kPendingValidatorsKey), Encode(p));
  return Accept();
}

Result<std::optional<CertificateState>> Applier::LoadControlled(std::string_view base,
                                                                std::optional<Rejection>* why) {
  auto c = ReadCertificate(overlay_, base);
  if (!c.ok()) return c.status();
  if (!c->has_value()) {
    *why = Rejection{Reason::kCertNotFound,
                     "no certificate '" + std::string(base.substr(0, 128)) + "'"};
    return std::optional<CertificateState>();
  }
  if ((*c)->controller != tx_.agency) {
    *why = Rejection{Reason::kNotIssuer, "certificate is controlled by agency " + (*c)->controller +
                                             ", not " + tx_.agency};
    return std::optional<CertificateState>();
  }
  if (IsTerminal((*c)->status)) {
    *why = Rejection{Reason::kInvalidTransition,
                     "certificate is withdrawn, cancelled or revoked and accepts no more events"};
    return std::optional<CertificateState>();
  }
  return c;
}

Result<ApplyOutcome> Applier::DoIssue(const IssueEvent& e) {
  std::string why;
  auto id = ParseCertificateId(e.identifier, &why);
  if (!id) return Reject::With(Reason::kBadIdentifier, why);
  if (id->issuer_code != tx_.agency) {
    return Reject::With(Reason::kNotIssuer, "identifier's issuer code " + id->issuer_code +
                                                " is not the acting agency " + tx_.agency);
  }
  if (SummaryType(e.summary) != CertType::kWaterAbstractionPermit ||
      id->type_code != params_.water_permit_type_code) {
    return Reject::With(Reason::kUnknownCertType,
                        "type code " + id->type_code + " is not registered on this chain");
  }
  if (auto r = CheckSummary(e.summary)) return Reject::With(r->reason, r->message);
  if (e.not_before >= e.not_after) {
    return Reject::With(Reason::kBadValidity, "not_before must precede not_after");
  }
  // not_before < not_after: the unsigned difference is exact (the signed one may overflow).
  if (static_cast<uint64_t>(e.not_after) - static_cast<uint64_t>(e.not_before) >
      static_cast<uint64_t>(params_.max_validity_seconds)) {
    return Reject::With(Reason::kBadValidity, "validity longer than the chain's maximum");
  }
  if (e.not_after <= ctx_.block_time_ms / 1000) {
    return Reject::With(Reason::kBadValidity, "certificate would be expired on issue");
  }
  auto existing = ReadCertificate(overlay_, id->Base());
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return Reject::With(Reason::kCertExists, "certificate " + id->Base() + " exists");
  }
  auto dup = CheckNewDocument(e.document_hash);
  if (!dup.ok()) return dup.status();
  if (*dup) return Reject::With((*dup)->reason, (*dup)->message);
  CertificateState c;
  c.base_id = id->Base();
  c.type = CertType::kWaterAbstractionPermit;
  c.issuer = tx_.agency;
  c.controller = tx_.agency;
  c.holder_commitment = e.holder_commitment;
  c.summary = e.summary;
  c.not_before = e.not_before;
  c.not_after = e.not_after;
  c.status = CertStatus::kValid;
  return StoreNewVersion(&c, id->version, e.document_hash, EventType::kIssue);
}

Result<std::optional<CertificateState>> Applier::LoadForNewVersion(const std::string& identifier,
                                                                   CertificateId* id,
                                                                   std::optional<Rejection>* why) {
  std::string parse_error;
  auto parsed = ParseCertificateId(identifier, &parse_error);
  if (!parsed) {
    *why = Rejection{Reason::kBadIdentifier, parse_error};
    return std::optional<CertificateState>();
  }
  *id = *parsed;
  auto c = LoadControlled(id->Base(), why);
  if (!c.ok() || *why) return c;
  if (id->version != (*c)->version + 1 || id->version > 999) {
    *why =
        Rejection{Reason::kBadVersion, "new version must be " + std::to_string((*c)->version + 1) +
                                           ", got " + std::to_string(id->version)};
    return std::optional<CertificateState>();
  }
  return c;
}

Result<std::optional<Rejection>> Applier::CheckNewDocument(const Hash256& document_hash) {
  auto doc = ReadDocument(overlay_, document_hash);
  if (!doc.ok()) return doc.status();
  if (!doc->has_value()) return std::optional<Rejection>();
  return std::optional<Rejection>(Rejection{
      Reason::kDocumentExists, "document " + document_hash.Hex() + " is already on the ledger"});
}

ApplyOutcome Applier::StoreNewVersion(CertificateState* cert, uint32_t version,
                                      const Hash256& document_hash, EventType type) {
  cert->version = version;
  cert->versions.push_back({version, document_hash});
  AddHistory(cert, type);
  overlay_.Put(CertKey(cert->base_id), Encode(*cert));
  overlay_.Put(DocKey(document_hash), Encode(DocumentRef{cert->base_id, version}));
  return Accept();
}

Result<ApplyOutcome> Applier::DoChange(const ChangeEvent& e) {
  CertificateId id;
  std::optional<Rejection> rej;
  auto c = LoadForNewVersion(e.identifier, &id, &rej);
  if (!c.ok()) return c.status();
  if (rej) return Reject::With(rej->reason, rej->message);
  CertificateState cert = std::move(**c);
  if (SummaryType(e.summary) != cert.type) {
    return Reject::With(Reason::kUnknownCertType, "summary type differs from the certificate's");
  }
  if (auto r = CheckSummary(e.summary)) return Reject::With(r->reason, r->message);
  if (e.changed_fields.empty() || e.changed_fields.size() > kMaxChangedFields) {
    return Reject::With(Reason::kMalformed, "a change lists 1 to 64 changed fields");
  }
  for (const auto& f : e.changed_fields) {
    if (auto r = CheckText("changed field", f, 64, true)) {
      return Reject::With(r->reason, r->message);
    }
  }
  auto dup = CheckNewDocument(e.document_hash);
  if (!dup.ok()) return dup.status();
  if (*dup) return Reject::With((*dup)->reason, (*dup)->message);
  cert.summary = e.summary;
  if (e.holder_commitment) cert.holder_commitment = *e.holder_commitment;
  return StoreNewVersion(&cert, id.version, e.document_hash, EventType::kChange);
}

Result<ApplyOutcome> Applier::DoRenew(const RenewEvent& e) {
  CertificateId id;
  std::optional<Rejection> rej;
  auto c = LoadForNewVersion(e.identifier, &id, &rej);
  if (!c.ok()) return c.status();
  if (rej) return Reject::With(rej->reason, rej->message);
  CertificateState cert = std::move(**c);
  const int64_t now_s = ctx_.block_time_ms / 1000;
  if (now_s >= cert.not_after) {
    // The regulation has the authority decide on renewal before expiry.
    return Reject::With(Reason::kInvalidTransition, "an expired certificate cannot be renewed");
  }
  if (e.not_after <= cert.not_after) {
    return Reject::With(Reason::kBadValidity, "renewal must extend not_after");
  }
  // now_s < cert.not_after < e.not_after: the unsigned difference is exact.
  if (static_cast<uint64_t>(e.not_after) - static_cast<uint64_t>(now_s) >
      static_cast<uint64_t>(params_.max_validity_seconds)) {
    return Reject::With(Reason::kBadValidity, "renewed validity longer than the chain's maximum");
  }
  auto dup = CheckNewDocument(e.document_hash);
  if (!dup.ok()) return dup.status();
  if (*dup) return Reject::With((*dup)->reason, (*dup)->message);
  cert.not_after = e.not_after;
  return StoreNewVersion(&cert, id.version, e.document_hash, EventType::kRenew);
}

Result<ApplyOutcome> Applier::DoStatus(std::string_view base, EventType type, CertStatus from,
                                       CertStatus to, std::string_view reason) {
  if (!IsValidBaseId(base)) {
    return Reject::With(Reason::kBadIdentifier, "'" + std::string(base.substr(0, 128)) +
                                                    "' is not a base certificate identifier");
  }
  if (auto r = CheckText("reason", reason, kMaxReason, type != EventType::kResume)) {
    return Reject::With(r->reason, r->message);
  }
  std::optional<Rejection> rej;
  auto c = LoadControlled(base, &rej);
  if (!c.ok()) return c.status();
  if (rej) return Reject::With(rej->reason, rej->message);
  CertificateState cert = std::move(**c);
  // Revocation applies to valid and suspended certificates; the others need exactly `from`.
  const bool allowed = type == EventType::kRevoke ? (cert.status == CertStatus::kValid ||
                                                     cert.status == CertStatus::kSuspended)
                                                  : cert.status == from;
  if (!allowed) {
    return Reject::With(Reason::kInvalidTransition,
                        std::string(EventTypeName(type)) + " is not allowed in status " +
                            std::to_string(static_cast<int>(cert.status)));
  }
  cert.status = to;
  cert.status_reason = std::string(reason);
  AddHistory(&cert, type);
  overlay_.Put(CertKey(cert.base_id), Encode(cert));
  return Accept();
}

Result<ApplyOutcome> Applier::DoTransfer(const TransferEvent& e) {
  if (!IsValidBaseId(e.certificate)) {
    return Reject::With(Reason::kBadIdentifier, "not a base certificate identifier");
  }
  std::optional<Rejection> rej;
  auto c = LoadControlled(e.certificate, &rej);
  if (!c.ok()) return c.status();
  if (rej) return Reject::With(rej->reason, rej->message);
  CertificateState cert = std::move(**c);
  cert.controller = e.to_agency;
  AddHistory(&cert, EventType::kTransfer);
  overlay_.Put(CertKey(cert.base_id), Encode(cert));
  return Accept();
}

}  // namespace

Result<ApplyOutcome> Apply(const StateReader& state, const SignedTransaction& stx,
                           const ApplyContext& ctx, const SignatureVerifier& verifier) {
  return Applier(state, stx, ctx).Run(&verifier);
}

Result<ApplyOutcome> ApplyVerified(const StateReader& state, const SignedTransaction& stx,
                                   const ApplyContext& ctx) {
  return Applier(state, stx, ctx).Run(nullptr);
}

Result<std::vector<StateChange>> BeginBlockChanges(const StateReader& state, uint64_t height) {
  auto pending = ReadPendingValidators(state);
  if (!pending.ok()) return pending.status();
  std::vector<StateChange> out;
  if (pending->has_value() && (*pending)->effective_height <= height) {
    out.push_back({std::string(kValidatorsKey), Encode((*pending)->validators)});
    out.push_back({std::string(kPendingValidatorsKey), Bytes{}});
  }
  return out;
}

}  // namespace certledger::ledger
