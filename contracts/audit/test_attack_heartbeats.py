"""Attacks on heartbeat (docs/heartbeats.md, docs/contract.md "Heartbeats"): someone else speaking
for a host, heartbeats faster than the interval to spam the chain or fake liveness, unknown hosts,
malformed arguments, and the "H" box left unpaid. Every rejection changes nothing."""
from conftest import T0, enc, events, selector, u64

INTERVAL = 86_400
BOX = 2500 + 400 * (9 + 64)  # "H" ++ host_id -> 64 bytes
TOP = b"\x5a" * 32


def hb(g, who, host, top=TOP, gen=3, last=0, drift=False, pay=BOX, ts=T0 + 500, **kw):
    return g.call(who, "heartbeat", [host, top, gen, last, drift], pay=pay, ts=ts,
                  boxes=[g.k_host(host), b"H" + u64(host)], **kw)


def test_the_agent_heartbeats_and_the_event_says_so(dao, dacc):
    logs, _ = hb(dao, dacc.agent1, 1, drift=True)
    assert dao.box(b"H" + u64(1)) == TOP + u64(3) + u64(0) + u64(1) + u64(T0 + 500)
    name, (host, top, gen, last, drift, at) = events(logs)[0]
    assert (name, host, bytes(top), gen, last, drift, at) == ("Heartbeat", 1, TOP, 3, 0, True, T0 + 500)


def test_another_account_cannot_heartbeat_for_a_host(dao, dacc):
    for who in (dacc.mallory, dacc.agent2, dacc.creator, dacc.alice):
        dao.reject(hb, dao, who, 1, code="not_host_agent")


def test_too_early_is_refused_until_the_interval_has_passed(dao, dacc):
    hb(dao, dacc.agent1, 1)
    for dt in (0, 1, INTERVAL - 1):
        dao.reject(hb, dao, dacc.agent1, 1, pay=0, ts=T0 + 500 + dt, code="heartbeat_too_early")
    hb(dao, dacc.agent1, 1, pay=0, ts=T0 + 500 + INTERVAL)


def test_unknown_host(dao, dacc):
    for host in (0, 4, 2**64 - 1):
        dao.reject(hb, dao, dacc.agent1, host, code="host_not_registered")


def test_a_last_proposal_that_does_not_exist(dao, dacc):
    dao.reject(hb, dao, dacc.agent1, 1, last=1, code="unknown_proposal")


def test_bad_encoding(dao, dacc):
    good = [enc("uint64", 1), TOP, enc("uint64", 3), enc("uint64", 0), b"\x00"]
    bad = [
        [enc("uint64", 1), TOP[:31], enc("uint64", 3), enc("uint64", 0), b"\x00"],
        [enc("uint64", 1), TOP, enc("uint64", 3), enc("uint64", 0), b"\x01"],
        [enc("uint64", 1), TOP, enc("uint64", 3), enc("uint64", 0), b"\x00\x00"],
        [enc("uint64", 1)[1:], TOP, enc("uint64", 3), enc("uint64", 0), b"\x00"],
        good[:4],
        good + [b"\x00"],
    ]
    for args in bad:
        dao.reject(dao.call, dacc.agent1, "heartbeat", pay=BOX, ts=T0 + 500,
                   raw_args=[selector("heartbeat")] + args,
                   boxes=[dao.k_host(1), b"H" + u64(1)], code="bad_encoding")


def test_the_box_must_be_paid(dao, dacc):
    dao.reject(hb, dao, dacc.agent1, 1, pay=BOX - 1, code="mbr_not_paid")
    dao.reject(hb, dao, dacc.agent1, 1, pay=None, code="payment_missing")
    # a rich treasury pays for nobody's heartbeat box
    dao.pay(dacc.outsider, dao.addr, 10 * BOX)
    dao.reject(hb, dao, dacc.agent1, 1, pay=0, code="mbr_not_paid")
