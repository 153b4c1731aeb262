#include "node/node.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

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

#include "api/handlers.h"
#include "api/server.h"
#include "consensus/engine.h"
#include "ledger/chain.h"
#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "ledger/leveldb_store.h"
#include "network/event_loop.h"
#include "network/transport.h"
#include "node/keyfile.h"
#include "node/mempool.h"
#include "node/peer_messages.h"
#include "node/wal.h"
#include "node/worker_pool.h"

namespace certledger::node {

using ledger::Hash256;
using ledger::PublicKey;
using ledger::Result;

namespace {

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

}  // namespace

class Node::Impl : public network::Handler, public consensus::ValueValidator {
 public:
  Impl(NodeConfig config, ledger::Genesis genesis, std::unique_ptr<ledger::Store> store,
       std::optional<ledger::PrivateKey> validator_key, ledger::PrivateKey node_key,
       std::unique_ptr<Wal> wal)
      : config_(std::move(config)),
        genesis_(std::move(genesis)),
        store_(std::move(store)),
        validator_key_(std::move(validator_key)),
        node_key_(std::move(node_key)),
        wal_(std::move(wal)),
        mempool_(MempoolOptions{config_.mempool_max_txs, config_.mempool_max_bytes, 10000}) {
    log_ = spdlog::stdout_color_mt("node-" + config_.moniker);
    log_->set_level(spdlog::level::from_str(config_.log_level));
    log_->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + config_.moniker + " %v");
  }

  ~Impl() override { spdlog::drop("node-" + config_.moniker); }

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
  void SubmitTx(ledger::SignedTransaction tx, std::function<void(api::SubmitResult)> done) {
    // Signatures are checked here, on the API thread, so that the event loop only runs the
    // stateful part of admission.
    if (auto bad = VerifySignatures(tx)) {
      api::SubmitResult r;
      r.code = api::SubmitResult::Code::kRejected;
      r.tx_hash = ledger::TxHash(tx.tx);
      r.reason = "bad-signature";
      r.message = "signature by " + *bad + " does not verify";
      return done(std::move(r));
    }
    loop_.Post([this, tx = std::move(tx), done = std::move(done)]() mutable {
      done(Admit(tx, /*from_client=*/true));
    });
  }
  api::TxStatusInfo GetTx(const Hash256& h) const;
  void WaitTx(const Hash256& h, uint32_t timeout_ms, std::function<void(api::TxStatusInfo)> done);
  std::string Metrics() const;

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
  api::SubmitResult Admit(const ledger::SignedTransaction& tx, bool from_client);

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
  std::unique_ptr<ledger::Store> store_;
  std::optional<ledger::PrivateKey> validator_key_;
  ledger::PrivateKey node_key_;
  std::unique_ptr<Wal> wal_;
  Mempool mempool_;
  std::shared_ptr<spdlog::logger> log_;

  network::EventLoop loop_;
  // Declared after loop_: destroyed (drained and joined) before it.
  WorkerPool verifiers_{std::max(1u, std::thread::hardware_concurrency())};
  std::unique_ptr<network::Transport> transport_;
  std::unique_ptr<consensus::KeySigner> signer_;
  consensus::Bip340Verifier verifier_;
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

  // Peers.
  std::set<PublicKey> connected_;
  std::map<PublicKey, uint64_t> peer_heights_;
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

  // Metrics (loop thread writes; read under status_mu_ via snapshot strings).
  uint64_t blocks_committed_ = 0, txs_committed_ = 0, rounds_total_ = 0;
  uint64_t synced_blocks_ = 0, evidence_seen_ = 0;
  double last_commit_latency_ms_ = 0;
  std::vector<double> commit_latency_buckets_ = std::vector<double>(12, 0);
  double commit_latency_sum_ = 0;

  mutable std::mutex status_mu_;
  api::NodeStatus status_;
  std::string metrics_;
};

// ---- startup and shutdown ---------------------------------------------------------------------

ledger::Status Node::Impl::Run(NodeService* service) {
  // Peer transport.
  network::TransportOptions topt(node_key_);
  topt.chain_id = genesis_.params.chain_id;
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
        log_->debug("p2p: {}", msg);
        break;
      case network::LogLevel::kInfo:
        log_->info("p2p: {}", msg);
        break;
      case network::LogLevel::kWarning:
        log_->warn("p2p: {}", msg);
        break;
      case network::LogLevel::kError:
        log_->error("p2p: {}", msg);
        break;
    }
  };
  if (ledger::Status st = topt.Validate(); !st.ok()) return st;
  transport_ = std::make_unique<network::Transport>(loop_.io(), std::move(topt), this);
  if (ledger::Status st = transport_->Start(); !st.ok()) return st;

  // HTTP API.
  handlers_ = std::make_unique<api::Api>(service, api::ApiOptions{});
  api::ServerOptions aopt;
  aopt.host = config_.api_listen.host;
  aopt.port = config_.api_listen.port;
  aopt.threads = static_cast<int>(config_.api_threads);
  aopt.max_connections = config_.api_max_connections;
  aopt.rate_limit_per_second = config_.api_rate_limit_per_second;
  aopt.rate_limit_burst = config_.api_rate_limit_burst;
  if (ledger::Status st = aopt.Validate(); !st.ok()) return st;
  api_server_ = std::make_unique<api::Server>(aopt, *handlers_);
  if (ledger::Status st = api_server_->Start(); !st.ok()) {
    transport_->Stop();
    return st;
  }

  // Consensus (validators only; observers follow through block sync).
  if (validator_key_) {
    consensus::Options copt;
    copt.chain_id = genesis_.params.chain_id;
    copt.timeout_propose_ms = config_.timeout_propose_ms;
    copt.timeout_propose_delta_ms = config_.timeout_propose_delta_ms;
    copt.timeout_prevote_ms = config_.timeout_prevote_ms;
    copt.timeout_prevote_delta_ms = config_.timeout_prevote_delta_ms;
    copt.timeout_precommit_ms = config_.timeout_precommit_ms;
    copt.timeout_precommit_delta_ms = config_.timeout_precommit_delta_ms;
    if (ledger::Status st = copt.Validate(); !st.ok()) return st;
    signer_ = std::make_unique<consensus::KeySigner>(*validator_key_);
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

api::SubmitResult Node::Impl::Admit(const ledger::SignedTransaction& tx, bool from_client) {
  api::SubmitResult r;
  r.tx_hash = ledger::TxHash(tx.tx);
  using Code = api::SubmitResult::Code;
  if (shutting_down_) {
    r.code = Code::kUnavailable;
    r.reason = "shutting-down";
    return r;
  }
  if (auto loc = store_->GetTxLocation(r.tx_hash); loc.ok()) {
    r.code = Code::kCommitted;
    r.message = "committed at height " + std::to_string(loc->height);
    return r;
  }
  const ledger::ChainTip tip = store_->Tip();
  ledger::ApplyContext ctx{tip.height + 1, std::max(network::EventLoop::WallMs(), tip.time_ms + 1),
                           tip.log_size};
  // A transaction relayed by a peer was checked against the rules by that peer's node; block
  // building checks them again in any case, so only the cheap checks run here.
  Admission a = mempool_.Add(tx, r.tx_hash, *store_, ctx, /*signatures_verified=*/true,
                             /*check_rules=*/from_client);
  switch (a.code) {
    case Admission::Code::kAccepted:
      r.code = Code::kAccepted;
      if (from_client) transport_->Broadcast(kMsgTx, ledger::Encode(tx));
      if (pending_proposal_) {
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
    log_->info("resuming height {} with {} signed message(s) from the record", height,
               start.signed_record.size());
  }
  auto result = engine_->Step(start);
  if (result.rejection) {
    log_->error("engine refused height {}: {}", height, consensus::RejectCode(*result.rejection));
    return;
  }
  Execute(std::move(result));
}

void Node::Impl::Execute(consensus::StepResult result) {
  for (auto& action : result.actions) {
    if (shutting_down_) return;
    if (auto* p = std::get_if<consensus::PersistSigned>(&action)) {
      // Durable before anything that follows (in particular the broadcast of this message).
      if (ledger::Status st = wal_->Append(consensus::EncodeMessage(p->message)); !st.ok()) {
        return Fatal("persist signed message", st);
      }
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
      log_->warn("evidence of a double vote by validator {} at height {} round {}",
                 Short(e->evidence.first.validator), e->evidence.first.height,
                 e->evidence.first.round);
    }
  }
}

void Node::Impl::Propose(uint64_t height, uint32_t round) {
  if (!engine_ || engine_->height() != height || engine_->decided()) return;
  const int64_t now = network::EventLoop::WallMs();
  // Without transactions, wait (up to the empty-block interval) for one to arrive, so that an
  // idle chain makes one block per interval instead of as many as consensus allows.
  if (mempool_.size() == 0 &&
      now < last_block_wall_ms_ + static_cast<int64_t>(config_.empty_block_interval_ms)) {
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
  auto candidates = mempool_.Reap(*store_, config_.max_block_txs);
  auto built = ledger::BuildBlock(*store_, tip, store_->Log(), candidates, now,
                                  validator_key_->public_key(), /*verified=*/true);
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
  log_->debug("proposing height {} round {}: {} txs, block {}", height, round,
              built->block.txs.size(), Short(id));
  Step(consensus::ProposalReady{height, round, std::move(value)});
}

bool Node::Impl::IsValid(uint64_t height, const consensus::Value& value) {
  if (validated_.count(value.id)) return true;
  const ledger::ChainTip tip = store_->Tip();
  if (height != tip.height + 1) return false;
  auto block = ledger::Decode<ledger::Block>(value.payload);
  if (!block.ok()) {
    log_->warn("proposal for height {} does not decode: {}", height, block.status().message());
    return false;
  }
  if (ledger::BlockHash(block->header) != value.id) return false;
  // A proposer's clock may run ahead a little, not far.
  if (block->header.time_ms > network::EventLoop::WallMs() + 30000) return false;
  // Signatures of transactions this node has not verified on admission.
  for (const auto& stx : block->txs) {
    const Hash256 h = ledger::TxHash(stx.tx);
    if (mempool_.Verified(h)) continue;
    const Hash256 digest = ledger::TxSigningDigest(stx.tx);
    for (const auto& s : stx.signatures) {
      if (!ledger::Verify(s.signer, digest, s.signature)) return false;
    }
  }
  auto effects = ledger::ValidateBlock(*store_, tip, store_->Log(), *block, /*verify=*/false);
  if (!effects.ok()) {
    if (!effects.status().IsInvalidArgument()) Fatal("validate block", effects.status());
    log_->warn("invalid proposal for height {}: {}", height, effects.status().message());
    return false;
  }
  validated_[value.id] = {std::move(*block), std::move(*effects)};
  return true;
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
  if (ledger::Status st = store_->AppendBlock(block, cert, effects); !st.ok()) {
    return Fatal("store block " + std::to_string(block.header.height), st);
  }
  const int64_t now_mono = network::EventLoop::MonotonicMs();
  last_block_wall_ms_ = network::EventLoop::WallMs();
  ++blocks_committed_;
  txs_committed_ += block.txs.size();
  if (engine_) rounds_total_ += engine_->round();
  last_commit_latency_ms_ = static_cast<double>(now_mono - height_started_ms_);
  commit_latency_sum_ += last_commit_latency_ms_;
  static constexpr double kBounds[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
  for (size_t i = 0; i < 11; ++i) {
    if (last_commit_latency_ms_ <= kBounds[i]) ++commit_latency_buckets_[i];
  }
  ++commit_latency_buckets_[11];
  mempool_.Committed(block, *store_);
  validated_.clear();
  for (const auto& stx : block.txs) {
    const Hash256 h = ledger::TxHash(stx.tx);
    AnswerWaiters(h);
  }
  if (block.header.height % 100 == 0 || !block.txs.empty()) {
    log_->info("committed height {} ({} txs, block {})", block.header.height, block.txs.size(),
               Short(ledger::BlockHash(block.header)));
  }
  if (!start_next) return;
  StartHeight();
  if (transport_) transport_->Broadcast(kMsgStatus, EncodeStatus(store_->Height()));
}

// ---- peers ------------------------------------------------------------------------------------

void Node::Impl::OnPeerConnected(const PublicKey& peer) {
  connected_.insert(peer);
  log_->info("peer {} connected", peer_names_.count(peer) ? peer_names_[peer] : Short(peer));
  transport_->Send(peer, kMsgStatus, EncodeStatus(store_->Height()));
  PublishStatus();
}

void Node::Impl::OnPeerDisconnected(const PublicKey& peer, const std::string& reason) {
  connected_.erase(peer);
  peer_heights_.erase(peer);
  if (sync_peer_ == peer) sync_peer_.reset();
  log_->info("peer {} disconnected: {}", peer_names_.count(peer) ? peer_names_[peer] : Short(peer),
             reason);
  PublishStatus();
}

void Node::Impl::OnMessage(const PublicKey& peer, uint8_t type, ledger::ByteSpan payload) {
  if (shutting_down_) return;
  switch (type) {
    case kMsgConsensus: {
      if (!engine_) return;
      auto m = consensus::DecodeMessage(payload);
      if (!m.ok()) {
        log_->debug("bad consensus message from {}: {}", Short(peer), m.status().message());
        return;
      }
      Step(consensus::Receive{std::move(*m)});
      return;
    }
    case kMsgTx: {
      auto tx = ledger::Decode<ledger::SignedTransaction>(payload);
      if (!tx.ok()) return;
      if (mempool_.Contains(ledger::TxHash(tx->tx))) return;
      // Verify on a worker, admit on the loop.
      verifiers_.Submit([this, tx = std::move(*tx)]() mutable {
        if (VerifySignatures(tx)) return;  // a peer relayed a badly signed transaction: drop it
        loop_.Post([this, tx = std::move(tx)] { Admit(tx, /*from_client=*/false); });
      });
      return;
    }
    case kMsgStatus: {
      auto h = DecodeStatus(payload);
      if (!h.ok()) return;
      peer_heights_[peer] = *h;
      MaybeRequestBlocks();
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
        log_->warn("bad block response from {}: {}", Short(peer), resp.status().message());
        return;
      }
      ApplySyncedBlocks(peer, *resp);
      return;
    }
    default:
      log_->debug("unknown message type {} from {}", type, Short(peer));
  }
}

void Node::Impl::MaybeRequestBlocks() {
  const uint64_t ours = store_->Height();
  const int64_t now = network::EventLoop::MonotonicMs();
  if (sync_peer_ && now < sync_deadline_ms_) return;  // one request in flight
  sync_peer_.reset();
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
    ledger::Status st =
        ledger::VerifyCommit(genesis_.params.chain_id, *validators, block.header.height,
                             ledger::BlockHash(block.header), commit);
    if (!st.ok()) {
      log_->warn("synced block {} from {} has a bad commit: {}", block.header.height, Short(peer),
                 st.message());
      break;
    }
    auto effects = ledger::ValidateBlock(*store_, tip, store_->Log(), block, /*verify=*/true);
    if (!effects.ok()) {
      if (!effects.status().IsInvalidArgument()) return Fatal("validate block", effects.status());
      // A block with a valid commit that does not validate here: diverged state.
      return Fatal("synced block", effects.status());
    }
    ApplyCommitted(block, commit, *effects, /*start_next=*/false);
    ++applied;
    if (shutting_down_) return;
  }
  if (applied > 0) {
    synced_blocks_ += applied;
    log_->info("synced {} block(s) from {}; height {}", applied, Short(peer), store_->Height());
    StartHeight();
    transport_->Broadcast(kMsgStatus, EncodeStatus(store_->Height()));
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
  transport_->Broadcast(kMsgStatus, EncodeStatus(store_->Height()));
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
  s.best_peer_height = best;
  s.syncing = best > s.height + 1;
  s.mempool_txs = mempool_.size();
  s.mempool_bytes = mempool_.bytes();
  for (const auto& p : config_.peers) {
    s.peers.push_back({p.name, p.key, connected_.count(p.key) > 0});
  }
  std::ostringstream m;
  m << "# TYPE certledger_height gauge\ncertledger_height " << s.height << "\n";
  m << "# TYPE certledger_round gauge\ncertledger_round " << s.round << "\n";
  m << "# TYPE certledger_blocks_committed_total counter\ncertledger_blocks_committed_total "
    << blocks_committed_ << "\n";
  m << "# TYPE certledger_txs_committed_total counter\ncertledger_txs_committed_total "
    << txs_committed_ << "\n";
  m << "# TYPE certledger_rounds_skipped_total counter\ncertledger_rounds_skipped_total "
    << rounds_total_ << "\n";
  m << "# TYPE certledger_blocks_synced_total counter\ncertledger_blocks_synced_total "
    << synced_blocks_ << "\n";
  m << "# TYPE certledger_evidence_total counter\ncertledger_evidence_total " << evidence_seen_
    << "\n";
  m << "# TYPE certledger_mempool_txs gauge\ncertledger_mempool_txs " << s.mempool_txs << "\n";
  m << "# TYPE certledger_mempool_bytes gauge\ncertledger_mempool_bytes " << s.mempool_bytes
    << "\n";
  m << "# TYPE certledger_peers_connected gauge\ncertledger_peers_connected " << connected_.size()
    << "\n";
  m << "# TYPE certledger_commit_latency_ms histogram\n";
  static constexpr const char* kLe[] = {"5",   "10",   "25",   "50",   "100",  "250",
                                        "500", "1000", "2500", "5000", "10000"};
  for (size_t i = 0; i < 11; ++i) {
    m << "certledger_commit_latency_ms_bucket{le=\"" << kLe[i] << "\"} "
      << commit_latency_buckets_[i] << "\n";
  }
  m << "certledger_commit_latency_ms_bucket{le=\"+Inf\"} " << commit_latency_buckets_[11] << "\n";
  m << "certledger_commit_latency_ms_sum " << commit_latency_sum_ << "\n";
  m << "certledger_commit_latency_ms_count " << commit_latency_buckets_[11] << "\n";
  if (transport_) {
    auto ts = transport_->stats();
    m << "# TYPE certledger_p2p_bytes_in_total counter\ncertledger_p2p_bytes_in_total "
      << ts.bytes_in << "\n";
    m << "# TYPE certledger_p2p_bytes_out_total counter\ncertledger_p2p_bytes_out_total "
      << ts.bytes_out << "\n";
    m << "# TYPE certledger_p2p_handshake_failures_total counter\n";
    const auto& f = ts.handshake_failures;
    m << "certledger_p2p_handshake_failures_total{reason=\"unknown_key\"} " << f.unknown_key
      << "\ncertledger_p2p_handshake_failures_total{reason=\"wrong_chain\"} " << f.wrong_chain
      << "\ncertledger_p2p_handshake_failures_total{reason=\"bad_auth\"} " << f.bad_auth
      << "\ncertledger_p2p_handshake_failures_total{reason=\"protocol\"} " << f.protocol << "\n";
    m << "# TYPE certledger_p2p_protocol_errors_total "
         "counter\ncertledger_p2p_protocol_errors_total "
      << ts.protocol_errors << "\n";
  }
  std::lock_guard lock(status_mu_);
  status_ = std::move(s);
  metrics_ = m.str();
}

std::string Node::Impl::Metrics() const {
  std::lock_guard lock(status_mu_);
  return metrics_;
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
  if (!config.validator_key_file.empty()) {
    auto k = ReadKeyFile(config.Path(config.validator_key_file));
    if (!k.ok()) return k.status();
    validator_key = *k;
    node_key = *k;
    if (genesis->validators.Find(k->public_key()) == nullptr) {
      // Not (or no longer) a validator: it can still follow the chain, but say so.
      spdlog::warn("validator key {} is not in the genesis validator set",
                   k->public_key().Hex().substr(0, 12));
    }
  }
  if (!config.node_key_file.empty()) {
    auto k = ReadKeyFile(config.Path(config.node_key_file));
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
void Node::SubmitTx(ledger::SignedTransaction tx, std::function<void(api::SubmitResult)> done) {
  impl_->SubmitTx(std::move(tx), std::move(done));
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
std::string Node::Metrics() const { return impl_->Metrics(); }

// ---- the node command -------------------------------------------------------------------------

int RunNodeCommand(const std::string& home) {
  auto config = LoadConfig(home);
  if (!config.ok()) {
    std::fprintf(stderr, "certledger node: %s\n", config.status().ToString().c_str());
    return 2;
  }
  auto node = Node::Create(*config);
  if (!node.ok()) {
    std::fprintf(stderr, "certledger node: %s\n", node.status().ToString().c_str());
    return 1;
  }
  // SIGINT/SIGTERM: a dedicated thread waits for them and asks the node to stop cleanly.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::atomic<bool> done{false};
  Node* raw = node->get();
  std::thread signals([&set, &done, raw] {
    int sig = 0;
    while (!done.load()) {
      timespec ts{0, 200 * 1000 * 1000};
      sig = sigtimedwait(&set, nullptr, &ts);
      if (sig == SIGINT || sig == SIGTERM) {
        raw->Stop();
        return;
      }
    }
  });
  ledger::Status st = (*node)->Run();
  done = true;
  signals.join();
  if (!st.ok()) {
    std::fprintf(stderr, "certledger node: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace certledger::node
