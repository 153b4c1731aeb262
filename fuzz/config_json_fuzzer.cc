// The node configuration file (node::ParseConfig, docs/CONFIG.md): no crash and no undefined
// behaviour on any text (commit 7478ca6: floats and negatives where integers are expected), an
// accepted configuration validates, and ConfigToJson gives a text that parses to the same
// configuration (compared through its ConfigToJson form).
#include <string>

#include "fuzz/fuzz_common.h"
#include "node/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto c = node::ParseConfig(text, "/fuzz/home");
  if (!c.ok()) return 0;
  FUZZ_CHECK(c->Validate().ok(), "an accepted configuration validates");
  const std::string json = node::ConfigToJson(*c);
  auto again = node::ParseConfig(json, "/fuzz/home");
  FUZZ_CHECK(again.ok(),
             "ConfigToJson output is refused: " + again.status().ToString() + "\n" + json);
  FUZZ_CHECK(node::ConfigToJson(*again) == json, "configuration changes through ConfigToJson:\n" +
                                                     json + "\n" + node::ConfigToJson(*again));
  (void)c->Path(c->data_dir);
  return 0;
}
