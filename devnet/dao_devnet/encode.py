"""algod's JSON shapes, built from go-algorand's msgpack encodings.

Values come from the evaluator decoded with `ledger.unpack_all`: Go `string` fields are Python str
(with surrogate escapes for non-UTF-8 bytes), `[]byte` and fixed byte arrays are bytes. algod's
JSON encoder writes Go strings as JSON strings (invalid UTF-8 replaced by U+FFFD), byte slices and
digests as base64, and `basics.Address` fields as base32 addresses; this module does the same.
"""
import base64

from algosdk import encoding as sdk_encoding

# Fields whose Go type is basics.Address (JSON: base32 with checksum).
TXN_ADDRESS_FIELDS = {"snd", "rcv", "close", "rekey", "arcv", "asnd", "aclose", "fadd", "sgnr"}
HEADER_ADDRESS_FIELDS = {"fees", "rwd", "prp"}
ASSET_PARAM_ADDRESS_FIELDS = {"m", "r", "f", "c"}


def b64(b):
    return base64.b64encode(b).decode()


def addr(raw):
    return sdk_encoding.encode_address(raw)


def gostr(s):
    """A Go string as JSON would write it."""
    if isinstance(s, bytes):
        return s.decode("utf-8", "replace")
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def raw(s):
    """Raw bytes of a Go string or byte slice."""
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8", "surrogateescape")


def _generic(v):
    if isinstance(v, bytes):
        return b64(v)
    if isinstance(v, str):
        return gostr(v)
    if isinstance(v, dict):
        return {str(gostr(k) if isinstance(k, (str, bytes)) else k): _generic(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_generic(x) for x in v]
    return v


def txn_json(t):
    """transactions.Transaction as algod's JSON."""
    out = {}
    for k, v in t.items():
        if k in TXN_ADDRESS_FIELDS and isinstance(v, bytes):
            out[k] = addr(v)
        elif k == "apat":
            out[k] = [addr(a) for a in v]
        elif k == "apar":
            out[k] = {pk: (addr(pv) if pk in ASSET_PARAM_ADDRESS_FIELDS else _generic(pv)) for pk, pv in v.items()}
        elif k == "al":
            out[k] = [{rk: (addr(rv) if rk == "d" else _generic(rv)) for rk, rv in ref.items()} for ref in v]
        else:
            out[k] = _generic(v)
    return out


def _value_delta(vd):
    return {k: (gostr(v) if k == "bs" else v) for k, v in vd.items()}


def eval_delta_json(dt):
    out = {}
    for k, v in dt.items():
        if k == "gd":
            out[k] = {gostr(key): _value_delta(vd) for key, vd in v.items()}
        elif k == "ld":
            out[k] = {str(i): {gostr(key): _value_delta(vd) for key, vd in d.items()} for i, d in v.items()}
        elif k == "lg":
            out[k] = [gostr(x) for x in v]
        elif k == "itx":
            out[k] = [stxn_json(x) for x in v]
        elif k == "sa":
            out[k] = [addr(a) for a in v]
        else:
            out[k] = _generic(v)
    return out


def stxn_json(s):
    """SignedTxn / SignedTxnInBlock / SignedTxnWithAD as algod's JSON."""
    out = {}
    for k, v in s.items():
        if k == "txn":
            out[k] = txn_json(v)
        elif k == "sgnr":
            out[k] = addr(v)
        elif k == "dt":
            out[k] = eval_delta_json(v)
        else:
            out[k] = _generic(v)
    return out


def block_json(block, header_only=False):
    out = {}
    for k, v in block.items():
        if k == "txns":
            if not header_only:
                out[k] = [stxn_json(x) for x in v]
        elif k in HEADER_ADDRESS_FIELDS and isinstance(v, bytes):
            out[k] = addr(v)
        else:
            out[k] = _generic(v)
    return out


# ---------------------------------------------------------------------- algod REST models
def tkv_json(tkv):
    """basics.TealKeyValue -> model.TealKeyValueStore (sorted by raw key), or None when empty."""
    if not tkv:
        return None
    items = sorted(tkv.items(), key=lambda kv: raw(kv[0]))
    return [{"key": b64(raw(k)),
             "value": {"type": v.get("tt", 0), "bytes": b64(raw(v.get("tb", b""))), "uint": v.get("ui", 0)}}
            for k, v in items]


def state_delta_json(sd):
    """basics.StateDelta -> model.StateDelta, or None when empty."""
    if not sd:
        return None
    out = []
    for k, vd in sd.items():
        d = {"action": vd.get("at", 0)}
        if vd.get("bs"):
            d["bytes"] = b64(raw(vd["bs"]))
        if vd.get("ui"):
            d["uint"] = vd["ui"]
        out.append({"key": b64(raw(k)), "value": d})
    return out


def schema_json(s):
    return {"num-uint": (s or {}).get("nui", 0), "num-byte-slice": (s or {}).get("nbs", 0)}


def application_json(app_id, creator_raw, p):
    params = {
        "creator": addr(creator_raw),
        "approval-program": b64(p.get("approv", b"")),
        "clear-state-program": b64(p.get("clearp", b"")),
        "local-state-schema": schema_json(p.get("lsch")),
        "global-state-schema": schema_json(p.get("gsch")),
    }
    if p.get("epp"):
        params["extra-program-pages"] = p["epp"]
    gs = tkv_json(p.get("gs"))
    if gs is not None:
        params["global-state"] = gs
    if p.get("v"):
        params["version"] = p["v"]
    return {"id": app_id, "params": params}


def asset_json(asset_id, creator_raw, p):
    params = {"creator": addr(creator_raw), "total": p.get("t", 0), "decimals": p.get("dc", 0),
              "default-frozen": bool(p.get("df", False))}
    for src, name in (("an", "name"), ("un", "unit-name"), ("au", "url")):
        if p.get(src):
            params[name] = gostr(p[src])
            params[name + "-b64"] = b64(raw(p[src]))
    for src, name in (("m", "manager"), ("r", "reserve"), ("f", "freeze"), ("c", "clawback")):
        if p.get(src):
            params[name] = addr(p[src])
    if p.get("am"):
        params["metadata-hash"] = b64(p["am"])
    return {"index": asset_id, "params": params}


STATUS_NAMES = {0: "Offline", 1: "Online", 2: "NotParticipating"}


def account_json(address_raw, ad, last_round, min_balance, exclude_all=False):
    amount = ad.get("algo", 0)
    out = {
        "address": addr(address_raw),
        "amount": amount,
        "amount-without-pending-rewards": amount,
        "pending-rewards": 0,
        "rewards": ad.get("ern", 0),
        "reward-base": ad.get("ebase", 0),
        "round": last_round,
        "status": STATUS_NAMES.get(ad.get("onl", 0), "Offline"),
        "min-balance": min_balance,
        "total-apps-opted-in": len(ad.get("appl", {})),
        "total-assets-opted-in": len(ad.get("asset", {})),
        "total-created-apps": len(ad.get("appp", {})),
        "total-created-assets": len(ad.get("apar", {})),
        "apps-total-schema": schema_json(ad.get("tsch")),
    }
    if not exclude_all:
        out["assets"] = [{"amount": h.get("a", 0), "asset-id": aid, "is-frozen": bool(h.get("f", False))}
                         for aid, h in sorted(ad.get("asset", {}).items())]
        out["created-assets"] = [asset_json(aid, address_raw, p) for aid, p in sorted(ad.get("apar", {}).items())]
        out["created-apps"] = [application_json(aid, address_raw, p) for aid, p in sorted(ad.get("appp", {}).items())]
        local = []
        for aid, ls in sorted(ad.get("appl", {}).items()):
            entry = {"id": aid, "schema": schema_json(ls.get("hsch"))}
            kv = tkv_json(ls.get("tkv"))
            if kv is not None:
                entry["key-value"] = kv
            local.append(entry)
        out["apps-local-state"] = local
    for src, name in (("teap", "apps-total-extra-pages"), ("tbx", "total-boxes"), ("tbxb", "total-box-bytes")):
        if ad.get(src):
            out[name] = ad[src]
    if ad.get("spend"):
        out["auth-addr"] = addr(ad["spend"])
    return out


def _ed_address(index, txn, shared):
    if index == 0:
        return addr(txn["snd"])
    accounts = txn.get("apat", [])
    if index - 1 < len(accounts):
        return addr(accounts[index - 1])
    if index - 1 - len(accounts) < len(shared):
        return addr(shared[index - 1 - len(accounts)])
    return f"Invalid Account Index {index} in LocalDelta"


def pending_json(stxn, ad, confirmed_round, pool_error="", inner=False):
    """PreEncodedTxInfo: `stxn` is the SignedTxn, `ad` its ApplyData (or None if unconfirmed)."""
    out = {"pool-error": pool_error, "txn": stxn_json({k: v for k, v in stxn.items() if k in ("sig", "msig", "lsig", "sgnr", "txn")})}
    if ad is None:
        return out
    txn = stxn["txn"]
    if not inner:
        out["confirmed-round"] = confirmed_round
    out["closing-amount"] = ad.get("ca", 0)
    out["asset-closing-amount"] = ad.get("aca", 0)
    out["sender-rewards"] = ad.get("rs", 0)
    out["receiver-rewards"] = ad.get("rr", 0)
    out["close-rewards"] = ad.get("rc", 0)
    if inner:
        if ad.get("apid"):
            out["application-index"] = ad["apid"]
        if ad.get("caid"):
            out["asset-index"] = ad["caid"]
    else:
        if txn.get("type") == "appl" and not txn.get("apid") and ad.get("apid"):
            out["application-index"] = ad["apid"]
        if txn.get("type") == "acfg" and not txn.get("caid") and ad.get("caid"):
            out["asset-index"] = ad["caid"]
    dt = ad.get("dt", {})
    ld = dt.get("ld")
    if ld:
        out["local-state-delta"] = [{"address": _ed_address(i, txn, dt.get("sa", [])), "delta": state_delta_json(d)}
                                    for i, d in ld.items()]
    gd = state_delta_json(dt.get("gd"))
    if gd:
        out["global-state-delta"] = gd
    if dt.get("lg"):
        out["logs"] = [b64(raw(x)) for x in dt["lg"]]
    if dt.get("itx"):
        out["inner-txns"] = [pending_json(x, x, confirmed_round, inner=True) for x in dt["itx"]]
    return out


def app_index_of(entry):
    """getAppIndexFromTxn: the called app, or the app the transaction created."""
    return entry.get("txn", {}).get("apid") or entry.get("apid", 0)


def block_logs(entries, txids):
    """model.BlockLogsResponse.logs for a block's payset."""
    out = []

    def walk(items, outer):
        for e in items:
            dt = e.get("dt", {})
            if dt.get("lg"):
                out.append({"txId": outer, "application-index": app_index_of(e),
                            "logs": [b64(raw(x)) for x in dt["lg"]]})
            walk(dt.get("itx", []), outer)

    for e, txid in zip(entries, txids):
        walk([e], txid)
    return out
