"""Every attack from the issue, tried on chain: each must fail with its exact error code and
leave global state, boxes and the app account's balance unchanged (expect_error checks both)."""
import pytest
from algosdk import encoding, transaction

from harness import (MAX_HOSTS, MAX_URL, APP_BIN, CLEAR_BIN, EXTRA_PAGES, GLOBAL_SCHEMA, METHODS, AppError, Gov,
                     box_cost, expect_error, u64)

RULES = dict(voting_delay=10, voting_period=100, support_ppm=500_000, quorum_ppm=200_000,
             emergency_period=40, emergency_support_ppm=666_667, timelock=50, grace_period=30,
             min_proposer_weight=5, vote_cap_ppm=0,
             proposal_bond=0, heartbeat_interval=86_400)
T0 = 1_000_000


@pytest.fixture
def g():
    gov = Gov(rules=RULES, now=T0)
    gov.set_member("alice", 60)
    gov.set_member("bob", 40)
    gov.set_member("dave", 4)
    gov.set_host(1, "agent1")
    gov.set_host(2, "agent2")
    return gov


def queued_deploy(g, hosts=(1,)):
    """A deploy proposal for `hosts`, voted, finalized; returns (id, eta)."""
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=list(hosts))
    g.now += 10
    g.vote("alice", pid, "for")
    g.vote("bob", pid, "for")
    g.finalize(pid)
    return pid, g.proposal_raw(pid)["eta"]


def test_vote_attacks(g):
    pid = g.propose("alice", "deploy")                   # start T0+10, end T0+110
    expect_error(g, "voting_not_started", g.vote, "bob", pid, "for", at=T0 + 9)
    g.set_member("bob", 1000)                            # raised after creation ...
    g.set_member("bob", 2000)                            # ... twice
    g.set_member("carol", 50)                            # added after creation
    g.now = T0 + 10
    expect_error(g, "not_member", g.vote, "carol", pid, "for")
    expect_error(g, "not_member", g.vote, "mallory", pid, "for")
    # Pointing the history index at the raised weight is refused; so is any wrong index.
    expect_error(g, "bad_history_index", g.vote, "bob", pid, "for", hint=1)
    expect_error(g, "bad_history_index", g.vote, "bob", pid, "for", hint=2)
    expect_error(g, "bad_history_index", g.vote, "bob", pid, "for", hint=3)
    expect_error(g, "bad_choice", g.vote, "bob", pid, 3)
    g.vote("bob", pid, "for")
    assert g.proposal_raw(pid)["for"] == 40              # the snapshot weight, not 2000
    expect_error(g, "already_voted", g.vote, "bob", pid, "against")
    expect_error(g, "already_voted", g.vote, "bob", pid, "for", hint=1)
    expect_error(g, "voting_closed", g.vote, "alice", pid, "for", at=T0 + 110)
    expect_error(g, "unknown_proposal", g.vote, "alice", 99, "for")


def test_stale_history_index_is_refused(g):
    g.set_member("bob", 41)                              # bob: [40 @2, 41 @6]
    pid = g.propose("alice", "deploy")
    g.now = T0 + 10
    # entry 0 is in force at an older seq, but not the last one <= the proposal's seq
    expect_error(g, "bad_history_index", g.vote, "bob", pid, "for", hint=0)
    g.vote("bob", pid, "for", hint=1)
    assert g.proposal_raw(pid)["for"] == 41


def test_finalize_and_cancel_attacks(g):
    pid = g.propose("alice", "deploy")
    expect_error(g, "not_proposer", g.cancel, "bob", pid)
    expect_error(g, "outcome_undecided", g.finalize, pid)
    g.now = T0 + 10
    g.vote("bob", pid, "for")
    expect_error(g, "outcome_undecided", g.finalize, pid)
    g.vote("alice", pid, "for")
    assert g.finalize(pid) == 3
    expect_error(g, "not_open", g.finalize, pid)
    expect_error(g, "not_open", g.cancel, "alice", pid)
    pid2 = g.propose("alice", "deploy")
    expect_error(g, "voting_closed", g.cancel, "alice", pid2, at=g.now + 110)


def test_execute_attacks(g):
    pid = g.propose_membership("alice", "carol", 7)
    g.now += 10
    g.vote("alice", pid, "for")
    g.finalize(pid)
    eta = g.proposal_raw(pid)["eta"]
    expect_error(g, "timelock_active", g.execute, pid, at=eta - 1)
    expect_error(g, "expired", g.execute, pid, at=eta + RULES["grace_period"])
    # defeated and canceled proposals
    d = g.propose_membership("alice", "carol", 8)
    g.now += 10
    g.vote("alice", d, "against")
    g.finalize(d)
    expect_error(g, "not_queued", g.execute, d)
    c = g.propose_membership("alice", "carol", 9)
    g.cancel("alice", c)
    expect_error(g, "not_queued", g.execute, c)
    # deploy proposals are reported by hosts, never executed
    dp, _ = queued_deploy(g)
    expect_error(g, "not_executable_kind", g.execute, dp)
    expect_error(g, "unknown_proposal", g.execute, 99)


def test_treasury_executes_once(g):
    g.pay_raw(g.account("donor"), g.app_addr, 5_000_000)
    pid = g.propose_treasury("alice", "erin", 3_000_000)
    g.now += 10
    g.vote("alice", pid, "for")
    g.finalize(pid)
    g.now = g.proposal_raw(pid)["eta"]
    before = g.ledger.get_account_balance(g.account("erin"))[0]
    g.execute(pid)
    assert g.ledger.get_account_balance(g.account("erin"))[0] == before + 3_000_000
    expect_error(g, "not_queued", g.execute, pid)
    # never more than the treasury holds above the app account's minimum balance
    big = g.propose_treasury("alice", "erin", 10_000_000)
    g.now += 10
    g.vote("alice", big, "for")
    g.finalize(big)
    g.now = g.proposal_raw(big)["eta"]
    expect_error(g, "insufficient_treasury", g.execute, big)


def test_report_attacks(g):
    pid = g.propose("alice", "deploy", all_hosts=False, hosts=[1])
    g.now += 10
    g.vote("alice", pid, "for")
    expect_error(g, "not_queued", g.report, "agent1", pid, 1, "applied")
    g.finalize(pid)
    eta = g.proposal_raw(pid)["eta"]
    expect_error(g, "timelock_active", g.report, "agent1", pid, 1, "applied", at=eta - 1)
    g.now = eta
    expect_error(g, "not_host_agent", g.report, "agent2", pid, 1, "applied")
    expect_error(g, "not_host_agent", g.report, "alice", pid, 1, "applied")
    expect_error(g, "host_not_targeted", g.report, "agent2", pid, 2, "applied")
    expect_error(g, "bad_status", g.report, "agent1", pid, 1, 5)
    g.report("agent1", pid, 1, "applied")
    expect_error(g, "already_reported", g.report, "agent1", pid, 1, "applied")
    expect_error(g, "already_reported", g.report, "agent1", pid, 1, "failed")
    # the one allowed change: applied -> rolled back (an operator's emergency rollback), once
    g.report("agent1", pid, 1, "rolled_back", generation=6)
    expect_error(g, "already_reported", g.report, "agent1", pid, 1, "rolled_back")
    k = u64(pid) + u64(1)
    assert g.box(b"r" + k)[:8] == u64(0) and g.box(b"b" + k)[:8] == u64(2)
    # a failed deployment can never be turned into anything else
    p2, eta2 = queued_deploy(g, hosts=(1, 2))
    g.now = eta2
    g.report("agent2", p2, 2, "failed")
    expect_error(g, "already_reported", g.report, "agent2", p2, 2, "rolled_back")
    expect_error(g, "unknown_proposal", g.report, "agent1", 99, 1, "applied")


def test_report_on_non_deploy_kind(g):
    pid = g.propose_membership("alice", "carol", 1)
    g.now += 10
    g.vote("alice", pid, "for")
    g.finalize(pid)
    g.now = g.proposal_raw(pid)["eta"]
    expect_error(g, "not_deploy_kind", g.report, "agent1", pid, 1, "applied")


def test_creator_powers_end_at_seal(g):
    expect_error(g, "not_creator", g.set_member, "bob", 1, by="alice")
    expect_error(g, "not_creator", g.set_host, 3, "agent1", by="alice")
    expect_error(g, "not_creator", g.seal, by="alice")
    g.seal()
    expect_error(g, "sealed", g.set_member, "bob", 1)
    expect_error(g, "sealed", g.set_host, 3, "agent1")
    expect_error(g, "sealed", g.seal)
    # the creator is not a member: it cannot even propose
    expect_error(g, "insufficient_weight", g.propose, "creator", "deploy")


def test_seal_needs_members():
    gov = Gov(rules=RULES)
    expect_error(gov, "no_members", gov.seal)


def test_update_delete_optin_clear_are_refused(g):
    sp = g.sp
    c = g.creator
    for txn in (transaction.ApplicationUpdateTxn(c, sp, g.app_id, APP_BIN, CLEAR_BIN),
                transaction.ApplicationDeleteTxn(c, sp, g.app_id),
                transaction.ApplicationOptInTxn(c, sp, g.app_id, app_args=[METHODS["seal"].get_selector()]),
                transaction.ApplicationCloseOutTxn(c, sp, g.app_id)):
        expect_error(g, "bad_on_completion", g._eval, [txn])
    # ClearState: nobody can be opted in, so there is nothing to clear and no vote to erase.
    pid = g.propose("alice", "deploy")
    g.now += 10
    g.vote("alice", pid, "for")
    expect_error(g, "ledger", g._eval, [transaction.ApplicationClearStateTxn(g.account("alice"), sp, g.app_id)])
    assert g.proposal_raw(pid)["for"] == 60


def test_below_min_proposer_weight(g):
    expect_error(g, "insufficient_weight", g.propose, "dave", "deploy")
    expect_error(g, "insufficient_weight", g.propose_membership, "dave", "dave", 10)
    expect_error(g, "insufficient_weight", g.propose, "mallory", "emergency")


def test_oversized_and_malformed_fields(g):
    expect_error(g, "too_long", g.propose, "alice", "deploy", url="x" * (MAX_URL + 1))
    expect_error(g, "too_long", g.propose, "alice", "deploy", all_hosts=False, hosts=list(range(1, MAX_HOSTS + 2)))
    expect_error(g, "too_long", g.propose_membership, "alice", "carol", 1, url="x" * (MAX_URL + 1))
    expect_error(g, "bad_targets", g.propose, "alice", "deploy", all_hosts=True, hosts=[1])
    expect_error(g, "bad_targets", g.propose, "alice", "deploy", all_hosts=False, hosts=[])
    expect_error(g, "bad_kind", g.propose, "alice", 2)
    m = METHODS["propose"]
    sel = m.get_selector()
    good = [sel, b"\x00", b"\xaa" * 20, b"\xbb" * 20, b"\xcc" * 32, b"\x80", b"\x00\x00", b"\x00\x00"]
    bad = [
        good[:5] + [b"\x80"] + good[6:7],                      # missing an argument
        good[:2] + [b"\xaa" * 19] + good[3:],                  # short commit
        good[:5] + [b"\x01"] + good[6:],                       # bool neither 0x00 nor 0x80
        good[:6] + [b"\x00\x01"] + good[7:],                   # list length without elements
        good[:7] + [b"\x00\x05ab"],                            # string length mismatch
        good[:7] + [b"\x00"],                                  # truncated string
    ]
    for args in bad:
        expect_error(g, "bad_encoding", raw_call, g, "alice", args, [b"p" + u64(1)])
    raw_call(g, "alice", good, [b"p" + u64(1), b"m" + encoding.decode_address(g.account("alice")), b"q" + u64(1)])


def raw_call(g, by, app_args, boxes, pay=400_000):
    sender = g.account(by)
    return g._eval([transaction.PaymentTxn(sender, g.sp, g.app_addr, pay),
                    transaction.ApplicationCallTxn(sender, g.sp, g.app_id, 0, app_args=app_args,
                                                   boxes=[(0, b) for b in boxes])])


def test_create_refuses_bad_input():
    expect_create_error("invalid_rules", rules=dict(RULES, support_ppm=1_000_000))
    expect_create_error("invalid_rules", rules=dict(RULES, voting_period=0))
    expect_create_error("invalid_rules", rules=dict(RULES, emergency_period=101))
    expect_create_error("invalid_rules", rules=dict(RULES, emergency_support_ppm=499_999))
    expect_create_error("invalid_rules", rules=dict(RULES, grace_period=0))
    expect_create_error("invalid_rules", rules=dict(RULES, timelock=315_360_001))
    expect_create_error("invalid_rules", rules=dict(RULES, vote_cap_ppm=1_000_001))
    expect_create_error("invalid_rules", rules=dict(RULES, min_proposer_weight=10**12 + 1))
    expect_create_error("too_long", repo="h" * 121)
    expect_create_error("bad_encoding", repo="")
    Gov(rules=dict(RULES, voting_delay=315_360_000, timelock=315_360_000, grace_period=315_360_000,
                   voting_period=315_360_000), repo="h" * 120)


def expect_create_error(code, **kw):
    with pytest.raises(AppError) as e:
        Gov(**kw)
    assert e.value.code == code, e.value.raw


VOTE_BOX = box_cost(1 + 8 + 32, 24)


def test_box_cost_must_be_paid_to_the_app(g):
    pid = g.propose("alice", "deploy")
    g.now += 10
    expect_error(g, "mbr_not_paid", g.vote, "alice", pid, "for", pay=VOTE_BOX - 1)
    expect_error(g, "payment_wrong_receiver", g.vote, "alice", pid, "for", pay_to=g.account("bob"))
    # a payment that is not the transaction right before the call does not count
    alice = g.account("alice")
    extra = [transaction.PaymentTxn(alice, g.sp, g.app_addr, 1_000_000)]
    expect_error(g, "payment_wrong_receiver", g.vote, "alice", pid, "for", pay_to=alice, extra=extra)
    # no payment at all: an asset transfer in the payment slot
    key = g.sk(alice)
    a = encoding.decode_address(alice)
    m = METHODS["vote"]
    args = [m.get_selector(), u64(pid), b"\x01", u64(0)]
    txns = [transaction.AssetTransferTxn(alice, g.sp, alice, 0, 5000),
            transaction.ApplicationCallTxn(alice, g.sp, g.app_id, 0, app_args=args,
                                           boxes=[(0, b"p" + u64(pid)), (0, b"v" + u64(pid) + a), (0, b"m" + a),
                                                  (0, b"w" + a + u64(0)), (0, b"w" + a + u64(1))])]
    g.ledger.opt_in_asset(alice, 5000)
    expect_error(g, "payment_missing", g._eval, txns)
    # exactly the box cost is enough, and lands in the app account
    before = g.ledger.get_account_balance(g.app_addr)[0]
    g.vote("alice", pid, "for", pay=VOTE_BOX)
    assert g.ledger.get_account_balance(g.app_addr)[0] == before + VOTE_BOX


def test_set_member_box_cost(g):
    member_box = box_cost(33, 16)
    entry_box = box_cost(41, 16)
    expect_error(g, "mbr_not_paid", g.set_member, "carol", 1, pay=member_box + entry_box - 1)
    g.set_member("carol", 1, pay=member_box + entry_box)
    expect_error(g, "mbr_not_paid", g.set_member, "carol", 2, pay=entry_box - 1)
    g.set_member("carol", 2, pay=entry_box)
    assert g.member_history(g.account("carol"))[-1][1] == 2


def test_local_schema_must_be_empty():
    expect_create_error("bad_schema", local_schema=(1, 0))


def test_global_schema_must_be_the_programs():
    # A deployer with the schema of an older app (before validators: 4 uint64; before point
    # weights: 3 byte slices; before the member count: 7 uint64) learns it from the code.
    expect_create_error("bad_schema", global_schema=(4, 3))
    expect_create_error("bad_schema", global_schema=(7, 3))
    expect_create_error("bad_schema", global_schema=(7, 4))
    expect_create_error("bad_schema", global_schema=(8, 5))
    expect_create_error("bad_schema", global_schema=(9, 4))
    g = Gov()
    assert g.global_state()[b"validators"] == 0
    assert g.global_state()[b"members"] == 0


def test_unfunded_app_account_is_refused():
    gov = Gov(rules=RULES, fund=False)
    boxes = box_cost(33, 16) + box_cost(41, 16)
    # The payment covers the boxes but not the app account's own base minimum balance: the ledger
    # refuses the payment itself.
    expect_error(gov, "ledger", gov.set_member, "alice", 1, pay=boxes)
    # It covers the base minimum balance and more than the boxes' cost, but not both.
    expect_error(gov, "app_underfunded", gov.set_member, "alice", 1, pay=100_000)
    gov.set_member("alice", 1, pay=boxes + 100_000)


def test_unknown_methods_are_refused(g):
    alice = g.account("alice")
    for args in ([b"\x00\x01\x02\x03"], [METHODS["create"].get_selector()], []):
        expect_error(g, "unknown_method", g._eval, [transaction.ApplicationCallTxn(alice, g.sp, g.app_id, 0, app_args=args)])
    # the create selector is the only thing a creation accepts
    with pytest.raises(AppError) as e:
        g._eval([transaction.ApplicationCreateTxn(
            alice, g.sp, 0, APP_BIN, CLEAR_BIN, transaction.StateSchema(*GLOBAL_SCHEMA), transaction.StateSchema(0, 0),
            app_args=[METHODS["seal"].get_selector()], extra_pages=EXTRA_PAGES)])
    assert e.value.code == "unknown_method"
