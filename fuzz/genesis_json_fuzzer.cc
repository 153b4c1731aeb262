// The genesis file (ledger::ParseGenesisJson, FORMAT.md §8): no crash and no undefined behaviour
// on any text (the outside finding of commit 7478ca6: 1e300 where an integer is expected reached
// a float-to-integer cast), and every accepted genesis survives GenesisToJson -> parse unchanged,
// with a stable text form and a binary encoding that decodes back.
#include <string>
#include <string_view>

#include "fuzz/fuzz_common.h"
#include "ledger/chain.h"
#include "ledger/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto g = ledger::ParseGenesisJson(text);
  if (!g.ok()) return 0;
  const std::string json = ledger::GenesisToJson(*g);
  auto again = ledger::ParseGenesisJson(json);
  FUZZ_CHECK(again.ok(),
             "GenesisToJson output is refused: " + again.status().ToString() + "\n" + json);
  FUZZ_CHECK(*again == *g, "genesis changes through GenesisToJson:\n" + json);
  FUZZ_CHECK(ledger::GenesisToJson(*again) == json, "GenesisToJson is not stable");
  FUZZ_CHECK(ledger::ValidateGenesis(*g).ok(), "an accepted genesis validates");
  const ledger::Bytes enc = ledger::Encode(*g);
  auto dec = ledger::Decode<ledger::Genesis>(enc);
  FUZZ_CHECK(dec.ok() && *dec == *g, "genesis encoding round trip");
  (void)ledger::GenesisHash(*g);
  (void)ledger::GenesisStateRoot(*g);
  return 0;
}
