#include "node/commands.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "node/init.h"
#include "node/keyfile.h"
#include "node/node.h"
#include "node/testnet.h"
#include "node/tool_commands.h"
#include "node/version.h"
#include "tools/loadgen.h"

namespace certledger::node {

namespace {

int g_exit_code = 0;

void Fail(const char* cmd, const ledger::Status& st) {
  std::fprintf(stderr, "certledger %s: %s\n", cmd, st.ToString().c_str());
  g_exit_code = 1;
}

void RegisterKeygen(CLI::App& app) {
  struct Options {
    std::string out;
    bool force = false;
    bool encrypt = false;
    std::string passphrase_file;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("keygen", "Generate a BIP-340 key (validator, node or issuing)");
  cmd->add_option("--out", o->out, "Key file to write (mode 0600)")->required();
  cmd->add_flag("--force", o->force, "Overwrite an existing file");
  cmd->add_flag("--encrypt", o->encrypt,
                "Encrypt the key file (scrypt + ChaCha20-Poly1305, FORMAT.md §14); the "
                "passphrase comes from --passphrase-file, CERTLEDGER_KEY_PASSPHRASE or the "
                "terminal");
  cmd->add_option("--passphrase-file", o->passphrase_file,
                  "File whose first line is the passphrase (mode 0600)");
  cmd->callback([o] {
    ledger::PrivateKey key = ledger::PrivateKey::Generate();
    ledger::Status st;
    if (o->encrypt) {
      PassphraseSource src;
      src.file = o->passphrase_file;
      src.prompt = "New passphrase";
      auto pass = ObtainPassphrase(src, o->out);
      if (!pass.ok()) return Fail("keygen", pass.status());
      st = WriteEncryptedKeyFile(o->out, key, *pass, o->force);
    } else {
      st = WriteKeyFile(o->out, key, o->force);
    }
    if (!st.ok()) return Fail("keygen", st);
    // The public key only; the secret never reaches stdout or a log.
    std::printf("%s\n", key.public_key().Hex().c_str());
  });
}

void RegisterReencryptKey(CLI::App& app) {
  struct Options {
    std::string key;
    std::string passphrase_file;
    std::string new_passphrase_file;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "reencrypt-key",
      "Encrypt a plain key file, or change the passphrase of an encrypted one (atomic replace)");
  cmd->add_option("--key", o->key, "The key file")->required();
  cmd->add_option("--passphrase-file", o->passphrase_file,
                  "Current passphrase (else CERTLEDGER_KEY_PASSPHRASE or the terminal)");
  cmd->add_option("--new-passphrase-file", o->new_passphrase_file,
                  "New passphrase (else CERTLEDGER_NEW_KEY_PASSPHRASE or the terminal)");
  cmd->callback([o] {
    PassphraseSource current;
    current.file = o->passphrase_file;
    auto key = ReadKeyFile(o->key, current);
    if (!key.ok()) return Fail("reencrypt-key", key.status());
    PassphraseSource fresh;
    fresh.file = o->new_passphrase_file;
    fresh.env = "CERTLEDGER_NEW_KEY_PASSPHRASE";
    fresh.prompt = "New passphrase";
    auto pass = ObtainPassphrase(fresh, o->key);
    if (!pass.ok()) return Fail("reencrypt-key", pass.status());
    ledger::Status st = WriteEncryptedKeyFile(o->key, *key, *pass, /*overwrite=*/true);
    if (!st.ok()) return Fail("reencrypt-key", st);
    std::printf("%s\n", key->public_key().Hex().c_str());
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
  cmd->add_option(
         "--base-port", o->base_port,
         "P2P ports base+i, API ports base+100+i, admin ports base+200+i (0: pick free ports)")
      ->default_val(0);
  cmd->callback([o] {
    ledger::Status st = GenerateTestnet(*o);
    if (!st.ok()) return Fail("testnet", st);
    std::printf("wrote %d validator(s) and %d observer(s) to %s (see %s/network.json)\n",
                o->validators, o->observers, o->out_dir.c_str(), o->out_dir.c_str());
  });
}

void RegisterInit(CLI::App& app) {
  auto o = std::make_shared<InitOptions>();
  auto p2p = std::make_shared<std::string>("0.0.0.0:26656");
  auto api = std::make_shared<std::string>("0.0.0.0:8080");
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "init",
      "Make one node's home for a multi-machine network: keys, genesis, config.toml "
      "(docs/OPERATIONS.md)");
  cmd->add_option("--home", o->home, "The new home directory (refused if it holds a config or key)")
      ->required();
  cmd->add_option("--moniker", o->moniker, "This node's name in logs and /v1/status")
      ->default_val("node");
  cmd->add_option("--genesis", o->genesis_file,
                  "The network's genesis.json (checked and copied; omit to add it later)");
  cmd->add_flag("--validator", o->validator, "Also make a validator (consensus) key");
  cmd->add_option("--node-key", o->node_key_file,
                  "Import this node key file (from certledger keygen) instead of generating");
  cmd->add_option("--validator-key", o->validator_key_file,
                  "Import this validator key file instead of generating (implies --validator)");
  cmd->add_flag("--encrypt", o->encrypt, "Encrypt generated keys (FORMAT.md §14)");
  cmd->add_option("--passphrase-file", o->passphrase_file,
                  "With --encrypt: the passphrase file (first line, mode 0600); the config "
                  "names it for the node");
  cmd->add_option("--p2p-listen", *p2p, "Peer address host:port")->default_val("0.0.0.0:26656");
  cmd->add_option("--api-listen", *api, "Public API address host:port")
      ->default_val("0.0.0.0:8080");
  cmd->add_option("--admin-listen", o->admin_listen,
                  "Metrics/health/log-level address (\"\": none)")
      ->default_val("127.0.0.1:26660");
  cmd->add_option("--peer", o->peers,
                  "A peer: name@publickeyhex@host:port (dialled) or name@publickeyhex (accepted "
                  "only); repeatable");
  cmd->add_option("--peers-file", o->peers_file,
                  "JSON array of {\"name\", \"key\", \"address\"} peers");
  cmd->add_flag("--json", *json, "Print the result as JSON");
  cmd->callback([o, p2p, api, json] {
    auto p = ParseHostPort(*p2p);
    auto a = ParseHostPort(*api);
    if (!p)
      return Fail("init", ledger::Status::InvalidArgument("--p2p-listen: expected host:port"));
    if (!a)
      return Fail("init", ledger::Status::InvalidArgument("--api-listen: expected host:port"));
    o->p2p_listen = *p;
    o->api_listen = *a;
    auto r = InitHome(*o);
    if (!r.ok()) return Fail("init", r.status());
    if (*json) {
      nlohmann::ordered_json j = {
          {"home", o->home},
          {"config", r->config_path},
          {"node_key", r->node_key.Hex()},
          {"validator_key", r->validator_key ? r->validator_key->Hex() : ""},
          {"genesis_hash", r->genesis_hash_hex}};
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("wrote %s\nnode key (peer identity): %s\n", r->config_path.c_str(),
                r->node_key.Hex().c_str());
    if (r->validator_key) {
      std::printf("validator key: %s\n", r->validator_key->Hex().c_str());
    }
    std::printf("%s\n", r->genesis_hash_hex.empty()
                            ? "no genesis yet: copy the network's genesis.json into the home"
                            : ("genesis hash: " + r->genesis_hash_hex).c_str());
    std::printf(
        "Give the public keys above to the network's governance (a validator's entry names both\n"
        "keys) and to the operators of your peers; keys never leave this directory.\n");
  });
}

void RegisterVersion(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "version", "Print the version, git commit, build type and library versions");
  cmd->add_flag("--json", *json, "As one JSON object");
  cmd->callback([json] {
    if (*json) {
      std::printf("%s\n", BuildInfoJson().c_str());
    } else {
      std::fputs(BuildInfoText().c_str(), stdout);
    }
  });
}

void RegisterNode(CLI::App& app) {
  auto home = std::make_shared<std::string>();
  auto level = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("node", "Run a node (validator or observer) until SIGINT/SIGTERM");
  cmd->add_option("--home", *home,
                  "The node's home directory (config.toml or config.json, keys, data)")
      ->required();
  cmd->add_option("--log-level", *level,
                  "Log levels, overriding log.level: info, or p2p:debug,consensus:info,*:warn");
  cmd->add_option("--log-format", *format, "Log format, overriding log.format: text or json");
  cmd->callback([home, level, format] { g_exit_code = RunNodeCommand(*home, *level, *format); });
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
  cmd->add_option("--batch", o->batch,
                  "Events per request: POST /v1/txs with this many (1: POST /v1/tx each)")
      ->default_val(100);
  cmd->add_option("--nodes", o->nodes, "all, or node indexes like 0,2")->default_val("all");
  cmd->add_option("--cacert", o->ca_file,
                  "PEM file of the CA certificates trusted for https nodes (default: "
                  "$CERTLEDGER_CA_FILE, else the system's trust store)")
      ->envname("CERTLEDGER_CA_FILE");
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
  RegisterReencryptKey(app);
  RegisterTestnet(app);
  RegisterNode(app);
  RegisterVersion(app);
  RegisterInit(app);
  RegisterLoadgen(app);
  RegisterToolCommands(app, &g_exit_code);
}

int ExitCode() { return g_exit_code; }

}  // namespace certledger::node
