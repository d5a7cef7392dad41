#!/usr/bin/env bash
# A release from first run to open gate, through the commands people and CI
# use: run, signoff (without a terminal), gate, status, history, verify-ledger.
# Each step asserts the exit code and the words printed.
#
#   test_gate_flow.sh UATRUN
set -uo pipefail

uatrun=$(realpath "$1")
# The tamper steps edit the ledger with these; a missing one fails the test instead of
# skipping the steps (scripts/deps.sh installs them).
for tool in sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "test_gate_flow.sh: $tool is needed (scripts/deps.sh installs it)" >&2; exit 2; }
done
python3 -c 'import sqlite3' || { echo "test_gate_flow.sh: python3 lacks its sqlite3 module" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

write_playbook() { # support item text
  cat >pb.yml <<EOF
name: Gate flow
target:
  base_url: http://127.0.0.1:9
secrets: { tm_token: TM_TOKEN }
vars: { mode: pass, token: none }
checks:
  - id: smoke
    run: |
      expect.eq(vars.mode, "pass", "the mode is pass")
  - id: second
    with: { project: "\${PROJECT:-1}" }
    run: |
      expect.truthy(true, "always")
signoffs:
  - id: support-briefed
    role: support
    text: $1
  - id: product-ok
    role: product
    text: Product accepts the release
roles:
  support: [nesserine, myriam]
  product: [matis, myriam]
gate:
  signoff_max_age: 72h
  distinct_signers: true
ledger: state/ledger.db
EOF
}
write_playbook "Support knows what moved"

export NO_COLOR=1 TM_TOKEN=s3cr3t-t0ken-value
unset UATRUN_USER UATRUN_LEDGER UATRUN_RELEASE UATRUN_COMMIT GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG
R=(--release v4.6.3 --commit 1a2b3c4d5e6f70)

failures=0 step=
# run NAME EXPECTED_EXIT ARGS... : runs uatrun with stdin closed, keeps stdout+stderr in $out.
run() {
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

run "gate without release" 2 gate pb.yml --no-run
has "--release" "--commit"

run "status before anything ran" 1 status pb.yml "${R[@]}"
has "GATE CLOSED — the checks have not run for this release and commit" \
  "run the checks: uatrun run pb.yml --release v4.6.3 --commit 1a2b3c4d5e6f70"

run "failing run" 1 run pb.yml "${R[@]}" --var mode=fail
run "signing after a failed run" 1 signoff pb.yml "${R[@]}" --role support \
  --item support-briefed --approve --by myriam
has "the latest run of release v4.6.3 commit 1a2b3c4d5e6f failed (checks: smoke)" \
  "uatrun run pb.yml --release v4.6.3 --commit 1a2b3c4d5e6f70"

run "gate --no-run after a failed run" 1 gate pb.yml "${R[@]}" --no-run
has "GATE CLOSED — checks failed" "1 of 2 checks did not pass" "smoke" \
  "To sign, once the checks pass (signing is refused while they fail):"
lacks "To sign:"

run "passing run" 0 run pb.yml "${R[@]}"
has "ledger head: "

run "waiting for people" 3 gate pb.yml "${R[@]}" --no-run --report-json gate.json
has "GATE CLOSED — waiting for 2 sign-offs" "all 2 checks passed" \
  "support-briefed  support: not signed yet" "may sign: nesserine, myriam" \
  "uatrun signoff pb.yml --release v4.6.3 --commit 1a2b3c4d5e6f70 --role support" \
  "--role product --item product-ok --approve --by NAME"
out=$(cat gate.json)
step="gate JSON while waiting"
has '"state": "closed"' '"verdict": "waiting"' '"exit_code": 3' '"state": "missing"' \
  '"allowed_signers": [' '"ran_now": false'

run "unlisted signer" 2 signoff pb.yml "${R[@]}" --role support --item support-briefed \
  --approve --by bob
has "'bob' may not sign for 'support' (allowed: nesserine, myriam)"
run "unknown role" 2 signoff pb.yml "${R[@]}" --role legal --by bob
has "unknown role 'legal'" "support, product"
run "item of another role" 2 signoff pb.yml "${R[@]}" --role support --item product-ok \
  --approve --by myriam
has "item 'product-ok' is signed by role 'product', not 'support'"
run "unknown item" 2 signoff pb.yml "${R[@]}" --role support --item nope --approve --by myriam
has "unknown sign-off item 'nope'" "support-briefed"
run "reject without a reason" 2 signoff pb.yml "${R[@]}" --role support \
  --item support-briefed --reject --by myriam
has "a rejection needs a reason: add --note"
run "no terminal, no item" 2 signoff pb.yml "${R[@]}" --role support --by myriam
has "no terminal to ask on" "--item ID --approve"
run "signoff without release" 2 signoff pb.yml --role support --item support-briefed \
  --approve --by myriam
# The gate compares commits exactly: a short SHA (or other case) would record a sign-off
# that never counts, so it is refused naming the commit the checks ran for.
run "signing with a short SHA" 2 signoff pb.yml --release v4.6.3 --commit 1a2b3c4 \
  --role support --item support-briefed --approve --by myriam
has "the checks of release v4.6.3 ran for commit 1a2b3c4d5e6f70" "sign with --commit 1a2b3c4d5e6f70"
run "signing with an upper-case SHA" 2 signoff pb.yml --release v4.6.3 \
  --commit 1A2B3C4D5E6F70 --role support --item support-briefed --approve --by myriam
has "sign with --commit 1a2b3c4d5e6f70"
step="nothing recorded by refused sign-offs"
out=$("$uatrun" history pb.yml)
lacks "approve" "reject"

run "support approves" 0 signoff pb.yml "${R[@]}" --role support --item support-briefed \
  --approve --note "briefed on Monday" --by myriam
has "recorded: approve support-briefed by myriam for v4.6.3 (1a2b3c4d5e6f)" "ledger head: "
run "same person for a second role" 2 signoff pb.yml "${R[@]}" --role product --item product-ok \
  --approve --by myriam
has "'myriam' already signed for 'support' (support-briefed)" "gate.distinct_signers"
run "waiting for one" 3 status pb.yml "${R[@]}"
has "waiting for 1 sign-off" "may sign: matis (not myriam, who signed for support; each role needs a different person)"
UATRUN_USER=matis run "product approves (UATRUN_USER)" 0 signoff pb.yml "${R[@]}" \
  --role product --item product-ok --approve

run "gate open" 0 gate pb.yml "${R[@]}" --no-run --report-json open.json
has "GATE OPEN — release v4.6.3 (commit 1a2b3c4d5e6f) may be deployed"
lacks "To sign:"
out=$(cat open.json)
step="gate JSON when open"
has '"state": "open"' '"exit_code": 0' '"signer": "matis"' '"note": "briefed on Monday"'

run "another commit needs its own sign-offs" 1 status pb.yml --release v4.6.3 --commit ffff999
has "the checks have not run"

run "a later rejection beats the approval" 0 signoff pb.yml "${R[@]}" --role support \
  --item support-briefed --reject --note "the invitations screen moved" --by nesserine
run "gate after the rejection" 1 gate pb.yml "${R[@]}" --no-run
has "GATE CLOSED — rejected by nesserine (support): the invitations screen moved"

run "history, newest first" 0 history pb.yml
first=$(printf '%s\n' "$out" | head -1)
[[ $first == *"reject"*"support-briefed"*"by nesserine"* ]] || fail "newest first: '$first'"
has "passed (all 2 checks)" "failed (1 of 2 checks did not pass: smoke)"
run "history --limit" 0 history pb.yml --limit 2
[[ $(printf '%s\n' "$out" | wc -l) -eq 2 ]] || fail "--limit 2 printed more"
run "history of another release" 0 history pb.yml --release v9
has "nothing recorded yet for 'Gate flow' release v9"

run "verify the ledger" 0 verify-ledger pb.yml
has "ledger OK: " "head "
head=$(printf '%s\n' "$out" | sed -n 's/.*head \([0-9a-f]\{64\}\).*/\1/p')
run "verify with the head printed by the last write" 0 verify-ledger pb.yml --head "$head"
run "verify with a head that is not in the chain" 4 verify-ledger pb.yml \
  --head 0000000000000000000000000000000000000000000000000000000000000001

run "the genesis value is not a head" 2 verify-ledger pb.yml \
  --head 0000000000000000000000000000000000000000000000000000000000000000
has "is not a chain head: 64 zeros stand before the first row"
run "a mistyped head is a bad option, not a broken ledger" 2 verify-ledger pb.yml \
  --head " $head"
has "is not a chain head: give the 64 hex digits"

write_playbook "Support knows what moved, and where"
run "a changed playbook needs a new run and new sign-offs" 1 gate pb.yml "${R[@]}" --no-run
has "GATE CLOSED — the playbook changed since the checks last ran" \
  "approved by matis for an earlier version of the playbook; the checks changed, sign again" \
  "support: rejected by nesserine"

run "gate runs the checks itself; the rejection outlives the playbook change" 1 gate pb.yml \
  "${R[@]}" --report-junit gate.xml --report-json run.json
has "recorded run" "GATE CLOSED — rejected by nesserine (support): the invitations screen moved" \
  "the checks changed, sign again"
[[ -s gate.xml ]] || fail "no JUnit report"
out=$(cat run.json)
step="gate JSON with a run: the run's report plus the verdict"
has '"checks": [' '"gate": {' '"ran_now": true' '"state": "stale_digest"'
run "gate refuses --only" 2 gate pb.yml "${R[@]}" --only smoke
has "--only"

run "a note holding a secret" 0 signoff pb.yml "${R[@]}" --role product --item product-ok \
  --reject --note "login with s3cr3t-t0ken-value fails" --by matis
run "notes are redacted" 0 history pb.yml --limit 1
has "login with *** fails"
lacks "s3cr3t-t0ken-value"
run "redacted in the gate too" 1 gate pb.yml "${R[@]}" --no-run --report-json red.json
has "(and 1 more rejection)" 'rejected by matis on' '"login with *** fails"'

out=$(cat red.json)
lacks "s3cr3t-t0ken-value"

run "a run against another target" 0 run pb.yml "${R[@]}" --base-url http://127.0.0.1:1
run "is not trusted by gate --no-run" 1 gate pb.yml "${R[@]}" --no-run
has "the checks last ran against another target or with other values (--var, \${VAR})" \
  "run the checks again against this target and vars"
run "a run against the playbook's target" 0 run pb.yml "${R[@]}"
run "is not trusted for other --var values" 1 gate pb.yml "${R[@]}" --no-run --var mode=other
has "checked another target or with other values"
# The command to fix a stale run repeats the target and vars, or it would record another
# stale run; the values are redacted like everything uatrun prints.
run "the fix repeats --base-url and --var" 1 gate pb.yml "${R[@]}" --no-run \
  --base-url http://127.0.0.1:2 --var mode=pass --var "token=s3cr3t-t0ken-value"
has "uatrun run pb.yml --release v4.6.3 --commit 1a2b3c4d5e6f70 --base-url http://127.0.0.1:2 --var mode=pass --var 'token=***'"
lacks "s3cr3t-t0ken-value"
# What \${VAR} expansion changes is part of what was checked, like --var.
PROJECT=2 run "a run with another \${PROJECT} in with:" 0 run pb.yml "${R[@]}"
run "is not trusted by gate --no-run without it" 1 gate pb.yml "${R[@]}" --no-run
has "the checks last ran against another target or with other values"
run "a run with a --base-url override" 0 run pb.yml "${R[@]}" --base-url http://127.0.0.1:2
run "signing after it" 0 signoff pb.yml "${R[@]}" --role support --item support-briefed \
  --approve --by myriam
lacks "earlier version of the playbook"
run "status takes the same --base-url as the gate" 1 status pb.yml "${R[@]}" \
  --base-url http://127.0.0.1:2
has "GATE CLOSED — rejected by"
lacks "another target"
run "status without it sees another target" 1 status pb.yml "${R[@]}"
has "the checks last ran against another target or with other values (--var, \${VAR})"

if command -v sqlite3 >/dev/null; then
  cp state/ledger.db pristine.db
  sqlite3 state/ledger.db "DROP TRIGGER entries_no_update;
    UPDATE entries SET approve = 1 WHERE seq = (SELECT max(seq) FROM entries WHERE approve = 0);"
  run "the gate checks the chain first" 4 gate pb.yml "${R[@]}" --no-run
  has "state/ledger.db" "restore the ledger from a backup"
  lacks "GATE OPEN"
  run "status too" 4 status pb.yml "${R[@]}"
  run "and signoff" 4 signoff pb.yml "${R[@]}" --role support --item support-briefed \
    --approve --by myriam
  run "history shows the rows but says they cannot be trusted" 4 history pb.yml
  has "restore the ledger from a backup" "the history above cannot be trusted" "  approve  "
  cp pristine.db state/ledger.db
  rm -f state/ledger.db-wal state/ledger.db-shm
fi

# A ledger written by an older uatrun may hold a note with control characters (its prompt let
# them through): gate and history print it escaped, so it cannot rewrite the headline.
if command -v python3 >/dev/null && python3 -c 'import sqlite3' 2>/dev/null; then
  python3 - state/ledger.db <<'PY'
import hashlib, json, re, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
seq, prev, digest = db.execute(
    "SELECT seq, hash, (SELECT digest FROM entries WHERE kind = 'decision' LIMIT 1)"
    " FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
def dump(o):  # jansson's JSON_COMPACT | JSON_SORT_KEYS
    text = json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), text)
row = {"seq": seq + 1, "kind": "decision", "time": 1795168920, "playbook": "Gate flow",
       "digest": digest, "release": "v4.6.3", "commit": "1a2b3c4d5e6f70", "role": "support",
       "item": "support-briefed", "signer": "nesserine", "approve": 0, "passed": None,
       "payload": dump({"note": "old\r\033[2KGATE OPEN", "run_seq": 0})}
h = hashlib.sha256((prev + "\n" + dump(row)).encode()).hexdigest()
cols = list(row) + ["prev_hash", "hash"]
db.execute("INSERT INTO entries(%s) VALUES (%s)" % (
    ", ".join("commit_sha" if c == "commit" else c for c in cols), ", ".join("?" * len(cols))),
    list(row.values()) + [prev, h])
db.commit()
PY
  run "a forged-by-an-older-version note still verifies" 0 verify-ledger pb.yml
  run "the gate escapes a recorded control character" 1 gate pb.yml "${R[@]}" --no-run \
    --base-url http://127.0.0.1:2
  has 'GATE CLOSED — rejected by nesserine (support): old\x0d\x1b[2KGATE OPEN'
  [[ $out != *$'\033'* && $out != *$'\r'* ]] || fail "ESC or CR printed raw"
  run "history escapes it too" 0 history pb.yml --limit 1
  has '"old\x0d\x1b[2KGATE OPEN"'
  [[ $out != *$'\033'* && $out != *$'\r'* ]] || fail "ESC or CR printed raw"
fi

printf 'this is not a database, it only has a name like one\n' >broken.db
export UATRUN_LEDGER=$work/broken.db
run "status on an unreadable ledger" 4 status pb.yml "${R[@]}"
has "broken.db"
run "signoff on an unreadable ledger" 4 signoff pb.yml "${R[@]}" --role support \
  --item support-briefed --approve --by myriam
run "history on an unreadable ledger" 4 history pb.yml
run "verify an unreadable ledger" 4 verify-ledger pb.yml
export UATRUN_LEDGER=$work/none/ledger.db
run "history before any ledger exists" 0 history pb.yml
has "nothing recorded yet"
run "verify before any ledger exists" 4 verify-ledger pb.yml
unset UATRUN_LEDGER

if ((failures)); then
  echo "gate flow: $failures failure(s)"
  exit 1
fi
echo "gate flow: all steps passed"
