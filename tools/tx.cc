#include "tools/tx.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include "api/json.h"
#include "ledger/chain.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"
#include "tools/http_client.h"

namespace certledger::tools {

using ledger::Result;
using ledger::Status;
using Json = nlohmann::json;

const ChainInfo::AgencyInfo* ChainInfo::Find(const std::string& id) const {
  for (const auto& a : agencies) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

const ChainInfo::AgencyInfo* ChainInfo::FindByKey(const ledger::PublicKey& key) const {
  for (const auto& a : agencies) {
    if (std::find(a.issuing_keys.begin(), a.issuing_keys.end(), key) != a.issuing_keys.end()) {
      return &a;
    }
  }
  return nullptr;
}

namespace {

Result<Json> GetJson(HttpClient& client, const std::string& path) {
  auto r = client.Get(path);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return Status::Unavailable("GET " + path + ": HTTP " + std::to_string(r->status));
  }
  auto j = api::ParseJson(r->body, 64);
  if (!j.ok()) return Status::InvalidArgument("GET " + path + ": " + j.status().message());
  return j;
}

Status Bad(const std::string& flag, const std::string& what) {
  return Status::InvalidArgument("--" + flag + ": " + what);
}

// Request field access: strings (numbers are accepted where the flag is numeric).
bool Has(const Json& r, const char* k) { return r.contains(k) && !r[k].is_null(); }

Result<std::string> Text(const Json& r, const char* k) {
  if (!Has(r, k)) return Bad(k, "required");
  if (r[k].is_string()) return r[k].get<std::string>();
  if (r[k].is_number_integer()) return std::to_string(r[k].get<int64_t>());
  return Bad(k, "expected a string");
}

Result<int64_t> Date(const Json& r, const char* k) {
  auto s = Text(r, k);
  if (!s.ok()) return s.status();
  auto d = ParseDate(*s);
  if (!d) return Bad(k, "expected a date YYYY-MM-DD, got \"" + *s + "\"");
  return *d;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

Result<ledger::WaterSource> Source(const std::string& s) {
  if (s == "surface") return ledger::WaterSource::kSurface;
  if (s == "groundwater") return ledger::WaterSource::kGroundwater;
  return Bad("source", "surface or groundwater, got \"" + s + "\"");
}

Result<ledger::Intake> ParseIntake(const std::string& spec, ledger::WaterSource source) {
  auto parts = Split(spec, ',');
  if (parts.size() < 3 || parts.size() > 5 || parts[0].empty()) {
    return Bad("intake", "expected name,lon,lat[,state[,aquifer]], got \"" + spec + "\"");
  }
  ledger::Intake in;
  in.name = parts[0];
  auto lon = ParseMicroDegrees(parts[1]);
  auto lat = ParseMicroDegrees(parts[2]);
  if (!lon || *lon < -180000000 || *lon > 180000000) {
    return Bad("intake", "longitude \"" + parts[1] + "\": degrees -180..180, at most 6 decimals");
  }
  if (!lat || *lat < -90000000 || *lat > 90000000) {
    return Bad("intake", "latitude \"" + parts[2] + "\": degrees -90..90, at most 6 decimals");
  }
  in.longitude_e6 = *lon;
  in.latitude_e6 = *lat;
  in.source = source;
  if (parts.size() >= 4 && !parts[3].empty()) {
    if (parts[3] == "in-use") {
      in.state = ledger::IntakeState::kInUse;
    } else if (parts[3] == "emergency-backup") {
      in.state = ledger::IntakeState::kEmergencyBackup;
    } else if (parts[3] == "sealed") {
      in.state = ledger::IntakeState::kSealed;
    } else {
      return Bad("intake", "state \"" + parts[3] + "\": in-use, emergency-backup or sealed");
    }
  }
  if (parts.size() == 5) in.aquifer = parts[4];
  if (source == ledger::WaterSource::kSurface && !in.aquifer.empty()) {
    return Bad("intake", "a surface-water intake has no aquifer");
  }
  return in;
}

struct HolderSpec {
  ledger::HolderKind kind = ledger::HolderKind::kOrganisation;
  std::string name, id;
};

// Applies the summary flags present in `r` to `s`; for issue, required ones must be present.
Status ApplySummaryFlags(const Json& r, bool require, ledger::WaterPermitSummary* s) {
  auto text = [&](const char* k, std::string* field, bool required) -> Status {
    if (!Has(r, k)) return required && require ? Bad(k, "required") : Status::Ok();
    auto v = Text(r, k);
    if (!v.ok()) return v.status();
    *field = *v;
    return Status::Ok();
  };
  if (Status st = text("permit-number", &s->permit_number, true); !st.ok()) return st;
  if (Status st = text("purpose", &s->purpose, true); !st.ok()) return st;
  if (Status st = text("location", &s->location, true); !st.ok()) return st;
  if (Status st = text("division", &s->division, true); !st.ok()) return st;
  if (Status st = text("method", &s->method, false); !st.ok()) return st;
  if (Status st = text("return-location", &s->return_location, false); !st.ok()) return st;
  if (Has(r, "division") && !ledger::IsDivisionCode(s->division)) {
    return Bad("division", "expected a GB/T 2260 six-digit code, got \"" + s->division + "\"");
  }
  if (Has(r, "source")) {
    auto v = Text(r, "source");
    if (!v.ok()) return v.status();
    auto src = Source(*v);
    if (!src.ok()) return src.status();
    s->source = *src;
  }
  if (Has(r, "annual-quantity")) {
    auto v = Text(r, "annual-quantity");
    if (!v.ok()) return v.status();
    uint64_t q = 0;
    if (v->empty() || v->size() > 18 ||
        !std::all_of(v->begin(), v->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Bad("annual-quantity", "expected a positive integer (m3), got \"" + *v + "\"");
    }
    q = std::stoull(*v);
    if (q == 0) return Bad("annual-quantity", "must be > 0");
    s->annual_quantity_m3 = q;
  } else if (require) {
    return Bad("annual-quantity", "required");
  }
  if (Has(r, "intake")) {
    const Json& list = r["intake"];
    std::vector<std::string> specs;
    if (list.is_string()) {
      specs.push_back(list.get<std::string>());
    } else if (list.is_array()) {
      for (const auto& e : list) {
        if (!e.is_string()) return Bad("intake", "expected strings name,lon,lat[,state[,aquifer]]");
        specs.push_back(e.get<std::string>());
      }
    } else {
      return Bad("intake", "expected name,lon,lat[,state[,aquifer]]");
    }
    if (specs.size() > 64) return Bad("intake", "at most 64 intakes");
    s->intakes.clear();
    for (const auto& spec : specs) {
      auto in = ParseIntake(spec, s->source);
      if (!in.ok()) return in.status();
      s->intakes.push_back(*in);
    }
  }
  return Status::Ok();
}

Result<HolderSpec> HolderFlags(const Json& r, const HolderSpec& base, bool require) {
  HolderSpec h = base;
  if (Has(r, "holder-kind")) {
    auto v = Text(r, "holder-kind");
    if (!v.ok()) return v.status();
    if (*v == "organisation" || *v == "organization") {
      h.kind = ledger::HolderKind::kOrganisation;
    } else if (*v == "individual") {
      h.kind = ledger::HolderKind::kIndividual;
    } else {
      return Bad("holder-kind", "organisation or individual, got \"" + *v + "\"");
    }
  }
  for (auto [k, field] : {std::pair{"holder-name", &h.name}, std::pair{"holder-id", &h.id}}) {
    if (Has(r, k)) {
      auto v = Text(r, k);
      if (!v.ok()) return v.status();
      *field = *v;
    } else if (require) {
      return Bad(k, "required");
    }
  }
  if (h.name.empty()) return Bad("holder-name", "must not be empty");
  if (h.kind == ledger::HolderKind::kOrganisation && !ledger::IsCreditCodeSyntax(h.id)) {
    return Bad("holder-id", "an organisation's unified social credit code (18 characters)");
  }
  if (h.kind == ledger::HolderKind::kIndividual && (h.id.size() != 18 && h.id.size() != 15)) {
    return Bad("holder-id", "a citizen ID number (18 characters)");
  }
  return h;
}

ledger::Holder MakeHolder(const HolderSpec& h) {
  ledger::Holder holder;
  holder.id_type = h.kind == ledger::HolderKind::kOrganisation ? ledger::HolderIdType::kCreditCode
                                                               : ledger::HolderIdType::kCitizenId;
  holder.id_number = h.id;
  holder.name = h.name;
  ledger::RandomBytes(holder.salt.bytes);
  return holder;
}

// The public summary never holds an individual's name or number (FORMAT.md §5.4).
void PutHolderInSummary(const HolderSpec& h, ledger::WaterPermitSummary* s) {
  s->holder_kind = h.kind;
  if (h.kind == ledger::HolderKind::kOrganisation) {
    s->holder_name = h.name;
    s->holder_credit_code = h.id;
  } else {
    s->holder_name.clear();
    s->holder_credit_code.clear();
  }
}

// The names of the summary fields that differ (as in the JSON form).
std::vector<std::string> ChangedFields(const ledger::WaterPermitSummary& a,
                                       const ledger::WaterPermitSummary& b) {
  std::vector<std::string> out;
  if (a.permit_number != b.permit_number) out.emplace_back("permit_number");
  if (a.holder_kind != b.holder_kind) out.emplace_back("holder_kind");
  if (a.holder_name != b.holder_name) out.emplace_back("holder_name");
  if (a.holder_credit_code != b.holder_credit_code) out.emplace_back("holder_credit_code");
  if (a.source != b.source) out.emplace_back("source");
  if (a.annual_quantity_m3 != b.annual_quantity_m3) out.emplace_back("annual_quantity_m3");
  if (a.purpose != b.purpose) out.emplace_back("purpose");
  if (a.location != b.location) out.emplace_back("location");
  if (a.division != b.division) out.emplace_back("division");
  if (a.method != b.method) out.emplace_back("method");
  if (a.return_location != b.return_location) out.emplace_back("return_location");
  if (a.intakes != b.intakes) out.emplace_back("intakes");
  return out;
}

std::string RandomSerial(int64_t now_s) {
  // Upper-case letters and digits; unique enough per agency: time plus 32 random bits.
  std::array<uint8_t, 4> r{};
  ledger::RandomBytes(r);
  std::ostringstream o;
  o << "S" << now_s << std::hex << std::uppercase;
  for (uint8_t b : r) o << (b >> 4) << (b & 15);
  return o.str();
}

Result<std::string> CertificateOf(const Json& r, const TxBuildContext& ctx) {
  if (Has(r, "certificate")) {
    auto v = Text(r, "certificate");
    if (!v.ok()) return v.status();
    if (!ledger::IsValidBaseId(*v)) {
      std::string why;
      if (auto id = ledger::ParseCertificateId(*v, &why)) return id->Base();
      return Bad("certificate",
                 "expected a base identifier 1.2.156.3005.2.<type>.<issuer>."
                 "<serial> (or a full one), got \"" +
                     *v + "\"");
    }
    return *v;
  }
  if (ctx.previous) {
    auto id = ledger::ParseCertificateId(ctx.previous->identifier);
    if (!id) return Bad("doc", "the document's identifier does not parse");
    return id->Base();
  }
  return Bad("certificate", "required (or --doc)");
}

}  // namespace

std::optional<int64_t> ParseDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int y = std::stoi(s.substr(0, 4));
  const unsigned m = static_cast<unsigned>(std::stoi(s.substr(5, 2)));
  const unsigned d = static_cast<unsigned>(std::stoi(s.substr(8, 2)));
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                        std::chrono::day{d}};
  if (!ymd.ok() || y < 1970) return std::nullopt;
  const auto days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  return static_cast<int64_t>(days) * 86400 - 8 * 3600;
}

std::optional<int64_t> ParseMicroDegrees(const std::string& s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    i = 1;
  }
  int64_t whole = 0, frac = 0;
  int int_digits = 0, frac_digits = 0;
  for (; i < s.size() && s[i] != '.'; ++i) {
    if (s[i] < '0' || s[i] > '9' || ++int_digits > 3) return std::nullopt;
    whole = whole * 10 + (s[i] - '0');
  }
  if (i < s.size()) {
    for (++i; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9' || ++frac_digits > 6) return std::nullopt;
      frac = frac * 10 + (s[i] - '0');
    }
  }
  if (int_digits == 0) return std::nullopt;
  for (int k = frac_digits; k < 6; ++k) frac *= 10;
  const int64_t v = whole * 1000000 + frac;
  return negative ? -v : v;
}

Result<ChainInfo> FetchChainInfo(HttpClient& client) {
  auto g = GetJson(client, "/v1/genesis");
  if (!g.ok()) return g.status();
  if (!g->contains("genesis")) return Status::InvalidArgument("/v1/genesis: no genesis");
  auto genesis = ledger::ParseGenesisJson((*g)["genesis"].dump());
  if (!genesis.ok()) return Status::InvalidArgument("/v1/genesis: " + genesis.status().message());
  ChainInfo info;
  info.chain_id = genesis->params.chain_id;
  info.genesis_hash = ledger::GenesisHash(*genesis);
  info.type_code = genesis->params.water_permit_type_code;
  auto a = GetJson(client, "/v1/agencies");
  if (!a.ok()) return a.status();
  if (!a->contains("agencies") || !(*a)["agencies"].is_array()) {
    return Status::InvalidArgument("/v1/agencies: no agencies");
  }
  for (const auto& e : (*a)["agencies"]) {
    if (!e.is_object()) continue;
    ChainInfo::AgencyInfo ag;
    ag.id = e.value("id", "");
    ag.name = e.value("name", "");
    ag.sequence = e.value("sequence", uint64_t{0});
    for (const auto& k : e.value("issuing_keys", Json::array())) {
      if (!k.is_string()) continue;
      if (auto key = ledger::PublicKey::ParseHex(k.get<std::string>())) {
        ag.issuing_keys.push_back(*key);
      }
    }
    info.agencies.push_back(std::move(ag));
  }
  return info;
}

namespace {

// ---- one builder per action (TxActions) ---------------------------------------------------------

Status BuildIssue(const Json& r, const TxBuildContext& ctx, const ChainInfo::AgencyInfo& agency,
                  BuiltTx* out) {
  const ChainInfo& chain = *ctx.chain;
  ledger::WaterPermitSummary s;
  if (Status st = ApplySummaryFlags(r, /*require=*/true, &s); !st.ok()) return st;
  auto holder = HolderFlags(r, HolderSpec{}, /*require=*/true);
  if (!holder.ok()) return holder.status();
  PutHolderInSummary(*holder, &s);
  int64_t not_before = ctx.now_s - ctx.now_s % 86400 - 8 * 3600;  // today's date, CST-ish
  if (Has(r, "not-before")) {
    auto d = Date(r, "not-before");
    if (!d.ok()) return d.status();
    not_before = *d;
  }
  int64_t not_after = not_before + 5LL * 365 * 86400;
  if (Has(r, "not-after")) {
    auto d = Date(r, "not-after");
    if (!d.ok()) return d.status();
    not_after = *d;
  }
  if (not_after <= not_before) return Bad("not-after", "must be later than --not-before");
  std::string serial = RandomSerial(ctx.now_s);
  if (Has(r, "serial")) {
    auto v = Text(r, "serial");
    if (!v.ok()) return v.status();
    serial = *v;
  }
  ledger::CertificateId id{chain.type_code, agency.id, serial, 1};
  std::string why;
  if (!ledger::ParseCertificateId(id.Full(), &why)) {
    return Bad("serial", "1..32 upper-case letters and digits (" + why + ")");
  }
  ledger::CertificateDocument doc;
  doc.chain_id = chain.chain_id;
  doc.identifier = id.Full();
  doc.issuer = agency.id;
  doc.type = ledger::CertType::kWaterAbstractionPermit;
  doc.holder = MakeHolder(*holder);
  doc.not_before = not_before;
  doc.not_after = not_after;
  doc.issued_at = ctx.now_s;
  doc.summary = s;
  ledger::IssueEvent e;
  e.identifier = doc.identifier;
  e.document_hash = ledger::DocumentHash(doc);
  e.holder_commitment = ledger::HolderCommitment(doc.holder);
  e.not_before = not_before;
  e.not_after = not_after;
  e.summary = s;
  out->stx.tx.event = e;
  out->document = doc;
  return Status::Ok();
}

// The next version of the --doc document (change, renew): its identifier, issue time and link
// to the current version.
Result<ledger::CertificateDocument> NextVersion(const TxBuildContext& ctx) {
  if (!ctx.previous) return Bad("doc", "required: the current version's document");
  const ledger::CertificateDocument& prev = *ctx.previous;
  if (prev.chain_id != ctx.chain->chain_id) {
    return Bad("doc", "the document is for chain " + prev.chain_id + ", the node serves " +
                          ctx.chain->chain_id);
  }
  auto prev_id = ledger::ParseCertificateId(prev.identifier);
  if (!prev_id) return Bad("doc", "the document's identifier does not parse");
  if (prev_id->version >= 999) return Bad("doc", "version 999 is the last one");
  ledger::CertificateId next_id = *prev_id;
  next_id.version = prev_id->version + 1;
  ledger::CertificateDocument doc = prev;
  doc.identifier = next_id.Full();
  doc.issued_at = ctx.now_s;
  doc.previous_document = ledger::DocumentHash(prev);
  return doc;
}

Status BuildChange(const Json& r, const TxBuildContext& ctx, const ChainInfo::AgencyInfo&,
                   BuiltTx* out) {
  auto next = NextVersion(ctx);
  if (!next.ok()) return next.status();
  ledger::CertificateDocument doc = std::move(*next);
  const ledger::CertificateDocument& prev = *ctx.previous;
  const auto* prev_s = std::get_if<ledger::WaterPermitSummary>(&prev.summary);
  if (prev_s == nullptr) return Bad("doc", "not a water-abstraction permit");
  ledger::WaterPermitSummary s = *prev_s;
  if (Status st = ApplySummaryFlags(r, /*require=*/false, &s); !st.ok()) return st;
  std::optional<ledger::Hash256> holder_commitment;
  if (Has(r, "holder-kind") || Has(r, "holder-name") || Has(r, "holder-id")) {
    HolderSpec base{prev_s->holder_kind, prev.holder.name, prev.holder.id_number};
    auto holder = HolderFlags(r, base, /*require=*/false);
    if (!holder.ok()) return holder.status();
    PutHolderInSummary(*holder, &s);
    if (holder->name != prev.holder.name || holder->id != prev.holder.id_number ||
        holder->kind != prev_s->holder_kind) {
      doc.holder = MakeHolder(*holder);
      holder_commitment = ledger::HolderCommitment(doc.holder);
    }
  }
  doc.summary = s;
  ledger::ChangeEvent e;
  e.identifier = doc.identifier;
  e.document_hash = ledger::DocumentHash(doc);
  e.holder_commitment = holder_commitment;
  e.summary = s;
  if (Has(r, "changed-fields")) {
    auto v = Text(r, "changed-fields");
    if (!v.ok()) return v.status();
    e.changed_fields = Split(*v, ',');
  } else {
    e.changed_fields = ChangedFields(*prev_s, s);
    if (holder_commitment && std::find(e.changed_fields.begin(), e.changed_fields.end(),
                                       "holder") == e.changed_fields.end()) {
      e.changed_fields.emplace_back("holder");
    }
  }
  if (e.changed_fields.empty()) {
    return Status::InvalidArgument(
        "change: nothing changed (give at least one summary or holder flag)");
  }
  out->stx.tx.event = e;
  out->document = doc;
  return Status::Ok();
}

Status BuildRenew(const Json& r, const TxBuildContext& ctx, const ChainInfo::AgencyInfo&,
                  BuiltTx* out) {
  auto next = NextVersion(ctx);
  if (!next.ok()) return next.status();
  ledger::CertificateDocument doc = std::move(*next);
  if (!Has(r, "not-after")) return Bad("not-after", "required: the new end of validity");
  auto d = Date(r, "not-after");
  if (!d.ok()) return d.status();
  if (*d <= ctx.previous->not_after) return Bad("not-after", "must be later than the current end");
  doc.not_after = *d;
  ledger::RenewEvent e;
  e.identifier = doc.identifier;
  e.document_hash = ledger::DocumentHash(doc);
  e.not_after = *d;
  out->stx.tx.event = e;
  out->document = doc;
  return Status::Ok();
}

// The certificate a status event (suspend, resume, revoke, transfer) is about, and its reason.
struct StatusTarget {
  std::string certificate;  // base identifier
  std::string reason;
};
Result<StatusTarget> TargetOf(const Json& r, const TxBuildContext& ctx, const char* action,
                              bool reason_required) {
  auto cert = CertificateOf(r, ctx);
  if (!cert.ok()) return cert.status();
  StatusTarget t{*cert, ""};
  if (Has(r, "reason")) {
    auto v = Text(r, "reason");
    if (!v.ok()) return v.status();
    t.reason = *v;
  }
  if (reason_required && t.reason.empty()) {
    return Bad("reason", std::string("required for ") + action);
  }
  if (t.reason.size() > 1024) return Bad("reason", "at most 1024 bytes");
  return t;
}

Status BuildSuspend(const Json& r, const TxBuildContext& ctx, const ChainInfo::AgencyInfo&,
                    BuiltTx* out) {
  auto t = TargetOf(r, ctx, "suspend", /*reason_required=*/true);
  if (!t.ok()) return t.status();
  out->stx.tx.event = ledger::SuspendEvent{t->certificate, t->reason};
  return Status::Ok();
}

Status BuildResume(const Json& r, const TxBuildContext& ctx, const ChainInfo::AgencyInfo&,
                   BuiltTx* out) {
  auto t = TargetOf(r, ctx, "resume", /*reason_required=*/false);
  if (!t.ok()) return t.status();
  out->stx.tx.event = ledger::ResumeEvent{t->certificate, t->reason};
  return Status::Ok();
}

Status BuildRevoke(const Json& r, const TxBuildContext& ctx, const ChainInfo::AgencyInfo&,
                   BuiltTx* out) {
  auto t = TargetOf(r, ctx, "revoke", /*reason_required=*/true);
  if (!t.ok()) return t.status();
  ledger::RevokeEvent e{t->certificate, ledger::RevocationKind::kRevoked, t->reason};
  if (Has(r, "kind")) {
    auto v = Text(r, "kind");
    if (!v.ok()) return v.status();
    if (*v == "withdrawn") {
      e.kind = ledger::RevocationKind::kWithdrawn;
    } else if (*v == "cancelled") {
      e.kind = ledger::RevocationKind::kCancelled;
    } else if (*v == "revoked") {
      e.kind = ledger::RevocationKind::kRevoked;
    } else {
      return Bad("kind",
                 "withdrawn (撤销), cancelled (注销) or revoked (吊销), got \"" + *v + "\"");
    }
  }
  out->stx.tx.event = e;
  return Status::Ok();
}

Status BuildTransfer(const Json& r, const TxBuildContext& ctx, const ChainInfo::AgencyInfo& agency,
                     BuiltTx* out) {
  // A reason is not part of a transfer; one given in --json is still checked, as for the others.
  auto t = TargetOf(r, ctx, "transfer", /*reason_required=*/false);
  if (!t.ok()) return t.status();
  const ChainInfo& chain = *ctx.chain;
  auto to = Text(r, "to-agency");
  if (!to.ok()) return to.status();
  if (chain.Find(*to) == nullptr) return Bad("to-agency", "no agency " + *to);
  if (*to == agency.id) return Bad("to-agency", "must differ from the acting agency");
  if (!ctx.cosign_key) return Bad("cosign-key", "required: the receiving agency's key");
  const auto* receiver = chain.Find(*to);
  if (std::find(receiver->issuing_keys.begin(), receiver->issuing_keys.end(),
                ctx.cosign_key->public_key()) == receiver->issuing_keys.end()) {
    return Bad("cosign-key", "not an issuing key of " + *to);
  }
  out->stx.tx.event = ledger::TransferEvent{t->certificate, *to};
  return Status::Ok();
}

bool TakesCosignKey(const TxAction& a) {
  return std::any_of(a.flags.begin(), a.flags.end(),
                     [](const TxFlag& f) { return f.kind == TxFlag::Kind::kCosignKey; });
}

}  // namespace

const std::vector<TxAction>& TxActions() {
  static const std::vector<TxAction> actions = [] {
    using Kind = TxFlag::Kind;
    const std::vector<TxFlag> summary = {
        {"permit-number", "Permit number, e.g. B320115S2026-0001"},
        {"holder-kind", "organisation | individual"},
        {"holder-name", "Holder name (an individual's stays off the ledger)"},
        {"holder-id", "Holder's credit code (organisation) or citizen ID number (individual)"},
        {"source", "surface | groundwater"},
        {"annual-quantity", "Permitted annual quantity, m3"},
        {"purpose", "Purpose, e.g. 城镇公共供水"},
        {"location", "Abstraction location"},
        {"division", "GB/T 2260 division code of the location"},
        {"method", "Abstraction method"},
        {"return-location", "Return-flow location"},
        {"intake", "Intake name,lon,lat[,state[,aquifer]] (repeatable)", Kind::kList},
    };
    const TxFlag out{"out", "Where to write the new document (default <serial>-vNNN.json)",
                     Kind::kOut};
    const TxFlag doc{"doc", "The certificate's current document JSON", Kind::kDoc};
    const TxFlag not_after{"not-after", "End of validity YYYY-MM-DD"};
    const TxFlag certificate{"certificate", "Base identifier (or --doc)"};
    const TxFlag reason{"reason", "Reason"};
    auto join = [](std::vector<TxFlag> a, const std::vector<TxFlag>& b,
                   const std::vector<TxFlag>& c) {
      a.insert(a.end(), b.begin(), b.end());
      a.insert(a.end(), c.begin(), c.end());
      return a;
    };
    return std::vector<TxAction>{
        {"issue", "Issue a new water-abstraction permit (writes the holder's document)",
         join({out}, summary,
              {{"serial", "Certificate serial (upper-case letters and digits; default random)"},
               {"not-before", "Start of validity YYYY-MM-DD (default today)"},
               not_after}),
         BuildIssue},
        {"change", "Change a permit: the next version (--doc CURRENT.json)",
         join({out, doc}, summary, {{"changed-fields", "Comma list (default: computed)"}}),
         BuildChange},
        {"renew",
         "Renew a permit: the next version with a later --not-after (--doc CURRENT.json)",
         {out, doc, not_after},
         BuildRenew},
        {"suspend", "Suspend a permit (暂扣)", {doc, certificate, reason}, BuildSuspend},
        {"resume", "Lift a suspension (暂扣发还)", {doc, certificate, reason}, BuildResume},
        {"revoke",
         "Revoke (吊销), cancel (注销) or withdraw (撤销) a permit",
         {doc,
          certificate,
          reason,
          {"kind", "revoked (吊销, default) | cancelled (注销) | withdrawn (撤销)"}},
         BuildRevoke},
        {"transfer",
         "Transfer a permit to another agency (--cosign-key of the receiver)",
         {doc,
          certificate,
          {"to-agency", "Receiving agency id"},
          {"cosign-key", "The receiving agency's issuing key file", Kind::kCosignKey}},
         BuildTransfer},
    };
  }();
  return actions;
}

Result<BuiltTx> BuildTx(const std::string& action, const Json& r, const TxBuildContext& ctx) {
  if (ctx.chain == nullptr) return Status::InvalidArgument("no chain information");
  if (!r.is_object()) return Status::InvalidArgument("--json: expected a JSON object");
  const ChainInfo& chain = *ctx.chain;

  // The acting agency and its sequence.
  const ChainInfo::AgencyInfo* agency = nullptr;
  if (ctx.agency) {
    agency = chain.Find(*ctx.agency);
    if (agency == nullptr) return Bad("agency", "no agency " + *ctx.agency + " on this chain");
  } else {
    agency = chain.FindByKey(ctx.key.public_key());
    if (agency == nullptr) {
      return Bad("key", "key " + ctx.key.public_key().Hex() +
                            " is no agency's issuing key on this chain (give --agency)");
    }
  }
  BuiltTx out;
  ledger::Transaction& tx = out.stx.tx;
  tx.chain_id = chain.chain_id;
  tx.agency = agency->id;
  tx.sequence = ctx.sequence ? *ctx.sequence : agency->sequence + 1;

  const auto& actions = TxActions();
  const auto it = std::find_if(actions.begin(), actions.end(),
                               [&](const TxAction& a) { return action == a.name; });
  if (it == actions.end()) {
    std::string names;
    for (const TxAction& a : actions) names += (names.empty() ? "" : ", ") + std::string(a.name);
    return Status::InvalidArgument("unknown action " + action + " (" + names + ")");
  }
  if (Status st = it->build(r, ctx, *agency, &out); !st.ok()) return st;

  // Signatures in strictly ascending signer-key order (FORMAT.md §5.1).
  const ledger::Hash256 digest = ledger::TxSigningDigest(tx, chain.genesis_hash);
  out.stx.signatures.push_back({ctx.key.public_key(), ctx.key.Sign(digest)});
  if (ctx.cosign_key && TakesCosignKey(*it) &&
      ctx.cosign_key->public_key() != ctx.key.public_key()) {
    out.stx.signatures.push_back({ctx.cosign_key->public_key(), ctx.cosign_key->Sign(digest)});
  }
  std::sort(out.stx.signatures.begin(), out.stx.signatures.end(),
            [](const ledger::TxSignature& a, const ledger::TxSignature& b) {
              return a.signer < b.signer;
            });
  return out;
}

Result<SubmitResult> SubmitTx(HttpClient& client, const ledger::SignedTransaction& stx,
                              int wait_ms) {
  // Submitted without ?wait=commit, then GET /v1/tx/{hash} is polled: a node that answers a
  // waited submission late (or never) cannot hold the tool beyond `wait_ms`.
  const Json body{{"encoded", ledger::ToHex(ledger::Encode(stx))}};
  auto r = client.Post("/v1/tx", body.dump());
  if (!r.ok()) return r.status();
  SubmitResult out;
  out.http_status = r->status;
  out.tx_hash = ledger::TxHash(stx.tx).Hex();
  auto parse = [&out](const std::string& text) {
    Json j = Json::parse(text, nullptr, false);
    if (!j.is_object()) return false;
    if (j.contains("error") && j["error"].is_object()) {
      out.state = "rejected";
      out.reason = j["error"].value("code", "");
      out.message = j["error"].value("message", "");
      return true;
    }
    out.state = j.value("state", "");
    if (out.state == "rejected") {
      out.reason = j.value("reason", "");
      out.message = j.value("message", "");
    }
    out.height = j.value("height", uint64_t{0});
    out.log_index = j.value("log_index", uint64_t{0});
    return true;
  };
  if (!parse(r->body)) {
    return Status::Unavailable("POST /v1/tx: HTTP " + std::to_string(r->status) +
                               " with a non-JSON body");
  }
  if (out.state == "rejected" || out.state == "committed") return out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto g = client.Get("/v1/tx/" + out.tx_hash);
    if (!g.ok()) continue;
    if (g->status == 200 && parse(g->body) &&
        (out.state == "committed" || out.state == "rejected")) {
      return out;
    }
  }
  out.state = "pending";
  return out;
}

}  // namespace certledger::tools
