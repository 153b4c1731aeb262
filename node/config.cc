#include "node/config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string_view>

#include "ledger/host_port.h"
#include "ledger/json_int.h"
#include "node/keyfile.h"

namespace certledger::node {

using ledger::Result;
using ledger::Status;
using nlohmann::json;

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<HostPort> ParseHostPort(const std::string& s) {
  auto hp = ledger::ParseHostPort(s);
  if (!hp.ok()) return std::nullopt;
  return HostPort{hp->host, hp->port};
}

std::string NodeConfig::Path(const std::string& relative) const {
  if (relative.empty() || relative[0] == '/') return relative;
  return (std::filesystem::path(home) / relative).string();
}

Status NodeConfig::Validate() const {
  auto bad = [](const std::string& field, const std::string& why) {
    return Status::InvalidArgument("config." + field + ": " + why);
  };
  if (moniker.empty() || moniker.size() > 64) return bad("moniker", "1 to 64 characters");
  if (genesis_file.empty()) return bad("genesis_file", "required");
  if (data_dir.empty()) return bad("data_dir", "required");
  if (node_key_file.empty()) {
    return bad("node_key_file",
               "every node needs its node identity key (for a validator, the one its entry in "
               "the validator set names; the validator key signs votes and proposals only)");
  }
  if (p2p_listen.port == 0) return bad("p2p.listen", "port must be set");
  if (api_listen.port == 0) return bad("api.listen", "port must be set");
  if (api_listen.port == p2p_listen.port && api_listen.host == p2p_listen.host) {
    return bad("api.listen", "same address as p2p.listen");
  }
  for (size_t i = 0; i < peers.size(); ++i) {
    if (peers[i].name.empty()) return bad("p2p.peers[" + std::to_string(i) + "].name", "required");
  }
  auto timeout = [&](const char* name, uint64_t v) -> Status {
    if (v == 0 || v > 600000) return bad(std::string("consensus.") + name, "1 to 600000 ms");
    return Status::Ok();
  };
  for (auto [name, v] : {std::pair{"timeout_propose_ms", timeout_propose_ms},
                         std::pair{"timeout_prevote_ms", timeout_prevote_ms},
                         std::pair{"timeout_precommit_ms", timeout_precommit_ms}}) {
    if (Status st = timeout(name, v); !st.ok()) return st;
  }
  if (api_tls_certificate_file.empty() != api_tls_key_file.empty()) {
    return bad(api_tls_certificate_file.empty() ? "api.tls_certificate_file" : "api.tls_key_file",
               "tls_certificate_file and tls_key_file go together (both or neither)");
  }
  if (api_threads == 0 || api_threads > 64) return bad("api.threads", "1 to 64");
  if (api_max_connections == 0) return bad("api.max_connections", "must be positive");
  if (max_block_txs == 0 || max_block_txs > 100000) {
    return bad("consensus.max_block_txs", "1 to 100000");
  }
  if (mempool_max_txs == 0) return bad("mempool.max_txs", "must be positive");
  if (mempool_max_bytes < (1 << 20)) return bad("mempool.max_bytes", "at least 1 MiB");
  if (log_level != "trace" && log_level != "debug" && log_level != "info" && log_level != "warn" &&
      log_level != "error") {
    return bad("log.level", "one of trace, debug, info, warn, error");
  }
  return Status::Ok();
}

namespace {

// Reads an optional field, keeping the default; a wrong type names the field.
template <class T>
Status Opt(const json& obj, const char* key, const std::string& path, T* out) {
  if (!obj.is_object()) return Status::InvalidArgument("config." + path + ": expected an object");
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  try {
    if (std::string why = ledger::JsonTo(*it, out); !why.empty()) {
      return Status::InvalidArgument("config." + (path.empty() ? "" : path + ".") + key + ": " +
                                     why);
    }
  } catch (const json::exception&) {
    return Status::InvalidArgument("config." + (path.empty() ? "" : path + ".") + key +
                                   ": wrong type");
  }
  return Status::Ok();
}

Status OptHostPort(const json& obj, const char* key, const std::string& path, HostPort* out) {
  std::string s;
  bool present = obj.contains(key);
  if (Status st = Opt(obj, key, path, &s); !st.ok()) return st;
  if (!present) return Status::Ok();
  auto hp = ParseHostPort(s);
  if (!hp) {
    return Status::InvalidArgument("config." + path + "." + key + ": expected host:port, got '" +
                                   s + "'");
  }
  *out = *hp;
  return Status::Ok();
}

const json kEmpty = json::object();
const json& Section(const json& doc, const char* name) {
  auto it = doc.find(name);
  return it == doc.end() ? kEmpty : *it;
}

// A key this version does not know is refused, at every level: a misspelt
// "max_conections_per_ip" must not silently leave the default in force.
Status CheckKnown(const json& obj, const std::string& path,
                  std::initializer_list<std::string_view> known) {
  if (!obj.is_object()) {
    return Status::InvalidArgument("config" + (path.empty() ? "" : "." + path) +
                                   ": expected an object");
  }
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      return Status::InvalidArgument("config." + (path.empty() ? "" : path + ".") + it.key() +
                                     ": unknown field");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<NodeConfig> ParseConfig(const std::string& text, const std::string& home) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("config: not a JSON object");
  }
  Status st =
      CheckKnown(doc, "",
                 {"moniker", "genesis_file", "data_dir", "validator_key_file", "node_key_file",
                  "key_passphrase_file", "p2p", "api", "consensus", "mempool", "log"});
  if (!st.ok()) return st;
  NodeConfig c;
  c.home = home;
#define CL_OPT(obj, key, path, out) \
  if (!(st = Opt(obj, key, path, out)).ok()) return st
  CL_OPT(doc, "moniker", "", &c.moniker);
  CL_OPT(doc, "genesis_file", "", &c.genesis_file);
  CL_OPT(doc, "data_dir", "", &c.data_dir);
  CL_OPT(doc, "validator_key_file", "", &c.validator_key_file);
  CL_OPT(doc, "node_key_file", "", &c.node_key_file);
  CL_OPT(doc, "key_passphrase_file", "", &c.key_passphrase_file);
  const json& p2p = Section(doc, "p2p");
  if (!(st = CheckKnown(p2p, "p2p", {"listen", "peers"})).ok()) return st;
  if (!(st = OptHostPort(p2p, "listen", "p2p", &c.p2p_listen)).ok()) return st;
  if (auto peers = p2p.find("peers"); peers != p2p.end()) {
    if (!peers->is_array()) return Status::InvalidArgument("config.p2p.peers: expected an array");
    for (size_t i = 0; i < peers->size(); ++i) {
      const json& p = (*peers)[i];
      const std::string path = "p2p.peers[" + std::to_string(i) + "]";
      if (!(st = CheckKnown(p, path, {"name", "key", "address"})).ok()) return st;
      PeerEntry e;
      std::string key;
      CL_OPT(p, "name", path, &e.name);
      CL_OPT(p, "key", path, &key);
      auto pk = ledger::PublicKey::ParseHex(key);
      if (!pk) return Status::InvalidArgument("config." + path + ".key: not a public key");
      e.key = *pk;
      if (p.contains("address")) {
        HostPort hp;
        if (!(st = OptHostPort(p, "address", path, &hp)).ok()) return st;
        e.address = hp;
      }
      c.peers.push_back(std::move(e));
    }
  }
  const json& api = Section(doc, "api");
  st = CheckKnown(api, "api",
                  {"listen", "threads", "max_connections", "max_connections_per_ip",
                   "header_timeout_ms", "busy_idle_timeout_ms", "rate_limit_per_second",
                   "rate_limit_burst", "tls_certificate_file", "tls_key_file"});
  if (!st.ok()) return st;
  if (!(st = OptHostPort(api, "listen", "api", &c.api_listen)).ok()) return st;
  CL_OPT(api, "threads", "api", &c.api_threads);
  CL_OPT(api, "max_connections", "api", &c.api_max_connections);
  CL_OPT(api, "max_connections_per_ip", "api", &c.api_max_connections_per_ip);
  CL_OPT(api, "header_timeout_ms", "api", &c.api_header_timeout_ms);
  CL_OPT(api, "busy_idle_timeout_ms", "api", &c.api_busy_idle_timeout_ms);
  CL_OPT(api, "rate_limit_per_second", "api", &c.api_rate_limit_per_second);
  CL_OPT(api, "rate_limit_burst", "api", &c.api_rate_limit_burst);
  CL_OPT(api, "tls_certificate_file", "api", &c.api_tls_certificate_file);
  CL_OPT(api, "tls_key_file", "api", &c.api_tls_key_file);
  const json& cons = Section(doc, "consensus");
  st = CheckKnown(cons, "consensus",
                  {"timeout_propose_ms", "timeout_propose_delta_ms", "timeout_prevote_ms",
                   "timeout_prevote_delta_ms", "timeout_precommit_ms", "timeout_precommit_delta_ms",
                   "empty_block_interval_ms", "max_block_txs"});
  if (!st.ok()) return st;
  CL_OPT(cons, "timeout_propose_ms", "consensus", &c.timeout_propose_ms);
  CL_OPT(cons, "timeout_propose_delta_ms", "consensus", &c.timeout_propose_delta_ms);
  CL_OPT(cons, "timeout_prevote_ms", "consensus", &c.timeout_prevote_ms);
  CL_OPT(cons, "timeout_prevote_delta_ms", "consensus", &c.timeout_prevote_delta_ms);
  CL_OPT(cons, "timeout_precommit_ms", "consensus", &c.timeout_precommit_ms);
  CL_OPT(cons, "timeout_precommit_delta_ms", "consensus", &c.timeout_precommit_delta_ms);
  CL_OPT(cons, "empty_block_interval_ms", "consensus", &c.empty_block_interval_ms);
  CL_OPT(cons, "max_block_txs", "consensus", &c.max_block_txs);
  const json& mem = Section(doc, "mempool");
  if (!(st = CheckKnown(mem, "mempool", {"max_txs", "max_bytes"})).ok()) return st;
  if (!(st = CheckKnown(Section(doc, "log"), "log", {"level"})).ok()) return st;
  CL_OPT(mem, "max_txs", "mempool", &c.mempool_max_txs);
  CL_OPT(mem, "max_bytes", "mempool", &c.mempool_max_bytes);
  CL_OPT(Section(doc, "log"), "level", "log", &c.log_level);
#undef CL_OPT
  if (Status v = c.Validate(); !v.ok()) return v;
  return c;
}

Result<ApiTlsPem> ReadApiTlsFiles(const NodeConfig& c) {
  constexpr size_t kMaxPemBytes = 1 << 20;
  ApiTlsPem pem;
  const std::string cert_path = c.Path(c.api_tls_certificate_file);
  auto chain =
      ReadFileNoFollow(cert_path, kMaxPemBytes, /*must_be_private=*/false, "TLS certificate file");
  if (!chain.ok()) {
    return Status::InvalidArgument("config.api.tls_certificate_file: " + chain.status().message());
  }
  pem.certificate_chain = std::move(chain).value();
  auto key = ReadSecretFile(c.Path(c.api_tls_key_file), kMaxPemBytes, "TLS key file");
  if (!key.ok()) {
    return Status::InvalidArgument("config.api.tls_key_file: " + key.status().message());
  }
  pem.private_key = std::move(key).value();
  return pem;
}

Result<NodeConfig> LoadConfig(const std::string& home) {
  const std::string path = (std::filesystem::path(home) / "config.json").string();
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ParseConfig(ss.str(), home);
  if (!c.ok()) return Status::InvalidArgument(path + ": " + c.status().message());
  return c;
}

std::string ConfigToJson(const NodeConfig& c) {
  json peers = json::array();
  for (const auto& p : c.peers) {
    json e = {{"name", p.name}, {"key", p.key.Hex()}};
    if (p.address) e["address"] = p.address->ToString();
    peers.push_back(e);
  }
  json doc = {
      {"moniker", c.moniker},
      {"genesis_file", c.genesis_file},
      {"data_dir", c.data_dir},
      {"validator_key_file", c.validator_key_file},
      {"node_key_file", c.node_key_file},
      {"key_passphrase_file", c.key_passphrase_file},
      {"p2p", {{"listen", c.p2p_listen.ToString()}, {"peers", peers}}},
      {"api",
       {{"listen", c.api_listen.ToString()},
        {"threads", c.api_threads},
        {"max_connections", c.api_max_connections},
        {"max_connections_per_ip", c.api_max_connections_per_ip},
        {"header_timeout_ms", c.api_header_timeout_ms},
        {"busy_idle_timeout_ms", c.api_busy_idle_timeout_ms},
        {"rate_limit_per_second", c.api_rate_limit_per_second},
        {"rate_limit_burst", c.api_rate_limit_burst}}},
      {"consensus",
       {{"timeout_propose_ms", c.timeout_propose_ms},
        {"timeout_propose_delta_ms", c.timeout_propose_delta_ms},
        {"timeout_prevote_ms", c.timeout_prevote_ms},
        {"timeout_prevote_delta_ms", c.timeout_prevote_delta_ms},
        {"timeout_precommit_ms", c.timeout_precommit_ms},
        {"timeout_precommit_delta_ms", c.timeout_precommit_delta_ms},
        {"empty_block_interval_ms", c.empty_block_interval_ms},
        {"max_block_txs", c.max_block_txs}}},
      {"mempool", {{"max_txs", c.mempool_max_txs}, {"max_bytes", c.mempool_max_bytes}}},
      {"log", {{"level", c.log_level}}},
  };
  // Written only when set, so that a plain-HTTP node's file stays as it was.
  if (c.ApiTls()) {
    doc["api"]["tls_certificate_file"] = c.api_tls_certificate_file;
    doc["api"]["tls_key_file"] = c.api_tls_key_file;
  }
  return doc.dump(2) + "\n";
}

}  // namespace certledger::node
