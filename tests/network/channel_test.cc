// The peer channel's cryptography against published vectors (RFC 7748 X25519, RFC 5869 HKDF,
// RFC 8439 ChaCha20-Poly1305) and against the protocol-2 example of docs/FORMAT.md §10, whose
// values were computed independently (Python `cryptography` and hashlib, no code of ours).
#include "network/channel.h"

#include <gtest/gtest.h>

#include <string>

#include "network/wire.h"

namespace certledger::network::channel {
namespace {

using ledger::Bytes;

Bytes H(std::string_view hex) { return ledger::FromHex(hex).value(); }
template <size_t N>
ledger::FixedBytes<N> F(std::string_view hex) {
  return ledger::FixedBytes<N>::FromHexString(hex).value();
}

constexpr char kAlicePriv[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr char kAlicePub[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
constexpr char kBobPriv[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
constexpr char kBobPub[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
constexpr char kShared[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

TEST(ChannelTest, X25519MatchesRfc7748Section6_1) {
  auto alice = EphemeralKey::FromPrivate(H(kAlicePriv));
  auto bob = EphemeralKey::FromPrivate(H(kBobPriv));
  ASSERT_TRUE(alice.ok() && bob.ok());
  EXPECT_EQ(alice->public_key().Hex(), kAlicePub);
  EXPECT_EQ(bob->public_key().Hex(), kBobPub);
  auto ab = alice->Agree(bob->public_key());
  auto ba = bob->Agree(alice->public_key());
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_EQ(ab->Hex(), kShared);
  EXPECT_EQ(ba->Hex(), kShared);
}

TEST(ChannelTest, LowOrderPublicKeyIsRefused) {
  auto k = EphemeralKey::Generate();
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(k->Agree(X25519Key{}).ok());  // the all-zero point: shared secret would be 0
  X25519Key one;
  one.bytes[0] = 1;  // u = 1, order 4
  EXPECT_FALSE(k->Agree(one).ok());
}

TEST(ChannelTest, FreshKeysDiffer) {
  auto a = EphemeralKey::Generate();
  auto b = EphemeralKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_key(), b->public_key());
  EXPECT_EQ(a->Agree(b->public_key())->Hex(), b->Agree(a->public_key())->Hex());
}

TEST(ChannelTest, HkdfMatchesRfc5869TestCases1And3) {
  auto okm = Hkdf(H("000102030405060708090a0b0c"), Bytes(22, 0x0b), H("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(ledger::ToHex(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  auto empty = Hkdf({}, Bytes(22, 0x0b), {}, 42);  // test case 3: no salt, no info
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(ledger::ToHex(*empty),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(ChannelTest, AeadMatchesRfc8439Section2_8_2) {
  const auto key = F<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const auto nonce = F<12>("070000004041424344454647");
  const Bytes aad = H("50515253c0c1c2c3c4c5c6c7");
  const std::string text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  const std::string expected =
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da9"
      "2728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808"
      "b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
      "1ae10b594f09e26a7e902ecbd0600691";  // tag
  auto sealed = AeadSeal(key, nonce, aad, ledger::AsBytes(text));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(ledger::ToHex(*sealed), expected);
  auto opened = AeadOpen(key, nonce, aad, *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(std::string(opened->begin(), opened->end()), text);
  Bytes tampered = *sealed;
  tampered[10] ^= 0x01;
  EXPECT_FALSE(AeadOpen(key, nonce, aad, tampered).ok());
  Bytes other_aad = aad;
  other_aad[0] ^= 0x80;
  EXPECT_FALSE(AeadOpen(key, nonce, other_aad, *sealed).ok());
}

// ---- the FORMAT.md §10 example ---------------------------------------------------------------

struct Example {
  ledger::PrivateKey initiator = *ledger::PrivateKey::FromBytes(Bytes(32, 0x11));
  ledger::PrivateKey responder = *ledger::PrivateKey::FromBytes(Bytes(32, 0x22));
  ledger::ChainDomain domain{"t", {}};
  Example() {
    for (uint8_t i = 0; i < 32; ++i) domain.genesis_hash.bytes[i] = static_cast<uint8_t>(i + 1);
  }
};

TEST(ChannelTest, HandshakeExampleOfFormatMd) {
  Example ex;
  EXPECT_EQ(ex.initiator.public_key().Hex(),
            "4f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa");
  EXPECT_EQ(ex.responder.public_key().Hex(),
            "466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27");
  wire::Hello hello;
  hello.chain_id = "t";
  hello.key = ex.initiator.public_key();
  hello.ephemeral = F<32>(kAlicePub);
  EXPECT_EQ(ledger::ToHex(wire::EncodeHello(hello)),
            "434c5032020001000000744f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa"
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");

  const auto th = TranscriptHash(ex.domain, 2, ex.initiator.public_key(), F<32>(kAlicePub),
                                 ex.responder.public_key(), F<32>(kBobPub));
  EXPECT_EQ(th.Hex(), "ef5295390ec2b852d52c1140ba46cd659c9075e303de2ea047e74144458f92ab");
  auto keys = DeriveKeys(F<32>(kShared), th);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->initiator_to_responder.Hex(),
            "7dcfaa594899e473e099242e490e55ae344379a75cfbb59e6f4df30996ae8e4a");
  EXPECT_EQ(keys->responder_to_initiator.Hex(),
            "e1584434d2b52097e4576ac9688aedcef078f98de065d08df3e39e7a870ba10b");
  EXPECT_EQ(AuthDigest(th, Role::kInitiator).Hex(),
            "f7d1af1ca12e46bcd4402946e82b202be6b0e9b4980316d22faf0c792dae8f0c");
  EXPECT_EQ(AuthDigest(th, Role::kResponder).Hex(),
            "0efc13891f2b76dbbb295e7b0729040385d4f4a134f75a3274dcb1d4a0a2284c");

  // The transcript binds every input: change any one and it changes.
  auto other = ex.domain;
  other.genesis_hash.bytes[0] ^= 1;
  EXPECT_NE(th, TranscriptHash(other, 2, ex.initiator.public_key(), F<32>(kAlicePub),
                               ex.responder.public_key(), F<32>(kBobPub)));
  EXPECT_NE(th, TranscriptHash(ex.domain, 1, ex.initiator.public_key(), F<32>(kAlicePub),
                               ex.responder.public_key(), F<32>(kBobPub)));
  EXPECT_NE(th, TranscriptHash(ex.domain, 2, ex.responder.public_key(), F<32>(kBobPub),
                               ex.initiator.public_key(), F<32>(kAlicePub)));  // roles swapped

  // Sealed frames: the initiator's first two (type 16, "ping"), the responder's first (PING).
  FrameCipher i_tx(keys->initiator_to_responder), r_tx(keys->responder_to_initiator);
  auto f0 = i_tx.Seal(16, ledger::AsBytes(std::string("ping")));
  auto f1 = i_tx.Seal(16, ledger::AsBytes(std::string("ping")));
  auto g0 = r_tx.Seal(wire::kTypePing, Bytes(8, 0));
  ASSERT_TRUE(f0.ok() && f1.ok() && g0.ok());
  EXPECT_EQ(ledger::ToHex(*f0), "15000000ad14538e6319044930dce28c23cf97c6c8c81dc42c");
  EXPECT_EQ(ledger::ToHex(*f1), "150000004ef0c414cfbfefb9a3b36e17b4d10bfacd5c352d5c");
  EXPECT_EQ(ledger::ToHex(*g0), "1900000098c131bd0326ee0ffc1248db2744434492b6bb5e8f75ed64f4");
}

ledger::ByteSpan Body(const Bytes& frame) { return ledger::ByteSpan(frame).subspan(4); }
uint32_t Len(const Bytes& frame) { return wire::DecodeLength(frame.data()); }

TEST(ChannelTest, FramesOpenInOrderOnlyAndAnyFlippedBitFails) {
  AeadKey key;
  key.bytes[5] = 7;
  FrameCipher tx(key);
  const Bytes payload = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto f0 = tx.Seal(17, payload).value();
  auto f1 = tx.Seal(18, payload).value();
  {
    FrameCipher rx(key);
    uint8_t type = 0;
    Bytes out;
    // Out of order (a dropped or reordered frame) fails: the counter is the nonce.
    EXPECT_FALSE(rx.Open(Len(f1), Body(f1), &type, &out));
  }
  {
    FrameCipher rx(key);
    uint8_t type = 0;
    Bytes out;
    ASSERT_TRUE(rx.Open(Len(f0), Body(f0), &type, &out));
    EXPECT_EQ(type, 17);
    EXPECT_EQ(out, payload);
    EXPECT_FALSE(rx.Open(Len(f0), Body(f0), &type, &out));  // a replayed frame fails
  }
  // Every single-bit flip, in the length prefix, the ciphertext or the tag, fails to open.
  for (size_t byte = 0; byte < f0.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = f0;
      bad[byte] ^= static_cast<uint8_t>(1u << bit);
      FrameCipher rx(key);
      uint8_t type = 0;
      Bytes out;
      const uint32_t len = Len(bad);
      const bool fits = len == bad.size() - 4;
      EXPECT_FALSE(fits && rx.Open(len, Body(bad), &type, &out)) << byte << ":" << bit;
    }
  }
  AeadKey other = key;
  other.bytes[0] ^= 1;
  FrameCipher wrong(other);
  uint8_t type = 0;
  Bytes out;
  EXPECT_FALSE(wrong.Open(Len(f0), Body(f0), &type, &out));
}

}  // namespace
}  // namespace certledger::network::channel
