#include "ledger/merkle.h"

#include <algorithm>
#include <bit>
#include <string>

namespace certledger::ledger {

namespace {

// Largest power of two strictly below n. REQUIRES: n > 1.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

uint32_t Log2(uint64_t power_of_two) {
  return static_cast<uint32_t>(std::countr_zero(power_of_two));
}

std::string NodeName(uint32_t level, uint64_t index) {
  return "merkle node (level " + std::to_string(level) + ", index " + std::to_string(index) + ")";
}

// The log only asks for nodes that its size says exist, so absence means a damaged store.
Result<Hash256> ReadNode(const MerkleNodeReader& nodes, uint32_t level, uint64_t index,
                         uint64_t log_size) {
  Result<Hash256> hash = nodes.GetNode(level, index);
  if (!hash.ok() && hash.status().IsNotFound()) {
    return Status::Corruption(NodeName(level, index) + " missing for log size " +
                              std::to_string(log_size));
  }
  return hash;
}

}  // namespace

Hash256 MerkleLeafHash(ByteSpan leaf_data) {
  // Sha256Hasher rather than Sha256(): the one-shot call goes through EVP, which costs more than
  // the hashing itself for inputs this short.
  Sha256Hasher h;
  h.Update(uint8_t{0x00}).Update(leaf_data);
  return h.Finish();
}

Hash256 MerkleNodeHash(const Hash256& left, const Hash256& right) {
  Sha256Hasher h;
  h.Update(uint8_t{0x01}).Update(left.span()).Update(right.span());
  return h.Finish();
}

Hash256 MerkleEmptyRoot() { return Sha256Hasher().Finish(); }

Hash256 MerkleRootOf(std::span<const Hash256> leaf_hashes) {
  if (leaf_hashes.empty()) return MerkleEmptyRoot();
  if (leaf_hashes.size() == 1) return leaf_hashes[0];
  const size_t k = std::bit_floor(leaf_hashes.size() - 1);
  return MerkleNodeHash(MerkleRootOf(leaf_hashes.first(k)), MerkleRootOf(leaf_hashes.subspan(k)));
}

// --- MemoryMerkleNodeStore ---

Result<Hash256> MemoryMerkleNodeStore::GetNode(uint32_t level, uint64_t index) const {
  if (level < levels_.size() && index < levels_[level].size() && levels_[level][index]) {
    return *levels_[level][index];
  }
  return Status::NotFound(NodeName(level, index));
}

void MemoryMerkleNodeStore::Put(const MerkleNode& node) {
  if (node.level >= levels_.size()) levels_.resize(node.level + 1);
  auto& level = levels_[node.level];
  if (node.index >= level.size()) level.resize(node.index + 1);
  if (!level[node.index]) ++node_count_;
  level[node.index] = node.hash;
}

void MemoryMerkleNodeStore::Erase(uint32_t level, uint64_t index) {
  if (level < levels_.size() && index < levels_[level].size() && levels_[level][index]) {
    levels_[level][index].reset();
    --node_count_;
  }
}

// --- MerkleLog ---

Result<MerkleLog> MerkleLog::Open(const MerkleNodeReader& nodes, uint64_t size) {
  MerkleLog log;
  log.size_ = size;
  for (int bit = 63; bit >= 0; --bit) {
    const auto level = static_cast<uint32_t>(bit);
    if (((size >> level) & 1) == 0) continue;
    const uint64_t index = (size >> level) - 1;
    Result<Hash256> hash = ReadNode(nodes, level, index, size);
    if (!hash.ok()) return hash.status();
    log.frontier_.push_back(MerkleNode{level, index, *hash});
  }
  return log;
}

Hash256 MerkleLog::Root() const {
  if (frontier_.empty()) return MerkleEmptyRoot();
  // The frontier nodes are the split subtrees from left to right, and each split puts the
  // largest power of two on the left, so the root is the right fold.
  Hash256 root = frontier_.back().hash;
  for (size_t i = frontier_.size() - 1; i-- > 0;) root = MerkleNodeHash(frontier_[i].hash, root);
  return root;
}

void MerkleLog::Append(const Hash256& leaf_hash, std::vector<MerkleNode>* new_nodes) {
  MerkleNode node{0, size_, leaf_hash};
  if (new_nodes != nullptr) new_nodes->push_back(node);
  // Each trailing one bit of the old size is a frontier subtree of the same size as `node`
  // and directly to its left: merge them, carrying like a binary increment.
  while (!frontier_.empty() && frontier_.back().level == node.level) {
    node = MerkleNode{node.level + 1, node.index >> 1,
                      MerkleNodeHash(frontier_.back().hash, node.hash)};
    frontier_.pop_back();
    if (new_nodes != nullptr) new_nodes->push_back(node);
  }
  frontier_.push_back(node);
  ++size_;
}

Result<Hash256> MerkleLog::CompleteNode(uint32_t level, uint64_t index,
                                        const MerkleNodeReader& nodes) const {
  if (((size_ >> level) & 1) != 0 && index == (size_ >> level) - 1) {
    // Frontier node: it is in memory, and may not have been persisted yet.
    const auto position = static_cast<size_t>(std::popcount(size_ >> level) - 1);
    return frontier_[position].hash;
  }
  return ReadNode(nodes, level, index, size_);
}

Result<Hash256> MerkleLog::RangeHash(uint64_t begin, uint64_t end,
                                     const MerkleNodeReader& nodes) const {
  // [begin, end) splits into complete subtrees by the bits of its width, largest on the left;
  // fold them right to left, taking the smallest (rightmost) first.
  const uint64_t width = end - begin;
  std::optional<Hash256> acc;
  uint64_t chunk_end = end;
  for (uint32_t level = 0; level < 64; ++level) {
    const uint64_t chunk = uint64_t{1} << level;
    if ((width & chunk) == 0) continue;
    chunk_end -= chunk;
    Result<Hash256> hash = CompleteNode(level, chunk_end >> level, nodes);
    if (!hash.ok()) return hash.status();
    acc = acc ? MerkleNodeHash(*hash, *acc) : *hash;
  }
  return *acc;
}

Result<std::vector<Hash256>> MerkleLog::InclusionProof(uint64_t leaf_index, uint64_t tree_size,
                                                       const MerkleNodeReader& nodes) const {
  if (tree_size > size_) {
    return Status::InvalidArgument("inclusion proof: tree_size " + std::to_string(tree_size) +
                                   " exceeds log size " + std::to_string(size_));
  }
  if (leaf_index >= tree_size) {
    return Status::InvalidArgument("inclusion proof: leaf_index " + std::to_string(leaf_index) +
                                   " not below tree_size " + std::to_string(tree_size));
  }
  // Walk PATH(m, D[n]) from the root down; the RFC lists the siblings bottom-up, so reverse at
  // the end. Only the first step into a left subtree has an incomplete sibling (the right part);
  // below it every sibling is a single complete node.
  std::vector<Hash256> path;
  uint64_t begin = 0;
  uint64_t end = tree_size;
  while (end - begin > 1) {
    const uint64_t k = SplitPoint(end - begin);
    Result<Hash256> sibling = leaf_index < begin + k
                                  ? RangeHash(begin + k, end, nodes)
                                  : CompleteNode(Log2(k), begin >> Log2(k), nodes);
    if (!sibling.ok()) return sibling.status();
    path.push_back(*sibling);
    if (leaf_index < begin + k) {
      end = begin + k;
    } else {
      begin += k;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

Result<std::vector<Hash256>> MerkleLog::ConsistencyProof(uint64_t first, uint64_t second,
                                                         const MerkleNodeReader& nodes) const {
  if (second > size_) {
    return Status::InvalidArgument("consistency proof: second " + std::to_string(second) +
                                   " exceeds log size " + std::to_string(size_));
  }
  if (first > second) {
    return Status::InvalidArgument("consistency proof: first " + std::to_string(first) +
                                   " exceeds second " + std::to_string(second));
  }
  if (first == 0) {
    return Status::InvalidArgument("consistency proof: first must be > 0 (nothing to prove)");
  }
  // Walk SUBPROOF(m, D[n], b) from the root down and reverse at the end, as for inclusion.
  // `complete_first` is b: still true while the old tree is a left-edge subtree of the range,
  // whose root the verifier already has.
  std::vector<Hash256> proof;
  uint64_t begin = 0;
  uint64_t end = second;
  bool complete_first = true;
  while (first != end) {
    const uint64_t k = SplitPoint(end - begin);
    Result<Hash256> node = first <= begin + k ? RangeHash(begin + k, end, nodes)
                                              : CompleteNode(Log2(k), begin >> Log2(k), nodes);
    if (!node.ok()) return node.status();
    proof.push_back(*node);
    if (first <= begin + k) {
      end = begin + k;
    } else {
      begin += k;
      complete_first = false;
    }
  }
  if (!complete_first) {
    Result<Hash256> node = RangeHash(begin, end, nodes);
    if (!node.ok()) return node.status();
    proof.push_back(*node);
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

Result<Hash256> MerkleLog::RootAt(uint64_t tree_size, const MerkleNodeReader& nodes) const {
  if (tree_size > size_) {
    return Status::InvalidArgument("root: tree_size " + std::to_string(tree_size) +
                                   " exceeds log size " + std::to_string(size_));
  }
  if (tree_size == size_) return Root();
  if (tree_size == 0) return MerkleEmptyRoot();
  return RangeHash(0, tree_size, nodes);
}

// --- Verification ---

namespace {

// Shared step 3b / 6b of RFC 9162: after hashing in a left sibling at an even fn (fn == sn, a
// node with no right sibling), skip the levels where the node is still the last one. The
// condition is "even AND nonzero"; `!odd || zero` is a known published bug that loops forever.
void SkipRightEdge(uint64_t& fn, uint64_t& sn) {
  while ((fn & 1) == 0 && fn != 0) {
    fn >>= 1;
    sn >>= 1;
  }
}

}  // namespace

bool VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash256& leaf_hash,
                     std::span<const Hash256> proof, const Hash256& root) {
  if (leaf_index >= tree_size) return false;
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash256 r = leaf_hash;
  for (const Hash256& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = MerkleNodeHash(p, r);
      SkipRightEdge(fn, sn);
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(uint64_t first, uint64_t second, const Hash256& first_root,
                       const Hash256& second_root, std::span<const Hash256> proof) {
  if (first == 0 || first > second) return false;
  if (first == second) return proof.empty() && first_root == second_root;
  if (proof.empty()) return false;
  // Step 2 (the RFC prepends first_root to the path when first is a power of two): the old tree
  // is then a complete subtree of the new one and the proof leaves out its root.
  size_t next = 0;
  const Hash256& seed = std::has_single_bit(first) ? first_root : proof[next++];
  uint64_t fn = first - 1;
  uint64_t sn = second - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash256 fr = seed;
  Hash256 sr = seed;
  for (; next < proof.size(); ++next) {
    const Hash256& c = proof[next];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = MerkleNodeHash(c, fr);
      sr = MerkleNodeHash(c, sr);
      SkipRightEdge(fn, sn);
    } else {
      sr = MerkleNodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == first_root && sr == second_root && sn == 0;
}

}  // namespace certledger::ledger
