// Log levels per module, text and JSON lines (node/logging.h).
#include "node/logging.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>
#include <string>

namespace certledger::node {
namespace {

TEST(LoggingTest, LevelSpecifications) {
  auto one = ParseLogLevels("debug");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), kLogModules.size());
  for (const auto& [m, l] : *one) EXPECT_EQ(l, "debug") << m;
  auto mixed = ParseLogLevels("p2p:debug,consensus:error,*:warn");
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  EXPECT_EQ(mixed->at("p2p"), "debug");
  EXPECT_EQ(mixed->at("consensus"), "error");
  EXPECT_EQ(mixed->at("node"), "warn");
  EXPECT_EQ(mixed->at("api"), "warn");
  // Without "*", modules not named keep info.
  EXPECT_EQ(ParseLogLevels("sync:trace")->at("mempool"), "info");
  for (const char* bad : {"loud", "p2p", "p2p:loud", "disk:info", "p2p:debug,", ":info", ""}) {
    EXPECT_FALSE(ParseLogLevels(bad).ok()) << bad;
  }
  EXPECT_TRUE(ParseLogFormat("json").ok());
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

// Captures what the loggers write to stdout.
class StdoutCapture {
 public:
  StdoutCapture() {
    std::fflush(stdout);
    saved_ = ::dup(1);
    file_ = std::tmpfile();
    ::dup2(::fileno(file_), 1);
  }
  std::string Finish() {
    std::fflush(stdout);
    ::dup2(saved_, 1);
    ::close(saved_);
    std::rewind(file_);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
    std::fclose(file_);
    return out;
  }

 private:
  int saved_ = -1;
  std::FILE* file_ = nullptr;
};

TEST(LoggingTest, JsonLinesWithModuleAndRuntimeLevels) {
  StdoutCapture cap;
  {
    Logs logs("node\"7", LogFormat::kJson, "p2p:debug,*:info");
    logs.get("p2p").debug("peer {} says \"hi\"\n\tand\x01 more", "n1");
    logs.get("consensus").debug("not shown: consensus is at info");
    logs.get("consensus").info("committed height {}", 5);
    ASSERT_TRUE(logs.SetLevel("consensus", "debug").ok());
    logs.get("consensus").debug("shown now");
    ASSERT_TRUE(logs.SetLevel("*", "error").ok());
    logs.get("p2p").warn("not shown: everything at error");
    EXPECT_EQ(logs.Levels().at("sync"), "error");
    EXPECT_FALSE(logs.SetLevel("disk", "info").ok());
    EXPECT_FALSE(logs.SetLevel("p2p", "loud").ok());
    logs.get("p2p").flush();
    logs.get("consensus").flush();
  }
  const std::string out = cap.Finish();
  std::istringstream in(out);
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not one JSON object per line: " << line;
    lines.push_back(j);
  }
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0]["module"], "p2p");
  EXPECT_EQ(lines[0]["level"], "debug");
  EXPECT_EQ(lines[0]["node"], "node\"7");
  EXPECT_EQ(lines[0]["msg"], "peer n1 says \"hi\"\n\tand\x01 more");
  EXPECT_EQ(lines[1]["msg"], "committed height 5");
  EXPECT_EQ(lines[1]["module"], "consensus");
  EXPECT_EQ(lines[2]["msg"], "shown now");
  for (const auto& j : lines) {
    EXPECT_EQ(j.size(), 5u);
    EXPECT_EQ(j["ts"].get<std::string>().size(), 24u) << j["ts"];  // 2026-12-01T04:05:06.789Z
  }
}

TEST(LoggingTest, TextLinesNameNodeAndModule) {
  StdoutCapture cap;
  {
    Logs logs("node0", LogFormat::kText, "info");
    logs.get("sync").info("synced {} block(s)", 3);
    logs.get("sync").flush();
  }
  const std::string out = cap.Finish();
  EXPECT_NE(out.find(" node0 sync: synced 3 block(s)\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace certledger::node
