#!/usr/bin/env bash
# Benchmark: uatrun running examples/staging.yml against the demo staging,
# against a peer measured in the same run — curl making the same HTTP requests
# (taken from uatrun's own --verbose request log) in one process. The ratio says
# what the sandboxes, Lua, HTML/JSON parsing, reports and ledger cost on top of
# the raw HTTP exchanges.
#
#   scripts/bench.sh [RUNS]     (default 15 runs of each, alternated)
#
# Prints wall-time medians, peak memory (max RSS), and the ratios. Needs GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}

scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j "$(nproc)" --target uatrun uat-demo-staging >/dev/null

work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
build-bench/examples/demo-staging/uat-demo-staging --port 0 --port-file "$work/port" --release v4.6.3 \
  >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$work/port")"

# The demo's credentials, as scripts/demo.sh sets them.
eval "$(grep -E '^export (TM_|RDV_)' scripts/demo.sh)"
export STAGING_URL=$base UATRUN_LEDGER=$work/ledger.db UATRUN_RELEASE=v4.6.3 UATRUN_COMMIT=bench

# The peer's workload: the same method + URL list uatrun sends.
if ! build-bench/uatrun examples/staging.yml --verbose --no-color >"$work/verbose.log" 2>&1; then
  echo "bench.sh: the playbook does not pass against the demo staging; fix that first" >&2
  tail -20 "$work/verbose.log" >&2
  exit 1
fi
grep -oE '> (GET|POST|PUT|DELETE|PATCH|HEAD) http[^ ]+' "$work/verbose.log" |
  awk '{ printf "next\nrequest = \"%s\"\nurl = \"%s\"\noutput = \"/dev/null\"\n", $2, $3 }' |
  sed '1d' >"$work/curl.cfg"
requests=$(grep -c '^url' "$work/curl.cfg")

# One sample = 10 invocations in a row (a single run takes tens of milliseconds, below
# the resolution of GNU time); figures are per invocation.
batch=10
measure() { # label command... -> appends "wall_per_run maxrss_kb" to $work/label
  /usr/bin/time -f '%e %M' -o "$work/one" \
    bash -c 'for _ in $(seq '"$batch"'); do "$@" >/dev/null 2>&1; done' _ "${@:2}"
  tail -1 "$work/one" | awk -v n="$batch" '{ printf "%.4f %s\n", $1 / n, $2 }' >>"$work/$1"
}
for _ in $(seq "$runs"); do
  measure uatrun build-bench/uatrun examples/staging.yml --quiet
  measure curl curl -s --config "$work/curl.cfg"
done

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
u_wall=$(cut -d' ' -f1 "$work/uatrun" | median)
c_wall=$(cut -d' ' -f1 "$work/curl" | median)
u_rss=$(cut -d' ' -f2 "$work/uatrun" | median)
c_rss=$(cut -d' ' -f2 "$work/curl" | median)
checks=$(build-bench/uatrun lint examples/staging.yml | grep -c '^  check ')
echo "workload: examples/staging.yml, $checks checks, $requests HTTP requests; $runs samples of $batch runs each"
printf '%-8s wall median %6ss   peak RSS median %7s KiB\n' uatrun "$u_wall" "$u_rss" curl "$c_wall" "$c_rss"
awk -v a="$u_wall" -v b="$c_wall" -v r="$u_rss" -v s="$c_rss" \
  'BEGIN { printf "ratio uatrun/curl: wall %.2f, peak memory %.2f\n", (b > 0 ? a / b : 0), (s > 0 ? r / s : 0) }'
