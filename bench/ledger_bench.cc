// Ledger benchmarks. Run: build/bench/ledger_bench  (figures are printed by Google Benchmark).
#include <benchmark/benchmark.h>

#include "ledger/crypto.h"

namespace certledger::ledger {
namespace {

// Baseline: the raw BIP-340 verification rate of this machine.
void BM_Bip340Verify(benchmark::State& state) {
  PrivateKey k = PrivateKey::Generate();
  Hash256 d = SigningDigest(kTagTx, {"bench", {}}, AsBytes("payload"));
  Signature s = k.Sign(d);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Verify(k.public_key(), d, s));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Bip340Verify);

void BM_Bip340Sign(benchmark::State& state) {
  PrivateKey k = PrivateKey::Generate();
  Hash256 d = SigningDigest(kTagTx, {"bench", {}}, AsBytes("payload"));
  for (auto _ : state) {
    benchmark::DoNotOptimize(k.Sign(d));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Bip340Sign);

}  // namespace
}  // namespace certledger::ledger

BENCHMARK_MAIN();
