"""Replays the scenario vectors (docs/governance-rules.md) on chain, step by step.

contracts/vectors/governance.json is the shared file the Rust rules engine replays too;
vectors_local.json holds this suite's own extra scenarios in the same format.
"""
import json
from pathlib import Path

import pytest
from algosdk import encoding

from harness import CONTRACTS, ZERO, AppError, Gov, KINDS, expect_error

FILES = [CONTRACTS / "vectors" / "governance.json", Path(__file__).with_name("vectors_local.json")]
SCENARIOS = []
for f in FILES:
    if f.exists():
        for i, s in enumerate(json.loads(f.read_text())["scenarios"]):
            SCENARIOS.append(pytest.param(s, id=f"{f.stem}[{i}] {s['name']}"))


def test_shared_vector_file_is_present():
    assert FILES[0].exists(), "contracts/vectors/governance.json is missing"


def run_step(gov, step):
    op = step["op"]
    if op == "set_member":
        return gov.set_member(step["member"], step["weight"])
    if op == "seal":
        return gov.seal()
    if op == "propose":
        kind = step["kind"]
        payload = step.get("payload") or {}
        by = step["by"]
        if kind in ("deploy", "emergency"):
            return gov.propose(by, kind)
        if kind == "membership":
            return gov.propose_membership(by, payload["member"], payload["weight"])
        if kind == "parameters":
            return gov.propose_parameters(by, payload["rules"])
        if kind == "hosts":
            return gov.propose_hosts(by, payload.get("host_id", 1), payload.get("agent", ZERO))
        if kind == "treasury":
            return gov.propose_treasury(by, payload.get("receiver", by), payload.get("amount", 0))
        if kind == "rebalance":
            # The app wants the list sorted by address bytes; the vectors name members.
            pairs = sorted(payload["weights"], key=lambda p: encoding.decode_address(gov.addr(p[0])))
            return gov.propose_rebalance(by, [tuple(p) for p in pairs])
        raise ValueError(kind)
    if op == "vote":
        return gov.vote(step["by"], step["proposal"], step["choice"])
    if op == "finalize":
        return gov.finalize(step["proposal"])
    if op == "cancel":
        return gov.cancel(step["by"], step["proposal"])
    if op == "execute":
        return gov.execute(step["proposal"])
    if op == "refund_bond":
        return gov.refund_bond(step["proposal"], by=step.get("by"))
    if op == "delegate":
        return gov.delegate(step["by"], step["to"])
    if op == "undelegate":
        return gov.undelegate(step["by"])
    raise ValueError(op)


def check_delegation(gov, step, names):
    """power: voting power now per name (get_delegation, on chain); delegates: the delegate now
    (None: none). Such a check also holds the invariant: the powers of every address the
    scenario names sum to total_weight."""
    now = {n: gov.get_delegation(n) for n in names}
    assert sum(p for _, p in now.values()) == gov.global_state()[b"total_weight"], \
        f"powers {now} do not sum to total_weight"
    for n, power in step.get("power", {}).items():
        assert now[n][1] == power, f"power of {n}: {now[n][1]} != {power}"
    for n, delegate in step.get("delegates", {}).items():
        assert now[n][0] == (gov.addr(delegate) if delegate else None), f"delegate of {n}"


def check(gov, step, names=()):
    known = {"at", "op", "proposal", "state", "tally", "voted_weight", "eta", "total", "quorum_votes",
             "bond", "bond_status", "bonds_held", "power", "delegates"}
    assert set(step) <= known, f"unknown check fields {set(step) - known}"
    if "power" in step or "delegates" in step:
        check_delegation(gov, step, set(names) | set(step.get("power", {})) | set(step.get("delegates", {})))
    if "proposal" not in step:
        return
    pid = step["proposal"]
    if "state" in step:
        assert gov.get_state(pid) == step["state"]
    p = gov.get_proposal(pid)
    if "tally" in step:
        t = step["tally"]
        assert (p["for"], p["against"], p["abstain"]) == (t["for"], t["against"], t["abstain"])
    for field in ("voted_weight", "eta", "total", "quorum_votes"):
        if field in step:
            assert p[field] == step[field], field
    b = gov.bond(pid)
    if "bond" in step:
        assert (b["bond"] if b else 0) == step["bond"], "bond"
    if "bond_status" in step:
        assert (b["status"] if b else "none") == step["bond_status"], "bond_status"
    if "bonds_held" in step:
        assert gov.global_state()[b"bonds_held"] == step["bonds_held"], "bonds_held"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario):
    steps = scenario["steps"]
    gov = Gov(rules=scenario["rules"], now=steps[0]["at"] if steps else 1000)
    for name, weight in scenario["members"].items():
        gov.set_member(name, weight)
    # every name a step uses as a member or delegate: the power invariant covers them all
    names = set(scenario["members"]) | {s[k] for s in steps for k in ("by", "to") if isinstance(s.get(k), str)}
    for n, step in enumerate(steps):
        where = f"step {n}: {json.dumps(step)}"
        # Block timestamps never go back on a real chain; algojig would allow it, so check here.
        assert step["at"] >= gov.now, f"{where}: steps go back in time"
        gov.now = step["at"]
        if step["op"] == "check":
            try:
                check(gov, step, names)
            except AssertionError as e:
                raise AssertionError(f"{where}: {e}") from None
            continue
        if "error" in step:
            try:
                expect_error(gov, step["error"], run_step, gov, step)
            except AssertionError as e:
                raise AssertionError(f"{where}: {e}") from None
            continue
        try:
            result = run_step(gov, step)
        except AppError as e:
            raise AssertionError(f"{where}: failed with {e.code}: {e.raw[:500]}") from None
        if step["op"] == "propose":
            assert result == step["id"], where
        if step["op"] == "refund_bond" and "amount" in step:
            assert result == step["amount"], where
        if step["op"] == "finalize":
            stored = {2: "defeated", 3: "queued"}[result]
            if "state" in step:
                assert stored == step["state"], where
            if "eta" in step:
                assert gov.proposal_raw(step["proposal"])["eta"] == step["eta"], where
