#include "node/tool_commands.h"

#include <unistd.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "api/json.h"
#include "api/staple.h"
#include "ledger/chain.h"
#include "ledger/commit.h"
#include "ledger/identifier.h"
#include "node/keyfile.h"
#include "tools/audit.h"
#include "tools/document.h"
#include "tools/http_client.h"
#include "tools/qr.h"
#include "tools/tx.h"
#include "tools/verify.h"

namespace certledger::node {

namespace {

using Json = nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Fail(const char* cmd, const std::string& msg, int code = 1) {
  std::fprintf(stderr, "certledger %s: %s\n", cmd, msg.c_str());
  return code;
}

std::string DateCst(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s + 8 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

ledger::Result<ledger::Genesis> ReadGenesis(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ledger::Status::IOError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto g = ledger::ParseGenesisJson(ss.str());
  if (!g.ok()) return ledger::Status::InvalidArgument(path + ": " + g.status().message());
  return g;
}

// ---- tx -----------------------------------------------------------------------------------------

// --cacert: the CA certificates that an https node's certificate must chain to.
constexpr char kCaFileEnv[] = "CERTLEDGER_CA_FILE";
constexpr char kCaFileHelp[] =
    "PEM file of the CA certificates trusted for an https --node (default: $CERTLEDGER_CA_FILE, "
    "else the system's trust store)";

// The values of one `tx` subcommand's flags (registered from tools::TxActions()).
struct TxFlags {
  std::string node, key, cosign_key, doc, out, json, agency, cacert;
  uint64_t sequence = 0;
  int wait_ms = 20000;
  std::map<std::string, std::string> fields;              // TxFlag::Kind::kField
  std::map<std::string, std::vector<std::string>> lists;  // TxFlag::Kind::kList
  std::map<std::string, CLI::Option*> options;            // of fields and lists
  CLI::Option* sequence_opt = nullptr;
};

int RunTx(const std::string& action, const TxFlags& f) {
  const std::string cmd = "tx " + action;
  Json request = Json::object();
  if (!f.json.empty()) {
    std::ifstream in(f.json);
    if (!in) return Fail(cmd.c_str(), "--json: cannot read " + f.json);
    request = Json::parse(in, nullptr, false);
    if (!request.is_object())
      return Fail(cmd.c_str(), "--json: " + f.json + " is not a JSON object");
  }
  for (const auto& [name, opt] : f.options) {
    if (opt->count() == 0) continue;
    if (auto list = f.lists.find(name); list != f.lists.end()) {
      request[name] = list->second;
    } else {
      request[name] = f.fields.at(name);
    }
  }

  auto key = ReadKeyFile(f.key);
  if (!key.ok()) return Fail(cmd.c_str(), "--key: " + key.status().message());
  tools::TxBuildContext ctx(*key);
  if (!f.cosign_key.empty()) {
    auto ck = ReadKeyFile(f.cosign_key);
    if (!ck.ok()) return Fail(cmd.c_str(), "--cosign-key: " + ck.status().message());
    ctx.cosign_key = *ck;
  }
  if (!f.doc.empty()) {
    auto prev = tools::ReadDocumentFile(f.doc);
    if (!prev.ok()) return Fail(cmd.c_str(), "--doc: " + prev.status().message());
    ctx.previous = *prev;
  }
  if (!f.agency.empty()) ctx.agency = f.agency;
  if (f.sequence_opt != nullptr && f.sequence_opt->count() > 0) ctx.sequence = f.sequence;
  ctx.now_s = NowMs() / 1000;

  auto url = tools::ParseUrl(f.node);
  if (!url.ok()) return Fail(cmd.c_str(), "--node: " + url.status().message());
  tools::HttpClient client(*url, tools::HttpClientOptions{f.wait_ms + 10000, f.cacert});
  auto chain = tools::FetchChainInfo(client);
  if (!chain.ok()) return Fail(cmd.c_str(), "--node " + f.node + ": " + chain.status().message());
  ctx.chain = &*chain;
  auto built = tools::BuildTx(action, request, ctx);
  if (!built.ok()) return Fail(cmd.c_str(), built.status().message());

  std::string doc_path, doc_hash;
  if (built->document) {
    doc_hash = ledger::DocumentHash(*built->document).Hex();
    doc_path = f.out;
    if (doc_path.empty()) {
      auto id = ledger::ParseCertificateId(built->document->identifier);
      char v[8];
      std::snprintf(v, sizeof v, "%03u", id ? id->version : 0u);
      doc_path = (id ? id->serial : std::string("certificate")) + "-v" + v + ".json";
    }
    // Written before submitting, so the holder's copy (with its salt) is never lost.
    if (auto st = tools::WriteDocumentFile(doc_path, *built->document); !st.ok()) {
      return Fail(cmd.c_str(), "--out: " + st.message());
    }
  }
  auto r = tools::SubmitTx(client, built->stx, f.wait_ms);
  if (!r.ok()) {
    return Fail(cmd.c_str(), "submitting to " + f.node + ": " + r.status().message() +
                                 " (the outcome is unknown: check GET /v1/tx/" +
                                 ledger::TxHash(built->stx.tx).Hex() + ")");
  }
  std::printf("tx %s (agency %s, sequence %llu)\n", r->tx_hash.c_str(),
              built->stx.tx.agency.c_str(),
              static_cast<unsigned long long>(built->stx.tx.sequence));
  if (r->state == "rejected") {
    if (!doc_path.empty()) std::filesystem::remove(doc_path);
    std::printf("rejected: %s: %s\n", r->reason.c_str(), r->message.c_str());
    return Fail(cmd.c_str(), "rejected (" + r->reason + ")");
  }
  if (r->state != "committed") {
    std::printf("pending: not committed within %d ms\n", f.wait_ms);
    if (!doc_path.empty())
      std::printf("document %s\nwritten to %s\n", doc_hash.c_str(), doc_path.c_str());
    return 3;
  }
  std::printf("committed at height %llu (event-log leaf %llu)\n",
              static_cast<unsigned long long>(r->height),
              static_cast<unsigned long long>(r->log_index));
  if (built->document) {
    std::printf("identifier %s\n", built->document->identifier.c_str());
    std::printf("document %s\n", doc_hash.c_str());
    std::printf("written to %s\n", doc_path.c_str());
    std::printf("verify: %s\n", tools::VerificationUrl(f.node, doc_hash).c_str());
  }
  return 0;
}

void RegisterTx(CLI::App& app, int* exit_code) {
  CLI::App* tx = app.add_subcommand("tx", "Build, sign and submit a certificate event");
  tx->require_subcommand(1);
  for (const tools::TxAction& a : tools::TxActions()) {
    auto f = std::make_shared<TxFlags>();
    CLI::App* c = tx->add_subcommand(a.name, a.help);
    c->add_option("--node", f->node, "Node API URL, e.g. http://127.0.0.1:26700")->required();
    c->add_option("--cacert", f->cacert, kCaFileHelp)->envname(kCaFileEnv);
    c->add_option("--key", f->key, "The agency's issuing key file")->required();
    c->add_option("--json", f->json, "Request fields as JSON (keys = flag names)");
    c->add_option("--agency", f->agency, "Acting agency id (default: the key's agency)");
    f->sequence_opt = c->add_option("--sequence", f->sequence, "Sequence (default: next)");
    c->add_option("--wait-ms", f->wait_ms, "How long to wait for the commit")->default_val(20000);
    for (const tools::TxFlag& flag : a.flags) {
      const std::string name = flag.name;
      const std::string option = "--" + name;
      switch (flag.kind) {
        case tools::TxFlag::Kind::kField:
          f->options[name] = c->add_option(option, f->fields[name], flag.help);
          break;
        case tools::TxFlag::Kind::kList:
          f->options[name] = c->add_option(option, f->lists[name], flag.help);
          break;
        case tools::TxFlag::Kind::kOut:
          c->add_option(option, f->out, flag.help);
          break;
        case tools::TxFlag::Kind::kDoc:
          c->add_option(option, f->doc, flag.help);
          break;
        case tools::TxFlag::Kind::kCosignKey:
          c->add_option(option, f->cosign_key, flag.help);
          break;
      }
    }
    c->callback([f, name = std::string(a.name), exit_code] { *exit_code = RunTx(name, *f); });
  }
}

// ---- verify -------------------------------------------------------------------------------------

struct VerifyFlags {
  std::string hash, node, genesis, answer, cacert, max_age = "10m", evidence_out, check_evidence;
  std::string staple, qr_image, checkpoint;
  bool max_age_given = false;
  std::vector<std::string> nodes;
  bool no_replay = false;
};

// "600", "600s", "10m", "2h" -> milliseconds; "0" disables the check.
std::optional<int64_t> ParseDurationMs(const std::string& s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits])) != 0) ++digits;
  if (digits == 0) return std::nullopt;
  const int64_t n = std::stoll(s.substr(0, digits));
  const std::string unit = s.substr(digits);
  if (unit.empty() || unit == "s") return n * 1000;
  if (unit == "m") return n * 60 * 1000;
  if (unit == "h") return n * 3600 * 1000;
  return std::nullopt;
}

// One source's answer, checked.
struct CheckedAnswer {
  std::string source;
  Json answer;  // as received (null if none could be parsed)
  ledger::Result<tools::VerifiedAnswer> result = ledger::Status::Unavailable("not asked");
};

CheckedAnswer AskAndCheck(const VerifyFlags& f, const std::string& source, bool from_file,
                          const ledger::Hash256& hash, const ledger::Genesis& genesis,
                          int64_t max_age_ms) {
  CheckedAnswer out;
  out.source = source;
  std::string body;
  if (from_file) {
    std::ifstream in(source);
    if (!in) {
      out.result = ledger::Status::InvalidArgument("cannot read " + source);
      return out;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  } else {
    auto url = tools::ParseUrl(source);
    if (!url.ok()) {
      out.result = url.status();
      return out;
    }
    tools::HttpClient client(*url, tools::HttpClientOptions{15000, f.cacert});
    auto r = client.Get("/v1/verify/" + hash.Hex());
    if (!r.ok()) {
      out.result = ledger::Status::Unavailable("GET /v1/verify: " + r.status().message());
      return out;
    }
    if (r->status != 200 && r->status != 404) {
      out.result = ledger::Status::Unavailable("GET /v1/verify: HTTP " + std::to_string(r->status) +
                                               ": " + r->body.substr(0, 200));
      return out;
    }
    body = r->body;
  }
  if (body.size() > (4u << 20)) {
    out.result = ledger::Status::InvalidArgument("the answer is larger than 4 MiB");
    return out;
  }
  Json answer = Json::parse(body, nullptr, false);
  if (answer.is_discarded()) {
    out.result = ledger::Status::InvalidArgument("the answer is not JSON");
    return out;
  }
  out.answer = answer;
  tools::VerifyOptions o;
  o.document_hash = hash;
  o.now_ms = NowMs();
  o.max_age_ms = max_age_ms;
  if (!f.no_replay && !from_file) {
    const std::string cacert = f.cacert;
    const ledger::Genesis g = genesis;
    o.resolve_validators = [source, cacert, g](uint64_t height) {
      return tools::ReplayValidatorSet(source, g, height, cacert);
    };
  }
  out.result = tools::CheckVerificationAnswer(answer, genesis, o);
  return out;
}

void PrintVerified(const tools::VerifiedAnswer& v) {
  std::printf("%s\n", tools::StatusLine(v).c_str());
  if (v.status != "unknown") {
    std::printf("certificate %s version %u (current %u)\n", v.certificate.c_str(), v.version,
                v.current_version);
    std::printf("issuer %s (%s)\n", v.issuer_name.empty() ? "?" : v.issuer_name.c_str(),
                v.issuer.c_str());
    if (v.controller != v.issuer) {
      std::printf("responsible agency %s (%s)\n",
                  v.controller_name.empty() ? "?" : v.controller_name.c_str(),
                  v.controller.c_str());
    }
    if (v.superseded_by_version != 0) {
      std::printf("superseded by version %u, document %s\n", v.superseded_by_version,
                  v.superseded_by_document.Hex().c_str());
    }
    if (v.status_changed_ms != 0 && v.stored_status != "valid") {
      std::printf("%s on %s (China Standard Time), reason: %s\n", v.stored_status.c_str(),
                  DateCst(v.status_changed_ms / 1000).c_str(), v.status_reason.c_str());
    }
    if (v.not_after != 0) {
      std::printf("valid until %s (China Standard Time)\n", DateCst(v.not_after).c_str());
    }
  } else {
    std::printf("the document hash is proven absent from the ledger at block %llu\n",
                static_cast<unsigned long long>(v.header.height));
  }
  if (v.signed_by) {
    std::printf("answer signed by node %s%s%s\n", v.signed_by->Hex().substr(0, 16).c_str(),
                v.signer_agency.empty() ? "" : ", validator of ",
                v.signer_agency.empty() ? "" : v.signer_agency.c_str());
  }
  std::printf(
      "proof: block %llu (%s, China Standard Time), committed by %zu validator(s) with power "
      "%llu of %llu; %zu state entr%s under state root %s; %zu event(s) under log root %s\n",
      static_cast<unsigned long long>(v.header.height), DateCst(v.header.time_ms / 1000).c_str(),
      v.signers, static_cast<unsigned long long>(v.signed_power),
      static_cast<unsigned long long>(v.total_power), v.state_entries,
      v.state_entries == 1 ? "y" : "ies", v.header.state_root.Hex().substr(0, 16).c_str(), v.events,
      v.header.log_root.Hex().substr(0, 16).c_str());
  for (const auto& n : v.notes) std::printf("note: %s\n", n.c_str());
}

// Writes an evidence file when a signed answer is contradicted by its own proofs; prints where.
void WriteEvidenceIfAny(const VerifyFlags& f, const ledger::Genesis& genesis,
                        const ledger::Hash256& hash, const std::vector<CheckedAnswer>& answers) {
  std::vector<std::pair<std::string, Json>> signed_answers;
  for (const auto& a : answers) {
    if (a.answer.is_object() && a.answer.contains("attestation")) {
      signed_answers.emplace_back(a.source, a.answer);
    }
  }
  if (signed_answers.empty()) return;
  Json evidence = tools::MakeEvidence(genesis, hash, signed_answers, NowMs());
  if (evidence["findings"].empty()) return;
  const std::string path = !f.evidence_out.empty()
                               ? f.evidence_out
                               : "certledger-evidence-" + hash.Hex().substr(0, 16) + "-" +
                                     std::to_string(NowMs()) + ".json";
  std::ofstream out(path, std::ios::trunc);
  out << evidence.dump(2) << "\n";
  if (!out) {
    std::printf("could not write the evidence file %s\n", path.c_str());
    return;
  }
  for (const auto& finding : evidence["findings"]) {
    std::printf("EVIDENCE: %s\n", finding.get<std::string>().c_str());
  }
  std::printf(
      "evidence written to %s (check it with: certledger verify --check-evidence %s "
      "--genesis GENESIS)\n",
      path.c_str(), path.c_str());
}

int RunCheckEvidence(const VerifyFlags& f, const ledger::Genesis& genesis) {
  std::ifstream in(f.check_evidence);
  if (!in) return Fail("verify", "--check-evidence: cannot read " + f.check_evidence);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > (64u << 20)) return Fail("verify", "--check-evidence: larger than 64 MiB");
  Json evidence = Json::parse(ss.str(), nullptr, false);
  if (evidence.is_discarded()) return Fail("verify", "--check-evidence: not JSON");
  auto findings = tools::CheckEvidence(evidence, genesis);
  if (!findings.ok()) return Fail("verify", "--check-evidence: " + findings.status().message());
  if (findings->empty()) {
    std::printf("the evidence proves nothing against anyone\n");
    return 1;
  }
  for (const auto& x : *findings) {
    if (x.node_key == ledger::PublicKey{}) {
      std::printf("PROVEN at height %llu: %s\n", static_cast<unsigned long long>(x.height),
                  x.reason.c_str());
    } else {
      std::printf("PROVEN against node %s%s%s at height %llu: %s\n", x.node_key.Hex().c_str(),
                  x.agency.empty() ? "" : " (validator of ",
                  x.agency.empty() ? "" : x.agency.c_str(),
                  static_cast<unsigned long long>(x.height), x.reason.c_str());
    }
  }
  return 0;
}

// `verify --staple FILE` or `--qr-image PNG`: an offline status staple (FORMAT.md §16).
int RunVerifyStaple(const VerifyFlags& f, const ledger::Genesis& genesis) {
  ledger::Bytes bytes;
  std::string url;
  if (!f.qr_image.empty()) {
    auto text = tools::ReadQrImage(f.qr_image);
    if (!text.ok()) return Fail("verify", "--qr-image: " + text.status().message());
    auto parsed = tools::ParseStapleQrText(*text);
    if (!parsed.ok()) return Fail("verify", "--qr-image: " + parsed.status().message());
    bytes = std::move(parsed->staple);
    url = parsed->url;
  } else {
    std::ifstream in(f.staple, std::ios::binary);
    if (!in) return Fail("verify", "--staple: cannot read " + f.staple);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (bytes.size() > (1u << 20)) return Fail("verify", "--staple: larger than 1 MiB");
  }
  auto staple = api::Staple::Decode(bytes);
  if (!staple.ok()) return Fail("verify", "verification FAILED: " + staple.status().message());
  const ledger::ChainDomain domain{genesis.params.chain_id, ledger::GenesisHash(genesis)};
  std::vector<ledger::BlockHeader> checkpoints;
  if (!f.checkpoint.empty()) {
    std::ifstream in(f.checkpoint);
    std::stringstream ss;
    ss << in.rdbuf();
    Json j = Json::parse(ss.str(), nullptr, false);
    if (!in || j.is_discarded() || !j.is_object()) {
      return Fail("verify", "--checkpoint: expected the JSON of GET /v1/checkpoint");
    }
    auto header = api::FromJson<ledger::BlockHeader>(j.value("header", Json()));
    auto commit = api::FromJson<ledger::CommitCertificate>(j.value("commit", Json()));
    if (!header.ok() || !commit.ok()) {
      return Fail("verify", "--checkpoint: expected a header and its commit");
    }
    if (header->validator_set_hash != genesis.validators.Hash()) {
      return Fail("verify", "--checkpoint: committed by a validator set other than genesis's");
    }
    if (auto st = ledger::VerifyCommit(domain, genesis.validators, header->height,
                                       ledger::BlockHash(*header), *commit);
        !st.ok()) {
      return Fail("verify", "--checkpoint: " + st.message());
    }
    checkpoints.push_back(*header);
  }
  if (staple->document_hash.Hex() != f.hash && !f.hash.empty()) {
    return Fail("verify",
                "verification FAILED: the staple is about document " + staple->document_hash.Hex());
  }
  int64_t max_age = 0;
  if (f.max_age_given) {
    auto m = ParseDurationMs(f.max_age);
    if (!m) return Fail("verify", "--max-age: expected a duration such as 600, 90s, 10m, 1h");
    max_age = *m;
  }
  auto facts =
      api::VerifyStaple(*staple, domain, genesis.validators, checkpoints, NowMs(), max_age);
  if (!facts.ok()) return Fail("verify", "verification FAILED: " + facts.status().message());
  tools::VerifiedAnswer v;
  v.status = facts->status;
  v.stored_status = api::CertStatusName(facts->cert.status);
  std::printf("%s\n", tools::StatusLine(v).c_str());
  std::printf("document %s: certificate %s version %u (current %u)\n",
              staple->document_hash.Hex().c_str(), facts->cert.base_id.c_str(), facts->version,
              facts->cert.version);
  if (!facts->cert.status_reason.empty()) {
    std::printf("reason: %s\n", facts->cert.status_reason.c_str());
  }
  std::printf("valid until %s (China Standard Time)\n", DateCst(facts->cert.not_after).c_str());
  std::printf("staple: %zu bytes, %s, block %llu of %s (China Standard Time); good until %s\n",
              bytes.size(),
              staple->anchor == api::Staple::Anchor::kEmbedded ? "with its commit"
                                                               : "resting on a checkpoint",
              static_cast<unsigned long long>(facts->header.height),
              DateCst(facts->header.time_ms / 1000).c_str(),
              DateCst(facts->expires_ms / 1000).c_str());
  if (!url.empty()) std::printf("online: %s\n", url.c_str());
  return 0;
}

int RunVerify(const VerifyFlags& f) {
  auto genesis = ReadGenesis(f.genesis);
  if (!genesis.ok()) return Fail("verify", "--genesis: " + genesis.status().message());
  if (!f.check_evidence.empty()) return RunCheckEvidence(f, *genesis);
  if (!f.staple.empty() || !f.qr_image.empty()) return RunVerifyStaple(f, *genesis);
  auto hash = ledger::Hash256::FromHexString(f.hash);
  if (!hash) return Fail("verify", "--hash: expected 64 hex characters");
  auto max_age = ParseDurationMs(f.max_age);
  if (!max_age) return Fail("verify", "--max-age: expected a duration such as 600, 90s, 10m, 1h");
  std::vector<std::string> sources;
  if (!f.node.empty()) sources.push_back(f.node);
  for (const auto& n : f.nodes) {
    if (!n.empty()) sources.push_back(n);
  }
  const bool from_file = !f.answer.empty();
  if (from_file && !sources.empty()) {
    return Fail("verify", "--answer: give either a saved answer or nodes to ask, not both");
  }
  if (from_file) sources.push_back(f.answer);
  if (sources.empty()) return Fail("verify", "--node or --nodes: required (or --answer FILE)");
  if (sources.size() > 16) return Fail("verify", "--nodes: at most 16 nodes");

  std::vector<CheckedAnswer> answers;
  for (const auto& s : sources) {
    answers.push_back(AskAndCheck(f, s, from_file, *hash, *genesis, *max_age));
  }
  WriteEvidenceIfAny(f, *genesis, *hash, answers);
  if (answers.size() == 1) {
    const auto& a = answers[0];
    if (!a.result.ok()) {
      if (a.result.status().code() == ledger::Status::Code::kUnavailable) {
        return Fail("verify", a.result.status().message());
      }
      return Fail("verify", "verification FAILED: " + a.result.status().message());
    }
    PrintVerified(*a.result);
    return a.result->status == "unknown" ? 2 : 0;
  }
  // Several nodes: each answer on its own line, then the most recent proven answer.
  const CheckedAnswer* newest = nullptr;
  bool failed = false, disagree = false;
  for (const auto& a : answers) {
    if (!a.result.ok()) {
      failed = true;
      std::printf("%s: FAILED: %s\n", a.source.c_str(), a.result.status().message().c_str());
      continue;
    }
    const auto& v = *a.result;
    std::printf("%s: %s at block %llu (state root %s)\n", a.source.c_str(), v.status.c_str(),
                static_cast<unsigned long long>(v.header.height),
                v.header.state_root.Hex().substr(0, 16).c_str());
    if (newest != nullptr && (newest->result->status != v.status ||
                              newest->result->current_version != v.current_version)) {
      disagree = true;
    }
    if (newest == nullptr || v.header.height > newest->result->header.height) newest = &a;
  }
  if (newest == nullptr) return Fail("verify", "no node gave an answer that verifies");
  std::printf("--- the most recent verified answer (%s):\n", newest->source.c_str());
  PrintVerified(*newest->result);
  if (disagree) {
    std::printf(
        "DISAGREEMENT: the nodes' proven answers differ (a node may be behind); the most "
        "recent proven state is shown above\n");
    return 3;
  }
  if (failed) {
    std::printf("verification FAILED for at least one node (see above)\n");
    return 1;
  }
  return newest->result->status == "unknown" ? 2 : 0;
}

void RegisterVerify(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<VerifyFlags>();
  CLI::App* c = app.add_subcommand(
      "verify", "Check a node's verification answer against the genesis validator set");
  c->add_option("--hash", f->hash, "Document hash (from the QR code)");
  c->add_option("--node", f->node, "Node API URL to ask");
  c->add_option("--nodes", f->nodes, "Several node API URLs (comma-separated): report disagreement")
      ->delimiter(',');
  c->add_option("--cacert", f->cacert, kCaFileHelp)->envname(kCaFileEnv);
  c->add_option("--genesis", f->genesis, "The genesis file you trust")->required();
  c->add_option("--answer", f->answer, "Check a saved /v1/verify answer instead of asking");
  c->add_option("--max-age", f->max_age,
                "Refuse answers whose block is older than this (600, 90s, 10m, 1h; 0 = no limit; "
                "staples: their own expiry unless given)")
      ->default_val("10m");
  c->add_option("--staple", f->staple, "Check an offline status staple file (GET /v1/staple)");
  c->add_option("--qr-image", f->qr_image, "Check the staple in a QR code image (PNG)");
  c->add_option("--checkpoint", f->checkpoint,
                "A checkpoint (saved GET /v1/checkpoint) for staples that rest on one");
  c->add_option("--evidence-out", f->evidence_out,
                "Where to write evidence when a signed answer is contradicted by its proofs "
                "(default certledger-evidence-<hash>-<time>.json)");
  c->add_option("--check-evidence", f->check_evidence,
                "Check an evidence file offline against --genesis (exit 0: misbehaviour proven)");
  c->add_flag("--no-replay", f->no_replay,
              "Do not replay the chain when the validator set changed since genesis");
  c->callback([f, c, exit_code] {
    f->max_age_given = c->get_option("--max-age")->count() > 0;
    *exit_code = RunVerify(*f);
  });
}

// ---- audit --------------------------------------------------------------------------------------

void RegisterAudit(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<tools::AuditOptions>();
  auto report = std::make_shared<std::string>();
  CLI::App* c = app.add_subcommand("audit", "Replay the whole ledger from genesis and report");
  c->add_option("--home", o->home, "A stopped node's home directory (or a copy of it)");
  c->add_option("--node", o->node_url, "Or a node's API URL");
  c->add_option("--cacert", o->ca_file, kCaFileHelp)->envname(kCaFileEnv);
  c->add_option("--genesis", o->genesis_file,
                "The genesis you trust (default <home>/genesis.json)");
  c->add_option("--report", *report, "Write PREFIX.json and PREFIX.csv");
  c->add_option("--seed", o->seed, "Seed of the certificate sample")->default_val(1);
  c->add_option("--sample", o->sample_fraction, "Fraction of certificates to sample")
      ->default_val(0.01);
  c->callback([o, report, exit_code] {
    // The bar goes to stderr (when that is a terminal), so that stdout carries only the report
    // and stays parseable when it is redirected.
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    if (tty) {
      o->progress = [last = -1](uint64_t h, uint64_t top) mutable {
        const int pct = top == 0 ? 100 : static_cast<int>(h * 100 / top);
        if (pct == last) return;
        last = pct;
        std::string bar(static_cast<size_t>(pct / 2), '#');
        bar.resize(50, '.');
        std::fprintf(stderr, "\r[%s] %3d%% block %llu/%llu", bar.c_str(), pct,
                     static_cast<unsigned long long>(h), static_cast<unsigned long long>(top));
        std::fflush(stderr);
      };
    }
    auto r = tools::RunAudit(*o);
    if (tty) std::fprintf(stderr, "\n");
    if (!r.ok()) {
      *exit_code = Fail("audit", r.status().message());
      return;
    }
    std::printf("%s", r->ToText().c_str());
    if (!report->empty()) {
      if (auto st = tools::WriteAuditReport(*r, *report); !st.ok()) {
        *exit_code = Fail("audit", st.message());
        return;
      }
      std::printf("report: %s.json, %s.csv\n", report->c_str(), report->c_str());
    }
    *exit_code = r->ok() ? 0 : 1;
  });
}

// ---- qr -----------------------------------------------------------------------------------------

void RegisterQr(CLI::App& app, int* exit_code) {
  auto hash = std::make_shared<std::string>();
  auto node = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto scale = std::make_shared<int>(8);
  CLI::App* c = app.add_subcommand("qr", "Write the QR code of a document's verification URL");
  c->add_option("--hash", *hash, "Document hash")->required();
  c->add_option("--node", *node, "Node URL the code points at")->required();
  c->add_option("--out", *out, "Output file, .png or .svg")->required();
  c->add_option("--scale", *scale, "PNG pixels per module")->default_val(8);
  auto staple = std::make_shared<bool>(false);
  auto cacert = std::make_shared<std::string>();
  c->add_flag("--staple", *staple,
              "Add the document's offline status staple (GET /v1/staple) after the URL");
  c->add_option("--cacert", *cacert, kCaFileHelp)->envname(kCaFileEnv);
  c->callback([hash, node, out, scale, staple, cacert, exit_code] {
    auto h = ledger::Hash256::FromHexString(*hash);
    if (!h) {
      *exit_code = Fail("qr", "--hash: expected 64 hex characters");
      return;
    }
    const std::string url = tools::VerificationUrl(*node, h->Hex());
    if (*staple) {
      auto parsed = tools::ParseUrl(*node);
      if (!parsed.ok()) {
        *exit_code = Fail("qr", "--node: " + parsed.status().message());
        return;
      }
      tools::HttpClient client(*parsed, tools::HttpClientOptions{15000, *cacert});
      auto r = client.Get("/v1/staple/" + h->Hex());
      if (!r.ok() || r->status != 200) {
        *exit_code = Fail("qr", "GET /v1/staple: " + (r.ok() ? "HTTP " + std::to_string(r->status) +
                                                                   ": " + r->body.substr(0, 200)
                                                             : r.status().message()));
        return;
      }
      int version = 0;
      if (auto st = tools::WriteStapleQr(url, ledger::AsBytes(r->body), *out, *scale, &version);
          !st.ok()) {
        *exit_code = Fail("qr", st.message());
        return;
      }
      std::printf("%s\n%s\nstaple: %zu bytes; QR version %d, error correction M\n", out->c_str(),
                  url.c_str(), r->body.size(), version);
      return;
    }
    if (auto st = tools::WriteQr(url, *out, *scale); !st.ok()) {
      *exit_code = Fail("qr", st.message());
      return;
    }
    std::printf("%s\n%s\n", out->c_str(), url.c_str());
  });
}

}  // namespace

void RegisterToolCommands(CLI::App& app, int* exit_code) {
  RegisterTx(app, exit_code);
  RegisterVerify(app, exit_code);
  RegisterAudit(app, exit_code);
  RegisterQr(app, exit_code);
}

}  // namespace certledger::node
