#include "api/health.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace certledger::api {

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> LivenessProblems(const NodeStatus& s, int64_t now_mono_ms) {
  std::vector<std::string> out;
  if (s.published_mono_ms == 0) {
    out.push_back("event loop: has not published its status yet");
  } else if (now_mono_ms - s.published_mono_ms > kLoopStallMs) {
    out.push_back("event loop: no status published for " +
                  std::to_string((now_mono_ms - s.published_mono_ms) / 1000) + " s");
  }
  return out;
}

std::vector<std::string> ReadinessProblems(const NodeStatus& s, int64_t now_mono_ms) {
  std::vector<std::string> out = LivenessProblems(s, now_mono_ms);
  if (s.syncing) {
    out.push_back("syncing: at height " + std::to_string(s.height) + ", peers proved height " +
                  std::to_string(s.best_peer_height));
  }
  size_t connected = 0;
  for (const auto& p : s.peers) connected += p.connected ? 1 : 0;
  if (!s.peers.empty() && connected == 0) {
    out.push_back("peers: none of " + std::to_string(s.peers.size()) + " connected");
  }
  if (!s.storage_ok) out.push_back("storage: " + s.storage_problem);
  return out;
}

namespace {
Response Answer(const std::vector<std::string>& problems, const char* good, const char* bad) {
  Response r;
  r.status = problems.empty() ? 200 : 503;
  r.content_type = "application/json";
  nlohmann::ordered_json j = {{"status", problems.empty() ? good : bad}};
  if (!problems.empty()) j["reasons"] = problems;
  r.body = j.dump() + "\n";
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}
}  // namespace

Response HealthResponse(const NodeStatus& s, int64_t now_mono_ms) {
  return Answer(LivenessProblems(s, now_mono_ms), "ok", "stalled");
}

Response ReadyResponse(const NodeStatus& s, int64_t now_mono_ms) {
  return Answer(ReadinessProblems(s, now_mono_ms), "ready", "not-ready");
}

}  // namespace certledger::api
