"""Kind 9, the contributor point weights, on the real evaluator: the defaults at create, the
creator's setter before seal, the governed change after it, every refusal, and the rebalance
payload recording the weights in force when it was proposed."""
from algosdk import abi

from harness import Gov, expect_error
from test_flows import events
from test_rebalance import RULES, T0, dao, ordered, queue

POINTS_T = abi.ABIType.from_string("(uint64,uint64,uint64)")
REBALANCE_T = abi.ABIType.from_string("(byte[20],byte[32],(uint64,uint64,uint64),(address,uint64)[],string)")


def points(g):
    return g.get("get_point_weights")


def test_create_sets_the_gitdao_defaults_in_half_points():
    g = Gov(rules=RULES, now=T0)
    assert points(g) == [2, 1, 1]
    assert g.global_state()[b"points"] == POINTS_T.encode([2, 1, 1])


def test_creator_sets_them_before_seal_only():
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 10)
    g.set_point_weights(4, 0, 1)
    assert events(g) == [("PointWeightsChanged", {"code": 4, "comment": 0, "text": 1})]
    assert points(g) == [4, 0, 1]
    expect_error(g, "not_creator", g.set_point_weights, 2, 1, 1, by="alice")
    g.seal()
    expect_error(g, "sealed", g.set_point_weights, 2, 1, 1)
    assert points(g) == [4, 0, 1]


def test_bad_weights_are_refused_by_setter_and_proposal():
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 10)
    for bad in [(0, 0, 0), (2001, 1, 1), (2, 2001, 1), (2, 1, 2001), (2**64 - 1, 1, 1)]:
        expect_error(g, "bad_point_weights", g.set_point_weights, *bad)
    g.set_point_weights(2000, 2000, 2000)         # the largest value is accepted
    g.set_point_weights(0, 0, 1)                  # one class alone is enough
    g.seal()
    for bad in [(0, 0, 0), (2001, 0, 0), (0, 0, 2**64 - 1)]:
        expect_error(g, "bad_point_weights", g.propose_point_weights, "alice", *bad)
    # the proposer check comes first, as for every proposal
    expect_error(g, "insufficient_weight", g.propose_point_weights, "outsider", 0, 0, 0)
    expect_error(g, "too_long", g.propose_point_weights, "alice", 2, 1, 1, url="u" * 257)


def test_an_executed_proposal_changes_them_and_earlier_rebalances_keep_theirs():
    g = dao(alice=60, bob=40)
    a, b = ordered(g, "alice", "bob")
    before = g.propose_rebalance("alice", [(a, 70), (b, 40)] if a == "alice" else [(a, 40), (b, 70)])
    url = "https://git.example.org/fleet/points"
    pid = g.propose_point_weights("alice", 3, 0, 1, url=url)
    p = g.get_proposal(pid)
    assert p["kind"] == 9
    assert abi.ABIType.from_string("(uint64,uint64,uint64,string)").decode(p["payload"]) == [3, 0, 1, url]
    assert points(g) == [2, 1, 1]                 # nothing changes before execute
    queue(g, pid, voters=("alice", "bob"))
    g.execute(pid)
    assert events(g) == [("PointWeightsChanged", {"code": 3, "comment": 0, "text": 1}),
                         ("ProposalExecuted", {"id": pid, "kind": 9})]
    assert points(g) == [3, 0, 1]
    expect_error(g, "not_queued", g.execute, pid)
    # a rebalance proposed before the change recorded the old weights, one after it the new
    after = g.propose_rebalance("alice", [(a, 80), (b, 80)])
    assert REBALANCE_T.decode(g.get_proposal(before)["payload"])[2] == [2, 1, 1]
    assert REBALANCE_T.decode(g.get_proposal(after)["payload"])[2] == [3, 0, 1]


def test_a_defeated_proposal_changes_nothing():
    g = dao(alice=60, bob=40)
    pid = g.propose_point_weights("alice", 9, 9, 9)
    g.now = g.proposal_raw(pid)["start"]
    g.vote("alice", pid, "against")
    g.vote("bob", pid, "against")
    g.finalize(pid)
    assert g.get_state(pid) == "defeated"
    expect_error(g, "not_queued", g.execute, pid)
    assert points(g) == [2, 1, 1]
