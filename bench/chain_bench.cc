// Ledger throughput benchmarks: transaction verify+apply, and store append for 1,000,000 events.
//
//   build/bench/ledger_bench --benchmark_filter='Tx|Bip340Verify'
//   build/bench/ledger_bench --benchmark_filter=StoreAppend     (1,000,000 events; about 1 min)
//   CERTLEDGER_BENCH_EVENTS=100000 build/bench/ledger_bench --benchmark_filter=StoreAppend
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "bench/accept_all_verifier.h"
#include "ledger/chain.h"
#include "ledger/encoding.h"
#include "ledger/leveldb_store.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {
namespace {

// `n` validly signed issue transactions, round-robin over three agencies.
std::vector<SignedTransaction> SignedIssues(ChainFixture& f, size_t n, bool sign,
                                            size_t first_serial = 0) {
  std::vector<SignedTransaction> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    size_t agency = i % 3;
    IssueEvent e = f.Issue(agency, "P" + std::to_string(10000000 + first_serial + i));
    if (sign) {
      out.push_back(f.Tx(agency, e));
    } else {
      SignedTransaction stx;
      stx.tx = f.Unsigned(agency, e, f.agencies[agency].next_sequence++);
      Signature dummy;
      dummy.bytes.fill(0x5a);
      stx.signatures.push_back({f.agencies[agency].issuing[0].public_key(), dummy});
      out.push_back(std::move(stx));
    }
  }
  return out;
}

// Signature verification plus the full state transition of one transaction, on one core.
void BM_TxVerifyApply(benchmark::State& state) {
  const bool verify = state.range(0) != 0;
  ChainFixture f;
  auto txs = SignedIssues(f, 20000, /*sign=*/true);
  MemoryState base;
  base.Apply(GenesisChanges(f.genesis));
  size_t i = 0;
  auto overlay = std::make_unique<StateOverlay>(&base);
  for (auto _ : state) {
    if (i == txs.size()) {  // start over on a fresh state, untimed
      state.PauseTiming();
      overlay = std::make_unique<StateOverlay>(&base);
      i = 0;
      state.ResumeTiming();
    }
    ApplyContext ctx{1, f.now_s * 1000, i};
    auto r = verify ? Apply(*overlay, txs[i], ctx) : ApplyVerified(*overlay, txs[i], ctx);
    if (!r.ok() || !r->accepted()) {
      state.SkipWithError("transaction rejected");
      break;
    }
    for (auto& c : r->changes) overlay->Put(std::move(c.key), std::move(c.value));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TxVerifyApply)->Arg(1)->ArgName("verify");
BENCHMARK(BM_TxVerifyApply)->Arg(0)->ArgName("verify");

uint64_t DirectoryBytes(const std::filesystem::path& p) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// Appends blocks of 1,000 issue events to a LevelDB store (fsync per block) until it holds
// CERTLEDGER_BENCH_EVENTS events (default 1,000,000). Times AppendBlock only; block execution
// (BuildBlock over the store's own state, state tree included) and validation (ValidateBlock of
// the same block, signatures not checked) are reported separately.
void BM_StoreAppend(benchmark::State& state) {
  size_t total = 1'000'000;
  if (const char* env = std::getenv("CERTLEDGER_BENCH_EVENTS")) total = std::stoul(env);
  const size_t per_block = 1000;
  for (auto _ : state) {
    ChainFixture f;
    std::random_device rd;
    auto dir =
        std::filesystem::temp_directory_path() / ("certledger-bench-" + std::to_string(rd()));
    LevelDBStoreOptions o;
    o.path = dir.string();
    auto opened = OpenLevelDBStore(o);
    if (!opened.ok() || !(*opened)->Initialize(f.genesis).ok()) {
      state.SkipWithError("cannot open store");
      return;
    }
    Store& store = **opened;
    double append_s = 0, build_s = 0, validate_s = 0;
    uint64_t block_bytes = 0;
    for (size_t done = 0; done < total; done += per_block) {
      auto txs = SignedIssues(f, per_block, /*sign=*/false, done);
      auto t0 = std::chrono::steady_clock::now();
      auto built =
          BuildBlock(store, store, store.Tip(), store.Log(), txs, store.Tip().time_ms + 1000,
                     f.validator_keys[0].public_key(), bench::AcceptAllVerifier());
      auto t1 = std::chrono::steady_clock::now();
      if (!built.ok() || built->block.txs.size() != per_block) {
        state.SkipWithError(!built.ok() ? built.status().ToString().c_str()
                            : built->rejected.empty()
                                ? "short block"
                                : (std::string(built->rejected[0].second.code()) + ": " +
                                   built->rejected[0].second.message)
                                      .c_str());
        return;
      }
      // Validation of the same block by a follower (same store, before the append).
      auto v0 = std::chrono::steady_clock::now();
      auto validated = ValidateBlock(store, store, store.Tip(), store.Log(), built->block,
                                     bench::AcceptAllVerifier());
      auto v1 = std::chrono::steady_clock::now();
      if (!validated.ok()) {
        state.SkipWithError(validated.status().ToString().c_str());
        return;
      }
      validate_s += std::chrono::duration<double>(v1 - v0).count();
      CommitCertificate commit = f.Commit(built->block.header, {0, 1, 2});
      auto t2 = std::chrono::steady_clock::now();
      Status st = store.AppendBlock(built->block, commit, built->effects);
      auto t3 = std::chrono::steady_clock::now();
      if (!st.ok()) {
        state.SkipWithError(st.ToString().c_str());
        return;
      }
      block_bytes += Encode(built->block).size();
      build_s += std::chrono::duration<double>(t1 - t0).count();
      append_s += std::chrono::duration<double>(t3 - t2).count();
    }
    opened->reset();  // close: flushes the memtable
    const uint64_t bytes = DirectoryBytes(dir);
    std::filesystem::remove_all(dir);
    state.SetIterationTime(append_s);
    state.counters["events"] = static_cast<double>(total);
    state.counters["append_events_per_s"] = static_cast<double>(total) / append_s;
    state.counters["build_events_per_s"] = static_cast<double>(total) / build_s;
    state.counters["validate_events_per_s"] = static_cast<double>(total) / validate_s;
    state.counters["disk_bytes_per_event"] =
        static_cast<double>(bytes) / static_cast<double>(total);
    state.counters["block_bytes_per_event"] =
        static_cast<double>(block_bytes) / static_cast<double>(total);
  }
}
BENCHMARK(BM_StoreAppend)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

}  // namespace
}  // namespace certledger::testing
