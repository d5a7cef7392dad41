#!/usr/bin/env bash
# notify: webhooks fired by the real gate against a local receiver (uat-hook-server): the
# gate waits (exit 3), is blocked by a rejection (exit 1), opens (exit 0), and each payload
# type says so (the rejected item and its reason in the chat message); a receiver that
# hangs, answers 500 or is not there is a warning naming the webhook, never its URL, and the
# exit code stays; the URL's token is in no output or report; notify: errors are
# FILE:LINE:COL.
#
#   test_notify.sh UATRUN UAT_HOOK_SERVER
set -uo pipefail

uatrun=$(realpath "$1")
hookserver=$(realpath "$2")
work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1
mkdir hooks state

"$hookserver" --dir hooks --port-file port &
server_pid=$!
for _ in $(seq 100); do [[ -s port ]] && break; sleep 0.1; done
[[ -s port ]] || { echo "FAIL: the hook server did not start"; exit 1; }
port=$(cat port)

# Every webhook URL carries a token; none may show anywhere.
export NO_COLOR=1
export HOOK_SLACK=http://127.0.0.1:$port/ok/slack-T0KEN-aaaa
export HOOK_MM=http://127.0.0.1:$port/ok/mm-T0KEN-bbbb
export HOOK_TEAMS=http://127.0.0.1:$port/ok/teams-T0KEN-cccc
export HOOK_JSON=http://127.0.0.1:$port/ok/json-T0KEN-dddd
export HOOK_HANG=http://127.0.0.1:$port/hang/hang-T0KEN-eeee
export HOOK_FAIL=http://127.0.0.1:$port/fail/fail-T0KEN-ffff
export HOOK_DOWN=http://127.0.0.1:9/down-T0KEN-gggg
unset UATRUN_USER UATRUN_LEDGER UATRUN_RELEASE UATRUN_COMMIT GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG

write_playbook() { # NOTIFY-BLOCK (YAML, indented under notify:)
  cat >pb.yml <<EOF
name: Notify flow
target:
  base_url: http://127.0.0.1:9
checks:
  - id: smoke
    run: |
      expect.truthy(true, "always")
signoffs:
  - id: support-briefed
    role: support
    text: Support knows what moved
  - id: product-ok
    role: product
    text: Product accepts the release
roles:
  support: [nesserine]
  product: [matis]
ledger: state/ledger.db
notify:
$1
EOF
}

chats='  webhooks:
    - { type: slack, url: "${HOOK_SLACK}" }
    - { type: mattermost, url: "${HOOK_MM}" }
    - { type: teams, url: "${HOOK_TEAMS}" }
    - { type: json, url: "${HOOK_JSON}", on: [waiting, open, blocked, failed] }'
write_playbook "$chats"

failures=0 step=
run() { # NAME EXPECTED_EXIT ARGS...: stdout+stderr in $out
  step=$1 want=$2
  shift 2
  out=$("$uatrun" "$@" </dev/null 2>&1)
  local rc=$?
  [[ $rc -eq $want ]] || fail "exit code $rc, expected $want"
}
fail() {
  echo "FAIL: $step: $*"
  printf '%s\n' "$out" | sed 's/^/    /'
  failures=$((failures + 1))
}
has() { for want; do [[ $out == *"$want"* ]] || fail "output lacks '$want'"; done; }
lacks() { for bad; do [[ $out != *"$bad"* ]] || fail "output has '$bad'"; done; }
# The newest recorded body of ROUTE whose path holds NAME.
last_body() { # NAME
  local path
  path=$(grep -l -- "$1" hooks/*.path 2>/dev/null | sort | tail -1)
  [[ -n $path ]] && cat "${path%.path}.json"
}
body_has() { # NAME WANT...
  local name=$1 body
  shift
  body=$(last_body "$name")
  for want; do [[ $body == *"$want"* ]] || fail "$name payload lacks '$want': $body"; done
}
no_token_in() { # FILE...
  for f; do ! grep -q T0KEN "$f" || fail "$f holds a webhook token"; done
}
hooks_count() { find hooks -name '*.json' | wc -l; }

R=(--release v4.6.3 --commit 1a2b3c4d5e6f70)

run "gate waits on people" 3 gate pb.yml "${R[@]}" --report-json g.json --report-junit g.xml \
  --report-html g.html
has "GATE CLOSED — waiting for 2 sign-offs"
lacks T0KEN warning
[[ $(hooks_count) -eq 4 ]] || fail "expected 4 webhooks told, got $(hooks_count)"
body_has slack '"text": "GATE CLOSED — waiting for 2 sign-offs"' '"blocks"' '*Waiting on*' \
  '*support-briefed* (support)' 'may sign: nesserine' 'uatrun signoff pb.yml --release v4.6.3'
body_has mm '"attachments"' '**Waiting on**' '**product-ok** (product)'
body_has teams '"AdaptiveCard"' 'Waiting on:' 'support-briefed (support)'
body_has json '"event": "waiting"' '"verdict": "waiting"' '"exit_code": 3' '"item": "product-ok"' \
  '"release": "v4.6.3"' '"commit": "1a2b3c4d5e6f70"'
no_token_in g.json g.xml g.html state/ledger.db

run "reject" 0 signoff pb.yml "${R[@]}" --role product --item product-ok --reject \
  --note "the pager of My Tasks is broken" --by matis
run "gate blocked by the rejection" 1 gate pb.yml "${R[@]}" --no-run
has "GATE CLOSED — rejected by matis (product): the pager of My Tasks is broken"
lacks T0KEN warning
body_has slack '*Rejected*' '*product-ok* (product) rejected by matis: the pager of My Tasks is broken'
body_has mm '**Rejected**' 'rejected by matis: the pager of My Tasks is broken'
body_has teams 'Rejected:' 'product-ok (product) rejected by matis: the pager of My Tasks is broken'
body_has json '"event": "blocked"' '"rejections"' '"signer": "matis"' \
  '"note": "the pager of My Tasks is broken"'

R2=(--release v4.6.3 --commit 99aa99aa99aa)
run "run for the new commit" 0 run pb.yml "${R2[@]}"
run "approve support" 0 signoff pb.yml "${R2[@]}" --role support --item support-briefed --approve --by nesserine
run "approve product" 0 signoff pb.yml "${R2[@]}" --role product --item product-ok --approve --by matis
run "gate opens" 0 gate pb.yml "${R2[@]}"
has "GATE OPEN"
lacks T0KEN warning
body_has slack 'GATE OPEN' 'Every check passed and every sign-off is given.'
body_has json '"event": "open"' '"exit_code": 0' '"waiting_on": []' '"rejections": []'

run "status tells nobody" 0 status pb.yml "${R2[@]}"
n=$(hooks_count)
run "status again" 0 status pb.yml "${R2[@]}"
[[ $(hooks_count) -eq $n ]] || fail "status fired a webhook"

# Broken receivers: warnings naming type and number, same exit code, bounded time.
write_playbook '  timeout: 1s
  page_url: https://uat.example.org/releases
  webhooks:
    - { type: slack, url: "${HOOK_SLACK}", on: [waiting] }
    - { type: teams, url: "${HOOK_HANG}" }
    - { type: mattermost, url: "${HOOK_FAIL}" }
    - { type: json, url: "${HOOK_DOWN}" }
    - { type: slack, url: "${HOOK_OFF:-}" }'
R3=(--release v4.6.4 --commit 4444aaaa4444)
start=$SECONDS
run "gate with broken webhooks" 3 gate pb.yml "${R3[@]}" --report-html b.html --report-json b.json
took=$((SECONDS - start))
((took < 15)) || fail "the gate took ${took}s with a 1s webhook timeout"
has "GATE CLOSED — waiting for 2 sign-offs" \
  "uatrun: warning: webhook 2 (teams) was not told the gate is waiting: timed out" \
  "raise notify.timeout" \
  "uatrun: warning: webhook 3 (mattermost) refused the message that the gate is waiting: HTTP 500 (no_service)" \
  "uatrun: warning: webhook 4 (json) was not told the gate is waiting: " "the verdict stands"
lacks T0KEN "127.0.0.1:$port" "webhook 1 " "webhook 5 "
body_has slack '<https://uat.example.org/releases|Sign on the sign-off page>'
no_token_in b.html b.json
grep -q 'https://uat.example.org/releases' b.html || fail "the HTML report lacks the page link"

# Errors in notify: are FILE:LINE:COL, and never quote a URL.
write_playbook '  webhooks:
    - { type: slack, url: "https://hooks.slack.com/services/T0KEN-literal" }'
run "a literal webhook URL" 2 lint pb.yml
has "pb.yml:2" "must come from the environment"
lacks T0KEN
write_playbook '  webhooks:
    - { type: discord, url: "${HOOK_SLACK}" }'
run "an unknown webhook type" 2 lint pb.yml
has "pb.yml:" "webhook type 'discord' is unknown; write type: slack, mattermost, teams or json"
write_playbook '  webhooks:
    - { type: json, url: "${HOOK_SLACK}", on: [opened] }'
run "an unknown event" 2 lint pb.yml
has "'opened' is not a gate event"
write_playbook '  webhooks:
    - { type: json, url: "${HOOK_SLACK}", when: [open] }'
run "an unknown key" 2 lint pb.yml
has "pb.yml:"
export HOOK_BAD="ftp://127.0.0.1/T0KEN-ftp"
write_playbook '  webhooks:
    - { type: json, url: "${HOOK_BAD}" }'
run "a URL that is not http" 2 lint pb.yml
has "is not an http:// or https:// URL"
lacks T0KEN
write_playbook '  timeout: 5m
  webhooks: []'
run "a timeout too long" 2 lint pb.yml
has "notify.timeout is longer than 60s"

if ((failures)); then
  echo "notify: $failures failure(s)"
  exit 1
fi
echo "notify: all steps passed"
