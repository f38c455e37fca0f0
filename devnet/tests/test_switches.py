"""The devnet's real-node switches (dao_devnet/switches.py): each one on, what algod would do."""
import base64
import json
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime

import pytest
from algosdk import logic, transaction
from algosdk.error import AlgodHTTPError

from helpers import box_app as make_box_app
from helpers import compile_teal, http, send

OFF = {"prune": None, "confirm_every_ms": None, "fail": None, "fee_per_byte": 0, "max_boxes": 0,
       "algod_errors": False}


def switch(d, **changes):
    st, body = http(d, "POST", "/devnet/switches", changes)
    assert st == 200, body
    return body


@pytest.fixture
def dn(devnet):
    """The module's devnet, every switch off again after the test."""
    switch(devnet, **OFF)
    yield devnet
    switch(devnet, **OFF)


def raw(d, path, token="default"):
    """(status, headers, body bytes) of a GET."""
    req = urllib.request.Request(d.url + path, headers={"X-Algo-API-Token": d.token if token == "default" else token})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def pay(d, sender="dev1", receiver="dev2", amount=1, fee=None, note=b""):
    sp = d.client.suggested_params()
    if fee is not None:
        sp.flat_fee, sp.fee = True, fee
    return transaction.PaymentTxn(d.addr(sender), sp, d.addr(receiver), amount, note=note).sign(d.sk(sender))


def test_switches_refuse_unknown_keys_and_bad_values(dn):
    for bad in ({"prun": 3}, {"prune": 0}, {"prune": -1}, {"fail": {"status": 500, "count": 1}},
                {"fail": {"status": 429}}, {"fail": {"status": 429, "count": 1, "every": 2}},
                {"fail": {"status": 429, "every": 0}}, {"algod_errors": 1}, {"fee_per_byte": None}):
        st, body = http(dn, "POST", "/devnet/switches", bad)
        assert st == 400 and body["message"], bad
    st, body = http(dn, "GET", "/devnet/switches")
    assert st == 200 and body["prune"] is None and body["fail"] is None and body["pending"] == 0


def test_prune_serves_only_the_last_rounds_with_algods_404(dn):
    for _ in range(4):
        http(dn, "POST", "/devnet/block")
    last = dn.client.status()["last-round"]
    switch(dn, prune=3)
    for r in (last, last - 2):
        assert http(dn, "GET", f"/v2/blocks/{r}")[0] == 200
        assert http(dn, "GET", f"/v2/blocks/{r}/logs")[0] == 200
    for path in (f"/v2/blocks/{last - 3}", f"/v2/blocks/{last - 3}/logs", f"/v2/blocks/{last - 3}/txids",
                 f"/v2/blocks/{last - 3}/hash", "/v2/blocks/1?header-only=true"):
        st, body = http(dn, "GET", path)
        assert (st, body) == (404, {"message": "failed to retrieve information from the ledger"}), path
    assert http(dn, "GET", "/devnet/switches")[1]["oldest-round"] == last - 2
    switch(dn, prune=None)
    assert http(dn, "GET", f"/v2/blocks/{last - 3}")[0] == 200


def test_asynchronous_confirmation_puts_several_groups_in_one_block(dn):
    switch(dn, confirm_every_ms=0)  # blocks only on demand
    before = dn.client.status()["last-round"]
    a, b = pay(dn, note=b"a"), pay(dn, "dev3", note=b"b")
    dn.client.send_transaction(a)
    dn.client.send_transaction(b)
    for t in (a, b):
        info = dn.client.pending_transaction_info(t.get_txid())
        assert info["pool-error"] == "" and "confirmed-round" not in info
    assert dn.client.status()["last-round"] == before
    # the pool refuses a duplicate and a group the ledger refuses, when they are sent
    with pytest.raises(AlgodHTTPError) as e:
        dn.client.send_transaction(a)
    assert e.value.code == 400 and "already in pool" in str(e.value)
    with pytest.raises(AlgodHTTPError) as e:
        dn.client.send_transaction(pay(dn, "dev4", amount=10**15))
    assert "overspend" in str(e.value)
    st, body = http(dn, "POST", "/devnet/block")
    rnd = body["round"]
    assert rnd == before + 1
    for t in (a, b):
        assert dn.client.pending_transaction_info(t.get_txid())["confirmed-round"] == rnd
    txids = http(dn, "GET", f"/v2/blocks/{rnd}/txids")[1]["blockTxids"]
    assert txids == [a.get_txid(), b.get_txid()]


def test_asynchronous_confirmation_on_a_timer(dn):
    switch(dn, confirm_every_ms=300)
    t = pay(dn, note=b"timer")
    before = dn.client.status()["last-round"]
    dn.client.send_transaction(t)
    # the module's devnet makes no empty blocks (algosdk's wait_for_confirmation waits for one
    # more block after the confirmation): wait for the pool's block itself
    assert dn.client.status_after_block(before)["last-round"] == before + 1
    assert dn.client.pending_transaction_info(t.get_txid())["confirmed-round"] == before + 1


def test_fail_count_refuses_the_next_requests_with_retry_after(dn):
    switch(dn, fail={"status": 429, "count": 2, "retry_after": 3})
    for _ in range(2):
        st, headers, body = raw(dn, "/v2/status")
        # algod's connection limiter answers 429 without a body; a provider adds Retry-After
        assert (st, body, headers.get("Retry-After")) == (429, b"", "3")
    assert raw(dn, "/v2/status")[0] == 200
    assert raw(dn, "/health")[0] == 200  # public paths are never refused
    assert http(dn, "GET", "/devnet/switches")[1]["refused"] == 2


def test_fail_every_nth_request_as_403_with_an_http_date(dn):
    switch(dn, fail={"status": 403, "every": 3, "retry_after": 30, "retry_after_date": True})
    seen = [raw(dn, "/v2/status") for _ in range(6)]
    assert [s[0] for s in seen] == [200, 200, 403, 200, 200, 403]
    when = parsedate_to_datetime(seen[2][1]["Retry-After"]).timestamp()
    assert 20 < when - time.time() <= 31
    assert json.loads(seen[2][2])["message"]


def test_fail_fraction_is_reproducible_by_seed(dn):
    def run():
        switch(dn, fail={"status": 429, "fraction": 0.5, "seed": 7})
        return [raw(dn, "/v2/status")[0] for _ in range(20)]
    first = run()
    assert first == run() and 429 in first and 200 in first


def test_congestion_fee_is_suggested_and_enforced_per_byte(dn):
    switch(dn, fee_per_byte=10)
    sp = dn.client.suggested_params()
    assert sp.fee == 10 and sp.min_fee == 1000
    cheap = pay(dn, fee=1000, note=b"cheap")
    with pytest.raises(AlgodHTTPError) as e:
        dn.client.send_transaction(cheap)
    length = len(base64.b64decode(__import__("algosdk").encoding.msgpack_encode(cheap)))
    assert e.value.code == 400
    assert f"TransactionPool.Remember: fee 1000 below threshold {10 * length} (10 per byte * {length} bytes)" in str(e.value)
    enough = pay(dn, fee=10 * length + 500, note=b"cheap")
    dn.client.send_transaction(enough)
    assert transaction.wait_for_confirmation(dn.client, enough.get_txid(), 5)["confirmed-round"] > 0


@pytest.fixture(scope="module")
def box_app(devnet):
    switch(devnet, **OFF)
    app_id, _ = make_box_app(devnet, 5)
    return app_id


def test_box_listing_limit_and_pages(dn, box_app):
    switch(dn, max_boxes=3)
    st, body = http(dn, "GET", f"/v2/applications/{box_app}/boxes")
    assert st == 400 and body["message"] == "Result limit exceeded"
    assert body["data"] == {"max-api-box-per-application": 3, "max": 0, "total-boxes": 5}
    names, nxt, pages = [], None, 0
    while True:
        q = "limit=2" + (f"&next={nxt}" if nxt else "")
        st, body = http(dn, "GET", f"/v2/applications/{box_app}/boxes?{q}")
        assert st == 200 and len(body["boxes"]) <= 2 and body["round"] > 0
        names += [base64.b64decode(b["name"]) for b in body["boxes"]]
        pages += 1
        nxt = body.get("next-token")
        if not nxt:
            break
    assert names == [f"b{i}".encode() for i in range(5)] and pages == 3
    # a page asked larger than algod's cap gets the cap
    st, body = http(dn, "GET", f"/v2/applications/{box_app}/boxes?limit=100")
    assert len(body["boxes"]) == 3 and body["next-token"]


def test_algod_errors_for_a_missing_apps_boxes_and_a_refused_groups_lookup(dn):
    assert http(dn, "GET", "/v2/applications/999999/boxes")[0] == 404
    refused = pay(dn, "dev4", amount=10**15)
    with pytest.raises(AlgodHTTPError):
        dn.client.send_transaction(refused)
    assert http(dn, "GET", f"/v2/transactions/pending/{refused.get_txid()}")[1]["pool-error"]
    switch(dn, algod_errors=True)
    assert http(dn, "GET", "/v2/applications/999999/boxes") == (200, {"boxes": []})
    assert http(dn, "GET", f"/v2/transactions/pending/{refused.get_txid()}")[0] == 404


def test_requests_are_counted_per_route(dn):
    before = http(dn, "GET", "/devnet/requests")[1]
    raw(dn, "/v2/status")
    raw(dn, "/v2/blocks/1/logs")
    raw(dn, "/v2/blocks/1/logs")
    raw(dn, "/health")  # public: not an API request a budget is about
    raw(dn, "/v2/nowhere")
    after = http(dn, "GET", "/devnet/requests")[1]
    grew = {k: v - before["routes"].get(k, 0) for k, v in after["routes"].items()
            if v != before["routes"].get(k, 0)}
    assert grew == {"GET /v2/status": 1, "GET /v2/blocks/*/logs": 2, "GET /v2/nowhere": 1}
    assert after["total"] - before["total"] == 4


# A global counter and one box "p" ++ itob(1), made by the first call.
COUNTER_APP = """#pragma version 10
txn ApplicationID
bnz call
byte "count"
int 1
app_global_put
int 1
return
call:
byte "p"
int 1
itob
concat
int 16
box_create
assert
int 1
"""


def test_replicate_copies_id_named_boxes_and_sets_the_counter(dn):
    sp = dn.client.suggested_params()
    create = transaction.ApplicationCreateTxn(
        dn.addr("dev1"), sp, transaction.OnComplete.NoOpOC, compile_teal(dn, COUNTER_APP),
        compile_teal(dn, "#pragma version 10\nint 1\n"), transaction.StateSchema(1, 0),
        transaction.StateSchema(0, 0))
    _, [info] = send(dn, [create], ["dev1"])
    app = info["application-index"]
    one = b"p" + (1).to_bytes(8, "big")
    fund = transaction.PaymentTxn(dn.addr("dev1"), sp, logic.get_application_address(app), 200_000)
    call = transaction.ApplicationCallTxn(dn.addr("dev1"), sp, app, transaction.OnComplete.NoOpOC,
                                          boxes=[(0, one)])
    send(dn, [fund, call], ["dev1", "dev1"])
    body = {"app_id": app, "template": 1, "first": 2, "last": 40, "prefixes": ["p"], "counter": "count"}
    st, out = http(dn, "POST", "/devnet/replicate", body)
    assert st == 200 and out["copies"] == 39, out
    st, boxes = http(dn, "GET", f"/v2/applications/{app}/boxes")
    names = sorted(base64.b64decode(b["name"]) for b in boxes["boxes"])
    assert names == [b"p" + i.to_bytes(8, "big") for i in range(1, 41)]
    st, v = http(dn, "GET", f"/v2/applications/{app}/box?name=b64:"
                 + base64.b64encode(b"p" + (40).to_bytes(8, "big")).decode())
    assert base64.b64decode(v["value"]) == bytes(16)
    st, a = http(dn, "GET", f"/v2/applications/{app}")
    assert [kv["value"]["uint"] for kv in a["params"]["global-state"]] == [40]
    # The app account paid for the boxes as box payments would have: still above its minimum,
    # and the app still runs.
    st, acct = http(dn, "GET", f"/v2/accounts/{logic.get_application_address(app)}")
    assert acct["total-boxes"] == 40 and acct["amount"] >= acct["min-balance"]
    sp = dn.client.suggested_params()
    send(dn, [transaction.PaymentTxn(dn.addr("dev1"), sp, logic.get_application_address(app), 1)], ["dev1"])
    # Nothing to copy from, or a bad request: refused, nothing changes.
    st, out = http(dn, "POST", "/devnet/replicate", {**body, "template": 99})
    assert st == 404 and "no box" in out["message"]
    st, out = http(dn, "POST", "/devnet/replicate", {**body, "first": 50, "last": 41})
    assert st == 400
