#!/usr/bin/env bash
# The interactive sign-off prompt, driven through a real pseudo-terminal
# (util-linux `script`): approve with a note, a rejection without a reason is
# asked again, end of input (Ctrl-D) and Ctrl-C before the confirmation record
# nothing, declining the confirmation records nothing, distinct signers refuse
# an approval. What was recorded is read back with `uatrun history`.
#
#   test_signoff_prompt.sh UATRUN
set -uo pipefail

uatrun=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

cat >pb.yml <<'EOF'
name: Prompt test
target:
  base_url: http://127.0.0.1:9
vars: { mode: pass }
checks:
  - id: smoke
    run: |
      expect.eq(vars.mode, "pass", "the mode is pass")
signoffs:
  - id: support-briefed
    role: support
    text: Support knows what moved in this release
  - id: support-docs
    role: support
    text: The help pages show the new menu, with a screenshot of each step, and the help desk has checked every link in them
  - id: product-ok
    role: product
    text: Product accepts the release
roles:
  support: [nesserine, myriam]
  product: [matis, myriam]
gate:
  distinct_signers: true
ledger: ledger.db
EOF

export UATRUN_RELEASE=v4.6.3 UATRUN_COMMIT=1a2b3c4d5e6f70 NO_COLOR=1 TERM=dumb
unset UATRUN_USER UATRUN_LEDGER

failures=0
fail() {
  echo "FAIL: $scenario: $*"
  echo "----- terminal output -----"
  printf '%s\n' "$screen" | tr -d '\r'
  echo "---------------------------"
  failures=$((failures + 1))
}

# Starts `uatrun ARGS...` on a pseudo-terminal; its output accumulates in $screen.
start() {
  screen=
  local cmd
  printf -v cmd '%q ' "$uatrun" "$@"
  # `exec`: script(1) runs the command through $SHELL -c; a shell left waiting in
  # between (dash, CI's /bin/sh) also takes the Ctrl-C and dies of it (exit 130),
  # hiding uatrun's own exit code.
  coproc PTY { script -qfec "exec $cmd" /dev/null 2>&1; }
  exec {pty_out}<&"${PTY[0]}" {pty_in}>&"${PTY[1]}"
  pty_pid=$PTY_PID
}

# Waits (5 s at most) until the terminal shows TEXT.
expect_screen() {
  local c
  while [[ $screen != *"$1"* ]]; do
    if ! IFS= read -r -t 5 -N 1 c <&"$pty_out"; then
      fail "timed out waiting for '$1'"
      return 1
    fi
    screen+=$c
  done
}

# Waits for PROMPT, then types TEXT (a line unless it is a control character).
answer() {
  expect_screen "$1" || return 1
  printf '%b' "$2" >&"$pty_in"
}

# Reads the rest of the output and the exit code into $status.
finish() {
  local c
  exec {pty_in}>&-
  while IFS= read -r -t 5 -N 1 c <&"$pty_out"; do screen+=$c; done
  exec {pty_out}<&-
  wait "$pty_pid"
  status=$?
}

expect_status() {
  [[ $status -eq $1 ]] || fail "exit code $status, expected $1"
}

expect_line() {
  [[ $screen == *"$1"* ]] || fail "the terminal did not show '$1'"
}

decisions() {
  "$uatrun" history pb.yml | grep -cE '  (approve|reject) ' || true
}

ASK='Approve, reject or skip? [a/r/s] '
NOTE='Note (optional, press Enter for none): '
WHY='Why do you reject it? (required): '
CONFIRM='? [y/N] '

"$uatrun" run pb.yml >run.log 2>&1 || {
  echo "FAIL: the setup run did not pass"
  cat run.log
  exit 1
}

scenario="end of input before confirming"
start signoff pb.yml --role support --by myriam
expect_screen 'Sign-off for "Prompt test"'
expect_screen 'release:  v4.6.3'
expect_screen 'checks:   the one check passed'
answer "$ASK" 'a\n'
answer "$NOTE" 'looks fine\n'
answer "[2/2] support-docs" ''
# A long item text is broken between words and stays indented (80 columns here).
expect_screen $'      The help pages show the new menu, with a screenshot of each step, and the\r\n      help desk has checked every link in them\r\n      so far:'
answer "$ASK" '\004'
finish
expect_status 2
expect_line "nothing recorded"
[[ $(decisions) -eq 0 ]] || fail "a decision was recorded"

scenario="Ctrl-C before confirming"
start signoff pb.yml --role support --by myriam
answer "$ASK" 'a\n'
answer "$NOTE" '\n'
answer "$ASK" '\003'
finish
expect_status 2
expect_line "stopped: nothing recorded"
[[ $(decisions) -eq 0 ]] || fail "a decision was recorded"

scenario="declining the confirmation"
start signoff pb.yml --role support --by myriam
answer "$ASK" 'a\n'
answer "$NOTE" '\n'
answer "$ASK" 's\n'
answer "Record this 1 decision for release v4.6.3$CONFIRM" 'n\n'
finish
expect_status 2
expect_line "nothing recorded"
[[ $(decisions) -eq 0 ]] || fail "a decision was recorded"

scenario="a note with control characters or bytes that are not UTF-8 is asked again"
start signoff pb.yml --role support --by myriam
answer "$ASK" 'a\n'
answer "$NOTE" 'ok \033[2J\n'
expect_screen 'That note holds control characters'
answer "$NOTE" 'caf\xe9\n'
answer "$NOTE" 'plain words\n'
answer "[2/2] support-docs" ''
answer "$ASK" 's\n'
expect_screen '✓ approve  support-briefed  "plain words"'
answer "Record this 1 decision for release v4.6.3$CONFIRM" 'n\n'
finish
expect_status 2
asked=$(printf '%s' "$screen" | grep -c 'That note holds control characters')
[[ $asked -eq 2 ]] || fail "the note was refused $asked times, expected 2"
[[ $(decisions) -eq 0 ]] || fail "a decision was recorded"

scenario="approve with a note, reject needs a reason"
start signoff pb.yml --role support --by myriam
answer "$ASK" 'maybe\n'
expect_screen 'Please type a to approve, r to reject, or s to skip'
answer "$ASK" 'a\n'
answer "$NOTE" 'walked the team through the new menu\n'
answer "[2/2] support-docs" ''
answer "$ASK" 'r\n'
answer "$WHY" '\n'
expect_screen 'A rejection needs a reason'
answer "$WHY" 'the help page still shows the old menu\n'
expect_screen '✓ approve  support-briefed  "walked the team through the new menu"'
expect_screen '✗ reject   support-docs     "the help page still shows the old menu"'
answer "Record these 2 decisions for release v4.6.3$CONFIRM" 'y\n'
finish
expect_status 0
expect_line "recorded: approve support-briefed by myriam for v4.6.3 (1a2b3c4d5e6f)"
expect_line "recorded: reject support-docs by myriam for v4.6.3 (1a2b3c4d5e6f)"
expect_line "ledger head: "
history=$("$uatrun" history pb.yml)
[[ $(decisions) -eq 2 ]] || fail "expected 2 decisions in history, got: $history"
[[ $history == *'support-briefed  support  by myriam  "walked the team through the new menu"'* ]] ||
  fail "history lacks the approval: $history"
[[ $(printf '%s\n' "$history" | head -1) == *"reject"*"support-docs"* ]] ||
  fail "history is not newest first: $history"

scenario="distinct signers: the same person cannot approve for a second role"
start signoff pb.yml --role product --by myriam
answer "$ASK" 'a\n'
expect_screen "You cannot approve: 'myriam' already signed for 'support' (support-briefed)"
answer "$ASK" 's\n'
finish
expect_status 0
expect_line "nothing to record: you skipped every item"
[[ $(decisions) -eq 2 ]] || fail "a decision was recorded"

scenario="someone not listed under the role"
start signoff pb.yml --role support --by bob
finish
expect_status 2
expect_line "'bob' may not sign for 'support' (allowed: nesserine, myriam)"

if ((failures)); then
  echo "signoff prompt: $failures failure(s)"
  exit 1
fi
echo "signoff prompt: all scenarios passed"
