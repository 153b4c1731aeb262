// A small blocking HTTP/1.1 client (Boost.Beast over Boost.Asio, OpenSSL for https) for the
// command-line tools and tests: keep-alive, Content-Length and chunked responses, a timeout on
// every connect, TLS handshake, write and read. Not for the node itself.
//
// https: the server's certificate must chain to a trusted CA (options.ca_file, or the system's
// default trust store) and name the URL's host (DNS name or IP address in subjectAltName); SNI
// is sent for host names; TLS 1.2 at least.
//
// Beast, Asio and OpenSSL stay inside client.cc.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "ledger/status.h"

namespace certledger::api {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct Url {
  std::string host;
  uint16_t port = 80;
  std::string base_path;  // without a trailing slash
  bool tls = false;       // https
};
// Parses "http://host[:port][/path]" (default port 80) and "https://host[:port][/path]"
// (default port 443). IPv6 hosts in brackets.
ledger::Result<Url> ParseUrl(const std::string& url);

struct HttpClientOptions {
  int timeout_ms = 10000;  // bounds each connect, handshake, write and read
  std::string ca_file;     // https: PEM file of trusted CAs; empty: the system's default store
};

class HttpClient {
 public:
  explicit HttpClient(Url url, int timeout_ms = 10000);
  HttpClient(Url url, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request on the kept-alive connection (opened on first use). If a reused connection
  // fails (the server closed it meanwhile), the request is retried once on a fresh one. A
  // response written before the whole request was sent (a 413 for a body over the server's
  // limit) is read and returned. Responses: Content-Length, chunked or until close; headers up
  // to 1 MiB, bodies up to 256 MiB.
  ledger::Result<HttpResponse> Get(const std::string& path);
  ledger::Result<HttpResponse> Post(const std::string& path, const std::string& body,
                                    const std::string& content_type = "application/json");
  // Sends raw bytes on a fresh connection (tests use it for malformed requests), reads one
  // response and closes.
  ledger::Result<HttpResponse> Raw(const std::string& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace certledger::api
