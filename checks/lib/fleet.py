
# Helpers of the VM tests (checks/lib/fleet.py), after FLEET, HOSTS and VALIDATORS (from
# fleet.nix).
#
# The git node is the members' workstation: it holds the governed repository (/root/fleet,
# pushed to /srv/git/fleet.git, which nginx serves as https://git/fleet.git) and the members'
# keys, and runs dao-agentctl against the chain node's devnet. Members dev1 (weight 60), dev2
# (25) and dev3 (15); host N signs with devN+3; the validators' accounts come after the hosts'
# (FLEET["validators"]). A proposal dev1 votes for is decided at once: finalize queues it, and
# after the 10 s timelock (the app's floor) the targeted executors apply it.

import hashlib
import re
import shlex

DEVNET = "/var/lib/dao-devnet"
SECRETS = "/var/lib/dao-secrets"
CHAIN = "--spec /root/dao-spec.toml --algod-token-file /root/algod.token"
REPO = "/root/fleet"
MEMBERS = {"dev1": 60, "dev2": 25, "dev3": 15}
PROFILE = "/nix/var/nix/profiles/system"


def host_account(name: str) -> str:
    return f"dev{FLEET['hosts'][name]['id'] + 3}"


def validator_account(name: str) -> str:
    return FLEET["validators"][name]


def put(machine, path: str, content: str) -> None:
    """Writes a secret file (mode 0600) on a node."""
    machine.succeed(
        f"install -D -m 600 /dev/stdin {shlex.quote(path)} <<'EOF'\n{content}\nEOF"
    )


def repo(command: str) -> str:
    return git.succeed(f"cd {REPO} && {command}")


def push() -> None:
    repo("git push -q --all origin && git push -q --tags origin")
    # git-http-backend serves it as user git.
    git.succeed("chown -R git:git /srv/git")


def start_fleet() -> dict:
    """Boots every node, starts the devnet, forms the DAO, gives the hosts their secrets and
    waits for the agents, which systemd started at boot and restarts until they can run.

    Returns the devnet's accounts by name.
    """
    start_all()

    for name, machine in HOSTS.items():
        with subtest(f"{name} is installed like a real host"):
            # The installer (the disk image) made the system profile's generation 1 and
            # installed GRUB from it; the host booted it.
            assert generation(machine) == 1, f"{name}'s system profile is not at generation 1"
            booted = machine.succeed("readlink -f /run/booted-system").strip()
            assert machine.succeed(f"readlink -f {PROFILE}").strip() == booted
            machine.succeed("test -s /boot/grub/grub.cfg")
            # The agents' units start with the system, not by hand.
            machine.succeed("systemctl show -P WantedBy dao-watcher.service | grep -qw multi-user.target")
    for name, machine in VALIDATORS.items():
        with subtest(f"{name} starts its validator at boot"):
            machine.wait_for_unit("multi-user.target")
            machine.succeed("systemctl show -P WantedBy dao-validator.service | grep -qw multi-user.target")

    with subtest("the devnet is up"):
        chain.wait_for_unit("dao-devnet.service")
        chain.wait_until_succeeds(f"test -s {DEVNET}/algod.net")
        chain.wait_for_unit("dao-devnet-proxy.service")
        chain.wait_for_open_port(4001)
        token = chain.succeed(f"cat {DEVNET}/algod.token").strip()
        accounts = json.loads(chain.succeed(f"cat {DEVNET}/accounts.json"))

    with subtest("the governed repository is served"):
        git.succeed(
            "git config --global user.name 'Fleet admin'",
            "git config --global user.email admin@fleet.test",
            "git config --global init.defaultBranch main",
            "git config --global safe.directory '*'",
        )
        for path, source in FLEET["genesis"].items():
            git.succeed(f"install -D -m 644 {source} {REPO}/{path}")
        repo("git init -q && git add -A && git commit -qm genesis && git tag genesis")
        git.succeed(
            "git init -q --bare /srv/git/fleet.git",
            # libgit2 fetches the approved commits by id over protocol v0.
            "git -C /srv/git/fleet.git config uploadpack.allowReachableSHA1InWant true",
        )
        repo("git remote add origin /srv/git/fleet.git")
        push()
        git.wait_for_unit("nginx.service")
        git.wait_for_open_port(443)
        # Over HTTPS with the test CA, as the hosts will fetch it.
        git.succeed(f"git ls-remote {FLEET['repoUrl']} | grep -q refs/tags/genesis")

    with subtest("the members form the DAO"):
        put(git, "/root/algod.token", token)
        for member in MEMBERS:
            put(
                git,
                f"/root/keys/{member}.mnemonic",
                chain.succeed(f"cat {DEVNET}/accounts/{member}.mnemonic").strip(),
            )
        members = " ".join(f"--member {accounts[m]}={w}" for m, w in MEMBERS.items())
        hosts = " ".join(
            f"--host {h['id']}={accounts[host_account(n)]}" for n, h in FLEET["hosts"].items()
        )
        # The validator set and the attestation policy, when the test has validators (the
        # flags are not given otherwise: the tests without them form the app as before).
        validators = ""
        if VALIDATORS:
            validators = " ".join(f"--validator {accounts[validator_account(n)]}" for n in VALIDATORS)
            validators += (
                f" --attest-quorum {FLEET['attestation']['quorum']}"
                f" --attest-reward {FLEET['attestation']['reward']}"
            )
        formed = json.loads(
            repo(
                f"dao-agentctl form --repository {FLEET['repoUrl']} --genesis genesis "
                f"{members} {hosts} {validators} --rules {FLEET['rules']} --network devnet "
                "--algod http://chain:4001 --algod-token-file /root/algod.token "
                "--key /root/keys/dev1.mnemonic --out /root/dao-spec.toml --json"
            )
        )
        assert formed["app_id"] == FLEET["appId"], (
            f"the app is {formed['app_id']}, but the hosts' configuration follows "
            f"{FLEET['appId']} (checks/lib/fleet.nix: appId)"
        )

    if VALIDATORS and FLEET["attestation"]["reward"] > 0:
        with subtest("dev1 funds the treasury the validators' rewards are paid from"):
            # Enough for every validator's reward on a few proposals.
            amount = 10 * len(VALIDATORS) * FLEET["attestation"]["reward"]
            funded = int(
                chain.succeed(
                    f"{FLEET['python']} {FLEET['fund']} http://127.0.0.1:4002"
                    f" {DEVNET}/algod.token {FLEET['appId']} {DEVNET}/accounts/dev1.mnemonic {amount}"
                ).strip()
            )
            assert funded >= amount, f"the treasury holds {funded} µAlgo after a payment of {amount}"

    for name, machine in HOSTS.items():
        with subtest(f"the agents run on {name}"):
            # As an operator deploys them (agenix, sops-nix, by hand): root's files, mode 0600.
            put(machine, f"{SECRETS}/algod-token", token)
            if FLEET["hosts"][name]["executor"]:
                put(
                    machine,
                    f"{SECRETS}/account-key",
                    chain.succeed(
                        f"cat {DEVNET}/accounts/{host_account(name)}.mnemonic"
                    ).strip(),
                )
            # Type=notify: active once the agent is ready. Until now each attempt failed
            # (no credentials, no app) and systemd restarted it 10 s later.
            machine.wait_for_unit("dao-watcher.service")
            if FLEET["hosts"][name]["executor"]:
                machine.wait_for_unit("dao-executor.service")
                machine.succeed("dao-agentctl status")

    for name, machine in VALIDATORS.items():
        with subtest(f"the agents run on {name}"):
            key = chain.succeed(f"cat {DEVNET}/accounts/{validator_account(name)}.mnemonic").strip()
            put(machine, f"{SECRETS}/algod-token", token)
            put(machine, f"{SECRETS}/validator-key", key)
            # The same account's key on the members' workstation, to claim its rewards with.
            put(git, f"/root/keys/{name}.mnemonic", key)
            machine.wait_for_unit("dao-watcher.service")
            machine.wait_for_unit("dao-validator.service")

    return accounts


def commit(name: str, parent: str = "genesis") -> str:
    """Commits FLEET["commits"][name] on top of `parent`, pushes it, returns its id."""
    repo(f"git checkout -q -B {name} {parent}")
    for path, source in FLEET["commits"][name].items():
        repo(f"install -m 644 {source} {path}")
    repo(f"git commit -qam {name}")
    push()
    return repo("git rev-parse HEAD").strip()


def propose(head: str, targets: list, base: str = "genesis") -> int:
    """dev2 proposes deploying base..head to the host ids `targets`; returns the proposal id."""
    flags = " ".join(f"--target {t}" for t in targets)
    out = repo(
        f"dao-agentctl submit --base {base} --head {head} {flags} "
        f"--description http://git/fleet/{head} {CHAIN} --key /root/keys/dev2.mnemonic --json"
    )
    return json.loads(out)["id"]


def approve(proposal: int) -> None:
    """dev1 votes for (a decided majority), dev3 finalizes: the proposal is queued."""
    git.succeed(f"dao-agentctl vote {proposal} for {CHAIN} --key /root/keys/dev1.mnemonic")
    out = json.loads(
        git.succeed(
            f"dao-agentctl finalize {proposal} {CHAIN} --key /root/keys/dev3.mnemonic --json"
        )
    )
    assert out["state"] == "queued", f"proposal {proposal} was not approved: {out}"


def show(proposal: int) -> dict:
    return json.loads(git.succeed(f"dao-agentctl show {proposal} {CHAIN} --json"))


def wait_for_report(proposal: int, name: str, field: str = "report") -> dict:
    """Waits until host `name`'s report on `proposal` is on chain; returns it."""
    host_id = FLEET["hosts"][name]["id"]
    git.wait_until_succeeds(
        f"dao-agentctl show {proposal} {CHAIN} --json"
        f" | jq -e '.reports[] | select(.host == {host_id}) | .{field} != null'",
        timeout=1800,
    )
    entry = next(r for r in show(proposal)["reports"] if r["host"] == host_id)
    return entry[field]


def running(machine) -> str:
    return machine.succeed("readlink -f /run/current-system").strip()


def generation(machine) -> int:
    link = machine.succeed(f"readlink {PROFILE}").strip()
    return int(link.removeprefix("system-").removesuffix("-link"))


def assert_runs(machine, toplevel: str) -> None:
    current = running(machine)
    assert current == toplevel, f"{machine.name} runs {current}, expected {toplevel}"
    assert machine.succeed(f"readlink -f {PROFILE}").strip() == toplevel, (
        f"{machine.name}'s system profile does not point at {toplevel}"
    )


def assert_report(report: dict, machine, status: str) -> None:
    """The report names what the host runs now: its toplevel's hash and its generation."""
    assert report["status"] == status, f"reported {report['status']}, expected {status}"
    toplevel = running(machine)
    assert report["toplevel_sha256"] == hashlib.sha256(toplevel.encode()).hexdigest(), (
        f"the report's toplevel hash is not that of {toplevel}"
    )
    assert report["generation"] == generation(machine), (
        f"reported generation {report['generation']}, the profile is at {generation(machine)}"
    )


def exposure(machine, unit: str) -> float:
    """The unit's overall exposure level by `systemd-analyze security` (0 safe .. 10 exposed)."""
    out = machine.succeed(f"systemd-analyze security --no-pager {unit}")
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out)
    assert found, f"systemd-analyze security printed no exposure level for {unit}: {out}"
    return float(found.group(1))


# --- validators --------------------------------------------------------------------------------

# `dao-agentctl status --json` of an executor waiting for the validators' agreement
# (docs/validators.md): `awaiting_attestations` is `{proposal, reason}` while it waits.
AWAITING = ".awaiting_attestations.proposal != null"


def agent_status(machine) -> dict:
    return json.loads(machine.succeed("dao-agentctl status --json"))


def assert_waits(machine, proposal: int, toplevel: str) -> None:
    """`machine`'s executor waits for attestations on `proposal`, still runs `toplevel` and
    has reported nothing on it."""
    status = agent_status(machine)
    machine.succeed(f"dao-agentctl status --json | jq -e '{AWAITING}'")
    waiting = status.get("awaiting_attestations") or {}
    assert waiting.get("proposal") == proposal, f"{machine.name} is not waiting on proposal {proposal}: {status}"
    assert_runs(machine, toplevel)
    host_id = FLEET["hosts"][machine.name]["id"]
    reports = [r for r in show(proposal)["reports"] if r["host"] == host_id]
    assert reports == [], f"{machine.name} reported on proposal {proposal} while waiting: {reports}"


def attestations(proposal: int, name: str) -> list:
    """The attestations on `proposal` for host `name`, from `dao-agentctl attestations --json`
    (`{"hosts": [{"host_id", "agreed_closure", "attested": [{"validator", "outcome",
    "closure", "agrees"}]}]}`): one dict per validator with `validator`, `outcome`, `closure`
    and `agreed` (its closure is the one the quorum agreed on)."""
    out = json.loads(git.succeed(f"dao-agentctl attestations {proposal} {CHAIN} --json"))
    rows = out["hosts"]
    assert isinstance(rows, list), f"attestations --json: expected a list per host, got {out}"
    host_id = FLEET["hosts"][name]["id"]
    found = []
    for row in rows:
        if row["host_id"] != host_id:
            continue
        found += [{**a, "agreed": a["agrees"]} for a in row["attested"]]
    for a in found:
        missing = {"validator", "outcome", "closure", "agreed"} - set(a)
        assert not missing, f"attestations --json: an attestation without {sorted(missing)}: {a}"
    return found


def balance(address: str) -> int:
    """The account's balance in µAlgo, from the devnet's algod API."""
    out = chain.succeed(
        f'curl -sf -H "X-Algo-API-Token: $(cat {DEVNET}/algod.token)"'
        f" http://127.0.0.1:4002/v2/accounts/{address}"
    )
    return json.loads(out)["amount"]


def claim_reward(proposal: int, name: str) -> str:
    """The command with which validator `name` claims its reward for `proposal`."""
    return (
        f"dao-agentctl claim-reward {proposal} {CHAIN}"
        f" --key /root/keys/{name}.mnemonic --json"
    )
