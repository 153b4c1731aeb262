// The event log: an append-only RFC 9162 (Certificate Transparency v2) Merkle tree over
// leaf hashes, with inclusion and consistency proofs and their verifiers.
//
// Hashing is RFC 9162 section 2.1.1 with SHA-256 (identical to RFC 6962):
//   leaf  = SHA256(0x00 || leaf_data)
//   node  = SHA256(0x01 || left || right)
//   empty = SHA256("")
// For n > 1 leaves the tree splits at k = the largest power of two strictly below n.
// Byte layouts, node numbering and proof layouts: docs/FORMAT.md §7.
//
// Node numbering: a complete subtree of 2^level leaves is (level, index) and covers leaves
// [index * 2^level, (index + 1) * 2^level). Level 0 holds the leaf hashes. Only complete
// subtrees are ever persisted; a complete subtree's hash never changes once it exists, so
// persisted nodes are write-once.
//
// Consistency edge policy (the transparency-dev/merkle semantics, which RFC 9162 leaves open):
//   - first == 0 is always rejected by VerifyConsistency (even 0 -> 0 with an empty proof) and
//     is an InvalidArgument for ConsistencyProof: an empty tree commits to nothing.
//   - first == second is accepted iff the proof is empty and the two roots are equal.
//   - first > second is rejected.
//
// A verified proof binds a leaf (or an older root) to a root *for the stated tree size*; the
// verifiers do not authenticate the size itself. Callers must take the tree size from the
// same signed structure as the root (for certledger: the committed block header).
//
// Thread safety: MerkleLog is a value type with no internal synchronization; const methods may
// run concurrently if the MerkleNodeReader they are given allows it. The free functions are
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::ledger {

// SHA256(0x00 || leaf_data).
Hash256 MerkleLeafHash(ByteSpan leaf_data);
// SHA256(0x01 || left || right).
Hash256 MerkleNodeHash(const Hash256& left, const Hash256& right);
// SHA256(""), the root of the tree with no leaves.
Hash256 MerkleEmptyRoot();

// The RFC 9162 MTH over `leaf_hashes`, computed by plain recursion. This is the reference
// definition the incremental log is checked against; it holds every hash in memory and is
// meant for tests and small inputs.
Hash256 MerkleRootOf(std::span<const Hash256> leaf_hashes);

// A complete-subtree node: level L, index j covers leaves [j * 2^L, (j + 1) * 2^L).
struct MerkleNode {
  uint32_t level = 0;
  uint64_t index = 0;
  Hash256 hash;
  auto operator<=>(const MerkleNode&) const = default;
};

// Read access to persisted complete-subtree nodes (the LevelDB store implements it; it may
// include nodes that are pending in an uncommitted write batch).
class MerkleNodeReader {
 public:
  virtual ~MerkleNodeReader() = default;
  // The hash of complete subtree (level, index). NotFound if absent; any other non-OK Status on
  // I/O failure. MerkleLog passes the Status through unchanged, except that NotFound becomes
  // Corruption (a node the log's size says must exist is missing).
  virtual Result<Hash256> GetNode(uint32_t level, uint64_t index) const = 0;
};

// Nodes in memory, for tests, benchmarks and tools. Storage is dense per level: memory grows
// with the highest index put at each level (33 bytes per slot), so it suits logs whose nodes
// are put in append order, which is what MerkleLog::Append produces.
class MemoryMerkleNodeStore : public MerkleNodeReader {
 public:
  Result<Hash256> GetNode(uint32_t level, uint64_t index) const override;
  // Inserts or overwrites.
  // REQUIRES: node.level < 64.
  void Put(const MerkleNode& node);
  void PutAll(std::span<const MerkleNode> nodes) {
    for (const MerkleNode& n : nodes) Put(n);
  }
  // Removes the node if present (tests use it to simulate a damaged store).
  void Erase(uint32_t level, uint64_t index);
  // Number of nodes present.
  [[nodiscard]] uint64_t node_count() const { return node_count_; }

 private:
  std::vector<std::vector<std::optional<Hash256>>> levels_;
  uint64_t node_count_ = 0;
};

// Append-only log. Holds only the O(log n) frontier (the roots of the maximal complete subtrees
// of the current size, which are exactly the set bits of size()) in memory; every other node is
// read through a MerkleNodeReader that the caller keeps in step with Append's output.
class MerkleLog {
 public:
  // An empty log.
  MerkleLog() = default;

  // Reopens a log of `size` leaves from persisted nodes: reads one node per set bit of `size`
  // (at most 64), rebuilds nothing. Errors: the reader's Status; Corruption if a frontier node
  // is missing.
  static Result<MerkleLog> Open(const MerkleNodeReader& nodes, uint64_t size);

  [[nodiscard]] uint64_t size() const { return size_; }

  // Root of the current tree; MerkleEmptyRoot() when size() == 0. O(log n) hashes, no reads.
  [[nodiscard]] Hash256 Root() const;

  // The frontier: the nodes for the set bits of size(), highest level (leftmost) first.
  [[nodiscard]] const std::vector<MerkleNode>& frontier() const { return frontier_; }

  // Appends one leaf hash in amortised O(1) (worst case O(log n)) hashes. Appends to
  // *new_nodes every node that became complete, in order of increasing level: the leaf itself
  // (level 0, index size() before the call) first. The caller persists them before asking for
  // proofs that need them. `new_nodes` may be null; it is not cleared.
  // REQUIRES: size() < 2^64 - 1.
  void Append(const Hash256& leaf_hash, std::vector<MerkleNode>* new_nodes);

  // The RFC 9162 section 2.1.3.1 inclusion proof (audit path) of leaf `leaf_index` in the tree
  // of the first `tree_size` leaves, ordered from the leaf's sibling up to the root's child.
  // O(log n) node reads. InvalidArgument unless leaf_index < tree_size <= size().
  [[nodiscard]] Result<std::vector<Hash256>> InclusionProof(uint64_t leaf_index, uint64_t tree_size,
                                                            const MerkleNodeReader& nodes) const;

  // The RFC 9162 section 2.1.4.1 consistency proof from the tree of `first` leaves to the tree
  // of `second` leaves. Empty when first == second. O(log n) node reads. InvalidArgument unless
  // 0 < first <= second <= size().
  [[nodiscard]] Result<std::vector<Hash256>> ConsistencyProof(uint64_t first, uint64_t second,
                                                              const MerkleNodeReader& nodes) const;

  // The root of the tree of the first `tree_size` leaves (MerkleEmptyRoot() for 0). O(log n)
  // node reads, none when tree_size == size(). InvalidArgument if tree_size > size().
  [[nodiscard]] Result<Hash256> RootAt(uint64_t tree_size, const MerkleNodeReader& nodes) const;

 private:
  // The hash of complete subtree (level, index), from the frontier when it is a frontier node,
  // else from `nodes`.
  // REQUIRES: the subtree is complete in the current tree.
  [[nodiscard]] Result<Hash256> CompleteNode(uint32_t level, uint64_t index,
                                             const MerkleNodeReader& nodes) const;
  // MTH of leaves [begin, end).
  // REQUIRES: begin < end <= size(), and begin is a multiple of the smallest power of two
  // >= end - begin (the range is a node of the tree of size `end`).
  [[nodiscard]] Result<Hash256> RangeHash(uint64_t begin, uint64_t end,
                                          const MerkleNodeReader& nodes) const;

  uint64_t size_ = 0;
  std::vector<MerkleNode> frontier_;  // Highest level first.
};

// RFC 9162 section 2.1.3.2: true iff `proof` shows that `leaf_hash` is leaf `leaf_index` of the
// tree of `tree_size` leaves whose root is `root`. False (never an error) for any malformed
// input, including leaf_index >= tree_size and proofs that are too short or too long.
[[nodiscard]] bool VerifyInclusion(uint64_t leaf_index, uint64_t tree_size,
                                   const Hash256& leaf_hash, std::span<const Hash256> proof,
                                   const Hash256& root);

// RFC 9162 section 2.1.4.2, with the edge policy in the file comment: true iff `proof` shows
// that the tree of `first` leaves with root `first_root` is a prefix of the tree of `second`
// leaves with root `second_root`.
[[nodiscard]] bool VerifyConsistency(uint64_t first, uint64_t second, const Hash256& first_root,
                                     const Hash256& second_root, std::span<const Hash256> proof);

}  // namespace certledger::ledger
