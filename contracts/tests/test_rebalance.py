"""Kind 8, the contributor rebalance, on the real evaluator: propose checks (every error code),
execute as one weight change per listed member, the event, and the refusal at execute when a
weight rose above the listed one meanwhile."""
from algosdk import abi, encoding, transaction

from harness import METHODS, Gov, box_cost, expect_error, u64
from test_flows import events

RULES = dict(voting_delay=10, voting_period=100, support_ppm=500_000, quorum_ppm=200_000,
             emergency_period=40, emergency_support_ppm=666_667, timelock=50, grace_period=30,
             min_proposer_weight=1, vote_cap_ppm=0,
             proposal_bond=0, heartbeat_interval=86_400)
T0 = 1_000_000
COMMIT = bytes(range(20))
HASH = bytes(range(100, 132))
PAYLOAD_T = abi.ABIType.from_string("(byte[20],byte[32],(uint64,uint64,uint64),(address,uint64)[],string)")


def ordered(g, *names):
    """Names sorted by their address bytes, the order the app requires."""
    return sorted(names, key=lambda n: encoding.decode_address(g.account(n)))


def dao(**members):
    g = Gov(rules=RULES, now=T0)
    for n, w in members.items():
        g.set_member(n, w)
    g.seal()
    return g


def queue(g, pid, voters=("alice",)):
    g.now = g.proposal_raw(pid)["start"]
    for v in voters:
        g.vote(v, pid, "for")
    g.finalize(pid)
    g.now = g.proposal_raw(pid)["eta"]


def weight(g, who):
    return g.get_member(who)[0]


def test_rebalance_raises_three_members_and_logs_the_table():
    g = dao(alice=60, bob=40)
    a, b, c = ordered(g, "alice", "bob", "carol")
    new = {"alice": 60, "bob": 49, "carol": 11}          # carol is not a member yet
    url = "https://git.example.org/fleet/rebalance/1"
    weights = [(n, new[n]) for n in (a, b, c)]
    plen = 80 + 2 + 40 * 3 + 2 + len(url)
    pid = g.propose_rebalance("alice", weights, commit=COMMIT, table_hash=HASH, url=url,
                              pay=box_cost(9, 176 + plen))
    assert events(g)[0][1]["kind"] == 8
    p = g.get_proposal(pid)
    assert p["kind"] == 8 and p["member_seq"] == 2 and p["total"] == 100
    commit, table_hash, points, listed, got_url = PAYLOAD_T.decode(p["payload"])
    assert (bytes(commit), bytes(table_hash), got_url) == (COMMIT, HASH, url)
    assert points == [2, 1, 1]          # the point weights in force, recorded by the app
    assert listed == [[g.account(n), new[n]] for n in (a, b, c)]

    queue(g, pid, voters=("alice", "bob"))
    # the caller pays the history boxes (and carol's member box)
    g.execute(pid, pay=3 * box_cost(41, 16) + box_cost(33, 16))
    ev = events(g)
    assert [e[0] for e in ev] == ["MemberChanged", "VotingPowerChanged"] * 3 + ["Rebalanced", "ProposalExecuted"]
    assert [(e[1]["member"], e[1]["weight"], e[1]["seq"]) for e in ev[0:6:2]] == [
        (g.account(n), new[n], 3 + i) for i, n in enumerate((a, b, c))]
    # nobody delegates: each member's power is its new weight
    assert [(e[1]["account"], e[1]["power"], e[1]["seq"]) for e in ev[1:6:2]] == [
        (g.account(n), new[n], 3 + i) for i, n in enumerate((a, b, c))]
    assert ev[4][1]["total_weight"] == 120
    assert ev[6][1] == {"id": pid, "commit": list(COMMIT), "table_hash": list(HASH)}
    assert ev[7][1] == {"id": pid, "kind": 8}
    for n in ("alice", "bob", "carol"):
        assert weight(g, n) == new[n]
    assert g.global_state()[b"total_weight"] == 120 and g.global_state()[b"member_seq"] == 5
    # an unchanged weight is still a history entry: the table is applied as a whole
    assert [w for _, w in g.member_history(g.account("alice"))] == [60, 60]
    assert g.get_state(pid) == "executed"
    expect_error(g, "not_queued", g.execute, pid)


def test_eight_members_fit_and_nine_are_refused():
    names = [f"m{i}" for i in range(9)]
    g = dao(**{n: 10 for n in names})
    order = ordered(g, *names)
    expect_error(g, "bad_members", g.propose_rebalance, order[0], [(n, 11) for n in order])
    pid = g.propose_rebalance(order[0], [(n, 20) for n in order[:8]])
    queue(g, pid, voters=order[:5])
    g.execute(pid)      # 17 box references ride on three calls of one group
    assert [weight(g, n) for n in order] == [20] * 8 + [10]
    assert g.global_state()[b"total_weight"] == 170


def test_propose_checks_name_each_problem():
    g = dao(alice=60, bob=40)
    a, b = ordered(g, "alice", "bob")
    expect_error(g, "bad_members", g.propose_rebalance, "alice", [])
    expect_error(g, "bad_members", g.propose_rebalance, "alice", [(b, 70), (a, 70)])     # unsorted
    expect_error(g, "bad_members", g.propose_rebalance, "alice", [(a, 70), (a, 80)])     # duplicate
    expect_error(g, "bad_members", g.propose_rebalance, "alice", [("dave", 0)])                # weight 0
    low = {"alice": 59, "bob": 39}
    expect_error(g, "rebalance_lowers_weight", g.propose_rebalance, "alice", [(a, 100), (b, low[b])])
    expect_error(g, "total_weight_too_large", g.propose_rebalance, "alice", [(a, 10**12 + 1)])
    # each weight fits, the total does not: the other member keeps its weight
    rest = 100 - {"alice": 60, "bob": 40}[a]
    expect_error(g, "total_weight_too_large", g.propose_rebalance, "alice", [(a, 10**12 - rest + 1)])
    expect_error(g, "insufficient_weight", g.propose_rebalance, "outsider", [(a, 100)])
    expect_error(g, "too_long", g.propose_rebalance, "alice", [(a, 100)], url="u" * 257)
    # the exact maximum total is accepted
    g.propose_rebalance("alice", [(a, 10**12 - rest)])


def test_count_and_length_must_agree():
    g = dao(alice=60)
    # the raw encoding: the count says two entries, one is present
    m = METHODS["propose_rebalance"]
    one = m.args[3].type.encode([[g.account("alice"), 70]])
    bad = b"\x00\x02" + one[2:]
    txns = [transaction.PaymentTxn(g.account("alice"), g.sp, g.app_addr, 400_000),
            transaction.ApplicationCallTxn(g.account("alice"), g.sp, g.app_id, 0,
                                           app_args=[m.get_selector(), COMMIT, HASH, bad, b"\x00\x00"],
                                           boxes=[(0, b"p" + u64(1)), (0, b"m" + encoding.decode_address(g.account("alice")))])]
    expect_error(g, "bad_encoding", g._eval, txns)


def test_execute_refuses_when_a_weight_rose_above_the_table_meanwhile():
    g = dao(alice=60, bob=40)
    new = {"alice": 70, "bob": 50}
    reb = g.propose_rebalance("alice", [(n, new[n]) for n in ordered(g, "alice", "bob")])
    mem = g.propose_membership("alice", "bob", 55)
    g.now = g.proposal_raw(reb)["start"]
    for pid in (reb, mem):
        g.vote("alice", pid, "for")
        g.vote("bob", pid, "for")
        g.finalize(pid)
    g.now = g.proposal_raw(reb)["eta"]
    g.execute(mem)
    assert weight(g, "bob") == 55
    expect_error(g, "rebalance_lowers_weight", g.execute, reb)
    assert weight(g, "alice") == 60 and weight(g, "bob") == 55
