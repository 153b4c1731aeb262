// The HTTP API's route table: requests in, responses out, no sockets. Every route is a short
// function over NodeService (service.h) and the ledger store it exposes; docs/API.md documents
// the routes, their parameters and answers, and the error codes.
//
// The server (server.h) parses HTTP and calls Handler::Handle; tests call it directly.
//
// Thread safety: Api::Handle may run concurrently on any number of threads. `reply` is called
// exactly once, either before Handle returns or later from a NodeService callback thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/service.h"

namespace certledger::api {

struct Request {
  std::string method;           // "GET", "POST", ...
  std::string target;           // path and query, as sent: "/v1/blocks?from=1&to=5"
  std::string content_type;     // Content-Type header (may be empty)
  std::string accept_language;  // Accept-Language header (may be empty)
  std::string body;
  std::string client;  // client address, e.g. "127.0.0.1" (for logs and rate limiting)
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

using Reply = std::function<void(Response)>;

// What the server calls. An interface, so that server tests can plug in a fake.
class Handler {
 public:
  virtual ~Handler() = default;
  // Calls `reply` exactly once (possibly on another thread, after Handle returned).
  virtual void Handle(const Request& request, Reply reply) = 0;
  // The server reports connection-level events through these (defaults: ignore).
  virtual void OnConnectionsChanged(size_t /*open*/) {}
  // A response the server produced without calling Handle (413, 429, 503, 400 on bad HTTP).
  virtual void OnServerResponse(int /*status*/) {}
};

class Metrics;

// HTTP metrics (certledger_http_*), registered in the node's Metrics. Thread-safe.
class HttpMetrics {
 public:
  explicit HttpMetrics(Metrics& metrics);
  ~HttpMetrics();
  HttpMetrics(const HttpMetrics&) = delete;
  HttpMetrics& operator=(const HttpMetrics&) = delete;

  // One finished request: `route` is the route pattern ("/v1/tx/{hash}"), not the raw path.
  void Record(const std::string& route, int status, double seconds);
  void SetOpenConnections(size_t open);
  // Time to build one /v1/verify answer (proofs and signature), apart from the HTTP layer.
  void RecordVerification(double seconds);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ApiOptions {
  // Request bodies above this are refused with 413 (the server enforces it too, earlier).
  size_t max_body_bytes = 1 << 20;
  // POST /v1/tx?wait=commit: default and maximum timeout_ms.
  uint32_t default_wait_ms = 10'000;
  uint32_t max_wait_ms = 60'000;
  // GET /v1/blocks?from=&to=: most blocks per answer.
  uint64_t max_block_range = 100;
  // POST /v1/txs: most transactions per request.
  size_t max_batch_txs = 1000;
  // The clock that decides expiry (unix milliseconds). Default: the system clock.
  std::function<int64_t()> now_ms;

  [[nodiscard]] ledger::Status Validate() const;
};

// The public API's routes (docs/API.md, docs/openapi.yaml): method, pattern, and every status
// the route itself may answer. Any route may also answer 500 `internal`; the server answers
// 400, 413, 429, 431 and 503 on its own (server.h); unknown paths get 404, known paths with
// another method 405.
struct RouteInfo {
  std::string method;
  std::string pattern;
  std::vector<int> statuses;
};
std::vector<RouteInfo> RouteTable();

// The route table (docs/API.md).
class Api : public Handler {
 public:
  // REQUIRES: options.Validate().ok(); `node` outlives this object and every reply. The HTTP
  // metrics go to `metrics` (the node's; rendered on its metrics listener), or to a private
  // registry when it is null.
  Api(NodeService* node, ApiOptions options, std::shared_ptr<Metrics> metrics = nullptr);
  ~Api() override;

  void Handle(const Request& request, Reply reply) override;
  void OnConnectionsChanged(size_t open) override;
  void OnServerResponse(int status) override;

  [[nodiscard]] Metrics& metrics() { return *registry_; }
  // Answers given with a status their route does not declare ("GET /v1/tx/{hash} 409"):
  // tests require none, so that docs/openapi.yaml (checked against RouteTable) stays complete.
  [[nodiscard]] std::set<std::string> UndeclaredAnswers() const;

  struct Routes;

 private:
  struct Undeclared {
    mutable std::mutex mu;
    std::set<std::string> seen;  // GUARDED_BY(mu)
  };
  NodeService* node_;
  ApiOptions options_;
  std::shared_ptr<Metrics> registry_;
  std::shared_ptr<HttpMetrics> metrics_;  // shared with replies that outlive a call
  std::unique_ptr<Routes> routes_;
  std::shared_ptr<Undeclared> undeclared_ = std::make_shared<Undeclared>();
};

}  // namespace certledger::api
