#include "node/config.h"

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <variant>

#include "ledger/host_port.h"
#include "ledger/json_int.h"
#include "node/keyfile.h"
#include "node/logging.h"

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
  if (auto levels = ParseLogLevels(log_level); !levels.ok()) {
    return bad("log.level", levels.status().message());
  }
  if (auto format = ParseLogFormat(log_format); !format.ok()) {
    return bad("log.format", format.status().message());
  }
  if (admin_listen && admin_listen->port == api_listen.port &&
      admin_listen->host == api_listen.host) {
    return bad("admin.listen", "same address as api.listen");
  }
  if (admin_listen && admin_listen->port == p2p_listen.port &&
      admin_listen->host == p2p_listen.host) {
    return bad("admin.listen", "same address as p2p.listen");
  }
  return Status::Ok();
}

namespace {

// ---- the field table: one entry per scalar field, in file order --------------------------------

using Member =
    std::variant<std::string NodeConfig::*, uint32_t NodeConfig::*, uint64_t NodeConfig::*,
                 HostPort NodeConfig::*, std::optional<HostPort> NodeConfig::*>;
struct Field {
  const char* section;  // "" for the top level
  const char* key;
  Member member;
  const char* help;          // the comment above the field in generated TOML
  bool only_if_set = false;  // written only when not empty (the TLS files)
};

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = {
      {"", "moniker", &NodeConfig::moniker, "This node's name in logs and /v1/status."},
      {"", "genesis_file", &NodeConfig::genesis_file, "The chain's genesis file."},
      {"", "data_dir", &NodeConfig::data_dir,
       "The ledger store (data/ledger) and the consensus record (data/consensus.wal)."},
      {"", "validator_key_file", &NodeConfig::validator_key_file,
       "The validator (consensus) key; empty: an observer that follows the chain."},
      {"", "node_key_file", &NodeConfig::node_key_file,
       "The node identity on the peer network (for a validator: the one its validator entry "
       "names)."},
      {"", "key_passphrase_file", &NodeConfig::key_passphrase_file,
       "Passphrase of encrypted key files (mode 0600); empty: $CERTLEDGER_KEY_PASSPHRASE, else "
       "the terminal."},
      {"p2p", "listen", &NodeConfig::p2p_listen, "Peer-to-peer address (host:port)."},
      {"api", "listen", &NodeConfig::api_listen, "Public HTTP API address (host:port)."},
      {"api", "threads", &NodeConfig::api_threads, "HTTP server threads (1-64)."},
      {"api", "max_connections", &NodeConfig::api_max_connections,
       "Open client connections; beyond: 503."},
      {"api", "max_connections_per_ip", &NodeConfig::api_max_connections_per_ip,
       "Open connections per client address; beyond: 429."},
      {"api", "header_timeout_ms", &NodeConfig::api_header_timeout_ms,
       "A request header must be complete within this many ms."},
      {"api", "busy_idle_timeout_ms", &NodeConfig::api_busy_idle_timeout_ms,
       "Keep-alive idle timeout while more than half of max_connections are open."},
      {"api", "rate_limit_per_second", &NodeConfig::api_rate_limit_per_second,
       "Requests per second per client IP (token bucket); 0 disables."},
      {"api", "rate_limit_burst", &NodeConfig::api_rate_limit_burst,
       "Token bucket size per client IP."},
      {"api", "tls_certificate_file", &NodeConfig::api_tls_certificate_file,
       "HTTPS: PEM certificate chain, leaf first (with tls_key_file; neither: plain HTTP).", true},
      {"api", "tls_key_file", &NodeConfig::api_tls_key_file,
       "HTTPS: the unencrypted PEM private key (mode 0600).", true},
      {"admin", "listen", &NodeConfig::admin_listen,
       "Metrics, /healthz, /readyz and log levels (host:port; keep it on loopback or a "
       "management network); \"\": none."},
      {"consensus", "timeout_propose_ms", &NodeConfig::timeout_propose_ms,
       "timeoutPropose(r) = timeout_propose_ms + r * timeout_propose_delta_ms."},
      {"consensus", "timeout_propose_delta_ms", &NodeConfig::timeout_propose_delta_ms, ""},
      {"consensus", "timeout_prevote_ms", &NodeConfig::timeout_prevote_ms,
       "timeoutPrevote(r), likewise."},
      {"consensus", "timeout_prevote_delta_ms", &NodeConfig::timeout_prevote_delta_ms, ""},
      {"consensus", "timeout_precommit_ms", &NodeConfig::timeout_precommit_ms,
       "timeoutPrecommit(r), likewise."},
      {"consensus", "timeout_precommit_delta_ms", &NodeConfig::timeout_precommit_delta_ms, ""},
      {"consensus", "empty_block_interval_ms", &NodeConfig::empty_block_interval_ms,
       "With an empty mempool, at most one block per interval (time keeps moving for expiry)."},
      {"consensus", "max_block_txs", &NodeConfig::max_block_txs,
       "Transactions per proposed block (the chain's own limit still applies)."},
      {"mempool", "max_txs", &NodeConfig::mempool_max_txs,
       "Mempool bound in transactions; beyond: 429 mempool-full."},
      {"mempool", "max_bytes", &NodeConfig::mempool_max_bytes, "Mempool bound in bytes."},
      {"log", "level", &NodeConfig::log_level,
       "\"info\" for every module, or per module: \"p2p:debug,consensus:info,*:warn\" "
       "(modules: node, consensus, p2p, mempool, sync, api)."},
      {"log", "format", &NodeConfig::log_format, "text, or json (one JSON object per line)."},
  };
  return fields;
}

constexpr const char* kSections[] = {"p2p", "api", "admin", "consensus", "mempool", "log"};

std::string Dotted(const char* section, const char* key) {
  return *section == '\0' ? std::string(key) : std::string(section) + "." + key;
}

Status Bad(const std::string& field, const std::string& why) {
  return Status::InvalidArgument("config." + field + ": " + why);
}

// A key this version does not know is refused, at every level: a misspelt
// "max_conections_per_ip" must not silently leave the default in force.
Status CheckKnown(const json& obj, const std::string& path, const std::vector<std::string>& known) {
  if (!obj.is_object()) {
    return Status::InvalidArgument("config" + (path.empty() ? "" : "." + path) +
                                   ": expected an object");
  }
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      return Bad((path.empty() ? "" : path + ".") + it.key(), "unknown field");
    }
  }
  return Status::Ok();
}

Status ReadHostPort(const json& v, const std::string& field, bool optional,
                    std::optional<HostPort>* out) {
  if (!v.is_string()) return Bad(field, "expected a \"host:port\" string");
  const std::string s = v.get<std::string>();
  if (optional && s.empty()) {
    *out = std::nullopt;
    return Status::Ok();
  }
  auto hp = ParseHostPort(s);
  if (!hp) return Bad(field, "expected host:port, got '" + s + "'");
  *out = *hp;
  return Status::Ok();
}

Status ReadField(const Field& f, const json& v, NodeConfig* c) {
  const std::string field = Dotted(f.section, f.key);
  return std::visit(
      [&](auto member) -> Status {
        using T = std::remove_cvref_t<decltype(c->*member)>;
        if constexpr (std::is_same_v<T, HostPort>) {
          std::optional<HostPort> hp;
          if (Status st = ReadHostPort(v, field, false, &hp); !st.ok()) return st;
          c->*member = *hp;
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, std::optional<HostPort>>) {
          return ReadHostPort(v, field, true, &(c->*member));
        } else {
          try {
            if (std::string why = ledger::JsonTo(v, &(c->*member)); !why.empty()) {
              return Bad(field, why);
            }
          } catch (const json::exception&) {
            return Bad(field, "wrong type");
          }
          return Status::Ok();
        }
      },
      f.member);
}

Status ReadPeers(const json& peers, NodeConfig* c) {
  if (!peers.is_array()) return Bad("p2p.peers", "expected an array");
  for (size_t i = 0; i < peers.size(); ++i) {
    const json& p = peers[i];
    const std::string path = "p2p.peers[" + std::to_string(i) + "]";
    if (Status st = CheckKnown(p, path, {"name", "key", "address"}); !st.ok()) return st;
    PeerEntry e;
    if (auto it = p.find("name"); it != p.end()) {
      if (!it->is_string()) return Bad(path + ".name", "expected a string");
      e.name = it->get<std::string>();
    }
    auto key = p.find("key");
    std::optional<ledger::PublicKey> pk;
    if (key != p.end() && key->is_string())
      pk = ledger::PublicKey::ParseHex(key->get<std::string>());
    if (!pk) return Bad(path + ".key", "not a public key");
    e.key = *pk;
    if (auto it = p.find("address"); it != p.end()) {
      std::optional<HostPort> hp;
      if (Status st = ReadHostPort(*it, path + ".address", false, &hp); !st.ok()) return st;
      e.address = hp;
    }
    c->peers.push_back(std::move(e));
  }
  return Status::Ok();
}

// The whole document (JSON, or TOML converted to JSON) -> a validated configuration.
Result<NodeConfig> FromJson(const json& doc, const std::string& home) {
  if (!doc.is_object()) return Status::InvalidArgument("config: not an object");
  std::vector<std::string> top;
  for (const Field& f : Fields()) {
    if (*f.section == '\0') top.emplace_back(f.key);
  }
  for (const char* sec : kSections) top.emplace_back(sec);
  if (Status st = CheckKnown(doc, "", top); !st.ok()) return st;
  for (const char* sec : kSections) {
    auto it = doc.find(sec);
    if (it == doc.end()) continue;
    std::vector<std::string> known;
    for (const Field& f : Fields()) {
      if (std::string_view(f.section) == sec) known.emplace_back(f.key);
    }
    if (std::string_view(sec) == "p2p") known.emplace_back("peers");
    if (Status st = CheckKnown(*it, sec, known); !st.ok()) return st;
  }
  NodeConfig c;
  c.home = home;
  for (const Field& f : Fields()) {
    const json* obj = &doc;
    if (*f.section != '\0') {
      auto it = doc.find(f.section);
      if (it == doc.end()) continue;
      obj = &*it;
    }
    auto v = obj->find(f.key);
    if (v == obj->end()) continue;
    if (Status st = ReadField(f, *v, &c); !st.ok()) return st;
  }
  if (auto p2p = doc.find("p2p"); p2p != doc.end()) {
    if (auto peers = p2p->find("peers"); peers != p2p->end()) {
      if (Status st = ReadPeers(*peers, &c); !st.ok()) return st;
    }
  }
  if (Status v = c.Validate(); !v.ok()) return v;
  return c;
}

// Environment overrides, applied to the document before it is read, so that they go through
// the same checks. Returns the overridden fields (for error messages) or the error.
Result<std::map<std::string, std::string>> ApplyEnvironment(const EnvLookup& env, json* doc) {
  std::map<std::string, std::string> applied;  // dotted field -> variable
  auto slot = [&](const char* section) -> json& {
    if (*section == '\0') return *doc;
    json& s = (*doc)[section];
    if (!s.is_object()) s = json::object();
    return s;
  };
  for (const Field& f : Fields()) {
    const std::string field = Dotted(f.section, f.key);
    const std::string name = EnvNameOf(field);
    auto value = env(name);
    if (!value) continue;
    const bool integer = std::holds_alternative<uint32_t NodeConfig::*>(f.member) ||
                         std::holds_alternative<uint64_t NodeConfig::*>(f.member);
    if (integer) {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
      if (value->empty() || ec != std::errc() || end != value->data() + value->size()) {
        return Status::InvalidArgument("environment variable " + name + ": config." + field +
                                       ": expected an unsigned integer, got '" + *value + "'");
      }
      slot(f.section)[f.key] = n;
    } else {
      slot(f.section)[f.key] = *value;
    }
    applied[field] = name;
  }
  const std::string peers_name = EnvNameOf("p2p.peers");
  if (auto value = env(peers_name)) {
    json peers = json::parse(*value, nullptr, false);
    if (peers.is_discarded() || !peers.is_array()) {
      return Status::InvalidArgument(
          "environment variable " + peers_name +
          ": config.p2p.peers: expected a JSON array of {\"name\", \"key\", \"address\"}");
    }
    slot("p2p")["peers"] = std::move(peers);
    applied["p2p.peers"] = peers_name;
  }
  return applied;
}

Result<NodeConfig> FromDocument(json doc, const std::string& home, const EnvLookup& env) {
  if (!doc.is_object()) return Status::InvalidArgument("config: not an object");
  auto applied = ApplyEnvironment(env, &doc);
  if (!applied.ok()) return applied.status();
  auto c = FromJson(doc, home);
  if (c.ok()) return c;
  // Name the variable when the refused field came from the environment.
  const std::string& msg = c.status().message();
  for (const auto& [field, name] : *applied) {
    if (msg.rfind("config." + field + ":", 0) == 0 || msg.rfind("config." + field + "[", 0) == 0) {
      return Status::InvalidArgument(msg + " (from the environment variable " + name + ")");
    }
  }
  return c;
}

// TOML -> the same JSON document the JSON form gives.
Result<json> TomlToJson(const toml::node& n, const std::string& path) {
  if (const auto* t = n.as_table()) {
    json out = json::object();
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      auto j = TomlToJson(v, path.empty() ? key : path + "." + key);
      if (!j.ok()) return j.status();
      out[key] = std::move(*j);
    }
    return out;
  }
  if (const auto* a = n.as_array()) {
    json out = json::array();
    for (size_t i = 0; i < a->size(); ++i) {
      auto j = TomlToJson((*a)[i], path + "[" + std::to_string(i) + "]");
      if (!j.ok()) return j.status();
      out.push_back(std::move(*j));
    }
    return out;
  }
  if (const auto* s = n.as_string()) return json(s->get());
  if (const auto* i = n.as_integer()) return json(i->get());
  if (const auto* b = n.as_boolean()) return json(b->get());
  if (const auto* f = n.as_floating_point()) return json(f->get());
  return Bad(path, "dates and times are not used in this file");
}

// A TOML basic string.
std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// A field's value as JSON (for ConfigToJson) and as TOML text (for ConfigToToml).
json FieldJson(const Field& f, const NodeConfig& c) {
  return std::visit(
      [&](auto member) -> json {
        using T = std::remove_cvref_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<T, HostPort>) {
          return (c.*member).ToString();
        } else if constexpr (std::is_same_v<T, std::optional<HostPort>>) {
          return c.*member ? (c.*member)->ToString() : std::string();
        } else {
          return c.*member;
        }
      },
      f.member);
}

std::string TomlValue(const json& v) {
  if (v.is_string()) return TomlString(v.get<std::string>());
  return v.dump();
}

bool Omitted(const Field& f, const json& v) {
  return f.only_if_set && v.is_string() && v.get<std::string>().empty();
}

}  // namespace

std::string EnvNameOf(const std::string& dotted_field) {
  std::string out = "CERTLEDGER_";
  for (char ch : dotted_field) {
    out += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::vector<std::string> ConfigFieldNames() {
  std::vector<std::string> out;
  for (const Field& f : Fields()) out.push_back(Dotted(f.section, f.key));
  out.insert(out.begin() + 7, "p2p.peers");  // after p2p.listen
  return out;
}

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

EnvLookup NoEnvironment() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

Result<NodeConfig> ParseConfig(const std::string& text, const std::string& home,
                               const EnvLookup& env) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("config: not a JSON object");
  }
  return FromDocument(std::move(doc), home, env);
}

Result<NodeConfig> ParseConfigToml(const std::string& text, const std::string& home,
                                   const EnvLookup& env) {
  toml::table parsed;
  try {
    parsed = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("line " + std::to_string(e.source().begin.line) + ", column " +
                                   std::to_string(e.source().begin.column) + ": " +
                                   std::string(e.description()));
  }
  auto doc = TomlToJson(parsed, "");
  if (!doc.ok()) return doc.status();
  return FromDocument(std::move(*doc), home, env);
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
  const auto toml_path = std::filesystem::path(home) / "config.toml";
  const auto json_path = std::filesystem::path(home) / "config.json";
  std::error_code ec;
  const bool has_toml = std::filesystem::exists(toml_path, ec);
  const bool has_json = std::filesystem::exists(json_path, ec);
  if (has_toml && has_json) {
    return Status::InvalidArgument("both " + toml_path.string() + " and " + json_path.string() +
                                   " exist: keep one");
  }
  const std::string path = (has_toml ? toml_path : json_path).string();
  std::ifstream in(path);
  if (!in)
    return Status::IOError("cannot read " + toml_path.string() + " or " + json_path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = has_toml ? ParseConfigToml(ss.str(), home, ProcessEnvironment())
                    : ParseConfig(ss.str(), home, ProcessEnvironment());
  if (!c.ok()) return Status::InvalidArgument(path + ": " + c.status().message());
  return c;
}

std::string ConfigToJson(const NodeConfig& c) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  for (const Field& f : Fields()) {
    json v = FieldJson(f, c);
    if (Omitted(f, v)) continue;
    if (*f.section == '\0') {
      doc[f.key] = v;
    } else {
      doc[f.section][f.key] = v;
    }
    if (std::string_view(f.section) == "p2p" && std::string_view(f.key) == "listen") {
      nlohmann::ordered_json peers = nlohmann::ordered_json::array();
      for (const auto& p : c.peers) {
        nlohmann::ordered_json e = {{"name", p.name}, {"key", p.key.Hex()}};
        if (p.address) e["address"] = p.address->ToString();
        peers.push_back(e);
      }
      doc["p2p"]["peers"] = peers;
    }
  }
  return doc.dump(2) + "\n";
}

std::string ConfigToToml(const NodeConfig& c) {
  std::string out =
      "# certledger node configuration (docs/CONFIG.md). Every field has a default and can be\n"
      "# overridden by the environment variable CERTLEDGER_<SECTION>_<KEY>, e.g.\n"
      "# CERTLEDGER_API_LISTEN=0.0.0.0:8080. Relative paths are relative to this directory.\n";
  const NodeConfig defaults;
  std::string section = "";
  auto comment = [&](const Field& f, const json& def) {
    if (*f.help != '\0') out += "\n# " + std::string(f.help) + "\n";
    if (!Omitted(f, def)) out += "# default: " + TomlValue(def) + "\n";
  };
  for (const Field& f : Fields()) {
    if (section != f.section) {
      section = f.section;
      out += "\n[" + section + "]\n";
    }
    const json v = FieldJson(f, c);
    comment(f, FieldJson(f, defaults));
    if (Omitted(f, v)) {
      out += "# " + std::string(f.key) + " = \"\"\n";
    } else {
      out += std::string(f.key) + " = " + TomlValue(v) + "\n";
    }
    if (section == "p2p" && std::string_view(f.key) == "listen") {
      out += "\n# Peers: only these node keys may connect; those with an address are dialled.\n";
      for (const auto& p : c.peers) {
        out += "[[p2p.peers]]\nname = " + TomlString(p.name) +
               "\nkey = " + TomlString(p.key.Hex()) + "\n";
        if (p.address) out += "address = " + TomlString(p.address->ToString()) + "\n";
      }
      if (c.peers.empty()) out += "peers = []\n";
    }
  }
  return out;
}

}  // namespace certledger::node
