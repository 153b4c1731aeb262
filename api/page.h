// Internal to api/: the human verification page GET /v/{hash} (HTML, Chinese first with English
// beside it, WCAG AA contrast, no script), made from the same verification answer as the JSON
// route (api/verification.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/verification.h"

namespace certledger::api {

// HTML-escapes text for element content and attribute values.
std::string HtmlEscape(std::string_view s);

// The page of `v`, checked at `checked_ms` (unix ms).
std::string VerificationHtml(const Verification& v, int64_t checked_ms);

}  // namespace certledger::api
