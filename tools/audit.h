// `certledger audit`: replays a whole ledger from genesis with ledger::Replayer (header links,
// commit certificates against the validator set of each height, every signature and state
// transition, transactions / event-log / state roots) and reports.
//
// Blocks come from a node's LevelDB store (`home`: the node must be stopped, or give a copy) or
// from a node's API (`node_url`: GET /v1/blocks?format=binary, 100 per call; the node's
// consistency proofs are then checked against the replayed log roots). Successive event-log
// roots are checked for RFC 9162 consistency in both cases.
//
// The report: events per agency and type, revocations with their reasons, anomalies (every
// failed check, with its height), and a reproducible random sample (`seed`) of about 1% of the
// certificates for spot checks. Replay stops at the first block that fails.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::ledger {
struct Genesis;
}

namespace certledger::tools {

struct AuditOptions {
  std::string home;          // node home directory (genesis.json, data/ledger)
  std::string node_url;      // or a node's API
  std::string ca_file;       // https node_url: trusted CAs (PEM); empty: the system's store
  std::string genesis_file;  // the genesis you trust; default <home>/genesis.json
  uint64_t seed = 1;
  double sample_fraction = 0.01;
  // Called after each block (height, tip height); the CLI draws a progress bar with it (on
  // stderr).
  std::function<void(uint64_t, uint64_t)> progress;
  ledger::Status Validate() const;
};

struct AuditReport {
  struct Anomaly {
    uint64_t height = 0;
    std::string check;
    std::string message;
  };
  struct Revocation {
    uint64_t height = 0;
    std::string certificate, agency, kind, reason;
  };
  // A double vote recorded on the ledger (an evidence event).
  struct Evidence {
    uint64_t height = 0;  // the block that recorded it
    std::string validator, vote_type;
    uint64_t vote_height = 0;
    uint32_t round = 0;
  };
  struct Sample {
    std::string certificate, issuer, controller, status, document_hash;
    uint32_t version = 0;
    int64_t not_after = 0;
  };
  std::string chain_id, genesis_hash, source;
  uint64_t tip_height = 0;  // what the source holds
  uint64_t blocks = 0;      // replayed and verified
  uint64_t events = 0;
  uint64_t certificates = 0;
  uint64_t consistency_checks = 0;
  double seconds = 0;
  std::map<std::string, std::map<std::string, uint64_t>> events_by_agency;  // agency -> type -> n
  std::vector<Revocation> revocations;
  std::vector<Evidence> evidence;
  std::vector<Anomaly> anomalies;
  std::vector<Sample> sample;
  uint64_t seed = 0;

  [[nodiscard]] bool ok() const { return anomalies.empty(); }
  [[nodiscard]] nlohmann::json ToJson() const;
  [[nodiscard]] std::string ToCsv() const;
  [[nodiscard]] std::string ToText() const;
};

// A report (possibly with anomalies), or a Status when the audit could not run at all (no such
// directory, unreadable genesis, unreachable node).
ledger::Result<AuditReport> RunAudit(const AuditOptions& options);
// The validator set that commits `height`, obtained by replaying blocks 1..height from the node
// at `node_url` with ledger::Replayer (every commit verified from genesis on): the verifier's
// way to follow validator-set changes. `ca_file`: as AuditOptions::ca_file.
ledger::Result<ledger::ValidatorSet> ReplayValidatorSet(const std::string& node_url,
                                                        const ledger::Genesis& genesis,
                                                        uint64_t height,
                                                        const std::string& ca_file = "");
// Writes PREFIX.json and PREFIX.csv.
ledger::Status WriteAuditReport(const AuditReport& report, const std::string& prefix);

}  // namespace certledger::tools
