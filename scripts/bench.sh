#!/usr/bin/env bash
# Benchmark: uatrun side by side with its peers, in one run, against the same local servers.
#
#   scripts/bench.sh [RUNS]     (default 11 rounds; each round runs every command once, in turn)
#
# Workloads (the three of issue 14, plus the browser's fixed cost):
#   three     the 3-check playbook written the same for each tool (scripts/bench/three.*):
#             private project 42 with a token (200), without one (403), the sign-in page's
#             menu link by XPath; against uat-demo-staging. uatrun (shared and
#             -DUAT_STATIC_DEPS=ON builds), three curl processes, Newman, Step CI.
#   many      1000 checks, one GET /status/200 each, --jobs 2, against uat-test-server; the
#             same 1000 checks each require("access") (bundled modules, ~490 lines of Lua);
#             yardstick: one curl process making the 1000 requests, 2 at a time.
#   slow      200 checks against /slow?ms=50, --jobs 16: the ideal is 200 / 16 * 50 ms = 625 ms;
#             yardstick: one curl process, 16 at a time.
#   browser   one check that opens the page in headless Chromium (scripts/bench/browser1.yml)
#             against the same check over HTTP (http1.yml): the browser's fixed cost.
#
# Newman and Step CI come from npm (installed into the temp folder; BENCH_NPM_DIR=DIR reuses
# a folder where `npm install newman stepci` was run). Without npm, or without Chromium, those
# rows are skipped with a line saying so. scripts/bench/measure.py times every command once
# a round, in turn: wall, CPU (user + system, from wait4) and peak RSS (GNU time -v); it
# prints medians over the rounds and ratios of the medians. Needs GNU time and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
root=$PWD

scripts/deps.sh
for dir in build-bench build-bench-static; do
  static=OFF
  [[ $dir == *static ]] && static=ON
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON -DUAT_STATIC_DEPS=$static \
    >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target uatrun uat-demo-staging uat-test-server >/dev/null
done
uatrun=$root/build-bench/uatrun
uatrun_static=$root/build-bench-static/uatrun

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    { kill "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: runs a server that writes its port to $work/NAME.port; prints the port.
start() {
  local name=$1
  shift
  "$@" --port 0 --port-file "$work/$name.port" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    [[ -s $work/$name.port ]] && break
    sleep 0.05
  done
  [[ -s $work/$name.port ]] || { echo "bench.sh: $name did not start" >&2; exit 1; }
  cat "$work/$name.port"
}
staging="http://127.0.0.1:$(start staging build-bench/examples/demo-staging/uat-demo-staging)"
testsrv="http://127.0.0.1:$(start testserver build-bench/tests/uat-test-server)"

token=YW5hLXNlc3Npb24tN2MxZTRiMmE= # mapper_ana, allowed on private project 42 (scripts/demo.sh)
export STAGING_URL=$staging TM_TOKEN_ALLOWED=$token UATRUN_LEDGER=$work/ledger.db UATRUN_RELEASE=bench UATRUN_COMMIT=bench
export STEPCI_DISABLE_ANALYTICS=1 XDG_CONFIG_HOME=$work/config NO_COLOR=1

# ---- the peers --------------------------------------------------------------------------
npm_dir=${BENCH_NPM_DIR:-}
if [[ -z $npm_dir ]] && command -v npm >/dev/null; then
  npm_dir=$work/npm
  mkdir -p "$npm_dir"
  echo "installing newman and stepci with npm into a temporary folder..." >&2
  if ! (cd "$npm_dir" && npm install --silent --no-audit --no-fund newman stepci >/dev/null 2>&1); then
    echo "bench.sh: npm install newman stepci failed: Newman and Step CI rows skipped" >&2
    npm_dir=
  fi
fi
newman=${npm_dir:+$npm_dir/node_modules/.bin/newman}
stepci=${npm_dir:+$npm_dir/node_modules/.bin/stepci}
[[ -n $newman && -x $newman ]] || { newman=; echo "skipped: Newman (no npm, or it is not installed)"; }
[[ -n $stepci && -x $stepci ]] || { stepci=; echo "skipped: Step CI (no npm, or it is not installed)"; }

# ---- the workloads ----------------------------------------------------------------------
cat >"$work/three-curl.sh" <<EOF
curl -s -o /dev/null -H "Authorization: Token $token" "$staging/api/v2/projects/42/"
curl -s -o /dev/null "$staging/api/v2/projects/42/"
curl -s -o /dev/null "$staging/agents/sign_in"
EOF

# playbook N PATH [require]: N checks, each one GET of PATH (or access.allowed of it).
playbook() {
  echo "name: bench $1 checks"
  echo "target: { base_url: \"$testsrv\", timeout: 10s }"
  echo "checks:"
  for i in $(seq "$1"); do
    printf '  - id: c%04d\n    run: |\n' "$i"
    if [[ ${3:-} == require ]]; then
      printf '      local access = require("access")\n'
      printf '      access.allowed({ url = "%s" }, { who = "a visitor", what = "the page" })\n' "$2"
    else
      printf '      expect.status(http.get("%s"), 200, "answers")\n' "$2"
    fi
  done
}
playbook 1000 /status/200 >"$work/many.yml"
playbook 1000 /status/200 require >"$work/many-require.yml"
playbook 200 '/slow?ms=50' >"$work/slow.yml"
curl_config() { # N PATH
  for _ in $(seq "$1"); do printf 'url = "%s%s"\noutput = "/dev/null"\n' "$testsrv" "$2"; done
}
curl_config 1000 /status/200 >"$work/many.curl"
curl_config 200 '/slow?ms=50' >"$work/slow.curl"

# Each command must pass once before it is timed: a benchmark of a failing run is no figure.
check_passes() { # label command...
  if ! "${@:2}" >"$work/out" 2>&1; then
    echo "bench.sh: $1 does not pass; fix that first:" >&2
    tail -20 "$work/out" >&2
    exit 1
  fi
}

# The table measure.py runs: label, description, yardstick, command (split at spaces, run
# without a shell so none is timed).
table=$work/table
add() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$table"; }
add three.curl "3 curl processes (the yardstick)" - "sh $work/three-curl.sh"
add three.uatrun "uatrun three.yml" three.curl "$uatrun $root/scripts/bench/three.yml --quiet"
add three.uatrun-static "uatrun, -DUAT_STATIC_DEPS=ON" three.curl \
  "$uatrun_static $root/scripts/bench/three.yml --quiet"
[[ -n $newman ]] && add three.newman "newman run three.postman.json" three.curl \
  "$newman run $root/scripts/bench/three.postman.json --env-var base_url=$staging \
--env-var token=$token --reporters cli"
[[ -n $stepci ]] && add three.stepci "stepci run three.stepci.yml" three.curl \
  "$stepci run $root/scripts/bench/three.stepci.yml -e base_url=$staging -e token=$token"
add many.curl "1 curl, 1000 requests, 2 at a time" - \
  "curl -s -Z --parallel-max 2 --config $work/many.curl"
add many.uatrun "uatrun 1000 checks --jobs 2" many.curl "$uatrun $work/many.yml --quiet --jobs 2"
add many.uatrun-require "uatrun 1000 checks require(access) --jobs 2" many.curl \
  "$uatrun $work/many-require.yml --quiet --jobs 2"
add slow.curl "1 curl, 200 x 50 ms, 16 at a time" - \
  "curl -s -Z --parallel-max 16 --config $work/slow.curl"
add slow.uatrun "uatrun 200 x 50 ms --jobs 16" slow.curl "$uatrun $work/slow.yml --quiet --jobs 16"
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  add browser.http "uatrun 1 check over HTTP" - "$uatrun $root/scripts/bench/http1.yml --quiet"
  add browser.browser "uatrun 1 browser check" browser.http \
    "$uatrun $root/scripts/bench/browser1.yml --quiet"
else
  echo "skipped: the browser's fixed cost (chromium or chromedriver is not installed)"
fi
{
  echo "# ratio three.newman three.uatrun Newman / uatrun, 3 checks, wall"
  echo "# ratio three.stepci three.uatrun Step CI / uatrun, 3 checks, wall"
  echo "# ratio slow.uatrun 0.625 uatrun 200 x 50 ms --jobs 16 / the ideal 625 ms"
  echo "# diff browser.browser browser.http a browser check's fixed cost (driver, Chromium, first page)"
} >>"$table"

# Each command must pass once before it is timed: a benchmark of a failing run is no figure.
while IFS=$'\t' read -r label _ _ command; do
  [[ $label == "#"* ]] && continue
  read -ra cmd <<<"$command"
  if ! "${cmd[@]}" >"$work/out" 2>&1; then
    echo "bench.sh: $label does not pass; fix that first:" >&2
    tail -20 "$work/out" >&2
    exit 1
  fi
done <"$table"

# An HTTP-only playbook must not start chromedriver (nor Chromium).
if command -v strace >/dev/null; then
  strace -f -qq -e trace=execve -o "$work/execs" "$uatrun" scripts/bench/three.yml --quiet >/dev/null
  started=$(grep -c -E 'chromedriver|chromium' "$work/execs" || true)
  echo "HTTP-only playbook: $started chromedriver/Chromium processes started (strace -f -e execve)"
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), \
load average $(cut -d' ' -f1-3 /proc/loadavg); curl $(curl --version | head -1 | cut -d' ' -f2), \
node $(node --version 2>/dev/null || echo none)"
echo "measuring: $runs rounds, every command once a round, in turn..." >&2
python3 scripts/bench/measure.py "$runs" "$table"
