"""Kind 8, the contributor rebalance (docs/contract.md, propose_rebalance): lowering a weight
(at propose and, after a membership change, at execute), unsorted or duplicate members, too
many, a weight or total over 10^12, executing twice, and a count that lies about the array.
Every attack must be rejected with its documented code and change nothing (Gov.reject)."""
from algosdk import encoding

from conftest import T0, Raw, events, pass_proposal, u64

COMMIT = b"\xc0" * 20
HASH = b"\x4a" * 32
MAX_TOTAL = 10**12


def a32(x):
    return encoding.decode_address(x.addr if hasattr(x, "addr") else x)


def by_address(*accs):
    return sorted(accs, key=a32)


def carriers(g, sender, boxes, calls):
    """Read-only calls carrying the references past the first 8, and at least calls - 1 of
    them: the group's calls pool their opcode budget."""
    chunks = [boxes[j:j + 8] for j in range(8, len(boxes), 8)]
    while len(chunks) + 1 < calls:
        chunks.append([])
    # empty carriers differ by their note: a group may not hold the same transaction twice
    return [(g.app_txn(sender, "get_rules", [], boxes=c, note=b"carrier %d" % i), sender)
            for i, c in enumerate(chunks)]


def propose_rebalance(g, sender, pairs, url="u", pay=None, raw_weights=None, calls=1, **kw):
    """pairs: [(Account, weight)] in the given order. Pays exactly the proposal box."""
    i = g.next_id()
    plen = 80 + 2 + 40 * len(pairs) + 2 + len(url)
    weights = Raw(raw_weights) if raw_weights is not None else [[a.addr, w] for a, w in pairs]
    boxes = [g.k_prop(i), g.k_member(sender)] + [g.k_member(a) for a, _ in pairs]
    pad = carriers(g, sender, boxes, calls)
    logs, _ = g.call(sender, "propose_rebalance", [COMMIT, HASH, weights, url],
                     pay=2500 + 400 * (9 + 176 + plen) if pay is None else pay,
                     boxes=boxes[:8], after=pad, **kw)
    return int.from_bytes(g.ret(logs), "big")


def execute_rebalance(g, pid, sender, ts, calls=None, carry=True):
    """References every listed member's m and e boxes and the power boxes of whoever holds its
    weight (the last history entry and the new one), and pays exactly for the new ones. By
    default in as many calls as the references need (8 each: agent/chain
    rebalance_execute_calls); carry=False sends the first call's 8 references only."""
    p = g.proposal(pid)["payload"]
    n = int.from_bytes(p[80:82], "big")
    calls = 1 if calls is None else calls
    boxes, cost, added = [g.k_prop(pid)], 0, {}
    for j in range(n):
        m = encoding.encode_address(p[82 + 40 * j:114 + 40 * j])
        holder = g.delegate_of(m) or m
        hl = g.member(holder)[1] + added.get(holder, 0)
        boxes += [g.k_member(m), g.k_deleg(m), g.k_member(holder)]
        boxes += ([g.k_hist(holder, hl - 1)] if hl else []) + [g.k_hist(holder, hl)]
        added[holder] = added.get(holder, 0) + 1
        cost += 25_300 + (22_100 if g.box(g.k_member(m)) is None else 0)
    boxes = list(dict.fromkeys(boxes))
    pad = carriers(g, sender, boxes, calls) if carry else []
    return g.call(sender, "execute", [pid], pay=cost, boxes=boxes[:8], after=pad, ts=ts)


def test_happy_rebalance_then_execute_twice(dao, dacc):
    g = dao
    order = by_address(dacc.alice, dacc.bob, dacc.erin)
    new = {dacc.alice.name: 40, dacc.bob.name: 45, dacc.erin.name: 5}
    pid = propose_rebalance(g, dacc.alice, [(a, new[a.name]) for a in order], ts=T0)
    p = pass_proposal(g, dacc, pid, voters=("alice", "bob", "carol"))
    logs, _ = execute_rebalance(g, pid, dacc.carol, ts=p["eta"])
    names = [n for n, _ in events(logs)]
    assert names == ["MemberChanged", "VotingPowerChanged"] * 3 + ["Rebalanced", "ProposalExecuted"]
    assert events(logs)[6][1] == [pid, list(COMMIT), list(HASH)]
    assert [g.member(a)[0] for a in order] == [new[a.name] for a in order]
    assert g.gs()[b"total_weight"] == 100 + 5 + 15 + 0
    # executing twice: the state is executed before any effect
    g.reject(execute_rebalance, g, pid, dacc.carol, p["eta"] + 1, code="not_queued")


def test_lowering_a_weight_is_refused_at_propose(dao, dacc):
    g = dao
    g.reject(propose_rebalance, g, dacc.alice, [(dacc.alice, 39)], ts=T0, code="rebalance_lowers_weight")
    order = by_address(dacc.alice, dacc.dave)
    pairs = [(a, 100 if a is dacc.alice else 9) for a in order]
    g.reject(propose_rebalance, g, dacc.alice, pairs, ts=T0, code="rebalance_lowers_weight")


def test_lowering_by_a_later_membership_change_is_refused_at_execute(dao, dacc):
    g = dao
    reb = propose_rebalance(g, dacc.alice, [(dacc.dave, 15)], ts=T0)
    mem, _ = g.propose_membership(dacc.alice, dacc.dave, 20, ts=T0)
    p = pass_proposal(g, dacc, reb)
    pass_proposal(g, dacc, mem)
    g.execute(mem, ts=p["eta"])
    assert g.member(dacc.dave)[0] == 20
    g.reject(execute_rebalance, g, reb, dacc.bob, p["eta"], code="rebalance_lowers_weight")


def test_unsorted_duplicate_empty_zero_and_too_many(dao, dacc):
    g = dao
    lo, hi = by_address(dacc.alice, dacc.bob)
    g.reject(propose_rebalance, g, dacc.alice, [(hi, 50), (lo, 50)], ts=T0, code="bad_members")
    g.reject(propose_rebalance, g, dacc.alice, [(lo, 50), (lo, 60)], ts=T0, code="bad_members")
    g.reject(propose_rebalance, g, dacc.alice, [], ts=T0, code="bad_members")
    g.reject(propose_rebalance, g, dacc.alice, [(dacc.erin, 0)], ts=T0, code="bad_members")
    nine = by_address(dacc.alice, dacc.bob, dacc.carol, dacc.dave, dacc.erin, dacc.mallory,
                      dacc.agent1, dacc.agent2, dacc.outsider)
    g.reject(propose_rebalance, g, dacc.alice, [(a, 50) for a in nine], ts=T0, code="bad_members")


def test_weight_and_total_overflow(dao, dacc):
    g = dao
    g.reject(propose_rebalance, g, dacc.alice, [(dacc.erin, MAX_TOTAL + 1)], ts=T0, code="total_weight_too_large")
    g.reject(propose_rebalance, g, dacc.alice, [(dacc.erin, 2**64 - 1)], ts=T0, code="total_weight_too_large")
    # each weight alone is in range; together with the others the total passes 10^12
    lo, hi = by_address(dacc.erin, dacc.mallory)
    g.reject(propose_rebalance, g, dacc.alice, [(lo, MAX_TOTAL // 2), (hi, MAX_TOTAL // 2)], ts=T0,
             code="total_weight_too_large")
    propose_rebalance(g, dacc.alice, [(lo, MAX_TOTAL // 2), (hi, MAX_TOTAL // 2 - 100)], ts=T0)


def test_count_lying_about_the_array(dao, dacc):
    g = dao
    entry = a32(dacc.alice) + u64(50)
    g.reject(propose_rebalance, g, dacc.alice, [(dacc.alice, 50)], raw_weights=b"\x00\x02" + entry,
             ts=T0, code="bad_encoding")
    g.reject(propose_rebalance, g, dacc.alice, [(dacc.alice, 50)], raw_weights=b"\x00\x01" + entry + b"\x00",
             ts=T0, code="bad_encoding")



def test_opcode_budget_and_references_per_call(dao, dacc):
    """What clients plan for (agent/chain rebalance_calls, rebalance_execute_calls): one call
    holds a propose of 3 members, not 4, and a group of three calls a propose of 8. An execute
    needs one call per 8 box references (the proposal box, then 4 per member, 5 for a member who
    delegates), which also covers its opcode budget: 8 members take 5 calls."""
    g = dao
    eight = by_address(dacc.alice, dacc.bob, dacc.carol, dacc.dave, dacc.erin, dacc.mallory,
                       dacc.agent1, dacc.agent2)
    propose_rebalance(g, dacc.alice, [(a, 50) for a in eight[:3]], ts=T0)
    g.reject(propose_rebalance, g, dacc.alice, [(a, 50) for a in eight[:4]], ts=T0, match="budget exceeded")
    pid = propose_rebalance(g, dacc.alice, [(a, 50) for a in eight], ts=T0, calls=3)
    p = pass_proposal(g, dacc, pid, voters=("alice", "bob", "carol"))
    execute_rebalance(g, pid, dacc.carol, p["eta"])
    assert [g.member(a)[0] for a in eight] == [50] * 8
    three = propose_rebalance(g, dacc.alice, [(a, 60) for a in eight[:3]], ts=p["eta"])
    two = propose_rebalance(g, dacc.alice, [(a, 70) for a in eight[3:5]], ts=p["eta"])
    q3 = pass_proposal(g, dacc, three, voters=("alice", "bob", "carol", "dave", "erin"))
    q2 = pass_proposal(g, dacc, two, voters=("alice", "bob", "carol", "dave", "erin"))
    g.reject(execute_rebalance, g, three, dacc.carol, q3["eta"], carry=False, match="(?i)box")
    execute_rebalance(g, three, dacc.carol, q3["eta"])
    execute_rebalance(g, two, dacc.carol, q2["eta"])
