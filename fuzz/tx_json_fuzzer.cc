// The API's JSON transaction parser (api/json.h FromJson<SignedTransaction>), which accepts two
// forms: the plain JSON form and {"encoded": "<hex of the canonical encoding>"}. Both must accept
// exactly the same set of transactions (commit 7478ca6 fixed an off-curve signer key that only
// the encoded form accepted). For any accepted input, the transaction converted to the other form
// must be accepted and equal, as a JSON value and, when the text is representable (JSON text is
// UTF-8; the binary form carries any bytes, which the state machine refuses as malformed, FORMAT
// §5.4), through JSON text as well. For an `encoded` input whose bytes decode but which the parser
// refuses, the plain form of the decoded transaction must be refused too.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/json.h"
#include "fuzz/fuzz_common.h"
#include "ledger/encoding.h"

namespace {

using namespace certledger;
using api::Json;

// `stx` was accepted in one form (`from_encoded` says which): the other form of it must be
// accepted and give the same transaction.
void CheckOtherForm(const ledger::SignedTransaction& stx, bool from_encoded) {
  Json other =
      from_encoded ? api::ToJson(stx) : Json{{"encoded", ledger::ToHex(ledger::Encode(stx))}};
  auto back = api::FromJson<ledger::SignedTransaction>(other);
  FUZZ_CHECK(back.ok(),
             std::string(from_encoded ? "plain" : "encoded") +
                 " form refuses what the other form accepts: " + back.status().ToString());
  FUZZ_CHECK(*back == stx, "the two forms give different transactions");
  // Through text, as a client would send it.
  std::string text;
  try {
    text = other.dump();
  } catch (const Json::type_error&) {
    // Only a binary-form string that is not UTF-8 cannot be written as JSON text.
    FUZZ_CHECK(from_encoded, "a transaction parsed from JSON text is not representable as text");
    return;
  }
  auto parsed = api::ParseJson(text);
  FUZZ_CHECK(parsed.ok(), "ParseJson refuses dump(): " + text);
  auto via_text = api::FromJson<ledger::SignedTransaction>(*parsed);
  FUZZ_CHECK(via_text.ok() && *via_text == stx, "the other form through text differs: " + text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto j = api::ParseJson(text);
  if (!j.ok()) return 0;
  const bool encoded_form = j->is_object() && j->contains("encoded");
  auto stx = api::FromJson<ledger::SignedTransaction>(*j);
  if (stx.ok()) {
    CheckOtherForm(*stx, encoded_form);
    // The JSON view of an accepted transaction parses back to it (the response of GET /v1/tx).
    auto again = api::FromJson<ledger::SignedTransaction>(api::ToJson(*stx));
    FUZZ_CHECK(again.ok() && *again == *stx, "ToJson -> FromJson");
    return 0;
  }
  // Refused in encoded form although the bytes decode: the plain form must be refused as well
  // (unless only the optional "hash" field or an unknown field was wrong).
  if (!encoded_form) return 0;
  const Json& enc = (*j)["encoded"];
  if (!enc.is_string()) return 0;
  auto bytes = ledger::FromHex(enc.get<std::string>());
  if (!bytes) return 0;
  auto decoded = ledger::Decode<ledger::SignedTransaction>(*bytes);
  if (!decoded.ok()) return 0;
  const bool bare_refused = !api::FromJson<ledger::SignedTransaction>(Json{{"encoded", enc}}).ok();
  if (!bare_refused) return 0;  // refused for its "hash" or an unknown field only
  auto plain = api::FromJson<ledger::SignedTransaction>(api::ToJson(*decoded));
  FUZZ_CHECK(!plain.ok(), "the encoded form refuses a transaction that the plain form accepts: " +
                              stx.status().ToString());
  return 0;
}
