#include "node/commands.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "node/keyfile.h"
#include "node/testnet.h"

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

}  // namespace

void RegisterCommands(CLI::App& app) {
  RegisterKeygen(app);
  RegisterTestnet(app);
}

int ExitCode() { return g_exit_code; }

}  // namespace certledger::node
