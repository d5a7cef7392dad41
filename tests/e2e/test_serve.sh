#!/usr/bin/env bash
# `uatrun serve`, the sign-off page, end to end against a SQLite ledger with a recorded
# passing run: headless Chromium (a uatrun playbook of browser checks) signs in, approves one
# item and rejects another with a reason, and the ledger rows and the gate are checked with
# `uatrun history` / `status` / `gate`. Then with curl: POSTs without or with a wrong CSRF
# token, a forged identity header from an untrusted address, an XSS payload in a note shown
# inert, eight concurrent approvals of one item (exactly one recorded), signing refused while
# the latest run failed (409), a taken port, bad --auth set-ups, logout.
# usage: test_serve.sh UATRUN UAT-DEMO-HTPASSWD
set -u
uatrun=$(realpath "${1:?usage: test_serve.sh UATRUN UAT-DEMO-HTPASSWD}")
mkhtpasswd=$(realpath "${2:?usage: test_serve.sh UATRUN UAT-DEMO-HTPASSWD}")
work=$(mktemp -d)
pids=()
failures=0 step=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
[[ -n ${KEEP:-} ]] && trap 'kill "${pids[@]}" 2>/dev/null; echo "kept $work"' EXIT
trap 'exit 143' TERM INT HUP
fail() { echo "FAIL [$step] $*" >&2; failures=$((failures + 1)); }
cd "$work" || exit 1
export NO_COLOR=1
unset UATRUN_USER UATRUN_LEDGER GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG
export UATRUN_RELEASE=v4.6.3 UATRUN_COMMIT=4f2a9c1e7b3d5a60
export SERVE_TOKEN=tok-s3cr3t-4711 # a playbook secret set where the page runs

cat >pb.yml <<'EOF'
name: Serve e2e
target:
  base_url: http://127.0.0.1:9
vars: { ok: "yes" }
secrets: { token: SERVE_TOKEN }
checks:
  - id: smoke
    title: Staging answers
    run: |
      expect.eq(vars.ok, "yes", "the var says yes")
signoffs:
  - id: support-briefed
    role: support
    text: Support knows what moved in this release
  - id: support-screens
    role: support
    text: Support found the agent screens under <Paramètres> & "Vos agents"
  - id: product-ok
    role: product
    text: Product accepts the release
roles:
  support: [myriam, nesserine]
  product: [matis]
gate:
  distinct_signers: true
ledger: ledger.db
EOF
"$mkhtpasswd" myriam 'pw-myriam-2026' 5 >htpasswd
"$mkhtpasswd" nesserine 'pw-nesserine-2026' 5 >>htpasswd
"$mkhtpasswd" matis 'pw-matis-2026' 5 >>htpasswd

step="a passing run is recorded"
"$uatrun" run pb.yml >run.log 2>&1 || fail "uatrun run exited $?: $(cat run.log)"

# start_serve NAME ARGS...: starts `uatrun serve` on a free port; sets $url (no final /).
start_serve() {
  local name=$1
  shift
  "$uatrun" serve "$@" --listen 127.0.0.1:0 >"$name.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    grep -qs '^listening on ' "$name.out" && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  url=$(sed -n 's/^listening on \(http:[^ ]*\)\/ .*/\1/p' "$name.out")
  [[ -n $url ]] || { fail "serve $name did not start: $(cat "$name.out")"; return 1; }
}

start_serve main pb.yml --auth htpasswd:htpasswd || exit 1
main_url=$url
main_port=${url##*:}

# ---------- Chromium: sign in, approve, reject ----------
step="browser: sign in, approve one item, reject another"
mkdir -p artifacts
cat >browser.yml <<EOF
name: Sign-off page in Chromium
target:
  base_url: $main_url/
  timeout: 60s
secrets:
  password: SERVE_PASSWORD
checks:
  - id: sign-in-approve-reject
    timeout: 120s
    run: |
      local b = browser.open("/")
      b:wait("//input[@id='login-user']")
      expect.match(b:url(), "/login\$", "an anonymous visitor is sent to the sign-in form")
      b:fill("//input[@id='login-user']", "myriam")
      b:fill("//input[@id='login-password']", secrets.password)
      b:click("//button[@id='login-submit']")
      b:wait("//b[@id='user']")
      expect.eq(b:text("//b[@id='user']"), "myriam", "signed in as myriam")
      expect.xpath(b, "//tr[@id='check-smoke']/td[@class='pass']", "the run's check is shown as passed")
      expect.xpath(b, "//p[@id='headline'][contains(., 'waiting for 3 sign-offs')]", "the gate waits")
      expect.no_xpath(b, "//button[@id='approve-product-ok']", "no buttons for another role's item")
      b:fill("//input[@id='approve-note-support-briefed']", "Briefed <b>the help desk</b>")
      b:click("//button[@id='approve-support-briefed']")
      b:wait("//p[@id='flash'][contains(., 'recorded: approve support-briefed by myriam')]")
      expect.eq(b:text("//div[@id='item-support-briefed']//span[@class='note']"),
                "Briefed <b>the help desk</b>", "the note is shown as text, not markup")
      b:click("//button[@id='reject-support-screens']")  -- no reason: the browser refuses
      expect.no_xpath(b, "//p[@id='flash'][contains(., 'reject')]", "no rejection without a reason")
      b:fill("//input[@id='reject-note-support-screens']", "Invitations screen still hard to find")
      b:click("//button[@id='reject-support-screens']")
      b:wait("//p[@id='flash'][contains(., 'recorded: reject support-screens by myriam')]")
      expect.xpath(b, "//p[@id='headline'][contains(., 'rejected by myriam')]", "the rejection closes the gate")
      b:screenshot("signoff-page")
      b:visit("/status")
      b:wait("//pre[@id='status']")
      expect.match(b:text("//pre[@id='status']"), "GATE CLOSED", "the status page")
      for _, e in ipairs(b:console().errors) do log("console error: " .. e) end
      expect.eq(#b:console().errors, 0, "no console errors (no CSP violation)")
      b:click("//button[@id='logout']")
      b:wait("//input[@id='login-user']")
      expect.truthy(true, "signed out")
EOF
t0=$(date +%s%N)
SERVE_PASSWORD='pw-myriam-2026' "$uatrun" run browser.yml --artifacts artifacts >browser.log 2>&1 ||
  fail "the browser check did not pass: $(cat browser.log)"
echo "browser flow: $((($(date +%s%N) - t0) / 1000000)) ms"
[[ -n ${UATRUN_SERVE_SCREENSHOT:-} ]] && compgen -G "artifacts/*signoff-page*.png" >/dev/null &&
  cp artifacts/*signoff-page*.png "$UATRUN_SERVE_SCREENSHOT"

step="ledger rows after the browser"
"$uatrun" history pb.yml >history.log 2>&1
grep -q 'approve .*support-briefed .*by myriam .*"Briefed <b>the help desk</b>"' history.log ||
  fail "no approval row: $(cat history.log)"
grep -q 'reject .*support-screens .*by myriam .*"Invitations screen still hard to find"' history.log ||
  fail "no rejection row: $(cat history.log)"
[[ $(grep -c -E ' (approve|reject) ' history.log) == 2 ]] || fail "expected 2 decisions: $(cat history.log)"
"$uatrun" status pb.yml >status.log 2>&1
rc=$?
[[ $rc == 1 ]] || fail "status exit $rc, expected 1 (rejected)"
grep -q 'GATE CLOSED — rejected by myriam (support): Invitations screen' status.log || fail "$(cat status.log)"

# ---------- curl ----------
# login USER PASSWORD JAR: signs in through the form; sets $csrf to the session's token.
login() {
  local form
  form=$(curl -s -c "$3" -b "$3" "$url/login")
  local t
  t=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' <<<"$form" | head -1)
  curl -s -c "$3" -b "$3" -o /dev/null --data-urlencode "csrf=$t" --data-urlencode "user=$1" \
    --data-urlencode "password=$2" "$url/login"
  csrf=$(curl -s -b "$3" "$url/" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
  [[ -n $csrf ]]
}
decisions() { "$uatrun" history pb.yml 2>/dev/null | grep -c -E ' (approve|reject) '; }
code() { curl -s -o body.html -w '%{http_code}' "$@"; }

url=$main_url
step="wrong password"
t=$(curl -s -c bad.jar "$url/login" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
c=$(code -b bad.jar -c bad.jar -d "csrf=$t&user=matis&password=nope" "$url/login")
[[ $c == 403 ]] || fail "a wrong password gave HTTP $c"
grep -q 'wrong user name or password' body.html || fail "no message: $(cat body.html)"

step="sign in as nesserine with curl"
login nesserine 'pw-nesserine-2026' n.jar || fail "cannot sign in"
n_csrf=$csrf
step="POST without a CSRF token"
before=$(decisions)
c=$(code -b n.jar -d "item=support-screens&action=approve" "$url/decide")
[[ $c == 403 ]] || fail "HTTP $c"
grep -q 'security token is missing or wrong' body.html || fail "no reason: $(cat body.html)"
step="POST with a wrong CSRF token"
wrong=$(tr 0-9a-f 1-9a-f0 <<<"$n_csrf") # every digit changed, the length kept
c=$(code -b n.jar -d "csrf=$wrong&item=support-screens&action=approve" "$url/decide")
[[ $c == 403 ]] || fail "HTTP $c"
step="POST with another session's token"
login matis 'pw-matis-2026' m.jar || fail "cannot sign in as matis"
matis_csrf=$csrf
c=$(code -b n.jar -d "csrf=$matis_csrf&item=support-screens&action=approve" "$url/decide")
[[ $c == 403 ]] || fail "HTTP $c"
[[ $(decisions) == "$before" ]] || fail "a refused POST recorded something"

step="identity never from a form field"
c=$(code -b m.jar -d "csrf=$matis_csrf&item=support-screens&action=approve&user=nesserine" "$url/decide")
[[ $c == 403 ]] || fail "matis signed a support item with user=nesserine: HTTP $c"
grep -q "&#39;matis&#39; may not sign for &#39;support&#39;" body.html || fail "$(cat body.html)"

step="XSS payload in a note is rendered inert"
payload='<script>alert(1)</script><img src=x onerror=alert(2)>"'"'"
c=$(code -b m.jar --data-urlencode "csrf=$matis_csrf" -d "item=product-ok&action=approve" \
  --data-urlencode "note=$payload token $SERVE_TOKEN" "$url/decide")
[[ $c == 200 ]] || fail "HTTP $c: $(cat body.html)"
curl -s -b m.jar "$url/" >page.html
grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;' page.html ||
  fail "the note is not escaped"
grep -qF '<script' page.html && fail "a <script> reached the page"
grep -qF '<img src=x' page.html && fail "an <img> from the note reached the page"
step="a secret in a note is redacted before it is recorded"
grep -qF "$SERVE_TOKEN" page.html && fail "the secret is on the page"
grep -qF '&#39; token ***' page.html || fail "no *** in the note"
"$uatrun" history pb.yml | grep -qF "$SERVE_TOKEN" && fail "the secret is in the ledger"

step="security headers"
headers=$(curl -s -D - -o /dev/null -b m.jar "$url/")
grep -qiF "content-security-policy: default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'" <<<"$headers" ||
  fail "CSP: $headers"
grep -qi 'x-content-type-options: nosniff' <<<"$headers" || fail "nosniff"
cookie=$(curl -s -D - -o /dev/null -c /dev/null "$url/login" | grep -i '^set-cookie')
grep -qi 'HttpOnly; SameSite=Strict' <<<"$cookie" || fail "cookie attributes: $cookie"
curl -s "$url/" -b m.jar | grep -qF 'pw-' && fail "a password shows on the page"

step="eight concurrent approvals of one item: exactly one recorded"
before=$(decisions)
curls=()
for i in $(seq 8); do
  curl -s -o /dev/null -w '%{http_code}\n' -b n.jar -d "csrf=$n_csrf&item=support-screens&action=approve" \
    "$url/decide" >"conc.$i" &
  curls+=($!)
done
wait "${curls[@]}"
oks=$(cat conc.* | grep -c '^200$')
conflicts=$(cat conc.* | grep -c '^409$')
[[ $oks == 1 && $conflicts == 7 ]] || fail "$oks accepted, $conflicts refused: $(cat conc.* | tr '\n' ' ')"
[[ $(decisions) == $((before + 1)) ]] || fail "$(($(decisions) - before)) rows recorded"

step="the gate opens once every item is approved"
"$uatrun" gate pb.yml --no-run >gate.log 2>&1
rc=$?
[[ $rc == 0 ]] || fail "gate exit $rc: $(cat gate.log)"
"$uatrun" verify-ledger pb.yml >/dev/null 2>&1 || fail "the chain does not verify"

step="status page equals uatrun status"
curl -s -b m.jar "$url/status" >status.html
"$uatrun" status pb.yml >status.txt 2>&1
python3 - status.html status.txt <<'EOF' || fail "the status page differs from uatrun status"
import html, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
shown = html.unescape(re.search(r'<pre id="status">(.*?)</pre>', page, re.S).group(1))
sys.exit(0 if shown == open(sys.argv[2], encoding="utf-8").read() else 1)
EOF

step="logout ends the session"
c=$(code -b m.jar -c m.jar -d "csrf=$matis_csrf" "$url/logout")
[[ $c == 303 ]] || fail "HTTP $c"
c=$(code -b m.jar -d "csrf=$matis_csrf&item=product-ok&action=approve" "$url/decide")
[[ $c == 403 ]] || fail "a POST after logout gave HTTP $c"

step="a taken port"
"$uatrun" serve pb.yml --auth htpasswd:htpasswd --listen "127.0.0.1:$main_port" >taken.out 2>&1
rc=$?
[[ $rc == 2 ]] || fail "exit $rc"
[[ $(wc -l <taken.out) == 1 ]] && grep -q "cannot listen on 127.0.0.1:$main_port: the port is already in use" taken.out ||
  fail "$(cat taken.out)"

step="bad --auth set-ups"
"$uatrun" serve pb.yml --auth header:X-Forwarded-User >bad.out 2>&1
[[ $? == 2 ]] && grep -q 'give the proxy that sets it with --trusted-proxy' bad.out || fail "header without proxy: $(cat bad.out)"
"$uatrun" serve pb.yml >bad.out 2>&1
[[ $? == 2 ]] && grep -q 'give --auth htpasswd:FILE' bad.out || fail "no --auth: $(cat bad.out)"
printf 'myriam:$apr1$abc$def\n' >md5.htpasswd
"$uatrun" serve pb.yml --auth htpasswd:md5.htpasswd >bad.out 2>&1
[[ $? == 2 ]] && grep -q 'md5.htpasswd:1: the password of .myriam. is not a bcrypt hash' bad.out || fail "md5: $(cat bad.out)"
"$uatrun" serve pb.yml --auth header:X-User --trusted-proxy 10.0.0.0/33 >bad.out 2>&1
[[ $? == 2 ]] || fail "a bad CIDR: $(cat bad.out)"

step="a forged identity header from an untrusted address"
start_serve untrusted pb.yml --auth header:X-Forwarded-User --trusted-proxy 10.0.0.0/8 || exit 1
c=$(code -H 'X-Forwarded-User: matis' "$url/")
[[ $c == 403 ]] || fail "HTTP $c"
grep -q 'only from its trusted proxy' body.html || fail "$(cat body.html)"
step="the identity header from the trusted proxy"
start_serve trusted pb.yml --auth header:X-Forwarded-User --trusted-proxy 127.0.0.1/32 || exit 1
c=$(code -c h.jar -b h.jar -H 'X-Forwarded-User: nesserine' "$url/")
[[ $c == 200 ]] && grep -q 'Signed in as <b id="user">nesserine</b>' body.html || fail "HTTP $c"
c=$(code -H 'X-Forwarded-User: nesserine' "$url/style.css")
[[ $c == 200 ]] || fail "css: HTTP $c"
c=$(code "$url/")
[[ $c == 403 ]] || fail "no header from the proxy: HTTP $c"
h_csrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' body.html | head -1)
step="Secure cookies when the trusted proxy says HTTPS, and only then"
cookie=$(curl -s -D - -o /dev/null -H 'X-Forwarded-User: nesserine' -H 'X-Forwarded-Proto: https' "$url/" | grep -i '^set-cookie')
grep -q 'HttpOnly; SameSite=Strict; Secure' <<<"$cookie" || fail "no Secure: $cookie"
cookie=$(curl -s -D - -o /dev/null -H 'X-Forwarded-Proto: https' "$main_url/login" | grep -i '^set-cookie')
grep -q 'Secure' <<<"$cookie" && fail "Secure believed from an untrusted peer: $cookie"
step="a session of one proxy user does not carry another's identity"
c=$(code -b h.jar -H 'X-Forwarded-User: matis' -d "csrf=$h_csrf&item=product-ok&action=approve" "$url/decide")
[[ $c == 403 ]] || fail "HTTP $c"

step="signing refused while the latest run failed (409)"
"$uatrun" run pb.yml --release v9 --var ok=no --report-json v9.json >/dev/null 2>&1
# The report names a screenshot, as a failed browser check's does (--artifacts).
cp artifacts/*signoff-page*.png shot.png
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
r["checks"][0]["artifacts"] = ["shot.png"]
json.dump(r, open(sys.argv[1], "w"))' v9.json
start_serve failed pb.yml --release v9 --auth htpasswd:htpasswd --run-report v9.json || exit 1
login myriam 'pw-myriam-2026' f.jar || fail "cannot sign in"
c=$(code -b f.jar -d "csrf=$csrf&item=support-briefed&action=approve" "$url/decide")
[[ $c == 409 ]] || fail "HTTP $c"
grep -q 'the latest run of release v9 commit 4f2a9c1e7b3d failed (checks: smoke)' body.html || fail "$(cat body.html)"
"$uatrun" history pb.yml --release v9 | grep -q ' approve ' && fail "a decision was recorded for a failed run"

step="the run report: failed expectations and the screenshot"
curl -s -b f.jar "$url/" >v9.html
grep -q 'the var says yes.*expected: <code>&quot;yes&quot;</code><br>actual: <code>&quot;no&quot;</code>' v9.html ||
  fail "no expected vs actual: $(cat v9.html)"
grep -q '<img class="shot" alt="screenshot" src="/artifact/0">' v9.html || fail "no screenshot"
c=$(code -b f.jar "$url/artifact/0")
[[ $c == 200 ]] && cmp -s body.html shot.png || fail "artifact 0: HTTP $c"
for bad in 1 -1 x ../pb.yml %2e%2e/pb.yml; do
  c=$(code -b f.jar "$url/artifact/$bad")
  [[ $c == 404 ]] || fail "artifact $bad: HTTP $c"
done
c=$(code "$url/artifact/0")
[[ $c == 403 ]] || fail "an artifact without signing in: HTTP $c"
step="a report of another run is not shown"
start_serve other pb.yml --auth htpasswd:htpasswd --run-report v9.json || exit 1
login nesserine 'pw-nesserine-2026' o.jar || fail "cannot sign in"
curl -s -b o.jar "$url/" >other.html
grep -q 'the run report (--run-report) is of another run than the latest one recorded' other.html ||
  fail "no note: $(cat other.html)"
grep -q 'expected: <code>' other.html && fail "v9's report shown for v4.6.3"
c=$(code -b o.jar "$url/artifact/0")
[[ $c == 404 ]] || fail "another run's artifact: HTTP $c"

step="gate.require_signatures: the page holds nobody's key, so it does not sign"
sed -e 's/^ledger: ledger.db/ledger: signed.db/' -e 's/^  distinct_signers: true/  distinct_signers: true\n  require_signatures: true\n  allowed_signers: allowed_signers/' pb.yml >signed.yml
: >allowed_signers
"$uatrun" run signed.yml >/dev/null 2>&1 || fail "the run of signed.yml"
start_serve signed signed.yml --auth htpasswd:htpasswd || exit 1
login myriam 'pw-myriam-2026' s.jar || fail "cannot sign in"
grep -q 'accepts only SSH-signed decisions' <(curl -s -b s.jar "$url/") || fail "no notice on the page"
c=$(code -b s.jar -d "csrf=$csrf&item=support-briefed&action=approve" "$url/decide")
[[ $c == 409 ]] || fail "HTTP $c"
"$uatrun" history signed.yml | grep -q ' approve ' && fail "an unsigned decision was recorded"

step="no ledger file yet: the page opens, and signing is allowed with signoff's note"
UATRUN_LEDGER=$work/fresh/ledger.db start_serve fresh pb.yml --auth htpasswd:htpasswd || exit 1
[[ -e fresh/ledger.db ]] && fail "showing the page created the ledger"
login matis 'pw-matis-2026' fr.jar || fail "cannot sign in"
grep -q 'id="signing-note">note: no automated run recorded yet for release v4.6.3' <(curl -s -b fr.jar "$url/") ||
  fail "no note"
c=$(code -b fr.jar -d "csrf=$csrf&item=product-ok&action=approve" "$url/decide")
[[ $c == 200 ]] || fail "HTTP $c: $(cat body.html)"
[[ -s fresh/ledger.db ]] || fail "no ledger written"

step="every page stops on SIGTERM, cleanly (and, in the sanitizer build, without a report)"
for p in "${pids[@]}"; do
  kill -TERM "$p" 2>/dev/null
  wait "$p"
  rc=$?
  [[ $rc == 0 ]] || fail "a serve process exited $rc"
done
pids=()
for f in *.out; do
  grep -q 'Sanitizer\|runtime error' "$f" && fail "$f: $(cat "$f")"
done

echo "test_serve.sh: $failures failure(s)"
((failures == 0))
