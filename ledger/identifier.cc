#include "ledger/identifier.h"

#include <array>
#include <cstdio>

namespace certledger::ledger {

namespace {

constexpr std::string_view kPrefix = "1.2.156.3005.2.";
constexpr std::string_view kCreditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";

int Alnum36(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return -1;
}

bool IsUpperAlnum(std::string_view s) {
  for (char c : s)
    if (Alnum36(c) < 0) return false;
  return true;
}

bool Fail(std::string* why, const char* msg) {
  if (why) *why = msg;
  return false;
}

}  // namespace

std::optional<char> Mod3736Check(std::string_view s) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  int p = 36;
  for (char c : s) {
    int v = Alnum36(c);
    if (v < 0) return std::nullopt;
    p = (p + v) % 36;
    if (p == 0) p = 36;
    p = (2 * p) % 37;
  }
  return kAlphabet[(37 - p) % 36];
}

std::string CertificateId::Base() const {
  return std::string(kPrefix) + type_code + "." + issuer_code + "." + serial;
}

std::string CertificateId::Full() const {
  char ver[8];
  std::snprintf(ver, sizeof(ver), "%03u", version % 1000);
  std::string body = type_code + issuer_code + serial + ver;
  auto check = Mod3736Check(body);
  return Base() + "." + ver + "." + std::string(1, check.value_or('?'));
}

namespace {
bool ParseBase(std::string_view base, CertificateId* id, std::string* why) {
  if (base.substr(0, kPrefix.size()) != kPrefix) return Fail(why, "missing 1.2.156.3005.2. prefix");
  std::string_view rest = base.substr(kPrefix.size());
  std::array<std::string_view, 3> parts;
  for (size_t i = 0; i < 3; ++i) {
    size_t dot = rest.find('.');
    if (i < 2) {
      if (dot == std::string_view::npos) return Fail(why, "too few components");
      parts[i] = rest.substr(0, dot);
      rest = rest.substr(dot + 1);
    } else {
      if (dot != std::string_view::npos) return Fail(why, "too many components");
      parts[i] = rest;
    }
  }
  if (parts[0].size() != 21 || !IsUpperAlnum(parts[0]))
    return Fail(why, "type code must be 21 characters 0-9A-Z");
  if (parts[1].size() != 18 || !IsCreditCodeSyntax(parts[1]))
    return Fail(why, "issuer code must be an 18-character credit code");
  if (parts[2].empty() || parts[2].size() > 32 || !IsUpperAlnum(parts[2]))
    return Fail(why, "serial must be 1-32 characters 0-9A-Z");
  id->type_code = std::string(parts[0]);
  id->issuer_code = std::string(parts[1]);
  id->serial = std::string(parts[2]);
  return true;
}
}  // namespace

std::optional<CertificateId> ParseCertificateId(std::string_view full, std::string* why) {
  // <base>.<3-digit version>.<check>
  if (full.size() < 6) {
    Fail(why, "too short");
    return std::nullopt;
  }
  std::string_view check = full.substr(full.size() - 2);
  std::string_view ver = full.substr(full.size() - 6, 4);
  if (check[0] != '.' || ver[0] != '.') {
    Fail(why, "expected .<version>.<check> at the end");
    return std::nullopt;
  }
  CertificateId id;
  if (!ParseBase(full.substr(0, full.size() - 6), &id, why)) return std::nullopt;
  uint32_t v = 0;
  for (char c : ver.substr(1)) {
    if (c < '0' || c > '9') {
      Fail(why, "version must be three digits");
      return std::nullopt;
    }
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0) {
    Fail(why, "version must be 001 or later");
    return std::nullopt;
  }
  id.version = v;
  auto expected =
      Mod3736Check(id.type_code + id.issuer_code + id.serial + std::string(ver.substr(1)));
  if (!expected || *expected != check[1]) {
    Fail(why, "check character does not match (ISO/IEC 7064 MOD 37,36)");
    return std::nullopt;
  }
  return id;
}

bool IsValidBaseId(std::string_view base) {
  CertificateId id;
  return ParseBase(base, &id, nullptr);
}

bool IsCreditCodeSyntax(std::string_view code) {
  if (code.size() != 18) return false;
  for (char c : code)
    if (kCreditAlphabet.find(c) == std::string_view::npos) return false;
  return true;
}

bool CreditCodeCheckOk(std::string_view code) {
  if (!IsCreditCodeSyntax(code)) return false;
  static constexpr int kWeights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                       29, 25, 13, 8,  24, 10, 30, 28};
  int sum = 0;
  for (size_t i = 0; i < 17; ++i)
    sum += static_cast<int>(kCreditAlphabet.find(code[i])) * kWeights[i];
  int check = (31 - sum % 31) % 31;
  return kCreditAlphabet[static_cast<size_t>(check)] == code[17];
}

bool IsDivisionCode(std::string_view code) {
  if (code.size() != 6) return false;
  for (char c : code)
    if (c < '0' || c > '9') return false;
  static constexpr int kProvinces[] = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37,
                                       41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64,
                                       65,
                                       // 71 Taiwan, 81 Hong Kong, 82 Macao complete GB/T 2260.
                                       71, 81, 82};
  int prefix = (code[0] - '0') * 10 + (code[1] - '0');
  for (int p : kProvinces)
    if (p == prefix) return true;
  // The ministry and basin agencies use the national code 100000.
  return code == "100000";
}

}  // namespace certledger::ledger
