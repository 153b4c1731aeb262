// certledger init (node/init.h): one node's home for a multi-machine network.
#include "node/init.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "node/keyfile.h"
#include "node/testnet.h"

namespace certledger::node {
namespace {

namespace fs = std::filesystem;

fs::path NewTempDir() {
  std::random_device rd;
  return fs::temp_directory_path() / ("certledger-init-test-" + std::to_string(rd()));
}

TEST(InitTest, PeerSpecs) {
  const std::string key = ledger::PrivateKey::Generate().public_key().Hex();
  auto dialled = ParsePeerSpec("node1@" + key + "@10.0.0.2:26656");
  ASSERT_TRUE(dialled.ok()) << dialled.status().ToString();
  EXPECT_EQ(dialled->name, "node1");
  EXPECT_EQ(dialled->key.Hex(), key);
  ASSERT_TRUE(dialled->address.has_value());
  EXPECT_EQ(dialled->address->ToString(), "10.0.0.2:26656");
  auto accepted = ParsePeerSpec("obs@" + key);
  ASSERT_TRUE(accepted.ok());
  EXPECT_FALSE(accepted->address.has_value());
  for (const std::string& bad :
       {std::string("node1"), "@" + key, std::string("n@zz"), "n@" + key + "@nowhere"}) {
    EXPECT_FALSE(ParsePeerSpec(bad).ok()) << bad;
  }
}

TEST(InitTest, MakesAHomeThatTheNodeReadsAndNeverOverwrites) {
  const fs::path dir = NewTempDir();
  TestnetOptions t;
  t.validators = 1;
  t.out_dir = (dir / "gov").string();
  ASSERT_TRUE(GenerateTestnet(t).ok());
  const std::string peer = ledger::PrivateKey::Generate().public_key().Hex();
  std::ofstream(dir / "peers.json") << R"([{"name":"b","key":")" + peer + R"("}])";

  InitOptions o;
  o.home = (dir / "home").string();
  o.moniker = "jiangsu";
  o.genesis_file = (dir / "gov/genesis.json").string();
  o.validator_key_file = (dir / "gov/node0/validator_key.json").string();
  o.p2p_listen = {"10.0.0.1", 26656};
  o.api_listen = {"10.0.0.1", 8080};
  o.peers = {"a@" + peer + "@10.0.0.2:26656"};
  o.peers_file = (dir / "peers.json").string();
  auto r = InitHome(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Imported validator key, generated node key, both 0600; the genesis checked and copied.
  EXPECT_EQ(r->validator_key->Hex(),
            ReadPublicKey((dir / "gov/node0/validator_key.json").string())->Hex());
  EXPECT_EQ(ReadPublicKey(o.home + "/node_key.json")->Hex(), r->node_key.Hex());
  for (const char* f : {"node_key.json", "validator_key.json"}) {
    struct stat st {};
    ASSERT_EQ(::stat((fs::path(o.home) / f).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  EXPECT_TRUE(fs::exists(fs::path(o.home) / "genesis.json"));
  EXPECT_EQ(r->genesis_hash_hex.size(), 64u);
  // The config the node will read.
  auto c = LoadConfig(o.home);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->moniker, "jiangsu");
  EXPECT_EQ(c->api_listen.ToString(), "10.0.0.1:8080");
  EXPECT_FALSE(c->IsObserver());
  ASSERT_EQ(c->peers.size(), 2u);
  EXPECT_EQ(c->peers[0].address->ToString(), "10.0.0.2:26656");
  EXPECT_EQ(c->peers[1].name, "b");
  EXPECT_FALSE(c->peers[1].address.has_value());
  // Never overwrites; bad inputs are named.
  auto again = InitHome(o);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("never overwrites"), std::string::npos);
  InitOptions bad = o;
  bad.home = (dir / "home2").string();
  bad.genesis_file = (dir / "peers.json").string();
  EXPECT_FALSE(InitHome(bad).ok());
  EXPECT_FALSE(fs::exists(fs::path(bad.home) / "node_key.json")) << "no keys for a refused init";
  bad = o;
  bad.home = (dir / "home3").string();
  bad.peers = {"x@00"};
  EXPECT_FALSE(InitHome(bad).ok());
  // An observer without genesis yet.
  InitOptions obs;
  obs.home = (dir / "observer").string();
  auto ro = InitHome(obs);
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  EXPECT_FALSE(ro->validator_key.has_value());
  EXPECT_TRUE(LoadConfig(obs.home)->IsObserver());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace certledger::node
