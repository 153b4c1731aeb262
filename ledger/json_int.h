// Integers from JSON without nlohmann's silent conversions: get<T>() turns 1e300 into an
// out-of-range float-to-integer cast (undefined behaviour), -1 into 2^64 - 1 and 2.5 into 2.
// Only JSON integers within T's range are accepted.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

namespace certledger::ledger {

// Sets *out and returns an empty string, or returns why `v` is not an integer of type T.
template <class T>
std::string JsonToInteger(const nlohmann::json& v, T* out) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (!v.is_number_integer()) return "expected an integer";
  if (v.is_number_unsigned()) {
    const auto x = v.get<uint64_t>();
    if (!std::in_range<T>(x)) return "out of range";
    *out = static_cast<T>(x);
  } else {
    const auto x = v.get<int64_t>();
    if (!std::in_range<T>(x)) return "out of range";
    *out = static_cast<T>(x);
  }
  return {};
}

// For the generic field readers: integers through JsonToInteger, everything else with get<T>()
// (which throws nlohmann::json::exception on a wrong type).
template <class T>
std::string JsonTo(const nlohmann::json& v, T* out) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return JsonToInteger(v, out);
  } else {
    *out = v.get<T>();
    return {};
  }
}

}  // namespace certledger::ledger
