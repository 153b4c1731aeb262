// Generates a complete local network: keys, genesis, one home directory per node with its
// config, issuing keys of the agencies, and network.json (for scripts and tests).
#pragma once

#include <string>
#include <vector>

#include "ledger/status.h"

namespace certledger::node {

struct TestnetOptions {
  int validators = 4;   // 1..40; one agency per validator
  int observers = 0;    // extra non-validator nodes that follow the chain
  std::string out_dir;  // must not exist or be empty
  std::string chain_id = "certledger-testnet";
  std::string host = "127.0.0.1";
  // p2p ports base_port + i, API ports base_port + 100 + i, admin ports base_port + 200 + i
  // (on loopback); 0 = free ports.
  int base_port = 0;
  int64_t genesis_time_ms = 0;  // 0 = now
  ledger::Status Validate() const;
};

ledger::Status GenerateTestnet(const TestnetOptions& options);

// A TCP port on `host` that was free a moment ago (bind to 0, read, close).
int FindFreePort(const std::string& host);
// `n` distinct TCP ports on `host`, free a moment ago, chosen below the kernel's ephemeral range
// (so outgoing connections do not take them before the nodes start). Empty on failure.
std::vector<int> FindFreePorts(const std::string& host, int n);

}  // namespace certledger::node
