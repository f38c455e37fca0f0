"""Proposal bonds (issue 21, item 3): reuse of one payment, wrong payments, refunds that must not
happen, and a bond changed by a parameters proposal while proposals are open.

docs/governance-rules.md, "Proposal bond"; docs/contract.md, "Proposal bond".
"""
import pytest
from algosdk import encoding

from conftest import ALGO, pass_proposal, rules, u64

BOND = 2 * ALGO
D_BOX = 2500 + 400 * (9 + 32)


def bonded(make_gov, acc, bond=BOND, fund=10 * ALGO, **rule_kw):
    """A sealed DAO (alice 40, bob 30, carol 20, dave 10) whose rules ask for a bond."""
    g = make_gov(rules(proposal_bond=bond, **rule_kw), fund=fund)
    for n, w in [("alice", 40), ("bob", 30), ("carol", 20), ("dave", 10)]:
        g.set_member(getattr(acc, n), w)
    g.seal()
    return g


def bond_box(g, pid):
    b = g.box(b"d" + u64(pid))
    if b is None:
        return None
    return [int.from_bytes(b[i:i + 8], "big") for i in range(0, 32, 8)]


def refund(g, pid, sender, ts=None, accounts=None, fee=2000):
    """refund_bond: anyone; the proposer is paid (among the accounts unless it is the sender)."""
    if accounts is None:
        accounts = [g.proposal(pid)["proposer"]] if g.proposal(pid) else None
    return g.call(sender, "refund_bond", [pid], boxes=[g.k_prop(pid), b"d" + u64(pid)],
                  accounts=accounts, fee=fee, ts=ts)


def held(g):
    return g.gs()[b"bonds_held"]


def deploy_group(g, who, pid, bond_txn, mbr_pay=None, signer=None):
    """[bond_txn?, mbr payment, propose] of proposal pid by who (signed by signer: after a rekey)."""
    signer = signer or who
    url = "u"
    plen = 77 + 2 + 2 + len(url)
    cost = 2500 + 400 * (9 + 176 + plen) + 12_500 + D_BOX
    txns = [] if bond_txn is None else [bond_txn]
    txns.append((g.pay_txn(who, cost if mbr_pay is None else mbr_pay, note=b"mbr%d" % pid), signer))
    txns.append((g.app_txn(who, "propose", [0, b"\x01" * 20, b"\x02" * 20, b"\x03" * 32, True, [], url],
                           boxes=[g.k_prop(pid), g.k_member(who), b"q" + u64(pid), b"d" + u64(pid)],
                           note=b"p%d" % pid), signer))
    return txns


def run(g, txns, ts=None):
    return g.eval([t for t, _ in txns], [s for _, s in txns], ts)


# ---------------------------------------------------------------- paying the bond
def test_a_bond_is_taken_and_held(make_gov, acc):
    g = bonded(make_gov, acc)
    before = g.balance(acc.alice)
    pid, _ = g.propose(acc.alice)
    assert bond_box(g, pid) == [BOND, 0, 0, 0]
    assert held(g) == BOND
    assert before - g.balance(acc.alice) >= BOND


def test_without_a_bond_nothing_changes(dao, dacc):
    pid, _ = dao.propose(dacc.alice)
    assert bond_box(dao, pid) is None and dao.gs()[b"bonds_held"] == 0
    dao.reject(refund, dao, pid, dacc.bob, code="no_bond")


def test_a_missing_bond_is_refused(make_gov, acc):
    g = bonded(make_gov, acc)
    g.reject(run, g, deploy_group(g, acc.alice, 1, None), code="bond_missing")


@pytest.mark.parametrize("amount", [0, BOND - 1, BOND + 1])
def test_underpaid_or_overpaid_bond_is_refused(make_gov, acc, amount):
    g = bonded(make_gov, acc)
    bond = (g.pay_txn(acc.alice, amount, note=b"bond"), acc.alice)
    g.reject(run, g, deploy_group(g, acc.alice, 1, bond), code="bond_wrong_amount")


def test_a_bond_paid_by_someone_else_is_refused(make_gov, acc):
    g = bonded(make_gov, acc)
    bond = (g.pay_txn(acc.mallory, BOND, note=b"bond"), acc.mallory)
    g.reject(run, g, deploy_group(g, acc.alice, 1, bond), code="bond_wrong_sender")


def test_a_bond_paid_elsewhere_is_refused(make_gov, acc):
    g = bonded(make_gov, acc)
    bond = (g.pay_txn(acc.alice, BOND, receiver=acc.bob.addr, note=b"bond"), acc.alice)
    g.reject(run, g, deploy_group(g, acc.alice, 1, bond), code="bond_wrong_receiver")


@pytest.mark.parametrize("field", ["rekey_to", "close_remainder_to"])
def test_a_bond_that_rekeys_or_closes_is_refused(make_gov, acc, field):
    g = bonded(make_gov, acc)
    bond = (g.pay_txn(acc.alice, BOND, note=b"bond", **{field: acc.mallory.addr}), acc.alice)
    # after a rekey to mallory, alice's later transactions in the group need mallory's signature
    signer = acc.mallory if field == "rekey_to" else acc.alice
    txns = deploy_group(g, acc.alice, 1, bond, signer=signer)
    if field == "close_remainder_to":
        # alice has nothing left after the close: bob's box payment pays every fee (pooled)
        mbr, call = txns[1][0], txns[2][0]
        mbr.sender, mbr.fee, call.fee = acc.bob.addr, 3000, 0
        txns[1] = (mbr, acc.bob)
    g.reject(run, g, txns, code="bond_rekey_or_close")


def test_one_bond_cannot_pay_for_two_proposals(make_gov, acc):
    g = bonded(make_gov, acc)
    bond = (g.pay_txn(acc.alice, BOND, note=b"bond"), acc.alice)
    # [bond, mbr1, propose1, mbr2, propose2]: the second call's bond slot is the first call
    txns = deploy_group(g, acc.alice, 1, bond) + deploy_group(g, acc.alice, 2, None)
    g.reject(run, g, txns, code="bond_missing")


def test_the_box_payment_cannot_be_the_bond(make_gov, acc):
    g = bonded(make_gov, acc)
    # an MBR payment of exactly the bond, alone before the call: it is the call's box payment,
    # so the bond slot before it is empty
    g.reject(run, g, deploy_group(g, acc.alice, 1, None, mbr_pay=BOND), code="bond_missing")


def test_another_calls_box_payment_cannot_be_the_bond(make_gov, acc):
    g = bonded(make_gov, acc)
    pid, _ = g.propose(acc.alice)
    p = g.proposal(pid)
    vote_pay = (g.pay_txn(acc.alice, BOND, note=b"vote mbr"), acc.alice)
    vote = (g.app_txn(acc.alice, "vote", [pid, 1, 0],
                      boxes=[g.k_prop(pid), g.k_vote(pid, acc.alice), g.k_member(acc.alice),
                             b"w" + encoding.decode_address(acc.alice.addr) + u64(0),
                             b"w" + encoding.decode_address(acc.alice.addr) + u64(1)]), acc.alice)
    txns = [vote_pay, vote] + deploy_group(g, acc.alice, 2, None)
    g.reject(run, g, txns, code="bond_missing", ts=p["start"])


# ---------------------------------------------------------------- refunds
def test_a_passed_proposal_is_refunded_once_to_its_proposer(make_gov, acc):
    g = bonded(make_gov, acc)
    pid, _ = g.propose(acc.alice)
    g.reject(refund, g, pid, acc.bob, code="bond_not_final")
    pass_proposal(g, acc, pid)
    alice, bob = g.balance(acc.alice), g.balance(acc.bob)
    logs, _ = refund(g, pid, acc.bob)    # anyone may ask; the proposer is paid
    assert g.balance(acc.alice) - alice == BOND
    assert bob - g.balance(acc.bob) == 2000  # only the pooled fee
    assert bond_box(g, pid)[:2] == [BOND, 1] and held(g) == 0
    g.reject(refund, g, pid, acc.alice, code="bond_refunded")


def test_a_defeat_with_the_quorum_reached_is_refunded(make_gov, acc):
    g = bonded(make_gov, acc)
    pid, _ = g.propose(acc.alice)
    p = g.proposal(pid)
    g.vote(acc.bob, pid, 0, ts=p["start"])
    g.vote(acc.carol, pid, 0, ts=p["start"])
    g.finalize(pid, ts=p["end"])
    alice = g.balance(acc.alice)
    refund(g, pid, acc.alice)
    assert g.balance(acc.alice) - alice == BOND - 2000


def test_a_proposal_that_failed_its_quorum_keeps_its_bond(make_gov, acc):
    g = bonded(make_gov, acc, quorum_ppm=500_000)
    pid, _ = g.propose(acc.alice)
    p = g.proposal(pid)
    g.vote(acc.dave, pid, 1, ts=p["start"])   # 10 of the 50 the quorum needs
    g.reject(refund, g, pid, acc.alice, code="bond_not_final", ts=p["end"])
    st, logs = g.finalize(pid, ts=p["end"])
    assert st == 2
    assert bond_box(g, pid)[:3] == [BOND, 2, p["end"]] and held(g) == 0
    g.reject(refund, g, pid, acc.alice, code="bond_kept", ts=p["end"])


def test_finalizing_an_early_defeat_at_once_cannot_take_the_bond(make_gov, acc):
    """With 70 % support, bob and dave (40 of 100) against decide the defeat at once, with 40 of
    the 50 votes the quorum needs cast and 60 still able to vote. Whoever finalizes first must not
    decide that the proposer loses the bond."""
    g = bonded(make_gov, acc, support_ppm=700_000, emergency_support_ppm=800_000,
               quorum_ppm=500_000)
    pid, _ = g.propose(acc.alice)
    p = g.proposal(pid)
    g.vote(acc.bob, pid, 0, ts=p["start"])
    g.vote(acc.dave, pid, 0, ts=p["start"])
    st, _ = g.finalize(pid, ts=p["start"], sender=acc.mallory)
    assert st == 2
    assert bond_box(g, pid)[1] == 0 and held(g) == BOND
    alice = g.balance(acc.alice)
    refund(g, pid, acc.mallory, accounts=[acc.alice.addr])
    assert g.balance(acc.alice) - alice == BOND


def test_canceled_before_voting_is_refunded_and_during_voting_is_kept(make_gov, acc):
    g = bonded(make_gov, acc)
    early, _ = g.propose(acc.alice)
    late, _ = g.propose(acc.alice)
    p = g.proposal(early)
    g.cancel(acc.alice, early, ts=p["start"] - 1)
    g.cancel(acc.alice, late, ts=p["start"])
    assert bond_box(g, early) == [BOND, 0, 0, 1]
    assert bond_box(g, late)[:2] == [BOND, 2]
    assert held(g) == BOND
    g.reject(refund, g, late, acc.alice, code="bond_kept")
    refund(g, early, acc.mallory, accounts=[acc.alice.addr])
    assert held(g) == 0
    g.reject(refund, g, early, acc.alice, code="bond_refunded")


def test_a_refund_cannot_be_sent_elsewhere(make_gov, acc):
    g = bonded(make_gov, acc)
    pid, _ = g.propose(acc.alice)
    pass_proposal(g, acc, pid)
    # without the proposer among the group's accounts the payment cannot even be made
    g.reject(refund, g, pid, acc.mallory, accounts=[acc.mallory.addr])
    mallory = g.balance(acc.mallory)
    # mallory calls with herself as the only extra account: the receiver is still the proposer
    refund(g, pid, acc.mallory, accounts=[acc.alice.addr, acc.mallory.addr])
    assert g.balance(acc.mallory) == mallory - 2000


def test_the_treasury_cannot_spend_held_bonds(make_gov, acc):
    # funded with the base minimum balance only: every box is paid for exactly, so the treasury
    # has nothing of its own, and the only money above the minimum balance is the held bond
    g = bonded(make_gov, acc, fund=100_000)
    pid, _ = g.propose_treasury(acc.alice, acc.mallory, BOND)
    p = pass_proposal(g, acc, pid)
    g.reject(g.execute, pid, ts=p["eta"], accounts=[acc.mallory.addr], code="insufficient_treasury")
    # once the bond is back with its proposer, there is nothing to pay a treasury proposal with
    refund(g, pid, acc.alice, ts=p["eta"])
    assert held(g) == 0


# ---------------------------------------------------------------- a bond changed while open
def test_a_new_bond_does_not_change_what_open_proposals_owe(make_gov, acc):
    g = bonded(make_gov, acc)
    change, _ = g.propose_parameters(acc.alice, rules(proposal_bond=5 * BOND))
    open_, _ = g.propose(acc.bob)
    p = pass_proposal(g, acc, change)
    pass_proposal(g, acc, open_, voters=("alice", "carol"))
    g.execute(change, ts=p["eta"])
    assert g.get("get_rules", ts=p["eta"])[0][10] == 5 * BOND
    later, _ = g.propose(acc.alice, ts=p["eta"])
    assert bond_box(g, open_)[0] == BOND and bond_box(g, later)[0] == 5 * BOND
    assert held(g) == BOND + BOND + 5 * BOND
    bob = g.balance(acc.bob)
    refund(g, open_, acc.bob, ts=p["eta"])
    assert g.balance(acc.bob) - bob == BOND - 2000


def test_a_bond_of_zero_later_still_refunds_the_old_bond(make_gov, acc):
    g = bonded(make_gov, acc)
    change, _ = g.propose_parameters(acc.alice, rules(proposal_bond=0))
    open_, _ = g.propose(acc.bob)
    p = pass_proposal(g, acc, change)
    pass_proposal(g, acc, open_, voters=("alice", "carol"))
    g.execute(change, ts=p["eta"])
    later, _ = g.propose(acc.alice, ts=p["eta"])
    assert bond_box(g, later) is None
    refund(g, open_, acc.bob, ts=p["eta"])
    assert held(g) == BOND  # the parameters proposal's own bond, still to be refunded
    refund(g, change, acc.alice, ts=p["eta"])
    assert held(g) == 0
