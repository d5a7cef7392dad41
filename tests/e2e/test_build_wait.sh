#!/usr/bin/env bash
# target.build end to end: the built uatrun against the test server's /deploy route (a
# rollout counted in requests, so nothing here depends on the machine's speed) and the demo
# staging's /api/version (a rollout in seconds). Served at once, served after a rollout
# (the wait recorded and shown by status and gate), never served, unreachable, --quiet,
# Ctrl-C during the wait, and secrets in the URL and headers never printed or recorded.
#
#   test_build_wait.sh UATRUN TEST_SERVER DEMO_STAGING
set -uo pipefail

uatrun=$(realpath "$1") server=$(realpath "$2") demo=$(realpath "$3")
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

start() { # NAME BINARY ARGS... : starts a server, sets $port
  local name=$1 bin=$2
  shift 2
  "$bin" --port 0 --port-file "$work/$name.port" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [[ -s $work/$name.port ]] && break; sleep 0.05; done
  port=$(cat "$work/$name.port" 2>/dev/null)
  [[ -n $port ]] || { echo "test_build_wait.sh: $name did not start"; cat "$work/$name.log"; exit 1; }
}
start test-server "$server"
test_port=$port

export NO_COLOR=1 TOKEN=tok-s3cr3t-9f8e
unset UATRUN_USER UATRUN_LEDGER UATRUN_RELEASE UATRUN_COMMIT GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG
R=(--release v2 --commit c0ffee)

playbook() { # FILE BUILD-LINE [BASE]
  cat >"$1" <<EOF
name: Build wait
target:
  base_url: ${3:-http://127.0.0.1:$test_port}
  headers: { Authorization: "Token \${TOKEN}" }
  build: $2
secrets: { token: TOKEN }
checks:
  - id: smoke
    run: expect.truthy(true, "always")
signoffs:
  - { id: support-ok, role: support }
roles: { support: [myriam] }
ledger: state/ledger.db
EOF
}

failures=0 step=
# run NAME EXPECTED_EXIT ARGS... : stdin closed, stdout+stderr kept in $out, wall time in $took_ms.
run() {
  step=$1 want=$2
  shift 2
  local t0
  t0=$(date +%s%N)
  out=$(timeout 120 "$uatrun" "$@" </dev/null 2>&1)
  local rc=$?
  took_ms=$((($(date +%s%N) - t0) / 1000000))
  if [[ $rc != "$want" ]]; then
    echo "FAIL [$step] exit $rc, expected $want"
    echo "$out" | sed 's/^/    | /' | head -40
    failures=$((failures + 1))
  fi
}
has() {
  for word in "$@"; do
    grep -qF -- "$word" <<<"$out" || { echo "FAIL [$step] output lacks: $word"; echo "$out" | sed 's/^/    | /' | head -40; failures=$((failures + 1)); }
  done
}
lacks() {
  for word in "$@"; do
    if grep -qF -- "$word" <<<"$out"; then echo "FAIL [$step] output has: $word"; failures=$((failures + 1)); fi
  done
}
count_is() { # N TEXT
  local n
  n=$(grep -cF -- "$2" <<<"$out")
  [[ $n == "$1" ]] || { echo "FAIL [$step] '$2' appears $n times, expected $1"; failures=$((failures + 1)); }
}
file_has() { # FILE TEXT...
  local f=$1
  shift
  for word in "$@"; do
    grep -qF -- "$word" "$f" || { echo "FAIL [$step] $f lacks: $word"; failures=$((failures + 1)); }
  done
}
secret_nowhere() { # FILE...
  lacks "$TOKEN"
  for f in "$@"; do
    if grep -qaF -- "$TOKEN" "$f"; then echo "FAIL [$step] $f holds the secret"; failures=$((failures + 1)); fi
  done
}

# 1. Served at once: one line says so, no poll line, the run goes on.
playbook once.yml "{ url: /deploy?key=once&to=v2, json: version, wait: 1m, interval: 100ms }"
run "served at once" 0 once.yml "${R[@]}"
has 'waiting for staging to serve "v2"' '✓ staging serves "v2"' '1 passed, 0 failed'
count_is 1 'staging serves'
lacks 'polls)'

# 2. Served after a rollout of 3 requests: one line for the old release (not three), then the
#    new one; the wait is recorded, and status and gate show it. The secret travels in the
#    URL and in the Authorization header, and is printed nowhere.
rm -rf state
playbook roll.yml "{ url: \"/deploy?key=roll&old=3&from=v1&to=v2&t=\${TOKEN}\", json: /release/version, expect: \"\${UATRUN_RELEASE}\", wait: 1m, interval: 100ms }"
run "served after a rollout" 0 roll.yml "${R[@]}" --report-json run.json
has 'staging serves "v1"' '✓ staging serves "v2" after' '(4 polls)' 't=***' '1 passed, 0 failed'
count_is 1 'staging serves "v1"'
file_has run.json '"build": {' '"served": "v2"' '"expected": "v2"' '"json": "/release/version"' '"polls": 4' 't=***'
secret_nowhere run.json state/ledger.db
run "status shows the build the checks saw" 3 status roll.yml "${R[@]}" --report-json status.json
has '✓ build' 'staging served "v2"' 'field /release/version' 'after waiting'
file_has status.json '"build": {' '"served": "v2"' '"polls": 4'
secret_nowhere status.json
run "gate --no-run shows it too" 3 gate roll.yml "${R[@]}" --no-run
has '✓ build' 'staging served "v2"' 'GATE CLOSED — waiting for 1 sign-off'
secret_nowhere

# 3. Never served: exit 1 once the wait is over (not much later), naming what staging served
#    and what was expected; nothing is recorded.
rm -rf state
playbook never.yml "{ url: \"/deploy?key=never&old=1000000&from=v1&to=v2&t=\${TOKEN}\", json: version, wait: 2s, interval: 200ms }"
run "never served" 1 never.yml "${R[@]}" --report-json never.json
has 'staging did not serve "v2" within 2.0s' 'it serves "v1"' 'target.build.wait' 't=***'
lacks 'RESULT:' 'recorded run'
count_is 1 'staging serves "v1"'
if ((took_ms < 2000 || took_ms > 30000)); then
  echo "FAIL [$step] took ${took_ms}ms for a 2s wait"
  failures=$((failures + 1))
fi
[[ ! -e never.json ]] || { echo "FAIL [$step] a report was written"; failures=$((failures + 1)); }
secret_nowhere
run "nothing was recorded" 0 history never.yml
has 'nothing recorded'
run "the gate stays closed when the wait runs out" 1 gate never.yml "${R[@]}"
has 'staging did not serve "v2"' 'the gate stays closed'

# 4. Unreachable: exit 1 naming the cause.
playbook dead.yml "{ url: \"/api/version?t=\${TOKEN}\", json: version, wait: 1s, interval: 200ms }" http://127.0.0.1:9
run "unreachable" 1 dead.yml "${R[@]}"
has 'staging did not serve "v2" within 1.0s' 'http://127.0.0.1:9/api/version?t=***' 'cannot be reached: connection refused'
secret_nowhere

# 5. --quiet: no wait lines at all; the failure still says why.
playbook quiet.yml "{ url: /deploy?key=quiet&old=2&from=v1&to=v2, json: version, wait: 1m, interval: 100ms }"
run "quiet" 0 quiet.yml "${R[@]}" --quiet
lacks 'waiting for staging' 'staging serves'
run "quiet failure" 1 never.yml "${R[@]}" --quiet
has 'staging did not serve "v2"'
lacks 'waiting for staging'

# 6. Ctrl-C during the wait stops uatrun at once, recording nothing.
rm -rf state
playbook sigint.yml "{ url: /deploy?key=sigint&old=1000000&from=v1&to=v2, json: version, wait: 10m, interval: 200ms }"
set -m # job control: a background job then keeps SIGINT (a script's jobs otherwise ignore it)
"$uatrun" sigint.yml "${R[@]}" >sigint.out 2>&1 </dev/null &
uat=$!
set +m
for _ in $(seq 200); do grep -qF 'staging serves "v1"' sigint.out && break; sleep 0.05; done
step="SIGINT during the wait"
grep -qF 'staging serves "v1"' sigint.out || { echo "FAIL [$step] the wait did not start"; cat sigint.out; failures=$((failures + 1)); }
kill -INT "$uat"
stopped=
for _ in $(seq 100); do kill -0 "$uat" 2>/dev/null || { stopped=1; break; }; sleep 0.05; done
if [[ -z $stopped ]]; then
  echo "FAIL [$step] uatrun still runs 5 s after SIGINT"
  kill -KILL "$uat"
  failures=$((failures + 1))
fi
wait "$uat"
rc=$?
[[ $rc == 130 ]] || { echo "FAIL [$step] exit $rc, expected 130 (SIGINT)"; failures=$((failures + 1)); }
run "Ctrl-C recorded nothing" 0 history sigint.yml
has 'nothing recorded'

# 7. The demo staging rolling out v4.6.3 over v4.6.2: uatrun waits for it.
start demo "$demo" --release v4.6.3 --previous-release v4.6.2 --deploy-after 2
playbook demo.yml "{ url: /api/version, json: version, wait: 2m, interval: 250ms }" "http://127.0.0.1:$port"
rm -rf state
run "demo staging rolling out" 0 demo.yml --release v4.6.3 --commit c0ffee
has 'staging serves "v4.6.2"' '✓ staging serves "v4.6.3" after' '1 passed, 0 failed'
playbook demo-nowait.yml "{ url: /api/version, json: version }" "http://127.0.0.1:$port"
run "no wait: a release it does not serve" 1 demo-nowait.yml --release v9.9.9 --commit c0ffee
has 'staging did not serve "v9.9.9" at its only poll' 'it serves "v4.6.3"' '(1 poll of'
run "no wait and no release: an input error" 2 demo-nowait.yml
has 'demo-nowait.yml:5:' 'waits for the release under test, which is unknown' '--release VERSION'


if ((failures)); then
  echo "test_build_wait.sh: $failures failure(s)"
  exit 1
fi
echo "test_build_wait.sh: all steps passed"
