#include "node/init.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ledger/chain.h"
#include "node/keyfile.h"

namespace certledger::node {

namespace fs = std::filesystem;
using ledger::Result;
using ledger::Status;

Result<PeerEntry> ParsePeerSpec(const std::string& spec) {
  const size_t a = spec.find('@');
  if (a == std::string::npos || a == 0) {
    return Status::InvalidArgument("--peer '" + spec + "': expected name@publickey[@host:port]");
  }
  PeerEntry p;
  p.name = spec.substr(0, a);
  const size_t b = spec.find('@', a + 1);
  const std::string key =
      spec.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  auto pk = ledger::PublicKey::ParseHex(key);
  if (!pk) return Status::InvalidArgument("--peer '" + spec + "': not a public key: " + key);
  p.key = *pk;
  if (b != std::string::npos) {
    auto hp = ParseHostPort(spec.substr(b + 1));
    if (!hp) return Status::InvalidArgument("--peer '" + spec + "': expected host:port after @");
    p.address = *hp;
  }
  return p;
}

namespace {

Result<std::string> ReadText(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return Status::IOError(what + ": cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Copies a key file into the home with mode 0600, after checking it holds a key.
Result<ledger::PublicKey> ImportKey(const std::string& from, const fs::path& to) {
  auto pub = ReadPublicKey(from);
  if (!pub.ok()) return Status::InvalidArgument(from + ": " + pub.status().message());
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::none, ec);
  if (ec)
    return Status::IOError("cannot copy " + from + " to " + to.string() + ": " + ec.message());
  if (::chmod(to.c_str(), 0600) != 0) return Status::IOError("cannot chmod 0600 " + to.string());
  return *pub;
}

Result<ledger::PublicKey> NewKey(const InitOptions& o, const fs::path& to) {
  ledger::PrivateKey key = ledger::PrivateKey::Generate();
  Status st;
  if (o.encrypt) {
    PassphraseSource src;
    src.file = o.passphrase_file;
    src.prompt = "New passphrase";
    auto pass = ObtainPassphrase(src, to.string());
    if (!pass.ok()) return pass.status();
    st = WriteEncryptedKeyFile(to.string(), key, *pass);
  } else {
    st = WriteKeyFile(to.string(), key);
  }
  if (!st.ok()) return st;
  return key.public_key();
}

}  // namespace

Result<InitResult> InitHome(const InitOptions& o) {
  if (o.home.empty()) return Status::InvalidArgument("--home: required");
  const fs::path home(o.home);
  for (const char* f : {"config.toml", "config.json", "node_key.json", "validator_key.json"}) {
    std::error_code ec;
    if (fs::exists(home / f, ec)) {
      return Status::InvalidArgument((home / f).string() +
                                     " exists: init never overwrites a home (keys!)");
    }
  }
  NodeConfig c;
  c.home = o.home;
  c.moniker = o.moniker;
  c.p2p_listen = o.p2p_listen;
  c.api_listen = o.api_listen;
  if (o.admin_listen.empty()) {
    c.admin_listen = std::nullopt;
  } else {
    auto hp = ParseHostPort(o.admin_listen);
    if (!hp) return Status::InvalidArgument("--admin-listen: expected host:port");
    c.admin_listen = *hp;
  }
  for (const auto& spec : o.peers) {
    auto p = ParsePeerSpec(spec);
    if (!p.ok()) return p.status();
    c.peers.push_back(*p);
  }
  if (!o.peers_file.empty()) {
    auto text = ReadText(o.peers_file, "--peers-file");
    if (!text.ok()) return text.status();
    // The same shape as the config's p2p.peers: checked by the config parser itself.
    auto parsed = ParseConfig("{\"p2p\": {\"peers\": " + *text + "}}", o.home);
    if (!parsed.ok())
      return Status::InvalidArgument(o.peers_file + ": " + parsed.status().message());
    c.peers.insert(c.peers.end(), parsed->peers.begin(), parsed->peers.end());
  }
  const bool validator = o.validator || !o.validator_key_file.empty();
  if (!validator) c.validator_key_file.clear();
  if (Status st = c.Validate(); !st.ok()) return st;

  InitResult r;
  std::string genesis_text;
  if (!o.genesis_file.empty()) {
    auto text = ReadText(o.genesis_file, "--genesis");
    if (!text.ok()) return text.status();
    auto g = ledger::ParseGenesisJson(*text);
    if (!g.ok()) return Status::InvalidArgument(o.genesis_file + ": " + g.status().message());
    if (Status st = ledger::ValidateGenesis(*g); !st.ok()) {
      return Status::InvalidArgument(o.genesis_file + ": " + st.message());
    }
    r.genesis_hash_hex = ledger::GenesisHash(*g).Hex();
    genesis_text = std::move(*text);
  }

  std::error_code ec;
  fs::create_directories(home / "data", ec);
  if (ec) return Status::IOError("cannot create " + (home / "data").string() + ": " + ec.message());
  auto node_key = o.node_key_file.empty() ? NewKey(o, home / "node_key.json")
                                          : ImportKey(o.node_key_file, home / "node_key.json");
  if (!node_key.ok()) return node_key.status();
  r.node_key = *node_key;
  if (validator) {
    auto vk = o.validator_key_file.empty()
                  ? NewKey(o, home / "validator_key.json")
                  : ImportKey(o.validator_key_file, home / "validator_key.json");
    if (!vk.ok()) return vk.status();
    r.validator_key = *vk;
  }
  if (o.encrypt && !o.passphrase_file.empty()) {
    // The node reads encrypted keys with the same passphrase file.
    c.key_passphrase_file = fs::absolute(o.passphrase_file).string();
  }
  if (!genesis_text.empty()) {
    std::ofstream out(home / "genesis.json");
    out << genesis_text;
    if (!out) return Status::IOError("cannot write " + (home / "genesis.json").string());
  }
  r.config_path = (home / "config.toml").string();
  std::ofstream cfg(r.config_path);
  cfg << ConfigToToml(c);
  if (!cfg) return Status::IOError("cannot write " + r.config_path);
  return r;
}

}  // namespace certledger::node
