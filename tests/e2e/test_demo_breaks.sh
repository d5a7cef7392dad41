#!/usr/bin/env bash
# Every regression of the demo staging is caught by exactly the checks that guard it.
# For each row below: start uat-demo-staging with that --break on a free port, run
# examples/staging.yml against it with a JSON report and a throw-away ledger, and assert
# the exit code, the exact set of checks that did not pass (none errored), and one line of
# the terminal output a release manager would read.
#
# The Tasking Manager checks are browser checks (headless Chromium): with --break auth-token,
# the HTTP-only check tests/data/playbooks/tm_6088_http_only.yml is also run and must PASS —
# it cannot see the bug the browser check catches.
#
#   bash tests/e2e/test_demo_breaks.sh UATRUN UAT_DEMO_STAGING SOURCE_DIR [CASE...]
#
# Reads the JSON report with jq (scripts/deps.sh installs it).
set -euo pipefail

uatrun=$(realpath "${1:?usage: test_demo_breaks.sh UATRUN UAT_DEMO_STAGING SOURCE_DIR [CASE...]}")
demo=$(realpath "${2:?missing UAT_DEMO_STAGING}")
src=$(realpath "${3:?missing SOURCE_DIR}")
shift 3
only=("$@")
command -v jq >/dev/null || { echo "test_demo_breaks.sh: jq is needed (scripts/deps.sh installs it)" >&2; exit 2; }

# case | --break | uatrun options | checks that must not pass (any order) | output must contain
cases=(
  "healthy|||none|RESULT: PASS"
  "healthy-jobs||--jobs 8|none|14 passed, 0 failed"
  "auth-token|auth-token||private-project-pages draft-project-pages|an authorised user (mapper_ana) can open private project 42 (/projects/42) — the page says \"Project not found\" (the app's API call got 403 PrivateProject)"
  "labels|labels||mapper-level-labels|mapper_ana (312 changesets) is labelled Intermediate on their profile — got Beginner"
  "mentions|mentions||qa-mentions|typing @ in project 1's Q&A suggests its 5 contributors — missing mapper_ana, threshold_theo"
  "contributors|contributors||task-comment-contributors|the comment box of task #3 (project 1) lists its contributors (threshold_theo, almost_alex) — missing almost_alex; listed but should not be: mapper_ana"
  "pagination|pagination||my-tasks-paginator|mapper_ana's My Tasks (27 tasks): the paginator is on the page (3 pages) — it is missing (nothing matches //div[@class='paginator-btn-ctr'])"
  "menu|menu||rdv-settings-menu|the settings menu on /admin/organisations/1 has no \"Vos agents\" entry (→ /admin/organisations/1/agents)"
  "access-rights|access-rights||rdv-multi-territory-rights|Marc Multi on Ardèche (07) keeps their access rights (allow_to_manage_teams, allow_to_invite_agents, allow_to_download_metrics) — the agent is no longer listed on the territory's agents screen"
  "menu+pagination|menu,pagination||my-tasks-paginator rdv-settings-menu|RESULT: FAIL"
  "auth-token+labels+access-rights|access-rights,auth-token,labels||private-project-pages draft-project-pages mapper-level-labels rdv-multi-territory-rights|4 failed"
  "all-jobs|all|--jobs 8|private-project-pages draft-project-pages mapper-level-labels qa-mentions task-comment-contributors my-tasks-paginator rdv-settings-menu rdv-multi-territory-rights|8 failed"
)

work=$(mktemp -d)
server_pid=
stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT

failures=0 # problems found, over all cases
failed_cases=0
fail() {
  echo "FAIL [$1]: $2" >&2
  failures=$((failures + 1))
}

start_server() { # dir break
  local args=(--port 0 --port-file "$1/port" --release v4.6.3)
  [[ -n $2 ]] && args+=(--break "$2")
  "$demo" "${args[@]}" >"$1/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 200); do
    [[ -s $1/port ]] && return 0
    sleep 0.02
  done
  echo "the demo staging did not start:" >&2
  cat "$1/server.log" >&2
  return 1
}

sorted_words() { tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'; }

run_case() { # name break options expected-ids expected-text
  local name=$1 brk=$2 options=$3 want_ids=$4 want_text=$5
  local dir=$work/$name start=$failures
  mkdir -p "$dir"
  if ! start_server "$dir" "$brk"; then
    fail "$name" "server did not start"
    return
  fi
  local rc=0
  # shellcheck disable=SC2086 # options are words on purpose
  (
    cd "$src"
    STAGING_URL="http://127.0.0.1:$(cat "$dir/port")" UATRUN_LEDGER="$dir/ledger.db" \
      UATRUN_RELEASE=v4.6.3 UATRUN_COMMIT=4f2a9c1e7b3d NO_COLOR=1 \
      TM_TOKEN_ALLOWED=YW5hLXNlc3Npb24tN2MxZTRiMmE= TM_TOKEN_OUTSIDER=b2xhZi1zZXNzaW9uLTkzZDBmNmU1 \
      TM_TOKEN_MANAGER=bWF5YS1zZXNzaW9uLTRiOGEyYzE3 RDV_ADMIN_PASSWORD=alice-demo-2022 \
      "$uatrun" run examples/staging.yml ${options:---jobs 4} --report-json "$dir/report.json"
  ) >"$dir/out.txt" 2>&1 || rc=$?
  # the reason browser checks exist: an HTTP-only check of #6088 stays green on the broken app
  if [[ $brk == auth-token ]]; then
    local http_rc=0
    (cd "$src" && STAGING_URL="http://127.0.0.1:$(cat "$dir/port")" UATRUN_LEDGER="$dir/http.db" \
      TM_TOKEN_ALLOWED=YW5hLXNlc3Npb24tN2MxZTRiMmE= NO_COLOR=1 \
      "$uatrun" run tests/data/playbooks/tm_6088_http_only.yml) >"$dir/http.txt" 2>&1 || http_rc=$?
    [[ $http_rc == 0 ]] || fail "$name" "the HTTP-only #6088 check should pass against the broken app (it cannot see the bug), got exit $http_rc: $(cat "$dir/http.txt")"
  fi
  stop_server

  local want_rc=1
  [[ $want_ids == none ]] && want_rc=0 && want_ids=""
  [[ $rc == "$want_rc" ]] || fail "$name" "uatrun exited with $rc, expected $want_rc"
  if [[ ! -s $dir/report.json ]]; then
    fail "$name" "no JSON report written"
    cat "$dir/out.txt" >&2
    return
  fi
  local got want errored
  got=$(jq -r '[.checks[] | select(.outcome != "pass") | .id] | join(" ")' "$dir/report.json" | sorted_words)
  want=$(echo "$want_ids" | sorted_words)
  [[ $got == "$want" ]] || fail "$name" "checks not passing: [$got], expected exactly [$want]"
  errored=$(jq -r '[.checks[] | select(.outcome == "error") | "\(.id): \(.error)"] | join("; ")' "$dir/report.json")
  [[ -z $errored ]] || fail "$name" "checks errored (a script bug, not a caught regression): $errored"
  grep -qF -- "$want_text" "$dir/out.txt" || fail "$name" "the output does not say: $want_text"
  if ((failures > start)); then
    echo "--- output of [$name]:" >&2
    cat "$dir/out.txt" >&2
  else
    echo "ok [$name] exit $rc, not passing: ${got:-none}"
  fi
}

for row in "${cases[@]}"; do
  IFS='|' read -r name brk options ids text <<<"$row"
  if ((${#only[@]})) && [[ ! " ${only[*]} " == *" $name "* ]]; then
    continue
  fi
  before=$failures
  run_case "$name" "$brk" "$options" "$ids" "$text"
  ((failures == before)) || failed_cases=$((failed_cases + 1))
done

if ((failed_cases)); then
  echo "$failed_cases case(s) failed" >&2
  exit 1
fi
echo "all demo break cases passed"
