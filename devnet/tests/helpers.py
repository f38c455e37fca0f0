"""Helpers shared by the test modules: raw HTTP, grouped submission, TEAL compilation."""
import base64
import json
import urllib.error
import urllib.request

from algosdk import logic, transaction

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


# Creates a box named by its argument (8 bytes of value); enough to fill an app with boxes.
BOX_APP = """#pragma version 10
txn ApplicationID
bz ok
txna ApplicationArgs 0
int 8
box_create
assert
ok:
int 1
"""
CLEAR = "#pragma version 10\nint 1\n"


def box_app(d, boxes):
    """Creates an app, funds it and makes `boxes` boxes b0, b1, ...; returns (app id, txids of
    the funding group)."""
    sp = d.client.suggested_params()
    create = transaction.ApplicationCreateTxn(
        d.addr("dev1"), sp, transaction.OnComplete.NoOpOC, compile_teal(d, BOX_APP),
        compile_teal(d, CLEAR), transaction.StateSchema(0, 0), transaction.StateSchema(0, 0))
    _, [info] = send(d, [create], ["dev1"])
    app_id = info["application-index"]
    sp = d.client.suggested_params()
    fund = transaction.PaymentTxn(d.addr("dev1"), sp, logic.get_application_address(app_id), 1_000_000)
    calls = [transaction.ApplicationCallTxn(d.addr("dev1"), sp, app_id, transaction.OnComplete.NoOpOC,
                                            app_args=[f"b{i}".encode()], boxes=[(0, f"b{i}".encode())])
             for i in range(boxes)]
    txids, _ = send(d, [fund, *calls], ["dev1"] * (boxes + 1))
    return app_id, txids
