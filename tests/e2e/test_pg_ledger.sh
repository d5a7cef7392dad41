#!/usr/bin/env bash
# The team ledger on a real PostgreSQL: ledger init, CI and signers as their own database
# users, --by refused when it is not the database user, the CI role unable to sign, a gate
# opened from the CI connection, copy to SQLite with the same verdict, passwords redacted,
# and signed decisions (ssh-keygen) with forgeries refused.
#
#   pg_cluster.sh exec test_pg_ledger.sh UATRUN     (UATRUN_TEST_PG_URL: the owner's URL)
set -uo pipefail

uatrun=$(realpath "$1")
owner_url=${UATRUN_TEST_PG_URL:?run through tests/support/pg_cluster.sh exec}
port=${UATRUN_TEST_PG_PORT:?}
for tool in psql ssh-keygen; do
  command -v "$tool" >/dev/null || { echo "test_pg_ledger.sh: $tool is needed (scripts/deps.sh installs it)" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

export NO_COLOR=1
unset UATRUN_USER UATRUN_LEDGER UATRUN_RELEASE UATRUN_COMMIT GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG PGPASSWORD
R=(--release v4.6.3 --commit 1a2b3c4d5e6f70)

failures=0 step=
run() { # NAME EXPECTED_EXIT ARGS...: uatrun with stdin closed, stdout+stderr in $out
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
as() { printf '%s' "${owner_url/uatrun_owner@/$1@}"; } # the URL for another database user
rows() { psql -qtA "$owner_url" -c "SELECT count(*) FROM uatrun.entries"; }

write_playbook() { # FILE [gate lines]
  cat >"$1" <<EOF
name: Team ledger
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
  - id: product-ok
    role: product
    text: Product accepts the release
roles:
  support: [nesserine]
  product: [matis, ci]
gate:
  distinct_signers: true
${2:-}
EOF
}
write_playbook pb.yml

run "init refuses a file" 2 ledger init ledger.db
has "give a postgresql:// URL"
run "init refuses one role for both" 2 ledger init "$owner_url" --ci-role same --signer-role same
has "CI must not be able to sign"
run "ledger init" 0 ledger init "$owner_url"
has "ledger ready: $owner_url" "members of 'uatrun_ci' may read and insert runs"
run "ledger init again (migrations are idempotent)" 0 ledger init "$owner_url"

psql -q "$owner_url" -c "CREATE ROLE nesserine LOGIN IN ROLE uatrun_signer;
  CREATE ROLE matis LOGIN IN ROLE uatrun_signer;
  CREATE ROLE ci LOGIN PASSWORD 'ci-pw-9x7' IN ROLE uatrun_ci;" || exit 1

export UATRUN_LEDGER
UATRUN_LEDGER=$(as ci)
run "CI records the run" 0 run pb.yml "${R[@]}"
has "recorded run #1 in $UATRUN_LEDGER"
run "CI cannot sign, even when the playbook lists it" 4 signoff pb.yml "${R[@]}" --role product --item product-ok --approve
has "was refused" "nothing was recorded"

UATRUN_LEDGER=$(as nesserine)
run "--by someone else is refused" 2 signoff pb.yml "${R[@]}" --role support --item support-briefed --approve --by matis
has "--by 'matis' is not who signs" "as the database user 'nesserine'" "nothing was recorded"
step="nothing recorded by the refused --by"
[[ $(rows) == 1 ]] || fail "the ledger holds $(rows) rows, expected 1"
run "UATRUN_USER cannot claim either" 2 env UATRUN_USER=matis "$uatrun" signoff pb.yml "${R[@]}" --role support --item support-briefed --approve
run "the database user signs" 0 signoff pb.yml "${R[@]}" --role support --item support-briefed --approve --by nesserine
has "recorded: approve support-briefed by nesserine"
run "a signer for a role not theirs" 2 signoff pb.yml "${R[@]}" --role product --item product-ok --approve
has "'nesserine' may not sign for 'product'"

UATRUN_LEDGER=$(as ci)
run "gate from CI waits for product" 3 gate pb.yml --no-run "${R[@]}"
has "--role product --item product-ok --approve"
lacks "--by NAME" # the signer is whoever connects: no name to give
UATRUN_LEDGER=$(as matis) run "matis signs as himself" 0 signoff pb.yml "${R[@]}" --role product --item product-ok --approve --note "ok"
run "gate from the CI connection opens" 0 gate pb.yml --no-run "${R[@]}"
has "GATE OPEN"
pg_gate=$out
run "verify-ledger on PostgreSQL" 0 verify-ledger pb.yml
has "ledger OK: 3 rows in $UATRUN_LEDGER"
pg_head=${out##*head }
run "history from PostgreSQL" 0 history pb.yml
has "nesserine" "matis"

# The same history in a SQLite file: the same head, the same verdict.
unset UATRUN_LEDGER
run "copy PostgreSQL -> SQLite" 0 ledger copy "$owner_url" copy.db
has "copied 3 rows" "the copy verifies" "ledger head: $pg_head"
UATRUN_LEDGER=copy.db run "gate on the SQLite copy" 0 gate pb.yml --no-run "${R[@]}"
step="same verdict on both backends"
[[ $out == "$pg_gate" ]] || fail "the SQLite gate printed another verdict than PostgreSQL's: $pg_gate"
run "copy into a ledger that has rows" 4 ledger copy copy.db "$owner_url"
has "already holds 3 rows"

# Passwords: over TCP with scram, never shown.
pw_url="postgresql://ci:ci-pw-9x7@127.0.0.1:$port/uat"
UATRUN_LEDGER=$pw_url run "a password in the URL is redacted" 0 verify-ledger pb.yml
has "postgresql://ci:***@127.0.0.1:$port/uat"
lacks "ci-pw-9x7"
UATRUN_LEDGER="postgresql://ci:wrong-pw-31@127.0.0.1:$port/uat" run "a wrong password: exit 4, not shown" 4 verify-ledger pb.yml
has "password authentication failed" "ci:***@"
lacks "wrong-pw-31"
printf '127.0.0.1:%s:uat:ci:ci-pw-9x7\n' "$port" >pgpass && chmod 600 pgpass
PGPASSFILE="$work/pgpass" UATRUN_LEDGER="postgresql://ci@127.0.0.1:$port/uat" run "PGPASSFILE fills in the password" 0 verify-ledger pb.yml

# A writer killed with the chain head locked, mid-transaction: the writer queued behind it
# goes on once PostgreSQL has rolled the dead one back; nothing half-written remains.
R4=(--release v4.6.4 --commit 1a2b3c4d5e6f71)
UATRUN_LEDGER=$(as ci) run "CI run of v4.6.4" 0 run pb.yml "${R4[@]}"
before=$(rows)
mkfifo hold
psql -q "$(as matis)" <hold >/dev/null 2>&1 &
holder=$!
exec 3>hold
echo "BEGIN; SELECT pg_advisory_xact_lock(1969321074); INSERT INTO uatrun.entries(seq, kind, time, playbook, signer, payload, prev_hash, hash) SELECT max(seq) + 1, 'decision', 0, 'Team ledger', 'matis', '{}', (SELECT hash FROM uatrun.entries ORDER BY seq DESC LIMIT 1), 'half' FROM uatrun.entries;" >&3
for _ in $(seq 600); do
  [[ $(psql -qtA "$owner_url" -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == 1 ]] && break
  sleep 0.1
done
UATRUN_LEDGER=$(as nesserine) "$uatrun" signoff pb.yml "${R4[@]}" --role support --item support-briefed --approve >queued.log 2>&1 &
queued=$!
for _ in $(seq 600); do
  [[ $(psql -qtA "$owner_url" -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") -ge 1 ]] && break
  sleep 0.1
done
step="the queued writer waits for the chain head"
kill -0 "$queued" 2>/dev/null || fail "the signoff did not wait for the locked chain head"
kill -9 "$holder"
exec 3>&-
wait "$holder" 2>/dev/null
wait "$queued"
qrc=$?
out=$(cat queued.log)
step="the queued writer recorded after the kill"
[[ $qrc == 0 ]] || fail "exit code $qrc, expected 0"
has "recorded: approve support-briefed by nesserine for v4.6.4"
[[ $(rows) == $((before + 1)) ]] || fail "the ledger holds $(rows) rows, expected $((before + 1))"
UATRUN_LEDGER=$(as ci) run "the chain verifies after the kill" 0 verify-ledger pb.yml

# Signed decisions.
ssh-keygen -q -t ed25519 -N '' -C nesserine -f key_n
ssh-keygen -q -t ed25519 -N '' -C matis -f key_m
{ printf 'nesserine %s\n' "$(cut -d' ' -f1,2 key_n.pub)"; printf 'matis %s\n' "$(cut -d' ' -f1,2 key_m.pub)"; } >allowed_signers
write_playbook signed.yml "  require_signatures: true
  allowed_signers: allowed_signers"
S=(--release v4.7.0 --commit 99aa88bb77cc)
UATRUN_LEDGER=$(as ci) run "CI run of the signed release" 0 run signed.yml "${S[@]}"
UATRUN_LEDGER=$(as nesserine) run "a missing key file" 2 signoff signed.yml "${S[@]}" --role support --item support-briefed --approve --sign-key nokey
has "--sign-key 'nokey' cannot be read"
UATRUN_LEDGER=$(as nesserine) run "nesserine signs with her key" 0 signoff signed.yml "${S[@]}" --role support --item support-briefed --approve --sign-key key_n
UATRUN_LEDGER=$(as matis) run "matis signs with his key" 0 signoff signed.yml "${S[@]}" --role product --item product-ok --approve --sign-key key_m
UATRUN_LEDGER=$(as ci) run "the gate checks the signatures and opens" 0 gate signed.yml --no-run "${S[@]}"
has "GATE OPEN"
UATRUN_LEDGER=$(as ci) run "verify-ledger checks every signature" 4 verify-ledger signed.yml
has "is not signed" # v4.6.3's decisions were never signed
S2=(--release v4.7.1 --commit 99aa88bb77cd)
UATRUN_LEDGER=$(as ci) run "CI run of v4.7.1" 0 run signed.yml "${S2[@]}"
UATRUN_LEDGER=$(as matis) run "matis signs with nesserine's key" 0 signoff signed.yml "${S2[@]}" --role product --item product-ok --approve --sign-key key_n
UATRUN_LEDGER=$(as ci) run "a signature by another key is refused" 4 gate signed.yml --no-run "${S2[@]}"
has "by 'matis'" "has a bad signature" "treat it as forged"

# Someone with write access to a ledger file forges an approval: it carries no valid signature.
run "copy to a file" 0 ledger copy "$owner_url" forged.db
sig_count=$(grep -c . allowed_signers)
step="allowed_signers written"
[[ $sig_count == 2 ]] || fail "allowed_signers has $sig_count lines"
S3=(--release v4.7.2 --commit 99aa88bb77ce)
UATRUN_LEDGER=forged.db run "a run in the file" 0 run signed.yml "${S3[@]}"
UATRUN_LEDGER=forged.db run "matis signs properly" 0 signoff signed.yml "${S3[@]}" --role product --item product-ok --approve --by matis --sign-key key_m
UATRUN_LEDGER=forged.db run "a forged approval as nesserine (no key)" 0 signoff signed.yml "${S3[@]}" --role support --item support-briefed --approve --by nesserine
UATRUN_LEDGER=forged.db run "the gate refuses the forged approval" 4 gate signed.yml --no-run "${S3[@]}"
has "by 'nesserine'" "is not signed"

if ((failures)); then
  echo "$failures step(s) failed"
  exit 1
fi
echo "all steps passed"
