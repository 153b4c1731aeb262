// `certledger init --home DIR`: one node's home for a real (multi-machine) network: its keys
// (generated, or imported from key files made by `certledger keygen`), the network's genesis
// file (checked) and a config.toml naming the given listen addresses and peers. Never
// overwrites: a home that already holds a config or a key is refused.
#pragma once

#include <string>
#include <vector>

#include "ledger/crypto.h"
#include "ledger/status.h"
#include "node/config.h"

namespace certledger::node {

struct InitOptions {
  std::string home;
  std::string moniker = "node";
  std::string genesis_file;  // empty: none yet (copy the network's genesis.json in later)
  bool validator = false;    // also a validator (consensus) key
  // Import instead of generating (the files are copied, mode 0600, encrypted or not).
  std::string node_key_file;
  std::string validator_key_file;  // implies validator
  // Generated keys are encrypted with this passphrase file's first line (mode 0600) when set.
  std::string passphrase_file;
  bool encrypt = false;
  HostPort p2p_listen{"0.0.0.0", 26656};
  HostPort api_listen{"0.0.0.0", 8080};
  std::string admin_listen = "127.0.0.1:26660";  // "" for none
  // Peers: "name@publickeyhex@host:port" (or "name@publickeyhex" for accept-only), and/or a
  // JSON file holding an array of {"name", "key", "address"}.
  std::vector<std::string> peers;
  std::string peers_file;
};

struct InitResult {
  ledger::PublicKey node_key;
  std::optional<ledger::PublicKey> validator_key;
  std::string config_path;
  std::string genesis_hash_hex;  // empty without a genesis
};

ledger::Result<InitResult> InitHome(const InitOptions& options);

// "name@key@host:port" / "name@key" -> a peer entry; InvalidArgument naming what is wrong.
ledger::Result<PeerEntry> ParsePeerSpec(const std::string& spec);

}  // namespace certledger::node
