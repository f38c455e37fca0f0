# Members approve a visible change (an /etc file, a new service) for host1; its executor
# fetches, verifies, builds and switches to exactly the approved toplevel, and reports it.
{ config, ... }:
{
  name = "approve-and-switch";
  imports = [ ./lib/fleet.nix ];

  fleet.hosts.host1.id = 1;
  fleet.commits.release-v2.host1 = ./fleet/release-v2.nix;

  testScript = config.fleet.helpers + ''
    start_fleet()
    genesis = FLEET["toplevels"]["host1"]["genesis"]
    approved = FLEET["toplevels"]["host1"]["release-v2"]

    with subtest("the host runs genesis"):
        assert_runs(host1, genesis)
        host1.succeed("grep -qx genesis /etc/fleet/release")
        host1.fail("systemctl cat fleet-hello.service")

    with subtest("members propose and approve release v2 for host1"):
        commit("release-v2")
        proposal = propose("release-v2", [1])
        assert show(proposal)["state"] == "active"
        approve(proposal)

    with subtest("host1 switches to exactly the approved toplevel and reports it"):
        report = wait_for_report(proposal, "host1")
        assert_runs(host1, approved)
        assert generation(host1) == 2
        assert_report(report, host1, "applied")

    with subtest("the change is live"):
        host1.succeed("grep -qx v2 /etc/fleet/release")
        host1.wait_for_unit("fleet-hello.service")
        host1.succeed("test -e /run/fleet-hello")
        host1.wait_for_unit("fleet-web.service")

    with subtest("the agent shows the deployment"):
        status = json.loads(host1.succeed("dao-agentctl status --json"))
        assert status["last"]["proposal"] == proposal, status
        host1.succeed(f"dao-agentctl deployments --json | jq -e '.[0].proposal == {proposal}'")
        # The watcher followed the same events, unprivileged, on its own.
        host1.succeed("journalctl -q -o cat -u dao-watcher.service | grep -F 'proposal verified' >/dev/null")
  '';
}
