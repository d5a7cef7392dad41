#!/usr/bin/env bash
# `uatrun serve` on the team ledger (a real PostgreSQL): the page reads as its own database
# user (here the CI role) and records each decision through the signer's own database user,
# so the database's rules (row-level security, the signer trigger) judge it as they judge
# `uatrun signoff`: a person listed in the playbook and the htpasswd file but without a
# database user cannot sign (nothing recorded).
#
#   pg_cluster.sh exec test_serve_pg.sh UATRUN UAT-DEMO-HTPASSWD   (UATRUN_TEST_PG_URL: owner)
set -u
uatrun=$(realpath "$1")
mkhtpasswd=$(realpath "$2")
owner_url=${UATRUN_TEST_PG_URL:?run through tests/support/pg_cluster.sh exec}
work=$(mktemp -d)
pid=""
failures=0 step=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
fail() { echo "FAIL [$step] $*" >&2; failures=$((failures + 1)); }
as() { printf '%s' "${owner_url/uatrun_owner@/$1@}"; }
cd "$work" || exit 1
export NO_COLOR=1
unset UATRUN_USER GITHUB_SHA CI_COMMIT_SHA CI_COMMIT_TAG PGPASSWORD
export UATRUN_RELEASE=v2.0.0 UATRUN_COMMIT=9e8d7c6b5a41

cat >pb.yml <<'EOF'
name: Serve on the team ledger
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
  support: [myriam]
  product: [matis]
EOF
"$mkhtpasswd" myriam 'pw-myriam-2026' 5 >htpasswd
"$mkhtpasswd" matis 'pw-matis-2026' 5 >>htpasswd

step="ledger init, a signer and the CI role"
"$uatrun" ledger init "$owner_url" >init.log 2>&1 || fail "$(cat init.log)"
psql -q "$owner_url" -c "CREATE ROLE myriam LOGIN IN ROLE uatrun_signer;
  CREATE ROLE ci LOGIN IN ROLE uatrun_ci;" || exit 1
export UATRUN_LEDGER
UATRUN_LEDGER=$(as ci)
"$uatrun" run pb.yml >run.log 2>&1 || fail "the run: $(cat run.log)"

step="serve reads as the CI role"
"$uatrun" serve pb.yml --auth htpasswd:htpasswd --listen 127.0.0.1:0 >serve.out 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q '^listening on ' serve.out && break; sleep 0.05; done
url=$(sed -n 's/^listening on \(http:[^ ]*\)\/ .*/\1/p' serve.out)
[[ -n $url ]] || { fail "serve did not start: $(cat serve.out)"; exit 1; }
grep -q 'password' serve.out && fail "a password in the output"

login() { # USER PASSWORD JAR: sets $csrf
  local t
  t=$(curl -s -c "$3" -b "$3" "$url/login" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
  curl -s -c "$3" -b "$3" -o /dev/null --data-urlencode "csrf=$t" --data-urlencode "user=$1" \
    --data-urlencode "password=$2" "$url/login"
  csrf=$(curl -s -b "$3" "$url/" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
  [[ -n $csrf ]]
}
code() { curl -s -o body.html -w '%{http_code}' "$@"; }

step="myriam approves through the page, signed as her database user"
login myriam 'pw-myriam-2026' m.jar || fail "cannot sign in"
c=$(code -b m.jar -d "csrf=$csrf&item=support-briefed&action=approve&note=ok" "$url/decide")
[[ $c == 200 ]] || fail "HTTP $c: $(grep -o 'id="flash">[^<]*' body.html)"
rows=$(psql -qtA "$owner_url" -c "SELECT signer FROM uatrun.entries WHERE kind = 'decision'")
[[ $rows == myriam ]] || fail "decision rows: '$rows'"

step="matis has no database user: the database refuses, nothing recorded"
login matis 'pw-matis-2026' t.jar || fail "cannot sign in"
c=$(code -b t.jar -d "csrf=$csrf&item=product-ok&action=approve" "$url/decide")
[[ $c == 500 ]] || fail "HTTP $c"
grep -q 'cannot connect to the ledger' body.html || fail "$(grep -o 'id="flash">[^<]*' body.html)"
n=$(psql -qtA "$owner_url" -c "SELECT count(*) FROM uatrun.entries WHERE kind = 'decision'")
[[ $n == 1 ]] || fail "$n decisions"

step="status from the CI connection sees the page's decision"
"$uatrun" status pb.yml >status.log 2>&1
[[ $? == 3 ]] || fail "status: $(cat status.log)"
grep -q 'support-briefed  support: approved by myriam' status.log || fail "$(cat status.log)"
"$uatrun" verify-ledger pb.yml >/dev/null 2>&1 || fail "the chain does not verify"

echo "test_serve_pg.sh: $failures failure(s)"
((failures == 0))
