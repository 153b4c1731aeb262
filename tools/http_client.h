// The tools' HTTP client is api::HttpClient (api/client.h: http and https, keep-alive, chunked
// responses, a timeout on every operation); these names keep the tools' spelling.
#pragma once

#include "api/client.h"

namespace certledger::tools {

using api::HttpClient;
using api::HttpClientOptions;
using api::HttpResponse;
using api::ParseUrl;
using api::Url;

}  // namespace certledger::tools
