// A deterministic simulator for the consensus engine: n engines on one thread over a simulated
// network with delays, reordering, loss, duplication, partitions that heal, crashes with restart
// from the persisted record, and Byzantine validators. Everything derives from the seed (own
// PRNG, no clocks), so a failing seed replays exactly:
//   build/tests/consensus_sim --seed=N --n=7 --faults=loss,dup,partition,crash,byz
// Invariants (checked whenever a node signs, commits or reports evidence, i.e. at every step
// where they can change): agreement, validity, no correct validator signs conflicting messages,
// commit certificates verify, evidence never accuses a correct validator, a correct validator
// votes only for values proposed valid. Liveness: after GST every correct validator commits
// `heights_after_gst` more heights within `liveness_bound_ms`.
//
// Values are modelled on ledger blocks, so that a Byzantine proposer can sign proposals for
// blocks a real node rejects: payload = header || transactions, header = "blk" || u64le height
// || 32-byte transactions root, transactions = u8 count || count x (u8 signature-verifies flag ||
// u8 length || tag), root = SHA-256(transactions), id = SHA-256(header) (as ledger::BlockHash
// covers only the header). The validator accepts a value iff it parses, is for the height, its id
// is its header's hash, the root matches the transactions and every signature flag is set, the
// checks node/node.cc IsValid makes of a real block.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certledger::consensus::sim {

struct Faults {
  bool loss = false;       // drop messages before GST
  bool duplicate = false;  // deliver some messages twice
  bool partition = false;  // split the network before GST; heals by GST
  bool crash = false;      // crash correct validators (also between persist and send); restart
  bool byzantine = false;  // f Byzantine validators with mixed behaviours
  // Delays (hence reordering) are always on.
};
// "none", "all", or a comma list of loss,dup,partition,crash,byz.
bool ParseFaults(std::string_view s, Faults* out);
std::string FaultsString(const Faults& f);

// What a Byzantine validator does; drawn per validator from all of them unless forced.
enum class Behaviour : uint8_t {
  kSilent,          // sends nothing
  kEquivocate,      // votes for another id as well, to part of the validators
  kSplitProposals,  // also proposes another value (sometimes invalid), to part of the validators
  kAmnesia,         // ignores its lock
  kReplay,          // re-sends old messages
  kFlood,           // votes far in future rounds
  // When proposing: a correctly signed proposal whose block a real node rejects. In some runs
  // (drawn per validator) the proposer equivocates: the invalid block to part of the
  // validators, a valid one to the rest.
  kForgedTxSignature,  // the block carries a transaction whose signature does not verify
  kBadTxRoot,          // the id does not match the block: transactions not matching the header's
                       // root (same id as a valid block), or an id that is not the header's hash
};
inline constexpr int kBehaviours = 8;
// "silent", "equivocate", "split-proposals", "amnesia", "replay", "flood", "forged-tx-sig",
// "bad-tx-root".
bool ParseBehaviour(std::string_view s, Behaviour* out);
const char* BehaviourName(Behaviour b);

struct SimConfig {
  uint64_t seed = 1;
  uint32_t n = 4;
  Faults faults;
  std::optional<uint32_t> byzantine;   // default: f = (n - 1) / 3 when faults.byzantine
  std::optional<Behaviour> behaviour;  // forces every Byzantine validator's behaviour
  bool real_signatures = false;        // BIP-340 keys instead of the fast test signer
  bool disable_locking = false;        // Options::TEST_disable_locking on correct validators
  bool validator_set_changes = true;   // correct validators' powers change with committed blocks
  uint64_t gst_ms = 6000;              // global stabilisation time
  uint64_t pre_gst_max_delay_ms = 800;
  uint64_t delta_ms = 50;  // message delay bound after GST
  uint64_t gossip_ms = 250;
  uint64_t heights_after_gst = 3;
  uint64_t liveness_bound_ms = 60000;
  uint64_t max_events = 4'000'000;
  uint64_t crash_after_persist_per_mille = 20;  // with faults.crash, before GST
  uint64_t stop_at_height = 0;  // if > 0: no liveness phase, stop when all correct reach it
};

struct SimResult {
  std::string violation;    // empty when every invariant held
  uint64_t min_height = 0;  // lowest height committed by every correct validator
  uint64_t max_height = 0;
  uint64_t sim_time_ms = 0;
  uint64_t liveness_ms = 0;  // from GST until every correct validator reached the target
  uint64_t events = 0;
  uint64_t deliveries = 0;
  uint64_t verifications = 0;
  uint64_t signatures = 0;
  uint64_t evidence = 0;
  uint64_t crashes = 0;
  // Proposals for application-invalid values broadcast by Byzantine validators, how many of them
  // went out split (a valid value to the other validators), and how often a correct validator's
  // ValueValidator refused a value.
  uint64_t invalid_proposals = 0;
  uint64_t split_invalid_proposals = 0;
  uint64_t invalid_rejections = 0;
  [[nodiscard]] bool ok() const { return violation.empty(); }
};

SimResult Run(const SimConfig& config);

// The command that replays `config` exactly.
std::string ReplayCommand(const SimConfig& config);

// The configuration of seed `seed` in the CI sweep: n cycles through 4, 7, 10 and the fault mix
// through all faults, loss+dup+byz, partition+crash, crash+byz; Byzantine behaviours are drawn
// from all kBehaviours.
SimConfig SweepConfig(uint64_t seed);

}  // namespace certledger::consensus::sim
