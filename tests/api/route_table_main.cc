// Prints the public API's route table (api::RouteTable) as JSON, for tests/openapi_test.py.
#include <nlohmann/json.hpp>

#include <cstdio>

#include "api/handlers.h"

int main() {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : certledger::api::RouteTable()) {
    out.push_back({{"method", r.method}, {"pattern", r.pattern}, {"statuses", r.statuses}});
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
