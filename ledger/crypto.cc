// SHA256_Init/Update/Final are deprecated in OpenSSL 3 but are several times faster than EVP for
// the short inputs that Merkle hashing feeds them.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "ledger/crypto.h"
#include "ledger/keypair_signer.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ledger/coding.h"

namespace certledger::ledger {

static_assert(sizeof(SHA256_CTX) <= 128, "Sha256Hasher storage too small");

namespace {

// One context for the whole process, randomized once against side channels. After creation it
// is only read, which libsecp256k1 documents as thread-safe.
const secp256k1_context* Context() {
  static const secp256k1_context* ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    std::array<uint8_t, 32> seed{};
    RandomBytes(seed);
    if (secp256k1_context_randomize(c, seed.data()) != 1) std::abort();
    OPENSSL_cleanse(seed.data(), seed.size());
    return c;
  }();
  return ctx;
}

SHA256_CTX* Ctx(unsigned char* storage) { return reinterpret_cast<SHA256_CTX*>(storage); }

}  // namespace

void RandomBytes(std::span<uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    std::fputs("certledger: OpenSSL RAND_bytes failed\n", stderr);
    std::abort();
  }
}

Hash256 Sha256(ByteSpan data) {
  Hash256 h;
  SHA256(data.data(), data.size(), h.data());
  return h;
}

Sha256Hasher::Sha256Hasher() { SHA256_Init(Ctx(ctx_)); }
Sha256Hasher::~Sha256Hasher() { OPENSSL_cleanse(ctx_, sizeof(ctx_)); }
Sha256Hasher& Sha256Hasher::Update(ByteSpan data) {
  SHA256_Update(Ctx(ctx_), data.data(), data.size());
  return *this;
}
Hash256 Sha256Hasher::Finish() {
  Hash256 h;
  SHA256_Final(h.data(), Ctx(ctx_));
  return h;
}

Hash256 TaggedHash(std::string_view tag, ByteSpan msg) {
  Hash256 tag_hash = Sha256(AsBytes(tag));
  Sha256Hasher h;
  h.Update(tag_hash.span()).Update(tag_hash.span()).Update(msg);
  return h.Finish();
}

Hash256 SigningDigest(std::string_view tag, const ChainDomain& domain, ByteSpan payload) {
  Hash256 tag_hash = Sha256(AsBytes(tag));
  uint8_t len_le[2];
  EncodeFixed16(len_le, static_cast<uint16_t>(domain.chain_id.size()));
  Sha256Hasher h;
  h.Update(tag_hash.span()).Update(tag_hash.span()).Update(len_le);
  h.Update(AsBytes(domain.chain_id)).Update(domain.genesis_hash.span());
  h.Update(payload);
  return h.Finish();
}

std::optional<PublicKey> PublicKey::Parse(ByteSpan s) {
  if (s.size() != 32) return std::nullopt;
  secp256k1_xonly_pubkey pk;
  if (secp256k1_xonly_pubkey_parse(Context(), &pk, s.data()) != 1) return std::nullopt;
  PublicKey out;
  std::memcpy(out.data(), s.data(), 32);
  return out;
}

std::optional<PublicKey> PublicKey::ParseHex(std::string_view hex) {
  auto b = FromHex(hex);
  if (!b) return std::nullopt;
  return Parse(*b);
}

PrivateKey PrivateKey::Generate() {
  for (;;) {
    std::array<uint8_t, 32> buf{};
    RandomBytes(buf);
    auto k = FromBytes(buf);
    OPENSSL_cleanse(buf.data(), buf.size());
    if (k) return *k;
  }
}

std::optional<PrivateKey> PrivateKey::FromBytes(ByteSpan s) {
  if (s.size() != 32) return std::nullopt;
  secp256k1_keypair kp;
  if (secp256k1_keypair_create(Context(), &kp, s.data()) != 1) return std::nullopt;
  secp256k1_xonly_pubkey xonly;
  if (secp256k1_keypair_xonly_pub(Context(), &xonly, nullptr, &kp) != 1) return std::nullopt;
  PrivateKey k;
  std::memcpy(k.secret_.data(), s.data(), 32);
  secp256k1_xonly_pubkey_serialize(Context(), k.public_key_.data(), &xonly);
  OPENSSL_cleanse(&kp, sizeof(kp));
  return k;
}

PrivateKey::PrivateKey(const PrivateKey& other) = default;
PrivateKey& PrivateKey::operator=(const PrivateKey& other) = default;
PrivateKey::~PrivateKey() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

Signature PrivateKey::Sign(ByteSpan msg, ByteSpan aux_rand32) const {
  secp256k1_keypair kp;
  if (aux_rand32.size() != 32 || secp256k1_keypair_create(Context(), &kp, secret_.data()) != 1) {
    std::abort();  // Programming error: the key was validated at construction.
  }
  secp256k1_schnorrsig_extraparams params = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
  params.ndata = const_cast<uint8_t*>(aux_rand32.data());
  Signature sig;
  int ok =
      secp256k1_schnorrsig_sign_custom(Context(), sig.data(), msg.data(), msg.size(), &kp, &params);
  OPENSSL_cleanse(&kp, sizeof(kp));
  if (ok != 1) std::abort();
  return sig;
}

Signature PrivateKey::Sign(const Hash256& digest) const {
  std::array<uint8_t, 32> aux{};
  RandomBytes(aux);
  return Sign(digest.span(), aux);
}

KeyPairSigner::KeyPairSigner(const PrivateKey& key) : public_key_(key.public_key()) {
  static_assert(sizeof(secp256k1_keypair) == sizeof(keypair_));
  secp256k1_keypair kp;
  if (secp256k1_keypair_create(Context(), &kp, key.secret().data()) != 1) {
    std::abort();  // Programming error: the key was validated at construction.
  }
  std::memcpy(keypair_.data(), &kp, sizeof kp);
  OPENSSL_cleanse(&kp, sizeof(kp));
}

KeyPairSigner::~KeyPairSigner() { OPENSSL_cleanse(keypair_.data(), keypair_.size()); }

Signature KeyPairSigner::Sign(const Hash256& digest) const {
  std::array<uint8_t, 32> aux{};
  RandomBytes(aux);
  secp256k1_keypair kp;
  std::memcpy(&kp, keypair_.data(), sizeof kp);
  secp256k1_schnorrsig_extraparams params = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
  params.ndata = aux.data();
  Signature sig;
  const int ok = secp256k1_schnorrsig_sign_custom(Context(), sig.data(), digest.data(),
                                                  digest.size(), &kp, &params);
  OPENSSL_cleanse(&kp, sizeof(kp));
  if (ok != 1) std::abort();
  return sig;
}

namespace {
class Direct final : public SignatureVerifier {
 public:
  bool Verify(const PublicKey& key, const Hash256& digest, const Signature& sig) const override {
    return ledger::Verify(key, digest, sig);
  }
};
}  // namespace

const SignatureVerifier& DirectVerifier() {
  static const Direct direct;
  return direct;
}

bool VerifySchnorr(ByteSpan pubkey32, ByteSpan msg, ByteSpan sig64) {
  if (pubkey32.size() != 32 || sig64.size() != 64) return false;
  secp256k1_xonly_pubkey pk;
  if (secp256k1_xonly_pubkey_parse(Context(), &pk, pubkey32.data()) != 1) return false;
  return secp256k1_schnorrsig_verify(Context(), sig64.data(), msg.data(), msg.size(), &pk) == 1;
}

}  // namespace certledger::ledger
