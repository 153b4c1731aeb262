#include "network/channel.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <climits>
#include <string_view>
#include <utility>

#include "ledger/coding.h"

namespace certledger::network::channel {

using ledger::Bytes;
using ledger::ByteSpan;
using ledger::Result;
using ledger::Status;

namespace {

constexpr std::string_view kKeysInfo = "certledger/p2p/v2 keys";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// One AEAD operation (enc = 1 seals, 0 opens) on a reusable context. For sealing, `out` receives
// the ciphertext of the concatenation of `parts` and `tag` the tag; for opening, `tag` is the
// expected tag. False on any failure, including a tag mismatch.
// `keyed`: the context already holds this key and direction (a FrameCipher's context after its
// first frame), so only the nonce is set: the key schedule is not redone per frame.
bool AeadRun(EVP_CIPHER_CTX* ctx, int enc, const AeadKey& key, const AeadNonce& nonce, ByteSpan aad,
             std::initializer_list<std::pair<ByteSpan, uint8_t*>> parts, uint8_t* tag,
             bool keyed = false) {
  const int init = keyed ? EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data(), enc)
                         : EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, key.data(),
                                             nonce.data(), enc);
  if (init != 1) return false;
  int outl = 0;
  if (aad.size() > INT_MAX) return false;
  if (!aad.empty() &&
      EVP_CipherUpdate(ctx, nullptr, &outl, aad.data(), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  for (const auto& [in, out] : parts) {
    if (in.empty()) continue;
    if (in.size() > INT_MAX) return false;
    if (EVP_CipherUpdate(ctx, out, &outl, in.data(), static_cast<int>(in.size())) != 1) {
      return false;
    }
  }
  if (enc == 0 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kAeadTagBytes), tag) != 1) {
    return false;
  }
  uint8_t final_block[16];
  if (EVP_CipherFinal_ex(ctx, final_block, &outl) != 1) return false;
  if (enc == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagBytes), tag) != 1) {
    return false;
  }
  return true;
}

}  // namespace

// ---- X25519 -----------------------------------------------------------------------------------

struct EphemeralKey::Pkey {
  PkeyPtr p;
};

EphemeralKey::EphemeralKey(std::unique_ptr<Pkey> key) : key_(std::move(key)) {
  size_t len = public_.size();
  if (EVP_PKEY_get_raw_public_key(key_->p.get(), public_.data(), &len) != 1 ||
      len != public_.size()) {
    public_ = X25519Key{};  // unreachable for a key OpenSSL just made; Agree() then fails
  }
}
EphemeralKey::EphemeralKey(EphemeralKey&&) noexcept = default;
EphemeralKey& EphemeralKey::operator=(EphemeralKey&&) noexcept = default;
EphemeralKey::~EphemeralKey() = default;

Result<EphemeralKey> EphemeralKey::Generate() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return Status::IOError("X25519 key generation failed");
  }
  return EphemeralKey(std::make_unique<Pkey>(Pkey{PkeyPtr(raw)}));
}

Result<EphemeralKey> EphemeralKey::FromPrivate(ByteSpan raw) {
  if (raw.size() != kX25519Bytes) return Status::InvalidArgument("X25519 private key: 32 bytes");
  PkeyPtr p(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, raw.data(), raw.size()));
  if (!p) return Status::InvalidArgument("X25519 private key rejected");
  return EphemeralKey(std::make_unique<Pkey>(Pkey{std::move(p)}));
}

Result<X25519Key> EphemeralKey::Agree(const X25519Key& peer_public) const {
  PkeyPtr peer(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), kX25519Bytes));
  if (!peer) return Status::Corruption("bad X25519 public key");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key_->p.get(), nullptr));
  X25519Key shared;
  size_t len = shared.size();
  // OpenSSL refuses an all-zero result itself; the explicit check keeps that guarantee ours.
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 || len != shared.size() ||
      shared.IsZero()) {
    return Status::Corruption("X25519 key agreement failed (low-order public key?)");
  }
  return shared;
}

// ---- transcript, AUTH, keys -------------------------------------------------------------------

ledger::Hash256 TranscriptHash(const ledger::ChainDomain& domain, uint16_t version,
                               const ledger::PublicKey& initiator_identity,
                               const X25519Key& initiator_ephemeral,
                               const ledger::PublicKey& responder_identity,
                               const X25519Key& responder_ephemeral) {
  Bytes m;
  m.reserve(2 + 4 * 32);
  ledger::PutFixed16(&m, version);
  for (ByteSpan part : {initiator_identity.span(), initiator_ephemeral.span(),
                        responder_identity.span(), responder_ephemeral.span()}) {
    m.insert(m.end(), part.begin(), part.end());
  }
  return ledger::SigningDigest(ledger::kTagHandshakeTranscript, domain, m);
}

ledger::Hash256 AuthDigest(const ledger::Hash256& transcript, Role signer) {
  Bytes m(transcript.bytes.begin(), transcript.bytes.end());
  m.push_back(static_cast<uint8_t>(signer));
  return ledger::TaggedHash(ledger::kTagHandshakeAuth, m);
}

Result<Bytes> Hkdf(ByteSpan salt, ByteSpan ikm, ByteSpan info, size_t length) {
  if (length == 0 || length > 255 * 32) return Status::InvalidArgument("HKDF length");
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return Status::IOError("HKDF unavailable");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return Status::IOError("HKDF context");
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  // OpenSSL's parameters take non-const pointers; it only reads them.
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  const_cast<uint8_t*>(ikm.data()), ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<uint8_t*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    const_cast<uint8_t*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  Bytes out(length);
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) return Status::IOError("HKDF derive failed");
  return out;
}

Result<SessionKeys> DeriveKeys(const X25519Key& shared, const ledger::Hash256& transcript) {
  auto okm = Hkdf(transcript.span(), shared.span(), ledger::AsBytes(kKeysInfo), 64);
  if (!okm.ok()) return okm.status();
  SessionKeys k;
  std::copy_n(okm->begin(), 32, k.initiator_to_responder.bytes.begin());
  std::copy_n(okm->begin() + 32, 32, k.responder_to_initiator.bytes.begin());
  return k;
}

// ---- AEAD -------------------------------------------------------------------------------------

AeadNonce FrameNonce(uint64_t counter) {
  AeadNonce n;
  ledger::EncodeFixed64(n.bytes.data() + 4, counter);
  return n;
}

Result<Bytes> AeadSeal(const AeadKey& key, const AeadNonce& nonce, ByteSpan aad,
                       ByteSpan plaintext) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return Status::IOError("cipher context");
  Bytes out(plaintext.size() + kAeadTagBytes);
  if (!AeadRun(ctx.get(), 1, key, nonce, aad, {{plaintext, out.data()}},
               out.data() + plaintext.size())) {
    return Status::IOError("AEAD seal failed");
  }
  return out;
}

Result<Bytes> AeadOpen(const AeadKey& key, const AeadNonce& nonce, ByteSpan aad, ByteSpan sealed) {
  if (sealed.size() < kAeadTagBytes) return Status::Corruption("sealed data shorter than a tag");
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return Status::IOError("cipher context");
  const size_t n = sealed.size() - kAeadTagBytes;
  Bytes out(n);
  uint8_t tag[kAeadTagBytes];
  std::copy_n(sealed.begin() + static_cast<std::ptrdiff_t>(n), kAeadTagBytes, tag);
  if (!AeadRun(ctx.get(), 0, key, nonce, aad, {{sealed.first(n), out.data()}}, tag)) {
    return Status::Corruption("AEAD open failed: data or tag altered, or wrong key");
  }
  return out;
}

struct FrameCipher::Ctx {
  AeadKey key;
  CipherCtxPtr ctx;
  int keyed_for = -1;  // 1 or 0 once the context holds the key for sealing or opening
};

FrameCipher::FrameCipher(const AeadKey& key)
    : ctx_(std::make_unique<Ctx>(Ctx{key, CipherCtxPtr(EVP_CIPHER_CTX_new())})) {}
FrameCipher::FrameCipher(FrameCipher&&) noexcept = default;
FrameCipher& FrameCipher::operator=(FrameCipher&&) noexcept = default;
FrameCipher::~FrameCipher() = default;

Result<Bytes> FrameCipher::Seal(uint8_t type, ByteSpan payload) {
  if (counter_ == UINT64_MAX) return Status::InvalidArgument("frame counter exhausted");
  if (payload.size() > UINT32_MAX - 1 - kAeadTagBytes) {
    return Status::InvalidArgument("frame too large to seal");
  }
  if (!ctx_->ctx) return Status::IOError("cipher context");
  const auto length = static_cast<uint32_t>(1 + payload.size() + kAeadTagBytes);
  Bytes frame(4 + static_cast<size_t>(length));
  ledger::EncodeFixed32(frame.data(), length);
  const uint8_t type_byte[1] = {type};
  if (!AeadRun(ctx_->ctx.get(), 1, ctx_->key, FrameNonce(counter_), ByteSpan(frame.data(), 4),
               {{ByteSpan(type_byte, 1), frame.data() + 4}, {payload, frame.data() + 5}},
               frame.data() + 5 + payload.size(), ctx_->keyed_for == 1)) {
    ctx_->keyed_for = -1;
    return Status::IOError("frame seal failed");
  }
  ctx_->keyed_for = 1;
  ++counter_;
  return frame;
}

bool FrameCipher::Open(uint32_t length, ByteSpan body, uint8_t* type, Bytes* payload) {
  if (body.size() != length || length < 1 + kAeadTagBytes || counter_ == UINT64_MAX || !ctx_->ctx) {
    return false;
  }
  uint8_t aad[4];
  ledger::EncodeFixed32(aad, length);
  const size_t n = length - kAeadTagBytes;  // ciphertext bytes: type + payload
  payload->resize(n - 1);
  uint8_t tag[kAeadTagBytes];
  std::copy_n(body.begin() + static_cast<std::ptrdiff_t>(n), kAeadTagBytes, tag);
  uint8_t t = 0;
  if (!AeadRun(ctx_->ctx.get(), 0, ctx_->key, FrameNonce(counter_), ByteSpan(aad, 4),
               {{body.first(1), &t}, {body.subspan(1, n - 1), payload->data()}}, tag,
               ctx_->keyed_for == 0)) {
    ctx_->keyed_for = -1;  // re-key on the next use (a failed open closes the connection anyway)
    payload->clear();
    return false;
  }
  ctx_->keyed_for = 0;
  *type = t;
  ++counter_;
  return true;
}

}  // namespace certledger::network::channel
