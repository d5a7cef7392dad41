#!/usr/bin/env bash
# Runs tests again and again on one loaded CPU, to catch what only fails on a slow machine:
# everything pinned to CPU 0 with `taskset`, at `nice 10`, beside a busy loop on the same
# CPU. Stops at the first failure (its output is kept), else prints how many runs passed.
#   scripts/stress.sh [RUNS] [CTEST_REGEX]         default: 20 runs of the unit tests
#   BUILD=build-sanitize scripts/stress.sh 20 unit  the sanitizer build (made when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
regex=${2:-^unit\\.}
build=${BUILD:-build-sanitize}
command -v taskset >/dev/null || { echo "stress.sh: taskset is needed (util-linux)" >&2; exit 2; }

if [[ ! -f $build/CTestTestfile.cmake ]]; then
  sanitize=OFF
  [[ $build == *sanitize* ]] && sanitize=ON
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=ON -DUAT_SANITIZE=$sanitize >/dev/null
fi
cmake --build "$build" -j "$(nproc)" >/dev/null

taskset -c 0 nice -n 10 sh -c 'while :; do :; done' &
hog=$!
log=$(mktemp)
trap 'kill $hog 2>/dev/null; rm -f "$log"' EXIT

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for ((i = 1; i <= runs; i++)); do
  start=$SECONDS
  if ! (cd "$build" && taskset -c 0 nice -n 10 ctest -R "$regex" --output-on-failure) >"$log" 2>&1; then
    echo "stress.sh: run $i of $runs failed after $((SECONDS - start))s:" >&2
    grep -E "Failed|FAIL|ERROR" "$log" | head -40 >&2
    cp "$log" "$build/stress-failure.log"
    echo "stress.sh: whole output in $build/stress-failure.log" >&2
    exit 1
  fi
  echo "run $i of $runs passed in $((SECONDS - start))s ($(grep -c 'Passed' "$log") tests)"
done
echo "stress.sh: $runs of $runs runs passed on one CPU shared with a busy loop"
