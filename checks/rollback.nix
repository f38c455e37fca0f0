# A change that fails its health check is rolled back automatically to exactly the recorded
# generation. An approved change is then rolled back by root with `dao-agentctl rollback`,
# which pauses automatic deployment; an unprivileged user is refused, an operator may pause.
{ config, ... }:
{
  name = "rollback";
  imports = [ ./lib/fleet.nix ];

  fleet.hosts.host1.id = 1;
  fleet.commits = {
    without-web.host1 = ./fleet/without-web.nix;
    release-v2.host1 = ./fleet/release-v2.nix;
  };

  testScript = config.fleet.helpers + ''
    start_fleet()
    genesis = FLEET["toplevels"]["host1"]["genesis"]
    v2 = FLEET["toplevels"]["host1"]["release-v2"]

    with subtest("a change that fails the health check is rolled back"):
        commit("without-web")
        broken = propose("without-web", [1])
        approve(broken)
        report = wait_for_report(broken, "host1")
        assert_report(report, host1, "rolled_back")
        # Exactly the generation recorded before the switch, not merely "the one below".
        assert_runs(host1, genesis)
        assert generation(host1) == 1
        host1.wait_for_unit("fleet-web.service")
        host1.succeed("grep -qx genesis /etc/fleet/release")

    with subtest("a healthy change is applied after it"):
        commit("release-v2")
        good = propose("release-v2", [1])
        approve(good)
        assert_report(wait_for_report(good, "host1"), host1, "applied")
        assert_runs(host1, v2)

    with subtest("an unprivileged user cannot roll back, pause or resume"):
        host1.fail("su - mallory -c 'dao-agentctl rollback --reason test'")
        host1.fail("su - mallory -c 'dao-agentctl pause --reason test'")
        assert_runs(host1, v2)
        # Reading the status is for everyone.
        host1.succeed("su - mallory -c 'dao-agentctl status'")

    with subtest("an operator may pause and resume"):
        host1.succeed("su - alice -c 'dao-agentctl pause --reason maintenance'")
        assert json.loads(host1.succeed("dao-agentctl status --json"))["paused"] is not None
        host1.succeed("su - alice -c 'dao-agentctl resume'")
        assert json.loads(host1.succeed("dao-agentctl status --json"))["paused"] is None

    with subtest("root rolls back: the host returns to genesis and deployment pauses"):
        host1.succeed("dao-agentctl rollback --reason 'operator test'")
        assert_runs(host1, genesis)
        host1.wait_for_unit("fleet-web.service")
        status = json.loads(host1.succeed("dao-agentctl status --json"))
        assert status["paused"] is not None, status
        # The deployment's report on chain is amended to "rolled back".
        amended = wait_for_report(good, "host1", field="amended")
        assert_report(amended, host1, "rolled_back")
  '';
}
