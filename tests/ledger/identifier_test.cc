#include "ledger/identifier.h"

#include <gtest/gtest.h>

#include <string>

namespace certledger::ledger {
namespace {

// A real identifier from a public government system (DOMAIN.md); its check character is Y.
constexpr std::string_view kReal =
    "1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701.003.Y";
constexpr std::string_view kAlphabet36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

TEST(Mod3736Test, PublishedExample) {
  EXPECT_EQ(Mod3736Check("11100000000013338W011"
                         "11110000000021135M"
                         "20230329701"
                         "003"),
            'Y');
  // The empty string: p stays 36, check = (37 - 36) mod 36 = 1.
  EXPECT_EQ(Mod3736Check(""), '1');
  EXPECT_FALSE(Mod3736Check("abc").has_value());
  EXPECT_FALSE(Mod3736Check("A.B").has_value());
}

TEST(Mod3736Test, DetectsEverySingleSubstitution) {
  const std::string body = "11100000000013338W01111110000000021135M20230329701003";
  const char check = *Mod3736Check(body);
  for (size_t i = 0; i < body.size(); ++i) {
    for (char c : kAlphabet36) {
      if (c == body[i]) continue;
      std::string changed = body;
      changed[i] = c;
      EXPECT_NE(*Mod3736Check(changed), check) << "position " << i << " -> " << c;
    }
  }
}

TEST(CertificateIdTest, ParsesTheRealExample) {
  std::string why;
  auto id = ParseCertificateId(kReal, &why);
  ASSERT_TRUE(id.has_value()) << why;
  EXPECT_EQ(id->type_code, "11100000000013338W011");
  EXPECT_EQ(id->issuer_code, "11110000000021135M");
  EXPECT_EQ(id->serial, "20230329701");
  EXPECT_EQ(id->version, 3u);
  EXPECT_EQ(id->Base(), "1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701");
  EXPECT_EQ(id->Full(), kReal);
  EXPECT_TRUE(IsValidBaseId(id->Base()));
  EXPECT_FALSE(IsValidBaseId(kReal));
}

TEST(CertificateIdTest, RejectsEveryOtherCheckCharacter) {
  for (char c : std::string(kAlphabet36) + "y*.") {
    if (c == 'Y') continue;
    std::string s(kReal);
    s.back() = c;
    std::string why;
    EXPECT_FALSE(ParseCertificateId(s, &why).has_value()) << s;
    if (c != '.') {
      EXPECT_NE(why.find("check character"), std::string::npos) << why;
    }
  }
}

TEST(CertificateIdTest, RejectsBadVersions) {
  const std::string base = "1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701";
  for (std::string_view v : {"000", "0A3", "-03", " 03"}) {
    // Even with a check character computed over the bad version, parsing fails.
    std::string body = "11100000000013338W01111110000000021135M20230329701" + std::string(v);
    auto check = Mod3736Check(body);
    std::string full = base + "." + std::string(v) + "." + std::string(1, check.value_or('0'));
    std::string why;
    EXPECT_FALSE(ParseCertificateId(full, &why).has_value()) << full;
    EXPECT_NE(why.find("version"), std::string::npos) << why;
  }
  // Two or four version digits do not fit the layout.
  EXPECT_FALSE(ParseCertificateId(base + ".03.Y").has_value());
  EXPECT_FALSE(ParseCertificateId(base + ".0003.Y").has_value());
}

TEST(CertificateIdTest, RejectsWrongComponentLengths) {
  auto full_with_valid_check = [](const CertificateId& id) {
    // Full() computes the check character, so only the length can be wrong.
    return id.Full();
  };
  const CertificateId good{"11100000000013338W011", "11110000000021135M", "20230329701", 1};
  ASSERT_TRUE(ParseCertificateId(full_with_valid_check(good)).has_value());

  CertificateId id = good;
  id.type_code.pop_back();  // 20
  EXPECT_FALSE(ParseCertificateId(full_with_valid_check(id)).has_value());
  id.type_code = good.type_code + "0";  // 22
  EXPECT_FALSE(ParseCertificateId(full_with_valid_check(id)).has_value());
  id = good;
  id.issuer_code.pop_back();  // 17
  EXPECT_FALSE(ParseCertificateId(full_with_valid_check(id)).has_value());
  id.issuer_code = good.issuer_code + "0";  // 19
  EXPECT_FALSE(ParseCertificateId(full_with_valid_check(id)).has_value());
  id = good;
  id.serial = "";
  EXPECT_FALSE(ParseCertificateId(full_with_valid_check(id)).has_value());
  id.serial = std::string(33, '7');
  EXPECT_FALSE(ParseCertificateId(full_with_valid_check(id)).has_value());
  id.serial = std::string(32, '7');
  EXPECT_TRUE(ParseCertificateId(full_with_valid_check(id)).has_value());

  for (std::string_view bad :
       {"", "1.2", ".003.Y", "1.2.156.3005.2..003.Y",
        "1.2.156.3005.3.11100000000013338W011.11110000000021135M.20230329701.003.Y",
        "1.2.156.3005.2.11100000000013338W011.11110000000021135M.2023.0329701.003.Y",
        "1.2.156.3005.2.11100000000013338W011.11110000000021135M20230329701.003.Y",
        "1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701.003Y",
        "1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701.003.YY"}) {
    EXPECT_FALSE(ParseCertificateId(bad).has_value()) << bad;
  }
}

TEST(CertificateIdTest, RejectsLowerCase) {
  std::string lower(kReal);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_FALSE(ParseCertificateId(lower).has_value());
  std::string s(kReal);
  s.back() = 'y';
  EXPECT_FALSE(ParseCertificateId(s).has_value());
  // A lower-case serial, even with the upper-case form's check character.
  s = std::string(kReal);
  s.replace(s.find("W011"), 1, "w");
  EXPECT_FALSE(ParseCertificateId(s).has_value());
  // The issuer code's alphabet excludes I, O, S, V, Z.
  CertificateId bad{"11100000000013338W011", "1111000000002113SM", "1", 1};
  EXPECT_FALSE(ParseCertificateId(bad.Full()).has_value());
}

TEST(CertificateIdTest, FullRoundTripsThroughParse) {
  for (uint32_t version : {1u, 2u, 10u, 99u, 100u, 999u}) {
    for (std::string serial : {std::string("1"), std::string("ABCDEFG"), std::string(32, 'Z'),
                               std::string("20230329701")}) {
      CertificateId id{"11100000000013338W011", "11110000000021135M", serial, version};
      const std::string full = id.Full();
      std::string why;
      auto parsed = ParseCertificateId(full, &why);
      ASSERT_TRUE(parsed.has_value()) << full << ": " << why;
      EXPECT_EQ(parsed->type_code, id.type_code);
      EXPECT_EQ(parsed->issuer_code, id.issuer_code);
      EXPECT_EQ(parsed->serial, id.serial);
      EXPECT_EQ(parsed->version, version);
      EXPECT_EQ(parsed->Full(), full);
      EXPECT_EQ(
          full.substr(full.size() - 6, 4),
          "." + std::string(3 - std::to_string(version).size(), '0') + std::to_string(version));
    }
  }
}

TEST(CreditCodeTest, CheckCharacter) {
  EXPECT_TRUE(IsCreditCodeSyntax("12100000000133057R"));
  EXPECT_TRUE(CreditCodeCheckOk("12100000000133057R"));
  EXPECT_TRUE(CreditCodeCheckOk("11110000000021135M"));
  // Corrupted: a wrong check character, and a changed digit under the same check character.
  EXPECT_TRUE(IsCreditCodeSyntax("12100000000133057Q"));
  EXPECT_FALSE(CreditCodeCheckOk("12100000000133057Q"));
  EXPECT_FALSE(CreditCodeCheckOk("12100000000133058R"));
  EXPECT_FALSE(CreditCodeCheckOk("21100000000133057R"));  // transposition
  // Syntax: 18 characters of 0-9A-HJ-NPQRTUWXY, upper case only.
  for (std::string_view bad : {"", "12100000000133057", "12100000000133057R0", "12100000000133057r",
                               "1210000000013305IR", "1210000000013305OR", "1210000000013305SR",
                               "1210000000013305VR", "1210000000013305ZR", "12100000000133057 "}) {
    EXPECT_FALSE(IsCreditCodeSyntax(bad)) << bad;
    EXPECT_FALSE(CreditCodeCheckOk(bad)) << bad;
  }
}

TEST(CreditCodeTest, EveryCheckCharacterIsReachable) {
  // Exactly one of the 31 candidate check characters is right for any 17-character body.
  const std::string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  for (std::string body : {"12100000000133057", "91110108MA01B2C3D", "11110000000021135"}) {
    int ok = 0;
    for (char c : alphabet) ok += CreditCodeCheckOk(body + c) ? 1 : 0;
    EXPECT_EQ(ok, 1) << body;
  }
}

TEST(DivisionCodeTest, Provinces) {
  for (std::string_view ok :
       {"110000", "110108", "320000", "420000", "650000", "710000", "810000", "820000", "100000"}) {
    EXPECT_TRUE(IsDivisionCode(ok)) << ok;
  }
  for (std::string_view bad :
       {"", "000000", "990000", "160000", "11000", "1100000", "11000A", "a10000", "200000"}) {
    EXPECT_FALSE(IsDivisionCode(bad)) << bad;
  }
}

}  // namespace
}  // namespace certledger::ledger
