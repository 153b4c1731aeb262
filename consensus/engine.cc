#include "consensus/engine.h"

#include <algorithm>
#include <utility>

#include "ledger/commit.h"
#include "ledger/state.h"

namespace certledger::consensus {

static_assert(kValidatorSetDelay == ledger::kValidatorSetDelay, "mirror of ledger/state.h");

namespace {

// Rounds are u32 on the wire; keep room so that round + max_rounds_ahead never wraps.
constexpr uint32_t kMaxRound = 1u << 30;

StepResult Rejected(Reject r) {
  StepResult out;
  out.rejection = r;
  return out;
}

}  // namespace

const char* RejectCode(Reject r) {
  switch (r) {
    case Reject::kNotStarted:
      return "not-started";
    case Reject::kWrongHeight:
      return "wrong-height";
    case Reject::kDecided:
      return "height-decided";
    case Reject::kRoundTooFar:
      return "round-too-far";
    case Reject::kUnknownSigner:
      return "unknown-signer";
    case Reject::kBadSignature:
      return "bad-signature";
    case Reject::kNotProposer:
      return "not-proposer";
    case Reject::kMalformed:
      return "malformed";
    case Reject::kDuplicate:
      return "duplicate";
    case Reject::kEquivocation:
      return "equivocation";
    case Reject::kConflictingProposal:
      return "conflicting-proposal";
    case Reject::kStale:
      return "stale";
    case Reject::kBadStart:
      return "bad-start";
  }
  return "unknown";
}

ledger::Status Options::Validate() const {
  if (domain.chain_id.empty()) return ledger::Status::InvalidArgument("chain id is empty");
  if (timeout_propose_ms == 0 || timeout_prevote_ms == 0 || timeout_precommit_ms == 0) {
    return ledger::Status::InvalidArgument("initial timeouts must be > 0");
  }
  if (max_rounds_ahead == 0)
    return ledger::Status::InvalidArgument("max_rounds_ahead must be >= 1");
  if (max_rounds_ahead > 1000) return ledger::Status::InvalidArgument("max_rounds_ahead > 1000");
  return ledger::Status::Ok();
}

Engine::Engine(Options options, Signer* signer, const Verifier* verifier, ValueValidator* validator)
    : options_(std::move(options)), signer_(signer), verifier_(verifier), validator_(validator) {}

Engine::~Engine() = default;

std::optional<uint32_t> Engine::locked_round() const {
  if (locked_round_ < 0) return std::nullopt;
  return static_cast<uint32_t>(locked_round_);
}
std::optional<uint32_t> Engine::valid_round() const {
  if (valid_round_ < 0) return std::nullopt;
  return static_cast<uint32_t>(valid_round_);
}

const PublicKey& Engine::Proposer(uint32_t round) const {
  return validators_.validators[schedule_->ProposerIndex(height_, round)].key;
}

uint64_t Engine::TimeoutDelay(RoundStep step, uint32_t round) const {
  switch (step) {
    case RoundStep::kPropose:
      return options_.timeout_propose_ms + round * options_.timeout_propose_delta_ms;
    case RoundStep::kPrevote:
      return options_.timeout_prevote_ms + round * options_.timeout_prevote_delta_ms;
    case RoundStep::kPrecommit:
      return options_.timeout_precommit_ms + round * options_.timeout_precommit_delta_ms;
  }
  return options_.timeout_precommit_ms;
}

bool Engine::Supermajority(uint64_t power) const {
  return ledger::IsSupermajority(power, validators_.TotalPower());
}

// "f + 1" with weights: more than a third of the power, so at least one correct validator.
bool Engine::MoreThanThird(uint64_t power) const {
  __extension__ using U128 = unsigned __int128;
  return static_cast<U128>(power) * 3 > static_cast<U128>(validators_.TotalPower());
}

uint64_t Engine::PrevotePower(uint32_t round, const std::optional<Hash256>& id) const {
  auto it = rounds_.find(round);
  if (it == rounds_.end()) return 0;
  auto p = it->second.prevotes.power_by_id.find(id);
  return p == it->second.prevotes.power_by_id.end() ? 0 : p->second;
}

std::vector<const Vote*> Engine::AllVotes(const VoteSlot& slot) {
  std::vector<const Vote*> out;
  for (const auto& [k, v] : slot.votes) out.push_back(&v);
  for (const auto& [k, list] : slot.conflicting)
    for (const Vote& v : list) out.push_back(&v);
  return out;
}

StepResult Engine::Step(const Input& input) {
  return std::visit(
      [this](const auto& in) -> StepResult {
        using T = std::decay_t<decltype(in)>;
        if constexpr (std::is_same_v<T, StartHeight>) {
          return OnStart(in);
        } else if constexpr (std::is_same_v<T, Receive>) {
          return OnReceive(in.message);
        } else if constexpr (std::is_same_v<T, TimeoutFired>) {
          return OnTimeout(in.timeout);
        } else {
          return OnProposalReady(in);
        }
      },
      input);
}

// ---- heights and restarts ---------------------------------------------------------------------

StepResult Engine::OnStart(const StartHeight& in) {
  if ((started_ && in.height <= height_) || in.height == 0) return Rejected(Reject::kBadStart);
  if (!ledger::ValidateValidatorSet(in.validators).ok()) return Rejected(Reject::kBadStart);

  // Keep the proof of the decision just made for gossip to lagging peers.
  last_decision_.clear();
  if (started_ && decided_) {
    for (const auto& [r, rs] : rounds_) {
      for (const auto& sp : rs.proposals) {
        auto it = rs.precommits.power_by_id.find(sp.proposal.value.id);
        if (sp.valid && it != rs.precommits.power_by_id.end() && Supermajority(it->second)) {
          last_decision_.emplace_back(sp.proposal);
          for (const Vote* v : AllVotes(rs.precommits)) {
            if (v->block_id == sp.proposal.value.id) last_decision_.emplace_back(*v);
          }
          break;
        }
      }
      if (!last_decision_.empty()) break;
    }
  }

  started_ = true;
  height_ = in.height;
  validators_ = in.validators;
  schedule_ = std::make_unique<ProposerSchedule>(validators_);
  self_index_.reset();
  for (size_t i = 0; i < validators_.validators.size(); ++i) {
    if (validators_.validators[i].key == signer_->public_key()) self_index_ = i;
  }
  round_ = 0;
  step_ = RoundStep::kPropose;
  decided_ = false;
  locked_round_ = -1;
  locked_id_.reset();
  valid_round_ = -1;
  valid_value_.reset();
  proposal_requested_ = false;
  rounds_.clear();
  highest_round_.clear();
  signed_.clear();

  // Restore what this validator signed before a crash. Only well-formed own messages of this
  // height count; anything else in the record is ignored.
  uint32_t resume_round = 0;
  std::vector<const Proposal*> lock_proposals;
  for (const Message& m : in.signed_record) {
    if (HeightOf(m) != height_ || !IsValidator()) continue;
    if (SignerOf(m) != signer_->public_key()) {
      // The proposal a lock refers to (persisted with the precommit).
      const auto* p = std::get_if<Proposal>(&m);
      if (p != nullptr && p->round < kMaxRound && p->proposer == Proposer(p->round)) {
        lock_proposals.push_back(p);
      }
      continue;
    }
    uint32_t r = RoundOf(m);
    if (r >= kMaxRound) continue;
    if (const auto* p = std::get_if<Proposal>(&m)) {
      if (p->valid_round && *p->valid_round >= r) continue;
      signed_.emplace(SignedKey{r, RoundStep::kPropose}, m);
      StoreProposal(*p);
      // A lock on its own proposal needs that proposal as the valid value too, or after the
      // restart it could neither re-propose nor unlock (found by the simulator, seed 101580).
      lock_proposals.push_back(p);
    } else {
      const Vote& v = std::get<Vote>(m);
      if (!ledger::IsKnown(v.type)) continue;
      RoundStep s = v.type == VoteType::kPrevote ? RoundStep::kPrevote : RoundStep::kPrecommit;
      if (!signed_.emplace(SignedKey{r, s}, m).second) continue;
      StoreVote(v);
      // A non-nil precommit is exactly when the paper sets lockedValue/lockedRound (line 38).
      if (v.type == VoteType::kPrecommit && v.block_id && static_cast<int64_t>(r) > locked_round_) {
        locked_round_ = r;
        locked_id_ = v.block_id;
      }
    }
    resume_round = std::max(resume_round, r);
  }
  for (const Proposal* p : lock_proposals) {
    if (locked_id_ == p->value.id && validator_->IsValid(height_, p->value)) {
      StoreProposal(*p);
      valid_value_ = p->value;
      valid_round_ = locked_round_;
    }
  }

  StepResult out;
  StartRound(resume_round, out.actions);
  // Re-send what was signed in the resumed round (it may never have left before the crash) and
  // take up the step it implies. Timeouts for the later steps are scheduled at once: a timeout
  // never affects safety, and the restarted validator may never see the quorum that would
  // otherwise schedule them.
  auto prevote = signed_.find({resume_round, RoundStep::kPrevote});
  auto precommit = signed_.find({resume_round, RoundStep::kPrecommit});
  if (prevote != signed_.end() && step_ == RoundStep::kPropose) {
    out.actions.emplace_back(Broadcast{prevote->second});
    step_ = RoundStep::kPrevote;
    Schedule(RoundStep::kPrevote, out.actions);
  }
  if (precommit != signed_.end()) {
    out.actions.emplace_back(Broadcast{precommit->second});
    step_ = RoundStep::kPrecommit;
    Schedule(RoundStep::kPrecommit, out.actions);
  }
  for (const auto& [r, rs] : rounds_) {
    if (TryDecide(r, out.actions)) break;
  }
  Advance(std::nullopt, out.actions);
  return out;
}

void Engine::StartRound(uint32_t round, std::vector<Action>& out) {
  round_ = round;
  step_ = RoundStep::kPropose;
  proposal_requested_ = false;
  if (IsValidator() && Proposer(round) == signer_->public_key()) {
    auto already = signed_.find({round, RoundStep::kPropose});
    if (already != signed_.end()) {
      out.emplace_back(Broadcast{already->second});
    } else if (valid_value_) {
      SendProposal(*valid_value_, valid_round(), out);
    } else {
      proposal_requested_ = true;
      out.emplace_back(RequestProposal{height_, round});
    }
  }
  // The paper schedules timeoutPropose only at non-proposers; the proposer schedules it too, so
  // that a lost or slow ProposalReady cannot stall it.
  Schedule(RoundStep::kPropose, out);
}

void Engine::Schedule(RoundStep step, std::vector<Action>& out) {
  out.emplace_back(ScheduleTimeout{Timeout{step, height_, round_}, TimeoutDelay(step, round_)});
}

// ---- signing ----------------------------------------------------------------------------------

void Engine::SendProposal(const Value& v, std::optional<uint32_t> valid_round,
                          std::vector<Action>& out) {
  auto already = signed_.find({round_, RoundStep::kPropose});
  if (already != signed_.end()) {
    out.emplace_back(Broadcast{already->second});
    return;
  }
  Proposal p;
  p.height = height_;
  p.round = round_;
  p.valid_round = valid_round;
  p.value = v;
  p.proposer = signer_->public_key();
  auto sig = signer_->Sign(RequestFor(options_.domain, p));
  if (!sig) return;  // the signer refused (it signed a conflicting message): send nothing
  p.signature = *sig;
  signed_.emplace(SignedKey{round_, RoundStep::kPropose}, p);
  out.emplace_back(PersistSigned{p});
  out.emplace_back(Broadcast{p});
  StoreProposal(p);
}

void Engine::SendVote(VoteType type, std::optional<Hash256> id, std::vector<Action>& out) {
  if (!IsValidator()) return;
  RoundStep s = type == VoteType::kPrevote ? RoundStep::kPrevote : RoundStep::kPrecommit;
  // Never sign twice for one (height, round, step): re-send what was signed before instead.
  auto already = signed_.find({round_, s});
  if (already != signed_.end()) {
    out.emplace_back(Broadcast{already->second});
    return;
  }
  Vote v;
  v.type = type;
  v.height = height_;
  v.round = round_;
  v.block_id = id;
  v.validator = signer_->public_key();
  auto sig = signer_->Sign(RequestFor(options_.domain, v));
  if (!sig) return;  // the signer refused (it signed a conflicting message): send nothing
  v.signature = *sig;
  signed_.emplace(SignedKey{round_, s}, v);
  out.emplace_back(PersistSigned{v});
  out.emplace_back(Broadcast{v});
  StoreVote(v);
}

// ---- receiving --------------------------------------------------------------------------------

StepResult Engine::OnReceive(const Message& m) {
  if (!started_) return Rejected(Reject::kNotStarted);
  if (HeightOf(m) != height_) return Rejected(Reject::kWrongHeight);
  if (decided_) return Rejected(Reject::kDecided);
  if (const auto* p = std::get_if<Proposal>(&m)) return OnProposal(*p);
  return OnVote(std::get<Vote>(m));
}

void Engine::NoteRound(const PublicKey& signer, uint32_t round) {
  auto [it, inserted] = highest_round_.emplace(signer, round);
  if (!inserted && it->second < round) it->second = round;
}

StepResult Engine::OnProposal(const Proposal& p) {
  if (p.round >= kMaxRound) return Rejected(Reject::kMalformed);
  if (p.valid_round && *p.valid_round >= p.round) return Rejected(Reject::kMalformed);
  if (validators_.Find(p.proposer) == nullptr) return Rejected(Reject::kUnknownSigner);
  if (p.proposer != Proposer(p.round)) return Rejected(Reject::kNotProposer);

  bool too_far = p.round > round_ + options_.max_rounds_ahead;
  const StoredProposal* same = nullptr;
  size_t count = 0;
  if (!too_far) {
    auto it = rounds_.find(p.round);
    if (it != rounds_.end()) {
      count = it->second.proposals.size();
      for (const auto& sp : it->second.proposals) {
        if (sp.proposal.value.id == p.value.id) same = &sp;
      }
    }
    if (same != nullptr && (same->valid || same->proposal.value.payload == p.value.payload)) {
      return Rejected(Reject::kDuplicate);
    }
    // One value per round is the normal case. A second value (an equivocating proposer) is kept
    // only if more than a third of the power voted for it in that round, so at least one correct
    // validator saw it; that bounds the proposals kept per round to a handful.
    if (same == nullptr && count > 0) {
      const RoundState& rs = rounds_.at(p.round);
      auto pv = rs.prevotes.power_by_id.find(p.value.id);
      auto pc = rs.precommits.power_by_id.find(p.value.id);
      bool backed = (pv != rs.prevotes.power_by_id.end() && MoreThanThird(pv->second)) ||
                    (pc != rs.precommits.power_by_id.end() && MoreThanThird(pc->second));
      if (!backed || count >= 4) return Rejected(Reject::kConflictingProposal);
    }
  }
  if (!verifier_->Verify(p.proposer, SigningDigestOf(options_.domain, p), p.signature)) {
    return Rejected(Reject::kBadSignature);
  }
  StepResult out;
  NoteRound(p.proposer, p.round);
  if (too_far) {
    out.rejection = Reject::kRoundTooFar;
    Advance(std::nullopt, out.actions);
    return out;
  }
  if (same != nullptr) {
    // Same id, different payload, and the stored copy was invalid: keep the valid one if this is.
    if (!validator_->IsValid(height_, p.value)) return Rejected(Reject::kDuplicate);
  }
  StoreProposal(p);
  Advance(p.round, out.actions);
  return out;
}

void Engine::StoreProposal(const Proposal& p) {
  RoundState& rs = Round(p.round);
  bool valid = validator_->IsValid(height_, p.value);
  for (auto& sp : rs.proposals) {
    if (sp.proposal.value.id == p.value.id) {
      if (valid && !sp.valid) sp = StoredProposal{p, true};
      return;
    }
  }
  rs.proposals.push_back(StoredProposal{p, valid});
}

StepResult Engine::OnVote(const Vote& v) {
  if (!ledger::IsKnown(v.type) || v.round >= kMaxRound) return Rejected(Reject::kMalformed);
  const ledger::Validator* val = validators_.Find(v.validator);
  if (val == nullptr) return Rejected(Reject::kUnknownSigner);
  bool too_far = v.round > round_ + options_.max_rounds_ahead;
  const Vote* existing = nullptr;
  bool keep = true;
  bool report = false;
  if (!too_far) {
    auto it = rounds_.find(v.round);
    if (it != rounds_.end()) {
      const RoundState& rs = it->second;
      const VoteSlot& slot = v.type == VoteType::kPrevote ? rs.prevotes : rs.precommits;
      auto e = slot.votes.find(v.validator);
      if (e != slot.votes.end()) existing = &e->second;
      if (existing != nullptr && existing->block_id == v.block_id) {
        return Rejected(Reject::kDuplicate);
      }
      size_t kept = 0;
      if (auto c = slot.conflicting.find(v.validator); c != slot.conflicting.end()) {
        for (const Vote& x : c->second)
          if (x.block_id == v.block_id) return Rejected(Reject::kDuplicate);
        kept = c->second.size();
      }
      if (existing != nullptr) {
        bool named = !v.block_id.has_value() || slot.power_by_id.contains(v.block_id);
        for (const auto& sp : rs.proposals) named = named || sp.proposal.value.id == v.block_id;
        keep = named && kept < kMaxConflictingVotes;
        report = !slot.reported.contains(v.validator);
        if (!keep && !report) return Rejected(Reject::kEquivocation);
      }
    }
  }
  if (!verifier_->Verify(v.validator, SigningDigestOf(options_.domain, v), v.signature)) {
    return Rejected(Reject::kBadSignature);
  }
  StepResult out;
  NoteRound(v.validator, v.round);
  if (too_far) {
    out.rejection = Reject::kRoundTooFar;
    Advance(std::nullopt, out.actions);
    return out;
  }
  if (report) {
    out.actions.emplace_back(ReportEvidence{MakeEvidence(*existing, v)});
    VoteSlot& slot =
        v.type == VoteType::kPrevote ? Round(v.round).prevotes : Round(v.round).precommits;
    slot.reported.insert(v.validator);
  }
  if (!keep) {
    out.rejection = Reject::kEquivocation;
    return out;
  }
  StoreVote(v);
  Advance(v.round, out.actions);
  return out;
}

void Engine::StoreVote(const Vote& v) {
  RoundState& rs = Round(v.round);
  VoteSlot& slot = v.type == VoteType::kPrevote ? rs.prevotes : rs.precommits;
  const ledger::Validator* val = validators_.Find(v.validator);
  uint64_t power = val != nullptr ? val->power : 0;
  auto [it, first] = slot.votes.emplace(v.validator, v);
  if (!first) {
    if (it->second.block_id == v.block_id) return;
    auto& list = slot.conflicting[v.validator];
    for (const Vote& x : list)
      if (x.block_id == v.block_id) return;
    list.push_back(v);
  } else {
    slot.power += power;
  }
  slot.power_by_id[v.block_id] += power;
  NoteRound(v.validator, v.round);
}

StepResult Engine::OnTimeout(const Timeout& t) {
  StepResult out;
  if (!started_ || decided_ || t.height != height_ || t.round != round_) return out;
  if (t.step == RoundStep::kPropose && step_ == RoundStep::kPropose) {
    // Line 57: timeoutPropose in step propose: prevote nil.
    SendVote(VoteType::kPrevote, std::nullopt, out.actions);
    step_ = RoundStep::kPrevote;
  } else if (t.step == RoundStep::kPrevote && step_ == RoundStep::kPrevote) {
    // Line 61: timeoutPrevote in step prevote: precommit nil.
    SendVote(VoteType::kPrecommit, std::nullopt, out.actions);
    step_ = RoundStep::kPrecommit;
  } else if (t.step == RoundStep::kPrecommit) {
    // Line 65: timeoutPrecommit: next round.
    StartRound(round_ + 1, out.actions);
  } else {
    return out;
  }
  Advance(round_, out.actions);
  return out;
}

StepResult Engine::OnProposalReady(const ProposalReady& in) {
  if (!started_) return Rejected(Reject::kNotStarted);
  if (in.height != height_) return Rejected(Reject::kWrongHeight);
  if (decided_ || in.round != round_ || step_ != RoundStep::kPropose || !proposal_requested_ ||
      signed_.contains({round_, RoundStep::kPropose})) {
    return Rejected(Reject::kStale);
  }
  StepResult out;
  proposal_requested_ = false;
  SendProposal(in.value, std::nullopt, out.actions);
  Advance(round_, out.actions);
  return out;
}

// ---- the rules --------------------------------------------------------------------------------

void Engine::Advance(std::optional<uint32_t> touched, std::vector<Action>& out) {
  if (touched && TryDecide(*touched, out)) return;
  for (int guard = 0; guard < 64 && !decided_; ++guard) {
    bool progressed = TryRoundSkip(out);
    if (TryCurrentRoundRules(out)) progressed = true;
    if (decided_) return;
    if (!progressed) return;
    // A new step or round may complete a decision with messages already stored.
    if (TryDecide(round_, out)) return;
  }
}

// Line 49: PROPOSAL(h, r, v, *) from proposer(h, r) and 2f+1 PRECOMMIT(h, r, id(v)), valid(v).
bool Engine::TryDecide(uint32_t round, std::vector<Action>& out) {
  if (decided_) return false;
  auto it = rounds_.find(round);
  if (it == rounds_.end()) return false;
  const RoundState& rs = it->second;
  for (const auto& sp : rs.proposals) {
    if (!sp.valid) continue;
    auto pc = rs.precommits.power_by_id.find(sp.proposal.value.id);
    if (pc == rs.precommits.power_by_id.end() || !Supermajority(pc->second)) continue;
    Commit c;
    c.height = height_;
    c.value = sp.proposal.value;
    c.certificate.height = height_;
    c.certificate.round = round;
    c.certificate.block_id = sp.proposal.value.id;
    for (const Vote* v : AllVotes(rs.precommits)) {
      if (v->block_id == sp.proposal.value.id) {
        c.certificate.signatures.push_back(ledger::CommitSignature{v->validator, v->signature});
      }
    }
    std::sort(c.certificate.signatures.begin(), c.certificate.signatures.end(),
              [](const auto& a, const auto& b) { return a.validator < b.validator; });
    decided_ = true;
    out.emplace_back(std::move(c));
    return true;
  }
  return false;
}

// Line 55: f+1 messages of a round above ours: start that round. With weights: validators of more
// than a third of the power have sent messages for rounds >= R, so a correct one reached R; jump
// to the largest such R. Counting each signer's highest round (not only stored messages) lets a
// validator that fell far behind the round window catch up.
bool Engine::TryRoundSkip(std::vector<Action>& out) {
  std::vector<std::pair<uint32_t, uint64_t>> ahead;  // (round, power) of signers above round_
  for (const auto& [key, r] : highest_round_) {
    if (r <= round_) continue;
    const ledger::Validator* v = validators_.Find(key);
    if (v != nullptr) ahead.emplace_back(r, v->power);
  }
  if (ahead.empty()) return false;
  std::sort(ahead.begin(), ahead.end(), std::greater<>());
  uint64_t power = 0;
  for (const auto& [r, p] : ahead) {
    power += p;
    if (MoreThanThird(power)) {
      StartRound(r, out);
      return true;
    }
  }
  return false;
}

bool Engine::TryCurrentRoundRules(std::vector<Action>& out) {
  RoundState& rs = Round(round_);
  bool progressed = false;

  if (step_ == RoundStep::kPropose) {
    for (const auto& sp : rs.proposals) {
      const Proposal& p = sp.proposal;
      const Hash256& id = p.value.id;
      bool lock_ok;
      if (!p.valid_round) {
        // Line 22: vr = -1. Prevote id(v) iff valid(v) and (lockedRound = -1 or lockedValue = v).
        lock_ok = locked_round_ == -1 || locked_id_ == id;
      } else {
        // Line 28: 0 <= vr < round and 2f+1 PREVOTE(h, vr, id(v)). Prevote id(v) iff valid(v)
        // and (lockedRound <= vr or lockedValue = v).
        if (!Supermajority(PrevotePower(*p.valid_round, id))) continue;
        lock_ok = locked_round_ <= static_cast<int64_t>(*p.valid_round) || locked_id_ == id;
      }
      if (options_.TEST_disable_locking) lock_ok = true;
      std::optional<Hash256> vote;
      if (sp.valid && lock_ok) vote = id;
      SendVote(VoteType::kPrevote, vote, out);
      step_ = RoundStep::kPrevote;
      progressed = true;
      break;
    }
  }

  // Line 34: 2f+1 PREVOTE(h, round, *) in step prevote, the first time: schedule timeoutPrevote.
  if (step_ == RoundStep::kPrevote && !rs.prevote_timeout_scheduled &&
      Supermajority(rs.prevotes.power)) {
    rs.prevote_timeout_scheduled = true;
    Schedule(RoundStep::kPrevote, out);
  }

  // Line 36: PROPOSAL(h, round, v, *) and 2f+1 PREVOTE(h, round, id(v)), valid(v), step >= prevote,
  // the first time.
  if (step_ != RoundStep::kPropose && !rs.lock_rule_done) {
    for (const auto& sp : rs.proposals) {
      if (!sp.valid) continue;
      const Hash256& id = sp.proposal.value.id;
      if (!Supermajority(PrevotePower(round_, id))) continue;
      rs.lock_rule_done = true;
      if (step_ == RoundStep::kPrevote) {
        // Persist the proposal with the precommit, so that a restart restores the locked value
        // as validValue: otherwise a lone locked validator forgets the payload and can block a
        // height forever (it prevotes nil for everything else and cannot re-propose its lock).
        if (sp.proposal.proposer != signer_->public_key()) {
          out.emplace_back(PersistSigned{sp.proposal});
        }
        locked_id_ = id;
        locked_round_ = round_;
        SendVote(VoteType::kPrecommit, id, out);
        step_ = RoundStep::kPrecommit;
      }
      valid_value_ = sp.proposal.value;
      valid_round_ = round_;
      progressed = true;
      break;
    }
  }

  // Line 44: 2f+1 PREVOTE(h, round, nil) in step prevote: precommit nil.
  if (step_ == RoundStep::kPrevote && Supermajority(PrevotePower(round_, std::nullopt))) {
    SendVote(VoteType::kPrecommit, std::nullopt, out);
    step_ = RoundStep::kPrecommit;
    progressed = true;
  }

  // Line 47: 2f+1 PRECOMMIT(h, round, *), the first time: schedule timeoutPrecommit.
  if (!rs.precommit_timeout_scheduled && Supermajority(rs.precommits.power)) {
    rs.precommit_timeout_scheduled = true;
    Schedule(RoundStep::kPrecommit, out);
  }
  return progressed;
}

std::vector<Message> Engine::GossipMessages() const {
  std::vector<Message> out = last_decision_;
  for (const auto& [r, rs] : rounds_) {
    for (const auto& sp : rs.proposals) out.emplace_back(sp.proposal);
    for (const Vote* v : AllVotes(rs.prevotes)) out.emplace_back(*v);
    for (const Vote* v : AllVotes(rs.precommits)) out.emplace_back(*v);
  }
  return out;
}

}  // namespace certledger::consensus
