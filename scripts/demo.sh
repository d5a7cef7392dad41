#!/usr/bin/env bash
# The demo: builds uatrun, starts the bundled demo staging (a stand-in for
# Tasking Manager and RDV-Solidarités) on a free port, and runs the UAT
# playbook examples/staging.yml against it.
#
#   scripts/demo.sh                  healthy staging (still rolling out v4.6.3: uatrun
#                                    waits for it), the checks pass, then the whole
#                                    release flow: gate waits for people, support and
#                                    product sign off, the gate opens, a new commit
#                                    needs new sign-offs
#   scripts/demo.sh --break LIST     staging with real past regressions injected
#                                    (auth-token, labels, mentions, contributors,
#                                    pagination, menu, access-rights; comma-separated):
#                                    runs the checks only and exits with uatrun's code
#   scripts/demo.sh --serve          healthy staging, the checks run once, then the sign-off
#                                    page (uatrun serve) on http://127.0.0.1:8642/ (another
#                                    port: UATRUN_SERVE_LISTEN=127.0.0.1:PORT) with demo
#                                    users whose passwords are made and printed at start;
#                                    Ctrl-C stops it
set -euo pipefail
cd "$(dirname "$0")/.."

breaks=""
serve=""
while (($#)); do
  case $1 in
    --serve) serve=1; shift ;;
    --break) breaks=${2:?--break needs a list, e.g. --break auth-token}; shift 2 ;;
    --break=*) breaks=${1#--break=}; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see scripts/demo.sh --help)" >&2; exit 2 ;;
  esac
done

scripts/deps.sh
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-demo -j "$(nproc 2>/dev/null || echo 2)" --target uatrun uat-demo-staging \
  uat-demo-htpasswd >/dev/null

uatrun=$PWD/build-demo/uatrun
work=$(mktemp -d)
server_pid=
page_pid=
cleanup() {
  if [[ -n $page_pid ]]; then kill "$page_pid" 2>/dev/null || true; wait "$page_pid" 2>/dev/null || true; fi
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

server_args=(--port 0 --port-file "$work/port" --release v4.6.3)
if [[ -n $breaks ]]; then
  server_args+=(--break "$breaks")
elif [[ -n $serve ]]; then
  : # the page is the point here: staging serves v4.6.3 at once, no rollout to wait for
else
  # The release is still rolling out when the demo starts: staging serves v4.6.2 for 3 s,
  # and uatrun waits for v4.6.3 (examples/staging.yml, target.build) before any check.
  server_args+=(--previous-release v4.6.2 --deploy-after 3)
fi
build-demo/examples/demo-staging/uat-demo-staging "${server_args[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  [[ -s $work/port ]] && break
  kill -0 "$server_pid" 2>/dev/null || break # it exited (a bad --break name): say why now
  sleep 0.05
done
if [[ ! -s $work/port ]]; then
  echo "demo.sh: the demo staging did not start:" >&2
  cat "$work/server.log" >&2
  exit 2
fi

# The demo's own ledger and identity, so the demo never touches a real one.
STAGING_URL="http://127.0.0.1:$(cat "$work/port")"
export STAGING_URL
export UATRUN_LEDGER="$work/ledger.db"
export UATRUN_RELEASE=v4.6.3 UATRUN_COMMIT=4f2a9c1e7b3d
# The demo staging's fixed credentials (examples/demo-staging/README.md): the base64
# session tokens of mapper_ana, outsider_olaf and manager_maya, and admin_alice's password.
export TM_TOKEN_ALLOWED=YW5hLXNlc3Npb24tN2MxZTRiMmE=
export TM_TOKEN_OUTSIDER=b2xhZi1zZXNzaW9uLTkzZDBmNmU1
export TM_TOKEN_MANAGER=bWF5YS1zZXNzaW9uLTRiOGEyYzE3
export RDV_ADMIN_EMAIL=alice.admin@demo.rdv-solidarites.fr
export RDV_ADMIN_PASSWORD=alice-demo-2022

bold="" plain=""
if [[ -t 1 && -z ${NO_COLOR:-} ]]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s== %s%s\n$ %s\n' "$bold" "$1" "$plain" "$2"; }
if [[ -n $breaks ]]; then
  step "staging with --break $breaks: run the UAT checks" "uatrun examples/staging.yml"
  set +e
  "$uatrun" examples/staging.yml
  rc=$?
  echo
  echo "uatrun exited with $rc (0 all passed, 1 a check failed)"
  exit $rc
fi

if [[ -n $serve ]]; then
  step "run the UAT checks once, so the page has a run to show" \
    "uatrun examples/staging.yml --report-json run.json --artifacts artifacts"
  set +e
  "$uatrun" examples/staging.yml --report-json "$work/run.json" --artifacts "$work/artifacts"
  set -e
  # Demo sign-in accounts, made now: fresh passwords each time, bcrypt-hashed by libxcrypt.
  : >"$work/htpasswd"
  accounts=""
  for person in myriam nesserine matis; do
    password=$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')
    build-demo/examples/demo-staging/uat-demo-htpasswd "$person" "$password" 10 >>"$work/htpasswd"
    accounts+="    $person / $password"$'\n'
  done
  listen=${UATRUN_SERVE_LISTEN:-127.0.0.1:8642}
  step "the sign-off page" "uatrun serve examples/staging.yml --auth htpasswd:htpasswd --listen $listen --run-report run.json"
  printf 'Open http://%s/ and sign in as one of (support: myriam, nesserine; product: matis):\n%s' \
    "$listen" "$accounts"
  printf 'Approve and reject items there, then see the gate: %s gate examples/staging.yml --no-run\n' \
    "UATRUN_LEDGER=$UATRUN_LEDGER UATRUN_RELEASE=$UATRUN_RELEASE UATRUN_COMMIT=$UATRUN_COMMIT $uatrun"
  # In the background, so the cleanup stops it even when the demo itself is killed.
  "$uatrun" serve examples/staging.yml --auth "htpasswd:$work/htpasswd" --listen "$listen" \
    --run-report "$work/run.json" &
  page_pid=$!
  set +e
  wait "$page_pid"
  rc=$?
  page_pid=
  exit "$rc"
fi

expect_rc() { # expected-code description command...
  local want=$1 what=$2
  shift 2
  set +e
  "$@"
  local rc=$?
  set -e
  if [[ $rc != "$want" ]]; then
    echo "demo.sh: $what exited with $rc, expected $want" >&2
    # uatrun's own code when it failed (1 a check, 2 an input error, 4 the ledger), else 1.
    ((rc != 0)) && exit "$rc"
    exit 1
  fi
}

step "1/6 wait for the deploy, then run the UAT checks against staging" "uatrun examples/staging.yml"
expect_rc 0 "the run" "$uatrun" examples/staging.yml
step "2/6 the deploy gate: checks passed, but support and product have not signed" \
  "uatrun gate examples/staging.yml --no-run"
expect_rc 3 "the gate" "$uatrun" gate examples/staging.yml --no-run
step "3/6 support signs off its two items (non-interactive; on a terminal, omit --item to be asked item by item)" \
  "uatrun signoff examples/staging.yml --role support --item support-briefed --approve --by myriam"$'\n$ '"uatrun signoff examples/staging.yml --role support --item support-agent-screens --approve --by nesserine"
expect_rc 0 "support's sign-off" "$uatrun" signoff examples/staging.yml --role support \
  --item support-briefed --approve --by myriam --note "Briefed the help desk on the new menu"
expect_rc 0 "support's sign-off" "$uatrun" signoff examples/staging.yml --role support \
  --item support-agent-screens --approve --by nesserine --note "Found both under Paramètres as an admin"
step "4/6 product signs off its two items" \
  "uatrun signoff examples/staging.yml --role product --item product-accepts --approve --by matis"$'\n$ '"uatrun signoff examples/staging.yml --role product --item product-mapper-walkthrough --approve --by matis"
expect_rc 0 "product's sign-off" "$uatrun" signoff examples/staging.yml --role product \
  --item product-accepts --approve --by matis --note "Release notes reviewed"
expect_rc 0 "product's sign-off" "$uatrun" signoff examples/staging.yml --role product \
  --item product-mapper-walkthrough --approve --by matis --note "Project 42 and My Tasks as mapper_ana"
step "5/6 the gate opens" "uatrun gate examples/staging.yml --report-junit uat.xml"
expect_rc 0 "the gate" "$uatrun" gate examples/staging.yml --report-junit "$work/uat.xml"
step "6/6 a new commit needs new sign-offs: the gate waits again" \
  "uatrun gate examples/staging.yml --commit 9e8d7c6b5a41"
expect_rc 3 "the gate for a new commit" "$uatrun" gate examples/staging.yml --commit 9e8d7c6b5a41
printf '\ndemo complete: every step behaved as a release manager expects.\n'
