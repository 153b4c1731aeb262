// A Byzantine peer for cluster tests: an in-process node that holds a real validator's keys,
// speaks the real wire protocol (network::Transport, the node's peer messages, consensus
// messages) and misbehaves on command. It takes the place of one validator of a Cluster (which
// must not be started): the honest nodes dial it as that validator.
//
// It follows the chain by asking peers for blocks and replaying them (ledger::Replayer), so that
// it can build blocks that are valid in every respect except the one a test breaks, and sign
// proposals and votes with the validator's consensus key. Every method is safe to call from the
// test thread; waits are bounded.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "consensus/message.h"
#include "ledger/chain.h"
#include "ledger/replay.h"
#include "ledger/types.h"
#include "tests/testing/cluster.h"

namespace certledger::network {
class EventLoop;
class Transport;
}  // namespace certledger::network

namespace certledger::testing {

class ByzantinePeer {
 public:
  // Takes node `index` of `cluster` (a validator whose process is not running).
  ByzantinePeer(Cluster& cluster, size_t index);
  ~ByzantinePeer();
  ByzantinePeer(const ByzantinePeer&) = delete;
  ByzantinePeer& operator=(const ByzantinePeer&) = delete;

  // Waits until `n` honest peers completed the handshake with us.
  bool WaitConnected(size_t n, int timeout_ms);
  // Asks peers for blocks until the replayed chain reaches `height`.
  bool SyncTo(uint64_t height, int timeout_ms);
  // The replayed tip's height.
  uint64_t height();
  // The highest round seen in honest consensus messages for height() + 1.
  uint32_t seen_round();

  // The rounds of height() + 1 in [0, max_round) in which this validator is the proposer.
  std::vector<uint32_t> OurRounds(uint32_t max_round);

  // A block on the replayed tip carrying `txs`, built WITHOUT checking their signatures (so a
  // forged one is in it with every root correct), proposed by this validator.
  ledger::Block BuildBlock(const std::vector<ledger::SignedTransaction>& txs);
  // A proposal for (height() + 1, round) of `block` (payload = its encoding unless given),
  // signed with this validator's consensus key.
  consensus::Proposal MakeProposal(uint32_t round, const ledger::Block& block,
                                   std::optional<ledger::Bytes> payload = std::nullopt);

  // Equivocates: signs and sends a nil prevote and a prevote for the block that an honest prevote
  // of height() + 1 named, for that height and round. False if no such prevote was seen yet.
  bool DoubleVote();

  // Raw frames (type >= 16) to every connected honest peer.
  void Broadcast(uint8_t type, const ledger::Bytes& payload);
  void BroadcastProposal(const consensus::Proposal& p);
  // The key of the validator we impersonate, and its agency's index in cluster.agencies.
  [[nodiscard]] const ledger::PrivateKey& key() const { return key_; }

 private:
  class Handler;
  [[nodiscard]] ledger::ChainDomain Domain() const {
    return {cluster_.genesis().params.chain_id, GenesisHash(cluster_.genesis())};
  }
  template <class Fn>
  auto OnLoop(Fn fn) -> decltype(fn());

  Cluster& cluster_;
  ledger::PrivateKey key_;       // consensus key: proposals and votes
  ledger::PrivateKey node_key_;  // node identity: the peer network
  std::vector<ledger::PublicKey> peers_;
  std::unique_ptr<network::EventLoop> loop_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<network::Transport> transport_;
  std::thread thread_;

  std::mutex mu_;  // guards everything below (written on the loop thread, read by the test)
  ledger::Replayer replayer_;
  size_t connected_ = 0;
  uint32_t seen_round_ = 0;
  uint64_t best_peer_height_ = 0;
  std::optional<consensus::Vote> last_prevote_;  // a non-nil honest prevote of height() + 1
};

}  // namespace certledger::testing
