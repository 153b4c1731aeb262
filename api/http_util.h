// Internal to api/: request targets (path segments, query), percent-decoding, and the JSON
// answers every route gives (docs/API.md "Errors"). Not a public header of the library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/handlers.h"
#include "api/json.h"
#include "ledger/status.h"

namespace certledger::api {

inline constexpr size_t kMaxTargetBytes = 8192;
inline constexpr size_t kMaxQueryParams = 16;
inline constexpr char kJsonType[] = "application/json";

// Compact JSON text with a final newline (invalid UTF-8 replaced).
std::string Dump(const Json& j);
Response JsonResponse(const Json& j, int status = 200);
// {"error": {"code", "message"}}: `code` is the stable reason code.
Json ErrorJson(const std::string& code, const std::string& message);
Response Error(int status, const std::string& code, const std::string& message);
// 500 `internal` naming the storage error.
Response StorageError(const ledger::Status& st);
int64_t SystemNowMs();

// Percent-decoding; `plus_is_space` for query components. nullopt on a bad escape.
std::optional<std::string> UrlDecode(std::string_view s, bool plus_is_space);
// A decimal u64 (no sign, no spaces, at most 20 digits).
std::optional<uint64_t> ParseU64(std::string_view s);

struct Query {
  std::map<std::string, std::string> params;
  [[nodiscard]] const std::string* Get(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? nullptr : &it->second;
  }
};

// A parsed request target.
struct Target {
  std::vector<std::string> segments;  // decoded path segments ("/v1/tx/ab" -> v1, tx, ab)
  Query query;
};

// Splits and decodes an origin-form target: at most kMaxQueryParams parameters, a trailing
// slash dropped; nullopt with the reason in `why`.
std::optional<Target> ParseTarget(std::string_view target, std::string* why);

}  // namespace certledger::api
