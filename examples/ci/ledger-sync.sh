#!/usr/bin/env bash
# Keeps the uatrun ledger in object storage, for CI runners without a shared volume.
#
#   ledger-sync.sh pull PLAYBOOK   before uatrun: download the ledger, verify its chain and
#                                  remember its head
#   ledger-sync.sh push PLAYBOOK   after uatrun: upload the ledger only when its chain verifies
#                                  AND still holds the head pulled, i.e. it extends the shared one
#
# LEDGER_URL     where the ledger lives, e.g. s3://my-bucket/uatrun/tasking-manager.db
# UATRUN_LEDGER  the local file uatrun uses
# UATRUN         the uatrun binary (default: uatrun on PATH); `aws` must be on PATH too.
#
# Only "the object does not exist" (the first release) starts from an empty ledger. Any other
# download error fails the job, and push refuses to run without a pull in the same job (it
# uses up what pull recorded), so a fresh, empty or stale ledger can never overwrite the
# shared one and wipe its sign-offs. Push also refuses when the shared ledger changed since
# the pull (another job wrote it meanwhile): re-run the job. Keep one writer at a time
# (GitHub `concurrency:`, GitLab `resource_group:`).
set -euo pipefail

mode=${1:?usage: ledger-sync.sh pull|push PLAYBOOK}
playbook=${2:?usage: ledger-sync.sh pull|push PLAYBOOK}
uatrun=${UATRUN:-uatrun}
: "${LEDGER_URL:?set LEDGER_URL to the ledger in object storage}"
: "${UATRUN_LEDGER:?set UATRUN_LEDGER to the local ledger file}"
pulled=$UATRUN_LEDGER.pulled-head # the head pulled; empty for a first release

# Downloads the shared ledger to FILE and prints its verified head: empty when there is no
# ledger yet (or it holds no row). Exits 1 when the download fails, 4 when the chain is broken.
fetch() { # FILE
  local out head=
  rm -f "$1" "$1-wal" "$1-shm"
  if out=$(aws s3 cp "$LEDGER_URL" "$1" 2>&1); then
    # `|| exit`: this runs in $(...), where set -e does not hold; keeps verify-ledger's 4.
    out=$(UATRUN_LEDGER=$1 "$uatrun" verify-ledger "$playbook") || exit
    head=$(sed -n 's/.*, head \([0-9a-f]\{64\}\)$/\1/p' <<<"$out")
    if [[ -z $head ]]; then
      echo "cannot read the ledger head from: $out" >&2
      exit 1
    fi
    [[ $head =~ [1-9a-f] ]] || head= # an empty ledger has nothing to protect
  elif [[ $out == *"(404)"* ]]; then
    rm -f "$1"
  else
    echo "cannot download the ledger from $LEDGER_URL: $out" >&2
    exit 1
  fi
  printf '%s\n' "$head"
}

pull() {
  rm -f "$pulled"
  mkdir -p "$(dirname "$UATRUN_LEDGER")"
  local head
  head=$(fetch "$UATRUN_LEDGER")
  [[ -n $head || -f $UATRUN_LEDGER ]] || echo "no ledger at $LEDGER_URL yet: this job starts it"
  printf '%s\n' "$head" >"$pulled"
  echo "ledger head pulled: ${head:-none (first release)}"
}

push() {
  if [[ ! -f $pulled ]]; then
    echo "the ledger was not pulled in this job: not uploading it" >&2
    exit 1
  fi
  if [[ ! -f $UATRUN_LEDGER ]]; then
    echo "no ledger was written: nothing to upload"
    exit 0
  fi
  if [[ -s $UATRUN_LEDGER-wal ]]; then # rows not yet folded into the file would be lost
    echo "the ledger is still open (non-empty $UATRUN_LEDGER-wal): not uploading it" >&2
    exit 1
  fi
  local head now tmp rc
  head=$(<"$pulled")
  # Used up now: a later push (a job that skipped its pull on this machine) cannot upload
  # this stale ledger over newer rows.
  rm -f "$pulled"
  # Exit 4, and no upload, when rows were cut off or the ledger was replaced meanwhile.
  "$uatrun" verify-ledger "$playbook" ${head:+--head "$head"}
  # The shared ledger must still be the one pulled: uploading over rows another job added
  # since would lose them.
  tmp=$(mktemp "$UATRUN_LEDGER.remote.XXXXXX")
  now=$(fetch "$tmp") || {
    rc=$?
    rm -f "$tmp"
    exit "$rc"
  }
  rm -f "$tmp" "$tmp-wal" "$tmp-shm"
  if [[ $now != "$head" ]]; then
    echo "the shared ledger at $LEDGER_URL changed since this job pulled it (head ${now:-none}," \
      "pulled ${head:-none}): another job wrote it meanwhile, so uploading would lose its rows;" \
      "not uploading. Keep one writer at a time (concurrency group) and re-run this job." >&2
    exit 1
  fi
  aws s3 cp "$UATRUN_LEDGER" "$LEDGER_URL"
}

case $mode in
pull) pull ;;
push) push ;;
*)
  echo "usage: ledger-sync.sh pull|push PLAYBOOK" >&2
  exit 2
  ;;
esac
