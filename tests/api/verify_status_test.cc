#include "api/verify_status.h"

#include <gtest/gtest.h>

#include <string>

namespace certledger::api {
namespace {

using ledger::CertStatus;
using ledger::EffectiveStatus;

// The precedence of docs/API.md, every case: revoked > superseded > expired > suspended > valid.
TEST(VerifyStatusTest, PrecedenceTable) {
  struct Case {
    EffectiveStatus effective;
    bool superseded;
    VerifyStatus want;
  };
  const Case cases[] = {
      {EffectiveStatus::kValid, false, VerifyStatus::kValid},
      {EffectiveStatus::kValid, true, VerifyStatus::kSuperseded},
      {EffectiveStatus::kSuspended, false, VerifyStatus::kSuspended},
      {EffectiveStatus::kSuspended, true, VerifyStatus::kSuperseded},
      {EffectiveStatus::kExpired, false, VerifyStatus::kExpired},
      {EffectiveStatus::kExpired, true, VerifyStatus::kSuperseded},
      {EffectiveStatus::kRevoked, false, VerifyStatus::kRevoked},
      {EffectiveStatus::kRevoked, true, VerifyStatus::kRevoked},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DecideStatus(c.effective, c.superseded), c.want)
        << static_cast<int>(c.effective) << " superseded=" << c.superseded;
  }
}

// From a certificate's state: terminal statuses revoke every version; expiry is at not_after.
TEST(VerifyStatusTest, FromCertificateState) {
  ledger::CertificateState c;
  c.version = 2;
  c.not_after = 1000;  // seconds
  const int64_t before = 999'999, after = 1'000'000;
  EXPECT_EQ(DecideStatus(c, 2, before), VerifyStatus::kValid);
  EXPECT_EQ(DecideStatus(c, 1, before), VerifyStatus::kSuperseded);
  EXPECT_EQ(DecideStatus(c, 2, after), VerifyStatus::kExpired);
  EXPECT_EQ(DecideStatus(c, 1, after), VerifyStatus::kSuperseded);
  c.status = CertStatus::kSuspended;
  EXPECT_EQ(DecideStatus(c, 2, before), VerifyStatus::kSuspended);
  EXPECT_EQ(DecideStatus(c, 2, after), VerifyStatus::kExpired);
  for (CertStatus terminal :
       {CertStatus::kRevoked, CertStatus::kCancelled, CertStatus::kWithdrawn}) {
    c.status = terminal;
    EXPECT_EQ(DecideStatus(c, 1, before), VerifyStatus::kRevoked);
    EXPECT_EQ(DecideStatus(c, 2, after), VerifyStatus::kRevoked);
  }
}

TEST(VerifyStatusTest, NamesReadBack) {
  for (VerifyStatus s : {VerifyStatus::kValid, VerifyStatus::kSuperseded, VerifyStatus::kSuspended,
                         VerifyStatus::kRevoked, VerifyStatus::kExpired, VerifyStatus::kUnknown}) {
    EXPECT_EQ(ParseVerifyStatus(VerifyStatusName(s)), s);
  }
  EXPECT_EQ(std::string(VerifyStatusName(VerifyStatus::kSuperseded)), "superseded");
  EXPECT_FALSE(ParseVerifyStatus("Valid").has_value());
  EXPECT_FALSE(ParseVerifyStatus("").has_value());
}

std::string Line(StatusLabel l) { return std::string(l.zh) + " / " + l.en; }

// Chinese first, English second; a revoked certificate's label names how it ended.
TEST(VerifyStatusTest, Labels) {
  EXPECT_EQ(Line(StatusLabelOf(VerifyStatus::kValid, std::nullopt)), "有效 / Valid");
  EXPECT_EQ(Line(StatusLabelOf(VerifyStatus::kSuperseded, CertStatus::kValid)),
            "已被新版本取代 / Superseded");
  EXPECT_EQ(Line(StatusLabelOf(VerifyStatus::kSuspended, CertStatus::kSuspended)),
            "暂扣 / Suspended");
  EXPECT_EQ(Line(StatusLabelOf(VerifyStatus::kExpired, CertStatus::kValid)), "已过期 / Expired");
  EXPECT_EQ(Line(StatusLabelOf(VerifyStatus::kRevoked, CertStatus::kRevoked)), "已吊销 / Revoked");
  EXPECT_EQ(Line(StatusLabelOf(VerifyStatus::kRevoked, CertStatus::kCancelled)),
            "已注销 / Revoked (cancelled)");
  EXPECT_EQ(Line(StatusLabelOf(VerifyStatus::kRevoked, CertStatus::kWithdrawn)),
            "已撤销 / Revoked (withdrawn)");
  EXPECT_EQ(Line(StatusLabelOf(VerifyStatus::kUnknown, std::nullopt)), "未找到 / Unknown");
  // The same from an answer's names.
  EXPECT_EQ(Line(StatusLabelOf("revoked", "cancelled")), "已注销 / Revoked (cancelled)");
  EXPECT_EQ(Line(StatusLabelOf("revoked", "")), "已吊销 / Revoked");
  EXPECT_EQ(Line(StatusLabelOf("superseded", "withdrawn")), "已被新版本取代 / Superseded");
  EXPECT_EQ(Line(StatusLabelOf("nonsense", "")), "未找到 / Unknown");
}

}  // namespace
}  // namespace certledger::api
