"""The devnet against algod's own API definition, for every endpoint the agent calls.

`devnet/oas2/algod.oas2.agent.json` is cut from go-algorand's daemon/algod/api/algod.oas2.json
(the commit is in its `source`) by devnet/oas2/extract.py. Every endpoint there is called in
every mode (each real-node switch on in turn) with good and bad input; the status code must be
one the definition declares for it, and a 200's body must match the declared schema: required
fields present, declared fields of the declared type (uint64 non-negative, `format: byte`
valid base64), and no field the definition does not declare. Where the devnet differs from
algod by default (switched off by `algod_errors`), the difference is listed in DEFAULT_DEVIATIONS
and checked to still be what it says.
"""
import base64
import binascii
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from algosdk import encoding, transaction

from conftest import Devnet
from helpers import box_app

SPEC = json.loads((Path(__file__).resolve().parents[1] / "oas2" / "algod.oas2.agent.json").read_text())
MISSING_APP = 987654321
OFF = {"prune": None, "confirm_every_ms": None, "fail": None, "fee_per_byte": 0, "max_boxes": 0,
       "algod_errors": False}
MODES = {
    "default": {},
    "algod_errors": {"algod_errors": True},
    "async": {"confirm_every_ms": 0, "algod_errors": True},
    "prune": {"prune": 2, "algod_errors": True},
    "congestion": {"fee_per_byte": 5, "algod_errors": True},
    "max_boxes": {"max_boxes": 2, "algod_errors": True},
}
# (method, spec path, status the devnet answers by default where algod's differs)
DEFAULT_DEVIATIONS = {("GET", "/v2/applications/{application-id}/boxes", 404)}


# ---------------------------------------------------------------------- schema checking
def resolve(schema):
    while "$ref" in schema:
        _, section, name = schema["$ref"].split("/")
        schema = SPEC[section][name]
        if section == "responses":
            schema = schema.get("schema", {})
    return schema


def conforms(schema, value, where="$"):
    """The list of ways `value` departs from `schema` (Swagger 2.0, as algod's file uses it)."""
    schema = resolve(schema)
    errors = []
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: required field {name!r} missing")
        props = schema.get("properties")
        for name, v in value.items():
            if props is None:
                continue  # a free object (e.g. the block, x-algorand-format)
            if name not in props:
                errors.append(f"{where}: field {name!r} is not in the definition")
            else:
                errors += conforms(props[name], v, f"{where}.{name}")
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not an array"]
        for i, v in enumerate(value):
            errors += conforms(schema.get("items", {}), v, f"{where}[{i}]")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: {value!r} is not an integer"]
        unsigned = schema.get("format") == "uint64" or "uint64" in schema.get("x-go-type", "") \
            or schema.get("x-go-type", "").startswith("basics.")
        if unsigned and not 0 <= value < 2**64:
            errors.append(f"{where}: {value} is not a uint64")
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{where}: {value!r} is not a boolean")
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{where}: {value!r} is not a string"]
        if schema.get("format") == "byte":
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                errors.append(f"{where}: {value[:40]!r} is not base64")
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: {value!r} not in {schema['enum']}")
    return errors


def declared(method, path):
    return SPEC["paths"][path][method.lower()]["responses"]


def test_the_checker_finds_departures():
    """The checker is only worth its verdicts if it fails on a wrong body."""
    status = {"$ref": "#/responses/NodeStatusResponse"}
    good = {"catchup-time": 0, "last-round": 5, "last-version": "v", "next-version": "v",
            "next-version-round": 6, "next-version-supported": True, "stopped-at-unsupported-round": False,
            "time-since-last-round": 1}
    assert conforms(status, good) == []
    assert any("missing" in e for e in conforms(status, {k: v for k, v in good.items() if k != "last-round"}))
    assert any("not an integer" in e for e in conforms(status, {**good, "last-round": "5"}))
    assert any("not a uint64" in e for e in conforms(status, {**good, "last-round": -1}))
    assert any("not in the definition" in e for e in conforms(status, {**good, "invented": 1}))
    box = {"$ref": "#/responses/BoxResponse"}
    assert any("not base64" in e for e in conforms(box, {"round": 1, "name": "***", "value": ""}))


# ---------------------------------------------------------------------- calls
class Api:
    def __init__(self, d):
        self.d = d

    def call(self, method, path, query="", body=None):
        req = urllib.request.Request(self.d.url + path + (f"?{query}" if query else ""), data=body,
                                     method=method, headers={"X-Algo-API-Token": self.d.token})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def world():
    d = Devnet("--block-interval", "0", "--accounts", "4")
    try:
        app_id, txids = box_app(d, 3)
        yield d, app_id, txids[-1]
    finally:
        d.cleanup()


def signed_payment(d, note, fee=None):
    sp = d.client.suggested_params()
    if fee is not None:
        sp.flat_fee, sp.fee = True, fee
    s = transaction.PaymentTxn(d.addr("dev1"), sp, d.addr("dev2"), 1, note=note).sign(d.sk("dev1"))
    return s, base64.b64decode(encoding.msgpack_encode(s))


def cases(d, app_id, confirmed_txid, mode):
    """(method, spec path, concrete path, query, body) of every call, good and bad input."""
    last = d.client.status()["last-round"]
    addr = d.addr("dev1")
    note = f"conformance {mode}".encode()
    fee = None if mode != "congestion" else 1000  # underpays under congestion: algod's 400
    stx, raw = signed_payment(d, note, fee)
    box = "b64:" + base64.b64encode(b"b0").decode()
    a, ab = "/v2/applications/{application-id}", "/v2/applications/{application-id}/box"
    return [
        ("GET", "/v2/status", "/v2/status", "", None),
        ("GET", "/v2/status/wait-for-block-after/{round}", f"/v2/status/wait-for-block-after/{last - 1}", "", None),
        ("GET", "/v2/status/wait-for-block-after/{round}", "/v2/status/wait-for-block-after/x", "", None),
        ("GET", "/v2/blocks/{round}", f"/v2/blocks/{last}", "", None),
        ("GET", "/v2/blocks/{round}", f"/v2/blocks/{last}", "header-only=true", None),
        ("GET", "/v2/blocks/{round}", "/v2/blocks/1", "header-only=true", None),
        ("GET", "/v2/blocks/{round}", f"/v2/blocks/{last + 1000}", "", None),
        ("GET", "/v2/blocks/{round}", "/v2/blocks/x", "", None),
        ("GET", "/v2/blocks/{round}/logs", f"/v2/blocks/{last}/logs", "", None),
        ("GET", "/v2/blocks/{round}/logs", f"/v2/blocks/{last + 1000}/logs", "", None),
        ("GET", a, f"/v2/applications/{app_id}", "", None),
        ("GET", a, f"/v2/applications/{MISSING_APP}", "", None),
        ("GET", a, "/v2/applications/x", "", None),
        ("GET", a + "/boxes", f"/v2/applications/{app_id}/boxes", "", None),
        ("GET", a + "/boxes", f"/v2/applications/{app_id}/boxes", "limit=2", None),
        ("GET", a + "/boxes", f"/v2/applications/{app_id}/boxes", "limit=1&next=" + box + "&include=values", None),
        ("GET", a + "/boxes", f"/v2/applications/{MISSING_APP}/boxes", "", None),
        ("GET", ab, f"/v2/applications/{app_id}/box", "name=" + box, None),
        ("GET", ab, f"/v2/applications/{app_id}/box", "name=str:none", None),
        ("GET", ab, f"/v2/applications/{app_id}/box", "", None),
        ("GET", "/v2/accounts/{address}", f"/v2/accounts/{addr}", "", None),
        ("GET", "/v2/accounts/{address}", f"/v2/accounts/{addr}", "exclude=all", None),
        ("GET", "/v2/accounts/{address}", "/v2/accounts/NOTANADDRESS", "", None),
        ("GET", "/v2/transactions/params", "/v2/transactions/params", "", None),
        ("POST", "/v2/transactions", "/v2/transactions", "", raw),
        ("POST", "/v2/transactions", "/v2/transactions", "", b"\x81\xa3bad\x01"),
        ("GET", "/v2/transactions/pending/{txid}", f"/v2/transactions/pending/{stx.get_txid()}", "", None),
        ("GET", "/v2/transactions/pending/{txid}", f"/v2/transactions/pending/{confirmed_txid}", "", None),
        ("GET", "/v2/transactions/pending/{txid}", "/v2/transactions/pending/" + "A" * 52, "", None),
        ("GET", "/v2/transactions/pending/{txid}", "/v2/transactions/pending/x", "", None),
    ]


@pytest.mark.parametrize("mode", list(MODES))
def test_every_endpoint_the_agent_uses_answers_as_algods_definition_says(world, mode):
    d, app_id, confirmed_txid = world
    api = Api(d)
    assert api.call("POST", "/devnet/switches", body=json.dumps({**OFF, **MODES[mode]}).encode())[0] == 200
    if mode == "prune":
        for _ in range(3):
            api.call("POST", "/devnet/block")
    problems, seen = [], set()
    try:
        for method, spec_path, path, query, body in cases(d, app_id, confirmed_txid, mode):
            status, headers, raw = api.call(method, path, query, body)
            seen.add((method, spec_path))
            responses = declared(method, spec_path)
            what = f"[{mode}] {method} {path}{'?' + query if query else ''} -> {status}"
            if (method, spec_path, status) in DEFAULT_DEVIATIONS and mode == "default":
                continue
            if str(status) not in responses:
                problems.append(f"{what}: status not declared ({sorted(responses)})")
                continue
            if status == 200 and headers.get("Content-Type", "").startswith("application/json"):
                schema = responses["200"].get("schema") or responses["200"]
                problems += [f"{what}: {e}" for e in conforms(schema, json.loads(raw))]
            elif status != 200:
                problems += [f"{what}: {e}" for e in conforms({"$ref": "#/definitions/ErrorResponse"}, json.loads(raw))]
    finally:
        api.call("POST", "/devnet/switches", body=json.dumps(OFF).encode())
        api.call("POST", "/devnet/block")  # empties the pool of the async mode
    assert seen == {(m.upper(), p) for p, ops in SPEC["paths"].items() for m in ops}
    assert problems == []


def test_the_default_deviations_are_still_what_they_say(world):
    d, _, _ = world
    for method, spec_path, status in DEFAULT_DEVIATIONS:
        path = spec_path.replace("{application-id}", str(MISSING_APP))
        assert Api(d).call(method, path)[0] == status
        assert str(status) not in declared(method, spec_path)


def test_rate_limited_answers_of_every_endpoint(world):
    """algod's connection limiter answers 429 before any handler (it is not in the definition):
    every endpoint then gives 429 without a body, with the provider's Retry-After."""
    d, app_id, _ = world
    api = Api(d)
    calls = cases(d, app_id, "A" * 52, "rate")
    api.call("POST", "/devnet/switches", body=json.dumps({"fail": {"status": 429, "every": 1, "retry_after": 4}}).encode())
    try:
        for method, spec_path, path, query, body in calls:
            status, headers, raw = api.call(method, path, query, body)
            assert (status, raw, headers.get("Retry-After")) == (429, b"", "4"), f"{method} {path}"
    finally:
        api.call("POST", "/devnet/switches", body=json.dumps(OFF).encode())
