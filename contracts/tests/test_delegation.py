"""Delegation (docs/governance-rules.md, "Delegation"): a member lends all of its own weight to
another member; what counts for a proposal is the voting power at its member_seq snapshot, and
the powers of all addresses always sum to total_weight."""
from algosdk import encoding

from harness import ZERO, Gov, expect_error, u64
from test_flows import events

RULES = dict(voting_delay=0, voting_period=100, support_ppm=500_000, quorum_ppm=0, timelock=10,
             grace_period=1000, min_proposer_weight=1, vote_cap_ppm=0)
T0 = 1_000_000
NAMES = ("alice", "bob", "carol", "dave")


def dao(**members):
    g = Gov(rules=RULES, now=T0)
    for n, w in members.items():
        g.set_member(n, w)
    g.seal()
    return g


def powers(g, names=NAMES):
    """Voting power now per name (on chain), after checking the invariant: the powers of every
    address that ever held weight sum to total_weight, and get_delegation agrees with the
    power history's last entry."""
    out = {}
    for n in names:
        delegate, power = g.get_delegation(n)
        history = g.member_history(g.account(n))
        assert power == (history[-1][1] if history else 0), n
        assert delegate == g.delegate_of(n), n
        out[n] = power
    assert sum(out.values()) == g.global_state()[b"total_weight"], out
    return out


def seq(g):
    return g.global_state()[b"member_seq"]


def vote_record(g, pid, who):
    return g.get("get_vote", [pid, g.account(who)], [b"v" + u64(pid) + encoding.decode_address(g.account(who))])


def test_delegate_before_a_proposal_gives_the_delegate_the_weight():
    g = dao(alice=40, bob=30, carol=30)
    assert powers(g) == dict(alice=40, bob=30, carol=30, dave=0)
    alice, bob = g.account("alice"), g.account("bob")
    g.delegate("alice", "bob")
    assert seq(g) == 4
    assert events(g) == [
        ("VotingPowerChanged", {"account": alice, "power": 0, "seq": 4}),
        ("VotingPowerChanged", {"account": bob, "power": 70, "seq": 4}),
        ("DelegateChanged", {"delegator": alice, "from": ZERO, "to": bob, "weight": 40, "seq": 4}),
    ]
    assert powers(g) == dict(alice=0, bob=70, carol=30, dave=0)
    assert g.get_delegation("alice") == (bob, 0)
    assert g.get_delegation("bob") == (None, 70)
    # own weights are unchanged, and proposing still uses the own weight
    assert g.get_member("alice") == [40, 2] and g.get_member("bob") == [30, 2]
    # get_member_entry's second value is the power from that seq on
    assert g.get("get_member_entry", [bob, 1], [b"w" + encoding.decode_address(bob) + u64(1)]) == [4, 70]
    pid = g.propose("alice")
    g.vote("bob", pid, "for")
    assert vote_record(g, pid, "bob") == [True, 1, 70, 70]
    expect_error(g, "weight_delegated", g.vote, "alice", pid, "for")
    g.vote("carol", pid, "against")
    p = g.proposal_raw(pid)
    assert (p["for"], p["against"], p["voted_weight"], p["total"]) == (70, 30, 100, 100)


def test_delegation_after_creation_changes_nothing_for_that_proposal():
    g = dao(alice=40, bob=30, carol=30)
    before = g.propose("carol")
    g.delegate("alice", "bob")
    powers(g)
    # both vote with their own weights on the earlier proposal
    g.vote("alice", before, "for")
    g.vote("bob", before, "against")
    assert vote_record(g, before, "alice")[2] == 40 and vote_record(g, before, "bob")[2] == 30
    p = g.proposal_raw(before)
    assert (p["for"], p["against"]) == (40, 30)
    # the next proposal sees the delegation
    after = g.propose("carol")
    g.vote("bob", after, "for")
    assert vote_record(g, after, "bob")[2] == 70
    expect_error(g, "weight_delegated", g.vote, "alice", after, "for")


def test_redelegate_moves_the_weight_in_one_call():
    g = dao(alice=40, bob=30, carol=20, dave=10)
    alice, bob, carol = g.account("alice"), g.account("bob"), g.account("carol")
    g.delegate("alice", "bob")
    g.delegate("alice", "carol")
    assert seq(g) == 6
    assert events(g) == [
        ("VotingPowerChanged", {"account": bob, "power": 30, "seq": 6}),
        ("VotingPowerChanged", {"account": carol, "power": 60, "seq": 6}),
        ("DelegateChanged", {"delegator": alice, "from": bob, "to": carol, "weight": 40, "seq": 6}),
    ]
    assert powers(g) == dict(alice=0, bob=30, carol=60, dave=10)
    assert g.get_delegation("alice") == (carol, 0)
    pid = g.propose("dave")
    g.vote("carol", pid, "for")
    g.vote("bob", pid, "for")
    assert vote_record(g, pid, "carol")[2] == 60 and vote_record(g, pid, "bob")[2] == 30


def test_undelegate_restores_the_own_weight():
    g = dao(alice=40, bob=30, carol=30)
    alice, bob = g.account("alice"), g.account("bob")
    g.delegate("alice", "bob")
    during = g.propose("carol")
    g.undelegate("alice")
    assert events(g) == [
        ("VotingPowerChanged", {"account": bob, "power": 30, "seq": 5}),
        ("VotingPowerChanged", {"account": alice, "power": 40, "seq": 5}),
        ("DelegateChanged", {"delegator": alice, "from": bob, "to": ZERO, "weight": 40, "seq": 5}),
    ]
    assert g.box(b"e" + encoding.decode_address(alice)) is None
    assert powers(g) == dict(alice=40, bob=30, carol=30, dave=0)
    assert g.get_delegation("alice") == (None, 40)
    # the proposal created while delegating still counts the delegation: alice had no power at
    # its snapshot, and since she no longer delegates the app names it not_member (the spec's rule:
    # weight_delegated only while an "e" box exists)
    expect_error(g, "not_member", g.vote, "alice", during, "for")
    g.vote("bob", during, "for")
    assert vote_record(g, during, "bob")[2] == 70
    later = g.propose("carol")
    g.vote("alice", later, "for")
    assert vote_record(g, later, "alice")[2] == 40


def test_a_delegators_weight_change_moves_its_delegates_power():
    g = dao(alice=40, bob=30, carol=30)
    alice, bob = g.account("alice"), g.account("bob")
    g.delegate("alice", "bob")
    pid = g.propose_membership("carol", "alice", 60)
    g.vote("bob", pid, "for")
    g.finalize(pid)
    g.now = g.proposal_raw(pid)["eta"]
    g.execute(pid)
    s = seq(g)
    assert events(g)[:2] == [
        ("MemberChanged", {"member": alice, "weight": 60, "seq": s, "total_weight": 120}),
        ("VotingPowerChanged", {"account": bob, "power": 90, "seq": s}),
    ]
    assert g.get_member("alice") == [60, 2]         # own weight; no new entry for alice
    assert powers(g) == dict(alice=0, bob=90, carol=30, dave=0)
    # removing the delegator takes its weight from the delegate; it may still undelegate (w = 0)
    rid = g.propose_membership("carol", "alice", 0)
    g.now = g.proposal_raw(rid)["start"]
    g.vote("bob", rid, "for")
    g.finalize(rid)
    g.now = g.proposal_raw(rid)["eta"]
    g.execute(rid)
    assert powers(g) == dict(alice=0, bob=30, carol=30, dave=0)
    assert g.global_state()[b"members"] == 2
    g.undelegate("alice")
    assert [e[1]["power"] for e in events(g)[:2]] == [30, 0]
    assert events(g)[2][1]["weight"] == 0
    assert powers(g) == dict(alice=0, bob=30, carol=30, dave=0)


def test_set_member_before_seal_follows_the_delegation():
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 10)
    g.set_member("bob", 5)
    g.delegate("alice", "bob")
    g.set_member("alice", 25)
    assert powers(g) == dict(alice=0, bob=30, carol=0, dave=0)
    g.set_member("bob", 7)
    assert powers(g) == dict(alice=0, bob=32, carol=0, dave=0)
    g.seal()


def test_each_refusal_names_its_code_and_changes_nothing():
    g = dao(alice=40, bob=30)
    expect_error(g, "not_member", g.delegate, "carol", "bob")
    expect_error(g, "self_delegation", g.delegate, "alice", "alice")
    expect_error(g, "delegate_not_member", g.delegate, "alice", "carol")
    expect_error(g, "not_delegating", g.undelegate, "alice")
    g.delegate("alice", "bob")
    expect_error(g, "already_delegated", g.delegate, "alice", "bob")
    # the e box and two history entries: one microAlgo short is refused
    expect_error(g, "mbr_not_paid", g.delegate, "bob", "alice", pay=79_100 - 1)
    g.delegate("bob", "alice", pay=79_100)
    assert powers(g) == dict(alice=30, bob=40, carol=0, dave=0)
    # undelegate frees the e box (28,500) and writes two entries (50,600): 22,100 to pay
    expect_error(g, "mbr_not_paid", g.undelegate, "bob", pay=22_100 - 1)
    g.undelegate("bob", pay=22_100)
    assert powers(g) == dict(alice=0, bob=70, carol=0, dave=0)
