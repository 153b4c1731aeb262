#include "api/client.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <utility>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "ledger/host_port.h"

namespace certledger::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ledger::Result;
using ledger::Status;

Result<Url> ParseUrl(const std::string& url) {
  Url u;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    u.tls = true;
    u.port = 443;
  } else {
    return Status::InvalidArgument("URL must start with http:// or https://: " + url);
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u.base_path = rest.substr(slash);
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  auto hp = ledger::ParseHostPort(hostport, u.port);
  if (!hp.ok()) return Status::InvalidArgument(hp.status().message() + " in " + url);
  if (hp->port == 0) return Status::InvalidArgument("bad port in " + url);
  u.host = hp->host;
  u.port = hp->port;
  return u;
}

namespace {

constexpr uint32_t kMaxHeaderBytes = 1u << 20;
constexpr uint64_t kMaxBodyBytes = 256ull << 20;
constexpr size_t kRawWriteChunk = 64 * 1024;

// The outcome of one asynchronous operation. Shared with its handler, so that a handler that
// runs late (after an exception abandoned its wait) writes nowhere dangerous.
struct OpState {
  std::optional<beast::error_code> result;
  size_t bytes = 0;
};

// Records the completion of one asynchronous operation (any of Asio's handler signatures).
struct Completion {
  std::shared_ptr<OpState> state;
  void operator()(beast::error_code ec) const { state->result = ec; }
  void operator()(beast::error_code ec, size_t n) const {
    state->bytes = n;
    state->result = ec;
  }
  void operator()(beast::error_code ec, const tcp::endpoint&) const { state->result = ec; }
};

bool IsTimeout(const beast::error_code& ec) { return ec == beast::error::timeout; }

}  // namespace

struct HttpClient::Impl {
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  Impl(Url u, HttpClientOptions o) : url(std::move(u)), options(std::move(o)) {}

  [[nodiscard]] std::chrono::milliseconds Timeout() const {
    return std::chrono::milliseconds(std::max(1, options.timeout_ms));
  }
  // "host:port", brackets around an IPv6 address (messages and the Host header).
  [[nodiscard]] std::string Where() const {
    return ledger::HostPort{url.host, url.port}.ToString();
  }
  [[nodiscard]] bool Open() const { return plain || tls; }
  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Starts one asynchronous operation with `initiate(Completion)` and runs the private
  // io_context until it completes. Every operation carries a deadline (the stream's expiry or a
  // timer), so this returns in bounded time.
  template <class Initiate>
  beast::error_code Run(Initiate&& initiate, size_t* bytes = nullptr) {
    auto state = std::make_shared<OpState>();
    initiate(Completion{state});
    ioc->restart();
    while (!state->result) {
      if (ioc->run_one() == 0) return asio::error::operation_aborted;  // no work left (cannot be)
    }
    if (bytes != nullptr) *bytes = state->bytes;
    return *state->result;
  }

  // Calls f on the open stream, whichever it is.
  template <class F>
  beast::error_code WithStream(F&& f) {
    if (tls) return f(*tls);
    return f(*plain);
  }

  Status Resolve(tcp::resolver::results_type* results) {
    auto resolver = std::make_shared<tcp::resolver>(*ioc);
    asio::steady_timer timer(*ioc);
    timer.expires_after(Timeout());
    timer.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](beast::error_code ec) {
      if (ec) return;
      if (auto r = weak.lock()) r->cancel();
    });
    struct Resolved {
      std::optional<beast::error_code> result;
      tcp::resolver::results_type endpoints;
    };
    auto state = std::make_shared<Resolved>();
    resolver->async_resolve(url.host, std::to_string(url.port), tcp::resolver::numeric_service,
                            [state](beast::error_code ec, tcp::resolver::results_type r) {
                              state->endpoints = std::move(r);
                              state->result = ec;
                            });
    ioc->restart();
    while (!state->result) {
      if (ioc->run_one() == 0) break;
    }
    const bool expired = timer.expiry() <= asio::steady_timer::clock_type::now();
    timer.cancel();
    if (!state->result) return Status::IOError("resolve " + url.host + ": no answer");
    if (*state->result) {
      return Status::IOError("resolve " + url.host + ": " +
                             (expired ? std::string("timed out") : state->result->message()));
    }
    *results = std::move(state->endpoints);
    return Status::Ok();
  }

  Status MakeTlsContext() {
    if (tls_context) return Status::Ok();
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::no_compression,
                     ec);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    if (!options.ca_file.empty()) {
      if (std::ifstream probe(options.ca_file); !probe) {
        return Status::InvalidArgument("cannot read the CA file " + options.ca_file + ": " +
                                       std::strerror(errno));
      }
      ctx->load_verify_file(options.ca_file, ec);
      if (ec) {
        return Status::InvalidArgument("cannot load the CA certificates in " + options.ca_file +
                                       " (PEM): " + ec.message());
      }
    } else {
      ctx->set_default_verify_paths(ec);
      if (ec) return Status::IOError("cannot load the system's CA certificates: " + ec.message());
    }
    ctx->set_verify_mode(ssl::verify_peer, ec);
    tls_context = std::move(ctx);
    return Status::Ok();
  }

  Status Connect() {
    Close();
    const std::string where = Where();
    if (url.tls) {
      if (Status st = MakeTlsContext(); !st.ok()) return st;
    }
    tcp::resolver::results_type endpoints;
    if (Status st = Resolve(&endpoints); !st.ok()) return st;
    auto stream = std::make_unique<beast::tcp_stream>(*ioc);
    stream->expires_after(Timeout());
    beast::error_code ec = Run([&](Completion done) { stream->async_connect(endpoints, done); });
    if (ec) {
      return Status::IOError("connect " + where + ": " +
                             (IsTimeout(ec) ? std::string("timed out") : ec.message()));
    }
    boost::system::error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    if (!url.tls) {
      plain = std::move(stream);
      return Status::Ok();
    }

    auto s = std::make_unique<TlsStream>(std::move(*stream), *tls_context);
    stream.reset();
    boost::system::error_code addr_ec;
    (void)asio::ip::make_address(url.host, addr_ec);
    const bool is_address = !addr_ec;
    // SNI carries host names only (RFC 6066).
    // SSL_set_tlsext_host_name, without its C cast.
    if (!is_address &&
        SSL_ctrl(s->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(url.host.c_str())) != 1) {
      return Status::IOError("TLS handshake with " + where + " failed: cannot set SNI");
    }
    // The leaf must name the host; a mismatch is recorded as the verification error so that
    // the message says which check failed.
    s->set_verify_callback(
        [check = ssl::host_name_verification(url.host), is_address](bool preverified,
                                                                    ssl::verify_context& ctx) {
          const bool ok = check(preverified, ctx);
          if (!ok && preverified) {
            X509_STORE_CTX_set_error(ctx.native_handle(), is_address
                                                              ? X509_V_ERR_IP_ADDRESS_MISMATCH
                                                              : X509_V_ERR_HOSTNAME_MISMATCH);
          }
          return ok;
        },
        ignored);
    beast::get_lowest_layer(*s).expires_after(Timeout());
    ec = Run([&](Completion done) { s->async_handshake(ssl::stream_base::client, done); });
    if (ec) {
      std::string why;
      const long verify = SSL_get_verify_result(s->native_handle());
      if (verify != X509_V_OK) {
        why = std::string("certificate verify failed (") + X509_verify_cert_error_string(verify) +
              ")";
      } else if (IsTimeout(ec)) {
        why = "timed out";
      } else {
        why = ec.message();
      }
      return Status::IOError("TLS handshake with " + where + " failed: " + why);
    }
    tls = std::move(s);
    return Status::Ok();
  }

  // A request, its body written in pieces, each within the timeout.
  beast::error_code Send(http::request<http::string_body>& req) {
    http::request_serializer<http::string_body> sr(req);
    beast::error_code ec;
    while (!ec && !sr.is_done()) {
      Lowest().expires_after(Timeout());
      ec = WithStream([&](auto& stream) {
        return Run([&](Completion done) { http::async_write_some(stream, sr, done); });
      });
    }
    return ec;
  }

  beast::error_code SendRaw(const std::string& data) {
    size_t off = 0;
    beast::error_code ec;
    while (!ec && off < data.size()) {
      const size_t chunk = std::min(kRawWriteChunk, data.size() - off);
      size_t n = 0;
      Lowest().expires_after(Timeout());
      ec = WithStream([&](auto& stream) {
        return Run(
            [&](Completion done) {
              stream.async_write_some(asio::buffer(data.data() + off, chunk), done);
            },
            &n);
      });
      off += n;
    }
    return ec;
  }

  // One response; each read within the timeout (a slow but steady body is not cut off).
  Result<HttpResponse> ReadResponse() {
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    beast::error_code ec;
    while (!ec && !parser.is_done()) {
      Lowest().expires_after(Timeout());
      ec = WithStream([&](auto& stream) {
        return Run([&](Completion done) { http::async_read_some(stream, buffer, parser, done); });
      });
    }
    if (ec) {
      Close();
      if (IsTimeout(ec)) return Status::IOError("timed out waiting for the response");
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == ssl::error::stream_truncated) {
        return Status::IOError("connection closed by the server");
      }
      if (ec == http::error::header_limit) return Status::IOError("response headers too large");
      if (ec == http::error::body_limit) return Status::IOError("response body too large");
      if (ec == http::error::partial_message) {
        return Status::IOError("connection closed by the server in the middle of the response");
      }
      return Status::IOError("reading the response: " + ec.message());
    }
    http::response<http::string_body> res = parser.release();
    HttpResponse r;
    r.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(field.value());
    }
    r.body = std::move(res.body());
    if (!res.keep_alive()) Close();
    return r;
  }

  Result<HttpResponse> Request(const std::string& method, const std::string& path,
                               const std::string& body, const std::string& content_type) {
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(url.base_path + path);
    req.version(11);
    req.set(http::field::host, Where());
    req.set(http::field::connection, "keep-alive");
    if (method == "POST") {
      req.set(http::field::content_type, content_type);
      req.body() = body;
      req.prepare_payload();
    }
    // One retry on a fresh connection: a kept-alive connection may have been closed by the
    // server.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = Open();
      if (!reused) {
        if (Status st = Connect(); !st.ok()) return st;
      }
      const beast::error_code wec = Send(req);
      // A server may answer before it has read the whole request (a 413 for a body over its
      // limit) and close: the write then fails with EPIPE or ECONNRESET, and the answer waits.
      const bool answered_early =
          wec == asio::error::broken_pipe || wec == asio::error::connection_reset;
      Status st = Status::Ok();
      if (wec) {
        st = Status::IOError("send to " + Where() + ": " +
                             (IsTimeout(wec) ? std::string("timed out") : wec.message()));
      }
      bool timed_out = IsTimeout(wec);
      if (!wec || answered_early) {
        auto r = ReadResponse();
        if (r.ok()) return r;
        if (!wec) {
          st = r.status();
          timed_out = r.status().message().find("timed out") != std::string::npos;
        }
      }
      Close();
      // A timeout is not a stale connection: retrying would only double the wait.
      if (!reused || timed_out) return st;
    }
    return Status::IOError("request failed");
  }

  Result<HttpResponse> RawRequest(const std::string& request) {
    if (Status st = Connect(); !st.ok()) return st;
    const beast::error_code ec = SendRaw(request);
    if (ec && ec != asio::error::broken_pipe && ec != asio::error::connection_reset) {
      Close();
      return Status::IOError("send to " + Where() + ": " +
                             (IsTimeout(ec) ? std::string("timed out") : ec.message()));
    }
    auto r = ReadResponse();
    Close();
    return r;
  }

  void Close() {
    tls.reset();
    plain.reset();
    buffer.clear();
  }

  // After an exception: the connection and any operation left pending are dropped (a fresh
  // io_context destroys the old one's handlers without running them).
  void Reset() {
    Close();
    ioc = std::make_unique<asio::io_context>(1);
  }

  Url url;
  HttpClientOptions options;
  std::unique_ptr<asio::io_context> ioc = std::make_unique<asio::io_context>(1);
  std::unique_ptr<ssl::context> tls_context;  // made on the first https connection
  std::unique_ptr<beast::tcp_stream> plain;   // the open connection: this one (http)
  std::unique_ptr<TlsStream> tls;             // or this one (https)
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(Url url, int timeout_ms)
    : HttpClient(std::move(url), HttpClientOptions{timeout_ms, {}}) {}

HttpClient::HttpClient(Url url, HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(url), std::move(options))) {}

HttpClient::~HttpClient() = default;

namespace {

// Exceptions (allocation failures, Asio's throwing paths) do not leave the api edge.
template <class ClientImpl, class F>
Result<HttpResponse> Guard(ClientImpl* impl, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    impl->Reset();
    return Status::IOError(std::string("HTTP client: ") + e.what());
  }
}

}  // namespace

Result<HttpResponse> HttpClient::Get(const std::string& path) {
  return Guard(impl_.get(), [&] { return impl_->Request("GET", path, "", ""); });
}

Result<HttpResponse> HttpClient::Post(const std::string& path, const std::string& body,
                                      const std::string& content_type) {
  return Guard(impl_.get(), [&] { return impl_->Request("POST", path, body, content_type); });
}

Result<HttpResponse> HttpClient::Raw(const std::string& request) {
  return Guard(impl_.get(), [&] { return impl_->RawRequest(request); });
}

}  // namespace certledger::api
