#include "tools/http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace certledger::tools {

using ledger::Result;
using ledger::Status;

Result<Url> ParseUrl(const std::string& url) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0)
    return Status::InvalidArgument("URL must start with http://: " + url);
  std::string rest = url.substr(prefix.size());
  Url u;
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u.base_path = rest.substr(slash);
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  size_t colon = hostport.rfind(':');
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("bad IPv6 host in " + url);
    u.host = hostport.substr(1, close - 1);
    colon = hostport.find(':', close);
  } else {
    u.host = hostport.substr(0, colon);
  }
  if (colon != std::string::npos) {
    const std::string port = hostport.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("bad port in " + url);
    }
    const unsigned long p = std::stoul(port);
    if (p == 0 || p > 65535) return Status::InvalidArgument("bad port in " + url);
    u.port = static_cast<uint16_t>(p);
  }
  if (u.host.empty()) return Status::InvalidArgument("no host in " + url);
  return u;
}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status HttpClient::Connect() {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url_.port);
  if (int rc = ::getaddrinfo(url_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status::IOError("resolve " + url_.host + ": " + gai_strerror(rc));
  }
  Status last = Status::IOError("no address for " + url_.host);
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, timeout_ms_) == 1 ? 0 : -1;
      int err = 0;
      socklen_t len = sizeof(err);
      if (rc == 0 && (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
        errno = err;
        rc = -1;
      }
    }
    if (rc == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      fd_ = fd;
      ::freeaddrinfo(res);
      return Status::Ok();
    }
    last = Status::IOError("connect " + url_.host + ":" + port + ": " + std::strerror(errno));
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return last;
}

Status HttpClient::SendAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms_) != 1) return Status::IOError("send timed out");
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return Status::IOError(std::string("send: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Result<HttpResponse> HttpClient::ReadResponse() {
  auto fill = [&]() -> Status {
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, timeout_ms_);
    if (rc == 0) return Status::IOError("timed out waiting for the response");
    if (rc < 0) return Status::IOError(std::string("poll: ") + std::strerror(errno));
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0) return Status::IOError("connection closed by the server");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return Status::Ok();
      return Status::IOError(std::string("recv: ") + std::strerror(errno));
    }
    buffer_.append(buf, static_cast<size_t>(n));
    return Status::Ok();
  };
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (buffer_.size() > (1 << 20)) return Status::IOError("response headers too large");
    if (Status st = fill(); !st.ok()) return st;
  }
  HttpResponse r;
  const std::string head = buffer_.substr(0, header_end);
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
    return Status::IOError("bad status line: " + status_line);
  }
  r.status = std::atoi(status_line.c_str() + 9);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = line.find_first_not_of(' ', colon + 1);
      r.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    pos = e + 2;
  }
  size_t length = 0;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    length = std::stoul(it->second);
  } else if (r.headers.count("transfer-encoding")) {
    return Status::IOError("chunked responses are not supported");
  }
  if (length > (256u << 20)) return Status::IOError("response body too large");
  buffer_.erase(0, header_end + 4);
  while (buffer_.size() < length) {
    if (Status st = fill(); !st.ok()) return st;
  }
  r.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  if (auto it = r.headers.find("connection"); it != r.headers.end() && it->second == "close")
    Close();
  return r;
}

Result<HttpResponse> HttpClient::Request(const std::string& method, const std::string& path,
                                         const std::string& body, const std::string& content_type) {
  std::string req = method + " " + url_.base_path + path + " HTTP/1.1\r\nHost: " + url_.host + ":" +
                    std::to_string(url_.port) + "\r\nConnection: keep-alive\r\n";
  if (method == "POST") {
    req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n";
  }
  req += "\r\n" + body;
  // One retry on a fresh connection: a kept-alive connection may have been closed by the server.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = fd_ >= 0;
    if (fd_ < 0) {
      if (Status st = Connect(); !st.ok()) return st;
    }
    Status st = SendAll(req);
    // A server may answer before it has read the whole request (a 413 for a body over its
    // limit) and close: the send then fails with EPIPE or ECONNRESET, and the answer is waiting.
    const bool answered_early =
        !st.ok() && (st.message().find(std::strerror(EPIPE)) != std::string::npos ||
                     st.message().find(std::strerror(ECONNRESET)) != std::string::npos);
    if (st.ok() || answered_early) {
      auto r = ReadResponse();
      if (r.ok()) return r;
      if (st.ok()) st = r.status();
    }
    Close();
    if (!reused) return st;
  }
  return Status::IOError("request failed");
}

Result<HttpResponse> HttpClient::Get(const std::string& path) {
  return Request("GET", path, "", "");
}

Result<HttpResponse> HttpClient::Post(const std::string& path, const std::string& body,
                                      const std::string& content_type) {
  return Request("POST", path, body, content_type);
}

Result<HttpResponse> HttpClient::Raw(const std::string& request) {
  Close();
  if (Status st = Connect(); !st.ok()) return st;
  if (Status st = SendAll(request); !st.ok()) return st;
  auto r = ReadResponse();
  Close();
  return r;
}

}  // namespace certledger::tools
