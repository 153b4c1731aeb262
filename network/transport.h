// Transport: encrypted, authenticated peer connections over TCP (Boost.Asio), one per configured
// peer.
//
// Every connection starts with a mutual handshake (protocol 2): HELLO carries the node identity
// and a fresh X25519 key; AUTH is a BIP-340 signature by the identity key over the transcript
// hash (both identities, both ephemeral keys, the roles, the chain id, the genesis hash and the
// protocol version). Every frame after a side's AUTH is sealed with ChaCha20-Poly1305 under that
// direction's key (HKDF of the X25519 secret and the transcript) and a frame counter; a frame
// that does not open closes the connection. Only keys listed in TransportOptions::peers are
// accepted. After the handshake, frames of type >= 16 are delivered to the Handler. Keepalive,
// idle detection, reconnection with exponential backoff and duplicate-connection resolution are
// internal. Wire format and test vectors: docs/FORMAT.md §10; the cryptography: channel.h.
//
// Delivery is best effort: a frame queued on a connection that then drops is lost, and a frame
// sent while the peer is not connected is dropped. Higher layers (consensus, block sync) must
// tolerate loss.
//
// Threading: a Transport lives on one io_context, run by one thread. Every method, including the
// constructor and destructor, must be called on that thread, or while no thread runs the
// io_context. Handler callbacks are made on that thread only. There are no locks inside.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace certledger::network {

struct PeerAddress {
  std::string host;  // IP literal or host name
  uint16_t port = 0;
};

struct PeerConfig {
  ledger::PublicKey key;
  std::string name;                    // for logs, e.g. "yangtze-commission"
  std::optional<PeerAddress> address;  // none: accept only (e.g. observers); else it is dialled
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };
// Receives one line per event. Never sees key material (public keys appear as a short prefix).
using LogFunction = std::function<void(LogLevel level, const std::string& message)>;

struct TransportOptions {
  explicit TransportOptions(ledger::PrivateKey key) : node_key(std::move(key)) {}

  // Bound into every handshake signature; peers on another chain are refused. 1..64 bytes.
  std::string chain_id;
  // The chain's genesis hash: bound with the chain id into every handshake signature, so that a
  // node of a relaunched chain with the same id fails authentication.
  ledger::Hash256 genesis_hash;
  // This node's identity (validator key, or an observer's node key).
  ledger::PrivateKey node_key;
  // Listening address. Port 0 picks an ephemeral port (see Transport::listen_port()).
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  // The ONLY keys accepted. Those with an address are dialled. An entry with this node's own key
  // is ignored (so the whole validator set may be passed). Keys must be distinct.
  std::vector<PeerConfig> peers;
  // Hard limit on a frame's length (type byte + payload); a peer sending more is disconnected.
  uint32_t max_frame_bytes = 16 << 20;
  // Connect + HELLO + AUTH must finish within this time (connections we dial).
  uint32_t handshake_timeout_ms = 5000;
  // An inbound connection must finish its handshake within this (shorter) time: a stranger
  // holds a slot only briefly.
  uint32_t inbound_handshake_timeout_ms = 2000;
  // A PING goes out every ping_interval_ms; a connection with nothing received for
  // idle_timeout_ms is closed. REQUIRES: idle_timeout_ms > ping_interval_ms.
  uint32_t ping_interval_ms = 2000;
  uint32_t idle_timeout_ms = 10000;
  // Dial retry delay: starts at reconnect_initial_ms, doubles per failure up to reconnect_max_ms,
  // each delay drawn uniformly from [d/2, d] (jitter). Reset by a successful handshake.
  uint32_t reconnect_initial_ms = 100;
  uint32_t reconnect_max_ms = 5000;
  // Per peer: bytes queued for sending beyond this disconnect the peer (slow consumer).
  // REQUIRES: at least max_frame_bytes + 5, so that one largest frame fits.
  size_t max_send_queue_bytes = 64 << 20;
  // Inbound connections still in their handshake beyond this are closed on accept, in total and
  // per remote IP address.
  size_t max_pending_handshakes = 64;
  size_t max_pending_handshakes_per_ip = 8;
  // Logging hook; empty means no logging.
  LogFunction log;

  // OK, or InvalidArgument naming the first bad field ("peers[2].address.port: ...").
  [[nodiscard]] ledger::Status Validate() const;
};

// Callbacks, made on the io_context thread only, never after Transport::Stop() returns. They may
// call Send, Broadcast, ConnectedPeers, stats and Stop, but must not destroy the Transport.
class Handler {
 public:
  virtual ~Handler() = default;
  // The peer completed the handshake and is now the target of Send/Broadcast.
  virtual void OnPeerConnected(const ledger::PublicKey& peer) = 0;
  // The peer's connection was lost (reason is for logs). Only after an OnPeerConnected.
  virtual void OnPeerDisconnected(const ledger::PublicKey& peer, const std::string& reason) = 0;
  // A frame of type >= 16 from an authenticated peer. `payload` is valid during the call only.
  virtual void OnMessage(const ledger::PublicKey& peer, uint8_t type, ledger::ByteSpan payload) = 0;
};

class Transport {
 public:
  // Transport-level counters for metrics. All monotonic except open_connections.
  struct Stats {
    uint64_t frames_in = 0, frames_out = 0;  // every frame, transport and application
    uint64_t bytes_in = 0, bytes_out = 0;    // TCP payload bytes, frame headers included
    uint64_t accepted = 0;                   // inbound TCP connections accepted
    uint64_t dials = 0, dial_failures = 0;   // outbound attempts; those that failed to connect
    uint64_t handshakes_ok = 0;
    struct HandshakeFailures {
      uint64_t bad_hello = 0;         // malformed HELLO, bad magic or unsupported version
      uint64_t wrong_chain = 0;       // HELLO for another chain id
      uint64_t unknown_key = 0;       // key not in peers, our own key, or not the key we dialled
      uint64_t bad_auth = 0;          // AUTH signature missing, malformed or invalid
      uint64_t timeout = 0;           // not done within handshake_timeout_ms
      uint64_t protocol = 0;          // garbage, oversize frame, other frame before handshake
      uint64_t rejected_by_peer = 0;  // the peer sent CLOSE during the handshake
      uint64_t over_limit = 0;        // refused: max_pending_handshakes reached
      uint64_t banned = 0;            // the peer is under a Disconnect() ban
    } handshake_failures;
    uint64_t protocol_errors = 0;     // established peers: oversize/empty frame, bad type...
    uint64_t unauthentic_frames = 0;  // sealed frames that failed to open (connection closed)
    uint64_t idle_timeouts = 0;
    uint64_t slow_consumers = 0;       // max_send_queue_bytes exceeded
    uint64_t duplicates_closed = 0;    // second connection to one peer, closed by the rule
    uint64_t disconnects = 0;          // established connections closed, for any reason
    uint64_t bans = 0;                 // Disconnect() calls
    uint64_t sends_not_connected = 0;  // Send to a peer without a connection (dropped)
    uint64_t sends_reserved_type = 0;  // Send/Broadcast with type < 16 (a caller bug; dropped)
    uint64_t open_connections = 0;     // sockets open now, in any state
  };

  // Runs on `io`. `handler` must outlive the Transport. REQUIRES: options.Validate().ok().
  Transport(boost::asio::io_context& io, TransportOptions options, Handler* handler);
  // Calls Stop().
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Binds and listens (IOError if the address is taken or invalid); dialling of every peer with
  // an address starts once the io_context runs. Call at most once.
  ledger::Status Start();
  // Closes the listener and every connection and cancels every timer. No Handler callback is
  // made after it returns. Idempotent; the Transport cannot be restarted.
  void Stop();

  // The bound port (useful with listen_port 0); 0 before Start().
  [[nodiscard]] uint16_t listen_port() const;

  // Queues a frame to `peer`. Dropped (and counted) if the peer is not connected or `type` < 16.
  void Send(const ledger::PublicKey& peer, uint8_t type, ledger::Bytes payload);
  // Queues a frame to every connected peer (the payload is shared, not copied per peer).
  void Broadcast(uint8_t type, const ledger::Bytes& payload);

  // Closes every connection to `peer` (a CLOSE frame carries `reason`, which must hold no
  // secret) and refuses the peer for `ban_ms`: its handshakes are refused and it is not
  // redialled before the ban ends. For a peer that sent provably bad data: ignoring it would
  // still cost a read, a decryption and a decode per frame. The close happens from a fresh
  // handler, so no Handler callback is made from inside this call.
  void Disconnect(const ledger::PublicKey& peer, const std::string& reason, uint32_t ban_ms);

  [[nodiscard]] std::vector<ledger::PublicKey> ConnectedPeers() const;
  [[nodiscard]] Stats stats() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared with pending Asio handlers, which may outlive us
};

}  // namespace certledger::network
