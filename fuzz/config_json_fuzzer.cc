// The node configuration file (node::ParseConfig and node::ParseConfigToml, docs/CONFIG.md): no
// crash and no undefined behaviour on any text, read as JSON and as TOML (commit 7478ca6:
// floats and negatives where integers are expected), an accepted configuration validates, and
// ConfigToJson and ConfigToToml give texts that parse to the same configuration (compared
// through its ConfigToJson form).
#include <string>

#include "fuzz/fuzz_common.h"
#include "node/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certledger;
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto t = node::ParseConfigToml(text, "/fuzz/home"); t.ok()) {
    FUZZ_CHECK(t->Validate().ok(), "an accepted TOML configuration validates");
    const std::string toml = node::ConfigToToml(*t);
    auto again = node::ParseConfigToml(toml, "/fuzz/home");
    FUZZ_CHECK(again.ok(),
               "ConfigToToml output is refused: " + again.status().ToString() + "\n" + toml);
    FUZZ_CHECK(node::ConfigToJson(*again) == node::ConfigToJson(*t),
               "configuration changes through ConfigToToml:\n" + toml);
  }
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
