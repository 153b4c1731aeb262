#include "ledger/store.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/env.h>

#include <filesystem>
#include <map>
#include <random>

#include "ledger/encoding.h"
#include "ledger/leveldb_store.h"
#include "ledger/smt.h"
#include "tests/testing/chain_fixture.h"
#include "tests/testing/fault_env.h"

namespace certledger::testing {
namespace {

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("certledger-store-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

std::unique_ptr<Store> OpenStore(const std::string& path, const Genesis& g,
                                 leveldb::Env* env = nullptr) {
  LevelDBStoreOptions o;
  o.path = path;
  o.env = env;
  o.write_buffer_bytes = 1 << 20;  // small, so that the tests cross memtable flushes
  auto s = OpenLevelDBStore(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return nullptr;
  Status st = (*s)->Initialize(g);
  EXPECT_TRUE(st.ok()) << st.ToString();
  if (!st.ok()) return nullptr;
  return std::move(s).value();
}

// A chain of `n` blocks with `per_block` issue events each (agencies in turn), plus the
// expected state after each height.
struct TestChain {
  std::vector<BuiltBlock> blocks;
  std::vector<std::map<std::string, Bytes, std::less<>>> state_at;  // index = height
};

TestChain MakeChain(ChainFixture& f, size_t n, size_t per_block) {
  TestChain out;
  ChainBuilder c(&f);
  out.state_at.push_back(c.state.entries());
  size_t serial = 0;
  for (size_t h = 0; h < n; ++h) {
    std::vector<SignedTransaction> txs;
    for (size_t i = 0; i < per_block; ++i, ++serial) {
      size_t agency = serial % 3;
      txs.push_back(f.Tx(agency, f.Issue(agency, "S" + std::to_string(100000 + serial))));
    }
    out.blocks.push_back(c.Next(txs));
    out.state_at.push_back(c.state.entries());
  }
  return out;
}

void ExpectStoreAt(const Store& store, const TestChain& chain, uint64_t height) {
  ASSERT_EQ(store.Height(), height);
  for (uint64_t h = 1; h <= height; ++h) {
    auto b = store.GetBlock(h);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    ASSERT_EQ(*b, chain.blocks[h - 1].block);
    auto c = store.GetCommit(h);
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(*c, chain.blocks[h - 1].commit);
  }
  EXPECT_FALSE(store.GetBlock(height + 1).ok());
  if (height > 0) {
    const BlockHeader& last = chain.blocks[height - 1].block.header;
    EXPECT_EQ(store.Tip().state_root, last.state_root);
    EXPECT_EQ(store.Log().Root(), last.log_root);
  }
  // The state root is the tree of the whole state map, and the store holds that tree.
  std::map<Hash256, Hash256> tree;
  for (const auto& [k, v] : chain.state_at[height]) tree[SmtKeyHash(k)] = SmtValueHash(v);
  EXPECT_EQ(store.Tip().state_root, SmtRootOf(tree));
  {
    const auto& [k, v] = *chain.state_at[height].rbegin();
    auto proof = SmtProve(store, store.Tip().state_root, SmtKeyHash(k));
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_TRUE(proof->Verify(store.Tip().state_root, SmtKeyHash(k), SmtValueHash(v)).ok());
  }
  // Every state entry is exactly the expected one.
  for (const auto& [k, v] : chain.state_at[height]) {
    Bytes got;
    ASSERT_TRUE(store.Get(k, &got).ok()) << k;
    ASSERT_EQ(got, v) << k;
  }
  // And entries of later heights are absent.
  if (height + 1 < chain.state_at.size()) {
    for (const auto& [k, v] : chain.state_at[height + 1]) {
      if (chain.state_at[height].count(k)) continue;
      Bytes got;
      ASSERT_TRUE(store.Get(k, &got).IsNotFound()) << k;
    }
  }
}

TEST(LevelDBStoreTest, AppendReadBackAndReopen) {
  ChainFixture f;
  TestChain chain = MakeChain(f, 5, 4);
  TempDir dir;
  {
    auto store = OpenStore(dir.path(), f.genesis);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->Height(), 0u);
    EXPECT_EQ(store->Tip().state_root, GenesisStateRoot(f.genesis));
    for (const auto& b : chain.blocks) {
      ASSERT_TRUE(store->AppendBlock(b.block, b.commit, b.effects).ok());
    }
    ExpectStoreAt(*store, chain, 5);
  }
  auto store = OpenStore(dir.path(), f.genesis);
  ASSERT_TRUE(store);
  ExpectStoreAt(*store, chain, 5);

  // Indexes.
  const auto& tx = chain.blocks[2].block.txs[1];
  auto loc = store->GetTxLocation(TxHash(tx.tx));
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->height, 3u);
  EXPECT_EQ(loc->index, 1u);
  EXPECT_EQ(loc->log_index, 9u);
  auto leaf = store->GetLeafLocation(9);
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(leaf->height, 3u);
  auto leaf_data = store->GetLeaf(9);
  ASSERT_TRUE(leaf_data.ok());
  EXPECT_EQ(*leaf_data, TxLeaf(tx));
  EXPECT_TRUE(store->GetLeaf(20).status().IsNotFound());
  EXPECT_TRUE(store->GetTxLocation(Sha256(AsBytes("nope"))).status().IsNotFound());
  auto agency_txs = store->AgencyTxs(f.id(1), 1, 100);
  ASSERT_TRUE(agency_txs.ok());
  EXPECT_EQ(agency_txs->size(), 7u);  // 20 issues round-robin over 3 agencies: 7, 7, 6
  auto from3 = store->AgencyTxs(f.id(1), 3, 2);
  ASSERT_TRUE(from3.ok());
  ASSERT_EQ(from3->size(), 2u);
  EXPECT_EQ((*from3)[0], (*agency_txs)[2]);
  auto genesis = store->GetGenesis();
  ASSERT_TRUE(genesis.ok());
  EXPECT_EQ(*genesis, f.genesis);

  // Proofs from the reopened store verify against the headers.
  MerkleLog log = store->Log();
  auto proof = log.InclusionProof(9, 20, *store);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(VerifyInclusion(9, 20, MerkleLeafHash(TxLeaf(tx)), *proof,
                              chain.blocks[4].block.header.log_root));
  auto consistency = log.ConsistencyProof(8, 20, *store);
  ASSERT_TRUE(consistency.ok());
  EXPECT_TRUE(VerifyConsistency(8, 20, chain.blocks[1].block.header.log_root,
                                chain.blocks[4].block.header.log_root, *consistency));
}

// A view keeps seeing the tip, state, headers and leaves it was taken at while blocks are
// appended: answers built from it are consistent without retries.
TEST(LevelDBStoreTest, ViewIsASnapshotAcrossAppends) {
  ChainFixture f;
  TestChain chain = MakeChain(f, 4, 3);
  TempDir dir;
  auto store = OpenStore(dir.path(), f.genesis);
  ASSERT_TRUE(store);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        store->AppendBlock(chain.blocks[i].block, chain.blocks[i].commit, chain.blocks[i].effects)
            .ok());
  }
  auto view = store->View();
  for (size_t i = 2; i < 4; ++i) {
    ASSERT_TRUE(
        store->AppendBlock(chain.blocks[i].block, chain.blocks[i].commit, chain.blocks[i].effects)
            .ok());
  }
  ASSERT_EQ(store->Height(), 4u);
  const BlockHeader& h2 = chain.blocks[1].block.header;
  EXPECT_EQ(view->Tip().height, 2u);
  EXPECT_EQ(view->Tip().state_root, h2.state_root);
  EXPECT_EQ(view->Tip().log_size, h2.log_size);
  auto header = view->GetHeader(2);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(*header, h2);
  EXPECT_TRUE(view->GetHeader(3).status().IsNotFound());
  EXPECT_TRUE(view->GetCommit(3).status().IsNotFound());
  EXPECT_TRUE(view->GetLeaf(h2.log_size).status().IsNotFound());
  EXPECT_TRUE(view->GetLeafLocation(h2.log_size).status().IsNotFound());
  // The state is the state after block 2: every entry, and nothing of blocks 3 and 4.
  for (const auto& [k, v] : chain.state_at[2]) {
    Bytes got;
    ASSERT_TRUE(view->Get(k, &got).ok()) << k;
    EXPECT_EQ(got, v) << k;
  }
  for (const auto& [k, v] : chain.state_at[4]) {
    if (chain.state_at[2].count(k)) continue;
    Bytes got;
    EXPECT_TRUE(view->Get(k, &got).IsNotFound()) << k;
  }
  // Proofs built through the view verify against the view's header.
  const auto& [key, value] = *chain.state_at[2].begin();
  auto proof = SmtProve(*view, h2.state_root, SmtKeyHash(key));
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(proof->Verify(h2.state_root, SmtKeyHash(key), SmtValueHash(value)).ok());
  auto path = store->Log().InclusionProof(1, h2.log_size, *view);
  ASSERT_TRUE(path.ok());
  auto leaf = view->GetLeaf(1);
  ASSERT_TRUE(leaf.ok());
  EXPECT_TRUE(VerifyInclusion(1, h2.log_size, MerkleLeafHash(*leaf), *path, h2.log_root));
  // A new view sees the new tip.
  EXPECT_EQ(store->View()->Tip().height, 4u);
}

TEST(LevelDBStoreTest, RefusesAnotherChainsDataAndBadAppends) {
  ChainFixture f;
  TestChain chain = MakeChain(f, 2, 1);
  TempDir dir;
  {
    auto store = OpenStore(dir.path(), f.genesis);
    ASSERT_TRUE(store);
    // Out of order.
    Status st =
        store->AppendBlock(chain.blocks[1].block, chain.blocks[1].commit, chain.blocks[1].effects);
    EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
    ASSERT_TRUE(
        store->AppendBlock(chain.blocks[0].block, chain.blocks[0].commit, chain.blocks[0].effects)
            .ok());
    // Twice.
    EXPECT_FALSE(
        store->AppendBlock(chain.blocks[0].block, chain.blocks[0].commit, chain.blocks[0].effects)
            .ok());
  }
  Genesis other = f.genesis;
  other.params.chain_id = "another-chain";
  LevelDBStoreOptions o;
  o.path = dir.path();
  auto s = OpenLevelDBStore(o);
  ASSERT_TRUE(s.ok());
  Status st = (*s)->Initialize(other);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find("another chain"), std::string::npos);

  LevelDBStoreOptions bad;
  EXPECT_TRUE(OpenLevelDBStore(bad).status().IsInvalidArgument());
}

// The crash test: for every write operation k of a run that appends a chain, make the k-th
// and every later write fail, drop whatever was not synced (a power loss), and reopen. The
// store must reopen with exactly the blocks whose AppendBlock succeeded, consistent state, log
// and indexes, and accept the rest of the chain afterwards.
TEST(LevelDBStoreCrashTest, ReopensConsistentAfterACrashAtEveryWrite) {
  ChainFixture f;
  TestChain chain = MakeChain(f, 40, 12);  // about 1.2 MB of writes: crosses memtable flushes
  // Count the write operations of a full run first.
  int64_t total_ops = 0;
  {
    TempDir dir;
    FaultInjectionEnv env(leveldb::Env::Default());
    auto store = OpenStore(dir.path(), f.genesis, &env);
    ASSERT_TRUE(store);
    for (const auto& b : chain.blocks) {
      ASSERT_TRUE(store->AppendBlock(b.block, b.commit, b.effects).ok());
    }
    store.reset();
    total_ops = env.write_ops();
  }
  ASSERT_GT(total_ops, 80);
  int crashes = 0;
  for (int64_t k = 0; k <= total_ops; ++k) {
    SCOPED_TRACE("crash at write " + std::to_string(k));
    TempDir dir;
    FaultInjectionEnv env(leveldb::Env::Default());
    env.FailAfter(k);
    uint64_t acked = 0;
    bool initialized = false;
    {
      LevelDBStoreOptions o;
      o.path = dir.path();
      o.env = &env;
      o.write_buffer_bytes = 1 << 20;
      auto s = OpenLevelDBStore(o);
      if (s.ok() && (*s)->Initialize(f.genesis).ok()) {
        initialized = true;
        for (const auto& b : chain.blocks) {
          Status st = (*s)->AppendBlock(b.block, b.commit, b.effects);
          if (!st.ok()) {
            // Sticky: a failed store stays failed even if the disk recovers.
            env.FailAfter(-1);
            EXPECT_FALSE((*s)->AppendBlock(b.block, b.commit, b.effects).ok());
            break;
          }
          ++acked;
        }
      }
    }
    env.DropUnsyncedData();
    if (acked < chain.blocks.size()) ++crashes;
    // Reopen on the plain environment, as after a reboot.
    auto store = OpenStore(dir.path(), f.genesis);
    ASSERT_TRUE(store) << "did not reopen";
    const uint64_t h = store->Height();
    if (initialized) {
      ASSERT_GE(h, acked) << "an acknowledged block was lost";
    }
    ASSERT_LE(h, acked + 1);
    ExpectStoreAt(*store, chain, h);
    // The rest of the chain still appends.
    for (uint64_t i = h; i < chain.blocks.size(); ++i) {
      ASSERT_TRUE(
          store->AppendBlock(chain.blocks[i].block, chain.blocks[i].commit, chain.blocks[i].effects)
              .ok());
    }
    EXPECT_EQ(store->Tip().state_root, chain.blocks.back().block.header.state_root);
  }
  EXPECT_GT(crashes, 80);
}

// The state tree over a chain of a few hundred random certificate events: after every block the
// header's state root is the root of the tree over the whole state map; a LevelDB store that is
// closed and reopened midway (with a tiny node cache, so nodes come from disk) validates and
// appends the rest from its stored tree, agreeing with a store that never closed; and proofs
// read from the store verify against the headers' state roots.
TEST(StateTreeTest, RootOfTheWholeStateAfterEveryBlockAcrossARestart) {
  ChainFixture f;
  ChainBuilder c(&f);
  std::mt19937 rng(20261130);
  struct Cert {
    size_t agency;
    int status;  // 0 valid, 1 suspended, 2 revoked
  };
  std::vector<std::pair<std::string, Cert>> certs;
  std::vector<BuiltBlock> blocks;
  size_t serial = 0, events = 0;
  while (events < 300) {
    std::vector<SignedTransaction> txs;
    const size_t n = 1 + rng() % 8;
    for (size_t i = 0; i < n; ++i, ++events) {
      const auto op = static_cast<unsigned>(rng() % 10);
      auto& target = certs.empty() ? certs.emplace_back() : certs[rng() % certs.size()];
      if (op < 5 || target.second.status == 2 || target.first.empty()) {
        if (target.first.empty()) certs.pop_back();
        const size_t a = rng() % 3;
        const std::string s = "R" + std::to_string(100000 + serial++);
        txs.push_back(f.Tx(a, f.Issue(a, s)));
        certs.push_back({f.BaseId(a, s), {a, 0}});
      } else if (target.second.status == 1) {
        txs.push_back(f.Tx(target.second.agency, ResumeEvent{target.first, ""}));
        target.second.status = 0;
      } else if (op < 8) {
        txs.push_back(f.Tx(target.second.agency, SuspendEvent{target.first, "inspection"}));
        target.second.status = 1;
      } else {
        txs.push_back(f.Tx(target.second.agency,
                           RevokeEvent{target.first, RevocationKind::kRevoked, "revoked"}));
        target.second.status = 2;
      }
    }
    blocks.push_back(c.Next(txs));
    std::map<Hash256, Hash256> tree;
    for (const auto& [k, v] : c.state.entries()) tree[SmtKeyHash(k)] = SmtValueHash(v);
    ASSERT_EQ(blocks.back().block.header.state_root, SmtRootOf(tree)) << "block " << blocks.size();
  }
  ASSERT_GE(blocks.size(), 40u);

  TempDir always_dir, restarted_dir;
  auto always = OpenStore(always_dir.path(), f.genesis);
  ASSERT_TRUE(always);
  auto open_small_cache = [&] {
    LevelDBStoreOptions o;
    o.path = restarted_dir.path();
    o.write_buffer_bytes = 1 << 20;
    o.state_node_cache_entries = 16;
    auto s = OpenLevelDBStore(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return std::unique_ptr<Store>();
    Status st = (*s)->Initialize(f.genesis);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return std::move(s).value();
  };
  auto restarted = open_small_cache();
  ASSERT_TRUE(restarted);
  const size_t restart_at = blocks.size() / 2;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const BuiltBlock& b = blocks[i];
    ASSERT_TRUE(always->AppendBlock(b.block, b.commit, b.effects).ok());
    if (i == restart_at) {
      restarted.reset();
      restarted = open_small_cache();
      ASSERT_TRUE(restarted);
    }
    // The reopened store validates from the tree it has on disk, and appends what it computed.
    auto effects =
        ValidateBlock(*restarted, *restarted, restarted->Tip(), restarted->Log(), b.block);
    ASSERT_TRUE(effects.ok()) << "block " << i + 1 << ": " << effects.status().ToString();
    ASSERT_TRUE(restarted->AppendBlock(b.block, b.commit, *effects).ok());
    ASSERT_EQ(restarted->Tip().state_root, always->Tip().state_root);
    ASSERT_EQ(restarted->Tip().state_root, b.block.header.state_root);
  }

  // Proofs from the store against the last header's state root: a real certificate (present,
  // with its stored value) and a document hash that is on no certificate (absent).
  const Hash256 root = blocks.back().block.header.state_root;
  const std::string cert_key = CertKey(certs.front().first);
  Bytes value;
  ASSERT_TRUE(restarted->Get(cert_key, &value).ok());
  auto present = SmtProve(*restarted, root, SmtKeyHash(cert_key));
  ASSERT_TRUE(present.ok()) << present.status().ToString();
  EXPECT_TRUE(present->proves_presence());
  EXPECT_TRUE(
      SmtVerifyPresence(root, SmtKeyHash(cert_key), SmtValueHash(value), present->Encode()).ok());
  const std::string doc_key = DocKey(Sha256(AsBytes("a document nobody registered")));
  ASSERT_TRUE(restarted->Get(doc_key, &value).IsNotFound());
  auto absent = SmtProve(*restarted, root, SmtKeyHash(doc_key));
  ASSERT_TRUE(absent.ok()) << absent.status().ToString();
  EXPECT_FALSE(absent->proves_presence());
  EXPECT_TRUE(SmtVerifyAbsence(root, SmtKeyHash(doc_key), absent->Encode()).ok());
  // A proof of absence does not pass as one of presence, nor against another root.
  EXPECT_FALSE(
      SmtVerifyPresence(root, SmtKeyHash(doc_key), SmtValueHash(value), absent->Encode()).ok());
  EXPECT_FALSE(SmtVerifyAbsence(blocks.front().block.header.state_root, SmtKeyHash(doc_key),
                                absent->Encode())
                   .ok());
  // Old roots stay readable (nodes are never removed): the last certificate issued is absent
  // from the first block's tree.
  const Hash256 first_root = blocks.front().block.header.state_root;
  const std::string late_key = CertKey(certs.back().first);
  auto old = SmtProve(*always, first_root, SmtKeyHash(late_key));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_TRUE(SmtVerifyAbsence(first_root, SmtKeyHash(late_key), old->Encode()).ok());
}

// The raw `z/` records of a closed store (FORMAT.md §12).
std::map<std::string, std::string> StatePages(const std::string& path) {
  std::map<std::string, std::string> out;
  leveldb::DB* raw = nullptr;
  leveldb::Options o;
  EXPECT_TRUE(leveldb::DB::Open(o, path, &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek("z/"); it->Valid() && it->key().starts_with("z/"); it->Next()) {
    out.emplace(it->key().ToString(), it->value().ToString());
  }
  return out;
}
void PutRaw(const std::string& path, const std::string& key, const std::optional<std::string>& v) {
  leveldb::DB* raw = nullptr;
  leveldb::Options o;
  ASSERT_TRUE(leveldb::DB::Open(o, path, &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  if (v) {
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, *v).ok());
  } else {
    ASSERT_TRUE(db->Delete(leveldb::WriteOptions(), key).ok());
  }
}
std::string PageKey(const Hash256& h) {
  return "z/" + std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

TEST(StateTreeTest, PagesOnDiskProveEveryRootAndDamageIsCorruption) {
  ChainFixture f;
  TestChain chain = MakeChain(f, 12, 9);
  TempDir dir;
  {
    auto store = OpenStore(dir.path(), f.genesis);
    ASSERT_TRUE(store);
    for (const auto& b : chain.blocks) {
      ASSERT_TRUE(store->AppendBlock(b.block, b.commit, b.effects).ok());
    }
  }
  const Hash256 tip_root = chain.blocks.back().block.header.state_root;
  const auto pages = StatePages(dir.path());
  ASSERT_TRUE(pages.contains(PageKey(tip_root)));
  // Every record decodes to a page that hashes to its key.
  for (const auto& [key, value] : pages) {
    std::vector<std::pair<Hash256, SmtNode>> nodes;
    ASSERT_TRUE(DecodeSmtPage(AsBytes(value), &nodes).ok());
    EXPECT_EQ(PageKey(nodes.front().first), key);
  }

  // Reopened with a tiny cache: every height's tree proves every key of that height's state.
  auto prove_all = [&](const Store& store, size_t height, size_t* corrupt) {
    const Hash256 root = height == 0 ? GenesisStateRoot(f.genesis)
                                     : chain.blocks[height - 1].block.header.state_root;
    for (const auto& [k, v] : chain.state_at.back()) {
      auto p = SmtProve(store, root, SmtKeyHash(k));
      if (!p.ok()) {
        ASSERT_NE(corrupt, nullptr) << p.status().ToString();
        EXPECT_TRUE(p.status().IsCorruption()) << p.status().ToString();
        ++*corrupt;
        continue;
      }
      auto it = chain.state_at[height].find(k);
      std::optional<Hash256> value;
      if (it != chain.state_at[height].end()) value = SmtValueHash(it->second);
      EXPECT_TRUE(p->Verify(root, SmtKeyHash(k), value).ok()) << k << " at " << height;
    }
  };
  auto open_small_cache = [&]() -> Result<std::unique_ptr<Store>> {
    LevelDBStoreOptions o;
    o.path = dir.path();
    o.state_node_cache_entries = 8;
    auto s = OpenLevelDBStore(o);
    if (!s.ok()) return s.status();
    if (Status st = (*s)->Initialize(f.genesis); !st.ok()) return st;
    return s;
  };
  {
    auto store = open_small_cache();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (size_t h = 0; h <= chain.blocks.size(); ++h) prove_all(**store, h, nullptr);
  }

  // A flipped byte in the tip's root page: refused at open.
  std::string damaged = pages.at(PageKey(tip_root));
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x10);
  PutRaw(dir.path(), PageKey(tip_root), damaged);
  {
    auto store = open_small_cache();
    ASSERT_FALSE(store.ok());
    EXPECT_TRUE(store.status().IsCorruption()) << store.status().ToString();
  }
  // A record in the format before pages (a 65-byte inner node): refused with the reason.
  std::string old_format(65, '\0');
  old_format[0] = 0x01;
  PutRaw(dir.path(), PageKey(tip_root), old_format);
  {
    auto store = open_small_cache();
    ASSERT_FALSE(store.ok());
    EXPECT_TRUE(store.status().IsCorruption());
    EXPECT_NE(store.status().message().find("before the paged state tree"), std::string::npos)
        << store.status().ToString();
  }
  PutRaw(dir.path(), PageKey(tip_root), pages.at(PageKey(tip_root)));

  // Each page below the root removed, then damaged, in turn (a sample): proofs that need it fail
  // with Corruption, the others still verify; never a wrong answer.
  size_t corrupt = 0;
  size_t i = 0;
  for (const auto& [key, value] : pages) {
    if (key == PageKey(tip_root) || i++ % 7 != 0) continue;
    for (int mode = 0; mode < 2; ++mode) {
      if (mode == 0) {
        PutRaw(dir.path(), key, std::nullopt);
      } else {
        std::string bad = value;
        bad.back() = static_cast<char>(bad.back() ^ 1);
        PutRaw(dir.path(), key, bad);
      }
      auto store = open_small_cache();
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      prove_all(**store, chain.blocks.size(), &corrupt);
      store->reset();
      PutRaw(dir.path(), key, value);
    }
  }
  EXPECT_GT(corrupt, 0u);

  // Restored: appending continues on the stored tree.
  ChainBuilder c(&f);
  for (const auto& b : chain.blocks) c.Next(b.block.txs);
  auto store = open_small_cache();
  ASSERT_TRUE(store.ok());
  BuiltBlock next = c.Next({f.Tx(0, f.Issue(0, "S999999"))});
  auto effects = ValidateBlock(**store, **store, (*store)->Tip(), (*store)->Log(), next.block);
  ASSERT_TRUE(effects.ok()) << effects.status().ToString();
  ASSERT_TRUE((*store)->AppendBlock(next.block, next.commit, *effects).ok());
  EXPECT_EQ((*store)->Tip().state_root, next.block.header.state_root);
}

}  // namespace
}  // namespace certledger::testing
