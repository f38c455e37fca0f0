"""Validators, attestations, the agreement gate on applied reports and rewards (docs/contract.md,
"Validators"). Every attack must be rejected with its documented code and change nothing
(Gov.reject compares global state, every box and the app account's balance)."""
import pytest
from algosdk import encoding

from conftest import ALGO, T0, Account, ZERO_ADDR, events, pass_proposal, selector, u64

X = b"\x58" * 32      # the closure honest builders get
Y = b"\x59" * 32      # another one
K_BOX = 2500 + 400 * (41 + 24)        # "k" ++ id ++ validator -> amount, hosts, claimed_at
V_BOX = 2500 + 400 * (33 + 8)


def a32(x):
    return encoding.decode_address(x.addr if isinstance(x, Account) else x)


# ---------------------------------------------------------------- helpers (box refs, exact payments)
def set_validator(g, who, enable=True, sender=None, pay=None, **kw):
    absent = g.box(b"V" + a32(who)) is None
    cost = V_BOX if enable and absent else 0
    return g.call(sender or g.creator, "set_validator", [who.addr, enable], pay=cost if pay is None else pay,
                  boxes=[b"V" + a32(who)], **kw)


def set_policy(g, quorum, reward, sender=None, **kw):
    return g.call(sender or g.creator, "set_attestation_policy", [quorum, reward], **kw)


def attest(g, v, pid, host, outcome=0, closure=X, pay=None, **kw):
    ih = u64(pid) + u64(host)
    boxes = [b"V" + a32(v), g.k_prop(pid), b"q" + u64(pid), g.k_host(host), g.k_report(pid, host),
             b"a" + ih + a32(v), b"g" + ih, b"c" + ih + closure]
    cost = 2500 + 400 * (49 + 48)
    if g.box(b"g" + ih) is None:
        cost += 2500 + 400 * (17 + 64)
    if outcome == 0 and g.box(b"c" + ih + closure) is None:
        cost += 2500 + 400 * (49 + 8)
    return g.call(v, "attest", [pid, host, outcome, closure], pay=cost if pay is None else pay, boxes=boxes, **kw)


def claim_txns(g, v, pid, hosts, fee=2000, pay=K_BOX):
    """(payment, claim, padding calls carrying the box references past the first 8)."""
    boxes = [g.k_prop(pid), b"q" + u64(pid), b"k" + u64(pid) + a32(v)]
    for h in sorted(set(hosts)):
        ih = u64(pid) + u64(h)
        boxes += [b"a" + ih + a32(v), b"g" + ih, g.k_report(pid, h)]
    out = [(g.pay_txn(v, pay), v), (g.app_txn(v, "claim_reward", [pid, list(hosts)], boxes=boxes[:8], fee=fee), v)]
    for i in range(8, len(boxes), 8):
        out.append((g.app_txn(v, "get_attestation_policy", [], boxes=boxes[i:i + 8]), v))
    return out


def claim(g, v, pid, hosts, fee=2000, pay=K_BOX, ts=None):
    pairs = claim_txns(g, v, pid, hosts, fee, pay)
    block = g.eval([t for t, _ in pairs], [s for _, s in pairs], ts)
    logs, _ = g.logs(block, 1)
    return int.from_bytes(g.ret(logs), "big"), logs


def execute(g, pid, ts, pay=0, sender=None):
    p = g.proposal(pid)
    boxes = [g.k_prop(pid)]
    if p["kind"] == 6:
        boxes.append(b"V" + p["payload"][:32])
    return g.call(sender or g.creator, "execute", [pid], pay=pay, boxes=boxes, ts=ts)


def propose_validator(g, sender, who, enable, url="u", **kw):
    return g._propose(sender, "propose_validator", [who.addr, enable, url], 35 + 2 + len(url), **kw)


def propose_policy(g, sender, quorum, reward, url="u", **kw):
    return g._propose(sender, "propose_attestation_policy", [quorum, reward, url], 18 + 2 + len(url), **kw)


# ---------------------------------------------------------------- fixture
@pytest.fixture
def vals(ledger):
    out = []
    for i in range(1, 5):
        a = Account(f"val{i}")
        ledger.set_account_balance(a.addr, 100 * ALGO)
        out.append(a)
    return out


@pytest.fixture
def setup(make_gov, acc, vals):
    """A sealed DAO (alice 40, bob 30, carol 20, dave 10; hosts 1..3, host 4 disabled) with
    validators val1..val3 (val4 is not one) and the given policy; 10 Algo treasury."""
    def make(quorum=2, reward=50_000, n_validators=3, **kw):
        g = make_gov(**kw)
        for n, w in [("alice", 40), ("bob", 30), ("carol", 20), ("dave", 10)]:
            g.set_member(getattr(acc, n), w)
        for h in (1, 2, 3):
            g.set_host(h, getattr(acc, f"agent{h}"))
        g.set_host(4, ZERO_ADDR)
        for v in vals[:n_validators]:
            set_validator(g, v)
        set_policy(g, quorum, reward)
        g.seal()
        return g
    return make


def deploy(g, acc, hosts=(1, 2), **kw):
    pid, _ = g.propose(acc.alice, all_hosts=not hosts, hosts=list(hosts), **kw)
    return pid


def agreed_and_applied(g, acc, vals, hosts=(1, 2), builders=2):
    """A deploy to hosts, built with X by the first `builders` validators, queued, applied by all."""
    pid = deploy(g, acc, hosts)
    for h in hosts:
        for v in vals[:builders]:
            attest(g, v, pid, h)
    p = pass_proposal(g, acc, pid)
    for h in hosts:
        g.report(getattr(acc, f"agent{h}"), pid, h, 0, ts=p["eta"])
    return pid, p


# ---------------------------------------------------------------- attest
def test_double_attest(setup, acc, vals):
    g = setup()
    pid = deploy(g, acc)
    attest(g, vals[0], pid, 1)
    g.reject(attest, g, vals[0], pid, 1, code="already_attested")
    g.reject(attest, g, vals[0], pid, 1, 0, Y, code="already_attested")
    g.reject(attest, g, vals[0], pid, 1, 2, bytes(32), code="already_attested")
    # twice in one group: the second call sees the first one's box, the whole group fails
    v = vals[1]
    first = [(g.pay_txn(v, 200_000), v), (g.app_txn(v, "attest", [pid, 2, 0, X], boxes=[
        b"V" + a32(v), g.k_prop(pid), b"q" + u64(pid), g.k_host(2), g.k_report(pid, 2),
        b"a" + u64(pid) + u64(2) + a32(v), b"g" + u64(pid) + u64(2), b"c" + u64(pid) + u64(2) + X]), v)]
    second = [(g.pay_txn(v, 150_000), v), (g.app_txn(v, "attest", [pid, 2, 0, X], note=b"2"), v)]
    pairs = first + second
    g.reject(g.eval, [t for t, _ in pairs], [s for _, s in pairs], code="already_attested")


def test_attest_by_non_validator_and_removed_validator(setup, acc, vals):
    g = setup()
    pid = deploy(g, acc)
    for who in (vals[3], acc.alice, acc.agent1, acc.creator):
        g.reject(attest, g, who, pid, 1, code="not_validator")
    # removed through an executed validator proposal (3 validators, k = 2: removal allowed)
    rid, _ = propose_validator(g, acc.alice, vals[2], False)
    p = pass_proposal(g, acc, rid)
    logs, _ = execute(g, rid, p["eta"])
    assert [e[0] for e in events(logs)] == ["ValidatorChanged", "ProposalExecuted"]
    assert events(logs)[0][1] == [vals[2].addr, False]
    assert g.gs()[b"validators"] == 2 and g.box(b"V" + a32(vals[2])) is None
    g.reject(attest, g, vals[2], pid, 1, ts=p["eta"], code="not_validator")


def test_attest_after_the_window(setup, acc, vals):
    g = setup()
    canceled = deploy(g, acc)
    g.cancel(acc.alice, canceled)
    g.reject(attest, g, vals[0], canceled, 1, code="attest_window_closed")
    # defeated: before finalize (voting ended, the outcome is defeat) and after it
    defeated = deploy(g, acc)
    g.vote(acc.alice, defeated, 0, ts=T0 + 10)
    g.reject(attest, g, vals[0], defeated, 1, ts=T0 + 110, code="attest_window_closed")
    g.finalize(defeated, ts=T0 + 110)
    g.reject(attest, g, vals[0], defeated, 1, ts=T0 + 110, code="attest_window_closed")
    # expired: at eta + grace_period
    pid = deploy(g, acc)
    p = pass_proposal(g, acc, pid)
    attest(g, vals[0], pid, 1, ts=p["eta"] + 999)                      # still queued
    g.reject(attest, g, vals[1], pid, 1, ts=p["eta"] + 1000, code="attest_window_closed")
    # after the host reported, whatever it reported
    pid2 = deploy(g, acc, ts=p["eta"])
    p2 = pass_proposal(g, acc, pid2)
    g.report(acc.agent2, pid2, 2, 1, ts=p2["eta"])
    g.reject(attest, g, vals[0], pid2, 2, ts=p2["eta"], code="already_reported")
    g.reject(attest, g, vals[0], pid2, 2, 1, bytes(32), ts=p2["eta"], code="already_reported")


def test_attest_for_untargeted_unregistered_or_other_kind(setup, acc, vals):
    g = setup()
    pid = deploy(g, acc, hosts=(1, 4, 9))
    g.reject(attest, g, vals[0], pid, 2, code="host_not_targeted")
    g.reject(attest, g, vals[0], pid, 9, code="host_not_registered")       # no agent box
    g.reject(attest, g, vals[0], pid, 4, code="host_not_registered")       # disabled: zero agent
    everyone = deploy(g, acc, hosts=())
    g.reject(attest, g, vals[0], everyone, 9, code="host_not_registered")
    attest(g, vals[0], everyone, 3)
    m, _ = g.propose_membership(acc.alice, acc.erin, 1)
    g.reject(attest, g, vals[0], m, 1, code="not_deploy_kind")
    g.reject(attest, g, vals[0], 99, 1, code="unknown_proposal")


@pytest.mark.parametrize("outcome", [4, 5, 255])
def test_attest_bad_outcome(setup, acc, vals, outcome):
    g = setup()
    pid = deploy(g, acc)
    g.reject(attest, g, vals[0], pid, 1, outcome, bytes(32), code="bad_outcome")


@pytest.mark.parametrize("outcome", [1, 2, 3])
def test_attest_failure_with_a_closure(setup, acc, vals, outcome):
    g = setup()
    pid = deploy(g, acc)
    g.reject(attest, g, vals[0], pid, 1, outcome, X, code="bad_closure")
    g.reject(attest, g, vals[0], pid, 1, outcome, b"\x00" * 31 + b"\x01", code="bad_closure")
    attest(g, vals[0], pid, 1, outcome, bytes(32))
    assert g.box(b"g" + u64(pid) + u64(1))[:16] == u64(1) + u64(0)          # counted, best unchanged


def test_attest_malformed_arguments(setup, acc, vals):
    g = setup()
    pid = deploy(g, acc)
    good = [selector("attest"), u64(pid), u64(1), b"\x00", X]
    for bad in (good[:4] + [X[:31]], good[:3] + [b"\x00\x00", X], good[:2] + [u64(1)[:7]] + good[3:], good[:4]):
        g.reject(g.call, vals[0], "attest", [], pay=100_000, raw_args=bad,
                 boxes=[b"V" + a32(vals[0]), g.k_prop(pid)], code="bad_encoding")


# ---------------------------------------------------------------- the agreement gate on report
def test_applied_needs_agreement_when_k_is_set(setup, acc, vals):
    g = setup(quorum=2)
    pid = deploy(g, acc, hosts=(1, 2, 3))
    attest(g, vals[0], pid, 1)
    attest(g, vals[0], pid, 2)
    attest(g, vals[1], pid, 2, 0, Y)                                       # disagreement
    p = pass_proposal(g, acc, pid)
    for h in (1, 2, 3):
        g.reject(g.report, getattr(acc, f"agent{h}"), pid, h, 0, ts=p["eta"], code="attest_quorum_missing")
    # the other statuses need no agreement
    g.report(acc.agent1, pid, 1, 4, ts=p["eta"])                          # not_reproducible
    g.report(acc.agent2, pid, 2, 3, ts=p["eta"])                          # refused
    attest(g, vals[1], pid, 3, ts=p["eta"])
    logs, _ = attest(g, vals[2], pid, 3, ts=p["eta"])
    assert events(logs)[1] == ("Agreed", [pid, 3, list(X), 2])
    g.report(acc.agent3, pid, 3, 0, ts=p["eta"])


def test_applied_without_agreement_when_k_is_zero_and_snapshots_hold(setup, acc, vals):
    g = setup(quorum=0, reward=0)
    pid = deploy(g, acc)
    p = pass_proposal(g, acc, pid)
    g.report(acc.agent1, pid, 1, 0, ts=p["eta"])
    # raising k later (kind 7) does not touch the proposal above, only new ones
    pol, _ = propose_policy(g, acc.alice, 2, 0, ts=p["eta"])
    later = deploy(g, acc, ts=p["eta"])                                    # still k = 0
    pp = pass_proposal(g, acc, pol)
    pass_proposal(g, acc, later)
    execute(g, pol, pp["eta"])
    assert (g.gs()[b"attest_quorum"], g.gs()[b"attest_reward"]) == (2, 0)
    g.report(acc.agent2, pid, 2, 0, ts=pp["eta"])
    g.report(acc.agent1, later, 1, 0, ts=pp["eta"])
    gated = deploy(g, acc, ts=pp["eta"])
    pg = pass_proposal(g, acc, gated)
    g.reject(g.report, acc.agent1, gated, 1, 0, ts=pg["eta"], code="attest_quorum_missing")


# ---------------------------------------------------------------- claims
def test_claim_twice(setup, acc, vals):
    g = setup()
    pid, p = agreed_and_applied(g, acc, vals)
    before = g.balance(vals[0])
    amount, logs = claim(g, vals[0], pid, [1, 2], ts=p["eta"])
    assert amount == 100_000 and events(logs) == [("RewardClaimed", [pid, vals[0].addr, 100_000, 2])]
    assert g.balance(vals[0]) == before - K_BOX - 1000 - 2000 - 1000 + 100_000   # one padding call
    g.reject(claim, g, vals[0], pid, [1, 2], ts=p["eta"], code="already_claimed")
    g.reject(claim, g, vals[0], pid, [1], ts=p["eta"], code="already_claimed")
    # twice in one group (the second payment differs by 1 so that the two are distinct transactions)
    pairs = claim_txns(g, vals[1], pid, [1]) + claim_txns(g, vals[1], pid, [2], pay=K_BOX + 1)
    g.reject(g.eval, [t for t, _ in pairs], [s for _, s in pairs], p["eta"], code="already_claimed")


def test_claim_for_a_disagreeing_or_missing_attestation(setup, acc, vals):
    g = setup()
    pid = deploy(g, acc)
    for v in vals[:2]:
        attest(g, v, pid, 1)
        attest(g, v, pid, 2)
    attest(g, vals[2], pid, 1, 0, Y)
    attest(g, vals[2], pid, 2, 2, bytes(32))
    p = pass_proposal(g, acc, pid)
    g.report(acc.agent1, pid, 1, 0, ts=p["eta"])
    g.report(acc.agent2, pid, 2, 0, ts=p["eta"])
    g.reject(claim, g, vals[2], pid, [1], ts=p["eta"], code="attestation_disagreed")
    g.reject(claim, g, vals[2], pid, [2], ts=p["eta"], code="attestation_disagreed")
    g.reject(claim, g, vals[3], pid, [1], ts=p["eta"], code="no_attestation")
    g.reject(claim, g, vals[0], pid, [1, 3], ts=p["eta"], code="no_attestation")   # one bad host spoils all


def test_claim_before_the_host_reported_applied(setup, acc, vals):
    g = setup()
    pid = deploy(g, acc, hosts=(1, 2, 3))
    for h in (1, 2, 3):
        for v in vals[:2]:
            attest(g, v, pid, h)
    p = pass_proposal(g, acc, pid)
    g.reject(claim, g, vals[0], pid, [1], ts=p["eta"], code="not_executed")
    g.report(acc.agent1, pid, 1, 1, ts=p["eta"])                          # failed
    g.report(acc.agent2, pid, 2, 4, ts=p["eta"])                          # not_reproducible
    g.report(acc.agent3, pid, 3, 0, ts=p["eta"])
    g.report(acc.agent3, pid, 3, 2, ts=p["eta"])                          # applied, then rolled back
    g.reject(claim, g, vals[0], pid, [1], ts=p["eta"], code="not_executed")
    g.reject(claim, g, vals[0], pid, [2, 3], ts=p["eta"], code="not_executed")
    assert claim(g, vals[0], pid, [3], ts=p["eta"])[0] == 50_000           # the amendment keeps it


@pytest.mark.parametrize("hosts", [[], [1, 1], [2, 1], [1, 2, 2], list(range(1, 18))])
def test_claim_with_bad_host_lists(setup, acc, vals, hosts):
    g = setup()
    pid, p = agreed_and_applied(g, acc, vals)
    g.reject(claim, g, vals[0], pid, hosts, ts=p["eta"], code="bad_hosts")


def test_claim_with_a_lying_list_prefix(setup, acc, vals):
    g = setup()
    pid, p = agreed_and_applied(g, acc, vals)
    for hosts in (b"\x00\x02" + u64(1), b"\x00\x01" + u64(1) + b"\x00", b"\x00"):
        g.reject(g.call, vals[0], "claim_reward", [], pay=K_BOX, ts=p["eta"], fee=2000,
                 raw_args=[selector("claim_reward"), u64(pid), hosts], code="bad_encoding")


def test_claim_with_zero_reward(setup, acc, vals):
    g = setup(quorum=2, reward=0)
    pid, p = agreed_and_applied(g, acc, vals)
    g.reject(claim, g, vals[0], pid, [1, 2], ts=p["eta"], code="no_reward")


def test_claim_pays_the_snapshot_reward(setup, acc, vals):
    g = setup(quorum=2, reward=50_000)
    pid, p = agreed_and_applied(g, acc, vals)
    pol, _ = propose_policy(g, acc.alice, 2, 10**12, ts=p["eta"])
    pp = pass_proposal(g, acc, pol)
    execute(g, pol, pp["eta"])
    assert claim(g, vals[1], pid, [2], ts=pp["eta"])[0] == 50_000


def test_drain_larger_than_the_treasury(setup, acc, vals):
    g = setup(quorum=1, reward=10**12)
    pid, p = agreed_and_applied(g, acc, vals, builders=1)
    g.reject(claim, g, vals[0], pid, [1, 2], ts=p["eta"], code="treasury_insufficient")
    g.reject(claim, g, vals[0], pid, [1], ts=p["eta"], code="treasury_insufficient")


def test_drain_below_the_min_balance(setup, acc, vals):
    """The spendable treasury is the balance above the minimum balance (every box's deposit):
    a claim one microAlgo larger fails, the exact amount leaves the app at its minimum balance."""
    reward = 1_000_000
    g = setup(quorum=1, reward=reward)
    pid, p = agreed_and_applied(g, acc, vals, builders=1)
    # spend the treasury down to 2 * reward - 1 above the minimum balance with a treasury proposal
    spare = g.balance(g.addr) - g.mbr() - (2 * reward - 1)
    tid, _ = g.propose_treasury(acc.alice, acc.erin, spare, ts=p["eta"])
    tp = pass_proposal(g, acc, tid)
    g.execute(tid, ts=tp["eta"])
    assert g.balance(g.addr) - g.mbr() == 2 * reward - 1
    g.reject(claim, g, vals[0], pid, [1, 2], ts=tp["eta"], code="treasury_insufficient")
    g.pay(acc.outsider, g.addr, 1, ts=tp["eta"])
    assert claim(g, vals[0], pid, [1, 2], ts=tp["eta"])[0] == 2 * reward
    assert g.balance(g.addr) == g.mbr()


def test_claim_fee_must_be_pooled(setup, acc, vals):
    g = setup()
    pid, p = agreed_and_applied(g, acc, vals)
    treasury = g.balance(g.addr)
    g.reject(claim, g, vals[0], pid, [1], fee=1000, ts=p["eta"], match="fee")
    assert g.balance(g.addr) == treasury


# ---------------------------------------------------------------- validator set and policy
def test_creator_setup_after_seal_or_by_others(setup, make_gov, acc, vals):
    g = setup()
    g.reject(set_validator, g, vals[3], code="sealed")
    g.reject(set_validator, g, vals[0], False, code="sealed")
    g.reject(set_policy, g, 1, 0, code="sealed")
    u = make_gov()
    u.reject(set_validator, u, vals[0], sender=acc.alice, pay=V_BOX, code="not_creator")
    u.reject(set_policy, u, 0, 0, sender=acc.alice, code="not_creator")


def test_quorum_above_the_validator_count(setup, make_gov, acc, vals):
    u = make_gov()
    set_validator(u, vals[0])
    set_validator(u, vals[1])
    u.reject(set_policy, u, 3, 0, code="quorum_above_validators")
    u.reject(set_policy, u, 2**64 - 1, 0, code="quorum_above_validators")
    set_policy(u, 2, 0)
    u.reject(set_validator, u, vals[0], False, code="quorum_above_validators")
    set_validator(u, vals[3], False)                                      # not a validator: no-op
    assert u.gs()[b"validators"] == 2
    # through proposals: checked at execute, the proposal stays queued
    g = setup(quorum=3, n_validators=3)
    rid, _ = propose_validator(g, acc.alice, vals[0], False)
    qid, _ = propose_policy(g, acc.alice, 4, 0)
    p = pass_proposal(g, acc, rid)
    pass_proposal(g, acc, qid)
    g.reject(execute, g, rid, p["eta"], code="quorum_above_validators")
    g.reject(execute, g, qid, p["eta"], code="quorum_above_validators")
    assert g.proposal(rid)["state"] == 3 and g.proposal(qid)["state"] == 3


@pytest.mark.parametrize("reward", [10**12 + 1, 2**64 - 1])
def test_reward_above_the_limit(setup, make_gov, acc, vals, reward):
    u = make_gov()
    u.reject(set_policy, u, 0, reward, code="invalid_reward")
    set_policy(u, 0, 10**12)
    g = setup()
    g.reject(propose_policy, g, acc.alice, 0, reward, code="invalid_reward")
    g.reject(propose_policy, g, acc.dave, 0, reward, code="invalid_reward")
    g.reject(propose_policy, g, acc.outsider, 0, reward, code="insufficient_weight")   # proposer first
