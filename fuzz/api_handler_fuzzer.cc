// The HTTP API's route table (api/handlers.h Api::Handle) over a real test store: the input is a
// request (method, target, Content-Type, Accept-Language, body; see api_fixture.h), sent to every
// route the fuzzer reaches, with both content types of POST /v1/tx (application/json in its two
// forms and application/octet-stream). Properties: exactly one reply (within a bounded wait:
// signed verification answers come from the answer signer's thread), no 500 (a handler threw),
// a JSON answer parses, an error answer carries its code; a POST /v1/tx is tried with every
// mempool outcome; and a transaction that reaches the node in one form reaches it, equal, in the
// others (JSON plain <-> JSON encoded <-> octet-stream).
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "api/json.h"
#include "fuzz/api_fixture.h"
#include "fuzz/fuzz_common.h"
#include "ledger/encoding.h"

namespace {

using namespace certledger;
using api::Json;

fuzz::ApiWorld& World() {
  static fuzz::ApiWorld world;  // destroyed at exit: removes its temporary store
  return world;
}

api::Response Call(const fuzz::FuzzRequest& fr) {
  api::Request r{fr.method, fr.target, fr.content_type, fr.accept_language, fr.body, "127.0.0.1"};
  // Most replies come before Handle returns (the fake node answers at once); a signed
  // verification answer comes from the answer signer's thread. Wait for it, bounded.
  struct Got {
    std::mutex mu;
    std::condition_variable cv;
    api::Response out;
    int calls = 0;
  };
  auto got = std::make_shared<Got>();
  World().handler->Handle(r, [got](api::Response resp) {
    std::lock_guard lock(got->mu);
    got->out = std::move(resp);
    ++got->calls;
    got->cv.notify_all();
  });
  std::unique_lock lock(got->mu);
  got->cv.wait_for(lock, std::chrono::seconds(10), [&] { return got->calls > 0; });
  FUZZ_CHECK(got->calls == 1, "exactly one reply, within 10 s");
  const api::Response out = got->out;
  FUZZ_CHECK(out.status != 500, "internal error: " + out.body);
  FUZZ_CHECK(out.status >= 200 && out.status < 600, "status " + std::to_string(out.status));
  if (out.content_type == "application/json") {
    auto j = api::ParseJson(out.body, 128);
    FUZZ_CHECK(j.ok(), "a JSON answer parses: " + out.body);
    if (out.status >= 400) {
      // Every error carries error.code, except the verification answer for an unknown document
      // (404, still a verification answer: "status": "unknown", docs/API.md).
      const bool coded = j->is_object() && j->contains("error") && (*j)["error"].is_object() &&
                         (*j)["error"].value("code", Json()).is_string();
      const bool unknown_document =
          out.status == 404 && j->is_object() && j->value("status", Json()) == "unknown";
      FUZZ_CHECK(coded || unknown_document, "an error answer has error.code: " + out.body);
    }
  }
  return out;
}

// Sends `fr` and returns what reached the node's SubmitTx, if anything.
std::optional<ledger::SignedTransaction> Submitted(const fuzz::FuzzRequest& fr) {
  auto& node = World().node;
  node.submitted.clear();
  Call(fr);
  if (node.submitted.empty()) return std::nullopt;
  FUZZ_CHECK(node.submitted.size() == 1, "one transaction per request");
  auto stx = node.submitted.front();
  node.submitted.clear();
  return stx;
}

bool IsSubmitRoute(const fuzz::FuzzRequest& fr) {
  if (fr.method != "POST") return false;
  std::string_view t = fr.target;
  t = t.substr(0, t.find('?'));
  return t == "/v1/tx" || t == "/v1/tx/";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::FuzzRequest fr =
      fuzz::SplitRequest(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!IsSubmitRoute(fr)) {
    Call(fr);
    return 0;
  }
  auto& node = World().node;
  using Code = api::SubmitResult::Code;
  std::optional<ledger::SignedTransaction> stx;
  for (Code code : {Code::kAccepted, Code::kCommitted, Code::kRejected, Code::kConflict,
                    Code::kBusy, Code::kUnavailable}) {
    node.submit_result = api::SubmitResult{};
    node.submit_result.code = code;
    if (code == Code::kRejected) node.submit_result.reason = "bad-signature";
    stx = Submitted(fr);
  }
  node.submit_result = api::SubmitResult{};
  if (!stx) return 0;

  // The same transaction in the other forms: all three accept exactly the same transactions.
  fuzz::FuzzRequest other = fr;
  other.content_type = "application/octet-stream";
  const ledger::Bytes enc = ledger::Encode(*stx);
  other.body.assign(enc.begin(), enc.end());
  auto as_octet = Submitted(other);
  FUZZ_CHECK(as_octet && *as_octet == *stx, "octet-stream form of a submitted transaction");

  other.content_type = "application/json";
  other.body = Json{{"encoded", ledger::ToHex(enc)}}.dump();
  auto as_encoded = Submitted(other);
  std::optional<ledger::SignedTransaction> as_plain;
  bool plain_representable = true;
  try {
    other.body = api::ToJson(*stx).dump();
    as_plain = Submitted(other);
  } catch (const Json::type_error&) {
    plain_representable = false;  // a string that is not UTF-8 (binary form only)
  }
  FUZZ_CHECK(as_encoded && *as_encoded == *stx, "encoded JSON form of a submitted transaction");
  // Unless a string is not UTF-8 (possible in the binary forms only): no JSON text holds it.
  if (plain_representable) {
    FUZZ_CHECK(as_plain && *as_plain == *stx, "plain JSON form of a submitted transaction");
  }
  return 0;
}
