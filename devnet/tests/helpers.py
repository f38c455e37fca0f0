"""Helpers shared by the test modules: raw HTTP, grouped submission, TEAL compilation."""
import base64
import json
import urllib.error
import urllib.request

from algosdk import transaction

WAIT = 10  # rounds for wait_for_confirmation (blocks are made per group, so 1 is enough)


def http(d, method, path, body=None, token="default", timeout=30):
    """(status, parsed JSON) of a raw request; `token=None` sends no token header."""
    headers = {}
    if token == "default":
        token = d.token
    if token is not None:
        headers["X-Algo-API-Token"] = token
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(d.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def send(d, txns, signers):
    """Group (if several), sign and submit; wait for confirmation; returns (txids, pending infos)."""
    if len(txns) > 1:
        transaction.assign_group_id(txns)
    signed = [t.sign(d.sk(s)) for t, s in zip(txns, signers)]
    d.client.send_transactions(signed)
    txids = [s.get_txid() for s in signed]
    return txids, [transaction.wait_for_confirmation(d.client, t, WAIT) for t in txids]


def compile_teal(d, src):
    return base64.b64decode(d.client.compile(src)["result"])
