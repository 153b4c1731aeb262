// The status of a verification answer, in one place for the API (GET /v1/verify, the
// verification page, staples) and for `certledger verify`: which status wins (docs/API.md), its
// name in the JSON answer, and the label a person reads (Chinese first, English second).
#pragma once

#include <optional>
#include <string_view>

#include "ledger/state.h"

namespace certledger::api {

// kUnknown stays last (verify_status.cc's table is checked against it).
enum class VerifyStatus { kValid, kSuperseded, kSuspended, kRevoked, kExpired, kUnknown };

// The precedence of docs/API.md: revoked (terminal, it applies to every version) > superseded >
// expired > suspended > valid. `superseded`: the version asked about is older than the
// certificate's current one.
VerifyStatus DecideStatus(ledger::EffectiveStatus effective, bool superseded);
// The status of version `version` of `c` at `now_ms`.
VerifyStatus DecideStatus(const ledger::CertificateState& c, uint32_t version, int64_t now_ms);

// "valid", "superseded", "suspended", "revoked", "expired", "unknown" (the answer's `status`).
const char* VerifyStatusName(VerifyStatus s);
std::optional<VerifyStatus> ParseVerifyStatus(std::string_view name);

// What a person reads. A revoked certificate's label says how it ended, from its stored status:
// 已注销 (cancelled), 已撤销 (withdrawn), else 已吊销 (revoked).
struct StatusLabel {
  const char* zh;
  const char* en;
};
StatusLabel StatusLabelOf(VerifyStatus s, std::optional<ledger::CertStatus> stored);
// The same from the answer's names (`status`, `stored_status`); an unknown name reads "unknown".
StatusLabel StatusLabelOf(std::string_view status, std::string_view stored_status);

}  // namespace certledger::api
