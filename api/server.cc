#include "api/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>

namespace certledger::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ledger::Status;

Status ServerOptions::Validate() const {
  if (host.empty()) return Status::InvalidArgument("server.host: required");
  if (threads < 1 || threads > 64) return Status::InvalidArgument("server.threads: 1 to 64");
  if (max_body_bytes == 0 || max_body_bytes > (64u << 20)) {
    return Status::InvalidArgument("server.max_body_bytes: 1 byte to 64 MiB");
  }
  if (max_header_bytes < 1024 || max_header_bytes > (1u << 20)) {
    return Status::InvalidArgument("server.max_header_bytes: 1 KiB to 1 MiB");
  }
  if (header_timeout_ms == 0 || read_timeout_ms == 0 || write_timeout_ms == 0 ||
      idle_timeout_ms == 0 || busy_idle_timeout_ms == 0) {
    return Status::InvalidArgument("server: timeouts must be positive");
  }
  if (max_connections == 0) return Status::InvalidArgument("server.max_connections: positive");
  if (max_connections_per_ip == 0) {
    return Status::InvalidArgument("server.max_connections_per_ip: positive");
  }
  if (rate_limit_per_second > 0 && rate_limit_burst == 0) {
    return Status::InvalidArgument("server.rate_limit_burst: positive when rate limiting");
  }
  if (tls_certificate_chain_pem.empty() != tls_private_key_pem.empty()) {
    return Status::InvalidArgument(
        "server.tls: the certificate chain and the private key go together (both or neither)");
  }
  return Status::Ok();
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kNoSniff[] = "X-Content-Type-Options";

std::string ErrorBody(const std::string& code, const std::string& message) {
  // Fixed ASCII codes and messages: no escaping needed.
  return "{\"error\":{\"code\":\"" + code + "\",\"message\":\"" + message + "\"}}\n";
}

// Token buckets per client address. Thread-safe (one mutex: a map lookup per request).
class RateLimiter {
 public:
  RateLimiter(uint32_t per_second, uint32_t burst) : rate_(per_second), burst_(burst) {}

  bool Allow(const std::string& client) {
    if (rate_ == 0) return true;
    const Clock::time_point now = Clock::now();
    std::lock_guard lock(mu_);
    if (buckets_.size() > kMaxClients) Prune(now);
    auto [it, inserted] = buckets_.try_emplace(client, Bucket{static_cast<double>(burst_), now});
    Bucket& b = it->second;
    Refill(&b, now);
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
  }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  static constexpr size_t kMaxClients = 10'000;

  void Refill(Bucket* b, Clock::time_point now) const {
    double elapsed = std::chrono::duration<double>(now - b->last).count();
    b->tokens = std::min(static_cast<double>(burst_), b->tokens + elapsed * rate_);
    b->last = now;
  }
  // Drops full buckets (clients idle long enough to have refilled): they behave as new ones.
  void Prune(Clock::time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      Refill(&it->second, now);
      it = it->second.tokens >= static_cast<double>(burst_) ? buckets_.erase(it) : std::next(it);
    }
  }

  const uint32_t rate_;
  const uint32_t burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // GUARDED_BY(mu_)
};

// What the listener decided for a new connection.
enum class Admission {
  kServe,       // counted against max_connections and its address's cap
  kOverloaded,  // over max_connections: 503, closed
  kTooMany,     // over max_connections_per_ip: 429, closed
};

class SessionBase;

// The session whose handler call is running on this thread, if any: a reply given from inside
// that call is written without a round trip through the io_context.
thread_local SessionBase* t_handling = nullptr;

// State shared by the listener, the sessions and reply callbacks that may outlive a session.
struct Shared {
  Shared(ServerOptions o, Handler* h)
      : options(std::move(o)),
        handler(h),
        limiter(options.rate_limit_per_second, options.rate_limit_burst) {}

  // Busy from when more than half of max_connections are open until no more than a quarter
  // are (the gap keeps a count that hovers around half from sweeping the sessions on every
  // accept): idle keep-alive connections then get the short timeout.
  [[nodiscard]] bool BecomesBusy(size_t open_connections) const {
    return open_connections > options.max_connections / 2;
  }
  [[nodiscard]] bool StaysBusy(size_t open_connections) const {
    return open_connections > options.max_connections / 4;
  }
  [[nodiscard]] uint32_t IdleTimeoutMs() const {
    return busy.load() ? std::min(options.busy_idle_timeout_ms, options.idle_timeout_ms)
                       : options.idle_timeout_ms;
  }

  const ServerOptions options;
  Handler* const handler;
  RateLimiter limiter;
  // Set by Start() before the first accept when the options carry a certificate; never changed
  // after. Owned here so that it outlives every session.
  std::unique_ptr<ssl::context> tls;

  std::mutex mu;
  bool open = true;  // GUARDED_BY(mu): false once Stop() began
  std::map<SessionBase*, std::weak_ptr<SessionBase>> sessions;  // GUARDED_BY(mu)
  // Counted connections per client address (entries with a zero count are erased).
  std::unordered_map<std::string, size_t> per_address;  // GUARDED_BY(mu)
  // See BecomesBusy(); its rise makes the sessions idle at the time shorten their wait.
  std::atomic<bool> busy{false};       // changed under mu; read without it
  std::atomic<size_t> connections{0};  // changed under mu; read without it
};

// What the listener and Stop() need from a connection, whatever its stream (plain or TLS).
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  // `counted`: the listener counted this connection against max_connections and against the
  // cap of `client` (its address); the destructor gives both back.
  SessionBase(std::shared_ptr<Shared> shared, std::string client, bool counted)
      : shared_(std::move(shared)), counted_(counted), client_(std::move(client)) {}
  virtual ~SessionBase() {
    std::lock_guard lock(shared_->mu);
    shared_->sessions.erase(this);
    if (counted_) {
      const size_t n = shared_->connections.fetch_sub(1) - 1;
      auto it = shared_->per_address.find(client_);
      if (it != shared_->per_address.end() && --it->second == 0) shared_->per_address.erase(it);
      if (!shared_->StaysBusy(n)) shared_->busy = false;
      // Under the lock, so that the handler sees the counts in order.
      shared_->handler->OnConnectionsChanged(n);
    }
  }
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  // Starts serving, or answers why not and closes.
  virtual void Start(Admission admission) = 0;
  // Closes the connection (from Stop()). Runs on the connection's thread.
  virtual void Shutdown() = 0;
  // The server just became busy: if this connection is idle between requests, it may stay
  // idle only busy_idle_timeout_ms from the start of its wait. Runs on the connection's thread.
  virtual void ShortenIdleWait() = 0;
  [[nodiscard]] virtual asio::any_io_executor executor() = 0;

 protected:
  const std::shared_ptr<Shared> shared_;
  const bool counted_;
  const std::string client_;
};

// One connection over `Stream`: beast::tcp_stream (HTTP) or beast::ssl_stream<tcp_stream>
// (HTTPS: a TLS handshake under the header deadline comes first; a connection closed after a
// final answer sends close_notify).
template <class Stream>
class Session final : public SessionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... StreamArgs>
  Session(std::shared_ptr<Shared> shared, std::string client, bool counted, StreamArgs&&... args)
      : SessionBase(std::move(shared), std::move(client), counted),
        stream_(std::forward<StreamArgs>(args)...),
        idle_timer_(stream_.get_executor()) {}

  void Start(Admission admission) override {
    asio::dispatch(stream_.get_executor(), [self = Self(), admission] {
      if constexpr (kTls) {
        // The handshake is part of the header's deadline: a client that opens a connection
        // and stalls the handshake is cut off like a slow header.
        self->Lowest().expires_after(std::chrono::milliseconds(self->options().header_timeout_ms));
        self->stream_.async_handshake(ssl::stream_base::server,
                                      [self, admission](beast::error_code ec) {
                                        if (ec) return self->Close();
                                        self->Admit(admission);
                                      });
      } else {
        self->Admit(admission);
      }
    });
  }

  void Shutdown() override {
    hold_.reset();
    idle_timer_.cancel();
    boost::system::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
  }

  void ShortenIdleWait() override {
    if (!idle_) return;
    const auto deadline = idle_since_ + std::chrono::milliseconds(shared_->IdleTimeoutMs());
    if (deadline < idle_timer_.expiry()) ArmIdleTimer(deadline);
  }

  [[nodiscard]] asio::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  const ServerOptions& options() const { return shared_->options; }
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Admit(Admission admission) {
    switch (admission) {
      case Admission::kServe:
        return ReadHeader();
      case Admission::kOverloaded:
        return SendError(503, "overloaded", "too many connections; retry later", true);
      case Admission::kTooMany:
        return SendError(429, "too-many-connections",
                         "too many connections from this address; retry later", true);
    }
  }

  // Between requests on a kept-alive connection: wait up to the idle timeout for a first
  // byte, then give the header its own deadline. The idle wait has its own timer (a
  // tcp_stream's deadline cannot be moved while a read is pending) so that ShortenIdleWait()
  // can cut it short when the server becomes busy.
  void WaitForRequest() {
    if (buffer_.size() > 0) {  // a pipelined request is already here
      ReadHeader();
      return;
    }
    idle_ = true;
    ++idle_generation_;
    idle_since_ = Clock::now();
    Lowest().expires_never();
    ArmIdleTimer(idle_since_ + std::chrono::milliseconds(shared_->IdleTimeoutMs()));
    stream_.async_read_some(buffer_.prepare(4096), [self = Self()](beast::error_code ec, size_t n) {
      self->idle_ = false;
      self->idle_timer_.cancel();
      if (ec) return self->Close();
      self->buffer_.commit(n);
      self->ReadHeader();
    });
  }

  // (Re)arms the idle timer; a wait it replaces completes with operation_aborted.
  void ArmIdleTimer(Clock::time_point deadline) {
    idle_timer_.expires_at(deadline);
    idle_timer_.async_wait(
        [weak = weak_from_this(), generation = idle_generation_](beast::error_code ec) {
          if (ec) return;
          auto base = weak.lock();
          if (!base) return;
          auto self = std::static_pointer_cast<Session>(base);
          if (self->idle_ && self->idle_generation_ == generation) self->Close();
        });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    Lowest().expires_after(std::chrono::milliseconds(options().header_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::body_limit) {  // the declared Content-Length is over the limit
      return SendError(413, "body-too-large", "the request body is too large", true);
    }
    if (ec == http::error::header_limit) {
      return SendError(431, "header-too-large", "the request header is too large", true);
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == ssl::error::stream_truncated) {
      return Close();
    }
    if (ec) return SendError(400, "bad-request", "malformed HTTP request", true);
    auto length = parser_->content_length();
    if (length && *length > options().max_body_bytes) {
      return SendError(413, "body-too-large", "the request body is too large", true);
    }
    if (parser_->is_done()) return OnBody({});
    auto& req = parser_->get();
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      // Tell the client to send the body (curl waits otherwise).
      continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      Lowest().expires_after(std::chrono::milliseconds(options().write_timeout_ms));
      http::async_write(stream_, *continue_, [self = Self()](beast::error_code wec, size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Lowest().expires_after(std::chrono::milliseconds(options().read_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return SendError(413, "body-too-large", "the request body is too large", true);
    }
    if (ec) return Close();
    http::request<http::string_body> req = parser_->release();
    parser_.reset();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    if (!shared_->limiter.Allow(client_)) {
      return SendError(429, "rate-limited", "too many requests from this address", true);
    }
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.content_type = std::string(req[http::field::content_type]);
    r.accept_language = std::string(req[http::field::accept_language]);
    r.body = std::move(req.body());
    r.client = client_;

    // Wait for the reply without a deadline (the handler bounds its own waits); the session
    // keeps itself alive until the reply comes or Stop() closes it.
    Lowest().expires_never();
    hold_ = Self();
    std::weak_ptr<SessionBase> weak = weak_from_this();
    std::shared_ptr<Shared> shared = shared_;
    SessionBase* const me = this;
    Reply reply = [weak, shared, me](Response resp) {
      if (t_handling == me) {
        // Called from inside Handle() on this session's own thread (the common, synchronous
        // case): the session is alive; the reply is written once Handle() returns, without a
        // round trip through the io_context.
        static_cast<Session*>(me)->inline_reply_.emplace(std::move(resp));
        return;
      }
      std::shared_ptr<SessionBase> base;
      {
        std::lock_guard lock(shared->mu);
        if (!shared->open) return;
        base = weak.lock();
      }
      // Outside the lock: if `base` is the last reference, ~SessionBase takes shared->mu
      // itself (a reply from the node's thread after the connection closed deadlocked here).
      if (!base) return;
      auto s = std::static_pointer_cast<Session>(std::move(base));
      asio::post(s->executor(),
                 [s, resp = std::move(resp)]() mutable { s->OnReply(std::move(resp)); });
    };
    t_handling = this;
    try {
      shared_->handler->Handle(r, std::move(reply));
    } catch (const std::exception&) {
      t_handling = nullptr;
      inline_reply_.reset();
      hold_.reset();
      SendError(500, "internal", "the handler failed", true);
      return;
    }
    t_handling = nullptr;
    if (inline_reply_) {
      Response resp = std::move(*inline_reply_);
      inline_reply_.reset();
      OnReply(std::move(resp));
    }
  }

  void OnReply(Response resp) {
    if (!hold_) return;  // closed meanwhile
    auto self = std::move(hold_);
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(resp.status), version_);
    res->set(http::field::server, "certledger");
    res->set(http::field::content_type, resp.content_type);
    res->set(kNoSniff, "nosniff");
    for (const auto& [name, value] : resp.headers) res->set(name, value);
    res->body() = std::move(resp.body);
    // Every 429 closes: a client that is told to slow down does not keep its slot meanwhile.
    const bool close = !keep_alive_ || resp.status == 429;
    res->keep_alive(!close);
    res->prepare_payload();
    Write(std::move(res), close);
  }

  void SendError(int status, const std::string& code, const std::string& message, bool close) {
    shared_->handler->OnServerResponse(status);
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), version_);
    res->set(http::field::server, "certledger");
    res->set(http::field::content_type, "application/json");
    res->set(kNoSniff, "nosniff");
    if (status == 429) res->set(http::field::retry_after, "1");
    res->body() = ErrorBody(code, message);
    res->keep_alive(!close && keep_alive_);
    res->prepare_payload();
    Write(std::move(res), close || !keep_alive_);
  }

  void Write(std::shared_ptr<http::response<http::string_body>> res, bool close) {
    Lowest().expires_after(std::chrono::milliseconds(options().write_timeout_ms));
    http::async_write(stream_, *res, [self = Self(), res, close](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (close) return self->CloseAfterAnswer();
      self->WaitForRequest();
    });
  }

  // The connection ends after a complete answer. TLS: close_notify first (the client can tell
  // the end from a truncation), bounded by a short deadline; then as Close().
  void CloseAfterAnswer() {
    if constexpr (kTls) {
      hold_.reset();
      idle_ = false;
      idle_timer_.cancel();
      Lowest().expires_after(std::chrono::milliseconds(
          std::min<uint32_t>(options().write_timeout_ms, kCloseNotifyTimeoutMs)));
      stream_.async_shutdown([self = Self()](beast::error_code) { self->Close(); });
    } else {
      Close();
    }
  }

  void Close() {
    hold_.reset();
    idle_ = false;
    idle_timer_.cancel();
    boost::system::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    Lowest().close();
  }

  static constexpr uint32_t kCloseNotifyTimeoutMs = 1000;

  Stream stream_;
  asio::steady_timer idle_timer_;  // the idle wait between requests (on the connection's thread)
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
  bool idle_ = false;               // waiting for the first byte of a next request
  uint64_t idle_generation_ = 0;    // which idle wait the timer belongs to
  Clock::time_point idle_since_{};  // start of the current idle wait
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::shared_ptr<Session> hold_;         // self-reference while the handler owes a reply
  std::optional<Response> inline_reply_;  // a reply given from inside Handle() (see OnBody)
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

// Builds the server's TLS context from PEM text: TLS 1.2 at least, the certificate chain (leaf
// first), and the private key, which must match the leaf. InvalidArgument naming what failed.
ledger::Result<std::unique_ptr<ssl::context>> MakeServerTlsContext(const ServerOptions& o) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::no_compression | ssl::context::single_dh_use,
                   ec);
  if (!ec && SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return Status::InvalidArgument("server.tls: cannot require TLS 1.2");
  }
  // An encrypted key must fail here, not prompt on a terminal (OpenSSL's default).
  ctx->set_password_callback([](size_t, ssl::context::password_purpose) { return std::string(); },
                             ec);
  // The key first: loading the chain then drops a key that does not match it, which the check
  // below reports as a mismatch (loading the key second would fail with a vaguer message).
  ctx->use_private_key(asio::buffer(o.tls_private_key_pem), ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument("server.tls: cannot load the private key (unencrypted PEM): " +
                                   ec.message());
  }
  ctx->use_certificate_chain(asio::buffer(o.tls_certificate_chain_pem), ec);
  if (ec) {
    return Status::InvalidArgument("server.tls: cannot load the certificate chain (PEM): " +
                                   ec.message());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::InvalidArgument("server.tls: the private key does not match the certificate");
  }
  return ctx;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Handler* h) : shared(std::make_shared<Shared>(std::move(o), h)) {
    // One io_context per thread (Validate() bounds the count; Start() refuses bad options):
    // a connection lives on one of them, so its handlers never run concurrently (no strands),
    // and the threads share no scheduler lock.
    const int n = std::clamp(shared->options.threads, 1, 64);
    for (int i = 0; i < n; ++i) {
      iocs.push_back(std::make_unique<asio::io_context>(1));
      // Each thread runs until Stop() drops this guard, even while it has no connection.
      keep_running.emplace_back(asio::make_work_guard(*iocs.back()));
    }
    acceptor.emplace(ioc());
    retry_timer.emplace(ioc());
  }

  asio::io_context& ioc() { return *iocs[0]; }

  void Accept() {
    asio::io_context& next = *iocs[next_ioc++ % iocs.size()];
    acceptor->async_accept(next.get_executor(), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) {
        // E.g. out of file descriptors: back off instead of spinning.
        retry_timer->expires_after(std::chrono::milliseconds(50));
        retry_timer->async_wait([this](beast::error_code tec) {
          if (!tec && acceptor->is_open()) Accept();
        });
        return;
      }
      OnAccept(std::move(s));
      Accept();
    });
  }

  // Admission: the global cap (503), then the client address's cap (429). Both answers are
  // written at once, without reading a request, so a refused connection costs one write.
  void OnAccept(tcp::socket s) {
    const ServerOptions& o = shared->options;
    boost::system::error_code ec;
    auto endpoint = s.remote_endpoint(ec);
    std::string client = ec ? std::string() : endpoint.address().to_string();
    Admission admission = Admission::kServe;
    // Released outside the lock (~SessionBase locks).
    std::vector<std::shared_ptr<SessionBase>> idle;
    {
      std::lock_guard lock(shared->mu);
      if (!shared->open) return;
      if (shared->connections.load() >= o.max_connections) {
        admission = Admission::kOverloaded;
      } else if (size_t& mine = shared->per_address[client]; mine >= o.max_connections_per_ip) {
        admission = Admission::kTooMany;
      } else {
        ++mine;
        const size_t n = shared->connections.fetch_add(1) + 1;
        shared->handler->OnConnectionsChanged(n);
        if (shared->BecomesBusy(n) && !shared->busy) {
          // Just became busy: connections idle since before must not keep their long wait.
          shared->busy = true;
          idle.reserve(shared->sessions.size());
          for (auto& [ptr, weak] : shared->sessions) {
            if (auto live = weak.lock()) idle.push_back(std::move(live));
          }
        }
      }
    }
    for (auto& session : idle) {
      asio::post(session->executor(), [session] { session->ShortenIdleWait(); });
    }
    idle.clear();
    const bool counted = admission == Admission::kServe;
    std::shared_ptr<SessionBase> session;
    if (shared->tls) {
      session = std::make_shared<TlsSession>(shared, std::move(client), counted, std::move(s),
                                             *shared->tls);
    } else {
      session = std::make_shared<PlainSession>(shared, std::move(client), counted, std::move(s));
    }
    {
      std::lock_guard lock(shared->mu);
      if (!shared->open) return;  // stopping: the session closes as it is destroyed
      shared->sessions[session.get()] = session;
    }
    session->Start(admission);
  }

  std::vector<std::unique_ptr<asio::io_context>> iocs;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  size_t next_ioc = 0;  // round robin of new connections (on the acceptor's thread)
  std::shared_ptr<Shared> shared;
  std::optional<tcp::acceptor> acceptor;          // on iocs[0]; made in the constructor
  std::optional<asio::steady_timer> retry_timer;  // likewise
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;

  std::mutex run_mu;
  std::condition_variable run_cv;
  int running = 0;  // GUARDED_BY(run_mu): threads still inside their io_context's run()
};

Server::Server(ServerOptions options, Handler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), &handler)) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  if (impl_->started) return Status::InvalidArgument("server already started");
  const ServerOptions& o = impl_->shared->options;
  if (Status st = o.Validate(); !st.ok()) return st;
  if (!o.tls_certificate_chain_pem.empty()) {
    try {
      auto tls = MakeServerTlsContext(o);
      if (!tls.ok()) return tls.status();
      impl_->shared->tls = std::move(tls).value();
    } catch (const std::exception& e) {  // ssl::context throws if OpenSSL cannot make one
      return Status::InvalidArgument(std::string("server.tls: ") + e.what());
    }
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) return Status::InvalidArgument("server.host: not an IP address: " + o.host);
  tcp::endpoint ep(address, o.port);
  auto& acc = *impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                           ec.message());
  }
  impl_->port = acc.local_endpoint().port();
  impl_->started = true;
  impl_->Accept();
  {
    std::lock_guard lock(impl_->run_mu);
    impl_->running = o.threads;
  }
  for (auto& owned : impl_->iocs) {
    impl_->threads.emplace_back([impl = impl_.get(), ioc = owned.get()] {
      for (;;) {
        try {
          ioc->run();
          break;
        } catch (const std::exception&) {
          // A handler threw past its own catch: keep serving the other connections.
        }
      }
      std::lock_guard lock(impl->run_mu);
      --impl->running;
      impl->run_cv.notify_all();
    });
  }
  return Status::Ok();
}

void Server::Stop() {
  Impl& m = *impl_;
  if (!m.started || m.stopped) return;
  m.stopped = true;
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(m.shared->mu);
    m.shared->open = false;
    for (auto& [ptr, weak] : m.shared->sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  // The work guards (keep_running) are dropped only after every close below is posted: a
  // session waiting for its handler's reply has no I/O pending, so an io_context could
  // otherwise run out of work and its thread return before that session's Shutdown is posted
  // (it then never ran, and that session and its socket leaked).
  asio::post(m.acceptor->get_executor(), [&m] {
    boost::system::error_code ec;
    m.acceptor->close(ec);
    m.retry_timer->cancel();
  });
  for (auto& s : live) {
    asio::post(s->executor(), [s] { s->Shutdown(); });
  }
  live.clear();
  m.keep_running.clear();
  // Everything is closed or closing: run() returns once the handlers drain. Bounded wait.
  {
    std::unique_lock lock(m.run_mu);
    if (!m.run_cv.wait_for(lock, std::chrono::seconds(5), [&m] { return m.running == 0; })) {
      for (auto& ioc : m.iocs) ioc->stop();
    }
  }
  for (auto& t : m.threads) t.join();
  m.threads.clear();
}

uint16_t Server::port() const { return impl_->port; }

size_t Server::connections() const { return impl_->shared->connections.load(); }

}  // namespace certledger::api
