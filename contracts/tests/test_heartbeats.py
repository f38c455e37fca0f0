"""Heartbeats (docs/heartbeats.md): the host's registered agent records what its host runs, at
most once per heartbeat interval (chain time); the "H" box holds the last one, paid for once."""
from harness import Gov, box_cost, expect_error, u64

INTERVAL = 86_400
TOP = bytes(range(32))


def heartbeat(gov, by, host_id, toplevel=TOP, generation=7, last_proposal=0, drift=False, **kw):
    return gov.call("heartbeat", [host_id, toplevel, generation, last_proposal, drift], by=by,
                    boxes=[b"h" + u64(host_id), b"H" + u64(host_id)], **kw)


def sealed():
    g = Gov()
    g.set_member("alice", 10)
    g.set_host(1, g.account("agent1"))
    g.set_host(2, g.account("agent2"))
    g.seal()
    return g


def test_a_heartbeat_records_the_host_and_pays_its_box_once():
    g = sealed()
    heartbeat(g, "agent1", 1, generation=12, drift=True, pay=box_cost(9, 64))
    rec = g.box(b"H" + u64(1))
    assert rec == TOP + u64(12) + u64(0) + u64(1) + u64(g.now)
    assert len(g.last_logs) == 1 and len(g.last_logs[0]) == 4 + 8 + 32 + 8 + 8 + 1 + 8
    # the next one, an interval later, replaces it with nothing more to pay
    g.now += INTERVAL
    heartbeat(g, "agent1", 1, toplevel=b"\x07" * 32, generation=13, pay=0)
    assert g.box(b"H" + u64(1)) == b"\x07" * 32 + u64(13) + u64(0) + u64(0) + u64(g.now)


def test_at_most_one_heartbeat_per_interval_per_host():
    g = sealed()
    heartbeat(g, "agent1", 1)
    g.now += INTERVAL - 1
    expect_error(g, "heartbeat_too_early", heartbeat, g, "agent1", 1, pay=0)
    # another host's interval is its own
    heartbeat(g, "agent2", 2)


def test_only_the_hosts_agent_may_heartbeat_and_the_box_is_paid():
    g = sealed()
    expect_error(g, "not_host_agent", heartbeat, g, "agent2", 1)
    expect_error(g, "host_not_registered", heartbeat, g, "agent1", 3)
    expect_error(g, "unknown_proposal", heartbeat, g, "agent1", 1, last_proposal=1)
    expect_error(g, "mbr_not_paid", heartbeat, g, "agent1", 1, pay=box_cost(9, 64) - 1)


def test_the_interval_is_the_rules_heartbeat_interval():
    g = Gov(rules={"heartbeat_interval": 3600})
    g.set_host(1, g.account("agent1"))
    heartbeat(g, "agent1", 1)
    g.now += 3599
    expect_error(g, "heartbeat_too_early", heartbeat, g, "agent1", 1, pay=0)
    g.now += 1
    heartbeat(g, "agent1", 1, pay=0)
