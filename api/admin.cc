#include "api/admin.h"

#include <nlohmann/json.hpp>

#include "api/health.h"
#include "api/metrics.h"

namespace certledger::api {

namespace {
Response JsonAnswer(int status, const nlohmann::ordered_json& j) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = j.dump() + "\n";
  return r;
}
Response ErrorAnswer(int status, const std::string& code, const std::string& message) {
  return JsonAnswer(status, {{"error", {{"code", code}, {"message", message}}}});
}
}  // namespace

AdminApi::AdminApi(NodeService* node, AdminOptions options)
    : node_(node), options_(std::move(options)) {}

void AdminApi::Handle(const Request& request, Reply reply) {
  std::string path = request.target.substr(0, request.target.find('?'));
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  auto only = [&](const char* method) {
    if (request.method == method) return true;
    Response r = ErrorAnswer(405, "method-not-allowed",
                             request.method + " is not allowed here; allowed: " + method);
    r.headers.emplace_back("Allow", method);
    reply(std::move(r));
    return false;
  };
  if (path == "/metrics") {
    if (!only("GET")) return;
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = options_.metrics->Render();
    return reply(std::move(r));
  }
  if (path == "/healthz") {
    if (!only("GET")) return;
    return reply(HealthResponse(node_->Status()));
  }
  if (path == "/readyz") {
    if (!only("GET")) return;
    return reply(ReadyResponse(node_->Status()));
  }
  if (path == "/admin/log-level") {
    auto levels = [&] {
      nlohmann::ordered_json j = nlohmann::ordered_json::object();
      if (options_.log_levels) {
        for (const auto& [module, level] : options_.log_levels()) j[module] = level;
      }
      return JsonAnswer(200, {{"levels", j}});
    };
    if (request.method == "GET") return reply(levels());
    if (!only("PUT")) return;
    nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("module") ||
        !body.contains("level") || !body["module"].is_string() || !body["level"].is_string() ||
        body.size() != 2) {
      return reply(ErrorAnswer(400, "bad-body",
                               R"(expected {"module": "<module or *>", "level": "<level>"})"));
    }
    if (!options_.set_log_level) {
      return reply(ErrorAnswer(501, "not-supported", "log levels cannot be changed here"));
    }
    ledger::Status st = options_.set_log_level(body["module"], body["level"]);
    if (!st.ok()) return reply(ErrorAnswer(400, "bad-parameter", st.message()));
    return reply(levels());
  }
  reply(
      ErrorAnswer(404, "not-found", "no route for " + request.method + " " + path.substr(0, 256)));
}

}  // namespace certledger::api
