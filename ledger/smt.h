// The authenticated state tree (issue #10, first increment): a binary sparse Merkle tree over
// 256-bit keys with collapsed single-leaf subtrees, content-addressed nodes, batch updates and
// compact membership / non-membership proofs. Byte layouts and the worked example:
// docs/FORMAT.md §6.6 (vectors computed independently by docs/smt_vectors.py).
//
// Every block header's state_root is this tree's root over the state map after the block
// (FORMAT.md §6.3; chain.h's StateTreeUpdate maps state entries to (K, V)).
//
//   E                = 32 zero bytes, the hash of an empty subtree (and the root of the empty tree)
//   LeafHash(K, V)   = SHA256(0x00 || K || V)
//   InnerHash(L, R)  = SHA256(0x01 || L || R)
// A subtree with no leaf hashes to E, one with exactly one leaf to that leaf's LeafHash (at any
// depth: the leaf is collapsed to the top of the largest subtree it is alone in), one with two or
// more leaves to InnerHash(left child, right child). Bit i of K (i = 0 is the most significant bit
// of byte 0) chooses the child at depth i: 0 left, 1 right.
//
// Storage: a node's hash is SHA-256 of its 65-byte encoding (EncodeSmtNode), so nodes are
// content-addressed and write-once, and every old root stays readable as long as its nodes are
// kept. Pruning is a non-goal for now. Reads go through SmtNodeReader; MemorySmtNodeStore keeps
// single nodes in memory; ledger::Store (LevelDB, key prefix z/) keeps pages of 4 levels under
// the hash of their top node (SmtPagesOf, DecodeSmtPage; FORMAT.md §12). The tree functions
// always walk from a root, so they name the page of every node they read (GetNodeInPage).
//
// Thread safety: the free functions keep no state; concurrent calls are safe if the reader they
// are given allows concurrent GetNode calls. MemorySmtNodeStore is not synchronized.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::ledger {

// TaggedHash tags of the state-entry mapping (FORMAT.md §2.4, §6.6).
inline constexpr std::string_view kTagSmtKey = "certledger/smt/key";
inline constexpr std::string_view kTagSmtValue = "certledger/smt/value";

// K of a state entry: TaggedHash("certledger/smt/key", key bytes).
Hash256 SmtKeyHash(std::string_view state_key);
// V of a state entry: TaggedHash("certledger/smt/value", value bytes).
Hash256 SmtValueHash(ByteSpan value);

// The hash of an empty subtree: 32 zero bytes.
inline Hash256 SmtEmptyHash() { return Hash256{}; }
// SHA256(0x00 || key || value).
Hash256 SmtLeafHash(const Hash256& key, const Hash256& value);
// SHA256(0x01 || left || right).
Hash256 SmtInnerHash(const Hash256& left, const Hash256& right);

// Bit `i` of `key` (0 = most significant bit of byte 0). REQUIRES: i < 256.
inline int SmtKeyBit(const Hash256& key, unsigned i) {
  return (key.bytes[i / 8] >> (7 - i % 8)) & 1;
}

// ---- nodes ------------------------------------------------------------------------------------

struct SmtLeaf {
  Hash256 key;    // K
  Hash256 value;  // V
  bool operator==(const SmtLeaf&) const = default;
};
struct SmtInner {
  Hash256 left;  // either may be E
  Hash256 right;
  bool operator==(const SmtInner&) const = default;
};
using SmtNode = std::variant<SmtLeaf, SmtInner>;

// LeafHash or InnerHash of the node, which is also SHA256(EncodeSmtNode(node)).
Hash256 SmtNodeHash(const SmtNode& node);
// 65 bytes: a tag byte (0 leaf, 1 inner) then K || V or L || R.
Bytes EncodeSmtNode(const SmtNode& node);
// Exactly the 65 bytes EncodeSmtNode produces; InvalidArgument for anything else.
Result<SmtNode> DecodeSmtNode(ByteSpan in);

// Read access to stored nodes, by hash.
class SmtNodeReader {
 public:
  virtual ~SmtNodeReader() = default;
  // The node stored under `hash`; nullopt if there is none; a non-OK Status on I/O failure
  // (passed through unchanged by the tree functions). The tree functions turn a missing node
  // into Corruption and check that the node returned hashes to `hash`.
  virtual Result<std::optional<SmtNode>> GetNode(const Hash256& hash) const = 0;
  // The same, for a node that the tree functions reached from a root: `page_top` is the hash of
  // its ancestor at the greatest depth <= the node's depth that is a multiple of kSmtPageLevels
  // (the node itself when its depth is one). A store that groups nodes into pages (SmtPagesOf)
  // finds the node in that page. The tree functions only call this one; the default forwards to
  // GetNode.
  virtual Result<std::optional<SmtNode>> GetNodeInPage(const Hash256& hash,
                                                       const Hash256& page_top) const {
    (void)page_top;
    return GetNode(hash);
  }
  // For readers that store pages (SmtPagesOf): appends the nodes of the page whose top is `top`
  // (DecodeSmtPage's order, top first; nothing if there is no such page) to *nodes and returns
  // true. The default returns false: the reader serves single nodes only.
  virtual Result<bool> GetPageNodes(const Hash256& top,
                                    std::vector<std::pair<Hash256, SmtNode>>* nodes) const {
    (void)top;
    (void)nodes;
    return false;
  }
  // True if every node this reader returns is known to hash to the hash it was asked for (it
  // computed the hashes itself when it loaded the node); the tree functions then skip their own
  // check. False by default.
  [[nodiscard]] virtual bool NodesVerified() const { return false; }
};

// Nodes in memory, for tests, tools and callers that keep the tree in memory.
class MemorySmtNodeStore : public SmtNodeReader {
 public:
  Result<std::optional<SmtNode>> GetNode(const Hash256& hash) const override;
  // Stores `node` under `hash` (trusted: the caller passes SmtUpdate's output). Idempotent.
  void Put(const Hash256& hash, const SmtNode& node) { nodes_.insert_or_assign(hash, node); }
  void PutAll(const std::vector<std::pair<Hash256, SmtNode>>& nodes) {
    for (const auto& [hash, node] : nodes) Put(hash, node);
  }
  // Removes the node if present (tests use it to simulate a damaged store).
  void Erase(const Hash256& hash) { nodes_.erase(hash); }
  [[nodiscard]] size_t node_count() const { return nodes_.size(); }

 private:
  struct HashOf {
    size_t operator()(const Hash256& h) const;
  };
  std::unordered_map<Hash256, SmtNode, HashOf> nodes_;
};

// ---- pages (storage of a tree in groups of levels; FORMAT.md §12) -----------------------------

// A page holds the nodes of a subtree that lie less than kSmtPageLevels levels below its top, a
// node at a depth that is a multiple of kSmtPageLevels (the root's page has the root at depth 0).
// The children kSmtPageLevels levels below the top are referenced by hash: they are the tops of
// other pages. A page is stored under the hash of its top; its content depends on that hash only.
inline constexpr unsigned kSmtPageLevels = 4;

// Tags of the page encoding (FORMAT.md §12): a leaf is kSmtPageLeafTag || K || V; an inner node
// is kSmtPageInnerTag | (left non-empty ? 2 : 0) | (right non-empty ? 1 : 0), then each
// non-empty child in order: its own encoding inside the page, or its 32-byte hash at the page's
// bottom (kSmtPageLevels levels below the top).
inline constexpr uint8_t kSmtPageLeafTag = 0x00;
inline constexpr uint8_t kSmtPageInnerTag = 0x04;

struct SmtPage {
  Hash256 top;         // the hash of the page's top node: the storage key
  unsigned depth = 0;  // the top's depth in the tree it was written for (a multiple of 4)
  Bytes encoded;       // FORMAT.md §12
  std::vector<std::pair<Hash256, SmtNode>> nodes;  // the page's nodes, top first (pre-order)
};

// Decodes one page record into its nodes (top first, pre-order, hashes computed from the
// content) and appends them to *nodes (not cleared). InvalidArgument "decode SmtPage: <cause>"
// for truncation, trailing bytes, an unknown tag, an inner node with two empty children or a
// bottom reference that is E. The caller checks that the top's hash is the key it read.
Status DecodeSmtPage(ByteSpan in, std::vector<std::pair<Hash256, SmtNode>>* nodes);

// The pages to store for the tree whose root is `new_root`, given the tree whose root is
// `old_root` (readable through `nodes`, whose pages are stored) and SmtUpdate's `new_nodes` for
// that transition: every page whose top is in `new_nodes` (pages with an unchanged top are
// stored already), parents before children. Unchanged nodes inside a rewritten page are read
// from `nodes` (the old tree, at the same place). Corruption if a node is neither new nor found.
Result<std::vector<SmtPage>> SmtPagesOf(const SmtNodeReader& nodes, const Hash256& old_root,
                                        const Hash256& new_root,
                                        const std::vector<std::pair<Hash256, SmtNode>>& new_nodes);

// ---- reference --------------------------------------------------------------------------------

// The root of the tree holding exactly `entries` (K -> V), computed directly from the definition
// by recursion over the sorted keys; no nodes, no reader. For tests and small inputs.
Hash256 SmtRootOf(const std::map<Hash256, Hash256>& entries);

// ---- updates ----------------------------------------------------------------------------------

struct SmtChange {
  Hash256 key;                   // K
  std::optional<Hash256> value;  // V; nullopt deletes the key (a no-op if it is absent)
};

// Applies `changes` to the tree whose root is `root` and returns the new root. Sorts the batch by
// key and walks the touched paths once: a batch of m changes over n entries reads and writes
// O(m log n) nodes. Deleting re-collapses (a subtree left with one leaf becomes that leaf; a tree
// left empty has root E). Appends every node of the new tree that the old one did not need
// (children before parents) to *new_nodes, which may be null and is not cleared, and every leaf
// that moved to another depth (so that SmtPagesOf finds it); it may list a node the reader
// already holds (re-inserting an entry that existed before, a moved leaf), which is harmless.
// When the root changes to one that is not E, the new root is the last node appended. The caller
// stores them before reading the new root. Nothing is ever removed: the old root stays readable.
// Errors: InvalidArgument if a key appears twice in `changes`; Corruption if a node is missing,
// does not hash to its key or is impossible at its place; the reader's Status on I/O failure.
Result<Hash256> SmtUpdate(const SmtNodeReader& nodes, const Hash256& root,
                          std::vector<SmtChange> changes,
                          std::vector<std::pair<Hash256, SmtNode>>* new_nodes);

// ---- proofs -----------------------------------------------------------------------------------

// A compact proof for one key (FORMAT.md §6.6): the siblings along the key's path from the root,
// and the terminal where the path ends. The key itself is not part of the proof.
struct SmtProof {
  enum class Terminal : uint8_t {
    kEmpty = 0,      // an empty subtree: the key is absent
    kLeaf = 1,       // the key's own leaf, with its value: the key is present
    kOtherLeaf = 2,  // the leaf of another key with the same first depth() bits: absent
  };
  // One per level walked, from depth 0 down; E for an empty sibling. At most 256 (a tree never
  // has an inner node below depth 255).
  std::vector<Hash256> siblings;
  Terminal terminal = Terminal::kEmpty;
  Hash256 other_key;  // kOtherLeaf only
  Hash256 value;      // kLeaf: the key's value; kOtherLeaf: the other key's value

  static constexpr size_t kMaxDepth = 256;

  [[nodiscard]] size_t depth() const { return siblings.size(); }
  [[nodiscard]] bool proves_presence() const { return terminal == Terminal::kLeaf; }

  // u16 depth (little-endian) || bitmap || non-empty siblings || terminal kind || terminal data.
  // REQUIRES: depth() <= kMaxDepth.
  [[nodiscard]] Bytes Encode() const;
  // Accepts exactly the canonical encodings: rejects truncation, trailing bytes, depth > 256,
  // bitmap padding bits set, an unknown terminal kind, and (depth > 0) an empty deepest sibling.
  // InvalidArgument "decode SmtProof: <cause>".
  static Result<SmtProof> Decode(ByteSpan in);

  // OK iff the proof shows that `key` has `value` (value given) or that `key` is absent (nullopt)
  // in the tree whose root is `root`; InvalidArgument naming the reason otherwise.
  [[nodiscard]] Status Verify(const Hash256& root, const Hash256& key,
                              const std::optional<Hash256>& value) const;

  bool operator==(const SmtProof&) const = default;
};

// The proof for `key` in the tree whose root is `root` (of presence if the key is there, of
// absence otherwise). Reads depth + 1 nodes. Errors as for SmtUpdate.
Result<SmtProof> SmtProve(const SmtNodeReader& nodes, const Hash256& root, const Hash256& key);

// Decodes `proof` (SmtProof::Encode's form) and checks that it shows (key, value) present in the
// tree whose root is `root`. InvalidArgument with the reason on failure.
Status SmtVerifyPresence(const Hash256& root, const Hash256& key, const Hash256& value,
                         ByteSpan proof);
// Same for the claim that `key` is absent.
Status SmtVerifyAbsence(const Hash256& root, const Hash256& key, ByteSpan proof);

}  // namespace certledger::ledger
