#include "api/handlers.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "api/attestation.h"
#include "api/health.h"
#include "api/http_util.h"
#include "api/json.h"
#include "api/metrics.h"
#include "api/page.h"
#include "api/staple.h"
#include "api/verification.h"
#include "api/verify_status.h"
#include "ledger/coding.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"

namespace certledger::api {

using ledger::Hash256;
using ledger::Result;
using ledger::Status;

// ---- options ----------------------------------------------------------------------------------

Status ApiOptions::Validate() const {
  if (max_body_bytes == 0 || max_body_bytes > (64u << 20)) {
    return Status::InvalidArgument("api.max_body_bytes: 1 byte to 64 MiB");
  }
  if (default_wait_ms == 0 || default_wait_ms > max_wait_ms) {
    return Status::InvalidArgument("api.default_wait_ms: 1 to max_wait_ms");
  }
  if (max_wait_ms > 600'000) return Status::InvalidArgument("api.max_wait_ms: at most 600000");
  if (max_batch_txs == 0 || max_batch_txs > 10'000) {
    return Status::InvalidArgument("api.max_batch_txs: 1 to 10000");
  }
  if (max_block_range == 0 || max_block_range > 10'000) {
    return Status::InvalidArgument("api.max_block_range: 1 to 10000");
  }
  return Status::Ok();
}

// ---- the route table --------------------------------------------------------------------------

struct Api::Routes {
  struct Ctx {
    const Request& request;
    const Target& target;
    std::vector<std::string> params;  // the values of the pattern's {placeholders}
    Reply reply;
  };
  using Fn = void (Routes::*)(Ctx&);
  struct Route {
    const char* method;
    const char* pattern;  // also the metrics label
    Fn fn;
    // Every status the route itself may answer (docs/openapi.yaml documents each; a test
    // checks both ways). Besides these, any route may answer 500 `internal`.
    std::vector<int> statuses;
  };

  Routes(NodeService* node, const ApiOptions* options) : node_(node), options_(options) {}

  [[nodiscard]] const ledger::Store& store() const { return node_->store(); }
  [[nodiscard]] int64_t Now() const {
    return options_->now_ms ? options_->now_ms() : SystemNowMs();
  }

  static const std::vector<Route>& Table() {
    static const std::vector<Route> table = {
        {"POST", "/v1/tx", &Routes::SubmitTx, {200, 202, 400, 409, 413, 422, 429, 503}},
        {"POST", "/v1/txs", &Routes::SubmitTxs, {200, 400, 413, 503}},
        {"GET", "/v1/tx/{hash}", &Routes::GetTx, {200, 400, 404}},
        {"GET", "/v1/certificates/{id}", &Routes::GetCertificate, {200, 400, 404}},
        {"GET", "/v1/verify/{hash}", &Routes::VerifyJson, {200, 400, 404, 503}},
        {"GET", "/v1/staple/{hash}", &Routes::GetStaple, {200, 400, 404, 503}},
        {"GET", "/v1/checkpoint", &Routes::GetCheckpoint, {200, 404}},
        {"GET", "/v1/blocks/{height}", &Routes::GetBlock, {200, 400, 404}},
        {"GET", "/v1/blocks", &Routes::GetBlocks, {200, 400, 404}},
        {"GET", "/v1/proofs/consistency", &Routes::ConsistencyProof, {200, 400}},
        {"GET", "/v1/proofs/inclusion", &Routes::InclusionProof, {200, 400}},
        {"GET", "/v1/agencies", &Routes::GetAgencies, {200}},
        {"GET", "/v1/status", &Routes::GetStatus, {200}},
        {"GET", "/v1/genesis", &Routes::GetGenesis, {200}},
        {"GET", "/v1/evidence", &Routes::GetEvidence, {200, 400}},
        {"GET", "/healthz", &Routes::GetHealthz, {200, 503}},
        {"GET", "/readyz", &Routes::GetReadyz, {200, 503}},
        {"GET", "/v/{hash}", &Routes::VerifyPage, {200, 400, 404, 503}},
    };
    return table;
  }

  static std::optional<std::vector<std::string>> Match(const char* pattern,
                                                       const std::vector<std::string>& segs) {
    std::vector<std::string> pat;
    std::string_view p(pattern);
    size_t start = 1;
    for (size_t i = 1; i <= p.size(); ++i) {
      if (i == p.size() || p[i] == '/') {
        pat.emplace_back(p.substr(start, i - start));
        start = i + 1;
      }
    }
    if (pat.size() != segs.size()) return std::nullopt;
    std::vector<std::string> params;
    for (size_t i = 0; i < pat.size(); ++i) {
      if (!pat[i].empty() && pat[i][0] == '{') {
        if (segs[i].empty()) return std::nullopt;
        params.push_back(segs[i]);
      } else if (pat[i] != segs[i]) {
        return std::nullopt;
      }
    }
    return params;
  }

  // ---- parameters ----

  static std::optional<Hash256> HashParam(Ctx& c, const std::string& s, const char* what) {
    auto h = Hash256::FromHexString(s);
    if (!h) {
      c.reply(Error(400, "bad-hex", std::string(what) + ": expected 64 hex characters"));
    }
    return h;
  }

  // An unsigned query parameter; `def` when absent. Replies 400 and returns nullopt when bad.
  static std::optional<uint64_t> U64Param(Ctx& c, const std::string& name,
                                          std::optional<uint64_t> def) {
    const std::string* s = c.target.query.Get(name);
    if (s == nullptr) {
      if (!def) c.reply(Error(400, "bad-parameter", name + ": required"));
      return def;
    }
    auto v = ParseU64(*s);
    if (!v) c.reply(Error(400, "bad-parameter", name + ": expected a non-negative integer"));
    return v;
  }

  // ---- POST /v1/tx ----

  void SubmitTx(Ctx& c) {
    if (c.request.body.size() > options_->max_body_bytes) {
      c.reply(Error(413, "body-too-large",
                    "the body exceeds " + std::to_string(options_->max_body_bytes) + " bytes"));
      return;
    }
    bool wait = false;
    if (const std::string* w = c.target.query.Get("wait")) {
      if (*w != "commit") {
        c.reply(Error(400, "bad-parameter", "wait: only 'commit' is supported"));
        return;
      }
      wait = true;
    }
    auto timeout = U64Param(c, "timeout_ms", options_->default_wait_ms);
    if (!timeout) return;
    if (*timeout == 0 || *timeout > options_->max_wait_ms) {
      c.reply(
          Error(400, "bad-parameter", "timeout_ms: 1 to " + std::to_string(options_->max_wait_ms)));
      return;
    }
    ledger::SignedTransaction stx;
    if (IsBinary(c.request.content_type)) {
      auto d = DecodeBinaryTx(ledger::AsBytes(c.request.body));
      if (!d.ok()) return c.reply(Error(400, "bad-encoding", d.status().message()));
      stx = std::move(d).value();
    } else {
      auto j = ParseJson(c.request.body);
      if (!j.ok()) return c.reply(Error(400, "bad-json", j.status().message()));
      auto d = DecodeJsonTx(*j);
      if (!d.tx) return c.reply(Error(400, d.code, d.message));
      stx = std::move(*d.tx);
    }
    if (node_->Status().syncing) {
      c.reply(Error(503, "not-synced", "the node is catching up; submit to another node or retry"));
      return;
    }
    NodeService* node = node_;
    uint32_t timeout_ms = static_cast<uint32_t>(*timeout);
    Reply reply = c.reply;
    node_->SubmitTx(std::move(stx), "client:" + c.request.client,
                    [node, wait, timeout_ms, reply](SubmitResult r) {
                      const std::string hash = r.tx_hash.Hex();
                      switch (r.code) {
                        case SubmitResult::Code::kAccepted:
                          if (!wait) {
                            reply(JsonResponse(Json{{"tx_hash", hash}, {"state", "pending"}}, 202));
                            return;
                          }
                          node->WaitTx(r.tx_hash, timeout_ms, [reply](TxStatusInfo info) {
                            reply(TxStateResponse(info, true));
                          });
                          return;
                        case SubmitResult::Code::kCommitted:
                          // Asynchronously: this callback may run on the node's event loop, where a
                          // blocking GetTx would wait on itself.
                          node->WaitTx(r.tx_hash, 0, [reply](TxStatusInfo info) {
                            reply(TxStateResponse(info, true));
                          });
                          return;
                        case SubmitResult::Code::kRejected:
                        case SubmitResult::Code::kConflict:
                        case SubmitResult::Code::kBusy:
                        case SubmitResult::Code::kUnavailable: {
                          const auto [status, code] = RefusalOf(r);
                          reply(TxError(status, code, r.message, hash));
                          return;
                        }
                      }
                      reply(Error(500, "internal", "unknown submit result"));
                    });
  }

  // ---- POST /v1/txs: many signed transactions in one request (docs/API.md) ----

  void SubmitTxs(Ctx& c) {
    if (c.request.body.size() > options_->max_body_bytes) {
      return c.reply(
          Error(413, "body-too-large",
                "the body exceeds " + std::to_string(options_->max_body_bytes) + " bytes"));
    }
    std::vector<DecodedTx> items;  // one per transaction of the request
    const size_t max = options_->max_batch_txs;
    auto too_many = [&] {
      c.reply(Error(400, "too-many-txs",
                    "at most " + std::to_string(max) + " transactions per request"));
    };
    if (IsBinary(c.request.content_type)) {
      // Frames: u32 little-endian length, then that many bytes of one canonical encoding.
      ledger::ByteReader frames(ledger::AsBytes(c.request.body));
      while (!frames.done()) {
        if (items.size() == max) return too_many();
        uint32_t len = 0;
        if (!frames.GetFixed32(&len)) {
          return c.reply(Error(400, "bad-encoding",
                               "frame " + std::to_string(items.size()) + ": truncated length"));
        }
        ledger::ByteSpan frame;
        if (!frames.GetBytes(len, &frame)) {
          return c.reply(Error(400, "bad-encoding",
                               "frame " + std::to_string(items.size()) + ": " +
                                   std::to_string(len) + " bytes declared, " +
                                   std::to_string(frames.remaining()) + " left"));
        }
        DecodedTx item;
        auto d = DecodeBinaryTx(frame);
        if (d.ok()) {
          item.tx = std::move(d).value();
        } else {
          item.code = "bad-encoding";
          item.message = d.status().message();
        }
        items.push_back(std::move(item));
      }
    } else {
      auto j = ParseJson(c.request.body);
      if (!j.ok()) return c.reply(Error(400, "bad-json", j.status().message()));
      if (!j->is_object() || j->size() != 1 || !j->contains("txs") || !(*j)["txs"].is_array()) {
        return c.reply(Error(400, "bad-json", "expected {\"txs\": [transactions]}"));
      }
      const Json& txs = (*j)["txs"];
      if (txs.size() > max) return too_many();
      for (const Json& t : txs) items.push_back(DecodeJsonTx(t));
    }
    if (items.empty()) return c.reply(Error(400, "bad-parameter", "no transactions"));
    if (node_->Status().syncing) {
      return c.reply(
          Error(503, "not-synced", "the node is catching up; submit to another node or retry"));
    }
    std::vector<ledger::SignedTransaction> good;
    for (auto& item : items) {
      if (item.tx) good.push_back(std::move(*item.tx));
    }
    auto results = [items = std::move(items),
                    reply = c.reply](std::vector<SubmitResult> submitted) mutable {
      std::string body;
      JsonWriter w(&body);
      w.BeginObject().Key("results").BeginArray();
      size_t next = 0;
      for (const auto& item : items) {
        w.BeginObject();
        if (!item.tx) {  // not decoded
          w.Key("error").BeginObject().Key("code").String(item.code);
          w.Key("message").String(item.message).EndObject();
          w.Key("status").Uint(400);
          w.EndObject();
          continue;
        }
        const SubmitResult& r = submitted.at(next++);
        switch (r.code) {
          case SubmitResult::Code::kAccepted:
          case SubmitResult::Code::kCommitted:
            w.Key("state").String(r.code == SubmitResult::Code::kAccepted ? "pending"
                                                                          : "committed");
            break;
          default: {
            const auto [status, code] = RefusalOf(r);
            w.Key("error").BeginObject().Key("code").String(code);
            w.Key("message").String(r.message).EndObject();
            w.Key("status").Uint(static_cast<uint64_t>(status));
          }
        }
        w.Key("tx_hash").Hex(r.tx_hash.span());
        w.EndObject();
      }
      w.EndArray().EndObject();
      body += '\n';
      Response resp;
      resp.content_type = kJsonType;
      resp.body = std::move(body);
      reply(std::move(resp));
    };
    node_->SubmitTxs(std::move(good), "client:" + c.request.client, std::move(results));
  }

  static bool IsBinary(const std::string& content_type) {
    return content_type.rfind("application/octet-stream", 0) == 0;
  }
  // One canonical SignedTransaction encoding, with its keys checked (bad-encoding otherwise).
  static Result<ledger::SignedTransaction> DecodeBinaryTx(ledger::ByteSpan bytes) {
    auto d = ledger::Decode<ledger::SignedTransaction>(bytes);
    if (!d.ok()) return d.status();
    if (auto keys = CheckTransactionKeys(*d); !keys.ok()) return keys;
    return d;
  }
  // A transaction decoded from a request, or the error code and message saying why not.
  struct DecodedTx {
    std::optional<ledger::SignedTransaction> tx;
    std::string code, message;
  };
  // A transaction in one of the JSON forms.
  static DecodedTx DecodeJsonTx(const Json& j) {
    DecodedTx out;
    auto d = FromJson<ledger::SignedTransaction>(j);
    if (d.ok()) {
      out.tx = std::move(d).value();
      return out;
    }
    out.message = d.status().message();
    out.code = "bad-json";
    if (out.message.find("hex") != std::string::npos) out.code = "bad-hex";
    if (out.message.rfind("encoded:", 0) == 0 && out.code != "bad-hex") out.code = "bad-encoding";
    return out;
  }
  // The HTTP status and reason code of a refused submission.
  static std::pair<int, std::string> RefusalOf(const SubmitResult& r) {
    switch (r.code) {
      case SubmitResult::Code::kConflict:
        return {409, r.reason.empty() ? "conflict" : r.reason};
      case SubmitResult::Code::kBusy:
        return {429, r.reason.empty() ? "mempool-full" : r.reason};
      case SubmitResult::Code::kUnavailable:
        return {503, r.reason.empty() ? "unavailable" : r.reason};
      default:
        return {422, r.reason.empty() ? "rejected" : r.reason};
    }
  }

  static Response TxError(int status, const std::string& code, const std::string& message,
                          const std::string& hash) {
    Json j = ErrorJson(code, message);
    j["tx_hash"] = hash;
    return JsonResponse(j, status);
  }

  // The answer for a transaction's state; `after_wait`: a pending state means the wait timed out.
  static Response TxStateResponse(const TxStatusInfo& info, bool after_wait) {
    const std::string hash = info.tx_hash.Hex();
    switch (info.state) {
      case TxState::kCommitted:
        return JsonResponse(Json{{"tx_hash", hash},
                                 {"state", "committed"},
                                 {"height", info.height},
                                 {"index", info.index},
                                 {"log_index", info.log_index}});
      case TxState::kRejected: {
        if (after_wait) return TxError(422, info.reason, info.message, hash);
        return JsonResponse(Json{{"tx_hash", hash},
                                 {"state", "rejected"},
                                 {"reason", info.reason},
                                 {"message", info.message}});
      }
      case TxState::kPending: {
        Json j{{"tx_hash", hash}, {"state", "pending"}};
        if (after_wait) j["timed_out"] = true;
        return JsonResponse(j, after_wait ? 202 : 200);
      }
      case TxState::kUnknown:
        break;
    }
    if (after_wait) {
      return JsonResponse(Json{{"tx_hash", hash}, {"state", "unknown"}, {"timed_out", true}}, 202);
    }
    Json j = ErrorJson("not-found", "unknown transaction");
    j["tx_hash"] = hash;
    j["state"] = "unknown";
    return JsonResponse(j, 404);
  }

  // ---- GET /v1/tx/{hash} ----

  void GetTx(Ctx& c) {
    auto h = HashParam(c, c.params[0], "hash");
    if (!h) return;
    // Committed: answered from the store on this thread, with the transaction.
    auto loc = store().GetTxLocation(*h);
    if (loc.ok()) {
      TxStatusInfo info;
      info.tx_hash = *h;
      info.state = TxState::kCommitted;
      info.height = loc->height;
      info.index = loc->index;
      info.log_index = loc->log_index;
      Response r = TxStateResponse(info, false);
      auto block = store().GetBlock(info.height);
      if (block.ok() && info.index < block->txs.size()) {
        Json j = Json::parse(r.body);
        j["tx"] = ToJson(block->txs[info.index]);
        r = JsonResponse(j);
      }
      return c.reply(std::move(r));
    }
    if (!loc.status().IsNotFound()) return c.reply(StorageError(loc.status()));
    // Otherwise the mempool's view, which lives on the node's loop: asked without blocking this
    // thread (and the other connections it serves); the reply is sent from the loop.
    node_->WaitTx(*h, 0, [reply = c.reply, hash = *h](TxStatusInfo info) {
      info.tx_hash = hash;
      reply(TxStateResponse(info, false));
    });
  }

  // ---- GET /v1/certificates/{id} ----

  void GetCertificate(Ctx& c) {
    const std::string& id = c.params[0];
    std::string base;
    std::optional<uint32_t> requested;
    if (auto full = ledger::ParseCertificateId(id)) {
      base = full->Base();
      requested = full->version;
    } else if (ledger::IsValidBaseId(id)) {
      base = id;
    } else {
      c.reply(Error(400, "bad-parameter",
                    "id: not a certificate identifier (full, with version and check "
                    "character, or base)"));
      return;
    }
    auto cert = ledger::ReadCertificate(store(), base);
    if (!cert.ok()) return c.reply(StorageError(cert.status()));
    if (!cert->has_value()) return c.reply(Error(404, "not-found", "no certificate " + base));
    const ledger::CertificateState& s = **cert;
    const int64_t now = Now();
    Json versions = Json::array();
    bool found = !requested;
    for (const auto& v : s.versions) {
      versions.push_back(Json{{"version", v.version},
                              {"identifier", FullIdentifier(base, v.version)},
                              {"document_hash", v.document_hash.Hex()}});
      if (requested && v.version == *requested) found = true;
    }
    if (!found) {
      return c.reply(
          Error(404, "not-found",
                "certificate " + base + " has no version " + std::to_string(*requested)));
    }
    Json history = Json::array();
    for (const auto& h : s.history) history.push_back(ToJson(h));
    Json j{{"base_id", base},
           {"identifier", FullIdentifier(base, s.version)},
           {"type", CertTypeName(s.type)},
           {"status", EffectiveStatusName(ledger::EffectiveStatusAt(s, now))},
           {"stored_status", CertStatusName(s.status)},
           {"status_reason", s.status_reason},
           {"version", s.version},
           {"not_before", s.not_before},
           {"not_after", s.not_after},
           {"issuer", AgencyRef(store(), s.issuer)},
           {"controller", AgencyRef(store(), s.controller)},
           {"holder_commitment", s.holder_commitment.Hex()},
           {"summary", ToJson(s.summary)},
           {"versions", std::move(versions)},
           {"history", std::move(history)},
           {"checked_at_ms", now}};
    if (requested) {
      j["requested_version"] = *requested;
      j["requested_is_current"] = *requested == s.version;
    }
    c.reply(JsonResponse(j));
  }

  // ---- GET /v1/verify/{hash} and GET /v/{hash} ----

  void VerifyJson(Ctx& c) {
    const auto started = std::chrono::steady_clock::now();
    auto h = HashParam(c, c.params[0], "document_hash");
    if (!h) return;
    const int64_t now = Now();
    auto view = store().View();
    auto v = Verify(store(), *view, tips_, *h, now, /*with_proofs=*/true);
    if (!v.ok()) {
      if (v.status().code() == Status::Code::kUnavailable) {
        return c.reply(Error(503, "try-again", v.status().message()));
      }
      return c.reply(StorageError(v.status()));
    }
    Response r;
    r.status = v->status == VerifyStatus::kUnknown ? 404 : 200;
    r.content_type = kJsonType;
    // The canonical text of the answer (FORMAT.md §15), written once: its hash is signed, and
    // the attestation member is spliced in before the closing brace (member order does not
    // matter to a JSON reader; the verifier hashes the answer re-serialised without it).
    r.body = VerificationText(*v, now, node_->Status().syncing);
    metrics->RecordVerification(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (!v->tip) {
      r.body += '\n';
      return c.reply(std::move(r));
    }
    // Accountable reads: the node signs the request, the height and the answer's hash, in a
    // batch with the answers of the same moment (FORMAT.md §15; api::AnswerSigner). The reply
    // is sent from the signer's thread.
    std::string request = "GET /v1/verify/" + h->Hex();
    const Hash256 answer_hash = ledger::Sha256(ledger::AsBytes(r.body));
    const uint64_t height = v->header->height;
    const Hash256 leaf = AnswerSigningDigest(v->tip->domain, request, height, answer_hash);
    signer_.Sign(v->tip->domain, leaf,
                 [r = std::move(r), reply = c.reply, request = std::move(request), height,
                  answer_hash](std::optional<SignedAnswer> s) mutable {
                   if (s) {
                     r.body.pop_back();  // '}'
                     r.body += ",\"attestation\":";
                     r.body +=
                         AttestationJson(MakeAttestation(*s, request, height, answer_hash)).dump();
                     r.body += '}';
                   }
                   r.body += '\n';
                   reply(std::move(r));
                 });
  }

  // ---- GET /v1/staple/{hash} and GET /v1/checkpoint (FORMAT.md §16) ----

  // The staple of `hash` from `view`: NotFound if the document is not there.
  static Result<Staple> StapleFrom(const ledger::StoreView& view, const Hash256& hash,
                                   bool embedded) {
    const ledger::ChainTip tip = view.Tip();
    if (tip.height == 0) return Status::Unavailable("no committed block yet");
    auto doc = ledger::ReadDocument(view, hash);
    if (!doc.ok()) return doc.status();
    if (!doc->has_value()) return Status::NotFound("document " + hash.Hex());
    const std::string key = ledger::CertKey((*doc)->base_id);
    ledger::Bytes value;
    if (Status st = view.Get(key, &value); !st.ok()) return st;
    auto header = view.GetHeader(tip.height);
    if (!header.ok()) return header.status();
    auto proof = ledger::SmtProve(view, header->state_root, ledger::SmtKeyHash(key));
    if (!proof.ok()) return proof.status();
    if (!embedded) {
      Staple s;
      s.document_hash = hash;
      s.expires_ms = header->time_ms + kStapleValidityMs;
      s.cert_value = std::move(value);
      s.cert_proof = proof->Encode();
      s.anchor = Staple::Anchor::kCheckpoint;
      s.checkpoint_height = header->height;
      s.checkpoint_block_id = ledger::BlockHash(*header);
      return s;
    }
    auto commit = view.GetCommit(tip.height);
    if (!commit.ok()) return commit.status();
    auto vals = ledger::ReadValidators(view);
    if (!vals.ok()) return vals.status();
    if (vals->Hash() != header->validator_set_hash) {
      return Status::Unavailable("the validator set changes at this height; retry");
    }
    return MakeEmbeddedStaple(hash, value, proof->Encode(), *header, *commit, *vals);
  }

  void GetStaple(Ctx& c) {
    auto h = HashParam(c, c.params[0], "document_hash");
    if (!h) return;
    auto view = store().View();
    auto s = StapleFrom(*view, *h, /*embedded=*/true);
    ledger::Bytes bytes;
    if (s.ok()) bytes = s->Encode();
    // Too large with the commit (a large validator set): rest on the latest checkpoint, if the
    // document was there already.
    if (s.ok() && bytes.size() > kStapleEmbeddedMaxBytes) {
      if (auto cp = node_->CheckpointView()) {
        auto at_cp = StapleFrom(*cp, *h, /*embedded=*/false);
        if (at_cp.ok()) bytes = at_cp->Encode();
      }
    }
    if (!s.ok()) {
      if (s.status().IsNotFound()) {
        return c.reply(Error(404, "not-found",
                             "no document with this hash (GET /v1/verify proves its absence)"));
      }
      if (s.status().code() == Status::Code::kUnavailable) {
        return c.reply(Error(503, "try-again", s.status().message()));
      }
      return c.reply(StorageError(s.status()));
    }
    Response r;
    if (const std::string* f = c.target.query.Get("format"); f != nullptr && *f == "base45") {
      r.content_type = "text/plain; charset=utf-8";
      r.body = Base45Encode(bytes);
    } else {
      r.content_type = "application/octet-stream";
      r.body.assign(bytes.begin(), bytes.end());
    }
    r.headers.emplace_back("Cache-Control", "no-store");
    c.reply(std::move(r));
  }

  void GetCheckpoint(Ctx& c) {
    auto cp = node_->CheckpointView();
    if (!cp || cp->Tip().height == 0) {
      return c.reply(Error(
          404, "not-found",
          "no checkpoint yet (one every " + std::to_string(kCheckpointInterval) + " blocks)"));
    }
    const uint64_t height = cp->Tip().height;
    auto header = cp->GetHeader(height);
    if (!header.ok()) return c.reply(StorageError(header.status()));
    auto commit = cp->GetCommit(height);
    if (!commit.ok()) return c.reply(StorageError(commit.status()));
    c.reply(JsonResponse(
        Json{{"height", height}, {"header", ToJson(*header)}, {"commit", ToJson(*commit)}}));
  }

  void VerifyPage(Ctx& c) {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.headers.emplace_back("Cache-Control", "no-store");
    // No scripts, no external resources, no forms, never inside another site's frame.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; style-src 'unsafe-inline'; "
                           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    auto h = Hash256::FromHexString(c.params[0]);
    Verification v;
    const int64_t now = Now();
    if (!h) {
      r.status = 400;
    } else {
      v.document_hash = *h;
      auto view = store().View();
      auto got = Verify(store(), *view, tips_, *h, now, /*with_proofs=*/false);
      if (!got.ok()) {
        r.status = got.status().code() == Status::Code::kUnavailable ? 503 : 500;
      } else {
        v = std::move(got).value();
        r.status = v.status == VerifyStatus::kUnknown ? 404 : 200;
      }
    }
    r.body = VerificationHtml(v, now);
    c.reply(std::move(r));
  }

  // ---- blocks ----

  // One block as JSON ({header, txs, commit}) or binary ({height, block, commit} in hex).
  Result<Json> BlockJson(uint64_t height, bool binary) const {
    auto block = store().GetBlock(height);
    if (!block.ok()) return block.status();
    auto commit = store().GetCommit(height);
    if (!commit.ok()) return commit.status();
    if (binary) {
      return Json{{"height", height},
                  {"block", ledger::ToHex(ledger::Encode(*block))},
                  {"commit", ledger::ToHex(ledger::Encode(*commit))}};
    }
    Json j = ToJson(*block);
    j["commit"] = ToJson(*commit);
    return j;
  }

  static std::optional<bool> FormatParam(Ctx& c) {
    const std::string* f = c.target.query.Get("format");
    if (f == nullptr || *f == "json") return false;
    if (*f == "binary") return true;
    c.reply(Error(400, "bad-parameter", "format: json or binary"));
    return std::nullopt;
  }

  void GetBlock(Ctx& c) {
    auto height = ParseU64(c.params[0]);
    if (!height) return c.reply(Error(400, "bad-parameter", "height: expected an integer"));
    auto binary = FormatParam(c);
    if (!binary) return;
    const uint64_t tip = store().Height();
    if (*height == 0 || *height > tip) {
      return c.reply(Error(
          404, "not-found",
          "no block " + std::to_string(*height) + " (height is " + std::to_string(tip) + ")"));
    }
    auto j = BlockJson(*height, *binary);
    if (!j.ok()) return c.reply(StorageError(j.status()));
    c.reply(JsonResponse(*j));
  }

  void GetBlocks(Ctx& c) {
    auto from = U64Param(c, "from", std::nullopt);
    if (!from) return;
    auto to = U64Param(c, "to", UINT64_MAX);
    if (!to) return;
    auto binary = FormatParam(c);
    if (!binary) return;
    const uint64_t tip = store().Height();
    if (*from == 0 || *to < *from) {
      return c.reply(Error(400, "bad-parameter", "need 1 <= from <= to"));
    }
    if (*from > tip) {
      return c.reply(
          Error(404, "not-found",
                "no block " + std::to_string(*from) + " (height is " + std::to_string(tip) + ")"));
    }
    uint64_t last = std::min({*to, tip, *from + options_->max_block_range - 1});
    Json blocks = Json::array();
    for (uint64_t h = *from; h <= last; ++h) {
      auto j = BlockJson(h, *binary);
      if (!j.ok()) return c.reply(StorageError(j.status()));
      blocks.push_back(std::move(*j));
    }
    Json j{{"from", *from}, {"to", last}, {"height", tip}, {"blocks", std::move(blocks)}};
    j["next"] = last < std::min(*to, tip) ? Json(last + 1) : Json(nullptr);
    c.reply(JsonResponse(j));
  }

  // ---- proofs ----

  void ConsistencyProof(Ctx& c) {
    auto from = U64Param(c, "from", std::nullopt);
    if (!from) return;
    auto to = U64Param(c, "to", std::nullopt);
    if (!to) return;
    const ledger::ChainTip tip = store().Tip();
    if (*from == 0 || *from > *to || *to > tip.log_size) {
      return c.reply(Error(
          400, "bad-parameter",
          "need 0 < from <= to <= " + std::to_string(tip.log_size) + " (the committed log size)"));
    }
    ledger::MerkleLog log = store().Log();  // size >= tip.log_size
    auto proof = log.ConsistencyProof(*from, *to, store());
    auto from_root = log.RootAt(*from, store());
    auto to_root = log.RootAt(*to, store());
    if (!proof.ok()) return c.reply(StorageError(proof.status()));
    if (!from_root.ok()) return c.reply(StorageError(from_root.status()));
    if (!to_root.ok()) return c.reply(StorageError(to_root.status()));
    Json path = Json::array();
    for (const auto& h : *proof) path.push_back(h.Hex());
    c.reply(JsonResponse(Json{{"from", *from},
                              {"to", *to},
                              {"from_root", from_root->Hex()},
                              {"to_root", to_root->Hex()},
                              {"proof", std::move(path)}}));
  }

  void InclusionProof(Ctx& c) {
    auto leaf = U64Param(c, "leaf", std::nullopt);
    if (!leaf) return;
    const ledger::ChainTip tip = store().Tip();
    auto size = U64Param(c, "size", tip.log_size);
    if (!size) return;
    if (*leaf >= *size || *size > tip.log_size) {
      return c.reply(Error(
          400, "bad-parameter",
          "need leaf < size <= " + std::to_string(tip.log_size) + " (the committed log size)"));
    }
    ledger::MerkleLog log = store().Log();
    auto proof = log.InclusionProof(*leaf, *size, store());
    if (!proof.ok()) return c.reply(StorageError(proof.status()));
    auto root = log.RootAt(*size, store());
    if (!root.ok()) return c.reply(StorageError(root.status()));
    auto loc = store().GetLeafLocation(*leaf);
    if (!loc.ok()) return c.reply(StorageError(loc.status()));
    auto leaf_data = store().GetLeaf(*leaf);
    if (!leaf_data.ok()) return c.reply(StorageError(leaf_data.status()));
    auto decoded = ledger::Decode<ledger::SignedTransaction>(*leaf_data);
    if (!decoded.ok()) return c.reply(StorageError(Status::Corruption("leaf does not decode")));
    const auto& stx = *decoded;
    ledger::Bytes data = std::move(leaf_data).value();
    Json path = Json::array();
    for (const auto& h : *proof) path.push_back(h.Hex());
    c.reply(JsonResponse(Json{{"leaf_index", *leaf},
                              {"tree_size", *size},
                              {"root", root->Hex()},
                              {"path", std::move(path)},
                              {"leaf", ledger::ToHex(data)},
                              {"leaf_hash", ledger::MerkleLeafHash(data).Hex()},
                              {"tx_hash", ledger::TxHash(stx.tx).Hex()},
                              {"height", loc->height},
                              {"index", loc->index}}));
  }

  // ---- agencies, status, genesis, metrics ----

  // Agency ids: genesis agencies plus those registered later, found by scanning new blocks once.
  Result<std::vector<std::string>> AgencyIds() {
    std::lock_guard lock(agencies_mu_);
    if (!agencies_loaded_) {
      auto g = store().GetGenesis();
      if (!g.ok()) return g.status();
      for (const auto& a : g->agencies) agency_ids_.insert(a.id);
      agencies_loaded_ = true;
    }
    const uint64_t tip = store().Height();
    for (; agencies_scanned_ < tip; ++agencies_scanned_) {
      auto b = store().GetBlock(agencies_scanned_ + 1);
      if (!b.ok()) return b.status();
      for (const auto& stx : b->txs) {
        if (const auto* e = std::get_if<ledger::RegisterAgencyEvent>(&stx.tx.event)) {
          agency_ids_.insert(e->agency.id);
        }
      }
    }
    return std::vector<std::string>(agency_ids_.begin(), agency_ids_.end());
  }

  void GetAgencies(Ctx& c) {
    auto ids = AgencyIds();
    if (!ids.ok()) return c.reply(StorageError(ids.status()));
    auto vals = ledger::ReadValidators(store());
    if (!vals.ok()) return c.reply(StorageError(vals.status()));
    Json agencies = Json::array();
    for (const auto& id : *ids) {
      auto a = ledger::ReadAgency(store(), id);
      if (!a.ok()) return c.reply(StorageError(a.status()));
      if (!a->has_value()) continue;
      Json j = ToJson(**a);
      uint64_t power = 0;
      for (const auto& v : vals->validators) {
        if (v.agency == id) power += v.power;
      }
      j["validator_power"] = power;
      // The agency's last committed sequence: its next transaction carries sequence + 1.
      auto seq = ledger::ReadSequence(store(), id);
      if (!seq.ok()) return c.reply(StorageError(seq.status()));
      j["sequence"] = *seq;
      agencies.push_back(std::move(j));
    }
    Json j{{"agencies", std::move(agencies)}, {"validators", ToJson(*vals)}};
    auto pending = ledger::ReadPendingValidators(store());
    if (pending.ok() && pending->has_value()) {
      j["pending_validators"] = Json{{"effective_height", (*pending)->effective_height},
                                     {"validators", ToJson((*pending)->validators)}};
    }
    c.reply(JsonResponse(j));
  }

  void GetStatus(Ctx& c) {
    NodeStatus s = node_->Status();
    ledger::ChainTip tip = store().Tip();
    auto vals = ledger::ReadValidators(store());
    if (!vals.ok()) return c.reply(StorageError(vals.status()));
    Json peers = Json::array();
    for (const auto& p : s.peers) {
      peers.push_back(Json{{"name", p.name}, {"key", p.key.Hex()}, {"connected", p.connected}});
    }
    c.reply(JsonResponse(Json{{"moniker", s.moniker},
                              {"chain_id", s.chain_id},
                              {"validator", s.validator},
                              {"node_key", s.node_key.Hex()},
                              {"height", tip.height},
                              {"round", s.round},
                              {"syncing", s.syncing},
                              {"best_peer_height", s.best_peer_height},
                              {"latest_block",
                               {{"height", tip.height},
                                {"hash", tip.block_hash.Hex()},
                                {"time_ms", tip.time_ms},
                                {"state_root", tip.state_root.Hex()},
                                {"log_size", tip.log_size},
                                {"log_root", tip.log_root.Hex()}}},
                              {"mempool", {{"txs", s.mempool_txs}, {"bytes", s.mempool_bytes}}},
                              {"validators", ToJson(*vals)},
                              {"peers", std::move(peers)}}));
  }

  void GetGenesis(Ctx& c) {
    auto g = store().GetGenesis();
    if (!g.ok()) return c.reply(StorageError(g.status()));
    c.reply(JsonResponse(Json{{"genesis_hash", ledger::GenesisHash(*g).Hex()},
                              {"genesis", Json::parse(ledger::GenesisToJson(*g))}}));
  }

  // Recorded double votes, oldest first: ?from=N (default 0), ?limit=L (1..1000, default 100).
  void GetEvidence(Ctx& c) {
    auto from = U64Param(c, "from", 0);
    if (!from) return;
    auto limit = U64Param(c, "limit", 100);
    if (!limit) return;
    if (*limit == 0 || *limit > 1000) {
      return c.reply(Error(400, "bad-parameter", "limit: 1 to 1000"));
    }
    auto count = ledger::ReadEvidenceCount(store());
    if (!count.ok()) return c.reply(StorageError(count.status()));
    Json items = Json::array();
    for (uint64_t n = *from; n < *count && n < *from + *limit; ++n) {
      auto rec = ledger::ReadEvidence(store(), n);
      if (!rec.ok()) return c.reply(StorageError(rec.status()));
      if (!rec->has_value()) continue;
      const ledger::EvidenceRecord& e = **rec;
      items.push_back(
          Json{{"index", n},
               {"validator", e.validator.Hex()},
               {"vote_type", e.type == ledger::VoteType::kPrevote ? "prevote" : "precommit"},
               {"vote_height", e.vote_height},
               {"round", e.round},
               {"recorded_height", e.height},
               {"log_index", e.log_index},
               {"tx_hash", e.tx_hash.Hex()}});
    }
    c.reply(JsonResponse(Json{{"count", *count}, {"evidence", std::move(items)}}));
  }

  void GetHealthz(Ctx& c) { c.reply(HealthResponse(node_->Status())); }
  void GetReadyz(Ctx& c) { c.reply(ReadyResponse(node_->Status())); }

  NodeService* node_;
  const ApiOptions* options_;
  std::shared_ptr<HttpMetrics> metrics;

  TipCache tips_;  // the parts every answer at the latest height shares
  // Signs answers in batches, at most one signature per millisecond (api/attestation.h).
  AnswerSigner signer_{[node = node_](const Hash256& digest) { return node->SignAnswer(digest); },
                       std::chrono::milliseconds(1)};

  std::mutex agencies_mu_;
  bool agencies_loaded_ = false;      // GUARDED_BY(agencies_mu_)
  uint64_t agencies_scanned_ = 0;     // GUARDED_BY(agencies_mu_): blocks scanned
  std::set<std::string> agency_ids_;  // GUARDED_BY(agencies_mu_)
};

Api::Api(NodeService* node, ApiOptions options, std::shared_ptr<Metrics> metrics)
    : node_(node),
      options_(std::move(options)),
      registry_(metrics ? std::move(metrics) : std::make_shared<Metrics>()),
      metrics_(std::make_shared<HttpMetrics>(*registry_)),
      routes_(std::make_unique<Routes>(node, &options_)) {
  routes_->metrics = metrics_;
}

Api::~Api() = default;

std::vector<RouteInfo> RouteTable() {
  std::vector<RouteInfo> out;
  for (const auto& r : Api::Routes::Table()) out.push_back({r.method, r.pattern, r.statuses});
  return out;
}

std::set<std::string> Api::UndeclaredAnswers() const {
  std::lock_guard lock(undeclared_->mu);
  return undeclared_->seen;
}

void Api::OnConnectionsChanged(size_t open) { metrics_->SetOpenConnections(open); }
void Api::OnServerResponse(int status) { metrics_->Record("(server)", status, 0.0); }

void Api::Handle(const Request& request, Reply reply) {
  const auto start = std::chrono::steady_clock::now();
  // Exactly one reply; metrics recorded when it is sent, whichever thread sends it.
  auto sent = std::make_shared<std::atomic<bool>>(false);
  auto metrics = metrics_;
  auto make_reply = [&](const char* name) -> Reply {
    std::string route(name);
    return [route, start, sent, metrics, reply](Response r) {
      if (sent->exchange(true)) return;
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics->Record(route, r.status, secs);
      reply(std::move(r));
    };
  };

  Reply finish = make_reply("(unmatched)");
  if (request.target.size() > kMaxTargetBytes) {
    finish(Error(400, "bad-parameter", "the request target is too long"));
    return;
  }
  std::string why;
  auto target = ParseTarget(request.target, &why);
  if (!target) {
    finish(Error(400, "bad-parameter", why));
    return;
  }
  std::string allowed;
  for (const auto& route : Routes::Table()) {
    auto params = Routes::Match(route.pattern, target->segments);
    if (!params) continue;
    if (request.method != route.method) {
      if (!allowed.empty()) allowed += ", ";
      allowed += route.method;
      continue;
    }
    Reply r = make_reply(route.pattern);
    r = [r, &route, undeclared = undeclared_](Response resp) {
      if (resp.status != 500 && std::find(route.statuses.begin(), route.statuses.end(),
                                          resp.status) == route.statuses.end()) {
        std::lock_guard lock(undeclared->mu);
        undeclared->seen.insert(std::string(route.method) + " " + route.pattern + " " +
                                std::to_string(resp.status));
      }
      r(std::move(resp));
    };
    Routes::Ctx ctx{request, *target, std::move(*params), r};
    try {
      (routes_.get()->*route.fn)(ctx);
    } catch (const std::exception& e) {
      r(Error(500, "internal", e.what()));
    }
    return;
  }
  if (!allowed.empty()) {
    Response r = Error(405, "method-not-allowed",
                       request.method + " is not allowed here; allowed: " + allowed);
    r.headers.emplace_back("Allow", allowed);
    finish(std::move(r));
    return;
  }
  finish(
      Error(404, "not-found",
            "no route for " + request.method + " " + std::string(request.target.substr(0, 256))));
}

}  // namespace certledger::api
