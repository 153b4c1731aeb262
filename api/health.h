// Liveness and readiness by the conventions of orchestrators (Kubernetes probes, Docker
// HEALTHCHECK, load balancers): GET /healthz and GET /readyz on the public API and on the
// node's admin listener (docs/API.md "Health").
//
//  /healthz: 200 {"status":"ok"} while the process serves requests and its event loop publishes
//            its status; 503 {"status":"stalled","reasons":[...]} when the loop has not
//            published for kLoopStallMs (restart it).
//  /readyz:  200 {"status":"ready"} when the node can serve current answers and take
//            submissions: not syncing, at least one configured peer connected (none needed
//            when none is configured), storage writable, loop not stalled; otherwise 503
//            {"status":"not-ready","reasons":["syncing: ...", ...]} (take it out of rotation).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/handlers.h"
#include "api/service.h"

namespace certledger::api {

inline constexpr int64_t kLoopStallMs = 10'000;

// The steady clock in ms, as NodeStatus::published_mono_ms uses it.
int64_t SteadyNowMs();

// Empty when alive / ready.
std::vector<std::string> LivenessProblems(const NodeStatus& s, int64_t now_mono_ms);
std::vector<std::string> ReadinessProblems(const NodeStatus& s, int64_t now_mono_ms);

Response HealthResponse(const NodeStatus& s, int64_t now_mono_ms = SteadyNowMs());
Response ReadyResponse(const NodeStatus& s, int64_t now_mono_ms = SteadyNowMs());

}  // namespace certledger::api
