#include "api/verify_status.h"

#include <iterator>
#include <utility>

#include "api/json.h"

namespace certledger::api {

namespace {

// One row per status: its name in the answer and the label a person reads.
struct Row {
  VerifyStatus status;
  const char* name;
  StatusLabel label;
};
constexpr Row kRows[] = {
    {VerifyStatus::kValid, "valid", {"有效", "Valid"}},
    {VerifyStatus::kSuperseded, "superseded", {"已被新版本取代", "Superseded"}},
    {VerifyStatus::kSuspended, "suspended", {"暂扣", "Suspended"}},
    {VerifyStatus::kRevoked, "revoked", {"已吊销", "Revoked"}},
    {VerifyStatus::kExpired, "expired", {"已过期", "Expired"}},
    {VerifyStatus::kUnknown, "unknown", {"未找到", "Unknown"}},
};
static_assert(std::size(kRows) == static_cast<size_t>(VerifyStatus::kUnknown) + 1,
              "a row for every status");

const Row& RowOf(VerifyStatus s) {
  for (const Row& r : kRows) {
    if (r.status == s) return r;
  }
  return kRows[std::size(kRows) - 1];
}

// How a revoked certificate ended, where its stored status says more than "revoked".
constexpr std::pair<ledger::CertStatus, StatusLabel> kEndings[] = {
    {ledger::CertStatus::kCancelled, {"已注销", "Revoked (cancelled)"}},
    {ledger::CertStatus::kWithdrawn, {"已撤销", "Revoked (withdrawn)"}},
};

constexpr ledger::CertStatus kCertStatuses[] = {
    ledger::CertStatus::kValid, ledger::CertStatus::kSuspended, ledger::CertStatus::kWithdrawn,
    ledger::CertStatus::kCancelled, ledger::CertStatus::kRevoked};

}  // namespace

VerifyStatus DecideStatus(ledger::EffectiveStatus effective, bool superseded) {
  if (effective == ledger::EffectiveStatus::kRevoked) return VerifyStatus::kRevoked;
  if (superseded) return VerifyStatus::kSuperseded;
  if (effective == ledger::EffectiveStatus::kExpired) return VerifyStatus::kExpired;
  if (effective == ledger::EffectiveStatus::kSuspended) return VerifyStatus::kSuspended;
  return VerifyStatus::kValid;
}

VerifyStatus DecideStatus(const ledger::CertificateState& c, uint32_t version, int64_t now_ms) {
  return DecideStatus(ledger::EffectiveStatusAt(c, now_ms), version < c.version);
}

const char* VerifyStatusName(VerifyStatus s) { return RowOf(s).name; }

std::optional<VerifyStatus> ParseVerifyStatus(std::string_view name) {
  for (const Row& r : kRows) {
    if (name == r.name) return r.status;
  }
  return std::nullopt;
}

StatusLabel StatusLabelOf(VerifyStatus s, std::optional<ledger::CertStatus> stored) {
  if (s == VerifyStatus::kRevoked) {
    for (const auto& [status, label] : kEndings) {
      if (stored == status) return label;
    }
  }
  return RowOf(s).label;
}

StatusLabel StatusLabelOf(std::string_view status, std::string_view stored_status) {
  std::optional<ledger::CertStatus> stored;
  for (ledger::CertStatus c : kCertStatuses) {
    if (stored_status == CertStatusName(c)) stored = c;
  }
  return StatusLabelOf(ParseVerifyStatus(status).value_or(VerifyStatus::kUnknown), stored);
}

}  // namespace certledger::api
