"""Writes vectors_local.json: scenario vectors in the format of docs/governance-rules.md, used
until (and beside) contracts/vectors/governance.json. Expected values are worked out by hand
from the rules document, in the comments."""
import json
from pathlib import Path

R = dict(voting_delay=0, voting_period=100, support_ppm=500000, quorum_ppm=0, emergency_period=50,
         emergency_support_ppm=666667, timelock=100, grace_period=1000, min_proposer_weight=1, vote_cap_ppm=0,
         proposal_bond=0, heartbeat_interval=86_400)


def rules(**kw):
    return dict(R, **kw)


S = []
S.append({"name": "simple majority succeeds early and queues", "rules": rules(), "members": {"alice": 60, "bob": 40},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "deploy", "id": 1},
              {"at": 1000, "op": "check", "proposal": 1, "state": "active", "total": 100, "quorum_votes": 0},
              {"at": 1010, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              # 500000*60 > 500000*(0+40): decided
              {"at": 1011, "op": "finalize", "proposal": 1, "state": "queued", "eta": 1111},
              {"at": 1011, "op": "check", "proposal": 1, "state": "queued", "tally": {"for": 60, "against": 0, "abstain": 0},
               "voted_weight": 60, "eta": 1111},
              {"at": 1012, "op": "vote", "by": "bob", "proposal": 1, "choice": "against", "error": "voting_closed"},
              {"at": 1013, "op": "finalize", "proposal": 1, "error": "not_open"},
              {"at": 2111, "op": "check", "proposal": 1, "state": "expired"},
          ]})
S.append({"name": "support exactly at threshold fails", "rules": rules(), "members": {"alice": 50, "bob": 50},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "deploy", "id": 1},
              {"at": 1010, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              {"at": 1010, "op": "vote", "by": "bob", "proposal": 1, "choice": "against"},
              {"at": 1010, "op": "vote", "by": "carol", "proposal": 1, "choice": "for", "error": "not_member"},
              {"at": 1010, "op": "vote", "by": "bob", "proposal": 1, "choice": "for", "error": "already_voted"},
              {"at": 1099, "op": "check", "proposal": 1, "state": "active"},
              {"at": 1100, "op": "check", "proposal": 1, "state": "defeated", "tally": {"for": 50, "against": 50, "abstain": 0}},
              {"at": 1100, "op": "finalize", "proposal": 1, "state": "defeated"},
              {"at": 1100, "op": "execute", "proposal": 1, "error": "not_executable_kind"},
          ]})
S.append({"name": "everyone abstains is defeated", "rules": rules(), "members": {"alice": 1, "bob": 2},
          "steps": [
              {"at": 1000, "op": "propose", "by": "bob", "kind": "emergency", "id": 1},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "abstain"},
              {"at": 1001, "op": "finalize", "proposal": 1, "error": "outcome_undecided"},
              {"at": 1002, "op": "vote", "by": "bob", "proposal": 1, "choice": "abstain"},
              {"at": 1002, "op": "finalize", "proposal": 1, "state": "defeated"},
              {"at": 1002, "op": "check", "proposal": 1, "state": "defeated", "tally": {"for": 0, "against": 0, "abstain": 3}},
          ]})
S.append({"name": "snapshot weight ignores later changes; late members cannot vote", "rules": rules(),
          "members": {"alice": 10, "bob": 10},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "deploy", "id": 1},
              {"at": 1000, "op": "set_member", "member": "bob", "weight": 100},
              {"at": 1000, "op": "set_member", "member": "bob", "weight": 1000},
              {"at": 1000, "op": "set_member", "member": "carol", "weight": 50},
              {"at": 1000, "op": "set_member", "member": "alice", "weight": 0},
              {"at": 1001, "op": "vote", "by": "bob", "proposal": 1, "choice": "against"},
              {"at": 1001, "op": "vote", "by": "carol", "proposal": 1, "choice": "for", "error": "not_member"},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              {"at": 1001, "op": "check", "proposal": 1, "tally": {"for": 10, "against": 10, "abstain": 0}, "voted_weight": 20, "total": 20},
              {"at": 1002, "op": "propose", "by": "alice", "kind": "deploy", "error": "insufficient_weight"},
              {"at": 1002, "op": "propose", "by": "carol", "kind": "deploy", "id": 2},
              {"at": 1002, "op": "check", "proposal": 2, "total": 1050},
              {"at": 1003, "op": "vote", "by": "alice", "proposal": 2, "choice": "for", "error": "not_member"},
              {"at": 1003, "op": "vote", "by": "bob", "proposal": 2, "choice": "for"},
              # 1000 of 1050 for: 500000*1000 > 500000*(0+50)
              {"at": 1003, "op": "finalize", "proposal": 2, "state": "queued", "eta": 1103},
              {"at": 1100, "op": "finalize", "proposal": 1, "state": "defeated"},
          ]})
S.append({"name": "early finalize only when decided", "rules": rules(), "members": {"alice": 50, "bob": 30, "carol": 20},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "deploy", "id": 1},
              {"at": 1000, "op": "finalize", "proposal": 1, "error": "outcome_undecided"},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              # 50 for, 50 remaining: cannot succeed early (50 > 50 fails) and could still pass
              {"at": 1001, "op": "finalize", "proposal": 1, "error": "outcome_undecided"},
              {"at": 1002, "op": "vote", "by": "bob", "proposal": 1, "choice": "against"},
              {"at": 1002, "op": "finalize", "proposal": 1, "error": "outcome_undecided"},
              {"at": 1003, "op": "vote", "by": "carol", "proposal": 1, "choice": "for"},
              {"at": 1003, "op": "finalize", "proposal": 1, "state": "queued", "eta": 1103},
              {"at": 1004, "op": "propose", "by": "bob", "kind": "deploy", "id": 2},
              {"at": 1005, "op": "vote", "by": "alice", "proposal": 2, "choice": "against"},
              # for + remaining = 50 against 50: can no longer pass
              {"at": 1005, "op": "finalize", "proposal": 2, "state": "defeated"},
          ]})
S.append({"name": "quorum counts abstentions and is a ceiling", "rules": rules(quorum_ppm=333334),
          "members": {"alice": 30, "bob": 40, "carol": 30},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "deploy", "id": 1},
              # ceil(100 * 333334 / 10^6) = ceil(33.3334) = 34
              {"at": 1000, "op": "check", "proposal": 1, "quorum_votes": 34},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              {"at": 1100, "op": "check", "proposal": 1, "state": "defeated"},
              {"at": 1100, "op": "propose", "by": "alice", "kind": "deploy", "id": 2},
              {"at": 1101, "op": "vote", "by": "alice", "proposal": 2, "choice": "for"},
              {"at": 1101, "op": "vote", "by": "carol", "proposal": 2, "choice": "abstain"},
              {"at": 1200, "op": "finalize", "proposal": 2, "state": "queued", "eta": 1300},
              {"at": 1201, "op": "finalize", "proposal": 1, "state": "defeated"},
          ]})
S.append({"name": "vote cap limits effective weight only", "rules": rules(vote_cap_ppm=300000),
          "members": {"alice": 60, "bob": 40},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "deploy", "id": 1},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              {"at": 1001, "op": "vote", "by": "bob", "proposal": 1, "choice": "against"},
              {"at": 1001, "op": "check", "proposal": 1, "tally": {"for": 30, "against": 30, "abstain": 0}, "voted_weight": 100},
              {"at": 1001, "op": "finalize", "proposal": 1, "state": "defeated"},
          ]})
S.append({"name": "cancel only by the proposer while voting", "rules": rules(voting_delay=10),
          "members": {"alice": 60, "bob": 40},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "deploy", "id": 1},
              {"at": 1000, "op": "check", "proposal": 1, "state": "pending"},
              {"at": 1005, "op": "vote", "by": "bob", "proposal": 1, "choice": "for", "error": "voting_not_started"},
              {"at": 1005, "op": "cancel", "by": "bob", "proposal": 1, "error": "not_proposer"},
              {"at": 1005, "op": "cancel", "by": "alice", "proposal": 1},
              {"at": 1005, "op": "check", "proposal": 1, "state": "canceled"},
              {"at": 1010, "op": "vote", "by": "bob", "proposal": 1, "choice": "for", "error": "voting_closed"},
              {"at": 1010, "op": "cancel", "by": "alice", "proposal": 1, "error": "not_open"},
              {"at": 1010, "op": "finalize", "proposal": 1, "error": "not_open"},
              {"at": 1010, "op": "propose", "by": "alice", "kind": "deploy", "id": 2},
              # proposal 2: start 1020, end 1120
              {"at": 1119, "op": "check", "proposal": 2, "state": "active"},
              {"at": 1120, "op": "cancel", "by": "alice", "proposal": 2, "error": "voting_closed"},
              {"at": 1120, "op": "vote", "by": "bob", "proposal": 2, "choice": "for", "error": "voting_closed"},
              {"at": 1120, "op": "cancel", "by": "alice", "proposal": 9, "error": "unknown_proposal"},
              {"at": 1120, "op": "vote", "by": "bob", "proposal": 9, "choice": "for", "error": "unknown_proposal"},
              {"at": 1120, "op": "finalize", "proposal": 9, "error": "unknown_proposal"},
              {"at": 1120, "op": "execute", "proposal": 9, "error": "unknown_proposal"},
          ]})
S.append({"name": "membership proposal executes within its window", "rules": rules(),
          "members": {"alice": 60, "bob": 40},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "membership", "payload": {"member": "carol", "weight": 5}, "id": 1},
              {"at": 1000, "op": "execute", "proposal": 1, "error": "not_queued"},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              {"at": 1001, "op": "finalize", "proposal": 1, "state": "queued", "eta": 1101},
              {"at": 1100, "op": "execute", "proposal": 1, "error": "timelock_active"},
              {"at": 1101, "op": "execute", "proposal": 1},
              {"at": 1101, "op": "check", "proposal": 1, "state": "executed"},
              {"at": 1102, "op": "execute", "proposal": 1, "error": "not_queued"},
              {"at": 1102, "op": "propose", "by": "carol", "kind": "membership", "payload": {"member": "bob", "weight": 0}, "id": 2},
              {"at": 1103, "op": "check", "proposal": 2, "total": 105},
              {"at": 1103, "op": "vote", "by": "alice", "proposal": 2, "choice": "for"},
              {"at": 1103, "op": "finalize", "proposal": 2, "state": "queued", "eta": 1203},
              # the last second of the window (eta 1203 + grace 1000 - 1); expiry at the boundary
              # itself is in the shared vectors ("expiry: the last second of grace works, …")
              {"at": 2202, "op": "execute", "proposal": 2},
              {"at": 2203, "op": "check", "proposal": 2, "state": "executed"},
          ]})
S.append({"name": "parameters apply to new proposals only", "rules": rules(),
          "members": {"alice": 60, "bob": 40},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "parameters",
               "payload": {"rules": rules(voting_period=500, quorum_ppm=1000000, timelock=10)}, "id": 1},
              {"at": 1000, "op": "propose", "by": "alice", "kind": "deploy", "id": 2},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              {"at": 1001, "op": "finalize", "proposal": 1, "state": "queued", "eta": 1101},
              {"at": 1101, "op": "execute", "proposal": 1},
              {"at": 1101, "op": "propose", "by": "bob", "kind": "deploy", "id": 3},
              {"at": 1101, "op": "check", "proposal": 3, "quorum_votes": 100},
              {"at": 1101, "op": "check", "proposal": 2, "quorum_votes": 0, "state": "defeated"},
              {"at": 1102, "op": "vote", "by": "alice", "proposal": 3, "choice": "for"},
              {"at": 1102, "op": "finalize", "proposal": 3, "error": "outcome_undecided"},
              {"at": 1103, "op": "vote", "by": "bob", "proposal": 3, "choice": "abstain"},
              # the new rules' timelock is the floor (10 s): eta = 1103 + 10
              {"at": 1103, "op": "finalize", "proposal": 3, "state": "queued", "eta": 1113},
              {"at": 1103, "op": "propose", "by": "alice", "kind": "parameters",
               "payload": {"rules": rules(support_ppm=1000000)}, "error": "invalid_rules"},
              {"at": 1103, "op": "propose", "by": "mallory", "kind": "parameters",
               "payload": {"rules": rules(support_ppm=1000000)}, "error": "insufficient_weight"},
          ]})
S.append({"name": "emergency uses its own period and threshold", "rules": rules(),
          "members": {"alice": 66, "bob": 34},
          "steps": [
              {"at": 1000, "op": "propose", "by": "alice", "kind": "emergency", "id": 1},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              # early success: (10^6 - 666667) * 66 = 21999978 > 666667 * 34 = 22666678? no;
              # early defeat: 66 + 34 for would pass: undecided
              {"at": 1001, "op": "finalize", "proposal": 1, "error": "outcome_undecided"},
              {"at": 1049, "op": "check", "proposal": 1, "state": "active"},
              {"at": 1050, "op": "vote", "by": "bob", "proposal": 1, "choice": "against", "error": "voting_closed"},
              # at the end only cast votes count: 66 for, 0 against
              {"at": 1050, "op": "check", "proposal": 1, "state": "succeeded"},
              {"at": 1050, "op": "finalize", "proposal": 1, "state": "queued", "eta": 1150},
              {"at": 1050, "op": "propose", "by": "alice", "kind": "emergency", "id": 2},
              {"at": 1051, "op": "vote", "by": "alice", "proposal": 2, "choice": "for"},
              {"at": 1051, "op": "vote", "by": "bob", "proposal": 2, "choice": "against"},
              # 21999978 > 22666678 fails: defeated though 66 % voted for
              {"at": 1051, "op": "finalize", "proposal": 2, "state": "defeated"},
          ]})
S.append({"name": "total weight limit", "rules": rules(), "members": {"alice": 999999999999},
          "steps": [
              {"at": 1000, "op": "set_member", "member": "bob", "weight": 1},
              {"at": 1000, "op": "set_member", "member": "carol", "weight": 1, "error": "total_weight_too_large"},
              {"at": 1000, "op": "set_member", "member": "carol", "weight": 1000000000001, "error": "total_weight_too_large"},
              {"at": 1000, "op": "set_member", "member": "alice", "weight": 999999999998},
              {"at": 1000, "op": "set_member", "member": "carol", "weight": 1},
              {"at": 1000, "op": "propose", "by": "carol", "kind": "deploy", "id": 1},
              {"at": 1000, "op": "check", "proposal": 1, "total": 1000000000000},
              {"at": 1001, "op": "vote", "by": "alice", "proposal": 1, "choice": "for"},
              {"at": 1001, "op": "finalize", "proposal": 1, "state": "queued", "eta": 1101},
          ]})
S.append({"name": "min proposer weight", "rules": rules(min_proposer_weight=40),
          "members": {"alice": 60, "bob": 39},
          "steps": [
              {"at": 1000, "op": "propose", "by": "bob", "kind": "deploy", "error": "insufficient_weight"},
              {"at": 1000, "op": "propose", "by": "carol", "kind": "treasury", "error": "insufficient_weight"},
              {"at": 1000, "op": "set_member", "member": "bob", "weight": 40},
              {"at": 1000, "op": "propose", "by": "bob", "kind": "hosts", "id": 1},
          ]})

out = Path(__file__).with_name("vectors_local.json")
out.write_text(json.dumps({"version": 1, "scenarios": S}, indent=1) + "\n")
