// `certledger tx`: builds, signs and submits one certificate event (issue, change, renew,
// suspend, resume, revoke, transfer) for an agency, and for issue / change / renew writes the
// holder's copy of the new canonical certificate document (tools/document.h).
//
// The request is a JSON object whose keys are the command's flag names without "--" (so a
// `--json FILE` and the flags are interchangeable, and every error names the flag):
//   serial, permit-number, holder-kind (organisation | individual), holder-name, holder-id,
//   source (surface | groundwater), annual-quantity (m3), purpose, location, division, method,
//   return-location, intake (array of "name,lon,lat[,state[,aquifer]]", degrees), not-before,
//   not-after (YYYY-MM-DD, 00:00 China Standard Time), certificate (base identifier), reason,
//   kind (withdrawn | cancelled | revoked), to-agency, changed-fields (comma list; default: the
//   fields that differ from the previous document).
// An individual holder's name and ID number go into the document only; the on-ledger summary
// carries neither (docs/FORMAT.md §5.4).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ledger/crypto.h"
#include "ledger/status.h"
#include "ledger/types.h"
#include "tools/http_client.h"

namespace certledger::tools {

// What a transaction builder needs from the chain (fetched from a node: /v1/genesis and
// /v1/agencies; the node is trusted for these only, and the ledger checks everything again).
struct ChainInfo {
  struct AgencyInfo {
    std::string id;
    std::string name;
    std::vector<ledger::PublicKey> issuing_keys;
    uint64_t sequence = 0;  // last committed sequence
  };
  std::string chain_id;
  ledger::Hash256 genesis_hash;  // bound into every signature with the chain id
  std::string type_code;         // the water permit's GB/T 36904 type code
  std::vector<AgencyInfo> agencies;
  [[nodiscard]] const AgencyInfo* Find(const std::string& id) const;
  // The agency that lists `key` among its issuing keys.
  [[nodiscard]] const AgencyInfo* FindByKey(const ledger::PublicKey& key) const;
};
ledger::Result<ChainInfo> FetchChainInfo(HttpClient& client);

struct TxBuildContext {
  explicit TxBuildContext(ledger::PrivateKey k) : key(std::move(k)) {}
  const ChainInfo* chain = nullptr;
  ledger::PrivateKey key;                               // an issuing key of the acting agency
  std::optional<ledger::PrivateKey> cosign_key;         // transfer: the receiving agency's key
  std::optional<ledger::CertificateDocument> previous;  // change / renew (and optionally others)
  std::optional<std::string> agency;                    // acting agency; default: the key's
  std::optional<uint64_t> sequence;                     // default: last committed + 1
  int64_t now_s = 0;
};

struct BuiltTx {
  ledger::SignedTransaction stx;
  std::optional<ledger::CertificateDocument> document;  // issue, change, renew
};

// `action` is one of issue, change, renew, suspend, resume, revoke, transfer (TxActions()).
// Resolves the acting agency and sequence, builds the event with the action's builder, then
// signs (with the receiver's key too for a transfer). InvalidArgument naming the flag for a bad
// or missing field.
ledger::Result<BuiltTx> BuildTx(const std::string& action, const nlohmann::json& request,
                                const TxBuildContext& ctx);

// A flag of one `certledger tx` action, besides the ones every action takes (--node, --cacert,
// --key, --json, --agency, --sequence, --wait-ms).
struct TxFlag {
  enum class Kind {
    kField,      // a request field (a string; the same key in --json)
    kList,       // a repeatable request field (an array of strings)
    kOut,        // --out: where the new document is written
    kDoc,        // --doc: the current document (TxBuildContext::previous)
    kCosignKey,  // --cosign-key: the receiving agency's key file (TxBuildContext::cosign_key)
  };
  const char* name;  // without "--"
  const char* help;
  Kind kind = Kind::kField;
};

// Builds one action's event into out->stx.tx.event (and out->document for issue, change and
// renew). The transaction's chain id, acting agency and sequence are set; signing follows.
using TxBuilder = ledger::Status (*)(const nlohmann::json& request, const TxBuildContext& ctx,
                                     const ChainInfo::AgencyInfo& agency, BuiltTx* out);

// One `certledger tx` action: its subcommand name and help, its flags in the order the help
// lists them, and its builder. node/tool_commands.cc registers the subcommands from this table
// and BuildTx dispatches through it, so an action's flags and builder are declared together.
struct TxAction {
  const char* name;
  const char* help;
  std::vector<TxFlag> flags;
  TxBuilder build;
};
const std::vector<TxAction>& TxActions();

// "YYYY-MM-DD" -> unix seconds at 00:00 China Standard Time (UTC+8).
std::optional<int64_t> ParseDate(const std::string& s);
// "118.796877" -> 118796877 (exactly, no floating point); nullopt if malformed or > 6 decimals.
std::optional<int64_t> ParseMicroDegrees(const std::string& s);

struct SubmitResult {
  int http_status = 0;
  std::string tx_hash;
  std::string state;  // committed | pending | rejected
  uint64_t height = 0;
  uint64_t log_index = 0;
  std::string reason;  // rejection code
  std::string message;
};
// POST /v1/tx, then polls GET /v1/tx/{hash} until committed or rejected (at most `wait_ms`).
ledger::Result<SubmitResult> SubmitTx(HttpClient& client, const ledger::SignedTransaction& stx,
                                      int wait_ms);

}  // namespace certledger::tools
