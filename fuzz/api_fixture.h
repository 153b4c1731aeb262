// The API handler target's world, shared with the corpus generator: the api tests' ledger (a real
// LevelDB store holding three blocks that exercise every certificate event, tests/api) behind the
// api tests' FakeNode, which also knows one pending and one rejected transaction.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "api/handlers.h"
#include "ledger/crypto.h"
#include "tests/api/api_test_util.h"

namespace certledger::fuzz {

inline ledger::Hash256 PendingTxHash() {
  return ledger::Sha256(ledger::AsBytes("certledger-fuzz/pending"));
}
inline ledger::Hash256 RejectedTxHash() {
  return ledger::Sha256(ledger::AsBytes("certledger-fuzz/rejected"));
}

struct ApiWorld {
  ApiWorld() : node(ledger.store.get()) {
    api::TxStatusInfo pending;
    pending.state = api::TxState::kPending;
    pending.tx_hash = PendingTxHash();
    node.txs[pending.tx_hash] = pending;
    api::TxStatusInfo rejected;
    rejected.state = api::TxState::kRejected;
    rejected.tx_hash = RejectedTxHash();
    rejected.reason = "bad-signature";
    rejected.message = "signature 0 does not verify";
    node.txs[rejected.tx_hash] = rejected;
    node.status.moniker = "fuzz";
    node.status.chain_id = ledger.f.genesis.params.chain_id;
    node.status.validator = true;
    node.status.height = ledger.blocks.size();
    api::ApiOptions o;
    const int64_t now = ledger.now_ms();
    o.now_ms = [now] { return now; };
    o.max_body_bytes = 64 * 1024;
    handler = std::make_unique<api::Api>(&node, o);
  }

  testing::TestLedger ledger;
  testing::FakeNode node;
  std::unique_ptr<api::Api> handler;
};

// The input format of the api_handler target: four lines (method, target, Content-Type,
// Accept-Language), then the body. Missing lines are empty.
struct FuzzRequest {
  std::string method, target, content_type, accept_language, body;
};
inline FuzzRequest SplitRequest(std::string_view in) {
  FuzzRequest r;
  std::string* heads[] = {&r.method, &r.target, &r.content_type, &r.accept_language};
  for (std::string* h : heads) {
    const size_t nl = in.find('\n');
    if (nl == std::string_view::npos) {
      *h = std::string(in);
      return r;
    }
    *h = std::string(in.substr(0, nl));
    in.remove_prefix(nl + 1);
  }
  r.body = std::string(in);
  return r;
}
inline std::string JoinRequest(const FuzzRequest& r) {
  return r.method + "\n" + r.target + "\n" + r.content_type + "\n" + r.accept_language + "\n" +
         r.body;
}

}  // namespace certledger::fuzz
