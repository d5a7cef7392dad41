#!/usr/bin/env bash
# The terminal report on a real pseudo-terminal (util-linux `script`): colours and the
# progress line on a capable terminal; no escape sequence at all with TERM=dumb (Emacs
# shells, some CI log viewers print them raw); no colour with NO_COLOR or --no-color;
# nothing but text when stdout is not a terminal.
#
#   test_term_modes.sh UATRUN
set -uo pipefail

uatrun=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

cat >pb.yml <<'YAML'
name: Terminal modes
target: { base_url: "http://127.0.0.1:9" }
ledger: ledger.db
checks:
  - id: passes
    run: expect.truthy(true)
  - id: fails
    run: expect.eq(1, 2, "one is two")
YAML

failed=0
esc=$'\033'
on_tty() { # env... -- args...: uatrun's output on a pseudo-terminal
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  # exec: no shell left between script(1) and uatrun (see test_signoff_prompt.sh)
  env "${envs[@]}" script -qec "exec $(printf '%q ' "$uatrun" "$@")" /dev/null </dev/null
}
check() { # name output want-colour(0/1) want-any-escape(0/1)
  local name=$1 out=$2 colour=0 any=0
  [[ $out == *"${esc}[3"* || $out == *"${esc}[1"* ]] && colour=1
  [[ $out == *"$esc"* ]] && any=1
  [[ $out == *"RESULT: FAIL"* ]] || { echo "FAIL $name: no summary"; failed=1; }
  if [[ $colour != "$3" || $any != "$4" ]]; then
    echo "FAIL $name: colour=$colour (want $3), escape sequences=$any (want $4)"
    printf '%s\n' "$out" | cat -v | head -8
    failed=1
  else
    echo "ok   $name"
  fi
}

check "xterm" "$(on_tty TERM=xterm -- pb.yml)" 1 1
check "TERM=dumb" "$(on_tty TERM=dumb -- pb.yml)" 0 0
check "NO_COLOR" "$(on_tty TERM=xterm NO_COLOR=1 -- pb.yml)" 0 1
check "--no-color" "$(on_tty TERM=xterm -- pb.yml --no-color)" 0 1
check "not a terminal" "$(TERM=xterm "$uatrun" pb.yml 2>&1)" 0 0
check "not a terminal, verbose" "$(TERM=xterm "$uatrun" pb.yml --verbose 2>&1)" 0 0
exit $failed
