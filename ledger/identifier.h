// Identifiers of the Chinese e-certificate standards, with their check characters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certledger::ledger {

// ISO/IEC 7064 MOD 37,36 check character over `s` (alphabet 0-9A-Z). nullopt if `s` holds any
// other character.
std::optional<char> Mod3736Check(std::string_view s);

// An e-certificate identifier (GB/T 36904-2018):
//   1.2.156.3005.2.<type code, 21>.<issuer code, 18>.<serial>.<version, 3 digits>.<check>
// The check character is MOD 37,36 over type + issuer + serial + version (no dots).
struct CertificateId {
  std::string type_code;    // 21 characters: defining authority's credit code + 3 digits
  std::string issuer_code;  // 18 characters: issuer's unified social credit code
  std::string serial;       // 1..32 upper-case letters and digits
  uint32_t version = 0;     // 1..999

  // "1.2.156.3005.2.<type>.<issuer>.<serial>": the identity shared by all versions.
  [[nodiscard]] std::string Base() const;
  // The full identifier with version and check character.
  [[nodiscard]] std::string Full() const;
};

// Parses and validates a full identifier, check character included. On failure returns nullopt
// and, if `why` is given, a short reason.
std::optional<CertificateId> ParseCertificateId(std::string_view full, std::string* why = nullptr);
// Validates a base identifier (no version, no check character).
bool IsValidBaseId(std::string_view base);

// Unified social credit code (GB 32100-2015): 18 characters of 0-9A-HJ-NPQRTUWXY.
// Syntax only: some legal pilot codes fail the check character, so callers warn rather than
// reject on a failed check.
bool IsCreditCodeSyntax(std::string_view code);
bool CreditCodeCheckOk(std::string_view code);

// GB/T 2260 administrative division code: six digits, a known province prefix.
bool IsDivisionCode(std::string_view code);

}  // namespace certledger::ledger
