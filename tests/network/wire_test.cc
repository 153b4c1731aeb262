#include "network/wire.h"

#include <gtest/gtest.h>

namespace certledger::network::wire {
namespace {

using ledger::Bytes;

Hello SampleHello() {
  Hello h;
  h.chain_id = "water-cert-test";
  h.key = ledger::PrivateKey::Generate().public_key();
  for (size_t i = 0; i < kEphemeralBytes; ++i) h.ephemeral.bytes[i] = static_cast<uint8_t>(i);
  return h;
}

TEST(WireTest, FrameHeaderIsLittleEndianLengthOfTypeAndPayload) {
  const Bytes payload = {0xaa, 0xbb, 0xcc};
  const Bytes frame = EncodeFrame(17, payload);
  EXPECT_EQ(frame, (Bytes{0x04, 0x00, 0x00, 0x00, 17, 0xaa, 0xbb, 0xcc}));
  EXPECT_EQ(DecodeLength(frame.data()), 4u);
  const auto big = EncodeHeader(16, 0x01020304);
  EXPECT_EQ(DecodeLength(big.data()), 0x01020305u);
  EXPECT_EQ(big[4], 16);
}

TEST(WireTest, HelloRoundTripsWithExactLayout) {
  const Hello h = SampleHello();
  const Bytes b = EncodeHello(h);
  ASSERT_EQ(b.size(), kMinHelloPayloadBytes + h.chain_id.size());
  EXPECT_EQ(Bytes(b.begin(), b.begin() + 4), (Bytes{'C', 'L', 'P', '2'}));
  EXPECT_EQ(b[4], 2);  // version, u16le
  EXPECT_EQ(b[5], 0);
  EXPECT_EQ(DecodeLength(b.data() + 6), h.chain_id.size());
  auto back = DecodeHello(b);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->version, kProtocolVersion);
  EXPECT_EQ(back->chain_id, h.chain_id);
  EXPECT_EQ(back->key, h.key);
  EXPECT_EQ(back->ephemeral, h.ephemeral);
  // The largest HELLO frame fits the pre-authentication frame limit.
  Hello longest = h;
  longest.chain_id.assign(kMaxChainIdBytes, 'c');
  EXPECT_LE(EncodeHello(longest).size() + 1, kMaxHandshakeFrameBytes);
}

TEST(WireTest, HelloRejectsMalformedInput) {
  const Bytes good = EncodeHello(SampleHello());
  Bytes bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_FALSE(DecodeHello(bad_magic).ok());
  EXPECT_FALSE(DecodeHello(Bytes(good.begin(), good.end() - 1)).ok());
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeHello(trailing).ok());
  Bytes long_chain = good;
  long_chain[6] = 65;  // chain id length beyond 64
  EXPECT_FALSE(DecodeHello(long_chain).ok());
  Bytes bad_key = good;
  std::fill(bad_key.end() - 64, bad_key.end() - 32, 0xff);  // x >= field size: not on the curve
  EXPECT_FALSE(DecodeHello(bad_key).ok());
  EXPECT_FALSE(DecodeHello({}).ok());
}

TEST(WireTest, SanitizeReasonBoundsAndCleans) {
  EXPECT_EQ(SanitizeReason("wrong chain"), "wrong chain");
  EXPECT_EQ(SanitizeReason(std::string("a\nb\x01", 4)), "a?b?");
  EXPECT_EQ(SanitizeReason(std::string(500, 'x')).size(), kMaxCloseReasonBytes);
}

}  // namespace
}  // namespace certledger::network::wire
