"""Kind 9, the contributor point weights (docs/contract.md, propose_point_weights and
set_point_weights): the creator's setter after seal or from another account, out-of-range and
all-zero weights through both paths, a truncated argument, executing twice, and a rebalance that
tries to choose its own point weights. Every attack must be rejected with its documented code and
change nothing (Gov.reject)."""
from algosdk import abi

from conftest import T0, Raw, events, pass_proposal

POINTS_T = abi.ABIType.from_string("(uint64,uint64,uint64)")
MAX_HALVES = 2000


def set_points(g, sender, code, comment, text, **kw):
    return g.call(sender, "set_point_weights", [code, comment, text], **kw)


def propose_points(g, sender, code, comment, text, url="u", **kw):
    return g._propose(sender, "propose_point_weights", [code, comment, text, url], 24 + 2 + 2 + len(url), **kw)


def test_setter_is_the_creators_and_only_before_seal(dao, dacc):
    g = dao
    g.reject(set_points, g, dacc.alice, 4, 1, 1, ts=T0, code="not_creator")
    g.reject(set_points, g, g.creator, 4, 1, 1, ts=T0, code="sealed")
    assert g.gs()[b"points"] == POINTS_T.encode([2, 1, 1])


def test_out_of_range_and_all_zero_weights_through_the_proposal(dao, dacc):
    g = dao
    for bad in [(0, 0, 0), (MAX_HALVES + 1, 0, 0), (0, MAX_HALVES + 1, 0), (0, 0, MAX_HALVES + 1),
                (2**64 - 1, 2**64 - 1, 2**64 - 1), (2**63, 2**63, 1)]:
        g.reject(propose_points, g, dacc.alice, *bad, ts=T0, code="bad_point_weights")
    # a non-member is refused before its payload is looked at
    g.reject(propose_points, g, dacc.outsider, 2, 1, 1, ts=T0, code="insufficient_weight")
    pid, _ = propose_points(g, dacc.alice, MAX_HALVES, MAX_HALVES, MAX_HALVES, ts=T0)
    assert g.proposal(pid)["kind"] == 9


def test_a_truncated_weight_is_bad_encoding(dao, dacc):
    g = dao
    g.reject(propose_points, g, dacc.alice, Raw(b"\x00" * 7), 1, 1, ts=T0, code="bad_encoding")


def test_execute_twice_and_events(dao, dacc):
    g = dao
    pid, _ = propose_points(g, dacc.alice, 6, 0, 3, ts=T0)
    p = pass_proposal(g, dacc, pid)
    logs, _ = g.execute(pid, ts=p["eta"])
    assert [n for n, _ in events(logs)] == ["PointWeightsChanged", "ProposalExecuted"]
    assert events(logs)[0][1] == [6, 0, 3]
    assert g.gs()[b"points"] == POINTS_T.encode([6, 0, 3])
    g.reject(g.execute, pid, ts=p["eta"] + 1, code="not_queued")


def test_a_rebalance_records_the_weights_in_force_not_its_own(dao, dacc):
    """The payload's point weights come from the global state: a proposer cannot pass others
    (propose_rebalance has no such argument) and an extra argument is refused."""
    g = dao
    pid, _ = propose_points(g, dacc.alice, 8, 2, 2, ts=T0)
    p = pass_proposal(g, dacc, pid)
    g.execute(pid, ts=p["eta"])
    from test_attack_rebalance import propose_rebalance
    rid = propose_rebalance(g, dacc.alice, [(dacc.alice, 41)], ts=p["eta"])
    payload = g.proposal(rid)["payload"]
    assert payload[52:76] == POINTS_T.encode([8, 2, 2])
    # an extra argument carrying the proposer's own choice does not reach the payload
    from conftest import METHODS, enc, selector
    from test_attack_rebalance import COMMIT, HASH
    m = METHODS["propose_rebalance"]
    raw = [selector("propose_rebalance"), COMMIT, HASH, enc("(uint64,uint64,uint64)", [0, 0, 1]),
           enc(m.args[3].type, [[dacc.alice.addr, 42]]), enc("string", "u")]
    g.reject(g.call, dacc.alice, "propose_rebalance", pay=1_000_000, raw_args=raw,
             boxes=[g.k_prop(g.next_id()), g.k_member(dacc.alice)], ts=p["eta"], code="bad_encoding")
