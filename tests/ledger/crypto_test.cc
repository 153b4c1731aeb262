#include "ledger/crypto.h"
#include "ledger/keypair_signer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace certledger::ledger {
namespace {

struct Bip340Row {
  std::string index, secret_key, public_key, aux_rand, message, signature, result, comment;
};

std::vector<Bip340Row> LoadBip340Vectors() {
  std::ifstream in(std::string(CERTLEDGER_VECTORS_DIR) + "/bip340-test-vectors.csv");
  EXPECT_TRUE(in.good()) << "missing bip340-test-vectors.csv";
  std::vector<Bip340Row> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    if (line.back() == ',') f.emplace_back();
    // The comment column may itself contain commas: join the tail.
    while (f.size() > 8) {
      f[7] += "," + f.back();
      f.pop_back();
    }
    f.resize(8);
    rows.push_back({f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]});
  }
  return rows;
}

TEST(Bip340Test, AllPublishedVectors) {
  auto rows = LoadBip340Vectors();
  ASSERT_EQ(rows.size(), 19u);  // indices 0..18 of the BIP-340 reference file
  int signed_rows = 0;
  for (const auto& r : rows) {
    SCOPED_TRACE("vector " + r.index + " " + r.comment);
    auto pub = FromHex(r.public_key);
    auto msg = FromHex(r.message);
    auto sig = FromHex(r.signature);
    ASSERT_TRUE(pub && msg && sig);
    const bool expected = r.result == "TRUE";
    EXPECT_EQ(VerifySchnorr(*pub, *msg, *sig), expected);

    if (!r.secret_key.empty()) {
      auto sk_bytes = FromHex(r.secret_key);
      auto aux = FromHex(r.aux_rand);
      ASSERT_TRUE(sk_bytes && aux);
      auto sk = PrivateKey::FromBytes(*sk_bytes);
      ASSERT_TRUE(sk.has_value());
      EXPECT_EQ(ToHex(sk->public_key().span()), ToHex(*pub));
      Signature s = sk->Sign(*msg, *aux);
      EXPECT_EQ(ToHex(s.span()), ToHex(*sig));
      ++signed_rows;
    }
  }
  EXPECT_EQ(signed_rows, 8);  // rows 0-3 and 15-18 carry a secret key
}

// The cached key pair signs as the key does: every signature verifies under the key's public
// key, and another digest's signature does not.
TEST(Bip340Test, KeyPairSignerSignsAsTheKey) {
  const PrivateKey key = PrivateKey::Generate();
  const KeyPairSigner signer(key);
  EXPECT_EQ(signer.public_key(), key.public_key());
  for (int i = 0; i < 8; ++i) {
    const Hash256 d = Sha256(AsBytes(std::to_string(i)));
    const Signature s = signer.Sign(d);
    EXPECT_TRUE(Verify(key.public_key(), d, s));
    EXPECT_FALSE(Verify(key.public_key(), Sha256(AsBytes("other")), s));
  }
}

TEST(Bip340Test, PublicKeyParseRejectsOffCurve) {
  // Vector 5: public key not on the curve.
  EXPECT_FALSE(
      PublicKey::ParseHex("EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34"));
  EXPECT_TRUE(
      PublicKey::ParseHex("DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659"));
  EXPECT_FALSE(PublicKey::ParseHex("00"));
}

TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(Sha256({}).Hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256(AsBytes("abc")).Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  h.Update(AsBytes("a")).Update(AsBytes("bc"));
  EXPECT_EQ(h.Finish().Hex(), Sha256(AsBytes("abc")).Hex());
}

TEST(TaggedHashTest, MatchesDefinition) {
  // BIP-340: SHA256(SHA256(tag) || SHA256(tag) || msg).
  Hash256 t = Sha256(AsBytes("BIP0340/challenge"));
  Bytes buf(t.bytes.begin(), t.bytes.end());
  buf.insert(buf.end(), t.bytes.begin(), t.bytes.end());
  buf.push_back(0x42);
  const uint8_t msg[] = {0x42};
  EXPECT_EQ(TaggedHash("BIP0340/challenge", msg), Sha256(buf));
}

TEST(SigningDigestTest, BindsTagChainAndGenesis) {
  const uint8_t payload[] = {1, 2, 3};
  Hash256 g1, g2;
  g2.bytes[0] = 1;
  Hash256 a = SigningDigest(kTagTx, {"chain-a", g1}, payload);
  EXPECT_NE(a, SigningDigest(kTagVote, {"chain-a", g1}, payload));
  EXPECT_NE(a, SigningDigest(kTagTx, {"chain-b", g1}, payload));
  // The same chain id relaunched from another genesis: another digest.
  EXPECT_NE(a, SigningDigest(kTagTx, {"chain-a", g2}, payload));
  // Length prefix: ("ab", "c...") must differ from ("a", "bc...").
  const uint8_t p2[] = {'c', 1, 2, 3};
  const uint8_t p3[] = {'b', 'c', 1, 2, 3};
  EXPECT_NE(SigningDigest(kTagTx, {"ab", g1}, p2), SigningDigest(kTagTx, {"a", g1}, p3));
  // Definition: TaggedHash(tag, u16le(len) || chain || genesis hash || payload).
  Bytes m = {7, 0, 'c', 'h', 'a', 'i', 'n', '-', 'a'};
  m.insert(m.end(), g1.bytes.begin(), g1.bytes.end());
  m.insert(m.end(), {1, 2, 3});
  EXPECT_EQ(a, TaggedHash(kTagTx, m));
}

TEST(PrivateKeyTest, SignVerifyRoundTripAndRejectsTampering) {
  PrivateKey k = PrivateKey::Generate();
  Hash256 d = SigningDigest(kTagTx, {"c", {}}, AsBytes("hello"));
  Signature s = k.Sign(d);
  EXPECT_TRUE(Verify(k.public_key(), d, s));
  Signature bad = s;
  bad.bytes[10] ^= 1;
  EXPECT_FALSE(Verify(k.public_key(), d, bad));
  Hash256 d2 = d;
  d2.bytes[0] ^= 1;
  EXPECT_FALSE(Verify(k.public_key(), d2, s));
  EXPECT_FALSE(Verify(PrivateKey::Generate().public_key(), d, s));
}

TEST(PrivateKeyTest, RejectsInvalidSecrets) {
  EXPECT_FALSE(PrivateKey::FromBytes(Bytes(32, 0)));
  EXPECT_FALSE(PrivateKey::FromBytes(Bytes(31, 1)));
  // The group order n is not a valid secret.
  auto n = FromHex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
  EXPECT_FALSE(PrivateKey::FromBytes(*n));
}

TEST(HexTest, RoundTripAndRejects) {
  Bytes b = {0x00, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "00abff");
  EXPECT_EQ(*FromHex("00ABff"), b);
  EXPECT_FALSE(FromHex("abc"));
  EXPECT_FALSE(FromHex("zz"));
}

}  // namespace
}  // namespace certledger::ledger
