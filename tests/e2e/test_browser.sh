#!/usr/bin/env bash
# Browser checks end to end: uatrun driving real headless Chromium through Debian's
# chromedriver against pages served on loopback (python3's http.server, a real server).
# Asserts the API on a page with its own JavaScript, secrets kept out of every output and
# artifact, failure artifacts and their references in the reports, exit 2 when the browser is
# missing, no browser started by HTTP-only checks, --jobs, and that no process or profile of
# ours is left after a pass, a failure, a timeout inside b:wait, a script error, and SIGTERM
# or SIGKILL of uatrun mid-run.
# usage: test_browser.sh UATRUN
set -u
uatrun=$(realpath "${1:?usage: test_browser.sh UATRUN}")
work=$(mktemp -d)
server_pid=""
failures=0 step=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
[[ -n ${KEEP:-} ]] && trap "kill \$server_pid" EXIT
fail() { echo "FAIL [$step] $*" >&2; failures=$((failures + 1)); }

# Ours only, even when other tests drive browsers at the same time: every uatrun here runs
# with TMPDIR in our work folder (the profiles go there) and a marker in its environment,
# which the guard, chromedriver and every Chromium process inherit.
export TMPDIR=$work/tmp UAT_E2E_BROWSER_MARK=$work
mkdir -p "$TMPDIR"
ours_pids() {
  local p exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    case $exe in "$uatrun" | */chromedriver | */chromium | */chromium/*) ;; *) continue ;; esac
    grep -qzx "UAT_E2E_BROWSER_MARK=$work" "$p/environ" 2>/dev/null && echo "${p#/proc/}"
  done
}
ours() { ours_pids | wc -l; }
profiles() { find "$TMPDIR" -maxdepth 1 -name 'uatrun-browser-*' 2>/dev/null | wc -l; }
expect_clean() { # WHAT: nothing of ours may remain (the guard needs a moment after a kill)
  for _ in $(seq 100); do [[ $(ours) == 0 && $(profiles) == 0 ]] && return 0; sleep 0.1; done
  fail "$1: $(ours) browser processes and $(profiles) profile folders left behind"
  ours_pids | while read -r pid; do tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-200; echo; done >&2
}

mkdir -p "$work/site"
cat >"$work/site/index.html" <<'EOF'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Demo form</title><script src="app.js" defer></script></head>
<body><main id="root"><p id="loading">loading…</p></main></body></html>
EOF
cat >"$work/site/app.js" <<'EOF'
// Renders after a delay, from localStorage and an API call, like an SPA.
setTimeout(function () {
  var who = localStorage.getItem('who') || 'nobody';
  fetch('data.json', { headers: { 'X-Api-Key': localStorage.getItem('key') || '' } })
    .then(function (r) { return r.json(); })
    .then(function (d) {
      var root = document.getElementById('root');
      root.innerHTML = '<h1 id="hello"></h1><form id="f"><input id="q" name="q">' +
        '<select id="lang"><option value="en">English</option><option value="fr">Français</option></select>' +
        '<button id="go" type="submit">Go</button></form><p id="out"></p><p id="chosen"></p>';
      document.getElementById('hello').textContent = 'Hello ' + who + ', ' + d.items.length + ' items';
      document.getElementById('lang').addEventListener('change', function (e) {
        document.getElementById('chosen').textContent = 'lang=' + e.target.value;
      });
      document.getElementById('f').addEventListener('submit', function (e) {
        e.preventDefault();
        document.getElementById('out').textContent = 'typed ' + document.getElementById('q').value.length + ' chars';
        history.pushState(null, '', '/index.html?sent=1');
      });
      console.error('an app error the check can see');
    });
}, 300);
EOF
echo '{"items": [1, 2, 3]}' >"$work/site/data.json"
: >"$work/site/favicon.ico" # else the browser logs the 404 of its favicon request as an error
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$work/site" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/index.html" && break; sleep 0.05; done

export UAT_KEY=sk-test-7f3a9c2e41 NO_COLOR=1
cd "$work" || exit 1
cat >pb.yml <<EOF
name: browser e2e
target: { base_url: "http://127.0.0.1:$port", timeout: 60s }
secrets: { api_key: UAT_KEY }
checks:
  - id: page
    run: |
      local b = browser.open("/index.html", { local_storage = { who = "ana", key = secrets.api_key },
                                              width = 800, height = 600 })
      expect.xpath(b, "//h1[@id='hello'][. = 'Hello ana, 3 items']", "rendered from storage and the API")
      b:fill("#q", secrets.api_key)
      b:select("#lang", "Français")
      expect.eq(b:text("#chosen"), "lang=fr", "select fired change")
      b:click("//button[@id='go']")
      expect.xpath(b, "//p[@id='out'][. = 'typed 18 chars']", "the form was submitted")
      expect.eq(b:url(), "http://127.0.0.1:$port/index.html?sent=1", "pushState route")
      expect.eq(b:title(), "Demo form", "title")
      expect.eq(b:eval("return [arguments[0] + 1, document.querySelectorAll('option').length]", 41), {42, 2}, "eval")
      local doc = b:html()
      expect.eq(doc:count("//option"), 2, "b:html is a document")
      local errors = b:console().errors
      expect.eq(#errors, 1, "one console error seen")
      log("console: " .. table.concat(errors, " | "))
      local api
      for _, r in ipairs(b:requests()) do
        if r.url:match("data.json") then api = r end
      end
      expect.eq(api and api.status, 200, "the page's API request is listed")
      log("api key header: " .. tostring(api and api.headers["X-Api-Key"]))
      expect.truthy(b:screenshot("after submit"), "screenshot saved")
      b:press("Tab")
      b:close()
  - id: http-only
    run: |
      expect.status(http.get("/data.json"), 200, "plain HTTP still works")
ledger: state/ledger.db
EOF

step="a browser check passes"
"$uatrun" run pb.yml --artifacts art --report-json r.json --report-junit j.xml -v >out.txt 2>&1
rc=$?
[[ $rc == 0 ]] || { fail "exit $rc, expected 0"; cat out.txt >&2; }
grep -q "api key header: \*\*\*" out.txt || fail "the request header holding the secret should show as ***"
grep -q "console: .*an app error the check can see" out.txt || fail "the console error should be in the log"
ls art/page-after_submit-*.png >/dev/null 2>&1 || fail "b:screenshot should save under --artifacts"
if grep -rq "$UAT_KEY" out.txt r.json j.xml art state 2>/dev/null; then fail "the secret leaked into an output, report, artifact or the ledger"; fi
expect_clean "after a pass"

step="HTTP-only checks start no browser"
UATRUN_CHROMEDRIVER=/nonexistent "$uatrun" run pb.yml --only http-only >out.txt 2>&1 ||
  { fail "exit $?, expected 0 without any browser"; cat out.txt >&2; }

step="missing browser"
UATRUN_CHROMEDRIVER=/nonexistent "$uatrun" run pb.yml >out.txt 2>&1
rc=$?
[[ $rc == 2 ]] || fail "run: exit $rc, expected 2"
grep -q "apt-get install chromium chromium-driver" out.txt || fail "run should name the packages: $(cat out.txt)"
grep -q "recorded run" out.txt && fail "nothing may run or be recorded"
UATRUN_CHROMIUM=/nonexistent "$uatrun" lint pb.yml >out.txt 2>&1
rc=$?
[[ $rc == 2 ]] || fail "lint: exit $rc, expected 2"
grep -q "UATRUN_CHROMIUM" out.txt || fail "lint should name UATRUN_CHROMIUM: $(cat out.txt)"

cat >bad.yml <<EOF
name: browser failures
target: { base_url: "http://127.0.0.1:$port", timeout: 60s }
secrets: { api_key: UAT_KEY }
checks:
  - id: fails
    timeout: 30s
    run: |
      local b = browser.open("/index.html", { local_storage = { who = secrets.api_key } })
      expect.xpath(b, "//h1[@id='hello']", "rendered")
      expect.xpath(b, "//h1[@id='never']", "never rendered")
  - id: times-out-in-wait
    timeout: 25s
    run: |
      local b = browser.open("/index.html")
      b:wait("//never", { timeout = 600 })
  - id: script-error
    run: |
      local b = browser.open("/index.html")
      error("boom after opening")
  - id: file-url
    run: |
      browser.open("file:///etc/passwd")
ledger: state/ledger.db
EOF
step="failures: artifacts, reports, errors"
start=$(date +%s)
"$uatrun" run bad.yml --artifacts art2 --report-json r2.json --report-junit j2.xml >out.txt 2>&1
rc=$?
[[ $rc == 1 ]] || fail "exit $rc, expected 1"
for id in fails times-out-in-wait script-error; do
  ls art2/"$id"-failure-*.png art2/"$id"-failure-*.html >/dev/null 2>&1 || fail "$id: screenshot and HTML should be saved"
  grep -q "artifact: art2/$id-failure-1.png" out.txt || fail "$id: the terminal should name its screenshot"
  grep -q "\[\[ATTACHMENT|art2/$id-failure-1.png\]\]" j2.xml || fail "$id: JUnit should attach its screenshot"
  jq -e --arg id "$id" '.checks[] | select(.id == $id) | .artifacts | index("art2/" + $id + "-failure-1.html")' r2.json >/dev/null ||
    fail "$id: the JSON report should list its artifacts"
done
grep -q "b:wait: '//never' did not appear" out.txt || fail "the wait's timeout should say what did not appear"
grep -q "boom after opening" out.txt || fail "the script error should be reported"
grep -q "only http://, https:// and about:blank may be opened in the browser, not 'file:///etc/passwd'" out.txt ||
  fail "file: URLs must be refused: $(grep -A2 file-url out.txt)"
if grep -rq "$UAT_KEY" out.txt r2.json j2.xml art2 2>/dev/null; then fail "the secret leaked"; fi
(($(date +%s) - start < 120)) || fail "the failing run took $(($(date +%s) - start))s: timeouts should bound it"
expect_clean "after failures, a timeout inside b:wait and a script error"

cat >long.yml <<EOF
name: long
target: { base_url: "http://127.0.0.1:$port", timeout: 120s }
checks:
  - { id: a, run: 'local b = browser.open("/index.html"); b:wait("//never")' }
  - { id: b, run: 'local b = browser.open("/index.html"); b:wait("//never")' }
ledger: state/long.db
EOF
for sig in TERM KILL; do
  step="SIGTERM/SIGKILL mid-run ($sig)"
  "$uatrun" run long.yml --jobs 2 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 300); do pgrep -f -- "--user-data-dir=$TMPDIR/uatrun-browser-" >/dev/null && break; sleep 0.1; done
  sleep 1
  kill -"$sig" "$pid"
  wait "$pid" 2>/dev/null
  expect_clean "after kill -$sig of uatrun"
done

step="--jobs: each check its own browser"
cat >jobs.yml <<EOF
name: jobs
target: { base_url: "http://127.0.0.1:$port", timeout: 90s }
checks:
$(for i in 1 2 3; do echo "  - { id: c$i, run: 'local b = browser.open(\"/index.html\", { local_storage = { who = \"u$i\" } }); expect.xpath(b, \"//h1[. = \\\"Hello u$i, 3 items\\\"]\", \"own session\"); b:close()' }"; done)
ledger: state/jobs.db
EOF
"$uatrun" run jobs.yml --jobs 3 >out.txt 2>&1 || { fail "exit $?, expected 0"; cat out.txt >&2; }
grep -q "3 passed, 0 failed" out.txt || fail "three concurrent browser checks should pass"
expect_clean "after --jobs 3"

if ((failures)); then
  echo "browser e2e: $failures failure(s)" >&2
  exit 1
fi
echo "browser e2e: all steps passed"
