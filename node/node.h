// The node: the composition root that wires the ledger store, the consensus engine, the peer
// transport, the mempool, the write-ahead record and the HTTP API together.
//
// Threading: one event-loop thread owns the engine, the mempool, the transport and all writes to
// the store (an io_context run by Run()). The HTTP API runs on its own threads and reaches the
// loop only through NodeService, whose methods post work to the loop; store reads are safe from
// any thread. A storage failure halts the node (Run() returns the error) instead of letting it
// diverge.
#pragma once

#include <memory>
#include <string>

#include "api/service.h"
#include "ledger/status.h"
#include "node/config.h"

namespace certledger::node {

class Node : public api::NodeService {
 public:
  // Loads keys and genesis, opens and initialises the store, binds nothing yet.
  static ledger::Result<std::unique_ptr<Node>> Create(const NodeConfig& config);
  ~Node() override;

  // Binds the peer and API ports and runs until Stop() (or a fatal error, returned).
  ledger::Status Run();
  // Thread-safe and async-signal-unsafe: call from a normal thread (the signal handler thread
  // in main posts here).
  void Stop();

  // NodeService.
  [[nodiscard]] api::NodeStatus Status() const override;
  [[nodiscard]] const ledger::Store& store() const override;
  void SubmitTx(ledger::SignedTransaction tx, std::string source,
                std::function<void(api::SubmitResult)> done) override;
  void SubmitTxs(std::vector<ledger::SignedTransaction> txs, std::string source,
                 std::function<void(std::vector<api::SubmitResult>)> done) override;
  [[nodiscard]] api::TxStatusInfo GetTx(const ledger::Hash256& tx_hash) const override;
  void WaitTx(const ledger::Hash256& tx_hash, uint32_t timeout_ms,
              std::function<void(api::TxStatusInfo)> done) override;
  [[nodiscard]] std::shared_ptr<const ledger::StoreView> CheckpointView() const override;
  [[nodiscard]] std::optional<std::pair<ledger::PublicKey, ledger::Signature>> SignAnswer(
      const ledger::Hash256& digest) const override;

 private:
  class Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `certledger node --home DIR`: runs a node until SIGINT/SIGTERM. Returns the exit code.
// `log_level` / `log_format`: when not empty, override the configuration's.
int RunNodeCommand(const std::string& home, const std::string& log_level = "",
                   const std::string& log_format = "");

}  // namespace certledger::node
