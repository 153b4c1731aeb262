#include "ledger/smt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace certledger::ledger {
namespace {

const Hash256 kE{};

Hash256 H(std::string_view hex) {
  auto h = Hash256::FromHexString(hex);
  EXPECT_TRUE(h.has_value()) << hex;
  return h.value_or(Hash256{});
}

// A key with byte 0 = `first` and the rest zero, or given bit-by-bit below.
Hash256 KeyWithFirstByte(uint8_t first) {
  Hash256 k;
  k.bytes[0] = first;
  return k;
}

Hash256 FlipBit(Hash256 h, unsigned i) {
  h.bytes[i / 8] ^= static_cast<uint8_t>(0x80u >> (i % 8));
  return h;
}

Hash256 ValueOf(uint64_t n) { return SmtValueHash(AsBytes("value-" + std::to_string(n))); }

// A tree in memory plus the plain map it should hold.
struct Tree {
  MemorySmtNodeStore store;
  Hash256 root;
  std::map<Hash256, Hash256> model;

  // Applies a batch and stores the new nodes; returns the status.
  Status Apply(const std::vector<SmtChange>& changes) {
    std::vector<std::pair<Hash256, SmtNode>> new_nodes;
    Result<Hash256> r = SmtUpdate(store, root, changes, &new_nodes);
    if (!r.ok()) return r.status();
    store.PutAll(new_nodes);
    root = *r;
    for (const SmtChange& c : changes) {
      if (c.value) {
        model[c.key] = *c.value;
      } else {
        model.erase(c.key);
      }
    }
    return Status::Ok();
  }
  void Put(const Hash256& k, const Hash256& v) { ASSERT_TRUE(Apply({{k, v}}).ok()); }
  void Del(const Hash256& k) { ASSERT_TRUE(Apply({{k, std::nullopt}}).ok()); }
};

SmtProof Prove(const SmtNodeReader& store, const Hash256& root, const Hash256& key) {
  Result<SmtProof> p = SmtProve(store, root, key);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : SmtProof{};
}

// Proves `key` against `root` and checks the proof against `model` (the map under that root):
// it must verify for the true claim, fail for the false one, and survive an encode/decode.
void CheckProof(const SmtNodeReader& store, const Hash256& root,
                const std::map<Hash256, Hash256>& model, const Hash256& key) {
  const SmtProof proof = Prove(store, root, key);
  const Bytes encoded = proof.Encode();
  Result<SmtProof> decoded = SmtProof::Decode(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, proof);
  auto it = model.find(key);
  if (it != model.end()) {
    EXPECT_TRUE(proof.proves_presence());
    EXPECT_TRUE(SmtVerifyPresence(root, key, it->second, encoded).ok());
    EXPECT_FALSE(SmtVerifyAbsence(root, key, encoded).ok());
    EXPECT_FALSE(SmtVerifyPresence(root, key, FlipBit(it->second, 3), encoded).ok());
  } else {
    EXPECT_FALSE(proof.proves_presence());
    const Status s = SmtVerifyAbsence(root, key, encoded);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_FALSE(SmtVerifyPresence(root, key, proof.value, encoded).ok());
  }
}

TEST(Smt, EmptyTree) {
  EXPECT_EQ(SmtEmptyHash(), kE);
  EXPECT_EQ(SmtRootOf({}), kE);
  MemorySmtNodeStore store;
  std::vector<std::pair<Hash256, SmtNode>> out;
  Result<Hash256> r = SmtUpdate(store, kE, {}, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, kE);
  r = SmtUpdate(store, kE, {{KeyWithFirstByte(1), std::nullopt}}, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, kE);
  EXPECT_TRUE(out.empty());

  const SmtProof p = Prove(store, kE, KeyWithFirstByte(7));
  EXPECT_EQ(p.depth(), 0u);
  EXPECT_EQ(p.terminal, SmtProof::Terminal::kEmpty);
  EXPECT_EQ(ToHex(p.Encode()), "000000");
  EXPECT_TRUE(SmtVerifyAbsence(kE, KeyWithFirstByte(7), p.Encode()).ok());
  EXPECT_FALSE(SmtVerifyAbsence(FlipBit(kE, 0), KeyWithFirstByte(7), p.Encode()).ok());
}

TEST(Smt, OneLeafRootIsItsLeafHash) {
  const Hash256 k = SmtKeyHash("cert/x");
  const Hash256 v = SmtValueHash(AsBytes("v"));
  Tree t;
  t.Put(k, v);
  EXPECT_EQ(t.root, SmtLeafHash(k, v));
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  EXPECT_EQ(t.store.node_count(), 1u);
  const SmtProof p = Prove(t.store, t.root, k);
  EXPECT_EQ(p.depth(), 0u);
  EXPECT_EQ(p.terminal, SmtProof::Terminal::kLeaf);
  EXPECT_TRUE(p.Verify(t.root, k, v).ok());
  // Any other key: absent, by the one leaf at depth 0.
  const SmtProof q = Prove(t.store, t.root, FlipBit(k, 200));
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.terminal, SmtProof::Terminal::kOtherLeaf);
  EXPECT_EQ(q.other_key, k);
  EXPECT_TRUE(q.Verify(t.root, FlipBit(k, 200), std::nullopt).ok());
}

TEST(Smt, TwoKeysDifferingAtBitZero) {
  const Hash256 a = KeyWithFirstByte(0x00);
  const Hash256 b = KeyWithFirstByte(0x80);
  Tree t;
  ASSERT_TRUE(t.Apply({{b, ValueOf(2)}, {a, ValueOf(1)}}).ok());
  EXPECT_EQ(t.root, SmtInnerHash(SmtLeafHash(a, ValueOf(1)), SmtLeafHash(b, ValueOf(2))));
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  const SmtProof p = Prove(t.store, t.root, b);
  ASSERT_EQ(p.depth(), 1u);
  EXPECT_EQ(p.siblings[0], SmtLeafHash(a, ValueOf(1)));
  // u16 1, bitmap 80, the sibling, kind 1, V.
  EXPECT_EQ(ToHex(p.Encode()),
            "010080" + SmtLeafHash(a, ValueOf(1)).Hex() + "01" + ValueOf(2).Hex());
  CheckProof(t.store, t.root, t.model, a);
  CheckProof(t.store, t.root, t.model, b);
  CheckProof(t.store, t.root, t.model, KeyWithFirstByte(0x40));  // kind 2 under a
}

TEST(Smt, TwoKeysSharingTwentyBits) {
  // Equal first 20 bits (ab cd e...), bit 20 is 0 in one and 1 in the other.
  const Hash256 a = H("abcde00000000000000000000000000000000000000000000000000000000001");
  const Hash256 b = H("abcde80000000000000000000000000000000000000000000000000000000002");
  Tree t;
  t.Put(a, ValueOf(1));
  t.Put(b, ValueOf(2));
  Hash256 expected = SmtInnerHash(SmtLeafHash(a, ValueOf(1)), SmtLeafHash(b, ValueOf(2)));
  for (unsigned j = 20; j-- > 0;) {
    expected = SmtKeyBit(a, j) != 0 ? SmtInnerHash(kE, expected) : SmtInnerHash(expected, kE);
  }
  EXPECT_EQ(t.root, expected);
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  EXPECT_EQ(t.store.node_count(), 2u + 21u);

  const SmtProof p = Prove(t.store, t.root, a);
  ASSERT_EQ(p.depth(), 21u);
  // 2 (depth) + 3 (bitmap) + one sibling + kind + V.
  const Bytes enc = p.Encode();
  EXPECT_EQ(enc.size(), 2u + 3u + 32u + 1u + 32u);
  EXPECT_EQ(ToHex(ByteSpan(enc).first(5)), "1500000008");
  CheckProof(t.store, t.root, t.model, a);
  CheckProof(t.store, t.root, t.model, b);
  // Off the shared prefix: kind 0 at depth 1..20; within it: kind 2 at depth 21.
  CheckProof(t.store, t.root, t.model, FlipBit(a, 0));
  CheckProof(t.store, t.root, t.model, FlipBit(a, 19));
  EXPECT_EQ(Prove(t.store, t.root, FlipBit(a, 19)).terminal, SmtProof::Terminal::kEmpty);
  EXPECT_EQ(Prove(t.store, t.root, FlipBit(a, 19)).depth(), 20u);
  CheckProof(t.store, t.root, t.model, FlipBit(a, 100));
  EXPECT_EQ(Prove(t.store, t.root, FlipBit(a, 100)).terminal, SmtProof::Terminal::kOtherLeaf);

  // Deleting one re-collapses all the way up.
  t.Del(b);
  EXPECT_EQ(t.root, SmtLeafHash(a, ValueOf(1)));
  EXPECT_EQ(Prove(t.store, t.root, a).depth(), 0u);
}

TEST(Smt, KeysDifferingOnlyInTheLastBitGiveDepth256) {
  // The deepest possible inner node is at depth 255; a proof below it walks 256 levels.
  const Hash256 a = H("5555555555555555555555555555555555555555555555555555555555555554");
  const Hash256 b = FlipBit(a, 255);
  Tree t;
  ASSERT_TRUE(t.Apply({{a, ValueOf(1)}, {b, ValueOf(2)}}).ok());
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  const SmtProof p = Prove(t.store, t.root, a);
  EXPECT_EQ(p.depth(), 256u);
  EXPECT_EQ(p.Encode().size(), 2u + 32u + 32u + 1u + 32u);
  CheckProof(t.store, t.root, t.model, a);
  CheckProof(t.store, t.root, t.model, b);
  CheckProof(t.store, t.root, t.model, FlipBit(a, 254));
  t.Del(a);
  EXPECT_EQ(t.root, SmtLeafHash(b, ValueOf(2)));
}

// The tree for the bit-flip and canonicality tests: random keys plus a cluster sharing a long
// prefix, so that all three terminal kinds occur at depth > 0.
Tree FixtureTree() {
  Tree t;
  std::vector<SmtChange> batch;
  for (uint64_t i = 0; i < 12; ++i) {
    batch.push_back({SmtKeyHash("fixture/" + std::to_string(i)), ValueOf(i)});
  }
  const Hash256 base = SmtKeyHash("fixture/cluster");
  batch.push_back({FlipBit(base, 40), ValueOf(100)});
  batch.push_back({FlipBit(base, 41), ValueOf(101)});
  EXPECT_TRUE(t.Apply(batch).ok());
  return t;
}

Hash256 FindAbsentKey(const Tree& t, SmtProof::Terminal kind, size_t min_depth) {
  for (uint64_t i = 0; i < 100000; ++i) {
    const Hash256 k = SmtKeyHash("probe/" + std::to_string(i));
    const SmtProof p = Prove(t.store, t.root, k);
    if (p.terminal == kind && p.depth() >= min_depth) return k;
  }
  ADD_FAILURE() << "no absent key found";
  return Hash256{};
}

TEST(Smt, EverySingleBitFlipFailsPresence) {
  const Tree t = FixtureTree();
  const Hash256 k = SmtKeyHash("fixture/5");
  const Hash256 v = ValueOf(5);
  const SmtProof p = Prove(t.store, t.root, k);
  ASSERT_GT(p.depth(), 0u);
  const Bytes enc = p.Encode();
  ASSERT_TRUE(SmtVerifyPresence(t.root, k, v, enc).ok());
  for (size_t i = 0; i < enc.size() * 8; ++i) {
    Bytes bad = enc;
    bad[i / 8] ^= static_cast<uint8_t>(0x80u >> (i % 8));
    EXPECT_FALSE(SmtVerifyPresence(t.root, k, v, bad).ok()) << "proof bit " << i;
  }
  for (unsigned i = 0; i < 256; ++i) {
    EXPECT_FALSE(SmtVerifyPresence(t.root, FlipBit(k, i), v, enc).ok()) << "key bit " << i;
    EXPECT_FALSE(SmtVerifyPresence(t.root, k, FlipBit(v, i), enc).ok()) << "value bit " << i;
    EXPECT_FALSE(SmtVerifyPresence(FlipBit(t.root, i), k, v, enc).ok()) << "root bit " << i;
  }
}

void CheckAbsenceFlips(const Tree& t, const Hash256& k, SmtProof::Terminal kind) {
  const SmtProof p = Prove(t.store, t.root, k);
  ASSERT_EQ(p.terminal, kind);
  ASSERT_GT(p.depth(), 0u);
  const Bytes enc = p.Encode();
  ASSERT_TRUE(SmtVerifyAbsence(t.root, k, enc).ok());
  for (size_t i = 0; i < enc.size() * 8; ++i) {
    Bytes bad = enc;
    bad[i / 8] ^= static_cast<uint8_t>(0x80u >> (i % 8));
    EXPECT_FALSE(SmtVerifyAbsence(t.root, k, bad).ok()) << "proof bit " << i;
  }
  for (unsigned i = 0; i < 256; ++i) {
    EXPECT_FALSE(SmtVerifyAbsence(FlipBit(t.root, i), k, enc).ok()) << "root bit " << i;
    // A flip within the first depth() bits moves to another path: refused. Below that, the
    // proof covers the whole subtree it ends in, so it proves the other key absent too, unless
    // that key is the other leaf's.
    const Hash256 k2 = FlipBit(k, i);
    const bool accepted = SmtVerifyAbsence(t.root, k2, enc).ok();
    if (i < p.depth()) {
      EXPECT_FALSE(accepted) << "key bit " << i;
    } else {
      EXPECT_EQ(accepted, !t.model.contains(k2)) << "key bit " << i;
      EXPECT_EQ(accepted, kind == SmtProof::Terminal::kEmpty || k2 != p.other_key);
    }
  }
}

TEST(Smt, EverySingleBitFlipFailsAbsenceByEmptySubtree) {
  const Tree t = FixtureTree();
  CheckAbsenceFlips(t, FindAbsentKey(t, SmtProof::Terminal::kEmpty, 1), SmtProof::Terminal::kEmpty);
}

TEST(Smt, EverySingleBitFlipFailsAbsenceByOtherLeaf) {
  const Tree t = FixtureTree();
  CheckAbsenceFlips(t, FindAbsentKey(t, SmtProof::Terminal::kOtherLeaf, 2),
                    SmtProof::Terminal::kOtherLeaf);
  // And the key of the cluster's neighbour, whose proof ends in a cluster leaf deep down.
  const Hash256 base = SmtKeyHash("fixture/cluster");
  const Hash256 near = FlipBit(FlipBit(base, 40), 200);
  ASSERT_GE(Prove(t.store, t.root, near).depth(), 41u);
  CheckAbsenceFlips(t, near, SmtProof::Terminal::kOtherLeaf);
}

TEST(Smt, ClaimsOfTheWrongKindFail) {
  const Tree t = FixtureTree();
  const Hash256 k = SmtKeyHash("fixture/3");
  const Bytes presence = Prove(t.store, t.root, k).Encode();
  Status s = SmtVerifyAbsence(t.root, k, presence);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("absence claimed"), std::string::npos) << s.message();
  s = SmtVerifyPresence(t.root, k, ValueOf(4), presence);
  EXPECT_NE(s.message().find("value mismatch"), std::string::npos) << s.message();

  const Hash256 absent = FindAbsentKey(t, SmtProof::Terminal::kOtherLeaf, 1);
  const SmtProof ap = Prove(t.store, t.root, absent);
  s = SmtVerifyPresence(t.root, absent, ap.value, ap.Encode());
  EXPECT_NE(s.message().find("presence claimed"), std::string::npos) << s.message();
  // Kind 2 cannot be turned into "absent" for the other leaf's own key.
  s = SmtVerifyAbsence(t.root, ap.other_key, ap.Encode());
  EXPECT_FALSE(s.ok());
  // The other leaf's key must share the path: a leaf from elsewhere is refused even if it is in
  // the tree.
  SmtProof forged = ap;
  forged.other_key = FlipBit(ap.other_key, 0);
  s = forged.Verify(t.root, absent, std::nullopt);
  EXPECT_NE(s.message().find("does not share"), std::string::npos) << s.message();

  s = SmtVerifyAbsence(FlipBit(t.root, 9), absent, ap.Encode());
  EXPECT_NE(s.message().find("root mismatch"), std::string::npos) << s.message();
}

TEST(Smt, NonCanonicalAndMalformedProofsRejected) {
  const Hash256 k = KeyWithFirstByte(0x00);
  const Hash256 s1 = SmtLeafHash(KeyWithFirstByte(0x80), ValueOf(1));
  const std::string sib = s1.Hex();
  const std::string v = ValueOf(0).Hex();
  auto decode = [](const std::string& hex) {
    auto bytes = FromHex(hex);
    EXPECT_TRUE(bytes.has_value());
    return SmtProof::Decode(bytes.value_or(Bytes{}));
  };
  // Well-formed baseline: depth 1, sibling listed, kind 1.
  ASSERT_TRUE(decode("010080" + sib + "01" + v).ok());
  const Hash256 root = SmtInnerHash(SmtLeafHash(k, ValueOf(0)), s1);
  ASSERT_TRUE(decode("010080" + sib + "01" + v)->Verify(root, k, ValueOf(0)).ok());

  struct Case {
    std::string hex;
    std::string cause;
  };
  const std::vector<Case> cases = {
      {"", "truncated"},
      {"01", "truncated"},
      {"0000", "truncated"},                                // no terminal
      {"000003", "unknown terminal kind 3"},                // kind 3
      {"00000000", "1 trailing bytes"},                     // trailing
      {"000001" + v + "00", "1 trailing bytes"},            // trailing after V
      {"000001" + v.substr(2), "truncated"},                // V cut short
      {"0201" + std::string(66, '0') + "00", "depth 258"},  // depth > 256
      {"0101" + std::string(66, '0') + "00", "depth 257"},
      {"0100c0" + sib + sib + "01" + v, "padding bit 1"},  // bit 1 of a depth-1 bitmap
      {"010081" + sib + "01" + v, "padding bit 7"},
      {"01000001" + v, "deepest sibling"},        // leaf terminal, deepest sibling E
      {"01000000", "deepest sibling"},            // empty terminal, deepest sibling E
      {"01000002" + sib + v, "deepest sibling"},  // other-leaf terminal, deepest sibling E
      {"010080" + std::string(64, '0') + "01" + v, "listed but empty"},
      {"020080" + sib + "01" + v, "deepest sibling"},  // depth 2, sibling 0 listed, sibling 1 E
  };
  for (const Case& c : cases) {
    Result<SmtProof> r = decode(c.hex);
    ASSERT_FALSE(r.ok()) << c.hex;
    EXPECT_TRUE(r.status().IsInvalidArgument());
    EXPECT_NE(r.status().message().find("decode SmtProof"), std::string::npos);
    EXPECT_NE(r.status().message().find(c.cause), std::string::npos)
        << c.hex << ": " << r.status().message();
  }

  // An empty sibling above the deepest one is canonical (depth 2, only sibling 1 listed).
  EXPECT_TRUE(decode("020040" + sib + "01" + v).ok());

  // A proof built in memory is held to the same rules by Verify.
  SmtProof p;
  p.siblings = {kE};
  p.terminal = SmtProof::Terminal::kLeaf;
  p.value = ValueOf(0);
  EXPECT_FALSE(p.Verify(SmtInnerHash(SmtLeafHash(k, ValueOf(0)), kE), k, ValueOf(0)).ok());
  p.siblings.assign(257, s1);
  EXPECT_FALSE(p.Verify(root, k, ValueOf(0)).ok());
}

TEST(Smt, UpdatesDeletesAndReinsertion) {
  Tree t;
  const Hash256 a = SmtKeyHash("agency/a");
  const Hash256 b = SmtKeyHash("agency/b");
  const Hash256 c = SmtKeyHash("agency/c");
  ASSERT_TRUE(t.Apply({{a, ValueOf(1)}, {b, ValueOf(2)}, {c, ValueOf(3)}}).ok());
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  const Hash256 three = t.root;

  t.Put(b, ValueOf(20));  // update
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  EXPECT_NE(t.root, three);
  t.Put(b, ValueOf(2));  // back: the same root as before
  EXPECT_EQ(t.root, three);

  // Deleting an absent key changes nothing and writes nothing.
  std::vector<std::pair<Hash256, SmtNode>> out;
  Result<Hash256> r = SmtUpdate(t.store, t.root, {{SmtKeyHash("agency/zz"), std::nullopt}}, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, three);
  EXPECT_TRUE(out.empty());
  // Writing a value it already has: the same.
  r = SmtUpdate(t.store, t.root, {{a, ValueOf(1)}}, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, three);
  EXPECT_TRUE(out.empty());

  t.Del(a);
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  CheckProof(t.store, t.root, t.model, a);
  t.Put(a, ValueOf(1));  // re-insert
  EXPECT_EQ(t.root, three);
  CheckProof(t.store, t.root, t.model, a);

  // Insert and delete in one batch.
  ASSERT_TRUE(t.Apply({{a, std::nullopt}, {SmtKeyHash("agency/d"), ValueOf(4)}}).ok());
  EXPECT_EQ(t.root, SmtRootOf(t.model));

  // Deleting everything gives E; one at a time, then all at once from a fresh fill.
  t.Del(b);
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  ASSERT_TRUE(t.Apply({{c, std::nullopt}, {SmtKeyHash("agency/d"), std::nullopt}}).ok());
  EXPECT_EQ(t.root, kE);
  EXPECT_TRUE(t.model.empty());
  ASSERT_TRUE(t.Apply({{a, ValueOf(1)}, {b, ValueOf(2)}, {c, ValueOf(3)}}).ok());
  EXPECT_EQ(t.root, three);
  ASSERT_TRUE(t.Apply({{a, std::nullopt}, {b, std::nullopt}, {c, std::nullopt}}).ok());
  EXPECT_EQ(t.root, kE);
}

TEST(Smt, DuplicateKeyInABatchIsRefused) {
  Tree t;
  const Hash256 a = SmtKeyHash("x");
  for (const auto& batch : std::vector<std::vector<SmtChange>>{
           {{a, ValueOf(1)}, {a, ValueOf(1)}},
           {{a, ValueOf(1)}, {SmtKeyHash("y"), ValueOf(2)}, {a, std::nullopt}}}) {
    std::vector<std::pair<Hash256, SmtNode>> out;
    Result<Hash256> r = SmtUpdate(t.store, t.root, batch, &out);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsInvalidArgument());
    EXPECT_NE(r.status().message().find(a.Hex()), std::string::npos) << r.status().message();
    EXPECT_TRUE(out.empty());
  }
}

// A reader that counts reads, and can fail or lie.
class TestReader : public SmtNodeReader {
 public:
  explicit TestReader(const MemorySmtNodeStore& inner) : inner_(inner) {}
  Result<std::optional<SmtNode>> GetNode(const Hash256& hash) const override {
    ++reads;
    if (io_error) return Status::IOError("disk on fire");
    if (lie_about && hash == *lie_about) return std::optional<SmtNode>(SmtLeaf{kE, kE});
    return inner_.GetNode(hash);
  }
  mutable size_t reads = 0;
  bool io_error = false;
  std::optional<Hash256> lie_about;

 private:
  const MemorySmtNodeStore& inner_;
};

TEST(Smt, MissingOrWrongNodesAreCorruption) {
  Tree t = FixtureTree();
  const Hash256 k = SmtKeyHash("fixture/7");
  const SmtProof p = Prove(t.store, t.root, k);
  ASSERT_GE(p.depth(), 2u);
  // The inner node one level below the root on k's path.
  Result<std::optional<SmtNode>> root_node = t.store.GetNode(t.root);
  ASSERT_TRUE(root_node.ok() && root_node->has_value());
  const auto& inner = std::get<SmtInner>(**root_node);
  const Hash256 child = SmtKeyBit(k, 0) != 0 ? inner.right : inner.left;

  {
    TestReader reader(t.store);
    reader.lie_about = child;
    Result<SmtProof> r = SmtProve(reader, t.root, k);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsCorruption());
    EXPECT_NE(r.status().message().find("does not hash"), std::string::npos);
  }
  {
    TestReader reader(t.store);
    reader.io_error = true;
    Result<SmtProof> r = SmtProve(reader, t.root, k);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsIOError());
    Result<Hash256> u = SmtUpdate(reader, t.root, {{k, std::nullopt}}, nullptr);
    EXPECT_TRUE(u.status().IsIOError());
  }

  t.store.Erase(child);
  Result<SmtProof> r = SmtProve(t.store, t.root, k);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_NE(r.status().message().find(child.Hex()), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("missing"), std::string::npos);
  Result<Hash256> u = SmtUpdate(t.store, t.root, {{k, ValueOf(70)}}, nullptr);
  ASSERT_FALSE(u.ok());
  EXPECT_TRUE(u.status().IsCorruption());
  EXPECT_NE(u.status().message().find(child.Hex()), std::string::npos);
  // The other half of the tree is still readable.
  const Hash256 other = SmtKeyBit(k, 0) != 0 ? KeyWithFirstByte(0x00) : KeyWithFirstByte(0x80);
  EXPECT_TRUE(SmtProve(t.store, t.root, other).ok());
  // A root that was never stored.
  r = SmtProve(t.store, SmtLeafHash(k, k), k);
  EXPECT_TRUE(r.status().IsCorruption());
}

TEST(Smt, BatchReadsOnlyTouchedPaths) {
  Tree t;
  std::vector<SmtChange> batch;
  for (uint64_t i = 0; i < 4096; ++i)
    batch.push_back({SmtKeyHash("k/" + std::to_string(i)), ValueOf(i)});
  ASSERT_TRUE(t.Apply(batch).ok());
  EXPECT_EQ(t.root, SmtRootOf(t.model));
  size_t max_depth = 0;
  for (uint64_t i = 0; i < 4096; ++i) {
    max_depth =
        std::max(max_depth, Prove(t.store, t.root, SmtKeyHash("k/" + std::to_string(i))).depth());
  }
  TestReader reader(t.store);
  std::vector<std::pair<Hash256, SmtNode>> out;
  Result<Hash256> r = SmtUpdate(reader, t.root, {{SmtKeyHash("k/17"), ValueOf(1)}}, &out);
  ASSERT_TRUE(r.ok());
  // One path: its nodes, the new leaf and one new inner node per level.
  EXPECT_LE(reader.reads, max_depth + 2);
  EXPECT_LE(out.size(), max_depth + 2);
  reader.reads = 0;
  out.clear();
  std::vector<SmtChange> ten;
  for (uint64_t i = 0; i < 10; ++i)
    ten.push_back({SmtKeyHash("k/" + std::to_string(i * 97)), std::nullopt});
  r = SmtUpdate(reader, t.root, ten, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_LE(reader.reads, 10 * (max_depth + 3));
  EXPECT_LE(out.size(), 10 * (max_depth + 2));
}

TEST(Smt, NodeEncoding) {
  const SmtNode leaf = SmtLeaf{SmtKeyHash("a"), ValueOf(1)};
  const SmtNode inner = SmtInner{kE, SmtKeyHash("b")};
  for (const SmtNode& n : {leaf, inner}) {
    const Bytes enc = EncodeSmtNode(n);
    ASSERT_EQ(enc.size(), 65u);
    EXPECT_EQ(Sha256(enc), SmtNodeHash(n));
    Result<SmtNode> back = DecodeSmtNode(enc);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, n);
  }
  EXPECT_EQ(EncodeSmtNode(leaf)[0], 0);
  EXPECT_EQ(EncodeSmtNode(inner)[0], 1);
  Bytes bad = EncodeSmtNode(leaf);
  bad[0] = 2;
  EXPECT_FALSE(DecodeSmtNode(bad).ok());
  bad[0] = 0;
  bad.push_back(0);
  EXPECT_FALSE(DecodeSmtNode(bad).ok());
  bad.resize(64);
  EXPECT_FALSE(DecodeSmtNode(bad).ok());
}

TEST(Smt, RandomBatchesAgainstTheReference) {
  std::mt19937_64 rng(20240610);
  auto random_key = [&rng] {
    Hash256 k;
    for (auto& b : k.bytes) b = static_cast<uint8_t>(rng());
    return k;
  };
  // The pool: random keys, a cluster sharing 20 bits, one sharing 250 bits, a pair that differs
  // only in the last bit.
  std::vector<Hash256> pool;
  for (int i = 0; i < 24; ++i) pool.push_back(random_key());
  const Hash256 base20 = random_key();
  for (int i = 0; i < 12; ++i) {
    Hash256 k = random_key();
    std::copy_n(base20.bytes.begin(), 2, k.bytes.begin());
    k.bytes[2] = static_cast<uint8_t>((base20.bytes[2] & 0xf0) | (k.bytes[2] & 0x0f));
    pool.push_back(k);
  }
  const Hash256 base250 = random_key();
  for (unsigned bit = 250; bit < 256; ++bit) pool.push_back(FlipBit(base250, bit));
  pool.push_back(base250);
  pool.push_back(FlipBit(pool[3], 255));

  Tree t;
  std::vector<std::pair<Hash256, std::map<Hash256, Hash256>>> history;
  for (int round = 0; round < 200; ++round) {
    std::vector<Hash256> keys = pool;
    std::shuffle(keys.begin(), keys.end(), rng);
    keys.resize(1 + rng() % 16);
    std::vector<SmtChange> batch;
    for (const Hash256& k : keys) {
      const uint64_t op = rng() % 3;  // insert/update twice as often as delete
      if (op == 0) {
        batch.push_back({k, std::nullopt});
      } else {
        batch.push_back({k, ValueOf(rng() % 5)});
      }
    }
    ASSERT_TRUE(t.Apply(batch).ok()) << "round " << round;
    ASSERT_EQ(t.root, SmtRootOf(t.model)) << "round " << round;
    history.emplace_back(t.root, t.model);
    // Proofs: two pool keys (present or not) and one key from nowhere.
    for (int i = 0; i < 2; ++i) CheckProof(t.store, t.root, t.model, pool[rng() % pool.size()]);
    CheckProof(t.store, t.root, t.model, random_key());
  }
  // Old roots are still provable after all later updates.
  for (size_t i = 0; i < history.size(); i += 7) {
    const auto& [root, model] = history[i];
    for (const Hash256& k : pool) CheckProof(t.store, root, model, k);
  }
  // And everything can be deleted.
  std::vector<SmtChange> all;
  for (const Hash256& k : pool) all.push_back({k, std::nullopt});
  ASSERT_TRUE(t.Apply(all).ok());
  EXPECT_EQ(t.root, kE);
}

TEST(Smt, OldRootStillProvable) {
  Tree t;
  const Hash256 a = SmtKeyHash("cert/a");
  t.Put(a, ValueOf(1));
  t.Put(SmtKeyHash("cert/b"), ValueOf(2));
  const Hash256 old_root = t.root;
  const auto old_model = t.model;
  t.Put(a, ValueOf(3));
  t.Del(SmtKeyHash("cert/b"));
  t.Put(SmtKeyHash("cert/c"), ValueOf(4));
  CheckProof(t.store, old_root, old_model, a);
  CheckProof(t.store, old_root, old_model, SmtKeyHash("cert/b"));
  CheckProof(t.store, old_root, old_model, SmtKeyHash("cert/c"));
  EXPECT_TRUE(Prove(t.store, old_root, a).Verify(old_root, a, ValueOf(1)).ok());
  EXPECT_FALSE(Prove(t.store, t.root, a).Verify(t.root, a, ValueOf(1)).ok());
}

// The worked example of FORMAT.md §6.6, computed independently by docs/smt_vectors.py.
TEST(Smt, FormatVectors) {
  const std::string k1 = "cert/11100000000013338W011.11110000000021135M.20230329701";
  const std::string k2 = "doc/" + std::string(64, '0');
  const std::string k3 = "seq/11110000000021135M";
  const Bytes v1 = {1, 2, 3};
  const Bytes v2 = {4, 5, 6};
  const Bytes v3 = {1, 0, 0, 0, 0, 0, 0, 0};
  const Hash256 K1 = SmtKeyHash(k1), K2 = SmtKeyHash(k2), K3 = SmtKeyHash(k3);
  const Hash256 V1 = SmtValueHash(v1), V2 = SmtValueHash(v2), V3 = SmtValueHash(v3);
  EXPECT_EQ(K1.Hex(), "a5d46911ecabee5d89bd368d6c4d971a6cb45dcef781b6af26d642bcd54bec62");
  EXPECT_EQ(V1.Hex(), "30d0fb5d2ec7be3ebb206df68067e476669ce757009d648c3ca0c3721b397600");
  EXPECT_EQ(K2.Hex(), "7f15656d68293b69c7cedf236279aa242a7b27c25eb39e21dfb48aa922661cb2");
  EXPECT_EQ(V2.Hex(), "161413795232fd1afa5282ab20a7776834e5460f3591c3e6547cccc0530c6320");
  EXPECT_EQ(K3.Hex(), "72ea86d57d55de3041d5dc842421e57c5b1dcb3c896912f95b6e50e04b7882ea");
  EXPECT_EQ(V3.Hex(), "9abb67985d08ab13b1ab9300e1e43d1f24bb7bb3daef3ae3f71fd962ea36a954");
  EXPECT_EQ(SmtLeafHash(K2, V2).Hex(),
            "632a2f7039c0a2b68e1286da8be5210b0383629a46977f16cbe34c8d2da063f1");
  EXPECT_EQ(SmtLeafHash(K3, V3).Hex(),
            "ac416956c38b557cf46f423ecc0ddeb53eeff94b31f854042e689b7d31b63058");

  EXPECT_EQ(SmtEmptyHash().Hex(), std::string(64, '0'));
  Tree t;
  t.Put(K1, V1);
  EXPECT_EQ(t.root.Hex(), "08f4eff23ae2fb6310df66028b859214ed30900e54604327b6cb6f0fd8f813a2");
  EXPECT_EQ(
      ToHex(Prove(t.store, t.root, K2).Encode()),
      "000002a5d46911ecabee5d89bd368d6c4d971a6cb45dcef781b6af26d642bcd54bec6230d0fb5d2ec7be3eb"
      "b206df68067e476669ce757009d648c3ca0c3721b397600");
  ASSERT_TRUE(t.Apply({{K2, V2}, {K3, V3}}).ok());
  EXPECT_EQ(t.root.Hex(), "ab4229d3fee062ee2b72034272f9b01b06c44eaee9858765f95e464d22a44b83");

  // The nodes along the left edge (FORMAT.md lists them by path).
  const Hash256 A = H("035755784655d5ed794409b4c38956ad637e147e88ce642e8c688ae92a08ab78");
  const Hash256 B = H("b3a6453957b19a07fc17df0613bc7aea398b97e80e6674dd60238fca0ea0a7e8");
  const Hash256 C = H("ad53cec5c7509bd9d41271668be07f21f1a3be7aca0ef05b99f26ea2594a0956");
  const Hash256 D = H("c13d2052cada3eda30c2131584f3b3b8de4942f66574a1f1a9a14a4022bda042");
  EXPECT_EQ(SmtInnerHash(SmtLeafHash(K3, V3), SmtLeafHash(K2, V2)), D);
  EXPECT_EQ(SmtInnerHash(kE, D), C);
  EXPECT_EQ(SmtInnerHash(kE, C), B);
  EXPECT_EQ(SmtInnerHash(kE, B), A);
  EXPECT_EQ(SmtInnerHash(A, SmtLeafHash(K1, V1)), t.root);
  Result<std::optional<SmtNode>> root_node = t.store.GetNode(t.root);
  ASSERT_TRUE(root_node.ok() && root_node->has_value());
  EXPECT_EQ(ToHex(EncodeSmtNode(**root_node)),
            "01" + A.Hex() + "08f4eff23ae2fb6310df66028b859214ed30900e54604327b6cb6f0fd8f813a2");
  EXPECT_EQ(t.store.node_count(), 8u);  // 3 leaves, 5 inner nodes (root, A, B, C, D)

  const std::string presence =
      "010080035755784655d5ed794409b4c38956ad637e147e88ce642e8c688ae92a08ab780130d0fb5d2ec7be3eb"
      "b206df68067e476669ce757009d648c3ca0c3721b397600";
  EXPECT_EQ(ToHex(Prove(t.store, t.root, K1).Encode()), presence);
  EXPECT_TRUE(SmtVerifyPresence(t.root, K1, V1, *FromHex(presence)).ok());

  const Hash256 absent0 = SmtKeyHash("absent/0");
  EXPECT_EQ(absent0.Hex(), "2d0067cd1951113e8d8a639928a40701bd87e08f42741fa8425663e8e9ed4395");
  const std::string kind0 =
      "0200c008f4eff23ae2fb6310df66028b859214ed30900e54604327b6cb6f0fd8f813a2b3a6453957b19a07fc17d"
      "f0613bc7aea398b97e80e6674dd60238fca0ea0a7e800";
  EXPECT_EQ(ToHex(Prove(t.store, t.root, absent0).Encode()), kind0);
  EXPECT_TRUE(SmtVerifyAbsence(t.root, absent0, *FromHex(kind0)).ok());

  const Hash256 absent1 = SmtKeyHash("absent/1");
  EXPECT_EQ(absent1.Hex(), "c0f7007639f50c9d0089eb0932f013758986e34c948c91e58ea2da4a72d6df8c");
  const std::string kind2 =
      "010080035755784655d5ed794409b4c38956ad637e147e88ce642e8c688ae92a08ab7802a5d46911ecabee5d8"
      "9bd368d6c4d971a6cb45dcef781b6af26d642bcd54bec6230d0fb5d2ec7be3ebb206df68067e476669ce75700"
      "9d648c3ca0c3721b397600";
  EXPECT_EQ(ToHex(Prove(t.store, t.root, absent1).Encode()), kind2);
  EXPECT_TRUE(SmtVerifyAbsence(t.root, absent1, *FromHex(kind2)).ok());
}

// ---- pages (SmtPagesOf, DecodeSmtPage; FORMAT.md §12) ------------------------------------------

// A store of pages in memory, read as ledger::Store's LevelDB implementation reads them: a node is
// looked up in the page of its page top, and a page must hash to its key.
class PageStore : public SmtNodeReader {
 public:
  Result<std::optional<SmtNode>> GetNode(const Hash256& hash) const override {
    return GetNodeInPage(hash, hash);
  }
  Result<std::optional<SmtNode>> GetNodeInPage(const Hash256& hash,
                                               const Hash256& page_top) const override {
    std::vector<std::pair<Hash256, SmtNode>> nodes;
    Result<bool> got = GetPageNodes(page_top, &nodes);
    if (!got.ok()) return got.status();
    for (const auto& [h, node] : nodes) {
      if (h == hash) return std::optional<SmtNode>(node);
    }
    return std::optional<SmtNode>();
  }
  Result<bool> GetPageNodes(const Hash256& top,
                            std::vector<std::pair<Hash256, SmtNode>>* nodes) const override {
    ++page_reads;
    auto it = pages.find(top);
    if (it == pages.end()) return true;
    std::vector<std::pair<Hash256, SmtNode>> decoded;
    if (Status st = DecodeSmtPage(it->second, &decoded); !st.ok()) {
      return Status::Corruption(st.message());
    }
    if (decoded.front().first != top) return Status::Corruption("page does not hash to its key");
    nodes->insert(nodes->end(), decoded.begin(), decoded.end());
    return true;
  }

  std::map<Hash256, Bytes> pages;
  mutable size_t page_reads = 0;
};

// A tree stored in pages, plus the plain map it should hold and every root it had.
struct PagedTree {
  PageStore store;
  Hash256 root;
  std::map<Hash256, Hash256> model;
  std::vector<std::pair<Hash256, std::map<Hash256, Hash256>>> history;
  size_t pages_written = 0;

  Status Apply(const std::vector<SmtChange>& changes) {
    std::vector<std::pair<Hash256, SmtNode>> new_nodes;
    Result<Hash256> r = SmtUpdate(store, root, changes, &new_nodes);
    if (!r.ok()) return r.status();
    if (*r != root && *r != kE) {
      EXPECT_FALSE(new_nodes.empty());
      if (!new_nodes.empty()) {
        EXPECT_EQ(new_nodes.back().first, *r);  // the new root comes last
      }
    }
    Result<std::vector<SmtPage>> pages = SmtPagesOf(store, root, *r, new_nodes);
    if (!pages.ok()) return pages.status();
    for (const SmtPage& page : *pages) {
      // The page's nodes are its decoding; a page is write-once.
      std::vector<std::pair<Hash256, SmtNode>> decoded;
      EXPECT_TRUE(DecodeSmtPage(page.encoded, &decoded).ok());
      EXPECT_EQ(decoded, page.nodes);
      EXPECT_EQ(page.nodes.front().first, page.top);
      EXPECT_EQ(page.depth % kSmtPageLevels, 0u);
      auto [it, inserted] = store.pages.emplace(page.top, page.encoded);
      if (!inserted) {
        EXPECT_EQ(it->second, page.encoded);
      }
      ++pages_written;
    }
    root = *r;
    for (const SmtChange& c : changes) {
      if (c.value) {
        model[c.key] = *c.value;
      } else {
        model.erase(c.key);
      }
    }
    history.emplace_back(root, model);
    return Status::Ok();
  }
  void Put(const Hash256& k, const Hash256& v) { ASSERT_TRUE(Apply({{k, v}}).ok()); }
  void Del(const Hash256& k) { ASSERT_TRUE(Apply({{k, std::nullopt}}).ok()); }
  void Check(const std::vector<Hash256>& keys) {
    ASSERT_EQ(root, SmtRootOf(model));
    for (const Hash256& k : keys) CheckProof(store, root, model, k);
  }
};

// A key whose first `bits` bits are those of `prefix` and whose remaining bits come from `rest`.
Hash256 WithPrefix(const Hash256& prefix, unsigned bits, const Hash256& rest) {
  Hash256 k = rest;
  for (unsigned i = 0; i < bits; ++i) {
    if (SmtKeyBit(k, i) != SmtKeyBit(prefix, i)) k = FlipBit(k, i);
  }
  return k;
}

TEST(SmtPages, RandomUpdatesMatchTheModelAndEveryOldRootStaysProvable) {
  std::mt19937_64 rng(20261130);
  PagedTree t;
  // A pool with long shared prefixes (so leaves sit at many depths, across page boundaries).
  std::vector<Hash256> pool;
  const Hash256 base = SmtKeyHash("base");
  for (int i = 0; i < 400; ++i) {
    const Hash256 rest = SmtKeyHash("pool/" + std::to_string(i));
    pool.push_back(i % 4 == 0 ? rest : WithPrefix(base, static_cast<unsigned>(rng() % 24), rest));
  }
  for (int round = 0; round < 60; ++round) {
    std::map<Hash256, std::optional<Hash256>> batch;
    const size_t n = 1 + rng() % (round % 5 == 0 ? 120 : 12);
    for (size_t i = 0; i < n; ++i) {
      const Hash256& k = pool[rng() % pool.size()];
      if (rng() % 3 == 0) {
        batch[k] = std::nullopt;
      } else {
        batch[k] = ValueOf(rng() % 1000);
      }
    }
    std::vector<SmtChange> changes;
    for (const auto& [k, v] : batch) changes.push_back({k, v});
    ASSERT_TRUE(t.Apply(changes).ok()) << round;
    std::vector<Hash256> sample;
    for (int i = 0; i < 6; ++i) sample.push_back(pool[rng() % pool.size()]);
    sample.push_back(SmtKeyHash("never-inserted/" + std::to_string(round)));
    t.Check(sample);
  }
  // Every old root is still readable, with the proofs of its own map.
  for (size_t i = 0; i < t.history.size(); i += 5) {
    const auto& [root, model] = t.history[i];
    ASSERT_EQ(root, SmtRootOf(model));
    for (int j = 0; j < 4; ++j) CheckProof(t.store, root, model, pool[rng() % pool.size()]);
  }
  // Delete everything: the tree empties, and the old roots still prove.
  std::vector<SmtChange> all;
  for (const auto& [k, v] : t.model) all.push_back({k, std::nullopt});
  ASSERT_TRUE(t.Apply(all).ok());
  EXPECT_EQ(t.root, kE);
  const auto& [old_root, old_model] = t.history[t.history.size() / 2];
  for (const Hash256& k : pool) CheckProof(t.store, old_root, old_model, k);
}

TEST(SmtPages, LeavesAtPageBoundariesAndCollapsesAcrossThem) {
  // Pairs of keys that differ first at bit d: their leaves collapse at depth d + 1.
  const Hash256 a = SmtKeyHash("boundary/a");
  for (unsigned d : {2u, 3u, 4u, 5u, 7u, 8u, 11u, 12u, 254u, 255u}) {
    PagedTree t;
    const Hash256 b = FlipBit(a, d);
    const Hash256 c = FlipBit(FlipBit(a, d), d == 255 ? 254 : d + 1);  // below b's leaf
    const Hash256 far = FlipBit(a, 0);
    t.Put(far, ValueOf(0));
    t.Put(a, ValueOf(1));
    t.Put(b, ValueOf(2));
    t.Check({a, b, c, far, FlipBit(a, 200)});
    EXPECT_EQ(Prove(t.store, t.root, a).depth(), d + 1) << d;
    // A third key below b: b's leaf moves down (possibly into another page).
    t.Put(c, ValueOf(3));
    t.Check({a, b, c, far});
    // Deleting moves leaves up across page boundaries.
    t.Del(c);
    t.Check({a, b, c, far});
    t.Del(a);
    t.Check({a, b, c, far});
    EXPECT_EQ(Prove(t.store, t.root, b).depth(), 1u) << d;
    t.Del(far);
    t.Check({a, b, c, far});
    EXPECT_EQ(Prove(t.store, t.root, b).depth(), 0u) << d;  // a lone leaf is the root
    // The same root as a fresh tree holding only b, and its page is the leaf itself.
    EXPECT_EQ(t.root, SmtLeafHash(b, ValueOf(2)));
    ASSERT_TRUE(t.store.pages.contains(t.root));
    EXPECT_EQ(t.store.pages.at(t.root).size(), 65u);
    // Old roots still prove after all the moves.
    for (const auto& [root, model] : t.history) {
      for (const Hash256& k : {a, b, c, far}) CheckProof(t.store, root, model, k);
    }
  }
}

TEST(SmtPages, AFullPageAndItsEncoding) {
  // 16 keys, one under each 4-bit prefix: the root page holds 15 inner nodes and 16 leaves
  // referenced at depth 4, each its own page.
  PagedTree t;
  std::vector<SmtChange> changes;
  std::vector<Hash256> keys;
  for (uint8_t i = 0; i < 16; ++i) {
    keys.push_back(KeyWithFirstByte(static_cast<uint8_t>(i << 4)));
    changes.push_back({keys.back(), ValueOf(i)});
  }
  ASSERT_TRUE(t.Apply(changes).ok());
  t.Check(keys);
  EXPECT_EQ(t.store.pages.size(), 17u);
  const Bytes& top = t.store.pages.at(t.root);
  EXPECT_EQ(top.size(), 15u + 16u * 32u);
  EXPECT_EQ(top[0], kSmtPageInnerTag | 3);
  // One change rewrites the root page and one leaf page only.
  const size_t before = t.pages_written;
  t.Put(keys[5], ValueOf(99));
  EXPECT_EQ(t.pages_written - before, 2u);
  t.Check(keys);
  // Pages are decoded strictly.
  std::vector<std::pair<Hash256, SmtNode>> nodes;
  EXPECT_TRUE(DecodeSmtPage(top, &nodes).ok());
  EXPECT_EQ(nodes.size(), 15u);
  Bytes bad = top;
  bad.push_back(0);
  EXPECT_FALSE(DecodeSmtPage(bad, &nodes).ok());
  bad = top;
  bad.pop_back();
  EXPECT_FALSE(DecodeSmtPage(bad, &nodes).ok());
  bad = top;
  bad[0] = kSmtPageInnerTag;  // two empty children
  EXPECT_FALSE(DecodeSmtPage(bad, &nodes).ok());
  bad[0] = 0x01;  // the old single-node inner tag
  EXPECT_FALSE(DecodeSmtPage(bad, &nodes).ok());
  bad = top;
  std::fill(bad.end() - 32, bad.end(), uint8_t{0});  // an empty bottom reference
  Status st = DecodeSmtPage(bad, &nodes);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("empty reference"), std::string::npos) << st.message();
  EXPECT_FALSE(DecodeSmtPage(Bytes{}, &nodes).ok());
}

TEST(SmtPages, DamagedOrMissingPagesAreCorruptionNeverAWrongRoot) {
  PagedTree t;
  std::vector<SmtChange> changes;
  std::vector<Hash256> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back(SmtKeyHash("damage/" + std::to_string(i)));
    changes.push_back({keys.back(), ValueOf(static_cast<uint64_t>(i))});
  }
  ASSERT_TRUE(t.Apply(changes).ok());
  t.Check(keys);
  const Hash256 k = keys[17];
  const SmtChange change{k, ValueOf(4242)};
  // Every page of the tree: flip one byte of it, then remove it.
  std::vector<Hash256> tops;
  for (const auto& [top, bytes] : t.store.pages) tops.push_back(top);
  size_t hit = 0;
  for (const Hash256& top : tops) {
    const Bytes saved = t.store.pages.at(top);
    for (int mode = 0; mode < 2; ++mode) {
      if (mode == 0) {
        t.store.pages[top][saved.size() / 2] ^= 0x40;
      } else {
        t.store.pages.erase(top);
      }
      // Updates and proofs of every key either do not touch the page, or fail with Corruption.
      for (const Hash256& key : {k, keys[100], keys[250]}) {
        Result<SmtProof> p = SmtProve(t.store, t.root, key);
        if (p.ok()) {
          EXPECT_TRUE(p->Verify(t.root, key, t.model.at(key)).ok());
        } else {
          EXPECT_TRUE(p.status().IsCorruption()) << p.status().ToString();
          ++hit;
        }
      }
      Result<Hash256> u = SmtUpdate(t.store, t.root, {change}, nullptr);
      if (u.ok()) {
        std::map<Hash256, Hash256> m = t.model;
        m[k] = *change.value;
        EXPECT_EQ(*u, SmtRootOf(m));
      } else {
        EXPECT_TRUE(u.status().IsCorruption()) << u.status().ToString();
      }
      t.store.pages[top] = saved;
    }
  }
  EXPECT_GT(hit, 0u);
  // The root page itself.
  t.store.pages[t.root][1] ^= 1;
  Result<Hash256> u = SmtUpdate(t.store, t.root, {change}, nullptr);
  ASSERT_FALSE(u.ok());
  EXPECT_TRUE(u.status().IsCorruption());
}

}  // namespace
}  // namespace certledger::ledger
