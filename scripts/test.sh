#!/usr/bin/env bash
# Builds uatrun and runs every test: first a normal build, then the same suite
# under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            both
#   scripts/test.sh --fast     the normal build only
#   scripts/test.sh --sanitize the sanitizer build only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

mode=${1:-all}
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() { # build-dir extra-cmake-args...
  local dir=$1
  shift
  # UAT_WERROR=1 (set by .ci/run): warnings are errors.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=ON \
    -DUAT_WERROR="$([[ ${UAT_WERROR:-} == 1 ]] && echo ON || echo OFF)" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$jobs")
}

case $mode in
  all)
    run_suite build
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_suite build-sanitize -DUAT_SANITIZE=ON
    ;;
  --fast) run_suite build ;;
  --sanitize)
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_suite build-sanitize -DUAT_SANITIZE=ON
    ;;
  *) echo "usage: scripts/test.sh [--fast|--sanitize]" >&2; exit 2 ;;
esac
