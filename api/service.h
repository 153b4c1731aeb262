// The narrow interface between the HTTP API and the node: reads go to the ledger store (which
// is safe to read from any thread), writes and live status go through NodeService, which the
// node implements. Handlers depend on nothing else, so they can be tested without sockets and
// without a running node.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ledger/crypto.h"
#include "ledger/store.h"
#include "ledger/types.h"

namespace certledger::api {

struct PeerStatus {
  std::string name;
  ledger::PublicKey key;
  bool connected = false;
};

struct NodeStatus {
  std::string moniker;
  std::string chain_id;
  bool validator = false;  // false: observer
  ledger::PublicKey node_key;
  uint64_t height = 0;   // last committed block
  uint32_t round = 0;    // consensus round of height + 1
  bool syncing = false;  // behind peers and catching up (reads may be stale)
  uint64_t best_peer_height = 0;
  size_t mempool_txs = 0;
  uint64_t mempool_bytes = 0;
  std::vector<PeerStatus> peers;  // every configured peer, connected or not
  // Health and readiness (api/health.h). Storage: the data directory accepts writes and has
  // room; otherwise the reason. published_mono_ms: when the node's event loop last published
  // this status (steady clock, ms; 0: never): a loop that stops publishing is stuck.
  bool storage_ok = true;
  std::string storage_problem;
  int64_t published_mono_ms = 0;
};

enum class TxState : uint8_t { kUnknown, kPending, kCommitted, kRejected };

struct TxStatusInfo {
  TxState state = TxState::kUnknown;
  ledger::Hash256 tx_hash;
  uint64_t height = 0;     // committed only
  uint32_t index = 0;      // committed only: position in the block
  uint64_t log_index = 0;  // committed only: event-log leaf index
  std::string reason;      // rejected only: the state machine's stable reason code
  std::string message;     // rejected only: detail
};

// The outcome of submitting a transaction to the mempool.
struct SubmitResult {
  enum class Code : uint8_t {
    kAccepted,    // admitted (or already pending: idempotent)
    kCommitted,   // already committed earlier
    kRejected,    // a rule rejected it: `reason` is the state machine's code (HTTP 422)
    kConflict,    // conflicts with pending or committed state, e.g. a sequence taken (HTTP 409)
    kBusy,        // mempool full (HTTP 429)
    kUnavailable  // not synced / shutting down (HTTP 503)
  };
  Code code = Code::kAccepted;
  ledger::Hash256 tx_hash;
  std::string reason;   // stable code, e.g. "bad-signature", "mempool-full"
  std::string message;  // human-readable
};

// Implemented by the node. Every method is thread-safe; callbacks may run on any thread and
// must not block.
class NodeService {
 public:
  virtual ~NodeService() = default;
  [[nodiscard]] virtual NodeStatus Status() const = 0;
  // The node's committed chain. Reads only.
  [[nodiscard]] virtual const ledger::Store& store() const = 0;
  // Validates and admits `tx` to the mempool (and gossips it); `done` gets the result. `source`
  // names the submitter ("client:<address>") for the mempool's per-source quota.
  virtual void SubmitTx(ledger::SignedTransaction tx, std::string source,
                        std::function<void(SubmitResult)> done) = 0;
  // SubmitTx for several transactions at once (POST /v1/txs): `done` gets one result per
  // transaction, in order. The default submits them one by one; the node overrides it to check
  // their signatures together and admit them in one pass of its event loop.
  virtual void SubmitTxs(std::vector<ledger::SignedTransaction> txs, std::string source,
                         std::function<void(std::vector<SubmitResult>)> done) {
    struct Batch {
      std::mutex mu;
      std::vector<SubmitResult> results;  // GUARDED_BY(mu)
      size_t left = 0;                    // GUARDED_BY(mu)
      std::function<void(std::vector<SubmitResult>)> done;
    };
    if (txs.empty()) return done({});
    auto b = std::make_shared<Batch>();
    b->results.resize(txs.size());
    b->left = txs.size();
    b->done = std::move(done);
    for (size_t i = 0; i < txs.size(); ++i) {
      SubmitTx(std::move(txs[i]), source, [b, i](SubmitResult r) {
        std::vector<SubmitResult> all;
        {
          std::lock_guard lock(b->mu);
          b->results[i] = std::move(r);
          if (--b->left != 0) return;
          all = std::move(b->results);
        }
        b->done(std::move(all));
      });
    }
  }
  [[nodiscard]] virtual TxStatusInfo GetTx(const ledger::Hash256& tx_hash) const = 0;
  // Calls `done` once `tx_hash` is committed or rejected, or with its state at the deadline.
  virtual void WaitTx(const ledger::Hash256& tx_hash, uint32_t timeout_ms,
                      std::function<void(TxStatusInfo)> done) = 0;
  // A view of the store at the latest checkpoint (a committed height that is a multiple of
  // kCheckpointInterval, api/staple.h), kept by the node; nullptr if there is none yet.
  [[nodiscard]] virtual std::shared_ptr<const ledger::StoreView> CheckpointView() const {
    return nullptr;
  }
  // Signs `digest` with the node's identity key (accountable reads, FORMAT.md §15): the public
  // key and the signature. nullopt: this node does not sign its answers.
  [[nodiscard]] virtual std::optional<std::pair<ledger::PublicKey, ledger::Signature>> SignAnswer(
      const ledger::Hash256& digest) const {
    (void)digest;
    return std::nullopt;
  }
};

}  // namespace certledger::api
