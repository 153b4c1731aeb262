#include "ledger/testing/sample_permit.h"

#include <gtest/gtest.h>

#include "ledger/identifier.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {
namespace {

TEST(SamplePermitTest, HolderCreditCodeHasItsCheckCharacter) {
  EXPECT_TRUE(CreditCodeCheckOk(sample::kHolderCreditCode));
  EXPECT_EQ(std::string(sample::kHolderCreditCode), CreditCode("91320100MA1XXXXX0"));
}

// Both summaries and the issue event pass the state machine, in one block, under one key each.
TEST(SamplePermitTest, SamplesAreAccepted) {
  ChainFixture f;
  ChainBuilder c(&f);
  IssueEvent full = sample::Issue(f.type_code(), f.id(0), "SP0001", "sample/1", f.now_s);
  EXPECT_EQ(full.not_before, f.now_s - 3600);
  EXPECT_EQ(full.not_after, f.now_s + sample::kValiditySeconds);
  EXPECT_EQ(std::get<WaterPermitSummary>(full.summary).permit_number, "B320115S2026-SP00");
  IssueEvent lean = sample::Issue(f.type_code(), f.id(0), "SP0002", "sample/2", f.now_s, 60);
  lean.summary = sample::LoadPermitSummary(12345);
  const auto& s = std::get<WaterPermitSummary>(lean.summary);
  EXPECT_EQ(s.permit_number, "B320115S2026-2345");
  EXPECT_EQ(s.annual_quantity_m3, 112'345u);
  EXPECT_TRUE(s.intakes.empty());
  const ChainDomain domain = f.domain();
  std::vector<SignedTransaction> txs;
  for (IssueEvent* e : {&full, &lean}) {
    txs.push_back(sample::SignedTx(domain, f.id(0), f.agencies[0].next_sequence++, *e,
                                   f.agencies[0].issuing[0]));
  }
  const BuiltBlock b = c.Next(txs);  // aborts if a transaction is refused
  EXPECT_EQ(b.block.txs.size(), 2u);
}

// AddSignature keeps the signatures in ascending signer order (FORMAT.md §5.1).
TEST(SamplePermitTest, SignaturesInSignerOrder) {
  ChainFixture f;
  SignedTransaction stx;
  stx.tx = f.Unsigned(0, TransferEvent{f.BaseId(0, "A0001"), f.id(1)}, 1);
  const Hash256 g = GenesisHash(f.genesis);
  sample::AddSignature(&stx, f.agencies[1].issuing[0], g);
  sample::AddSignature(&stx, f.agencies[0].issuing[0], g);
  sample::AddSignature(&stx, f.agencies[2].issuing[0], g);
  ASSERT_EQ(stx.signatures.size(), 3u);
  EXPECT_LT(stx.signatures[0].signer, stx.signatures[1].signer);
  EXPECT_LT(stx.signatures[1].signer, stx.signatures[2].signer);
}

}  // namespace
}  // namespace certledger::testing
