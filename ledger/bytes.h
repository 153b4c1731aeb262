// Byte strings and hex conversion shared by every module.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace certledger::ledger {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

// Lower-case hex of `data`.
std::string ToHex(ByteSpan data);
// Parses hex (either case, even length, no prefix). nullopt on any other input.
std::optional<Bytes> FromHex(std::string_view hex);
// The value of one hexadecimal digit (either case), or -1.
int HexDigitValue(char c);

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Fixed-size byte array with value semantics, ordering and hex conversion.
template <size_t N>
struct FixedBytes {
  std::array<uint8_t, N> bytes{};

  static constexpr size_t kSize = N;
  static std::optional<FixedBytes> FromSpan(ByteSpan s) {
    if (s.size() != N) return std::nullopt;
    FixedBytes out;
    for (size_t i = 0; i < N; ++i) out.bytes[i] = s[i];
    return out;
  }
  static std::optional<FixedBytes> FromHexString(std::string_view hex) {
    auto b = FromHex(hex);
    if (!b) return std::nullopt;
    return FromSpan(*b);
  }
  [[nodiscard]] std::string Hex() const { return ToHex(bytes); }
  [[nodiscard]] bool IsZero() const {
    for (uint8_t b : bytes)
      if (b != 0) return false;
    return true;
  }
  [[nodiscard]] const uint8_t* data() const { return bytes.data(); }
  uint8_t* data() { return bytes.data(); }
  [[nodiscard]] static constexpr size_t size() { return N; }
  [[nodiscard]] ByteSpan span() const { return bytes; }
  auto operator<=>(const FixedBytes&) const = default;
};

}  // namespace certledger::ledger
