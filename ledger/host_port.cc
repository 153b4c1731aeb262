#include "ledger/host_port.h"

namespace certledger::ledger {

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view text, std::optional<uint16_t> default_port) {
  HostPort hp;
  std::optional<std::string_view> port;  // the text after the separating ':'
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("bad IPv6 host: no ']'");
    hp.host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Status::InvalidArgument("bad IPv6 host: ':' must follow ']'");
      port = rest.substr(1);
    }
  } else {
    const size_t colon = text.rfind(':');
    hp.host = text.substr(0, colon);
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
  }
  if (hp.host.empty()) return Status::InvalidArgument("no host");
  if (hp.host.find_first_of("[]") != std::string::npos) {
    return Status::InvalidArgument("a bracket in the host");
  }
  if (!port) {
    if (!default_port) return Status::InvalidArgument("no port");
    hp.port = *default_port;
    return hp;
  }
  if (port->empty() || port->size() > 5) return Status::InvalidArgument("bad port");
  uint32_t v = 0;
  for (char c : *port) {
    if (c < '0' || c > '9') return Status::InvalidArgument("bad port");
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return Status::InvalidArgument("bad port");
  hp.port = static_cast<uint16_t>(v);
  return hp;
}

}  // namespace certledger::ledger
