"""Attacks on finalize, cancel, execute (treasury included) and report."""
import pytest
from conftest import ALGO, MAX_TOTAL, T0, ZERO_ADDR, events, pass_proposal, rules


# ---------------------------------------------------------------- finalize
def test_finalize_early_when_outcome_can_change(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    g.reject(g.finalize, pid, ts=T0, code="outcome_undecided")       # pending, nobody voted
    g.reject(g.finalize, pid, ts=T0 + 10, code="outcome_undecided")
    g.vote(dacc.alice, pid, 1, ts=T0 + 10)
    g.vote(dacc.dave, pid, 1, ts=T0 + 10)
    # for 50, remaining 50: all remaining against gives 50/50, which fails -> undecided
    g.reject(g.finalize, pid, ts=T0 + 50, code="outcome_undecided")
    g.vote(dacc.bob, pid, 0, ts=T0 + 50)
    # for 50, against 30, remaining 20: could still end 50/50 -> undecided
    g.reject(g.finalize, pid, ts=T0 + 109, code="outcome_undecided")


def test_support_exactly_at_threshold_fails_at_end(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    for who, c in [(dacc.alice, 1), (dacc.dave, 1), (dacc.bob, 0), (dacc.carol, 0)]:
        g.vote(who, pid, c, ts=T0 + 10)
    st, logs = g.finalize(pid, ts=T0 + 10)   # all weight cast: decided -> defeated
    assert st == 2 and events(logs) == [("ProposalFinalized", [pid, 2, 0])]


def test_quorum_not_reached(make_gov, acc):
    g = make_gov(rules(quorum_ppm=500_000))
    g.set_member(acc.alice, 40)
    g.set_member(acc.bob, 60)
    pid, _ = g.propose(acc.alice)
    g.vote(acc.alice, pid, 1, ts=T0 + 10)
    g.reject(g.finalize, pid, ts=T0 + 11, code="outcome_undecided")
    st, _ = g.finalize(pid, ts=T0 + 110)
    assert st == 2  # 40 < quorum 50


def test_finalize_twice(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    pass_proposal(g, dacc, pid)
    g.reject(g.finalize, pid, ts=T0 + 10, code="not_open")
    g.reject(g.finalize, pid, ts=T0 + 500, code="not_open")
    pid2, _ = g.propose(dacc.alice)
    g.finalize(pid2, ts=T0 + 110)
    g.reject(g.finalize, pid2, ts=T0 + 111, code="not_open")


def test_finalize_unknown_or_canceled(dao, dacc):
    g = dao
    g.reject(g.finalize, 1, ts=T0, code="unknown_proposal")
    pid, _ = g.propose(dacc.alice)
    g.cancel(dacc.alice, pid)
    g.reject(g.finalize, pid, ts=T0 + 200, code="not_open")


# ---------------------------------------------------------------- cancel
def test_cancel_by_non_proposer(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    for who in (dacc.bob, dacc.creator, dacc.outsider):
        g.reject(g.cancel, who, pid, ts=T0 + 10, code="not_proposer")


def test_cancel_after_finalization(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    pass_proposal(g, dacc, pid)
    g.reject(g.cancel, dacc.alice, pid, ts=T0 + 10, code="not_open")


@pytest.mark.parametrize("dt", [110, 111, 5000])
def test_cancel_at_or_after_end(dao, dacc, dt):
    g = dao
    pid, _ = g.propose(dacc.alice)
    g.reject(g.cancel, dacc.alice, pid, ts=T0 + dt, code="voting_closed")


def test_cancel_twice_and_unknown(dao, dacc):
    g = dao
    g.reject(g.cancel, dacc.alice, 1, ts=T0, code="unknown_proposal")
    pid, _ = g.propose(dacc.alice)
    logs, _ = g.cancel(dacc.alice, pid, ts=T0 + 109)
    assert events(logs) == [("ProposalCanceled", [pid])]
    g.reject(g.cancel, dacc.alice, pid, ts=T0 + 109, code="not_open")


# ---------------------------------------------------------------- execute
@pytest.fixture
def queued_membership(dao, dacc):
    pid, _ = dao.propose_membership(dacc.alice, dacc.erin, 5)
    return pid, pass_proposal(dao, dacc, pid)


def test_execute_before_eta(dao, queued_membership):
    pid, p = queued_membership
    dao.reject(dao.execute, pid, ts=p["eta"] - 1, code="timelock_active")


@pytest.mark.parametrize("extra", [0, 1, 10**6])
def test_execute_at_or_after_expiry(dao, queued_membership, extra):
    pid, p = queued_membership
    dao.reject(dao.execute, pid, ts=p["eta"] + p["grace_period"] + extra, code="expired")


def test_execute_last_second_ok_then_twice(dao, queued_membership):
    pid, p = queued_membership
    dao.execute(pid, ts=p["eta"] + p["grace_period"] - 1)
    dao.reject(dao.execute, pid, ts=p["eta"] + p["grace_period"] - 1, code="not_queued")


def test_execute_defeated_canceled_voting(dao, dacc):
    g = dao
    d, _ = g.propose_membership(dacc.alice, dacc.erin, 5)
    c, _ = g.propose_membership(dacc.alice, dacc.erin, 5)
    v, _ = g.propose_membership(dacc.alice, dacc.erin, 5)
    g.vote(dacc.alice, d, 0, ts=T0 + 10)
    g.vote(dacc.bob, d, 0, ts=T0 + 10)
    assert g.finalize(d, ts=T0 + 10)[0] == 2
    g.cancel(dacc.alice, c, ts=T0 + 10)
    for pid in (d, c, v):
        g.reject(g.execute, pid, ts=T0 + 100, code="not_queued")
    g.reject(g.execute, 99, ts=T0 + 100, code="unknown_proposal")


@pytest.mark.parametrize("kind", [0, 1])
def test_execute_deploy_and_emergency(dao, dacc, kind):
    g = dao
    pid, _ = g.propose(dacc.alice, kind=kind)
    p = pass_proposal(g, dacc, pid)
    g.reject(g.execute, pid, ts=p["eta"], code="not_executable_kind")


def test_execute_membership_beyond_max_total_stays_queued(dao, dacc):
    g = dao
    pid, _ = g.propose_membership(dacc.alice, dacc.erin, MAX_TOTAL - 99)  # total would be 10^12 + 1
    p = pass_proposal(g, dacc, pid)
    g.reject(g.execute, pid, ts=p["eta"], code="total_weight_too_large")
    assert g.proposal(pid)["state"] == 3
    pid2, _ = g.propose_membership(dacc.alice, dacc.erin, 2**64 - 1)
    p2 = pass_proposal(g, dacc, pid2)
    g.reject(g.execute, pid2, ts=p2["eta"], code="total_weight_too_large")


def test_execute_membership_payment_too_small(dao, queued_membership):
    pid, p = queued_membership
    dao.reject(dao.execute, pid, ts=p["eta"], pay=47_399, code="mbr_not_paid")
    dao.reject(dao.execute, pid, ts=p["eta"], pay=0, code="mbr_not_paid")


# ---------------------------------------------------------------- treasury
@pytest.fixture
def treasury(dao, dacc):
    dao.pay(dacc.outsider, dao.addr, 5 * ALGO)
    return dao


def test_treasury_executed_twice(treasury, dacc):
    g = treasury
    pid, _ = g.propose_treasury(dacc.alice, dacc.mallory, 1 * ALGO)
    p = pass_proposal(g, dacc, pid)
    g.execute(pid, ts=p["eta"])
    g.reject(g.execute, pid, ts=p["eta"], code="not_queued")
    g.reject(g.execute, pid, ts=p["eta"] + 1, code="not_queued")


def test_treasury_twice_in_one_group(treasury, dacc):
    g = treasury
    pid, _ = g.propose_treasury(dacc.alice, dacc.mallory, 1 * ALGO)
    p = pass_proposal(g, dacc, pid)
    again = [(g.pay_txn(dacc.bob, 0, note=b"x"), dacc.bob),
             (g.app_txn(dacc.bob, "execute", [pid], boxes=[g.k_prop(pid)], accounts=[dacc.mallory.addr],
                        fee=2000, note=b"x"), dacc.bob)]
    g.reject(g.execute, pid, ts=p["eta"], after=again, code="not_queued")


def test_treasury_larger_than_treasury(treasury, dacc):
    g = treasury
    # every box is paid exactly by its payment, so balance - min balance is invariant under
    # proposals and votes: what is spendable now is spendable at execution
    spendable = g.balance(g.addr) - g.mbr()
    pid, _ = g.propose_treasury(dacc.alice, dacc.mallory, spendable + 1)
    pid_huge, _ = g.propose_treasury(dacc.alice, dacc.mallory, 1000 * ALGO)
    p = pass_proposal(g, dacc, pid)
    pass_proposal(g, dacc, pid_huge)
    assert g.balance(g.addr) - g.mbr() == spendable
    g.reject(g.execute, pid, ts=p["eta"], code="insufficient_treasury")
    g.reject(g.execute, pid_huge, ts=p["eta"], code="insufficient_treasury")
    assert g.proposal(pid)["state"] == 3


def test_treasury_exactly_spendable_leaves_min_balance(treasury, dacc):
    g = treasury
    spendable = g.balance(g.addr) - g.mbr()
    pid, _ = g.propose_treasury(dacc.alice, dacc.mallory, spendable)
    p = pass_proposal(g, dacc, pid)
    g.execute(pid, ts=p["eta"])
    assert g.balance(g.addr) == g.mbr()


def test_treasury_fee_is_never_paid_by_the_treasury(treasury, dacc):
    g = treasury
    pid, _ = g.propose_treasury(dacc.alice, dacc.mallory, 1 * ALGO)
    p = pass_proposal(g, dacc, pid)
    g.reject(g.execute, pid, ts=p["eta"], fee=1000, match="fee")


def test_treasury_payment_cannot_be_redirected(treasury, dacc):
    # the receiver is taken from the proposal box, not from the caller's account references
    g = treasury
    pid, _ = g.propose_treasury(dacc.alice, dacc.mallory, 1 * ALGO)
    p = pass_proposal(g, dacc, pid)
    m0, o0 = g.balance(dacc.mallory), g.balance(dacc.outsider)
    g.execute(pid, sender=dacc.outsider, ts=p["eta"], accounts=[dacc.mallory.addr, dacc.outsider.addr])
    assert g.balance(dacc.mallory) - m0 == 1 * ALGO
    assert o0 - g.balance(dacc.outsider) == 1000 + 2000  # fees only: the 0 payment and the call's pooled fee


# ---------------------------------------------------------------- report
@pytest.fixture
def queued_deploy(dao, dacc):
    pid, _ = dao.propose(dacc.alice, all_hosts=False, hosts=[1, 2])
    return pid, pass_proposal(dao, dacc, pid)


def test_report_by_non_agent(dao, dacc, queued_deploy):
    pid, p = queued_deploy
    for who in (dacc.outsider, dacc.creator, dacc.alice):
        dao.reject(dao.report, who, pid, 1, 0, ts=p["eta"], code="not_host_agent")
    dao.reject(dao.report, dacc.agent2, pid, 1, 0, ts=p["eta"], code="not_host_agent")


def test_report_for_host_not_targeted(dao, dacc, queued_deploy):
    pid, p = queued_deploy
    dao.reject(dao.report, dacc.agent3, pid, 3, 0, ts=p["eta"], code="host_not_targeted")
    dao.reject(dao.report, dacc.agent1, pid, 4, 0, ts=p["eta"], code="host_not_targeted")


def test_report_unregistered_host_all_hosts(dao, dacc):
    pid, _ = dao.propose(dacc.alice, all_hosts=True)
    p = pass_proposal(dao, dacc, pid)
    dao.reject(dao.report, dacc.agent1, pid, 77, 0, ts=p["eta"], code="not_host_agent")


def test_report_twice(dao, dacc, queued_deploy):
    pid, p = queued_deploy
    dao.report(dacc.agent1, pid, 1, 1, ts=p["eta"])
    for st in (0, 1, 2, 3):
        dao.reject(dao.report, dacc.agent1, pid, 1, st, ts=p["eta"] + 1, code="already_reported")


def test_report_before_eta(dao, dacc, queued_deploy):
    pid, p = queued_deploy
    dao.reject(dao.report, dacc.agent1, pid, 1, 0, ts=p["eta"] - 1, code="timelock_active")


def test_report_on_non_deploy(dao, dacc, queued_membership):
    pid, p = queued_membership
    dao.reject(dao.report, dacc.agent1, pid, 1, 0, ts=p["eta"], code="not_deploy_kind")


def test_report_on_voting_defeated_canceled(dao, dacc):
    g = dao
    v, _ = g.propose(dacc.alice)
    d, _ = g.propose(dacc.alice)
    c, _ = g.propose(dacc.alice)
    g.vote(dacc.alice, d, 0, ts=T0 + 10)
    g.vote(dacc.bob, d, 0, ts=T0 + 10)
    g.finalize(d, ts=T0 + 10)
    g.cancel(dacc.alice, c, ts=T0 + 10)
    for pid in (v, d, c):
        g.reject(g.report, dacc.agent1, pid, 1, 0, ts=T0 + 5000, code="not_queued")
    g.reject(g.report, dacc.agent1, 42, 1, 0, ts=T0 + 5000, code="unknown_proposal")


@pytest.mark.parametrize("status", [5, 6, 128, 255])  # 4 is not_reproducible
def test_report_bad_status(dao, dacc, queued_deploy, status):
    pid, p = queued_deploy
    dao.reject(dao.report, dacc.agent1, pid, 1, status, ts=p["eta"], code="bad_status")


def test_rollback_amendment_once(dao, dacc, queued_deploy):
    g = dao
    pid, p = queued_deploy
    g.report(dacc.agent1, pid, 1, 0, ts=p["eta"])
    g.reject(g.report, dacc.agent1, pid, 1, 0, ts=p["eta"] + 1, code="already_reported")  # applied->applied
    g.reject(g.report, dacc.agent1, pid, 1, 1, ts=p["eta"] + 1, code="already_reported")  # applied->failed
    g.reject(g.report, dacc.agent1, pid, 1, 3, ts=p["eta"] + 1, code="already_reported")  # applied->refused
    g.report(dacc.agent1, pid, 1, 2, ts=p["eta"] + 2)
    g.reject(g.report, dacc.agent1, pid, 1, 2, ts=p["eta"] + 3, code="already_reported")
    g.reject(g.report, dacc.agent1, pid, 1, 0, ts=p["eta"] + 3, code="already_reported")
    # the original is untouched
    assert g.box(g.k_report(pid, 1))[:8] == (0).to_bytes(8, "big")


@pytest.mark.parametrize("first", [1, 2, 3])
def test_no_amendment_unless_applied(dao, dacc, queued_deploy, first):
    pid, p = queued_deploy
    dao.report(dacc.agent2, pid, 2, first, ts=p["eta"])
    dao.reject(dao.report, dacc.agent2, pid, 2, 2, ts=p["eta"] + 1, code="already_reported")


def test_disabled_host_cannot_report(dao, dacc):
    g = dao
    ph, _ = g.propose_hosts(dacc.alice, 1, ZERO_ADDR)
    pd, _ = g.propose(dacc.alice, all_hosts=False, hosts=[1])
    p = pass_proposal(g, dacc, ph)
    pass_proposal(g, dacc, pd)
    g.execute(ph, ts=p["eta"])
    assert g.box(g.k_host(1)) == bytes(32)
    g.reject(g.report, dacc.agent1, pd, 1, 0, ts=p["eta"], code="not_host_agent")
