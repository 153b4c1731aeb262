#include "node/keyfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace certledger::node {

using ledger::Result;
using ledger::Status;

namespace {
constexpr char kKeyType[] = "certledger/bip340-secp256k1";

Result<nlohmann::json> LoadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read key file " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto j = nlohmann::json::parse(text, nullptr, false);
  OPENSSL_cleanse(text.data(), text.size());
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("key file " + path + " is not a JSON object");
  }
  if (j.value("type", "") != kKeyType) {
    return Status::InvalidArgument("key file " + path + ": type must be " + kKeyType);
  }
  return j;
}
}  // namespace

Status WriteKeyFile(const std::string& path, const ledger::PrivateKey& key, bool overwrite) {
  std::string text = "{\n  \"type\": \"" + std::string(kKeyType) + "\",\n  \"public_key\": \"" +
                     key.public_key().Hex() + "\",\n  \"secret_key\": \"" +
                     ledger::ToHex(key.secret()) + "\"\n}\n";
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    OPENSSL_cleanse(text.data(), text.size());
    return Status::IOError("cannot create key file " + path + ": " + std::strerror(errno));
  }
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t off = 0;
  while (ok && off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n <= 0) {
      ok = false;
      break;
    }
    off += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  OPENSSL_cleanse(text.data(), text.size());
  if (!ok) return Status::IOError("cannot write key file " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Result<ledger::PrivateKey> ReadKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::IOError("cannot read key file " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument("key file " + path +
                                   " is readable by group or others; run: chmod 600 " + path);
  }
  auto j = LoadJson(path);
  if (!j.ok()) return j.status();
  std::string secret_hex = j->value("secret_key", "");
  auto secret = ledger::FromHex(secret_hex);
  OPENSSL_cleanse(secret_hex.data(), secret_hex.size());
  if (!secret) return Status::InvalidArgument("key file " + path + ": secret_key is not hex");
  auto key = ledger::PrivateKey::FromBytes(*secret);
  OPENSSL_cleanse(secret->data(), secret->size());
  if (!key) return Status::InvalidArgument("key file " + path + ": secret_key is not a valid key");
  if (key->public_key().Hex() != j->value("public_key", "")) {
    return Status::InvalidArgument("key file " + path + ": public_key does not match secret_key");
  }
  return *key;
}

Result<ledger::PublicKey> ReadPublicKey(const std::string& path) {
  auto j = LoadJson(path);
  if (!j.ok()) return j.status();
  auto k = ledger::PublicKey::ParseHex(j->value("public_key", ""));
  if (!k) return Status::InvalidArgument("key file " + path + ": public_key is not a valid key");
  return *k;
}

}  // namespace certledger::node
