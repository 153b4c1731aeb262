// Signed verification answers, the batch form (docs/FORMAT.md §15, version 2), and the group
// commit signer (api::AnswerSigner). The version-1 worked example is in json_test.cc.
#include "api/attestation.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ledger/merkle.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::testing {
namespace {

using Json = nlohmann::json;

ChainDomain ExampleDomain() {
  ChainDomain domain{"cn-water-1", {}};
  domain.genesis_hash.bytes.fill(0x11);
  return domain;
}

std::string RequestFor(const std::string& two_hex) {
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += two_hex;
  return "GET /v1/verify/" + hex;
}

api::AnswerSignFn SignWith(const PrivateKey& key) {
  return [key](const Hash256& digest) -> std::optional<std::pair<PublicKey, Signature>> {
    return std::pair{key.public_key(), key.Sign(digest)};
  };
}

// An answer of the kind a node signs: its request, the height of its header and its text.
struct TestAnswer {
  std::string request;
  uint64_t height = 0;
  Json answer;

  [[nodiscard]] Hash256 Leaf(const ChainDomain& domain) const {
    return api::AnswerSigningDigest(domain, request, height, api::AnswerHash(answer));
  }
  // The answer with `s` attached as its attestation.
  [[nodiscard]] Json Signed(const api::SignedAnswer& s) const {
    Json out = answer;
    out["attestation"] =
        api::AttestationJson(api::MakeAttestation(s, request, height, api::AnswerHash(answer)));
    return out;
  }
};

TestAnswer MakeAnswer(size_t i) {
  const Hash256 doc = Sha256(AsBytes("document " + std::to_string(i)));
  return {"GET /v1/verify/" + doc.Hex(), 5 + i % 3,
          Json{{"document_hash", doc.Hex()}, {"n", i}, {"status", "valid"}}};
}

// FORMAT.md §15, the batch example: three answers at height 7 on the chain of the version-1
// example, signed as one batch with secret key 00…01 and auxiliary randomness of 32 zero bytes.
TEST(AttestationTest, BatchFormatExample) {
  const ChainDomain domain = ExampleDomain();
  const std::vector<std::pair<std::string, std::string>> answers = {
      {R"({"a":1,"b":"水"})", "ab"}, {R"({"a":2})", "cd"}, {R"({"a":3})", "ef"}};
  std::vector<Hash256> leaves;
  for (const auto& [text, hex] : answers) {
    const Json answer = Json::parse(text);
    ASSERT_EQ(answer.dump(), text);
    leaves.push_back(api::AnswerSigningDigest(domain, RequestFor(hex), 7, api::AnswerHash(answer)));
  }
  EXPECT_EQ(api::AnswerHash(Json::parse(answers[1].first)).Hex(),
            "7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c");
  EXPECT_EQ(api::AnswerHash(Json::parse(answers[2].first)).Hex(),
            "70778ce01ad8d1a82c80a3500bee476f34651238edeb936c4a7b0161b1395169");
  // d_0 is the digest of the version-1 example.
  EXPECT_EQ(leaves[0].Hex(), "e89fd64704860f368579a9bb6bc2ee04409e6f02584d7eceb4a94775737a1e53");
  EXPECT_EQ(leaves[1].Hex(), "ee9c4dab8a8e43e0715102ddd6ede53c6e7f336eff5c1c6c84c851e2a1162fd1");
  EXPECT_EQ(leaves[2].Hex(), "f8fcead129219c88aef65f6a6568e64fe3884ec32f05b59314fd189b02d60931");
  std::vector<Hash256> leaf_hashes;
  for (const auto& d : leaves) leaf_hashes.push_back(MerkleLeafHash(d.span()));
  EXPECT_EQ(leaf_hashes[0].Hex(),
            "d4f3460b3c162b4a6db3f1e3f6551d7b53f95c9b31fb23415474b81f36a9a522");
  EXPECT_EQ(leaf_hashes[1].Hex(),
            "b32b3ae503eed6ca596632bd05ac5cdab075b99f1ed1a22b8da03cce96b7f99f");
  EXPECT_EQ(leaf_hashes[2].Hex(),
            "3a746489543d505fd97d3683599e15a02a6752494d733005d1190a120a20f046");
  const Hash256 n01 = MerkleNodeHash(leaf_hashes[0], leaf_hashes[1]);
  EXPECT_EQ(n01.Hex(), "1681a0d46d5e7ce24de03c60a6d028082ec7a5f8fe1f7e13900245d7c14f9630");
  const Hash256 root = api::AnswerBatchRoot(leaves);
  EXPECT_EQ(root, MerkleNodeHash(n01, leaf_hashes[2]));
  EXPECT_EQ(root.Hex(), "057a011ca8f19244220c3f6b3b4f74275ac9ca2a8fecfe28dd45311a7442e4b5");
  // SigningDigest("certledger/answer-batch", domain, 01 || 0300000000000000 || root).
  Bytes payload = *FromHex("010300000000000000" + root.Hex());
  const Hash256 digest = api::AnswerBatchSigningDigest(domain, 3, root);
  EXPECT_EQ(digest, SigningDigest("certledger/answer-batch", domain, payload));
  EXPECT_EQ(digest.Hex(), "05e8e63ef86ab2e88322cb454afa35cc4c9cbced63ac00d66216c12fd0ea21f2");

  Bytes secret(32, 0);
  secret[31] = 1;
  const PrivateKey key = *PrivateKey::FromBytes(secret);
  const Bytes zero_aux(32, 0);
  const Signature sig = key.Sign(digest.span(), zero_aux);
  EXPECT_EQ(sig.Hex(),
            "43c2e5a10e64147f517903e446d4d43a48390289636df89818ea3c8a83b2a019"
            "249594f881331e431ead82525c0dcee0880a73f66e1449275121c893c6df967b");

  // SignAnswerBatch makes the same root and these paths (from the leaf's sibling upwards).
  auto fixed = [&](const Hash256& d) -> std::optional<std::pair<PublicKey, Signature>> {
    return std::pair{key.public_key(), key.Sign(d.span(), zero_aux)};
  };
  auto batch = api::SignAnswerBatch(domain, leaves, fixed);
  ASSERT_TRUE(batch.has_value());
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_EQ((*batch)[0].path, (std::vector<Hash256>{leaf_hashes[1], leaf_hashes[2]}));
  EXPECT_EQ((*batch)[1].path, (std::vector<Hash256>{leaf_hashes[0], leaf_hashes[2]}));
  EXPECT_EQ((*batch)[2].path, (std::vector<Hash256>{n01}));
  for (const auto& s : *batch) {
    EXPECT_EQ(s.signature, sig);
    EXPECT_EQ(s.size, 3u);
  }

  // The signed answer 1 as a client receives it, and its check.
  const std::string text =
      R"({"a":2,"attestation":{"answer_hash":"7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c",)"
      R"("batch":{"index":1,"path":["d4f3460b3c162b4a6db3f1e3f6551d7b53f95c9b31fb23415474b81f36a9a522",)"
      R"("3a746489543d505fd97d3683599e15a02a6752494d733005d1190a120a20f046"],"size":3},"height":7,)"
      R"("node_key":"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",)"
      R"("request":"GET /v1/verify/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",)"
      R"("signature":"43c2e5a10e64147f517903e446d4d43a48390289636df89818ea3c8a83b2a019249594f881331e431ead82525c0dcee0880a73f66e1449275121c893c6df967b",)"
      R"("version":2}})";
  Json signed_answer = Json::parse(answers[1].first);
  signed_answer["attestation"] = api::AttestationJson(
      api::MakeAttestation((*batch)[1], RequestFor("cd"), 7, api::AnswerHash(signed_answer)));
  EXPECT_EQ(signed_answer.dump(), text);
  auto checked = api::CheckAttestation(Json::parse(text), domain, RequestFor("cd"), 7);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  ASSERT_TRUE(checked->batch.has_value());
  EXPECT_EQ(checked->batch->index, 1u);
  EXPECT_EQ(checked->batch->size, 3u);
  EXPECT_EQ(checked->node_key, key.public_key());
}

// Every answer of batches of 1 to 9 verifies; changing any field of any of them is refused.
TEST(AttestationTest, BatchRoundTripAndTampering) {
  const ChainDomain domain = ExampleDomain();
  const PrivateKey key = TestKey("node-0");
  const PrivateKey other = TestKey("node-1");
  for (size_t n = 1; n <= 9; ++n) {
    std::vector<TestAnswer> answers;
    std::vector<Hash256> leaves;
    for (size_t i = 0; i < n; ++i) {
      answers.push_back(MakeAnswer(i));
      leaves.push_back(answers.back().Leaf(domain));
    }
    auto batch = api::SignAnswerBatch(domain, leaves, SignWith(key));
    ASSERT_TRUE(batch.has_value());
    ASSERT_EQ(batch->size(), n);
    for (size_t i = 0; i < n; ++i) {
      SCOPED_TRACE("batch of " + std::to_string(n) + ", index " + std::to_string(i));
      const TestAnswer& a = answers[i];
      const Json good = a.Signed((*batch)[i]);
      const Json& att = good["attestation"];
      EXPECT_EQ(att["version"], n == 1 ? 1 : 2);
      EXPECT_EQ(att.contains("batch"), n > 1);
      auto ok = api::CheckAttestation(good, domain, a.request, a.height);
      ASSERT_TRUE(ok.ok()) << ok.status().ToString();
      EXPECT_EQ(ok->batch.has_value(), n > 1);
      // Through text, as clients see it.
      EXPECT_TRUE(
          api::CheckAttestation(Json::parse(good.dump()), domain, a.request, a.height).ok());
      // Another domain: refused.
      ChainDomain other_domain = domain;
      other_domain.genesis_hash.bytes[0] ^= 1;
      EXPECT_FALSE(api::CheckAttestation(good, other_domain, a.request, a.height).ok());

      // Each altered answer, and the request/height the verifier then expects.
      struct Case {
        std::string what;
        Json answer;
        std::string request;
        uint64_t height;
      };
      std::vector<Case> cases;
      auto altered = [&](const std::string& what, auto&& edit) {
        Case c{what, good, a.request, a.height};
        edit(c);
        cases.push_back(std::move(c));
      };
      altered("answer_hash", [](Case& c) {
        auto h = c.answer["attestation"]["answer_hash"].get<std::string>();
        h[0] = h[0] == '0' ? '1' : '0';
        c.answer["attestation"]["answer_hash"] = h;
      });
      altered("answer", [](Case& c) { c.answer["status"] = "revoked"; });
      altered("height", [](Case& c) {
        c.height += 1;
        c.answer["attestation"]["height"] = c.height;
      });
      altered("request", [&](Case& c) {
        c.request = MakeAnswer(100).request;
        c.answer["attestation"]["request"] = c.request;
      });
      altered("signature", [](Case& c) {
        auto s = c.answer["attestation"]["signature"].get<std::string>();
        s[10] = s[10] == '0' ? '1' : '0';
        c.answer["attestation"]["signature"] = s;
      });
      altered("node_key",
              [&](Case& c) { c.answer["attestation"]["node_key"] = other.public_key().Hex(); });
      altered("version", [&](Case& c) { c.answer["attestation"]["version"] = n == 1 ? 2 : 1; });
      altered("version 3", [&](Case& c) { c.answer["attestation"]["version"] = 3; });
      if (n == 1) {
        // A version-1 signature presented as a batch of one.
        altered("batch of one", [](Case& c) {
          c.answer["attestation"]["version"] = 2;
          c.answer["attestation"]["batch"] =
              Json{{"size", 1}, {"index", 0}, {"path", Json::array()}};
        });
      } else {
        for (size_t j = 0; j <= n; ++j) {
          if (j == i) continue;
          altered("index " + std::to_string(j),
                  [&](Case& c) { c.answer["attestation"]["batch"]["index"] = j; });
        }
        for (uint64_t size : {uint64_t{0}, uint64_t{1}, n - 1, n + 1, uint64_t{2 * n},
                              uint64_t{65537}, uint64_t{1} << 40}) {
          if (size == n) continue;
          altered("size " + std::to_string(size),
                  [&](Case& c) { c.answer["attestation"]["batch"]["size"] = size; });
        }
        const size_t path_len = (*batch)[i].path.size();
        for (size_t k = 0; k < path_len; ++k) {
          altered("path[" + std::to_string(k) + "]", [&](Case& c) {
            auto h = c.answer["attestation"]["batch"]["path"][k].get<std::string>();
            h[63] = h[63] == '0' ? '1' : '0';
            c.answer["attestation"]["batch"]["path"][k] = h;
          });
          altered("path[" + std::to_string(k) + "] not hex",
                  [&](Case& c) { c.answer["attestation"]["batch"]["path"][k] = "zz"; });
        }
        altered("path one longer", [](Case& c) {
          c.answer["attestation"]["batch"]["path"].push_back(std::string(64, '0'));
        });
        altered("path one shorter", [](Case& c) {
          Json& p = c.answer["attestation"]["batch"]["path"];
          p.erase(p.size() - 1);
        });
        altered("path reversed", [path_len](Case& c) {
          if (path_len < 2) {
            c.answer["attestation"]["batch"]["path"][0] = std::string(64, 'f');
            return;
          }
          Json& p = c.answer["attestation"]["batch"]["path"];
          std::reverse(p.begin(), p.end());
        });
        altered("no batch", [](Case& c) { c.answer["attestation"].erase("batch"); });
        altered("index negative", [](Case& c) { c.answer["attestation"]["batch"]["index"] = -1; });
        altered("path not an array",
                [](Case& c) { c.answer["attestation"]["batch"]["path"] = "x"; });
      }
      for (const Case& c : cases) {
        auto r = api::CheckAttestation(c.answer, domain, c.request, c.height);
        EXPECT_FALSE(r.ok()) << c.what << " accepted";
        if (!r.ok()) {
          EXPECT_EQ(r.status().code(), ledger::Status::Code::kInvalidArgument) << c.what;
          EXPECT_EQ(r.status().message().rfind("attestation: ", 0), 0u) << r.status().ToString();
        }
      }
    }
  }
}

// The messages name the fault.
TEST(AttestationTest, BatchErrorMessages) {
  const ChainDomain domain = ExampleDomain();
  const PrivateKey key = TestKey("node-0");
  std::vector<TestAnswer> answers;
  std::vector<Hash256> leaves;
  for (size_t i = 0; i < 5; ++i) {
    answers.push_back(MakeAnswer(i));
    leaves.push_back(answers.back().Leaf(domain));
  }
  auto batch = api::SignAnswerBatch(domain, leaves, SignWith(key));
  ASSERT_TRUE(batch.has_value());
  const TestAnswer& a = answers[4];
  const Json good = a.Signed((*batch)[4]);
  auto message = [&](auto&& edit) {
    Json j = good;
    edit(j["attestation"]);
    auto r = api::CheckAttestation(j, domain, a.request, a.height);
    return r.ok() ? std::string("accepted") : r.status().message();
  };
  EXPECT_EQ(message([](Json& t) { t["batch"]["index"] = 5; }),
            "attestation: batch index 5 is not below the batch size 5");
  EXPECT_EQ(message([](Json& t) { t["batch"]["size"] = 65537; }),
            "attestation: batch size 65537 is not between 1 and 65536");
  EXPECT_EQ(message([](Json& t) { t["batch"]["size"] = 0; }),
            "attestation: batch size 0 is not between 1 and 65536");
  EXPECT_EQ(message([](Json& t) { t["batch"]["path"].push_back(std::string(64, '0')); }),
            "attestation: batch path has 2 hashes; leaf 4 of a batch of 5 needs 1");
  EXPECT_EQ(message([](Json& t) { t["batch"]["path"][0] = "xyz"; }),
            "attestation: batch.path[0] is not a 64-hex-digit hash");
  EXPECT_EQ(message([](Json& t) { t.erase("batch"); }),
            "attestation: version 2 needs a batch object");
  EXPECT_EQ(message([](Json& t) { t["version"] = 1; }),
            "attestation: version 1 carries no batch (batches are version 2)");
  EXPECT_EQ(message([](Json& t) { t["batch"]["path"][0] = std::string(64, '0'); }),
            "attestation: the batch signature by " + key.public_key().Hex() +
                " does not verify for leaf 4 of a batch of 5 (answer, index, size or path "
                "altered, or not signed)");
  // A path of the maximum batch size is 16 hashes; longer ones are refused before any hashing.
  EXPECT_EQ(message([](Json& t) {
              t["batch"]["size"] = 65536;
              t["batch"]["index"] = 0;
              t["batch"]["path"] = Json::array();
              for (int k = 0; k < 17; ++k) t["batch"]["path"].push_back(std::string(64, '0'));
            }),
            "attestation: batch path has 17 hashes; leaf 0 of a batch of 65536 needs 16");
}

// The batch tree is the event log's RFC 9162 tree: paths agree with ledger::MerkleLog's and
// verify with ledger::VerifyInclusion.
TEST(AttestationTest, BatchTreeIsTheLogTree) {
  const ChainDomain domain = ExampleDomain();
  const PrivateKey key = TestKey("node-0");
  for (size_t n : {2u, 3u, 7u, 8u, 33u, 100u}) {
    std::vector<Hash256> leaves;
    for (size_t i = 0; i < n; ++i) leaves.push_back(Sha256(AsBytes(std::to_string(i))));
    auto batch = api::SignAnswerBatch(domain, leaves, SignWith(key));
    ASSERT_TRUE(batch.has_value());
    const Hash256 root = api::AnswerBatchRoot(leaves);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(VerifyInclusion(i, n, MerkleLeafHash(leaves[i].span()), (*batch)[i].path, root))
          << n << " " << i;
    }
    EXPECT_TRUE(Verify(key.public_key(), api::AnswerBatchSigningDigest(domain, n, root),
                       (*batch)[0].signature));
  }
}

// ---- AnswerSigner ----

// Collects what each `done` receives, by caller, and counts the calls.
struct Results {
  std::mutex mu;
  std::condition_variable cv;
  std::map<size_t, std::optional<api::SignedAnswer>> by_caller;
  std::map<size_t, int> calls;
  size_t total = 0;

  api::AnswerSigner::Done For(size_t caller) {
    return [this, caller](std::optional<api::SignedAnswer> s) {
      std::lock_guard lock(mu);
      ++calls[caller];
      ++total;
      by_caller[caller] = std::move(s);
      cv.notify_all();
    };
  }
  int CallsOf(size_t caller) {
    std::lock_guard lock(mu);
    return calls.count(caller) ? calls[caller] : 0;
  }
  // Waits (bounded) until `n` dones have run.
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(20), [&] { return total >= n; });
  }
};

// A SignFn whose first call blocks until the test releases it (bounded), and that records the
// size of every batch it signs (by the digest it is given, matched afterwards).
class GatedSigner {
 public:
  explicit GatedSigner(PrivateKey key) : key_(std::move(key)) {}

  api::AnswerSignFn Fn() {
    return [this](const Hash256& digest) -> std::optional<std::pair<PublicKey, Signature>> {
      {
        std::unique_lock lock(mu_);
        digests_.push_back(digest);
        if (!entered_) {
          entered_ = true;
          cv_.notify_all();
          if (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return released_; })) {
            timed_out_ = true;
          }
        }
      }
      if (no_key_) return std::nullopt;
      return std::pair{key_.public_key(), key_.Sign(digest)};
    };
  }
  // Waits (bounded) until the first signature is being made.
  bool WaitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  size_t Calls() {
    std::lock_guard lock(mu_);
    return digests_.size();
  }
  bool TimedOut() {
    std::lock_guard lock(mu_);
    return timed_out_;
  }
  void SetNoKey() { no_key_ = true; }
  [[nodiscard]] const PrivateKey& key() const { return key_; }

 private:
  PrivateKey key_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Hash256> digests_;
  bool entered_ = false;
  bool released_ = false;
  bool timed_out_ = false;
  std::atomic<bool> no_key_{false};
};

using std::chrono_literals::operator""ms;

// Digests that arrive while a signature is being made wait, and are then signed together as
// one batch; every answer verifies.
TEST(AttestationSignerTest, QueuedWhileSigningFormOneBatch) {
  const ChainDomain domain = ExampleDomain();
  GatedSigner gate(TestKey("node-0"));
  api::AnswerSigner signer(gate.Fn(), 0ms);
  constexpr size_t kQueued = 6;
  std::vector<TestAnswer> answers;
  for (size_t i = 0; i <= kQueued; ++i) answers.push_back(MakeAnswer(i));
  Results results;
  signer.Sign(domain, answers[0].Leaf(domain), results.For(0));
  ASSERT_TRUE(gate.WaitEntered());
  for (size_t i = 1; i <= kQueued; ++i) {
    signer.Sign(domain, answers[i].Leaf(domain), results.For(i));
    EXPECT_EQ(results.CallsOf(i), 0);  // queued: Sign returns at once
  }
  gate.Release();
  ASSERT_TRUE(results.WaitFor(kQueued + 1));
  EXPECT_FALSE(gate.TimedOut());
  // Two signatures: the first digest alone, then the six queued ones.
  EXPECT_EQ(gate.Calls(), 2u);
  std::set<uint32_t> indices;
  for (size_t i = 0; i <= kQueued; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(results.CallsOf(i), 1);
    ASSERT_TRUE(results.by_caller[i].has_value());
    const api::SignedAnswer& s = *results.by_caller[i];
    if (i == 0) {
      EXPECT_EQ(s.size, 1u);
      EXPECT_TRUE(s.path.empty());
    } else {
      EXPECT_EQ(s.size, kQueued);
      indices.insert(s.index);
    }
    const Json signed_answer = answers[i].Signed(s);
    EXPECT_EQ(signed_answer["attestation"]["version"], i == 0 ? 1 : 2);
    auto r = api::CheckAttestation(signed_answer, domain, answers[i].request, answers[i].height);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      EXPECT_EQ(r->node_key, gate.key().public_key());
    }
  }
  EXPECT_EQ(indices.size(), kQueued);  // every index once
}

// More queued than max_batch: batches of max_batch, in arrival order; a last batch of one is
// version 1. Digests of another domain are never mixed into a batch.
TEST(AttestationSignerTest, MaxBatchAndDomains) {
  const ChainDomain domain = ExampleDomain();
  ChainDomain other = domain;
  other.chain_id = "cn-water-2";
  GatedSigner gate(TestKey("node-0"));
  api::AnswerSigner signer(gate.Fn(), 0ms, /*max_batch=*/3);
  // Digest 0 is signed first; 1..9 queue, 3 and 6 of `other`, the rest of `domain`.
  std::vector<TestAnswer> answers;
  std::vector<const ChainDomain*> domains;
  for (size_t i = 0; i < 10; ++i) {
    answers.push_back(MakeAnswer(i));
    domains.push_back(i == 3 || i == 6 ? &other : &domain);
  }
  Results results;
  signer.Sign(domain, answers[0].Leaf(domain), results.For(0));
  ASSERT_TRUE(gate.WaitEntered());
  for (size_t i = 1; i < answers.size(); ++i) {
    signer.Sign(*domains[i], answers[i].Leaf(*domains[i]), results.For(i));
  }
  gate.Release();
  ASSERT_TRUE(results.WaitFor(answers.size()));
  EXPECT_FALSE(gate.TimedOut());
  // Rounds: {0}; {1,2,4} (3 is of the other domain); {3,6} of other; {5,7,8}; {9}.
  EXPECT_EQ(gate.Calls(), 5u);
  const std::map<size_t, std::pair<uint32_t, uint32_t>> want = {
      {0, {1, 0}}, {1, {3, 0}}, {2, {3, 1}}, {4, {3, 2}}, {3, {2, 0}},
      {6, {2, 1}}, {5, {3, 0}}, {7, {3, 1}}, {8, {3, 2}}, {9, {1, 0}}};
  for (size_t i = 0; i < answers.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(results.CallsOf(i), 1);
    ASSERT_TRUE(results.by_caller[i].has_value());
    const api::SignedAnswer& s = *results.by_caller[i];
    EXPECT_EQ(std::pair(s.size, s.index), want.at(i));
    const Json j = answers[i].Signed(s);
    auto r = api::CheckAttestation(j, *domains[i], answers[i].request, answers[i].height);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    const ChainDomain& wrong = domains[i] == &domain ? other : domain;
    EXPECT_FALSE(api::CheckAttestation(j, wrong, answers[i].request, answers[i].height).ok());
  }
}

// The pace: after a signature, digests wait until min_interval has passed and are then signed
// as one batch, however they trickle in.
TEST(AttestationSignerTest, AtMostOneSignaturePerInterval) {
  const ChainDomain domain = ExampleDomain();
  const PrivateKey key = TestKey("node-0");
  std::atomic<size_t> signatures{0};
  api::AnswerSigner signer(
      [&](const Hash256& d) -> std::optional<std::pair<PublicKey, Signature>> {
        ++signatures;
        return std::pair{key.public_key(), key.Sign(d)};
      },
      500ms);
  Results results;
  std::vector<TestAnswer> answers;
  for (size_t i = 0; i < 6; ++i) answers.push_back(MakeAnswer(i));
  const auto start = std::chrono::steady_clock::now();
  signer.Sign(domain, answers[0].Leaf(domain), results.For(0));
  ASSERT_TRUE(results.WaitFor(1));  // idle: signed at once
  for (size_t i = 1; i < answers.size(); ++i) {
    signer.Sign(domain, answers[i].Leaf(domain), results.For(i));
  }
  ASSERT_TRUE(results.WaitFor(answers.size()));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_EQ(signatures.load(), 2u);
  for (size_t i = 1; i < answers.size(); ++i) {
    ASSERT_TRUE(results.by_caller[i].has_value());
    EXPECT_EQ(results.by_caller[i]->size, answers.size() - 1);
    auto r = api::CheckAttestation(answers[i].Signed(*results.by_caller[i]), domain,
                                   answers[i].request, answers[i].height);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
}

// A node without a key: every caller, queued or not, gets nullopt exactly once.
TEST(AttestationSignerTest, NoKeyGivesNullopt) {
  const ChainDomain domain = ExampleDomain();
  GatedSigner gate(TestKey("node-0"));
  gate.SetNoKey();
  api::AnswerSigner signer(gate.Fn(), 0ms);
  Results results;
  signer.Sign(domain, Sha256(AsBytes("0")), results.For(0));
  ASSERT_TRUE(gate.WaitEntered());
  for (size_t i = 1; i < 4; ++i) signer.Sign(domain, Sha256(AsBytes("x")), results.For(i));
  gate.Release();
  ASSERT_TRUE(results.WaitFor(4));
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(results.CallsOf(i), 1);
    EXPECT_FALSE(results.by_caller[i].has_value());
  }
}

// A `done` that calls Sign again (on the signer's thread): queued and signed in a later round.
TEST(AttestationSignerTest, ReentrantDone) {
  const ChainDomain domain = ExampleDomain();
  const PrivateKey key = TestKey("node-0");
  api::AnswerSigner signer(SignWith(key), 0ms);
  const TestAnswer a = MakeAnswer(0);
  const TestAnswer b = MakeAnswer(1);
  Results results;
  auto first = results.For(0);
  signer.Sign(domain, a.Leaf(domain), [&, first](std::optional<api::SignedAnswer> s) {
    signer.Sign(domain, b.Leaf(domain), results.For(1));
    first(std::move(s));
  });
  ASSERT_TRUE(results.WaitFor(2));
  for (size_t i = 0; i < 2; ++i) {
    const TestAnswer& t = i == 0 ? a : b;
    ASSERT_TRUE(results.by_caller[i].has_value());
    auto r = api::CheckAttestation(t.Signed(*results.by_caller[i]), domain, t.request, t.height);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
}

// Many threads signing many answers with a real key: every `done` runs exactly once (the last
// ones while the signer is destroyed), and every answer verifies, whatever batches formed.
TEST(AttestationSignerTest, ManyThreadsEveryDoneOnce) {
  const ChainDomain domain = ExampleDomain();
  const PrivateKey key = TestKey("node-0");
  std::atomic<size_t> signatures{0};
  constexpr size_t kThreads = 4;
  constexpr size_t kPerThread = 150;
  std::vector<TestAnswer> answers;
  for (size_t i = 0; i < kThreads * kPerThread; ++i) answers.push_back(MakeAnswer(i));
  Results results;
  {
    api::AnswerSigner signer(
        [&](const Hash256& d) -> std::optional<std::pair<PublicKey, Signature>> {
          ++signatures;
          return std::pair{key.public_key(), key.Sign(d)};
        },
        1ms);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (size_t k = 0; k < kPerThread; ++k) {
          const size_t i = t * kPerThread + k;
          signer.Sign(domain, answers[i].Leaf(domain), results.For(i));
        }
      });
    }
    for (auto& th : threads) th.join();
  }  // the destructor signs what is still queued
  size_t batched = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    ASSERT_EQ(results.CallsOf(i), 1) << i;
    ASSERT_TRUE(results.by_caller[i].has_value());
    if (results.by_caller[i]->size > 1) ++batched;
    auto r = api::CheckAttestation(answers[i].Signed(*results.by_caller[i]), domain,
                                   answers[i].request, answers[i].height);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
  }
  EXPECT_LT(signatures.load(), answers.size());
  std::printf("%zu answers, %zu signatures, %zu answers in batches of more than one\n",
              answers.size(), signatures.load(), batched);
}

}  // namespace
}  // namespace certledger::testing
