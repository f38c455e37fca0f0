"""Happy paths end to end: events (ARC-28), getters, hosts/parameters/treasury execution, costs."""
import hashlib

from algosdk import abi, encoding

from harness import (MAX_HOSTS, MAX_URL, DERIVED, RULE_NAMES, SPEC, ZERO, Gov, box_cost, expect_error, u64)

RULES = dict(voting_delay=10, voting_period=100, support_ppm=500_000, quorum_ppm=200_000,
             emergency_period=40, emergency_support_ppm=666_667, timelock=50, grace_period=30,
             min_proposer_weight=1, vote_cap_ppm=0,
             proposal_bond=0, heartbeat_interval=86_400)
T0 = 1_000_000
EVENTS = {}
for e in SPEC["events"]:
    sig = f"{e['name']}({','.join(a['type'] for a in e['args'])})"
    EVENTS[hashlib.new("sha512_256", sig.encode()).digest()[:4]] = (
        e["name"], [a["name"] for a in e["args"]], abi.TupleType([abi.ABIType.from_string(a["type"]) for a in e["args"]]))


def events(gov):
    out = []
    for log in gov.last_logs:
        if log[:4] in EVENTS:
            name, names, t = EVENTS[log[:4]]
            assert len(log) == 4 + t.byte_len() if t.is_dynamic() is False else True
            out.append((name, dict(zip(names, t.decode(log[4:])))))
    return out


def test_lifecycle_events_and_getters():
    g = Gov(rules=RULES, now=T0)
    alice = g.account("alice")
    g.set_member("alice", 60)
    assert events(g) == [("MemberChanged", {"member": alice, "weight": 60, "seq": 1, "total_weight": 60}),
                         ("VotingPowerChanged", {"account": alice, "power": 60, "seq": 1})]
    g.set_member("bob", 40)
    g.set_host(7, "agent7")
    assert events(g) == [("HostChanged", {"host_id": 7, "agent": g.account("agent7")})]
    assert g.get_rules() == RULES
    assert g.get("get_info") == [2, 100, 0, False]
    assert g.get_member("alice") == [60, 1]
    assert g.get("get_member_entry", [g.account("bob"), 0], [b"w" + encoding.decode_address(g.account("bob")) + u64(0)]) == [2, 40]
    assert g.get("get_host", [7], [b"h" + u64(7)]) == g.account("agent7")
    assert g.get("get_host", [8], [b"h" + u64(8)]) == ZERO

    pid = g.propose("alice", "deploy", base=b"\x01" * 20, head=b"\x02" * 20, diff=b"\x03" * 32,
                    all_hosts=False, hosts=[3, 7], url="https://example.org/pr/1")
    assert events(g) == [("ProposalCreated", {"id": 1, "kind": 0, "proposer": alice, "start": T0 + 10, "end": T0 + 110})]
    p = g.get_proposal(pid)
    deploy_t = abi.ABIType.from_string("(byte[20],byte[20],byte[32],bool,uint64[],string)")
    base, head, diff, all_hosts, hosts, url = deploy_t.decode(p["payload"])
    assert (bytes(base), bytes(head), bytes(diff), all_hosts, hosts, url) == (
        b"\x01" * 20, b"\x02" * 20, b"\x03" * 32, False, [3, 7], "https://example.org/pr/1")
    assert p["proposer"] == alice and p["total"] == 100 and p["quorum_votes"] == 20 and p["cap_weight"] == 100
    assert p["member_seq"] == 2 and p["created"] == T0 and p["support_ppm"] == 500_000
    assert g.get_state(pid) == "pending"
    assert g.get("get_vote", [pid, alice], [b"v" + u64(pid) + encoding.decode_address(alice)]) == [False, 0, 0, 0]

    g.now = T0 + 10
    assert g.get_state(pid) == "active"
    g.vote("alice", pid, "for")
    assert events(g) == [("VoteCast", {"id": 1, "voter": alice, "choice": 1, "weight": 60, "effective_weight": 60})]
    assert g.get("get_vote", [pid, alice], [b"v" + u64(pid) + encoding.decode_address(alice)]) == [True, 1, 60, 60]
    assert g.finalize(pid) == 3
    assert events(g) == [("ProposalFinalized", {"id": 1, "state": 3, "eta": T0 + 60})]
    assert g.get_state(pid) == "queued"

    g.now = T0 + 60
    g.report("agent7", pid, 7, "applied", toplevel=b"\x09" * 32, generation=12, logs=b"\x0a" * 32)
    assert events(g) == [("ExecutionReported", {"id": 1, "host_id": 7, "status": 0, "toplevel_sha256": [9] * 32,
                                                "generation": 12, "logs_sha256": [10] * 32})]
    rep, rb = g.get("get_report", [pid, 7], [b"r" + u64(pid) + u64(7), b"b" + u64(pid) + u64(7)])
    assert rep == [0, [9] * 32, 12, [10] * 32, T0 + 60] and rb == [0, [0] * 32, 0, [0] * 32, 0]
    g.now = T0 + 90
    assert g.get_state(pid) == "expired"
    # an agent that applied before expiry can still report; an operator rollback after it too
    g.report("agent7", pid, 7, "rolled_back", generation=11)
    _, rb = g.get("get_report", [pid, 7], [b"r" + u64(pid) + u64(7), b"b" + u64(pid) + u64(7)])
    assert rb[0] == 2 and rb[2] == 11

    c = g.propose("bob", "emergency")
    g.cancel("bob", c)
    assert events(g) == [("ProposalCanceled", {"id": c})]
    assert g.get_state(c) == "canceled"

    # Proposals exist, so this app can no longer be sealed: one passed while the creator held
    # the weight alone must never take effect in a sealed app (docs/contract.md, threat model).
    expect_error(g, "proposals_exist", g.seal)
    assert g.get("get_info") == [2, 100, 2, False]


def test_seal_emits_its_event_and_is_refused_once_a_proposal_exists():
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 60)
    g.set_member("bob", 40)
    g.seal()
    assert events(g) == [("Sealed", {"total_weight": 100})]
    assert g.get("get_info") == [2, 100, 0, True]
    h = Gov(rules=RULES, now=T0)
    h.set_member("alice", 100)
    h.propose("alice", "deploy")
    expect_error(h, "proposals_exist", h.seal)


def pass_proposal(g, pid):
    g.now += 10
    g.vote("alice", pid, "for")
    g.finalize(pid)
    g.now = g.proposal_raw(pid)["eta"]


def test_execute_hosts_parameters_membership_treasury():
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 100)
    g.seal()
    # hosts: only through proposals once sealed
    h = g.propose_hosts("alice", 4, "agent4", url="https://example.org/hosts")
    pass_proposal(g, h)
    g.execute(h)
    assert [e[0] for e in events(g)] == ["HostChanged", "ProposalExecuted"]
    assert g.get("get_host", [4], [b"h" + u64(4)]) == g.account("agent4")
    assert g.get_state(h) == "executed"
    # membership
    m = g.propose_membership("alice", "carol", 25)
    pass_proposal(g, m)
    g.execute(m)
    assert [e[0] for e in events(g)] == ["MemberChanged", "VotingPowerChanged", "ProposalExecuted"]
    assert g.get_member("carol") == [25, 1]
    # parameters: later proposals only
    new_rules = dict(RULES, voting_period=500, quorum_ppm=1_000_000)
    before = g.propose("alice", "deploy")
    p = g.propose_parameters("alice", new_rules)
    pass_proposal(g, p)
    g.execute(p)
    assert g.get_rules() == new_rules
    assert g.proposal_raw(before)["end"] - g.proposal_raw(before)["start"] == 100
    after = g.propose("alice", "deploy")
    assert g.proposal_raw(after)["end"] - g.proposal_raw(after)["start"] == 500
    assert g.proposal_raw(after)["quorum_votes"] == 125
    # treasury
    g.pay_raw(g.account("donor"), g.app_addr, 2_000_000)
    t = g.propose_treasury("alice", "erin", 1_500_000)
    g.now += 10
    g.vote("alice", t, "for")
    g.vote("carol", t, "for")
    g.finalize(t)
    g.now = g.proposal_raw(t)["eta"]
    g.execute(t)
    assert g.ledger.get_account_balance(g.account("erin"))[0] == 100_000_000 + 1_500_000


def test_costs_of_the_largest_inputs():
    """The largest allowed inputs stay within the opcode budget of a single call, the box I/O of
    one box reference and the log limits; box costs are what the spec says."""
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 10**12 - 100)
    for host in range(1, MAX_HOSTS + 1):
        g.set_host(host * 10, f"agent{host}", pay=box_cost(9, 32))
    url = "u" * MAX_URL
    hosts = [h * 10 for h in range(1, MAX_HOSTS + 1)]
    proposal_size = 176 + 77 + 2 + 8 * MAX_HOSTS + 2 + MAX_URL
    mbr = g.ledger.get_raw_account(g.app_addr)
    # the proposal box and the attestation policy snapshot ("q" ++ id -> quorum, reward)
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=hosts, url=url,
                    pay=box_cost(9, proposal_size) + box_cost(9, 16))
    assert len(g.box(b"p" + u64(pid))) == proposal_size <= 1024
    p = g.get_proposal(pid)
    assert len(g.last_logs[-1]) <= 1024
    assert p["payload"].endswith(url.encode())
    pass_proposal(g, pid)
    # the first target: the longest scan (targets are scanned from the end of the list)
    g.report("agent1", pid, 10, "applied", pay=box_cost(17, 88))
    g.report("agent1", pid, 10, "rolled_back", pay=box_cost(17, 88))
    for kind, args in (("propose_membership", ("alice", "bob", 10**12)),
                       ("propose_treasury", ("alice", "bob", 2**64 - 1))):
        getattr(g, kind)(*args, url=url, pay=box_cost(9, 176 + 42 + 2 + MAX_URL))
    g.propose_hosts("alice", 2**64 - 1, "agent1", url=url, pay=box_cost(9, 176 + 42 + 2 + MAX_URL))
    g.propose_parameters("alice", RULES, url=url, pay=box_cost(9, 176 + 98 + 2 + MAX_URL))
    # a long member history: the vote reads two entries whatever the history length
    for w in range(1, 40):
        g.set_member("bob", w)
    p2 = g.propose("alice", "deploy")
    for w in range(40, 45):
        g.set_member("bob", w)
    g.now += 10
    g.vote("bob", p2, "for", pay=box_cost(41, 24))
    assert g.proposal_raw(p2)["for"] == 39
