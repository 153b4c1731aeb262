#!/usr/bin/env bash
# Makes the node homes that deploy/compose.yaml mounts: four validators (node0..node3) and one
# observer (node4), with keys, genesis and configs, addressed by their compose service names.
#
#   bash deploy/make-homes.sh OUT_DIR [more `certledger testnet` flags, e.g. --chain-id NAME]
#
# It runs `certledger testnet --validators 4 --observers 1 --out OUT_DIR --host 0.0.0.0 ...`
# (node/testnet.cc), then rewrites each home's config.toml for the containers:
#   - p2p.listen 0.0.0.0:26656, api.listen 0.0.0.0:8080 and admin.listen 127.0.0.1:26660 (where
#     the image's HEALTHCHECK asks) in every container (testnet gives each node its own ports,
#     as they share one host there);
#   - each peer address "<service name>:26656" (the transport resolves host names), the service
#     name being the node's moniker (node0..node4);
#   - the observer, whose API is published on the host, gets the default per-client rate limit
#     back (testnet turns it off for local load tests);
# and OUT_DIR/network.json the same addresses (as seen inside the compose network). It writes
# OUT_DIR/compose.env for `docker compose --env-file`: where the homes are, and the user and group
# that own them (the containers run as that user; the key files are mode 0600).
#
# The certledger binary: $CERTLEDGER if set (may be a command with arguments, e.g.
#   CERTLEDGER="docker run --rm --user $(id -u):$(id -g) -v $PWD:$PWD -w $PWD certledger:local"),
# else `certledger` on PATH, else build/node/certledger of this checkout.
set -euo pipefail

if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: $0 OUT_DIR [certledger testnet flags...]" >&2
  exit 2
fi
out=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ -n "${CERTLEDGER:-}" ]; then
  read -r -a certledger <<<"$CERTLEDGER"
elif command -v certledger >/dev/null 2>&1; then
  certledger=(certledger)
elif [ -x "$repo/build/node/certledger" ]; then
  certledger=("$repo/build/node/certledger")
else
  echo "make-homes: no certledger binary: build it (cmake --build build --target certledger)," \
    "install it, or set CERTLEDGER" >&2
  exit 1
fi

if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "make-homes: $out exists and is not empty (the homes hold keys: never overwritten)" >&2
  exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Fixed base port: no port probing (the ports are rewritten below anyway).
"${certledger[@]}" testnet --validators 4 --observers 1 --out "$out" --host 0.0.0.0 \
  --base-port 26656 "$@"

python3 - "$out" <<'PY'
import json, os, re, sys

out = sys.argv[1]
P2P_PORT, API_PORT, ADMIN_PORT = 26656, 8080, 26660

with open(os.path.join(out, "network.json"), encoding="utf-8") as f:
    network = json.load(f)

# config.toml as `certledger testnet` writes it (node/config.cc ConfigToToml): one `key = value`
# per line under [section] or [[p2p.peers]] headers. Only values are replaced, so the comments
# stay. (Every field can also be overridden by CERTLEDGER_* environment variables instead.)
def rewrite(text, validator):
    lines, section, peer_name = [], "", None
    for line in text.splitlines():
        header = re.match(r"^\[\[?([a-z0-9_.]+)\]\]?$", line)
        if header:
            section, peer_name = header.group(1), None
        m = re.match(r"^([a-z_]+) = (.*)$", line)
        if m:
            key = m.group(1)
            if section == "p2p" and key == "listen":
                line = f'listen = "0.0.0.0:{P2P_PORT}"'
            elif section == "api" and key == "listen":
                line = f'listen = "0.0.0.0:{API_PORT}"'
            elif section == "admin" and key == "listen":
                line = f'listen = "127.0.0.1:{ADMIN_PORT}"'  # the image's HEALTHCHECK asks here
            elif section == "p2p.peers" and key == "name":
                peer_name = json.loads(m.group(2))
            elif section == "p2p.peers" and key == "address":
                line = f'address = "{peer_name}:{P2P_PORT}"'
            elif section == "api" and key == "rate_limit_per_second" and not validator:
                line = "rate_limit_per_second = 200"
            elif section == "api" and key == "rate_limit_burst" and not validator:
                line = "rate_limit_burst = 400"
        lines.append(line)
    return "\n".join(lines) + "\n"

for node in network["nodes"]:
    name = node["name"]
    path = os.path.join(out, name, "config.toml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(rewrite(text, node["validator"]))
    os.replace(tmp, path)
    node["p2p"] = f"{name}:{P2P_PORT}"
    node["api"] = f"http://{name}:{API_PORT}"
    node["admin"] = f"http://127.0.0.1:{ADMIN_PORT} (inside the container)"

with open(os.path.join(out, "network.json"), "w", encoding="utf-8") as f:
    json.dump(network, f, indent=2, ensure_ascii=False)
    f.write("\n")
PY

# The containers run as the owner of the homes, never as root: homes made by root are given to
# the image's own user (10001:10001, Dockerfile).
run_uid=$(id -u)
run_gid=$(id -g)
if [ "$run_uid" -eq 0 ]; then
  run_uid=10001
  run_gid=10001
  chown -R "$run_uid:$run_gid" "$out"/node0 "$out"/node1 "$out"/node2 "$out"/node3 "$out"/node4
fi
cat >"$out/compose.env" <<EOF
# For: docker compose --env-file $out/compose.env -f $repo/deploy/compose.yaml up -d
CERTLEDGER_HOMES=$out
CERTLEDGER_UID=$run_uid
CERTLEDGER_GID=$run_gid
EOF

echo "make-homes: homes for node0..node3 (validators) and node4 (observer) in $out"
echo "make-homes: start them with"
echo "  docker compose --env-file $out/compose.env -f $repo/deploy/compose.yaml up -d"
