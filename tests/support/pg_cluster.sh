#!/usr/bin/env bash
# A throw-away PostgreSQL for the tests: initdb + pg_ctl in a temporary folder, on a free
# loopback port, as an unprivileged user when run as root (postgres refuses root).
#
#   pg_cluster.sh start DIR     start a cluster in DIR (created); prints the owner's URL,
#                               also written to DIR/url
#   pg_cluster.sh stop DIR      stop it and remove DIR
#   pg_cluster.sh exec CMD...   start one in a new temporary folder, run CMD with
#                               UATRUN_TEST_PG_URL (owner, Unix socket) and UATRUN_TEST_PG_PORT
#                               exported, then stop it whatever CMD did; exits with CMD's code
#
# Authentication: Unix socket trust (the tests connect as any user they create), loopback
# TCP scram-sha-256 (the tests of passwords and ~/.pgpass).
set -euo pipefail

PG_BIN=${UATRUN_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[[ -x "$PG_BIN/initdb" ]] || {
  echo "pg_cluster.sh: no PostgreSQL server found (install the Debian package postgresql)" >&2
  exit 2
}

# as_owner CMD...: runs CMD as the cluster's unprivileged owner (nobody when we are root).
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir=$1
  mkdir -p "$dir"
  [[ $(id -u) -eq 0 ]] && chown nobody:nogroup "$dir"
  chmod 755 "$dir"
  local port
  port=$(free_port)
  as_owner "$PG_BIN/initdb" -D "$dir/data" -U uatrun_owner --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    return 1
  }
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=60" \
    start >/dev/null || {
    cat "$dir/server.log" >&2
    return 1
  }
  as_owner "$PG_BIN/createdb" -h "$dir" -p "$port" -U uatrun_owner uat
  echo "$port" >"$dir/port"
  echo "postgresql://uatrun_owner@/uat?host=$dir&port=$port" >"$dir/url"
  cat "$dir/url"
}

stop() {
  local dir=$1
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 120 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case ${1:-} in
start) start "$2" ;;
stop) stop "$2" ;;
exec)
  shift
  dir=$(mktemp -d /tmp/uatrun-pg-XXXXXX)
  trap 'stop "$dir"' EXIT
  trap 'exit 143' TERM INT HUP
  UATRUN_TEST_PG_URL=$(start "$dir")
  UATRUN_TEST_PG_PORT=$(cat "$dir/port")
  export UATRUN_TEST_PG_URL UATRUN_TEST_PG_PORT
  set +e
  "$@"
  rc=$?
  set -e
  exit "$rc"
  ;;
*)
  echo "usage: pg_cluster.sh start DIR | stop DIR | exec CMD..." >&2
  exit 2
  ;;
esac
