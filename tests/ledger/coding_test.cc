#include "ledger/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "ledger/crypto.h"

namespace certledger::ledger {
namespace {

// FORMAT.md §1.1: little-endian; §12: keys big-endian. Bytes written out by hand.
TEST(CodingTest, FixedLayouts) {
  Bytes b;
  PutFixed16(&b, 0x0102);
  PutFixed32(&b, 0x03040506);
  PutFixed64(&b, 0x0708090a0b0c0d0eULL);
  PutFixed16BE(&b, 0x0102);
  PutFixed64BE(&b, 0x0708090a0b0c0d0eULL);
  EXPECT_EQ(ToHex(b),
            "0201"
            "06050403"
            "0e0d0c0b0a090807"
            "0102"
            "0708090a0b0c0d0e");

  uint8_t raw[8];
  EncodeFixed32(raw, 0xdeadbeef);
  EXPECT_EQ(ToHex(ByteSpan(raw, 4)), "efbeadde");
  EncodeFixed64BE(raw, 1);
  EXPECT_EQ(ToHex(ByteSpan(raw, 8)), "0000000000000001");
  EncodeFixed16BE(raw, 0xabcd);
  EXPECT_EQ(DecodeFixed16BE(raw), 0xabcd);
  EXPECT_EQ(DecodeFixed16(raw), 0xcdab);
}

// The same bytes whether appended to Bytes or to std::string.
TEST(CodingTest, StringAndBytesAgree) {
  Bytes b;
  std::string s;
  PutFixed32(&b, 0x80ff0001);
  PutFixed32(&s, 0x80ff0001);
  PutFixed64BE(&b, 0x8000000000000001ULL);
  PutFixed64BE(&s, 0x8000000000000001ULL);
  PutLengthPrefixed(&b, AsBytes("xyz"));
  PutLengthPrefixed(&s, AsBytes("xyz"));
  EXPECT_EQ(ToHex(b), ToHex(AsBytes(s)));
  EXPECT_EQ(ToHex(b),
            "0100ff80"
            "8000000000000001"
            "03000000"
            "78797a");
}

TEST(CodingTest, RoundTripsAtTheBoundaries) {
  for (uint16_t v : {uint16_t{0}, uint16_t{1}, uint16_t{0x7fff}, uint16_t{0x8000},
                     std::numeric_limits<uint16_t>::max()}) {
    uint8_t raw[2];
    EncodeFixed16(raw, v);
    EXPECT_EQ(DecodeFixed16(raw), v);
    EncodeFixed16BE(raw, v);
    EXPECT_EQ(DecodeFixed16BE(raw), v);
  }
  for (uint32_t v :
       {uint32_t{0}, uint32_t{1}, uint32_t{0xff}, uint32_t{0x100}, uint32_t{0x7fffffff},
        uint32_t{0x80000000}, std::numeric_limits<uint32_t>::max()}) {
    uint8_t raw[4];
    EncodeFixed32(raw, v);
    EXPECT_EQ(DecodeFixed32(raw), v);
  }
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{0xffffffff}, uint64_t{1} << 32,
                     uint64_t{1} << 63, std::numeric_limits<uint64_t>::max()}) {
    uint8_t raw[8];
    EncodeFixed64(raw, v);
    EXPECT_EQ(DecodeFixed64(raw), v);
    EncodeFixed64BE(raw, v);
    EXPECT_EQ(DecodeFixed64BE(raw), v);
  }
  // Big-endian sorts as the numbers do (what LevelDB keys rely on).
  std::string a, b;
  PutFixed64BE(&a, 255);
  PutFixed64BE(&b, 256);
  EXPECT_LT(a, b);
}

TEST(CodingTest, ReaderReadsWhatWasPut) {
  Bytes b;
  b.push_back(7);
  PutFixed16(&b, 0xbeef);
  PutFixed32(&b, std::numeric_limits<uint32_t>::max());
  PutFixed64(&b, std::numeric_limits<uint64_t>::max() - 1);
  Hash256 h;
  h.bytes.fill(0x5a);
  b.insert(b.end(), h.bytes.begin(), h.bytes.end());
  PutLengthPrefixed(&b, AsBytes("abc"));
  PutLengthPrefixed(&b, ByteSpan());

  ByteReader r(b);
  uint8_t u8 = 0;
  uint16_t u16 = 0;
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  Hash256 got;
  ByteSpan blob, empty;
  ASSERT_TRUE(r.GetU8(&u8));
  ASSERT_TRUE(r.GetFixed16(&u16));
  ASSERT_TRUE(r.GetFixed32(&u32));
  ASSERT_TRUE(r.GetFixed64(&u64));
  ASSERT_TRUE(r.GetFixedBytes(&got));
  ASSERT_TRUE(r.GetLengthPrefixed(&blob));
  ASSERT_TRUE(r.GetLengthPrefixed(&empty));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.position(), b.size());
  EXPECT_EQ(u8, 7);
  EXPECT_EQ(u16, 0xbeef);
  EXPECT_EQ(u32, std::numeric_limits<uint32_t>::max());
  EXPECT_EQ(u64, std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_EQ(got, h);
  EXPECT_EQ(std::string(blob.begin(), blob.end()), "abc");
  EXPECT_TRUE(empty.empty());
  // Nothing is left: every read fails and consumes nothing.
  EXPECT_FALSE(r.GetU8(&u8));
  EXPECT_EQ(r.position(), b.size());
}

// Every truncation of a valid input fails at the read that runs out, consuming nothing, so the
// position names where the short read began.
TEST(CodingTest, TruncatedInputFailsWithoutReadingPastTheEnd) {
  Bytes full;
  PutFixed16(&full, 1);
  PutFixed32(&full, 2);
  PutFixed64(&full, 3);
  PutLengthPrefixed(&full, AsBytes("payload"));
  const size_t ends[] = {2, 6, 14, full.size()};  // where each field ends
  for (size_t n = 0; n < full.size(); ++n) {
    // A copy of exactly n bytes, so a read past it would be caught by ASan too.
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    ByteReader r(cut);
    uint16_t a = 0;
    uint32_t b = 0;
    uint64_t c = 0;
    ByteSpan d;
    const bool ok =
        r.GetFixed16(&a) && r.GetFixed32(&b) && r.GetFixed64(&c) && r.GetLengthPrefixed(&d);
    EXPECT_FALSE(ok) << n;
    size_t field_start = 0;
    for (size_t e : ends) {
      if (n < e) break;
      field_start = e;
    }
    EXPECT_EQ(r.position(), field_start) << n;
    EXPECT_EQ(r.remaining(), n - field_start) << n;
  }
  // A length that claims more than remains.
  Bytes lying;
  PutFixed32(&lying, 4);
  lying.insert(lying.end(), {1, 2, 3});
  ByteReader r(lying);
  ByteSpan d;
  EXPECT_FALSE(r.GetLengthPrefixed(&d));
  EXPECT_EQ(r.position(), 0u);
  // The largest length, on a short input, cannot overflow the check.
  Bytes huge;
  PutFixed32(&huge, std::numeric_limits<uint32_t>::max());
  ByteReader h(huge);
  EXPECT_FALSE(h.GetLengthPrefixed(&d));
  EXPECT_FALSE(h.GetBytes(std::numeric_limits<size_t>::max(), &d));
  Hash256 key;
  EXPECT_FALSE(h.GetFixedBytes(&key));
  EXPECT_EQ(h.position(), 0u);
  // An empty input.
  ByteReader e{ByteSpan()};
  uint8_t u8 = 0;
  EXPECT_TRUE(e.done());
  EXPECT_FALSE(e.GetU8(&u8));
  EXPECT_TRUE(e.GetBytes(0, &d));
}

}  // namespace
}  // namespace certledger::ledger
