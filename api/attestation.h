// Accountable reads (docs/FORMAT.md §15): a node signs each verification answer with its node
// identity key, binding the request, the height of the header the answer rests on and the
// answer's hash. A signed answer that its own proofs contradict is evidence against its signer
// that anyone can check offline (tools/verify.h CheckEvidence).
//
// Two forms: version 1 signs one answer's digest; version 2 (the batch form) signs the RFC 9162
// Merkle root over the digests of several answers once, and each answer carries its inclusion
// path. AnswerSigner produces both from concurrent requests (group commit).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "ledger/crypto.h"
#include "ledger/status.h"

namespace certledger::api {

inline constexpr std::string_view kTagAnswer = "certledger/answer";
inline constexpr std::string_view kTagAnswerBatch = "certledger/answer-batch";

// The largest batch a verifier accepts (and an AnswerSigner forms), and the longest inclusion
// path such a batch can have (ceil(log2(kMaxAnswerBatch))).
inline constexpr uint32_t kMaxAnswerBatch = 65536;
inline constexpr size_t kMaxAnswerBatchPath = 16;

// SHA-256 of the answer's canonical JSON (RFC 8785 style: members sorted by key, no whitespace,
// integers only, strings UTF-8 with the minimal escapes) with its "attestation" member removed.
ledger::Hash256 AnswerHash(const nlohmann::json& answer);

// SigningDigest("certledger/answer", domain,
//               u8 1 || text request || u64 height || hash answer_hash)   (FORMAT.md §15)
// Version 1 signs it; version 2 uses it as the answer's leaf in the batch tree.
ledger::Hash256 AnswerSigningDigest(const ledger::ChainDomain& domain, std::string_view request,
                                    uint64_t height, const ledger::Hash256& answer_hash);

// The root of a batch: the RFC 9162 Merkle tree hash (FORMAT.md §7) over the leaves
// d_0..d_{n-1} (each an AnswerSigningDigest), i.e. over the leaf hashes SHA256(0x00 || d_i).
// REQUIRES: !leaves.empty().
ledger::Hash256 AnswerBatchRoot(std::span<const ledger::Hash256> leaves);

// SigningDigest("certledger/answer-batch", domain, u8 1 || u64 size || hash root)
// (FORMAT.md §15): what the node key signs in version 2.
ledger::Hash256 AnswerBatchSigningDigest(const ledger::ChainDomain& domain, uint64_t size,
                                         const ledger::Hash256& root);

// The batch member of a version-2 attestation: the answer is leaf `index` of a batch of `size`
// answers, and `path` is its RFC 9162 inclusion proof (sibling first, up to the root's child).
struct AnswerBatch {
  uint32_t size = 1;
  uint32_t index = 0;
  std::vector<ledger::Hash256> path;
  bool operator==(const AnswerBatch&) const = default;
};

struct Attestation {
  ledger::PublicKey node_key;
  std::string request;  // "GET /v1/verify/<64 lowercase hex>"
  uint64_t height = 0;
  ledger::Hash256 answer_hash;
  ledger::Signature signature;
  // Version 2 when present (the signature is then over the batch's AnswerBatchSigningDigest);
  // version 1 (the signature is over AnswerSigningDigest) when absent.
  std::optional<AnswerBatch> batch{};
};

// The JSON object put under the answer's "attestation" member: version 1 without a batch,
// version 2 with one.
nlohmann::json AttestationJson(const Attestation& a);

// Decodes answer["attestation"] (version 1 or 2) and checks it: the answer hash is the answer's,
// the height is `header_height`, the request is `request`, and the signature verifies under the
// node key (version 2: over the batch root recomputed from the answer's digest, index, size and
// path). InvalidArgument naming what is wrong; NotFound if the answer carries no attestation.
ledger::Result<Attestation> CheckAttestation(const nlohmann::json& answer,
                                             const ledger::ChainDomain& domain,
                                             std::string_view request, uint64_t header_height);

// One answer's signature as a signer made it: the attestation minus what the answer itself
// gives (request, height, answer hash).
struct SignedAnswer {
  ledger::PublicKey node_key;
  ledger::Signature signature;
  uint32_t size = 1;                  // 1: version 1 (the signature is over the leaf itself)
  uint32_t index = 0;                 // this digest's leaf index in the batch
  std::vector<ledger::Hash256> path;  // RFC 9162 inclusion path; empty when size == 1
};

// Signs a 32-byte digest with the node key: (key, signature), or nullopt if the node has no key
// (api::NodeService::SignAnswer has this shape).
using AnswerSignFn = std::function<std::optional<std::pair<ledger::PublicKey, ledger::Signature>>(
    const ledger::Hash256& digest)>;

// Signs `leaves` (AnswerSigningDigests of one domain) as one batch with one call of `sign`: a
// single leaf is signed as is (version 1); several are signed through their batch root
// (version 2), each result carrying its leaf's index and inclusion path. One result per leaf, in
// order; nullopt if `sign` gives no signature.
// REQUIRES: 1 <= leaves.size() <= kMaxAnswerBatch.
std::optional<std::vector<SignedAnswer>> SignAnswerBatch(const ledger::ChainDomain& domain,
                                                         std::span<const ledger::Hash256> leaves,
                                                         const AnswerSignFn& sign);

// Signs answer digests in batches on a thread of its own, at most one signature per
// `min_interval`: a digest that arrives when the signer is idle and its last signature is older
// than `min_interval` is signed at once (a batch of one: version 1, as without a signer); the
// digests that arrive meanwhile wait and are signed together (version 2) once `min_interval` has
// passed since the previous signature. An idle node thus adds no delay, and under load the
// signatures cost at most 1/min_interval per second (1 ms: about a thousand, a few percent of a
// core) whatever the answer rate, for at most `min_interval` of added latency. A batch holds at
// most `max_batch` digests, all of one domain (the oldest queued digest's; the others wait for
// the next round, in order).
// `done` is called exactly once per Sign, on the signer's thread, never with its lock held (it
// may call Sign again). The destructor signs what is queued, then stops the thread.
class AnswerSigner {
 public:
  using Signed = SignedAnswer;
  using SignFn = AnswerSignFn;
  using Done = std::function<void(std::optional<Signed>)>;

  // `max_batch` is clamped to [1, kMaxAnswerBatch].
  AnswerSigner(SignFn sign, std::chrono::microseconds min_interval, size_t max_batch = 4096);
  ~AnswerSigner();
  AnswerSigner(const AnswerSigner&) = delete;
  AnswerSigner& operator=(const AnswerSigner&) = delete;

  // `leaf` = AnswerSigningDigest(domain, request, height, answer_hash). `done` receives the
  // signature (and the batch position), or nullopt if the SignFn gave none.
  void Sign(const ledger::ChainDomain& domain, const ledger::Hash256& leaf, Done done);

 private:
  struct Pending {
    ledger::ChainDomain domain;
    ledger::Hash256 leaf;
    Done done;
  };
  void Run();
  // Signs `batch` (one domain, non-empty) and calls every `done`. Called without the lock.
  void SignBatch(std::vector<Pending>& batch) const;

  const SignFn sign_;
  const std::chrono::microseconds min_interval_;
  const size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;           // guarded by mu_
  bool idle_ = false;           // guarded by mu_: the thread waits for a first queued digest
  std::vector<Pending> queue_;  // guarded by mu_: arrival order
  std::thread thread_;          // last: starts once the members above exist
};

// The attestation of an answer signed by an AnswerSigner or SignAnswerBatch: version 1 when the
// batch has one answer, else version 2.
Attestation MakeAttestation(const SignedAnswer& s, std::string request, uint64_t height,
                            const ledger::Hash256& answer_hash);

}  // namespace certledger::api
