#!/usr/bin/env bash
# Installs the Debian packages uatrun needs to build and test, when missing.
# Safe to run again: it only calls apt-get for what is not installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcurl4-openssl-dev libxml2-dev liblua5.4-dev libyaml-dev libsqlite3-dev
  libjansson-dev libssl-dev libmicrohttpd-dev libcmocka-dev
  # the sign-off page (uatrun serve): libxcrypt's crypt_r checks the htpasswd bcrypt hashes
  libcrypt-dev
  # the team ledger: libpq (client library), and a PostgreSQL server the tests start in a
  # temporary folder (tests/support/pg_cluster.sh); ssh-keygen signs and checks decisions
  libpq-dev postgresql openssh-client
  # the tests and scripts: curl (demo smoke), sqlite3 and python3 (ledger tamper steps),
  # bsdutils (script(1): the sign-off prompt on a pseudo-terminal), jq (JSON reports),
  # time (scripts/bench.sh), shellcheck (lint.shellcheck), strace (scripts/bench.sh: shows
  # that an HTTP-only playbook starts no chromedriver or Chromium)
  curl sqlite3 bsdutils jq time python3 shellcheck strace
  # browser checks (and their tests): headless Chromium and Debian's chromedriver
  chromium chromium-driver
  # scripts/fuzz.sh: the libFuzzer harnesses of tests/fuzz build with clang, whose fuzzer and
  # sanitizer runtimes Debian ships in libclang-rt-14-dev
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "uatrun: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
