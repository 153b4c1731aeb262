// The certledger binary: node software and operator tools in one program.
//   certledger keygen --out FILE [--encrypt]
//   certledger reencrypt-key --key FILE
//   certledger testnet --validators N --out DIR
//   certledger node --home DIR
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "ledger/crypto.h"
#include "node/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"certledger: a BFT ledger of electronic water-abstraction permits"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "certledger 0.1.0");
  certledger::node::RegisterCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return certledger::node::ExitCode();
}
