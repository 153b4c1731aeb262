#include "node/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>
#include <set>

#include "ledger/chain.h"
#include "node/keyfile.h"
#include "node/peer_messages.h"
#include "node/testnet.h"

namespace certledger::node {
namespace {

std::filesystem::path TempDir() {
  std::random_device rd;
  auto p = std::filesystem::temp_directory_path() /
           ("certledger-node-test-" + std::to_string(rd()) + std::to_string(rd()));
  return p;
}

TEST(ConfigTest, RoundTripAndErrorsNameTheField) {
  NodeConfig c;
  c.home = "/tmp/x";
  c.peers.push_back(
      {"node1", ledger::PrivateKey::Generate().public_key(), HostPort{"127.0.0.1", 26657}});
  auto parsed = ParseConfig(ConfigToJson(c), "/tmp/x");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(ConfigToJson(*parsed), ConfigToJson(c));
  EXPECT_EQ(parsed->Path("data"), "/tmp/x/data");
  EXPECT_EQ(parsed->Path("/abs"), "/abs");

  auto expect = [](const std::string& json, const std::string& needle) {
    auto r = ParseConfig(json, "/h");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect("nope", "not a JSON object");
  expect(R"({"bogus": 1})", "config.bogus: unknown field");
  expect(R"({"p2p": {"listen": "localhost"}})", "config.p2p.listen");
  expect(R"({"p2p": {"listen": "127.0.0.1:70000"}})", "config.p2p.listen");
  expect(R"({"consensus": {"timeout_propose_ms": "x"}})", "config.consensus.timeout_propose_ms");
  expect(R"({"consensus": {"timeout_propose_ms": 0}})", "config.consensus.timeout_propose_ms");
  // Never converted: floats, negatives and out-of-range numbers are refused.
  for (const char* n : {"1e300", "1.5", "-1", "18446744073709551616"}) {
    expect(std::string(R"({"consensus": {"timeout_propose_ms": )") + n + "}}",
           "config.consensus.timeout_propose_ms");
  }
  expect(R"({"log": {"level": "loud"}})", "config.log.level");
  expect(R"({"p2p": {"peers": [{"name": "a", "key": "00"}]}})", "config.p2p.peers[0].key");
  expect(R"({"validator_key_file": ""})", "config.node_key_file");
}

TEST(HostPortTest, Parses) {
  auto a = ParseHostPort("127.0.0.1:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 80);
  auto b = ParseHostPort("[::1]:9000");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->ToString(), "[::1]:9000");
  EXPECT_FALSE(ParseHostPort(":80"));
  EXPECT_FALSE(ParseHostPort("host:"));
  EXPECT_FALSE(ParseHostPort("host:8a"));
}

TEST(KeyFileTest, WritesMode0600AndRefusesLooseFiles) {
  auto dir = TempDir();
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "k.json").string();
  auto key = ledger::PrivateKey::Generate();
  ASSERT_TRUE(WriteKeyFile(path, key).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = ReadKeyFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->public_key(), key.public_key());
  EXPECT_FALSE(WriteKeyFile(path, key).ok());  // no silent overwrite
  ::chmod(path.c_str(), 0644);
  auto loose = ReadKeyFile(path);
  ASSERT_FALSE(loose.ok());
  EXPECT_NE(loose.status().message().find("chmod 600"), std::string::npos);
  auto pub = ReadPublicKey(path);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, key.public_key());
  std::filesystem::remove_all(dir);
}

TEST(TestnetTest, GeneratesAConsistentNetwork) {
  auto dir = TempDir();
  TestnetOptions o;
  o.validators = 4;
  o.observers = 1;
  o.out_dir = dir.string();
  ASSERT_TRUE(GenerateTestnet(o).ok());
  for (int i = 0; i < 5; ++i) {
    auto c = LoadConfig((dir / ("node" + std::to_string(i))).string());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->IsObserver(), i == 4);
    EXPECT_EQ(c->peers.size(), i == 4 ? 4u : 4u);  // validators: 3 validators + the observer
  }
  // Every port of every node is distinct (regression: free ports were once handed out twice).
  std::set<int> ports;
  for (int i = 0; i < 5; ++i) {
    auto c = LoadConfig((dir / ("node" + std::to_string(i))).string());
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(ports.insert(c->p2p_listen.port).second);
    EXPECT_TRUE(ports.insert(c->api_listen.port).second);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "network.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "agencies" / "jiangsu" / "issuing_key.json"));
  // A second run into the same directory is refused.
  EXPECT_FALSE(GenerateTestnet(o).ok());
  TestnetOptions bad = o;
  bad.validators = 41;
  EXPECT_FALSE(bad.Validate().ok());
  std::filesystem::remove_all(dir);
}

TEST(PeerMessagesTest, RoundTripAndBounds) {
  StatusMessage bare;
  bare.height = 0;
  auto s = DecodeStatus(EncodeStatus(bare));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->height, 0u);
  EXPECT_FALSE(s->proof.has_value());
  StatusMessage proved;
  proved.height = 42;
  ledger::BlockHeader h;
  h.chain_id = "c";
  h.height = 42;
  ledger::CommitCertificate c;
  c.height = 42;
  proved.proof = std::make_pair(h, c);
  s = DecodeStatus(EncodeStatus(proved));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->height, 42u);
  ASSERT_TRUE(s->proof.has_value());
  EXPECT_EQ(s->proof->first, h);
  // A proof of another height, a bad flag, trailing bytes, truncation: refused.
  proved.proof->second.height = 41;
  EXPECT_FALSE(DecodeStatus(EncodeStatus(proved)).ok());
  ledger::Bytes flag2 = EncodeStatus(bare);
  flag2[8] = 2;
  EXPECT_FALSE(DecodeStatus(flag2).ok());
  ledger::Bytes trailing = EncodeStatus(bare);
  trailing.push_back(0);
  EXPECT_FALSE(DecodeStatus(trailing).ok());
  EXPECT_FALSE(DecodeStatus(ledger::Bytes{1, 2}).ok());
  auto r = DecodeBlockRequest(EncodeBlockRequest({5, 10}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->from, 5u);
  EXPECT_EQ(r->count, 10u);
  EXPECT_FALSE(DecodeBlockRequest(EncodeBlockRequest({5, 1000})).ok());
  EXPECT_FALSE(DecodeBlockRequest(EncodeBlockRequest({0, 1})).ok());
  BlockResponse resp;
  resp.blocks.push_back({ledger::Block{}, ledger::CommitCertificate{}});
  auto enc = EncodeBlockResponse(resp);
  auto dec = DecodeBlockResponse(enc);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(dec->blocks.size(), 1u);
  enc.push_back(0);
  EXPECT_FALSE(DecodeBlockResponse(enc).ok());
  enc.resize(enc.size() - 5);
  EXPECT_FALSE(DecodeBlockResponse(enc).ok());
}

}  // namespace
}  // namespace certledger::node
