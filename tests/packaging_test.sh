#!/usr/bin/env bash
# The install rules, the Debian package and the systemd unit (issue 14), on a built tree:
#   1. docs/grafana-dashboard.json is JSON and a usable dashboard (every metric of the list
#      below, a Prometheus data-source variable, schemaVersion >= 36, quantiles over _bucket);
#   2. `cmake --install BUILD --prefix /usr` into a DESTDIR puts the binary, the docs and the
#      unit where they belong, and the installed binary runs;
#   3. `cpack -G DEB` makes certledger_<project version>_<arch>.deb whose control data and file
#      list are checked, and whose Depends name the package of every shared library the binary
#      links (where dpkg-shlibdeps made them);
#   4. `systemd-analyze verify` on the unit (skipped with a note where systemd-analyze is absent),
#      which must print nothing, plus the hardening directives the unit must keep.
# Usage: tests/packaging_test.sh BUILD_DIR   (ctest runs it as PackagingTest; needs the
# `certledger` target built). Everything happens in a temporary directory, removed at exit.
set -euo pipefail

build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/certledger-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "packaging_test: FAIL: $*" >&2
  exit 1
}
step() { echo "packaging_test: $*"; }
# Bounded: no step may hang the suite.
run() { timeout 300 "$@"; }

# ---- 1. Grafana dashboard ------------------------------------------------------------------------
step "docs/grafana-dashboard.json"
python3 -m json.tool "$src/docs/grafana-dashboard.json" >/dev/null ||
  fail "docs/grafana-dashboard.json is not JSON"
python3 - "$src/docs/grafana-dashboard.json" <<'PY' || fail "docs/grafana-dashboard.json"
import json, re, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
problems = []
if d.get("schemaVersion", 0) < 36:
    problems.append(f"schemaVersion {d.get('schemaVersion')} < 36")
variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
ds = [v for v in variables.values() if v.get("type") == "datasource" and v.get("query") == "prometheus"]
if len(ds) != 1:
    problems.append("needs exactly one Prometheus data-source variable")
ds_ref = "${" + ds[0]["name"] + "}" if ds else None
metrics = """certledger_height certledger_round certledger_blocks_committed_total
certledger_txs_committed_total certledger_commit_latency_seconds certledger_proposal_latency_seconds
certledger_mempool_txs certledger_mempool_bytes certledger_peers_connected certledger_sync_lag_blocks
certledger_http_requests_total certledger_http_request_duration_seconds certledger_store_write_seconds
certledger_signature_verifications_total certledger_peer_penalties_total certledger_build_info
process_cpu_seconds_total process_resident_memory_bytes process_open_fds""".split()
histograms = {"certledger_commit_latency_seconds", "certledger_proposal_latency_seconds",
              "certledger_http_request_duration_seconds", "certledger_store_write_seconds"}
exprs, ids = [], []
for p in d["panels"]:
    ids.append(p["id"])
    if p["type"] == "row":
        continue
    for k in ("gridPos", "title", "targets"):
        if k not in p:
            problems.append(f"panel {p['id']}: no {k}")
    if p.get("datasource", {}).get("uid") != ds_ref:
        problems.append(f"panel {p['id']} ({p.get('title')}): datasource is not {ds_ref}")
    for t in p.get("targets", []):
        e = t.get("expr", "")
        exprs.append(e)
        if e.count("(") != e.count(")") or e.count("{") != e.count("}"):
            problems.append(f"panel {p['id']}: unbalanced expression {e}")
        if "histogram_quantile" in e and not re.search(r"rate\(\w+_bucket\{", e):
            problems.append(f"panel {p['id']}: histogram_quantile not over rate(..._bucket)")
        if "_total" in e and "rate(" not in e:
            problems.append(f"panel {p['id']}: counter without rate(): {e}")
if len(ids) != len(set(ids)):
    problems.append("panel ids not unique")
text = "\n".join(exprs)
for m in metrics:
    name = m + "_bucket" if m in histograms else m
    if not re.search(re.escape(name) + r"\b", text):
        problems.append(f"metric {name} not on the dashboard")
for q in ("0.5", "0.99"):
    if f"histogram_quantile({q}, sum by (le, instance) (rate(certledger_commit_latency_seconds_bucket" not in text:
        problems.append(f"commit latency p{q} missing")
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# ---- 2. cmake --install --------------------------------------------------------------------------
root=$tmp/root
step "cmake --install $build --prefix /usr (DESTDIR=$root)"
DESTDIR=$root run cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "cmake --install"; }
docs=(README.md API.md CONFIG.md FORMAT.md OPERATIONS.md openapi.yaml grafana-dashboard.json)
expected=(usr/bin/certledger usr/lib/systemd/system/certledger.service)
for f in "${docs[@]}"; do expected+=("usr/share/doc/certledger/$f"); done
for f in "${expected[@]}"; do
  [ -f "$root/$f" ] || fail "cmake --install did not install /$f"
done
[ -x "$root/usr/bin/certledger" ] || fail "/usr/bin/certledger is not executable"
for f in "$src"/docs/*.md; do
  [ -f "$root/usr/share/doc/certledger/$(basename "$f")" ] || fail "docs/$(basename "$f") not installed"
done
cmp -s "$src/packaging/certledger.service" "$root/usr/lib/systemd/system/certledger.service" ||
  fail "the installed unit differs from packaging/certledger.service"
run "$root/usr/bin/certledger" --version >/dev/null || fail "the installed binary does not run"
step "installed: ${#expected[@]} files checked, binary runs"

# ---- 3. Debian package ---------------------------------------------------------------------------
version=$(sed -n 's/^project(certledger VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || fail "no project version in CMakeLists.txt"
step "cpack -G DEB (version $version)"
run cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/cpack" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
mapfile -t debs < <(find "$tmp/cpack" -maxdepth 1 -name '*.deb')
[ "${#debs[@]}" -eq 1 ] || fail "cpack made ${#debs[@]} .deb files, expected 1"
deb=${debs[0]}
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "certledger_${version}_${arch}.deb" ] ||
  fail "package file $(basename "$deb"), expected certledger_${version}_${arch}.deb"
info=$(dpkg-deb -I "$deb")
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = certledger ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), expected $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
[ -n "$depends" ] || { echo "$info"; fail "no Depends"; }
contents=$(dpkg-deb -c "$deb")
for f in "${expected[@]}"; do
  grep -q " \./$f\$" <<<"$contents" || { echo "$contents"; fail "the package lacks /$f"; }
done
# Depends must name the package of every library the binary links directly (dpkg -S on the
# resolved path; with merged /usr the database may record /lib/... or /usr/lib/...).
owner() {
  local p candidates=("$1" "$(readlink -f "$1")")
  case "$1" in
    /usr/*) candidates+=("${1#/usr}") ;;
    *) candidates+=("/usr$1") ;;
  esac
  for p in "${candidates[@]}"; do
    if dpkg -S "$p" >/dev/null 2>&1; then
      dpkg -S "$p" 2>/dev/null | head -n1 | cut -d: -f1
      return
    fi
  done
}
dep_names=$(tr ',|' '\n\n' <<<"$depends" | sed 's/(.*//; s/[[:space:]]//g')
missing=()
checked=0
while read -r lib; do
  pkg=$(owner "$lib")
  [ -n "$pkg" ] || continue  # a library no package owns (built here): nothing to depend on
  checked=$((checked + 1))
  # The package itself, or a name it provides (libspdlog1.10 provides libspdlog1.10-fmt9).
  ok=0
  for name in "$pkg" $(dpkg-query -W -f='${Provides}' "$pkg" 2>/dev/null | tr ',' ' ' |
    sed 's/([^)]*)//g'); do
    if grep -Fxq "$name" <<<"$dep_names"; then ok=1; fi
  done
  [ "$ok" -eq 1 ] || missing+=("$pkg ($lib)")
done < <(
  # The libraries the binary names itself (NEEDED), resolved to paths by ldd; the libraries those
  # pull in are their packages' own dependencies.
  ldd "$root/usr/bin/certledger" >"$tmp/ldd.txt"
  readelf -d "$root/usr/bin/certledger" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
    while read -r name; do
      awk -v n="$name" '$1 == n && $2 == "=>" && $3 ~ /^\// {print $3}' "$tmp/ldd.txt"
    done
)
[ "${#missing[@]}" -eq 0 ] || fail "Depends ($depends) lacks: ${missing[*]}"
mkdir "$tmp/x"
dpkg-deb -x "$deb" "$tmp/x"
run "$tmp/x/usr/bin/certledger" --version >/dev/null || fail "the packaged binary does not run"
step "package $(basename "$deb"): control fields, ${#expected[@]} files, Depends covers the" \
  "packages of the $checked libraries the binary links"
step "Depends: $depends"

# ---- 4. systemd unit -----------------------------------------------------------------------------
unit=$root/usr/lib/systemd/system/certledger.service
for d in ExecStart=/usr/bin/certledger DynamicUser=yes StateDirectory=certledger \
  ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes PrivateDevices=yes \
  ProtectKernelTunables=yes ProtectKernelModules=yes \
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" LimitNOFILE=65536 Restart=on-failure; do
  grep -q "^$d" "$unit" || fail "certledger.service lacks $d"
done
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify checks that ExecStart's program exists: point it at the installed copy. It exits 0
  # on unknown keys and bad values (it only prints them), so any output is a failure.
  sed "s#^ExecStart=/usr/bin/certledger#ExecStart=$root/usr/bin/certledger#" "$unit" \
    >"$tmp/certledger.service"
  out=$(run systemd-analyze verify "$tmp/certledger.service" 2>&1) ||
    fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify: $out"
  step "systemd-analyze verify: clean"
else
  step "NOTE: systemd-analyze not found: the unit's syntax was not verified"
fi
step "passed"
