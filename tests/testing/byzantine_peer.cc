#include "tests/testing/byzantine_peer.h"

#include <chrono>
#include <future>

#include "bench/accept_all_verifier.h"
#include "consensus/proposer.h"
#include "ledger/encoding.h"
#include "ledger/host_port.h"
#include "network/event_loop.h"
#include "network/transport.h"
#include "node/config.h"
#include "node/keyfile.h"
#include "node/peer_messages.h"

namespace certledger::testing {

namespace {
PrivateKey ReadKey(const NodeInfo& n, const char* file) {
  auto k = node::ReadKeyFile((fs::path(n.home) / file).string());
  if (!k.ok()) {
    ADD_FAILURE() << file << " of " << n.name << ": " << k.status().ToString();
    std::abort();
  }
  return *k;
}
// The node identity (the peer network) and the consensus key (votes and proposals).
PrivateKey NodeKey(const NodeInfo& n) { return ReadKey(n, "node_key.json"); }
PrivateKey ValidatorKey(const NodeInfo& n) { return ReadKey(n, "validator_key.json"); }
}  // namespace

class ByzantinePeer::Handler : public network::Handler {
 public:
  explicit Handler(ByzantinePeer* self) : self_(self) {}
  void OnPeerConnected(const PublicKey& /*peer*/) override {
    std::lock_guard lock(self_->mu_);
    ++self_->connected_;
  }
  void OnPeerDisconnected(const PublicKey& /*peer*/, const std::string& /*reason*/) override {
    std::lock_guard lock(self_->mu_);
    --self_->connected_;
  }
  void OnMessage(const PublicKey& /*peer*/, uint8_t type, ByteSpan payload) override {
    std::lock_guard lock(self_->mu_);
    if (type == node::kMsgStatus) {
      auto s = node::DecodeStatus(payload);
      if (s.ok()) self_->best_peer_height_ = std::max(self_->best_peer_height_, s->height);
    } else if (type == node::kMsgBlockResponse) {
      auto resp = node::DecodeBlockResponse(payload);
      if (!resp.ok()) return;
      for (const auto& [block, commit] : resp->blocks) {
        if (block.header.height != self_->replayer_.tip().height + 1) continue;
        if (!self_->replayer_.Next(block, commit).ok()) break;
      }
    } else if (type == node::kMsgConsensus) {
      auto m = consensus::DecodeMessage(payload);
      if (m.ok() && consensus::HeightOf(*m) == self_->replayer_.tip().height + 1) {
        self_->seen_round_ = std::max(self_->seen_round_, consensus::RoundOf(*m));
        const auto* v = std::get_if<consensus::Vote>(&*m);
        if (v != nullptr && v->type == VoteType::kPrevote && v->block_id) {
          self_->last_prevote_ = *v;
        }
      }
    }
  }

 private:
  ByzantinePeer* self_;
};

ByzantinePeer::ByzantinePeer(Cluster& cluster, size_t index)
    : cluster_(cluster),
      key_(ValidatorKey(cluster.node(index))),
      node_key_(NodeKey(cluster.node(index))),
      loop_(std::make_unique<network::EventLoop>()),
      replayer_(cluster.genesis()) {
  handler_ = std::make_unique<Handler>(this);
  network::TransportOptions opt(node_key_);
  opt.chain_id = cluster.genesis().params.chain_id;
  opt.genesis_hash = GenesisHash(cluster.genesis());
  auto listen = ledger::ParseHostPort(cluster.node(index).p2p);
  if (!listen.ok()) {
    ADD_FAILURE() << "p2p address " << cluster.node(index).p2p;
    std::abort();
  }
  opt.listen_host = listen->host;
  opt.listen_port = listen->port;
  opt.max_frame_bytes = node::kMaxPeerFrameBytes;
  opt.max_send_queue_bytes = 4 * static_cast<size_t>(node::kMaxPeerFrameBytes);
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (i == index) continue;
    const NodeInfo& n = cluster.node(i);
    network::PeerConfig pc{NodeKey(n).public_key(), n.name, std::nullopt};
    if (n.validator) {
      auto hp = ledger::ParseHostPort(n.p2p);
      if (hp.ok()) pc.address = network::PeerAddress{hp->host, hp->port};
    }
    peers_.push_back(pc.key);
    opt.peers.push_back(pc);
  }
  transport_ = std::make_unique<network::Transport>(loop_->io(), std::move(opt), handler_.get());
  ledger::Status st = transport_->Start();
  EXPECT_TRUE(st.ok()) << st.ToString();
  thread_ = std::thread([this] { loop_->Run(); });
}

ByzantinePeer::~ByzantinePeer() {
  OnLoop([this] {
    transport_->Stop();
    return 0;
  });
  loop_->Stop();
  thread_.join();
  transport_.reset();
}

template <class Fn>
auto ByzantinePeer::OnLoop(Fn fn) -> decltype(fn()) {
  auto promise = std::make_shared<std::promise<decltype(fn())>>();
  auto future = promise->get_future();
  loop_->Post([promise, &fn] { promise->set_value(fn()); });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "Byzantine peer: the loop did not answer in 10 s";
    std::abort();
  }
  return future.get();
}

bool ByzantinePeer::WaitConnected(size_t n, int timeout_ms) {
  return WaitFor(timeout_ms, [&] {
    std::lock_guard lock(mu_);
    return connected_ >= n;
  });
}

uint64_t ByzantinePeer::height() {
  std::lock_guard lock(mu_);
  return replayer_.tip().height;
}

uint32_t ByzantinePeer::seen_round() {
  std::lock_guard lock(mu_);
  return seen_round_;
}

bool ByzantinePeer::SyncTo(uint64_t target, int timeout_ms) {
  size_t next_peer = 0;
  return WaitFor(timeout_ms, [&] {
    const uint64_t h = height();
    if (h >= target) return true;
    const PublicKey peer = peers_[next_peer++ % peers_.size()];
    node::BlockRequest req{
        h + 1, static_cast<uint32_t>(std::min<uint64_t>(target - h, node::kMaxSyncBlocks))};
    OnLoop([&] {
      transport_->Send(peer, node::kMsgBlockRequest, node::EncodeBlockRequest(req));
      return 0;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    return height() >= target;
  });
}

std::vector<uint32_t> ByzantinePeer::OurRounds(uint32_t max_round) {
  std::lock_guard lock(mu_);
  const uint64_t h = replayer_.tip().height + 1;
  auto set = ledger::ValidatorsForHeight(replayer_.state(), h);
  std::vector<uint32_t> out;
  if (!set.ok()) return out;
  consensus::ProposerSchedule schedule(*set);
  for (uint32_t r = 0; r < max_round; ++r) {
    if (set->validators[schedule.ProposerIndex(h, r)].key == key_.public_key()) out.push_back(r);
  }
  return out;
}

ledger::Block ByzantinePeer::BuildBlock(const std::vector<ledger::SignedTransaction>& txs) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto built =
      ledger::BuildBlock(replayer_.state(), replayer_.state_nodes(), replayer_.tip(),
                         replayer_.log(), txs, std::max<int64_t>(now, replayer_.tip().time_ms + 1),
                         key_.public_key(), bench::AcceptAllVerifier());
  EXPECT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_TRUE(built->rejected.empty()) << built->rejected[0].second.message;
  return built->block;
}

consensus::Proposal ByzantinePeer::MakeProposal(uint32_t round, const ledger::Block& block,
                                                std::optional<ledger::Bytes> payload) {
  consensus::Proposal p;
  p.height = block.header.height;
  p.round = round;
  p.value.id = ledger::BlockHash(block.header);
  p.value.payload = payload ? std::move(*payload) : ledger::Encode(block);
  p.proposer = key_.public_key();
  p.signature = key_.Sign(consensus::SigningDigestOf(Domain(), p));
  return p;
}

bool ByzantinePeer::DoubleVote() {
  std::optional<consensus::Vote> seen;
  {
    std::lock_guard lock(mu_);
    if (last_prevote_ && last_prevote_->height == replayer_.tip().height + 1) seen = last_prevote_;
  }
  if (!seen) return false;
  for (std::optional<Hash256> id : {std::optional<Hash256>{}, seen->block_id}) {
    consensus::Vote v;
    v.type = VoteType::kPrevote;
    v.height = seen->height;
    v.round = seen->round;
    v.block_id = id;
    v.validator = key_.public_key();
    v.signature = key_.Sign(consensus::SigningDigestOf(Domain(), v));
    Broadcast(node::kMsgConsensus, consensus::EncodeMessage(v));
  }
  return true;
}

void ByzantinePeer::Broadcast(uint8_t type, const ledger::Bytes& payload) {
  OnLoop([&] {
    transport_->Broadcast(type, payload);
    return 0;
  });
}

void ByzantinePeer::BroadcastProposal(const consensus::Proposal& p) {
  Broadcast(node::kMsgConsensus, consensus::EncodeMessage(p));
}

}  // namespace certledger::testing
