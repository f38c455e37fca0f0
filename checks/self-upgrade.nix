# A change to the agent itself: the executor applies it and reports it once, then hands over to
# the new agent (exit status 75, RestartForceExitStatus=), which does not hand over again.
{ config, ... }:
{
  name = "self-upgrade";
  imports = [ ./lib/fleet.nix ];

  fleet.hosts.host1.id = 1;
  fleet.commits.agent-upgrade.host1 = ./fleet/agent-upgrade.nix;

  testScript = config.fleet.helpers + ''
    start_fleet()
    MARKER = "/etc/dao-governance/executor-agent.json"

    def main_pid():
        return host1.succeed("systemctl show -P MainPID dao-executor.service").strip()

    def argv(pid):
        return host1.succeed(f"tr '\\0' '\\n' < /proc/{pid}/cmdline").split("\n")

    first_pid = main_pid()
    first_marker = json.loads(host1.succeed(f"cat {MARKER}"))
    assert first_marker["id"] in argv(first_pid), (first_marker, argv(first_pid))
    restarts = int(host1.succeed("systemctl show -P NRestarts dao-executor.service").strip())

    with subtest("the approved change to the agent is applied and reported once"):
        commit("agent-upgrade")
        proposal = propose("agent-upgrade", [1])
        approve(proposal)
        report = wait_for_report(proposal, "host1")
        assert_runs(host1, FLEET["toplevels"]["host1"]["agent-upgrade"])
        assert_report(report, host1, "applied")
        entries = [r for r in show(proposal)["reports"] if r["host"] == 1]
        assert len(entries) == 1 and entries[0]["amended"] is None, entries

    with subtest("then the executor hands over to the new agent, once"):
        marker = json.loads(host1.succeed(f"cat {MARKER}"))
        assert marker["id"] != first_marker["id"], marker
        assert "dao-agent-upgraded" in marker["agent"], marker
        host1.wait_until_succeeds(
            f"test \"$(systemctl show -P MainPID dao-executor.service)\" != {first_pid}"
            " && systemctl is-active dao-executor.service",
            timeout=300,
        )
        pid = main_pid()
        args = argv(pid)
        assert args[0] == marker["agent"], f"the executor runs {args[0]}, not {marker['agent']}"
        assert marker["id"] in args, args
        host1.succeed(f"grep -qz '^DAO_FLEET_AGENT=upgraded$' /proc/{pid}/environ")
        recorded = json.loads(
            host1.succeed("cat /var/lib/dao-governance/executor/self-upgrade.json")
        )
        assert recorded["proposal"] == proposal and recorded["to"] == marker["id"], recorded
        assert recorded["from"] == first_marker["id"], recorded
        host1.succeed(
            "journalctl -q -o cat -u dao-executor.service"
            f" | grep -F 'proposal {proposal} changed the agent' >/dev/null"
        )
        # Exactly one restart, by the exit status that asks for it; the new agent stays.
        after = int(host1.succeed("systemctl show -P NRestarts dao-executor.service").strip())
        assert after == restarts + 1, f"{after - restarts} restarts"
        host1.succeed(
            "journalctl -q -o cat -u dao-executor.service"
            " | grep -F 'running the agent proposal' >/dev/null"
        )
        assert main_pid() == pid, "the new agent restarted again"
        entries = [r for r in show(proposal)["reports"] if r["host"] == 1]
        assert len(entries) == 1, entries
  '';
}
