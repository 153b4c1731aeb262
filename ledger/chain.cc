#include "ledger/chain.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "ledger/identifier.h"
#include "ledger/json_int.h"

namespace certledger::ledger {

// ---- genesis ----------------------------------------------------------------------------------

namespace {

using nlohmann::json;

const char* AgencyKindName(AgencyKind k) {
  switch (k) {
    case AgencyKind::kProvince:
      return "province";
    case AgencyKind::kRiverBasin:
      return "river-basin";
    case AgencyKind::kMinistry:
      return "ministry";
  }
  return "province";
}

std::optional<AgencyKind> AgencyKindFromName(std::string_view s) {
  if (s == "province") return AgencyKind::kProvince;
  if (s == "river-basin") return AgencyKind::kRiverBasin;
  if (s == "ministry") return AgencyKind::kMinistry;
  return std::nullopt;
}

// Reads a required field of a JSON object with a precise error path.
template <class T>
Status Field(const json& obj, const char* name, const std::string& path, T* out) {
  auto it = obj.find(name);
  if (it == obj.end()) return Status::InvalidArgument(path + "." + name + ": missing");
  try {
    if (std::string why = JsonTo(*it, out); !why.empty()) {
      return Status::InvalidArgument(path + "." + name + ": " + why);
    }
  } catch (const json::exception&) {
    return Status::InvalidArgument(path + "." + name + ": wrong type");
  }
  return Status::Ok();
}

Status ParseKey(const json& v, const std::string& path, PublicKey* out) {
  if (!v.is_string()) return Status::InvalidArgument(path + ": expected a hex string");
  auto k = PublicKey::ParseHex(v.get<std::string>());
  if (!k) return Status::InvalidArgument(path + ": not a 32-byte x-only secp256k1 public key");
  *out = *k;
  return Status::Ok();
}

}  // namespace

Result<Genesis> ParseGenesisJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("genesis: not valid JSON");
  if (!doc.is_object()) return Status::InvalidArgument("genesis: expected a JSON object");
  Genesis g;
  Status st;
  if (!(st = Field(doc, "chain_id", "genesis", &g.params.chain_id)).ok()) return st;
  if (!(st = Field(doc, "genesis_time_ms", "genesis", &g.genesis_time_ms)).ok()) return st;
  if (auto p = doc.find("params"); p != doc.end()) {
    if (!p->is_object()) return Status::InvalidArgument("genesis.params: expected an object");
    const json& params = *p;
    if (params.contains("max_validity_seconds") &&
        !(st = Field(params, "max_validity_seconds", "genesis.params",
                     &g.params.max_validity_seconds))
             .ok())
      return st;
    if (params.contains("max_block_txs") &&
        !(st = Field(params, "max_block_txs", "genesis.params", &g.params.max_block_txs)).ok())
      return st;
    if (params.contains("max_tx_bytes") &&
        !(st = Field(params, "max_tx_bytes", "genesis.params", &g.params.max_tx_bytes)).ok())
      return st;
    if (params.contains("max_block_bytes") &&
        !(st = Field(params, "max_block_bytes", "genesis.params", &g.params.max_block_bytes)).ok())
      return st;
    if (!(st = Field(params, "water_permit_type_code", "genesis.params",
                     &g.params.water_permit_type_code))
             .ok())
      return st;
  } else {
    return Status::InvalidArgument("genesis.params: missing");
  }
  auto agencies = doc.find("agencies");
  if (agencies == doc.end() || !agencies->is_array()) {
    return Status::InvalidArgument("genesis.agencies: expected an array");
  }
  for (size_t i = 0; i < agencies->size(); ++i) {
    const json& a = (*agencies)[i];
    const std::string path = "genesis.agencies[" + std::to_string(i) + "]";
    if (!a.is_object()) return Status::InvalidArgument(path + ": expected an object");
    Agency agency;
    std::string kind;
    if (!(st = Field(a, "id", path, &agency.id)).ok()) return st;
    if (!(st = Field(a, "name", path, &agency.name)).ok()) return st;
    if (!(st = Field(a, "kind", path, &kind)).ok()) return st;
    auto k = AgencyKindFromName(kind);
    if (!k) return Status::InvalidArgument(path + ".kind: one of province, river-basin, ministry");
    agency.kind = *k;
    if (!(st = Field(a, "division", path, &agency.division)).ok()) return st;
    auto keys = a.find("issuing_keys");
    if (keys == a.end() || !keys->is_array()) {
      return Status::InvalidArgument(path + ".issuing_keys: expected an array");
    }
    for (size_t j = 0; j < keys->size(); ++j) {
      PublicKey pk;
      if (!(st = ParseKey((*keys)[j], path + ".issuing_keys[" + std::to_string(j) + "]", &pk)).ok())
        return st;
      agency.issuing_keys.push_back(pk);
    }
    g.agencies.push_back(std::move(agency));
  }
  auto validators = doc.find("validators");
  if (validators == doc.end() || !validators->is_array()) {
    return Status::InvalidArgument("genesis.validators: expected an array");
  }
  for (size_t i = 0; i < validators->size(); ++i) {
    const json& v = (*validators)[i];
    const std::string path = "genesis.validators[" + std::to_string(i) + "]";
    if (!v.is_object()) return Status::InvalidArgument(path + ": expected an object");
    Validator val;
    if (!(st = ParseKey(v.value("key", json()), path + ".key", &val.key)).ok()) return st;
    if (!(st = Field(v, "power", path, &val.power)).ok()) return st;
    if (!(st = Field(v, "agency", path, &val.agency)).ok()) return st;
    if (!(st = ParseKey(v.value("node_key", json()), path + ".node_key", &val.node_key)).ok()) {
      return st;
    }
    g.validators.validators.push_back(std::move(val));
  }
  // The canonical order of a validator set is ascending key.
  std::sort(g.validators.validators.begin(), g.validators.validators.end(),
            [](const Validator& a, const Validator& b) { return a.key < b.key; });
  if (Status v = ValidateGenesis(g); !v.ok()) return v;
  return g;
}

std::string GenesisToJson(const Genesis& g) {
  json doc;
  doc["chain_id"] = g.params.chain_id;
  doc["genesis_time_ms"] = g.genesis_time_ms;
  doc["params"] = {{"max_validity_seconds", g.params.max_validity_seconds},
                   {"max_block_txs", g.params.max_block_txs},
                   {"max_tx_bytes", g.params.max_tx_bytes},
                   {"max_block_bytes", g.params.max_block_bytes},
                   {"water_permit_type_code", g.params.water_permit_type_code}};
  doc["agencies"] = json::array();
  for (const auto& a : g.agencies) {
    json keys = json::array();
    for (const auto& k : a.issuing_keys) keys.push_back(k.Hex());
    doc["agencies"].push_back({{"id", a.id},
                               {"name", a.name},
                               {"kind", AgencyKindName(a.kind)},
                               {"division", a.division},
                               {"issuing_keys", keys}});
  }
  doc["validators"] = json::array();
  for (const auto& v : g.validators.validators) {
    doc["validators"].push_back({{"key", v.key.Hex()},
                                 {"node_key", v.node_key.Hex()},
                                 {"power", v.power},
                                 {"agency", v.agency}});
  }
  return doc.dump(2) + "\n";
}

Status ValidateGenesis(const Genesis& g) {
  const ChainParams& p = g.params;
  if (p.chain_id.empty() || p.chain_id.size() > 64) {
    return Status::InvalidArgument("genesis.chain_id: 1 to 64 characters");
  }
  for (char c : p.chain_id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return Status::InvalidArgument("genesis.chain_id: only a-z 0-9 - _ .");
    }
  }
  if (g.genesis_time_ms <= 0) return Status::InvalidArgument("genesis.genesis_time_ms: positive");
  if (p.max_validity_seconds <= 0) {
    return Status::InvalidArgument("genesis.params.max_validity_seconds: positive");
  }
  if (p.max_block_txs == 0 || p.max_block_txs > 100000) {
    return Status::InvalidArgument("genesis.params.max_block_txs: 1 to 100000");
  }
  if (p.max_tx_bytes < 1024 || p.max_tx_bytes > 4 * 1024 * 1024) {
    return Status::InvalidArgument("genesis.params.max_tx_bytes: 1024 to 4 MiB");
  }
  // A block must hold at least one largest transaction, and fit a peer frame (32 MiB).
  if (p.max_block_bytes < p.max_tx_bytes + 4096 || p.max_block_bytes > (24u << 20)) {
    return Status::InvalidArgument(
        "genesis.params.max_block_bytes: from max_tx_bytes + 4096 to 24 MiB");
  }
  if (p.water_permit_type_code.size() != 21) {
    return Status::InvalidArgument("genesis.params.water_permit_type_code: 21 characters");
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < g.agencies.size(); ++i) {
    const Agency& a = g.agencies[i];
    const std::string path = "genesis.agencies[" + std::to_string(i) + "]";
    if (!IsCreditCodeSyntax(a.id)) {
      return Status::InvalidArgument(path + ".id: an 18-character unified social credit code");
    }
    if (!ids.insert(a.id).second) return Status::InvalidArgument(path + ".id: duplicate");
    if (a.name.empty() || a.name.size() > 256) {
      return Status::InvalidArgument(path + ".name: 1 to 256 bytes");
    }
    if (!IsDivisionCode(a.division)) {
      return Status::InvalidArgument(path + ".division: a GB/T 2260 six-digit code");
    }
    if (a.issuing_keys.empty() || a.issuing_keys.size() > 16) {
      return Status::InvalidArgument(path + ".issuing_keys: 1 to 16 keys");
    }
  }
  if (Status st = ValidateValidatorSet(g.validators); !st.ok()) {
    return Status::InvalidArgument("genesis.validators: " + st.message());
  }
  for (const auto& v : g.validators.validators) {
    if (!ids.count(v.agency)) {
      return Status::InvalidArgument("genesis.validators: agency '" + v.agency +
                                     "' is not among genesis.agencies");
    }
  }
  return Status::Ok();
}

Hash256 GenesisHash(const Genesis& g) { return Sha256(Encode(g)); }

std::vector<StateChange> GenesisChanges(const Genesis& g) {
  std::vector<StateChange> out;
  out.push_back({std::string(kParamsKey), Encode(g.params)});
  const Hash256 genesis_hash = GenesisHash(g);
  out.push_back(
      {std::string(kGenesisHashKey), Bytes(genesis_hash.bytes.begin(), genesis_hash.bytes.end())});
  for (const auto& a : g.agencies) out.push_back({AgencyKey(a.id), Encode(a)});
  out.push_back({std::string(kValidatorsKey), Encode(g.validators)});
  return out;
}

Result<Hash256> StateTreeUpdate(const SmtNodeReader& nodes, const Hash256& root,
                                const std::vector<StateChange>& changes,
                                std::vector<std::pair<Hash256, SmtNode>>* new_nodes) {
  // Last value per key (SmtUpdate refuses a key twice).
  std::map<Hash256, std::optional<Hash256>> merged;
  for (const auto& c : changes) {
    std::optional<Hash256> v;
    if (!c.value.empty()) v = SmtValueHash(c.value);
    merged.insert_or_assign(SmtKeyHash(c.key), v);
  }
  std::vector<SmtChange> batch;
  batch.reserve(merged.size());
  for (auto& [k, v] : merged) batch.push_back({k, v});
  return SmtUpdate(nodes, root, std::move(batch), new_nodes);
}

Hash256 GenesisStateRoot(const Genesis& g, std::vector<std::pair<Hash256, SmtNode>>* nodes) {
  // From the empty tree nothing is read, and no key appears twice after the merge: the update
  // cannot fail.
  const MemorySmtNodeStore none;
  auto root = StateTreeUpdate(none, SmtEmptyHash(), GenesisChanges(g), nodes);
  return root.ok() ? *root : SmtEmptyHash();
}

// ---- tips -------------------------------------------------------------------------------------

ChainTip GenesisTip(const Genesis& g) {
  ChainTip t;
  t.chain_id = g.params.chain_id;
  t.height = 0;
  t.time_ms = g.genesis_time_ms;
  t.state_root = GenesisStateRoot(g);
  t.log_size = 0;
  t.log_root = MerkleEmptyRoot();
  return t;
}

ChainTip TipAfter(const BlockHeader& h) {
  ChainTip t;
  t.chain_id = h.chain_id;
  t.height = h.height;
  t.block_hash = BlockHash(h);
  t.time_ms = h.time_ms;
  t.state_root = h.state_root;
  t.log_size = h.log_size;
  t.log_root = h.log_root;
  return t;
}

// ---- execution --------------------------------------------------------------------------------

namespace {

// Runs `txs` over `state`; with `skip_rejected` rejected ones are dropped (block building),
// otherwise the first rejection fails the block (validation).
struct Execution {
  std::vector<SignedTransaction> accepted;
  std::vector<std::pair<size_t, Rejection>> rejected;
  BlockEffects effects;
  Hash256 tx_root;
  Hash256 state_root;
};

Result<Execution> Execute(const StateReader& state, const SmtNodeReader& state_nodes,
                          const ChainTip& tip, const MerkleLog& log,
                          const std::vector<SignedTransaction>& txs, uint64_t height,
                          int64_t time_ms, const SignatureVerifier& verifier, bool skip_rejected,
                          size_t max_txs, uint64_t max_bytes) {
  Execution ex;
  StateOverlay overlay(&state);
  auto begin = BeginBlockChanges(state, height);
  if (!begin.ok()) return begin.status();
  for (auto& c : *begin) overlay.Put(c.key, c.value);

  MerkleLog block_log = log;
  if (block_log.size() != tip.log_size) {
    return Status::Corruption("event log size " + std::to_string(block_log.size()) +
                              " differs from the tip's " + std::to_string(tip.log_size));
  }
  std::vector<Hash256> leaves;
  uint64_t bytes = 0;
  for (size_t i = 0; i < txs.size(); ++i) {
    if (ex.accepted.size() >= max_txs) break;
    const Bytes leaf_bytes = TxLeaf(txs[i]);
    // A block builder stops before the byte limit (validation checked it in PrecheckBlock).
    if (skip_rejected && bytes + leaf_bytes.size() > max_bytes) break;
    ApplyContext ctx{height, time_ms, block_log.size()};
    auto outcome = Apply(overlay, txs[i], ctx, verifier);
    if (!outcome.ok()) return outcome.status();
    if (!outcome->accepted()) {
      if (!skip_rejected) {
        return Status::InvalidArgument("transaction " + std::to_string(i) +
                                       " rejected: " + outcome->rejection->code() + ": " +
                                       outcome->rejection->message);
      }
      ex.rejected.emplace_back(i, *outcome->rejection);
      continue;
    }
    for (auto& c : outcome->changes) overlay.Put(std::move(c.key), std::move(c.value));
    bytes += leaf_bytes.size();
    Hash256 leaf = MerkleLeafHash(leaf_bytes);
    leaves.push_back(leaf);
    block_log.Append(leaf, &ex.effects.log_nodes);
    ex.effects.tx_hashes.push_back(TxHash(txs[i].tx));
    if (skip_rejected) ex.accepted.push_back(txs[i]);
  }
  ex.effects.changes = overlay.Changes();
  ex.effects.log_after = block_log;
  ex.tx_root = MerkleRootOf(leaves);
  auto root =
      StateTreeUpdate(state_nodes, tip.state_root, ex.effects.changes, &ex.effects.state_nodes);
  if (!root.ok()) {
    // Never InvalidArgument (which would blame the block): the tree could not be read.
    if (root.status().IsInvalidArgument()) return Status::Corruption(root.status().message());
    return root.status();
  }
  ex.state_root = *root;
  return ex;
}

}  // namespace

Result<ProposedBlock> BuildBlock(const StateReader& state, const SmtNodeReader& state_nodes,
                                 const ChainTip& tip, const MerkleLog& log,
                                 const std::vector<SignedTransaction>& txs, int64_t time_ms,
                                 const PublicKey& proposer, const SignatureVerifier& verifier) {
  auto params = ReadParams(state);
  if (!params.ok()) return params.status();
  const uint64_t height = tip.height + 1;
  // Time must increase strictly: a proposer whose clock lags still moves it forward.
  time_ms = std::max(time_ms, tip.time_ms + 1);
  // The header and the block's framing take well under 1 KiB; the rest is for transactions.
  const uint64_t budget = params->max_block_bytes > 1024 ? params->max_block_bytes - 1024 : 0;
  auto ex = Execute(state, state_nodes, tip, log, txs, height, time_ms, verifier,
                    /*skip_rejected=*/true, params->max_block_txs, budget);
  if (!ex.ok()) return ex.status();
  auto validators = ValidatorsForHeight(state, height);
  if (!validators.ok()) return validators.status();

  ProposedBlock out;
  BlockHeader& h = out.block.header;
  h.chain_id = tip.chain_id;
  h.height = height;
  h.time_ms = time_ms;
  h.previous_block_hash = tip.block_hash;
  h.tx_root = ex->tx_root;
  h.log_size = ex->effects.log_after.size();
  h.log_root = ex->effects.log_after.Root();
  h.state_root = ex->state_root;
  h.validator_set_hash = validators->Hash();
  h.proposer = proposer;
  out.block.txs = std::move(ex->accepted);
  out.effects = std::move(ex->effects);
  out.rejected = std::move(ex->rejected);
  return out;
}

Result<BlockEffects> ValidateBlock(const StateReader& state, const SmtNodeReader& state_nodes,
                                   const ChainTip& tip, const MerkleLog& log, const Block& block,
                                   const SignatureVerifier& verifier) {
  const BlockHeader& h = block.header;
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("block " + std::to_string(h.height) + ": " + what);
  };
  if (h.chain_id != tip.chain_id) return bad("chain id '" + h.chain_id + "'");
  if (h.height != tip.height + 1) {
    return bad("height does not follow " + std::to_string(tip.height));
  }
  if (h.previous_block_hash != tip.block_hash) return bad("previous block hash does not link");
  if (h.time_ms <= tip.time_ms) return bad("time does not increase");
  auto params = ReadParams(state);
  if (!params.ok()) return params.status();
  if (block.txs.size() > params->max_block_txs) return bad("too many transactions");
  auto validators = ValidatorsForHeight(state, h.height);
  if (!validators.ok()) return validators.status();
  if (h.validator_set_hash != validators->Hash()) return bad("validator set hash");
  if (validators->Find(h.proposer) == nullptr) return bad("proposer is not a validator");

  auto ex = Execute(state, state_nodes, tip, log, block.txs, h.height, h.time_ms, verifier,
                    /*skip_rejected=*/false, block.txs.size(), UINT64_MAX);
  if (!ex.ok()) {
    if (ex.status().IsInvalidArgument()) return bad(ex.status().message());
    return ex.status();
  }
  if (h.tx_root != ex->tx_root) return bad("transactions root");
  if (h.log_size != ex->effects.log_after.size()) return bad("event-log size");
  if (h.log_root != ex->effects.log_after.Root()) return bad("event-log root");
  if (h.state_root != ex->state_root) return bad("state root");
  return std::move(ex->effects);
}

Status PrecheckBlock(const ChainParams& params, const Block& block, size_t encoded_bytes) {
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("block " + std::to_string(block.header.height) + ": " + what);
  };
  if (encoded_bytes > params.max_block_bytes) {
    return bad(std::to_string(encoded_bytes) + " bytes exceed the chain's limit of " +
               std::to_string(params.max_block_bytes));
  }
  if (block.txs.size() > params.max_block_txs) {
    return bad(std::to_string(block.txs.size()) + " transactions exceed the chain's limit of " +
               std::to_string(params.max_block_txs));
  }
  std::vector<Hash256> leaves;
  leaves.reserve(block.txs.size());
  std::set<Hash256> ids;
  for (size_t i = 0; i < block.txs.size(); ++i) {
    const Bytes leaf = TxLeaf(block.txs[i]);
    if (leaf.size() > params.max_tx_bytes) {
      return bad("transaction " + std::to_string(i) + " exceeds max_tx_bytes");
    }
    if (!ids.insert(TxHash(block.txs[i].tx)).second) {
      return bad("transaction " + std::to_string(i) + " appears twice");
    }
    leaves.push_back(MerkleLeafHash(leaf));
  }
  if (MerkleRootOf(leaves) != block.header.tx_root) {
    return bad("transactions root does not match the transactions carried");
  }
  return Status::Ok();
}

}  // namespace certledger::ledger
