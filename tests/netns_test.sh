#!/usr/bin/env bash
# The deployment topology as separate hosts: five nodes (four validators, one observer), each in
# its own network namespace with its own address, joined by veth pairs to a "switch" namespace
# (a bridge), all created by this test and removed at exit. Each home is made by
# `certledger init` from the genesis and keys that governance produced (here `certledger
# testnet`, as the agencies' keygen + genesis ceremony), with peers given as name@key@address.
# Then: a permit issued on one host is verified on another; one host's link is cut (it falls
# behind and is not ready, the other three keep committing) and restored (it catches up).
#
#   bash tests/netns_test.sh BUILD_DIR      (exit 77: skipped, not root or no `ip netns`)
#
# Addresses: 10.213.77.1-5/24, only inside the namespaces this test creates. Every wait is
# bounded; a trap stops the nodes and deletes the namespaces and the temp directory.
set -euo pipefail

BUILD=${1:?usage: netns_test.sh BUILD_DIR}
BIN=$(cd "$BUILD" && pwd)/node/certledger
[ -x "$BIN" ] || { echo "netns_test: no $BIN"; exit 1; }
if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
  echo "netns_test: SKIPPED (needs root and ip netns)"
  exit 77
fi

TAG="cl$$"
SW="${TAG}sw"
T=$(mktemp -d /tmp/certledger-netns.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  for i in 0 1 2 3 4; do ip netns del "${TAG}n$i" 2>/dev/null || true; done
  ip netns del "$SW" 2>/dev/null || true
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$T"; fi
}
trap cleanup EXIT
fail() {
  echo "netns_test: FAIL: $*"
  for i in 0 1 2 3 4; do
    echo "---- last lines of node$i.log ----"
    tail -n 15 "$T/node$i.log" 2>/dev/null || true
  done
  exit 1
}
# Polls a command every 0.5 s until it succeeds or $1 seconds pass.
wait_for() {
  local limit=$1; shift
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
addr() { echo "10.213.77.$(( $1 + 1 ))"; }
in_ns() { local i=$1; shift; ip netns exec "${TAG}n$i" "$@"; }
height() {  # height of node $2 asked from host $1
  in_ns "$1" curl -s -m 2 "http://$(addr "$2"):8080/v1/status" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])'
}
height_at_least() { [ "$(height "$1" "$2" 2>/dev/null || echo 0)" -ge "$3" ]; }

# ---- the network: a switch namespace with a bridge, one namespace per host ----
ip netns add "$SW"
ip -n "$SW" link add br0 type bridge
ip -n "$SW" link set br0 up
for i in 0 1 2 3 4; do
  ns="${TAG}n$i"
  ip netns add "$ns"
  ip link add "h$TAG$i" netns "$ns" type veth peer name "s$TAG$i" netns "$SW"
  ip -n "$ns" addr add "$(addr "$i")/24" dev "h$TAG$i"
  ip -n "$ns" link set "h$TAG$i" up
  ip -n "$ns" link set lo up
  ip -n "$SW" link set "s$TAG$i" master br0
  ip -n "$SW" link set "s$TAG$i" up
done

# ---- governance: genesis and keys (four agencies' validators, one observer) ----
"$BIN" testnet --validators 4 --observers 1 --out "$T/gov" >/dev/null
mapfile -t KEYS < <(python3 -c '
import json, sys
for n in json.load(open(sys.argv[1]))["nodes"]:
    print(n["public_key"])' "$T/gov/network.json")

# ---- each host: certledger init with the genesis, its keys and its peers ----
for i in 0 1 2 3 4; do
  args=(init --home "$T/h$i" --moniker "node$i" --genesis "$T/gov/genesis.json"
        --node-key "$T/gov/node$i/node_key.json"
        --p2p-listen "$(addr "$i"):26656" --api-listen "$(addr "$i"):8080"
        --admin-listen "127.0.0.1:26660")
  [ "$i" -lt 4 ] && args+=(--validator-key "$T/gov/node$i/validator_key.json")
  for j in 0 1 2 3 4; do
    [ "$j" -eq "$i" ] && continue
    if [ "$j" -lt 4 ]; then
      args+=(--peer "node$j@${KEYS[$j]}@$(addr "$j"):26656")   # validators are dialled
    elif [ "$i" -lt 4 ]; then
      args+=(--peer "node$j@${KEYS[$j]}")                      # the observer: accepted only
    fi
  done
  "$BIN" "${args[@]}" >/dev/null || fail "init of node$i"
  grep -q "listen = \"$(addr "$i"):8080\"" "$T/h$i/config.toml" || fail "init's config.toml"
done
# init refuses to overwrite a home.
if "$BIN" init --home "$T/h0" >/dev/null 2>&1; then fail "init overwrote a home"; fi

for i in 0 1 2 3 4; do
  in_ns "$i" "$BIN" node --home "$T/h$i" >"$T/node$i.log" 2>&1 &
  PIDS+=($!)
done
for i in 0 1 2 3 4; do
  wait_for 60 height_at_least "$i" "$i" 2 || fail "node$i did not reach height 2"
done
echo "netns_test: five hosts up, committing"

# ---- issue on host 0 (agency 0), verify on host 4 (the observer) and host 2 ----
AG=$(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["agencies"][0]
print(a["issuing_key_file"])' "$T/gov/network.json")
in_ns 0 timeout 60 "$BIN" tx issue --node "http://$(addr 0):8080" --key "$AG" --serial NS0001 \
  --permit-number B320115S2026-0901 --holder-name "测试水务有限公司" \
  --holder-id 91320115MA1X00001A --annual-quantity 1250000 --purpose "城镇公共供水" \
  --location "南京市江宁区" --division 320115 --source surface \
  --intake "1号取水口,118.796877,32.060255" --out "$T/doc.json" >/dev/null || fail "tx issue"
HASH=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["document_hash"])' "$T/doc.json")
verify_on() {
  in_ns "$1" timeout 30 "$BIN" verify --hash "$HASH" --node "http://$(addr "$1"):8080" \
    --genesis "$T/gov/genesis.json" >"$T/verify$1.txt" 2>&1
}
wait_for 30 verify_on 4 || fail "verify on the observer: $(cat "$T/verify4.txt")"
grep -q "Valid" "$T/verify4.txt" || fail "observer's answer: $(cat "$T/verify4.txt")"
wait_for 30 verify_on 2 || fail "verify on node2: $(cat "$T/verify2.txt")"
echo "netns_test: issued on host 0, verified on hosts 4 and 2"

# ---- cut host 3's link: the others go on, host 3 falls behind and is not ready ----
ip -n "$SW" link set "s${TAG}3" down
h=$(height 0 0)
wait_for 60 height_at_least 0 0 $((h + 3)) || fail "three validators stopped committing"
h3=$(height 3 3)
[ "$h3" -lt "$((h + 3))" ] || fail "node3 kept committing without its link"
not_ready() {
  local code
  code=$(in_ns 3 curl -s -o "$T/ready3.json" -w '%{http_code}' -m 2 http://127.0.0.1:26660/readyz)
  [ "$code" = 503 ] && grep -q "peers: none of 4 connected" "$T/ready3.json"
}
wait_for 30 not_ready || fail "node3 /readyz while cut off: $(cat "$T/ready3.json" 2>/dev/null)"
verify_on 4 || fail "verify on the observer with host 3 cut off"
echo "netns_test: link of host 3 cut: others at $(height 0 0), host 3 at $h3 and not ready"

# ---- restore it: host 3 catches up and is ready again ----
ip -n "$SW" link set "s${TAG}3" up
target=$(height 0 0)
wait_for 90 height_at_least 3 3 "$target" || fail "node3 did not catch up to $target"
ready() { in_ns 3 curl -sf -m 2 http://127.0.0.1:26660/readyz; }
wait_for 30 ready || fail "node3 not ready after the link came back"
echo "netns_test: link restored: host 3 caught up to $(height 3 3) and is ready"
echo "netns_test: PASS"
