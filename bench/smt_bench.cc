// State tree (ledger/smt.h) benchmarks, in memory (MemorySmtNodeStore):
//
//   build/bench/ledger_bench --benchmark_filter=Smt
//   CERTLEDGER_BENCH_SMT_ENTRIES=100000 build/bench/ledger_bench --benchmark_filter=Smt
//
// BM_SmtUpdate1k: one batch of 1,000 changes (half new keys, half updates of existing ones) over a
// tree of CERTLEDGER_BENCH_SMT_ENTRIES entries (default 1,000,000), as one block of 1,000
// transactions touching 1,000 state keys would. The tree is built once, untimed.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "ledger/crypto.h"
#include "ledger/smt.h"

namespace certledger::ledger {
namespace {

Hash256 KeyOf(uint64_t i) { return SmtKeyHash("bench/" + std::to_string(i)); }
Hash256 ValueOf(uint64_t i, uint64_t round) {
  const std::string v = std::to_string(i) + "/" + std::to_string(round);
  return SmtValueHash(ByteSpan(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
}

struct BigTree {
  MemorySmtNodeStore nodes;
  Hash256 root;
  uint64_t entries = 0;
};

const BigTree& Tree() {
  static const BigTree* tree = [] {
    auto* t = new BigTree();
    t->entries = 1'000'000;
    if (const char* env = std::getenv("CERTLEDGER_BENCH_SMT_ENTRIES")) {
      t->entries = std::stoull(env);
    }
    std::vector<SmtChange> changes;
    changes.reserve(t->entries);
    for (uint64_t i = 0; i < t->entries; ++i) changes.push_back({KeyOf(i), ValueOf(i, 0)});
    std::vector<std::pair<Hash256, SmtNode>> out;
    auto root = SmtUpdate(t->nodes, SmtEmptyHash(), std::move(changes), &out);
    t->nodes.PutAll(out);
    t->root = root.ok() ? *root : SmtEmptyHash();
    return t;
  }();
  return *tree;
}

void BM_SmtUpdate1k(benchmark::State& state) {
  const BigTree& t = Tree();
  if (t.root == SmtEmptyHash()) {
    state.SkipWithError("tree build failed");
    return;
  }
  uint64_t round = 1;
  size_t nodes_written = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<SmtChange> batch;
    batch.reserve(1000);
    for (uint64_t j = 0; j < 500; ++j) {  // updates of existing keys, spread over the tree
      const uint64_t i = (round * 7919 + j * 1999) % t.entries;
      batch.push_back({KeyOf(i), ValueOf(i, round)});
    }
    for (uint64_t j = 0; j < 500; ++j) {  // new keys
      const uint64_t i = t.entries + round * 1000 + j;
      batch.push_back({KeyOf(i), ValueOf(i, round)});
    }
    std::vector<std::pair<Hash256, SmtNode>> out;
    state.ResumeTiming();
    auto root = SmtUpdate(t.nodes, t.root, std::move(batch), &out);
    if (!root.ok()) {
      state.SkipWithError(root.status().ToString().c_str());
      break;
    }
    nodes_written += out.size();
    ++round;
  }
  state.counters["entries"] = static_cast<double>(t.entries);
  state.counters["nodes_per_batch"] =
      static_cast<double>(nodes_written) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_SmtUpdate1k)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace certledger::ledger
