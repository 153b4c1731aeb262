// JSON views of ledger records, for the HTTP API and the command-line tools.
//
// JSON is only a view: what is hashed and signed is the canonical binary encoding
// (docs/FORMAT.md). Conventions: hashes, keys and signatures are lower-case hex (decoding accepts
// either case); enums are lower-case names ("issue", "water-abstraction-permit", "in-use");
// integers are JSON integers (times in unix seconds or milliseconds, as the field name says).
// The forms are documented in docs/API.md.
//
// Decoding is strict: every required field must be present with the right JSON type, unknown
// fields are rejected, and the error names the field by its path, e.g.
// "tx.event.summary.division: expected a string". Derived fields that encoding adds for readers
// ("hash" of a transaction or header, "total_power" of a validator set) are optional on input
// and, when present, must match the value computed from the record.
//
// Thread safety: all functions are pure and may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ledger/state.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::api {

using Json = nlohmann::json;

// ---- records to JSON --------------------------------------------------------------------------

Json ToJson(const ledger::Intake& v);
Json ToJson(const ledger::WaterPermitSummary& v);
Json ToJson(const ledger::CertSummary& v);
Json ToJson(const ledger::Event& v);              // {"type": "issue", ...the event's fields}
Json ToJson(const ledger::Transaction& v);        // {"chain_id", "agency", "sequence", "event"}
Json ToJson(const ledger::SignedTransaction& v);  // {"hash", "tx", "signatures"}
Json ToJson(const ledger::Agency& v);
Json ToJson(const ledger::Validator& v);
Json ToJson(const ledger::ValidatorSet& v);  // {"hash", "total_power", "validators"}
Json ToJson(const ledger::BlockHeader& v);   // all fields, plus "hash" (the block id)
Json ToJson(const ledger::Block& v);         // {"header", "txs"}
Json ToJson(const ledger::CommitCertificate& v);
Json ToJson(const ledger::VersionRecord& v);
Json ToJson(const ledger::HistoryEntry& v);
// The stored record plus "effective_status" at `now_ms` (valid | suspended | revoked | expired).
Json ToJson(const ledger::CertificateState& v, int64_t now_ms);

// ---- JSON to records --------------------------------------------------------------------------

// Supported T: every type with a ToJson above. InvalidArgument names the offending field.
// For SignedTransaction two forms are accepted: the JSON form above, or
// {"encoded": "<hex of ledger::Encode(SignedTransaction)>"} (the exact signed bytes).
template <class T>
ledger::Result<T> FromJson(const Json& j);

// Every public key a transaction carries (signers, an agency's issuing keys, validator and node
// keys, evidence voters) must be a point on the curve; the binary codec reads them as 32 raw
// bytes. The JSON form, the `encoded` form and the octet-stream body all apply this check, so
// they accept exactly the same transactions. InvalidArgument names the first offending key.
ledger::Status CheckTransactionKeys(const ledger::SignedTransaction& stx);

// Parses JSON text. InvalidArgument (with the parser's position) for malformed text or nesting
// deeper than `max_depth`.
ledger::Result<Json> ParseJson(std::string_view text, size_t max_depth = 32);

// ---- canonical text without a tree ------------------------------------------------------------

// Appends canonical JSON text (docs/FORMAT.md §15: no whitespace, strings escaped exactly as
// Json::dump with error_handler_t::replace) straight to a string, for answers served at high
// rates. Member order is the caller's: canonical text needs the members of each object in key
// order (tests re-parse and re-serialise what the callers write to check it). Not thread-safe
// (one writer per string).
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // A member name: ASCII with nothing to escape.
  JsonWriter& Key(std::string_view name);
  JsonWriter& String(std::string_view s);
  JsonWriter& Hex(ledger::ByteSpan bytes);  // lower-case hex string
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // JSON text that is already canonical (e.g. a cached serialisation), as one value.
  JsonWriter& Raw(std::string_view text);

 private:
  void Value();  // the separator before a value
  std::string* out_;
  std::vector<bool> has_member_;  // per open object or array: something was written in it
  bool after_key_ = false;
};

// The summary written straight as canonical text (the same form as ToJson above).
void WriteJson(JsonWriter& w, const ledger::CertSummary& v);

// ---- enum names -------------------------------------------------------------------------------

const char* CertTypeName(ledger::CertType v);      // "water-abstraction-permit"
const char* CertStatusName(ledger::CertStatus v);  // "valid", "suspended", "withdrawn", ...
const char* EffectiveStatusName(ledger::EffectiveStatus v);  // "valid", "suspended", ...
const char* RevocationKindName(ledger::RevocationKind v);    // "withdrawn", "cancelled", "revoked"
const char* AgencyKindName(ledger::AgencyKind v);            // "province", "river-basin", ...
const char* WaterSourceName(ledger::WaterSource v);          // "surface", "groundwater"
const char* IntakeStateName(ledger::IntakeState v);          // "in-use", "emergency-backup", ...
const char* HolderKindName(ledger::HolderKind v);            // "organisation", "individual"

}  // namespace certledger::api
