// Node configuration: one JSON file per node (`<home>/config.json`), every field documented
// with its default in docs/CONFIG.md. Relative paths are relative to the home directory.
// Only node/ reads configuration; components receive their own Options structs.
#pragma once

#include <cstdint>
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

  std::string log_level = "info";  // trace, debug, info, warn, error

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

ledger::Result<NodeConfig> LoadConfig(const std::string& home);
ledger::Result<NodeConfig> ParseConfig(const std::string& json_text, const std::string& home);
std::string ConfigToJson(const NodeConfig& c);

}  // namespace certledger::node
