#include "tests/testing/tls_certs.h"

#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <random>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace certledger::testing {

namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

Key NewKey() { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

bool AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key`, signed by `issuer_key` (self-signed when `issuer` is null).
Cert NewCertificate(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                    EVP_PKEY* issuer_key, bool ca, const std::string& subject_alt_names) {
  Cert cert(X509_new());
  if (!cert) return nullptr;
  X509* x = cert.get();
  std::random_device rd;
  const uint64_t serial = ((uint64_t{rd()} << 32) | rd()) & 0x7fffffffffffffffull;
  bool ok = X509_set_version(x, 2) == 1 &&
            ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(x), -3600) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(x), 86400) != nullptr &&
            X509_set_pubkey(x, key) == 1;
  X509_NAME* name = X509_get_subject_name(x);
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                        -1, -1, 0) == 1;
  ok = ok && X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name) == 1;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  if (ca) {
    ok = ok && AddExtension(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") &&
         AddExtension(x, &ctx, NID_subject_key_identifier, "hash");
  } else {
    ok = ok && AddExtension(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(x, &ctx, NID_key_usage, "critical,digitalSignature") &&
         AddExtension(x, &ctx, NID_ext_key_usage, "serverAuth");
    if (!subject_alt_names.empty()) {
      ok = ok && AddExtension(x, &ctx, NID_subject_alt_name, subject_alt_names);
    }
  }
  ok = ok && X509_sign(x, issuer_key, EVP_sha256()) > 0;
  if (!ok) return nullptr;
  return cert;
}

template <class Write>
std::string ToPem(Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  std::string out;
  if (write(bio)) {
    char* data = nullptr;
    const long n = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data
    if (n > 0) out.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  return out;
}

std::string CertPem(X509* cert) {
  return ToPem([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert) == 1; });
}

std::string KeyPem(EVP_PKEY* key) {
  return ToPem([key](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
}

}  // namespace

struct TestCertificateAuthority::Impl {
  Key key;
  Cert cert;
};

TestCertificateAuthority::TestCertificateAuthority(const std::string& name)
    : impl_(std::make_unique<Impl>()) {
  impl_->key = NewKey();
  if (impl_->key) {
    impl_->cert = NewCertificate(impl_->key.get(), name, nullptr, impl_->key.get(), true, "");
  }
}

TestCertificateAuthority::~TestCertificateAuthority() = default;

bool TestCertificateAuthority::ok() const { return impl_->key && impl_->cert; }

std::string TestCertificateAuthority::certificate_pem() const {
  return ok() ? CertPem(impl_->cert.get()) : std::string();
}

TlsIdentity TestCertificateAuthority::Issue(const std::string& subject_alt_names,
                                            const std::string& common_name) const {
  if (!ok()) return {};
  Key key = NewKey();
  if (!key) return {};
  Cert cert = NewCertificate(key.get(), common_name, impl_->cert.get(), impl_->key.get(), false,
                             subject_alt_names);
  if (!cert) return {};
  return {CertPem(cert.get()), KeyPem(key.get())};
}

bool WriteTestFile(const std::string& path, const std::string& text, unsigned mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out.flush()) return false;
  }
  return ::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0;
}

}  // namespace certledger::testing
