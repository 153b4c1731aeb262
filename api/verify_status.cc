#include "api/verify_status.h"

#include "api/json.h"

namespace certledger::api {

namespace {

constexpr VerifyStatus kAll[] = {VerifyStatus::kValid,     VerifyStatus::kSuperseded,
                                 VerifyStatus::kSuspended, VerifyStatus::kRevoked,
                                 VerifyStatus::kExpired,   VerifyStatus::kUnknown};
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

const char* VerifyStatusName(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::kValid:
      return "valid";
    case VerifyStatus::kSuperseded:
      return "superseded";
    case VerifyStatus::kSuspended:
      return "suspended";
    case VerifyStatus::kRevoked:
      return "revoked";
    case VerifyStatus::kExpired:
      return "expired";
    case VerifyStatus::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::optional<VerifyStatus> ParseVerifyStatus(std::string_view name) {
  for (VerifyStatus s : kAll) {
    if (name == VerifyStatusName(s)) return s;
  }
  return std::nullopt;
}

StatusLabel StatusLabelOf(VerifyStatus s, std::optional<ledger::CertStatus> stored) {
  switch (s) {
    case VerifyStatus::kValid:
      return {"有效", "Valid"};
    case VerifyStatus::kSuperseded:
      return {"已被新版本取代", "Superseded"};
    case VerifyStatus::kSuspended:
      return {"暂扣", "Suspended"};
    case VerifyStatus::kExpired:
      return {"已过期", "Expired"};
    case VerifyStatus::kRevoked:
      if (stored == ledger::CertStatus::kCancelled) return {"已注销", "Revoked (cancelled)"};
      if (stored == ledger::CertStatus::kWithdrawn) return {"已撤销", "Revoked (withdrawn)"};
      return {"已吊销", "Revoked"};
    case VerifyStatus::kUnknown:
      break;
  }
  return {"未找到", "Unknown"};
}

StatusLabel StatusLabelOf(std::string_view status, std::string_view stored_status) {
  std::optional<ledger::CertStatus> stored;
  for (ledger::CertStatus c : kCertStatuses) {
    if (stored_status == CertStatusName(c)) stored = c;
  }
  return StatusLabelOf(ParseVerifyStatus(status).value_or(VerifyStatus::kUnknown), stored);
}

}  // namespace certledger::api
