// Throwaway X.509 certificates for TLS tests, made at test time with OpenSSL (EC P-256, SHA-256,
// valid from an hour ago for a day): a CA, and server certificates it signs.
#pragma once

#include <memory>
#include <string>

namespace certledger::testing {

struct TlsIdentity {
  std::string certificate_pem;  // the leaf certificate
  std::string private_key_pem;  // unencrypted PKCS#8
};

class TestCertificateAuthority {
 public:
  // Generates the CA's key and self-signed certificate (CN `name`). Check ok().
  explicit TestCertificateAuthority(const std::string& name = "certledger test CA");
  ~TestCertificateAuthority();
  TestCertificateAuthority(const TestCertificateAuthority&) = delete;
  TestCertificateAuthority& operator=(const TestCertificateAuthority&) = delete;

  [[nodiscard]] bool ok() const;
  [[nodiscard]] std::string certificate_pem() const;
  // A server certificate signed by this CA. `subject_alt_names` in OpenSSL's syntax, e.g.
  // "IP:127.0.0.1,DNS:localhost". Empty fields on failure.
  [[nodiscard]] TlsIdentity Issue(const std::string& subject_alt_names,
                                  const std::string& common_name = "certledger test server") const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes `text` to `path` (replacing it) and sets `mode`. False on failure.
bool WriteTestFile(const std::string& path, const std::string& text, unsigned mode = 0600);

}  // namespace certledger::testing
