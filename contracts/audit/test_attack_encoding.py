"""Malformed ARC-4 arguments and oversized fields: strict decoding, exact error codes."""
import pytest
from conftest import T0, Raw, enc, selector, u64, pass_proposal

URL = "https://example.org/pr/1"


def _propose_raw(g, sender, args, plen=200):
    i = g.next_id()
    return g.call(sender, "propose", [], raw_args=[selector("propose")] + args, pay=2500 + 400 * (185 + plen),
                  boxes=[g.k_prop(i), g.k_member(sender)])


def _deploy_args(kind=0, base=b"\x01" * 20, head=b"\x02" * 20, diff=b"\x03" * 32, all_hosts=True,
                 hosts=(), url=URL):
    return [enc("uint8", kind), base, head, diff, enc("bool", all_hosts), enc("uint64[]", list(hosts)),
            enc("string", url)]


@pytest.mark.parametrize("kind", [2, 3, 5, 255])
def test_propose_bad_kind(dao, dacc, kind):
    # membership etc. have their own methods; propose carries deploy / emergency only
    dao.reject(_propose_raw, dao, dacc.alice, _deploy_args(kind=kind), code="bad_kind")


@pytest.mark.parametrize("i,val", [(1, b"\x01" * 19), (1, b"\x01" * 21), (2, b""), (3, b"\x03" * 33),
                                   (4, b"\x01"), (4, b"\x7f"), (4, b"\x80\x00"), (4, b""),
                                   (5, b"\x00"), (5, b"\x00\x01"), (5, b"\x00\x01" + u64(1) + b"\x00"),
                                   (6, b"\x00"), (6, b"\x00\x05abc"), (6, b"\x00\x02abc"),
                                   (0, b"\x00\x00")])
def test_propose_malformed(dao, dacc, i, val):
    args = _deploy_args(all_hosts=False, hosts=[1]) if i == 4 else _deploy_args()
    if i == 5:
        args[4] = enc("bool", False)
    args[i] = val
    dao.reject(_propose_raw, dao, dacc.alice, args, code="bad_encoding")


def test_propose_too_many_hosts(dao, dacc):
    dao.reject(_propose_raw, dao, dacc.alice, _deploy_args(all_hosts=False, hosts=range(17)), code="too_long")
    # a count prefix that lies about a short list is caught as too_long before the length check
    args = _deploy_args(all_hosts=False, hosts=[1])
    args[5] = b"\xff\xff" + u64(1)
    dao.reject(_propose_raw, dao, dacc.alice, args, code="too_long")
    dao.propose(dacc.alice, all_hosts=False, hosts=list(range(16)))


def test_propose_url_too_long(dao, dacc):
    dao.reject(dao.propose, dacc.alice, url="u" * 257, code="too_long")
    dao.reject(dao.propose_membership, dacc.alice, dacc.erin, 1, url="u" * 257, code="too_long")
    dao.reject(dao.propose_hosts, dacc.alice, 1, dacc.erin, url="u" * 257, code="too_long")
    dao.reject(dao.propose_treasury, dacc.alice, dacc.erin, 1, url="u" * 257, code="too_long")
    from conftest import rules
    dao.reject(dao.propose_parameters, dacc.alice, rules(), url="u" * 257, code="too_long")
    dao.propose(dacc.alice, url="u" * 256)
    dao.propose_membership(dacc.alice, dacc.erin, 1, url="u" * 256)


@pytest.mark.parametrize("all_hosts,hosts", [(True, [1]), (False, [])])
def test_propose_bad_targets(dao, dacc, all_hosts, hosts):
    dao.reject(dao.propose, dacc.alice, all_hosts=all_hosts, hosts=hosts, code="bad_targets")


def test_propose_membership_malformed(dao, dacc):
    g = dao
    base = [selector("propose_membership"), enc("address", dacc.erin.addr), enc("uint64", 5), enc("string", "u")]
    for i, val in [(1, b"\x00" * 31), (1, b"\x00" * 33), (2, b"\x00" * 7), (2, b"\x00" * 9), (3, b"\x00"),
                   (3, b"\x00\x02u")]:
        args = list(base)
        args[i] = val
        g.reject(g.call, dacc.alice, "propose_membership", raw_args=args, pay=200_000,
                 boxes=[g.k_prop(1), g.k_member(dacc.alice)], code="bad_encoding")
    g.reject(g.call, dacc.alice, "propose_membership", raw_args=base + [b"x"], pay=200_000,
             boxes=[g.k_prop(1), g.k_member(dacc.alice)], code="bad_encoding")
    g.reject(g.call, dacc.alice, "propose_membership", raw_args=base[:3], pay=200_000,
             boxes=[g.k_prop(1), g.k_member(dacc.alice)], code="bad_encoding")


def test_propose_hosts_oversized_host_id(dao, dacc):
    g = dao
    args = [selector("propose_hosts"), b"\x00" + u64(1), enc("address", dacc.erin.addr), enc("string", "u")]
    g.reject(g.call, dacc.alice, "propose_hosts", raw_args=args, pay=200_000,
             boxes=[g.k_prop(1), g.k_member(dacc.alice)], code="bad_encoding")


def test_propose_parameters_short_rules(dao, dacc):
    g = dao
    from conftest import RULES_T, rules
    args = [selector("propose_parameters"), enc(RULES_T, rules())[:80], enc("string", "u")]
    g.reject(g.call, dacc.alice, "propose_parameters", raw_args=args, pay=200_000,
             boxes=[g.k_prop(1), g.k_member(dacc.alice)], code="bad_encoding")


@pytest.mark.parametrize("i,val", [(1, b"\x00" * 7), (1, b"\x00" * 9), (2, b""), (2, b"\x00\x01"),
                                   (3, b"\x00" * 7), (3, b"\x00" * 9)])
def test_vote_malformed(dao, dacc, i, val):
    g = dao
    pid, _ = g.propose(dacc.alice)
    args = [selector("vote"), u64(pid), b"\x01", u64(0)]
    args[i] = val
    g.reject(g.call, dacc.bob, "vote", raw_args=args, pay=28_500, ts=T0 + 10,
             boxes=[g.k_prop(pid), g.k_vote(pid, dacc.bob), g.k_member(dacc.bob), g.k_hist(dacc.bob, 0)],
             code="bad_encoding")


def test_vote_extra_or_missing_args(dao, dacc):
    g = dao
    pid, _ = g.propose(dacc.alice)
    args = [selector("vote"), u64(pid), b"\x01", u64(0)]
    bx = [g.k_prop(pid), g.k_vote(pid, dacc.bob), g.k_member(dacc.bob), g.k_hist(dacc.bob, 0)]
    g.reject(g.call, dacc.bob, "vote", raw_args=args + [b""], pay=28_500, ts=T0 + 10, boxes=bx, code="bad_encoding")
    g.reject(g.call, dacc.bob, "vote", raw_args=args[:3], pay=28_500, ts=T0 + 10, boxes=bx, code="bad_encoding")


@pytest.mark.parametrize("i,val", [(1, b"\x00" * 9), (2, b"\x00" * 7), (3, b"\x00\x00"), (4, b"\xaa" * 31),
                                   (5, b"\x00" * 9), (6, b"\xbb" * 33)])
def test_report_malformed(dao, dacc, i, val):
    g = dao
    pid, _ = g.propose(dacc.alice, all_hosts=False, hosts=[1])
    p = pass_proposal(g, dacc, pid)
    args = [selector("report"), u64(pid), u64(1), b"\x00", b"\xaa" * 32, u64(1), b"\xbb" * 32]
    args[i] = val
    g.reject(g.call, dacc.agent1, "report", raw_args=args, pay=44_500, ts=p["eta"],
             boxes=[g.k_prop(pid), g.k_host(1), g.k_report(pid, 1), g.k_rollback(pid, 1)], code="bad_encoding")


def test_set_member_malformed(make_gov, acc):
    g = make_gov()
    for args in ([selector("set_member"), b"\x00" * 31, u64(1)], [selector("set_member"), b"\x00" * 32, u64(1)[:7]],
                 [selector("set_member"), b"\x00" * 32]):
        g.reject(g.call, acc.creator, "set_member", raw_args=args, pay=100_000,
                 boxes=[b"m" + b"\x00" * 32, b"w" + b"\x00" * 40], code="bad_encoding")


def test_unknown_selector_and_no_args(dao, dacc):
    g = dao
    g.reject(g.call, dacc.alice, "seal", raw_args=[b"\xde\xad\xbe\xef"], code="unknown_method")
    g.reject(g.call, dacc.alice, "seal", raw_args=[], code="unknown_method")
    g.reject(g.call, dacc.creator, "seal", raw_args=[selector("create")] + [b""] * 3, code="unknown_method")


def test_finalize_cancel_execute_malformed_id(dao, dacc):
    g = dao
    for name in ("finalize", "cancel"):
        g.reject(g.call, dacc.alice, name, raw_args=[selector(name), b"\x00" * 7], boxes=[g.k_prop(0)],
                 code="bad_encoding")
    g.reject(g.call, dacc.alice, "execute", raw_args=[selector("execute"), b"\x00" * 9], pay=0,
             boxes=[g.k_prop(0)], code="bad_encoding")
