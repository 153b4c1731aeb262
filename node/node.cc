#include "node/node.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "api/admin.h"
#include "api/handlers.h"
#include "api/health.h"
#include "api/metrics.h"
#include "api/server.h"
#include "api/staple.h"
#include "consensus/engine.h"
#include "ledger/chain.h"
#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "ledger/keypair_signer.h"
#include "ledger/leveldb_store.h"
#include "network/event_loop.h"
#include "network/signal_watch.h"
#include "network/transport.h"
#include "node/guarded_signer.h"
#include "node/keyfile.h"
#include "node/logging.h"
#include "node/mempool.h"
#include "node/peer_messages.h"
#include "node/sig_cache.h"
#include "node/state_cache.h"
#include "node/version.h"
#include "node/wal.h"
#include "node/worker_pool.h"

namespace certledger::node {

using ledger::Hash256;
using ledger::PublicKey;
using ledger::Result;

namespace {

// How long a peer that sent provably bad data is cut off (Penalise).
constexpr uint32_t kPenaltyMs = 30'000;

std::string Short(const PublicKey& k) { return k.Hex().substr(0, 12); }
std::string Short(const Hash256& h) { return h.Hex().substr(0, 12); }

// Bounded record of transactions rejected at block building or dropped with them.
class RejectedLog {
 public:
  void Add(const Hash256& h, std::string reason, std::string message) {
    if (map_.count(h)) return;
    order_.push_back(h);
    map_[h] = {std::move(reason), std::move(message)};
    if (order_.size() > kMax) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }
  [[nodiscard]] const std::pair<std::string, std::string>* Find(const Hash256& h) const {
    auto it = map_.find(h);
    return it == map_.end() ? nullptr : &it->second;
  }

 private:
  static constexpr size_t kMax = 100000;
  std::deque<Hash256> order_;
  std::map<Hash256, std::pair<std::string, std::string>> map_;
};

// The mempool's bounds: one acting agency may hold a quarter of the pool, one source (a peer, a
// client address) half of it, so that no single key holder or connection can pin it.
MempoolOptions MempoolOptionsFrom(const NodeConfig& c) {
  MempoolOptions o;
  o.max_txs = c.mempool_max_txs;
  o.max_bytes = c.mempool_max_bytes;
  o.max_txs_per_agency = std::max<size_t>(1, o.max_txs / 4);
  o.max_bytes_per_agency = std::max<uint64_t>(1, o.max_bytes / 4);
  o.max_txs_per_source = std::max<size_t>(1, o.max_txs / 2);
  o.max_bytes_per_source = std::max<uint64_t>(1, o.max_bytes / 2);
  return o;
}

}  // namespace

class Node::Impl : public network::Handler, public consensus::ValueValidator {
 public:
  Impl(NodeConfig config, ledger::Genesis genesis, std::unique_ptr<ledger::Store> store,
       std::optional<ledger::PrivateKey> validator_key, ledger::PrivateKey node_key,
       std::unique_ptr<Wal> wal)
      : config_(std::move(config)),
        genesis_(std::move(genesis)),
        domain_{genesis_.params.chain_id, ledger::GenesisHash(genesis_)},
        store_(std::move(store)),
        validator_key_(std::move(validator_key)),
        node_key_(std::move(node_key)),
        wal_(std::move(wal)),
        mempool_(MempoolOptionsFrom(config_)),
        logs_(config_.moniker, config_.log_format == "json" ? LogFormat::kJson : LogFormat::kText,
              config_.log_level),
        log_(&logs_.get("node")),
        p2p_log_(&logs_.get("p2p")),
        consensus_log_(&logs_.get("consensus")),
        mempool_log_(&logs_.get("mempool")),
        sync_log_(&logs_.get("sync")),
        api_log_(&logs_.get("api")) {
    RegisterMetrics();
  }

  ledger::Status Run(NodeService* service);
  void Stop() {
    loop_.Post([this] { Shutdown(ledger::Status::Ok()); });
  }

  // ---- NodeService, called from API threads ------------------------------------------------
  api::NodeStatus Status() const {
    std::lock_guard lock(status_mu_);
    return status_;
  }
  const ledger::Store& store() const { return *store_; }
  void SubmitTx(ledger::SignedTransaction tx, std::string source,
                std::function<void(api::SubmitResult)> done) {
    // Signatures are checked here, on the API thread, through the cache, so that the event loop
    // only runs the stateful part of admission (and finds the signatures in the cache).
    if (auto bad = VerifySignatures(tx, domain_.genesis_hash, sig_cache_)) {
      api::SubmitResult r;
      r.code = api::SubmitResult::Code::kRejected;
      r.tx_hash = ledger::TxHash(tx.tx);
      r.reason = "bad-signature";
      r.message = "signature by " + *bad + " does not verify";
      return done(std::move(r));
    }
    const Hash256 hash = ledger::TxHash(tx.tx);  // off the loop
    loop_.Post([this, tx = std::move(tx), hash, source = std::move(source),
                done = std::move(done)]() mutable {
      done(Admit(tx, hash, source, /*from_client=*/true));
    });
  }
  // As SubmitTx for each, with one pass of the loop for all of them.
  void SubmitTxs(std::vector<ledger::SignedTransaction> txs, std::string source,
                 std::function<void(std::vector<api::SubmitResult>)> done) {
    std::vector<api::SubmitResult> results(txs.size());
    std::vector<Hash256> hashes(txs.size());
    std::vector<bool> checked(txs.size(), false);
    for (size_t i = 0; i < txs.size(); ++i) {
      hashes[i] = ledger::TxHash(txs[i].tx);  // off the loop
      results[i].tx_hash = hashes[i];
      if (auto bad = VerifySignatures(txs[i], domain_.genesis_hash, sig_cache_)) {
        results[i].code = api::SubmitResult::Code::kRejected;
        results[i].reason = "bad-signature";
        results[i].message = "signature by " + *bad + " does not verify";
      } else {
        checked[i] = true;
      }
    }
    loop_.Post([this, txs = std::move(txs), hashes = std::move(hashes),
                checked = std::move(checked), results = std::move(results),
                source = std::move(source), done = std::move(done)]() mutable {
      for (size_t i = 0; i < txs.size(); ++i) {
        if (checked[i]) results[i] = Admit(txs[i], hashes[i], source, /*from_client=*/true);
      }
      done(std::move(results));
    });
  }
  api::TxStatusInfo GetTx(const Hash256& h) const;
  void WaitTx(const Hash256& h, uint32_t timeout_ms, std::function<void(api::TxStatusInfo)> done);
  std::shared_ptr<const ledger::StoreView> CheckpointView() const {
    std::lock_guard lock(checkpoint_mu_);
    return checkpoint_view_;
  }
  // Accountable reads: the node identity key signs answers (thread-safe: a const key).
  std::pair<PublicKey, ledger::Signature> SignAnswer(const Hash256& digest) const {
    return {answer_signer_.public_key(), answer_signer_.Sign(digest)};
  }

  // ---- network::Handler -------------------------------------------------------------------
  void OnPeerConnected(const PublicKey& peer) override;
  void OnPeerDisconnected(const PublicKey& peer, const std::string& reason) override;
  void OnMessage(const PublicKey& peer, uint8_t type, ledger::ByteSpan payload) override;

  // ---- consensus::ValueValidator -------------------------------------------------------------
  bool IsValid(uint64_t height, const consensus::Value& value) override;

 private:
  void Shutdown(const ledger::Status& why);
  void Fatal(const std::string& what, const ledger::Status& st) {
    log_->critical("halting: {}: {}", what, st.ToString());
    Shutdown(ledger::Status::IOError(what + ": " + st.ToString()));
  }
  // `tx_hash` is TxHash(tx.tx), computed by the caller off the loop.
  api::SubmitResult Admit(const ledger::SignedTransaction& tx, const Hash256& tx_hash,
                          const std::string& source, bool from_client);
  // Turns a double vote the engine saw into an evidence transaction and admits (and gossips) it.
  void SubmitEvidence(const consensus::DuplicateVoteEvidence& e);
  // Records transactions the mempool dropped and answers their waiters.
  void NoteDropped(const std::vector<Dropped>& dropped);

  // Proposals: cheap checks on the loop, signatures on the workers, then the state rules on the
  // loop (with every signature in the cache); only then does the engine see the proposal.
  void OnProposalMessage(const PublicKey& peer, consensus::Proposal p);
  void FinishProposal(const PublicKey& peer, uint64_t height, const Hash256& id,
                      std::shared_ptr<ledger::Block> block, bool signatures_ok);
  // The header checks that do not need the state: height, time bound, proposer.
  std::optional<std::string> CheckHeader(const ledger::BlockHeader& h, uint64_t height,
                                         const consensus::Proposal* p) const;
  // A peer sent something provably invalid: its messages are ignored for a while.
  void Penalise(const PublicKey& peer, const std::string& why);
  [[nodiscard]] bool Banned(const PublicKey& peer) const;

  // Consensus.
  void StartHeight();
  void Execute(consensus::StepResult result);
  void Step(const consensus::Input& input) { Execute(engine_->Step(input)); }
  void Propose(uint64_t height, uint32_t round);
  void OnCommit(const consensus::Commit& c);
  // Stores a committed block; with `start_next`, moves consensus to the next height.
  void ApplyCommitted(const ledger::Block& block, const ledger::CommitCertificate& cert,
                      const ledger::BlockEffects& effects, bool start_next);

  // Gossip and sync.
  void Tick();
  void MaybeRequestBlocks();
  void ServeBlocks(const PublicKey& peer, const BlockRequest& req);
  void ApplySyncedBlocks(const PublicKey& peer, const BlockResponse& resp);

  void PublishStatus();

  NodeConfig config_;
  ledger::Genesis genesis_;
  ledger::ChainDomain domain_;  // what every signature of this chain binds
  std::unique_ptr<ledger::Store> store_;
  std::optional<ledger::PrivateKey> validator_key_;
  ledger::PrivateKey node_key_;
  ledger::KeyPairSigner answer_signer_{node_key_};  // the node key, for answers (many a second)
  mutable std::mutex checkpoint_mu_;
  std::shared_ptr<const ledger::StoreView> checkpoint_view_;  // the latest checkpoint's view
  std::unique_ptr<Wal> wal_;
  Mempool mempool_;
  // The loop's reads of the committed state (admission, block building and validation).
  StateCache state_{store_.get(), 1u << 16};
  // Every signature this node verified; used by admission, block building and validation.
  // Declared before the worker pool, whose tasks use it.
  SignatureCache sig_cache_{1u << 18};
  Logs logs_;
  spdlog::logger* log_;  // module "node"
  spdlog::logger* p2p_log_;
  spdlog::logger* consensus_log_;
  spdlog::logger* mempool_log_;
  spdlog::logger* sync_log_;
  spdlog::logger* api_log_;

  network::EventLoop loop_;
  // Declared after loop_: destroyed (drained and joined) before it.
  WorkerPool verifiers_{std::max(1u, std::thread::hardware_concurrency())};
  std::unique_ptr<network::Transport> transport_;
  std::unique_ptr<GuardedSigner> signer_;
  // Votes and proposals are verified through the same cache, so that a commit certificate made of
  // precommits this node already saw costs nothing to check again (status proofs, block sync).
  struct CachedVerifier final : consensus::Verifier {
    explicit CachedVerifier(const SignatureCache* c) : cache(c) {}
    bool Verify(const PublicKey& key, const Hash256& digest,
                const ledger::Signature& sig) const override {
      return cache->Verify(key, digest, sig);
    }
    const SignatureCache* cache;
  };
  CachedVerifier verifier_{&sig_cache_};
  std::unique_ptr<consensus::Engine> engine_;
  std::unique_ptr<api::Api> handlers_;
  std::unique_ptr<api::Server> api_server_;
  ledger::Status exit_status_;
  bool shutting_down_ = false;

  // Timers keyed by the engine's timeout; the engine ignores stale ones.
  std::optional<std::pair<uint64_t, uint32_t>> pending_proposal_;
  network::EventLoop::TimerId pending_proposal_timer_ = 0;
  int64_t last_block_wall_ms_ = 0;
  int64_t height_started_ms_ = 0;
  uint64_t last_gossip_height_ = 0;

  // Effects of blocks validated by IsValid, by block id, for the commit that follows.
  std::map<Hash256, std::pair<ledger::Block, ledger::BlockEffects>> validated_;
  // Proposals of the current height: ids found invalid (never validated again), ids whose
  // signatures are being verified (with the proposal messages waiting for the outcome), and the
  // ids checked per round (at most kMaxValuesPerRound: the proposer's budget).
  static constexpr size_t kMaxValuesPerRound = 2;
  static constexpr size_t kMaxWaitingPerValue = 4;
  std::set<Hash256> invalid_ids_;
  std::map<Hash256, std::vector<consensus::Proposal>> verifying_;
  std::map<uint32_t, std::set<Hash256>> values_per_round_;
  // Bytes of gossiped transactions queued for verification, per peer (loop thread only).
  std::map<PublicKey, uint64_t> verify_queue_bytes_;
  uint64_t verify_queue_total_ = 0;
  static constexpr uint64_t kMaxVerifyBytesPerPeer = 8u << 20;
  static constexpr uint64_t kMaxVerifyBytesTotal = 32u << 20;
  // Misbehaving peers: ignored until the time given (monotonic ms).
  std::map<PublicKey, int64_t> banned_until_;
  uint64_t peer_penalties_ = 0, invalid_proposals_ = 0, dropped_gossip_ = 0;

  // Peers. peer_heights_ holds only heights this node verified (a commit certificate checked),
  // or heights at most its own; best_verified_height_ the highest of them and of its own.
  std::set<PublicKey> connected_;
  std::map<PublicKey, uint64_t> peer_heights_;
  uint64_t best_verified_height_ = 0;
  std::map<PublicKey, int64_t> last_status_check_ms_;
  // This node's own status message (height and proof), rebuilt when the height changes.
  ledger::Bytes status_payload_;
  uint64_t status_payload_height_ = UINT64_MAX;
  const ledger::Bytes& OwnStatus();
  void OnStatus(const PublicKey& peer, const StatusMessage& s);
  std::map<PublicKey, std::string> peer_names_;
  std::optional<PublicKey> sync_peer_;
  int64_t sync_deadline_ms_ = 0;

  // Transactions.
  RejectedLog rejected_;
  // Callers waiting for a transaction's outcome, by transaction, each with its own id so that
  // its timeout can find it (or find it gone) without holding an iterator.
  struct Waiter {
    uint64_t id;
    std::function<void(api::TxStatusInfo)> done;
  };
  std::map<Hash256, std::vector<Waiter>> waiters_;
  uint64_t next_waiter_id_ = 1;
  // Answers and removes every waiter of `h`.
  void AnswerWaiters(const Hash256& h) {
    auto it = waiters_.find(h);
    if (it == waiters_.end()) return;
    std::vector<Waiter> ws = std::move(it->second);
    waiters_.erase(it);
    for (auto& w : ws) w.done(GetTx(h));
  }

  // Metrics (api/metrics.h, docs/API.md "Metrics"). Counters kept on the loop thread are
  // copied into metric_values_ when the status is published and read by the collector at
  // scrape time; histograms are observed where the time is measured.
  uint64_t blocks_committed_ = 0, txs_committed_ = 0, rounds_total_ = 0;
  uint64_t synced_blocks_ = 0, evidence_seen_ = 0;
  uint64_t proposal_observed_height_ = 0;
  std::shared_ptr<api::Metrics> metrics_ = std::make_shared<api::Metrics>();
  prometheus::Histogram* commit_latency_ = nullptr;
  prometheus::Histogram* proposal_latency_ = nullptr;
  prometheus::Histogram* store_write_ = nullptr;
  prometheus::Histogram* wal_write_ = nullptr;
  void RegisterMetrics();
  std::vector<prometheus::MetricFamily> CollectMetrics() const;
  void NoteProposal(uint64_t height);
  std::unique_ptr<api::AdminApi> admin_handler_;
  std::unique_ptr<api::Server> admin_server_;

  // Readiness fails below this much free space in the data directory.
  static constexpr uint64_t kMinFreeDiskBytes = 64ull << 20;
  mutable std::mutex status_mu_;
  api::NodeStatus status_;
  // The loop's counters as of the last PublishStatus (GUARDED_BY(status_mu_)).
  std::vector<std::pair<std::string, double>> metric_values_;
};

// ---- startup and shutdown ---------------------------------------------------------------------

ledger::Status Node::Impl::Run(NodeService* service) {
  // Peer transport.
  network::TransportOptions topt(node_key_);
  topt.chain_id = genesis_.params.chain_id;
  topt.genesis_hash = domain_.genesis_hash;
  topt.listen_host = config_.p2p_listen.host;
  topt.listen_port = config_.p2p_listen.port;
  for (const auto& p : config_.peers) {
    network::PeerConfig pc{p.key, p.name, std::nullopt};
    if (p.address) pc.address = network::PeerAddress{p.address->host, p.address->port};
    topt.peers.push_back(pc);
    peer_names_[p.key] = p.name;
  }
  topt.max_frame_bytes = kMaxPeerFrameBytes;
  topt.max_send_queue_bytes = 4 * static_cast<size_t>(kMaxPeerFrameBytes);
  topt.log = [this](network::LogLevel level, const std::string& msg) {
    switch (level) {
      case network::LogLevel::kDebug:
        p2p_log_->debug("{}", msg);
        break;
      case network::LogLevel::kInfo:
        p2p_log_->info("{}", msg);
        break;
      case network::LogLevel::kWarning:
        p2p_log_->warn("{}", msg);
        break;
      case network::LogLevel::kError:
        p2p_log_->error("{}", msg);
        break;
    }
  };
  if (ledger::Status st = topt.Validate(); !st.ok()) return st;
  transport_ = std::make_unique<network::Transport>(loop_.io(), std::move(topt), this);
  if (ledger::Status st = transport_->Start(); !st.ok()) return st;

  // HTTP API.
  handlers_ = std::make_unique<api::Api>(service, api::ApiOptions{}, metrics_);
  api::ServerOptions aopt;
  aopt.host = config_.api_listen.host;
  aopt.port = config_.api_listen.port;
  aopt.threads = static_cast<int>(config_.api_threads);
  aopt.max_connections = config_.api_max_connections;
  aopt.max_connections_per_ip = config_.api_max_connections_per_ip;
  aopt.header_timeout_ms = config_.api_header_timeout_ms;
  aopt.busy_idle_timeout_ms = config_.api_busy_idle_timeout_ms;
  aopt.rate_limit_per_second = config_.api_rate_limit_per_second;
  aopt.rate_limit_burst = config_.api_rate_limit_burst;
  if (config_.ApiTls()) {
    auto pem = ReadApiTlsFiles(config_);
    if (!pem.ok()) {
      transport_->Stop();
      return pem.status();
    }
    aopt.tls_certificate_chain_pem = std::move(pem->certificate_chain);
    aopt.tls_private_key_pem = std::move(pem->private_key);
  }
  if (ledger::Status st = aopt.Validate(); !st.ok()) return st;
  api_server_ = std::make_unique<api::Server>(aopt, *handlers_);
  if (ledger::Status st = api_server_->Start(); !st.ok()) {
    transport_->Stop();
    return st;
  }
  api_log_->info("API: {} on {}", config_.ApiTls() ? "https" : "http",
                 HostPort{config_.api_listen.host, api_server_->port()}.ToString());

  // Admin listener: metrics, health, log levels (api/admin.h). Not rate limited; few
  // connections.
  if (config_.admin_listen) {
    api::AdminOptions admin;
    admin.metrics = metrics_;
    admin.log_levels = [this] { return logs_.Levels(); };
    admin.set_log_level = [this](const std::string& module, const std::string& level) {
      ledger::Status st = logs_.SetLevel(module, level);
      if (st.ok()) log_->info("log level of {} set to {}", module, level);
      return st;
    };
    admin_handler_ = std::make_unique<api::AdminApi>(service, std::move(admin));
    api::ServerOptions mopt;
    mopt.host = config_.admin_listen->host;
    mopt.port = config_.admin_listen->port;
    mopt.threads = 1;
    mopt.max_connections = 64;
    mopt.max_connections_per_ip = 16;
    mopt.rate_limit_per_second = 0;
    mopt.max_body_bytes = 4096;
    admin_server_ = std::make_unique<api::Server>(mopt, *admin_handler_);
    if (ledger::Status st = admin_server_->Start(); !st.ok()) {
      api_server_->Stop();
      transport_->Stop();
      return ledger::Status::IOError("admin.listen " + config_.admin_listen->ToString() + ": " +
                                     st.message());
    }
    api_log_->info("admin (metrics, health, log levels): http on {}",
                   HostPort{config_.admin_listen->host, admin_server_->port()}.ToString());
  }

  // Consensus (validators only; observers follow through block sync).
  if (validator_key_) {
    consensus::Options copt;
    copt.domain = domain_;
    copt.timeout_propose_ms = config_.timeout_propose_ms;
    copt.timeout_propose_delta_ms = config_.timeout_propose_delta_ms;
    copt.timeout_prevote_ms = config_.timeout_prevote_ms;
    copt.timeout_prevote_delta_ms = config_.timeout_prevote_delta_ms;
    copt.timeout_precommit_ms = config_.timeout_precommit_ms;
    copt.timeout_precommit_delta_ms = config_.timeout_precommit_delta_ms;
    if (ledger::Status st = copt.Validate(); !st.ok()) return st;
    signer_ = std::make_unique<GuardedSigner>(*validator_key_, domain_);
    engine_ = std::make_unique<consensus::Engine>(copt, signer_.get(), &verifier_, this);
  }
  log_->info("started: chain={} height={} p2p={} api={} role={}", genesis_.params.chain_id,
             store_->Height(), config_.p2p_listen.ToString(), config_.api_listen.ToString(),
             validator_key_ ? "validator " + Short(validator_key_->public_key()) : "observer");
  loop_.Post([this] {
    last_block_wall_ms_ = network::EventLoop::WallMs();
    StartHeight();
    Tick();
  });
  loop_.Run();
  if (api_server_) api_server_->Stop();
  if (admin_server_) admin_server_->Stop();
  return exit_status_;
}

void Node::Impl::Shutdown(const ledger::Status& why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  exit_status_ = why;
  if (why.ok()) log_->info("shutting down");
  auto all = std::move(waiters_);
  waiters_.clear();
  for (auto& [h, ws] : all) {
    for (auto& w : ws) w.done(GetTx(h));
  }
  if (transport_) transport_->Stop();
  loop_.Stop();
}

// ---- transactions -----------------------------------------------------------------------------

api::SubmitResult Node::Impl::Admit(const ledger::SignedTransaction& tx, const Hash256& tx_hash,
                                    const std::string& source, bool from_client) {
  api::SubmitResult r;
  r.tx_hash = tx_hash;
  using Code = api::SubmitResult::Code;
  if (shutting_down_) {
    r.code = Code::kUnavailable;
    r.reason = "shutting-down";
    return r;
  }
  // A committed transaction fails admission on its sequence (or, for evidence, as recorded
  // evidence); only then is the transaction index asked, so that fresh transactions cost no
  // index read.
  auto committed = [&]() -> bool {
    auto loc = store_->GetTxLocation(r.tx_hash);
    if (!loc.ok()) return false;
    r.code = Code::kCommitted;
    r.message = "committed at height " + std::to_string(loc->height);
    return true;
  };
  const ledger::ChainTip tip = store_->Tip();
  ledger::ApplyContext ctx{tip.height + 1, std::max(network::EventLoop::WallMs(), tip.time_ms + 1),
                           tip.log_size};
  // One rule set whatever the path; the signatures were verified through the cache already.
  Admission a = mempool_.Add(tx, r.tx_hash, state_, ctx, sig_cache_, source,
                             network::EventLoop::MonotonicMs());
  if ((a.code == Admission::Code::kConflict || a.code == Admission::Code::kRejected) &&
      (a.reason == "bad-sequence" || a.reason == "evidence-exists") && committed()) {
    return r;
  }
  switch (a.code) {
    case Admission::Code::kAccepted:
      r.code = Code::kAccepted;
      if (from_client) transport_->Broadcast(kMsgTx, ledger::Encode(tx));
      if (pending_proposal_ && mempool_.ReadyAgencies(state_) > 0) {
        auto [h, round] = *pending_proposal_;
        loop_.Post([this, h, round] { Propose(h, round); });
      }
      break;
    case Admission::Code::kDuplicate:
      r.code = Code::kAccepted;
      r.message = a.message;
      break;
    case Admission::Code::kRejected:
      r.code = Code::kRejected;
      break;
    case Admission::Code::kConflict:
      r.code = Code::kConflict;
      break;
    case Admission::Code::kFull:
      r.code = Code::kBusy;
      break;
  }
  if (a.code != Admission::Code::kAccepted && a.code != Admission::Code::kDuplicate) {
    r.reason = a.reason;
    r.message = a.message;
  }
  return r;
}

api::TxStatusInfo Node::Impl::GetTx(const Hash256& h) const {
  api::TxStatusInfo info;
  info.tx_hash = h;
  if (auto loc = store_->GetTxLocation(h); loc.ok()) {
    info.state = api::TxState::kCommitted;
    info.height = loc->height;
    info.index = loc->index;
    info.log_index = loc->log_index;
    return info;
  }
  // Mempool and rejection log belong to the loop thread; this is called there (WaitTx) or
  // through GetTx below, which posts.
  if (mempool_.Contains(h)) {
    info.state = api::TxState::kPending;
  } else if (const auto* rej = rejected_.Find(h)) {
    info.state = api::TxState::kRejected;
    info.reason = rej->first;
    info.message = rej->second;
  }
  return info;
}

void Node::Impl::WaitTx(const Hash256& h, uint32_t timeout_ms,
                        std::function<void(api::TxStatusInfo)> done) {
  loop_.Post([this, h, timeout_ms, done = std::move(done)]() mutable {
    api::TxStatusInfo now = GetTx(h);
    if (now.state == api::TxState::kCommitted || now.state == api::TxState::kRejected ||
        shutting_down_) {
      done(now);
      return;
    }
    const uint64_t id = next_waiter_id_++;
    waiters_[h].push_back({id, std::move(done)});
    loop_.RunAfter(timeout_ms, [this, h, id]() {
      auto it = waiters_.find(h);
      if (it == waiters_.end()) return;  // answered already
      auto& ws = it->second;
      for (auto w = ws.begin(); w != ws.end(); ++w) {
        if (w->id != id) continue;
        auto fn = std::move(w->done);
        ws.erase(w);
        if (ws.empty()) waiters_.erase(it);
        fn(GetTx(h));
        return;
      }
    });
  });
}

// ---- consensus --------------------------------------------------------------------------------

void Node::Impl::StartHeight() {
  const uint64_t height = store_->Height() + 1;
  height_started_ms_ = network::EventLoop::MonotonicMs();
  invalid_ids_.clear();
  verifying_.clear();
  values_per_round_.clear();
  pending_proposal_.reset();
  if (pending_proposal_timer_) loop_.Cancel(pending_proposal_timer_);
  pending_proposal_timer_ = 0;
  PublishStatus();
  if (!engine_) return;
  auto validators = ledger::ValidatorsForHeight(*store_, height);
  if (!validators.ok()) return Fatal("validator set", validators.status());
  consensus::StartHeight start;
  start.height = height;
  start.validators = *validators;
  // The write-ahead record holds what this validator signed at its current height: replay it
  // if it is for this height (a restart), else start clean.
  auto records = wal_->ReadAll();
  if (!records.ok()) return Fatal("read consensus record", records.status());
  bool reset = false;
  for (const auto& raw : *records) {
    auto m = consensus::DecodeMessage(raw);
    if (!m.ok()) return Fatal("decode consensus record", m.status());
    if (signer_) signer_->Remember(*m);  // the signer's own memory, whatever the height
    if (consensus::HeightOf(*m) == height) {
      start.signed_record.push_back(*m);
    } else {
      reset = true;
    }
  }
  if (reset && start.signed_record.empty()) {
    if (ledger::Status st = wal_->Reset(); !st.ok()) return Fatal("reset consensus record", st);
  }
  if (!start.signed_record.empty()) {
    consensus_log_->info("resuming height {} with {} signed message(s) from the record", height,
                         start.signed_record.size());
  }
  auto result = engine_->Step(start);
  if (result.rejection) {
    consensus_log_->error("engine refused height {}: {}", height,
                          consensus::RejectCode(*result.rejection));
    return;
  }
  Execute(std::move(result));
}

void Node::Impl::Execute(consensus::StepResult result) {
  for (auto& action : result.actions) {
    if (shutting_down_) return;
    if (auto* p = std::get_if<consensus::PersistSigned>(&action)) {
      // Durable before anything that follows (in particular the broadcast of this message).
      const auto started = std::chrono::steady_clock::now();
      if (ledger::Status st = wal_->Append(consensus::EncodeMessage(p->message)); !st.ok()) {
        return Fatal("persist signed message", st);
      }
      wal_write_->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    } else if (auto* b = std::get_if<consensus::Broadcast>(&action)) {
      transport_->Broadcast(kMsgConsensus, consensus::EncodeMessage(b->message));
    } else if (auto* t = std::get_if<consensus::ScheduleTimeout>(&action)) {
      consensus::Timeout timeout = t->timeout;
      loop_.RunAfter(t->delay_ms, [this, timeout] {
        if (engine_ && !shutting_down_) Step(consensus::TimeoutFired{timeout});
      });
    } else if (auto* r = std::get_if<consensus::RequestProposal>(&action)) {
      Propose(r->height, r->round);
    } else if (auto* c = std::get_if<consensus::Commit>(&action)) {
      OnCommit(*c);
    } else if (auto* e = std::get_if<consensus::ReportEvidence>(&action)) {
      ++evidence_seen_;
      consensus_log_->warn(
          "evidence of a double vote by validator {} at height {} round {}; submitting it",
          Short(e->evidence.first.validator), e->evidence.first.height, e->evidence.first.round);
      SubmitEvidence(e->evidence);
    }
  }
}

void Node::Impl::Propose(uint64_t height, uint32_t round) {
  if (!engine_ || engine_->height() != height || engine_->decided()) return;
  const int64_t now = network::EventLoop::WallMs();
  // Without transactions, wait (up to the empty-block interval) for one to arrive, so that an
  // idle chain makes one block per interval instead of as many as consensus allows.
  if (now < last_block_wall_ms_ + static_cast<int64_t>(config_.empty_block_interval_ms) &&
      mempool_.ReadyAgencies(state_) == 0) {
    if (!pending_proposal_) {
      pending_proposal_ = {height, round};
      const auto delay = static_cast<uint64_t>(
          last_block_wall_ms_ + static_cast<int64_t>(config_.empty_block_interval_ms) - now);
      pending_proposal_timer_ = loop_.RunAfter(delay, [this, height, round] {
        pending_proposal_timer_ = 0;
        Propose(height, round);
      });
    }
    return;
  }
  if (pending_proposal_ && pending_proposal_->first == height) {
    pending_proposal_.reset();
    if (pending_proposal_timer_) loop_.Cancel(pending_proposal_timer_);
    pending_proposal_timer_ = 0;
  }
  const ledger::ChainTip tip = store_->Tip();
  if (tip.height + 1 != height) return;
  auto candidates = mempool_.Reap(state_, config_.max_block_txs);
  auto built = ledger::BuildBlock(state_, *store_, tip, store_->Log(), candidates, now,
                                  validator_key_->public_key(), sig_cache_);
  if (!built.ok()) return Fatal("build block", built.status());
  for (const auto& [index, rejection] : built->rejected) {
    const Hash256 h = ledger::TxHash(candidates[index].tx);
    for (const Hash256& dropped : mempool_.Drop(h)) {
      if (dropped == h) {
        rejected_.Add(h, rejection.code(), rejection.message);
      } else {
        rejected_.Add(dropped, "bad-sequence", "an earlier transaction of the agency was rejected");
      }
      AnswerWaiters(dropped);
    }
  }
  const Hash256 id = ledger::BlockHash(built->block.header);
  consensus::Value value{id, ledger::Encode(built->block)};
  validated_[id] = {built->block, std::move(built->effects)};
  NoteProposal(height);
  consensus_log_->debug("proposing height {} round {}: {} txs, block {}", height, round,
                        built->block.txs.size(), Short(id));
  Step(consensus::ProposalReady{height, round, std::move(value)});
}

std::optional<std::string> Node::Impl::CheckHeader(const ledger::BlockHeader& h, uint64_t height,
                                                   const consensus::Proposal* p) const {
  if (h.height != height) return "header height " + std::to_string(h.height);
  // A proposer's clock may run ahead a little, not far.
  if (h.time_ms > network::EventLoop::WallMs() + 30000) return "block time is in the future";
  if (p != nullptr && engine_) {
    // A fresh value is built by the round's proposer; a re-proposed one (valid_round set) by the
    // proposer of the round that first proposed it, at most valid_round.
    if (!p->valid_round) {
      if (h.proposer != p->proposer) return "header proposer is not the round's proposer";
    } else {
      bool found = false;
      for (uint32_t r = 0; r <= *p->valid_round && !found; ++r) {
        found = engine_->Proposer(r) == h.proposer;
      }
      if (!found)
        return "header proposer proposed in none of rounds 0.." + std::to_string(*p->valid_round);
    }
  }
  return std::nullopt;
}

bool Node::Impl::IsValid(uint64_t height, const consensus::Value& value) {
  // Proposals reach the engine only after OnProposalMessage validated them; this synchronous
  // path serves the rare value that did not come that way (e.g. a decision this node never saw
  // proposed), with the same checks in the same order.
  if (validated_.count(value.id)) return true;
  if (invalid_ids_.count(value.id)) return false;
  const ledger::ChainTip tip = store_->Tip();
  if (height != tip.height + 1) return false;
  auto params = ledger::ReadParams(state_);
  if (!params.ok()) {
    Fatal("read chain parameters", params.status());
    return false;
  }
  if (value.payload.size() > params->max_block_bytes) return false;
  auto block = ledger::Decode<ledger::Block>(value.payload);
  if (!block.ok()) {
    consensus_log_->warn("proposal for height {} does not decode: {}", height,
                         block.status().message());
    return false;
  }
  if (ledger::BlockHash(block->header) != value.id) return false;
  if (auto why = CheckHeader(block->header, height, nullptr)) {
    consensus_log_->warn("invalid proposal for height {}: {}", height, *why);
    return false;
  }
  if (ledger::Status st = ledger::PrecheckBlock(*params, *block, value.payload.size()); !st.ok()) {
    consensus_log_->warn("invalid proposal for height {}: {}", height, st.message());
    return false;
  }
  auto effects = ledger::ValidateBlock(state_, *store_, tip, store_->Log(), *block, sig_cache_);
  if (!effects.ok()) {
    if (!effects.status().IsInvalidArgument()) Fatal("validate block", effects.status());
    consensus_log_->warn("invalid proposal for height {}: {}", height, effects.status().message());
    invalid_ids_.insert(value.id);
    return false;
  }
  validated_[value.id] = {std::move(*block), std::move(*effects)};
  return true;
}

void Node::Impl::OnProposalMessage(const PublicKey& peer, consensus::Proposal p) {
  const uint64_t height = store_->Height() + 1;
  const Hash256 id = p.value.id;
  // The cheapest check of all, first and whatever the height or round: no proposal may carry
  // more than max_block_bytes, so a sender of one misbehaves (the payload is not signed: the
  // sender, not the proposer, is blamed).
  auto params = ledger::ReadParams(state_);
  if (!params.ok()) return Fatal("read chain parameters", params.status());
  if (p.value.payload.size() > params->max_block_bytes) {
    return Penalise(peer, "proposal of " + std::to_string(p.value.payload.size()) + " bytes");
  }
  // Not this height, not yet a started height, or a round too far ahead: the engine's own checks
  // (no validation of the value happens there).
  if (p.height != height || engine_->height() != height ||
      p.round > engine_->round() + engine_->options().max_rounds_ahead) {
    Step(consensus::Receive{std::move(p)});
    return;
  }
  if (validated_.count(id)) {
    Step(consensus::Receive{std::move(p)});
    return;
  }
  // Honest nodes never relay what they found invalid: whoever sends it again misbehaves.
  if (invalid_ids_.count(id)) return Penalise(peer, "relayed an invalid proposal");
  if (p.proposer != engine_->Proposer(p.round)) return Penalise(peer, "proposal by a non-proposer");
  if (auto it = verifying_.find(id); it != verifying_.end()) {
    if (it->second.size() < kMaxWaitingPerValue) it->second.push_back(std::move(p));
    return;
  }
  auto& per_round = values_per_round_[p.round];
  if (!per_round.count(id) && per_round.size() >= kMaxValuesPerRound) return;  // over budget
  // One signature check before anything is done with the payload: only the round's proposer
  // can make us spend more.
  const consensus::Proposal& msg = p;
  if (!sig_cache_.Verify(msg.proposer, consensus::SigningDigestOf(domain_, msg), msg.signature)) {
    return Penalise(peer, "proposal signature does not verify");
  }
  // From here the proposer signed the id; the payload bytes are not signed (a relay could have
  // changed them), so a payload that does not match the id blames the sender, not the id.
  auto block = ledger::Decode<ledger::Block>(p.value.payload);
  if (!block.ok()) return Penalise(peer, "proposal does not decode: " + block.status().message());
  if (ledger::BlockHash(block->header) != id) return Penalise(peer, "proposal id mismatch");
  if (ledger::Status st = ledger::PrecheckBlock(*params, *block, p.value.payload.size());
      !st.ok()) {
    return Penalise(peer, st.message());
  }
  per_round.insert(id);
  if (auto why = CheckHeader(block->header, height, &p)) {
    // The header is signed through the id: the value itself is invalid.
    invalid_ids_.insert(id);
    ++invalid_proposals_;
    consensus_log_->warn("invalid proposal {} for height {} round {}: {}", Short(id), height,
                         p.round, *why);
    return;
  }
  // The signatures: those this node verified already (gossip, admission) are found in the cache
  // here; the others are verified on the workers, in chunks so that every core helps, ahead of
  // any queued gossip; the outcome comes back to the loop once every chunk is done.
  auto shared_block = std::make_shared<ledger::Block>(std::move(*block));
  verifying_[id].push_back(std::move(p));
  auto unknown = std::make_shared<std::vector<size_t>>();
  for (size_t i = 0; i < shared_block->txs.size(); ++i) {
    const auto& stx = shared_block->txs[i];
    const Hash256 digest = ledger::TxSigningDigest(stx.tx, domain_.genesis_hash);
    for (const auto& s : stx.signatures) {
      if (!sig_cache_.Known(s.signer, digest, s.signature)) {
        unknown->push_back(i);
        break;
      }
    }
  }
  if (unknown->empty()) return FinishProposal(peer, height, id, shared_block, true);
  struct Job {
    std::atomic<size_t> left{0};
    std::atomic<bool> ok{true};
  };
  auto job = std::make_shared<Job>();
  constexpr size_t kChunk = 128;
  const size_t n = unknown->size();
  const size_t chunks = (n + kChunk - 1) / kChunk;
  job->left = chunks;
  for (size_t c = 0; c < chunks; ++c) {
    verifiers_.SubmitUrgent([this, job, shared_block, unknown, c, n, peer, height, id] {
      for (size_t k = c * kChunk; k < std::min(n, (c + 1) * kChunk) && job->ok; ++k) {
        if (VerifySignatures(shared_block->txs[(*unknown)[k]], domain_.genesis_hash, sig_cache_))
          job->ok = false;
      }
      if (job->left.fetch_sub(1) == 1) {
        const bool ok = job->ok;
        loop_.Post([this, peer, height, id, shared_block, ok] {
          FinishProposal(peer, height, id, shared_block, ok);
        });
      }
    });
  }
}

void Node::Impl::FinishProposal(const PublicKey& peer, uint64_t height, const Hash256& id,
                                std::shared_ptr<ledger::Block> block, bool signatures_ok) {
  if (shutting_down_) return;
  auto waiting = verifying_.find(id);
  if (waiting == verifying_.end() || height != store_->Height() + 1) return;  // height moved on
  std::vector<consensus::Proposal> proposals = std::move(waiting->second);
  verifying_.erase(waiting);
  if (!signatures_ok) {
    invalid_ids_.insert(id);
    ++invalid_proposals_;
    return Penalise(peer, "proposal " + Short(id) + " carries a transaction with a bad signature");
  }
  // Every signature is in the cache now: the state rules cost no verification.
  auto effects =
      ledger::ValidateBlock(state_, *store_, store_->Tip(), store_->Log(), *block, sig_cache_);
  if (!effects.ok()) {
    if (!effects.status().IsInvalidArgument()) return Fatal("validate block", effects.status());
    invalid_ids_.insert(id);
    ++invalid_proposals_;
    consensus_log_->warn("invalid proposal {} for height {}: {}", Short(id), height,
                         effects.status().message());
    return;
  }
  validated_[id] = {std::move(*block), std::move(*effects)};
  NoteProposal(height);
  for (auto& p : proposals) {
    if (shutting_down_ || store_->Height() + 1 != height) return;
    Step(consensus::Receive{std::move(p)});
  }
}

void Node::Impl::Penalise(const PublicKey& peer, const std::string& why) {
  ++peer_penalties_;
  const int64_t now = network::EventLoop::MonotonicMs();
  const bool was_banned = Banned(peer);
  banned_until_[peer] = now + kPenaltyMs;
  if (!was_banned) {
    p2p_log_->warn("peer {} misbehaved ({}); disconnected and refused for 30 s",
                   peer_names_.count(peer) ? peer_names_[peer] : Short(peer), why);
  }
  peer_heights_.erase(peer);
  if (sync_peer_ == peer) sync_peer_.reset();
  // Cut it off too: ignoring alone would still cost a read, a decryption and a decode per
  // frame it sends. The transport refuses it and does not redial it until the ban ends.
  if (transport_ && !was_banned) transport_->Disconnect(peer, why.substr(0, 200), kPenaltyMs);
}

bool Node::Impl::Banned(const PublicKey& peer) const {
  auto it = banned_until_.find(peer);
  return it != banned_until_.end() && network::EventLoop::MonotonicMs() < it->second;
}

void Node::Impl::SubmitEvidence(const consensus::DuplicateVoteEvidence& e) {
  auto mirror = [](const consensus::Vote& v) {
    return ledger::SignedVote{v.type, v.height, v.round, v.block_id, v.validator, v.signature};
  };
  ledger::SignedTransaction stx;
  stx.tx.chain_id = genesis_.params.chain_id;
  stx.tx.event = ledger::DuplicateVoteEvent{mirror(e.first), mirror(e.second)};
  api::SubmitResult r = Admit(stx, ledger::TxHash(stx.tx), "self", /*from_client=*/true);
  if (r.code != api::SubmitResult::Code::kAccepted) {
    mempool_log_->info("evidence transaction {} not admitted: {} {}", Short(r.tx_hash), r.reason,
                       r.message);
  }
}

void Node::Impl::NoteDropped(const std::vector<Dropped>& dropped) {
  for (const auto& d : dropped) {
    rejected_.Add(d.hash, d.reason, d.message);
    AnswerWaiters(d.hash);
  }
}

void Node::Impl::OnCommit(const consensus::Commit& c) {
  if (c.height != store_->Height() + 1) {
    // Block sync got there first.
    if (c.height <= store_->Height()) StartHeight();
    return;
  }
  auto it = validated_.find(c.value.id);
  if (it == validated_.end()) {
    if (!IsValid(c.height, c.value)) {
      // More than two thirds of the power committed a block this node cannot validate: its
      // state has diverged (or it is faulty). Halting is the only safe answer.
      return Fatal("committed block",
                   ledger::Status::Corruption("block " + Short(c.value.id) +
                                              " committed by the network is invalid here"));
    }
    it = validated_.find(c.value.id);
  }
  auto entry = std::move(it->second);
  ApplyCommitted(entry.first, c.certificate, entry.second, /*start_next=*/true);
}

void Node::Impl::ApplyCommitted(const ledger::Block& block, const ledger::CommitCertificate& cert,
                                const ledger::BlockEffects& effects, bool start_next) {
  const int64_t write_started = network::EventLoop::MonotonicMs();
  if (ledger::Status st = store_->AppendBlock(block, cert, effects); !st.ok()) {
    state_.Clear();
    return Fatal("store block " + std::to_string(block.header.height), st);
  }
  store_write_->Observe(static_cast<double>(network::EventLoop::MonotonicMs() - write_started) /
                        1000.0);
  state_.Committed(effects.changes);
  if (block.header.height % api::kCheckpointInterval == 0) {
    // Staples for large validator sets rest on this checkpoint (api/staple.h).
    std::shared_ptr<const ledger::StoreView> view = store_->View();
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_view_ = std::move(view);
  }
  const int64_t now_mono = network::EventLoop::MonotonicMs();
  last_block_wall_ms_ = network::EventLoop::WallMs();
  ++blocks_committed_;
  txs_committed_ += block.txs.size();
  if (engine_) rounds_total_ += engine_->round();
  if (start_next) {
    commit_latency_->Observe(static_cast<double>(now_mono - height_started_ms_) / 1000.0);
  }
  mempool_.Committed(block, state_);
  validated_.clear();
  {
    // What the block changed may make pending transactions invalid: check each agency's next one.
    const ledger::ChainTip tip = store_->Tip();
    ledger::ApplyContext ctx{tip.height + 1,
                             std::max(network::EventLoop::WallMs(), tip.time_ms + 1), tip.log_size};
    NoteDropped(mempool_.Recheck(state_, ctx, sig_cache_));
  }
  for (const auto& stx : block.txs) {
    const Hash256 h = ledger::TxHash(stx.tx);
    AnswerWaiters(h);
  }
  if (block.header.height % 100 == 0 || !block.txs.empty()) {
    consensus_log_->info("committed height {} ({} txs, block {})", block.header.height,
                         block.txs.size(), Short(ledger::BlockHash(block.header)));
  }
  if (!start_next) return;
  StartHeight();
  if (transport_) transport_->Broadcast(kMsgStatus, OwnStatus());
}

// ---- peers ------------------------------------------------------------------------------------

void Node::Impl::OnPeerConnected(const PublicKey& peer) {
  connected_.insert(peer);
  p2p_log_->info("peer {} connected", peer_names_.count(peer) ? peer_names_[peer] : Short(peer));
  transport_->Send(peer, kMsgStatus, OwnStatus());
  PublishStatus();
}

void Node::Impl::OnPeerDisconnected(const PublicKey& peer, const std::string& reason) {
  connected_.erase(peer);
  peer_heights_.erase(peer);
  if (sync_peer_ == peer) sync_peer_.reset();
  p2p_log_->info("peer {} disconnected: {}",
                 peer_names_.count(peer) ? peer_names_[peer] : Short(peer), reason);
  PublishStatus();
}

void Node::Impl::OnMessage(const PublicKey& peer, uint8_t type, ledger::ByteSpan payload) {
  if (shutting_down_) return;
  if (Banned(peer)) {
    ++dropped_gossip_;
    return;
  }
  switch (type) {
    case kMsgConsensus: {
      if (!engine_) return;
      auto m = consensus::DecodeMessage(payload);
      if (!m.ok()) return Penalise(peer, "consensus message: " + m.status().message());
      if (auto* p = std::get_if<consensus::Proposal>(&*m)) {
        return OnProposalMessage(peer, std::move(*p));
      }
      Step(consensus::Receive{std::move(*m)});
      return;
    }
    case kMsgTx: {
      // Cheap checks first: size, encoding, already known; then the signatures on a worker,
      // within a per-peer and a total budget of queued bytes; then admission on the loop.
      if (payload.size() > genesis_.params.max_tx_bytes) {
        return Penalise(peer, "transaction frame of " + std::to_string(payload.size()) + " bytes");
      }
      auto tx = ledger::Decode<ledger::SignedTransaction>(payload);
      if (!tx.ok()) return Penalise(peer, "transaction does not decode");
      const Hash256 hash = ledger::TxHash(tx->tx);
      if (mempool_.Contains(hash)) return;
      const uint64_t bytes = payload.size();
      uint64_t& queued = verify_queue_bytes_[peer];
      if (queued + bytes > kMaxVerifyBytesPerPeer ||
          verify_queue_total_ + bytes > kMaxVerifyBytesTotal) {
        ++dropped_gossip_;  // the sender's node keeps it; it reaches us in a block
        return;
      }
      queued += bytes;
      verify_queue_total_ += bytes;
      verifiers_.Submit([this, peer, bytes, hash, tx = std::move(*tx)]() mutable {
        const bool ok = !VerifySignatures(tx, domain_.genesis_hash, sig_cache_);
        loop_.Post([this, peer, bytes, ok, hash, tx = std::move(tx)] {
          uint64_t& q = verify_queue_bytes_[peer];
          q -= bytes;
          verify_queue_total_ -= bytes;
          if (q == 0) verify_queue_bytes_.erase(peer);
          if (shutting_down_) return;
          // Honest nodes relay only what verified on their side.
          if (!ok) return Penalise(peer, "relayed a transaction with a bad signature");
          Admit(tx, hash, "peer:" + peer.Hex(), /*from_client=*/false);
        });
      });
      return;
    }
    case kMsgStatus: {
      auto s = DecodeStatus(payload);
      if (!s.ok()) return Penalise(peer, "status: " + s.status().message());
      OnStatus(peer, *s);
      return;
    }
    case kMsgBlockRequest: {
      auto req = DecodeBlockRequest(payload);
      if (req.ok()) ServeBlocks(peer, *req);
      return;
    }
    case kMsgBlockResponse: {
      auto resp = DecodeBlockResponse(payload);
      if (!resp.ok()) {
        sync_log_->warn("bad block response from {}: {}", Short(peer), resp.status().message());
        return;
      }
      ApplySyncedBlocks(peer, *resp);
      return;
    }
    default:
      p2p_log_->debug("unknown message type {} from {}", type, Short(peer));
  }
}

const ledger::Bytes& Node::Impl::OwnStatus() {
  const uint64_t h = store_->Height();
  if (h != status_payload_height_) {
    StatusMessage s;
    s.height = h;
    if (h > 0) {
      auto header = store_->GetHeader(h);
      auto commit = store_->GetCommit(h);
      if (header.ok() && commit.ok())
        s.proof = std::make_pair(std::move(*header), std::move(*commit));
    }
    status_payload_ = EncodeStatus(s);
    status_payload_height_ = h;
  }
  return status_payload_;
}

void Node::Impl::OnStatus(const PublicKey& peer, const StatusMessage& s) {
  const uint64_t ours = store_->Height();
  best_verified_height_ = std::max(best_verified_height_, ours);
  if (s.height <= ours) {
    // Nothing to believe or fear: it claims no more than we have.
    peer_heights_[peer] = s.height;
    return;
  }
  auto known = peer_heights_.find(peer);
  if (known != peer_heights_.end() && known->second >= s.height) return;  // verified before
  if (!s.proof)
    return Penalise(peer, "status height " + std::to_string(s.height) + " without proof");
  // One proof check per peer per second at most: a peer cannot make us verify at its pace.
  const int64_t now = network::EventLoop::MonotonicMs();
  auto& last = last_status_check_ms_[peer];
  if (now - last < 1000) return;
  last = now;
  const auto& [header, commit] = *s.proof;
  const Hash256 id = ledger::BlockHash(header);
  if (header.chain_id != genesis_.params.chain_id)
    return Penalise(peer, "status for another chain");
  auto trusted = ledger::ValidatorsForHeight(*store_, ours + 1);
  if (!trusted.ok()) return Fatal("validator set", trusted.status());
  // The next height: the exact rule. Further: the skipping rule over the set we know.
  ledger::Status st =
      s.height == ours + 1
          ? ledger::VerifyCommit(domain_, *trusted, s.height, id, commit, sig_cache_)
          : ledger::VerifyCommitTrusting(domain_, *trusted, s.height, id, commit, sig_cache_);
  if (!st.ok()) {
    if (s.height > ours + 1 && st.message().find("not more than a third") != std::string::npos) {
      // Not enough of the set we know signed: the set may have changed too much to skip to it.
      // Not a lie; block sync from peers that prove smaller steps gets us there.
      return;
    }
    return Penalise(peer, "status proof: " + st.message());
  }
  peer_heights_[peer] = s.height;
  best_verified_height_ = std::max(best_verified_height_, s.height);
  MaybeRequestBlocks();
}

void Node::Impl::MaybeRequestBlocks() {
  const uint64_t ours = store_->Height();
  const int64_t now = network::EventLoop::MonotonicMs();
  if (sync_peer_ && now < sync_deadline_ms_) return;  // one request in flight
  if (sync_peer_) {
    // It did not answer in time: ask someone else next (a slow or withholding peer cannot
    // keep us behind), and forget its height until it proves one again.
    peer_heights_.erase(*sync_peer_);
    sync_peer_.reset();
  }
  // The peer with the highest height. A node one block behind usually decides it through
  // consensus in a moment, so sync starts at two blocks behind, or one after a quiet second.
  const PublicKey* best = nullptr;
  uint64_t best_h = 0;
  for (const auto& [p, h] : peer_heights_) {
    if (h > best_h) {
      best_h = h;
      best = &p;
    }
  }
  const bool stalled = now - height_started_ms_ > 1000;
  if (best == nullptr || best_h <= ours || (best_h == ours + 1 && !stalled && engine_)) return;
  BlockRequest req{ours + 1,
                   static_cast<uint32_t>(std::min<uint64_t>(best_h - ours, kMaxSyncBlocks))};
  sync_peer_ = *best;
  sync_deadline_ms_ = now + 5000;
  transport_->Send(*best, kMsgBlockRequest, EncodeBlockRequest(req));
}

void Node::Impl::ServeBlocks(const PublicKey& peer, const BlockRequest& req) {
  BlockResponse resp;
  size_t bytes = 0;
  for (uint64_t h = req.from; h < req.from + req.count && h <= store_->Height(); ++h) {
    auto b = store_->GetBlock(h);
    auto c = store_->GetCommit(h);
    if (!b.ok() || !c.ok()) break;
    bytes += ledger::Encode(*b).size();
    resp.blocks.push_back({std::move(*b), std::move(*c)});
    if (bytes > kMaxPeerFrameBytes / 2) break;
  }
  transport_->Send(peer, kMsgBlockResponse, EncodeBlockResponse(resp));
}

void Node::Impl::ApplySyncedBlocks(const PublicKey& peer, const BlockResponse& resp) {
  if (sync_peer_ == peer) sync_peer_.reset();
  size_t applied = 0;
  for (const auto& [block, commit] : resp.blocks) {
    const ledger::ChainTip tip = store_->Tip();
    if (block.header.height <= tip.height) continue;
    if (block.header.height != tip.height + 1) break;
    auto validators = ledger::ValidatorsForHeight(*store_, block.header.height);
    if (!validators.ok()) return Fatal("validator set", validators.status());
    ledger::Status st = ledger::VerifyCommit(domain_, *validators, block.header.height,
                                             ledger::BlockHash(block.header), commit, sig_cache_);
    if (!st.ok()) {
      Penalise(peer, "synced block " + std::to_string(block.header.height) +
                         " has a bad commit: " + st.message());
      break;
    }
    auto effects = ledger::ValidateBlock(state_, *store_, tip, store_->Log(), block, sig_cache_);
    if (!effects.ok()) {
      if (!effects.status().IsInvalidArgument()) return Fatal("validate block", effects.status());
      // A block with a valid commit that does not validate here: diverged state.
      return Fatal("synced block", effects.status());
    }
    ApplyCommitted(block, commit, *effects, /*start_next=*/false);
    ++applied;
    if (shutting_down_) return;
  }
  if (applied == 0 && store_->Height() < best_verified_height_) {
    // Nothing useful from this peer: ask another next time.
    peer_heights_.erase(peer);
  }
  if (applied > 0) {
    synced_blocks_ += applied;
    sync_log_->info("synced {} block(s) from {}; height {}", applied, Short(peer),
                    store_->Height());
    StartHeight();
    transport_->Broadcast(kMsgStatus, OwnStatus());
  }
  MaybeRequestBlocks();
}

// ---- periodic work ----------------------------------------------------------------------------

void Node::Impl::Tick() {
  if (shutting_down_) return;
  const int64_t now = network::EventLoop::MonotonicMs();
  // Re-gossip the current height's messages when it makes no progress: lost messages then reach
  // everyone eventually (the algorithm's gossip assumption).
  if (engine_ && now - height_started_ms_ > 500) {
    for (const auto& m : engine_->GossipMessages()) {
      transport_->Broadcast(kMsgConsensus, consensus::EncodeMessage(m));
    }
  }
  transport_->Broadcast(kMsgStatus, OwnStatus());
  NoteDropped(mempool_.Expire(now));
  MaybeRequestBlocks();
  PublishStatus();
  loop_.RunAfter(500, [this] { Tick(); });
}

void Node::Impl::PublishStatus() {
  api::NodeStatus s;
  s.moniker = config_.moniker;
  s.chain_id = genesis_.params.chain_id;
  s.validator = validator_key_.has_value();
  s.node_key = node_key_.public_key();
  s.height = store_->Height();
  s.round = engine_ ? engine_->round() : 0;
  uint64_t best = 0;
  for (const auto& [p, h] : peer_heights_) best = std::max(best, h);
  s.best_peer_height = std::max(best, best_verified_height_);
  // Only verified heights count: an announced number cannot make this node refuse submissions.
  s.syncing = s.best_peer_height > s.height + 1;
  s.mempool_txs = mempool_.size();
  s.mempool_bytes = mempool_.bytes();
  for (const auto& p : config_.peers) {
    s.peers.push_back({p.name, p.key, connected_.count(p.key) > 0});
  }
  s.published_mono_ms = api::SteadyNowMs();
  {
    // Storage: the data directory must accept writes and keep room for blocks.
    const std::string dir = config_.Path(config_.data_dir);
    struct statvfs fs {};
    if (::access(dir.c_str(), W_OK) != 0) {
      s.storage_ok = false;
      s.storage_problem = dir + " is not writable";
    } else if (::statvfs(dir.c_str(), &fs) == 0 &&
               static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < kMinFreeDiskBytes) {
      s.storage_ok = false;
      s.storage_problem =
          "less than " + std::to_string(kMinFreeDiskBytes >> 20) + " MiB free in " + dir;
    }
  }
  std::vector<std::pair<std::string, double>> v;
  auto put = [&v](const char* name, uint64_t value) {
    v.emplace_back(name, static_cast<double>(value));
  };
  put("height", s.height);
  put("round", s.round);
  put("sync_lag", s.best_peer_height > s.height ? s.best_peer_height - s.height : 0);
  put("blocks_committed", blocks_committed_);
  put("txs_committed", txs_committed_);
  put("rounds_skipped", rounds_total_);
  put("blocks_synced", synced_blocks_);
  put("evidence", evidence_seen_);
  put("mempool_txs", s.mempool_txs);
  put("mempool_bytes", s.mempool_bytes);
  put("peer_penalties", peer_penalties_);
  put("invalid_proposals", invalid_proposals_);
  put("signer_refusals", signer_ ? signer_->refusals() : 0);
  put("dropped_gossip", dropped_gossip_);
  put("peers_connected", connected_.size());
  put("peers_configured", config_.peers.size());
  {
    auto cs = sig_cache_.stats();
    put("sig_hits", cs.hits);
    put("sig_verifications", cs.misses);
  }
  if (transport_) {
    auto ts = transport_->stats();
    put("p2p_bytes_in", ts.bytes_in);
    put("p2p_bytes_out", ts.bytes_out);
    const auto& f = ts.handshake_failures;
    put("hs_unknown_key", f.unknown_key);
    put("hs_wrong_chain", f.wrong_chain);
    put("hs_bad_auth", f.bad_auth);
    put("hs_protocol", f.protocol);
    put("hs_timeout", f.timeout);
    put("hs_over_limit", f.over_limit);
    put("hs_banned", f.banned);
    put("p2p_unauthentic_frames", ts.unauthentic_frames);
    put("p2p_bans", ts.bans);
    put("p2p_protocol_errors", ts.protocol_errors);
  }
  std::lock_guard lock(status_mu_);
  status_ = std::move(s);
  metric_values_ = std::move(v);
}

void Node::Impl::RegisterMetrics() {
  prometheus::Registry& r = metrics_->registry();
  auto histogram = [&r](const char* name, const char* help) {
    return &prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add(
        {}, api::LatencyBuckets());
  };
  commit_latency_ = histogram("certledger_commit_latency_seconds",
                              "Time from the start of a height to its commit on this node.");
  proposal_latency_ =
      histogram("certledger_proposal_latency_seconds",
                "Time from the start of a height to the first valid proposal this node has.");
  store_write_ = histogram("certledger_store_write_seconds",
                           "Time to write one committed block to the store (synced).");
  wal_write_ = histogram("certledger_wal_write_seconds",
                         "Time to append one signed consensus message to the write-ahead record "
                         "(synced).");
  const BuildInfo& b = GetBuildInfo();
  prometheus::BuildGauge()
      .Name("certledger_build_info")
      .Help("The running binary: version, git commit and build type (value 1).")
      .Register(r)
      .Add({{"version", b.version}, {"commit", b.commit}, {"build_type", b.build_type}})
      .Set(1);
  metrics_->AddCollector([this] { return CollectMetrics(); });
}

std::vector<prometheus::MetricFamily> Node::Impl::CollectMetrics() const {
  std::map<std::string, double> v;
  {
    std::lock_guard lock(status_mu_);
    v.insert(metric_values_.begin(), metric_values_.end());
  }
  auto get = [&v](const char* key) {
    auto it = v.find(key);
    return it == v.end() ? 0.0 : it->second;
  };
  std::vector<prometheus::MetricFamily> out;
  auto gauge = [&](const char* name, const char* help, const char* key) {
    out.push_back(api::GaugeFamily(name, help, get(key)));
  };
  auto counter = [&](const char* name, const char* help, const char* key) {
    out.push_back(api::CounterFamily(name, help, get(key)));
  };
  gauge("certledger_height", "Height of the last block committed on this node.", "height");
  gauge("certledger_round", "Consensus round of the height being decided.", "round");
  gauge("certledger_sync_lag_blocks",
        "Blocks between this node and the highest height its peers proved.", "sync_lag");
  counter("certledger_blocks_committed_total", "Blocks committed by consensus on this node.",
          "blocks_committed");
  counter("certledger_txs_committed_total", "Transactions in blocks committed by consensus.",
          "txs_committed");
  counter("certledger_rounds_skipped_total", "Rounds beyond the first needed to commit a height.",
          "rounds_skipped");
  counter("certledger_blocks_synced_total", "Blocks applied by block sync.", "blocks_synced");
  counter("certledger_evidence_total", "Double votes seen (submitted as evidence).", "evidence");
  gauge("certledger_mempool_txs", "Transactions waiting in the mempool.", "mempool_txs");
  gauge("certledger_mempool_bytes", "Bytes of the transactions waiting in the mempool.",
        "mempool_bytes");
  counter("certledger_peer_penalties_total", "Peers ignored for sending provably bad data.",
          "peer_penalties");
  counter("certledger_invalid_proposals_total", "Proposals found invalid.", "invalid_proposals");
  counter("certledger_signer_refusals_total", "Signatures the double-sign guard refused to make.",
          "signer_refusals");
  counter("certledger_p2p_dropped_messages_total",
          "Gossip messages dropped (queues full, penalised peers).", "dropped_gossip");
  gauge("certledger_peers_connected", "Configured peers connected now.", "peers_connected");
  gauge("certledger_peers_configured", "Peers in the configuration.", "peers_configured");
  counter("certledger_signature_cache_hits_total",
          "Signature checks answered by the verified-signature cache.", "sig_hits");
  counter("certledger_signature_verifications_total",
          "Signatures verified (BIP-340), each at most once per node.", "sig_verifications");
  if (v.count("p2p_bytes_in") != 0) {
    counter("certledger_p2p_received_bytes_total", "Bytes received from peers.", "p2p_bytes_in");
    counter("certledger_p2p_sent_bytes_total", "Bytes sent to peers.", "p2p_bytes_out");
    auto f = api::CounterFamily("certledger_p2p_handshake_failures_total",
                                "Peer handshakes that failed, by reason.", get("hs_unknown_key"),
                                {{"reason", "unknown_key"}});
    for (auto [reason, key] :
         {std::pair{"wrong_chain", "hs_wrong_chain"}, std::pair{"bad_auth", "hs_bad_auth"},
          std::pair{"protocol", "hs_protocol"}, std::pair{"timeout", "hs_timeout"},
          std::pair{"over_limit", "hs_over_limit"}, std::pair{"banned", "hs_banned"}}) {
      api::AddSample(f, get(key), {{"reason", reason}});
    }
    out.push_back(std::move(f));
    counter("certledger_p2p_unauthentic_frames_total",
            "Peer frames that failed authentication (dropped with the connection).",
            "p2p_unauthentic_frames");
    counter("certledger_p2p_bans_total", "Peer addresses banned for a while.", "p2p_bans");
    counter("certledger_p2p_protocol_errors_total", "Peer connections closed for protocol errors.",
            "p2p_protocol_errors");
  }
  return out;
}

void Node::Impl::NoteProposal(uint64_t height) {
  if (proposal_observed_height_ == height) return;
  proposal_observed_height_ = height;
  proposal_latency_->Observe(
      static_cast<double>(network::EventLoop::MonotonicMs() - height_started_ms_) / 1000.0);
}

// ---- Node -------------------------------------------------------------------------------------

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;

Result<std::unique_ptr<Node>> Node::Create(const NodeConfig& config) {
  std::ifstream gin(config.Path(config.genesis_file));
  if (!gin)
    return ledger::Status::IOError("cannot read genesis file " + config.Path(config.genesis_file));
  std::stringstream gs;
  gs << gin.rdbuf();
  auto genesis = ledger::ParseGenesisJson(gs.str());
  if (!genesis.ok()) return genesis.status();

  std::optional<ledger::PrivateKey> validator_key;
  std::optional<ledger::PrivateKey> node_key;
  PassphraseSource passphrase;
  if (!config.key_passphrase_file.empty()) {
    passphrase.file = config.Path(config.key_passphrase_file);
  }
  auto read_key = [&](const std::string& file) -> ledger::Result<ledger::PrivateKey> {
    std::string warning;
    auto k = ReadKeyFile(config.Path(file), passphrase, &warning);
    if (k.ok() && !warning.empty()) spdlog::warn("{}", warning);
    return k;
  };
  if (!config.validator_key_file.empty()) {
    auto k = read_key(config.validator_key_file);
    if (!k.ok()) return k.status();
    validator_key = *k;
    if (genesis->validators.Find(k->public_key()) == nullptr) {
      // Not (or no longer) a validator: it can still follow the chain, but say so.
      spdlog::warn("validator key {} is not in the genesis validator set",
                   k->public_key().Hex().substr(0, 12));
    }
  }
  if (!config.node_key_file.empty()) {
    auto k = read_key(config.node_key_file);
    if (!k.ok()) return k.status();
    node_key = *k;
  }
  std::error_code ec;
  std::filesystem::create_directories(config.Path(config.data_dir), ec);
  if (ec)
    return ledger::Status::IOError("cannot create " + config.Path(config.data_dir) + ": " +
                                   ec.message());
  ledger::LevelDBStoreOptions so;
  so.path = (std::filesystem::path(config.Path(config.data_dir)) / "ledger").string();
  auto store = ledger::OpenLevelDBStore(so);
  if (!store.ok()) return store.status();
  if (ledger::Status st = (*store)->Initialize(*genesis); !st.ok()) return st;
  if (!node_key) return ledger::Status::InvalidArgument("config.node_key_file: required");
  if (validator_key) {
    // The validator set names the node identity of each validator: a node must present that
    // identity, not its consensus key, on the peer network.
    auto current = ledger::ReadValidators(**store);
    if (!current.ok()) return current.status();
    const ledger::Validator* v = current->Find(validator_key->public_key());
    if (v != nullptr && v->node_key != node_key->public_key()) {
      return ledger::Status::InvalidArgument(
          "node_key_file holds node identity " + node_key->public_key().Hex().substr(0, 16) +
          ", but the validator set names " + v->node_key.Hex().substr(0, 16) + " for validator " +
          validator_key->public_key().Hex().substr(0, 16));
    }
  }
  auto wal =
      Wal::Open((std::filesystem::path(config.Path(config.data_dir)) / "consensus.wal").string());
  if (!wal.ok()) return wal.status();
  auto impl =
      std::make_unique<Impl>(config, std::move(*genesis), std::move(*store),
                             std::move(validator_key), std::move(*node_key), std::move(*wal));
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

ledger::Status Node::Run() { return impl_->Run(this); }
void Node::Stop() { impl_->Stop(); }
api::NodeStatus Node::Status() const { return impl_->Status(); }
const ledger::Store& Node::store() const { return impl_->store(); }
void Node::SubmitTx(ledger::SignedTransaction tx, std::string source,
                    std::function<void(api::SubmitResult)> done) {
  impl_->SubmitTx(std::move(tx), std::move(source), std::move(done));
}
void Node::SubmitTxs(std::vector<ledger::SignedTransaction> txs, std::string source,
                     std::function<void(std::vector<api::SubmitResult>)> done) {
  impl_->SubmitTxs(std::move(txs), std::move(source), std::move(done));
}
api::TxStatusInfo Node::GetTx(const Hash256& h) const {
  // Mempool state lives on the loop thread: ask it there.
  auto promise = std::make_shared<std::promise<api::TxStatusInfo>>();
  auto future = promise->get_future();
  impl_->WaitTx(h, 0, [promise](api::TxStatusInfo info) { promise->set_value(std::move(info)); });
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    api::TxStatusInfo unknown;
    unknown.tx_hash = h;
    return unknown;
  }
  return future.get();
}
void Node::WaitTx(const Hash256& h, uint32_t timeout_ms,
                  std::function<void(api::TxStatusInfo)> done) {
  impl_->WaitTx(h, timeout_ms, std::move(done));
}
std::shared_ptr<const ledger::StoreView> Node::CheckpointView() const {
  return impl_->CheckpointView();
}
std::optional<std::pair<ledger::PublicKey, ledger::Signature>> Node::SignAnswer(
    const ledger::Hash256& digest) const {
  return impl_->SignAnswer(digest);
}

// ---- the node command -------------------------------------------------------------------------

int RunNodeCommand(const std::string& home, const std::string& log_level,
                   const std::string& log_format) {
  auto config = LoadConfig(home);
  if (config.ok()) {
    // The command line wins over the file and the environment.
    if (!log_level.empty()) config->log_level = log_level;
    if (!log_format.empty()) config->log_format = log_format;
    if (ledger::Status st = config->Validate(); !st.ok()) config = st;
  }
  if (!config.ok()) {
    std::fprintf(stderr, "certledger node: %s\n", config.status().ToString().c_str());
    return 2;
  }
  ConfigureDefaultLogger(config->moniker,
                         config->log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  // SIGINT/SIGTERM ask the node to stop cleanly. The watch (an asio::signal_set on a thread of
  // its own) starts before the node, so that every thread the node starts leaves these signals
  // to it; declared after `node`, it is joined before the node goes away.
  std::unique_ptr<Node> node;
  std::atomic<Node*> running{nullptr};
  std::atomic<bool> stop{false};
  network::SignalWatch signals({SIGINT, SIGTERM}, [&running, &stop](int) {
    stop = true;
    if (Node* n = running.load()) n->Stop();
  });
  auto created = Node::Create(*config);
  if (!created.ok()) {
    std::fprintf(stderr, "certledger node: %s\n", created.status().ToString().c_str());
    return 1;
  }
  node = std::move(*created);
  running = node.get();
  if (stop) return 0;  // asked to stop while starting
  ledger::Status st = node->Run();
  if (!st.ok()) {
    std::fprintf(stderr, "certledger node: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace certledger::node
