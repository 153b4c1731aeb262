// A small blocking HTTP/1.1 client over POSIX sockets for the command-line tools and tests:
// keep-alive, Content-Length bodies, a timeout on every operation. Not for the node itself.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ledger/status.h"

namespace certledger::tools {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct Url {
  std::string host;
  uint16_t port = 80;
  std::string base_path;  // without a trailing slash
};
// Parses "http://host:port[/path]". https is not supported (nodes serve plain HTTP on loopback or
// behind a TLS-terminating proxy).
ledger::Result<Url> ParseUrl(const std::string& url);

class HttpClient {
 public:
  HttpClient(Url url, int timeout_ms = 10000) : url_(std::move(url)), timeout_ms_(timeout_ms) {}
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  ledger::Result<HttpResponse> Get(const std::string& path);
  ledger::Result<HttpResponse> Post(const std::string& path, const std::string& body,
                                    const std::string& content_type = "application/json");
  // Sends raw bytes (tests use it for malformed requests) and reads one response.
  ledger::Result<HttpResponse> Raw(const std::string& request);

 private:
  ledger::Result<HttpResponse> Request(const std::string& method, const std::string& path,
                                       const std::string& body, const std::string& content_type);
  ledger::Status Connect();
  ledger::Status SendAll(const std::string& data);
  ledger::Result<HttpResponse> ReadResponse();
  void Close();

  Url url_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace certledger::tools
