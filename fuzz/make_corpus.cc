// Writes the seed corpora of the fuzz targets: fuzz/corpus/<target>/<name>, a handful of valid and
// edge-case inputs each, built from the tests' deterministic chain (tests/testing/chain_fixture.h)
// and the api tests' ledger. Signatures use zero auxiliary randomness, so that running it again
// gives the same files unless a format changed. Regression inputs (regress-*) are written too;
// hand-made inputs added later (a crash once fixed) are kept: files this program does not name
// are never touched.
//
//   fuzz_make_corpus DIR      (scripts/fuzz.sh corpus: DIR = fuzz/corpus)
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "api/json.h"
#include "consensus/message.h"
#include "fuzz/api_fixture.h"
#include "fuzz/fuzz_keys.h"
#include "ledger/chain.h"
#include "ledger/encoding.h"
#include "ledger/smt.h"
#include "network/channel.h"
#include "network/wire.h"
#include "node/config.h"
#include "node/peer_messages.h"
#include "tests/testing/chain_fixture.h"

namespace certledger::fuzz {
namespace {

using api::Json;
using ledger::Bytes;
using testing::ChainFixture;

std::filesystem::path g_root;
int g_written = 0;

void Write(const std::string& target, const std::string& name, std::string_view content) {
  const auto dir = g_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
  ++g_written;
}
void Write(const std::string& target, const std::string& name, const Bytes& content) {
  Write(target, name,
        std::string_view(reinterpret_cast<const char*>(content.data()), content.size()));
}

ledger::Signature SignDeterministic(const ledger::PrivateKey& key, const ledger::Hash256& digest) {
  const std::array<uint8_t, 32> zero{};
  return key.Sign(digest.span(), zero);
}

// Signs `tx` with `keys`, signatures in ascending signer order (FORMAT.md §5.1).
ledger::SignedTransaction Sign(const ChainFixture& f, ledger::Transaction tx,
                               const std::vector<const ledger::PrivateKey*>& keys) {
  ledger::SignedTransaction stx;
  stx.tx = std::move(tx);
  const ledger::Hash256 digest = ledger::TxSigningDigest(stx.tx, ledger::GenesisHash(f.genesis));
  for (const auto* k : keys)
    stx.signatures.push_back({k->public_key(), SignDeterministic(*k, digest)});
  std::sort(stx.signatures.begin(), stx.signatures.end(),
            [](const auto& a, const auto& b) { return a.signer < b.signer; });
  return stx;
}

ledger::CommitCertificate Commit(const ChainFixture& f, const ledger::BlockHeader& header) {
  ledger::CommitCertificate c;
  c.height = header.height;
  c.block_id = ledger::BlockHash(header);
  const auto digest = ledger::VoteSigningDigest(f.domain(), ledger::VoteType::kPrecommit, c.height,
                                                c.round, c.block_id);
  for (const auto& k : f.validator_keys)
    c.signatures.push_back({k.public_key(), SignDeterministic(k, digest)});
  return c;
}

consensus::Vote Vote(const ChainFixture& f, ledger::VoteType type, uint64_t height, uint32_t round,
                     std::optional<ledger::Hash256> id) {
  consensus::Vote v{type, height, round, id, f.validator_keys[0].public_key(), {}};
  v.signature = SignDeterministic(f.validator_keys[0], consensus::SigningDigestOf(f.domain(), v));
  return v;
}

Bytes Truncated(Bytes b) {
  if (!b.empty()) b.pop_back();
  return b;
}
Bytes Trailing(Bytes b) {
  b.push_back(0);
  return b;
}

struct Chain {
  ChainFixture f;
  std::vector<std::pair<std::string, ledger::SignedTransaction>> txs;  // one of each event type
  std::vector<testing::BuiltBlock> blocks;
  std::vector<ledger::CommitCertificate> commits;  // deterministic, for `blocks`
};

Chain MakeChain() {
  Chain c;
  ChainFixture& f = c.f;
  auto& issuer = f.agencies[0].issuing[0];
  uint64_t seq = 1;
  auto tx = [&](const std::string& name, ledger::Event e,
                std::vector<const ledger::PrivateKey*> keys) {
    c.txs.emplace_back(name, Sign(f, f.Unsigned(0, std::move(e), seq++), keys));
  };
  ledger::IssueEvent issue = f.Issue(0, "F0001");
  tx("issue", issue, {&issuer});
  ledger::ChangeEvent change;
  change.identifier = f.CertId(0, "F0001", 2);
  change.document_hash = ledger::Sha256(ledger::AsBytes("fuzz/doc/F0001/v2"));
  change.holder_commitment = ledger::Sha256(ledger::AsBytes("fuzz/holder/2"));
  change.summary = ledger::sample::PermitSummary("B320115S2026-F001");
  change.changed_fields = {"annual_quantity_m3", "holder_name"};
  tx("change", change, {&issuer});
  tx("renew",
     ledger::RenewEvent{f.CertId(0, "F0001", 3), ledger::Sha256(ledger::AsBytes("fuzz/doc/v3")),
                        issue.not_after + 86400},
     {&issuer});
  tx("suspend", ledger::SuspendEvent{f.BaseId(0, "F0001"), "未按规定安装计量设施"}, {&issuer});
  tx("resume", ledger::ResumeEvent{f.BaseId(0, "F0001"), ""}, {&issuer});
  tx("revoke",
     ledger::RevokeEvent{f.BaseId(0, "F0001"), ledger::RevocationKind::kRevoked, "擅自转让"},
     {&issuer});
  tx("transfer", ledger::TransferEvent{f.BaseId(0, "F0001"), f.id(1)},
     {&issuer, &f.agencies[1].issuing[0]});
  tx("register-agency", ledger::RegisterAgencyEvent{f.genesis.agencies[2]},
     {&f.validator_keys[0], &f.validator_keys[1], &f.validator_keys[2]});
  tx("update-validators", ledger::UpdateValidatorsEvent{f.genesis.validators},
     {&f.validator_keys[0], &f.validator_keys[1], &f.validator_keys[2]});
  {
    const auto a = Vote(f, ledger::VoteType::kPrecommit, 2, 0, std::nullopt);
    const auto b =
        Vote(f, ledger::VoteType::kPrecommit, 2, 0, ledger::Sha256(ledger::AsBytes("x")));
    ledger::DuplicateVoteEvent d;
    d.first = {a.type, a.height, a.round, a.block_id, a.validator, a.signature};
    d.second = {b.type, b.height, b.round, b.block_id, b.validator, b.signature};
    ledger::Transaction t = f.Unsigned(0, d, 0);
    t.agency.clear();
    c.txs.emplace_back("duplicate-vote", ledger::SignedTransaction{t, {}});
  }

  // Two blocks the state machine accepts: two issues, then an empty block.
  testing::ChainBuilder builder(&f);
  const auto i1 = Sign(f, f.Unsigned(1, f.Issue(1, "G0001"), 1), {&f.agencies[1].issuing[0]});
  const auto i2 = Sign(f, f.Unsigned(1, f.Issue(1, "G0002"), 2), {&f.agencies[1].issuing[0]});
  c.blocks.push_back(builder.Next({i1, i2}));
  c.blocks.push_back(builder.Next({}));
  for (const auto& b : c.blocks) c.commits.push_back(Commit(f, b.block.header));
  return c;
}

void LedgerRecords(const Chain& c) {
  for (const auto& [name, stx] : c.txs) {
    Write("tx_decode", name, ledger::Encode(stx));
    Write("tx_json", name + ".json", api::ToJson(stx).dump(1) + "\n");
  }
  const auto& issue = c.txs.front().second;
  Write("tx_decode", "unsigned-transaction", ledger::Encode(issue.tx));
  Write("tx_decode", "truncated", Truncated(ledger::Encode(issue)));
  Write("tx_decode", "trailing-byte", Trailing(ledger::Encode(issue)));
  Write("tx_json", "issue-encoded.json",
        Json{{"encoded", ledger::ToHex(ledger::Encode(issue))}}.dump() + "\n");
  Write("tx_json", "issue-encoded-with-hash.json",
        Json{{"encoded", ledger::ToHex(ledger::Encode(issue))},
             {"hash", ledger::TxHash(issue.tx).Hex()}}
                .dump() +
            "\n");
  Write("tx_json", "duplicate-vote-encoded.json",
        Json{{"encoded", ledger::ToHex(ledger::Encode(c.txs.back().second))}}.dump() + "\n");

  // Regression (commit 7478ca6): a signer key that is not on the curve (x >= p), accepted in the
  // encoded form only before the fix.
  {
    ledger::SignedTransaction bad = issue;
    bad.signatures[0].signer.bytes.fill(0xff);
    Write("tx_decode", "regress-7478ca6-offcurve-signer", ledger::Encode(bad));
    Write("tx_json", "regress-7478ca6-offcurve-signer-encoded.json",
          Json{{"encoded", ledger::ToHex(ledger::Encode(bad))}}.dump() + "\n");
    Write("tx_json", "regress-7478ca6-offcurve-signer-plain.json", api::ToJson(bad).dump() + "\n");
  }

  const auto& b1 = c.blocks[0].block;
  const auto& b2 = c.blocks[1].block;
  Write("block_decode", "block-two-txs", ledger::Encode(b1));
  Write("block_decode", "block-empty", ledger::Encode(b2));
  Write("block_decode", "truncated", Truncated(ledger::Encode(b1)));
  Write("header_decode", "header-1", ledger::Encode(b1.header));
  Write("header_decode", "header-2", ledger::Encode(b2.header));
  Write("header_decode", "trailing-byte", Trailing(ledger::Encode(b2.header)));
  Write("commit_decode", "commit-1", ledger::Encode(c.commits[0]));
  ledger::CommitCertificate empty = c.commits[1];
  empty.signatures.clear();
  Write("commit_decode", "commit-no-signatures", ledger::Encode(empty));
  Bytes huge = ledger::Encode(empty);  // the signature count set to 2^32 - 1
  std::fill(huge.end() - 4, huge.end(), uint8_t{0xff});
  Write("commit_decode", "count-ffffffff", huge);
}

void ConsensusMessages(const Chain& c) {
  const auto& f = c.f;
  const auto& b1 = c.blocks[0].block;
  consensus::Proposal p{1,
                        0,
                        std::nullopt,
                        {ledger::BlockHash(b1.header), ledger::Encode(b1)},
                        f.validator_keys[0].public_key(),
                        {}};
  p.signature = SignDeterministic(f.validator_keys[0], consensus::SigningDigestOf(f.domain(), p));
  Write("consensus_message", "proposal", consensus::EncodeMessage(p));
  p.round = 2;
  p.valid_round = 1;
  p.signature = SignDeterministic(f.validator_keys[0], consensus::SigningDigestOf(f.domain(), p));
  Write("consensus_message", "proposal-valid-round", consensus::EncodeMessage(p));
  const auto nil = Vote(f, ledger::VoteType::kPrevote, 1, 0, std::nullopt);
  const auto yes = Vote(f, ledger::VoteType::kPrevote, 1, 0, ledger::BlockHash(b1.header));
  Write("consensus_message", "prevote-nil", consensus::EncodeMessage(nil));
  Write("consensus_message", "prevote-block", consensus::EncodeMessage(yes));
  Write("consensus_message", "precommit-block",
        consensus::EncodeMessage(
            Vote(f, ledger::VoteType::kPrecommit, 1, 0, ledger::BlockHash(b1.header))));
  Write("consensus_message", "evidence",
        consensus::EncodeEvidence(consensus::MakeEvidence(yes, nil)));
}

void PeerMessages(const Chain& c) {
  Write("peer_message", "status-height-0", node::EncodeStatus({0, std::nullopt}));
  Write("peer_message", "status-with-proof",
        node::EncodeStatus({2, std::make_pair(c.blocks[1].block.header, c.commits[1])}));
  Write("peer_message", "block-request", node::EncodeBlockRequest({1, 64}));
  node::BlockResponse r;
  for (size_t i = 0; i < c.blocks.size(); ++i)
    r.blocks.emplace_back(c.blocks[i].block, c.commits[i]);
  Write("peer_message", "block-response-two", node::EncodeBlockResponse(r));
  Write("peer_message", "block-response-empty", node::EncodeBlockResponse({}));
}

void Channel(const Chain& c) {
  namespace wire = network::wire;
  wire::Hello h;
  h.chain_id = c.f.genesis.params.chain_id;
  h.key = c.f.validator_keys[0].public_key();
  for (size_t i = 0; i < h.ephemeral.bytes.size(); ++i)
    h.ephemeral.bytes[i] = static_cast<uint8_t>(i);
  Write("hello", "hello", wire::EncodeHello(h));
  h.chain_id.clear();
  Write("hello", "hello-empty-chain-id", wire::EncodeHello(h));
  h.chain_id.assign(wire::kMaxChainIdBytes, 'z');
  Write("hello", "hello-longest-chain-id", wire::EncodeHello(h));
  h.version = 1;
  h.chain_id = "certledger-test";
  Write("hello", "hello-version-1", wire::EncodeHello(h));

  // Frames sealed under the frame_open target's key, in counter order.
  network::channel::FrameCipher sealer(FrameOpenKey());
  Bytes stream;
  const Bytes status = node::EncodeStatus({0, std::nullopt});
  auto add = [&](uint8_t type, const Bytes& payload) {
    auto frame = sealer.Seal(type, payload);
    stream.insert(stream.end(), frame->begin(), frame->end());
  };
  add(wire::kTypePing, Bytes(8, 7));
  Write("frame_open", "one-ping", stream);
  add(node::kMsgStatus, status);
  add(node::kMsgTx, ledger::Encode(c.txs.front().second));
  add(wire::kTypeClose, Bytes{'b', 'y', 'e'});
  Write("frame_open", "four-frames", stream);
  Write("frame_open", "truncated", Truncated(stream));

  auto raw = [](uint8_t type, const Bytes& payload) {
    const size_t n = std::min<size_t>(payload.size(), 255);
    Bytes b{type, static_cast<uint8_t>(n)};
    b.insert(b.end(), payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(n));
    return b;
  };
  Write("frame_roundtrip", "ping", raw(wire::kTypePing, Bytes(8, 1)));
  Bytes two = raw(node::kMsgStatus, status);
  const Bytes close = raw(wire::kTypeClose, Bytes{'b', 'y', 'e'});
  two.insert(two.end(), close.begin(), close.end());
  Write("frame_roundtrip", "status-then-close", two);
  Write("frame_roundtrip", "empty-payload", Bytes{node::kMsgTx, 0});
}

void Genesis(const Chain& c) {
  const std::string g = ledger::GenesisToJson(c.f.genesis);
  Write("genesis_json", "genesis.json", g);
  Json j = Json::parse(g);
  j["agencies"] = Json::array({j["agencies"][0]});
  j["validators"] = Json::array({j["validators"][0]});
  j["validators"][0]["agency"] = j["agencies"][0]["id"];
  Write("genesis_json", "one-validator.json", j.dump(1) + "\n");
  // Regression (commit 7478ca6): numbers where integers are expected.
  auto regress = [&](const std::string& name, const std::string& path, const char* value) {
    Json k = Json::parse(g);
    k[Json::json_pointer(path)] = Json::parse(value);
    Write("genesis_json", name, k.dump(2) + "\n");
  };
  regress("regress-7478ca6-float-max-block-txs.json", "/params/max_block_txs", "1e300");
  regress("regress-7478ca6-negative-power.json", "/validators/0/power", "-1");
  regress("regress-7478ca6-2pow64-max-tx-bytes.json", "/params/max_tx_bytes",
          "18446744073709551616");
  // The exact text of the outside report's shape: "max_block_txs": 1e300.
  std::string literal = g;
  const std::string key = "\"max_block_txs\": ";
  if (const size_t at = literal.find(key); at != std::string::npos) {
    const size_t end = literal.find_first_of(",\n}", at + key.size());
    literal.replace(at + key.size(), end - at - key.size(), "1e300");
    Write("genesis_json", "regress-7478ca6-literal-1e300.json", literal);
  }
}

void Config() {
  node::NodeConfig c;
  c.node_key_file = "node_key.json";
  Write("config_json", "default.json", node::ConfigToJson(c));
  node::NodeConfig p = c;
  p.peers.push_back(
      {"v1", testing::TestKey("fuzz-peer-1").public_key(), node::HostPort{"127.0.0.1", 26657}});
  p.peers.push_back({"observer", testing::TestKey("fuzz-peer-2").public_key(), std::nullopt});
  p.p2p_listen = {"::", 26656};
  p.validator_key_file.clear();
  Write("config_json", "observer-with-peers.json", node::ConfigToJson(p));
  Write("config_json", "default.toml", node::ConfigToToml(c));
  Write("config_json", "observer-with-peers.toml", node::ConfigToToml(p));
  Write("config_json", "minimal.json", std::string(R"({"node_key_file": "node_key.json"})") + "\n");
  Write("config_json", "regress-7478ca6-float-timeout.json",
        R"({"node_key_file": "k", "consensus": {"timeout_propose_ms": 1e300}})"
        "\n");
  Write("config_json", "regress-7478ca6-negative-max-bytes.json",
        R"({"node_key_file": "k", "mempool": {"max_bytes": -1}})"
        "\n");
  // Found by this target: a host with a bracket did not survive ConfigToJson.
  Write("config_json", "regress-fuzz-hostport-bracket.json",
        R"({"node_key_file": "k", "p2p": {"listen": "x]:y:1"}, "api": {"listen": "[[::1]:2"}})"
        "\n");
}

void Api() {
  ApiWorld w;
  const auto& L = w.ledger;
  auto req = [](const std::string& name, const std::string& method, const std::string& target,
                const std::string& ct = "", const std::string& body = "") {
    Write("api_handler", name, JoinRequest({method, target, ct, "zh-CN,zh;q=0.9", body}));
  };
  req("status", "GET", "/v1/status");
  req("genesis", "GET", "/v1/genesis");
  req("agencies", "GET", "/v1/agencies");
  req("metrics", "GET", "/metrics");
  req("evidence", "GET", "/v1/evidence?from=0&limit=10");
  req("block-1", "GET", "/v1/blocks/1");
  req("block-3-binary", "GET", "/v1/blocks/3?format=binary");
  req("blocks-range", "GET", "/v1/blocks?from=1&to=3");
  req("consistency", "GET", "/v1/proofs/consistency?from=3&to=10");
  req("inclusion", "GET", "/v1/proofs/inclusion?leaf=2&size=10");
  req("verify-current", "GET", "/v1/verify/" + L.a3.Hex());
  req("verify-old-version", "GET", "/v1/verify/" + L.a1.Hex());
  req("verify-revoked", "GET", "/v1/verify/" + L.c1.Hex());
  req("verify-page", "GET", "/v/" + L.h1.Hex());
  req("certificate-base", "GET", "/v1/certificates/" + L.base_a);
  req("certificate-full", "GET", "/v1/certificates/" + L.f.CertId(0, "A0001", 2));
  const auto committed = ledger::TxHash(L.blocks[1].block.txs[3].tx);
  req("tx-committed", "GET", "/v1/tx/" + committed.Hex());
  req("tx-pending", "GET", "/v1/tx/" + PendingTxHash().Hex());
  req("tx-rejected", "GET", "/v1/tx/" + RejectedTxHash().Hex());
  req("not-found", "GET", "/v1/nothing/here");
  req("method-not-allowed", "DELETE", "/v1/status");
  req("percent-escapes", "GET", "/v1/certificates/%41%30?x=%zz&&=");

  // Submissions: the three forms of one transaction the test ledger would accept next.
  ChainFixture f;
  const auto stx = Sign(f, f.Unsigned(0, f.Issue(0, "Z0001"), 8), {&f.agencies[0].issuing[0]});
  const Bytes enc = ledger::Encode(stx);
  req("submit-json", "POST", "/v1/tx", "application/json", api::ToJson(stx).dump());
  req("submit-encoded", "POST", "/v1/tx?wait=commit&timeout_ms=100", "application/json",
      Json{{"encoded", ledger::ToHex(enc)}}.dump());
  req("submit-octet", "POST", "/v1/tx", "application/octet-stream",
      std::string(enc.begin(), enc.end()));
  req("submit-bad-json", "POST", "/v1/tx", "application/json", "{\"tx\": 1");
  // The off-curve signer of commit 7478ca6 in all three forms: all three refuse it (400).
  ledger::SignedTransaction bad = stx;
  bad.signatures[0].signer.bytes.fill(0xff);
  const Bytes bad_enc = ledger::Encode(bad);
  req("regress-7478ca6-offcurve-encoded", "POST", "/v1/tx", "application/json",
      Json{{"encoded", ledger::ToHex(bad_enc)}}.dump());
  req("regress-7478ca6-offcurve-plain", "POST", "/v1/tx", "application/json",
      api::ToJson(bad).dump());
  req("regress-7478ca6-offcurve-octet", "POST", "/v1/tx", "application/octet-stream",
      std::string(bad_enc.begin(), bad_enc.end()));
}

// State tree proofs (mode byte 0) from a real tree of three keys (FORMAT.md §6.6's entries),
// and change scripts (mode byte 1: key, value, op per change).
void StateTree() {
  ledger::MemorySmtNodeStore store;
  std::vector<ledger::SmtChange> changes;
  for (const char* key : {"cert/a", "doc/b", "seq/c"}) {
    changes.push_back({ledger::SmtKeyHash(key), ledger::SmtValueHash(ledger::AsBytes(key))});
  }
  std::vector<std::pair<ledger::Hash256, ledger::SmtNode>> nodes;
  const ledger::Hash256 root = ledger::SmtUpdate(store, {}, changes, &nodes).value();
  store.PutAll(nodes);
  auto proof = [&](const std::string& name, const ledger::Hash256& key) {
    Bytes b{0};
    const Bytes p = ledger::SmtProve(store, root, key).value().Encode();
    b.insert(b.end(), p.begin(), p.end());
    Write("smt_proof", name, b);
  };
  proof("proof-present", changes[0].key);
  proof("proof-absent-1", ledger::SmtKeyHash("absent/0"));
  proof("proof-absent-2", ledger::SmtKeyHash("absent/1"));
  Write("smt_proof", "proof-empty-tree", Bytes{0, 0, 0, 0});
  // Inserts of keys sharing 248 bits, an update, deletes back to the empty tree.
  Write("smt_proof", "script-insert-delete", Bytes{1, 0x01, 7, 0, 0x02, 8, 0, 0x81, 9, 0, 0x01, 10,
                                                   0, 0x01, 0, 1, 0x02, 0, 1, 0x81, 0, 1});
  Write("smt_proof", "script-deep", Bytes{1, 0x10, 1, 0, 0x11, 2, 0, 0x12, 3, 0, 0x13, 4, 0});
}

}  // namespace
}  // namespace certledger::fuzz

int main(int argc, char** argv) {
  using namespace certledger::fuzz;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  const Chain chain = MakeChain();
  LedgerRecords(chain);
  ConsensusMessages(chain);
  PeerMessages(chain);
  Channel(chain);
  Genesis(chain);
  Config();
  Api();
  StateTree();
  std::printf("make_corpus: %d files under %s\n", g_written, g_root.c_str());
  return 0;
}
