// Node configuration: one file per node, `<home>/config.toml` (TOML, with comments; what
// `certledger testnet` and `certledger init` write) or `<home>/config.json` (the earlier JSON
// form, still read), every field documented with its default in docs/CONFIG.md. Every field can
// be overridden by an environment variable CERTLEDGER_<SECTION>_<KEY> (CERTLEDGER_<KEY> for the
// top-level fields), e.g. CERTLEDGER_API_LISTEN=0.0.0.0:8080. Relative paths are relative to the
// home directory. Only node/ reads configuration; components receive their own Options structs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::node {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  [[nodiscard]] std::string ToString() const;
};
// Parses "host:port" or "[v6]:port". Only loopback and wildcard hosts are not special-cased:
// any host string is accepted, a port of 0..65535.
std::optional<HostPort> ParseHostPort(const std::string& s);

struct PeerEntry {
  std::string name;
  ledger::PublicKey key;
  std::optional<HostPort> address;  // absent: accept only (observers)
};

struct NodeConfig {
  std::string home;  // set by Load; not in the file

  std::string moniker = "node";
  std::string genesis_file = "genesis.json";
  std::string data_dir = "data";
  // Validator (consensus) key: signs votes and proposals only. Empty: observer mode (follows the
  // chain, never votes).
  std::string validator_key_file = "validator_key.json";
  // Node identity on the peer network (handshake AUTH). A validator's must be the one its entry
  // in the validator set names.
  std::string node_key_file = "node_key.json";
  // The passphrase of encrypted key files (first line; mode 0600). Empty: the environment
  // variable CERTLEDGER_KEY_PASSPHRASE, else the terminal.
  std::string key_passphrase_file;

  HostPort p2p_listen{"127.0.0.1", 26656};
  std::vector<PeerEntry> peers;
  HostPort api_listen{"127.0.0.1", 8080};
  // The admin listener: /metrics, /healthz, /readyz, /admin/log-level (api/admin.h). Absent
  // (an empty string in the file): none.
  std::optional<HostPort> admin_listen = HostPort{"127.0.0.1", 26660};
  uint32_t api_threads = 2;
  uint32_t api_max_connections = 1024;
  // Open connections per client address (beyond: 429 and close); the deadline for a request
  // header; the keep-alive idle timeout while more than half of max_connections are open.
  uint32_t api_max_connections_per_ip = 32;
  uint32_t api_header_timeout_ms = 5000;
  uint32_t api_busy_idle_timeout_ms = 1000;
  // Per client IP; 0 disables (a local network driven by the load generator).
  uint32_t api_rate_limit_per_second = 200;
  uint32_t api_rate_limit_burst = 400;
  // HTTPS for the API: a PEM certificate chain (leaf first) and its unencrypted PEM private key
  // (mode 0600). Both or neither; neither: plain HTTP.
  std::string api_tls_certificate_file;
  std::string api_tls_key_file;
  [[nodiscard]] bool ApiTls() const { return !api_tls_certificate_file.empty(); }

  // Consensus timeouts (see consensus::Options).
  uint64_t timeout_propose_ms = 1000;
  uint64_t timeout_propose_delta_ms = 500;
  uint64_t timeout_prevote_ms = 500;
  uint64_t timeout_prevote_delta_ms = 500;
  uint64_t timeout_precommit_ms = 500;
  uint64_t timeout_precommit_delta_ms = 500;
  // Minimum time between blocks when there are no transactions (empty blocks keep the chain's
  // time moving for expiry); 0 disables empty blocks beyond what consensus needs.
  uint64_t empty_block_interval_ms = 1000;
  uint32_t max_block_txs = 2000;

  uint32_t mempool_max_txs = 20000;
  uint64_t mempool_max_bytes = 64ull << 20;

  // A level for every module ("info"), or per module ("p2p:debug,*:info"): node/logging.h.
  std::string log_level = "info";
  std::string log_format = "text";  // text or json (JSON lines)

  // Absolute path of a file named in the config.
  [[nodiscard]] std::string Path(const std::string& relative) const;
  [[nodiscard]] bool IsObserver() const { return validator_key_file.empty(); }
  // InvalidArgument naming the bad field.
  [[nodiscard]] ledger::Status Validate() const;
};

// The API's TLS files, read for api::ServerOptions (REQUIRES: c.ApiTls()). Paths relative to
// the home directory. The certificate chain: at most 1 MiB. The private key: opened like key
// files (node/keyfile.h: no symbolic link, a regular file of at most 1 MiB that neither group
// nor others can read). Errors name the config field and the file.
struct ApiTlsPem {
  std::string certificate_chain;
  std::string private_key;
};
ledger::Result<ApiTlsPem> ReadApiTlsFiles(const NodeConfig& c);

// Reads <home>/config.toml, else <home>/config.json (both present: an error), then the
// environment overrides. Errors name the file (or the environment variable) and the field.
ledger::Result<NodeConfig> LoadConfig(const std::string& home);

// The environment as a lookup: the value of a variable, or nullopt.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup ProcessEnvironment();
EnvLookup NoEnvironment();

// JSON or TOML text, then the overrides of `env`. Errors name the field
// ("config.api.threads: 1 to 64"), and the variable when it came from the environment.
ledger::Result<NodeConfig> ParseConfig(const std::string& json_text, const std::string& home,
                                       const EnvLookup& env = NoEnvironment());
ledger::Result<NodeConfig> ParseConfigToml(const std::string& toml_text, const std::string& home,
                                           const EnvLookup& env = NoEnvironment());
std::string ConfigToJson(const NodeConfig& c);
// TOML with a comment above every field (its meaning and default).
std::string ConfigToToml(const NodeConfig& c);

// The environment variable that overrides a field: "api.listen" -> CERTLEDGER_API_LISTEN.
std::string EnvNameOf(const std::string& dotted_field);
// Every field as "section.key" (or "key"), in file order: for docs and tests.
std::vector<std::string> ConfigFieldNames();

}  // namespace certledger::node
