#!/usr/bin/env python3
"""Runs every case of nix/misconfigurations.nix against a nixpkgs tree and prints the message
each misconfiguration gets. Fails if a case is not refused at its stage with its phrase, or if
the correct host is refused.

    nix/misconfigurations.py TREE [DAO_AGENTCTL]

Cases of the `validate` stage need `dao-agentctl` (its validate-config refuses the generated
file); without it they are listed as skipped. Cases that need the validator role (`needs =
"validator"`) are skipped, with the reason printed, while the given dao-agentctl does not know
it yet: its validate-config then refuses the `[validator]` section itself, whatever is in it.
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
    if isinstance(v, dict):
        # An inline table: the validator's hosts are a list of tables.
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
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


# What a dao-agentctl that predates the validator role says of a validator's file.
UNKNOWN_VALIDATOR = ("unknown field `validator`", 'unknown role "validator"')


def knows_validator(agentctl, files):
    """Whether agentctl's validate-config knows the validator role, judged by what it says of
    the correct validator's files: (known, why not)."""
    _, messages = validate(agentctl, files)
    for m in messages:
        for phrase in UNKNOWN_VALIDATOR:
            if phrase in m:
                line = next(l for l in m.splitlines() if phrase in l)
                return False, f"{agentctl} does not know the validator role yet ({line.strip()})"
    return True, None


def run_case(tree, agentctl, name, case, unsupported):
    """Returns (status, message): status is ok, FAIL or skipped. `unsupported` maps what a
    case may need (`needs`) to why agentctl cannot check it, if it cannot."""
    stage, expect = case["stage"], case["expect"]
    if stage == "validate" and case.get("needs") in unsupported:
        return "skipped", unsupported[case["needs"]]
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
    return "FAIL", f"no {stage} contains {expect!r}; got {refusals}"


# What each unit must be handed as a credential, on a host with every secret set.
CREDENTIALS = {
    "watcher": ["algod-token"],
    "executor": ["account-key", "algod-token"],
    "validator": ["account-key", "algod-token"],
}


def check_credentials(tree, agentctl):
    """The generated files of a host with every secret set name no path to a secret (the agent
    reads the systemd credentials itself), each unit gets the credentials it reads, and
    validate-config accepts the files. Returns the number of failures."""
    r = nix_eval(tree, "credentials")
    if r.returncode != 0:
        print(f"FAIL the host with every secret set does not evaluate: {r.stderr.strip()}")
        return 1
    got = json.loads(r.stdout)
    failed = 0
    for role, text in sorted(got["files"].items()):
        settings = json.loads(text)
        paths = [k for k in ("/run/credentials", "/run/keys", "account-key", "algod-token") if k in text]
        named = [k for k in ("keys", "algod_token_file") if k in settings or k in settings.get("chain", {})]
        if paths or named:
            print(f"FAIL the {role}'s generated file names a secret: {paths + named}: {text}")
            failed += 1
        names = sorted(c.split(":", 1)[0] for c in got["loadCredential"][role])
        if names != CREDENTIALS[role]:
            print(f"FAIL dao-{role}.service gets the credentials {names}, not {CREDENTIALS[role]}")
            failed += 1
    if agentctl:
        ok, messages = validate(agentctl, list(got["files"].values()))
        if not ok:
            print(f"FAIL validate-config refuses the files without secret paths: {messages}")
            failed += 1
    if not failed:
        print("ok   no generated file names a secret; each unit gets its credentials"
              + ("; validate-config accepts them" if agentctl else ""))
    return failed


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
    for attr, what in [("validValidator", "assertion"), ("validValidatorWarnings", "warning")]:
        r = nix_eval(tree, attr)
        if r.returncode != 0 or json.loads(r.stdout) != []:
            print(f"FAIL the correct validator's machine gets a {what}: {r.stdout}{r.stderr}")
            failed += 1
        else:
            print(f"ok   the correct validator's machine evaluates with no {what}")
    unsupported = {}
    if agentctl:
        r = nix_eval(tree, "validFiles")
        ok, messages = validate(agentctl, json.loads(r.stdout)) if r.returncode == 0 else (False, [r.stderr])
        if ok:
            print("ok   validate-config accepts the correct host's files")
        else:
            print(f"FAIL validate-config refuses the correct host's files: {messages}")
            failed += 1
        r = nix_eval(tree, "validValidatorFiles")
        if r.returncode != 0:
            print(f"FAIL the correct validator's files do not evaluate: {r.stderr}")
            failed += 1
        else:
            files = json.loads(r.stdout)
            known, why = knows_validator(agentctl, files)
            ok, messages = validate(agentctl, files)
            if not known:
                unsupported["validator"] = why
                print(f"skipped validate-config of the correct validator's files: {why}")
            elif ok:
                print("ok   validate-config accepts the correct validator's files")
            else:
                print(f"FAIL validate-config refuses the correct validator's files: {messages}")
                failed += 1

    failed += check_credentials(tree, agentctl)

    r = nix_eval(tree, "stages")
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        return 1
    cases = json.loads(r.stdout)
    jobs = int(os.environ.get("CHECK_NIX_JOBS", "2"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = dict(
            zip(cases, pool.map(lambda n: run_case(tree, agentctl, n, cases[n], unsupported), cases))
        )

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
