#!/usr/bin/env bash
# The demo Tasking Manager single-page app in real headless Chromium, spoken to over W3C
# WebDriver with curl + jq (no uatrun in the loop: this tests the demo itself). For the healthy
# server and each TM --break: the session seeded in localStorage the way the app keeps it, the
# pages the app renders from its own API calls, pushState navigation, the session the app
# rewrites at start, and no console errors.
# usage: test_demo_spa.sh PATH/TO/uat-demo-staging
set -u
BIN=${1:?usage: test_demo_spa.sh PATH/TO/uat-demo-staging}
CHROMEDRIVER=${UATRUN_CHROMEDRIVER:-/usr/bin/chromedriver}
CHROMIUM=${UATRUN_CHROMIUM:-/usr/bin/chromium}
work=$(mktemp -d)
server_pid="" driver_pid="" sid="" WD="" URL=""
failures=0 scenario=""

cleanup() {
  [[ -n $sid ]] && curl -s -m 5 -X DELETE "$WD/session/$sid" >/dev/null 2>&1
  [[ -n $driver_pid ]] && kill -- "-$driver_pid" 2>/dev/null
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null
  # Chromium children outlive a killed driver only if they left its process group: check.
  if pgrep -f -- "--user-data-dir=$work/profile" >/dev/null; then
    echo "FAIL: chromium processes left behind" >&2
    pkill -9 -f -- "--user-data-dir=$work/profile"
    failures=$((failures + 1))
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL [$scenario] $*" >&2; failures=$((failures + 1)); }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_driver() {
  local port
  port=$(free_port)
  setsid "$CHROMEDRIVER" --port="$port" >"$work/driver.log" 2>&1 &
  driver_pid=$!
  WD=http://127.0.0.1:$port
  for _ in $(seq 200); do curl -s -m 2 "$WD/status" | jq -e .value.ready >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "FAIL: chromedriver did not start" >&2
  cat "$work/driver.log" >&2
  exit 1
}

new_session() {
  mkdir -p "$work/profile"
  local caps
  caps=$(jq -n --arg bin "$CHROMIUM" --arg prof "$work/profile" '{capabilities: {alwaysMatch: {
    browserName: "chrome", "goog:loggingPrefs": {browser: "ALL"},
    "goog:chromeOptions": {binary: $bin, args: ["--headless=new", "--no-sandbox", "--disable-gpu",
      "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--user-data-dir=" + $prof]}}}}')
  sid=$(curl -s -m 60 -d "$caps" "$WD/session" | jq -r '.value.sessionId // empty')
  [[ -n $sid ]] || { echo "FAIL: no WebDriver session" >&2; exit 1; }
}

start_server() { # SCENARIO [server args...]
  scenario=$1
  shift
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -f "$work/port"
  "$BIN" --port 0 --port-file "$work/port" "$@" >/dev/null 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 200); do [[ -s $work/port ]] && break; sleep 0.05; done
  URL=http://127.0.0.1:$(cat "$work/port")
}

visit() { curl -s -m 30 -d "$(jq -n --arg u "$URL$1" '{url: $u}')" "$WD/session/$sid/url" >/dev/null; }

js() { # SCRIPT: the JSON value it returns
  jq -n --arg s "$1" '{script: $s, args: []}' | curl -s -m 30 -d @- "$WD/session/$sid/execute/sync" | jq -c .value
}

# Logs in the way the app keeps a session: token and username in localStorage, set on the
# origin before the app's script runs (a 404 page of the same origin runs no app).
login() { # TOKEN USERNAME
  visit /__uatrun_blank
  js "localStorage.clear(); localStorage.setItem('token', '$1'); localStorage.setItem('username', '$2'); return true" >/dev/null
}

# Waits until the app has rendered the route (it marks #root), then counts XPath matches.
count() { # XPATH
  js "return document.evaluate(\"count($1)\", document, null, XPathResult.NUMBER_TYPE, null).numberValue"
}

wait_rendered() {
  for _ in $(seq 200); do
    [[ $(js "var r = document.getElementById('root'); return !!(r && r.hasAttribute('data-route-ready'))") == true ]] && return 0
    sleep 0.05
  done
  fail "the app never rendered $(js 'return location.href')"
}

expect_count() { # WHAT PATH XPATH N
  visit "$2"
  wait_rendered
  local got
  got=$(count "$3")
  [[ $got == "$4" ]] || fail "$1: $3 matched $got times on $2, expected $4"
}

ANA=YW5hLXNlc3Npb24tN2MxZTRiMmE=
MAYA=bWF5YS1zZXNzaW9uLTRiOGEyYzE3

start_driver
new_session

start_server healthy
login "$ANA" mapper_ana
expect_count "an allowed mapper sees private project 42" /projects/42 "//h1[@id='project-title'][contains(., 'Beira')]" 1
expect_count "the nav shows who is logged in" /projects/42 "//a[@id='nav-user'][. = 'mapper_ana']" 1
expect_count "the footer shows the release" /explore "//footer//span[@id='release'][. = 'v4.6.2']" 1
expect_count "explore lists public projects only" /explore "//li[@class='project-card']" 1
expect_count "Q&A suggests the 5 contributors" /projects/1/questions "//ul[@id='mention-suggestions']/li" 5
expect_count "Q&A text is escaped" /projects/42/questions "//p[@class='question-message'][contains(., '<alternative>')]" 1
expect_count "task 3 lists its own contributors" /projects/1/tasks/3 "//ul[@id='task-contributors']/li[@data-username='almost_alex']" 1
expect_count "profile level from changesets" /users/almost_alex "//span[@id='mapper-level'][@data-level='intermediate']" 1
expect_count "My Tasks has 3 page buttons" /contributions/tasks "//div[@class='paginator-btn-ctr']/button" 3
# pushState: clicking page 2 changes the route without a page load (the marker survives)
js "window.__no_reload = 1; document.querySelector('button.paginator-btn[value=\"2\"]').click(); return 1" >/dev/null
for _ in $(seq 100); do [[ $(count "//span[@id='my-tasks-page-number'][. = '2']") == 1 ]] && break; sleep 0.05; done
[[ $(js "return window.__no_reload === 1 && location.search === '?page=2'") == true ]] ||
  fail "the paginator should change the route with pushState, without a page load"
js "history.back(); return 1" >/dev/null
for _ in $(seq 100); do [[ $(count "//span[@id='my-tasks-page-number'][. = '1']") == 1 ]] && break; sleep 0.05; done
[[ $(count "//span[@id='my-tasks-page-number'][. = '1']") == 1 ]] || fail "back should render page 1 again"
# the app rewrote the persisted session with the user's details at start
[[ $(js "return JSON.parse(localStorage.getItem('userDetails')).id") == 1001 ]] ||
  fail "the app should persist the user's details it loaded at start"
# no console errors on a healthy walk (the refused fetches below log some, as in a real app)
log=$(curl -s -m 10 -d '{"type":"browser"}' "$WD/session/$sid/se/log")
errors=$(jq -c '[.value[]? | select(.level == "SEVERE") | select(.message | test("__uatrun_blank") | not) | .message]' <<<"$log")
[[ $errors == "[]" ]] || fail "the app logged console errors: $errors"
# a visitor is sent to log in, client-side; an invalid session is dropped by the app
js "localStorage.clear(); return 1" >/dev/null
expect_count "My Tasks asks visitors to log in" /contributions/tasks "//main[@id='login-page']" 1
[[ $(js "return location.pathname + location.search") == '"/login?redirect_to=%2Fcontributions%2Ftasks"' ]] ||
  fail "the login redirect should keep where the visitor was going"
login bm90LWEtcmVhbC10b2tlbg== mapper_ana
expect_count "an invalid token is anonymous" /projects/42 "//div[@id='project-not-found'][@data-subcode='PrivateProject']" 1
[[ $(js "return localStorage.getItem('token')") == null ]] || fail "the app should drop an invalid session from localStorage"

start_server auth-token --break auth-token
login "$ANA" mapper_ana
expect_count "#6088: the private project page loses the token" /projects/42 "//div[@id='project-not-found'][@data-subcode='PrivateProject']" 1
login "$MAYA" manager_maya
expect_count "#6088: the draft page loses the token" /projects/77 "//div[@id='project-not-found'][@data-subcode='ProjectNotFetched']" 1
expect_count "#6088: public pages still work" /projects/1 "//h1[@id='project-title']" 1

start_server labels --break labels
login "$ANA" mapper_ana
expect_count "#6113: the label comes from tasks mapped" /users/almost_alex "//span[@id='mapper-level'][@data-level='beginner']" 1

start_server mentions --break mentions
login "$ANA" mapper_ana
expect_count "#6114: no @mention suggestions" /projects/1/questions "//ul[@id='mention-suggestions']/li" 0

start_server contributors --break contributors
login "$ANA" mapper_ana
expect_count "#6115: task 3 shows task 1's contributors" /projects/1/tasks/3 "//ul[@id='task-contributors']/li[@data-username='mapper_ana']" 1

start_server pagination --break pagination
login "$ANA" mapper_ana
expect_count "#6116: no paginator" /contributions/tasks "//div[@class='paginator-btn-ctr']" 0
expect_count "#6116: the first page still lists tasks" /contributions/tasks "//li[@class='task-card']" 10

if ((failures)); then
  echo "demo SPA: $failures failure(s)" >&2
  exit 1
fi
echo "demo SPA: all scenarios behave as expected"
