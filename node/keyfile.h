// Key files: one JSON object per key, written with mode 0600 and never logged. Format, both
// versions: docs/FORMAT.md §14.
//
// Version 2 (encrypted at rest):
//   {"type": "certledger/bip340-secp256k1", "version": 2, "public_key": "<64 hex>",
//    "encryption": {"kdf": "scrypt", "log_n": 15, "r": 8, "p": 1, "salt": "<hex>",
//                   "cipher": "chacha20-poly1305", "nonce": "<24 hex>",
//                   "ciphertext": "<96 hex>"}}
// Version 1 (plain, for test networks; read with a warning):
//   {"type": "certledger/bip340-secp256k1", "public_key": "<64 hex>", "secret_key": "<64 hex>"}
//
// Reading opens the file without following symbolic links and checks, on the open descriptor,
// that it is a regular file that neither group nor others can read (as ssh does); it refuses a
// type other than the one above and a public key that does not match the secret.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::node {

// Reads a whole file of at most `max_bytes` through a descriptor opened without following a
// final symbolic link; checked on that descriptor: a regular file and, if `must_be_private`,
// readable by neither group nor others. Errors name the file as `what` ("TLS key file").
ledger::Result<std::string> ReadFileNoFollow(const std::string& path, size_t max_bytes,
                                             bool must_be_private, const std::string& what);
// The same for secrets (key files, passphrase files, the API's TLS private key): the file must
// be private (mode 0600 or stricter), else InvalidArgument with the chmod that fixes it.
ledger::Result<std::string> ReadSecretFile(const std::string& path, size_t max_bytes,
                                           const std::string& what = "secret file");

// Where the passphrase of an encrypted key file comes from, tried in this order: `file` (if set;
// the same permission rules as key files; its first line, without the line end), the
// environment variable `env` (if set and not empty), the terminal (if `terminal` and one is
// attached; read without echo). The passphrase is never logged.
struct PassphraseSource {
  std::string file;
  std::string env = "CERTLEDGER_KEY_PASSPHRASE";
  bool terminal = true;
  std::string prompt = "Passphrase";
};
ledger::Result<std::string> ObtainPassphrase(const PassphraseSource& source,
                                             const std::string& what);

// scrypt cost of new files: N = 2^log_n (r = 8, p = 1). 2^15 takes about 0.1 s and 32 MiB.
inline constexpr uint32_t kDefaultScryptLogN = 15;

// Writes `key` to `path` (created exclusively unless `overwrite`) with mode 0600. With a
// passphrase the file is version 2 (encrypted); without, version 1 (plain).
ledger::Status WriteKeyFile(const std::string& path, const ledger::PrivateKey& key,
                            bool overwrite = false);
ledger::Status WriteEncryptedKeyFile(const std::string& path, const ledger::PrivateKey& key,
                                     const std::string& passphrase, bool overwrite = false,
                                     uint32_t scrypt_log_n = kDefaultScryptLogN);

// Reads a key file of either version. The passphrase is obtained from `source` only if the file
// is encrypted. If `warning` is given and the file is plain, it receives a warning to log.
ledger::Result<ledger::PrivateKey> ReadKeyFile(const std::string& path,
                                               const PassphraseSource& source = {},
                                               std::string* warning = nullptr);
// Reads only the public key (no permission requirement: public keys are public).
ledger::Result<ledger::PublicKey> ReadPublicKey(const std::string& path);
// True if the file is a version-2 (encrypted) key file.
ledger::Result<bool> IsEncryptedKeyFile(const std::string& path);

}  // namespace certledger::node
