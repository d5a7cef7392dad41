#!/usr/bin/env bash
# Runs the end-to-end cases: each file in CASES_DIR describes files to create,
# a uatrun command line, its environment, and what must come out of it
# (exit code, lines of output, report contents) — curl's tests/data habit.
#
#   run_cases.sh UATRUN TEST_SERVER CASES_DIR [CASE_NAME...]
#
# Case file sections (a line "--- NAME [ARG]" starts one):
#   --- file PATH        content of a file in the case's folder
#   --- args             the uatrun arguments, one line, split by the shell
#   --- env              KEY=VALUE lines added to the environment
#   --- stdin            text given on standard input (default: none)
#   --- exit N           the expected exit code
#   --- stdout / stderr  lines that must each appear (substring) in that stream
#   --- absent           lines that must appear in neither stream
#   --- contains PATH    lines that must each appear in the file PATH afterwards
#   --- lacks PATH       lines that must not appear in the file PATH
#   --- missing PATH     PATH must not exist afterwards
# In every section @PORT@ is the test server's port, @DEAD@ a port where
# nothing listens, @DIR@ the case's folder.
set -uo pipefail

abs() { [[ $1 == /* ]] && echo "$1" || echo "$PWD/$1"; }
uatrun=$(abs "$1") server=$(abs "$2") cases=$(abs "$3")
shift 3
only=("$@")

work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$server" --port 0 --port-file "$work/port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.05; done
port=$(cat "$work/port" 2>/dev/null)
[[ -n $port ]] || { echo "e2e: test server did not start"; cat "$work/server.log"; exit 1; }
# A port nobody listens on: bind-and-release is racy, so use a port of the
# reserved range below 1024 that the test machine does not serve.
dead=9

passed=0 failed=0 failures=()

# Prints section ARG of case file: lines after "--- NAME" up to the next "--- ".
section() { # file name [arg]
  awk -v want="--- $2${3:+ $3}" '
    /^--- / { on = ($0 == want); next }
    on { print }' "$1"
}
section_args() { # file name -> the ARG of each "--- NAME ARG" line
  awk -v n="$2" '$1 == "---" && $2 == n { $1 = ""; $2 = ""; sub(/^ +/, ""); print }' "$1"
}
subst() { sed -e "s|@PORT@|$port|g" -e "s|@DEAD@|$dead|g" -e "s|@DIR@|$1|g"; }

run_case() { # case-file
  local file=$1 name dir rc expected msg=()
  name=$(basename "$file")
  dir="$work/$name"
  mkdir -p "$dir"
  while IFS= read -r path; do
    mkdir -p "$dir/$(dirname "$path")"
    section "$file" file "$path" | subst "$dir" >"$dir/$path"
  done < <(section_args "$file" file)
  local args
  args=$(section "$file" args | subst "$dir")
  local -a envs=()
  while IFS= read -r line; do [[ -n $line ]] && envs+=("$line"); done < <(section "$file" env | subst "$dir")
  expected=$(section_args "$file" exit)
  (
    cd "$dir" || exit 99
    section "$file" stdin | subst "$dir" >"$dir/.stdin"
    eval "set -- $args"
    env -u NO_COLOR -u UATRUN_RELEASE -u UATRUN_COMMIT -u GITHUB_SHA -u CI_COMMIT_SHA \
      -u CI_COMMIT_TAG -u UATRUN_LEDGER UATRUN_USER=e2e-user "${envs[@]}" \
      timeout 60 "$uatrun" "$@" <"$dir/.stdin" >"$dir/.stdout" 2>"$dir/.stderr"
  )
  rc=$?
  [[ -z $expected || $rc == "$expected" ]] || msg+=("exit code $rc, expected $expected")
  local stream line
  for stream in stdout stderr; do
    while IFS= read -r line; do
      [[ -z $line ]] && continue
      grep -qF -- "$line" "$dir/.$stream" || msg+=("$stream lacks: $line")
    done < <(section "$file" "$stream" | subst "$dir")
  done
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    if grep -qF -- "$line" "$dir/.stdout" "$dir/.stderr"; then msg+=("output has: $line"); fi
  done < <(section "$file" absent | subst "$dir")
  local path
  while IFS= read -r path; do
    [[ -f $dir/$path ]] || { msg+=("file $path was not written"); continue; }
    while IFS= read -r line; do
      [[ -z $line ]] && continue
      grep -qF -- "$line" "$dir/$path" || msg+=("$path lacks: $line")
    done < <(section "$file" contains "$path" | subst "$dir")
  done < <(section_args "$file" contains)
  while IFS= read -r path; do
    while IFS= read -r line; do
      [[ -z $line ]] && continue
      if grep -qF -- "$line" "$dir/$path" 2>/dev/null; then msg+=("$path has: $line"); fi
    done < <(section "$file" lacks "$path" | subst "$dir")
  done < <(section_args "$file" lacks)
  while IFS= read -r path; do
    [[ -e $dir/$path ]] && msg+=("$path exists but must not")
  done < <(section_args "$file" missing)

  if ((${#msg[@]})); then
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAIL $name — $(head -1 "$file")"
    printf '     %s\n' "${msg[@]}"
    echo "     --- stdout:"; sed 's/^/     | /' "$dir/.stdout" | head -40
    echo "     --- stderr:"; sed 's/^/     | /' "$dir/.stderr" | head -20
  else
    passed=$((passed + 1))
    echo "ok   $name"
  fi
}

for file in "$cases"/*; do
  name=$(basename "$file")
  if ((${#only[@]})); then
    keep=0
    for o in "${only[@]}"; do [[ $name == "$o" ]] && keep=1; done
    ((keep)) || continue
  fi
  run_case "$file"
done

echo
echo "$passed passed, $failed failed"
((failed == 0)) || { echo "failed cases: ${failures[*]}"; exit 1; }
