// A deterministic simulator for the consensus engine: n engines on one thread over a simulated
// network with delays, reordering, loss, duplication, partitions that heal, crashes with restart
// from the persisted record, and Byzantine validators. Everything derives from the seed (own
// PRNG, no clocks), so a failing seed replays exactly:
//   build/tests/consensus_sim --seed=N --n=7 --faults=loss,dup,partition,crash,byz
// Invariants (checked whenever a node signs, commits or reports evidence, i.e. at every step
// where they can change): agreement, validity, no correct validator signs conflicting messages,
// commit certificates verify, evidence never accuses a correct validator. Liveness: after GST
// every correct validator commits `heights_after_gst` more heights within `liveness_bound_ms`.
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

struct SimConfig {
  uint64_t seed = 1;
  uint32_t n = 4;
  Faults faults;
  std::optional<uint32_t> byzantine;  // default: f = (n - 1) / 3 when faults.byzantine
  bool real_signatures = false;       // BIP-340 keys instead of the fast test signer
  bool disable_locking = false;       // Options::TEST_disable_locking on correct validators
  bool validator_set_changes = true;  // correct validators' powers change with committed blocks
  uint64_t gst_ms = 6000;             // global stabilisation time
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
  [[nodiscard]] bool ok() const { return violation.empty(); }
};

SimResult Run(const SimConfig& config);

// The command that replays `config` exactly.
std::string ReplayCommand(const SimConfig& config);

// The configuration of seed `seed` in the CI sweep: n cycles through 4, 7, 10 and the fault mix
// through all faults, loss+dup+byz, partition+crash, crash+byz.
SimConfig SweepConfig(uint64_t seed);

}  // namespace certledger::consensus::sim
