#!/usr/bin/env bash
# Lints the container files with linters pinned in tools/lint/package-lock.json (npm packages;
# hadolint is not packaged for Debian 12). Fails on any finding, warnings included.
#   Dockerfile:          dockerfile-utils (Docker's own instruction grammar: flags, JSON forms,
#                        duplicate CMD/ENTRYPOINT/HEALTHCHECK, deprecations) and dockerfilelint
#                        (practices: apt-get hygiene, tags, ports, ...; rule exceptions with their
#                        reasons in tools/lint/.dockerfilelintrc);
#   deploy/compose.yaml: dclint (the Compose Specification schema it ships, and its rules;
#                        exceptions in tools/lint/dclint.yaml), and `docker compose config` where
#                        the Docker client has the compose plugin.
# Installs the linters with `npm ci` into tools/lint/node_modules (ignored by git) when the lock
# file changed since the last install; nothing is fetched at lint time. scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

lint=tools/lint
bin=$lint/node_modules/.bin

if ! command -v npm >/dev/null 2>&1; then
  # Machines of this project have Node.js and npm; elsewhere Debian's packages do.
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "lint-docker: installing nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

lock_sum=$(sha256sum "$lint/package-lock.json" | cut -d' ' -f1)
stamp=$lint/node_modules/.certledger-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo "lint-docker: npm ci in $lint"
  (cd "$lint" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi

version() { node -p "require('./$lint/node_modules/$1/package.json').version"; }
failed=0
report() {  # report NAME FILE STATUS OUTPUT
  if [ "$3" -ne 0 ] || [ -n "$4" ]; then
    echo "lint-docker: $2: $1 FAILED"
    printf '%s\n' "$4"
    failed=1
  else
    echo "lint-docker: $2: $1 clean"
  fi
}

# dockerfile-utils exits 0 on warnings: any output is a finding.
status=0
out=$("$bin/dockerfile-utils" lint Dockerfile 2>&1) || status=$?
report "dockerfile-utils $(version dockerfile-utils)" Dockerfile "$status" "$out"

# dockerfilelint prints a summary even when clean; its exit status is the number of findings.
status=0
out=$("$bin/dockerfilelint" -c "$lint" Dockerfile 2>&1) || status=$?
report "dockerfilelint $(version dockerfilelint)" Dockerfile "$status" "$([ "$status" -ne 0 ] && printf '%s' "$out")"

status=0
out=$("$bin/dclint" --config "$lint/dclint.yaml" --max-warnings 0 --no-color \
  deploy/compose.yaml 2>&1) || status=$?
report "dclint $(version dclint) (compose-spec schema + rules)" deploy/compose.yaml "$status" \
  "$(printf '%s' "$out" | sed '/^[[:space:]]*$/d')"

if docker compose version >/dev/null 2>&1; then
  status=0
  out=$(docker compose -f deploy/compose.yaml config --quiet 2>&1) || status=$?
  report "docker compose config" deploy/compose.yaml "$status" "$out"
else
  echo "lint-docker: deploy/compose.yaml: docker compose config skipped (no compose plugin here)"
fi

if [ "$failed" -ne 0 ]; then
  echo "lint-docker: findings above (rule exceptions go in tools/lint/, each with its reason)"
  exit 1
fi
echo "lint-docker: Dockerfile and deploy/compose.yaml clean"
