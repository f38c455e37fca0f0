"""The devnet as a client sees it: algosdk's AlgodClient for everything it supports, raw HTTP for
the rest (block logs, the test-only /devnet endpoints, wrong tokens)."""
import base64
import json
import os
import signal
import stat
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import msgpack
import pytest
from algosdk import account, encoding, logic, mnemonic, transaction
from algosdk.error import AlgodHTTPError

from conftest import RUN
from helpers import WAIT, compile_teal, http, send

APPROVAL = """#pragma version 10
txn ApplicationID
bz create
txna ApplicationArgs 0
byte "put"
==
bnz put
txna ApplicationArgs 0
byte "fail"
==
bnz fail
txna ApplicationArgs 0
byte "time"
==
bnz time
err
put:
byte "counter"
byte "counter"
app_global_get
int 1
+
app_global_put
byte "box1"
txna ApplicationArgs 1
box_put
byte "hello "
txna ApplicationArgs 1
concat
log
int 1
return
fail:
byte "counter"
app_global_get
int 100
>
assert
int 1
return
time:
byte "ts"
global LatestTimestamp
app_global_put
byte "round"
global Round
app_global_put
global LatestTimestamp
itob
log
int 1
return
create:
byte "owner"
txn Sender
app_global_put
int 1
return
"""
CLEAR = "#pragma version 10\nint 1\n"
GLOBAL_SCHEMA = transaction.StateSchema(num_uints=3, num_byte_slices=1)
LOCAL_SCHEMA = transaction.StateSchema(0, 0)


@pytest.fixture(scope="module")
def app(devnet):
    """The test app, created by dev1, its account funded with the base minimum balance."""
    sp = devnet.client.suggested_params()
    create = transaction.ApplicationCreateTxn(
        devnet.addr("dev1"), sp, transaction.OnComplete.NoOpOC, compile_teal(devnet, APPROVAL),
        compile_teal(devnet, CLEAR), GLOBAL_SCHEMA, LOCAL_SCHEMA)
    _, [info] = send(devnet, [create], ["dev1"])
    app_id = info["application-index"]
    return app_id, logic.get_application_address(app_id)


def put(devnet, app, value, who="dev2", fund=200_000):
    app_id, app_addr = app
    sp = devnet.client.suggested_params()
    txns = [transaction.PaymentTxn(devnet.addr(who), sp, app_addr, fund),
            transaction.ApplicationCallTxn(devnet.addr(who), sp, app_id, transaction.OnComplete.NoOpOC,
                                           app_args=[b"put", value], boxes=[(0, b"box1")])]
    return send(devnet, txns, [who, who])


def global_state(devnet, app_id):
    gs = devnet.client.application_info(app_id)["params"].get("global-state", [])
    return {base64.b64decode(kv["key"]): kv["value"] for kv in gs}


# ---------------------------------------------------------------------- basics
def test_status_and_suggested_params(devnet):
    st = devnet.client.status()
    assert st["last-round"] >= 1
    for field in ("catchup-time", "last-version", "next-version", "next-version-round", "next-version-supported",
                  "stopped-at-unsupported-round", "time-since-last-round"):
        assert field in st
    sp = devnet.client.suggested_params()
    assert sp.gen == "algojig"
    assert len(base64.b64decode(sp.gh)) == 32
    assert sp.first == st["last-round"] and sp.last == sp.first + 1000
    assert sp.min_fee == 1000
    assert devnet.client.health() == {}


def test_payment_between_dev_accounts(devnet):
    a, b = devnet.addr("dev1"), devnet.addr("dev2")
    before_a = devnet.client.account_info(a)["amount"]
    before_b = devnet.client.account_info(b)["amount"]
    sp = devnet.client.suggested_params()
    txn = transaction.PaymentTxn(a, sp, b, 1_234_567)
    txid = devnet.client.send_transaction(txn.sign(devnet.sk("dev1")))
    info = transaction.wait_for_confirmation(devnet.client, txid, WAIT)
    assert info["confirmed-round"] == devnet.client.status()["last-round"]
    assert info["pool-error"] == ""
    assert info["txn"]["txn"]["snd"] == a and info["txn"]["txn"]["rcv"] == b and info["txn"]["txn"]["amt"] == 1_234_567
    after_a = devnet.client.account_info(a)
    assert after_a["amount"] == before_a - 1_234_567 - txn.fee
    assert devnet.client.account_info(b)["amount"] == before_b + 1_234_567
    assert after_a["min-balance"] >= 100_000 and after_a["status"] == "Offline"
    assert after_a["round"] == info["confirmed-round"]


def test_duplicate_and_expired_transactions_are_refused(devnet):
    sp = devnet.client.suggested_params()
    signed = transaction.PaymentTxn(devnet.addr("dev1"), sp, devnet.addr("dev3"), 1).sign(devnet.sk("dev1"))
    devnet.client.send_transaction(signed)
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.send_transaction(signed)
    assert e.value.code == 400 and f"transaction already in ledger: {signed.get_txid()}" in str(e.value)
    # first-valid in the future: the evaluator runs at the devnet's real round and refuses it
    sp.first, sp.last = sp.first + 10, sp.first + 20
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.send_transaction(
            transaction.PaymentTxn(devnet.addr("dev1"), sp, devnet.addr("dev3"), 1).sign(devnet.sk("dev1")))
    assert "txn dead" in str(e.value)


def test_bad_signature_and_overspend_are_refused(devnet):
    sp = devnet.client.suggested_params()
    forged = transaction.PaymentTxn(devnet.addr("dev1"), sp, devnet.addr("dev2"), 5).sign(devnet.sk("dev2"))
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.send_transaction(forged)
    assert "should have been authorized by" in str(e.value)
    too_much = transaction.PaymentTxn(devnet.addr("dev3"), sp, devnet.addr("dev2"), 10**15)
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.send_transaction(too_much.sign(devnet.sk("dev3")))
    assert "overspend" in str(e.value)


# ---------------------------------------------------------------------- applications and boxes
def test_app_create_call_state_and_boxes(devnet, app):
    app_id, app_addr = app
    assert app_id >= 1000
    info = devnet.client.application_info(app_id)
    assert info["id"] == app_id
    params = info["params"]
    assert params["creator"] == devnet.addr("dev1")
    assert base64.b64decode(params["approval-program"]) == compile_teal(devnet, APPROVAL)
    assert base64.b64decode(params["clear-state-program"]) == compile_teal(devnet, CLEAR)
    assert params["global-state-schema"] == {"num-uint": 3, "num-byte-slice": 1}
    assert params["local-state-schema"] == {"num-uint": 0, "num-byte-slice": 0}
    owner = global_state(devnet, app_id)[b"owner"]
    assert owner["type"] == 1 and base64.b64decode(owner["bytes"]) == encoding.decode_address(devnet.addr("dev1"))

    (pay_id, call_id), (pay_info, call_info) = put(devnet, app, b"world")
    assert pay_info["confirmed-round"] == call_info["confirmed-round"]
    assert [base64.b64decode(x) for x in call_info["logs"]] == [b"hello world"]
    delta = {base64.b64decode(kv["key"]): kv["value"] for kv in call_info["global-state-delta"]}
    assert delta == {b"counter": {"action": 2, "uint": 1}}
    assert "application-index" not in call_info  # only for app creation, as algod

    gs = global_state(devnet, app_id)
    assert gs[b"counter"] == {"type": 2, "bytes": "", "uint": 1}
    boxes = devnet.client.application_boxes(app_id)
    assert boxes == {"boxes": [{"name": base64.b64encode(b"box1").decode()}]}
    box = devnet.client.application_box_by_name(app_id, b"box1")
    assert base64.b64decode(box["name"]) == b"box1" and base64.b64decode(box["value"]) == b"world"
    assert box["round"] == devnet.client.status()["last-round"]

    # minimum balances as go-algorand computes them
    creator = devnet.client.account_info(devnet.addr("dev1"))
    assert creator["total-created-apps"] >= 1
    assert creator["apps-total-schema"]["num-uint"] >= 3
    app_acct = devnet.client.account_info(app_addr)
    assert app_acct["total-boxes"] == 1 and app_acct["total-box-bytes"] == len(b"box1") + len(b"world")
    assert app_acct["min-balance"] == 100_000 + 2_500 + 400 * (4 + 5)


def test_box_name_encodings_and_not_found(devnet, app):
    app_id, _ = app
    put(devnet, app, b"again")
    st, body = http(devnet, "GET", f"/v2/applications/{app_id}/box?name=str:box1")
    assert st == 200 and base64.b64decode(body["value"]) == b"again"
    st, body = http(devnet, "GET", f"/v2/applications/{app_id}/box?name=str:nope")
    assert (st, body) == (404, {"message": "box not found"})
    st, body = http(devnet, "GET", "/v2/applications/999999/box?name=str:box1")
    assert st == 404
    st, body = http(devnet, "GET", "/v2/applications/999999")
    assert (st, body) == (404, {"message": "application does not exist"})
    st, body = http(devnet, "GET", f"/v2/applications/{app_id}/boxes?include=values&limit=5")
    assert st == 200 and body["boxes"][0]["value"] == base64.b64encode(b"again").decode() and "round" in body


def test_logic_rejection_names_the_reason_and_changes_nothing(devnet, app):
    app_id, app_addr = app
    before = (global_state(devnet, app_id), devnet.client.status()["last-round"],
              devnet.client.account_info(devnet.addr("dev2"))["amount"],
              devnet.client.account_info(app_addr)["amount"])
    sp = devnet.client.suggested_params()
    txns = [transaction.PaymentTxn(devnet.addr("dev2"), sp, app_addr, 50_000),
            transaction.ApplicationCallTxn(devnet.addr("dev2"), sp, app_id, transaction.OnComplete.NoOpOC,
                                           app_args=[b"fail"])]
    transaction.assign_group_id(txns)
    signed = [t.sign(devnet.sk("dev2")) for t in txns]
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.send_transactions(signed)
    msg = str(e.value)
    assert e.value.code == 400
    assert msg.startswith("TransactionPool.Remember: transaction ")
    assert "logic eval error: assert failed pc=" in msg
    assert signed[1].get_txid() in msg
    after = (global_state(devnet, app_id), devnet.client.status()["last-round"],
             devnet.client.account_info(devnet.addr("dev2"))["amount"],
             devnet.client.account_info(app_addr)["amount"])
    assert after == before
    # the rejected transaction is reported with its pool error
    pending = devnet.client.pending_transaction_info(signed[1].get_txid())
    assert "assert failed" in pending["pool-error"] and "confirmed-round" not in pending
    with pytest.raises(Exception) as e:
        transaction.wait_for_confirmation(devnet.client, signed[1].get_txid(), WAIT)
    assert "assert failed" in str(e.value)


def test_unknown_transaction_is_404(devnet):
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.pending_transaction_info("A" * 52)
    assert e.value.code == 404


# ---------------------------------------------------------------------- blocks and time
def test_block_json_carries_timestamp_round_and_logs(devnet, app):
    (_, call_id), (_, call_info) = put(devnet, app, b"block")
    rnd = call_info["confirmed-round"]
    block = devnet.client.block_info(rnd)["block"]
    assert block["rnd"] == rnd
    prev = devnet.client.block_info(rnd - 1)["block"]
    assert block["ts"] > prev["ts"]
    assert [t["dt"]["lg"] for t in block["txns"] if "dt" in t and "lg" in t["dt"]] == [["hello block"]]
    assert block["txns"][0]["txn"]["snd"] == devnet.addr("dev2")
    raw = msgpack.unpackb(devnet.client.block_info(rnd, response_format="msgpack"), raw=False,
                        strict_map_key=False)
    assert raw["block"]["rnd"] == rnd and raw["block"]["txns"][1]["dt"]["lg"] == ["hello block"]
    st, logs = http(devnet, "GET", f"/v2/blocks/{rnd}/logs")
    assert st == 200
    assert logs == {"logs": [{"txId": call_id, "application-index": app[0],
                              "logs": [base64.b64encode(b"hello block").decode()]}]}
    st, txids = http(devnet, "GET", f"/v2/blocks/{rnd}/txids")
    assert txids["blockTxids"][1] == call_id
    st, body = http(devnet, "GET", f"/v2/blocks/{rnd + 1000}")
    assert st == 404 and "message" in body
    st, body = http(devnet, "GET", "/v2/blocks/abc")
    assert st == 400


def test_advance_moves_block_time_and_latest_timestamp(devnet, app):
    app_id, _ = app
    last = devnet.client.status()["last-round"]
    ts_before = devnet.client.block_info(last)["block"]["ts"]
    st, body = http(devnet, "POST", "/devnet/advance", {"seconds": 7 * 86400})
    assert st == 200 and body["round"] == last + 1 and body["timestamp"] == ts_before + 7 * 86400
    assert devnet.client.block_info(last + 1)["block"]["ts"] == ts_before + 7 * 86400
    assert devnet.client.block_info(last + 1)["block"].get("txns") is None
    sp = devnet.client.suggested_params()
    call = transaction.ApplicationCallTxn(devnet.addr("dev3"), sp, app_id, transaction.OnComplete.NoOpOC,
                                          app_args=[b"time"])
    _, [info] = send(devnet, [call], ["dev3"])
    gs = global_state(devnet, app_id)
    # global LatestTimestamp is the previous block's timestamp, global Round the block's own round
    assert gs[b"ts"]["uint"] == ts_before + 7 * 86400
    assert gs[b"round"]["uint"] == info["confirmed-round"] == last + 2
    assert int.from_bytes(base64.b64decode(info["logs"][0]), "big") == ts_before + 7 * 86400
    assert devnet.client.block_info(last + 2)["block"]["ts"] >= ts_before + 7 * 86400 + 1
    for bad in ({"seconds": 0}, {"seconds": "1"}, {}, b"not json"):
        st, _ = http(devnet, "POST", "/devnet/advance", bad)
        assert st == 400


def test_wait_for_block_after_returns_after_the_next_block(devnet):
    last = devnet.client.status()["last-round"]
    result = {}

    def wait():
        t0 = time.monotonic()
        result["status"] = devnet.client.status_after_block(last)
        result["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    time.sleep(0.7)
    assert t.is_alive(), "wait-for-block-after returned before a new block existed"
    sp = devnet.client.suggested_params()
    devnet.client.send_transaction(
        transaction.PaymentTxn(devnet.addr("dev1"), sp, devnet.addr("dev4"), 10).sign(devnet.sk("dev1")))
    t.join(10)
    assert not t.is_alive()
    assert result["status"]["last-round"] == last + 1 and result["elapsed"] >= 0.7
    # a round already passed returns at once
    t0 = time.monotonic()
    assert devnet.client.status_after_block(last - 1)["last-round"] >= last
    assert time.monotonic() - t0 < 2


def test_empty_block_timer_advances_rounds(start_devnet):
    d = start_devnet("--block-interval", "400ms", "--accounts", "1", "--timestamp-start", "1700000000")
    r0 = d.client.status()["last-round"]
    deadline = time.monotonic() + 10
    while d.client.status()["last-round"] < r0 + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    r1 = d.client.status()["last-round"]
    assert r1 >= r0 + 3
    stamps = [d.client.block_info(r)["block"]["ts"] for r in range(0, r1 + 1)]
    assert stamps[0] >= 1700000000 and stamps[0] < 1700000000 + 60
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    assert all(not d.client.block_info(r)["block"].get("txns") for r in range(1, r1 + 1))


# ---------------------------------------------------------------------- access, files, lifecycle
def test_wrong_or_missing_token_is_401(devnet):
    assert http(devnet, "GET", "/v2/status", token="0" * 64) == (401, {"message": "Invalid API Token"})
    assert http(devnet, "GET", "/v2/status", token=None)[0] == 401
    assert http(devnet, "POST", "/devnet/advance", {"seconds": 5}, token="nope")[0] == 401
    assert http(devnet, "GET", "/health", token=None)[0] == 200
    from algosdk.v2client import algod
    with pytest.raises(AlgodHTTPError) as e:
        algod.AlgodClient("x" * 64, devnet.url).status()
    assert e.value.code == 401


def test_state_dir_files_and_modes(devnet):
    sd = devnet.state_dir
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(sd / "algod.token") == 0o600
    assert mode(sd / "accounts") == 0o700
    names = json.loads((sd / "accounts.json").read_text())
    assert sorted(names) == ["dev1", "dev2", "dev3", "dev4"]
    for name, address in names.items():
        f = sd / "accounts" / f"{name}.mnemonic"
        assert mode(f) == 0o600
        words = f.read_text().split()
        assert len(words) == 25
        assert encoding.is_valid_address(address)
        assert account.address_from_private_key(mnemonic.to_private_key(" ".join(words))) == address
        assert " ".join(words) not in (sd / "accounts.json").read_text()
    assert (sd / "algod.net").read_text().strip() == devnet.url.removeprefix("http://")
    assert devnet.url.startswith("http://127.0.0.1:")
    assert int((sd / "pid").read_text()) == devnet.proc.pid == devnet.ready["pid"]
    assert devnet.client.account_info(names["dev4"])["amount"] >= 10**12 - 10**6


def test_listens_on_loopback_only(devnet):
    port = int(devnet.url.rsplit(":", 1)[1])
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    listening = [r[1] for r in rows if r[3] == "0A" and int(r[1].split(":")[1], 16) == port]
    assert listening == ["0100007F:%04X" % port]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_refuses_a_non_loopback_host(host):
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([str(RUN), "--host", host, "--port", "0", "--state-dir", os.path.join(tmp, "s")],
                           capture_output=True, timeout=60)
        assert r.returncode != 0
        assert b"refusing to listen" in r.stderr
        assert r.stdout == b""
        assert not os.path.exists(os.path.join(tmp, "s", "algod.net"))


def test_sigterm_stops_cleanly_and_keys_survive_a_restart(start_devnet):
    d = start_devnet("--block-interval", "0", "--accounts", "2")
    state_dir, first = d.state_dir, dict(d.addresses)
    # a long poll in flight must not hold the shutdown up
    waiter = threading.Thread(target=lambda: http(d, "GET", "/v2/status/wait-for-block-after/1000000", timeout=90),
                              daemon=True)
    waiter.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(15) == 0
    assert time.monotonic() - t0 < 10
    assert not (state_dir / "pid").exists() and not (state_dir / "algod.net").exists()
    assert (state_dir / "algod.token").exists()
    again = start_devnet("--block-interval", "0", "--accounts", "2", state_dir=state_dir)
    assert again.addresses == first
    assert again.client.account_info(first["dev1"])["amount"] == 10**12


def test_teal_compile_and_unknown_routes(devnet):
    result = devnet.client.compile(CLEAR)
    assert base64.b64decode(result["result"]) == bytes.fromhex("0a8101")
    assert result["hash"] == logic.address(bytes.fromhex("0a8101"))
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.compile("#pragma version 10\nnot_an_op\n")
    assert e.value.code == 400
    assert http(devnet, "GET", "/v2/nothing-here")[0] == 404
    st, body = http(devnet, "POST", "/v2/transactions", b"\x00garbage")
    assert st == 400 and "message" in body


def test_parallel_submissions_each_get_a_block(devnet):
    start = devnet.client.status()["last-round"]
    sp = devnet.client.suggested_params()
    signed = [transaction.PaymentTxn(devnet.addr("dev1"), sp, devnet.addr("dev2"), 100 + i).sign(devnet.sk("dev1"))
              for i in range(4)]
    errors = []

    def submit(s):
        try:
            devnet.client.send_transaction(s)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=submit, args=(s,)) for s in signed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    rounds = sorted(devnet.client.pending_transaction_info(s.get_txid())["confirmed-round"] for s in signed)
    assert rounds == list(range(start + 1, start + 5))


def test_overlapping_lease_is_refused(devnet):
    sp = devnet.client.suggested_params()
    lease = b"L" * 32
    first = transaction.PaymentTxn(devnet.addr("dev2"), sp, devnet.addr("dev1"), 1, lease=lease)
    second = transaction.PaymentTxn(devnet.addr("dev2"), sp, devnet.addr("dev1"), 2, lease=lease)
    transaction.wait_for_confirmation(devnet.client, devnet.client.send_transaction(first.sign(devnet.sk("dev2"))), WAIT)
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.send_transaction(second.sign(devnet.sk("dev2")))
    assert "using an overlapping lease" in str(e.value)


def test_box_listing_limit_and_msgpack_pending(devnet, app):
    app_id, _ = app
    st, body = http(devnet, "GET", f"/v2/applications/{app_id}/boxes?max=1")
    assert st == 200 and len(body["boxes"]) == 1
    (_, call_id), _ = put(devnet, app, b"mpack")
    raw = devnet.client.pending_transaction_info(call_id, response_format="msgpack")
    info = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    assert info["logs"] == [b"hello mpack"] and info["pool-error"] == "" and info["confirmed-round"] > 0
