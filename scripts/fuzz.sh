#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of fuzz/ (fuzz/README.md) in their own build directory
# (clang++, ASan + UBSan + coverage; default build-fuzz/).
#
#   bash scripts/fuzz.sh smoke              configure and build, replay every checked-in corpus,
#                                           then fuzz each target for FUZZ_SECONDS (default 20);
#                                           exits non-zero on any crash (scripts/test.sh runs it)
#   bash scripts/fuzz.sh campaign [SECONDS] a long run per target (default 600 s): new corpus
#                                           entries go to FUZZ_CAMPAIGN_DIR/<target> (default
#                                           build-fuzz/campaign), never into fuzz/corpus; prints
#                                           execs, execs/s and coverage (cov, ft) per target
#   bash scripts/fuzz.sh corpus             regenerates the seed corpora (fuzz/make_corpus.cc)
#   bash scripts/fuzz.sh build              configure and build only
#
# Environment: FUZZ_BUILD_DIR, FUZZ_SECONDS, FUZZ_CAMPAIGN_DIR, FUZZ_TARGETS (a space-separated
# subset, e.g. "tx_decode genesis_json"), JOBS (targets run at once; default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
ALL_TARGETS="tx_decode block_decode header_decode commit_decode consensus_message peer_message
  hello frame_open frame_roundtrip genesis_json config_json tx_json api_handler smt_proof
  staple_decode"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Leaks are checked (libFuzzer reports them at exit); UBSan findings abort (-fno-sanitize-recover).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

build() {
  if ! command -v clang++ >/dev/null; then
    echo "fuzz: clang++ not found (bash scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2
    exit 1
  fi
  # -O1 and line tables only: the libraries compile about a third faster than -O2 -g, and crash
  # reports still name every file and line. NDEBUG stays undefined so library asserts (nlohmann's
  # JSON_ASSERT) are checked too.
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
    -DCERTLEDGER_FUZZ=ON -DCERTLEDGER_BENCH=OFF >/dev/null
  cmake --build "$BUILD" --target "${1:-fuzz_all}" -j "$JOBS"
}

bin() { echo "$BUILD/fuzz/fuzz_$1"; }
dict_args() {
  if [ -f "fuzz/dict/$1.dict" ]; then echo "-dict=fuzz/dict/$1.dict"; fi
}

# "<execs> <execs/s> <cov> <ft> <corpus>" from a libFuzzer log.
stats() {
  local log=$1 line execs rate
  line=$(grep -aE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  execs=$(grep -a 'stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
  rate=$(grep -a 'stat::average_exec_per_sec' "$log" | awk '{print $2}' | tail -1)
  echo "${execs:-?} ${rate:-?} $(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$line") \
$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$line") $(sed -nE 's/.*corp: ([0-9]+).*/\1/p' <<<"$line")"
}

# Runs fuzz_$1 for $2 seconds with $3 as the corpus it adds to; logs to $4. Returns its status.
run_target() {
  local t=$1 seconds=$2 grow=$3 log=$4
  mkdir -p "$grow" "$BUILD/artifacts"
  # shellcheck disable=SC2046
  "$(bin "$t")" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" $(dict_args "$t") \
    "$grow" "fuzz/corpus/$t" >"$log" 2>&1
}

# Runs function $1 for each target, JOBS at a time. Returns the number of targets that failed.
for_each_target() {
  local fn=$1 t
  rm -f "$BUILD"/logs/failed-*
  for t in $TARGETS; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    ("$fn" "$t" || touch "$BUILD/logs/failed-$t") &
  done
  wait
  local failed
  failed=$(find "$BUILD/logs" -name 'failed-*' | wc -l)
  return "$failed"
}

replay_one() {
  local t=$1 log="$BUILD/logs/replay-$1.log"
  # -runs=0: execute every corpus input once, no mutation.
  if "$(bin "$t")" -runs=0 -timeout=10 -max_len=16384 "fuzz/corpus/$t" >"$log" 2>&1; then
    printf '  %-18s %3d inputs replayed\n' "$t" "$(find "fuzz/corpus/$t" -type f | wc -l)"
  else
    printf '  %-18s FAILED on its corpus (log: %s)\n' "$t" "$log"
    tail -n 40 "$log"
    return 1
  fi
}

fuzz_one() {
  local t=$1 log="$BUILD/logs/$MODE-$1.log" grow
  if [ "$MODE" = campaign ]; then grow="$CAMPAIGN/$t"; else grow="$BUILD/smoke-corpus/$t"; fi
  if run_target "$t" "$SECONDS_PER_TARGET" "$grow" "$log"; then
    read -r execs rate cov ft corp <<<"$(stats "$log")"
    printf '  %-18s %10s execs %8s execs/s   cov: %-6s ft: %-7s corpus: %s\n' \
      "$t" "$execs" "$rate" "$cov" "$ft" "$corp"
  else
    printf '  %-18s CRASHED (log: %s; input: %s)\n' "$t" "$log" \
      "$(grep -ao "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -1)"
    grep -a -A 30 -E 'ERROR: |fuzz property violated|runtime error' "$log" | head -n 60
    return 1
  fi
}

MODE=${1:-}
case "$MODE" in
  smoke)
    SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}
    build
    mkdir -p "$BUILD/logs"
    rm -rf "$BUILD/smoke-corpus"
    echo "== fuzz smoke: replaying the corpora =="
    status=0
    for_each_target replay_one || status=1
    echo "== fuzz smoke: ${SECONDS_PER_TARGET} s per target, $JOBS at a time =="
    for_each_target fuzz_one || status=1
    if [ "$status" -ne 0 ]; then
      echo "fuzz smoke: FAILED (reproduce: $BUILD/fuzz/fuzz_<target> <input>)" >&2
      exit 1
    fi
    echo "fuzz smoke: all targets passed"
    ;;
  campaign)
    SECONDS_PER_TARGET=${2:-${FUZZ_SECONDS:-600}}
    CAMPAIGN=${FUZZ_CAMPAIGN_DIR:-$BUILD/campaign}
    build
    mkdir -p "$BUILD/logs" "$CAMPAIGN"
    echo "== fuzz campaign: ${SECONDS_PER_TARGET} s per target, $JOBS at a time; new inputs in $CAMPAIGN =="
    status=0
    for_each_target fuzz_one || status=1
    echo "(execs/s: average over the run; cov: covered code edges; ft: libFuzzer features)"
    exit "$status"
    ;;
  corpus)
    build fuzz_make_corpus
    "$BUILD/fuzz/fuzz_make_corpus" fuzz/corpus
    ;;
  build)
    build
    ;;
  *)
    usage
    ;;
esac
