// The peer channel's costs (issue 9): the cryptography of one handshake side (ephemeral X25519
// key, key agreement, transcript, HKDF, one BIP-340 signature and one verification), and frame
// sealing and opening at the sizes the node sends (a vote ~200 B, a transaction ~1 KiB, a block
// of 1 MiB). BM_Bip340Verify is the baseline measured in the same run.
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "ledger/crypto.h"
#include "network/channel.h"
#include "network/transport.h"

namespace certledger::network::channel {
namespace {

void BM_Bip340Verify(benchmark::State& state) {
  const auto key = ledger::PrivateKey::Generate();
  const ledger::Hash256 digest = ledger::Sha256(ledger::AsBytes(std::string("baseline")));
  const auto sig = key.Sign(digest);
  for (auto _ : state) benchmark::DoNotOptimize(ledger::Verify(key.public_key(), digest, sig));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Bip340Verify);

// One side of a handshake, as transport.cc does it; a node completes about this many
// handshakes per second per core (both sides' work is symmetric).
void BM_HandshakeOneSide(benchmark::State& state) {
  const auto identity = ledger::PrivateKey::Generate();
  const auto peer_identity = ledger::PrivateKey::Generate();
  const auto peer_eph = EphemeralKey::Generate().value();
  const ledger::ChainDomain domain{"bench", {}};
  const auto peer_sig = peer_identity.Sign(ledger::Sha256(ledger::AsBytes(std::string("x"))));
  for (auto _ : state) {
    auto eph = EphemeralKey::Generate().value();
    auto shared = eph.Agree(peer_eph.public_key()).value();
    const auto th = TranscriptHash(domain, 2, identity.public_key(), eph.public_key(),
                                   peer_identity.public_key(), peer_eph.public_key());
    auto keys = DeriveKeys(shared, th).value();
    auto sig = identity.Sign(AuthDigest(th, Role::kInitiator));
    // The peer's AUTH is verified (over a digest it did not sign here: the cost is the same).
    benchmark::DoNotOptimize(
        ledger::Verify(peer_identity.public_key(), AuthDigest(th, Role::kResponder), peer_sig));
    benchmark::DoNotOptimize(keys);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HandshakeOneSide);

void BM_SealFrame(benchmark::State& state) {
  AeadKey key;
  key.bytes[0] = 1;
  FrameCipher tx(key);
  const ledger::Bytes payload(static_cast<size_t>(state.range(0)), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(tx.Seal(16, payload));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SealFrame)->Arg(200)->Arg(1024)->Arg(1 << 20);

void BM_OpenFrame(benchmark::State& state) {
  AeadKey key;
  key.bytes[0] = 1;
  FrameCipher tx(key);
  const ledger::Bytes payload(static_cast<size_t>(state.range(0)), 0x5a);
  std::vector<ledger::Bytes> frames;
  constexpr size_t kFrames = 256;
  for (size_t i = 0; i < kFrames; ++i) frames.push_back(tx.Seal(16, payload).value());
  uint8_t type = 0;
  ledger::Bytes out;
  size_t i = 0;
  std::optional<FrameCipher> rx;
  for (auto _ : state) {
    if (i % kFrames == 0) {
      state.PauseTiming();
      rx.emplace(key);  // frames open in order only: restart the sequence
      state.ResumeTiming();
    }
    const ledger::Bytes& f = frames[i % kFrames];
    const auto len = static_cast<uint32_t>(f.size() - 4);
    if (!rx->Open(len, ledger::ByteSpan(f).subspan(4), &type, &out)) state.SkipWithError("open");
    ++i;
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_OpenFrame)->Arg(200)->Arg(1024)->Arg(1 << 20);

// Whole handshakes over loopback, as two nodes do them: TCP connect, HELLO, AUTH, both sides
// established. Each iteration starts a fresh pair of transports (a listens, b dials a) on one
// io_context run by this thread, so the figure includes both sides' work and the sockets'
// setup: handshakes per second on one core for the pair.
class Counter : public Handler {
 public:
  void OnPeerConnected(const ledger::PublicKey&) override { ++connected; }
  void OnPeerDisconnected(const ledger::PublicKey&, const std::string&) override {}
  void OnMessage(const ledger::PublicKey&, uint8_t, ledger::ByteSpan) override {}
  int connected = 0;
};

void BM_LoopbackHandshake(benchmark::State& state) {
  const auto ka = ledger::PrivateKey::Generate();
  const auto kb = ledger::PrivateKey::Generate();
  boost::asio::io_context io;
  for (auto _ : state) {
    Counter ha, hb;
    TransportOptions oa(ka);
    oa.chain_id = "bench";
    oa.peers = {PeerConfig{kb.public_key(), "b", std::nullopt}};
    auto a = std::make_unique<Transport>(io, oa, &ha);
    if (!a->Start().ok()) state.SkipWithError("listen");
    TransportOptions ob(kb);
    ob.chain_id = "bench";
    ob.peers = {PeerConfig{ka.public_key(), "a", PeerAddress{"127.0.0.1", a->listen_port()}}};
    auto b = std::make_unique<Transport>(io, ob, &hb);
    if (!b->Start().ok()) state.SkipWithError("start");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    io.restart();
    while ((ha.connected == 0 || hb.connected == 0) &&
           std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(std::chrono::milliseconds(50));
    }
    if (ha.connected == 0 || hb.connected == 0) state.SkipWithError("no handshake within 5 s");
    b->Stop();
    a->Stop();
    io.restart();
    io.poll();  // completes the cancelled operations
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LoopbackHandshake)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace certledger::network::channel

BENCHMARK_MAIN();
