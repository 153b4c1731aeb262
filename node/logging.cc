#include "node/logging.h"

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>

namespace certledger::node {

using ledger::Result;
using ledger::Status;

namespace {

bool KnownLevel(const std::string& l) {
  return l == "trace" || l == "debug" || l == "info" || l == "warn" || l == "error" || l == "off";
}
bool KnownModule(std::string_view m) {
  return std::find(kLogModules.begin(), kLogModules.end(), m) != kLogModules.end();
}
const char* LevelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}
spdlog::level::level_enum LevelFrom(const std::string& l) {
  if (l == "error") return spdlog::level::err;
  return spdlog::level::from_str(l);
}

void AppendJsonString(std::string_view s, spdlog::memory_buf_t& out) {
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(std::string_view(esc, sizeof esc));
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

// One JSON object per line (node/logging.h). Bytes of the message that are not valid UTF-8
// are written as they are: messages are ASCII by construction (ids are hex).
class JsonFormatter final : public spdlog::formatter {
 public:
  JsonFormatter(std::string node, std::string module)
      : node_(std::move(node)), module_(std::move(module)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto t = msg.time;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[40];
    const size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
    dest.append(std::string_view("{\"ts\":\""));
    dest.append(std::string_view(ts));
    dest.append(std::string_view("\",\"level\":\""));
    dest.append(std::string_view(LevelName(msg.level)));
    dest.append(std::string_view("\",\"node\":"));
    AppendJsonString(node_, dest);
    dest.append(std::string_view(",\"module\":"));
    AppendJsonString(module_, dest);
    dest.append(std::string_view(",\"msg\":"));
    AppendJsonString(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    dest.append(std::string_view("}\n"));
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(node_, module_);
  }

 private:
  std::string node_, module_;
};

spdlog::sink_ptr MakeSink(LogFormat format, const std::string& node, const std::string& module) {
  spdlog::sink_ptr sink;
  if (format == LogFormat::kJson) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    sink->set_formatter(std::make_unique<JsonFormatter>(node, module));
  } else {
    sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " +
                                                                    node + " " + module + ": %v"));
  }
  return sink;
}

}  // namespace

void ConfigureDefaultLogger(const std::string& node, LogFormat format) {
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>(node, MakeSink(format, node, "node")));
}

Result<LogFormat> ParseLogFormat(const std::string& s) {
  if (s == "text") return LogFormat::kText;
  if (s == "json") return LogFormat::kJson;
  return Status::InvalidArgument("log format '" + s + "': expected text or json");
}

Result<std::map<std::string, std::string>> ParseLogLevels(const std::string& spec) {
  std::map<std::string, std::string> named;
  std::string fallback = "info";
  if (spec.find(':') == std::string::npos) {
    if (!KnownLevel(spec)) {
      return Status::InvalidArgument("log level '" + spec +
                                     "': expected trace, debug, info, warn, error or off");
    }
    fallback = spec;
  } else {
    size_t start = 0;
    while (start <= spec.size()) {
      size_t comma = spec.find(',', start);
      if (comma == std::string::npos) comma = spec.size();
      const std::string item = spec.substr(start, comma - start);
      const size_t colon = item.find(':');
      if (colon == std::string::npos) {
        return Status::InvalidArgument("log level '" + item + "': expected module:level");
      }
      const std::string module = item.substr(0, colon), level = item.substr(colon + 1);
      if (module != "*" && !KnownModule(module)) {
        std::string known;
        for (auto m : kLogModules) known += (known.empty() ? "" : ", ") + std::string(m);
        return Status::InvalidArgument("log module '" + module + "': expected * or one of " +
                                       known);
      }
      if (!KnownLevel(level)) {
        return Status::InvalidArgument("log level '" + level + "' of module " + module +
                                       ": expected trace, debug, info, warn, error or off");
      }
      if (module == "*") {
        fallback = level;
      } else {
        named[module] = level;
      }
      start = comma + 1;
    }
  }
  std::map<std::string, std::string> out;
  for (auto m : kLogModules) {
    auto it = named.find(std::string(m));
    out[std::string(m)] = it == named.end() ? fallback : it->second;
  }
  return out;
}

Logs::Logs(std::string node_name, LogFormat format, const std::string& levels) {
  auto parsed = ParseLogLevels(levels);
  if (!parsed.ok()) parsed = ParseLogLevels("info");
  const std::map<std::string, std::string> level_of = *parsed;
  for (auto m : kLogModules) {
    const std::string module(m);
    // A sink per module: spdlog keeps the formatter in the sink. The console sinks share one
    // process-wide mutex, so lines of different modules never interleave.
    auto logger = std::make_shared<spdlog::logger>(node_name + "/" + module,
                                                   MakeSink(format, node_name, module));
    logger->set_level(LevelFrom(level_of.at(module)));
    logger->flush_on(spdlog::level::warn);
    loggers_.emplace(module, std::move(logger));
  }
}

Logs::~Logs() {
  for (auto& [m, l] : loggers_) l->flush();
}

spdlog::logger& Logs::get(std::string_view module) const { return *loggers_.find(module)->second; }

std::map<std::string, std::string> Logs::Levels() const {
  std::map<std::string, std::string> out;
  for (const auto& [m, l] : loggers_) out[m] = LevelName(l->level());
  return out;
}

Status Logs::SetLevel(const std::string& module, const std::string& level) {
  if (!KnownLevel(level)) {
    return Status::InvalidArgument("log level '" + level +
                                   "': expected trace, debug, info, warn, error or off");
  }
  if (module == "*") {
    for (auto& [m, l] : loggers_) l->set_level(LevelFrom(level));
    return Status::Ok();
  }
  auto it = loggers_.find(module);
  if (it == loggers_.end()) {
    return Status::InvalidArgument("log module '" + module + "': unknown");
  }
  it->second->set_level(LevelFrom(level));
  return Status::Ok();
}

}  // namespace certledger::node
