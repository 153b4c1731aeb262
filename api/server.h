// The HTTP/1.1 server (Boost.Beast over Boost.Asio) that feeds requests to a Handler.
//
// One listener, `threads` threads each running its own io_context; a connection lives on one of
// them (round robin), so its handlers never run concurrently. Per connection:
// keep-alive; requests are read one at a time and answered in order (pipelined requests wait in
// the read buffer, so pipelining is safe); the request header must arrive within
// header_timeout_ms of its first byte, or of the connection opening (so a slow client cannot
// hold a connection: bytes dripped in do not extend the deadline); the body within
// read_timeout_ms; an idle keep-alive connection is closed after idle_timeout_ms, or after
// busy_idle_timeout_ms while the server is busy: from when more than half of max_connections
// are open until no more than a quarter are (connections already idle when the server becomes
// busy are cut short too). A declared body above max_body_bytes is refused with 413 before it
// is read, and the connection closed.
//
// Limits per client: beyond max_connections, new connections get a 503 and are closed; beyond
// max_connections_per_ip open connections from one address, a 429 `too-many-connections` and
// are closed (both answers are written on connect, without reading a request). Requests beyond
// a client IP's token bucket get 429 `rate-limited`. Every 429, the handler's included, carries
// `Connection: close` and closes the connection. Every response carries
// `X-Content-Type-Options: nosniff`.
//
// TLS (optional): with tls_certificate_chain_pem and tls_private_key_pem set, every connection
// is HTTPS: a TLS handshake (1.2 or later) that must complete within header_timeout_ms of the
// connection opening, then the same HTTP as above (the 503 / 429 answers on connect are written
// after the handshake). A connection closed after a complete answer sends close_notify first.
//
// The handler is called on a connection's thread; its reply may come from any thread, at any
// time before Stop() (a reply given before Handle() returns is written without a further
// round trip). After Stop() late replies are dropped.
//
// Beast and Asio stay inside server.cc: this header is included by node/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/handlers.h"
#include "ledger/status.h"

namespace certledger::api {

struct ServerOptions {
  std::string host = "127.0.0.1";         // address to bind; "0.0.0.0" or "::" for all interfaces
  uint16_t port = 0;                      // 0: an ephemeral port, see Server::port()
  int threads = 2;                        // io_context threads
  size_t max_body_bytes = 1 << 20;        // larger bodies get 413
  size_t max_header_bytes = 16 * 1024;    // larger request headers get 431
  uint32_t header_timeout_ms = 5'000;     // from connection open / first byte to full header
  uint32_t read_timeout_ms = 30'000;      // to read the body once the header is in
  uint32_t write_timeout_ms = 30'000;     // to write a response
  uint32_t idle_timeout_ms = 60'000;      // keep-alive: idle time allowed between requests
  uint32_t busy_idle_timeout_ms = 1'000;  // the same while busy (> max_connections / 2 open)
  size_t max_connections = 1024;          // beyond: a 503 and close
  size_t max_connections_per_ip = 32;     // open connections per client address; beyond: 429
  uint32_t rate_limit_per_second = 100;   // per client IP; 0 disables rate limiting
  uint32_t rate_limit_burst = 200;        // bucket size (requests)
  // HTTPS: both set (PEM text: the certificate chain, leaf first, and its unencrypted private
  // key), or both empty for plain HTTP.
  std::string tls_certificate_chain_pem;
  std::string tls_private_key_pem;

  [[nodiscard]] ledger::Status Validate() const;
};

class Server {
 public:
  // REQUIRES: options.Validate().ok(); `handler` outlives the server.
  Server(ServerOptions options, Handler& handler);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads. IOError if the address cannot be bound;
  // InvalidArgument if the TLS certificate chain or key cannot be loaded or do not match.
  ledger::Status Start();
  // Stops accepting, closes every connection, joins the threads. Idempotent. Bounded: gives
  // in-flight handlers a short grace period, then abandons them.
  void Stop();
  // The bound port (the ephemeral one when options.port was 0). REQUIRES: Start() succeeded.
  [[nodiscard]] uint16_t port() const;
  // Open client connections (those counted against max_connections).
  [[nodiscard]] size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace certledger::api
