#!/usr/bin/env bash
# --quiet on every command that prints: run, signoff, status, gate, history, verify-ledger.
# Each command runs twice, with and without --quiet: the exit code must be the same, the
# quiet stdout short (only what is wrong, the verdict, and the ledger head after a write),
# and errors still reach stderr.
#
#   test_quiet.sh UATRUN
set -uo pipefail

uatrun=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

cat >pb.yml <<'EOF'
name: Quiet flow
target: { base_url: "http://127.0.0.1:9" }
vars: { mode: pass }
checks:
  - id: smoke
    run: expect.eq(vars.mode, "pass", "the mode is pass")
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
EOF

export NO_COLOR=1
unset UATRUN_USER UATRUN_LEDGER UATRUN_RELEASE UATRUN_COMMIT GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG
R=(--release v1.0.0 --commit 0123456789abcdef)
HEAD_RE='^ledger head: [0-9a-f]{64}$'

failures=0 step=
out='' err='' rc=''
fail() {
  echo "FAIL: $step: $*"
  printf '%s\n' "--- stdout:" "$out" "--- stderr:" "$err" | sed 's/^/    /'
  failures=$((failures + 1))
}
# call ARGS... : runs uatrun with stdin closed; sets $out, $err, $rc.
call() {
  out=$("$uatrun" "$@" </dev/null 2>"$work/.err")
  rc=$?
  err=$(cat "$work/.err")
}
# both NAME EXIT ARGS... : runs ARGS without, then with --quiet (kept in $out, $err); both
# must exit EXIT, and the quiet stdout must be shorter, or as short, as the plain one.
both() {
  step=$1
  local want=$2
  shift 2
  call "$@"
  [[ $rc -eq $want ]] || fail "without --quiet: exit code $rc, expected $want"
  local loud_lines
  loud_lines=$(printf '%s' "$out" | grep -c '')
  call "$@" --quiet
  [[ $rc -eq $want ]] || fail "with --quiet: exit code $rc, expected $want"
  local lines
  lines=$(printf '%s' "$out" | grep -c '')
  ((lines <= loud_lines)) || fail "--quiet printed $lines lines, more than the $loud_lines without it"
}
lines_are() { # N: the quiet stdout has exactly N lines
  local n
  n=$(printf '%s' "$out" | grep -c '')
  [[ $n -eq $1 ]] || fail "stdout has $n lines, expected $1"
}
has() { for want; do [[ $out == *"$want"* ]] || fail "stdout lacks '$want'"; done; }
lacks() { for bad; do [[ $out != *"$bad"* ]] || fail "stdout has '$bad'"; done; }
err_has() { for want; do [[ $err == *"$want"* ]] || fail "stderr lacks '$want'"; done; }

both "history before anything was recorded" 0 history pb.yml
lines_are 0

both "status before anything ran" 1 status pb.yml "${R[@]}"
has "GATE CLOSED — the checks have not run" "run the checks: uatrun run pb.yml"
lacks "Quiet flow — release"

both "passing run" 0 run pb.yml "${R[@]}"
has "1 passed" "RESULT: PASS"
lacks "✓" "recorded run"
[[ $(printf '%s\n' "$out" | tail -1) =~ $HEAD_RE ]] || fail "the last line is not the ledger head"

both "status waiting for people" 3 status pb.yml "${R[@]}"
has "GATE CLOSED — waiting for 2 sign-offs" "support-briefed  support: not signed yet" \
  "may sign: nesserine" "--role product --item product-ok --approve --by NAME"
lacks "✓" "all 1 check passed" "Quiet flow — release"

# The plain signoff records the support item; the quiet one then records it again (a
# later decision), so both write and both print the new head.
both "approving one item" 0 signoff pb.yml "${R[@]}" --role support --item support-briefed \
  --approve --by nesserine
lines_are 1
[[ $out =~ $HEAD_RE ]] || fail "stdout is not the ledger head alone"
signed_head=${out#ledger head: }

both "status with one item signed" 3 status pb.yml "${R[@]}"
has "GATE CLOSED — waiting for 1 sign-off" "product-ok"
lacks "support-briefed" "✓"

both "gate with one item signed" 3 gate pb.yml "${R[@]}" --no-run
has "GATE CLOSED — waiting for 1 sign-off" "product-ok"
lacks "support-briefed" "✓"

both "verify-ledger" 0 verify-ledger pb.yml
lines_are 1
[[ $out == "ledger head: $signed_head" ]] || fail "stdout is not the head the signoff printed"

both "verify-ledger against the recorded head" 0 verify-ledger pb.yml --head "$signed_head"
lines_are 1
lacks "is in the chain"

both "verify-ledger against a head it never had" 4 verify-ledger pb.yml --head "$(printf 'f%.0s' {1..64})"
lines_are 0
[[ -n $err ]] || fail "the ledger error did not reach stderr"

both "a mistyped head" 2 verify-ledger pb.yml --head nothex
lines_are 0
[[ -n $err ]] || fail "the usage error did not reach stderr"

both "history with only passes and approvals" 0 history pb.yml
lines_are 0

step="a rejection and a failing run"
call signoff pb.yml "${R[@]}" --role product --item product-ok --reject --note "menu moved" --by matis
[[ $rc -eq 0 ]] || fail "reject: exit code $rc"
call run pb.yml "${R[@]}" --var mode=fail
[[ $rc -eq 1 ]] || fail "failing run: exit code $rc"

both "history keeps what went wrong" 0 history pb.yml
lines_are 2
has "failed (1 of 1 check did not pass: smoke)" "reject" "product-ok" "menu moved"
lacks "approve" "passed ("

both "gate after a failed run" 1 gate pb.yml "${R[@]}" --no-run
has "GATE CLOSED — checks failed" "To fix the checks:"
lacks "✓"

both "signing while the checks fail" 1 signoff pb.yml "${R[@]}" --role support \
  --item support-briefed --approve --by nesserine
lines_are 0
err_has "failed (checks: smoke)"

both "status without a release" 2 status pb.yml
lines_are 0
err_has "--release"

if ((failures)); then
  echo "test_quiet.sh: $failures failure(s)"
  exit 1
fi
echo "test_quiet.sh: all steps passed"
