// The only file of ours that includes Boost.Asio (keeps rebuilds cheap on two cores).
//
// Lifetime: Transport owns a shared_ptr<Impl>; the listener and per-peer timer handlers hold a
// shared_ptr<Impl> too, so a handler that runs after ~Transport still finds live memory, sees
// stopped_ and returns. Each Connection is held by the handlers of its own pending operations
// and points back at the Impl with a raw pointer that Stop() nulls (Impl::Detach), so no
// connection handler reaches the Impl, nor the Handler, after Stop().
#include "network/transport.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "ledger/coding.h"
#include "network/channel.h"
#include "network/wire.h"

namespace certledger::network {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
using ledger::Bytes;
using ledger::ByteSpan;
using ledger::PublicKey;
using ledger::Status;

namespace {

constexpr size_t kReadChunkBytes = 64 * 1024;
constexpr size_t kMaxFramesPerWrite = 64;
// How long a connection we close with a CLOSE notice may take to flush it.
constexpr std::chrono::milliseconds kLinger{1000};

std::string ShortKey(const PublicKey& key) { return key.Hex().substr(0, 16); }

std::chrono::milliseconds Ms(uint32_t ms) { return std::chrono::milliseconds(ms); }

}  // namespace

ledger::Status TransportOptions::Validate() const {
  auto bad = [](const std::string& field, const std::string& why) {
    return Status::InvalidArgument(field + ": " + why);
  };
  if (chain_id.empty() || chain_id.size() > wire::kMaxChainIdBytes) {
    return bad("chain_id", "must be 1..64 bytes");
  }
  error_code ec;
  asio::ip::make_address(listen_host, ec);
  if (ec) return bad("listen_host", "not an IP address: '" + listen_host + "'");
  std::set<PublicKey> keys;
  for (size_t i = 0; i < peers.size(); ++i) {
    const PeerConfig& p = peers[i];
    const std::string field = "peers[" + std::to_string(i) + "]";
    if (!ledger::PublicKey::Parse(p.key.span())) return bad(field + ".key", "not a valid key");
    if (!keys.insert(p.key).second) return bad(field + ".key", "duplicate key");
    if (p.address) {
      if (p.address->host.empty()) return bad(field + ".address.host", "empty");
      if (p.address->port == 0) return bad(field + ".address.port", "must not be 0");
    }
  }
  if (max_frame_bytes < wire::kMaxHandshakeFrameBytes || max_frame_bytes > (1u << 30)) {
    return bad("max_frame_bytes", "must be 256..2^30");
  }
  if (handshake_timeout_ms == 0) return bad("handshake_timeout_ms", "must be > 0");
  if (ping_interval_ms == 0) return bad("ping_interval_ms", "must be > 0");
  if (idle_timeout_ms <= ping_interval_ms) {
    return bad("idle_timeout_ms", "must be greater than ping_interval_ms");
  }
  if (reconnect_initial_ms == 0) return bad("reconnect_initial_ms", "must be > 0");
  if (reconnect_max_ms < reconnect_initial_ms) {
    return bad("reconnect_max_ms", "must be >= reconnect_initial_ms");
  }
  if (max_send_queue_bytes < size_t{max_frame_bytes} + wire::kHeaderBytes + wire::kSealTagBytes) {
    return bad("max_send_queue_bytes", "must hold at least one frame of max_frame_bytes");
  }
  if (max_pending_handshakes == 0) return bad("max_pending_handshakes", "must be > 0");
  if (max_pending_handshakes_per_ip == 0) {
    return bad("max_pending_handshakes_per_ip", "must be > 0");
  }
  if (inbound_handshake_timeout_ms == 0) return bad("inbound_handshake_timeout_ms", "must be > 0");
  return Status::Ok();
}

namespace {

// A frame queued for writing: a plain frame (HELLO, AUTH, CLOSE during the handshake) is its
// header and payload; a sealed frame is one buffer holding the whole wire frame (header_len 0).
struct OutFrame {
  std::array<uint8_t, wire::kHeaderBytes> header;
  size_t header_len;
  std::shared_ptr<const Bytes> payload;  // plain: shared between the peers of one Broadcast
  [[nodiscard]] size_t wire_size() const { return header_len + payload->size(); }
};

}  // namespace

class Transport::Impl : public std::enable_shared_from_this<Transport::Impl> {
 public:
  // One TCP connection, inbound or outbound, from connect to close. Plain data plus Asio objects;
  // the protocol logic lives in Impl. All access is on the io thread.
  class Connection : public std::enable_shared_from_this<Connection> {
   public:
    enum class State { kConnecting, kHandshake, kOpen, kClosing, kClosed };

    Connection(Impl* owner, asio::io_context& io, uint64_t number, bool dialled)
        : impl(owner),
          socket(io),
          handshake_timer(io),
          ping_timer(io),
          id(number),
          outbound(dialled) {}

    Impl* impl;  // null once detached by Stop(): handlers then do nothing
    tcp::socket socket;
    asio::steady_timer handshake_timer;  // connect + handshake deadline, then linger on close
    asio::steady_timer ping_timer;
    const uint64_t id;  // creation order; larger is newer
    const bool outbound;
    State state = State::kConnecting;
    std::string remote;     // "ip:port" for logs
    std::string remote_ip;  // inbound: the peer's IP address (per-address handshake limit)

    // Handshake.
    std::optional<PublicKey> expected_key;           // outbound: the key we dialled
    std::optional<PublicKey> peer_key;               // set once the peer's HELLO is accepted
    std::optional<channel::EphemeralKey> ephemeral;  // ours, for this connection only
    ledger::Hash256 transcript;                      // set with peer_key
    // Sealing: tx_cipher is set once our AUTH is queued (every later frame we send is sealed);
    // rx_cipher once the peer's AUTH verifies (every later frame it sends must open).
    std::optional<channel::FrameCipher> tx_cipher;
    std::optional<channel::FrameCipher> rx_cipher;
    channel::AeadKey rx_key;  // the peer's direction key until its AUTH verifies
    Bytes plain;              // the last opened frame's payload (reused buffer)
    bool doomed = false;      // a close is already scheduled (slow consumer); drop further sends

    // Receive side: rx[rx_pos, rx.size()) is not yet parsed. Bounded by one frame plus one chunk.
    std::array<uint8_t, kReadChunkBytes> chunk;
    Bytes rx;
    size_t rx_pos = 0;
    Clock::time_point last_rx = Clock::now();
    uint64_t ping_counter = 0;

    // Send side.
    std::deque<OutFrame> tx;
    size_t tx_bytes = 0;
    size_t tx_in_flight = 0;  // frames at the front of tx being written now
    std::vector<asio::const_buffer> tx_buffers;
  };

  Impl(asio::io_context& io, TransportOptions options, Handler* handler)
      : io_(io),
        options_(std::move(options)),
        own_key_(options_.node_key.public_key()),
        handler_(handler),
        acceptor_(io) {
    std::array<uint8_t, 8> seed{};
    ledger::RandomBytes(seed);
    rng_.seed(ledger::DecodeFixed64BE(seed.data()));
    for (const PeerConfig& p : options_.peers) {
      if (p.key == own_key_) continue;
      Peer& peer = peers_[p.key];
      peer.config = p;
      peer.backoff_ms = options_.reconnect_initial_ms;
      peer.timer = std::make_unique<asio::steady_timer>(io_);
    }
  }

  Status Start() {
    try {
      error_code ec;
      const auto address = asio::ip::make_address(options_.listen_host, ec);
      if (ec) return Status::InvalidArgument("listen_host: " + ec.message());
      const tcp::endpoint endpoint(address, options_.listen_port);
      const std::string where = options_.listen_host + ":" + std::to_string(options_.listen_port);
      if (acceptor_.open(endpoint.protocol(), ec); ec) {
        return Status::IOError("listen " + where + ": " + ec.message());
      }
      // Lets a restarted node rebind its port while old connections sit in TIME_WAIT. Linux
      // still refuses to bind a port that another socket is listening on.
      if (acceptor_.set_option(tcp::acceptor::reuse_address(true), ec); ec) {
        return Status::IOError("listen " + where + ": " + ec.message());
      }
      if (acceptor_.bind(endpoint, ec); ec) {
        acceptor_.close(ec);
        return Status::IOError("bind " + where + ": " + ec.message());
      }
      if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
        acceptor_.close(ec);
        return Status::IOError("listen " + where + ": " + ec.message());
      }
      listen_port_ = acceptor_.local_endpoint(ec).port();
      Log(LogLevel::kInfo, "listening on " + options_.listen_host + ":" +
                               std::to_string(listen_port_) + " for " +
                               std::to_string(peers_.size()) + " peers");
      DoAccept();
      // Dial from the io thread once it runs, not from inside Start(): the caller may start
      // several transports first (tests, a node with an observer), and all then listen before
      // any dials.
      asio::post(io_, [self = shared_from_this()] {
        if (self->stopped_) return;
        for (auto& [key, peer] : self->peers_) {
          if (peer.config.address && !peer.active && !peer.dialing) self->Dial(peer);
        }
      });
      return Status::Ok();
    } catch (const std::exception& e) {  // bad_alloc and the like: the edge turns them into values
      return Status::IOError(std::string("transport start: ") + e.what());
    }
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    error_code ec;
    acceptor_.close(ec);
    accept_retry_timer_.reset();
    for (auto& [key, peer] : peers_) {
      peer.timer->cancel();
      peer.active.reset();
      peer.dialing.reset();
    }
    for (auto& [id, c] : connections_) {
      c->impl = nullptr;
      c->handshake_timer.cancel();
      c->ping_timer.cancel();
      c->socket.close(ec);
      c->state = Connection::State::kClosed;
    }
    connections_.clear();
  }

  uint16_t listen_port() const { return listen_port_; }

  void Send(const PublicKey& key, uint8_t type, Bytes payload) {
    if (!CheckAppType(type)) return;
    if (stopped_) return;
    auto it = peers_.find(key);
    if (it == peers_.end() || !it->second.active) {
      ++stats_.sends_not_connected;
      return;
    }
    Enqueue(it->second.active, type, std::make_shared<const Bytes>(std::move(payload)));
  }

  void Broadcast(uint8_t type, const Bytes& payload) {
    if (!CheckAppType(type)) return;
    if (stopped_) return;
    auto shared = std::make_shared<const Bytes>(payload);
    for (auto& [key, peer] : peers_) {
      if (peer.active) Enqueue(peer.active, type, shared);
    }
  }

  void Disconnect(const PublicKey& key, const std::string& reason, uint32_t ban_ms) {
    if (stopped_) return;
    auto it = peers_.find(key);
    if (it == peers_.end()) return;
    Peer& peer = it->second;
    ++stats_.bans;
    peer.banned_until = std::max(peer.banned_until, Clock::now() + Ms(ban_ms));
    std::vector<std::shared_ptr<Connection>> doomed;
    for (const auto& [id, c] : connections_) {
      if (!IsClosing(*c) && (c->peer_key == key || c->expected_key == key)) {
        doomed.push_back(c);
      }
    }
    for (auto& c : doomed) {
      asio::post(io_, [c, why = "disconnected: " + reason] {
        if (c->impl != nullptr) c->impl->Close(c, why, true);
      });
    }
  }

  std::vector<PublicKey> ConnectedPeers() const {
    std::vector<PublicKey> out;
    for (const auto& [key, peer] : peers_) {
      if (peer.active) out.push_back(key);
    }
    return out;
  }

  Stats stats() const {
    Stats s = stats_;
    s.open_connections = connections_.size();
    return s;
  }

  // ---- Called from Connection handlers (impl non-null means not stopped). ----

  void OnRead(const std::shared_ptr<Connection>& c, const error_code& ec, size_t n) {
    if (IsClosing(*c)) return;
    if (ec) {
      const bool eof = ec == asio::error::eof || ec == asio::error::connection_reset;
      Close(c, eof ? "connection closed by peer" : "read error: " + ec.message(), false);
      return;
    }
    stats_.bytes_in += n;
    c->last_rx = Clock::now();
    c->rx.insert(c->rx.end(), c->chunk.begin(), c->chunk.begin() + static_cast<std::ptrdiff_t>(n));
    while (c->rx.size() - c->rx_pos >= wire::kLengthBytes) {
      const uint32_t len = wire::DecodeLength(c->rx.data() + c->rx_pos);
      const bool sealed = c->rx_cipher.has_value();
      const uint32_t limit = sealed ? options_.max_frame_bytes + uint32_t{wire::kSealTagBytes}
                                    : wire::kMaxHandshakeFrameBytes;
      const uint32_t minimum = sealed ? 1 + uint32_t{wire::kSealTagBytes} : 1;
      if (len < minimum || len > limit) {
        ProtocolError(c, len < minimum ? "frame of " + std::to_string(len) + " bytes is too short"
                                       : "frame of " + std::to_string(len) +
                                             " bytes exceeds limit " + std::to_string(limit));
        return;
      }
      if (c->rx.size() - c->rx_pos < wire::kLengthBytes + len) break;
      const uint8_t* frame = c->rx.data() + c->rx_pos + wire::kLengthBytes;
      c->rx_pos += wire::kLengthBytes + len;
      ++stats_.frames_in;
      if (sealed) {
        uint8_t type = 0;
        if (!c->rx_cipher->Open(len, ByteSpan(frame, len), &type, &c->plain)) {
          ++stats_.unauthentic_frames;
          ProtocolError(
              c, "frame " + std::to_string(c->rx_cipher->counter()) + " failed authentication");
          return;
        }
        HandleFrame(c, type, c->plain);
      } else {
        HandleFrame(c, frame[0], ByteSpan(frame + 1, len - 1));
      }
      if (c->impl == nullptr || IsClosing(*c)) return;  // closed, or Stop() from a callback
    }
    if (c->rx_pos == c->rx.size()) {
      c->rx.clear();
      c->rx_pos = 0;
    } else if (c->rx_pos >= kReadChunkBytes) {
      c->rx.erase(c->rx.begin(), c->rx.begin() + static_cast<std::ptrdiff_t>(c->rx_pos));
      c->rx_pos = 0;
    }
    StartRead(c);
  }

  void OnWritten(const std::shared_ptr<Connection>& c, const error_code& ec, size_t n) {
    if (c->state == Connection::State::kClosed) return;
    if (ec) {
      if (c->state == Connection::State::kClosing) {
        Shutdown(c);
      } else {
        Close(c, "write error: " + ec.message(), false);
      }
      return;
    }
    stats_.bytes_out += n;
    stats_.frames_out += c->tx_in_flight;
    for (; c->tx_in_flight > 0; --c->tx_in_flight) {
      c->tx_bytes -= c->tx.front().wire_size();
      c->tx.pop_front();
    }
    if (!c->tx.empty()) {
      DoWrite(c);
    } else if (c->state == Connection::State::kClosing) {
      Shutdown(c);
    }
  }

  void OnConnected(const std::shared_ptr<Connection>& c, const error_code& ec,
                   const tcp::endpoint& endpoint) {
    if (c->state != Connection::State::kConnecting) return;
    if (ec) {
      ++stats_.dial_failures;
      Close(c, "connect failed: " + ec.message(), false);
      return;
    }
    c->remote = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    StartHandshake(c);
  }

  void OnHandshakeTimer(const std::shared_ptr<Connection>& c, const error_code& ec) {
    if (ec) return;  // cancelled
    if (c->state == Connection::State::kClosing) {
      Shutdown(c);  // the CLOSE notice did not flush in time
    } else if (c->state == Connection::State::kConnecting ||
               c->state == Connection::State::kHandshake) {
      ++stats_.handshake_failures.timeout;
      Close(c, "handshake timeout", true);
    }
  }

  void OnPingTimer(const std::shared_ptr<Connection>& c, const error_code& ec) {
    if (ec || c->state != Connection::State::kOpen) return;
    if (Clock::now() - c->last_rx >= Ms(options_.idle_timeout_ms)) {
      ++stats_.idle_timeouts;
      Close(c, "idle timeout", true);
      return;
    }
    static_assert(wire::kPingPayloadBytes == 8, "a ping carries the u64 counter");
    Bytes payload;
    ledger::PutFixed64(&payload, ++c->ping_counter);
    Enqueue(c, wire::kTypePing, std::make_shared<const Bytes>(std::move(payload)));
    ArmPingTimer(c);
  }

 private:
  // Per configured peer. `active` is the one connection Send/Broadcast use; `dialing` is our
  // outbound attempt still in connect or handshake.
  struct Peer {
    PeerConfig config;
    std::shared_ptr<Connection> active;
    std::shared_ptr<Connection> dialing;
    std::unique_ptr<asio::steady_timer> timer;  // reconnect backoff
    bool reconnect_pending = false;
    bool reported_up = false;  // the Handler was told OnPeerConnected and not yet Disconnected
    uint32_t backoff_ms = 0;
    Clock::time_point banned_until{};  // Disconnect(): refused and not dialled before this
  };

  bool IsBanned(const Peer& peer) const { return Clock::now() < peer.banned_until; }

  static bool IsClosing(const Connection& c) {
    return c.state == Connection::State::kClosing || c.state == Connection::State::kClosed;
  }

  void Log(LogLevel level, const std::string& message) const {
    if (options_.log) options_.log(level, message);
  }

  std::string Describe(const Connection& c) const {
    std::string who = c.outbound ? "outbound " : "inbound ";
    if (c.peer_key || c.expected_key) {
      const PublicKey& key = c.peer_key ? *c.peer_key : *c.expected_key;
      auto it = peers_.find(key);
      if (it != peers_.end() && !it->second.config.name.empty()) {
        who += it->second.config.name + " ";
      }
      who += "(" + ShortKey(key) + ") ";
    }
    return who + (c.remote.empty() ? "?" : c.remote);
  }

  bool CheckAppType(uint8_t type) {
    if (type >= wire::kFirstAppType) return true;
    ++stats_.sends_reserved_type;
    Log(LogLevel::kError, "dropped a send with reserved frame type " + std::to_string(type));
    return false;
  }

  void DoAccept() {
    acceptor_.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
      if (self->stopped_) return;
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // E.g. out of file descriptors: back off briefly instead of spinning.
        self->Log(LogLevel::kWarning, "accept failed: " + ec.message());
        self->accept_retry_timer_ = std::make_unique<asio::steady_timer>(self->io_, kLinger / 10);
        self->accept_retry_timer_->async_wait([self](const error_code& e) {
          if (!e && !self->stopped_) self->DoAccept();
        });
        return;
      }
      self->OnAccepted(std::move(socket));
      self->DoAccept();
    });
  }

  void OnAccepted(tcp::socket socket) {
    ++stats_.accepted;
    error_code ec;
    const tcp::endpoint remote = socket.remote_endpoint(ec);
    const std::string where =
        ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
    const std::string ip = ec ? "?" : remote.address().to_string();
    size_t pending = 0, pending_ip = 0;
    for (const auto& [id, c] : connections_) {
      if (!c->outbound && c->state == Connection::State::kHandshake) {
        ++pending;
        if (c->remote_ip == ip) ++pending_ip;
      }
    }
    if (pending >= options_.max_pending_handshakes ||
        pending_ip >= options_.max_pending_handshakes_per_ip) {
      ++stats_.handshake_failures.over_limit;
      Log(LogLevel::kWarning,
          "refused inbound " + where + ": too many pending handshakes" +
              (pending_ip >= options_.max_pending_handshakes_per_ip ? " from this address" : ""));
      socket.close(ec);
      return;
    }
    auto c = std::make_shared<Connection>(this, io_, next_id_++, false);
    c->socket = std::move(socket);
    c->remote = where;
    c->remote_ip = ip;
    connections_[c->id] = c;
    ArmHandshakeTimer(c);
    StartHandshake(c);
  }

  void Dial(Peer& peer) {
    const PeerAddress& address = *peer.config.address;
    auto c = std::make_shared<Connection>(this, io_, next_id_++, true);
    c->expected_key = peer.config.key;
    c->remote = address.host + ":" + std::to_string(address.port);
    peer.dialing = c;
    connections_[c->id] = c;
    ++stats_.dials;
    ArmHandshakeTimer(c);
    error_code ec;
    const auto ip = asio::ip::make_address(address.host, ec);
    if (!ec) {
      std::array<tcp::endpoint, 1> endpoints = {tcp::endpoint(ip, address.port)};
      ConnectTo(c, endpoints);
      return;
    }
    // A host name: resolve (Asio runs getaddrinfo on its own internal thread).
    auto resolver = std::make_shared<tcp::resolver>(io_);
    resolver->async_resolve(
        address.host, std::to_string(address.port),
        [c, resolver](const error_code& e, const tcp::resolver::results_type& results) {
          Impl* impl = c->impl;
          if (impl == nullptr || c->state != Connection::State::kConnecting) return;
          if (e) {
            ++impl->stats_.dial_failures;
            impl->Close(c, "resolve failed: " + e.message(), false);
            return;
          }
          impl->ConnectTo(c, results);
        });
  }

  template <typename Endpoints>
  void ConnectTo(const std::shared_ptr<Connection>& c, const Endpoints& endpoints) {
    asio::async_connect(c->socket, endpoints,
                        [c](const error_code& ec, const tcp::endpoint& endpoint) {
                          if (c->impl != nullptr) c->impl->OnConnected(c, ec, endpoint);
                        });
  }

  void ArmHandshakeTimer(const std::shared_ptr<Connection>& c) {
    c->handshake_timer.expires_after(
        Ms(c->outbound ? options_.handshake_timeout_ms : options_.inbound_handshake_timeout_ms));
    c->handshake_timer.async_wait([c](const error_code& ec) {
      if (c->impl != nullptr) c->impl->OnHandshakeTimer(c, ec);
    });
  }

  void ArmPingTimer(const std::shared_ptr<Connection>& c) {
    c->ping_timer.expires_after(Ms(options_.ping_interval_ms));
    c->ping_timer.async_wait([c](const error_code& ec) {
      if (c->impl != nullptr) c->impl->OnPingTimer(c, ec);
    });
  }

  void StartHandshake(const std::shared_ptr<Connection>& c) {
    error_code ec;
    c->socket.set_option(tcp::no_delay(true), ec);  // small consensus messages: no Nagle delay
    c->state = Connection::State::kHandshake;
    auto ephemeral = channel::EphemeralKey::Generate();
    if (!ephemeral.ok()) {
      Close(c, "handshake: " + ephemeral.status().message(), false);
      return;
    }
    c->ephemeral.emplace(std::move(ephemeral).value());
    wire::Hello hello;
    hello.chain_id = options_.chain_id;
    hello.key = own_key_;
    hello.ephemeral = c->ephemeral->public_key();
    Enqueue(c, wire::kTypeHello, std::make_shared<const Bytes>(wire::EncodeHello(hello)));
    StartRead(c);
  }

  void StartRead(const std::shared_ptr<Connection>& c) {
    c->socket.async_read_some(asio::buffer(c->chunk), [c](const error_code& ec, size_t n) {
      if (c->impl != nullptr) c->impl->OnRead(c, ec, n);
    });
  }

  void Enqueue(const std::shared_ptr<Connection>& c, uint8_t type,
               std::shared_ptr<const Bytes> payload) {
    if (IsClosing(*c) || c->state == Connection::State::kConnecting || c->doomed) return;
    const size_t size =
        wire::kHeaderBytes + payload->size() + (c->tx_cipher ? wire::kSealTagBytes : 0);
    if (c->tx_bytes + size > options_.max_send_queue_bytes) {
      // Close from a fresh handler: Send() must not call back into the Handler.
      ++stats_.slow_consumers;
      c->doomed = true;
      asio::post(io_, [c] {
        if (c->impl != nullptr) c->impl->Close(c, "send queue full (slow consumer)", false);
      });
      return;
    }
    auto frame = MakeFrame(c, type, std::move(payload));
    if (!frame.ok()) {
      c->doomed = true;
      asio::post(io_, [c, why = frame.status().message()] {
        if (c->impl != nullptr) c->impl->Close(c, "cannot seal: " + why, false);
      });
      return;
    }
    Push(c, std::move(frame).value());
    if (c->tx_in_flight == 0) DoWrite(c);
  }

  // The frame as it goes on the wire: sealed once our AUTH is out, plain before. Frames are
  // sealed in queue order, which is the order on the wire, so the frame counters match.
  static ledger::Result<OutFrame> MakeFrame(const std::shared_ptr<Connection>& c, uint8_t type,
                                            std::shared_ptr<const Bytes> payload) {
    if (!c->tx_cipher) {
      return OutFrame{wire::EncodeHeader(type, payload->size()), wire::kHeaderBytes,
                      std::move(payload)};
    }
    auto sealed = c->tx_cipher->Seal(type, *payload);
    if (!sealed.ok()) return sealed.status();
    return OutFrame{{}, 0, std::make_shared<const Bytes>(std::move(sealed).value())};
  }

  static void Push(const std::shared_ptr<Connection>& c, OutFrame frame) {
    c->tx_bytes += frame.wire_size();
    c->tx.push_back(std::move(frame));
  }

  void DoWrite(const std::shared_ptr<Connection>& c) {
    c->tx_buffers.clear();
    c->tx_in_flight = std::min(c->tx.size(), kMaxFramesPerWrite);
    for (size_t i = 0; i < c->tx_in_flight; ++i) {
      const OutFrame& f = c->tx[i];  // deque elements stay put while others are pushed/popped
      if (f.header_len > 0) c->tx_buffers.emplace_back(f.header.data(), f.header_len);
      if (!f.payload->empty()) c->tx_buffers.emplace_back(f.payload->data(), f.payload->size());
    }
    asio::async_write(c->socket, c->tx_buffers, [c](const error_code& ec, size_t n) {
      if (c->impl != nullptr) c->impl->OnWritten(c, ec, n);
    });
  }

  void HandleFrame(const std::shared_ptr<Connection>& c, uint8_t type, ByteSpan payload) {
    if (c->state == Connection::State::kHandshake) {
      HandleHandshakeFrame(c, type, payload);
      return;
    }
    switch (type) {
      case wire::kTypePing:
        if (payload.size() != wire::kPingPayloadBytes) {
          ProtocolError(c, "bad ping");
          return;
        }
        Enqueue(c, wire::kTypePong, std::make_shared<const Bytes>(payload.begin(), payload.end()));
        return;
      case wire::kTypePong:
        return;  // last_rx is already updated
      case wire::kTypeClose:
        Close(c, "closed by peer: " + wire::SanitizeReason(AsString(payload)), false);
        return;
      default:
        break;
    }
    if (type < wire::kFirstAppType) {
      ProtocolError(c, "unexpected frame type " + std::to_string(type));
      return;
    }
    if (handler_ != nullptr && !stopped_) handler_->OnMessage(*c->peer_key, type, payload);
  }

  void HandleHandshakeFrame(const std::shared_ptr<Connection>& c, uint8_t type, ByteSpan payload) {
    auto& failures = stats_.handshake_failures;
    if (type == wire::kTypeClose) {
      ++failures.rejected_by_peer;
      Close(c, "rejected by peer: " + wire::SanitizeReason(AsString(payload)), false);
      return;
    }
    if (type == wire::kTypeHello && !c->peer_key) {
      auto hello = wire::DecodeHello(payload);
      if (!hello.ok()) {
        ++failures.bad_hello;
        Close(c, "bad hello: " + hello.status().message(), true);
        return;
      }
      if (hello->version != wire::kProtocolVersion) {
        ++failures.bad_hello;
        Close(c, "unsupported protocol version " + std::to_string(hello->version), true);
        return;
      }
      if (hello->chain_id != options_.chain_id) {
        ++failures.wrong_chain;
        Close(c, "wrong chain", true);
        return;
      }
      if (hello->key == own_key_ || peers_.count(hello->key) == 0) {
        ++failures.unknown_key;
        Close(c, "unknown key " + ShortKey(hello->key), true);
        return;
      }
      if (IsBanned(peers_.at(hello->key))) {
        ++failures.banned;
        Close(c, "banned for misbehaviour", true);
        return;
      }
      if (c->expected_key && hello->key != *c->expected_key) {
        ++failures.unknown_key;
        Close(c, "unknown key " + ShortKey(hello->key) + " (dialled another key)", true);
        return;
      }
      // Key agreement and the transcript: both identities and both ephemeral keys, in the
      // roles of who dialled, under the chain id and genesis hash (FORMAT.md §10).
      auto shared = c->ephemeral->Agree(hello->ephemeral);
      if (!shared.ok()) {
        ++failures.bad_hello;
        Close(c, "bad hello: " + shared.status().message(), true);
        return;
      }
      const ledger::ChainDomain domain{options_.chain_id, options_.genesis_hash};
      const channel::X25519Key& own_eph = c->ephemeral->public_key();
      c->transcript = c->outbound
                          ? channel::TranscriptHash(domain, wire::kProtocolVersion, own_key_,
                                                    own_eph, hello->key, hello->ephemeral)
                          : channel::TranscriptHash(domain, wire::kProtocolVersion, hello->key,
                                                    hello->ephemeral, own_key_, own_eph);
      auto keys = channel::DeriveKeys(*shared, c->transcript);
      c->ephemeral.reset();  // forward secrecy: the private key is not needed any more
      if (!keys.ok()) {
        Close(c, "handshake: " + keys.status().message(), false);
        return;
      }
      c->peer_key = hello->key;
      const channel::Role own_role =
          c->outbound ? channel::Role::kInitiator : channel::Role::kResponder;
      const ledger::Signature sig =
          options_.node_key.Sign(channel::AuthDigest(c->transcript, own_role));
      Enqueue(c, wire::kTypeAuth,
              std::make_shared<const Bytes>(sig.bytes.begin(), sig.bytes.end()));
      // Every frame we send after AUTH is sealed.
      c->tx_cipher.emplace(c->outbound ? keys->initiator_to_responder
                                       : keys->responder_to_initiator);
      c->rx_key = c->outbound ? keys->responder_to_initiator : keys->initiator_to_responder;
      return;
    }
    if (type == wire::kTypeAuth && c->peer_key) {
      auto sig = ledger::Signature::FromSpan(payload);
      const channel::Role peer_role =
          c->outbound ? channel::Role::kResponder : channel::Role::kInitiator;
      if (!sig ||
          !ledger::Verify(*c->peer_key, channel::AuthDigest(c->transcript, peer_role), *sig)) {
        ++failures.bad_auth;
        Close(c, "bad auth signature", true);
        return;
      }
      // Every frame the peer sends after its AUTH must open under its direction key.
      c->rx_cipher.emplace(c->rx_key);
      c->rx_key = channel::AeadKey{};
      Established(c);
      return;
    }
    ++failures.protocol;
    Close(c, "frame type " + std::to_string(type) + " out of handshake order", true);
  }

  // Keep exactly one connection per peer, chosen the same way on both ends: if the two were
  // dialled by different sides, keep the one dialled by the smaller key; if by the same side
  // (it redialled because it saw the old one die), keep the newer. Returns true to keep `a`.
  bool Prefer(const Connection& a, const Connection& b) const {
    const PublicKey& dialler_a = a.outbound ? own_key_ : *a.peer_key;
    const PublicKey& dialler_b = b.outbound ? own_key_ : *b.peer_key;
    if (dialler_a != dialler_b) return dialler_a < dialler_b;
    return a.id > b.id;
  }

  void Established(const std::shared_ptr<Connection>& c) {
    c->state = Connection::State::kOpen;
    c->handshake_timer.cancel();
    ++stats_.handshakes_ok;
    ArmPingTimer(c);
    Peer& peer = peers_.at(*c->peer_key);
    if (peer.dialing == c) peer.dialing.reset();
    peer.backoff_ms = options_.reconnect_initial_ms;
    if (peer.active) {
      // Swap silently: for the Handler the peer stays connected throughout.
      ++stats_.duplicates_closed;
      std::shared_ptr<Connection> loser = c;
      if (Prefer(*c, *peer.active)) std::swap(loser, peer.active);
      Log(LogLevel::kInfo, "duplicate connection to " + Describe(*c) + ": keeping " +
                               (peer.active == c ? "the new one" : "the existing one"));
      Close(loser, "duplicate connection", true);
      return;
    }
    peer.active = c;
    Log(LogLevel::kInfo, "connected " + Describe(*c));
    if (peer.reported_up) return;  // replaces a connection lost while this one authenticated
    peer.reported_up = true;
    if (handler_ != nullptr && !stopped_) handler_->OnPeerConnected(*c->peer_key);
  }

  // True if a connection to `key` has passed HELLO and awaits the peer's AUTH.
  bool AuthPending(const PublicKey& key) const {
    for (const auto& [id, c] : connections_) {
      if (c->state == Connection::State::kHandshake && c->peer_key == key) return true;
    }
    return false;
  }

  void ProtocolError(const std::shared_ptr<Connection>& c, const std::string& what) {
    if (c->state == Connection::State::kOpen) {
      ++stats_.protocol_errors;
    } else {
      ++stats_.handshake_failures.protocol;
    }
    Close(c, "protocol error: " + what, true);
  }

  // Ends a connection: with `notify`, a CLOSE frame carrying the reason is flushed first (the
  // reason must then hold no secret). Unregisters it, tells the Handler if it was the peer's
  // active connection, and schedules a redial where one is due.
  void Close(const std::shared_ptr<Connection>& c, const std::string& reason, bool notify) {
    if (IsClosing(*c)) return;
    const bool was_open = c->state == Connection::State::kOpen;
    const bool was_connecting = c->state == Connection::State::kConnecting;
    c->ping_timer.cancel();
    c->handshake_timer.cancel();
    bool was_active = false;
    Peer* peer = nullptr;
    const std::optional<PublicKey> key = c->peer_key ? c->peer_key : c->expected_key;
    if (key) {
      auto it = peers_.find(*key);
      if (it != peers_.end()) {
        peer = &it->second;
        if (peer->dialing == c) peer->dialing.reset();
        if (peer->active == c) {
          peer->active.reset();
          was_active = true;
        }
      }
    }
    if (was_open) ++stats_.disconnects;
    const LogLevel level =
        was_active || (!was_open && !c->outbound) ? LogLevel::kWarning : LogLevel::kInfo;
    Log(level, (was_open ? "disconnected " : "closed ") + Describe(*c) + ": " + reason);
    if (notify && !was_connecting && !c->doomed) {
      c->state = Connection::State::kClosing;  // stops reading; the queue still drains
      auto frame =
          MakeFrame(c, wire::kTypeClose, std::make_shared<const Bytes>(AsBytesCopy(reason)));
      if (frame.ok()) Push(c, std::move(frame).value());
      c->handshake_timer.expires_after(kLinger);
      c->handshake_timer.async_wait([c](const error_code& ec) {
        if (c->impl != nullptr) c->impl->OnHandshakeTimer(c, ec);
      });
      if (c->tx_in_flight == 0) DoWrite(c);
    } else {
      Shutdown(c);
    }
    if (peer != nullptr && peer->config.address && !peer->active && !peer->dialing) {
      ScheduleReconnect(*peer);
    }
    // The Handler hears of the loss only if no other connection to the peer is about to take
    // over: when both sides dial at once, the one the rule discards may be closed by the peer
    // before our side has authenticated the one it keeps. That must not look like a flap.
    if (peer != nullptr && peer->reported_up && !peer->active && !AuthPending(*key)) {
      peer->reported_up = false;
      if (handler_ != nullptr && !stopped_) handler_->OnPeerDisconnected(*key, reason);
    }
  }

  void Shutdown(const std::shared_ptr<Connection>& c) {
    error_code ec;
    c->socket.shutdown(tcp::socket::shutdown_both, ec);
    c->socket.close(ec);
    c->ping_timer.cancel();
    c->handshake_timer.cancel();
    c->state = Connection::State::kClosed;
    connections_.erase(c->id);
  }

  void ScheduleReconnect(Peer& peer) {
    if (stopped_ || peer.reconnect_pending) return;
    std::uniform_int_distribution<uint32_t> jitter(peer.backoff_ms / 2, peer.backoff_ms);
    uint32_t delay = jitter(rng_);
    if (IsBanned(peer)) {  // not before the ban ends
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(peer.banned_until - Clock::now());
      delay = std::max(delay, static_cast<uint32_t>(left.count()));
    }
    peer.backoff_ms = std::min(options_.reconnect_max_ms, peer.backoff_ms * 2);
    peer.reconnect_pending = true;
    peer.timer->expires_after(Ms(delay));
    peer.timer->async_wait(
        [self = shared_from_this(), key = peer.config.key](const error_code& ec) {
          if (ec || self->stopped_) return;
          Peer& p = self->peers_.at(key);
          p.reconnect_pending = false;
          if (!p.active && !p.dialing) self->Dial(p);
        });
  }

  static std::string AsString(ByteSpan b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  static Bytes AsBytesCopy(const std::string& reason) {
    const std::string s = wire::SanitizeReason(reason);
    return Bytes(s.begin(), s.end());
  }

  asio::io_context& io_;
  const TransportOptions options_;
  const PublicKey own_key_;
  Handler* const handler_;
  tcp::acceptor acceptor_;
  std::unique_ptr<asio::steady_timer> accept_retry_timer_;
  uint16_t listen_port_ = 0;
  bool stopped_ = false;
  uint64_t next_id_ = 1;
  std::mt19937_64 rng_;  // reconnect jitter only; nothing secret
  std::map<PublicKey, Peer> peers_;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_;  // every open socket
  Stats stats_;
};

Transport::Transport(boost::asio::io_context& io, TransportOptions options, Handler* handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), handler)) {}

Transport::~Transport() { impl_->Stop(); }

Status Transport::Start() { return impl_->Start(); }
void Transport::Stop() { impl_->Stop(); }
uint16_t Transport::listen_port() const { return impl_->listen_port(); }
void Transport::Send(const PublicKey& peer, uint8_t type, Bytes payload) {
  impl_->Send(peer, type, std::move(payload));
}
void Transport::Broadcast(uint8_t type, const Bytes& payload) { impl_->Broadcast(type, payload); }
void Transport::Disconnect(const PublicKey& peer, const std::string& reason, uint32_t ban_ms) {
  impl_->Disconnect(peer, reason, ban_ms);
}
std::vector<PublicKey> Transport::ConnectedPeers() const { return impl_->ConnectedPeers(); }
Transport::Stats Transport::stats() const { return impl_->stats(); }

}  // namespace certledger::network
