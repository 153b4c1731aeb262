#include "node/state_cache.h"

#include <gtest/gtest.h>

#include "ledger/bytes.h"

namespace certledger::node {
namespace {

using ledger::Bytes;
using ledger::Status;

// Counts the reads that reach the base, and can be made to fail.
class CountingState : public ledger::StateReader {
 public:
  Status Get(std::string_view key, Bytes* value) const override {
    ++reads;
    if (fail) return Status::IOError("disk on fire");
    return state.Get(key, value);
  }
  ledger::MemoryState state;
  mutable int reads = 0;
  bool fail = false;
};

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST(StateCacheTest, SecondReadOfAPresentOrAbsentKeyDoesNotReachTheBase) {
  CountingState base;
  base.state.Apply({{"agency/a", B("record")}});
  StateCache cache(&base, 100);
  Bytes v;
  ASSERT_TRUE(cache.Get("agency/a", &v).ok());
  EXPECT_EQ(v, B("record"));
  EXPECT_TRUE(cache.Get("cert/x", &v).IsNotFound());
  EXPECT_EQ(base.reads, 2);
  v.clear();
  ASSERT_TRUE(cache.Get("agency/a", &v).ok());
  EXPECT_EQ(v, B("record"));
  EXPECT_TRUE(cache.Get("cert/x", &v).IsNotFound());
  EXPECT_EQ(base.reads, 2);
  EXPECT_EQ(cache.stats().hits, 2u);
  EXPECT_EQ(cache.stats().misses, 2u);
}

TEST(StateCacheTest, CommittedChangesUpdateCachedKeysIncludingDeletionsAndCreations) {
  CountingState base;
  base.state.Apply({{"seq/a", B("1")}, {"pending", B("p")}});
  StateCache cache(&base, 100);
  Bytes v;
  ASSERT_TRUE(cache.Get("seq/a", &v).ok());
  ASSERT_TRUE(cache.Get("pending", &v).ok());
  ASSERT_TRUE(cache.Get("cert/new", &v).IsNotFound());
  // A block changes all three: an update, a deletion (empty value), a creation.
  const std::vector<ledger::StateChange> block = {
      {"seq/a", B("2")}, {"pending", {}}, {"cert/new", B("state")}};
  base.state.Apply(block);
  cache.Committed(block);
  const int reads = base.reads;
  ASSERT_TRUE(cache.Get("seq/a", &v).ok());
  EXPECT_EQ(v, B("2"));
  EXPECT_TRUE(cache.Get("pending", &v).IsNotFound());
  ASSERT_TRUE(cache.Get("cert/new", &v).ok());
  EXPECT_EQ(v, B("state"));
  EXPECT_EQ(base.reads, reads);  // all answered from the updated cache
}

TEST(StateCacheTest, ErrorsAreNotRemembered) {
  CountingState base;
  base.state.Apply({{"k", B("v")}});
  StateCache cache(&base, 100);
  Bytes v;
  base.fail = true;
  EXPECT_FALSE(cache.Get("k", &v).ok());
  EXPECT_FALSE(cache.Get("k", &v).IsNotFound());
  base.fail = false;
  ASSERT_TRUE(cache.Get("k", &v).ok());
  EXPECT_EQ(v, B("v"));
}

TEST(StateCacheTest, BoundedInTwoGenerationsKeepingWhatIsStillRead) {
  CountingState base;
  for (int i = 0; i < 20; ++i) base.state.Apply({{"k" + std::to_string(i), B("v")}});
  base.state.Apply({{"hot", B("agency record")}});
  StateCache cache(&base, 4);
  Bytes v;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(cache.Get("k" + std::to_string(i), &v).ok());
    ASSERT_TRUE(cache.Get("hot", &v).ok());  // read with every transaction
    EXPECT_LE(cache.size(), 8u);
  }
  EXPECT_GE(cache.stats().rotations, 5u);
  EXPECT_EQ(cache.stats().misses, 21u);  // each key once: "hot" survived every rotation
  // A change committed to a key of the older generation is seen.
  const std::vector<ledger::StateChange> block = {{"hot", B("rotated key")}};
  base.state.Apply(block);
  cache.Committed(block);
  ASSERT_TRUE(cache.Get("hot", &v).ok());
  EXPECT_EQ(v, B("rotated key"));
}

}  // namespace
}  // namespace certledger::node
