// The certledger binary: node software and operator tools in one program.
//   certledger keygen --out FILE [--encrypt]
//   certledger reencrypt-key --key FILE
//   certledger testnet --validators N --out DIR
//   certledger node --home DIR
//   certledger version [--json]
#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "ledger/crypto.h"
#include "node/commands.h"
#include "node/version.h"

// Raises the soft limit on open files to the hard limit (at most 65,536): a node keeps the
// store's table files, peer connections and API connections open at once. Best effort.
static void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t want = std::min<rlim_t>(limit.rlim_max, 65'536);
  if (limit.rlim_cur >= want) return;
  limit.rlim_cur = want;
  setrlimit(RLIMIT_NOFILE, &limit);
}

int main(int argc, char** argv) {
  RaiseOpenFileLimit();
  CLI::App app{"certledger: a BFT ledger of electronic water-abstraction permits"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return certledger::node::BuildInfoText(); });
  certledger::node::RegisterCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return certledger::node::ExitCode();
}
