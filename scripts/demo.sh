#!/usr/bin/env bash
# Issues sample water-abstraction permits on a running local network (scripts/run.sh calls it),
# changes one, renews one, suspends one, revokes one, and prints for each the verification URL
# on a node of ANOTHER agency and its QR codes (PNG and SVG under NETDIR/qr/).
#
#   bash scripts/demo.sh out/testnet
# Every command is bounded by a timeout; the whole demo takes a few seconds.
set -euo pipefail
NET=${1:?usage: demo.sh NETDIR}
cd "$(dirname "$0")/.."
BIN=${BIN:-build/node/certledger}
DOCS="$NET/documents"
QR="$NET/qr"
mkdir -p "$DOCS" "$QR"
chmod 700 "$DOCS"

# Agencies and node APIs from network.json: "index slug id key api".
mapfile -t AG < <(python3 - "$NET/network.json" <<'PY'
import json, sys
n = json.load(open(sys.argv[1]))
api = {x["name"]: x["api"] for x in n["nodes"]}
for i, a in enumerate(n["agencies"]):
    print(i, a["slug"], a["id"], a["issuing_key_file"], api[a["node"]])
PY
)
COUNT=${#AG[@]}
if [ "$COUNT" -lt 2 ]; then echo "demo: needs at least two agencies"; exit 1; fi
field() { echo "${AG[$1]}" | cut -d' ' -f"$2"; }
RUN=$(date +%s | tail -c 6)
T="timeout 40"

docs=()
issue() {  # agency serial permit holder credit quantity purpose location division source intake
  local a=$1 out="$DOCS/$2.json"
  $T "$BIN" tx issue --node "$(field "$a" 5)" --key "$(field "$a" 4)" --serial "$2" \
    --permit-number "$3" --holder-name "$4" --holder-id "$5" --annual-quantity "$6" \
    --purpose "$7" --location "$8" --division "$9" --source "${10}" --intake "${11}" \
    --out "$out" >/dev/null
  docs+=("$a:$2")
}
doc_hash() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["document_hash"])' "$1"; }

echo
echo "== demo: sample water-abstraction permits =="
issue 0 "D${RUN}A1" "B320115S2026-0001" "南京江宁水务有限公司" "91320115MA1X00001A" 1250000 "城镇公共供水" "南京市江宁区长江右岸" 320115 surface "1号取水口,118.796877,32.060255"
issue 0 "D${RUN}A2" "B320582S2026-0002" "张家港沙钢热电有限公司" "91320582MA1X00002B" 3600000 "工业用水" "张家港市长江南岸" 320582 surface "取水泵站,120.553100,31.975200"
issue 1 "D${RUN}B1" "B330106G2026-0003" "杭州西湖啤酒有限公司" "91330106MA2X00003C" 80000 "工业用水" "杭州市西湖区" 330106 groundwater "1号井,120.130000,30.259000,in-use,第一承压含水层"
issue $((2 % COUNT)) "D${RUN}C1" "C310118S2026-0004" "青浦自来水有限公司" "91310118MA1X00004D" 5400000 "城镇公共供水" "上海市青浦区淀山湖" 310118 surface "淀山湖取水口,120.950000,31.110000"
issue $((3 % COUNT)) "D${RUN}D1" "A110000S2026-0005" "北京水务集团有限公司" "91110000MA0X00005E" 9000000 "城镇公共供水" "北京市密云区" 110118 surface "密云水库取水口,116.850000,40.480000"

# Change one (A1: more water), renew one (A2), suspend one (B1), revoke one (C1).
a0key=$(field 0 4); a0api=$(field 0 5)
$T "$BIN" tx change --node "$a0api" --key "$a0key" --doc "$DOCS/D${RUN}A1.json" \
  --annual-quantity 1500000 --out "$DOCS/D${RUN}A1-v002.json" >/dev/null
$T "$BIN" tx renew --node "$a0api" --key "$a0key" --doc "$DOCS/D${RUN}A2.json" \
  --not-after 2035-12-31 --out "$DOCS/D${RUN}A2-v002.json" >/dev/null
$T "$BIN" tx suspend --node "$(field 1 5)" --key "$(field 1 4)" --doc "$DOCS/D${RUN}B1.json" \
  --reason "超许可水量取水，责令整改" >/dev/null
c=$((2 % COUNT))
$T "$BIN" tx revoke --node "$(field $c 5)" --key "$(field $c 4)" --doc "$DOCS/D${RUN}C1.json" \
  --kind revoked --reason "拒不执行取水量限制" >/dev/null

show() {  # label agency docfile
  local a=$2 file=$3 other=$(( ($2 + 1) % COUNT ))
  local h; h=$(doc_hash "$file")
  local api; api=$(field "$other" 5)
  local name; name=$(basename "$file" .json)
  $T "$BIN" qr --hash "$h" --node "$api" --out "$QR/$name.png" >/dev/null
  $T "$BIN" qr --hash "$h" --node "$api" --out "$QR/$name.svg" >/dev/null
  local status; status=$($T "$BIN" verify --hash "$h" --node "$api" --genesis "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["genesis"])' "$NET/network.json")" | head -1 || true)
  printf '%-28s %-34s verified on the %s node\n  %s/v/%s\n  QR: %s/%s.png  %s/%s.svg\n' \
    "$1" "$status" "$(field "$other" 2)" "$api" "$h" "$QR" "$name" "$QR" "$name"
}
show "issued (then changed) v1" 0 "$DOCS/D${RUN}A1.json"
show "changed v2" 0 "$DOCS/D${RUN}A1-v002.json"
show "renewed v2" 0 "$DOCS/D${RUN}A2-v002.json"
show "suspended" 1 "$DOCS/D${RUN}B1.json"
show "revoked" $((2 % COUNT)) "$DOCS/D${RUN}C1.json"
show "issued" $((3 % COUNT)) "$DOCS/D${RUN}D1.json"
echo "holder documents (with holder identity and salt, mode 0600): $DOCS"
