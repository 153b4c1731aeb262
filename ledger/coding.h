// Fixed-width integer coding in one place (as LevelDB's util/coding.h), so that no encoder or
// decoder writes its own loop of shifts.
//
// Every byte format of docs/FORMAT.md writes integers little-endian (§1.1): EncodeFixedNN,
// DecodeFixedNN and PutFixedNN. The BE forms are for LevelDB keys, whose integers are big-endian
// so that keys sort numerically (§12), and for Base45's byte pairs (RFC 9285).
//
// Encode / Decode work on a raw buffer that holds the integer's bytes (REQUIRES: that many bytes
// at the pointer); Put appends to a byte string (`Bytes` or `std::string`); `ByteReader` reads a
// byte string front to back and reports running out as a value, never reading past the end.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "ledger/bytes.h"

namespace certledger::ledger {

// ---- raw buffers ------------------------------------------------------------------------------

// Little-endian, any unsigned width (the canonical codec uses these for every integer type).
template <class T>
requires std::is_unsigned_v<T>
constexpr void EncodeFixed(uint8_t* dst, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}
template <class T>
requires std::is_unsigned_v<T>
constexpr T DecodeFixed(const uint8_t* src) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    v = static_cast<T>(v | (static_cast<T>(src[i]) << (8 * i)));
  return v;
}
// Big-endian, any unsigned width.
template <class T>
requires std::is_unsigned_v<T>
constexpr void EncodeFixedBE(uint8_t* dst, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    dst[i] = static_cast<uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
  }
}
template <class T>
requires std::is_unsigned_v<T>
constexpr T DecodeFixedBE(const uint8_t* src) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | src[i]);
  return v;
}

constexpr void EncodeFixed16(uint8_t* dst, uint16_t v) { EncodeFixed(dst, v); }
constexpr void EncodeFixed32(uint8_t* dst, uint32_t v) { EncodeFixed(dst, v); }
constexpr void EncodeFixed64(uint8_t* dst, uint64_t v) { EncodeFixed(dst, v); }
constexpr void EncodeFixed16BE(uint8_t* dst, uint16_t v) { EncodeFixedBE(dst, v); }
constexpr void EncodeFixed64BE(uint8_t* dst, uint64_t v) { EncodeFixedBE(dst, v); }

constexpr uint16_t DecodeFixed16(const uint8_t* src) { return DecodeFixed<uint16_t>(src); }
constexpr uint32_t DecodeFixed32(const uint8_t* src) { return DecodeFixed<uint32_t>(src); }
constexpr uint64_t DecodeFixed64(const uint8_t* src) { return DecodeFixed<uint64_t>(src); }
constexpr uint16_t DecodeFixed16BE(const uint8_t* src) { return DecodeFixedBE<uint16_t>(src); }
constexpr uint64_t DecodeFixed64BE(const uint8_t* src) { return DecodeFixedBE<uint64_t>(src); }

// ---- appending to a byte string ---------------------------------------------------------------

// The byte strings the formats are built in: `Bytes`, or `std::string` (LevelDB keys, HTTP
// bodies).
template <class Out>
concept ByteString = std::same_as<Out, Bytes> || std::same_as<Out, std::string>;

template <ByteString Out>
void PutRaw(Out* dst, const uint8_t* p, size_t n) {
  if constexpr (std::is_same_v<Out, std::string>) {
    dst->append(reinterpret_cast<const char*>(p), n);
  } else {
    // resize + copy rather than insert: GCC 12 sees a false overflow in an inlined insert of a
    // few bytes into an empty vector (-Wstringop-overflow).
    const size_t at = dst->size();
    dst->resize(at + n);
    if (n != 0) std::memcpy(dst->data() + at, p, n);
  }
}

// Appends `v` in sizeof(T) bytes, little-endian (or big-endian with kBigEndian).
template <class T, bool kBigEndian = false, ByteString Out>
requires std::is_unsigned_v<T>
void PutFixed(Out* dst, T v) {
  uint8_t b[sizeof(T)];
  if constexpr (kBigEndian) {
    EncodeFixedBE(b, v);
  } else {
    EncodeFixed(b, v);
  }
  PutRaw(dst, b, sizeof b);
}

template <ByteString Out>
void PutFixed16(Out* dst, uint16_t v) {
  PutFixed<uint16_t>(dst, v);
}
template <ByteString Out>
void PutFixed32(Out* dst, uint32_t v) {
  PutFixed<uint32_t>(dst, v);
}
template <ByteString Out>
void PutFixed64(Out* dst, uint64_t v) {
  PutFixed<uint64_t>(dst, v);
}
template <ByteString Out>
void PutFixed16BE(Out* dst, uint16_t v) {
  PutFixed<uint16_t, true>(dst, v);
}
template <ByteString Out>
void PutFixed64BE(Out* dst, uint64_t v) {
  PutFixed<uint64_t, true>(dst, v);
}

// A u32 little-endian length, then the bytes (FORMAT.md §1.3 for byte strings; the frames of
// POST /v1/txs, the parts of peer messages and of staples). REQUIRES: b.size() < 2^32.
template <ByteString Out>
void PutLengthPrefixed(Out* dst, ByteSpan b) {
  PutFixed32(dst, static_cast<uint32_t>(b.size()));
  PutRaw(dst, b.data(), b.size());
}

// ---- reading ----------------------------------------------------------------------------------

// Reads a byte string front to back. Every Get checks that enough bytes remain: if they do not,
// it returns false and consumes nothing (position() stays where the short read began, for the
// caller's message), so a decoder cannot read past the end. The input must outlive the reader
// and the spans it hands out.
class ByteReader {
 public:
  explicit ByteReader(ByteSpan in) : in_(in) {}

  [[nodiscard]] size_t position() const { return pos_; }
  [[nodiscard]] size_t remaining() const { return in_.size() - pos_; }
  [[nodiscard]] bool done() const { return pos_ == in_.size(); }

  [[nodiscard]] bool GetU8(uint8_t* v) { return GetInt(v); }
  [[nodiscard]] bool GetFixed16(uint16_t* v) { return GetInt(v); }
  [[nodiscard]] bool GetFixed32(uint32_t* v) { return GetInt(v); }
  [[nodiscard]] bool GetFixed64(uint64_t* v) { return GetInt(v); }
  // The next `n` bytes, as a view into the input.
  [[nodiscard]] bool GetBytes(size_t n, ByteSpan* out) {
    if (n > remaining()) return false;
    *out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // A hash, key or signature: its N raw bytes.
  template <size_t N>
  [[nodiscard]] bool GetFixedBytes(FixedBytes<N>* out) {
    if (N > remaining()) return false;
    for (size_t i = 0; i < N; ++i) out->bytes[i] = in_[pos_ + i];
    pos_ += N;
    return true;
  }
  // A u32 little-endian length, then that many bytes (PutLengthPrefixed's form).
  [[nodiscard]] bool GetLengthPrefixed(ByteSpan* out) {
    if (remaining() < 4) return false;
    const uint32_t n = DecodeFixed32(in_.data() + pos_);
    if (n > remaining() - 4) return false;
    *out = in_.subspan(pos_ + 4, n);
    pos_ += 4 + size_t{n};
    return true;
  }

 private:
  template <class T>
  bool GetInt(T* v) {
    if (sizeof(T) > remaining()) return false;
    *v = DecodeFixed<T>(in_.data() + pos_);
    pos_ += sizeof(T);
    return true;
  }

  ByteSpan in_;
  size_t pos_ = 0;
};

}  // namespace certledger::ledger
