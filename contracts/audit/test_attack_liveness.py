"""Freezes and rushes (issue 21): rule and membership changes that would leave no passing vote,
and a proposal carried out in the block that proposed it.

docs/governance-rules.md, "Liveness" and "Reaction window".
"""
import pytest
from algosdk import encoding

from conftest import ALGO, T0, pass_proposal, rules, u64

FLOOR = 10


def sealed(make_gov, acc, members, **rule_kw):
    g = make_gov(rules(**rule_kw))
    for n, w in members:
        g.set_member(getattr(acc, n), w)
    g.seal()
    return g


# ---------------------------------------------------------------- rush
def test_get_rules_returns_the_timelock_floor(dao):
    r, floor = dao.get("get_rules")
    assert floor == FLOOR
    assert r == rules()


@pytest.mark.parametrize("timelock", [0, 1, FLOOR - 1])
def test_create_below_the_floor_is_refused(ledger, acc, timelock):
    from test_attack_admin import _args, _create_rejects
    _create_rejects(ledger, acc, _args(rules(timelock=timelock)), "timelock_below_floor")


@pytest.mark.parametrize("timelock", [0, FLOOR - 1])
def test_propose_parameters_below_the_floor_is_refused(dao, dacc, timelock):
    dao.reject(dao.propose_parameters, dacc.alice, rules(timelock=timelock), code="timelock_below_floor")
    # the proposer check still comes first
    dao.reject(dao.propose_parameters, dacc.outsider, rules(timelock=0), code="insufficient_weight")
    pid, _ = dao.propose_parameters(dacc.alice, rules(timelock=FLOOR))
    assert dao.proposal(pid)["kind"] == 4


def rush_group(g, who, receiver, amount, pid):
    """propose_treasury + vote + finalize + execute, one atomic group of six transactions."""
    url = "u"
    me = encoding.decode_address(who.addr)
    prop = g.k_prop(pid)
    txns = [
        (g.pay_txn(who, 2500 + 400 * (9 + 176 + 42 + 2 + len(url))), who),
        (g.app_txn(who, "propose_treasury", [receiver.addr, amount, url],
                   boxes=[prop, g.k_member(who), b"q" + u64(pid)]), who),
        (g.pay_txn(who, 28_500, note=b"v"), who),
        (g.app_txn(who, "vote", [pid, 1, 0],
                   boxes=[prop, g.k_vote(pid, who), g.k_member(who), b"w" + me + u64(0), b"w" + me + u64(1)]), who),
        (g.app_txn(who, "finalize", [pid], boxes=[prop], note=b"f"), who),
        (g.pay_txn(who, 0, note=b"e"), who),
        (g.app_txn(who, "execute", [pid], boxes=[prop], accounts=[receiver.addr], fee=2000), who),
    ]
    return txns


def test_one_group_treasury_payout_is_refused(ledger, make_gov, acc):
    # Issue 21 did this with voting_delay 0 and timelock 0: no app takes such rules any more,
    # neither at create nor through a parameters proposal (tests above).
    from test_attack_admin import _args, _create_rejects
    _create_rejects(ledger, acc, _args(rules(voting_delay=0, timelock=0)), "timelock_below_floor")
    # The same setting with the shortest timelock rules may have: no voting delay, a 60 % member,
    # a funded treasury.
    g = sealed(make_gov, acc, [("alice", 60), ("bob", 40)], voting_delay=0, timelock=FLOOR)
    pid = g.next_id()
    txns = rush_group(g, acc.alice, acc.alice, 5 * ALGO, pid)

    def send():
        g.eval([t for t, _ in txns], [s for _, s in txns], ts=T0 + 5)
    e = g.reject(send, code="timelock_active")
    assert e.pc is not None
    # Without the execute the same group goes through, and the payout waits for its eta.
    short = rush_group(g, acc.alice, acc.alice, 5 * ALGO, pid)[:5]
    g.eval([t for t, _ in short], [s for _, s in short], ts=T0 + 5)
    p = g.proposal(pid)
    assert p["state"] == 3 and p["eta"] == T0 + 5 + FLOOR
    g.reject(g.execute, pid, ts=T0 + 5, code="timelock_active")
    g.reject(g.execute, pid, ts=p["eta"] - 1, code="timelock_active")
    before = g.balance(acc.alice)
    g.execute(pid, sender=acc.bob, ts=p["eta"])
    assert g.balance(acc.alice) - before == 5 * ALGO


@pytest.mark.parametrize("kind", [0, 1])
def test_no_deploy_is_reported_in_the_block_that_queued_it(make_gov, acc, kind):
    g = make_gov(rules(voting_delay=0, timelock=FLOOR))
    g.set_member(acc.alice, 70)
    g.set_member(acc.bob, 30)
    g.set_host(1, acc.agent1)
    g.seal()
    pid, _ = g.propose(acc.alice, kind=kind, ts=T0)
    g.vote(acc.alice, pid, 1, ts=T0)
    assert g.finalize(pid, ts=T0)[0] == 3
    # emergency: 70 % is above its 66.7 % support, so it is decided at once, but still queued
    g.reject(g.report, acc.agent1, pid, 1, 0, ts=T0, code="timelock_active")
    g.report(acc.agent1, pid, 1, 0, ts=T0 + FLOOR)


# ---------------------------------------------------------------- freeze
def test_seal_refuses_three_members_of_one_under_a_ten_percent_cap(make_gov, acc):
    g = make_gov(rules(vote_cap_ppm=100_000, quorum_ppm=0))
    for n in ("alice", "bob", "carol"):
        g.set_member(getattr(acc, n), 1)
    g.reject(g.seal, code="would_freeze_vote")
    # a fourth member does not help (floor(4 * 10 %) = 0); ten do: floor(10 * 10 %) = 1
    g.set_member(acc.dave, 1)
    g.reject(g.seal, code="would_freeze_vote")
    for n in ("erin", "mallory", "agent1", "agent2", "agent3", "outsider"):
        g.set_member(getattr(acc, n), 1)
    assert g.gs()[b"members"] == 10
    g.seal()


def test_seal_refuses_a_proposer_weight_nobody_is_sure_to_hold(make_gov, acc):
    g = make_gov(rules(min_proposer_weight=3))
    g.set_member(acc.alice, 2)
    g.set_member(acc.bob, 2)
    g.reject(g.seal, code="would_freeze_proposer")
    g.set_member(acc.bob, 4)
    g.seal()


def test_parameters_that_would_freeze_stay_queued(make_gov, acc):
    g = sealed(make_gov, acc, [("alice", 1), ("bob", 1), ("carol", 1)])
    # floor(3 * 10 %) = floor(3 * 30 %) = 0; ceil(3 / 3) = 1 < 2
    frozen = [rules(vote_cap_ppm=100_000), rules(vote_cap_ppm=300_000), rules(min_proposer_weight=2)]
    codes = ["would_freeze_vote", "would_freeze_vote", "would_freeze_proposer"]
    pids = [g.propose_parameters(acc.alice, r)[0] for r in frozen]
    for pid, code in zip(pids, codes):
        p = pass_proposal(g, acc, pid)
        g.reject(g.execute, pid, ts=p["eta"], code=code)
        assert g.proposal(pid)["state"] == 3
    assert g.get("get_rules")[0] == rules()


def test_removal_that_would_freeze_is_refused(make_gov, acc):
    g = sealed(make_gov, acc, [("alice", 1), ("bob", 1), ("carol", 1), ("dave", 1)], vote_cap_ppm=300_000)
    three = ("alice", "bob", "carol")  # each capped to 1: 2 for against 2 remaining is undecided
    pid, _ = g.propose_membership(acc.alice, acc.dave, 0)
    p = pass_proposal(g, acc, pid, voters=three)
    g.reject(g.execute, pid, ts=p["eta"], code="would_freeze_vote")
    assert g.gs()[b"members"] == 4
    # an added member makes the same removal safe: floor(4 * 30 %) = 1 again
    add, _ = g.propose_membership(acc.alice, acc.erin, 1)
    pa = pass_proposal(g, acc, add, voters=three)
    g.execute(add, ts=pa["eta"])
    assert g.gs()[b"members"] == 5
    g.execute(pid, ts=max(p["eta"], pa["eta"]))
    assert g.gs()[b"members"] == 4


def test_removing_the_last_member_is_refused(make_gov, acc):
    g = sealed(make_gov, acc, [("alice", 5)])
    pid, _ = g.propose_membership(acc.alice, acc.alice, 0)
    p = pass_proposal(g, acc, pid, voters=("alice",))
    g.reject(g.execute, pid, ts=p["eta"], code="would_freeze_vote")


def test_weight_change_that_concentrates_under_a_cap_is_refused(make_gov, acc):
    # cap 20 %, quorum 50 %: five members of 1 cast 5 of 5. Raising alice to 96 leaves a total of
    # 100 whose all-for vote is only sure to cast 20 + 4 = 24 < 50.
    g = sealed(make_gov, acc, [(n, 1) for n in ("alice", "bob", "carol", "dave", "erin")],
               vote_cap_ppm=200_000, quorum_ppm=500_000)
    pid, _ = g.propose_membership(acc.alice, acc.alice, 96)
    p = pass_proposal(g, acc, pid, voters=("alice", "bob", "carol"))
    g.reject(g.execute, pid, ts=p["eta"], code="would_freeze_vote")


def test_members_counts_weights_above_zero(make_gov, acc):
    g = make_gov()
    assert g.gs()[b"members"] == 0
    g.set_member(acc.alice, 5)
    g.set_member(acc.alice, 7)   # a change, not a new member
    g.set_member(acc.bob, 0)     # never a member
    assert g.gs()[b"members"] == 1
    g.set_member(acc.bob, 1)
    g.set_member(acc.alice, 0)
    assert g.gs()[b"members"] == 1
    g.set_member(acc.alice, 3)
    assert g.gs()[b"members"] == 2
