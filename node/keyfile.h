// Key files: one JSON object per key, written with mode 0600 and never logged.
//
//   {"type": "certledger/bip340-secp256k1", "public_key": "<64 hex>", "secret_key": "<64 hex>"}
//
// Reading refuses a file that group or others can read (as ssh does), a type other than the
// one above, and a public key that does not match the secret.
#pragma once

#include <string>

#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::node {

// Writes `key` to `path` (created exclusively unless `overwrite`) with mode 0600.
ledger::Status WriteKeyFile(const std::string& path, const ledger::PrivateKey& key,
                            bool overwrite = false);
ledger::Result<ledger::PrivateKey> ReadKeyFile(const std::string& path);
// Reads only the public key (no permission requirement: public keys are public).
ledger::Result<ledger::PublicKey> ReadPublicKey(const std::string& path);

}  // namespace certledger::node
