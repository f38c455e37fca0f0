"""Ledger state the devnet must carry from block to block exactly as go-algorand does: local
state (also a creator's, on its own app), inner transactions, box deletion, app deletion, assets,
rekeying. Each group is evaluated afresh, so anything lost between evaluations shows up here."""
import base64

import pytest
from algosdk import logic, transaction
from algosdk.error import AlgodHTTPError

from helpers import WAIT, compile_teal, http, send

APP2 = """#pragma version 10
txn ApplicationID
bz ok
txn OnCompletion
int OptIn
==
bnz optin
txn OnCompletion
int DeleteApplication
==
bnz ok
txna ApplicationArgs 0
byte "pay"
==
bnz pay
txna ApplicationArgs 0
byte "mk"
==
bnz mk
txna ApplicationArgs 0
byte "del"
==
bnz del
err
optin:
txn Sender
byte "n"
int 42
app_local_put
b ok
pay:
itxn_begin
int pay
itxn_field TypeEnum
txn Sender
itxn_field Receiver
int 12345
itxn_field Amount
int 0
itxn_field Fee
itxn_submit
byte "paid"
log
b ok
mk:
byte "b"
int 10
box_create
pop
b ok
del:
byte "b"
box_del
pop
ok:
int 1
return
"""


@pytest.fixture(scope="module")
def app2(devnet):
    sp = devnet.client.suggested_params()
    create = transaction.ApplicationCreateTxn(
        devnet.addr("dev1"), sp, transaction.OnComplete.NoOpOC, compile_teal(devnet, APP2),
        compile_teal(devnet, "#pragma version 10\nint 1\n"), transaction.StateSchema(0, 0),
        transaction.StateSchema(1, 0), extra_pages=1)
    _, [info] = send(devnet, [create], ["dev1"])
    app_id = info["application-index"]
    addr = logic.get_application_address(app_id)
    send(devnet, [transaction.PaymentTxn(devnet.addr("dev1"), sp, addr, 1_000_000)], ["dev1"])
    return app_id, addr


def call(devnet, app_id, who, *args, fee=1000, boxes=(), on_complete=transaction.OnComplete.NoOpOC):
    sp = devnet.client.suggested_params()
    sp.fee, sp.flat_fee = fee, True
    txn = transaction.ApplicationCallTxn(devnet.addr(who), sp, app_id, on_complete, app_args=list(args),
                                         boxes=[(0, b) for b in boxes])
    return send(devnet, [txn], [who])[1][0]


def test_creator_opted_in_to_its_own_app_keeps_local_state(devnet, app2):
    app_id, _ = app2
    info = call(devnet, app_id, "dev1", on_complete=transaction.OnComplete.OptInOC)
    assert info["local-state-delta"] == [{"address": devnet.addr("dev1"), "delta": [
        {"key": base64.b64encode(b"n").decode(), "value": {"action": 2, "uint": 42}}]}]
    acct = devnet.client.account_info(devnet.addr("dev1"))
    local = [s for s in acct["apps-local-state"] if s["id"] == app_id]
    assert local == [{"id": app_id, "schema": {"num-uint": 1, "num-byte-slice": 0},
                      "key-value": [{"key": base64.b64encode(b"n").decode(),
                                     "value": {"type": 2, "bytes": "", "uint": 42}}]}]
    assert acct["apps-total-extra-pages"] >= 1
    one = devnet.client.account_application_info(devnet.addr("dev1"), app_id)
    assert one["app-local-state"] == local[0] and one["created-app"]["creator"] == devnet.addr("dev1")
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.account_application_info(devnet.addr("dev4"), app_id)
    assert e.value.code == 404
    # more groups evaluated afresh: the creator's combined params + local state row survives
    call(devnet, app_id, "dev2", b"mk", boxes=[b"b"])
    acct = devnet.client.account_info(devnet.addr("dev1"))
    assert [s["key-value"][0]["value"]["uint"] for s in acct["apps-local-state"] if s["id"] == app_id] == [42]
    assert devnet.client.application_info(app_id)["params"]["extra-program-pages"] == 1


def test_inner_payment(devnet, app2):
    app_id, addr = app2
    before_app = devnet.client.account_info(addr)["amount"]
    before_caller = devnet.client.account_info(devnet.addr("dev3"))["amount"]
    info = call(devnet, app_id, "dev3", b"pay", fee=2000)
    [inner] = info["inner-txns"]
    assert inner["txn"]["txn"]["type"] == "pay" and inner["txn"]["txn"]["amt"] == 12345
    assert inner["txn"]["txn"]["rcv"] == devnet.addr("dev3") and inner["txn"]["txn"]["snd"] == addr
    assert inner["pool-error"] == "" and "confirmed-round" not in inner
    assert base64.b64decode(info["logs"][0]) == b"paid"
    assert devnet.client.account_info(addr)["amount"] == before_app - 12345
    assert devnet.client.account_info(devnet.addr("dev3"))["amount"] == before_caller - 2000 + 12345
    block = devnet.client.block_info(info["confirmed-round"])["block"]
    assert block["txns"][0]["dt"]["itx"][0]["txn"]["amt"] == 12345


def test_box_create_and_delete(devnet, app2):
    app_id, addr = app2
    call(devnet, app_id, "dev2", b"mk", boxes=[b"b"])
    assert devnet.client.application_boxes(app_id)["boxes"] == [{"name": base64.b64encode(b"b").decode()}]
    assert base64.b64decode(devnet.client.application_box_by_name(app_id, b"b")["value"]) == bytes(10)
    assert devnet.client.account_info(addr)["total-boxes"] == 1
    call(devnet, app_id, "dev2", b"del", boxes=[b"b"])
    assert devnet.client.application_boxes(app_id)["boxes"] == []
    acct = devnet.client.account_info(addr)
    assert "total-boxes" not in acct and acct["min-balance"] == 100_000
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.application_box_by_name(app_id, b"b")
    assert e.value.code == 404


def test_assets_and_rekeying(devnet):
    sp = devnet.client.suggested_params()
    create = transaction.AssetConfigTxn(devnet.addr("dev1"), sp, total=1000, default_frozen=False, unit_name="VOTE",
                                        asset_name="Vote", manager=devnet.addr("dev1"), decimals=0, strict_empty_address_check=False)
    _, [info] = send(devnet, [create], ["dev1"])
    asset_id = info["asset-index"]
    asset = devnet.client.asset_info(asset_id)
    assert asset["index"] == asset_id and asset["params"]["total"] == 1000 and asset["params"]["unit-name"] == "VOTE"
    assert asset["params"]["creator"] == devnet.addr("dev1") and asset["params"]["manager"] == devnet.addr("dev1")
    send(devnet, [transaction.AssetOptInTxn(devnet.addr("dev2"), sp, asset_id)], ["dev2"])
    send(devnet, [transaction.AssetTransferTxn(devnet.addr("dev1"), sp, devnet.addr("dev2"), 7, asset_id)], ["dev1"])
    holding = [a for a in devnet.client.account_info(devnet.addr("dev2"))["assets"] if a["asset-id"] == asset_id]
    assert holding == [{"amount": 7, "asset-id": asset_id, "is-frozen": False}]
    one = devnet.client.account_asset_info(devnet.addr("dev2"), asset_id)
    assert one["asset-holding"] == holding[0] and "created-asset" not in one
    # rekey dev3 to dev4: dev4's key now authorizes dev3's payments, dev3's no longer does
    send(devnet, [transaction.PaymentTxn(devnet.addr("dev3"), sp, devnet.addr("dev3"), 0,
                                         rekey_to=devnet.addr("dev4"))], ["dev3"])
    assert devnet.client.account_info(devnet.addr("dev3"))["auth-addr"] == devnet.addr("dev4")
    pay = transaction.PaymentTxn(devnet.addr("dev3"), sp, devnet.addr("dev1"), 1)
    with pytest.raises(AlgodHTTPError):
        devnet.client.send_transaction(pay.sign(devnet.sk("dev3")))
    txid = devnet.client.send_transaction(pay.sign(devnet.sk("dev4")))
    assert transaction.wait_for_confirmation(devnet.client, txid, WAIT)["confirmed-round"] > 0


def test_app_deletion(devnet, app2):
    app_id, _ = app2
    created = devnet.client.account_info(devnet.addr("dev1"))["total-created-apps"]
    call(devnet, app_id, "dev1", on_complete=transaction.OnComplete.DeleteApplicationOC)
    with pytest.raises(AlgodHTTPError) as e:
        devnet.client.application_info(app_id)
    assert e.value.code == 404
    assert devnet.client.account_info(devnet.addr("dev1"))["total-created-apps"] == created - 1
    st, _ = http(devnet, "GET", f"/v2/applications/{app_id}/boxes")
    assert st == 404
