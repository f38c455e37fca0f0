"""The committed bytecode, error map and ARC-56 spec are exactly what the sources assemble to,
and the spec and the router agree on every method."""
import base64
import hashlib
import json
import re
import subprocess
import sys

from algosdk import abi, encoding

from harness import APP_BIN, CONTRACTS, ERRORS, SPEC

TEAL = (CONTRACTS / "app.teal").read_text()


def test_committed_bytecode_matches_source():
    out = subprocess.run([sys.executable, str(CONTRACTS / "build.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    print(out.stdout)


def test_program_hash_is_recorded():
    hashes = json.loads((CONTRACTS / "build" / "hashes.json").read_text())
    digest = hashlib.new("sha512_256", b"Program" + APP_BIN).digest()
    assert hashes["approval"]["address"] == encoding.encode_address(digest)
    assert base64.b64decode(SPEC["byteCode"]["approval"]) == APP_BIN


def spec_signatures():
    return {f"{m['name']}({','.join(a['type'] for a in m['args'])}){m['returns']['type']}" for m in SPEC["methods"]}


def test_router_and_spec_have_the_same_methods():
    # methods are snake_case, ARC-28 events (also logged with `method`) CamelCase
    routed = set(re.findall(r'^\s*method "([a-z][^"]*)"\s*$', TEAL, re.M))
    routed_selectors = {abi.Method.from_signature(s).get_selector() for s in routed}
    spec_selectors = {abi.Method.from_signature(s).get_selector() for s in spec_signatures()}
    assert routed_selectors == spec_selectors
    assert len(routed) == len(SPEC["methods"]) == 40


def test_events_in_teal_are_in_spec():
    logged = set(re.findall(r'^\s*method "([A-Z]\w*\([^"]*\))"\s*$', TEAL, re.M))
    spec = {f"{e['name']}({','.join(a['type'] for a in e['args'])})" for e in SPEC["events"]}
    assert logged == spec
    for m in SPEC["methods"]:
        for e in m["events"]:
            assert f"{e['name']}({','.join(a['type'] for a in e['args'])})" in spec


def test_readonly_flags_and_create():
    for m in SPEC["methods"]:
        assert m["readonly"] == m["name"].startswith("get_"), m["name"]
        assert m["actions"] == ({"create": ["NoOp"], "call": []} if m["name"] == "create"
                                else {"create": [], "call": ["NoOp"]})
    assert SPEC["bareActions"] == {"create": [], "call": []}


def test_error_map_is_in_the_spec_and_covers_the_rules_codes():
    info = {pc: e["errorMessage"] for e in SPEC["sourceInfo"]["approval"]["sourceInfo"] for pc in e["pc"]}
    assert info == ERRORS
    rules_codes = set(re.findall(r"— `([a-z_]+)`", (CONTRACTS.parent / "docs" / "governance-rules.md").read_text()))
    rules_codes.add("total_weight_too_large")
    # The engine's one code the app cannot meet: the app has one propose method per kind, so a
    # payload of the wrong kind cannot even be encoded.
    engine_only = {"payload_mismatch"}
    assert engine_only <= rules_codes, "the rules doc no longer names the engine-only codes"
    assert rules_codes - engine_only <= set(ERRORS.values()), rules_codes - engine_only - set(ERRORS.values())
    # one code per failing line: every ERR comment sits on an assert or err
    for line in TEAL.split("\n"):
        if re.search(r"//\s*ERR:[a-z_]+\s*$", line):
            assert line.split("//")[0].strip() in ("assert", "err"), line


def test_every_error_code_is_exercised():
    """Each code of the error map appears in a test or in the scenario vectors."""
    corpus = "".join(p.read_text() for p in (CONTRACTS / "tests").glob("test_*.py"))
    corpus += (CONTRACTS / "tests" / "vectors_local.json").read_text()
    corpus += (CONTRACTS / "vectors" / "governance.json").read_text()
    missing = {c for c in set(ERRORS.values()) if f'"{c}"' not in corpus}
    assert not missing, missing
