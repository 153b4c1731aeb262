// Event log (Merkle) benchmarks: append with node persistence, proof generation and proof
// verification at a tree of 1,000,000 leaves. Nodes live in a MemoryMerkleNodeStore, so the
// figures are the hashing and bookkeeping cost without LevelDB.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "ledger/merkle.h"

namespace certledger::ledger {
namespace {

constexpr uint64_t kTreeSize = 1'000'000;

// A distinct leaf hash per counter value without hashing, so that Append is timed alone.
Hash256 LeafFor(uint64_t i) {
  Hash256 h;
  std::memcpy(h.data(), &i, sizeof(i));
  return h;
}

// Deterministic pseudo-random indices (splitmix64), so that reads spread over the whole tree.
uint64_t Mix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct Tree {
  MerkleLog log;
  MemoryMerkleNodeStore store;
};

// Built once per process, outside every timed loop.
const Tree& MillionLeafTree() {
  static const Tree* tree = [] {
    auto* t = new Tree;
    std::vector<MerkleNode> new_nodes;
    for (uint64_t i = 0; i < kTreeSize; ++i) {
      new_nodes.clear();
      t->log.Append(LeafFor(i), &new_nodes);
      t->store.PutAll(new_nodes);
    }
    return t;
  }();
  return *tree;
}

// Per leaf: Append plus persisting every node it completes.
void BM_MerkleAppend(benchmark::State& state) {
  MerkleLog log;
  MemoryMerkleNodeStore store;
  std::vector<MerkleNode> new_nodes;
  uint64_t i = 0;
  for (auto _ : state) {
    new_nodes.clear();
    log.Append(LeafFor(i++), &new_nodes);
    store.PutAll(new_nodes);
  }
  benchmark::DoNotOptimize(log.Root());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MerkleAppend);

void BM_MerkleInclusionProof1M(benchmark::State& state) {
  const Tree& t = MillionLeafTree();
  uint64_t rng = 1;
  for (auto _ : state) {
    auto proof = t.log.InclusionProof(Mix(rng) % kTreeSize, kTreeSize, t.store);
    if (!proof.ok()) state.SkipWithError(proof.status().ToString().c_str());
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MerkleInclusionProof1M);

// Historical tree sizes: the proof's right edge is then not in memory and is read from nodes.
void BM_MerkleInclusionProofHistorical1M(benchmark::State& state) {
  const Tree& t = MillionLeafTree();
  uint64_t rng = 2;
  for (auto _ : state) {
    const uint64_t size = 1 + Mix(rng) % kTreeSize;
    auto proof = t.log.InclusionProof(Mix(rng) % size, size, t.store);
    if (!proof.ok()) state.SkipWithError(proof.status().ToString().c_str());
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MerkleInclusionProofHistorical1M);

void BM_MerkleConsistencyProof1M(benchmark::State& state) {
  const Tree& t = MillionLeafTree();
  uint64_t rng = 3;
  for (auto _ : state) {
    auto proof = t.log.ConsistencyProof(1 + Mix(rng) % (kTreeSize - 1), kTreeSize, t.store);
    if (!proof.ok()) state.SkipWithError(proof.status().ToString().c_str());
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MerkleConsistencyProof1M);

void BM_MerkleVerifyInclusion1M(benchmark::State& state) {
  const Tree& t = MillionLeafTree();
  const uint64_t index = 123'457;
  const std::vector<Hash256> proof = *t.log.InclusionProof(index, kTreeSize, t.store);
  const Hash256 root = t.log.Root();
  for (auto _ : state) {
    benchmark::DoNotOptimize(VerifyInclusion(index, kTreeSize, LeafFor(index), proof, root));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MerkleVerifyInclusion1M);

void BM_MerkleVerifyConsistency1M(benchmark::State& state) {
  const Tree& t = MillionLeafTree();
  const uint64_t first = 654'321;
  const std::vector<Hash256> proof = *t.log.ConsistencyProof(first, kTreeSize, t.store);
  const Hash256 first_root = *t.log.RootAt(first, t.store);
  const Hash256 root = t.log.Root();
  for (auto _ : state) {
    benchmark::DoNotOptimize(VerifyConsistency(first, kTreeSize, first_root, root, proof));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MerkleVerifyConsistency1M);

}  // namespace
}  // namespace certledger::ledger
