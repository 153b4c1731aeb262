// Sample water-abstraction permits: the one builder of the test suites, the benchmarks, the fuzz
// corpus generator and `certledger loadgen`. The load generator ships in the binary (tools/), so
// the builder lives here, below every module, rather than under tests/. Everything it builds is
// deterministic from its inputs and passes the state machine's field rules (FORMAT.md §5.4).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/chain.h"
#include "ledger/crypto.h"
#include "ledger/types.h"

namespace certledger::ledger::sample {

// The sample holder: an organisation in Nanjing (the credit code's check character is right).
inline constexpr std::string_view kHolderName = "南京某某水务有限公司";
inline constexpr std::string_view kHolderCreditCode = "91320100MA1XXXXX0X";

// A typical organisation-held surface-water permit summary: Nanjing, Jiangning district,
// 1,250,000 m3 a year for public supply, with its method, return-flow location and one intake.
WaterPermitSummary PermitSummary(std::string_view permit_number);
// The summary of event `i` of a load run (`certledger loadgen`, bench/make_ledger.cc): the
// required fields only (smaller events), permit number "B320115S2026-<i mod 10000>" and
// 100,000 + i m3, so that no two are alike.
WaterPermitSummary LoadPermitSummary(uint64_t i);

// How long a sample permit is valid: five years of 365 days.
inline constexpr int64_t kValiditySeconds = 5LL * 365 * 86400;

// Version 1 of certificate `serial` of `agency` under the chain's water-permit `type_code`:
// document hash SHA-256(document_seed), holder commitment SHA-256("holder/" + serial), valid
// from now_s - backdate_s to now_s + kValiditySeconds, summary
// PermitSummary("B320115S2026-" + the serial's first four characters).
IssueEvent Issue(std::string_view type_code, std::string_view agency, std::string_view serial,
                 std::string_view document_seed, int64_t now_s, int64_t backdate_s = 3600);

// Adds `key`'s signature over the transaction's signing digest, keeping the signatures in
// ascending signer order (FORMAT.md §5.1).
void AddSignature(SignedTransaction* stx, const PrivateKey& key, const Hash256& genesis_hash);

// `event` as transaction `sequence` of `agency` on the chain of `domain`, signed by `key`.
SignedTransaction SignedTx(const ChainDomain& domain, std::string_view agency, uint64_t sequence,
                           Event event, const PrivateKey& key);

}  // namespace certledger::ledger::sample
