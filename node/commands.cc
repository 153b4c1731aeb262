#include "node/commands.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "node/keyfile.h"
#include "node/node.h"
#include "node/testnet.h"
#include "node/tool_commands.h"
#include "tools/loadgen.h"

namespace certledger::node {

namespace {

int g_exit_code = 0;

void Fail(const char* cmd, const ledger::Status& st) {
  std::fprintf(stderr, "certledger %s: %s\n", cmd, st.ToString().c_str());
  g_exit_code = 1;
}

void RegisterKeygen(CLI::App& app) {
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  CLI::App* cmd =
      app.add_subcommand("keygen", "Generate a BIP-340 key (validator, node or issuing)");
  cmd->add_option("--out", *out, "Key file to write (mode 0600)")->required();
  cmd->add_flag("--force", *force, "Overwrite an existing file");
  cmd->callback([out, force] {
    ledger::PrivateKey key = ledger::PrivateKey::Generate();
    ledger::Status st = WriteKeyFile(*out, key, *force);
    if (!st.ok()) return Fail("keygen", st);
    // The public key only; the secret never reaches stdout or a log.
    std::printf("%s\n", key.public_key().Hex().c_str());
  });
}

void RegisterTestnet(CLI::App& app) {
  auto o = std::make_shared<TestnetOptions>();
  CLI::App* cmd = app.add_subcommand("testnet", "Generate a local network of nodes on one host");
  cmd->add_option("--validators", o->validators, "Number of validators (1-40)")->default_val(4);
  cmd->add_option("--observers", o->observers, "Number of observer nodes")->default_val(0);
  cmd->add_option("--out", o->out_dir, "Output directory (must be empty)")->required();
  cmd->add_option("--chain-id", o->chain_id, "Chain id")->default_val("certledger-testnet");
  cmd->add_option("--host", o->host, "Listen address for every node")->default_val("127.0.0.1");
  cmd->add_option("--base-port", o->base_port,
                  "P2P ports base+i, API ports base+100+i (0: pick free ports)")
      ->default_val(0);
  cmd->callback([o] {
    ledger::Status st = GenerateTestnet(*o);
    if (!st.ok()) return Fail("testnet", st);
    std::printf("wrote %d validator(s) and %d observer(s) to %s (see %s/network.json)\n",
                o->validators, o->observers, o->out_dir.c_str(), o->out_dir.c_str());
  });
}

void RegisterNode(CLI::App& app) {
  auto home = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("node", "Run a node (validator or observer) until SIGINT/SIGTERM");
  cmd->add_option("--home", *home, "The node's home directory (config.json, keys, data)")
      ->required();
  cmd->callback([home] { g_exit_code = RunNodeCommand(*home); });
}

void RegisterLoadgen(CLI::App& app) {
  auto o = std::make_shared<tools::LoadgenOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "loadgen",
      "Submit pre-signed events to a network and measure committed events/s and latency");
  cmd->add_option("--network", o->network_file, "network.json of the network")->required();
  cmd->add_option("--rate", o->rate, "Events per second (0: as fast as accepted)")->default_val(0);
  cmd->add_option("--count", o->count, "Events to submit (0: rate x duration)")->default_val(0);
  cmd->add_option("--duration", o->duration_s, "Seconds, with --rate")->default_val(30);
  cmd->add_option("--outstanding", o->outstanding, "Max submitted but uncommitted events")
      ->default_val(4000);
  cmd->add_option("--connections", o->connections, "Concurrent HTTP connections")->default_val(8);
  cmd->add_option("--nodes", o->nodes, "all, or node indexes like 0,2")->default_val("all");
  cmd->add_flag("--json", *json, "Print the report as JSON");
  cmd->callback([o, json] {
    auto r = tools::RunLoadgen(*o);
    if (!r.ok()) return Fail("loadgen", r.status());
    std::printf("%s\n", *json ? r->ToJson().c_str() : r->ToText().c_str());
  });
}

}  // namespace

void RegisterCommands(CLI::App& app) {
  RegisterKeygen(app);
  RegisterTestnet(app);
  RegisterNode(app);
  RegisterLoadgen(app);
  RegisterToolCommands(app, &g_exit_code);
}

int ExitCode() { return g_exit_code; }

}  // namespace certledger::node
