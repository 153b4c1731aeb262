// api::HttpClient (the tools' client) against api::Server over HTTPS, and against tiny raw
// servers for chunked responses and timeouts. Certificates are made at test time
// (tests/testing/tls_certs.h); everything listens on 127.0.0.1, ephemeral ports.
#include "api/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "api/handlers.h"
#include "api/server.h"
#include "tests/api/api_test_util.h"
#include "tests/testing/tls_certs.h"

namespace certledger::testing {
namespace {

using Clock = std::chrono::steady_clock;
using api::HttpClient;
using api::HttpClientOptions;

bool Contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

// Answers "METHOD TARGET BODY".
class EchoHandler : public api::Handler {
 public:
  void Handle(const api::Request& r, api::Reply reply) override {
    ++calls;
    reply(api::Response{200, "text/plain", r.method + " " + r.target + " " + r.body, {}});
  }
  std::atomic<int> calls{0};
};

// A CA, a server certificate for 127.0.0.1 and localhost, and the CA's certificate in a file.
class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ca_.ok());
    server_id_ = ca_.Issue("IP:127.0.0.1,DNS:localhost");
    ASSERT_FALSE(server_id_.certificate_pem.empty());
    ca_file_ = dir_.path() + "/ca.pem";
    ASSERT_TRUE(WriteTestFile(ca_file_, ca_.certificate_pem(), 0644));
  }

  api::ServerOptions Options(const TlsIdentity& id) const {
    api::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.header_timeout_ms = 1000;
    o.idle_timeout_ms = 5000;
    o.rate_limit_per_second = 0;
    o.tls_certificate_chain_pem = id.certificate_pem;
    o.tls_private_key_pem = id.private_key_pem;
    return o;
  }
  api::ServerOptions Options() const { return Options(server_id_); }

  static api::Url HttpsUrl(uint16_t port, const std::string& host = "127.0.0.1") {
    auto u = api::ParseUrl("https://" + host + ":" + std::to_string(port));
    EXPECT_TRUE(u.ok());
    return *u;
  }

  HttpClientOptions Trusting(int timeout_ms = 3000) const {
    return HttpClientOptions{timeout_ms, ca_file_};
  }

  TempDir dir_;
  TestCertificateAuthority ca_;
  TlsIdentity server_id_;
  std::string ca_file_;
  EchoHandler handler_;
};

TEST(ClientTest, ParsesHttpAndHttpsUrls) {
  auto a = api::ParseUrl("http://127.0.0.1:8080/base/");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->base_path, "/base");
  EXPECT_FALSE(a->tls);
  auto b = api::ParseUrl("http://example.org");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 80);
  auto c = api::ParseUrl("https://node.example.org/api");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->tls);
  EXPECT_EQ(c->port, 443);
  EXPECT_EQ(c->base_path, "/api");
  auto d = api::ParseUrl("https://[::1]:8443");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 8443);
  EXPECT_TRUE(d->tls);
  auto e = api::ParseUrl("ftp://x");
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), "http:// or https://"));
  EXPECT_FALSE(api::ParseUrl("https://x:0").ok());
  EXPECT_FALSE(api::ParseUrl("https://:80").ok());
}

TEST_F(TlsTest, HttpsRequestsShareOneKeptAliveConnection) {
  api::Server server(Options(), handler_);
  ASSERT_TRUE(server.Start().ok());
  HttpClient client(HttpsUrl(server.port()), Trusting());
  auto a = client.Get("/a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "GET /a ");
  EXPECT_EQ(a->headers["content-type"], "text/plain");
  auto b = client.Post("/b", "hello", "text/plain");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->body, "POST /b hello");
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_EQ(handler_.calls.load(), 2);

  // The certificate's DNS name works too (localhost may resolve to ::1 first; the server
  // listens on 127.0.0.1 only, so the client moves on to the next address).
  HttpClient by_name(HttpsUrl(server.port(), "localhost"), Trusting());
  auto c = by_name.Get("/c");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->body, "GET /c ");
}

TEST_F(TlsTest, AKeptAliveConnectionClosedByTheServerIsRetriedOnce) {
  api::ServerOptions o = Options();
  o.idle_timeout_ms = 100;
  api::Server server(o, handler_);
  ASSERT_TRUE(server.Start().ok());
  HttpClient client(HttpsUrl(server.port()), Trusting());
  ASSERT_TRUE(client.Get("/first").ok());
  // The server drops the idle connection; the next request notices and reconnects.
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (server.connections() != 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(server.connections(), 0u);
  auto r = client.Get("/second");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "GET /second ");
}

TEST_F(TlsTest, TheSystemTrustStoreDoesNotTrustTheTestCa) {
  api::Server server(Options(), handler_);
  ASSERT_TRUE(server.Start().ok());
  HttpClient client(HttpsUrl(server.port()), HttpClientOptions{3000, ""});
  auto r = client.Get("/a");
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_TRUE(Contains(m, "TLS handshake with 127.0.0.1:" + std::to_string(server.port()) +
                              " failed: certificate verify failed"))
      << m;
  EXPECT_EQ(handler_.calls.load(), 0);
}

TEST_F(TlsTest, ACertificateForAnotherNameIsRefused) {
  TlsIdentity other = ca_.Issue("DNS:other.example");
  ASSERT_FALSE(other.certificate_pem.empty());
  api::Server server(Options(other), handler_);
  ASSERT_TRUE(server.Start().ok());
  for (const char* host : {"127.0.0.1", "localhost"}) {
    HttpClient client(HttpsUrl(server.port(), host), Trusting());
    auto r = client.Get("/a");
    ASSERT_FALSE(r.ok()) << host;
    EXPECT_TRUE(Contains(r.status().message(), "certificate verify failed"))
        << r.status().message();
    EXPECT_TRUE(Contains(r.status().message(), "mismatch")) << r.status().message();
  }
  EXPECT_EQ(handler_.calls.load(), 0);
}

TEST_F(TlsTest, PlainHttpAndHttpsMixedUpFailFast) {
  api::Server tls_server(Options(), handler_);
  ASSERT_TRUE(tls_server.Start().ok());
  // Plain HTTP to the TLS port: an error, not a hang.
  auto start = Clock::now();
  HttpClient plain(*api::ParseUrl("http://127.0.0.1:" + std::to_string(tls_server.port())),
                   HttpClientOptions{5000, ""});
  auto r = plain.Get("/a");
  EXPECT_FALSE(r.ok());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));

  // https to a plain-HTTP server: the handshake fails.
  api::ServerOptions o = Options();
  o.tls_certificate_chain_pem.clear();
  o.tls_private_key_pem.clear();
  api::Server plain_server(o, handler_);
  ASSERT_TRUE(plain_server.Start().ok());
  start = Clock::now();
  HttpClient tls(HttpsUrl(plain_server.port()), Trusting(5000));
  auto t = tls.Get("/a");
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(Contains(t.status().message(), "TLS handshake with")) << t.status().message();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(handler_.calls.load(), 0);
}

TEST_F(TlsTest, PerAddressCapAnswers429AfterTheHandshake) {
  api::ServerOptions o = Options();
  o.max_connections_per_ip = 1;
  api::Server server(o, handler_);
  ASSERT_TRUE(server.Start().ok());
  HttpClient held(HttpsUrl(server.port()), Trusting());
  ASSERT_TRUE(held.Get("/held").ok());
  EXPECT_EQ(server.connections(), 1u);
  HttpClient over(HttpsUrl(server.port()), Trusting());
  auto r = over.Get("/over");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 429);
  EXPECT_TRUE(Contains(r->body, "too-many-connections")) << r->body;
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_EQ(handler_.calls.load(), 1);
  // The held connection still works.
  auto again = held.Get("/again");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
}

TEST_F(TlsTest, AnOversizeBodyIsAnswered413) {
  api::ServerOptions o = Options();
  o.max_body_bytes = 1024;
  api::Server server(o, handler_);
  ASSERT_TRUE(server.Start().ok());
  HttpClient client(HttpsUrl(server.port()), Trusting());
  auto r = client.Post("/tx", std::string(2 << 20, ' '));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(handler_.calls.load(), 0);
}

TEST_F(TlsTest, TheServerRefusesBadTlsMaterial) {
  api::ServerOptions o = Options();
  o.tls_private_key_pem.clear();
  EXPECT_FALSE(o.Validate().ok());  // one without the other

  o = Options();
  o.tls_certificate_chain_pem =
      "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  api::Server garbage(o, handler_);
  auto st = garbage.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "certificate chain")) << st.message();

  o = Options();
  o.tls_private_key_pem = ca_.Issue("DNS:localhost").private_key_pem;  // another key
  api::Server mismatch(o, handler_);
  st = mismatch.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "does not match")) << st.message();

  o = Options();
  o.tls_private_key_pem = "garbage";
  api::Server bad_key(o, handler_);
  st = bad_key.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "private key")) << st.message();
}

// ---- raw servers: what api::Server never sends ----------------------------------------------

// Listens on 127.0.0.1 (ephemeral port). With `serve`, a thread accepts one connection (within
// 5 s) and runs serve(fd) on it; without, connections stay in the backlog, never answered.
class RawServer {
 public:
  explicit RawServer(std::function<void(int)> serve = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    if (!serve) return;
    thread_ = std::thread([this, serve = std::move(serve)] {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) return;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      timeval tv{3, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      serve(conn);
      ::close(conn);
    });
  }
  ~RawServer() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  [[nodiscard]] uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Reads one request header (the client's requests here have no body).
bool ReadRequestHeader(int fd, std::string* buffered) {
  size_t end;
  while ((end = buffered->find("\r\n\r\n")) == std::string::npos) {
    char tmp[4096];
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buffered->append(tmp, static_cast<size_t>(n));
  }
  buffered->erase(0, end + 4);
  return true;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

TEST(ClientTest, ReadsChunkedResponsesAndKeepsTheConnection) {
  std::atomic<int> requests{0};
  RawServer raw([&](int fd) {
    std::string buf;
    // 1: chunked, written in pieces (a chunk extension, a trailer).
    if (!ReadRequestHeader(fd, &buf)) return;
    ++requests;
    const std::string pieces[] = {
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
        "5;ext=1\r\nhel", "lo\r\n", "7\r\n, world\r\n", "0\r\nX-Trailer: t\r\n\r\n"};
    for (const auto& p : pieces) {
      if (!SendAll(fd, p)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // 2: Content-Length, on the same connection.
    if (!ReadRequestHeader(fd, &buf)) return;
    ++requests;
    if (!SendAll(fd, "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nend")) return;
    // 3: a body delimited by the end of the connection.
    if (!ReadRequestHeader(fd, &buf)) return;
    ++requests;
    (void)SendAll(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
  });
  HttpClient client(*api::ParseUrl("http://127.0.0.1:" + std::to_string(raw.port())), 3000);
  auto a = client.Get("/chunked");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "hello, world");
  EXPECT_EQ(a->headers["transfer-encoding"], "chunked");
  auto b = client.Get("/length");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->status, 201);
  EXPECT_EQ(b->body, "end");
  auto c = client.Get("/eof");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->body, "until the end");
  EXPECT_EQ(requests.load(), 3);  // one connection: the raw server accepts only one
}

TEST(ClientTest, EveryOperationIsBoundedByTheTimeout) {
  RawServer silent;  // connections complete in the backlog and are never answered
  ASSERT_NE(silent.port(), 0);
  auto start = Clock::now();
  HttpClient plain(*api::ParseUrl("http://127.0.0.1:" + std::to_string(silent.port())), 300);
  auto r = plain.Get("/x");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "timed out")) << r.status().message();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));

  start = Clock::now();
  HttpClient tls(*api::ParseUrl("https://127.0.0.1:" + std::to_string(silent.port())),
                 HttpClientOptions{300, ""});
  auto t = tls.Get("/x");
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(Contains(t.status().message(), "TLS handshake with")) << t.status().message();
  EXPECT_TRUE(Contains(t.status().message(), "timed out")) << t.status().message();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST(ClientTest, AnUnreadableCaFileIsNamed) {
  HttpClient client(*api::ParseUrl("https://127.0.0.1:1"),
                    HttpClientOptions{1000, "/nonexistent/ca.pem"});
  auto r = client.Get("/");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "/nonexistent/ca.pem")) << r.status().message();
}

}  // namespace
}  // namespace certledger::testing
