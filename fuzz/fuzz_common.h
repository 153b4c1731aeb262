// Shared by the fuzz targets: a check that aborts (libFuzzer saves the input as a crash), and the
// round-trip property every binary decoder must have: whatever Decode accepts, Encode gives back
// byte for byte (a decoder that accepts two encodings of one value lets a peer change a hash or a
// signed payload without changing its meaning).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "ledger/bytes.h"
#include "ledger/status.h"

namespace certledger::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* what,
                              const std::string& detail) {
  std::fprintf(stderr, "\n*** fuzz property violated at %s:%d: %s\n%s\n", file, line, what,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

inline ledger::ByteSpan Span(const uint8_t* data, size_t size) {
  // libFuzzer may pass a null pointer with size 0; a span over it is fine, but keep it explicit.
  return size == 0 ? ledger::ByteSpan() : ledger::ByteSpan(data, size);
}

inline bool SameBytes(ledger::ByteSpan a, ledger::ByteSpan b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Decode -> Encode must give the input back, and the value must decode again to itself.
// `decode` returns ledger::Result<T>, `encode` takes const T& and returns ledger::Bytes.
// Returns whether the input decoded.
template <class DecodeFn, class EncodeFn>
bool CheckRoundTrip(ledger::ByteSpan in, DecodeFn&& decode, EncodeFn&& encode, const char* what);

}  // namespace certledger::fuzz

#define FUZZ_CHECK(cond, detail)                                                \
  do {                                                                          \
    if (!(cond)) ::certledger::fuzz::Fail(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)

namespace certledger::fuzz {

template <class DecodeFn, class EncodeFn>
bool CheckRoundTrip(ledger::ByteSpan in, DecodeFn&& decode, EncodeFn&& encode, const char* what) {
  auto value = decode(in);
  if (!value.ok()) return false;
  const ledger::Bytes again = encode(*value);
  FUZZ_CHECK(SameBytes(again, in), std::string(what) +
                                       ": accepted input does not re-encode to itself\n input: " +
                                       ledger::ToHex(in) + "\n again: " + ledger::ToHex(again));
  auto twice = decode(ledger::ByteSpan(again));
  FUZZ_CHECK(twice.ok(), std::string(what) + ": re-encoding does not decode");
  using T = std::remove_cvref_t<decltype(*value)>;
  if constexpr (std::equality_comparable<T>) {
    FUZZ_CHECK(*twice == *value, std::string(what) + ": re-encoding decodes to another value");
  }
  return true;
}

}  // namespace certledger::fuzz
