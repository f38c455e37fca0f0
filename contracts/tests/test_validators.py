"""Reproducible-build validators on the real evaluator: validator set and attestation policy
(creator and kinds 6/7), attestations and agreement, the report gate, rewards; every new error code.
"""
from algosdk import encoding, transaction

from harness import MAX_HOSTS, METHODS, ZERO, Gov, box_cost, expect_error, u64
from test_flows import events

RULES = dict(voting_delay=10, voting_period=100, support_ppm=500_000, quorum_ppm=200_000,
             emergency_period=40, emergency_support_ppm=666_667, timelock=50, grace_period=30,
             min_proposer_weight=1, vote_cap_ppm=0,
             proposal_bond=0, heartbeat_interval=86_400)
T0 = 1_000_000
X = b"\x58" * 32          # the closure the honest validators build
Y = b"\x59" * 32          # a different one


def setup(quorum=2, reward=1_000, validators=("v1", "v2", "v3"), hosts=(1, 2), seal=True, disabled=()):
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 100)
    for h in hosts:
        g.set_host(h, f"agent{h}")
    for h in disabled:
        g.set_host(h, ZERO)
    for v in validators:
        g.set_validator(v)
    g.set_attestation_policy(quorum, reward)
    g.pay_raw(g.account("donor"), g.app_addr, 1_000_000)       # the treasury that pays rewards
    if seal:
        g.seal()
    return g


def queue(g, *pids):
    """Vote and finalize proposals created together; time moves to their (common) eta."""
    g.now = g.proposal_raw(pids[0])["start"]
    for pid in pids:
        g.vote("alice", pid, "for")
        g.finalize(pid)
    g.now = g.proposal_raw(pids[0])["eta"]


def test_validators_agree_host_applies_and_rewards_are_paid():
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 100)
    g.set_host(1, "agent1")
    g.set_host(2, "agent2")
    g.set_validator("v1", pay=box_cost(33, 8))
    assert events(g) == [("ValidatorChanged", {"validator": g.account("v1"), "enabled": True})]
    assert g.box(b"V" + encoding.decode_address(g.account("v1"))) == u64(T0)
    for v in ("v2", "v3"):
        g.set_validator(v)
    g.set_attestation_policy(2, 1_000)
    assert events(g) == [("AttestationPolicyChanged", {"quorum": 2, "reward": 1_000})]
    assert g.get("get_attestation_policy") == [3, 2, 1_000]
    g.pay_raw(g.account("donor"), g.app_addr, 1_000_000)
    g.seal()

    # propose pays for the policy snapshot too
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=[1, 2],
                    pay=box_cost(9, 176 + 77 + 2 + 16 + 2 + 37) + box_cost(9, 16))
    assert g.box(b"q" + u64(pid)) == u64(2) + u64(1_000)
    assert g.get_validation(pid, 1) == dict(quorum=2, reward=1_000, attestations=0, best=0, agreed=False,
                                            closure=bytes(32))
    # validators build while the proposal is still pending: hosts must not wait for them
    assert g.get_state(pid) == "pending"
    g.attest("v1", pid, 1, "built", X, pay=box_cost(49, 48) + box_cost(17, 64) + box_cost(49, 8))
    assert events(g) == [("Attested", {"id": pid, "host_id": 1, "validator": g.account("v1"), "outcome": 0,
                                       "closure": list(X)})]
    g.attest("v3", pid, 1, "built", Y)
    assert g.get_validation(pid, 1)["agreed"] is False
    g.attest("v2", pid, 1, "built", X, pay=box_cost(49, 48))        # g and c exist already
    assert [e[0] for e in events(g)] == ["Attested", "Agreed"]
    assert events(g)[1][1] == {"id": pid, "host_id": 1, "closure": list(X), "attestations": 3}
    assert g.get_validation(pid, 1) == dict(quorum=2, reward=1_000, attestations=3, best=2, agreed=True, closure=X)
    summary = g.box(b"g" + u64(pid) + u64(1))
    assert summary[56:64] == u64(T0) and g.box(b"c" + u64(pid) + u64(1) + X) == u64(2)
    g.attest("v1", pid, 2, "built", X)
    g.attest("v2", pid, 2, "built", X)
    g.attest("v3", pid, 2, "build_failed")
    assert g.box(b"a" + u64(pid) + u64(2) + encoding.decode_address(g.account("v3"))) == u64(2) + bytes(32) + u64(T0)
    assert g.get_validation(pid, 2) == dict(quorum=2, reward=1_000, attestations=3, best=2, agreed=True, closure=X)

    queue(g, pid)
    # no reward before the hosts switched
    expect_error(g, "not_executed", g.claim_reward, "v1", pid, [1, 2])
    g.report("agent1", pid, 1, "applied")
    g.report("agent2", pid, 2, "applied")
    g.report("agent1", pid, 1, "rolled_back")          # the amendment keeps the applied report
    app_before = g.ledger.get_account_balance(g.app_addr)[0]
    assert g.claim_reward("v1", pid, [1, 2], pay=box_cost(41, 24)) == 2_000
    assert events(g) == [("RewardClaimed", {"id": pid, "validator": g.account("v1"), "amount": 2_000, "hosts": 2})]
    assert g.ledger.get_account_balance(g.app_addr)[0] == app_before + box_cost(41, 24) - 2_000
    assert g.box(b"k" + u64(pid) + encoding.decode_address(g.account("v1"))) == u64(2_000) + u64(2) + u64(g.now)
    expect_error(g, "already_claimed", g.claim_reward, "v1", pid, [1, 2])
    # v2 is removed meanwhile (policy first, so that k stays reachable): earned rewards survive
    p = g.propose_attestation_policy("alice", 1, 1_000)
    queue(g, p)
    g.execute(p)
    r = g.propose_validator("alice", "v2", False)
    queue(g, r)
    g.execute(r)
    assert g.get("get_attestation_policy") == [2, 1, 1_000]
    v2_before = g.ledger.get_account_balance(g.account("v2"))[0]
    assert g.claim_reward("v2", pid, [1], pay=box_cost(41, 24)) == 1_000
    # paid: the claim box, the payment's fee 1,000 and the call's pooled fee 2,000; received 1,000
    assert g.ledger.get_account_balance(g.account("v2"))[0] == v2_before - box_cost(41, 24) - 3_000 + 1_000
    # the disagreeing validator: nothing for host 1, and its failure on host 2 is no match either
    expect_error(g, "attestation_disagreed", g.claim_reward, "v3", pid, [1])
    expect_error(g, "attestation_disagreed", g.claim_reward, "v3", pid, [2])
    expect_error(g, "no_attestation", g.claim_reward, "erin", pid, [1])


def test_applied_needs_agreement_only_when_the_snapshot_quorum_is_set():
    g = setup(quorum=2)
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=[1, 2])
    g.attest("v1", pid, 1, "built", X)
    g.attest("v2", pid, 1, "built", Y)           # best 1: no agreement
    queue(g, pid)
    expect_error(g, "attest_quorum_missing", g.report, "agent1", pid, 1, "applied")
    expect_error(g, "attest_quorum_missing", g.report, "agent2", pid, 2, "applied")    # no attestation at all
    g.report("agent1", pid, 1, "not_reproducible")
    assert g.box(b"r" + u64(pid) + u64(1))[:8] == u64(4)
    g.report("agent2", pid, 2, "refused")
    # a policy change after creation does not move the bar for this proposal, nor for the next
    # one the bar in force at its creation
    g2 = setup(quorum=0, reward=0)
    p2 = g2.propose("alice", "deploy")
    assert g2.get_validation(p2, 1)["quorum"] == 0
    queue(g2, p2)
    g2.report("agent1", p2, 1, "applied")
    # a proposal of another kind has no snapshot box
    m = g2.propose_membership("alice", "bob", 1)
    assert g2.box(b"q" + u64(m)) is None


def test_validator_and_policy_proposals_kinds_6_and_7():
    g = setup(quorum=0, reward=0, validators=())
    assert g.get("get_attestation_policy") == [0, 0, 0]
    expect_error(g, "sealed", g.set_validator, "v1")
    expect_error(g, "sealed", g.set_attestation_policy, 0, 0)
    add = g.propose_validator("alice", "v1", True, url="https://example.org/v1")
    assert g.get_proposal(add)["kind"] == 6
    payload = g.get_proposal(add)["payload"]
    assert payload[:32] == encoding.decode_address(g.account("v1")) and payload[32:33] == b"\x80"
    assert payload[33:35] == u64(35)[6:] and payload[35:] == u64(22)[6:] + b"https://example.org/v1"
    queue(g, add)
    g.execute(add, pay=box_cost(33, 8))
    assert [e[0] for e in events(g)] == ["ValidatorChanged", "ProposalExecuted"]
    assert g.get("get_attestation_policy")[0] == 1
    again = g.propose_validator("alice", "v1", True)                # no-op, still executed
    queue(g, again)
    g.execute(again, pay=0)
    assert g.get("get_attestation_policy")[0] == 1 and g.get_state(again) == "executed"
    expect_error(g, "invalid_reward", g.propose_attestation_policy, "alice", 1, 10**12 + 1)
    too_high = g.propose_attestation_policy("alice", 2, 10**12)
    pol = g.propose_attestation_policy("alice", 1, 10**12)
    payload = g.proposal_raw(pol)["payload"]
    assert payload[:16] == u64(1) + u64(10**12) and payload[16:18] == b"\x00\x12"
    queue(g, too_high)
    expect_error(g, "quorum_above_validators", g.execute, too_high)
    queue(g, pol)
    g.execute(pol)
    assert [e[0] for e in events(g)] == ["AttestationPolicyChanged", "ProposalExecuted"]
    assert g.get("get_attestation_policy") == [1, 1, 10**12]
    remove = g.propose_validator("alice", "v1", False)
    off = g.propose_attestation_policy("alice", 0, 0)
    queue(g, remove, off)
    expect_error(g, "quorum_above_validators", g.execute, remove)   # stays queued ...
    g.execute(off)
    before = g.ledger.get_account_balance(g.app_addr)[0]
    g.execute(remove, pay=0)                      # ... and executes once k allows: frees the box, pays nothing
    assert g.box(b"V" + encoding.decode_address(g.account("v1"))) is None
    assert g.get("get_attestation_policy") == [0, 0, 0]
    assert g.ledger.get_account_balance(g.app_addr)[0] == before     # the deposit stays in the treasury
    gone = g.propose_validator("alice", "v1", False)                  # removing a non-validator: no-op
    queue(g, gone)
    g.execute(gone, pay=0)
    assert events(g)[0] == ("ValidatorChanged", {"validator": g.account("v1"), "enabled": False})


def test_creator_setup_checks():
    g = Gov(rules=RULES, now=T0)
    g.set_member("alice", 1)
    expect_error(g, "not_creator", g.set_validator, "v1", by="alice")
    expect_error(g, "not_creator", g.set_attestation_policy, 0, 0, by="alice")
    expect_error(g, "quorum_above_validators", g.set_attestation_policy, 1, 0)
    g.set_validator("v1")
    expect_error(g, "mbr_not_paid", g.set_validator, "v2", pay=box_cost(33, 8) - 1)
    expect_error(g, "invalid_reward", g.set_attestation_policy, 1, 10**12 + 1)
    g.set_attestation_policy(1, 10**12)
    expect_error(g, "quorum_above_validators", g.set_validator, "v1", False, pay=0)
    g.set_validator("v2", False, pay=0)                           # not a validator: no-op
    assert g.global_state()[b"validators"] == 1
    # a bool is 0x00 or 0x80, nothing else
    sel = METHODS["set_validator"].get_selector()
    raw = [sel, encoding.decode_address(g.account("v3")), b"\x01"]
    expect_error(g, "bad_encoding", g._eval, [
        transaction.PaymentTxn(g.creator, g.sp, g.app_addr, 100_000),
        transaction.ApplicationCallTxn(g.creator, g.sp, g.app_id, 0, app_args=raw,
                                       boxes=[(0, b"V" + raw[1])])])


def test_attest_attacks():
    g = setup(quorum=2, hosts=(1, 2, 3), disabled=(5,))
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=[1, 2, 4, 5])
    expect_error(g, "bad_outcome", g.attest, "v1", pid, 1, 4)
    expect_error(g, "bad_closure", g.attest, "v1", pid, 1, "checks_failed", X)
    expect_error(g, "not_validator", g.attest, "alice", pid, 1, "built", X)
    expect_error(g, "unknown_proposal", g.attest, "v1", 99, 1, "built", X)
    expect_error(g, "host_not_targeted", g.attest, "v1", pid, 3, "built", X)
    expect_error(g, "host_not_registered", g.attest, "v1", pid, 4, "built", X)     # no agent
    expect_error(g, "host_not_registered", g.attest, "v1", pid, 5, "built", X)     # zero agent: disabled
    g.attest("v1", pid, 1, "built", X)
    expect_error(g, "already_attested", g.attest, "v1", pid, 1, "built", Y)
    expect_error(g, "already_attested", g.attest, "v1", pid, 1, "eval_failed")
    m = g.propose_membership("alice", "bob", 1)
    expect_error(g, "not_deploy_kind", g.attest, "v1", m, 1, "built", X)
    queue(g, pid)
    g.attest("v2", pid, 1, "built", X)                          # queued: still open
    g.report("agent1", pid, 1, "applied")
    expect_error(g, "already_reported", g.attest, "v3", pid, 1, "built", X)
    g.report("agent2", pid, 2, "failed")
    expect_error(g, "already_reported", g.attest, "v3", pid, 2, "eval_failed")
    g.now = g.proposal_raw(pid)["eta"] + 30                      # expired
    expect_error(g, "attest_window_closed", g.attest, "v3", pid, 1, "built", X)
    c = g.propose("alice", "deploy")
    g.cancel("alice", c)
    expect_error(g, "attest_window_closed", g.attest, "v1", c, 1, "built", X)
    d = g.propose("alice", "deploy")
    g.now = g.proposal_raw(d)["end"]                              # nobody voted: defeated, not finalized
    expect_error(g, "attest_window_closed", g.attest, "v1", d, 1, "built", X)
    s = g.propose("alice", "emergency")
    g.now = g.proposal_raw(s)["start"]
    g.vote("alice", s, "for")
    g.now = g.proposal_raw(s)["end"]                              # succeeded, awaiting finalize: open
    assert g.get_state(s) == "succeeded"
    g.attest("v1", s, 1, "built", X)


def test_claim_attacks():
    g = setup(quorum=2, reward=100_000)
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=[1, 2])
    for v in ("v1", "v2"):
        g.attest(v, pid, 1, "built", X)
        g.attest(v, pid, 2, "built", X)
    queue(g, pid)
    g.report("agent1", pid, 1, "applied")
    expect_error(g, "not_executed", g.claim_reward, "v1", pid, [1, 2])
    g.report("agent2", pid, 2, "failed")
    expect_error(g, "not_executed", g.claim_reward, "v1", pid, [2])
    expect_error(g, "bad_hosts", g.claim_reward, "v1", pid, [])
    expect_error(g, "bad_hosts", g.claim_reward, "v1", pid, [1, 1])
    expect_error(g, "bad_hosts", g.claim_reward, "v1", pid, [2, 1])
    expect_error(g, "bad_hosts", g.claim_reward, "v1", pid, list(range(1, MAX_HOSTS + 2)))
    expect_error(g, "unknown_proposal", g.claim_reward, "v1", 99, [1])
    # drain: 10^12 per host is far more than the treasury holds
    g2 = setup(quorum=1, reward=10**12, validators=("v1",))
    p2 = g2.propose("alice", "deploy", all_hosts=False, hosts=[1])
    g2.attest("v1", p2, 1, "built", X)
    queue(g2, p2)
    g2.report("agent1", p2, 1, "applied")
    expect_error(g2, "treasury_insufficient", g2.claim_reward, "v1", p2, [1])
    g3 = setup(quorum=0, reward=0, validators=("v1",))
    p3 = g3.propose("alice", "deploy", all_hosts=False, hosts=[1])
    g3.attest("v1", p3, 1, "built", X)
    queue(g3, p3)
    g3.report("agent1", p3, 1, "applied")
    # k = 0: attestations are informational, nothing agrees, nothing is paid
    expect_error(g3, "attestation_disagreed", g3.claim_reward, "v1", p3, [1])
    # no reward configured, but agreement reached
    g4 = setup(quorum=1, reward=0, validators=("v1",))
    p4 = g4.propose("alice", "deploy", all_hosts=False, hosts=[1])
    g4.attest("v1", p4, 1, "built", X)
    queue(g4, p4)
    g4.report("agent1", p4, 1, "applied")
    expect_error(g4, "no_reward", g4.claim_reward, "v1", p4, [1])
    # the inner payment's fee comes from the caller's fee, never from the treasury
    expect_error(g, "unmapped", g.claim_reward, "v1", pid, [1], fee=1000)
    assert g.claim_reward("v1", pid, [1]) == 100_000


def test_costs_of_the_largest_validator_inputs():
    """attest for the last of 16 targets after voting ended (outcome computed) and a claim over 16
    hosts stay within the budget of their groups; the attest of one call alone."""
    g = setup(quorum=1, reward=1_000, validators=("v1",), hosts=(), seal=False)
    hosts = [h * 10 for h in range(1, MAX_HOSTS + 1)]
    for h in hosts:
        g.set_host(h, f"agent{h}")
    g.seal()
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=hosts, url="u" * 256)
    g.now = g.proposal_raw(pid)["start"]
    g.vote("alice", pid, "for")
    g.now = g.proposal_raw(pid)["end"]
    for h in hosts:
        g.attest("v1", pid, h, "built", X)
    g.finalize(pid)
    g.now = g.proposal_raw(pid)["eta"]
    for h in hosts:
        g.report(f"agent{h}", pid, h, "applied")
    assert g.claim_reward("v1", pid, hosts) == 16_000
    assert events(g)[0][1]["hosts"] == 16


def test_agreement_is_fixed_once_reached():
    """A second closure reaching k later changes nothing: no Agreed event, the first one stands,
    and a host whose own build matches the later closure has to report not_reproducible."""
    g = setup(quorum=2, validators=("v1", "v2", "v3", "v4"))
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=[1])
    g.attest("v1", pid, 1, "built", X)
    g.attest("v2", pid, 1, "built", X)
    g.attest("v3", pid, 1, "built", Y)
    g.attest("v4", pid, 1, "built", Y)
    assert [e[0] for e in events(g)] == ["Attested"]
    assert g.get_validation(pid, 1) == dict(quorum=2, reward=1_000, attestations=4, best=2, agreed=True, closure=X)
    assert g.box(b"g" + u64(pid) + u64(1))[56:] == u64(T0)
