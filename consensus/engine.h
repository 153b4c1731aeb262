// The Tendermint BFT engine (Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus",
// arXiv 1807.04938, Algorithm 1) as a deterministic state machine: Step(input) -> actions.
//
// No sockets, clocks, threads, randomness or logging: the node runs the loop, executes the
// actions in order, runs the timers and calls Step() from one thread (the engine is not
// thread-safe and needs no locking because exactly one thread owns it).
//
// Heights. The node starts every height with StartHeight, giving the validator set of that
// height. A set committed at height h takes effect at h + kValidatorSetDelay (= 2, mirrored from
// ledger/state.h): the node always knows the set of h + 1 when h commits. The engine decides at
// most one value per height (a Commit action) and then waits for the next StartHeight.
//
// Signing and restarts. Before the engine sends any message it signed, it emits PersistSigned
// with that message. The node must make it durable before it executes any later action of the
// same Step (in particular the Broadcast). After a crash the node passes the persisted messages of
// the current height back in StartHeight::signed_record; the engine then never signs a second,
// different message for a (height, round, step) it signed before: it re-sends the recorded one.
// It also restores its lock from its own highest non-nil precommit, and validValue from the
// persisted proposal of the lock. All of this holds only if the
// node completes each PersistSigned before sending; a record lost from disk voids the guarantee.
//
// Messages. Every received message is checked (known signer, signature, height, round window,
// proposer of the round, duplicates) before it can change state; a rejected message changes no
// state and yields a stable reason code. Two exceptions, both bounded: a double vote yields
// ReportEvidence (once per validator, round and type) and is kept (see below), and a validly
// signed message for a round
// beyond the window records that round as the signer's highest seen round (one number per
// validator), which can trigger a round skip. Memory per height is O(n * (R + W)) where R is the
// current round and W = Options::max_rounds_ahead: a Byzantine flood of future rounds is dropped.
//
// Equivocators. The paper counts every message received, so a validator that votes for both v
// and v' counts toward the tally of each (safety is unaffected: two quorums still share a correct
// validator). Per (round, type) the engine keeps a signer's first vote and up to
// kMaxConflictingVotes later conflicting ones, but a conflicting vote only if it is nil or for an
// id that some other stored vote or proposal of that round already names (so random ids cannot
// fill memory); each counts toward its own id, and the signer counts once toward "2f+1 of any".
// Other conflicting votes are rejected ("equivocation"); gossip re-offers them later. Dropping
// every second vote instead would let an equivocator hide a polka from some correct validators
// and stall the height.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "consensus/message.h"
#include "consensus/proposer.h"
#include "consensus/signer.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::consensus {

// Mirrors ledger/state.h: a validator set committed at height h takes effect at h + 2.
inline constexpr uint64_t kValidatorSetDelay = 2;

// Conflicting votes kept per signer, round and type (see the header comment).
inline constexpr size_t kMaxConflictingVotes = 4;

struct Options {
  // Required (a non-empty chain id): the chain id and genesis hash every signature binds.
  ledger::ChainDomain domain;

  // timeoutX(round) = timeout_X_ms + round * timeout_X_delta_ms (the paper's growing timeouts).
  // Termination needs timeoutPropose(r) > 2 * Delta + timeoutPrecommit(r - 1) and the others
  // > 2 * Delta, where Delta bounds message delay after GST.
  uint64_t timeout_propose_ms = 3000;
  uint64_t timeout_propose_delta_ms = 500;
  uint64_t timeout_prevote_ms = 1000;
  uint64_t timeout_prevote_delta_ms = 500;
  uint64_t timeout_precommit_ms = 1000;
  uint64_t timeout_precommit_delta_ms = 500;

  // Messages for rounds above current round + max_rounds_ahead are not stored (the round-ahead
  // bound of memory). Must be >= 1.
  uint32_t max_rounds_ahead = 10;

  // Test only: prevote for any valid proposal regardless of the lock (the paper's conditions
  // lockedRound == -1 / lockedValue == v / lockedRound <= vr are skipped). Breaks safety; it
  // exists to show that the simulator catches the bug.
  bool TEST_disable_locking = false;

  // OK iff the chain id is non-empty, every initial timeout is > 0 and max_rounds_ahead >= 1.
  [[nodiscard]] ledger::Status Validate() const;
};

enum class RoundStep : uint8_t { kPropose = 1, kPrevote = 2, kPrecommit = 3 };

// A timeout the engine asked for; the node hands it back in TimeoutFired when it expires.
struct Timeout {
  RoundStep step = RoundStep::kPropose;  // kPropose: timeoutPropose, kPrevote: timeoutPrevote, ...
  uint64_t height = 0;
  uint32_t round = 0;
  bool operator==(const Timeout&) const = default;
};

// ---- inputs -----------------------------------------------------------------------------------

// Start (or, after a restart, resume) `height` with its validator set. `signed_record` holds the
// messages this validator persisted for this height (PersistSigned), in any order; empty for a
// fresh height. REQUIRES: height > every height started before on this engine.
struct StartHeight {
  uint64_t height = 0;
  ledger::ValidatorSet validators;
  std::vector<Message> signed_record;
};
struct Receive {
  Message message;
};
struct TimeoutFired {
  Timeout timeout;
};
// The answer to RequestProposal.
struct ProposalReady {
  uint64_t height = 0;
  uint32_t round = 0;
  Value value;
};
using Input = std::variant<StartHeight, Receive, TimeoutFired, ProposalReady>;

// ---- actions (the node executes them in order) ------------------------------------------------

// Durably record `message` before executing any later action: a message this validator signed,
// or (just before its precommit) the proposal it locks on, so that a restart restores the lock's
// value. The node keeps the records of the current height and passes them to StartHeight.
struct PersistSigned {
  Message message;
};
// Send to every validator (and keep re-gossiping; see Engine::GossipMessages).
struct Broadcast {
  Message message;
};
struct ScheduleTimeout {
  Timeout timeout;
  uint64_t delay_ms = 0;
};
// This validator proposes in (height, round) and has no valid value: build one and answer with
// ProposalReady(height, round, value).
struct RequestProposal {
  uint64_t height = 0;
  uint32_t round = 0;
};
// The decision of `height`: apply the block and store it with the certificate, then StartHeight
// with height + 1. The certificate passes ledger::VerifyCommit with the height's validator set.
struct Commit {
  uint64_t height = 0;
  Value value;
  ledger::CommitCertificate certificate;
};
// A double vote, to be recorded on the ledger.
struct ReportEvidence {
  DuplicateVoteEvidence evidence;
};
using Action = std::variant<PersistSigned, Broadcast, ScheduleTimeout, RequestProposal, Commit,
                            ReportEvidence>;

// Why an input was rejected. Codes are stable (RejectCode).
enum class Reject : uint8_t {
  kNotStarted = 1,       // "not-started": no StartHeight yet
  kWrongHeight,          // "wrong-height": a message or answer for another height
  kDecided,              // "height-decided": this height is decided; waiting for StartHeight
  kRoundTooFar,          // "round-too-far": above current round + max_rounds_ahead
  kUnknownSigner,        // "unknown-signer": not in this height's validator set
  kBadSignature,         // "bad-signature"
  kNotProposer,          // "not-proposer": a proposal by someone else than proposer(h, r)
  kMalformed,            // "malformed": e.g. valid_round >= round, unknown vote type
  kDuplicate,            // "duplicate": already have this proposal or vote
  kEquivocation,         // "equivocation": conflicts with this signer's earlier vote
  kConflictingProposal,  // "conflicting-proposal": another value for a round that has one
  kStale,                // "stale": a ProposalReady that is no longer wanted
  kBadStart,             // "bad-start": StartHeight with an old height or an invalid set
};
const char* RejectCode(Reject r);

struct StepResult {
  std::vector<Action> actions;
  std::optional<Reject> rejection;
};

class Engine {
 public:
  // REQUIRES: options.Validate().ok(); the three pointers are non-null and outlive the engine.
  Engine(Options options, Signer* signer, const Verifier* verifier, ValueValidator* validator);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Feeds one input; returns the actions to execute in order, or a rejection (then the engine's
  // state is unchanged apart from the two bounded exceptions in the header comment).
  StepResult Step(const Input& input);

  // Messages of the current height (accepted proposals and votes, own and others') plus the
  // proposal and precommits that decided the previous height. The node re-gossips them so that
  // lost messages reach everyone eventually (the paper's gossip assumption) and lagging peers can
  // decide. Bounded like the engine's memory.
  [[nodiscard]] std::vector<Message> GossipMessages() const;

  // Introspection (tests, metrics). The paper's -1 is nullopt.
  [[nodiscard]] uint64_t height() const { return height_; }
  [[nodiscard]] uint32_t round() const { return round_; }
  [[nodiscard]] RoundStep step() const { return step_; }
  [[nodiscard]] bool decided() const { return decided_; }
  [[nodiscard]] std::optional<uint32_t> locked_round() const;
  [[nodiscard]] std::optional<Hash256> locked_id() const { return locked_id_; }
  [[nodiscard]] std::optional<uint32_t> valid_round() const;
  [[nodiscard]] const std::optional<Value>& valid_value() const { return valid_value_; }
  [[nodiscard]] const Options& options() const { return options_; }
  // Proposer of (current height, round). REQUIRES: a height was started.
  [[nodiscard]] const PublicKey& Proposer(uint32_t round) const;
  [[nodiscard]] uint64_t TimeoutDelay(RoundStep step, uint32_t round) const;

 private:
  struct StoredProposal {
    Proposal proposal;
    bool valid = false;
  };
  struct VoteSlot {
    std::map<PublicKey, Vote> votes;                     // each signer's first vote
    std::map<PublicKey, std::vector<Vote>> conflicting;  // its later conflicting votes
    std::set<PublicKey> reported;                        // evidence already reported
    std::map<std::optional<Hash256>, uint64_t> power_by_id;
    uint64_t power = 0;  // each signer counted once
  };
  struct RoundState {
    std::vector<StoredProposal> proposals;
    VoteSlot prevotes;
    VoteSlot precommits;
    bool prevote_timeout_scheduled = false;
    bool precommit_timeout_scheduled = false;
    bool lock_rule_done = false;
  };
  // (round, step) of a message this validator signed; step kPropose is the proposal.
  using SignedKey = std::pair<uint32_t, RoundStep>;

  static std::vector<const Vote*> AllVotes(const VoteSlot& slot);
  StepResult OnStart(const StartHeight& in);
  StepResult OnReceive(const Message& m);
  StepResult OnProposal(const Proposal& p);
  StepResult OnVote(const Vote& v);
  StepResult OnTimeout(const Timeout& t);
  StepResult OnProposalReady(const ProposalReady& in);

  // Stores a verified message; no checks.
  void StoreProposal(const Proposal& p);
  void StoreVote(const Vote& v);
  void NoteRound(const PublicKey& signer, uint32_t round);
  // Re-evaluates every rule until none fires. `touched` is the round an input changed.
  void Advance(std::optional<uint32_t> touched, std::vector<Action>& out);
  bool TryDecide(uint32_t round, std::vector<Action>& out);
  bool TryRoundSkip(std::vector<Action>& out);
  bool TryCurrentRoundRules(std::vector<Action>& out);
  void StartRound(uint32_t round, std::vector<Action>& out);
  void SendProposal(const Value& v, std::optional<uint32_t> valid_round, std::vector<Action>& out);
  void SendVote(VoteType type, std::optional<Hash256> id, std::vector<Action>& out);
  void Schedule(RoundStep step, std::vector<Action>& out);

  [[nodiscard]] bool IsValidator() const { return self_index_.has_value(); }
  [[nodiscard]] bool Supermajority(uint64_t power) const;
  [[nodiscard]] bool MoreThanThird(uint64_t power) const;
  [[nodiscard]] uint64_t PrevotePower(uint32_t round, const std::optional<Hash256>& id) const;
  RoundState& Round(uint32_t r) { return rounds_[r]; }

  const Options options_;
  Signer* const signer_;
  const Verifier* const verifier_;
  ValueValidator* const validator_;

  bool started_ = false;
  uint64_t height_ = 0;
  ledger::ValidatorSet validators_;
  std::unique_ptr<ProposerSchedule> schedule_;
  std::optional<size_t> self_index_;
  uint32_t round_ = 0;
  RoundStep step_ = RoundStep::kPropose;
  bool decided_ = false;
  int64_t locked_round_ = -1;
  std::optional<Hash256> locked_id_;
  int64_t valid_round_ = -1;
  std::optional<Value> valid_value_;
  bool proposal_requested_ = false;  // RequestProposal sent for the current round
  std::map<uint32_t, RoundState> rounds_;
  std::map<PublicKey, uint32_t> highest_round_;  // per signer, for round skipping
  std::map<SignedKey, Message> signed_;          // what this validator signed at this height
  std::vector<Message> last_decision_;           // proof of the previous height's decision
};

}  // namespace certledger::consensus
