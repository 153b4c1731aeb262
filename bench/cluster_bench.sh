#!/usr/bin/env bash
# Four validators on this machine under load (issue 4's benchmark). Prints, from one run:
#   - the raw BIP-340 verification rate (the baseline),
#   - committed events/s at full load, sustained for at least 30 s,
#   - submit-to-commit latency p50/p99 at half that rate,
#   - the latency of single events at low load (one outstanding event at a time).
# Usage: bash bench/cluster_bench.sh [BUILD_DIR]   (default build; needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/node/certledger
NET=$(mktemp -d /tmp/certledger-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$NET"
}
trap cleanup EXIT

echo "== baseline: raw BIP-340 verification =="
"$BUILD/bench/ledger_bench" --benchmark_filter=BM_Bip340Verify --benchmark_min_time=1 \
  2>/dev/null | grep BM_Bip340Verify

rm -rf "$NET" && "$BIN" testnet --validators 4 --out "$NET" >/dev/null
for home in "$NET"/node*/; do
  "$BIN" node --home "$home" >"$home/node.log" 2>&1 &
  pids+=($!)
done
sleep 3

# Full load: enough events for >= 30 s at the rate the network sustains.
echo "== full load (as fast as the network commits; 30 s or more) =="
full=$("$BIN" loadgen --network "$NET/network.json" --count "${FULL_COUNT:-120000}" \
  --outstanding 8000 --connections 32 --json)
echo "$full"
rate=$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1])["committed_per_s"]))' "$full")
half=$((rate / 2))
echo "== half load: $half events/s for 30 s =="
"$BIN" loadgen --network "$NET/network.json" --rate "$half" --duration 30 --connections 16
echo "== single events at low load (one outstanding) =="
"$BIN" loadgen --network "$NET/network.json" --count 300 --outstanding 1 --connections 1 --batch 1
