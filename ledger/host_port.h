// "host:port" text in one place for every module: the node's configuration (node/config.h), the
// tools' and tests' URLs (api/client.h), peer addresses in network.json. IPv6 hosts are written
// in brackets ("[::1]:26656").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace certledger::ledger {

struct HostPort {
  std::string host;  // never empty; without brackets; never holds '[' or ']'
  uint16_t port = 0;

  // "host:port", or "[host]:port" when the host holds a ':' (IPv6). ParseHostPort reads it back
  // as the same value.
  [[nodiscard]] std::string ToString() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port" or "[v6]:port": a port of 0..65535 in at most five digits. With
// `default_port`, the ":port" may be left out ("host", "[v6]"). A host is never empty and never
// holds a bracket: "x]:y:1" would be written back by ToString as "[x]:y]:1", which reads
// differently (found by fuzz/config_json_fuzzer.cc). InvalidArgument saying what is wrong.
Result<HostPort> ParseHostPort(std::string_view text,
                               std::optional<uint16_t> default_port = std::nullopt);

}  // namespace certledger::ledger
