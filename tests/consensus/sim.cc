#include "tests/consensus/sim.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "consensus/engine.h"
#include "ledger/coding.h"
#include "ledger/commit.h"
#include "tests/consensus/test_keys.h"

namespace certledger::consensus::sim {

namespace {

const ledger::ChainDomain kChain{"certledger-sim", {}};

// xoshiro256** seeded through splitmix64: fast, good enough, and the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) s = SplitMix(seed);
  }
  uint64_t Next() {
    uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [lo, hi].
  uint64_t Range(uint64_t lo, uint64_t hi) { return lo + Next() % (hi - lo + 1); }
  // True with probability per_mille / 1000.
  bool Chance(uint64_t per_mille) { return Next() % 1000 < per_mille; }

 private:
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

bool ProposesInvalidBlocks(Behaviour b) {
  return b == Behaviour::kForgedTxSignature || b == Behaviour::kBadTxRoot;
}

// ---- simulated blocks (the layout is in sim.h) ------------------------------------------------

struct SimTx {
  bool signature_ok = true;  // stands for "its signature verifies"
  std::string tag;
};

Bytes EncodeTxs(const std::vector<SimTx>& txs) {
  Bytes out;
  out.push_back(static_cast<uint8_t>(txs.size()));
  for (const auto& t : txs) {
    out.push_back(t.signature_ok ? 1 : 0);
    out.push_back(static_cast<uint8_t>(t.tag.size()));
    out.insert(out.end(), t.tag.begin(), t.tag.end());
  }
  return out;
}

Bytes EncodeHeader(uint64_t height, const Hash256& root) {
  Bytes out = {'b', 'l', 'k'};
  ledger::PutFixed64(&out, height);
  out.insert(out.end(), root.bytes.begin(), root.bytes.end());
  return out;
}
constexpr size_t kHeaderBytes = 3 + 8 + 32;

// A block whose root and id match its transactions.
Value MakeBlock(uint64_t height, const std::vector<SimTx>& txs) {
  Bytes body = EncodeTxs(txs);
  Value v;
  v.payload = EncodeHeader(height, ledger::Sha256(body));
  v.id = ledger::Sha256(v.payload);
  v.payload.insert(v.payload.end(), body.begin(), body.end());
  return v;
}

// What a correct proposer builds.
Value MakeSimValue(uint64_t height, const std::string& tag) {
  return MakeBlock(height, {SimTx{true, tag}});
}

struct ParsedBlock {
  uint64_t height = 0;
  Hash256 root;
  std::vector<SimTx> txs;
};

std::optional<ParsedBlock> ParseBlock(const Bytes& p) {
  if (p.size() < kHeaderBytes + 1 || p[0] != 'b' || p[1] != 'l' || p[2] != 'k') return std::nullopt;
  ParsedBlock b;
  b.height = ledger::DecodeFixed64(p.data() + 3);
  std::copy(p.begin() + 11, p.begin() + kHeaderBytes, b.root.bytes.begin());
  size_t pos = kHeaderBytes;
  const size_t count = p[pos++];
  for (size_t k = 0; k < count; ++k) {
    if (p.size() - pos < 2 || p[pos] > 1) return std::nullopt;
    SimTx t;
    t.signature_ok = p[pos] == 1;
    const size_t len = p[pos + 1];
    pos += 2;
    if (p.size() - pos < len) return std::nullopt;
    t.tag.assign(p.begin() + static_cast<std::ptrdiff_t>(pos),
                 p.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
    b.txs.push_back(std::move(t));
  }
  if (pos != p.size()) return std::nullopt;
  return b;
}

// valid(v): the checks node/node.cc IsValid makes of a real block, in the same order: it
// decodes, is for this height, the id is the header's hash (ledger::BlockHash), every
// transaction's signature verifies, and the transactions match the header's root (part of
// ledger::ValidateBlock).
bool SimValueValid(uint64_t height, const Value& v) {
  auto b = ParseBlock(v.payload);
  if (!b || b->height != height) return false;
  ledger::ByteSpan payload(v.payload);
  if (ledger::Sha256(payload.first(kHeaderBytes)) != v.id) return false;
  for (const auto& t : b->txs)
    if (!t.signature_ok) return false;
  return ledger::Sha256(payload.subspan(kHeaderBytes)) == b->root;
}

// Each engine's ValueValidator: SimValueValid, counting the values a correct validator refuses.
class NodeValidator final : public ValueValidator {
 public:
  NodeValidator(bool correct, uint64_t* rejections) : correct_(correct), rejections_(rejections) {}
  [[nodiscard]] bool IsValid(uint64_t height, const Value& value) override {
    const bool ok = SimValueValid(height, value);
    if (!ok && correct_) ++*rejections_;
    return ok;
  }

 private:
  const bool correct_;
  uint64_t* const rejections_;
};

enum class EventKind : uint8_t {
  kDeliver,
  kTimer,
  kProposalReady,
  kGossip,
  kCrash,
  kRestart,
  kSync
};

struct Event {
  uint64_t time = 0;
  uint64_t seq = 0;
  EventKind kind = EventKind::kDeliver;
  uint32_t node = 0;
  uint64_t gen = 0;  // the node's incarnation; events of an earlier one are dropped
  std::shared_ptr<const Message> msg;
  Timeout timeout;
  ProposalReady ready;
  std::shared_ptr<const Commit> sync;  // a committed block with its certificate (block sync)
  bool operator>(const Event& o) const { return std::tie(time, seq) > std::tie(o.time, o.seq); }
};

struct Node {
  uint32_t key = 0;  // index of its TestKey
  bool byzantine = false;
  Behaviour behaviour = Behaviour::kSilent;
  bool split_invalid = false;  // kForgedTxSignature, kBadTxRoot: also sends a valid block
  std::unique_ptr<NodeValidator> validator;
  bool up = true;
  uint64_t gen = 0;
  std::unique_ptr<Signer> signer;
  std::unique_ptr<Engine> engine;
  std::vector<Message> record;  // persisted signed messages of the current height
  uint64_t next_height = 1;
  std::map<uint64_t, Hash256> committed;
  std::map<uint64_t, std::shared_ptr<const Commit>> certs;  // block store: value + certificate
  std::vector<std::shared_ptr<const Message>> seen;         // Byzantine replay buffer
  std::vector<Hash256> seen_ids;                            // proposal ids seen (Byzantine)
};

class Simulation {
 public:
  explicit Simulation(const SimConfig& c) : c_(c), rng_(c.seed) {}

  SimResult Run() {
    Setup();
    while (!queue_.empty() && result_.violation.empty()) {
      Event e = queue_.top();
      queue_.pop();
      now_ = e.time;
      if (++result_.events > c_.max_events) {
        Fail("event budget exhausted");
        break;
      }
      if (!gst_reached_ && now_ >= c_.gst_ms) OnGst();
      Handle(e);
      if (!result_.violation.empty()) break;
      if (Done()) break;
      if (gst_reached_ && c_.stop_at_height == 0 && now_ > c_.gst_ms + c_.liveness_bound_ms) {
        LivenessFailure();
        break;
      }
    }
    if (result_.violation.empty() && !Done()) LivenessFailure();
    Summarise();
    return result_;
  }

 private:
  // ---- setup ----------------------------------------------------------------------------------

  void Setup() {
    uint32_t f = (c_.n - 1) / 3;
    uint32_t byz = c_.byzantine.value_or(c_.faults.byzantine ? f : 0);
    std::vector<uint32_t> order(c_.n);
    for (uint32_t i = 0; i < c_.n; ++i) order[i] = i;
    for (uint32_t i = c_.n; i > 1; --i) std::swap(order[i - 1], order[rng_.Range(0, i - 1)]);
    std::set<uint32_t> byz_keys(order.begin(), order.begin() + byz);

    base_set_ = testing::MakeSet(c_.n);
    verifier_ = c_.real_signatures ? std::unique_ptr<Verifier>(new Bip340Verifier())
                                   : std::unique_ptr<Verifier>(new testing::FastVerifier());
    counting_ = std::make_unique<testing::CountingVerifier>(verifier_.get());
    nodes_.resize(c_.n);
    for (uint32_t i = 0; i < c_.n; ++i) {
      Node& nd = nodes_[i];
      nd.key = i;
      nd.byzantine = byz_keys.contains(i);
      if (nd.byzantine) {
        nd.behaviour =
            c_.behaviour ? *c_.behaviour : static_cast<Behaviour>(rng_.Range(0, kBehaviours - 1));
        if (ProposesInvalidBlocks(nd.behaviour)) nd.split_invalid = rng_.Chance(500);
      }
      nd.validator = std::make_unique<NodeValidator>(!nd.byzantine, &result_.invalid_rejections);
      key_to_node_[testing::TestKey(i).public_key()] = i;
      if (c_.real_signatures) {
        nd.signer = std::make_unique<testing::DeterministicKeySigner>(testing::TestKey(i));
      } else {
        nd.signer = std::make_unique<testing::FastSigner>(testing::TestKey(i).public_key());
      }
    }
    options_.domain = kChain;
    options_.timeout_propose_ms = 400;
    options_.timeout_propose_delta_ms = 100;
    options_.timeout_prevote_ms = 200;
    options_.timeout_prevote_delta_ms = 100;
    options_.timeout_precommit_ms = 200;
    options_.timeout_precommit_delta_ms = 100;
    options_.max_rounds_ahead = 8;

    uint64_t pre = c_.stop_at_height ? 0 : c_.gst_ms;
    if (c_.faults.crash && pre > 0) {
      uint64_t crashes = rng_.Range(1, 2 + c_.n / 3);
      for (uint64_t k = 0; k < crashes; ++k) {
        uint32_t who = static_cast<uint32_t>(rng_.Range(0, c_.n - 1));
        Push(Event{rng_.Range(1, pre - 1), 0, EventKind::kCrash, who, 0, nullptr, {}, {}, nullptr});
      }
    }
    if (c_.faults.partition && pre > 0) {
      // Non-overlapping partition intervals before GST, each splitting off a random subset.
      uint64_t t = rng_.Range(0, pre / 4);
      while (t < pre) {
        uint64_t end = std::min(pre, t + rng_.Range(500, 2500));
        std::vector<uint8_t> side(c_.n);
        for (auto& s : side) s = static_cast<uint8_t>(rng_.Range(0, 1));
        partitions_.push_back({t, end, side});
        t = end + rng_.Range(200, 2000);
      }
    }
    for (uint32_t i = 0; i < c_.n; ++i) {
      Boot(i);
      Push(Event{
          rng_.Range(1, c_.gossip_ms), 0, EventKind::kGossip, i, 0, nullptr, {}, {}, nullptr});
    }
  }

  Options NodeOptions(const Node& nd) const {
    Options o = options_;
    if (nd.byzantine ? nd.behaviour == Behaviour::kAmnesia : c_.disable_locking) {
      o.TEST_disable_locking = true;
    }
    return o;
  }

  void Boot(uint32_t i) {
    Node& nd = nodes_[i];
    nd.up = true;
    ++nd.gen;
    nd.engine = std::make_unique<Engine>(NodeOptions(nd), nd.signer.get(), counting_.get(),
                                         nd.validator.get());
    Feed(i, StartHeight{nd.next_height, SetFor(nd, nd.next_height), nd.record});
  }

  // The set of height h is a function of the block committed at h - kValidatorSetDelay: the
  // powers of correct validators move between 1 and 2 (Byzantine ones stay 1, so they always
  // hold less than a third).
  ledger::ValidatorSet SetFor(const Node& nd, uint64_t h) const {
    if (!c_.validator_set_changes || h <= kValidatorSetDelay) return base_set_;
    auto it = nd.committed.find(h - kValidatorSetDelay);
    if (it == nd.committed.end()) return base_set_;  // cannot happen for a correct node
    ledger::ValidatorSet s = base_set_;
    for (auto& v : s.validators) {
      uint32_t k = key_to_node_.at(v.key);
      if (!nodes_[k].byzantine)
        v.power = 1 + ((static_cast<uint32_t>(it->second.bytes[k % 32]) >> (k % 8)) & 1u);
    }
    return s;
  }

  // ---- events ---------------------------------------------------------------------------------

  void Push(Event e) {
    e.seq = ++seq_;
    queue_.push(std::move(e));
  }

  void Handle(const Event& e) {
    Node& nd = nodes_[e.node];
    switch (e.kind) {
      case EventKind::kDeliver:
        if (!nd.up) return;
        ++result_.deliveries;
        if (nd.byzantine) Observe(nd, e.msg);
        Feed(e.node, Receive{*e.msg});
        return;
      case EventKind::kTimer:
        if (nd.up && e.gen == nd.gen) Feed(e.node, TimeoutFired{e.timeout});
        return;
      case EventKind::kProposalReady:
        if (nd.up && e.gen == nd.gen) Feed(e.node, e.ready);
        return;
      case EventKind::kGossip:
        Gossip(e.node);
        Push(
            Event{now_ + c_.gossip_ms, 0, EventKind::kGossip, e.node, 0, nullptr, {}, {}, nullptr});
        return;
      case EventKind::kCrash:
        if (!nd.byzantine && nd.up && now_ < c_.gst_ms) Crash(e.node);
        return;
      case EventKind::kRestart:
        if (!nd.up && e.gen == nd.gen) Boot(e.node);
        return;
      case EventKind::kSync:
        // The node's block sync: a verified block + certificate for its current height.
        if (nd.up && nd.engine && e.sync->height == nd.next_height) {
          if (!CheckCertificate(SetFor(nd, e.sync->height), e.sync->height, e.sync->value.id,
                                e.sync->certificate)) {
            return Fail("block sync delivered a certificate that does not verify");
          }
          OnCommit(e.node, *e.sync);
        }
        return;
    }
  }

  void Crash(uint32_t i) {
    Node& nd = nodes_[i];
    nd.up = false;
    nd.engine.reset();
    ++nd.gen;
    ++result_.crashes;
    uint64_t back = std::min(now_ + rng_.Range(100, 3000), c_.gst_ms);
    Push(Event{
        std::max(back, now_ + 1), 0, EventKind::kRestart, i, nd.gen, nullptr, {}, {}, nullptr});
  }

  void OnGst() {
    gst_reached_ = true;
    uint64_t h0 = 0;
    for (const auto& nd : nodes_)
      if (!nd.byzantine && !nd.committed.empty()) h0 = std::max(h0, nd.committed.rbegin()->first);
    target_ = c_.stop_at_height ? c_.stop_at_height : h0 + c_.heights_after_gst;
  }

  bool Done() {
    if (c_.stop_at_height == 0 && !gst_reached_) return false;
    uint64_t target = c_.stop_at_height ? c_.stop_at_height : target_;
    for (const auto& nd : nodes_)
      if (!nd.byzantine && nd.next_height <= target) return false;
    result_.liveness_ms = gst_reached_ ? now_ - std::min(now_, c_.gst_ms) : now_;
    return true;
  }

  void LivenessFailure() {
    std::ostringstream os;
    os << "liveness: at t=" << now_ << "ms (GST " << c_.gst_ms << "ms) target height " << target_;
    for (uint32_t i = 0; i < c_.n; ++i) {
      const Node& nd = nodes_[i];
      if (nd.byzantine) continue;
      os << "; node " << i << " h=" << nd.next_height;
      if (nd.engine) {
        os << " r=" << nd.engine->round() << " s=" << int(nd.engine->step())
           << " lr=" << (nd.engine->locked_round() ? int64_t{*nd.engine->locked_round()} : -1)
           << " vr=" << (nd.engine->valid_round() ? int64_t{*nd.engine->valid_round()} : -1)
           << " lid=" << (nd.engine->locked_id() ? nd.engine->locked_id()->Hex().substr(0, 6) : "-")
           << " vid="
           << (nd.engine->valid_value() ? nd.engine->valid_value()->id.Hex().substr(0, 6) : "-");
      }
    }
    Fail(os.str());
  }

  void Summarise() {
    result_.sim_time_ms = now_;
    result_.verifications = counting_->count();
    result_.min_height = UINT64_MAX;
    for (const auto& nd : nodes_) {
      if (nd.byzantine) continue;
      uint64_t h = nd.next_height - 1;
      result_.min_height = std::min(result_.min_height, h);
      result_.max_height = std::max(result_.max_height, h);
    }
  }

  void Fail(std::string why) {
    if (result_.violation.empty()) result_.violation = std::move(why);
  }

  // ---- the network ----------------------------------------------------------------------------

  bool Partitioned(uint32_t a, uint32_t b) const {
    for (const auto& p : partitions_) {
      if (now_ >= p.start && now_ < p.end) return p.side[a] != p.side[b];
    }
    return false;
  }

  void Send(uint32_t from, uint32_t to, const std::shared_ptr<const Message>& m) {
    bool pre = now_ < c_.gst_ms && c_.stop_at_height == 0;
    if (pre && c_.faults.partition && Partitioned(from, to)) return;
    if (pre && c_.faults.loss && rng_.Chance(150)) return;
    int copies = c_.faults.duplicate && rng_.Chance(50) ? 2 : 1;
    for (int k = 0; k < copies; ++k) {
      uint64_t delay = pre ? rng_.Range(1, c_.pre_gst_max_delay_ms) : rng_.Range(1, c_.delta_ms);
      Push(Event{now_ + delay, 0, EventKind::kDeliver, to, 0, m, {}, {}, nullptr});
    }
  }

  void SendSync(uint32_t from, uint32_t to, const std::shared_ptr<const Commit>& c) {
    bool pre = now_ < c_.gst_ms && c_.stop_at_height == 0;
    if (pre && c_.faults.partition && Partitioned(from, to)) return;
    if (pre && c_.faults.loss && rng_.Chance(150)) return;
    uint64_t delay = pre ? rng_.Range(1, c_.pre_gst_max_delay_ms) : rng_.Range(1, c_.delta_ms);
    Event e{now_ + delay, 0, EventKind::kSync, to, 0, nullptr, {}, {}, c};
    Push(std::move(e));
  }

  void SendAll(uint32_t from, const Message& m) {
    auto shared = std::make_shared<const Message>(m);
    for (uint32_t j = 0; j < c_.n; ++j)
      if (j != from) Send(from, j, shared);
  }

  // Gossip: a node sends what it holds for its height (and the last decision) to one random peer.
  void Gossip(uint32_t i) {
    Node& nd = nodes_[i];
    if (!nd.up || !nd.engine) return;
    if (nd.byzantine && nd.behaviour == Behaviour::kSilent) return;
    uint32_t to = static_cast<uint32_t>(rng_.Range(0, c_.n - 2));
    if (to >= i) ++to;
    for (const auto& m : nd.engine->GossipMessages()) {
      Send(i, to, std::make_shared<const Message>(m));
    }
    // Block sync for a peer that is behind (the node's job, not the engine's).
    auto behind = nd.certs.find(nodes_[to].next_height);
    if (behind != nd.certs.end()) SendSync(i, to, behind->second);
    if (nd.byzantine && nd.behaviour == Behaviour::kReplay && !nd.seen.empty()) {
      for (int k = 0; k < 8; ++k) {
        const auto& old = nd.seen[rng_.Range(0, nd.seen.size() - 1)];
        Send(i, static_cast<uint32_t>(rng_.Range(0, c_.n - 1)) % c_.n, old);
      }
    }
  }

  // ---- driving a node -------------------------------------------------------------------------

  void Feed(uint32_t i, const Input& in) {
    Node& nd = nodes_[i];
    if (!nd.up || !nd.engine) return;
    StepResult res = nd.engine->Step(in);
    Execute(i, res.actions);
  }

  void Execute(uint32_t i, const std::vector<Action>& actions) {
    for (const Action& a : actions) {
      Node& nd = nodes_[i];
      if (!nd.up) return;  // crashed in the middle of this step: the rest never happened
      if (const auto* p = std::get_if<PersistSigned>(&a)) {
        ++result_.signatures;
        if (!nd.byzantine) {
          // Own messages, or the proposal a lock refers to (signed by its proposer).
          if (SignerOf(p->message) == nd.signer->public_key()) CheckSigning(i, p->message);
          nd.record.push_back(p->message);
          // A crash right after the write and before the send.
          if (c_.faults.crash && now_ < c_.gst_ms &&
              rng_.Chance(c_.crash_after_persist_per_mille)) {
            Crash(i);
            return;
          }
        }
      } else if (const auto* b = std::get_if<Broadcast>(&a)) {
        if (nd.byzantine) {
          ByzantineBroadcast(i, b->message);
        } else {
          CheckSigning(i, b->message);
          SendAll(i, b->message);
        }
      } else if (const auto* t = std::get_if<ScheduleTimeout>(&a)) {
        Event e{
            now_ + t->delay_ms, 0, EventKind::kTimer, i, nd.gen, nullptr, t->timeout, {}, nullptr};
        Push(std::move(e));
      } else if (const auto* r = std::get_if<RequestProposal>(&a)) {
        std::string tag = "n" + std::to_string(i) + "r" + std::to_string(r->round) + "x" +
                          std::to_string(rng_.Next() % 100000);
        Value v = MakeSimValue(r->height, tag);
        if (nd.byzantine && ProposesInvalidBlocks(nd.behaviour) && !nd.split_invalid) {
          // The engine itself signs the invalid block, so its gossip repeats the same proposal.
          v = InvalidBlock(nd, v, r->height);
        } else {
          proposed_.insert(v.id);
        }
        Event e{now_ + rng_.Range(1, 10),
                0,
                EventKind::kProposalReady,
                i,
                nd.gen,
                nullptr,
                {},
                {},
                nullptr};
        e.ready = ProposalReady{r->height, r->round, v};
        Push(std::move(e));
      } else if (const auto* c = std::get_if<Commit>(&a)) {
        OnCommit(i, *c);
      } else if (const auto* ev = std::get_if<ReportEvidence>(&a)) {
        OnEvidence(i, ev->evidence);
      }
    }
  }

  // No correct validator signs two different messages for one (height, round, step), across
  // restarts.
  void CheckSigning(uint32_t i, const Message& m) {
    uint8_t step = 0;
    std::optional<Hash256> id;
    if (const auto* p = std::get_if<Proposal>(&m)) {
      id = p->value.id;
      if (!proposed_.contains(p->value.id)) Fail("node proposed a value nobody built");
      if (!SimValueValid(p->height, p->value)) {
        Fail("validity: correct validator " + std::to_string(i) + " proposed an invalid value");
      }
    } else {
      const Vote& v = std::get<Vote>(m);
      step = static_cast<uint8_t>(v.type);
      id = v.block_id;
      // Only the id of a valid value can gather a correct validator's vote; an id that only
      // invalid blocks carry (a forged signature, a bad root) must never get one.
      if (v.block_id && !proposed_.contains(*v.block_id)) {
        std::ostringstream os;
        os << "validity: correct validator " << i << " voted for "
           << v.block_id->Hex().substr(0, 12) << " at height " << v.height << " round " << v.round
           << ", which no valid proposal carries";
        Fail(os.str());
      }
    }
    auto key = std::make_tuple(i, HeightOf(m), RoundOf(m), step);
    auto [it, inserted] = signed_.emplace(key, id);
    if (!inserted && it->second != id) {
      std::ostringstream os;
      os << "correct validator " << i << " signed conflicting messages at height " << HeightOf(m)
         << " round " << RoundOf(m) << " step " << int{step};
      Fail(os.str());
    }
    if (SignerOf(m) != nodes_[i].signer->public_key()) Fail("message signed by another key");
  }

  bool CheckCertificate(const ledger::ValidatorSet& set, uint64_t h, const Hash256& id,
                        const ledger::CommitCertificate& cert) {
    if (c_.real_signatures) return ledger::VerifyCommit(kChain, set, h, id, cert).ok();
    // ledger::VerifyCommit, with the fast test verifier in place of BIP-340.
    if (cert.height != h || cert.block_id != id) return false;
    Hash256 digest = ledger::VoteSigningDigest(kChain, VoteType::kPrecommit, h, cert.round, id);
    std::set<PublicKey> seen;
    uint64_t power = 0;
    for (const auto& s : cert.signatures) {
      const ledger::Validator* v = set.Find(s.validator);
      if (v == nullptr || !seen.insert(s.validator).second) return false;
      if (!verifier_->Verify(s.validator, digest, s.signature)) return false;
      power += v->power;
    }
    return ledger::IsSupermajority(power, set.TotalPower());
  }

  void OnCommit(uint32_t i, const Commit& c) {
    Node& nd = nodes_[i];
    if (!nd.byzantine) {
      std::ostringstream os;
      if (c.height != nd.next_height) {
        os << "node " << i << " committed height " << c.height << " expecting " << nd.next_height;
      } else if (!proposed_.contains(c.value.id) || !SimValueValid(c.height, c.value)) {
        os << "validity: node " << i << " committed a value that was not proposed or is invalid";
      } else if (auto it = decided_.find(c.height);
                 it != decided_.end() && it->second != c.value.id) {
        os << "agreement: node " << i << " committed " << c.value.id.Hex().substr(0, 12)
           << " at height " << c.height << ", another correct node committed "
           << it->second.Hex().substr(0, 12);
      } else if (!CheckCertificate(SetFor(nd, c.height), c.height, c.value.id, c.certificate)) {
        os << "node " << i << " produced a commit certificate that does not verify at height "
           << c.height;
      }
      if (!os.str().empty()) return Fail(os.str());
      decided_.emplace(c.height, c.value.id);
    }
    nd.committed[c.height] = c.value.id;
    nd.certs[c.height] = std::make_shared<const Commit>(c);
    nd.next_height = c.height + 1;
    nd.record.clear();
    Feed(i, StartHeight{nd.next_height, SetFor(nd, nd.next_height), {}});
  }

  void OnEvidence(uint32_t i, const DuplicateVoteEvidence& e) {
    ++result_.evidence;
    auto verify = [this](const PublicKey& k, const Hash256& d, const Signature& s) {
      return verifier_->Verify(k, d, s);
    };
    if (!CheckEvidence(kChain, e, verify).ok()) return Fail("node reported invalid evidence");
    auto it = key_to_node_.find(e.first.validator);
    if (it == key_to_node_.end() || !nodes_[it->second].byzantine) {
      if (!nodes_[i].byzantine) Fail("evidence against a correct validator");
    }
  }

  // ---- Byzantine behaviour --------------------------------------------------------------------

  void Observe(Node& nd, const std::shared_ptr<const Message>& m) {
    if (nd.behaviour == Behaviour::kReplay && nd.seen.size() < 4000) nd.seen.push_back(m);
    if (const auto* p = std::get_if<Proposal>(m.get())) {
      if (nd.seen_ids.size() > 16) nd.seen_ids.erase(nd.seen_ids.begin());
      nd.seen_ids.push_back(p->value.id);
    }
  }

  std::optional<Hash256> OtherId(Node& nd, const std::optional<Hash256>& not_this) {
    for (int k = 0; k < 4 && !nd.seen_ids.empty(); ++k) {
      const Hash256& c = nd.seen_ids[rng_.Range(0, nd.seen_ids.size() - 1)];
      if (c != not_this) return c;
    }
    if (not_this) return std::nullopt;
    return testing::MakeValue(0, "junk" + std::to_string(rng_.Next())).id;
  }

  template <class T>
  T Resign(Node& nd, T m) {
    // A Byzantine node signs whatever it likes: the test signers never refuse.
    m.signature = nd.signer->Sign(RequestFor(kChain, m)).value();
    ++result_.signatures;
    return m;
  }

  // An application-invalid block derived from the valid `v`, correctly signed by whoever proposes
  // it, as behaviour kForgedTxSignature or kBadTxRoot of `nd` makes it.
  Value InvalidBlock(const Node& nd, const Value& v, uint64_t height) {
    auto b = ParseBlock(v.payload);
    std::vector<SimTx> txs = b ? b->txs : std::vector<SimTx>{};
    if (nd.behaviour == Behaviour::kForgedTxSignature) {
      // Root and id match; only the signature check of a transaction finds the fault.
      txs.push_back(SimTx{false, "forged" + std::to_string(rng_.Next() % 1000)});
      return MakeBlock(height, txs);
    }
    txs.push_back(SimTx{true, "smuggled"});
    Value bad;
    switch (rng_.Range(0, 2)) {
      case 0:
        // v's header and id, other transactions: the root does not match them. To a validator
        // that receives v as well this is the same id with another payload.
        bad.id = v.id;
        bad.payload.assign(v.payload.begin(),
                           v.payload.begin() + static_cast<std::ptrdiff_t>(kHeaderBytes));
        {
          Bytes body = EncodeTxs(txs);
          bad.payload.insert(bad.payload.end(), body.begin(), body.end());
        }
        return bad;
      case 1:
        // A consistent block under v's id, which is not its header's hash.
        bad = MakeBlock(height, txs);
        bad.id = v.id;
        return bad;
      default:
        // An id that is no header's hash.
        bad = MakeBlock(height, txs);
        bad.id = testing::MakeValue(0, "junk" + std::to_string(rng_.Next())).id;
        return bad;
    }
  }

  // Sends `a` to a random part of the peers and `b` to the rest.
  void Split(uint32_t i, const Message& a, const Message& b) {
    auto sa = std::make_shared<const Message>(a);
    auto sb = std::make_shared<const Message>(b);
    for (uint32_t j = 0; j < c_.n; ++j)
      if (j != i) Send(i, j, rng_.Chance(500) ? sa : sb);
  }

  void ByzantineBroadcast(uint32_t i, const Message& m) {
    Node& nd = nodes_[i];
    switch (nd.behaviour) {
      case Behaviour::kSilent:
        return;
      case Behaviour::kAmnesia:
      case Behaviour::kReplay:
        return SendAll(i, m);
      case Behaviour::kEquivocate:
      case Behaviour::kSplitProposals:
        if (const auto* v = std::get_if<Vote>(&m)) {
          Vote alt = *v;
          alt.block_id = OtherId(nd, v->block_id);
          return Split(i, m, Resign(nd, alt));
        }
        if (nd.behaviour == Behaviour::kSplitProposals) {
          Proposal alt = std::get<Proposal>(m);
          bool bad = rng_.Chance(300);
          const std::string tag = "byz" + std::to_string(rng_.Next() % 100000);
          alt.value = MakeSimValue(alt.height, tag);
          if (bad) {
            alt.value = MakeBlock(alt.height, {SimTx{true, tag}, SimTx{false, "forged"}});
            ++result_.invalid_proposals;
            ++result_.split_invalid_proposals;
          } else {
            proposed_.insert(alt.value.id);
          }
          alt.valid_round.reset();
          return Split(i, m, Resign(nd, alt));
        }
        return SendAll(i, m);
      case Behaviour::kForgedTxSignature:
      case Behaviour::kBadTxRoot: {
        const auto* p = std::get_if<Proposal>(&m);
        if (p == nullptr) return SendAll(i, m);  // votes as a correct validator would
        ++result_.invalid_proposals;
        // Not split: the engine signed an invalid block (see RequestProposal) and it goes to
        // everyone. A valid block here is a split proposal, or a re-proposal of a valid value
        // (valid_round) that the proposer replaces; valid_round is kept, as a lie.
        if (!SimValueValid(p->height, p->value)) return SendAll(i, m);
        Proposal bad = *p;
        bad.value = InvalidBlock(nd, p->value, p->height);
        if (!nd.split_invalid) return SendAll(i, Resign(nd, bad));
        ++result_.split_invalid_proposals;
        return Split(i, m, Resign(nd, bad));
      }
      case Behaviour::kFlood:
        SendAll(i, m);
        if (const auto* v = std::get_if<Vote>(&m)) {
          for (uint32_t k = 1; k <= 20; ++k) {
            Vote far = *v;
            far.round = v->round + k;
            far.block_id = OtherId(nd, std::nullopt);
            SendAll(i, Resign(nd, far));
          }
        }
        return;
    }
  }

  struct Partition {
    uint64_t start;
    uint64_t end;
    std::vector<uint8_t> side;
  };

  const SimConfig c_;
  Rng rng_;
  Options options_;
  ledger::ValidatorSet base_set_;
  std::unique_ptr<Verifier> verifier_;
  std::unique_ptr<testing::CountingVerifier> counting_;
  std::vector<Node> nodes_;
  std::map<PublicKey, uint32_t> key_to_node_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t seq_ = 0;
  uint64_t now_ = 0;
  bool gst_reached_ = false;
  uint64_t target_ = 0;
  std::vector<Partition> partitions_;
  std::set<Hash256> proposed_;
  std::map<uint64_t, Hash256> decided_;
  std::map<std::tuple<uint32_t, uint64_t, uint32_t, uint8_t>, std::optional<Hash256>> signed_;
  SimResult result_;
};

}  // namespace

bool ParseFaults(std::string_view s, Faults* out) {
  Faults f;
  if (s == "all") {
    f = Faults{true, true, true, true, true};
  } else if (s != "none" && !s.empty()) {
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t comma = s.find(',', pos);
      std::string_view item = s.substr(pos, comma == std::string_view::npos ? s.npos : comma - pos);
      if (item == "loss") {
        f.loss = true;
      } else if (item == "dup") {
        f.duplicate = true;
      } else if (item == "partition") {
        f.partition = true;
      } else if (item == "crash") {
        f.crash = true;
      } else if (item == "byz") {
        f.byzantine = true;
      } else {
        return false;
      }
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
  }
  *out = f;
  return true;
}

std::string FaultsString(const Faults& f) {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ",";
    s += name;
  };
  add(f.loss, "loss");
  add(f.duplicate, "dup");
  add(f.partition, "partition");
  add(f.crash, "crash");
  add(f.byzantine, "byz");
  return s.empty() ? "none" : s;
}

namespace {
constexpr const char* kBehaviourNames[kBehaviours] = {
    "silent", "equivocate", "split-proposals", "amnesia",
    "replay", "flood",      "forged-tx-sig",   "bad-tx-root"};
}  // namespace

bool ParseBehaviour(std::string_view s, Behaviour* out) {
  for (int b = 0; b < kBehaviours; ++b) {
    if (s == kBehaviourNames[b]) {
      *out = static_cast<Behaviour>(b);
      return true;
    }
  }
  return false;
}

const char* BehaviourName(Behaviour b) {
  const auto k = static_cast<int>(b);
  return k >= 0 && k < kBehaviours ? kBehaviourNames[k] : "?";
}

SimResult Run(const SimConfig& config) { return Simulation(config).Run(); }

std::string ReplayCommand(const SimConfig& c) {
  std::ostringstream os;
  os << "build/tests/consensus_sim --seed=" << c.seed << " --n=" << c.n
     << " --faults=" << FaultsString(c.faults);
  if (c.byzantine) os << " --byzantine=" << *c.byzantine;
  if (c.behaviour) os << " --behaviour=" << BehaviourName(*c.behaviour);
  if (c.real_signatures) os << " --real-sigs";
  if (c.disable_locking) os << " --disable-locking";
  if (!c.validator_set_changes) os << " --no-set-changes";
  if (c.crash_after_persist_per_mille != SimConfig{}.crash_after_persist_per_mille) {
    os << " --crash-after-persist=" << c.crash_after_persist_per_mille;
  }
  if (c.gossip_ms != SimConfig{}.gossip_ms) os << " --gossip-ms=" << c.gossip_ms;
  return os.str();
}

SimConfig SweepConfig(uint64_t seed) {
  static const uint32_t kNs[] = {4, 7, 10};
  static const Faults kMixes[] = {
      Faults{true, true, true, true, true},
      Faults{true, true, false, false, true},
      Faults{false, false, true, true, false},
      Faults{false, false, false, true, true},
  };
  SimConfig c;
  c.seed = seed;
  c.n = kNs[seed % 3];
  c.faults = kMixes[(seed / 3) % 4];
  return c;
}

}  // namespace certledger::consensus::sim
