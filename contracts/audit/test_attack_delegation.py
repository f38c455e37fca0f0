"""Delegation (issue 21, item 4): every way to vote twice with one weight, to move weight that is
not one's own, or to leave the powers out of step with total_weight, refused.

docs/governance-rules.md, "Delegation"; docs/contract.md, "Delegation" (box references, costs).
The sealed DAO of the fixtures: alice 40, bob 30, carol 20, dave 10 (total 100), member_seq 4.
"""
from algosdk import encoding, transaction

from conftest import T0, events, pass_proposal, rules, u64

E_BOX = 2500 + 400 * (33 + 32)     # "e" ++ address -> delegate
W_BOX = 2500 + 400 * (41 + 16)     # one power history entry
ZERO = encoding.encode_address(bytes(32))
NAMES = ("alice", "bob", "carol", "dave", "erin", "mallory", "outsider")


def addr(a):
    return a if isinstance(a, str) else a.addr


def power_boxes(g, a, added):
    """Member box, last entry and next entry of a, counting entries an earlier transaction of the
    same group adds (added: address -> count)."""
    a = addr(a)
    n = g.member(a)[1] + added.get(a, 0)
    return [g.k_member(a)] + ([g.k_hist(a, n - 1)] if n else []) + [g.k_hist(a, n)]


def delegate_txns(g, who, to, pay=None, added=None, holder=None, tag=b""):
    """[payment, delegate(to)] with the references of docs/contract.md, "Delegation". holder: the
    current holder of who's weight when an earlier transaction of the group changed it."""
    added = {} if added is None else added
    holder = addr(holder) if holder else (g.delegate_of(who.addr) or who.addr)
    boxes = [g.k_member(who), g.k_deleg(who), g.k_member(to)]
    boxes += power_boxes(g, holder, added) + power_boxes(g, to, added)
    for a in (holder, addr(to)):
        added[a] = added.get(a, 0) + 1
    cost = (0 if g.box(g.k_deleg(who)) else E_BOX) + 2 * W_BOX
    return [(g.pay_txn(who, cost if pay is None else pay, note=b"dp" + tag), who),
            (g.app_txn(who, "delegate", [addr(to)], boxes=list(dict.fromkeys(boxes)), note=b"d" + tag), who)]


def undelegate_txns(g, who, pay=None, added=None, holder=None, tag=b""):
    added = {} if added is None else added
    holder = addr(holder) if holder else g.delegate_of(who.addr)
    boxes = [g.k_member(who), g.k_deleg(who)]
    if holder:
        boxes += power_boxes(g, holder, added)
        added[holder] = added.get(holder, 0) + 1
    boxes += power_boxes(g, who, added)
    added[who.addr] = added.get(who.addr, 0) + 1
    return [(g.pay_txn(who, 2 * W_BOX - E_BOX if pay is None else pay, note=b"up" + tag), who),
            (g.app_txn(who, "undelegate", [], boxes=list(dict.fromkeys(boxes)), note=b"u" + tag), who)]


def vote_txns(g, voter, pid, choice=1, hint=None, tag=b""):
    p = g.proposal(pid)
    h = g.hint(voter, p["member_seq"]) if hint is None else hint
    boxes = [g.k_prop(pid), g.k_vote(pid, voter), g.k_member(voter), g.k_hist(voter, h),
             g.k_hist(voter, h + 1), g.k_deleg(voter)]
    return [(g.pay_txn(voter, 28_500, note=b"vp" + tag), voter),
            (g.app_txn(voter, "vote", [pid, choice, h], boxes=boxes, note=b"v" + tag), voter)]


def run(g, txns, ts=None):
    return g.eval([t for t, _ in txns], [s for _, s in txns], ts)


def delegate(g, who, to, ts=None, **kw):
    return run(g, delegate_txns(g, who, to, **kw), ts)


def undelegate(g, who, ts=None, **kw):
    return run(g, undelegate_txns(g, who, **kw), ts)


def powers(g, acc):
    """Power now of every fixture account (the last history entry, also read through
    get_delegation), after checking that they sum to total_weight."""
    out = {}
    for n in NAMES:
        a = getattr(acc, n).addr
        hist = g.history(a)
        delegate_now, power = g.get("get_delegation", [a], boxes=[g.k_deleg(a)] + power_boxes(g, a, {}))
        assert power == (hist[-1][1] if hist else 0), n
        assert delegate_now == (g.delegate_of(a) or ZERO), n
        out[n] = power
    assert sum(out.values()) == g.gs()[b"total_weight"], out
    return {n: p for n, p in out.items() if p}


def vote_record(g, pid, voter):
    b = g.box(g.k_vote(pid, voter))
    return None if b is None else [int.from_bytes(b[i:i + 8], "big") for i in range(0, 24, 8)]


def tally(g, pid):
    p = g.proposal(pid)
    return p["for"], p["against"], p["abstain"], p["voted_weight"]


# ------------------------------------------------------------------ refusals
def test_self_non_member_and_repeated_delegations_are_refused(dao, dacc):
    g = dao
    g.reject(delegate, g, dacc.alice, dacc.alice, code="self_delegation")
    g.reject(delegate, g, dacc.alice, dacc.outsider, code="delegate_not_member")
    g.reject(delegate, g, dacc.outsider, dacc.bob, code="not_member")
    g.reject(undelegate, g, dacc.alice, code="not_delegating")
    delegate(g, dacc.alice, dacc.bob)
    g.reject(delegate, g, dacc.alice, dacc.bob, code="already_delegated")
    assert powers(g, dacc) == dict(bob=70, carol=20, dave=10)


def test_the_delegation_boxes_must_be_paid(dao, dacc):
    g = dao
    g.reject(delegate, g, dacc.alice, dacc.bob, pay=E_BOX + 2 * W_BOX - 1, code="mbr_not_paid")
    call = delegate_txns(g, dacc.alice, dacc.bob)[1:]
    g.reject(run, g, call, code="payment_missing")
    pay_elsewhere = [(g.pay_txn(dacc.alice, E_BOX + 2 * W_BOX, receiver=dacc.bob.addr), dacc.alice)]
    g.reject(run, g, pay_elsewhere + call, code="payment_wrong_receiver")
    delegate(g, dacc.alice, dacc.bob)
    g.reject(undelegate, g, dacc.alice, pay=2 * W_BOX - E_BOX - 1, code="mbr_not_paid")
    undelegate(g, dacc.alice)
    assert powers(g, dacc) == dict(alice=40, bob=30, carol=20, dave=10)


# ------------------------------------------------------------------ double counting
def test_delegating_after_voting_gives_the_delegate_nothing_on_that_proposal(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.carol, ts=T0)
    start = g.proposal(pid)["start"]
    g.vote(dacc.alice, pid, 1, ts=start)
    delegate(g, dacc.alice, dacc.bob, ts=start)
    g.vote(dacc.bob, pid, 1, ts=start)
    assert vote_record(g, pid, dacc.bob) == [1, 30, 30]
    assert tally(g, pid) == (70, 0, 0, 70)


def test_vote_as_delegate_then_undelegate_and_vote_again_is_refused(dao, dacc):
    g = dao
    delegate(g, dacc.alice, dacc.bob, ts=T0)
    pid, _ = g.propose(dacc.carol, ts=T0)
    start = g.proposal(pid)["start"]
    g.vote(dacc.bob, pid, 1, ts=start)
    assert vote_record(g, pid, dacc.bob) == [1, 70, 70]
    undelegate(g, dacc.alice, ts=start)
    # alice held nothing at the snapshot; her 40 was cast by bob
    g.reject(g.vote, dacc.alice, pid, 1, ts=start, code="not_member")
    # and while delegating again, the refusal says why
    delegate(g, dacc.alice, dacc.carol, ts=start)
    g.reject(g.vote, dacc.alice, pid, 1, ts=start, code="weight_delegated")
    assert tally(g, pid) == (70, 0, 0, 70)


def test_forged_history_hints_around_a_delegation_are_refused(dao, dacc):
    g = dao
    before, _ = g.propose(dacc.carol, ts=T0)          # snapshot seq 4: bob 30, alice 40
    delegate(g, dacc.alice, dacc.bob, ts=T0)          # seq 5: bob 70, alice 0
    after, _ = g.propose(dacc.carol, ts=T0)
    start = g.proposal(after)["start"]
    assert g.history(dacc.bob.addr) == [(2, 30), (5, 70)]
    assert g.history(dacc.alice.addr) == [(1, 40), (5, 0)]
    # bob claims the 70 on the earlier proposal, alice her 40 on the later one
    g.reject(run, g, vote_txns(g, dacc.bob, before, hint=1), ts=start, code="bad_history_index")
    g.reject(run, g, vote_txns(g, dacc.alice, after, hint=0), ts=start, code="bad_history_index")
    run(g, vote_txns(g, dacc.bob, before), ts=start)
    run(g, vote_txns(g, dacc.bob, after), ts=start)
    assert vote_record(g, before, dacc.bob)[1:] == [30, 30]
    assert vote_record(g, after, dacc.bob)[1:] == [70, 70]


def test_grouped_delegate_vote_undelegate_cannot_count_a_weight_twice(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.carol, ts=T0)
    start = g.proposal(pid)["start"]
    added = {}
    group = vote_txns(g, dacc.alice, pid, tag=b"a")
    group += delegate_txns(g, dacc.alice, dacc.bob, added=added)
    group += vote_txns(g, dacc.bob, pid, tag=b"b")
    group += undelegate_txns(g, dacc.alice, added=added, holder=dacc.bob)
    run(g, group, ts=start)
    # the group went through, and each weight counted once: alice 40, bob his own 30
    assert tally(g, pid) == (70, 0, 0, 70)
    assert powers(g, dacc) == dict(alice=40, bob=30, carol=20, dave=10)


def test_grouped_delegate_propose_vote_undelegate_vote_is_refused_whole(make_gov, acc):
    """With no voting delay a proposal can be created and voted on in one group: delegate first,
    let the delegate vote the lent weight, take it back and vote it again. The last vote finds no
    power at the snapshot, and the whole group is rolled back."""
    g = make_gov(rules(voting_delay=0))
    for n, w in [("alice", 40), ("bob", 30), ("carol", 20), ("dave", 10)]:
        g.set_member(getattr(acc, n), w)
    g.seal()
    added = {}
    pid = g.next_id()
    group = delegate_txns(g, acc.alice, acc.bob, added=added)
    propose = [(g.pay_txn(acc.carol, 2500 + 400 * (9 + 176 + 77 + 2 + 2 + 1) + 12_500, note=b"pp"), acc.carol),
               (g.app_txn(acc.carol, "propose", [0, b"\x01" * 20, b"\x02" * 20, b"\x03" * 32, True, [], "u"],
                          boxes=[g.k_prop(pid), g.k_member(acc.carol), b"q" + u64(pid), b"d" + u64(pid)]), acc.carol)]
    bob = acc.bob.addr
    vote_bob = [(g.pay_txn(acc.bob, 28_500, note=b"vb"), acc.bob),
                (g.app_txn(acc.bob, "vote", [pid, 1, 1],
                           boxes=[g.k_prop(pid), g.k_vote(pid, bob), g.k_member(bob), g.k_hist(bob, 1),
                                  g.k_hist(bob, 2), g.k_deleg(bob)]), acc.bob)]
    back = undelegate_txns(g, acc.alice, added=added, holder=acc.bob)
    alice = acc.alice.addr
    # alice's entry 1 (seq 5, power 0) is the one in force at the snapshot
    vote_alice = [(g.pay_txn(acc.alice, 28_500, note=b"va"), acc.alice),
                  (g.app_txn(acc.alice, "vote", [pid, 1, 1],
                             boxes=[g.k_prop(pid), g.k_vote(pid, alice), g.k_member(alice), g.k_hist(alice, 1),
                                    g.k_hist(alice, 2), g.k_deleg(alice)]), acc.alice)]
    group += propose + vote_bob + back + vote_alice
    g.reject(run, g, group, code="not_member")
    # without the last vote the same group passes: bob cast 70 once
    for txn, _ in group:
        txn.group = None
    run(g, group[:-2])
    assert tally(g, pid) == (70, 0, 0, 70)


# ------------------------------------------------------------------ shapes of delegation
def test_a_cycle_is_allowed_and_not_transitive(dao, dacc):
    g = dao
    delegate(g, dacc.alice, dacc.bob)
    delegate(g, dacc.bob, dacc.alice)
    delegate(g, dacc.carol, dacc.bob)
    assert powers(g, dacc) == dict(alice=30, bob=60, dave=10)
    pid, _ = g.propose(dacc.dave, ts=T0)
    start = g.proposal(pid)["start"]
    for who in (dacc.alice, dacc.bob, dacc.dave):
        g.vote(who, pid, 1, ts=start)
    g.reject(g.vote, dacc.carol, pid, 1, ts=start, code="weight_delegated")
    assert [vote_record(g, pid, w)[1] for w in (dacc.alice, dacc.bob, dacc.dave)] == [30, 60, 10]
    assert tally(g, pid) == (100, 0, 0, 100)


def test_the_cap_bounds_what_a_delegate_casts(make_gov, acc):
    g = make_gov(rules(vote_cap_ppm=500_000))
    for n, w in [("alice", 40), ("bob", 30), ("carol", 20), ("dave", 10)]:
        g.set_member(getattr(acc, n), w)
    g.seal()
    delegate(g, acc.alice, acc.bob)
    delegate(g, acc.carol, acc.bob)
    pid, _ = g.propose(acc.dave, ts=T0)
    assert g.proposal(pid)["cap_weight"] == 50
    start = g.proposal(pid)["start"]
    g.vote(acc.bob, pid, 1, ts=start)
    g.vote(acc.dave, pid, 0, ts=start)
    # the 40 above the cap are lost, not passed on: delegators cannot vote them either
    assert vote_record(g, pid, acc.bob) == [1, 90, 50]
    g.reject(g.vote, acc.alice, pid, 1, ts=start, code="weight_delegated")
    assert tally(g, pid) == (50, 10, 0, 100)


def test_a_removed_delegate_casts_only_the_delegated_weight(dao, dacc):
    g = dao
    delegate(g, dacc.alice, dacc.bob, ts=T0)
    pid, _ = g.propose_membership(dacc.carol, dacc.bob, 0, ts=T0)
    p = pass_proposal(g, dacc, pid, voters=("bob", "carol"))
    g.execute(pid, ts=p["eta"])
    assert g.member(dacc.bob)[0] == 0 and g.gs()[b"total_weight"] == 70
    assert powers(g, dacc) == dict(bob=40, carol=20, dave=10)
    g.reject(delegate, g, dacc.carol, dacc.bob, ts=p["eta"], code="delegate_not_member")
    g.reject(delegate, g, dacc.bob, dacc.carol, ts=p["eta"], code="not_member")
    nxt, _ = g.propose(dacc.carol, ts=p["eta"])
    start = g.proposal(nxt)["start"]
    g.vote(dacc.bob, nxt, 1, ts=start)
    assert vote_record(g, nxt, dacc.bob) == [1, 40, 40]
    # alice takes it back: bob holds nothing for later proposals
    undelegate(g, dacc.alice, ts=start)
    assert powers(g, dacc) == dict(alice=40, carol=20, dave=10)
    later, _ = g.propose(dacc.carol, ts=start)
    g.reject(g.vote, dacc.bob, later, 1, ts=g.proposal(later)["start"], code="not_member")


def test_membership_and_rebalance_move_a_delegators_weight_with_it(dao, dacc):
    from test_attack_rebalance import by_address, execute_rebalance, propose_rebalance
    g = dao
    delegate(g, dacc.alice, dacc.bob, ts=T0)
    pid, _ = g.propose_membership(dacc.carol, dacc.alice, 50, ts=T0)
    p = pass_proposal(g, dacc, pid, voters=("bob", "carol"))
    logs, _ = g.execute(pid, ts=p["eta"])
    seq = g.gs()[b"member_seq"]
    assert events(logs)[:2] == [("MemberChanged", [dacc.alice.addr, 50, seq, 110]),
                                ("VotingPowerChanged", [dacc.bob.addr, 80, seq])]
    assert powers(g, dacc) == dict(bob=80, carol=20, dave=10)
    # a rebalance raising the delegator and its delegate: two power entries of bob in one execute
    order = by_address(dacc.alice, dacc.bob)
    new = {dacc.alice.name: 55, dacc.bob.name: 35}
    rid = propose_rebalance(g, dacc.carol, [(a, new[a.name]) for a in order], ts=p["eta"])
    q = pass_proposal(g, dacc, rid, voters=("bob", "carol"))
    # its 8 references fit one call, its opcode budget does not: clients plan (n + 2) // 2 calls
    g.reject(execute_rebalance, g, rid, dacc.carol, q["eta"], calls=1, match="budget exceeded")
    logs, _ = execute_rebalance(g, rid, dacc.carol, q["eta"])
    bob_powers = [e[1][1] for e in events(logs) if e[0] == "VotingPowerChanged"]
    assert bob_powers[-1] == 90 and len(bob_powers) == 2
    assert powers(g, dacc) == dict(bob=90, carol=20, dave=10)
    assert g.member(dacc.alice)[0] == 55 and g.member(dacc.bob)[0] == 35
