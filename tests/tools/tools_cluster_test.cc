// End-to-end tests of the operator, verifier and auditor tools against real `certledger node`
// processes on 127.0.0.1: tx + verify across agencies (and tampered answers), audit of a stopped
// node's store (and of a tampered copy), and the verification page in headless Chromium.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <netinet/in.h>
#include <png.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/attestation.h"
#include "ledger/coding.h"
#include "ledger/encoding.h"
#include "node/keyfile.h"
#include "tests/testing/cluster.h"
#include "tools/verify.h"

namespace certledger::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the certledger binary with `args`; returns its exit code (-1 if it did not finish within
// `timeout_ms`, -2 if it died of a signal) and its output in *out.
int RunCli(const fs::path& dir, const std::vector<std::string>& args, std::string* out,
           int timeout_ms = 60000) {
  static std::atomic<int> n{0};
  const fs::path log = dir / ("cli-" + std::to_string(n++) + ".log");
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p = Process::Spawn(argv, log.string());
  if (!p.Wait(timeout_ms)) {
    p.Stop(2000);
    *out = ReadAll(log);
    return -1;
  }
  *out = ReadAll(log);
  const int st = p.exit_status();
  return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

// Runs the certledger binary with stdout to `stdout_path` and stderr on a pseudo-terminal, so
// that the CLI sees a terminal there; returns the exit code (-1: not finished in time) and what
// the terminal showed in *terminal.
int RunCliWithTerminalStderr(const std::vector<std::string>& args, const fs::path& stdout_path,
                             std::string* terminal, int timeout_ms = 60000) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return -3;
  const std::string slave_path = ::ptsname(master);
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int slave = ::open(slave_path.c_str(), O_RDWR | O_NOCTTY);
    const int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (slave < 0 || out < 0) ::_exit(126);
    ::dup2(out, 1);
    ::dup2(slave, 2);
    ::close(out);
    ::close(slave);
    ::close(master);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = -1;
  bool exited = false;
  char buf[4096];
  while (true) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) {
        terminal->append(buf, static_cast<size_t>(n));
        continue;
      }
      if (exited) break;  // EIO: the child's side is closed and everything was read
    } else if (exited) {
      break;
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (!exited && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ::close(master);
      return -1;
    }
  }
  ::close(master);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

std::string DocHash(const fs::path& doc) {
  return Json::parse(ReadAll(doc))["document_hash"].get<std::string>();
}

// Serves one fixed HTTP answer to every request on a loopback port (a lying node).
class FakeNode {
 public:
  explicit FakeNode(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = 0;
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeNode() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{2, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      const std::string resp =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      (void)!::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::string body_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Net {
  Json network;
  fs::path dir;
  std::string key(size_t a) const {
    return network["agencies"][a]["issuing_key_file"].get<std::string>();
  }
  std::string api(size_t i) const { return network["nodes"][i]["api"].get<std::string>(); }
  std::string genesis() const { return (dir / "genesis.json").string(); }
};

Net Load(Cluster& c) { return Net{Json::parse(ReadAll(c.dir() / "network.json")), c.dir()}; }

std::vector<std::string> IssueArgs(const Net& n, size_t agency, size_t node,
                                   const std::string& serial, const fs::path& out) {
  return {"tx",
          "issue",
          "--node",
          n.api(node),
          "--key",
          n.key(agency),
          "--serial",
          serial,
          "--permit-number",
          "B320115S2026-" + serial.substr(serial.size() - 4),
          "--holder-name",
          "南京某某水务有限公司",
          "--holder-id",
          "91320100MA1XXXXX0Q",
          "--annual-quantity",
          "1250000",
          "--purpose",
          "城镇公共供水",
          "--location",
          "南京市江宁区长江右岸",
          "--division",
          "320115",
          "--method",
          "泵站提水",
          "--intake",
          "1号取水口,118.796877,32.060255",
          "--out",
          out.string()};
}

Json GetAnswer(const Net& n, size_t node, const std::string& hash) {
  tools::HttpClient client(*tools::ParseUrl(n.api(node)), 5000);
  auto r = client.Get("/v1/verify/" + hash);
  EXPECT_TRUE(r.ok());
  return r.ok() ? Json::parse(r->body, nullptr, false) : Json();
}

ledger::Result<tools::VerifiedAnswer> Check(const Json& answer, const Genesis& g,
                                            const std::string& hash) {
  tools::VerifyOptions o;
  o.document_hash = *Hash256::FromHexString(hash);
  o.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return tools::CheckVerificationAnswer(answer, g, o);
}

TEST(ToolsClusterTest, IssueVerifyChangeRevokeAcrossAgenciesAndRejectTamperedAnswers) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 1, 30000)) << "node" << i;
  Net n = Load(c);
  std::string out;
  const fs::path d1 = c.dir() / "doc1.json", d2 = c.dir() / "doc2.json";

  // Jiangsu issues at its node; Zhejiang's node verifies.
  ASSERT_EQ(RunCli(c.dir(), IssueArgs(n, 0, 0, "E2E0001", d1), &out), 0) << out;
  EXPECT_NE(out.find("committed at height"), std::string::npos) << out;
  const std::string h1 = DocHash(d1);
  EXPECT_NE(out.find(n.api(0) + "/v/" + h1), std::string::npos) << out;
  ASSERT_EQ(
      RunCli(c.dir(), {"verify", "--hash", h1, "--node", n.api(1), "--genesis", n.genesis()}, &out),
      0)
      << out;
  EXPECT_NE(out.find("有效 / Valid"), std::string::npos) << out;

  // The honest answer passes the library check; tampered copies fail.
  Json honest = GetAnswer(n, 1, h1);
  ASSERT_TRUE(Check(honest, c.genesis(), h1).ok())
      << Check(honest, c.genesis(), h1).status().ToString();
  {
    Json t = honest;
    t["status"] = "revoked";
    EXPECT_FALSE(Check(t, c.genesis(), h1).ok());
  }
  {
    Json t = honest;
    auto& path = t["proof"]["events"][0]["inclusion"]["path"];
    if (path.empty()) {
      t["proof"]["events"][0]["leaf_hash"] = std::string(64, '0');
      t["proof"]["header"]["log_root"] = std::string(64, '1');
    } else {
      std::string e = path[0].get<std::string>();
      e[0] = e[0] == '0' ? '1' : '0';
      path[0] = e;
    }
    auto r = Check(t, c.genesis(), h1);
    EXPECT_FALSE(r.ok());
  }
  {
    Json t = honest;
    std::string sig = t["proof"]["commit"]["signatures"][0]["signature"].get<std::string>();
    sig[10] = sig[10] == 'a' ? 'b' : 'a';
    t["proof"]["commit"]["signatures"][0]["signature"] = sig;
    auto r = Check(t, c.genesis(), h1);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("commit"), std::string::npos) << r.status().ToString();
  }
  {
    Json t = honest;  // a forged header: the commit no longer matches it
    t["proof"]["header"]["time_ms"] = t["proof"]["header"]["time_ms"].get<int64_t>() + 1;
    t["proof"]["header"].erase("hash");
    EXPECT_FALSE(Check(t, c.genesis(), h1).ok());
  }

  // Change: the old document verifies as superseded.
  ASSERT_EQ(RunCli(c.dir(),
                   {"tx", "change", "--node", n.api(0), "--key", n.key(0), "--doc", d1.string(),
                    "--annual-quantity", "1500000", "--out", d2.string()},
                   &out),
            0)
      << out;
  ASSERT_EQ(
      RunCli(c.dir(), {"verify", "--hash", h1, "--node", n.api(2), "--genesis", n.genesis()}, &out),
      0)
      << out;
  EXPECT_NE(out.find("Superseded"), std::string::npos) << out;
  const std::string h2 = DocHash(d2);
  const Json before_revoke = GetAnswer(n, 1, h2);  // a correct proof that will become stale

  // Revoke: the current document verifies as revoked.
  ASSERT_EQ(RunCli(c.dir(),
                   {"tx", "revoke", "--node", n.api(0), "--key", n.key(0), "--doc", d2.string(),
                    "--reason", "拒不执行取水量限制", "--kind", "revoked"},
                   &out),
            0)
      << out;
  ASSERT_EQ(
      RunCli(c.dir(), {"verify", "--hash", h2, "--node", n.api(3), "--genesis", n.genesis()}, &out),
      0)
      << out;
  EXPECT_NE(out.find("已吊销 / Revoked"), std::string::npos) << out;
  // A revoked certificate accepts nothing more: the rejection code and a non-zero exit.
  EXPECT_EQ(RunCli(c.dir(),
                   {"tx", "suspend", "--node", n.api(0), "--key", n.key(0), "--doc", d2.string(),
                    "--reason", "x"},
                   &out),
            1);
  EXPECT_NE(out.find("invalid-transition"), std::string::npos) << out;

  // The CLI against a lying node that serves the revoked answer with status "valid".
  Json lie = GetAnswer(n, 1, h2);
  lie["status"] = "valid";
  lie["stored_status"] = "valid";
  lie["certificate_status"] = "valid";
  {
    FakeNode fake(lie.dump());
    EXPECT_EQ(
        RunCli(c.dir(), {"verify", "--hash", h2, "--node", fake.url(), "--genesis", n.genesis()},
               &out, 20000),
        1)
        << out;
    EXPECT_NE(out.find("verification FAILED"), std::string::npos) << out;
  }
  // A Byzantine node signs a lie (node 1's own identity key re-signs the altered answer): the
  // CLI refuses it and writes an evidence file that a third party checks offline.
  {
    auto key = node::ReadKeyFile(
        (fs::path(n.network["nodes"][1]["home"].get<std::string>()) / "node_key.json").string());
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    Json signed_lie = lie;
    signed_lie.erase("attestation");
    const std::string request = "GET /v1/verify/" + h2;
    const uint64_t height = signed_lie["proof"]["header"]["height"].get<uint64_t>();
    const Hash256 ah = api::AnswerHash(signed_lie);
    const ledger::ChainDomain domain{c.genesis().params.chain_id, GenesisHash(c.genesis())};
    signed_lie["attestation"] =
        api::AttestationJson({key->public_key(), request, height, ah,
                              key->Sign(api::AnswerSigningDigest(domain, request, height, ah))});
    FakeNode liar(signed_lie.dump());
    const fs::path evidence = c.dir() / "evidence.json";
    EXPECT_EQ(RunCli(c.dir(),
                     {"verify", "--hash", h2, "--node", liar.url(), "--genesis", n.genesis(),
                      "--evidence-out", evidence.string()},
                     &out, 20000),
              1)
        << out;
    EXPECT_NE(out.find("EVIDENCE: node " + key->public_key().Hex()), std::string::npos) << out;
    ASSERT_TRUE(fs::exists(evidence)) << out;
    EXPECT_EQ(
        RunCli(c.dir(), {"verify", "--check-evidence", evidence.string(), "--genesis", n.genesis()},
               &out),
        0)
        << out;
    EXPECT_NE(out.find("PROVEN against node " + key->public_key().Hex()), std::string::npos) << out;
    // The honest answer (signed by node 1) is not evidence of anything.
    const fs::path honest_file = c.dir() / "honest-evidence.json";
    Json honest_evidence = tools::MakeEvidence(c.genesis(), *Hash256::FromHexString(h2),
                                               {{n.api(1), GetAnswer(n, 1, h2)}}, 0);
    {
      std::ofstream o(honest_file);
      o << honest_evidence.dump();
    }
    EXPECT_EQ(RunCli(c.dir(),
                     {"verify", "--check-evidence", honest_file.string(), "--genesis", n.genesis()},
                     &out),
              1)
        << out;
  }
  // The offline staple: a QR code with the URL and the staple, checked from the image alone.
  {
    const fs::path png = c.dir() / "staple.png";
    ASSERT_EQ(RunCli(c.dir(),
                     {"qr", "--staple", "--hash", h2, "--node", n.api(2), "--out", png.string(),
                      "--scale", "3"},
                     &out),
              0)
        << out;
    EXPECT_NE(out.find("error correction M"), std::string::npos) << out;
    ASSERT_EQ(
        RunCli(c.dir(), {"verify", "--qr-image", png.string(), "--genesis", n.genesis()}, &out), 0)
        << out;
    EXPECT_NE(out.find("已吊销 / Revoked"), std::string::npos) << out;
    EXPECT_NE(out.find("拒不执行取水量限制"), std::string::npos) << out;
    EXPECT_NE(out.find("with its commit"), std::string::npos) << out;
  }
  // Several nodes: one serves the proof from before the revocation (a node that is behind, or
  // withholds blocks). Both proofs verify; the verifier reports the disagreement and the most
  // recent proven state.
  {
    FakeNode behind(before_revoke.dump());
    EXPECT_EQ(RunCli(c.dir(),
                     {"verify", "--hash", h2, "--nodes", n.api(2) + "," + behind.url(), "--genesis",
                      n.genesis(), "--max-age", "0"},
                     &out, 30000),
              3)
        << out;
    EXPECT_NE(out.find("DISAGREEMENT"), std::string::npos) << out;
    EXPECT_NE(out.find(behind.url() + ": valid"), std::string::npos) << out;
    EXPECT_NE(out.find(n.api(2) + ": revoked"), std::string::npos) << out;
    EXPECT_NE(out.find("已吊销 / Revoked"), std::string::npos) << out;
    EXPECT_NE(out.find("拒不执行取水量限制"), std::string::npos) << out;
  }
  // Honest nodes agree.
  EXPECT_EQ(RunCli(c.dir(),
                   {"verify", "--hash", h2, "--nodes", n.api(0) + "," + n.api(3), "--genesis",
                    n.genesis()},
                   &out, 30000),
            0)
      << out;
  EXPECT_EQ(RunCli(c.dir(),
                   {"verify", "--hash", h2, "--node", n.api(0), "--genesis", n.genesis(),
                    "--max-age", "soon"},
                   &out),
            1);
  EXPECT_NE(out.find("--max-age"), std::string::npos) << out;
  // A bad flag is named.
  EXPECT_NE(RunCli(c.dir(),
                   {"tx",
                    "issue",
                    "--node",
                    n.api(0),
                    "--key",
                    n.key(0),
                    "--annual-quantity",
                    "lots",
                    "--permit-number",
                    "X",
                    "--purpose",
                    "p",
                    "--location",
                    "l",
                    "--division",
                    "320115",
                    "--holder-name",
                    "n",
                    "--holder-id",
                    "91320100MA1XXXXX0Q"},
                   &out),
            0);
  EXPECT_NE(out.find("--annual-quantity"), std::string::npos) << out;
}

// Transfer of authority through the CLI (both agencies sign), and `certledger verify` trusting
// only genesis after the validator set changed (it replays the chain to learn the new set).
TEST(ToolsClusterTest, TransferThenVerifyAcrossAValidatorSetChange) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 1, 30000)) << "node" << i;
  Net n = Load(c);
  std::string out;
  const fs::path d1 = c.dir() / "t1.json", d2 = c.dir() / "t2.json";
  ASSERT_EQ(RunCli(c.dir(), IssueArgs(n, 0, 0, "TR0001", d1), &out), 0) << out;
  const std::string to = n.network["agencies"][1]["id"].get<std::string>();
  ASSERT_EQ(RunCli(c.dir(),
                   {"tx", "transfer", "--node", n.api(0), "--key", n.key(0), "--doc", d1.string(),
                    "--to-agency", to, "--cosign-key", n.key(1)},
                   &out),
            0)
      << out;
  // The receiving agency now controls it; the issuing agency no longer does.
  ASSERT_EQ(RunCli(c.dir(),
                   {"tx", "change", "--node", n.api(1), "--key", n.key(1), "--doc", d1.string(),
                    "--annual-quantity", "900000", "--out", d2.string()},
                   &out),
            0)
      << out;
  EXPECT_NE(RunCli(c.dir(),
                   {"tx", "suspend", "--node", n.api(0), "--key", n.key(0), "--doc", d2.string(),
                    "--reason", "检查"},
                   &out),
            0);
  EXPECT_NE(out.find("not-issuer"), std::string::npos) << out;

  // Governance: the same validators with new powers, signed by three of four validators.
  ValidatorSet next = c.genesis().validators;
  next.validators[0].power = 20;
  const std::string ministry = n.network["agencies"][3]["id"].get<std::string>();
  tools::HttpClient client(*tools::ParseUrl(n.api(0)), 5000);
  auto listing = client.Get("/v1/agencies");
  ASSERT_TRUE(listing.ok());
  uint64_t last = 0;
  const Json agencies = Json::parse(listing->body);  // named: it must outlive the loop
  for (const auto& a : agencies["agencies"]) {
    if (a["id"] == ministry) last = a["sequence"].get<uint64_t>();
  }
  SignedTransaction gov;
  gov.tx.chain_id = c.genesis().params.chain_id;
  gov.tx.agency = ministry;
  gov.tx.sequence = last + 1;
  gov.tx.event = UpdateValidatorsEvent{next};
  for (size_t i = 0; i < 3; ++i) {
    auto key = node::ReadKeyFile((fs::path(c.node(i).home) / "validator_key.json").string());
    ASSERT_TRUE(key.ok());
    sample::AddSignature(&gov, *key, GenesisHash(c.genesis()));
  }
  ASSERT_TRUE(c.Submit(0, gov));
  ASSERT_TRUE(WaitFor(30000, [&] { return c.Committed(0, TxHash(gov.tx)); }));
  const int64_t changed_at = c.Height(0);
  ASSERT_TRUE(c.WaitHeight(0, changed_at + 3, 30000));

  // A certificate issued under the new set verifies against genesis through the replay ...
  const fs::path d3 = c.dir() / "t3.json";
  ASSERT_EQ(RunCli(c.dir(), IssueArgs(n, 2, 2, "TR0003", d3), &out), 0) << out;
  const std::string h3 = DocHash(d3);
  ASSERT_EQ(
      RunCli(c.dir(), {"verify", "--hash", h3, "--node", n.api(3), "--genesis", n.genesis()}, &out),
      0)
      << out;
  EXPECT_NE(out.find("Valid"), std::string::npos) << out;
  // ... and without the replay the verifier says it cannot check the changed set.
  EXPECT_NE(
      RunCli(c.dir(),
             {"verify", "--hash", h3, "--node", n.api(3), "--genesis", n.genesis(), "--no-replay"},
             &out),
      0);
  EXPECT_NE(out.find("validator set changed"), std::string::npos) << out;
}

TEST(ToolsClusterTest, AuditReplaysAStoppedNodeAndNamesATamperedHeight) {
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 1, 30000)) << "node" << i;
  Net n = Load(c);
  std::string out;
  const fs::path d1 = c.dir() / "a1.json";
  ASSERT_EQ(RunCli(c.dir(), IssueArgs(n, 0, 0, "AUD0001", d1), &out), 0) << out;
  ASSERT_EQ(RunCli(c.dir(), IssueArgs(n, 1, 1, "AUD0002", c.dir() / "a2.json"), &out), 0) << out;
  ASSERT_EQ(RunCli(c.dir(),
                   {"tx", "revoke", "--node", n.api(0), "--key", n.key(0), "--doc", d1.string(),
                    "--reason", "测试吊销", "--kind", "cancelled"},
                   &out),
            0)
      << out;
  const int64_t top = c.Height(0);
  ASSERT_TRUE(c.WaitHeight(2, top, 20000));
  // The audit over the API while the nodes run.
  ASSERT_EQ(RunCli(c.dir(), {"audit", "--node", n.api(2), "--genesis", n.genesis()}, &out), 0)
      << out;
  for (size_t i = 0; i < 4; ++i) c.proc(i).Stop(10000);

  const fs::path copy = c.dir() / "audit-copy";
  fs::copy(c.node(2).home, copy, fs::copy_options::recursive);
  const std::string prefix = (c.dir() / "report").string();
  ASSERT_EQ(
      RunCli(c.dir(), {"audit", "--home", copy.string(), "--report", prefix, "--seed", "7"}, &out),
      0)
      << out;
  EXPECT_NE(out.find("audit passed"), std::string::npos) << out;
  // With a terminal on stderr the progress bar is drawn there, and stdout holds the report only.
  {
    std::string terminal;
    const fs::path stdout_path = c.dir() / "audit-stdout.txt";
    ASSERT_EQ(RunCliWithTerminalStderr({"audit", "--home", copy.string()}, stdout_path, &terminal),
              0)
        << terminal;
    const std::string printed = ReadAll(stdout_path);
    EXPECT_NE(printed.find("audit passed"), std::string::npos) << printed;
    EXPECT_EQ(printed.find('\r'), std::string::npos) << printed;
    EXPECT_EQ(printed.find("] 100% block"), std::string::npos) << printed;
    EXPECT_NE(terminal.find("[" + std::string(50, '#') + "] 100% block"), std::string::npos)
        << terminal;
    EXPECT_EQ(terminal.find("audit passed"), std::string::npos) << terminal;
  }
  Json report = Json::parse(ReadAll(prefix + ".json"));
  EXPECT_TRUE(report["ok"].get<bool>());
  EXPECT_EQ(report["events"].get<uint64_t>(), 3u);
  ASSERT_EQ(report["revocations"].size(), 1u);
  EXPECT_EQ(report["revocations"][0]["reason"], "测试吊销");
  EXPECT_EQ(report["revocations"][0]["kind"], "cancelled");
  EXPECT_EQ(report["sample"].size(), 1u);
  EXPECT_NE(ReadAll(prefix + ".csv").find("revocation,"), std::string::npos);

  // Tamper with the block holding the revocation: change its reason in the stored block.
  uint64_t tampered = 0;
  {
    leveldb::DB* raw = nullptr;
    leveldb::Options opts;
    ASSERT_TRUE(leveldb::DB::Open(opts, (copy / "data" / "ledger").string(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    for (uint64_t h = 1; h <= static_cast<uint64_t>(top) && tampered == 0; ++h) {
      std::string key = "b/";
      ledger::PutFixed64BE(&key, h);
      std::string value;
      ASSERT_TRUE(db->Get(leveldb::ReadOptions(), key, &value).ok()) << h;
      auto block = Decode<Block>(AsBytes(value));
      ASSERT_TRUE(block.ok());
      for (auto& stx : block->txs) {
        if (auto* r = std::get_if<RevokeEvent>(&stx.tx.event)) {
          r->reason = "篡改";
          tampered = h;
        }
      }
      if (tampered != 0) {
        Bytes enc = Encode(*block);
        ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key,
                            std::string(reinterpret_cast<const char*>(enc.data()), enc.size()))
                        .ok());
      }
    }
  }
  ASSERT_NE(tampered, 0u);
  EXPECT_EQ(RunCli(c.dir(), {"audit", "--home", copy.string()}, &out), 1) << out;
  EXPECT_NE(out.find("ANOMALY at height " + std::to_string(tampered)), std::string::npos) << out;
}

// The chromium binary (Process::Spawn does not search PATH).
std::string ChromiumPath() {
  for (const char* p :
       {"/usr/bin/chromium", "/usr/local/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "chromium";
}

// The number of pixels within a small distance of `rgb` in a PNG file.
size_t CountColour(const std::string& path, int r, int g, int b) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) return 0;
  img.format = PNG_FORMAT_RGB;
  std::vector<png_byte> buf(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, buf.data(), 0, nullptr)) return 0;
  size_t n = 0;
  for (size_t i = 0; i + 2 < buf.size(); i += 3) {
    if (std::abs(buf[i] - r) < 12 && std::abs(buf[i + 1] - g) < 12 &&
        std::abs(buf[i + 2] - b) < 12) {
      ++n;
    }
  }
  return n;
}

// "YYYY-MM-DD" of unix milliseconds in China Standard Time (the page's dates).
std::string CstDate(int64_t unix_ms) {
  using namespace std::chrono;
  const year_month_day ymd{floor<days>(sys_seconds{seconds{unix_ms / 1000 + 8 * 3600}})};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The verification page of each status (valid, superseded, suspended, revoked, expired,
// unknown) served by a real node and rendered by headless Chromium: the rendered DOM carries
// the status, the reason and date of a suspension or revocation, the link to the newer version,
// the link to the JSON proof and the lang="en" marks of the English text.
TEST(ToolsClusterTest, VerificationPageRendersInHeadlessChromium) {
  ASSERT_EQ(::access(ChromiumPath().c_str(), X_OK), 0)
      << "chromium is missing (scripts/setup.sh installs it)";
  Cluster c(4);
  c.StartAll();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(c.WaitHeight(i, 1, 30000)) << "node" << i;
  Net n = Load(c);
  std::string out;

  // First a certificate that expires a few seconds after its issue (the CLI takes whole days),
  // by agency 2, which nothing else here uses (its sequence is the cluster's to count).
  SignedTransaction expiring = c.IssueTx(2, "PE1000");
  const int64_t expires_s = NowS() + 10;
  std::get<IssueEvent>(expiring.tx.event).not_after = expires_s;
  expiring.signatures.clear();
  sample::AddSignature(&expiring, c.agency(2).key, GenesisHash(c.genesis()));
  ASSERT_TRUE(c.Submit(2, expiring));
  ASSERT_TRUE(WaitFor(30000, [&] { return c.Committed(2, TxHash(expiring.tx)); }));
  const std::string h_expired = std::get<IssueEvent>(expiring.tx.event).document_hash.Hex();

  const fs::path d1 = c.dir() / "p1.json";
  ASSERT_EQ(RunCli(c.dir(), IssueArgs(n, 0, 0, "PAGE0001", d1), &out), 0) << out;
  const std::string url = n.api(1) + "/v/" + DocHash(d1);
  auto chromium = [&](const std::vector<std::string>& extra, const fs::path& log,
                      const std::string& page) {
    std::vector<std::string> argv = {
        ChromiumPath(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--user-data-dir=" + (c.dir() / ("chr-" + log.stem().string())).string(),
        "--window-size=412,915"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(page);
    Process p = Process::Spawn(argv, log.string());
    const bool done = p.Wait(60000);
    if (!done) p.Stop(2000);
    std::ofstream(log, std::ios::app) << "\n[exit status " << p.exit_status() << "]\n";
    return done;
  };
  const fs::path shot = c.dir() / "page.png";
  ASSERT_TRUE(chromium({"--screenshot=" + shot.string()}, c.dir() / "shot.log", url));
  ASSERT_TRUE(fs::exists(shot)) << "chromium output: " << ReadAll(c.dir() / "shot.log");
  // The status word is drawn in the page's "valid" green (#1a7f37).
  // Text is anti-aliased, so only the glyphs' solid cores count: a few hundred pixels.
  EXPECT_GT(CountColour(shot.string(), 0x1a, 0x7f, 0x37), 150u);
  EXPECT_LT(CountColour(shot.string(), 0xcf, 0x22, 0x2e), 20u);  // no "revoked" red
  const fs::path dom = c.dir() / "dom.log";
  ASSERT_TRUE(chromium({"--dump-dom"}, dom, url));
  const std::string html = ReadAll(dom);
  EXPECT_NE(html.find("有效"), std::string::npos) << html.substr(0, 2000);
  EXPECT_NE(html.find("Valid"), std::string::npos);
  EXPECT_NE(html.find("data-status=\"valid\""), std::string::npos);

  // The other statuses: the first version of a changed certificate, a suspended and a revoked
  // one, the expiring one and a document the ledger does not know.
  const fs::path d2 = c.dir() / "p2.json", d3 = c.dir() / "p3.json", d4 = c.dir() / "p4.json";
  ASSERT_EQ(RunCli(c.dir(),
                   {"tx", "change", "--node", n.api(0), "--key", n.key(0), "--doc", d1.string(),
                    "--annual-quantity", "1500000", "--out", d2.string()},
                   &out),
            0)
      << out;
  ASSERT_EQ(RunCli(c.dir(), IssueArgs(n, 0, 0, "PAGE0003", d3), &out), 0) << out;
  ASSERT_EQ(RunCli(c.dir(),
                   {"tx", "suspend", "--node", n.api(0), "--key", n.key(0), "--doc", d3.string(),
                    "--reason", "未按规定安装计量设施"},
                   &out),
            0)
      << out;
  ASSERT_EQ(RunCli(c.dir(), IssueArgs(n, 1, 1, "PAGE0004", d4), &out), 0) << out;
  ASSERT_EQ(RunCli(c.dir(),
                   {"tx", "revoke", "--node", n.api(1), "--key", n.key(1), "--doc", d4.string(),
                    "--reason", "拒不执行取水量限制", "--kind", "revoked"},
                   &out),
            0)
      << out;
  // The page is served by a node other than the one that took each transaction: wait for it.
  const int64_t top = std::max(c.Height(0), c.Height(1));
  ASSERT_TRUE(c.WaitHeight(2, top, 30000));
  ASSERT_TRUE(WaitFor(30000, [&] { return NowS() > expires_s; }));

  struct Case {
    std::string hash;
    std::string status;
    std::vector<std::string> want;  // more text the rendered DOM must hold
  };
  const std::string h1 = DocHash(d1), h2 = DocHash(d2), h3 = DocHash(d3), h4 = DocHash(d4);
  // The date of a status change, as the proven answer gives it.
  auto changed_on = [&](const std::string& h) {
    const Json j = GetAnswer(n, 2, h);
    return j.contains("status_changed") ? CstDate(j["status_changed"]["time_ms"].get<int64_t>())
                                        : std::string("(no status_changed in the answer)");
  };
  const std::vector<Case> cases = {
      {h1, "superseded", {"已被新版本取代", "href=\"/v/" + h2 + "\"", "第 2 版"}},
      {h3, "suspended", {"暂扣", "未按规定安装计量设施", "暂扣日期", changed_on(h3)}},
      {h4,
       "revoked",
       {"已吊销", "拒不执行取水量限制", "吊销日期", changed_on(h4),
        "吊销 <span lang=\"en\">revoked</span>"}},
      {h_expired, "expired", {"已过期"}},
      {Sha256(AsBytes("no such document")).Hex(), "unknown", {"未找到"}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.status);
    const fs::path log = c.dir() / ("dom-" + k.status + ".log");
    ASSERT_TRUE(chromium({"--dump-dom"}, log, n.api(2) + "/v/" + k.hash));
    const std::string got = ReadAll(log);
    EXPECT_NE(got.find("data-status=\"" + k.status + "\""), std::string::npos)
        << got.substr(0, 3000);
    for (const std::string& w : k.want) {
      EXPECT_NE(got.find(w), std::string::npos) << w << "\n" << got.substr(0, 3000);
    }
    // English marked as such: the status line's English part and the table headings.
    EXPECT_NE(got.find("<html lang=\"zh-CN\">"), std::string::npos);
    EXPECT_NE(got.find("<small lang=\"en\">"), std::string::npos);
    EXPECT_NE(got.find("<small lang=\"en\">Document hash</small>"), std::string::npos);
    EXPECT_NE(got.find("<span lang=\"en\">Water-abstraction permit verification</span>"),
              std::string::npos);
    // The link to the JSON proof, when it was checked and the block it rests on.
    EXPECT_NE(got.find("href=\"/v1/verify/" + k.hash + "\""), std::string::npos);
    EXPECT_NE(got.find("id=\"checked-at\""), std::string::npos);
    EXPECT_NE(got.find("id=\"block-hash\""), std::string::npos);
  }
}

}  // namespace
}  // namespace certledger::testing
