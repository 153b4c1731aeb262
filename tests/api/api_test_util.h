// Shared by the api tests: a fake NodeService over a real LevelDB store holding a chain that
// exercises every certificate life-cycle event.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "api/service.h"
#include "ledger/leveldb_store.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("certledger-api-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// A NodeService whose answers the test sets; store() is a real store.
class FakeNode : public api::NodeService {
 public:
  explicit FakeNode(const Store* store) : store_(store) {}

  [[nodiscard]] api::NodeStatus Status() const override {
    std::lock_guard lock(mu_);
    return status;
  }
  [[nodiscard]] const Store& store() const override { return *store_; }
  void SubmitTx(SignedTransaction tx, std::string /*source*/,
                std::function<void(api::SubmitResult)> done) override {
    api::SubmitResult r;
    {
      std::lock_guard lock(mu_);
      submitted.push_back(tx);
      r = submit_result;
    }
    r.tx_hash = TxHash(tx.tx);
    done(r);
  }
  [[nodiscard]] api::TxStatusInfo GetTx(const Hash256& tx_hash) const override {
    std::lock_guard lock(mu_);
    auto it = txs.find(tx_hash);
    if (it != txs.end()) return it->second;
    api::TxStatusInfo info;
    info.tx_hash = tx_hash;
    return info;
  }
  void WaitTx(const Hash256& tx_hash, uint32_t timeout_ms,
              std::function<void(api::TxStatusInfo)> done) override {
    {
      std::lock_guard lock(mu_);
      last_wait_ms = timeout_ms;
    }
    done(GetTx(tx_hash));
  }
  [[nodiscard]] std::shared_ptr<const StoreView> CheckpointView() const override {
    return checkpoint_view;
  }
  [[nodiscard]] std::optional<std::pair<PublicKey, Signature>> SignAnswer(
      const Hash256& digest) const override {
    if (!answer_key) return std::nullopt;
    return std::pair{answer_key->public_key(), answer_key->Sign(digest)};
  }

  // Set by tests.
  mutable std::mutex mu_;
  api::NodeStatus status;
  api::SubmitResult submit_result;
  std::map<Hash256, api::TxStatusInfo> txs;
  std::vector<SignedTransaction> submitted;
  uint32_t last_wait_ms = 0;
  std::optional<PrivateKey> answer_key;              // signs /v1/verify answers when set
  std::shared_ptr<const StoreView> checkpoint_view;  // GET /v1/checkpoint, staples

 private:
  const Store* store_;
};

// The test chain:
//   block 1: issue A, B, C, D, E (E expires an hour before the fixture's "today"), H (a holder
//            name full of HTML), I (individual holder)
//   block 2: change A (v2), suspend B, revoke C, transfer D from agency 0 to agency 1
//   block 3: renew A (v3)
struct TestLedger {
  TestLedger();

  ChainFixture f;
  TempDir dir;
  std::unique_ptr<Store> store;
  std::vector<BuiltBlock> blocks;
  // Document hashes.
  Hash256 a1, a2, a3, b1, c1, d1, e1, h1, i1;
  std::string base_a, base_b, base_c, base_d, base_e;
  [[nodiscard]] int64_t now_ms() const { return f.now_s * 1000; }
};

}  // namespace certledger::testing
