#include "ledger/host_port.h"

#include <gtest/gtest.h>

#include <string>

namespace certledger::ledger {
namespace {

HostPort Parsed(const std::string& s, std::optional<uint16_t> default_port = std::nullopt) {
  auto hp = ParseHostPort(s, default_port);
  EXPECT_TRUE(hp.ok()) << s << ": " << hp.status().message();
  return hp.ok() ? *hp : HostPort{};
}

TEST(HostPortTest, ParsesHostsAndPorts) {
  EXPECT_EQ(Parsed("127.0.0.1:80"), (HostPort{"127.0.0.1", 80}));
  EXPECT_EQ(Parsed("node.example.org:26656"), (HostPort{"node.example.org", 26656}));
  EXPECT_EQ(Parsed("[::1]:9000"), (HostPort{"::1", 9000}));
  EXPECT_EQ(Parsed("h:0"), (HostPort{"h", 0}));
  EXPECT_EQ(Parsed("h:65535"), (HostPort{"h", 65535}));
  EXPECT_EQ(Parsed("h:00080"), (HostPort{"h", 80}));
  // An unbracketed host with colons: the last one separates the port.
  EXPECT_EQ(Parsed("a:b:7"), (HostPort{"a:b", 7}));
}

TEST(HostPortTest, DefaultPortOnlyWhenGiven) {
  EXPECT_EQ(Parsed("example.org", 443), (HostPort{"example.org", 443}));
  EXPECT_EQ(Parsed("[::1]", 80), (HostPort{"::1", 80}));
  EXPECT_EQ(Parsed("example.org:8443", 443), (HostPort{"example.org", 8443}));
  EXPECT_FALSE(ParseHostPort("example.org").ok());
  EXPECT_FALSE(ParseHostPort("[::1]").ok());
  EXPECT_EQ(ParseHostPort("example.org").status().message(), "no port");
}

TEST(HostPortTest, RefusesMalformedText) {
  for (const char* bad : {"", ":80", "host:", "host:8a", "host:-1", "host:65536", "host:123456",
                          "[::1]:", "[::1]x:80", "[::1", "[]:80", "[[::1]:2", "x]:y:1", "a[b:1"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
    EXPECT_FALSE(ParseHostPort(bad, 80).ok()) << bad;
  }
  EXPECT_EQ(ParseHostPort(":80").status().message(), "no host");
  EXPECT_EQ(ParseHostPort("host:8a").status().message(), "bad port");
}

// ToString writes what ParseHostPort reads back as the same value (brackets for IPv6).
TEST(HostPortTest, ToStringReadsBack) {
  for (const HostPort& hp : {HostPort{"127.0.0.1", 26656}, HostPort{"::1", 9000},
                             HostPort{"fe80::1%eth0", 1}, HostPort{"localhost", 0}}) {
    auto back = ParseHostPort(hp.ToString());
    ASSERT_TRUE(back.ok()) << hp.ToString();
    EXPECT_EQ(*back, hp);
  }
  EXPECT_EQ((HostPort{"::1", 9000}).ToString(), "[::1]:9000");
  EXPECT_EQ((HostPort{"10.0.0.1", 80}).ToString(), "10.0.0.1:80");
}

}  // namespace
}  // namespace certledger::ledger
