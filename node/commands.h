// Registration of the certledger subcommands (CLI11). Each subcommand validates its flags and
// reports errors as "certledger <cmd>: <message>" on stderr with a non-zero exit code.
#pragma once

namespace CLI {
class App;
}

namespace certledger::node {

void RegisterCommands(CLI::App& app);
// The exit code of the subcommand that ran.
int ExitCode();

}  // namespace certledger::node
