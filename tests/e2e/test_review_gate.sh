#!/usr/bin/env bash
# Review of the gate: multi-step attempts to open a gate that must stay closed, to close
# one wrongly, or to lose ledger data. Steps marked "BUG:" describe a problem found in
# review (now fixed); the others pin down behaviour that held.
#
#   test_review_gate.sh UATRUN
set -uo pipefail

uatrun=$(realpath "$1")
# The tamper steps edit the ledger with it; if missing, fail the test instead of
# skipping the steps (scripts/deps.sh installs it).
command -v sqlite3 >/dev/null || { echo "test_review_gate.sh: sqlite3 is needed (scripts/deps.sh installs it)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

write_playbook() { # extra line appended (a comment, or nothing)
  cat >pb.yml <<EOF
name: Review gate
target:
  base_url: http://127.0.0.1:9
vars: { mode: pass }
checks:
  - id: smoke
    run: |
      expect.eq(vars.mode, "pass", "the mode is pass")
  - id: second
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
  support: [nesserine, myriam]
  product: [matis, myriam]
gate:
  signoff_max_age: ${MAX_AGE:-72h}
  distinct_signers: true
ledger: state/ledger.db
${1:-}
EOF
}
write_playbook

export NO_COLOR=1
unset UATRUN_USER UATRUN_LEDGER UATRUN_RELEASE UATRUN_COMMIT GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG
unset UATRUN_CHECKLISTS

failures=0 step=
run() { # NAME EXPECTED_EXIT ARGS...
  step=$1 want=$2
  shift 2
  out=$("$uatrun" "$@" </dev/null 2>&1)
  local rc=$?
  [[ $rc -eq $want ]] || fail "exit code $rc, expected $want"
}
fail() {
  echo "FAIL: $step: $*"
  printf '%s\n' "$out" | sed 's/^/    /' | head -30
  failures=$((failures + 1))
}
has() { for want; do [[ $out == *"$want"* ]] || fail "output lacks '$want'"; done; }
lacks() { for bad; do [[ $out != *"$bad"* ]] || fail "output has '$bad'"; done; }
approve_both() { # release commit
  "$uatrun" signoff pb.yml --release "$1" --commit "$2" --role support --item support-briefed \
    --approve --by myriam >/dev/null 2>&1
  "$uatrun" signoff pb.yml --release "$1" --commit "$2" --role product --item product-ok \
    --approve --by matis >/dev/null 2>&1
}

# ---- what held up ----

R=(--release v1 --commit c1)
run "passing run" 0 run pb.yml "${R[@]}"
approve_both v1 c1
run "open" 0 gate pb.yml "${R[@]}" --no-run
run "approvals of v1 do not count for another release" 1 status pb.yml --release v2 --commit c1
run "nor for another commit" 1 status pb.yml --release v1 --commit c2
"$uatrun" run pb.yml --release v2 --commit c1 >/dev/null 2>&1
run "a run of v2 without its own sign-offs waits" 3 status pb.yml --release v2 --commit c1
has "waiting for 2 sign-offs"

run "partial run after a full passing run" 0 run pb.yml "${R[@]}" --only second
run "the gate needs every check" 1 gate pb.yml "${R[@]}" --no-run
has "not every check ran" "covered only 1 of the 2 checks"
run "failing run right after (same second)" 1 run pb.yml "${R[@]}" --var mode=fail
run "latest run wins, by row order" 1 gate pb.yml "${R[@]}" --no-run
has "checks failed"
run "passing run again" 0 run pb.yml "${R[@]}"
run "open again" 0 gate pb.yml "${R[@]}" --no-run

run "a later rejection" 0 signoff pb.yml "${R[@]}" --role support --item support-briefed \
  --reject --note "menu moved" --by nesserine
run "beats the approval" 1 gate pb.yml "${R[@]}" --no-run
has "rejected by nesserine (support): menu moved"
run "a later approval" 0 signoff pb.yml "${R[@]}" --role support --item support-briefed \
  --approve --by nesserine
run "beats the rejection" 0 gate pb.yml "${R[@]}" --no-run

# The wiring of signoff_max_age (gate.c's own tests cover the boundary at a fixed "now"):
# approvals older than 1s, two seconds later, whatever the machine's speed. That fresh
# approvals count is what every other step of this script shows under the default 72h.
MAX_AGE=1s write_playbook
R=(--release v3 --commit c3)
"$uatrun" run pb.yml "${R[@]}" >/dev/null 2>&1
approve_both v3 c3
sleep 2
run "expired under signoff_max_age 1s two seconds later" 3 status pb.yml "${R[@]}"
has "approvals count for 1s only: sign again"
write_playbook

R=(--release v4 --commit c4)
"$uatrun" run pb.yml "${R[@]}" >/dev/null 2>&1
pids=()
for i in $(seq 20); do
  "$uatrun" signoff pb.yml "${R[@]}" --role support --item support-briefed --approve \
    --by myriam --note "n$i" >/dev/null 2>&1 &
  pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
step="20 concurrent sign-offs"
out=
((bad == 0)) || fail "$bad of 20 failed"
run "the chain is intact after 20 concurrent writers" 0 verify-ledger pb.yml
out=$("$uatrun" history pb.yml --release v4 2>&1)
step="all 20 recorded"
[[ $(grep -c "approve" <<<"$out") -eq 20 ]] || fail "not 20 approvals"

cat >slow.yml <<'EOF'
name: Slow
target: { base_url: "http://127.0.0.1:9" }
checks:
  - id: spin
    timeout: 20s
    run: |
      local t = os.clock(); while os.clock() - t < 5 do end
      expect.truthy(true)
ledger: state/ledger.db
EOF
"$uatrun" run slow.yml --release v5 --commit c5 >/dev/null 2>&1 &
p=$!
sleep 1
kill -9 "$p"
wait "$p" 2>/dev/null
run "a run killed mid-way records nothing" 0 history slow.yml --release v5
has "nothing recorded yet"
run "and leaves the chain verifiable" 0 verify-ledger pb.yml

# ---- problems found in review ----

# 1. A rejection is ignored once the playbook digest changes, even when the change is
#    reverted: the earlier approval of the original digest comes back to life.
R=(--release v6 --commit c6)
"$uatrun" run pb.yml "${R[@]}" >/dev/null 2>&1
approve_both v6 c6
write_playbook "# a comment"
"$uatrun" run pb.yml "${R[@]}" >/dev/null 2>&1
run "rejection of the same release and commit" 0 signoff pb.yml "${R[@]}" --role support \
  --item support-briefed --reject --note "invitations screen gone" --by nesserine
run "closes the gate" 1 gate pb.yml "${R[@]}" --no-run
write_playbook # git revert of the comment
run "BUG: reverting the playbook revives the older approval over the later rejection" 1 \
  gate pb.yml "${R[@]}"
has "rejected by nesserine"

# 2. gate --no-run trusts a run made against another target or with overridden vars.
R=(--release v7 --commit c7)
"$uatrun" run pb.yml "${R[@]}" --base-url http://127.0.0.1:1 --var mode=pass >/dev/null 2>&1
approve_both v7 c7
run "BUG: a run with --base-url/--var overrides is trusted by gate --no-run" 1 \
  gate pb.yml "${R[@]}" --no-run

# 3. The gate does not verify the chain: an edited row opens it (verify-ledger says exit 4).
if command -v sqlite3 >/dev/null; then
  R=(--release v8 --commit c8)
  "$uatrun" run pb.yml "${R[@]}" >/dev/null 2>&1
  approve_both v8 c8
  "$uatrun" signoff pb.yml "${R[@]}" --role support --item support-briefed --reject \
    --note "menu moved" --by nesserine >/dev/null 2>&1
  cp state/ledger.db pristine.db
  sqlite3 state/ledger.db "DROP TRIGGER entries_no_update;
    UPDATE entries SET approve = 1 WHERE seq = (SELECT max(seq) FROM entries);"
  run "verify-ledger sees the edit" 4 verify-ledger pb.yml
  run "BUG: the gate opens on the edited ledger" 4 gate pb.yml "${R[@]}" --no-run
  run "BUG: status too" 4 status pb.yml "${R[@]}"
  cp pristine.db state/ledger.db
  rm -f state/ledger.db-wal state/ledger.db-shm
fi

# 4. A run without a release is recorded as release "unknown", commit "unknown"; naming
#    them explicitly lets sign-offs approve it and the gate open.
"$uatrun" run pb.yml >/dev/null 2>&1
run "BUG: signing for release 'unknown'" 2 signoff pb.yml --release unknown --commit unknown \
  --role support --item support-briefed --approve --by myriam
run "BUG: gating release 'unknown'" 2 gate pb.yml --release unknown --commit unknown --no-run

# 5. A note is printed raw: control characters rewrite the gate's headline on a terminal.
R=(--release v9 --commit c9)
"$uatrun" run pb.yml "${R[@]}" >/dev/null 2>&1
approve_both v9 c9
run "a note with control characters is refused" 2 signoff pb.yml "${R[@]}" --role support \
  --item support-briefed --reject --by nesserine \
  --note $'broken\r\033[2KGATE OPEN \xe2\x80\x94 release v9 (commit c9) may be deployed'
run "the refused note recorded nothing: the gate stays open" 0 gate pb.yml "${R[@]}" --no-run
run "history" 0 history pb.yml --release v9 --limit 1
step="no raw control characters in history output"
[[ $out != *$'\033'* && $out != *$'\r'* ]] || fail "ESC or CR printed raw"

# 6. A bundled module required through a computed name is not in the digest.
bundled=$(dirname "$uatrun")/../checklists
[[ -f $bundled/pagination.lua ]] || bundled=$(dirname "$uatrun")/../../checklists
if [[ -f $bundled/pagination.lua ]]; then
  mkdir -p bund
  cp "$bundled"/*.lua bund/
  cat >dyn.yml <<'EOF'
name: Dynamic require
target: { base_url: "http://127.0.0.1:9" }
checks:
  - id: b
    run: |
      local name = "pagi" .. "nation"
      expect.truthy(require(name))
ledger: state/dyn.db
EOF
  digest() {
    UATRUN_CHECKLISTS=$work/bund "$uatrun" status dyn.yml --release v1 --commit c1 \
      --report-json d.json >/dev/null 2>&1
    sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p' d.json | head -1
  }
  before=$(digest)
  echo "-- changed" >>bund/pagination.lua
  after=$(digest)
  step="BUG: a changed bundled module required by a computed name changes the digest"
  out="before $before after $after"
  [[ -n $before && $before != "$after" ]] || fail "digest unchanged"
fi

if ((failures)); then
  echo "review gate: $failures failure(s)"
  exit 1
fi
echo "review gate: all steps passed"
