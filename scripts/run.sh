#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds certledger, and runs a local network of four validator
# nodes on 127.0.0.1 that serve verification over HTTP. Stays up until interrupted (Ctrl-C),
# then stops the nodes cleanly.
#
#   bash scripts/run.sh                 # fresh network in out/testnet
#   KEEP=1 bash scripts/run.sh          # reuse out/testnet and its chain if it exists
#   VALIDATORS=7 bash scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target certledger

BIN=build/node/certledger
NET=out/testnet
VALIDATORS=${VALIDATORS:-4}
if [ "${KEEP:-0}" != "1" ] || [ ! -f "$NET/network.json" ]; then
  rm -rf "$NET"
  "$BIN" testnet --validators "$VALIDATORS" --out "$NET"
fi

pids=()
stop_all() {
  echo
  echo "stopping nodes..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped. Logs and data are in $NET."
}
trap stop_all EXIT
trap 'exit 0' INT TERM

for home in "$NET"/node*/; do
  name=$(basename "$home")
  "$BIN" node --home "$home" >"$NET/$name.log" 2>&1 &
  pids+=($!)
done

# Wait (bounded) for every node's API to answer.
apis=$(python3 -c 'import json,sys; print(" ".join(n["api"] for n in json.load(open(sys.argv[1]))["nodes"]))' "$NET/network.json")
for api in $apis; do
  for _ in $(seq 1 100); do
    if curl -fsS "$api/v1/status" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
done

echo
echo "certledger: $VALIDATORS validators running (chain $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chain_id"])' "$NET/network.json"))"
for api in $apis; do echo "  node API: $api/v1/status"; done
if [ -x scripts/demo.sh ]; then bash scripts/demo.sh "$NET"; fi
echo
echo "Logs: $NET/node*.log. Press Ctrl-C to stop."
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "a node exited; see $NET/*.log"; exit 1; fi
  done
  sleep 2
done
