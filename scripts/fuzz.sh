#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan) in their own build
# folder and runs each in turn for SECONDS (default 600), at the lowest CPU priority and one
# at a time. Prints per harness the inputs run, the corpus size and the crashes; exits 1 when
# any harness crashed (the input and log are kept under the build folder, never in the tree).
#   scripts/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]     e.g. scripts/fuzz.sh 60 json html
# UAT_FUZZ_BUILD overrides the build folder (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || {
  echo "usage: scripts/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]" >&2
  exit 2
}
shift || true
all=(playbook expand duration redact html json ledger_row webdriver)
harnesses=("${@:-${all[@]}}")
build=${UAT_FUZZ_BUILD:-build-fuzz}

command -v clang >/dev/null || {
  echo "uatrun: clang is missing; run scripts/deps.sh (it installs clang and libclang-rt-14-dev)" >&2
  exit 2
}
scripts/deps.sh

# UAT_WERROR=1 (set by .ci/run): warnings are errors, here too.
nice -n 10 cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DBUILD_TESTING=OFF -DUAT_FUZZ=ON \
  -DUAT_WERROR="$([[ ${UAT_WERROR:-} == 1 ]] && echo ON || echo OFF)" >/dev/null
nice -n 10 cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target fuzzers >/dev/null

dict_of() { # harness -> its dictionary, if it has one
  case $1 in
    playbook) echo tests/fuzz/dict/playbook.dict ;;
    html) echo tests/fuzz/dict/html.dict ;;
    json | webdriver | ledger_row) echo tests/fuzz/dict/json.dict ;;
  esac
}

failed=0
printf '%-11s %12s %8s %8s %7s\n' harness execs execs/s corpus crashes
for h in "${harnesses[@]}"; do
  bin=$build/tests/fuzz/fuzz_$h
  [[ -x $bin ]] || { echo "uatrun: no harness '$h'; known: ${all[*]}" >&2; exit 2; }
  # New inputs go to a corpus under the build folder; the committed seeds are only read.
  work=$build/fuzz/$h
  mkdir -p "$work/corpus" "$work/artifacts"
  rm -f "$work"/artifacts/*
  dict=$(dict_of "$h")
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$work/artifacts/")
  [[ -n $dict ]] && args+=(-dict="$dict")
  rc=0
  # stdin from /dev/null: nothing a harness loads may wait on the terminal.
  nice -n 19 "$bin" "${args[@]}" "$work/corpus" "tests/fuzz/corpus/$h" \
    </dev/null >"$work/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  crashes=$(find "$work/artifacts" -type f | wc -l)
  ((rc == 0 && crashes == 0)) || { failed=1; ((crashes > 0)) || crashes=1; }
  printf '%-11s %12s %8s %8s %7s\n' "$h" "${execs:-?}" "$(( ${execs:-0} / seconds ))" \
    "$(find "$work/corpus" -type f | wc -l)" "$crashes"
  if ((rc != 0 || crashes > 0)); then
    echo "uatrun: fuzz_$h crashed (exit $rc); log: $work/log; inputs: $work/artifacts/" >&2
    grep -E 'property broken|ERROR: |SUMMARY: |runtime error' "$work/log" | head -5 >&2 || true
    echo "reproduce: $bin $work/artifacts/<file>" >&2
  fi
done
exit "$failed"
