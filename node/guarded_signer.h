#pragma once
// The validator's consensus signer with its own memory against double signing (issue 9): it
// refuses to sign a message for a (height, round, step) before the last one it signed, or a
// different message for the same one, whatever the engine asks. Its memory survives restarts
// through the consensus write-ahead record (node/wal.h): every message it signed is made
// durable there before it is sent, and Remember() reloads them at start. The engine guards itself
// too (it never signs twice); this is the second, independent guard, and the place a remote
// signer would take (consensus::Signer is the whole interface).
#include <atomic>
#include <cstdint>
#include <optional>

#include "consensus/message.h"
#include "consensus/signer.h"
#include "ledger/crypto.h"

namespace certledger::node {

class GuardedSigner final : public consensus::Signer {
 public:
  GuardedSigner(ledger::PrivateKey key, ledger::ChainDomain domain);

  // A message this validator signed earlier (from the write-ahead record). Others' are ignored.
  void Remember(const consensus::Message& m);

  [[nodiscard]] const ledger::PublicKey& public_key() const override { return key_.public_key(); }
  [[nodiscard]] std::optional<ledger::Signature> Sign(
      const consensus::SignRequest& request) override;

  // Messages refused so far (readable from any thread, for metrics).
  [[nodiscard]] uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  struct Position {
    uint64_t height = 0;
    uint32_t round = 0;
    uint8_t step = 0;
    auto operator<=>(const Position&) const = default;
  };
  void Note(const consensus::SignRequest& r);

  ledger::PrivateKey key_;
  ledger::ChainDomain domain_;
  std::optional<Position> last_;  // the highest position signed
  ledger::Hash256 last_digest_;   // what was signed there
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace certledger::node
