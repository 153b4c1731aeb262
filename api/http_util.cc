#include "api/http_util.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>

#include "ledger/bytes.h"

namespace certledger::api {

using ledger::Status;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Response JsonResponse(const Json& j, int status) {
  Response r;
  r.status = status;
  r.content_type = kJsonType;
  r.body = Dump(j);
  return r;
}

Json ErrorJson(const std::string& code, const std::string& message) {
  return Json{{"error", {{"code", code}, {"message", message}}}};
}

Response Error(int status, const std::string& code, const std::string& message) {
  return JsonResponse(ErrorJson(code, message), status);
}

Response StorageError(const Status& st) {
  return Error(500, "internal", "storage: " + st.ToString());
}

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::string> UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = ledger::HexDigitValue(s[i + 1]);
      int lo = ledger::HexDigitValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<Target> ParseTarget(std::string_view target, std::string* why) {
  if (target.empty() || target[0] != '/') {
    *why = "the request target must be an absolute path";
    return std::nullopt;
  }
  Target t;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  size_t start = 1;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      auto seg = UrlDecode(path.substr(start, i - start), false);
      if (!seg) {
        *why = "bad percent-encoding in the path";
        return std::nullopt;
      }
      if (!seg->empty() || i != path.size()) t.segments.push_back(*seg);
      start = i + 1;
    }
  }
  // A trailing slash yields an empty last segment; drop it ("/v1/status/" == "/v1/status").
  if (!t.segments.empty() && t.segments.back().empty()) t.segments.pop_back();
  start = 0;
  for (size_t i = 0; i <= query.size(); ++i) {
    if (i == query.size() || query[i] == '&') {
      std::string_view item = query.substr(start, i - start);
      start = i + 1;
      if (item.empty()) continue;
      size_t eq = item.find('=');
      auto k = UrlDecode(item.substr(0, eq), true);
      auto v = UrlDecode(eq == std::string_view::npos ? "" : item.substr(eq + 1), true);
      if (!k || !v) {
        *why = "bad percent-encoding in the query";
        return std::nullopt;
      }
      if (t.query.params.size() >= kMaxQueryParams) {
        *why = "too many query parameters";
        return std::nullopt;
      }
      t.query.params[*k] = *v;
    }
  }
  return t;
}

}  // namespace certledger::api
