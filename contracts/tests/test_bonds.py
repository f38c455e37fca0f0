"""The proposal bond on the real evaluator (docs/governance-rules.md, "Proposal bond"): paid in
its own payment right before the box payment, snapshotted per proposal, refunded once to the
proposer or kept by the treasury, never spent by it. contracts/audit/test_attack_bonds.py
attacks the same from the specification alone."""
from algosdk import transaction

from harness import METHODS, Gov, expect_error
from test_flows import events

BOND = 1_000_000
RULES = dict(voting_delay=10, voting_period=100, support_ppm=500_000, quorum_ppm=200_000,
             emergency_period=40, emergency_support_ppm=666_667, timelock=50, grace_period=30,
             min_proposer_weight=1, vote_cap_ppm=0, proposal_bond=BOND, heartbeat_interval=86_400)
T0 = 1_000_000


def dao(**rules):
    g = Gov(rules=dict(RULES, **rules), now=T0)
    g.set_member("alice", 60)
    g.set_member("bob", 40)
    g.seal()
    return g


def balance(g, who):
    return g.ledger.get_account_balance(g.addr(who))[0]


def test_the_bond_is_taken_snapshotted_and_counted():
    g = dao()
    before = balance(g, "alice")
    pid = g.propose("alice")
    assert g.bond(pid) == {"bond": BOND, "status": "held", "settled_at": 0, "canceled_early": 0}
    assert g.global_state()[b"bonds_held"] == BOND
    assert before - balance(g, "alice") >= BOND


def test_the_box_payment_is_not_a_bond():
    g = dao()
    # no bond payment: the box payment alone (even of the bond's amount) is not taken as one
    expect_error(g, "bond_missing", g.propose, "alice", bond=0, pay=BOND)


def test_wrong_amounts_are_refused():
    g = dao()
    for amount in (BOND - 1, BOND + 1):
        expect_error(g, "bond_wrong_amount", g.propose, "alice", bond=amount)


def bond_payment(g, sender, receiver=None, **kw):
    return transaction.PaymentTxn(g.addr(sender), g.sp, receiver or g.app_addr, BOND, note=b"bond", **kw)


def test_a_bond_from_someone_else_or_to_someone_else_is_refused():
    g = dao()
    # the wrapper's own bond is switched off; the group carries the crafted one in its place
    expect_error(g, "bond_wrong_sender", g.propose, "alice", bond=0, extra=[bond_payment(g, "bob")])
    expect_error(g, "bond_wrong_receiver", g.propose, "alice", bond=0,
                 extra=[bond_payment(g, "alice", receiver=g.addr("bob"))])


def test_a_bond_that_closes_the_proposers_account_is_refused():
    g = dao()
    # alice is empty after the close: bob's box payment pays the fees of the group (pooled)
    bond = bond_payment(g, "alice", close_remainder_to=g.addr("bob"))
    box = transaction.PaymentTxn(g.addr("bob"), g.sp, g.app_addr, 400_000, note=b"box")
    box.fee = 3000
    m = METHODS["propose"]
    values = [0, b"\xaa" * 20, b"\xbb" * 20, b"\xcc" * 32, True, [], "u"]
    args = [m.get_selector()] + [a.type.encode(v) for a, v in zip(m.args[1:], values)]
    call = transaction.ApplicationCallTxn(g.addr("alice"), g.sp, g.app_id, transaction.OnComplete.NoOpOC,
                                          app_args=args, boxes=[(0, k) for k in g._propose_boxes("alice")])
    call.fee = 0
    expect_error(g, "bond_rekey_or_close", g._eval, [bond, box, call])


def test_refund_once_to_the_proposer_after_the_outcome():
    g = dao()
    pid = g.propose("alice")
    expect_error(g, "bond_not_final", g.refund_bond, pid, by="bob")
    g.now = T0 + 10
    g.vote("alice", pid, "for")
    expect_error(g, "bond_not_final", g.refund_bond, pid, by="bob")
    g.finalize(pid)
    alice = balance(g, "alice")
    assert g.refund_bond(pid, by="bob") == BOND
    assert events(g) == [("BondRefunded", {"id": pid, "proposer": g.addr("alice"), "amount": BOND})]
    assert balance(g, "alice") - alice == BOND
    assert g.bond(pid)["status"] == "refunded" and g.global_state()[b"bonds_held"] == 0
    expect_error(g, "bond_refunded", g.refund_bond, pid, by="alice")


def test_failed_quorum_keeps_the_bond_at_finalize():
    g = dao()
    pid = g.propose("alice")
    g.now = T0 + 110
    g.finalize(pid)
    assert ("BondKept", {"id": pid, "amount": BOND}) in events(g)
    assert g.bond(pid)["status"] == "kept" and g.global_state()[b"bonds_held"] == 0
    expect_error(g, "bond_kept", g.refund_bond, pid, by="alice")


def test_without_a_bond_the_app_is_as_before():
    g = dao(proposal_bond=0)
    pid = g.propose("alice")
    assert g.bond(pid) is None and g.global_state()[b"bonds_held"] == 0
    expect_error(g, "no_bond", g.refund_bond, pid, by="alice")


def test_the_largest_rebalance_still_fits_its_budget_with_a_bond():
    from test_rebalance import ordered
    names = [f"m{i}" for i in range(8)]
    g = Gov(rules=RULES, now=T0)
    for n in names:
        g.set_member(n, 10)
    g.seal()
    order = ordered(g, *names)
    pid = g.propose_rebalance(order[0], [(n, 20) for n in order])
    assert g.bond(pid)["bond"] == BOND
