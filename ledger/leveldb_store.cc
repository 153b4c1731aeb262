#include "ledger/leveldb_store.h"

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "ledger/coding.h"
#include "ledger/encoding.h"

namespace certledger::ledger {

Status LevelDBStoreOptions::Validate() const {
  if (path.empty()) return Status::InvalidArgument("store path is empty");
  if (block_cache_bytes < (1 << 20)) return Status::InvalidArgument("block cache below 1 MiB");
  if (write_buffer_bytes < (1 << 20)) return Status::InvalidArgument("write buffer below 1 MiB");
  if (table_file_bytes < (1 << 20) || table_file_bytes > (1u << 30)) {
    return Status::InvalidArgument("table file size: 1 MiB to 1 GiB");
  }
  if (max_open_files < 0 || max_open_files > 1'000'000) {
    return Status::InvalidArgument("max open files: 0 (automatic) to 1,000,000");
  }
  if (state_node_cache_entries == 0) {
    return Status::InvalidArgument("state node cache needs at least one entry");
  }
  return Status::Ok();
}

namespace {

// Key layout (FORMAT.md §12). Integers in keys are big-endian so that keys sort numerically.
constexpr char kMetaKey[] = "m";
constexpr char kGenesisKey[] = "g";

std::string HeightKey(char prefix, uint64_t height) {
  std::string k(1, prefix);
  k.push_back('/');
  PutFixed64BE(&k, height);
  return k;
}
std::string StateKey(std::string_view key) { return "s/" + std::string(key); }
std::string NodeKey(uint32_t level, uint64_t index) {
  std::string k = "n/";
  k.push_back(static_cast<char>(level));
  PutFixed64BE(&k, index);
  return k;
}
std::string StateNodeKey(const Hash256& h) {
  return "z/" + std::string(reinterpret_cast<const char*>(h.data()), h.size());
}
std::string TxKey(const Hash256& h) {
  return "x/" + std::string(reinterpret_cast<const char*>(h.data()), h.size());
}
std::string AgencyTxKey(const std::string& agency, uint64_t sequence) {
  std::string k = "a/" + agency + "/";
  PutFixed64BE(&k, sequence);
  return k;
}

leveldb::Slice AsSlice(const Bytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
ByteSpan AsSpan(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Bytes EncodeLocation(const TxLocation& l) {
  Bytes b;
  PutFixed64(&b, l.height);
  PutFixed32(&b, l.index);
  PutFixed64(&b, l.log_index);
  return b;
}
std::optional<TxLocation> DecodeLocation(const std::string& s) {
  if (s.size() != 20) return std::nullopt;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  TxLocation l;
  l.height = DecodeFixed64(p);
  l.index = DecodeFixed32(p + 8);
  l.log_index = DecodeFixed64(p + 12);
  return l;
}

// The commit point of the store: written in the same batch as each block.
struct Meta {
  Hash256 genesis_hash;
  ChainTip tip;
};
Bytes EncodeMeta(const Meta& m) {
  // genesis hash || header-derived tip fields; the chain id follows as raw bytes.
  Bytes b(m.genesis_hash.bytes.begin(), m.genesis_hash.bytes.end());
  auto put_hash = [&](const Hash256& h) { b.insert(b.end(), h.bytes.begin(), h.bytes.end()); };
  PutFixed64(&b, m.tip.height);
  put_hash(m.tip.block_hash);
  PutFixed64(&b, static_cast<uint64_t>(m.tip.time_ms));
  put_hash(m.tip.state_root);
  PutFixed64(&b, m.tip.log_size);
  put_hash(m.tip.log_root);
  b.insert(b.end(), m.tip.chain_id.begin(), m.tip.chain_id.end());
  return b;
}
std::optional<Meta> DecodeMeta(const std::string& s) {
  ByteReader r(AsBytes(s));
  Meta m;
  uint64_t time_ms = 0;
  if (!r.GetFixedBytes(&m.genesis_hash) || !r.GetFixed64(&m.tip.height) ||
      !r.GetFixedBytes(&m.tip.block_hash) || !r.GetFixed64(&time_ms) ||
      !r.GetFixedBytes(&m.tip.state_root) || !r.GetFixed64(&m.tip.log_size) ||
      !r.GetFixedBytes(&m.tip.log_root)) {
    return std::nullopt;
  }
  m.tip.time_ms = static_cast<int64_t>(time_ms);
  m.tip.chain_id = s.substr(r.position());
  return m;
}

Status FromLevelDB(const leveldb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(what);
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsInvalidArgument()) return Status::InvalidArgument(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

// Hash equality on 8-byte words (the page scans compare many hashes that differ early).
bool SameHash(const Hash256& a, const Hash256& b) {
  uint64_t x[4];
  uint64_t y[4];
  std::memcpy(x, a.data(), 32);
  std::memcpy(y, b.data(), 32);
  return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

// Decoded state-tree pages (FORMAT.md §12), bounded in two generations of about
// `max_nodes_per_generation` nodes each (as node/state_cache.h): when the current generation
// reaches its bound it becomes the previous one and the older previous one is dropped; a page
// found in the previous generation moves back to the current one. Pages are kept and evicted
// whole, so the pages near the root, read by every block, stay; memory stays flat. Pages are
// content-addressed and never change, so there is nothing to invalidate. Thread-safe (readers
// may run concurrently).
class SmtPageCache {
 public:
  using Nodes = std::vector<std::pair<Hash256, SmtNode>>;
  enum class Hit { kNode, kPageWithoutNode, kMiss };

  explicit SmtPageCache(size_t max_nodes_per_generation) : max_(max_nodes_per_generation) {
    current_.reserve(Buckets());
  }

  // Looks `hash` up in the page whose top is `top`.
  Hit Find(const Hash256& top, const Hash256& hash, SmtNode* out) const {
    std::lock_guard lock(mu_);
    const Nodes* page = FindLocked(top);
    if (page == nullptr) return Hit::kMiss;
    for (const auto& [h, node] : *page) {
      if (SameHash(h, hash)) {
        *out = node;
        return Hit::kNode;
      }
    }
    return Hit::kPageWithoutNode;
  }
  // Appends the nodes of the page whose top is `top` to *out; false if it is not cached.
  bool Append(const Hash256& top, Nodes* out) const {
    std::lock_guard lock(mu_);
    const Nodes* page = FindLocked(top);
    if (page == nullptr) return false;
    out->insert(out->end(), page->begin(), page->end());
    return true;
  }
  void Insert(const Hash256& top, Nodes nodes) const {
    std::lock_guard lock(mu_);
    Map::node_type handle;
    if (auto prev = previous_.find(top); prev != previous_.end()) {
      handle = previous_.extract(prev);
      previous_nodes_ -= handle.mapped().size();
      handle.mapped() = std::move(nodes);
    } else if (current_.contains(top)) {
      return;  // the same page (content-addressed)
    } else {
      Map one;
      one.emplace(top, std::move(nodes));
      handle = one.extract(one.begin());
    }
    InsertLocked(std::move(handle));
  }

 private:
  struct HashOf {
    size_t operator()(const Hash256& h) const {
      size_t v;
      std::memcpy(&v, h.data(), sizeof v);
      return v;
    }
  };
  using Map = std::unordered_map<Hash256, Nodes, HashOf>;
  // Pages hold a few nodes each on average: room for that many pages without rehashing.
  size_t Buckets() const { return std::min<size_t>(max_ / 4 + 16, size_t{1} << 20); }
  const Nodes* FindLocked(const Hash256& top) const {
    auto it = current_.find(top);
    if (it != current_.end()) return &it->second;
    auto prev = previous_.find(top);
    if (prev == previous_.end()) return nullptr;
    auto handle = previous_.extract(prev);
    previous_nodes_ -= handle.mapped().size();
    return &InsertLocked(std::move(handle))->second;
  }
  Map::iterator InsertLocked(Map::node_type handle) const {
    if (current_nodes_ >= max_) {
      previous_ = std::move(current_);
      previous_nodes_ = current_nodes_;
      current_ = Map();
      current_.reserve(Buckets());
      current_nodes_ = 0;
    }
    current_nodes_ += handle.mapped().size();
    return current_.insert(std::move(handle)).position;
  }
  const size_t max_;
  mutable std::mutex mu_;
  mutable Map current_;
  mutable Map previous_;
  mutable size_t current_nodes_ = 0;
  mutable size_t previous_nodes_ = 0;
};

// SmtPageCache in 16 shards by page top, each with its own lock and a sixteenth of the bound:
// the API threads proving state entries and the loop applying blocks do not queue on one mutex.
class ShardedSmtPageCache {
 public:
  using Nodes = SmtPageCache::Nodes;
  using Hit = SmtPageCache::Hit;
  explicit ShardedSmtPageCache(size_t max_nodes_per_generation) {
    for (auto& s : shards_)
      s = std::make_unique<SmtPageCache>(max_nodes_per_generation / kShards + 1);
  }
  Hit Find(const Hash256& top, const Hash256& hash, SmtNode* out) const {
    return Of(top).Find(top, hash, out);
  }
  bool Append(const Hash256& top, Nodes* out) const { return Of(top).Append(top, out); }
  void Insert(const Hash256& top, Nodes nodes) const { Of(top).Insert(top, std::move(nodes)); }

 private:
  static constexpr size_t kShards = 16;
  const SmtPageCache& Of(const Hash256& top) const { return *shards_[top.bytes[0] % kShards]; }
  std::array<std::unique_ptr<SmtPageCache>, kShards> shards_;
};

// Complete nodes of the event log (FORMAT.md §7), by (level, index): a complete node never
// changes once written (blocks are final and the store never rewrites a log node), so a cached
// value is right for every view that has the node at all. Bounded in two generations of
// `max_per_generation` entries per shard, as SmtPageCache; sharded so that the API threads
// building inclusion proofs do not queue on one mutex. The upper levels, shared by every proof,
// stay cached; memory stays flat.
class LogNodeCache {
 public:
  explicit LogNodeCache(size_t max_entries) : max_per_shard_(max_entries / kShards + 1) {}

  std::optional<Hash256> Find(uint32_t level, uint64_t index) const {
    const uint64_t key = Key(level, index);
    Shard& s = shards_[ShardOf(key)];
    std::lock_guard lock(s.mu);
    if (auto it = s.current.find(key); it != s.current.end()) return it->second;
    auto it = s.previous.find(key);
    if (it == s.previous.end()) return std::nullopt;
    const Hash256 h = it->second;
    s.previous.erase(it);
    InsertLocked(&s, key, h);
    return h;
  }
  void Insert(uint32_t level, uint64_t index, const Hash256& h) const {
    const uint64_t key = Key(level, index);
    Shard& s = shards_[ShardOf(key)];
    std::lock_guard lock(s.mu);
    InsertLocked(&s, key, h);
  }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;
    std::unordered_map<uint64_t, Hash256> current;   // GUARDED_BY(mu)
    std::unordered_map<uint64_t, Hash256> previous;  // GUARDED_BY(mu)
  };
  // Level in the top 6 bits, index below (an index at level L is below 2^(64-L); levels of a
  // log that fits in a store are far below 58).
  static uint64_t Key(uint32_t level, uint64_t index) { return (uint64_t{level} << 58) ^ index; }
  static size_t ShardOf(uint64_t key) {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 60);
  }
  void InsertLocked(Shard* s, uint64_t key, const Hash256& h) const {
    if (s->current.size() >= max_per_shard_) {
      s->previous = std::move(s->current);
      s->current = {};
    }
    s->current.insert_or_assign(key, h);
  }
  const size_t max_per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

// The log node stored under (level, index), read with `ro` (a snapshot or the latest state)
// through `cache`.
Result<Hash256> ReadLogNode(leveldb::DB* db, const leveldb::ReadOptions& ro,
                            const LogNodeCache& cache, uint32_t level, uint64_t index) {
  if (auto cached = cache.Find(level, index)) return *cached;
  std::string raw;
  Status st = FromLevelDB(db->Get(ro, NodeKey(level, index), &raw), "log node");
  if (!st.ok()) return st;
  auto h = Hash256::FromSpan(AsSpan(raw));
  if (!h) return Status::Corruption("log node of " + std::to_string(raw.size()) + " bytes");
  cache.Insert(level, index, *h);
  return *h;
}

class LevelDBStore final : public Store {
 public:
  LevelDBStore(std::unique_ptr<leveldb::DB> db, std::unique_ptr<leveldb::Cache> cache,
               std::unique_ptr<const leveldb::FilterPolicy> filter, bool sync,
               size_t state_node_cache_entries)
      : cache_(std::move(cache)),
        filter_(std::move(filter)),
        db_(std::move(db)),
        sync_(sync),
        state_page_cache_(state_node_cache_entries),
        log_node_cache_(kLogNodeCacheEntries) {}

  ~LevelDBStore() override {
    db_.reset();  // before the cache and filter it uses
  }

  Status Initialize(const Genesis& g) override;
  std::unique_ptr<StoreView> View() const override;
  ChainTip Tip() const override {
    std::shared_lock lock(mu_);
    return meta_.tip;
  }
  MerkleLog Log() const override {
    std::shared_lock lock(mu_);
    return log_;
  }
  Status AppendBlock(const Block& block, const CommitCertificate& commit,
                     const BlockEffects& effects) override;

  Result<Block> GetBlock(uint64_t height) const override {
    return ReadDecoded<Block>(HeightKey('b', height), "block " + std::to_string(height));
  }
  Result<BlockHeader> GetHeader(uint64_t height) const override {
    return ReadDecoded<BlockHeader>(HeightKey('h', height), "header " + std::to_string(height));
  }
  Result<CommitCertificate> GetCommit(uint64_t height) const override {
    return ReadDecoded<CommitCertificate>(HeightKey('c', height),
                                          "commit " + std::to_string(height));
  }
  Result<Genesis> GetGenesis() const override {
    return ReadDecoded<Genesis>(kGenesisKey, "genesis");
  }
  Result<TxLocation> GetTxLocation(const Hash256& tx_hash) const override {
    return ReadLocation(TxKey(tx_hash), "transaction " + tx_hash.Hex());
  }
  Result<TxLocation> GetLeafLocation(uint64_t log_index) const override {
    return ReadLocation(HeightKey('l', log_index), "leaf " + std::to_string(log_index));
  }
  Result<Bytes> GetLeaf(uint64_t log_index) const override {
    std::string raw;
    Status st = RawGet(HeightKey('t', log_index), &raw, "leaf data " + std::to_string(log_index));
    if (!st.ok()) return st;
    return Bytes(raw.begin(), raw.end());
  }
  Result<std::vector<Hash256>> AgencyTxs(const std::string& agency, uint64_t from_sequence,
                                         size_t limit) const override;

  Status Get(std::string_view key, Bytes* value) const override {
    std::string raw;
    Status st = RawGet(StateKey(key), &raw, std::string(key));
    if (!st.ok()) return st;
    value->assign(raw.begin(), raw.end());
    return Status::Ok();
  }
  Result<Hash256> GetNode(uint32_t level, uint64_t index) const override {
    return ReadLogNode(db_.get(), leveldb::ReadOptions(), log_node_cache_, level, index);
  }
  // Log nodes of any view, through the one cache (see LogNodeCache).
  Result<Hash256> GetLogNode(leveldb::DB* db, const leveldb::ReadOptions& ro, uint32_t level,
                             uint64_t index) const {
    return ReadLogNode(db, ro, log_node_cache_, level, index);
  }
  // State-tree nodes are stored in pages (FORMAT.md §12): GetNode finds page tops (and nodes of
  // cached pages only); the tree functions use GetNodeInPage.
  Result<std::optional<SmtNode>> GetNode(const Hash256& hash) const override {
    return GetNodeInPage(hash, hash);
  }
  Result<std::optional<SmtNode>> GetNodeInPage(const Hash256& hash,
                                               const Hash256& page_top) const override {
    SmtNode node;
    switch (state_page_cache_.Find(page_top, hash, &node)) {
      case SmtPageCache::Hit::kNode:
        return std::optional<SmtNode>(node);
      case SmtPageCache::Hit::kPageWithoutNode:
        return std::optional<SmtNode>();
      case SmtPageCache::Hit::kMiss:
        break;
    }
    Result<std::optional<SmtPageCache::Nodes>> page = ReadStatePage(page_top);
    if (!page.ok()) return page.status();
    if (!page->has_value()) return std::optional<SmtNode>();
    std::optional<SmtNode> found;
    for (const auto& [h, n] : **page) {
      if (SameHash(h, hash)) {
        found = n;
        break;
      }
    }
    state_page_cache_.Insert(page_top, std::move(**page));
    return found;
  }
  Result<bool> GetPageNodes(const Hash256& top,
                            std::vector<std::pair<Hash256, SmtNode>>* nodes) const override {
    if (state_page_cache_.Append(top, nodes)) return true;
    Result<std::optional<SmtPageCache::Nodes>> page = ReadStatePage(top);
    if (!page.ok()) return page.status();
    if (page->has_value()) {
      nodes->insert(nodes->end(), (*page)->begin(), (*page)->end());
      state_page_cache_.Insert(top, std::move(**page));
    }
    return true;
  }
  // Every node comes from a page whose hashes were computed when it was decoded, or from the
  // pages AppendBlock wrote from the tree functions' output.
  [[nodiscard]] bool NodesVerified() const override { return true; }

 private:
  // The page stored under `top`, decoded and checked against its key; nullopt if none.
  Result<std::optional<SmtPageCache::Nodes>> ReadStatePage(const Hash256& top) const {
    std::string raw;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), StateNodeKey(top), &raw);
    if (s.IsNotFound()) return std::optional<SmtPageCache::Nodes>();
    if (!s.ok()) return FromLevelDB(s, "state page " + top.Hex());
    if (raw.size() == 65 && static_cast<uint8_t>(raw[0]) == 0x01) {
      return Status::Corruption(
          "state page " + top.Hex() +
          " is a single inner node record: the store was written by a version before the paged "
          "state tree (FORMAT.md §12); re-create the data directory and sync it again");
    }
    SmtPageCache::Nodes nodes;
    nodes.reserve(2 * kSmtPageLevels + 8);
    if (Status st = DecodeSmtPage(AsSpan(raw), &nodes); !st.ok()) {
      return Status::Corruption("state page " + top.Hex() + ": " + st.message());
    }
    if (nodes.front().first != top) {
      return Status::Corruption("state page " + top.Hex() + " does not hash to its key");
    }
    return std::optional<SmtPageCache::Nodes>(std::move(nodes));
  }
  Status RawGet(const std::string& key, std::string* out, const std::string& what) const {
    return FromLevelDB(db_->Get(leveldb::ReadOptions(), key, out), what);
  }
  template <class T>
  Result<T> ReadDecoded(const std::string& key, const std::string& what) const {
    std::string raw;
    Status st = RawGet(key, &raw, what);
    if (!st.ok()) return st;
    auto r = Decode<T>(AsSpan(raw));
    if (!r.ok()) return Status::Corruption(what + ": " + r.status().message());
    return r;
  }
  Result<TxLocation> ReadLocation(const std::string& key, const std::string& what) const {
    std::string raw;
    Status st = RawGet(key, &raw, what);
    if (!st.ok()) return st;
    auto l = DecodeLocation(raw);
    if (!l) return Status::Corruption(what + ": bad location record");
    return *l;
  }
  Status Write(leveldb::WriteBatch* batch) {
    leveldb::WriteOptions wo;
    wo.sync = sync_;
    Status st = FromLevelDB(db_->Write(wo, batch), "write");
    if (!st.ok()) sticky_ = st;
    return st;
  }

  // Declared before db_ so that they outlive it.
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
  const bool sync_;

  mutable std::shared_mutex mu_;  // guards meta_ and log_ (the tip); LevelDB is thread-safe
  Meta meta_;
  MerkleLog log_;
  bool initialized_ = false;
  Status sticky_;  // first write failure; every later write returns it (writer-only)
  ShardedSmtPageCache state_page_cache_;
  // 256k entries per generation (at most ~2 x 18 MB): every node of level >= 3 of a log of a
  // million events, so an inclusion proof reads about three nodes from LevelDB.
  static constexpr size_t kLogNodeCacheEntries = 256 << 10;
  LogNodeCache log_node_cache_;
  Hash256 tree_root_;  // the root of the last state tree written (writer-only)
};

void PutStatePages(leveldb::WriteBatch* batch, const std::vector<SmtPage>& pages) {
  std::string key = "z/";
  key.resize(2 + 32);
  for (const SmtPage& page : pages) {
    std::memcpy(key.data() + 2, page.top.data(), 32);
    batch->Put(key, AsSlice(page.encoded));
  }
}

Status LevelDBStore::Initialize(const Genesis& g) {
  const Hash256 gh = GenesisHash(g);
  std::string raw;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), kMetaKey, &raw);
  if (s.IsNotFound()) {
    leveldb::WriteBatch batch;
    for (const auto& c : GenesisChanges(g)) batch.Put(StateKey(c.key), AsSlice(c.value));
    std::vector<std::pair<Hash256, SmtNode>> nodes;
    const Hash256 root = GenesisStateRoot(g, &nodes);
    auto pages = SmtPagesOf(*this, SmtEmptyHash(), root, nodes);
    if (!pages.ok()) return pages.status();
    PutStatePages(&batch, *pages);
    batch.Put(kGenesisKey, AsSlice(Encode(g)));
    Meta m{gh, GenesisTip(g)};
    batch.Put(kMetaKey, AsSlice(EncodeMeta(m)));
    if (Status st = Write(&batch); !st.ok()) return st;
    tree_root_ = root;
    std::unique_lock lock(mu_);
    meta_ = m;
    log_ = MerkleLog();
    initialized_ = true;
    return Status::Ok();
  }
  if (!s.ok()) return FromLevelDB(s, "store metadata");
  auto m = DecodeMeta(raw);
  if (!m) return Status::Corruption("store metadata record is malformed");
  if (m->genesis_hash != gh) {
    return Status::InvalidArgument("the data directory belongs to another chain (genesis " +
                                   m->genesis_hash.Hex() + ", expected " + gh.Hex() + ")");
  }
  auto log = MerkleLog::Open(*this, m->tip.log_size);
  if (!log.ok()) return Status::Corruption("event log: " + log.status().message());
  if (log->Root() != m->tip.log_root) {
    return Status::Corruption("event log root does not match the stored tip");
  }
  // The state tree of the tip must be there (a store written before the tree was committed to
  // by headers has none).
  if (m->tip.state_root != SmtEmptyHash()) {
    auto root = GetNode(m->tip.state_root);
    if (!root.ok()) return root.status();
    if (!root->has_value() || SmtNodeHash(**root) != m->tip.state_root) {
      return Status::Corruption("the state tree of the stored tip's state root " +
                                m->tip.state_root.Hex() + " is missing");
    }
  }
  tree_root_ = m->tip.state_root;
  std::unique_lock lock(mu_);
  meta_ = *m;
  log_ = std::move(log).value();
  initialized_ = true;
  return Status::Ok();
}

Status LevelDBStore::AppendBlock(const Block& block, const CommitCertificate& commit,
                                 const BlockEffects& effects) {
  if (!sticky_.ok()) return sticky_;
  if (!initialized_) return Status::InvalidArgument("store not initialized");
  const BlockHeader& h = block.header;
  ChainTip tip = Tip();
  if (h.height != tip.height + 1 || h.previous_block_hash != tip.block_hash) {
    return Status::InvalidArgument("block " + std::to_string(h.height) +
                                   " does not extend the stored tip " + std::to_string(tip.height));
  }
  if (effects.log_after.size() != h.log_size || effects.tx_hashes.size() != block.txs.size()) {
    return Status::InvalidArgument("block effects do not match the block");
  }
  leveldb::WriteBatch batch;
  batch.Put(HeightKey('b', h.height), AsSlice(Encode(block)));
  batch.Put(HeightKey('h', h.height), AsSlice(Encode(h)));
  batch.Put(HeightKey('c', h.height), AsSlice(Encode(commit)));
  for (const auto& c : effects.changes) {
    if (c.value.empty()) {
      batch.Delete(StateKey(c.key));
    } else {
      batch.Put(StateKey(c.key), AsSlice(c.value));
    }
  }
  // The pages of the tree the effects describe: its root is the last new node (SmtUpdate), or
  // the header's when there is none (unchanged, or emptied). A header whose state root differs
  // from the effects' is the caller's business (the audit tool finds such stores).
  const Hash256 new_tree_root =
      effects.state_nodes.empty() ? h.state_root : effects.state_nodes.back().first;
  auto pages = SmtPagesOf(*this, tree_root_, new_tree_root, effects.state_nodes);
  if (!pages.ok()) return pages.status();
  PutStatePages(&batch, *pages);
  for (const auto& n : effects.log_nodes) {
    batch.Put(NodeKey(n.level, n.index),
              leveldb::Slice(reinterpret_cast<const char*>(n.hash.data()), n.hash.size()));
  }
  const uint64_t first_leaf = tip.log_size;
  for (size_t i = 0; i < block.txs.size(); ++i) {
    TxLocation loc{h.height, static_cast<uint32_t>(i), first_leaf + i};
    Bytes enc = EncodeLocation(loc);
    batch.Put(TxKey(effects.tx_hashes[i]), AsSlice(enc));
    batch.Put(HeightKey('l', loc.log_index), AsSlice(enc));
    batch.Put(HeightKey('t', loc.log_index), AsSlice(TxLeaf(block.txs[i])));
    const Hash256& th = effects.tx_hashes[i];
    // Evidence belongs to no agency (and has no sequence): it is listed through the state.
    if (!block.txs[i].tx.agency.empty()) {
      batch.Put(AgencyTxKey(block.txs[i].tx.agency, block.txs[i].tx.sequence),
                leveldb::Slice(reinterpret_cast<const char*>(th.data()), th.size()));
    }
  }
  Meta m{meta_.genesis_hash, TipAfter(h)};
  batch.Put(kMetaKey, AsSlice(EncodeMeta(m)));
  if (Status st = Write(&batch); !st.ok()) return st;
  // The new pages include the new root's paths: the next block reads them first.
  for (SmtPage& page : *pages) state_page_cache_.Insert(page.top, std::move(page.nodes));
  tree_root_ = new_tree_root;
  std::unique_lock lock(mu_);
  meta_ = m;
  log_ = effects.log_after;
  return Status::Ok();
}

// A LevelDB snapshot. The tip comes from the metadata record read under the snapshot, which is
// written in the same batch as each block, so tip and contents always agree. State-tree nodes are
// content-addressed and never removed: they are read through the store (and its cache).
class LevelDBView final : public StoreView {
 public:
  LevelDBView(const LevelDBStore* store, leveldb::DB* db)
      : store_(store), db_(db), snapshot_(db->GetSnapshot()) {
    ro_.snapshot = snapshot_;
    std::string raw;
    leveldb::Status s = db_->Get(ro_, kMetaKey, &raw);
    std::optional<Meta> m = s.ok() ? DecodeMeta(raw) : std::nullopt;
    if (m) {
      tip_ = m->tip;
    } else {
      tip_status_ = s.ok() ? Status::Corruption("store metadata record is malformed")
                           : FromLevelDB(s, "store metadata");
      tip_ = store->Tip();
    }
  }
  ~LevelDBView() override { db_->ReleaseSnapshot(snapshot_); }
  LevelDBView(const LevelDBView&) = delete;
  LevelDBView& operator=(const LevelDBView&) = delete;

  ChainTip Tip() const override { return tip_; }
  Result<BlockHeader> GetHeader(uint64_t height) const override {
    return ReadDecoded<BlockHeader>(HeightKey('h', height), "header " + std::to_string(height));
  }
  Result<CommitCertificate> GetCommit(uint64_t height) const override {
    return ReadDecoded<CommitCertificate>(HeightKey('c', height),
                                          "commit " + std::to_string(height));
  }
  Result<TxLocation> GetLeafLocation(uint64_t log_index) const override {
    std::string raw;
    Status st = RawGet(HeightKey('l', log_index), &raw, "leaf " + std::to_string(log_index));
    if (!st.ok()) return st;
    auto l = DecodeLocation(raw);
    if (!l) return Status::Corruption("leaf " + std::to_string(log_index) + ": bad location");
    return *l;
  }
  Result<Bytes> GetLeaf(uint64_t log_index) const override {
    std::string raw;
    Status st = RawGet(HeightKey('t', log_index), &raw, "leaf data " + std::to_string(log_index));
    if (!st.ok()) return st;
    return Bytes(raw.begin(), raw.end());
  }
  Status Get(std::string_view key, Bytes* value) const override {
    if (!tip_status_.ok()) return tip_status_;
    std::string raw;
    Status st = RawGet(StateKey(key), &raw, std::string(key));
    if (!st.ok()) return st;
    value->assign(raw.begin(), raw.end());
    return Status::Ok();
  }
  Result<Hash256> GetNode(uint32_t level, uint64_t index) const override {
    return store_->GetLogNode(db_, ro_, level, index);
  }
  Result<std::optional<SmtNode>> GetNode(const Hash256& hash) const override {
    return store_->GetNode(hash);
  }
  Result<std::optional<SmtNode>> GetNodeInPage(const Hash256& hash,
                                               const Hash256& page_top) const override {
    return store_->GetNodeInPage(hash, page_top);
  }
  Result<bool> GetPageNodes(const Hash256& top,
                            std::vector<std::pair<Hash256, SmtNode>>* nodes) const override {
    return store_->GetPageNodes(top, nodes);
  }

 private:
  Status RawGet(const std::string& key, std::string* out, const std::string& what) const {
    if (!tip_status_.ok()) return tip_status_;
    return FromLevelDB(db_->Get(ro_, key, out), what);
  }
  template <class T>
  Result<T> ReadDecoded(const std::string& key, const std::string& what) const {
    std::string raw;
    Status st = RawGet(key, &raw, what);
    if (!st.ok()) return st;
    auto r = Decode<T>(AsSpan(raw));
    if (!r.ok()) return Status::Corruption(what + ": " + r.status().message());
    return r;
  }

  const LevelDBStore* store_;
  leveldb::DB* db_;
  const leveldb::Snapshot* snapshot_;
  leveldb::ReadOptions ro_;
  ChainTip tip_;
  Status tip_status_;
};

std::unique_ptr<StoreView> LevelDBStore::View() const {
  return std::make_unique<LevelDBView>(this, db_.get());
}

Result<std::vector<Hash256>> LevelDBStore::AgencyTxs(const std::string& agency,
                                                     uint64_t from_sequence, size_t limit) const {
  std::vector<Hash256> out;
  const std::string prefix = "a/" + agency + "/";
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(AgencyTxKey(agency, from_sequence)); it->Valid() && out.size() < limit;
       it->Next()) {
    if (!it->key().starts_with(prefix)) break;
    auto h = Hash256::FromSpan(
        ByteSpan(reinterpret_cast<const uint8_t*>(it->value().data()), it->value().size()));
    if (!h) return Status::Corruption("agency index entry");
    out.push_back(*h);
  }
  if (!it->status().ok()) return FromLevelDB(it->status(), "agency index");
  return out;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenLevelDBStore(const LevelDBStoreOptions& options) {
  if (Status st = options.Validate(); !st.ok()) return st;
  leveldb::Options lo;
  lo.create_if_missing = true;
  lo.paranoid_checks = true;
  lo.write_buffer_size = options.write_buffer_bytes;
  lo.max_file_size = options.table_file_bytes;
  lo.max_open_files = options.max_open_files;
  if (lo.max_open_files == 0) {
    rlimit limit{};
    const rlim_t soft = getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 1024;
    const rlim_t usable = soft > 256 + 64 ? soft - 256 : 64;
    lo.max_open_files = static_cast<int>(std::min<rlim_t>(usable, 10'000));
  }
  auto cache = std::unique_ptr<leveldb::Cache>(leveldb::NewLRUCache(options.block_cache_bytes));
  auto filter = std::unique_ptr<const leveldb::FilterPolicy>(leveldb::NewBloomFilterPolicy(10));
  lo.block_cache = cache.get();
  lo.filter_policy = filter.get();
  if (options.env != nullptr) lo.env = options.env;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(lo, options.path, &raw);
  if (!s.ok()) return FromLevelDB(s, "open store at " + options.path);
  return std::unique_ptr<Store>(new LevelDBStore(std::unique_ptr<leveldb::DB>(raw),
                                                 std::move(cache), std::move(filter), options.sync,
                                                 options.state_node_cache_entries));
}

}  // namespace certledger::ledger
