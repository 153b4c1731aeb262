#include "node/config.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

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
  // Unknown keys are refused inside every section too (a misspelt limit must not keep the
  // default silently), and a section must be an object.
  expect(R"({"api": {"max_conections_per_ip": 4}})", "config.api.max_conections_per_ip: unknown");
  expect(R"({"p2p": {"peer": []}})", "config.p2p.peer: unknown field");
  expect(R"({"p2p": {"peers": [{"name": "a", "adress": "x"}]}})",
         "config.p2p.peers[0].adress: unknown field");
  expect(R"({"consensus": {"timeout_commit_ms": 1}})", "config.consensus.timeout_commit_ms");
  expect(R"({"mempool": {"max_tx": 1}})", "config.mempool.max_tx: unknown field");
  expect(R"({"log": {"fromat": "json"}})", "config.log.fromat: unknown field");
  expect(R"({"log": {"format": "xml"}})", "config.log.format: log format 'xml'");
  expect(R"({"log": {"level": "p2p:debug,disk:info"}})", "config.log.level: log module 'disk'");
  expect(R"({"admin": {"listen": "127.0.0.1:8080"}})", "config.admin.listen: same address as api");
  expect(R"({"admin": {"port": 1}})", "config.admin.port: unknown field");
  expect(R"({"api": []})", "config.api: expected an object");
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
  expect(R"({"node_key_file": ""})", "config.node_key_file");
}

// The TOML form: what testnet and init write (with comments), read back to the same
// configuration; TOML syntax errors name the line; the same field checks as JSON.
TEST(ConfigTest, TomlRoundTripCommentsAndErrors) {
  NodeConfig c;
  c.home = "/h";
  c.moniker = "node \"7\" \\ of 9";
  c.peers.push_back({"node1", ledger::PrivateKey::Generate().public_key(), HostPort{"::1", 26657}});
  c.peers.push_back({"obs", ledger::PrivateKey::Generate().public_key(), std::nullopt});
  c.admin_listen = std::nullopt;
  c.log_level = "p2p:debug,*:warn";
  c.log_format = "json";
  c.api_threads = 7;
  c.mempool_max_bytes = 5ull << 30;
  const std::string toml = ConfigToToml(c);
  auto parsed = ParseConfigToml(toml, "/h");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << toml;
  EXPECT_EQ(ConfigToJson(*parsed), ConfigToJson(c));
  EXPECT_FALSE(parsed->admin_listen.has_value());
  // Every field is written (unset TLS files as a commented-out line), with its meaning and
  // default in a comment above it.
  for (const std::string& field : ConfigFieldNames()) {
    const std::string key = field.substr(field.rfind('.') + 1);
    if (field == "p2p.peers") continue;
    const bool found = toml.find("\n" + key + " = ") != std::string::npos ||
                       toml.find("\n# " + key + " = \"\"\n") != std::string::npos;
    EXPECT_TRUE(found) << field << "\n" << toml;
  }
  EXPECT_NE(toml.find("# default: \"127.0.0.1:8080\"\nlisten = "), std::string::npos);
  EXPECT_NE(toml.find("[[p2p.peers]]\nname = \"obs\""), std::string::npos);
  // The default configuration (no peers) round-trips too.
  NodeConfig d;
  auto dp = ParseConfigToml(ConfigToToml(d), "/h");
  ASSERT_TRUE(dp.ok()) << dp.status().ToString();
  EXPECT_EQ(ConfigToJson(*dp), ConfigToJson(d));

  auto expect = [](const std::string& text, const std::string& needle) {
    auto r = ParseConfigToml(text, "/h");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect("moniker = \"a\"\n[api\nthreads = 2\n", "line 2");
  expect("moniker = \"a\"\nmoniker = \"b\"\n", "line 2");
  expect("[api]\nthreads = 0\n", "config.api.threads: 1 to 64");
  expect("[api]\nthreads = -1\n", "config.api.threads");
  expect("[api]\nthreads = 1.5\n", "config.api.threads");
  expect("[api]\nthread = 2\n", "config.api.thread: unknown field");
  expect("[api]\nlisten = 8080\n", "config.api.listen: expected a \"host:port\" string");
  expect("when = 1979-05-27\n", "config.when: dates and times are not used");
  expect("[[p2p.peers]]\nname = \"a\"\nkey = \"zz\"\n", "config.p2p.peers[0].key");
}

// CERTLEDGER_<SECTION>_<KEY> overrides every field, through the same checks, and an error
// names the variable.
TEST(ConfigTest, EnvironmentOverridesEveryField) {
  std::map<std::string, std::string> env;
  auto lookup = [&env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(EnvNameOf("api.listen"), "CERTLEDGER_API_LISTEN");
  EXPECT_EQ(EnvNameOf("moniker"), "CERTLEDGER_MONIKER");
  EXPECT_EQ(EnvNameOf("consensus.timeout_propose_ms"), "CERTLEDGER_CONSENSUS_TIMEOUT_PROPOSE_MS");
  const std::string base = ConfigToToml(NodeConfig{});
  // Each field alone: a value other than the default, seen in the result.
  const ledger::PublicKey peer = ledger::PrivateKey::Generate().public_key();
  const std::map<std::string, std::string> values = {
      {"moniker", "env-node"},
      {"genesis_file", "g.json"},
      {"data_dir", "/var/lib/x"},
      {"validator_key_file", ""},
      {"node_key_file", "nk.json"},
      {"key_passphrase_file", "pass"},
      {"p2p.listen", "0.0.0.0:1234"},
      {"p2p.peers", R"([{"name":"p","key":")" + peer.Hex() + R"(","address":"10.0.0.2:26656"}])"},
      {"api.listen", "[::]:9000"},
      {"api.threads", "5"},
      {"api.max_connections", "77"},
      {"api.max_connections_per_ip", "3"},
      {"api.header_timeout_ms", "1234"},
      {"api.busy_idle_timeout_ms", "4321"},
      {"api.rate_limit_per_second", "0"},
      {"api.rate_limit_burst", "9"},
      {"api.tls_certificate_file", "c.pem"},
      {"api.tls_key_file", "k.pem"},
      {"admin.listen", ""},
      {"consensus.timeout_propose_ms", "3001"},
      {"consensus.timeout_propose_delta_ms", "3002"},
      {"consensus.timeout_prevote_ms", "3003"},
      {"consensus.timeout_prevote_delta_ms", "3004"},
      {"consensus.timeout_precommit_ms", "3005"},
      {"consensus.timeout_precommit_delta_ms", "3006"},
      {"consensus.empty_block_interval_ms", "3007"},
      {"consensus.max_block_txs", "17"},
      {"mempool.max_txs", "18"},
      {"mempool.max_bytes", "2000000"},
      {"log.level", "consensus:debug,*:info"},
      {"log.format", "json"},
  };
  ASSERT_EQ(values.size(), ConfigFieldNames().size()) << "a field without an override test";
  const std::string defaults = ConfigToJson(*ParseConfigToml(base, "/h"));
  for (const auto& [field, value] : values) {
    env.clear();
    env[EnvNameOf(field)] = value;
    if (field == "api.tls_certificate_file") env[EnvNameOf("api.tls_key_file")] = "k.pem";
    if (field == "api.tls_key_file") env[EnvNameOf("api.tls_certificate_file")] = "c.pem";
    auto c = ParseConfigToml(base, "/h", lookup);
    ASSERT_TRUE(c.ok()) << field << ": " << c.status().ToString();
    auto j = nlohmann::json::parse(ConfigToJson(*c));
    const size_t dot = field.find('.');
    const nlohmann::json& got =
        dot == std::string::npos ? j[field] : j[field.substr(0, dot)][field.substr(dot + 1)];
    if (field == "p2p.peers") {
      EXPECT_EQ(got, nlohmann::json::parse(value));
    } else if (got.is_string()) {
      EXPECT_EQ(got.get<std::string>(), value) << field;
    } else {
      EXPECT_EQ(got.dump(), value) << field;
    }
    EXPECT_NE(ConfigToJson(*c), defaults) << field;
  }
  // The JSON form takes the same overrides.
  env = {{"CERTLEDGER_API_THREADS", "9"}};
  auto fromjson = ParseConfig("{}", "/h", lookup);
  ASSERT_TRUE(fromjson.ok());
  EXPECT_EQ(fromjson->api_threads, 9u);
  // Errors name the variable.
  auto expect = [&](const std::map<std::string, std::string>& e, const std::string& needle) {
    env = e;
    auto r = ParseConfigToml(base, "/h", lookup);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect({{"CERTLEDGER_API_THREADS", "two"}},
         "environment variable CERTLEDGER_API_THREADS: config.api.threads: expected an unsigned "
         "integer, got 'two'");
  expect({{"CERTLEDGER_API_THREADS", "0"}},
         "config.api.threads: 1 to 64 (from the environment variable CERTLEDGER_API_THREADS)");
  expect({{"CERTLEDGER_API_LISTEN", "nowhere"}},
         "(from the environment variable CERTLEDGER_API_LISTEN)");
  expect({{"CERTLEDGER_P2P_PEERS", "[{"}}, "environment variable CERTLEDGER_P2P_PEERS");
  expect({{"CERTLEDGER_P2P_PEERS", R"([{"name":"a","key":"00"}])"}},
         "config.p2p.peers[0].key: not a public key (from the environment variable "
         "CERTLEDGER_P2P_PEERS)");
}

// LoadConfig: config.toml, else config.json; both is an error; errors name the file.
TEST(ConfigTest, LoadConfigReadsTomlOrJsonAndNamesTheFile) {
  const auto dir = TempDir();
  std::filesystem::create_directories(dir);
  auto missing = LoadConfig(dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("config.toml"), std::string::npos);
  NodeConfig c;
  c.moniker = "from-json";
  std::ofstream(dir / "config.json") << ConfigToJson(c);
  auto j = LoadConfig(dir.string());
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->moniker, "from-json");
  EXPECT_EQ(j->home, dir.string());
  c.moniker = "from-toml";
  std::ofstream(dir / "config.toml") << ConfigToToml(c);
  auto both = LoadConfig(dir.string());
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("keep one"), std::string::npos);
  std::filesystem::remove(dir / "config.json");
  auto t = LoadConfig(dir.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->moniker, "from-toml");
  std::ofstream(dir / "config.toml") << "[api]\nthreads = 0\n";
  auto bad = LoadConfig(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(
      bad.status().message().rfind((dir / "config.toml").string() + ": config.api.threads", 0), 0u)
      << bad.status().message();
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, ApiTlsFilesGoTogether) {
  auto c = ParseConfig(
      R"({"api": {"tls_certificate_file": "tls/chain.pem", "tls_key_file": "/etc/k.pem"}})", "/h");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->ApiTls());
  EXPECT_EQ(c->Path(c->api_tls_certificate_file), "/h/tls/chain.pem");
  EXPECT_EQ(c->api_tls_key_file, "/etc/k.pem");
  const std::string text = ConfigToJson(*c);
  EXPECT_NE(text.find("\"tls_key_file\": \"/etc/k.pem\""), std::string::npos) << text;
  auto again = ParseConfig(text, "/h");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ConfigToJson(*again), text);
  // Without TLS the fields are not written (plain-HTTP configs stay as they were).
  EXPECT_EQ(ConfigToJson(NodeConfig{}).find("tls_"), std::string::npos);

  for (const char* one :
       {R"({"api": {"tls_certificate_file": "c.pem"}})", R"({"api": {"tls_key_file": "k.pem"}})"}) {
    auto r = ParseConfig(one, "/h");
    ASSERT_FALSE(r.ok()) << one;
    EXPECT_NE(r.status().message().find("both or neither"), std::string::npos)
        << r.status().message();
  }
  auto unknown = ParseConfig(R"({"api": {"tls_cert_file": "c.pem"}})", "/h");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("config.api.tls_cert_file: unknown field"),
            std::string::npos);
}

TEST(ConfigTest, ApiTlsKeyIsReadLikeKeyFiles) {
  auto dir = TempDir();
  std::filesystem::create_directories(dir / "tls");
  auto c = ParseConfig(
      R"({"api": {"tls_certificate_file": "tls/chain.pem", "tls_key_file": "tls/key.pem"}})",
      dir.string());
  ASSERT_TRUE(c.ok());
  auto write = [](const std::filesystem::path& p, const std::string& text, mode_t mode) {
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
  };
  // Missing files are named by their config field.
  auto missing = ReadApiTlsFiles(*c);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("config.api.tls_certificate_file"), std::string::npos)
      << missing.status().message();
  write(dir / "tls/chain.pem", "CHAIN", 0644);
  write(dir / "tls/key.pem", "KEY", 0640);
  // A key that the group can read is refused, with the fix.
  auto loose = ReadApiTlsFiles(*c);
  ASSERT_FALSE(loose.ok());
  EXPECT_NE(loose.status().message().find("config.api.tls_key_file"), std::string::npos);
  EXPECT_NE(loose.status().message().find("chmod 600"), std::string::npos)
      << loose.status().message();
  ::chmod((dir / "tls/key.pem").c_str(), 0600);
  auto pem = ReadApiTlsFiles(*c);
  ASSERT_TRUE(pem.ok()) << pem.status().ToString();
  EXPECT_EQ(pem->certificate_chain, "CHAIN");
  EXPECT_EQ(pem->private_key, "KEY");
  // No symbolic links (as key files), and a bounded size.
  std::filesystem::rename(dir / "tls/key.pem", dir / "tls/real.pem");
  std::filesystem::create_symlink(dir / "tls/real.pem", dir / "tls/key.pem");
  auto link = ReadApiTlsFiles(*c);
  ASSERT_FALSE(link.ok());
  EXPECT_NE(link.status().message().find("symbolic link"), std::string::npos);
  write(dir / "big", std::string(2000, 'x'), 0600);
  auto big = ReadSecretFile((dir / "big").string(), 1024, "TLS key file");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("larger than 1 KiB"), std::string::npos)
      << big.status().message();
  std::filesystem::remove_all(dir);
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
  // Brackets only around the whole host: ToString would not read back (a fuzzing finding).
  EXPECT_FALSE(ParseHostPort("x]:y:1"));
  EXPECT_FALSE(ParseHostPort("[[::1]:2"));
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

TEST(KeyFileTest, EncryptedAtRestWithPassphraseFromFileOrEnvironment) {
  auto dir = TempDir();
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "enc.json").string();
  const std::string pass_file = (dir / "pass").string();
  auto key = ledger::PrivateKey::Generate();
  ASSERT_TRUE(WriteEncryptedKeyFile(path, key, "correct horse", false, 10).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The secret is nowhere in the file.
  std::string text;
  {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  EXPECT_EQ(text.find(ledger::ToHex(key.secret())), std::string::npos);
  EXPECT_NE(text.find("\"version\": 2"), std::string::npos);
  EXPECT_TRUE(IsEncryptedKeyFile(path).value());

  PassphraseSource none;
  none.env = "";
  none.terminal = false;
  auto missing = ReadKeyFile(path, none);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("needs a passphrase"), std::string::npos);

  {
    int fd = ::open(pass_file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "correct horse\n", 14), 14);
    ::close(fd);
  }
  PassphraseSource from_file = none;
  from_file.file = pass_file;
  std::string warning;
  auto read = ReadKeyFile(path, from_file, &warning);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->public_key(), key.public_key());
  EXPECT_TRUE(warning.empty());

  ::setenv("CERTLEDGER_TEST_PASSPHRASE", "correct horse", 1);
  PassphraseSource from_env = none;
  from_env.env = "CERTLEDGER_TEST_PASSPHRASE";
  EXPECT_TRUE(ReadKeyFile(path, from_env).ok());
  ::setenv("CERTLEDGER_TEST_PASSPHRASE", "wrong horse", 1);
  auto wrong = ReadKeyFile(path, from_env);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("wrong passphrase"), std::string::npos);
  ::unsetenv("CERTLEDGER_TEST_PASSPHRASE");

  // A passphrase file others can read is refused like a key file.
  ::chmod(pass_file.c_str(), 0640);
  auto loose_pass = ReadKeyFile(path, from_file);
  ASSERT_FALSE(loose_pass.ok());
  EXPECT_NE(loose_pass.status().message().find("chmod 600"), std::string::npos);
  ::chmod(pass_file.c_str(), 0600);

  // An altered ciphertext (or public key) does not open.
  auto j = nlohmann::json::parse(text);
  std::string ct = j["encryption"]["ciphertext"];
  ct[0] = ct[0] == '0' ? '1' : '0';
  j["encryption"]["ciphertext"] = ct;
  const std::string altered = (dir / "altered.json").string();
  {
    int fd = ::open(altered.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    const std::string s = j.dump();
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
    ::close(fd);
  }
  auto bad = ReadKeyFile(altered, from_file);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("wrong passphrase, or the file was altered"),
            std::string::npos);

  // Re-encryption replaces the file atomically; the old passphrase stops working.
  ASSERT_TRUE(WriteEncryptedKeyFile(path, *read, "battery staple", /*overwrite=*/true, 10).ok());
  EXPECT_FALSE(ReadKeyFile(path, from_file).ok());
  ::setenv("CERTLEDGER_TEST_PASSPHRASE", "battery staple", 1);
  auto again = ReadKeyFile(path, from_env);
  ::unsetenv("CERTLEDGER_TEST_PASSPHRASE");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key(), key.public_key());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

TEST(KeyFileTest, PlainFilesWarnAndLinksAreNotFollowed) {
  auto dir = TempDir();
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "plain.json").string();
  auto key = ledger::PrivateKey::Generate();
  ASSERT_TRUE(WriteKeyFile(path, key).ok());
  std::string warning;
  auto read = ReadKeyFile(path, {}, &warning);
  ASSERT_TRUE(read.ok());
  EXPECT_NE(warning.find("not encrypted"), std::string::npos);
  EXPECT_FALSE(IsEncryptedKeyFile(path).value());
  // A symbolic link to a good key file is refused, with a message that says why.
  const std::string link = (dir / "link.json").string();
  std::filesystem::create_symlink(path, link);
  auto via_link = ReadKeyFile(link);
  ASSERT_FALSE(via_link.ok());
  EXPECT_NE(via_link.status().message().find("symbolic link"), std::string::npos);
  // A directory is not a key file; an unknown version is named.
  EXPECT_FALSE(ReadKeyFile(dir.string()).ok());
  auto j = nlohmann::json::parse(std::ifstream(path));
  j["version"] = 3;
  const std::string v3 = (dir / "v3.json").string();
  {
    int fd = ::open(v3.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    const std::string s = j.dump();
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
    ::close(fd);
  }
  auto unknown = ReadKeyFile(v3);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown version 3"), std::string::npos);
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
