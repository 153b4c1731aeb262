// State tree proofs as a verifier receives them from a node (ledger/smt.h, FORMAT.md §6.6).
// Input: one mode byte, then
//   mode even: the bytes of an encoded SmtProof. Whatever decodes must re-encode to the same
//     bytes (only canonical proofs decode), and verifying it against any root and key must
//     answer (no crash), never both "present" and "absent" for one key and root.
//   mode odd: a script of tree changes (each 3 bytes: key byte, value byte, op) over a small key
//     space, half of it with long shared prefixes. The tree built by SmtUpdate must have the
//     root SmtRootOf computes from the same map, and SmtProve's proofs of keys across the key
//     space must verify presence with the right value or absence, and nothing else.
#include <map>

#include "fuzz/fuzz_common.h"
#include "ledger/crypto.h"
#include "ledger/smt.h"

namespace {

using namespace certledger;
using ledger::Hash256;

// Half the key space shares its first 248 bits (deep paths, collapsed leaves far down), the
// other half is spread like real keys (hashes).
Hash256 KeyOf(uint8_t b) {
  if ((b & 0x80) == 0) return ledger::Sha256(ledger::ByteSpan(&b, 1));
  Hash256 k;
  k.bytes.fill(0xa5);
  k.bytes[31] = static_cast<uint8_t>(b & 0x7f);
  return k;
}
Hash256 ValueOf(uint8_t b) { return ledger::Sha256(ledger::ByteSpan(&b, 1)); }

void FuzzProofBytes(ledger::ByteSpan in) {
  fuzz::CheckRoundTrip(
      in, [](ledger::ByteSpan b) { return ledger::SmtProof::Decode(b); },
      [](const ledger::SmtProof& p) { return p.Encode(); }, "SmtProof");
  auto proof = ledger::SmtProof::Decode(in);
  if (!proof.ok()) return;
  const Hash256 root = ledger::Sha256(in);
  const Hash256 key = proof->terminal == ledger::SmtProof::Terminal::kOtherLeaf
                          ? ledger::Sha256(ledger::ByteSpan(proof->other_key.bytes))
                          : KeyOf(in.empty() ? 0 : in[0]);
  const bool present = proof->Verify(root, key, proof->value).ok();
  const bool absent = proof->Verify(root, key, std::nullopt).ok();
  FUZZ_CHECK(!(present && absent), "one proof shows a key both present and absent");
}

void FuzzUpdates(ledger::ByteSpan in) {
  ledger::MemorySmtNodeStore store;
  std::map<Hash256, Hash256> model;
  Hash256 root;  // E
  for (size_t i = 0; i + 3 <= in.size(); i += 3) {
    const Hash256 k = KeyOf(in[i]);
    std::vector<ledger::SmtChange> batch;
    if (in[i + 2] & 1) {
      batch.push_back({k, std::nullopt});
      model.erase(k);
    } else {
      batch.push_back({k, ValueOf(in[i + 1])});
      model[k] = ValueOf(in[i + 1]);
    }
    std::vector<std::pair<Hash256, ledger::SmtNode>> nodes;
    auto next = ledger::SmtUpdate(store, root, std::move(batch), &nodes);
    FUZZ_CHECK(next.ok(), "SmtUpdate failed: " + next.status().ToString());
    store.PutAll(nodes);
    root = *next;
  }
  FUZZ_CHECK(root == ledger::SmtRootOf(model), "SmtUpdate's root differs from SmtRootOf");
  for (int b = 0; b < 256; b += 17) {
    const Hash256 k = KeyOf(static_cast<uint8_t>(b));
    auto proof = ledger::SmtProve(store, root, k);
    FUZZ_CHECK(proof.ok(), "SmtProve failed: " + proof.status().ToString());
    auto decoded = ledger::SmtProof::Decode(proof->Encode());
    FUZZ_CHECK(decoded.ok(), "a proof SmtProve made does not decode");
    auto it = model.find(k);
    if (it != model.end()) {
      FUZZ_CHECK(decoded->Verify(root, k, it->second).ok(), "presence proof does not verify");
      FUZZ_CHECK(!decoded->Verify(root, k, std::nullopt).ok(), "present key proven absent");
    } else {
      FUZZ_CHECK(decoded->Verify(root, k, std::nullopt).ok(), "absence proof does not verify");
      FUZZ_CHECK(!decoded->Verify(root, k, ValueOf(0)).ok(), "absent key proven present");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ledger::ByteSpan rest = fuzz::Span(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    FuzzProofBytes(rest);
  } else if (size <= 1 + 3 * 64) {  // at most 64 changes: each input stays fast
    FuzzUpdates(rest);
  }
  return 0;
}
