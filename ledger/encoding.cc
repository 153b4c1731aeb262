// Record layouts. Every serialize() here is mirrored by a table in docs/FORMAT.md; change both
// together, and bump the record's version byte for any change of layout.
#include "ledger/encoding.h"

#include "ledger/chain.h"
#include "ledger/codec.h"
#include "ledger/state.h"
#include "ledger/types.h"

namespace certledger::ledger {

using codec::Enum;
using codec::Reader;
using codec::VersionTag;
using codec::Writer;

inline constexpr uint8_t kFormatV1 = 1;
inline constexpr uint8_t kValidatorSetV2 = 2;

template <class T>
const char* RecordName();

template <class Archive>
void serialize(Archive& ar, Agency& a) {
  ar(a.id, a.name, Enum(a.kind), a.division, a.issuing_keys);
}
template <class Archive>
void serialize(Archive& ar, Validator& v) {
  ar(v.key, v.power, v.agency, v.node_key);
}
template <class Archive>
void serialize(Archive& ar, ValidatorSet& s) {
  // Version 2: validators name their node identity (version 1 had none).
  ar(VersionTag{kValidatorSetV2}, s.validators);
}
template <class Archive>
void serialize(Archive& ar, Intake& i) {
  ar(i.name, i.longitude_e6, i.latitude_e6, Enum(i.source), Enum(i.state), i.aquifer);
}
template <class Archive>
void serialize(Archive& ar, WaterPermitSummary& s) {
  ar(s.permit_number, Enum(s.holder_kind), s.holder_name, s.holder_credit_code, Enum(s.source),
     s.annual_quantity_m3, s.purpose, s.location, s.division, s.method, s.return_location,
     s.intakes);
}

// CertSummary: u8 CertType, then the type's summary.
// A template, so that an alternative never converts implicitly to the variant.
template <class T>
requires std::is_same_v<T, CertSummary>
void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const T& s) {
  CertType t = SummaryType(s);
  w(Enum(t));
  std::visit([&](const auto& alt) { w(alt); }, s);
}
template <class T>
requires std::is_same_v<T, CertSummary>
void CEREAL_LOAD_FUNCTION_NAME(Reader& r, T& s) {
  CertType t{};
  r(Enum(t));
  switch (t) {
    case CertType::kWaterAbstractionPermit: {
      WaterPermitSummary w;
      r(w);
      s = std::move(w);
      return;
    }
  }
  throw codec::DecodeError("unknown certificate type");
}

template <class Archive>
void serialize(Archive& ar, Holder& h) {
  ar(Enum(h.id_type), h.id_number, h.name, h.salt);
}
template <class Archive>
void serialize(Archive& ar, CertificateDocument& d) {
  ar(VersionTag{kFormatV1}, d.chain_id, d.identifier, d.issuer, Enum(d.type), d.holder,
     d.not_before, d.not_after, d.issued_at, d.summary, d.previous_document);
}

template <class Archive>
void serialize(Archive& ar, IssueEvent& e) {
  ar(e.identifier, e.document_hash, e.holder_commitment, e.not_before, e.not_after, e.summary);
}
template <class Archive>
void serialize(Archive& ar, ChangeEvent& e) {
  ar(e.identifier, e.document_hash, e.holder_commitment, e.summary, e.changed_fields);
}
template <class Archive>
void serialize(Archive& ar, RenewEvent& e) {
  ar(e.identifier, e.document_hash, e.not_after);
}
template <class Archive>
void serialize(Archive& ar, SuspendEvent& e) {
  ar(e.certificate, e.reason);
}
template <class Archive>
void serialize(Archive& ar, ResumeEvent& e) {
  ar(e.certificate, e.reason);
}
template <class Archive>
void serialize(Archive& ar, RevokeEvent& e) {
  ar(e.certificate, Enum(e.kind), e.reason);
}
template <class Archive>
void serialize(Archive& ar, TransferEvent& e) {
  ar(e.certificate, e.to_agency);
}
template <class Archive>
void serialize(Archive& ar, RegisterAgencyEvent& e) {
  ar(e.agency);
}
template <class Archive>
void serialize(Archive& ar, UpdateValidatorsEvent& e) {
  ar(e.validators);
}
template <class Archive>
void serialize(Archive& ar, SignedVote& v) {
  ar(Enum(v.type), v.height, v.round, v.block_id, v.validator, v.signature);
}
template <class Archive>
void serialize(Archive& ar, DuplicateVoteEvent& e) {
  ar(e.first, e.second);
}

// Event: u8 EventType (variant index + 1), then the event body.
// A template, so that an alternative never converts implicitly to the variant.
template <class T>
requires std::is_same_v<T, Event>
void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const T& e) {
  EventType t = TypeOf(e);
  w(Enum(t));
  std::visit([&](const auto& alt) { w(alt); }, e);
}

template <size_t I>
void LoadEventAlternative(Reader& r, size_t index, Event& e) {
  if constexpr (I < std::variant_size_v<Event>) {
    if (index == I) {
      std::variant_alternative_t<I, Event> alt;
      r(alt);
      e = std::move(alt);
      return;
    }
    LoadEventAlternative<I + 1>(r, index, e);
  }
}
template <class T>
requires std::is_same_v<T, Event>
void CEREAL_LOAD_FUNCTION_NAME(Reader& r, T& e) {
  EventType t{};
  r(Enum(t));
  LoadEventAlternative<0>(r, static_cast<size_t>(t) - 1, e);
}

template <class Archive>
void serialize(Archive& ar, Transaction& t) {
  ar(VersionTag{kFormatV1}, t.chain_id, t.agency, t.sequence, t.event);
}
template <class Archive>
void serialize(Archive& ar, TxSignature& s) {
  ar(s.signer, s.signature);
}
template <class Archive>
void serialize(Archive& ar, SignedTransaction& s) {
  ar(s.tx, s.signatures);
}
template <class Archive>
void serialize(Archive& ar, BlockHeader& h) {
  ar(VersionTag{kFormatV1}, h.chain_id, h.height, h.time_ms, h.previous_block_hash, h.tx_root,
     h.log_size, h.log_root, h.state_root, h.validator_set_hash, h.proposer);
}
template <class Archive>
void serialize(Archive& ar, Block& b) {
  ar(b.header, b.txs);
}
template <class Archive>
void serialize(Archive& ar, CommitSignature& s) {
  ar(s.validator, s.signature);
}
template <class Archive>
void serialize(Archive& ar, CommitCertificate& c) {
  ar(VersionTag{kFormatV1}, c.height, c.round, c.block_id, c.signatures);
}

// State records (state.h).
template <class Archive>
void serialize(Archive& ar, VersionRecord& v) {
  ar(v.version, v.document_hash);
}
template <class Archive>
void serialize(Archive& ar, HistoryEntry& h) {
  ar(Enum(h.type), h.height, h.log_index, h.tx_hash, h.time_ms);
}
template <class Archive>
void serialize(Archive& ar, CertificateState& c) {
  ar(VersionTag{kFormatV1}, c.base_id, Enum(c.type), c.issuer, c.controller, c.holder_commitment,
     c.summary, c.not_before, c.not_after, c.version, Enum(c.status), c.status_reason, c.versions,
     c.history);
}
template <class Archive>
void serialize(Archive& ar, DocumentRef& d) {
  ar(d.base_id, d.version);
}
template <class Archive>
void serialize(Archive& ar, EvidenceRecord& e) {
  ar(VersionTag{kFormatV1}, e.validator, Enum(e.type), e.vote_height, e.round, e.height,
     e.log_index, e.tx_hash);
}
template <class Archive>
void serialize(Archive& ar, PendingValidators& p) {
  ar(p.effective_height, p.validators);
}
template <class Archive>
void serialize(Archive& ar, StateChange& c) {
  ar(c.key, c.value);
}
template <class Archive>
void serialize(Archive& ar, ChainParams& p) {
  ar(VersionTag{kFormatV1}, p.chain_id, p.max_validity_seconds, p.max_block_txs, p.max_tx_bytes,
     p.max_block_bytes, p.water_permit_type_code);
}

template <class Archive>
void serialize(Archive& ar, Genesis& g) {
  ar(VersionTag{kFormatV1}, g.params, g.genesis_time_ms, g.agencies, g.validators);
}

template <class T>
Bytes Encode(const T& value) {
  return codec::EncodeRecord(value);
}

template <class T>
Result<T> Decode(ByteSpan in) {
  return codec::DecodeRecord<T>(in, RecordName<T>());
}

#define CERTLEDGER_RECORD(T)          \
  template <>                         \
  const char* RecordName<T>() {       \
    return #T;                        \
  }                                   \
  template Bytes Encode<T>(const T&); \
  template Result<T> Decode<T>(ByteSpan);

CERTLEDGER_RECORD(Agency)
CERTLEDGER_RECORD(Validator)
CERTLEDGER_RECORD(ValidatorSet)
CERTLEDGER_RECORD(WaterPermitSummary)
CERTLEDGER_RECORD(CertSummary)
CERTLEDGER_RECORD(Holder)
CERTLEDGER_RECORD(CertificateDocument)
CERTLEDGER_RECORD(Event)
CERTLEDGER_RECORD(Transaction)
CERTLEDGER_RECORD(SignedTransaction)
CERTLEDGER_RECORD(BlockHeader)
CERTLEDGER_RECORD(Block)
CERTLEDGER_RECORD(CommitCertificate)
CERTLEDGER_RECORD(CertificateState)
CERTLEDGER_RECORD(DocumentRef)
CERTLEDGER_RECORD(PendingValidators)
CERTLEDGER_RECORD(EvidenceRecord)
CERTLEDGER_RECORD(StateChange)
using StateChangeList = std::vector<StateChange>;
CERTLEDGER_RECORD(StateChangeList)
CERTLEDGER_RECORD(ChainParams)
CERTLEDGER_RECORD(Genesis)

#undef CERTLEDGER_RECORD

}  // namespace certledger::ledger
