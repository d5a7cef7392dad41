#!/usr/bin/env bash
# `cmake --install`: uatrun and the bundled checklists land under the prefix, the install
# warns when the binary was built to read its checklists elsewhere (this test build reads the
# source tree's), and the installed uatrun runs a check that requires a bundled checklist
# from the installed copy.
#
#   test_install.sh CMAKE BUILD_DIR
set -uo pipefail

cmake=$1
build=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

out=$("$cmake" --install "$build" --prefix "$work/prefix" 2>&1) || fail "cmake --install failed: $out"
share=$work/prefix/share/uatrun/checklists
[[ -x $work/prefix/bin/uatrun ]] || fail "bin/uatrun not installed"
[[ -f $share/access.lua && -f $share/README.md ]] || fail "bundled checklists not installed in $share"
[[ $out == *"the installed uatrun reads its bundled checklists from"*"-DUAT_BUNDLED_CHECKLISTS=$share"* ]] ||
  fail "no warning that this build reads its checklists from elsewhere: $out"

cat >pb.yml <<'YML'
name: Installed
target:
  base_url: http://127.0.0.1:9
checks:
  - id: bundled
    run: |
      local access = require("access")
      expect.truthy(type(access) == "table", "the bundled checklist 'access' loaded")
ledger: ledger.db
YML
unset UATRUN_LEDGER UATRUN_RELEASE UATRUN_COMMIT
export NO_COLOR=1
out=$(UATRUN_CHECKLISTS=$share "$work/prefix/bin/uatrun" run pb.yml 2>&1) ||
  fail "the installed uatrun could not use the installed checklists: $out"
mkdir empty
if out=$(UATRUN_CHECKLISTS=$work/empty "$work/prefix/bin/uatrun" run pb.yml 2>&1); then
  fail "require found 'access' without any checklists folder: UATRUN_CHECKLISTS was not used"
fi

if ((failures)); then
  echo "install: $failures failure(s)"
  exit 1
fi
echo "install: all steps passed"
