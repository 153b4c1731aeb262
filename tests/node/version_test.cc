// certledger version / --version (node/version.h).
#include "node/version.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>

namespace certledger::node {
namespace {

TEST(VersionTest, NamesVersionCommitBuildAndEveryLibrary) {
  const BuildInfo& b = GetBuildInfo();
  EXPECT_EQ(b.version, CERTLEDGER_EXPECTED_VERSION);
  // A 12-digit commit (with -dirty for a modified tree), or "unknown" outside a git checkout.
  EXPECT_TRUE(std::regex_match(b.commit, std::regex("[0-9a-f]{12}(-dirty)?|unknown"))) << b.commit;
  EXPECT_FALSE(b.build_type.empty());
  EXPECT_FALSE(b.compiler.empty());
  ASSERT_GE(b.libraries.size(), 8u);
  for (const auto& [name, version] : b.libraries) {
    EXPECT_TRUE(std::regex_search(version, std::regex("^[0-9]+\\.[0-9]+")))
        << name << " " << version;
  }
}

TEST(VersionTest, TextAndJsonAgree) {
  const BuildInfo& b = GetBuildInfo();
  const std::string text = BuildInfoText();
  EXPECT_EQ(text.rfind("certledger " + b.version + "\n", 0), 0u) << text;
  EXPECT_NE(text.find("commit " + b.commit + "\n"), std::string::npos);
  auto j = nlohmann::json::parse(BuildInfoJson());
  EXPECT_EQ(j.at("version"), b.version);
  EXPECT_EQ(j.at("commit"), b.commit);
  EXPECT_EQ(j.at("build_type"), b.build_type);
  ASSERT_EQ(j.at("libraries").size(), b.libraries.size());
  for (const auto& [name, version] : b.libraries) {
    EXPECT_EQ(j.at("libraries").at(name), version);
    EXPECT_NE(text.find(name + " " + version), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace certledger::node
