#include "node/keyfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "ledger/json_int.h"
#include "network/channel.h"

namespace certledger::node {

using ledger::Bytes;
using ledger::Result;
using ledger::Status;
using nlohmann::json;

namespace {

constexpr char kKeyType[] = "certledger/bip340-secp256k1";
constexpr std::string_view kAadPrefix = "certledger/keyfile/v2";
constexpr size_t kMaxKeyFileBytes = 64 * 1024;
constexpr size_t kSaltBytes = 16;
constexpr uint32_t kMinLogN = 10, kMaxLogN = 20;
constexpr uint64_t kScryptR = 8, kScryptP = 1;

// Wipes a string's bytes when it goes out of scope.
struct Wiped {
  std::string s;
  ~Wiped() { OPENSSL_cleanse(s.data(), s.size()); }
};

std::string Errno() { return std::strerror(errno); }

// "64 KiB", "1 MiB", "100 bytes": sizes in messages.
std::string SizeText(size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

// The checks are made on the open descriptor (no window between check and use).
Result<std::string> ReadFileNoFollow(const std::string& path, size_t max_bytes,
                                     bool must_be_private, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ELOOP) {
      return Status::InvalidArgument(what + " " + path +
                                     " is a symbolic link; it is opened without following links: "
                                     "point the configuration at the file itself");
    }
    return Status::IOError("cannot read " + what + " " + path + ": " + Errno());
  }
  struct stat st {};
  Status bad = Status::Ok();
  const std::string too_large = what + " " + path + " is larger than " + SizeText(max_bytes);
  if (::fstat(fd, &st) != 0) {
    bad = Status::IOError("cannot stat " + what + " " + path + ": " + Errno());
  } else if (!S_ISREG(st.st_mode)) {
    bad = Status::InvalidArgument(what + " " + path + " is not a regular file");
  } else if (must_be_private && (st.st_mode & 077) != 0) {
    bad = Status::InvalidArgument(what + " " + path +
                                  " is readable by group or others; run: chmod 600 " + path);
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    bad = Status::InvalidArgument(too_large);
  }
  std::string text;
  if (bad.ok()) {
    text.resize(max_bytes + 1);
    size_t off = 0;
    for (;;) {
      const ssize_t n = ::read(fd, text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        bad = Status::IOError("cannot read " + what + " " + path + ": " + Errno());
        break;
      }
      if (n == 0) break;
      off += static_cast<size_t>(n);
      if (off > max_bytes) {
        bad = Status::InvalidArgument(too_large);
        break;
      }
    }
    text.resize(off);
  }
  ::close(fd);
  if (!bad.ok()) {
    OPENSSL_cleanse(text.data(), text.size());
    return bad;
  }
  return text;
}

Result<std::string> ReadSecretFile(const std::string& path, size_t max_bytes,
                                   const std::string& what) {
  return ReadFileNoFollow(path, max_bytes, /*must_be_private=*/true, what);
}

namespace {

Result<json> LoadJson(const std::string& path, bool must_be_private) {
  auto text = ReadFileNoFollow(path, kMaxKeyFileBytes, must_be_private, "key file");
  if (!text.ok()) return text.status();
  Wiped wiped{std::move(text).value()};
  auto j = json::parse(wiped.s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("key file " + path + " is not a JSON object");
  }
  if (!j.contains("type") || !j["type"].is_string() || j["type"].get<std::string>() != kKeyType) {
    return Status::InvalidArgument("key file " + path + ": type must be " + kKeyType);
  }
  return j;
}

Status SyncDirectory(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open directory " + dir + ": " + Errno());
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::IOError("cannot sync directory " + dir + ": " + Errno());
  return Status::Ok();
}

// Writes `text` to a new file (or replaces `path` atomically when `overwrite`: a temporary file
// in the same directory, synced, then renamed over it), mode 0600, synced with its directory.
Status WriteSecretFile(const std::string& path, const std::string& text, bool overwrite) {
  const std::string target = overwrite ? path + ".tmp" : path;
  if (overwrite) ::unlink(target.c_str());  // a leftover of an interrupted replacement
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create key file " + target + ": " + Errno());
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t off = 0;
  while (ok && off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    off += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const std::string why = ok ? "" : Errno();
  ::close(fd);
  if (!ok) {
    ::unlink(target.c_str());
    return Status::IOError("cannot write key file " + target + ": " + why);
  }
  if (overwrite && ::rename(target.c_str(), path.c_str()) != 0) {
    const std::string e = Errno();
    ::unlink(target.c_str());
    return Status::IOError("cannot replace key file " + path + ": " + e);
  }
  return SyncDirectory(path);
}

Result<network::channel::AeadKey> DeriveFileKey(const std::string& passphrase, const Bytes& salt,
                                                uint32_t log_n) {
  network::channel::AeadKey key;
  const uint64_t n = uint64_t{1} << log_n;
  const uint64_t maxmem = 128 * n * kScryptR * 2 + (1 << 20);
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), salt.data(), salt.size(), n, kScryptR,
                     kScryptP, maxmem, key.data(), key.size()) != 1) {
    return Status::IOError("scrypt key derivation failed");
  }
  return key;
}

Bytes Aad(const ledger::PublicKey& pub) {
  Bytes aad;
  aad.reserve(kAadPrefix.size() + pub.size());
  for (char c : kAadPrefix) aad.push_back(static_cast<uint8_t>(c));
  aad.insert(aad.end(), pub.bytes.begin(), pub.bytes.end());
  return aad;
}

Result<std::string> ReadTerminal(const std::string& prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Status::NotFound("no terminal");
  termios old{};
  const bool have_termios = ::tcgetattr(fd, &old) == 0;
  if (have_termios) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  const std::string ask = prompt + ": ";
  (void)!::write(fd, ask.data(), ask.size());
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n' && line.size() < 1024) line.push_back(c);
  (void)!::write(fd, "\n", 1);
  if (have_termios) ::tcsetattr(fd, TCSAFLUSH, &old);
  ::close(fd);
  return line;
}

}  // namespace

Result<std::string> ObtainPassphrase(const PassphraseSource& source, const std::string& what) {
  if (!source.file.empty()) {
    auto text = ReadSecretFile(source.file, kMaxKeyFileBytes, "passphrase file");
    if (!text.ok()) return text.status();
    std::string p = std::move(text).value();
    const size_t end = p.find_first_of("\r\n");
    if (end != std::string::npos) {
      OPENSSL_cleanse(p.data() + end, p.size() - end);
      p.resize(end);
    }
    if (p.empty()) return Status::InvalidArgument("passphrase file " + source.file + " is empty");
    return p;
  }
  if (!source.env.empty()) {
    const char* v = std::getenv(source.env.c_str());
    if (v != nullptr && *v != '\0') return std::string(v);
  }
  if (source.terminal && ::isatty(STDIN_FILENO) == 1) {
    auto p = ReadTerminal(source.prompt + " for " + what);
    if (p.ok() && !p->empty()) return p;
  }
  return Status::InvalidArgument(what + " needs a passphrase: give a passphrase file" +
                                 (source.env.empty() ? "" : ", set " + source.env) +
                                 (source.terminal ? " or run on a terminal" : ""));
}

Status WriteKeyFile(const std::string& path, const ledger::PrivateKey& key, bool overwrite) {
  Wiped text{"{\n  \"type\": \"" + std::string(kKeyType) + "\",\n  \"public_key\": \"" +
             key.public_key().Hex() + "\",\n  \"secret_key\": \"" + ledger::ToHex(key.secret()) +
             "\"\n}\n"};
  return WriteSecretFile(path, text.s, overwrite);
}

Status WriteEncryptedKeyFile(const std::string& path, const ledger::PrivateKey& key,
                             const std::string& passphrase, bool overwrite, uint32_t scrypt_log_n) {
  if (passphrase.empty()) return Status::InvalidArgument("empty passphrase");
  if (scrypt_log_n < kMinLogN || scrypt_log_n > kMaxLogN) {
    return Status::InvalidArgument("scrypt log_n must be 10..20");
  }
  Bytes salt(kSaltBytes);
  ledger::RandomBytes(salt);
  network::channel::AeadNonce nonce;
  ledger::RandomBytes(nonce.bytes);
  auto file_key = DeriveFileKey(passphrase, salt, scrypt_log_n);
  if (!file_key.ok()) return file_key.status();
  auto sealed = network::channel::AeadSeal(*file_key, nonce, Aad(key.public_key()), key.secret());
  OPENSSL_cleanse(file_key->data(), file_key->size());
  if (!sealed.ok()) return sealed.status();
  json j = {{"type", kKeyType},
            {"version", 2},
            {"public_key", key.public_key().Hex()},
            {"encryption",
             {{"kdf", "scrypt"},
              {"log_n", scrypt_log_n},
              {"r", kScryptR},
              {"p", kScryptP},
              {"salt", ledger::ToHex(salt)},
              {"cipher", "chacha20-poly1305"},
              {"nonce", nonce.Hex()},
              {"ciphertext", ledger::ToHex(*sealed)}}}};
  return WriteSecretFile(path, j.dump(2) + "\n", overwrite);
}

Result<ledger::PrivateKey> ReadKeyFile(const std::string& path, const PassphraseSource& source,
                                       std::string* warning) {
  auto j = LoadJson(path, /*must_be_private=*/true);
  if (!j.ok()) return j.status();
  auto pub = ledger::PublicKey::ParseHex(j->value("public_key", ""));
  if (!pub) return Status::InvalidArgument("key file " + path + ": public_key is not a valid key");
  Bytes secret;
  auto bad = [&](const std::string& why) {
    OPENSSL_cleanse(secret.data(), secret.size());
    return Status::InvalidArgument("key file " + path + ": " + why);
  };
  int64_t version = 1;
  if (j->contains("version")) {
    if (std::string why = ledger::JsonToInteger((*j)["version"], &version); !why.empty()) {
      return bad("version: " + why);
    }
  }
  if (version == 1) {
    if (!j->contains("secret_key") || !(*j)["secret_key"].is_string()) {
      return bad("secret_key missing");
    }
    Wiped hex{(*j)["secret_key"].get<std::string>()};
    (*j)["secret_key"] = "";
    auto s = ledger::FromHex(hex.s);
    if (!s) return bad("secret_key is not hex");
    secret = std::move(*s);
    if (warning != nullptr) {
      *warning = "key file " + path +
                 " is not encrypted; encrypt it with: certledger reencrypt-key --key " + path;
    }
  } else if (version == 2) {
    if (!j->contains("encryption") || !(*j)["encryption"].is_object()) {
      return bad("encryption missing");
    }
    const json& e = (*j)["encryption"];
    auto str = [&](const char* k) {
      return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : std::string();
    };
    uint32_t log_n = 0;
    uint64_t r = 0, p = 0;
    if (str("kdf") != "scrypt") return bad("encryption.kdf must be scrypt");
    if (str("cipher") != "chacha20-poly1305") {
      return bad("encryption.cipher must be chacha20-poly1305");
    }
    if (!e.contains("log_n") || !ledger::JsonToInteger(e["log_n"], &log_n).empty() ||
        log_n < kMinLogN || log_n > kMaxLogN) {
      return bad("encryption.log_n must be an integer 10..20");
    }
    if (!e.contains("r") || !ledger::JsonToInteger(e["r"], &r).empty() || r != kScryptR ||
        !e.contains("p") || !ledger::JsonToInteger(e["p"], &p).empty() || p != kScryptP) {
      return bad("encryption.r and .p must be 8 and 1");
    }
    auto salt = ledger::FromHex(str("salt"));
    if (!salt || salt->size() < kSaltBytes || salt->size() > 64) {
      return bad("encryption.salt must be 16..64 bytes of hex");
    }
    auto nonce = network::channel::AeadNonce::FromHexString(str("nonce"));
    if (!nonce) return bad("encryption.nonce must be 12 bytes of hex");
    auto ciphertext = ledger::FromHex(str("ciphertext"));
    if (!ciphertext || ciphertext->size() != 32 + network::channel::kAeadTagBytes) {
      return bad("encryption.ciphertext must be 48 bytes of hex");
    }
    auto passphrase = ObtainPassphrase(source, "key file " + path);
    if (!passphrase.ok()) return passphrase.status();
    Wiped pass{std::move(passphrase).value()};
    auto file_key = DeriveFileKey(pass.s, *salt, log_n);
    if (!file_key.ok()) return file_key.status();
    auto opened = network::channel::AeadOpen(*file_key, *nonce, Aad(*pub), *ciphertext);
    OPENSSL_cleanse(file_key->data(), file_key->size());
    if (!opened.ok()) return bad("wrong passphrase, or the file was altered");
    secret = std::move(opened).value();
  } else {
    return bad("unknown version " + std::to_string(version) + " (this build reads 1 and 2)");
  }
  auto key = ledger::PrivateKey::FromBytes(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!key) return bad("the secret is not a valid key");
  if (key->public_key() != *pub) return bad("public_key does not match the secret");
  return *key;
}

Result<ledger::PublicKey> ReadPublicKey(const std::string& path) {
  auto j = LoadJson(path, /*must_be_private=*/false);
  if (!j.ok()) return j.status();
  auto k = ledger::PublicKey::ParseHex(j->value("public_key", ""));
  if (!k) return Status::InvalidArgument("key file " + path + ": public_key is not a valid key");
  return *k;
}

Result<bool> IsEncryptedKeyFile(const std::string& path) {
  auto j = LoadJson(path, /*must_be_private=*/false);
  if (!j.ok()) return j.status();
  return j->contains("encryption");
}

}  // namespace certledger::node
