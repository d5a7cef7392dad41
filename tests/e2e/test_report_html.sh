#!/usr/bin/env bash
# --report-html read by a real browser: a run with a failing browser check (its screenshot
# embedded) and a check whose output holds an XSS payload writes the report; uatrun's own
# browser API then opens the report in headless Chromium (through python3's http.server,
# since file: URLs are refused) and asserts the summary is visible, the screenshot is shown
# from a data: URI, the payload is text that never ran, the page fetches nothing and logs no
# console error, and it fits a phone's width. Then the same for `gate --report-html`.
#
#   test_report_html.sh UATRUN
set -u
uatrun=$(realpath "${1:?usage: test_report_html.sh UATRUN}")
work=$(mktemp -d)
server_pid=""
failures=0 step=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL [$step] $*" >&2
  failures=$((failures + 1))
}
cd "$work" || exit 1
mkdir -p site state
export NO_COLOR=1
unset UATRUN_LEDGER UATRUN_RELEASE UATRUN_COMMIT GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG

cat >site/app.html <<'EOF'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>App</title></head>
<body><h1 id="title">Public projects</h1></body></html>
EOF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$work/site" >server.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/app.html" && break; sleep 0.05; done

# 1. The report under test: one pass, a failed browser check (a screenshot), a failed check whose output is an XSS payload.
cat >pb.yml <<EOF
name: HTML report <UAT>
target: { base_url: "http://127.0.0.1:$port", timeout: 60s }
checks:
  - id: home
    run: |
      local r = http.get("/app.html")
      expect.status(r, 200, "the app answers")
  - id: private-project
    title: An authorised user sees the private project
    timeout: 60s
    run: |
      local b = browser.open("/app.html")
      expect.eq(b:text("//h1"), "Private project", "the private project's title shows")
  - id: xss
    run: |
      log("<script>window.__pwned = 1</script>")
      expect.eq("<img src=x onerror=\"window.__pwned=2\">", "safe", "output <b>with markup</b>")
signoffs:
  - id: support-briefed
    role: support
    text: Support knows what moved <script>window.__pwned = 3</script>
roles:
  support: [nesserine]
ledger: state/ledger.db
EOF
step="run --report-html"
"$uatrun" run pb.yml --release v1.2.3 --commit c0ffee12 --artifacts site/art \
  --report-html site/run.html >run.out 2>&1
rc=$?
[[ $rc -eq 1 ]] || fail "run exit $rc, expected 1: $(cat run.out)"
[[ -s site/run.html ]] || fail "no report written"
ls site/art/*.png >/dev/null 2>&1 || fail "the failed browser check left no screenshot"
ls site/.run.html* >/dev/null 2>&1 && fail "a temporary file was left beside the report"

step="gate --report-html"
"$uatrun" gate pb.yml --release v1.2.3 --commit c0ffee12 --no-run --report-html site/gate.html \
  >gate.out 2>&1
rc=$?
[[ $rc -eq 1 ]] || fail "gate exit $rc, expected 1: $(cat gate.out)"
[[ -s site/gate.html ]] || fail "no gate report written"

# 2. The reader: uatrun's own browser API opens each report.
cat >reader.yml <<EOF
name: Read the HTML report
target: { base_url: "http://127.0.0.1:$port", timeout: 90s }
checks:
  - id: run-report
    timeout: 90s
    run: |
      local b = browser.open("/run.html", { width = 390, height = 844 })
      b:wait("//header[@id='summary']", { visible = true })
      expect.match(b:text("//header[@id='summary']/h1"), "2 of 3 checks did not pass", "summary headline")
      expect.match(b:text("//header[@id='summary']"), "v1.2.3", "release in the summary")
      expect.match(b:title(), "HTML report <UAT>", "title escaped, shown as text")
      expect.xpath(b, "//article[@id='check-private-project']//img[starts-with(@src, 'data:image/png;base64,')]", "screenshot embedded")
      expect.eq(b:eval("var i = document.querySelector('img'); return i.complete && i.naturalWidth > 0"), true, "the screenshot decodes")
      expect.match(b:text("//article[@id='check-xss']"), "onerror", "the XSS payload is shown as text")
      expect.eq(b:eval("return window.__pwned === undefined"), true, "no script from check output ran")
      expect.eq(b:eval("return document.querySelectorAll('script, img[src=\"x\"]').length"), 0, "no element from check output")
      expect.eq(b:eval("return document.documentElement.scrollWidth <= window.innerWidth + 1"), true, "fits a phone's width")
      expect.eq(#b:console().errors, 0, "no console errors")
      -- the browser's own chrome:// pages and the data: image are no fetch from the network
      local fetched = {}
      for _, r in ipairs(b:requests()) do
        if r.url:match("^https?:") then fetched[#fetched + 1] = r.url end
      end
      expect.eq(fetched, { "http://127.0.0.1:$port/run.html" }, "the page fetches nothing else")
  - id: gate-report
    timeout: 90s
    run: |
      local b = browser.open("/gate.html")
      b:wait("//section[@id='signoffs']", { visible = true })
      expect.match(b:text("//header[@id='summary']/h1"), "GATE CLOSED", "gate headline")
      expect.match(b:text("//section[@id='signoffs']"), "May sign: nesserine", "who is still needed")
      expect.eq(b:eval("return window.__pwned === undefined"), true, "no script from item text ran")
      expect.eq(#b:console().errors, 0, "no console errors")
EOF
step="read the reports in Chromium"
"$uatrun" run reader.yml --release v1.2.3 --commit c0ffee12 >read.out 2>&1
rc=$?
[[ $rc -eq 0 ]] || fail "the reader check exit $rc: $(cat read.out)"

if ((failures)); then
  echo "report html: $failures failure(s)"
  exit 1
fi
echo "report html: all steps passed"
