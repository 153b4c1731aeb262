#include "api/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "api/handlers.h"
#include "tests/api/api_test_util.h"

namespace certledger::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct HttpResponse {
  int status = 0;
  std::string headers;  // raw header block, lower-cased
  std::string body;
};

// A blocking loopback client with bounded waits (every read gives up after `timeout_ms`).
class Client {
 public:
  explicit Client(uint16_t port, int timeout_ms = 3000) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  bool Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // One response; nullopt on EOF, error or timeout.
  std::optional<HttpResponse> Read() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    HttpResponse r;
    r.headers = buf_.substr(0, end + 2);
    for (char& c : r.headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (r.headers.size() < 12) return std::nullopt;
    r.status = std::stoi(r.headers.substr(9, 3));
    size_t length = 0;
    auto pos = r.headers.find("content-length:");
    if (pos != std::string::npos) length = std::stoul(r.headers.substr(pos + 15));
    buf_.erase(0, end + 4);
    while (buf_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True if the server closed the connection (EOF) within the socket timeout.
  bool WaitClosed() {
    char c;
    for (;;) {
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  bool Fill() {
    char tmp[4096];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string Get(const std::string& target, bool close = false) {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + (close ? "Connection: close\r\n" : "") +
         "\r\n";
}

// Echoes the request; "/slow" replies from another thread after 100 ms; "/never" keeps the
// reply until the test releases it.
class FakeHandler : public api::Handler {
 public:
  ~FakeHandler() override {
    for (auto& t : threads_) t.join();
  }
  void Handle(const api::Request& r, api::Reply reply) override {
    ++calls;
    api::Response resp;
    resp.content_type = "text/plain";
    resp.body = r.method + " " + r.target + " " + r.body + " from " + r.client;
    if (r.target == "/slow") {
      std::lock_guard lock(mu_);
      threads_.emplace_back([reply, resp] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        reply(resp);
      });
      return;
    }
    if (r.target == "/never") {
      std::lock_guard lock(mu_);
      parked_ = reply;
      return;
    }
    reply(std::move(resp));
  }
  void OnConnectionsChanged(size_t open) override { connections = open; }
  void OnServerResponse(int status) override { last_server_status = status; }

  // Replies to the parked request (possibly after the server stopped).
  void Release() {
    api::Reply r;
    {
      std::lock_guard lock(mu_);
      r = std::move(parked_);
    }
    if (r) r(api::Response{200, "text/plain", "late", {}});
  }

  std::atomic<int> calls{0};
  std::atomic<size_t> connections{0};
  std::atomic<int> last_server_status{0};

 private:
  std::mutex mu_;
  api::Reply parked_;
  std::vector<std::thread> threads_;
};

api::ServerOptions TestOptions() {
  api::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 2;
  o.max_body_bytes = 1024;
  o.header_timeout_ms = 400;
  o.read_timeout_ms = 1000;
  o.idle_timeout_ms = 2000;
  o.rate_limit_per_second = 0;
  return o;
}

TEST(ServerTest, OptionsValidate) {
  EXPECT_TRUE(api::ServerOptions{}.Validate().ok());
  api::ServerOptions o;
  o.threads = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.max_body_bytes = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.header_timeout_ms = 0;
  EXPECT_FALSE(o.Validate().ok());
  FakeHandler h;
  o = {};
  o.host = "not-an-address";
  api::Server s(o, h);
  EXPECT_FALSE(s.Start().ok());
}

TEST(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  FakeHandler h;
  api::Server server(TestOptions(), h);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send(Get("/r" + std::to_string(i))));
    auto r = c.Read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "GET /r" + std::to_string(i) + "  from 127.0.0.1");
  }
  // A POST body, then an asynchronous reply, on the same connection.
  ASSERT_TRUE(c.Send("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  auto p = c.Read();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->body, "POST /p hello from 127.0.0.1");
  ASSERT_TRUE(c.Send(Get("/slow")));
  auto s = c.Read();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 200);
  EXPECT_EQ(h.calls.load(), 7);
  EXPECT_EQ(h.connections.load(), 1u);
  // Connection: close is honoured.
  ASSERT_TRUE(c.Send(Get("/last", true)));
  ASSERT_TRUE(c.Read());
  EXPECT_TRUE(c.WaitClosed());
  server.Stop();
}

TEST(ServerTest, PipelinedRequestsAnswerInOrder) {
  FakeHandler h;
  api::Server server(TestOptions(), h);
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  ASSERT_TRUE(c.Send(Get("/slow") + Get("/b") + Get("/c")));
  for (const char* t : {"/slow", "/b", "/c"}) {
    auto r = c.Read();
    ASSERT_TRUE(r) << t;
    EXPECT_EQ(r->body, std::string("GET ") + t + "  from 127.0.0.1");
  }
}

TEST(ServerTest, OversizeBodyIs413BeforeReadingIt) {
  FakeHandler h;
  api::Server server(TestOptions(), h);
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  // Declares 10 MB and sends none of it: the answer must come anyway.
  ASSERT_TRUE(c.Send("POST /tx HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("\"body-too-large\""), std::string::npos);
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_EQ(h.calls.load(), 0);
  EXPECT_EQ(h.last_server_status.load(), 413);

  // Chunked bodies are bounded too.
  Client c2(server.port());
  std::string chunk(2000, 'x');
  ASSERT_TRUE(c2.Send("POST /tx HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" +
                      chunk + "\r\n0\r\n\r\n"));
  auto r2 = c2.Read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 413);
}

TEST(ServerTest, ExpectContinue) {
  FakeHandler h;
  api::Server server(TestOptions(), h);
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  ASSERT_TRUE(
      c.Send("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  auto cont = c.Read();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c.Send("abc"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /p abc from 127.0.0.1");
}

TEST(ServerTest, SlowHeaderIsCutOffAtTheHeaderTimeout) {
  FakeHandler h;
  api::Server server(TestOptions(), h);  // header timeout 400 ms
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port(), 5000);
  const auto start = Clock::now();
  // Slowloris: a byte every 50 ms, never finishing the header.
  std::atomic<bool> done{false};
  std::thread drip([&] {
    std::string line = "GET /x HTTP/1.1\r\nX-Slow: ";
    for (int i = 0; i < 60 && !done; ++i) {
      if (!c.Send(std::string(1, line[static_cast<size_t>(i) % line.size()]))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  EXPECT_TRUE(c.WaitClosed());
  done = true;
  drip.join();
  const auto elapsed = Clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  EXPECT_EQ(h.calls.load(), 0);

  // A connection that sends nothing is closed by the same deadline.
  Client idle(server.port(), 5000);
  const auto start2 = Clock::now();
  EXPECT_TRUE(idle.WaitClosed());
  EXPECT_LT(Clock::now() - start2, std::chrono::milliseconds(1500));
}

TEST(ServerTest, MaxConnections) {
  FakeHandler h;
  api::ServerOptions o = TestOptions();
  o.max_connections = 2;
  o.header_timeout_ms = 3000;
  o.idle_timeout_ms = 3000;
  api::Server server(o, h);
  ASSERT_TRUE(server.Start().ok());
  Client a(server.port()), b(server.port());
  ASSERT_TRUE(a.Send(Get("/a")));
  ASSERT_TRUE(a.Read());
  ASSERT_TRUE(b.Send(Get("/b")));
  ASSERT_TRUE(b.Read());
  EXPECT_EQ(server.connections(), 2u);
  Client c(server.port());
  auto r = c.Read();  // answered without a request
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(c.WaitClosed());
  // The kept-alive connections still work.
  ASSERT_TRUE(a.Send(Get("/a2")));
  EXPECT_TRUE(a.Read());
}

TEST(ServerTest, RateLimitPerClient) {
  FakeHandler h;
  api::ServerOptions o = TestOptions();
  o.rate_limit_per_second = 1;
  o.rate_limit_burst = 3;
  api::Server server(o, h);
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send(Get("/r")));
    auto r = c.Read();
    ASSERT_TRUE(r);
    statuses.push_back(r->status);
    if (r->status == 429) {
      EXPECT_NE(r->headers.find("retry-after: 1"), std::string::npos);
      EXPECT_NE(r->body.find("\"rate-limited\""), std::string::npos);
    }
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 429, 429}));
  EXPECT_EQ(h.calls.load(), 3);
}

TEST(ServerTest, StopClosesConnectionsAndDropsLateReplies) {
  FakeHandler h;
  auto server = std::make_unique<api::Server>(TestOptions(), h);
  ASSERT_TRUE(server->Start().ok());
  Client idle(server->port());
  ASSERT_TRUE(idle.Send(Get("/a")));
  ASSERT_TRUE(idle.Read());
  Client waiting(server->port());
  ASSERT_TRUE(waiting.Send(Get("/never")));
  for (int i = 0; i < 100 && h.calls.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(h.calls.load(), 2);
  const auto start = Clock::now();
  server->Stop();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  EXPECT_TRUE(idle.WaitClosed());
  EXPECT_TRUE(waiting.WaitClosed());
  h.Release();  // after Stop: dropped
  server.reset();
  h.Release();
  EXPECT_EQ(h.connections.load(), 0u);
}

TEST(ServerTest, ServesTheRealApi) {
  TestLedger ledger;
  FakeNode node(ledger.store.get());
  api::Api api(&node, api::ApiOptions{});
  api::ServerOptions o = TestOptions();
  api::Server server(o, api);
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  ASSERT_TRUE(c.Send(Get("/v1/status")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->headers.find("content-type: application/json"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(r->body)["height"], 3);
  ASSERT_TRUE(c.Send(Get("/v/" + ledger.a3.Hex())));
  auto page = c.Read();
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("id=\"status\""), std::string::npos);
  ASSERT_TRUE(c.Send("DELETE /v1/status HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto m = c.Read();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 405);
  EXPECT_NE(m->headers.find("allow: get"), std::string::npos);
  ASSERT_TRUE(c.Send(Get("/metrics")));
  auto metrics = c.Read();
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("certledger_http_open_connections 1"), std::string::npos);
  server.Stop();
}

}  // namespace
}  // namespace certledger::testing
