"""Attacks on vote: double voting, windows, membership and snapshot weights, history index."""
import pytest
from conftest import T0, events, pass_proposal, rules


def test_double_vote_same_choice(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    g.vote(dacc.bob, pid, 1, ts=T0 + 10)
    g.reject(g.vote, dacc.bob, pid, 1, ts=T0 + 11, code="already_voted")


def test_double_vote_other_choice(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    g.vote(dacc.bob, pid, 1, ts=T0 + 10)
    for choice in (0, 2):
        g.reject(g.vote, dacc.bob, pid, choice, ts=T0 + 11, code="already_voted")
    assert g.proposal(pid)["for"] == 30 and g.proposal(pid)["voters"] == 1


def test_double_vote_in_one_group(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    second = (g.pay_txn(dacc.bob, 28_500, note=b"2"), dacc.bob)
    call = (g.app_txn(dacc.bob, "vote", [pid, 1, 0],
                      boxes=[g.k_prop(pid), g.k_vote(pid, dacc.bob), g.k_member(dacc.bob),
                             g.k_hist(dacc.bob, 0), g.k_hist(dacc.bob, 1)], note=b"2"), dacc.bob)
    g.reject(g.vote, dacc.bob, pid, 0, ts=T0 + 10, after=[second, call], code="already_voted")


@pytest.mark.parametrize("dt,code", [(9, "voting_not_started"), (0, "voting_not_started"),
                                     (110, "voting_closed"), (111, "voting_closed"),
                                     (10_000, "voting_closed")])
def test_vote_outside_window(dao, dacc, dt, code):
    g = dao
    pid, _ = g.propose(dacc.alice)
    g.reject(g.vote, dacc.bob, pid, 1, ts=T0 + dt, code=code)


def test_vote_last_second_ok(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    g.vote(dacc.bob, pid, 1, ts=T0 + 109)


def test_vote_after_finalize_or_cancel(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    pass_proposal(g, dacc, pid)
    g.reject(g.vote, dacc.carol, pid, 0, ts=T0 + 10, code="voting_closed")
    pid2, _ = g.propose(dacc.alice)
    g.cancel(dacc.alice, pid2, ts=T0 + 5)
    g.reject(g.vote, dacc.carol, pid2, 0, ts=T0 + 10, code="voting_closed")


def test_vote_unknown_proposal(dao, dacc):
    g = dao
    g.reject(g.vote, dacc.bob, 1, 1, ts=T0 + 10, code="unknown_proposal")
    g.reject(g.vote, dacc.bob, 0, 1, ts=T0 + 10, code="unknown_proposal")


def test_vote_by_non_member(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    g.reject(g.vote, dacc.outsider, pid, 1, ts=T0 + 10, code="not_member")
    g.reject(g.vote, dacc.creator, pid, 1, ts=T0 + 10, code="not_member")
    g.reject(g.vote, dacc.agent1, pid, 1, ts=T0 + 10, code="not_member")


def test_vote_by_member_added_after_creation_unsealed(make_gov, acc):
    g = make_gov()
    g.set_member(acc.alice, 10)
    pid, _ = g.propose(acc.alice)
    g.set_member(acc.erin, 1000)  # same block as the proposal: counters order it after
    g.reject(g.vote, acc.erin, pid, 1, hint=0, ts=T0 + 10, code="not_member")


def test_vote_by_member_added_by_executed_membership(dao, dacc):
    g = dao
    pid_old, _ = g.propose(dacc.alice)
    pid_m, _ = g.propose_membership(dacc.alice, dacc.erin, 500)
    p = pass_proposal(g, dacc, pid_m)
    g.execute(pid_m, ts=p["eta"])
    # pid_old is still open (created before erin existed)
    g.reject(g.vote, dacc.erin, pid_old, 1, hint=0, ts=p["eta"], code="not_member")


def test_removed_member_at_snapshot_cannot_vote(make_gov, acc):
    g = make_gov()
    g.set_member(acc.alice, 10)
    g.set_member(acc.bob, 10)
    g.set_member(acc.bob, 0)
    pid, _ = g.propose(acc.alice)
    g.reject(g.vote, acc.bob, pid, 1, hint=1, ts=T0 + 10, code="not_member")
    g.reject(g.vote, acc.bob, pid, 1, hint=0, ts=T0 + 10, code="bad_history_index")


def test_member_removed_after_creation_keeps_snapshot_weight(make_gov, acc):
    g = make_gov()
    g.set_member(acc.alice, 10)
    g.set_member(acc.bob, 10)
    pid, _ = g.propose(acc.alice)
    g.set_member(acc.bob, 0)
    logs, _ = g.vote(acc.bob, pid, 0, hint=0, ts=T0 + 10)
    assert events(logs)[0][1][3] == 10


def test_weight_raised_twice_after_creation_does_not_count(make_gov, acc):
    g = make_gov()
    g.set_member(acc.alice, 10)
    g.set_member(acc.bob, 10)
    pid, _ = g.propose(acc.alice)
    g.set_member(acc.alice, 1000)
    g.set_member(acc.alice, 5000)
    assert g.member(acc.alice) == (5000, 3)
    # the newer entries are refused as hints, also past the end
    for h in (1, 2, 3, 2**64 - 1):
        g.reject(g.vote, acc.alice, pid, 1, hint=h, ts=T0 + 10, code="bad_history_index")
    logs, _ = g.vote(acc.alice, pid, 1, hint=0, ts=T0 + 10)
    assert events(logs) == [("VoteCast", [pid, acc.alice.addr, 1, 10, 10])]
    p = g.proposal(pid)
    assert p["for"] == 10 and p["voted_weight"] == 10 and p["total"] == 20


def test_history_index_too_old(make_gov, acc):
    g = make_gov()
    g.set_member(acc.alice, 10)
    g.set_member(acc.alice, 3)   # lowered before the proposal: entry 1 is in force
    g.set_member(acc.bob, 10)
    pid, _ = g.propose(acc.bob)
    g.reject(g.vote, acc.alice, pid, 1, hint=0, ts=T0 + 10, code="bad_history_index")
    logs, _ = g.vote(acc.alice, pid, 1, hint=1, ts=T0 + 10)
    assert events(logs)[0][1][3] == 3


def test_history_index_of_another_member(make_gov, acc):
    g = make_gov()
    g.set_member(acc.bob, 1)
    g.set_member(acc.bob, 2)
    g.set_member(acc.bob, 50)    # bob's entry in force is index 2
    g.set_member(acc.alice, 10)  # alice has one entry
    pid, _ = g.propose(acc.alice)
    g.reject(g.vote, acc.alice, pid, 1, hint=2, ts=T0 + 10, code="bad_history_index")
    g.reject(g.vote, acc.bob, pid, 1, hint=0, ts=T0 + 10, code="bad_history_index")
    g.vote(acc.bob, pid, 1, hint=2, ts=T0 + 10)
    assert g.proposal(pid)["for"] == 50


@pytest.mark.parametrize("choice", [3, 4, 128, 255])
def test_bad_choice(dao, dacc, choice):
    g = dao
    pid, _ = g.propose(dacc.alice)
    g.reject(g.vote, dacc.bob, pid, choice, ts=T0 + 10, code="bad_choice")


def test_vote_counts_only_for_own_proposal(dao, dacc):
    g = dao
    p1, _ = g.propose(dacc.alice)
    p2, _ = g.propose(dacc.alice)
    g.vote(dacc.bob, p1, 1, ts=T0 + 10)
    assert g.proposal(p2)["for"] == 0
    g.vote(dacc.bob, p2, 0, ts=T0 + 10)  # a separate vote box per proposal
    assert g.proposal(p2)["against"] == 30


def test_vote_with_extra_box_refs_changes_nothing_else(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    before = dict(g.ledger.boxes[g.app_id])
    extra = [g.k_vote(pid, dacc.alice), g.k_member(dacc.alice), g.k_report(pid, 1)]
    boxes = [g.k_prop(pid), g.k_vote(pid, dacc.bob), g.k_member(dacc.bob), g.k_hist(dacc.bob, 0)] + extra
    g.call(dacc.bob, "vote", [pid, 1, 0], pay=28_500, boxes=boxes, ts=T0 + 10)
    after = g.ledger.boxes[g.app_id]
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == {g.k_prop(pid), g.k_vote(pid, dacc.bob)}
