// Canonical binary encoding: cereal archives with a fixed, documented byte layout.
//
// Internal header: include it only from .cc files that define a record's serialize() function,
// so that cereal stays out of the public headers. The byte layout is specified in
// docs/FORMAT.md §1 (primitives) and must not change without a format version bump:
//   - integers: fixed width, little-endian; bool: one byte, 0 or 1 (any other value is rejected)
//   - byte strings, text and sequences: u32 little-endian count, then the items
//   - optional: one byte 0 (absent) or 1 (present, then the value)
//   - enums: one byte, validated against the enum's known values (IsKnown(E))
//   - fixed-size byte arrays (hashes, keys, signatures): the raw bytes, no prefix
// Decoding rejects truncated input, trailing bytes, non-canonical bools, unknown enum values and
// any count larger than the bytes that remain (so a forged count cannot force an allocation).
#pragma once

#include <cereal/cereal.hpp>

#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/coding.h"
#include "ledger/status.h"

namespace certledger::ledger::codec {

// Thrown inside decoding only; DecodeRecord turns it into a Status at the edge.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Writer : public cereal::OutputArchive<Writer, cereal::AllowEmptyClassElision> {
 public:
  explicit Writer(Bytes* out) : OutputArchive(this), out_(out) {}
  void WriteRaw(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_->insert(out_->end(), p, p + n);
  }

 private:
  Bytes* out_;
};

class Reader : public cereal::InputArchive<Reader, cereal::AllowEmptyClassElision> {
 public:
  explicit Reader(ByteSpan in) : InputArchive(this), in_(in) {}
  void ReadRaw(void* data, size_t n) {
    if (n > in_.size() - pos_) {
      throw DecodeError("truncated input at offset " + std::to_string(pos_) + ": need " +
                        std::to_string(n) + " bytes, " + std::to_string(in_.size() - pos_) +
                        " left");
    }
    if (n != 0) std::memcpy(data, in_.data() + pos_, n);
    pos_ += n;
  }
  [[nodiscard]] size_t remaining() const { return in_.size() - pos_; }
  [[nodiscard]] size_t position() const { return pos_; }
  // Reads a u32 count and checks that at least `count * min_item_size` bytes remain.
  uint32_t ReadCount(size_t min_item_size);

 private:
  ByteSpan in_;
  size_t pos_ = 0;
};

inline uint32_t Reader::ReadCount(size_t min_item_size) {
  uint8_t b[4];
  ReadRaw(b, 4);
  const uint32_t n = DecodeFixed32(b);
  if (min_item_size > 0 && static_cast<uint64_t>(n) * min_item_size > remaining()) {
    throw DecodeError("length " + std::to_string(n) + " at offset " +
                      std::to_string(position() - 4) + " exceeds the " +
                      std::to_string(remaining()) + " bytes that remain");
  }
  return n;
}

// --- integers and bool --------------------------------------------------------------------------

template <class T>
requires std::is_integral_v<T>
void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    uint8_t b = v ? 1 : 0;
    w.WriteRaw(&b, 1);
  } else {
    uint8_t b[sizeof(T)];
    EncodeFixed(b, static_cast<std::make_unsigned_t<T>>(v));
    w.WriteRaw(b, sizeof(T));
  }
}

template <class T>
requires std::is_integral_v<T>
void CEREAL_LOAD_FUNCTION_NAME(Reader& r, T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    uint8_t b = 0;
    r.ReadRaw(&b, 1);
    if (b > 1) {
      throw DecodeError("non-canonical bool " + std::to_string(b) + " at offset " +
                        std::to_string(r.position() - 1));
    }
    v = b == 1;
  } else {
    uint8_t b[sizeof(T)];
    r.ReadRaw(b, sizeof(T));
    v = static_cast<T>(DecodeFixed<std::make_unsigned_t<T>>(b));
  }
}

// --- fixed-size byte arrays (Hash256, PublicKey, Signature derive from FixedBytes)
// ----------------

template <size_t N>
void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const FixedBytes<N>& v) {
  w.WriteRaw(v.bytes.data(), N);
}
template <size_t N>
void CEREAL_LOAD_FUNCTION_NAME(Reader& r, FixedBytes<N>& v) {
  r.ReadRaw(v.bytes.data(), N);
}

// --- strings and byte strings ------------------------------------------------------------------

inline void WriteCount(Writer& w, size_t n) {
  if (n > UINT32_MAX) throw std::length_error("sequence too long to encode");
  w(static_cast<uint32_t>(n));
}

inline void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const std::string& s) {
  WriteCount(w, s.size());
  w.WriteRaw(s.data(), s.size());
}
inline void CEREAL_LOAD_FUNCTION_NAME(Reader& r, std::string& s) {
  uint32_t n = r.ReadCount(1);
  s.resize(n);
  r.ReadRaw(s.data(), n);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const std::vector<T>& v) {
  WriteCount(w, v.size());
  if constexpr (std::is_same_v<T, uint8_t>) {
    w.WriteRaw(v.data(), v.size());
  } else {
    for (const T& item : v) w(item);
  }
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(Reader& r, std::vector<T>& v) {
  uint32_t n = r.ReadCount(1);  // every item takes at least one byte
  v.clear();
  if constexpr (std::is_same_v<T, uint8_t>) {
    v.resize(n);
    r.ReadRaw(v.data(), n);
  } else {
    // Grow as items actually decode: memory stays proportional to the input consumed.
    for (uint32_t i = 0; i < n; ++i) {
      T item{};
      r(item);
      v.push_back(std::move(item));
    }
  }
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const std::optional<T>& v) {
  w(v.has_value());
  if (v) w(*v);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(Reader& r, std::optional<T>& v) {
  bool present = false;
  r(present);
  if (present) {
    T item{};
    r(item);
    v = std::move(item);
  } else {
    v.reset();
  }
}

// --- enums: one byte, validated ----------------------------------------------------------------
// Each enum E used in a record provides `constexpr bool IsKnown(E)` in its own namespace.

template <class E>
struct EnumField {
  E& value;
};
template <class E>
EnumField<E> Enum(E& e) {
  static_assert(std::is_enum_v<E> && sizeof(E) == 1, "record enums are one byte");
  return {e};
}
template <class E>
void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const EnumField<E>& f) {
  w(static_cast<uint8_t>(f.value));
}
template <class E>
void CEREAL_LOAD_FUNCTION_NAME(Reader& r, EnumField<E>& f) {
  uint8_t raw = 0;
  r(raw);
  E e = static_cast<E>(raw);
  if (!IsKnown(e)) {
    throw DecodeError("unknown enum value " + std::to_string(raw) + " at offset " +
                      std::to_string(r.position() - 1));
  }
  f.value = e;
}

// A format version byte that must equal `expected`.
struct VersionTag {
  uint8_t expected;
};
inline void CEREAL_SAVE_FUNCTION_NAME(Writer& w, const VersionTag& v) { w(v.expected); }
inline void CEREAL_LOAD_FUNCTION_NAME(Reader& r, VersionTag& v) {
  uint8_t got = 0;
  r(got);
  if (got != v.expected) {
    throw DecodeError("unsupported format version " + std::to_string(got) + " at offset " +
                      std::to_string(r.position() - 1) + " (expected " +
                      std::to_string(v.expected) + ")");
  }
}

// --- entry points ------------------------------------------------------------------------------

template <class T>
Bytes EncodeRecord(const T& value) {
  Bytes out;
  out.reserve(512);  // most records (transactions, headers, states) fit: no regrowth
  Writer w(&out);
  w(const_cast<T&>(value));  // cereal's serialize() takes non-const; saving does not modify
  return out;
}

template <class T>
Result<T> DecodeRecord(ByteSpan in, const char* what) {
  try {
    Reader r(in);
    T value{};
    r(value);
    if (r.remaining() != 0) {
      return Status::InvalidArgument(std::string("decode ") + what + ": " +
                                     std::to_string(r.remaining()) + " trailing bytes");
    }
    return value;
  } catch (const DecodeError& e) {
    return Status::InvalidArgument(std::string("decode ") + what + ": " + e.what());
  } catch (const cereal::Exception& e) {
    return Status::InvalidArgument(std::string("decode ") + what + ": " + e.what());
  } catch (const std::length_error& e) {
    return Status::InvalidArgument(std::string("decode ") + what + ": " + e.what());
  }
}

}  // namespace certledger::ledger::codec

CEREAL_REGISTER_ARCHIVE(certledger::ledger::codec::Writer)
CEREAL_REGISTER_ARCHIVE(certledger::ledger::codec::Reader)
CEREAL_SETUP_ARCHIVE_TRAITS(certledger::ledger::codec::Reader, certledger::ledger::codec::Writer)
