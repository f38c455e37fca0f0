"""FINDINGS of the independent audit, kept as regression tests. Each first failed against the
app as audited; F1 and F5 were fixed in app.teal, F2–F4 in docs/contract.md (the code's behaviour
was sound, the documentation imprecise). See README.md ("Findings")."""
from conftest import ALGO, T0, Raw, enc, pass_proposal, rules, selector, u64


def test_F1_proposal_passed_before_seal_cannot_give_creator_power_after_seal(make_gov, acc):
    """docs/contract.md, threat model: "After seal the creator has no power beyond its weight."
    Before seal the creator makes itself the only member, proposes a membership change in its own
    favour, votes it through and finalizes early (it holds all of the snapshot weight), then
    removes itself, adds the real members and seals. The queued proposal survives seal: after
    seal anyone executes it and the creator holds 10^12 - 100 of the weight (total weight
    10^12) while the sealed app looked innocent (creator weight 0) at seal time. The same works
    for a treasury drain, a hosts change (agent keys) or a deploy/emergency proposal that the
    agents will apply once the app is sealed."""
    g = make_gov()
    c = acc.creator
    g.set_member(c, 1)
    pid, _ = g.propose_membership(c, c, 10**12 - 100)
    g.vote(c, pid, 1, ts=T0 + 10)
    assert g.finalize(pid, ts=T0 + 10)[0] == 3                     # queued, eta = T0 + 60
    g.set_member(c, 0, ts=T0 + 11)
    for who, w in [(acc.alice, 40), (acc.bob, 30), (acc.carol, 20), (acc.dave, 10)]:
        g.set_member(who, w, ts=T0 + 11)
    # Fixed: an app with a proposal cannot be sealed, so the pre-seal decision can never take
    # effect in a sealed app (agents refuse unsealed apps).
    g.reject(g.seal, ts=T0 + 12, code="proposals_exist")
    assert g.gs().get(b"sealed", 0) == 0


def test_F2_voter_without_entry_before_snapshot_is_refused_with_any_index(make_gov, acc):
    """docs/contract.md (vote): "a voter with no entry at or before the snapshot gets not_member
    with any index". app.teal returns bad_history_index for such a voter when the index is not 0
    (snapshot_weight: `frame_dig -1; load S_N; <; assert // ERR:bad_history_index` for an index
    past the end, and `frame_dig -1; !; assert // ERR:bad_history_index` for an index > 0 whose
    entry is after the snapshot). Only the error code differs: the vote is refused either way."""
    g = make_gov()
    g.set_member(acc.alice, 10)
    pid, _ = g.propose(acc.alice)
    g.set_member(acc.erin, 5)
    g.set_member(acc.erin, 6)
    # docs/contract.md now: index 0 proves "no entry yet" (not_member); any other index is not
    # the entry in force (bad_history_index). Refused either way.
    g.reject(g.vote, acc.erin, pid, 1, hint=0, ts=T0 + 10, code="not_member")
    g.reject(g.vote, acc.erin, pid, 1, hint=1, ts=T0 + 10, code="bad_history_index")
    g.reject(g.vote, acc.erin, pid, 1, hint=7, ts=T0 + 10, code="bad_history_index")


def test_F3_propose_checks_bad_targets_before_the_url_length(dao, dacc):
    """docs/contract.md, propose: checks in order `bad_kind`, `too_long` (> 16 hosts, URL > 256),
    `bad_targets`. app.teal checks bad_targets (m_propose, `!=; assert // ERR:bad_targets`) before
    the URL length (`int 7; int MAX_URL; callsub strarg`), so a call with both faults gets
    bad_targets. Error-order divergence only."""
    # docs/contract.md now lists bad_targets before the URL's too_long, as the code checks them.
    dao.reject(dao.propose, dacc.alice, all_hosts=True, hosts=[1], url="u" * 257, code="bad_targets")


def test_F4_set_member_checks_the_caller_before_decoding(make_gov, acc):
    """docs/contract.md, Methods: "argument decoding (bad_encoding, ...) comes first". In
    m_set_member / m_set_host `callsub only_creator_unsealed` (not_creator, sealed) runs before
    the argument decoding (`callsub fixedarg` -> bad_encoding). Error-order divergence only."""
    g = make_gov()
    args = [selector("set_member"), b"\x00" * 31, u64(1)]
    g.reject(g.call, acc.mallory, "set_member", raw_args=args, pay=100_000,
             boxes=[b"m" + b"\x00" * 32], code="not_creator")


def test_F5_treasury_amount_near_2_64_fails_with_insufficient_treasury(dao, dacc):
    """docs/contract.md, execute: a treasury payment larger than the treasury fails with
    insufficient_treasury. In execute_treasury `min_balance; load S_W; +` overflows for an amount
    near 2^64 and the program panics ("+ overflowed") instead; the proposal stays queued either
    way. Error-code divergence only."""
    g = dao
    pid, _ = g.propose_treasury(dacc.alice, dacc.mallory, 2**64 - 1)
    p = pass_proposal(g, dacc, pid)
    g.reject(g.execute, pid, ts=p["eta"], code="insufficient_treasury")
