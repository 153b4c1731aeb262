#!/usr/bin/env bash
# Verification over HTTP on one node holding EVENTS certificates (default 1,000,000): signed
# JSON answers with proofs, then offline staples, next to nginx serving a static JSON answer in
# the same run; then audit replay of that ledger next to
# the raw BIP-340 verification rate. Loopback only; cleans up after itself.
#   bash bench/verify_bench.sh [BUILD_DIR]        EVENTS=100000 for a quick run
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
EVENTS=${EVENTS:-1000000}
BIN=$BUILD/node/certledger
WORK=$(mktemp -d /tmp/certledger-verify-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" testnet --validators 1 --out "$WORK/net" >/dev/null
echo "== building a ledger of $EVENTS certificates =="
start=$(date +%s.%N)
"$BUILD/bench/make_ledger" "$WORK/net" "$EVENTS" "$WORK/hashes.txt"
echo "built in $(echo "$(date +%s.%N) - $start" | bc) s"

home="$WORK/net/node0"
api=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"][0]["api"])' "$WORK/net/network.json")
"$BIN" node --home "$home" >"$WORK/node.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "$api/v1/status" >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$WORK/random.lua" <<LUA
local hashes = {}
for line in io.lines("$WORK/hashes.txt") do hashes[#hashes + 1] = line end
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/verify/" .. hashes[math.random(#hashes)])
end
LUA
echo "== certledger: GET /v1/verify/<random hash>, keep-alive, 2 threads, 32 connections, 20 s =="
wrk -t2 -c32 -d20s --latency -s "$WORK/random.lua" "$api" | grep -E "Requests/sec|50%|99%|Latency|requests in"

cat >"$WORK/staple.lua" <<LUA
local hashes = {}
for line in io.lines("$WORK/hashes.txt") do hashes[#hashes + 1] = line end
math.randomseed(43)
request = function()
  return wrk.format("GET", "/v1/staple/" .. hashes[math.random(#hashes)])
end
LUA
echo "== certledger: GET /v1/staple/<random hash> (offline staples), same load =="
wrk -t2 -c32 -d20s --latency -s "$WORK/staple.lua" "$api" | grep -E "Requests/sec|50%|99%|Latency|requests in"

# nginx serving one real verification answer as a static file, same load.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/www"
curl -fsS "$api/v1/verify/$(head -1 "$WORK/hashes.txt")" >"$WORK/www/answer.json"
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  server { listen 127.0.0.1:$port; location / { root $WORK/www; default_type application/json; } }
}
NGINX
mkdir -p "$WORK/tmp"
nginx -c "$WORK/nginx.conf" -g 'daemon off;' &
pids+=($!)
sleep 0.5
echo "== nginx: static JSON ($(wc -c <"$WORK/www/answer.json") bytes), same load =="
wrk -t2 -c32 -d20s --latency "http://127.0.0.1:$port/answer.json" | grep -E "Requests/sec|50%|99%|Latency|requests in"

kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
echo "== audit replay of the ledger (signatures, transitions, roots) =="
start=$(date +%s.%N)
"$BIN" audit --home "$home" >"$WORK/audit.txt" 2>&1
secs=$(echo "$(date +%s.%N) - $start" | bc)
tail -3 "$WORK/audit.txt"
echo "audit: $EVENTS events in $secs s = $(echo "$EVENTS / $secs" | bc) events/s"
echo "== baseline: raw BIP-340 verification =="
"$BUILD/bench/ledger_bench" --benchmark_filter=BM_Bip340Verify --benchmark_min_time=1 2>/dev/null | grep BM_Bip340Verify
