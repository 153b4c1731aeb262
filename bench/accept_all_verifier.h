// Benchmarks only: a SignatureVerifier that accepts every signature, for benchmarks that measure
// block building or storage of transactions whose signatures are beside the point (unsigned
// fixtures, or signatures checked elsewhere). Never used by the node or the tools.
#pragma once

#include "ledger/crypto.h"

namespace certledger::bench {

class AcceptAllVerifier final : public ledger::SignatureVerifier {
 public:
  bool Verify(const ledger::PublicKey& /*key*/, const ledger::Hash256& /*digest*/,
              const ledger::Signature& /*sig*/) const override {
    return true;
  }
};

}  // namespace certledger::bench
