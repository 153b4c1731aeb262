// The simulation suite: seeded runs of many engines under faults, with every invariant checked.
// Seed counts: CERTLEDGER_SIM_SEEDS (total over the four sweep shards; default from the build:
// >= 2,000 in release builds, fewer under sanitizers). CERTLEDGER_SIM_SEED=N runs only the sweep
// seed N. A failure prints the one-line command that replays it.
#include "tests/consensus/sim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace certledger::consensus::sim {
namespace {

#ifndef CERTLEDGER_SIM_DEFAULT_SEEDS
#define CERTLEDGER_SIM_DEFAULT_SEEDS 2100
#endif

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// Scales a per-test count with CERTLEDGER_SIM_SEEDS relative to the default.
uint64_t Scaled(uint64_t release_count) {
  uint64_t total = EnvOr("CERTLEDGER_SIM_SEEDS", CERTLEDGER_SIM_DEFAULT_SEEDS);
  uint64_t n = release_count * total / 2100;
  return n == 0 ? 1 : n;
}

void ExpectOk(const SimConfig& c, const SimResult& r) {
  EXPECT_TRUE(r.ok()) << "seed " << c.seed << ": " << r.violation
                      << "\n  replay: " << ReplayCommand(c);
}

class SweepShard : public ::testing::TestWithParam<int> {};

// At least 2,000 seeds (release) across n = 4, 7, 10 and four fault mixes, in four shards so
// that ctest -j2 uses both cores.
TEST_P(SweepShard, AllInvariantsAndLivenessHold) {
  const char* only = std::getenv("CERTLEDGER_SIM_SEED");
  if (only != nullptr && *only != '\0') {
    uint64_t seed = std::strtoull(only, nullptr, 10);
    if (static_cast<int>(seed % 4) != GetParam()) GTEST_SKIP();
    SimConfig c = SweepConfig(seed);
    ExpectOk(c, sim::Run(c));
    return;
  }
  uint64_t total = EnvOr("CERTLEDGER_SIM_SEEDS", CERTLEDGER_SIM_DEFAULT_SEEDS);
  uint64_t base = EnvOr("CERTLEDGER_SIM_SEED_BASE", 0);
  uint64_t ran = 0, heights = 0, evidence = 0, crashes = 0, max_liveness = 0;
  for (uint64_t s = base; s < base + total; ++s) {
    if (static_cast<int>(s % 4) != GetParam()) continue;
    SimConfig c = SweepConfig(s);
    SimResult r = sim::Run(c);
    ExpectOk(c, r);
    ++ran;
    heights += r.min_height;
    evidence += r.evidence;
    crashes += r.crashes;
    max_liveness = std::max(max_liveness, r.liveness_ms);
  }
  RecordProperty("seeds", std::to_string(ran));
  std::printf(
      "shard %d: %llu seeds, %llu heights, %llu evidence, %llu crashes, max %llu ms from "
      "GST to target\n",
      GetParam(), static_cast<unsigned long long>(ran), static_cast<unsigned long long>(heights),
      static_cast<unsigned long long>(evidence), static_cast<unsigned long long>(crashes),
      static_cast<unsigned long long>(max_liveness));
}
INSTANTIATE_TEST_SUITE_P(Seeds, SweepShard, ::testing::Values(0, 1, 2, 3));

// n = 40 with f = 13 Byzantine validators and every fault.
TEST(SimTest, FortyValidatorsThirteenByzantine) {
  for (uint64_t s = 0; s < Scaled(12); ++s) {
    SimConfig c;
    c.seed = 40000 + s;
    c.n = 40;
    c.byzantine = 13;
    ParseFaults(s % 2 == 0 ? "all" : "loss,dup,byz", &c.faults);
    ExpectOk(c, sim::Run(c));
  }
}

// Real BIP-340 keys (ledger::VerifyCommit checks the certificates).
TEST(SimTest, RealSignatures) {
  for (uint64_t s = 0; s < Scaled(30); ++s) {
    SimConfig c = SweepConfig(50000 + s);
    c.real_signatures = true;
    ExpectOk(c, sim::Run(c));
  }
}

// Crashes only, many of them, including between persist and send.
TEST(SimTest, HeavyCrashesNeverMakeACorrectValidatorSignConflictingMessages) {
  for (uint64_t s = 0; s < Scaled(150); ++s) {
    SimConfig c;
    c.seed = 60000 + s;
    c.n = s % 2 ? 4 : 7;
    ParseFaults("loss,crash", &c.faults);
    c.crash_after_persist_per_mille = 250;
    SimResult r = sim::Run(c);
    ExpectOk(c, r);
  }
}

// The simulator catches a real bug: with the locking rule disabled on correct validators, some
// seed breaks agreement. Slow gossip (10 s) widens the window in which the decided value has
// not yet reached the others; with locking enabled the same seeds pass.
TEST(SimTest, DisabledLockingIsCaughtAsAnAgreementViolation) {
  uint64_t found = UINT64_MAX;
  for (uint64_t s = 0; s < 1000 && found == UINT64_MAX; ++s) {
    SimConfig c;
    c.seed = s;
    c.n = 4;
    ParseFaults("loss,byz", &c.faults);
    c.gossip_ms = 10000;
    c.disable_locking = true;
    SimResult r = sim::Run(c);
    if (r.violation.rfind("agreement", 0) == 0) {
      found = s;
      std::printf("violation found at seed %llu: %s\n  replay: %s\n",
                  static_cast<unsigned long long>(s), r.violation.c_str(),
                  ReplayCommand(c).c_str());
      c.disable_locking = false;
      ExpectOk(c, sim::Run(c));
    }
  }
  EXPECT_NE(found, UINT64_MAX) << "no agreement violation within 1000 seeds";
}

TEST(SimTest, SameSeedSameRun) {
  SimConfig c = SweepConfig(7);
  SimResult a = sim::Run(c), b = sim::Run(c);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.deliveries, b.deliveries);
  EXPECT_EQ(a.min_height, b.min_height);
  EXPECT_EQ(a.sim_time_ms, b.sim_time_ms);
}

}  // namespace
}  // namespace certledger::consensus::sim
