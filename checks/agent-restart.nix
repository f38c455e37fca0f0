# A change whose switch restarts the executor's own unit: the switch, in its own transient
# unit, completes; the restarted agent confirms it and the report is sent exactly once.
{ config, ... }:
{
  name = "agent-restart";
  imports = [ ./lib/fleet.nix ];

  fleet.hosts.host1.id = 1;
  fleet.commits.restarts-agent.host1 = ./fleet/restarts-agent.nix;

  testScript = config.fleet.helpers + ''
    start_fleet()
    first = host1.succeed("systemctl show -P InvocationID dao-executor.service").strip()

    with subtest("the approved change restarts the agent mid-switch"):
        commit("restarts-agent")
        proposal = propose("restarts-agent", [1])
        approve(proposal)
        report = wait_for_report(proposal, "host1")
        host1.wait_for_unit("dao-executor.service")
        second = host1.succeed("systemctl show -P InvocationID dao-executor.service").strip()
        assert second != first, "dao-executor.service was not restarted"
        host1.succeed("systemctl is-active fleet-restart-agent.service")

    with subtest("the switch completed and was reported once"):
        assert_runs(host1, FLEET["toplevels"]["host1"]["restarts-agent"])
        host1.succeed("grep -qx restarts-agent /etc/fleet/release")
        assert_report(report, host1, "applied")
        entries = [r for r in show(proposal)["reports"] if r["host"] == 1]
        assert len(entries) == 1 and entries[0]["amended"] is None, entries
        # The switch ran in a transient unit of its own, not in the agent's cgroup.
        host1.succeed(
            "journalctl -q -o cat -u 'dao-governance-switch-*' | grep -F 'activating the configuration' >/dev/null"
        )
  '';
}
