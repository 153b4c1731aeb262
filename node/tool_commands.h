// Registration of the operator, verifier and auditor subcommands: tx, verify, audit, qr.
// The work is done by tools/ (tx.h, verify.h, audit.h, qr.h); this file reads flags and key
// files and prints results.
#pragma once

namespace CLI {
class App;
}

namespace certledger::node {

// `exit_code` receives the exit code of the subcommand that ran.
void RegisterToolCommands(CLI::App& app, int* exit_code);

}  // namespace certledger::node
