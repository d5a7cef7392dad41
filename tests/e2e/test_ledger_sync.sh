#!/usr/bin/env bash
# examples/ci/ledger-sync.sh against a fake object store: a local folder behind a fake `aws`
# that speaks `aws s3 cp` (and its 404 message), so every path of pull and push runs for real
# with the built uatrun.
#
#   test_ledger_sync.sh UATRUN LEDGER_SYNC
set -uo pipefail

uatrun=$(realpath "$1")
sync=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

mkdir bin store
cat >bin/aws <<'EOF'
#!/usr/bin/env bash
# fake aws: `aws s3 cp SRC DST`, s3://BUCKET/KEY being $FAKE_S3/BUCKET/KEY
[[ $1 == s3 && $2 == cp && $# -eq 4 ]] || { echo "fake aws: unsupported: $*" >&2; exit 255; }
if [[ -n ${FAKE_S3_DOWN:-} ]]; then
  echo 'Could not connect to the endpoint URL: "https://s3.amazonaws.com/"' >&2
  exit 1
fi
map() { if [[ $1 == s3://* ]]; then printf '%s/%s' "$FAKE_S3" "${1#s3://}"; else printf '%s' "$1"; fi; }
src=$(map "$3") dst=$(map "$4")
if [[ $3 == s3://* && ! -f $src ]]; then
  echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key \"${3#s3://*/}\" does not exist" >&2
  exit 1
fi
mkdir -p "$(dirname "$dst")" && cp "$src" "$dst" && echo "download: $3 to $4"
EOF
chmod +x bin/aws

cat >pb.yml <<'EOF'
name: Ledger sync
target:
  base_url: http://127.0.0.1:9
checks:
  - id: smoke
    run: |
      expect.truthy(true, "always")
signoffs:
  - id: support-briefed
    role: support
    text: Support knows what moved
roles:
  support: [myriam, nesserine]
ledger: unused.db
EOF

export PATH=$work/bin:$PATH FAKE_S3=$work/store LEDGER_URL=s3://bucket/uat/ledger.db
export UATRUN=$uatrun NO_COLOR=1
unset UATRUN_USER UATRUN_RELEASE UATRUN_COMMIT GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG FAKE_S3_DOWN
remote=$work/store/bucket/uat/ledger.db
R=(--release v1 --commit c1)

failures=0 step=
fail() {
  echo "FAIL: $step: $*"
  printf '%s\n' "$out" | sed 's/^/    /' | head -20
  failures=$((failures + 1))
}
# sync NAME EXPECTED_EXIT pull|push: ledger-sync.sh on $UATRUN_LEDGER (a runner's local file)
sync() {
  step=$1
  local want=$2
  out=$(bash "$sync" "$3" pb.yml 2>&1)
  local rc=$?
  [[ $rc -eq $want ]] || fail "exit code $rc, expected $want"
}
has() { for want; do [[ $out == *"$want"* ]] || fail "output lacks '$want'"; done; }
rows() { UATRUN_LEDGER=$1 "$uatrun" verify-ledger pb.yml 2>&1 | sed -n 's/^ledger OK: \([0-9]*\) rows\{0,1\} .*/\1/p'; }
signoff() { # BY
  "$uatrun" signoff pb.yml "${R[@]}" --role support --item support-briefed --approve --by "$1" \
    >/dev/null 2>&1 || fail "signoff by $1 failed"
}

# Runner A: the first release starts the ledger.
export UATRUN_LEDGER=$work/a/ledger.db
sync "pull with no ledger in the store yet" 0 pull
has "no ledger at s3://bucket/uat/ledger.db yet" "ledger head pulled: none (first release)"
"$uatrun" gate pb.yml "${R[@]}" >/dev/null 2>&1
[[ $? -eq 3 ]] || fail "the gate should wait for the sign-off (exit 3)"
sync "push the first ledger" 0 push
[[ $(rows "$remote") == 1 ]] || fail "the store should hold 1 row, has '$(rows "$remote")'"

# A push uses up its pull: pushing again (or a later job on this runner that skipped its pull,
# after others wrote the store) must not upload this now stale file.
signoff myriam
sync "a second push without a new pull" 1 push
has "was not pulled in this job"
[[ $(rows "$remote") == 1 ]] || fail "the store changed"

# Runner B pulls what A pushed, signs, pushes: the store grows.
export UATRUN_LEDGER=$work/b/ledger.db
sync "pull an existing ledger" 0 pull
has "ledger head pulled: "
[[ $(rows "$UATRUN_LEDGER") == 1 ]] || fail "pulled ledger should hold 1 row"
signoff nesserine
sync "push a ledger that extends the pulled one" 0 push
[[ $(rows "$remote") == 2 ]] || fail "the store should hold 2 rows, has '$(rows "$remote")'"

# Two writers at once (no concurrency group): A and B both pull; B pushes first; A's push
# would wipe B's row, so it is refused.
export UATRUN_LEDGER=$work/a/ledger.db
sync "A pulls" 0 pull
export UATRUN_LEDGER=$work/b/ledger.db
sync "B pulls" 0 pull
signoff myriam
sync "B pushes" 0 push
export UATRUN_LEDGER=$work/a/ledger.db
signoff nesserine
sync "A pushes over B's row" 1 push
has "changed since this job pulled it" "not uploading"
[[ $(rows "$remote") == 3 ]] || fail "the store should keep B's 3 rows, has '$(rows "$remote")'"

# A failed download fails the job and leaves nothing a push could upload.
sync "A pulls again" 0 pull
FAKE_S3_DOWN=1 sync "pull while the store is unreachable" 1 pull
has "cannot download the ledger from s3://bucket/uat/ledger.db" "Could not connect"
"$uatrun" gate pb.yml "${R[@]}" >/dev/null 2>&1
sync "push after the failed pull" 1 push
has "was not pulled in this job"
[[ $(rows "$remote") == 3 ]] || fail "the store changed"

# A ledger whose local file was replaced (not an extension of the pulled one): exit 4.
sync "pull" 0 pull
rm -f "$UATRUN_LEDGER" "$UATRUN_LEDGER-wal" "$UATRUN_LEDGER-shm"
signoff myriam
sync "push a ledger that does not hold the pulled head" 4 push
[[ $(rows "$remote") == 3 ]] || fail "the store changed"

# Rows still in the WAL (uatrun still running, or killed) are not uploaded.
sync "pull" 0 pull
signoff myriam
printf 'not yet merged' >"$UATRUN_LEDGER-wal"
sync "push with a non-empty WAL" 1 push
has "still open"
rm -f "$UATRUN_LEDGER-wal"
[[ $(rows "$remote") == 3 ]] || fail "the store changed"

# A broken ledger in the store fails the pull with verify-ledger's exit 4.
cp "$remote" good.db
printf 'this is not a database' >"$remote"
sync "pull a broken ledger" 4 pull
has "is not a SQLite database"
sync "push after it" 1 push
cmp -s "$remote" <(printf 'this is not a database') || fail "the store changed"
cp good.db "$remote"

if ((failures)); then
  echo "ledger sync: $failures failure(s)"
  exit 1
fi
echo "ledger sync: all steps passed"
