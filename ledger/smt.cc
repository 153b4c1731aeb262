#include "ledger/smt.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>

#include "ledger/coding.h"

namespace certledger::ledger {

namespace {

constexpr uint8_t kLeafTag = 0x00;
constexpr uint8_t kInnerTag = 0x01;
constexpr unsigned kKeyBits = 256;

bool IsEmpty(const Hash256& h) { return h.IsZero(); }

// True iff `a` and `b` agree on their first `bits` bits. REQUIRES: bits <= 256.
bool SharesPrefix(const Hash256& a, const Hash256& b, size_t bits) {
  const size_t whole = bits / 8;
  if (std::memcmp(a.data(), b.data(), whole) != 0) return false;
  const size_t rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff00u >> rest);
  return ((a.bytes[whole] ^ b.bytes[whole]) & mask) == 0;
}

std::string NodeName(const Hash256& hash) { return "smt node " + hash.Hex(); }

// The page top for a node at `depth` whose hash is `hash`, below a parent whose page top is
// `parent_top`.
const Hash256& PageTopAt(unsigned depth, const Hash256& hash, const Hash256& parent_top) {
  return depth % kSmtPageLevels == 0 ? hash : parent_top;
}

// Reads the node stored under `hash`, found at `depth` below the root in the page whose top is
// `page_top`, and checks what can be checked locally: present, hashes to `hash`, and an inner
// node is neither below depth 255 nor (E, E).
Result<SmtNode> ReadNode(const SmtNodeReader& nodes, const Hash256& hash, unsigned depth,
                         const Hash256& page_top) {
  Result<std::optional<SmtNode>> got = nodes.GetNodeInPage(hash, page_top);
  if (!got.ok()) return got.status();
  if (!got->has_value()) return Status::Corruption(NodeName(hash) + " missing");
  const SmtNode& node = **got;
  if (!nodes.NodesVerified() && SmtNodeHash(node) != hash) {
    return Status::Corruption(NodeName(hash) + " does not hash to its key");
  }
  if (const auto* inner = std::get_if<SmtInner>(&node)) {
    if (depth >= kKeyBits) {
      return Status::Corruption(NodeName(hash) + " is an inner node at depth " +
                                std::to_string(depth));
    }
    if (IsEmpty(inner->left) && IsEmpty(inner->right)) {
      return Status::Corruption(NodeName(hash) + " is an inner node with two empty children");
    }
  }
  return node;
}

Status LeafOffPath(const Hash256& hash, const SmtLeaf& leaf, unsigned depth) {
  return Status::Corruption(NodeName(hash) + " at depth " + std::to_string(depth) + ": leaf key " +
                            leaf.key.Hex() + " is off the path");
}

// ---- batch update ----

enum class Kind { kEmpty, kLeaf, kInner, kUnknown };

// The hash of a subtree of the new tree, and what it is when known without a read (with the
// leaf itself when it is one).
struct Sub {
  Hash256 hash;
  Kind kind = Kind::kUnknown;
  SmtLeaf leaf{};  // kind == kLeaf only
};

// A leaf of a subtree being rebuilt. `stored` marks the leaf that the old tree already holds,
// so that it is not listed as a new node again.
struct Entry {
  Hash256 key;
  Hash256 value;
  bool stored = false;
};

template <typename T>
size_t SplitByBit(std::span<const T> sorted, unsigned depth) {
  // All items share the first `depth` bits and are sorted by key: those with bit `depth` = 0
  // come first.
  auto it = std::partition_point(sorted.begin(), sorted.end(),
                                 [depth](const T& x) { return SmtKeyBit(x.key, depth) == 0; });
  return static_cast<size_t>(it - sorted.begin());
}

class Updater {
 public:
  Updater(const SmtNodeReader& nodes, std::vector<std::pair<Hash256, SmtNode>>* out)
      : nodes_(nodes), out_(out) {}

  // The new hash of the subtree at `depth` whose old hash is `hash`, after `changes` (sorted by
  // key, distinct, all sharing the first `depth` bits with each other and with the subtree).
  // `parent_top` is the page top of the old tree's node at depth - 1 (unused at depth 0).
  Result<Sub> Update(const Hash256& hash, unsigned depth, std::span<const SmtChange> changes,
                     const Hash256& parent_top) {
    if (IsEmpty(hash)) {
      std::vector<Entry> entries;
      entries.reserve(changes.size());
      for (const SmtChange& c : changes) {
        if (c.value) entries.push_back(Entry{c.key, *c.value, false});
      }
      return Build(depth, entries, kNoDepth);
    }
    if (changes.empty()) return Sub{hash, Kind::kUnknown};

    const Hash256 top = PageTopAt(depth, hash, parent_top);
    Result<SmtNode> node = ReadNode(nodes_, hash, depth, top);
    if (!node.ok()) return node.status();

    if (const auto* leaf = std::get_if<SmtLeaf>(&*node)) {
      if (!SharesPrefix(leaf->key, changes.front().key, depth)) {
        return LeafOffPath(hash, *leaf, depth);
      }
      // Rebuild the subtree from the old leaf and the changes.
      std::vector<Entry> entries;
      entries.reserve(changes.size() + 1);
      bool leaf_changed = false;
      for (const SmtChange& c : changes) {
        if (c.key == leaf->key) leaf_changed = true;
        if (!c.value) continue;
        const bool unchanged = c.key == leaf->key && *c.value == leaf->value;
        entries.push_back(Entry{c.key, *c.value, unchanged});
      }
      if (!leaf_changed) {
        auto at = std::lower_bound(entries.begin(), entries.end(), leaf->key,
                                   [](const Entry& e, const Hash256& k) { return e.key < k; });
        entries.insert(at, Entry{leaf->key, leaf->value, true});
      }
      return Build(depth, entries, depth);
    }

    const auto& inner = std::get<SmtInner>(*node);
    const size_t split = SplitByBit(changes, depth);
    Result<Sub> left = Update(inner.left, depth + 1, changes.first(split), top);
    if (!left.ok()) return left;
    Result<Sub> right = Update(inner.right, depth + 1, changes.subspan(split), top);
    if (!right.ok()) return right;
    if (left->hash == inner.left && right->hash == inner.right) return Sub{hash, Kind::kInner};
    return Join(*left, *right, depth, top);
  }

 private:
  static constexpr unsigned kNoDepth = ~0u;

  // The subtree at `depth` over two new children: E, the lone leaf moved up, or a new inner node.
  // `top` is the old tree's page top at `depth`.
  Result<Sub> Join(const Sub& left, const Sub& right, unsigned depth, const Hash256& top) {
    const bool left_empty = IsEmpty(left.hash);
    const bool right_empty = IsEmpty(right.hash);
    if (left_empty && right_empty) return Sub{SmtEmptyHash(), Kind::kEmpty};
    if (left_empty || right_empty) {
      const Sub& only = left_empty ? right : left;
      if (only.kind == Kind::kLeaf) return MovedLeaf(only.hash, only.leaf);
      if (only.kind == Kind::kUnknown) {
        // An untouched subtree next to one that lost all its leaves: a lone leaf moves up.
        Result<SmtNode> node =
            ReadNode(nodes_, only.hash, depth + 1, PageTopAt(depth + 1, only.hash, top));
        if (!node.ok()) return node.status();
        if (const auto* leaf = std::get_if<SmtLeaf>(&*node)) return MovedLeaf(only.hash, *leaf);
      }
    }
    return Emit(SmtInner{left.hash, right.hash});
  }

  // The subtree at `depth` holding exactly `entries` (sorted, distinct keys sharing the first
  // `depth` bits). Emits its nodes except the already stored leaf, which was at `stored_depth`
  // (emitted only if it moves).
  Sub Build(unsigned depth, std::span<const Entry> entries, unsigned stored_depth) {
    if (entries.empty()) return Sub{SmtEmptyHash(), Kind::kEmpty};
    if (entries.size() == 1) {
      const Entry& e = entries.front();
      const SmtLeaf leaf{e.key, e.value};
      if (e.stored) {
        const Hash256 hash = SmtLeafHash(e.key, e.value);
        if (depth == stored_depth) return Sub{hash, Kind::kLeaf, leaf};
        return MovedLeaf(hash, leaf);
      }
      return Emit(leaf);
    }
    // Two distinct keys sharing `depth` bits: depth < 256.
    const size_t split = SplitByBit(entries, depth);
    const Sub left = Build(depth + 1, entries.first(split), stored_depth);
    const Sub right = Build(depth + 1, entries.subspan(split), stored_depth);
    return Emit(SmtInner{left.hash, right.hash});
  }

  // A stored leaf now at another depth: listed again, so that a store of pages finds it.
  Sub MovedLeaf(const Hash256& hash, const SmtLeaf& leaf) {
    if (out_ != nullptr) out_->emplace_back(hash, leaf);
    return Sub{hash, Kind::kLeaf, leaf};
  }

  Sub Emit(const SmtLeaf& leaf) {
    const Hash256 hash = SmtLeafHash(leaf.key, leaf.value);
    if (out_ != nullptr) out_->emplace_back(hash, leaf);
    return Sub{hash, Kind::kLeaf, leaf};
  }
  Sub Emit(const SmtInner& inner) {
    const Hash256 hash = SmtInnerHash(inner.left, inner.right);
    if (out_ != nullptr) out_->emplace_back(hash, inner);
    return Sub{hash, Kind::kInner};
  }

  const SmtNodeReader& nodes_;
  std::vector<std::pair<Hash256, SmtNode>>* out_;
};

// ---- naive reference ----

using EntryList = std::vector<std::pair<Hash256, Hash256>>;

Hash256 NaiveSubtree(const EntryList& entries, unsigned depth) {
  if (entries.empty()) return SmtEmptyHash();
  if (entries.size() == 1) return SmtLeafHash(entries[0].first, entries[0].second);
  EntryList left;
  EntryList right;
  for (const auto& e : entries) (SmtKeyBit(e.first, depth) == 0 ? left : right).push_back(e);
  return SmtInnerHash(NaiveSubtree(left, depth + 1), NaiveSubtree(right, depth + 1));
}

// ---- proof decoding ----

// A read of `n` bytes that `r` could not serve.
Status Truncated(const ByteReader& r, size_t n) {
  return Status::InvalidArgument("decode SmtProof: truncated input at offset " +
                                 std::to_string(r.position()) + ": need " + std::to_string(n) +
                                 " bytes, " + std::to_string(r.remaining()) + " left");
}

Status ProofError(std::string msg) { return Status::InvalidArgument("smt proof: " + msg); }

}  // namespace

// ---- hashing ----

Hash256 SmtKeyHash(std::string_view state_key) {
  return TaggedHash(kTagSmtKey, AsBytes(state_key));
}

Hash256 SmtValueHash(ByteSpan value) { return TaggedHash(kTagSmtValue, value); }

Hash256 SmtLeafHash(const Hash256& key, const Hash256& value) {
  Sha256Hasher h;
  h.Update(kLeafTag).Update(key.span()).Update(value.span());
  return h.Finish();
}

Hash256 SmtInnerHash(const Hash256& left, const Hash256& right) {
  Sha256Hasher h;
  h.Update(kInnerTag).Update(left.span()).Update(right.span());
  return h.Finish();
}

// ---- nodes ----

Hash256 SmtNodeHash(const SmtNode& node) {
  if (const auto* leaf = std::get_if<SmtLeaf>(&node)) return SmtLeafHash(leaf->key, leaf->value);
  const auto& inner = std::get<SmtInner>(node);
  return SmtInnerHash(inner.left, inner.right);
}

Bytes EncodeSmtNode(const SmtNode& node) {
  Bytes out;
  out.reserve(65);
  const bool is_leaf = std::holds_alternative<SmtLeaf>(node);
  const Hash256& a = is_leaf ? std::get<SmtLeaf>(node).key : std::get<SmtInner>(node).left;
  const Hash256& b = is_leaf ? std::get<SmtLeaf>(node).value : std::get<SmtInner>(node).right;
  out.push_back(is_leaf ? kLeafTag : kInnerTag);
  out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  out.insert(out.end(), b.bytes.begin(), b.bytes.end());
  return out;
}

Result<SmtNode> DecodeSmtNode(ByteSpan in) {
  if (in.size() != 65) {
    return Status::InvalidArgument("decode SmtNode: need 65 bytes, got " +
                                   std::to_string(in.size()));
  }
  const Hash256 a = *Hash256::FromSpan(in.subspan(1, 32));
  const Hash256 b = *Hash256::FromSpan(in.subspan(33, 32));
  if (in[0] == kLeafTag) return SmtNode{SmtLeaf{a, b}};
  if (in[0] == kInnerTag) return SmtNode{SmtInner{a, b}};
  return Status::InvalidArgument("decode SmtNode: unknown node tag " + std::to_string(in[0]) +
                                 " at offset 0");
}

size_t MemorySmtNodeStore::HashOf::operator()(const Hash256& h) const {
  size_t out = 0;
  std::memcpy(&out, h.data(), sizeof(out));  // the keys are hashes already
  return out;
}

Result<std::optional<SmtNode>> MemorySmtNodeStore::GetNode(const Hash256& hash) const {
  auto it = nodes_.find(hash);
  if (it == nodes_.end()) return std::optional<SmtNode>();
  return std::optional<SmtNode>(it->second);
}

// ---- pages ----

namespace {

Status PageError(size_t offset, const std::string& what) {
  return Status::InvalidArgument("decode SmtPage: " + what + " at offset " +
                                 std::to_string(offset));
}

// Parses the node at `rel` levels below the page's top (rel < kSmtPageLevels); returns its hash.
Result<Hash256> ParsePageNode(ByteReader& r, unsigned rel,
                              std::vector<std::pair<Hash256, SmtNode>>* nodes) {
  const size_t at = r.position();
  uint8_t tag = 0;
  if (!r.GetU8(&tag)) return PageError(at, "truncated input");
  if (tag == kSmtPageLeafTag) {
    ByteSpan kv;
    if (!r.GetBytes(64, &kv)) return PageError(at, "truncated leaf");
    const SmtLeaf leaf{*Hash256::FromSpan(kv.first(32)), *Hash256::FromSpan(kv.subspan(32))};
    const Hash256 hash = SmtLeafHash(leaf.key, leaf.value);
    nodes->emplace_back(hash, leaf);
    return hash;
  }
  if ((tag & ~uint8_t{3}) != kSmtPageInnerTag) {
    return PageError(at, "unknown node tag " + std::to_string(tag));
  }
  if (tag == kSmtPageInnerTag) return PageError(at, "inner node with two empty children");
  const size_t index = nodes->size();
  nodes->emplace_back();
  Hash256 child[2];
  for (int side = 0; side < 2; ++side) {
    if ((tag & (side == 0 ? 2 : 1)) == 0) continue;
    if (rel + 1 == kSmtPageLevels) {
      if (!r.GetFixedBytes(&child[side])) return PageError(r.position(), "truncated reference");
      if (IsEmpty(child[side])) return PageError(r.position() - 32, "empty reference");
    } else {
      Result<Hash256> h = ParsePageNode(r, rel + 1, nodes);
      if (!h.ok()) return h;
      child[side] = *h;
    }
  }
  const SmtInner inner{child[0], child[1]};
  const Hash256 hash = SmtInnerHash(inner.left, inner.right);
  (*nodes)[index] = {hash, inner};
  return hash;
}

void AppendHash(Bytes* out, const Hash256& h) {
  out->insert(out->end(), h.bytes.begin(), h.bytes.end());
}

// Writes the pages of a new tree (SmtPagesOf).
class PageWriter {
 public:
  PageWriter(const SmtNodeReader& nodes, const std::vector<std::pair<Hash256, SmtNode>>& fresh)
      : nodes_(nodes), fresh_(fresh) {
    // An open-addressing table of indexes into `fresh` (the hashes are uniform already).
    size_t slots = 16;
    while (slots < 2 * fresh.size()) slots *= 2;
    table_.assign(slots, 0);
    mask_ = slots - 1;
    for (size_t i = 0; i < fresh.size(); ++i) {
      size_t at = Slot(fresh[i].first);
      while (table_[at] != 0) at = (at + 1) & mask_;
      table_[at] = static_cast<uint32_t>(i + 1);
    }
    old_page_.reserve(2 * kSmtPageLevels + 8);
  }

  // The page whose top is `top`, if new, and then the new pages below it. `old_top` is the old
  // tree's hash at the same place (E if none).
  Status Page(const Hash256& top, const Hash256& old_top, unsigned depth,
              std::vector<SmtPage>* out) {
    if (IsEmpty(top) || Fresh(top) == nullptr) return Status::Ok();  // stored already
    SmtPage page;
    page.top = top;
    page.depth = depth;
    page.encoded.reserve((size_t{32} << kSmtPageLevels) + 16);
    page.nodes.reserve(2 * kSmtPageLevels);
    old_loaded_ = false;
    Bottom bottom;
    if (Status st = Encode(top, old_top, 0, old_top, &page, &bottom); !st.ok()) return st;
    out->push_back(std::move(page));
    for (size_t i = 0; i < bottom.count; ++i) {
      if (Status st =
              Page(bottom.refs[i].first, bottom.refs[i].second, depth + kSmtPageLevels, out);
          !st.ok())
        return st;
    }
    return Status::Ok();
  }

 private:
  struct Bottom {
    std::array<std::pair<Hash256, Hash256>, size_t{1} << kSmtPageLevels> refs;  // (new, old)
    size_t count = 0;
  };

  size_t Slot(const Hash256& hash) const {
    size_t v;
    std::memcpy(&v, hash.data(), sizeof v);
    return v & mask_;
  }

  const SmtNode* Fresh(const Hash256& hash) const {
    for (size_t at = Slot(hash); table_[at] != 0; at = (at + 1) & mask_) {
      const auto& entry = fresh_[table_[at] - 1];
      if (entry.first == hash) return &entry.second;
    }
    return nullptr;
  }

  // A node of the old tree inside the old page whose top is `old_top` (the same for every call
  // while one page is encoded).
  Result<SmtNode> Old(const Hash256& hash, const Hash256& old_top) {
    if (IsEmpty(old_top)) {
      return Status::Corruption(NodeName(hash) + " is neither new nor in the previous tree");
    }
    if (!old_loaded_) {
      old_page_.clear();
      Result<bool> paged = nodes_.GetPageNodes(old_top, &old_page_);
      if (!paged.ok()) return paged.status();
      old_paged_ = *paged;
      old_loaded_ = true;
    }
    if (old_paged_) {
      for (const auto& [h, node] : old_page_) {
        if (h == hash) return node;  // hashes computed by the reader
      }
      return Status::Corruption(NodeName(hash) + " missing");
    }
    Result<std::optional<SmtNode>> got = nodes_.GetNodeInPage(hash, old_top);
    if (!got.ok()) return got.status();
    if (!got->has_value()) return Status::Corruption(NodeName(hash) + " missing");
    if (!nodes_.NodesVerified() && SmtNodeHash(**got) != hash) {
      return Status::Corruption(NodeName(hash) + " does not hash to its key");
    }
    return **got;
  }

  // Encodes the node `hash` at `rel` levels below the page's top; `old` is the old tree's hash at
  // the same place (E if none), `old_top` the old tree's node at the page's top.
  Status Encode(const Hash256& hash, const Hash256& old, unsigned rel, const Hash256& old_top,
                SmtPage* page, Bottom* bottom) {
    if (rel == kSmtPageLevels) {
      AppendHash(&page->encoded, hash);
      bottom->refs[bottom->count++] = {hash, old};
      return Status::Ok();
    }
    SmtNode node;
    if (const SmtNode* fresh = Fresh(hash)) {
      node = *fresh;
    } else {
      Result<SmtNode> got = Old(hash, old_top);  // unchanged, at the same place
      if (!got.ok()) return got.status();
      node = *got;
    }
    page->nodes.emplace_back(hash, node);
    if (const auto* leaf = std::get_if<SmtLeaf>(&node)) {
      page->encoded.push_back(kSmtPageLeafTag);
      AppendHash(&page->encoded, leaf->key);
      AppendHash(&page->encoded, leaf->value);
      return Status::Ok();
    }
    const SmtInner inner = std::get<SmtInner>(node);
    // The old tree's children at the same places: E unless it had an inner node here.
    Hash256 old_left;
    Hash256 old_right;
    if (old == hash) {
      old_left = inner.left;
      old_right = inner.right;
    } else if (!IsEmpty(old)) {
      Result<SmtNode> got = Old(old, old_top);
      if (!got.ok()) return got.status();
      if (const auto* old_inner = std::get_if<SmtInner>(&*got)) {
        old_left = old_inner->left;
        old_right = old_inner->right;
      }
    }
    const bool has_left = !IsEmpty(inner.left);
    const bool has_right = !IsEmpty(inner.right);
    page->encoded.push_back(
        static_cast<uint8_t>(kSmtPageInnerTag | (has_left ? 2 : 0) | (has_right ? 1 : 0)));
    if (has_left) {
      if (Status st = Encode(inner.left, old_left, rel + 1, old_top, page, bottom); !st.ok()) {
        return st;
      }
    }
    if (has_right) {
      if (Status st = Encode(inner.right, old_right, rel + 1, old_top, page, bottom); !st.ok()) {
        return st;
      }
    }
    return Status::Ok();
  }

  const SmtNodeReader& nodes_;
  const std::vector<std::pair<Hash256, SmtNode>>& fresh_;
  std::vector<uint32_t> table_;
  size_t mask_ = 0;
  std::vector<std::pair<Hash256, SmtNode>> old_page_;  // the old page of the page being encoded
  bool old_loaded_ = false;
  bool old_paged_ = false;
};

}  // namespace

Status DecodeSmtPage(ByteSpan in, std::vector<std::pair<Hash256, SmtNode>>* nodes) {
  ByteReader r(in);
  Result<Hash256> top = ParsePageNode(r, 0, nodes);
  if (!top.ok()) return top.status();
  if (r.remaining() != 0) {
    return Status::InvalidArgument("decode SmtPage: " + std::to_string(r.remaining()) +
                                   " trailing bytes");
  }
  return Status::Ok();
}

Result<std::vector<SmtPage>> SmtPagesOf(const SmtNodeReader& nodes, const Hash256& old_root,
                                        const Hash256& new_root,
                                        const std::vector<std::pair<Hash256, SmtNode>>& new_nodes) {
  std::vector<SmtPage> pages;
  PageWriter writer(nodes, new_nodes);
  if (Status st = writer.Page(new_root, old_root, 0, &pages); !st.ok()) return st;
  return pages;
}

// ---- reference ----

Hash256 SmtRootOf(const std::map<Hash256, Hash256>& entries) {
  return NaiveSubtree(EntryList(entries.begin(), entries.end()), 0);
}

// ---- update ----

Result<Hash256> SmtUpdate(const SmtNodeReader& nodes, const Hash256& root,
                          std::vector<SmtChange> changes,
                          std::vector<std::pair<Hash256, SmtNode>>* new_nodes) {
  std::sort(changes.begin(), changes.end(),
            [](const SmtChange& a, const SmtChange& b) { return a.key < b.key; });
  for (size_t i = 1; i < changes.size(); ++i) {
    if (changes[i].key == changes[i - 1].key) {
      return Status::InvalidArgument("smt update: key " + changes[i].key.Hex() +
                                     " appears twice in one batch");
    }
  }
  if (changes.empty()) return root;
  // About one new node per level below the shared top of the batch's paths, per change.
  if (new_nodes != nullptr) new_nodes->reserve(new_nodes->size() + 8 * changes.size() + 16);
  Updater updater(nodes, new_nodes);
  Result<Sub> sub = updater.Update(root, 0, changes, root);
  if (!sub.ok()) return sub.status();
  return sub->hash;
}

// ---- proofs ----

Result<SmtProof> SmtProve(const SmtNodeReader& nodes, const Hash256& root, const Hash256& key) {
  SmtProof proof;
  proof.siblings.reserve(64);
  Hash256 hash = root;
  Hash256 top = root;
  unsigned depth = 0;
  while (!IsEmpty(hash)) {
    top = PageTopAt(depth, hash, top);
    Result<SmtNode> node = ReadNode(nodes, hash, depth, top);
    if (!node.ok()) return node.status();
    if (const auto* leaf = std::get_if<SmtLeaf>(&*node)) {
      if (!SharesPrefix(leaf->key, key, depth)) return LeafOffPath(hash, *leaf, depth);
      proof.terminal =
          leaf->key == key ? SmtProof::Terminal::kLeaf : SmtProof::Terminal::kOtherLeaf;
      if (leaf->key != key) proof.other_key = leaf->key;
      proof.value = leaf->value;
      break;
    }
    const auto& inner = std::get<SmtInner>(*node);  // depth < 256 (ReadNode)
    const bool right = SmtKeyBit(key, depth) != 0;
    proof.siblings.push_back(right ? inner.left : inner.right);
    hash = right ? inner.right : inner.left;
    ++depth;
  }
  // In a tree that SmtUpdate built, the deepest sibling is never empty: a subtree whose one
  // child is empty holds two or more leaves in the other, never one or none.
  if (!proof.siblings.empty() && IsEmpty(proof.siblings.back())) {
    return Status::Corruption("smt tree under root " + root.Hex() +
                              " is not collapsed on the path of key " + key.Hex() + " at depth " +
                              std::to_string(proof.depth() - 1));
  }
  return proof;
}

Bytes SmtProof::Encode() const {
  const size_t d = siblings.size();
  Bytes out;
  PutFixed16(&out, static_cast<uint16_t>(d));
  Bytes bitmap((d + 7) / 8, 0);
  for (size_t j = 0; j < d; ++j) {
    if (!IsEmpty(siblings[j])) bitmap[j / 8] |= static_cast<uint8_t>(0x80u >> (j % 8));
  }
  out.insert(out.end(), bitmap.begin(), bitmap.end());
  for (const Hash256& s : siblings) {
    if (!IsEmpty(s)) out.insert(out.end(), s.bytes.begin(), s.bytes.end());
  }
  out.push_back(static_cast<uint8_t>(terminal));
  if (terminal == Terminal::kOtherLeaf) {
    out.insert(out.end(), other_key.bytes.begin(), other_key.bytes.end());
  }
  if (terminal != Terminal::kEmpty) out.insert(out.end(), value.bytes.begin(), value.bytes.end());
  return out;
}

Result<SmtProof> SmtProof::Decode(ByteSpan in) {
  ByteReader r(in);
  uint16_t depth = 0;
  if (!r.GetFixed16(&depth)) return Truncated(r, 2);
  const size_t d = depth;
  if (d > kMaxDepth) {
    return Status::InvalidArgument("decode SmtProof: depth " + std::to_string(d) +
                                   " at offset 0 exceeds " + std::to_string(kMaxDepth));
  }
  const size_t bitmap_offset = r.position();
  ByteSpan bitmap;
  if (!r.GetBytes((d + 7) / 8, &bitmap)) return Truncated(r, (d + 7) / 8);
  for (size_t j = d; j < bitmap.size() * 8; ++j) {
    if ((bitmap[j / 8] >> (7 - j % 8)) & 1) {
      return Status::InvalidArgument("decode SmtProof: bitmap padding bit " + std::to_string(j) +
                                     " set at offset " + std::to_string(bitmap_offset + j / 8));
    }
  }
  SmtProof proof;
  proof.siblings.reserve(d);
  for (size_t j = 0; j < d; ++j) {
    if (((bitmap[j / 8] >> (7 - j % 8)) & 1) == 0) {
      proof.siblings.push_back(SmtEmptyHash());
      continue;
    }
    Hash256 sibling;
    if (!r.GetFixedBytes(&sibling)) return Truncated(r, 32);
    proof.siblings.push_back(sibling);
  }
  // A listed sibling must not be E either: it would be a second encoding of an empty sibling.
  for (size_t j = 0; j < d; ++j) {
    if (((bitmap[j / 8] >> (7 - j % 8)) & 1) != 0 && IsEmpty(proof.siblings[j])) {
      return Status::InvalidArgument("decode SmtProof: sibling " + std::to_string(j) +
                                     " is listed but empty");
    }
  }
  if (d > 0 && IsEmpty(proof.siblings.back())) {
    return Status::InvalidArgument("decode SmtProof: non-canonical: the deepest sibling (depth " +
                                   std::to_string(d - 1) + ") is empty");
  }
  const size_t kind_offset = r.position();
  uint8_t kind = 0;
  if (!r.GetU8(&kind)) return Truncated(r, 1);
  switch (kind) {
    case 0:
      proof.terminal = Terminal::kEmpty;
      break;
    case 1:
      proof.terminal = Terminal::kLeaf;
      if (!r.GetFixedBytes(&proof.value)) return Truncated(r, 32);
      break;
    case 2: {
      proof.terminal = Terminal::kOtherLeaf;
      ByteSpan kv;
      if (!r.GetBytes(64, &kv)) return Truncated(r, 64);
      proof.other_key = *Hash256::FromSpan(kv.first(32));
      proof.value = *Hash256::FromSpan(kv.subspan(32));
      break;
    }
    default:
      return Status::InvalidArgument("decode SmtProof: unknown terminal kind " +
                                     std::to_string(kind) + " at offset " +
                                     std::to_string(kind_offset));
  }
  if (r.remaining() != 0) {
    return Status::InvalidArgument("decode SmtProof: " + std::to_string(r.remaining()) +
                                   " trailing bytes");
  }
  return proof;
}

Status SmtProof::Verify(const Hash256& root, const Hash256& key,
                        const std::optional<Hash256>& claimed) const {
  const size_t d = siblings.size();
  if (d > kMaxDepth) {
    return ProofError("depth " + std::to_string(d) + " exceeds " + std::to_string(kMaxDepth));
  }
  if (d > 0 && IsEmpty(siblings.back())) {
    return ProofError("non-canonical: the deepest sibling is empty");
  }
  Hash256 node;
  switch (terminal) {
    case Terminal::kEmpty:
      if (claimed) {
        return ProofError("presence claimed but the proof ends in an empty subtree at depth " +
                          std::to_string(d));
      }
      node = SmtEmptyHash();
      break;
    case Terminal::kLeaf:
      if (!claimed) return ProofError("absence claimed but the proof holds the key's own leaf");
      if (*claimed != value) {
        return ProofError("value mismatch: claimed " + claimed->Hex() + ", the proof holds " +
                          value.Hex());
      }
      node = SmtLeafHash(key, value);
      break;
    case Terminal::kOtherLeaf:
      if (claimed) {
        return ProofError(
            "presence claimed but the proof ends in the leaf of another key at "
            "depth " +
            std::to_string(d));
      }
      if (other_key == key) return ProofError("the other leaf's key is the queried key");
      if (!SharesPrefix(other_key, key, d)) {
        return ProofError("the other leaf's key does not share the first " + std::to_string(d) +
                          " bits of the queried key");
      }
      node = SmtLeafHash(other_key, value);
      break;
    default:
      return ProofError("unknown terminal kind " + std::to_string(static_cast<int>(terminal)));
  }
  for (size_t j = d; j-- > 0;) {
    const Hash256& sibling = siblings[j];
    if (IsEmpty(node) && IsEmpty(sibling)) continue;  // H(E, E) = E
    node = SmtKeyBit(key, static_cast<unsigned>(j)) != 0 ? SmtInnerHash(sibling, node)
                                                         : SmtInnerHash(node, sibling);
  }
  if (node != root) {
    return ProofError("root mismatch: the proof gives " + node.Hex() + ", expected " + root.Hex());
  }
  return Status::Ok();
}

Status SmtVerifyPresence(const Hash256& root, const Hash256& key, const Hash256& value,
                         ByteSpan proof) {
  Result<SmtProof> decoded = SmtProof::Decode(proof);
  if (!decoded.ok()) return decoded.status();
  return decoded->Verify(root, key, value);
}

Status SmtVerifyAbsence(const Hash256& root, const Hash256& key, ByteSpan proof) {
  Result<SmtProof> decoded = SmtProof::Decode(proof);
  if (!decoded.ok()) return decoded.status();
  return decoded->Verify(root, key, std::nullopt);
}

}  // namespace certledger::ledger
