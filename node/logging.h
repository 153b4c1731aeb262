// The node's logs: one logger per module, text lines or JSON lines on stdout, a level per module
// set by the configuration (`log.level`, `log.format`; `certledger node --log-level/--log-format`)
// and changeable at runtime through the admin listener (api/admin.h).
//
// Level specification (CometBFT style): a single level ("info") for every module, or a list
// "p2p:debug,consensus:info,*:warn" where "*" gives the level of every module not named.
// Levels: trace, debug, info, warn, error, off.
//
// JSON lines: {"ts":"2026-12-01T04:05:06.789Z","level":"info","node":"node0","module":"p2p",
// "msg":"peer node1 connected"}, one object per line, the message escaped per RFC 8259.
#pragma once

#include <spdlog/logger.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace certledger::node {

inline constexpr std::array<std::string_view, 6> kLogModules = {"node",    "consensus", "p2p",
                                                                "mempool", "sync",      "api"};

enum class LogFormat { kText, kJson };
ledger::Result<LogFormat> ParseLogFormat(const std::string& s);  // "text" or "json"

// Every module -> its level. InvalidArgument naming the bad module or level.
ledger::Result<std::map<std::string, std::string>> ParseLogLevels(const std::string& spec);

// spdlog's default logger (messages before the node's Logs exist: reading keys) in the node's
// format.
void ConfigureDefaultLogger(const std::string& node, LogFormat format);

class Logs {
 public:
  // REQUIRES: ParseLogLevels(levels).ok().
  Logs(std::string node_name, LogFormat format, const std::string& levels);
  ~Logs();
  Logs(const Logs&) = delete;
  Logs& operator=(const Logs&) = delete;

  // REQUIRES: `module` is in kLogModules.
  [[nodiscard]] spdlog::logger& get(std::string_view module) const;
  [[nodiscard]] std::map<std::string, std::string> Levels() const;
  // `module` one of kLogModules or "*" (all); InvalidArgument otherwise or for a bad level.
  ledger::Status SetLevel(const std::string& module, const std::string& level);

 private:
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers_;
};

}  // namespace certledger::node
