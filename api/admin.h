// The node's admin listener (config `admin.listen`, default 127.0.0.1:26660, not the public
// API port, no rate limit): what operators and their monitoring use (docs/API.md "Admin").
//
//   GET /metrics          Prometheus text exposition (api/metrics.h)
//   GET /healthz          liveness  (api/health.h)
//   GET /readyz           readiness (api/health.h)
//   GET /admin/log-level  {"levels": {"<module>": "<level>", ...}}
//   PUT /admin/log-level  body {"module": "p2p" | "*", "level": "debug"}: changes it at once
//
// Bind it to loopback or a management network only: it changes how the node logs.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "api/handlers.h"
#include "api/service.h"
#include "ledger/status.h"

namespace certledger::api {

class Metrics;

struct AdminOptions {
  std::shared_ptr<Metrics> metrics;  // required
  // The current level of every log module; and a change of one module's ("*": every
  // module): InvalidArgument naming the unknown module or level.
  std::function<std::map<std::string, std::string>()> log_levels;
  std::function<ledger::Status(const std::string& module, const std::string& level)> set_log_level;
};

class AdminApi : public Handler {
 public:
  // REQUIRES: `node` outlives this object; options.metrics set.
  AdminApi(NodeService* node, AdminOptions options);
  void Handle(const Request& request, Reply reply) override;

 private:
  NodeService* node_;
  AdminOptions options_;
};

}  // namespace certledger::api
