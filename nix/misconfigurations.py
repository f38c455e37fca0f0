#!/usr/bin/env python3
"""Runs every case of nix/misconfigurations.nix against a nixpkgs tree and prints the message
each misconfiguration gets. Fails if a case is not refused at its stage with its phrase, or if
the correct host is refused.

    nix/misconfigurations.py TREE [DAO_AGENTCTL]

Cases of the `validate` stage need `dao-agentctl` (its validate-config refuses the generated
file); without it they are listed as skipped.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FILE = os.path.join(HERE, "misconfigurations.nix")


def nix_eval(tree, attr):
    return subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", FILE,
         "--arg", "nixpkgs", tree, "-A", attr],
        capture_output=True, text=True,
    )


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise ValueError(f"no TOML for {v!r}")


def to_toml(table, prefix=""):
    """The subset of TOML the module's settings use: tables of scalars and lists."""
    lines, subtables = [], []
    for k, v in table.items():
        if isinstance(v, dict):
            subtables.append((k, v))
        else:
            lines.append(f"{k} = {toml_value(v)}")
    for k, v in subtables:
        name = f"{prefix}.{k}" if prefix else k
        lines.append(f"\n[{name}]")
        lines.append(to_toml(v, name))
    return "\n".join(lines)


def validate(agentctl, settings_json):
    """Runs validate-config on each generated file; returns (all_valid, messages)."""
    ok, out = True, []
    for text in settings_json:
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(to_toml(json.loads(text)) + "\n")
            path = f.name
        try:
            r = subprocess.run([agentctl, "validate-config", path], capture_output=True, text=True)
        finally:
            os.unlink(path)
        if r.returncode != 0:
            ok = False
        out.append((r.stdout + r.stderr).replace(path, "<file>").strip())
    return ok, out


def run_case(tree, agentctl, name, case):
    """Returns (status, message): status is ok, FAIL or skipped."""
    stage, expect = case["stage"], case["expect"]
    r = nix_eval(tree, f"run.{name}")
    if stage == "type":
        message = r.stderr.strip()
        if r.returncode != 0 and expect in message:
            return "ok", message
        return "FAIL", f"expected a type error containing {expect!r}, got: {message or r.stdout}"
    if r.returncode != 0:
        return "FAIL", f"evaluation failed: {r.stderr.strip()}"
    refusals = json.loads(r.stdout)["refusals"]
    if stage == "validate":
        if agentctl is None:
            return "skipped", "no dao-agentctl to run validate-config"
        all_valid, messages = validate(agentctl, refusals)
        found = [m for m in messages if expect in m]
        if not all_valid and found:
            return "ok", found[0]
        return "FAIL", f"validate-config did not say {expect!r}: {messages}"
    found = [m for m in refusals if expect in m]
    if found:
        return "ok", found[0]
    return "FAIL", f"no {stage} refusal contains {expect!r}; got {refusals}"


def main():
    tree = sys.argv[1]
    agentctl = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    failed = 0

    r = nix_eval(tree, "valid")
    if r.returncode != 0 or json.loads(r.stdout) != []:
        print(f"FAIL the correct host is refused: {r.stdout}{r.stderr}")
        failed += 1
    else:
        print("ok   the correct host evaluates with no failed assertion")
    if agentctl:
        r = nix_eval(tree, "validFiles")
        ok, messages = validate(agentctl, json.loads(r.stdout)) if r.returncode == 0 else (False, [r.stderr])
        if ok:
            print("ok   validate-config accepts the correct host's files")
        else:
            print(f"FAIL validate-config refuses the correct host's files: {messages}")
            failed += 1

    r = nix_eval(tree, "stages")
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        return 1
    cases = json.loads(r.stdout)
    jobs = int(os.environ.get("CHECK_NIX_JOBS", "2"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = dict(zip(cases, pool.map(lambda n: run_case(tree, agentctl, n, cases[n]), cases)))

    counts = {}
    for name in sorted(cases):
        status, message = results[name]
        counts[status] = counts.get(status, 0) + 1
        print(f"\n{status:<7} {name} ({cases[name]['stage']})")
        for line in message.splitlines()[:8]:
            print(f"        {line}")
        failed += status == "FAIL"
    print("\n" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" of {len(cases)} misconfigurations")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
