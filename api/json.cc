#include "api/json.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "ledger/encoding.h"

namespace certledger::api {

using ledger::Result;
using ledger::Status;

// ---- enum names -------------------------------------------------------------------------------

namespace {

template <class E>
struct EnumName {
  E value;
  const char* name;
};

constexpr EnumName<ledger::CertType> kCertTypes[] = {
    {ledger::CertType::kWaterAbstractionPermit, "water-abstraction-permit"}};
constexpr EnumName<ledger::CertStatus> kCertStatuses[] = {
    {ledger::CertStatus::kValid, "valid"},         {ledger::CertStatus::kSuspended, "suspended"},
    {ledger::CertStatus::kWithdrawn, "withdrawn"}, {ledger::CertStatus::kCancelled, "cancelled"},
    {ledger::CertStatus::kRevoked, "revoked"},
};
constexpr EnumName<ledger::EffectiveStatus> kEffectiveStatuses[] = {
    {ledger::EffectiveStatus::kValid, "valid"},
    {ledger::EffectiveStatus::kSuspended, "suspended"},
    {ledger::EffectiveStatus::kRevoked, "revoked"},
    {ledger::EffectiveStatus::kExpired, "expired"},
};
constexpr EnumName<ledger::RevocationKind> kRevocationKinds[] = {
    {ledger::RevocationKind::kWithdrawn, "withdrawn"},
    {ledger::RevocationKind::kCancelled, "cancelled"},
    {ledger::RevocationKind::kRevoked, "revoked"},
};
constexpr EnumName<ledger::AgencyKind> kAgencyKinds[] = {
    {ledger::AgencyKind::kProvince, "province"},
    {ledger::AgencyKind::kRiverBasin, "river-basin"},
    {ledger::AgencyKind::kMinistry, "ministry"},
};
constexpr EnumName<ledger::WaterSource> kWaterSources[] = {
    {ledger::WaterSource::kSurface, "surface"},
    {ledger::WaterSource::kGroundwater, "groundwater"},
};
constexpr EnumName<ledger::IntakeState> kIntakeStates[] = {
    {ledger::IntakeState::kInUse, "in-use"},
    {ledger::IntakeState::kEmergencyBackup, "emergency-backup"},
    {ledger::IntakeState::kSealed, "sealed"},
};
constexpr EnumName<ledger::HolderKind> kHolderKinds[] = {
    {ledger::HolderKind::kOrganisation, "organisation"},
    {ledger::HolderKind::kIndividual, "individual"},
};
constexpr ledger::EventType kEventTypes[] = {
    ledger::EventType::kIssue,
    ledger::EventType::kChange,
    ledger::EventType::kRenew,
    ledger::EventType::kSuspend,
    ledger::EventType::kResume,
    ledger::EventType::kRevoke,
    ledger::EventType::kTransfer,
    ledger::EventType::kRegisterAgency,
    ledger::EventType::kUpdateValidators,
    ledger::EventType::kDuplicateVote,
};

template <class E, size_t N>
const char* NameOf(const EnumName<E> (&table)[N], E v) {
  for (const auto& e : table) {
    if (e.value == v) return e.name;
  }
  return "unknown";
}

}  // namespace

const char* CertTypeName(ledger::CertType v) { return NameOf(kCertTypes, v); }
const char* CertStatusName(ledger::CertStatus v) { return NameOf(kCertStatuses, v); }
const char* EffectiveStatusName(ledger::EffectiveStatus v) { return NameOf(kEffectiveStatuses, v); }
const char* RevocationKindName(ledger::RevocationKind v) { return NameOf(kRevocationKinds, v); }
const char* AgencyKindName(ledger::AgencyKind v) { return NameOf(kAgencyKinds, v); }
const char* WaterSourceName(ledger::WaterSource v) { return NameOf(kWaterSources, v); }
const char* IntakeStateName(ledger::IntakeState v) { return NameOf(kIntakeStates, v); }
const char* HolderKindName(ledger::HolderKind v) { return NameOf(kHolderKinds, v); }

// ---- records to JSON --------------------------------------------------------------------------

// The summary as canonical text (members in key order), for verification answers served at
// high rates.
void WriteJson(JsonWriter& w, const ledger::Intake& v) {
  w.BeginObject();
  w.Key("aquifer").String(v.aquifer);
  w.Key("latitude_e6").Int(v.latitude_e6);
  w.Key("longitude_e6").Int(v.longitude_e6);
  w.Key("name").String(v.name);
  w.Key("source").String(WaterSourceName(v.source));
  w.Key("state").String(IntakeStateName(v.state));
  w.EndObject();
}

void WriteJson(JsonWriter& w, const ledger::WaterPermitSummary& v) {
  w.BeginObject();
  w.Key("annual_quantity_m3").Uint(v.annual_quantity_m3);
  w.Key("division").String(v.division);
  w.Key("holder_credit_code").String(v.holder_credit_code);
  w.Key("holder_kind").String(HolderKindName(v.holder_kind));
  w.Key("holder_name").String(v.holder_name);
  w.Key("intakes").BeginArray();
  for (const auto& i : v.intakes) WriteJson(w, i);
  w.EndArray();
  w.Key("location").String(v.location);
  w.Key("method").String(v.method);
  w.Key("permit_number").String(v.permit_number);
  w.Key("purpose").String(v.purpose);
  w.Key("return_location").String(v.return_location);
  w.Key("source").String(WaterSourceName(v.source));
  w.Key("type").String(CertTypeName(ledger::CertType::kWaterAbstractionPermit));
  w.EndObject();
}

void WriteJson(JsonWriter& w, const ledger::CertSummary& v) {
  std::visit([&w](const auto& s) { WriteJson(w, s); }, v);
}

// The tree form keeps strings as they are (a string that is not UTF-8, possible in the binary
// forms only, then fails at dump() instead of being silently repaired); WriteJson above is the
// same view as canonical text with the answers' repair (JsonTest.SummaryWriterMatchesTree pins
// the two together).
Json ToJson(const ledger::Intake& v) {
  return Json{{"name", v.name},
              {"longitude_e6", v.longitude_e6},
              {"latitude_e6", v.latitude_e6},
              {"source", WaterSourceName(v.source)},
              {"state", IntakeStateName(v.state)},
              {"aquifer", v.aquifer}};
}

Json ToJson(const ledger::WaterPermitSummary& v) {
  Json intakes = Json::array();
  for (const auto& i : v.intakes) intakes.push_back(ToJson(i));
  return Json{{"type", CertTypeName(ledger::CertType::kWaterAbstractionPermit)},
              {"permit_number", v.permit_number},
              {"holder_kind", HolderKindName(v.holder_kind)},
              {"holder_name", v.holder_name},
              {"holder_credit_code", v.holder_credit_code},
              {"source", WaterSourceName(v.source)},
              {"annual_quantity_m3", v.annual_quantity_m3},
              {"purpose", v.purpose},
              {"location", v.location},
              {"division", v.division},
              {"method", v.method},
              {"return_location", v.return_location},
              {"intakes", std::move(intakes)}};
}

Json ToJson(const ledger::CertSummary& v) {
  return std::visit([](const auto& s) { return ToJson(s); }, v);
}

namespace {

struct EventToJson {
  Json operator()(const ledger::IssueEvent& e) const {
    return Json{{"identifier", e.identifier},
                {"document_hash", e.document_hash.Hex()},
                {"holder_commitment", e.holder_commitment.Hex()},
                {"not_before", e.not_before},
                {"not_after", e.not_after},
                {"summary", ToJson(e.summary)}};
  }
  Json operator()(const ledger::ChangeEvent& e) const {
    Json j{{"identifier", e.identifier},
           {"document_hash", e.document_hash.Hex()},
           {"holder_commitment", nullptr},
           {"summary", ToJson(e.summary)},
           {"changed_fields", e.changed_fields}};
    if (e.holder_commitment) j["holder_commitment"] = e.holder_commitment->Hex();
    return j;
  }
  Json operator()(const ledger::RenewEvent& e) const {
    return Json{{"identifier", e.identifier},
                {"document_hash", e.document_hash.Hex()},
                {"not_after", e.not_after}};
  }
  Json operator()(const ledger::SuspendEvent& e) const {
    return Json{{"certificate", e.certificate}, {"reason", e.reason}};
  }
  Json operator()(const ledger::ResumeEvent& e) const {
    return Json{{"certificate", e.certificate}, {"reason", e.reason}};
  }
  Json operator()(const ledger::RevokeEvent& e) const {
    return Json{
        {"certificate", e.certificate}, {"kind", RevocationKindName(e.kind)}, {"reason", e.reason}};
  }
  Json operator()(const ledger::TransferEvent& e) const {
    return Json{{"certificate", e.certificate}, {"to_agency", e.to_agency}};
  }
  Json operator()(const ledger::RegisterAgencyEvent& e) const {
    return Json{{"agency", ToJson(e.agency)}};
  }
  Json operator()(const ledger::UpdateValidatorsEvent& e) const {
    return Json{{"validators", ToJson(e.validators)}};
  }
  Json operator()(const ledger::DuplicateVoteEvent& e) const {
    return Json{{"first", VoteToJson(e.first)}, {"second", VoteToJson(e.second)}};
  }
  static Json VoteToJson(const ledger::SignedVote& v) {
    return Json{{"type", v.type == ledger::VoteType::kPrevote ? "prevote" : "precommit"},
                {"height", v.height},
                {"round", v.round},
                {"block_id", v.block_id ? Json(v.block_id->Hex()) : Json(nullptr)},
                {"validator", v.validator.Hex()},
                {"signature", v.signature.Hex()}};
  }
};

}  // namespace

Json ToJson(const ledger::Event& v) {
  Json body = std::visit(EventToJson{}, v);
  Json j{{"type", ledger::EventTypeName(ledger::TypeOf(v))}};
  for (auto& [key, value] : body.items()) j[key] = value;
  return j;
}

Json ToJson(const ledger::Transaction& v) {
  return Json{{"chain_id", v.chain_id},
              {"agency", v.agency},
              {"sequence", v.sequence},
              {"event", ToJson(v.event)}};
}

Json ToJson(const ledger::SignedTransaction& v) {
  Json sigs = Json::array();
  for (const auto& s : v.signatures) {
    sigs.push_back(Json{{"signer", s.signer.Hex()}, {"signature", s.signature.Hex()}});
  }
  return Json{{"hash", ledger::TxHash(v.tx).Hex()}, {"tx", ToJson(v.tx)}, {"signatures", sigs}};
}

Json ToJson(const ledger::Agency& v) {
  Json keys = Json::array();
  for (const auto& k : v.issuing_keys) keys.push_back(k.Hex());
  return Json{{"id", v.id},
              {"name", v.name},
              {"kind", AgencyKindName(v.kind)},
              {"division", v.division},
              {"issuing_keys", std::move(keys)}};
}

Json ToJson(const ledger::Validator& v) {
  return Json{{"key", v.key.Hex()},
              {"node_key", v.node_key.Hex()},
              {"power", v.power},
              {"agency", v.agency}};
}

Json ToJson(const ledger::ValidatorSet& v) {
  Json vals = Json::array();
  for (const auto& x : v.validators) vals.push_back(ToJson(x));
  return Json{
      {"hash", v.Hash().Hex()}, {"total_power", v.TotalPower()}, {"validators", std::move(vals)}};
}

Json ToJson(const ledger::BlockHeader& v) {
  return Json{{"hash", ledger::BlockHash(v).Hex()},
              {"chain_id", v.chain_id},
              {"height", v.height},
              {"time_ms", v.time_ms},
              {"previous_block_hash", v.previous_block_hash.Hex()},
              {"tx_root", v.tx_root.Hex()},
              {"log_size", v.log_size},
              {"log_root", v.log_root.Hex()},
              {"state_root", v.state_root.Hex()},
              {"validator_set_hash", v.validator_set_hash.Hex()},
              {"proposer", v.proposer.Hex()}};
}

Json ToJson(const ledger::Block& v) {
  Json txs = Json::array();
  for (const auto& t : v.txs) txs.push_back(ToJson(t));
  return Json{{"header", ToJson(v.header)}, {"txs", std::move(txs)}};
}

Json ToJson(const ledger::CommitCertificate& v) {
  Json sigs = Json::array();
  for (const auto& s : v.signatures) {
    sigs.push_back(Json{{"validator", s.validator.Hex()}, {"signature", s.signature.Hex()}});
  }
  return Json{{"height", v.height},
              {"round", v.round},
              {"block_id", v.block_id.Hex()},
              {"signatures", std::move(sigs)}};
}

Json ToJson(const ledger::VersionRecord& v) {
  return Json{{"version", v.version}, {"document_hash", v.document_hash.Hex()}};
}

Json ToJson(const ledger::HistoryEntry& v) {
  return Json{{"type", ledger::EventTypeName(v.type)},
              {"height", v.height},
              {"log_index", v.log_index},
              {"tx_hash", v.tx_hash.Hex()},
              {"time_ms", v.time_ms}};
}

Json ToJson(const ledger::CertificateState& v, int64_t now_ms) {
  Json versions = Json::array();
  for (const auto& x : v.versions) versions.push_back(ToJson(x));
  Json history = Json::array();
  for (const auto& x : v.history) history.push_back(ToJson(x));
  return Json{{"base_id", v.base_id},
              {"type", CertTypeName(v.type)},
              {"issuer", v.issuer},
              {"controller", v.controller},
              {"holder_commitment", v.holder_commitment.Hex()},
              {"summary", ToJson(v.summary)},
              {"not_before", v.not_before},
              {"not_after", v.not_after},
              {"version", v.version},
              {"status", CertStatusName(v.status)},
              {"status_reason", v.status_reason},
              {"effective_status", EffectiveStatusName(ledger::EffectiveStatusAt(v, now_ms))},
              {"versions", std::move(versions)},
              {"history", std::move(history)}};
}

// ---- JSON to records --------------------------------------------------------------------------

namespace {

// Thrown inside the decoders only; FromJson turns it into a Status at the edge.
struct DecodeError {
  std::string path;
  std::string what;
};

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// A view of one JSON object being decoded: field access by name with path-aware errors.
class Obj {
 public:
  // `allowed`: every key the object may hold.
  Obj(const Json& j, std::string path, std::initializer_list<std::string_view> allowed)
      : j_(j), path_(std::move(path)) {
    if (!j.is_object()) throw DecodeError{path_, "expected an object"};
    for (const auto& [key, value] : j.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        throw DecodeError{Join(path_, key), "unknown field"};
      }
    }
  }
  [[nodiscard]] bool Has(std::string_view key) const {
    auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }
  [[nodiscard]] const Json& At(std::string_view key) const {
    auto it = j_.find(key);
    if (it == j_.end()) throw DecodeError{Join(path_, key), "missing"};
    return *it;
  }
  [[nodiscard]] std::string PathOf(std::string_view key) const { return Join(path_, key); }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  const Json& j_;
  std::string path_;
};

std::string Str(const Json& v, const std::string& path) {
  if (!v.is_string()) throw DecodeError{path, "expected a string"};
  return v.get<std::string>();
}

uint64_t U64(const Json& v, const std::string& path) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) throw DecodeError{path, "expected a non-negative integer"};
  throw DecodeError{path, "expected an integer"};
}

uint32_t U32(const Json& v, const std::string& path) {
  uint64_t x = U64(v, path);
  if (x > std::numeric_limits<uint32_t>::max()) throw DecodeError{path, "out of range"};
  return static_cast<uint32_t>(x);
}

int64_t I64(const Json& v, const std::string& path) {
  if (v.is_number_unsigned()) {
    uint64_t x = v.get<uint64_t>();
    if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw DecodeError{path, "out of range"};
    }
    return static_cast<int64_t>(x);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  throw DecodeError{path, "expected an integer"};
}

ledger::Bytes HexBytes(const Json& v, const std::string& path) {
  std::string s = Str(v, path);
  auto b = ledger::FromHex(s);
  if (!b) throw DecodeError{path, "expected hex"};
  return *b;
}

ledger::Hash256 Hash(const Json& v, const std::string& path) {
  auto b = HexBytes(v, path);
  auto h = ledger::Hash256::FromSpan(b);
  if (!h) throw DecodeError{path, "expected 32 bytes of hex"};
  return *h;
}

ledger::PublicKey Key(const Json& v, const std::string& path) {
  auto b = HexBytes(v, path);
  if (b.size() != 32) throw DecodeError{path, "expected 32 bytes of hex"};
  auto k = ledger::PublicKey::Parse(b);
  if (!k) throw DecodeError{path, "not a valid public key"};
  return *k;
}

ledger::Signature Sig(const Json& v, const std::string& path) {
  auto b = HexBytes(v, path);
  auto s = ledger::Signature::FromSpan(b);
  if (!s) throw DecodeError{path, "expected 64 bytes of hex"};
  return *s;
}

const Json& Arr(const Json& v, const std::string& path) {
  if (!v.is_array()) throw DecodeError{path, "expected an array"};
  return v;
}

template <class E, size_t N>
E Enum(const EnumName<E> (&table)[N], const Json& v, const std::string& path) {
  std::string s = Str(v, path);
  for (const auto& e : table) {
    if (s == e.name) return e.value;
  }
  std::string names;
  for (const auto& e : table) names += std::string(names.empty() ? "" : ", ") + e.name;
  throw DecodeError{path, "expected one of: " + names};
}

// Field shorthands.
std::string Str(const Obj& o, std::string_view k) { return Str(o.At(k), o.PathOf(k)); }
uint64_t U64(const Obj& o, std::string_view k) { return U64(o.At(k), o.PathOf(k)); }
uint32_t U32(const Obj& o, std::string_view k) { return U32(o.At(k), o.PathOf(k)); }
int64_t I64(const Obj& o, std::string_view k) { return I64(o.At(k), o.PathOf(k)); }
ledger::Hash256 Hash(const Obj& o, std::string_view k) { return Hash(o.At(k), o.PathOf(k)); }
ledger::PublicKey Key(const Obj& o, std::string_view k) { return Key(o.At(k), o.PathOf(k)); }
template <class E, size_t N>
E Enum(const EnumName<E> (&table)[N], const Obj& o, std::string_view k) {
  return Enum(table, o.At(k), o.PathOf(k));
}

ledger::Intake DecodeIntake(const Json& j, const std::string& path) {
  Obj o(j, path, {"name", "longitude_e6", "latitude_e6", "source", "state", "aquifer"});
  ledger::Intake v;
  v.name = Str(o, "name");
  v.longitude_e6 = I64(o, "longitude_e6");
  v.latitude_e6 = I64(o, "latitude_e6");
  v.source = Enum(kWaterSources, o, "source");
  v.state = Enum(kIntakeStates, o, "state");
  v.aquifer = Str(o, "aquifer");
  return v;
}

ledger::WaterPermitSummary DecodeWaterPermit(const Obj& o) {
  ledger::WaterPermitSummary v;
  v.permit_number = Str(o, "permit_number");
  v.holder_kind = Enum(kHolderKinds, o, "holder_kind");
  v.holder_name = Str(o, "holder_name");
  v.holder_credit_code = Str(o, "holder_credit_code");
  v.source = Enum(kWaterSources, o, "source");
  v.annual_quantity_m3 = U64(o, "annual_quantity_m3");
  v.purpose = Str(o, "purpose");
  v.location = Str(o, "location");
  v.division = Str(o, "division");
  v.method = Str(o, "method");
  v.return_location = Str(o, "return_location");
  const Json& intakes = Arr(o.At("intakes"), o.PathOf("intakes"));
  for (size_t i = 0; i < intakes.size(); ++i) {
    v.intakes.push_back(DecodeIntake(intakes[i], Index(o.PathOf("intakes"), i)));
  }
  return v;
}

ledger::CertSummary DecodeSummary(const Json& j, const std::string& path) {
  Obj o(j, path,
        {"type", "permit_number", "holder_kind", "holder_name", "holder_credit_code", "source",
         "annual_quantity_m3", "purpose", "location", "division", "method", "return_location",
         "intakes"});
  // "type" is optional while the water permit is the only certificate type.
  ledger::CertType type = ledger::CertType::kWaterAbstractionPermit;
  if (o.Has("type")) type = Enum(kCertTypes, o, "type");
  switch (type) {
    case ledger::CertType::kWaterAbstractionPermit:
      return DecodeWaterPermit(o);
  }
  throw DecodeError{o.PathOf("type"), "unsupported certificate type"};
}

ledger::Agency DecodeAgency(const Json& j, const std::string& path) {
  Obj o(j, path, {"id", "name", "kind", "division", "issuing_keys"});
  ledger::Agency v;
  v.id = Str(o, "id");
  v.name = Str(o, "name");
  v.kind = Enum(kAgencyKinds, o, "kind");
  v.division = Str(o, "division");
  const Json& keys = Arr(o.At("issuing_keys"), o.PathOf("issuing_keys"));
  for (size_t i = 0; i < keys.size(); ++i) {
    v.issuing_keys.push_back(Key(keys[i], Index(o.PathOf("issuing_keys"), i)));
  }
  return v;
}

ledger::Validator DecodeValidator(const Json& j, const std::string& path) {
  Obj o(j, path, {"key", "node_key", "power", "agency"});
  return ledger::Validator{Key(o, "key"), U64(o, "power"), Str(o, "agency"), Key(o, "node_key")};
}

ledger::ValidatorSet DecodeValidatorSet(const Json& j, const std::string& path) {
  Obj o(j, path, {"hash", "total_power", "validators"});
  ledger::ValidatorSet v;
  const Json& vals = Arr(o.At("validators"), o.PathOf("validators"));
  for (size_t i = 0; i < vals.size(); ++i) {
    v.validators.push_back(DecodeValidator(vals[i], Index(o.PathOf("validators"), i)));
  }
  if (o.Has("total_power")) {
    uint64_t total = 0;
    for (const auto& x : v.validators) {
      if (x.power > std::numeric_limits<uint64_t>::max() - total) {
        throw DecodeError{o.PathOf("validators"), "total power overflows"};
      }
      total += x.power;
    }
    if (U64(o, "total_power") != total) {
      throw DecodeError{o.PathOf("total_power"), "does not match the validators"};
    }
  }
  if (o.Has("hash") && Hash(o, "hash") != v.Hash()) {
    throw DecodeError{o.PathOf("hash"), "does not match the validator set"};
  }
  return v;
}

ledger::Event DecodeEvent(const Json& j, const std::string& path) {
  if (!j.is_object()) throw DecodeError{path, "expected an object"};
  auto it = j.find("type");
  if (it == j.end()) throw DecodeError{Join(path, "type"), "missing"};
  std::string type = Str(*it, Join(path, "type"));
  std::optional<ledger::EventType> t;
  for (auto e : kEventTypes) {
    if (type == ledger::EventTypeName(e)) t = e;
  }
  if (!t) {
    std::string names;
    for (auto e : kEventTypes) {
      names += std::string(names.empty() ? "" : ", ") + ledger::EventTypeName(e);
    }
    throw DecodeError{Join(path, "type"), "expected one of: " + names};
  }
  switch (*t) {
    case ledger::EventType::kIssue: {
      Obj o(j, path,
            {"type", "identifier", "document_hash", "holder_commitment", "not_before", "not_after",
             "summary"});
      ledger::IssueEvent e;
      e.identifier = Str(o, "identifier");
      e.document_hash = Hash(o, "document_hash");
      e.holder_commitment = Hash(o, "holder_commitment");
      e.not_before = I64(o, "not_before");
      e.not_after = I64(o, "not_after");
      e.summary = DecodeSummary(o.At("summary"), o.PathOf("summary"));
      return e;
    }
    case ledger::EventType::kChange: {
      Obj o(j, path,
            {"type", "identifier", "document_hash", "holder_commitment", "summary",
             "changed_fields"});
      ledger::ChangeEvent e;
      e.identifier = Str(o, "identifier");
      e.document_hash = Hash(o, "document_hash");
      if (o.Has("holder_commitment")) e.holder_commitment = Hash(o, "holder_commitment");
      e.summary = DecodeSummary(o.At("summary"), o.PathOf("summary"));
      const Json& fields = Arr(o.At("changed_fields"), o.PathOf("changed_fields"));
      for (size_t i = 0; i < fields.size(); ++i) {
        e.changed_fields.push_back(Str(fields[i], Index(o.PathOf("changed_fields"), i)));
      }
      return e;
    }
    case ledger::EventType::kRenew: {
      Obj o(j, path, {"type", "identifier", "document_hash", "not_after"});
      ledger::RenewEvent e;
      e.identifier = Str(o, "identifier");
      e.document_hash = Hash(o, "document_hash");
      e.not_after = I64(o, "not_after");
      return e;
    }
    case ledger::EventType::kSuspend: {
      Obj o(j, path, {"type", "certificate", "reason"});
      return ledger::SuspendEvent{Str(o, "certificate"), Str(o, "reason")};
    }
    case ledger::EventType::kResume: {
      Obj o(j, path, {"type", "certificate", "reason"});
      return ledger::ResumeEvent{Str(o, "certificate"), Str(o, "reason")};
    }
    case ledger::EventType::kRevoke: {
      Obj o(j, path, {"type", "certificate", "kind", "reason"});
      return ledger::RevokeEvent{Str(o, "certificate"), Enum(kRevocationKinds, o, "kind"),
                                 Str(o, "reason")};
    }
    case ledger::EventType::kTransfer: {
      Obj o(j, path, {"type", "certificate", "to_agency"});
      return ledger::TransferEvent{Str(o, "certificate"), Str(o, "to_agency")};
    }
    case ledger::EventType::kRegisterAgency: {
      Obj o(j, path, {"type", "agency"});
      return ledger::RegisterAgencyEvent{DecodeAgency(o.At("agency"), o.PathOf("agency"))};
    }
    case ledger::EventType::kUpdateValidators: {
      Obj o(j, path, {"type", "validators"});
      return ledger::UpdateValidatorsEvent{
          DecodeValidatorSet(o.At("validators"), o.PathOf("validators"))};
    }
    case ledger::EventType::kDuplicateVote: {
      Obj o(j, path, {"type", "first", "second"});
      auto vote = [&](std::string_view k) {
        Obj v(o.At(k), o.PathOf(k),
              {"type", "height", "round", "block_id", "validator", "signature"});
        ledger::SignedVote out;
        const std::string vt = Str(v, "type");
        if (vt == "prevote") {
          out.type = ledger::VoteType::kPrevote;
        } else if (vt == "precommit") {
          out.type = ledger::VoteType::kPrecommit;
        } else {
          throw DecodeError{v.PathOf("type"), "expected prevote or precommit"};
        }
        out.height = U64(v, "height");
        out.round = U32(v, "round");
        if (v.Has("block_id") && !v.At("block_id").is_null()) out.block_id = Hash(v, "block_id");
        out.validator = Key(v, "validator");
        out.signature = Sig(v.At("signature"), v.PathOf("signature"));
        return out;
      };
      return ledger::DuplicateVoteEvent{vote("first"), vote("second")};
    }
  }
  throw DecodeError{Join(path, "type"), "unsupported event type"};
}

ledger::Transaction DecodeTransaction(const Json& j, const std::string& path) {
  Obj o(j, path, {"chain_id", "agency", "sequence", "event"});
  ledger::Transaction v;
  v.chain_id = Str(o, "chain_id");
  v.agency = Str(o, "agency");
  v.sequence = U64(o, "sequence");
  v.event = DecodeEvent(o.At("event"), o.PathOf("event"));
  return v;
}

// The binary codec reads public keys as 32 bytes; the JSON form checks that each is a point on
// the curve. So that both forms accept exactly the same transactions, the `encoded` form checks
// every key the transaction carries the same way (an outside fuzzing finding: an off-curve
// signer key was accepted in `encoded` form only).
void CheckKeysOnCurve(const ledger::SignedTransaction& stx, const std::string& path) {
  auto check = [&](const ledger::PublicKey& k, const std::string& what) {
    if (!ledger::PublicKey::Parse(k.span())) {
      throw DecodeError{path, what + ": not a 32-byte x-only secp256k1 public key"};
    }
  };
  for (size_t i = 0; i < stx.signatures.size(); ++i) {
    check(stx.signatures[i].signer, "signatures[" + std::to_string(i) + "].signer");
  }
  if (const auto* r = std::get_if<ledger::RegisterAgencyEvent>(&stx.tx.event)) {
    for (size_t i = 0; i < r->agency.issuing_keys.size(); ++i) {
      check(r->agency.issuing_keys[i], "tx.event.agency.issuing_keys[" + std::to_string(i) + "]");
    }
  } else if (const auto* u = std::get_if<ledger::UpdateValidatorsEvent>(&stx.tx.event)) {
    for (size_t i = 0; i < u->validators.validators.size(); ++i) {
      check(u->validators.validators[i].key, "tx.event.validators[" + std::to_string(i) + "].key");
      check(u->validators.validators[i].node_key,
            "tx.event.validators[" + std::to_string(i) + "].node_key");
    }
  } else if (const auto* d = std::get_if<ledger::DuplicateVoteEvent>(&stx.tx.event)) {
    check(d->first.validator, "tx.event.first.validator");
    check(d->second.validator, "tx.event.second.validator");
  }
}

ledger::SignedTransaction DecodeSignedTransaction(const Json& j, const std::string& path) {
  if (j.is_object() && j.contains("encoded")) {
    Obj o(j, path, {"encoded", "hash"});
    ledger::Bytes bytes = HexBytes(o.At("encoded"), o.PathOf("encoded"));
    auto stx = ledger::Decode<ledger::SignedTransaction>(bytes);
    if (!stx.ok()) throw DecodeError{o.PathOf("encoded"), stx.status().message()};
    CheckKeysOnCurve(*stx, o.PathOf("encoded"));
    if (o.Has("hash") && Hash(o, "hash") != ledger::TxHash(stx->tx)) {
      throw DecodeError{o.PathOf("hash"), "does not match the transaction"};
    }
    return std::move(stx).value();
  }
  Obj o(j, path, {"hash", "tx", "signatures"});
  ledger::SignedTransaction v;
  v.tx = DecodeTransaction(o.At("tx"), o.PathOf("tx"));
  const Json& sigs = Arr(o.At("signatures"), o.PathOf("signatures"));
  for (size_t i = 0; i < sigs.size(); ++i) {
    Obj s(sigs[i], Index(o.PathOf("signatures"), i), {"signer", "signature"});
    v.signatures.push_back({Key(s, "signer"), Sig(s.At("signature"), s.PathOf("signature"))});
  }
  if (o.Has("hash") && Hash(o, "hash") != ledger::TxHash(v.tx)) {
    throw DecodeError{o.PathOf("hash"), "does not match the transaction"};
  }
  return v;
}

ledger::BlockHeader DecodeHeader(const Json& j, const std::string& path) {
  Obj o(j, path,
        {"hash", "chain_id", "height", "time_ms", "previous_block_hash", "tx_root", "log_size",
         "log_root", "state_root", "validator_set_hash", "proposer"});
  ledger::BlockHeader v;
  v.chain_id = Str(o, "chain_id");
  v.height = U64(o, "height");
  v.time_ms = I64(o, "time_ms");
  v.previous_block_hash = Hash(o, "previous_block_hash");
  v.tx_root = Hash(o, "tx_root");
  v.log_size = U64(o, "log_size");
  v.log_root = Hash(o, "log_root");
  v.state_root = Hash(o, "state_root");
  v.validator_set_hash = Hash(o, "validator_set_hash");
  v.proposer = Key(o, "proposer");
  if (o.Has("hash") && Hash(o, "hash") != ledger::BlockHash(v)) {
    throw DecodeError{o.PathOf("hash"), "does not match the header"};
  }
  return v;
}

ledger::Block DecodeBlock(const Json& j, const std::string& path) {
  Obj o(j, path, {"header", "txs"});
  ledger::Block v;
  v.header = DecodeHeader(o.At("header"), o.PathOf("header"));
  const Json& txs = Arr(o.At("txs"), o.PathOf("txs"));
  for (size_t i = 0; i < txs.size(); ++i) {
    v.txs.push_back(DecodeSignedTransaction(txs[i], Index(o.PathOf("txs"), i)));
  }
  return v;
}

ledger::CommitCertificate DecodeCommit(const Json& j, const std::string& path) {
  Obj o(j, path, {"height", "round", "block_id", "signatures"});
  ledger::CommitCertificate v;
  v.height = U64(o, "height");
  v.round = U32(o, "round");
  v.block_id = Hash(o, "block_id");
  const Json& sigs = Arr(o.At("signatures"), o.PathOf("signatures"));
  for (size_t i = 0; i < sigs.size(); ++i) {
    Obj s(sigs[i], Index(o.PathOf("signatures"), i), {"validator", "signature"});
    v.signatures.push_back({Key(s, "validator"), Sig(s.At("signature"), s.PathOf("signature"))});
  }
  return v;
}

ledger::VersionRecord DecodeVersion(const Json& j, const std::string& path) {
  Obj o(j, path, {"version", "document_hash"});
  return ledger::VersionRecord{U32(o, "version"), Hash(o, "document_hash")};
}

ledger::HistoryEntry DecodeHistory(const Json& j, const std::string& path) {
  Obj o(j, path, {"type", "height", "log_index", "tx_hash", "time_ms"});
  ledger::HistoryEntry v;
  std::string type = Str(o, "type");
  bool found = false;
  for (auto e : kEventTypes) {
    if (type == ledger::EventTypeName(e)) {
      v.type = e;
      found = true;
    }
  }
  if (!found) throw DecodeError{o.PathOf("type"), "unknown event type"};
  v.height = U64(o, "height");
  v.log_index = U64(o, "log_index");
  v.tx_hash = Hash(o, "tx_hash");
  v.time_ms = I64(o, "time_ms");
  return v;
}

ledger::CertificateState DecodeCertificate(const Json& j, const std::string& path) {
  Obj o(j, path,
        {"base_id", "type", "issuer", "controller", "holder_commitment", "summary", "not_before",
         "not_after", "version", "status", "status_reason", "effective_status", "versions",
         "history"});
  ledger::CertificateState v;
  v.base_id = Str(o, "base_id");
  v.type = Enum(kCertTypes, o, "type");
  v.issuer = Str(o, "issuer");
  v.controller = Str(o, "controller");
  v.holder_commitment = Hash(o, "holder_commitment");
  v.summary = DecodeSummary(o.At("summary"), o.PathOf("summary"));
  v.not_before = I64(o, "not_before");
  v.not_after = I64(o, "not_after");
  v.version = U32(o, "version");
  v.status = Enum(kCertStatuses, o, "status");
  v.status_reason = Str(o, "status_reason");
  // effective_status depends on the reader's clock: informational, not decoded.
  const Json& versions = Arr(o.At("versions"), o.PathOf("versions"));
  for (size_t i = 0; i < versions.size(); ++i) {
    v.versions.push_back(DecodeVersion(versions[i], Index(o.PathOf("versions"), i)));
  }
  const Json& history = Arr(o.At("history"), o.PathOf("history"));
  for (size_t i = 0; i < history.size(); ++i) {
    v.history.push_back(DecodeHistory(history[i], Index(o.PathOf("history"), i)));
  }
  return v;
}

template <class T>
T DecodeRoot(const Json& j);

#define CERTLEDGER_DECODER(T, DECODE) \
  template <>                         \
  T DecodeRoot<T>(const Json& j) {    \
    return DECODE(j, "");             \
  }

CERTLEDGER_DECODER(ledger::Intake, DecodeIntake)
CERTLEDGER_DECODER(ledger::CertSummary, DecodeSummary)
CERTLEDGER_DECODER(ledger::Event, DecodeEvent)
CERTLEDGER_DECODER(ledger::Transaction, DecodeTransaction)
CERTLEDGER_DECODER(ledger::SignedTransaction, DecodeSignedTransaction)
CERTLEDGER_DECODER(ledger::Agency, DecodeAgency)
CERTLEDGER_DECODER(ledger::Validator, DecodeValidator)
CERTLEDGER_DECODER(ledger::ValidatorSet, DecodeValidatorSet)
CERTLEDGER_DECODER(ledger::BlockHeader, DecodeHeader)
CERTLEDGER_DECODER(ledger::Block, DecodeBlock)
CERTLEDGER_DECODER(ledger::CommitCertificate, DecodeCommit)
CERTLEDGER_DECODER(ledger::VersionRecord, DecodeVersion)
CERTLEDGER_DECODER(ledger::HistoryEntry, DecodeHistory)
CERTLEDGER_DECODER(ledger::CertificateState, DecodeCertificate)
#undef CERTLEDGER_DECODER

template <>
ledger::WaterPermitSummary DecodeRoot<ledger::WaterPermitSummary>(const Json& j) {
  return std::get<ledger::WaterPermitSummary>(DecodeSummary(j, ""));
}

}  // namespace

template <class T>
Result<T> FromJson(const Json& j) {
  try {
    return DecodeRoot<T>(j);
  } catch (const DecodeError& e) {
    return Status::InvalidArgument((e.path.empty() ? std::string("(root)") : e.path) + ": " +
                                   e.what);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("json: ") + e.what());
  }
}

Status CheckTransactionKeys(const ledger::SignedTransaction& stx) {
  try {
    CheckKeysOnCurve(stx, "");
    return Status::Ok();
  } catch (const DecodeError& e) {
    return Status::InvalidArgument(e.what);
  }
}

template Result<ledger::Intake> FromJson(const Json&);
template Result<ledger::WaterPermitSummary> FromJson(const Json&);
template Result<ledger::CertSummary> FromJson(const Json&);
template Result<ledger::Event> FromJson(const Json&);
template Result<ledger::Transaction> FromJson(const Json&);
template Result<ledger::SignedTransaction> FromJson(const Json&);
template Result<ledger::Agency> FromJson(const Json&);
template Result<ledger::Validator> FromJson(const Json&);
template Result<ledger::ValidatorSet> FromJson(const Json&);
template Result<ledger::BlockHeader> FromJson(const Json&);
template Result<ledger::Block> FromJson(const Json&);
template Result<ledger::CommitCertificate> FromJson(const Json&);
template Result<ledger::VersionRecord> FromJson(const Json&);
template Result<ledger::HistoryEntry> FromJson(const Json&);
template Result<ledger::CertificateState> FromJson(const Json&);

Result<Json> ParseJson(std::string_view text, size_t max_depth) {
  auto cb = [&](int depth, nlohmann::json::parse_event_t, Json&) {
    if (depth > static_cast<int>(max_depth)) {
      throw DecodeError{"", "nested deeper than " + std::to_string(max_depth)};
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), cb);
  } catch (const DecodeError& e) {
    return Status::InvalidArgument(e.what);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(e.what());
  }
}

// ---- JsonWriter ---------------------------------------------------------------------------------

void JsonWriter::Value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_member_.empty()) {
    if (has_member_.back()) out_->push_back(',');
    has_member_.back() = true;
  }
}

JsonWriter& JsonWriter::BeginObject() {
  Value();
  out_->push_back('{');
  has_member_.push_back(false);
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  out_->push_back('}');
  has_member_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  Value();
  out_->push_back('[');
  has_member_.push_back(false);
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  out_->push_back(']');
  has_member_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view name) {
  Value();
  out_->push_back('"');
  out_->append(name);
  out_->append("\":");
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view s) {
  Value();
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
  });
  if (plain) {
    out_->push_back('"');
    out_->append(s);
    out_->push_back('"');
  } else {  // the library's own escaping and UTF-8 repair, so that the text is exactly dump()'s
    out_->append(Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  return *this;
}
JsonWriter& JsonWriter::Hex(ledger::ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  Value();
  const size_t at = out_->size();
  out_->resize(at + 2 + 2 * bytes.size());
  char* p = out_->data() + at;
  *p++ = '"';
  for (uint8_t b : bytes) {
    *p++ = kDigits[b >> 4];
    *p++ = kDigits[b & 0x0f];
  }
  *p = '"';
  return *this;
}
JsonWriter& JsonWriter::Uint(uint64_t v) {
  Value();
  out_->append(std::to_string(v));
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t v) {
  Value();
  out_->append(std::to_string(v));
  return *this;
}
JsonWriter& JsonWriter::Bool(bool v) {
  Value();
  out_->append(v ? "true" : "false");
  return *this;
}
JsonWriter& JsonWriter::Null() {
  Value();
  out_->append("null");
  return *this;
}
JsonWriter& JsonWriter::Raw(std::string_view text) {
  Value();
  out_->append(text);
  return *this;
}

}  // namespace certledger::api
