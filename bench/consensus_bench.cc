// Consensus throughput in the simulator with real BIP-340 signatures, and the raw BIP-340 verify
// rate as the baseline of the same run. Figures are printed, never asserted.
//   heights_per_s       committed heights per second of wall time (the whole simulated network
//                       runs on this one thread, so it is the single-core cost of n validators)
//   verifs_per_height   signature verifications per committed height, summed over all n nodes
//   verifs_per_height_per_node   the same divided by n
#include <benchmark/benchmark.h>

#include "ledger/crypto.h"
#include "tests/consensus/sim.h"
#include "tests/consensus/test_keys.h"

namespace {

namespace sim = certledger::consensus::sim;
namespace ledger = certledger::ledger;

void BM_Bip340Verify(benchmark::State& state) {
  const auto& key = certledger::consensus::testing::TestKey(0);
  ledger::Hash256 digest = ledger::Sha256(ledger::AsBytes("certledger consensus bench"));
  ledger::Signature sig = key.Sign(digest);
  for (auto _ : state) {
    bool ok = ledger::Verify(key.public_key(), digest, sig);
    benchmark::DoNotOptimize(ok);
  }
  state.counters["verify_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Bip340Verify);

void BM_SimulatedHeights(benchmark::State& state) {
  uint32_t n = static_cast<uint32_t>(state.range(0));
  uint64_t heights_per_run = static_cast<uint64_t>(state.range(1));
  uint64_t heights = 0, verifications = 0, seed = 1;
  for (auto _ : state) {
    sim::SimConfig c;
    c.seed = seed++;
    c.n = n;
    c.real_signatures = true;
    c.stop_at_height = heights_per_run;
    sim::SimResult r = sim::Run(c);
    if (!r.ok()) {
      state.SkipWithError(r.violation.c_str());
      return;
    }
    heights += r.min_height;
    verifications += r.verifications;
  }
  double h = static_cast<double>(heights);
  state.counters["heights_per_s"] = benchmark::Counter(h, benchmark::Counter::kIsRate);
  state.counters["verifs_per_height"] = static_cast<double>(verifications) / h;
  state.counters["verifs_per_height_per_node"] = static_cast<double>(verifications) / h / n;
}
BENCHMARK(BM_SimulatedHeights)->Args({4, 50})->Args({40, 5})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
