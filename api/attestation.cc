#include "api/attestation.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <optional>

#include "ledger/coding.h"
#include "ledger/merkle.h"

namespace certledger::api {

using Json = nlohmann::json;
using ledger::Status;

ledger::Hash256 AnswerHash(const Json& answer) {
  if (answer.is_object() && answer.contains("attestation")) {
    Json copy = answer;
    copy.erase("attestation");
    return ledger::Sha256(
        ledger::AsBytes(copy.dump(-1, ' ', false, Json::error_handler_t::replace)));
  }
  return ledger::Sha256(
      ledger::AsBytes(answer.dump(-1, ' ', false, Json::error_handler_t::replace)));
}

ledger::Hash256 AnswerSigningDigest(const ledger::ChainDomain& domain, std::string_view request,
                                    uint64_t height, const ledger::Hash256& answer_hash) {
  ledger::Bytes p;
  p.reserve(1 + 4 + request.size() + 8 + 32);
  p.push_back(1);
  ledger::PutLengthPrefixed(&p, ledger::AsBytes(request));
  ledger::PutFixed64(&p, height);
  p.insert(p.end(), answer_hash.bytes.begin(), answer_hash.bytes.end());
  return ledger::SigningDigest(kTagAnswer, domain, p);
}

ledger::Hash256 AnswerBatchRoot(std::span<const ledger::Hash256> leaves) {
  std::vector<ledger::Hash256> leaf_hashes;
  leaf_hashes.reserve(leaves.size());
  for (const auto& d : leaves) leaf_hashes.push_back(ledger::MerkleLeafHash(d.span()));
  return ledger::MerkleRootOf(leaf_hashes);
}

ledger::Hash256 AnswerBatchSigningDigest(const ledger::ChainDomain& domain, uint64_t size,
                                         const ledger::Hash256& root) {
  ledger::Bytes p;
  p.reserve(1 + 8 + 32);
  p.push_back(1);
  ledger::PutFixed64(&p, size);
  p.insert(p.end(), root.bytes.begin(), root.bytes.end());
  return ledger::SigningDigest(kTagAnswerBatch, domain, p);
}

Json AttestationJson(const Attestation& a) {
  Json j{{"version", a.batch ? 2 : 1},
         {"node_key", a.node_key.Hex()},
         {"request", a.request},
         {"height", a.height},
         {"answer_hash", a.answer_hash.Hex()},
         {"signature", a.signature.Hex()}};
  if (a.batch) {
    Json path = Json::array();
    for (const auto& h : a.batch->path) path.push_back(h.Hex());
    j["batch"] =
        Json{{"size", a.batch->size}, {"index", a.batch->index}, {"path", std::move(path)}};
  }
  return j;
}

static_assert(kMaxAnswerBatchPath == std::bit_width(kMaxAnswerBatch - 1u));

namespace {

// The length of the RFC 9162 inclusion path of leaf `index` in a tree of `size` leaves:
// the levels below the point where the leaf's path and the last leaf's path part, plus one for
// each complete left subtree on the right border above it.
// REQUIRES: index < size.
size_t InclusionPathLength(uint64_t index, uint64_t size) {
  const auto inner = static_cast<unsigned>(std::bit_width(index ^ (size - 1)));
  return inner + static_cast<size_t>(std::popcount(index >> inner));
}

// The root that `path` leads to from `leaf_hash` at `index` in a tree of `size` leaves (RFC 9162
// §2.1.3.2, the computation ledger::VerifyInclusion performs before it compares; that function
// does not return the root, which the signature check needs).
// REQUIRES: index < size and path.size() == InclusionPathLength(index, size).
ledger::Hash256 RootFromInclusionPath(uint64_t index, uint64_t size,
                                      const ledger::Hash256& leaf_hash,
                                      std::span<const ledger::Hash256> path) {
  uint64_t fn = index;
  uint64_t sn = size - 1;
  ledger::Hash256 r = leaf_hash;
  for (const ledger::Hash256& p : path) {
    if ((fn & 1) != 0 || fn == sn) {
      r = ledger::MerkleNodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {  // the right border: skip levels with no sibling
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = ledger::MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return r;
}

// A non-negative integer member (JSON built in memory holds small integers as signed ones;
// parsed text holds them as unsigned).
std::optional<uint64_t> NonNegative(const Json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  const Json& v = j[key];
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(v.get<int64_t>());
  }
  return std::nullopt;
}

// Decodes and checks attestation["batch"] of a version-2 attestation; InvalidArgument naming the
// fault.
ledger::Result<AnswerBatch> DecodeBatch(const Json& j) {
  if (!j.contains("batch") || !j["batch"].is_object()) {
    return Status::InvalidArgument("attestation: version 2 needs a batch object");
  }
  const Json& b = j["batch"];
  const std::optional<uint64_t> size_member = NonNegative(b, "size");
  const std::optional<uint64_t> index_member = NonNegative(b, "index");
  if (!size_member || !index_member) {
    return Status::InvalidArgument(
        "attestation: batch.size and batch.index must be non-negative integers");
  }
  const uint64_t size = *size_member;
  const uint64_t index = *index_member;
  if (size < 1 || size > kMaxAnswerBatch) {
    return Status::InvalidArgument("attestation: batch size " + std::to_string(size) +
                                   " is not between 1 and " + std::to_string(kMaxAnswerBatch));
  }
  if (index >= size) {
    return Status::InvalidArgument("attestation: batch index " + std::to_string(index) +
                                   " is not below the batch size " + std::to_string(size));
  }
  if (!b.contains("path") || !b["path"].is_array()) {
    return Status::InvalidArgument("attestation: batch.path must be an array");
  }
  const Json& path = b["path"];
  const size_t want = InclusionPathLength(index, size);
  if (path.size() != want) {
    return Status::InvalidArgument("attestation: batch path has " + std::to_string(path.size()) +
                                   " hashes; leaf " + std::to_string(index) + " of a batch of " +
                                   std::to_string(size) + " needs " + std::to_string(want));
  }
  AnswerBatch out;
  out.size = static_cast<uint32_t>(size);
  out.index = static_cast<uint32_t>(index);
  out.path.reserve(want);
  for (size_t i = 0; i < path.size(); ++i) {
    auto h = path[i].is_string() ? ledger::Hash256::FromHexString(path[i].get<std::string>())
                                 : std::nullopt;
    if (!h) {
      return Status::InvalidArgument("attestation: batch.path[" + std::to_string(i) +
                                     "] is not a 64-hex-digit hash");
    }
    out.path.push_back(*h);
  }
  return out;
}

}  // namespace

ledger::Result<Attestation> CheckAttestation(const Json& answer, const ledger::ChainDomain& domain,
                                             std::string_view request, uint64_t header_height) {
  if (!answer.is_object() || !answer.contains("attestation")) {
    return Status::NotFound("the answer is not signed by the node");
  }
  const Json& j = answer["attestation"];
  auto str = [&](const char* k) -> std::string {
    return j.is_object() && j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
  };
  const std::optional<uint64_t> version = j.is_object() ? NonNegative(j, "version") : std::nullopt;
  if (version != 1u && version != 2u) {
    return Status::InvalidArgument("attestation: expected an object of version 1 or 2");
  }
  if (version == 1u && j.contains("batch")) {
    return Status::InvalidArgument(
        "attestation: version 1 carries no batch (batches are version 2)");
  }
  Attestation a;
  auto key = ledger::PublicKey::ParseHex(str("node_key"));
  auto hash = ledger::Hash256::FromHexString(str("answer_hash"));
  auto sig_bytes = ledger::FixedBytes<64>::FromHexString(str("signature"));
  std::optional<ledger::Signature> sig;
  if (sig_bytes) sig = ledger::Signature{*sig_bytes};
  if (!key || !hash || !sig || !j.contains("height") || !j["height"].is_number_unsigned()) {
    return Status::InvalidArgument(
        "attestation: expected node_key, answer_hash, signature (hex) and height");
  }
  a.node_key = *key;
  a.answer_hash = *hash;
  a.signature = *sig;
  a.height = j["height"].get<uint64_t>();
  a.request = str("request");
  if (version == 2u) {
    auto batch = DecodeBatch(j);
    if (!batch.ok()) return batch.status();
    a.batch = std::move(batch).value();
  }
  if (a.request != request) {
    return Status::InvalidArgument("attestation: signed for request \"" + a.request.substr(0, 100) +
                                   "\", not this one");
  }
  if (a.height != header_height) {
    return Status::InvalidArgument("attestation: signed for height " + std::to_string(a.height) +
                                   ", the answer's header is " + std::to_string(header_height));
  }
  if (a.answer_hash != AnswerHash(answer)) {
    return Status::InvalidArgument("attestation: answer_hash is not the hash of this answer");
  }
  const ledger::Hash256 leaf = AnswerSigningDigest(domain, request, a.height, a.answer_hash);
  if (!a.batch) {
    if (!ledger::Verify(a.node_key, leaf, a.signature)) {
      return Status::InvalidArgument("attestation: the signature by " + a.node_key.Hex() +
                                     " does not verify");
    }
    return a;
  }
  const AnswerBatch& b = *a.batch;
  const ledger::Hash256 leaf_hash = ledger::MerkleLeafHash(leaf.span());
  const ledger::Hash256 root = RootFromInclusionPath(b.index, b.size, leaf_hash, b.path);
  // The shared verifier has the last word on the path (a check, not a second definition).
  if (!ledger::VerifyInclusion(b.index, b.size, leaf_hash, b.path, root)) {
    return Status::InvalidArgument("attestation: batch path does not verify");
  }
  if (!ledger::Verify(a.node_key, AnswerBatchSigningDigest(domain, b.size, root), a.signature)) {
    return Status::InvalidArgument("attestation: the batch signature by " + a.node_key.Hex() +
                                   " does not verify for leaf " + std::to_string(b.index) +
                                   " of a batch of " + std::to_string(b.size) +
                                   " (answer, index, size or path altered, or not signed)");
  }
  return a;
}

Attestation MakeAttestation(const SignedAnswer& s, std::string request, uint64_t height,
                            const ledger::Hash256& answer_hash) {
  Attestation a{s.node_key, std::move(request), height, answer_hash, s.signature};
  if (s.size > 1) a.batch = AnswerBatch{s.size, s.index, s.path};
  return a;
}

std::optional<std::vector<SignedAnswer>> SignAnswerBatch(const ledger::ChainDomain& domain,
                                                         std::span<const ledger::Hash256> leaves,
                                                         const AnswerSignFn& sign) {
  const size_t n = leaves.size();
  if (n == 0 || n > kMaxAnswerBatch) return std::nullopt;  // outside the REQUIRES
  if (n == 1) {
    auto s = sign(leaves[0]);
    if (!s) return std::nullopt;
    return std::vector<SignedAnswer>{{s->first, s->second, 1, 0, {}}};
  }
  // The batch tree, with the log's own proof code (every node of it is kept in memory).
  ledger::MerkleLog log;
  ledger::MemoryMerkleNodeStore nodes;
  std::vector<ledger::MerkleNode> added;
  for (const ledger::Hash256& leaf : leaves) {
    added.clear();
    log.Append(ledger::MerkleLeafHash(leaf.span()), &added);
    nodes.PutAll(added);
  }
  auto s = sign(AnswerBatchSigningDigest(domain, n, log.Root()));
  if (!s) return std::nullopt;
  std::vector<SignedAnswer> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto path = log.InclusionProof(i, n, nodes);
    // Cannot fail: every node of the tree is in `nodes`.
    if (!path.ok()) return std::nullopt;
    out.push_back({s->first, s->second, static_cast<uint32_t>(n), static_cast<uint32_t>(i),
                   std::move(path).value()});
  }
  return out;
}

// ---- AnswerSigner ----

AnswerSigner::AnswerSigner(SignFn sign, std::chrono::microseconds min_interval, size_t max_batch)
    : sign_(std::move(sign)),
      min_interval_(std::max(min_interval, std::chrono::microseconds(0))),
      max_batch_(std::clamp<size_t>(max_batch, 1, kMaxAnswerBatch)),
      thread_([this] { Run(); }) {}

AnswerSigner::~AnswerSigner() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AnswerSigner::Sign(const ledger::ChainDomain& domain, const ledger::Hash256& leaf, Done done) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back({domain, leaf, std::move(done)});
    // Only a signer waiting for work needs waking: one pacing its next signature takes what
    // is queued when its wait ends (a wake-up per answer would cost a system call each).
    wake = idle_;
  }
  if (wake) cv_.notify_one();
}

void AnswerSigner::Run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point last = Clock::now() - min_interval_;  // the previous signature
  std::unique_lock lock(mu_);
  for (;;) {
    idle_ = true;
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    idle_ = false;
    if (queue_.empty()) return;  // stopping, nothing left
    // Pace: no two signatures closer than min_interval (unless stopping); what arrives in the
    // meantime joins the batch.
    if (!stop_) cv_.wait_until(lock, last + min_interval_, [&] { return stop_; });
    const ledger::ChainDomain first = queue_.front().domain;
    std::vector<Pending> batch;
    std::vector<Pending> rest;
    for (Pending& p : queue_) {
      if (batch.size() < max_batch_ && p.domain == first) {
        batch.push_back(std::move(p));
      } else {
        rest.push_back(std::move(p));
      }
    }
    queue_ = std::move(rest);
    lock.unlock();
    last = Clock::now();
    SignBatch(batch);
    lock.lock();
  }
}

void AnswerSigner::SignBatch(std::vector<Pending>& batch) const {
  std::vector<ledger::Hash256> leaves;
  leaves.reserve(batch.size());
  for (const Pending& p : batch) leaves.push_back(p.leaf);
  auto signed_answers = SignAnswerBatch(batch[0].domain, leaves, sign_);
  for (size_t i = 0; i < batch.size(); ++i) {
    std::optional<Signed> out;
    if (signed_answers) out = std::move((*signed_answers)[i]);
    batch[i].done(std::move(out));
  }
}

}  // namespace certledger::api
