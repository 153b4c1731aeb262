#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs every test of certledger:
#   1. installs the Debian packages (scripts/setup.sh), then lints the Dockerfile and
#      deploy/compose.yaml (scripts/lint-docker.sh: pinned npm linters, a few seconds),
#   2. builds and runs the whole suite (ctest) in a release-with-debug-info build,
#   3. builds the libFuzzer targets with clang (build-fuzz/), replays their corpora and runs each
#      for FUZZ_SECONDS (default here 10; scripts/fuzz.sh smoke),
#   4. builds and runs the suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Set CERTLEDGER_SKIP_SANITIZE=1 to skip step 4 during development.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== container files lint =="
bash scripts/lint-docker.sh

JOBS=${JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}

run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@"
  cmake --build "$dir" -j "$JOBS"
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" --timeout 600
}

echo "== release build and tests =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

# libFuzzer targets (fuzz/README.md): build, replay the checked-in corpora, a short run of each.
echo "== fuzz smoke =="
FUZZ_SECONDS=${FUZZ_SECONDS:-10} bash scripts/fuzz.sh smoke

if [ "${CERTLEDGER_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== ASan+UBSan build and tests =="
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DCERTLEDGER_SANITIZE=ON -DCERTLEDGER_BENCH=OFF
fi
echo "== all tests passed =="
