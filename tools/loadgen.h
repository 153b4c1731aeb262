// The load generator: submits pre-signed certificate events to a running network over HTTP and
// measures what the ledger commits.
//
// Commits are observed from the ledger itself (a poller follows the committed blocks of one node
// and finds the submitted transactions in them), never from the submit replies. Latency is
// submit-to-commit-observed on the same host clock; throughput counts committed events only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ledger/status.h"

namespace certledger::tools {

struct LoadgenOptions {
  std::string network_file;     // network.json written by `certledger testnet`
  double rate = 0;              // events per second; 0 = as fast as the network takes them
  uint64_t count = 0;           // events to submit; 0 = rate × duration_s (or 20000 at max rate)
  double duration_s = 30;       // with a rate and no count
  uint32_t outstanding = 4000;  // at most this many submitted but not yet committed
  uint32_t connections = 8;     // concurrent HTTP connections (submitter threads)
  uint32_t batch = 100;         // events per request (POST /v1/txs); 1: POST /v1/tx each
  std::string nodes = "all";    // "all" or a comma-separated list of node indexes to submit to
  double drain_timeout_s = 60;  // after the last submit, how long to wait for commits
  std::string ca_file;          // https nodes: trusted CAs (PEM); empty: the system's store
  ledger::Status Validate() const;
};

struct LoadgenReport {
  uint64_t submitted = 0, committed = 0, refused = 0;
  double first_submit_s = 0, last_commit_s = 0;  // relative to the start
  double committed_per_s = 0;                    // committed / (last commit - first submit)
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  uint64_t blocks = 0;
  std::string ToJson() const;
  std::string ToText() const;
};

ledger::Result<LoadgenReport> RunLoadgen(const LoadgenOptions& options);

}  // namespace certledger::tools
