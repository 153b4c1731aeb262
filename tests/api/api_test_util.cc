#include "tests/api/api_test_util.h"

#include <cstdio>
#include <cstdlib>

namespace certledger::testing {

namespace {
void Check(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "TestLedger: %s: %s\n", what, st.ToString().c_str());
    std::abort();
  }
}
}  // namespace

TestLedger::TestLedger() {
  LevelDBStoreOptions o;
  o.path = dir.path();
  o.sync = false;
  auto s = OpenLevelDBStore(o);
  Check(s.status(), "open");
  store = std::move(s).value();
  Check(store->Initialize(f.genesis), "initialize");

  ChainBuilder c(&f);
  IssueEvent a = f.Issue(0, "A0001");
  IssueEvent b = f.Issue(0, "B0002");
  IssueEvent cc = f.Issue(0, "C0003");
  IssueEvent d = f.Issue(0, "D0004");
  IssueEvent e = f.Issue(0, "E0005");
  e.not_before = f.now_s - 10 * 3600;
  e.not_after = f.now_s - 3600;
  IssueEvent h = f.Issue(0, "H0006");
  std::get<WaterPermitSummary>(h.summary).holder_name = "<script>alert('x')</script>&Co \"Ltd\"";
  IssueEvent i = f.Issue(0, "I0007");
  {
    auto& sum = std::get<WaterPermitSummary>(i.summary);
    sum.holder_kind = HolderKind::kIndividual;
    sum.holder_name.clear();
    sum.holder_credit_code.clear();
  }
  a1 = a.document_hash;
  b1 = b.document_hash;
  c1 = cc.document_hash;
  d1 = d.document_hash;
  e1 = e.document_hash;
  h1 = h.document_hash;
  i1 = i.document_hash;
  base_a = f.BaseId(0, "A0001");
  base_b = f.BaseId(0, "B0002");
  base_c = f.BaseId(0, "C0003");
  base_d = f.BaseId(0, "D0004");
  base_e = f.BaseId(0, "E0005");
  std::vector<SignedTransaction> txs1;
  for (const IssueEvent* ev : {&a, &b, &cc, &d, &e, &h, &i}) txs1.push_back(f.Tx(0, *ev));
  blocks.push_back(c.Next(txs1));

  ChangeEvent change;
  change.identifier = f.CertId(0, "A0001", 2);
  change.document_hash = Sha256(AsBytes("doc/A0001/v2"));
  change.summary = sample::PermitSummary("B320115S2026-A000");
  std::get<WaterPermitSummary>(change.summary).annual_quantity_m3 = 2'000'000;
  change.changed_fields = {"annual_quantity_m3"};
  a2 = change.document_hash;
  std::vector<SignedTransaction> txs2;
  txs2.push_back(f.Tx(0, change));
  txs2.push_back(f.Tx(0, SuspendEvent{base_b, "未按规定安装计量设施"}));
  txs2.push_back(f.Tx(0, RevokeEvent{base_c, RevocationKind::kRevoked, "擅自转让"}));
  SignedTransaction transfer = f.Tx(0, TransferEvent{base_d, f.id(1)});
  f.SignWith(&transfer, f.agencies[1].issuing[0]);
  txs2.push_back(transfer);
  blocks.push_back(c.Next(txs2));

  RenewEvent renew;
  renew.identifier = f.CertId(0, "A0001", 3);
  renew.document_hash = Sha256(AsBytes("doc/A0001/v3"));
  renew.not_after = a.not_after + 365LL * 86400;
  a3 = renew.document_hash;
  blocks.push_back(c.Next({f.Tx(0, renew)}));

  for (const auto& blk : blocks) {
    Check(store->AppendBlock(blk.block, blk.commit, blk.effects), "append");
  }
}

}  // namespace certledger::testing
