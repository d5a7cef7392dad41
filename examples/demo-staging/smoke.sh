#!/usr/bin/env bash
# Smoke test of uat-demo-staging: starts it on a free port, without and with each --break,
# and asserts statuses and HTML/JSON snippets with curl.
# usage: smoke.sh PATH/TO/uat-demo-staging
set -u

BIN=${1:?usage: smoke.sh PATH/TO/uat-demo-staging}
WORK=$(mktemp -d)
trap 'stop_server; rm -rf "$WORK"' EXIT
PID=""
URL=""
OUT="" ERR=""
FAILS=0
PASSES=0

# Demo session tokens, base64 as sent in "Authorization: Token ...".
ANA="Authorization: Token YW5hLXNlc3Npb24tN2MxZTRiMmE="
OLAF="Authorization: Token b2xhZi1zZXNzaW9uLTkzZDBmNmU1"
MAYA="Authorization: Token bWF5YS1zZXNzaW9uLTRiOGEyYzE3"
BOGUS="Authorization: Token bm90LWEtcmVhbC10b2tlbg=="

ok() { PASSES=$((PASSES + 1)); }
fail() { FAILS=$((FAILS + 1)); echo "FAIL [$SCENARIO] $*" >&2; }

start_server() {
  SCENARIO=${1:-default}
  shift || true
  # A fresh file per server: the shell opens (and truncates) the redirection in the child
  # after the fork, so a reused "out" could still hold the previous server's line when the
  # loop first reads it, and every request would go to that stopped server (curl: 000).
  OUT=$WORK/$SCENARIO.out ERR=$WORK/$SCENARIO.err
  : >"$OUT"
  "$BIN" --port 0 "$@" >"$OUT" 2>"$ERR" &
  PID=$!
  for _ in $(seq 1 100); do
    URL=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$OUT")
    [ -n "$URL" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL [$SCENARIO] server did not print its listening line" >&2
  cat "$ERR" >&2
  exit 1
}

stop_server() {
  [ -n "$PID" ] || return 0
  kill -TERM "$PID" 2>/dev/null
  wait "$PID"
  local rc=$?
  PID=""
  if [ "$rc" -ne 0 ]; then
    fail "server exited with $rc on SIGTERM"
    tail -20 "$ERR" >&2
  fi
}

# fetch OUT_PREFIX curl-args...: body in $WORK/PREFIX.body, status in $WORK/PREFIX.code.
fetch() {
  local name=$1
  shift
  curl -s -o "$WORK/$name.body" -D "$WORK/$name.headers" -w '%{http_code}' "$@" >"$WORK/$name.code"
}

# expect DESCRIPTION STATUS [+PATTERN | -PATTERN]... -- curl-args...
expect() {
  local desc=$1 status=$2
  shift 2
  local patterns=()
  while [ "$1" != "--" ]; do
    patterns+=("$1")
    shift
  done
  shift
  fetch last "$@"
  local code
  code=$(cat "$WORK/last.code")
  if [ "$code" != "$status" ]; then
    fail "$desc: status $code, expected $status"
    return
  fi
  for p in "${patterns[@]+"${patterns[@]}"}"; do
    case $p in
    +*) grep -qF -- "${p:1}" "$WORK/last.body" "$WORK/last.headers" || {
      fail "$desc: missing '${p:1}'"
      return
    } ;;
    -*) ! grep -qF -- "${p:1}" "$WORK/last.body" || {
      fail "$desc: unexpected '${p:1}'"
      return
    } ;;
    esac
  done
  ok
}

count() { grep -oF -- "$1" "$WORK/last.body" | wc -l | tr -d ' '; }

expect_count() {
  local desc=$1 pattern=$2 n=$3
  local got
  got=$(count "$pattern")
  if [ "$got" = "$n" ]; then ok; else fail "$desc: '$pattern' $got times, expected $n"; fi
}

csrf_of() { sed -n 's/.*name="authenticity_token" value="\([0-9a-f]*\)".*/\1/p' "$1" | head -1; }

# rdv_login JAR EMAIL PASSWORD: signs in through the real form, CSRF token included.
rdv_login() {
  local jar=$1
  rm -f "$jar"
  fetch signin -c "$jar" -b "$jar" "$URL/agents/sign_in"
  local token
  token=$(csrf_of "$WORK/signin.body")
  fetch login -c "$jar" -b "$jar" "$URL/agents/sign_in" --data-urlencode "agent[email]=$2" \
    --data-urlencode "agent[password]=$3" --data-urlencode "authenticity_token=$token"
}

# rdv_invite JAR EMAIL TERRITORY: posts the invitation form of organisation 1.
rdv_invite() {
  fetch agents -c "$1" -b "$1" "$URL/admin/organisations/1/agents"
  local token
  token=$(csrf_of "$WORK/agents.body")
  fetch invite -c "$1" -b "$1" "$URL/admin/organisations/1/invitations" \
    --data-urlencode "email=$2" --data-urlencode "territory=$3" \
    --data-urlencode "authenticity_token=$token"
}

ALICE_EMAIL=alice.admin@demo.rdv-solidarites.fr
ALICE_PASSWORD=alice-demo-2022
MARC_EMAIL=marc.multi@demo.rdv-solidarites.fr
MARC_PASSWORD=marc-demo-2022

check_cli() {
  SCENARIO=cli
  "$BIN" --break labels,nope >/dev/null 2>"$WORK/cli.err"
  if [ $? -eq 2 ] && grep -q 'nope' "$WORK/cli.err" && grep -q 'access-rights' "$WORK/cli.err"; then
    ok
  else fail "bad --break name should exit 2 listing the valid names"; fi
  if "$BIN" --help >"$WORK/help.out" && grep -q -- '--break' "$WORK/help.out"; then ok; else fail "--help should exit 0 and describe --break"; fi
  "$BIN" --port 70000 2>/dev/null
  if [ $? -eq 2 ]; then ok; else fail "--port 70000 should exit 2"; fi
  "$BIN" --port 0 --port-file "$WORK/port" >"$WORK/pf.out" 2>/dev/null &
  local pid=$!
  # The port file is written just before the listening line is printed: wait for both.
  for _ in $(seq 1 100); do [ -s "$WORK/port" ] && grep -q '^listening on ' "$WORK/pf.out" && break; sleep 0.05; done
  if grep -q "127.0.0.1:$(cat "$WORK/port" 2>/dev/null)\$" "$WORK/pf.out"; then ok; else
    fail "--port-file should hold the printed port"; fi
  kill -INT "$pid"
  if wait "$pid"; then ok; else fail "SIGINT should stop the server with exit 0"; fi
}

check_api() {
  expect "heartbeat" 200 '+"status":"healthy"' '+"version":"v4.6.2"' -- "$URL/api/v2/system/heartbeat/"
  expect "public project, anonymous" 200 '+"projectId":1' -- "$URL/api/v2/projects/1/"
  expect "private project, anonymous" 403 '+"SubCode":"PrivateProject"' -- "$URL/api/v2/projects/42/"
  expect "private project, allowed user" 200 '+"private":true' -- -H "$ANA" "$URL/api/v2/projects/42/"
  expect "private project, outsider" 403 '+User not permitted: Private Project' -- -H "$OLAF" "$URL/api/v2/projects/42/"
  expect "private project, invalid token" 403 '+PrivateProject' -- -H "$BOGUS" "$URL/api/v2/projects/42/"
  expect "draft project, anonymous" 403 '+"Error":" Unable to fetch project"' '+ProjectNotFetched' -- "$URL/api/v2/projects/77/"
  expect "draft project, allowed mapper" 403 '+ProjectNotFetched' -- -H "$ANA" "$URL/api/v2/projects/77/"
  expect "draft project, manager" 200 '+"status":"DRAFT"' -- -H "$MAYA" "$URL/api/v2/projects/77/"
  expect "unknown project" 404 '+NotFound' -- "$URL/api/v2/projects/999/"
  expect "user tasks, anonymous" 401 '+"SubCode":"InvalidToken"' -- "$URL/api/v2/users/1001/tasks/"
  expect "user tasks, invalid token" 401 '+InvalidToken' -- -H "$BOGUS" "$URL/api/v2/users/1001/tasks/"
  expect "user tasks page 1" 200 '+"hasNext":true' '+"total":27' '+"pages":3' '+"prevNum":null' -- -H "$ANA" "$URL/api/v2/users/1001/tasks/?page=1&page_size=10"
  expect_count "user tasks page 1 size" '"taskId"' 10
  expect "user tasks last page" 200 '+"hasNext":false' '+"nextNum":null' '+"prevNum":2' -- -H "$ANA" "$URL/api/v2/users/1001/tasks/?page=3"
  expect_count "user tasks last page size" '"taskId"' 7
  expect "user tasks bad page" 400 '+InvalidData' -- -H "$ANA" "$URL/api/v2/users/1001/tasks/?page=abc"
  expect "contributions" 200 '+"userContributions"' '+"mappingLevel":"INTERMEDIATE"' -- "$URL/api/v2/projects/1/contributions/"
}

# The Tasking Manager frontend is a single-page app: every route gets the same shell, and
# what it renders is tested in Chromium (tests/e2e/test_demo_spa.sh, and the browser checks of
# examples/staging.yml). Here: the shell, its scripts, and the API the app reads.
check_pages() {
  for path in / /explore /login /projects/1 /projects/42 /projects/42/questions /projects/1/tasks/3 \
    /users/mapper_ana /contributions/tasks "/contributions/tasks?page=2"; do
    expect "shell for $path" 200 '+<div id="root"></div>' '+<script src="/static/js/tm-app.js" defer>' \
      '-project-title' -- -H "$ANA" "$URL$path"
  done
  expect "no shell for unknown app paths" 404 -- "$URL/projects/1/nope"
  expect "the app bundle" 200 '+localStorage' '+Authorization' '+history.pushState' -- "$URL/static/js/tm-app.js"
  expect "config, healthy" 200 '+window.TM_CONFIG = {"release":"v4.6.2","breaks":[]};' -- "$URL/config.js"
  expect "project list" 200 '+"projectId":1' '-"projectId":42' '-"projectId":77' -- "$URL/api/v2/projects/"
  expect "Q&A, public" 200 '+"chat"' '+Should we map sheds' -- "$URL/api/v2/projects/1/comments/"
  expect "Q&A, private, anonymous" 403 '+PrivateProject' -- "$URL/api/v2/projects/42/comments/"
  expect "Q&A, private, allowed user" 200 '+<alternative>' -- -H "$ANA" "$URL/api/v2/projects/42/comments/"
  expect "own details" 200 '+"id":1001' '+"username":"mapper_ana"' -- -H "$ANA" "$URL/api/v2/users/queries/mapper_ana/"
  expect "osm details" 200 '+"changesetCount":312' -- -H "$ANA" "$URL/api/v2/users/mapper_ana/openstreetmap/"
}

check_rdv() {
  local jar=$WORK/alice.jar
  expect "admin anonymous" 302 '+Location: /agents/sign_in' -- "$URL/admin/organisations/1/agents"
  expect "sign-in form" 200 '+name="authenticity_token"' '+_rdv_session=' -- -c "$WORK/x.jar" "$URL/agents/sign_in"
  expect "sign-in bad csrf" 422 '+The change you wanted was rejected' -- -b "$WORK/x.jar" "$URL/agents/sign_in" -d "agent[email]=$ALICE_EMAIL" -d "agent[password]=$ALICE_PASSWORD" -d authenticity_token=0000
  rdv_login "$jar" "$ALICE_EMAIL" wrong-password
  if [ "$(cat "$WORK/login.code")" = 200 ] && grep -q 'mot de passe incorrect' "$WORK/login.body"; then ok; else fail "wrong password should re-render the form with an error"; fi
  rdv_login "$jar" "$ALICE_EMAIL" "$ALICE_PASSWORD"
  if [ "$(cat "$WORK/login.code")" = 302 ] && grep -q 'Location: /admin/organisations/1/agents' "$WORK/login.headers"; then ok; else fail "admin_alice sign-in should redirect to the agents screen"; fi
  expect "agents screen" 200 '+id="agent_2"' '+id="pending-invitations"' '+1 invitation en attente' -- -b "$jar" "$URL/admin/organisations/1/agents"
  if [ "$SCENARIO" = menu ]; then
    expect "menu without agents" 200 '+class="left-submenu-settings"' '-Vos agents' '-Vos invitations' -- -b "$jar" "$URL/admin/organisations/1"
  else
    expect "menu entries" 200 '+href="/admin/organisations/1/agents">Vos agents<' '+href="/admin/organisations/1/invitations">Vos invitations<' -- -b "$jar" "$URL/admin/organisations/1"
  fi
  expect "territory 2 before" 200 '+id="agent_2"' '+allow_to_invite_agents' -- -b "$jar" "$URL/admin/territories/2/agents"
  rdv_invite "$jar" "$MARC_EMAIL" 1
  if [ "$(cat "$WORK/invite.code")" = 302 ]; then ok; else fail "inviting agent_marc should redirect"; fi
  if [ "$SCENARIO" = access-rights ]; then
    expect "territory 2 after invite (broken)" 200 '+fait déjà partie' '-id="agent_2"' -- -b "$jar" "$URL/admin/territories/2/agents"
  else
    expect "territory 2 after invite" 200 '+fait déjà partie' '+id="agent_2"' -- -b "$jar" "$URL/admin/territories/2/agents"
  fi
  rdv_invite "$jar" "new.person@example.org" 1
  expect "pending after invite" 200 '+2 invitations en attente' '+Invitation envoyée à new.person@example.org' -- -b "$jar" "$URL/admin/organisations/1/agents"
  expect "invitations list" 200 '+new.person@example.org' '+id="invitation_1"' -- -b "$jar" "$URL/admin/organisations/1/invitations"
  rdv_invite "$jar" "not-an-email" 1
  if [ "$(cat "$WORK/invite.code")" = 422 ]; then ok; else fail "an invalid email should give 422"; fi
  expect "reset" 200 '+"reset":true' -- -X POST "$URL/__demo/reset"
  expect "pending after reset" 200 '+1 invitation en attente' -- -b "$jar" "$URL/admin/organisations/1/agents"
  expect "territory 2 after reset" 200 '+id="agent_2"' -- -b "$jar" "$URL/admin/territories/2/agents"
  rdv_login "$WORK/marc.jar" "$MARC_EMAIL" "$MARC_PASSWORD"
  expect "non-admin on agents screen" 302 '+Location: /admin/organisations/1' -- -b "$WORK/marc.jar" "$URL/admin/organisations/1/agents"
}

check_cli

start_server default
check_api
check_pages
check_rdv
stop_server

# Each TM break is a bug in the frontend script: the server's API stays correct, and only
# the app's configuration says which bug is on.
start_server auth-token --break auth-token
expect "API stays correct" 200 '+"projectId":42' -- -H "$ANA" "$URL/api/v2/projects/42/"
expect "the app is told" 200 '+"breaks":["auth-token"]' -- "$URL/config.js"
stop_server

start_server labels --break labels
expect "API level unaffected" 200 '+"mappingLevel":"INTERMEDIATE"' -- -H "$ANA" "$URL/api/v2/users/queries/mapper_ana/"
expect "the app is told" 200 '+"breaks":["labels"]' -- "$URL/config.js"
stop_server

start_server mentions --break mentions
expect "API contributions unaffected" 200 '+"userContributions"' '+almost_alex' -- "$URL/api/v2/projects/1/contributions/"
expect "the app is told" 200 '+"breaks":["mentions"]' -- "$URL/config.js"
stop_server

start_server contributors --break contributors
expect "the app is told" 200 '+"breaks":["contributors"]' -- "$URL/config.js"
stop_server

start_server pagination --break pagination
expect "API pagination unaffected" 200 '+"hasNext":true' -- -H "$ANA" "$URL/api/v2/users/1001/tasks/"
expect "the app is told" 200 '+"breaks":["pagination"]' -- "$URL/config.js"
stop_server

start_server menu --break menu
check_rdv
stop_server

start_server access-rights --break access-rights
check_rdv
stop_server

start_server all --break all --release v4.6.3-rc1
expect "release override" 200 '+"version":"v4.6.3-rc1"' -- "$URL/api/v2/system/heartbeat/"
expect "demo info lists breaks" 200 '+"auth-token"' '+"access-rights"' -- "$URL/__demo"
expect "all: the app is told" 200 '+"auth-token"' '+"pagination"' '+"release":"v4.6.3-rc1"' -- "$URL/config.js"
stop_server

start_server version --release v4.6.3 --commit 4f2a9c1e7b3d
expect "version endpoint" 200 '+"version":"v4.6.3"' '+"commit":"4f2a9c1e7b3d"' -- "$URL/api/version"
expect "version endpoint is GET only" 405 '+Allow: GET' -- -X POST "$URL/api/version"
stop_server

# A deploy rolling out: the previous release first (60 s is far beyond the next request, however
# slow the machine), then, with a short delay, the new one within a generous bound.
start_server rolling-slow --release v4.6.3 --previous-release v4.6.2 --deploy-after 60
expect "previous release while deploying" 200 '+"version":"v4.6.2"' -- "$URL/api/version"
expect "the heartbeat agrees" 200 '+"version":"v4.6.2"' -- "$URL/api/v2/system/heartbeat/"
stop_server
start_server rolling --release v4.6.3 --previous-release v4.6.2 --deploy-after 0.5
rolled=""
for _ in $(seq 1 300); do
  fetch roll "$URL/api/version"
  if grep -qF '"version":"v4.6.3"' "$WORK/roll.body"; then rolled=1; break; fi
  sleep 0.1
done
if [ -n "$rolled" ]; then ok; else fail "the release was not rolled out after --deploy-after"; fi
stop_server
if "$BIN" --deploy-after 3 >/dev/null 2>"$WORK/noprev.err"; then
  fail "--deploy-after without --previous-release was accepted"
elif grep -qF -- "--deploy-after needs --previous-release" "$WORK/noprev.err"; then ok; else
  fail "--deploy-after without --previous-release: $(cat "$WORK/noprev.err")"
fi

echo "demo smoke: $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
