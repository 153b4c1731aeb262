// consensus_sim: runs one seed (replay) or a range of seeds (soak) of the consensus simulator.
//   consensus_sim --seed=N --n=7 --faults=loss,dup,partition,crash,byz [--byzantine=K]
//                 [--behaviour=silent|equivocate|split-proposals|amnesia|replay|flood|
//                              forged-tx-sig|bad-tx-root]
//                 [--real-sigs] [--disable-locking] [--no-set-changes] [--gossip-ms=250]
//                 [--crash-after-persist=PER_MILLE]
//                 [--verbose]
//   consensus_sim --sweep --from=0 --seeds=100000   (the CI mix: n and faults derive from the seed)
// Exit status 0 iff every run held every invariant and was live after GST.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "tests/consensus/sim.h"

namespace sim = certledger::consensus::sim;

namespace {

bool Flag(std::string_view arg, std::string_view name, std::string_view* value) {
  if (arg.substr(0, name.size()) != name) return false;
  if (arg.size() == name.size()) {
    *value = {};
    return true;
  }
  if (arg[name.size()] != '=') return false;
  *value = arg.substr(name.size() + 1);
  return true;
}

uint64_t Num(std::string_view v) { return std::strtoull(std::string(v).c_str(), nullptr, 10); }

}  // namespace

int main(int argc, char** argv) {
  sim::SimConfig c;
  bool sweep = false, verbose = false, have_n = false, have_faults = false;
  uint64_t from = 0, seeds = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i], v;
    if (Flag(a, "--seed", &v)) {
      c.seed = Num(v);
    } else if (Flag(a, "--n", &v)) {
      c.n = static_cast<uint32_t>(Num(v));
      have_n = true;
    } else if (Flag(a, "--faults", &v)) {
      if (!sim::ParseFaults(v, &c.faults)) {
        std::fprintf(stderr, "bad --faults: %s\n", std::string(v).c_str());
        return 2;
      }
      have_faults = true;
    } else if (Flag(a, "--byzantine", &v)) {
      c.byzantine = static_cast<uint32_t>(Num(v));
    } else if (Flag(a, "--behaviour", &v)) {
      sim::Behaviour b = sim::Behaviour::kSilent;
      if (!sim::ParseBehaviour(v, &b)) {
        std::fprintf(stderr, "bad --behaviour: %s\n", std::string(v).c_str());
        return 2;
      }
      c.behaviour = b;
    } else if (Flag(a, "--real-sigs", &v)) {
      c.real_signatures = true;
    } else if (Flag(a, "--disable-locking", &v)) {
      c.disable_locking = true;
    } else if (Flag(a, "--no-set-changes", &v)) {
      c.validator_set_changes = false;
    } else if (Flag(a, "--crash-after-persist", &v)) {
      c.crash_after_persist_per_mille = Num(v);
    } else if (Flag(a, "--gossip-ms", &v)) {
      c.gossip_ms = Num(v);
    } else if (Flag(a, "--sweep", &v)) {
      sweep = true;
    } else if (Flag(a, "--from", &v)) {
      from = Num(v);
    } else if (Flag(a, "--seeds", &v)) {
      seeds = Num(v);
    } else if (Flag(a, "--verbose", &v)) {
      verbose = true;
    } else {
      std::fprintf(stderr, "unknown argument %s (see the header of sim_main.cc)\n", argv[i]);
      return 2;
    }
  }
  if (c.n < 1 || c.n > 200) {
    std::fprintf(stderr, "--n must be in [1, 200]\n");
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  uint64_t failures = 0, heights = 0;
  uint64_t first = sweep ? from : c.seed;
  uint64_t count = sweep ? seeds : 1;
  for (uint64_t s = first; s < first + count; ++s) {
    sim::SimConfig run = c;
    if (sweep) {
      run = sim::SweepConfig(s);
      if (have_n) run.n = c.n;
      if (have_faults) run.faults = c.faults;
      run.real_signatures = c.real_signatures;
      run.disable_locking = c.disable_locking;
      run.validator_set_changes = c.validator_set_changes;
      run.byzantine = c.byzantine;
      run.behaviour = c.behaviour;
      run.gossip_ms = c.gossip_ms;
      run.crash_after_persist_per_mille = c.crash_after_persist_per_mille;
    }
    run.seed = s;
    sim::SimResult r = sim::Run(run);
    heights += r.min_height;
    if (!r.ok()) {
      ++failures;
      std::printf("FAIL seed=%llu: %s\n  replay: %s\n", static_cast<unsigned long long>(s),
                  r.violation.c_str(), sim::ReplayCommand(run).c_str());
    } else if (verbose || !sweep) {
      std::printf(
          "ok seed=%llu n=%u faults=%s heights=%llu..%llu sim_ms=%llu liveness_ms=%llu "
          "events=%llu crashes=%llu evidence=%llu verifications=%llu invalid_proposals=%llu "
          "invalid_rejections=%llu\n",
          static_cast<unsigned long long>(s), run.n, sim::FaultsString(run.faults).c_str(),
          static_cast<unsigned long long>(r.min_height),
          static_cast<unsigned long long>(r.max_height),
          static_cast<unsigned long long>(r.sim_time_ms),
          static_cast<unsigned long long>(r.liveness_ms), static_cast<unsigned long long>(r.events),
          static_cast<unsigned long long>(r.crashes), static_cast<unsigned long long>(r.evidence),
          static_cast<unsigned long long>(r.verifications),
          static_cast<unsigned long long>(r.invalid_proposals),
          static_cast<unsigned long long>(r.invalid_rejections));
    }
    if (sweep && (s - first + 1) % 10000 == 0) {
      std::printf("... %llu seeds, %llu failures\n", static_cast<unsigned long long>(s - first + 1),
                  static_cast<unsigned long long>(failures));
      std::fflush(stdout);
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu seed(s), %llu failure(s), %llu heights committed, %.1f s\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(failures),
              static_cast<unsigned long long>(heights), secs);
  return failures == 0 ? 0 : 1;
}
