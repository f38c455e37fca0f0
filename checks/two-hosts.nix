# An executor host and a watcher-only host: a proposal for host1 switches host1 only; host2
# follows and verifies the same proposal without touching its system. Both units stay within
# their `systemd-analyze security` exposure bounds.
{ config, ... }:
{
  name = "two-hosts";
  imports = [ ./lib/fleet.nix ];

  fleet.hosts = {
    host1.id = 1;
    host2 = {
      id = 2;
      executor = false;
    };
  };
  fleet.commits.release-v2.host1 = ./fleet/release-v2.nix;

  testScript = config.fleet.helpers + ''
    start_fleet()
    host2_before = running(host2)

    with subtest("host2 runs the watcher only"):
        host2.succeed("systemctl is-active dao-watcher.service")
        host2.fail("systemctl cat dao-executor.service")
        # Unprivileged: a dynamic user, no capabilities.
        host2.succeed("test $(systemctl show -P DynamicUser dao-watcher.service) = yes")

    with subtest("a proposal for host1 switches host1"):
        commit("release-v2")
        proposal = propose("release-v2", [1])
        approve(proposal)
        assert_report(wait_for_report(proposal, "host1"), host1, "applied")
        assert_runs(host1, FLEET["toplevels"]["host1"]["release-v2"])
        host1.succeed("grep -qx v2 /etc/fleet/release")

    with subtest("host2 saw and verified it, and changed nothing"):
        host2.wait_until_succeeds(
            "journalctl -q -o cat -u dao-watcher.service | grep -F 'proposal verified' >/dev/null"
        )
        assert running(host2) == host2_before
        assert generation(host2) == 1
        host2.succeed("grep -qx genesis /etc/fleet/release")
        assert [r["host"] for r in show(proposal)["reports"]] == [1]

    with subtest("the units' exposure stays within its bounds"):
        # systemd-analyze security: 0 is fully sandboxed, 10 fully exposed. The executor is
        # root and keeps CAP_SYS_ADMIN to start the switch unit; the watcher has nothing.
        for machine, unit, bound in [
            (host2, "dao-watcher.service", 1.5),
            (host1, "dao-watcher.service", 1.5),
            (host1, "dao-executor.service", 2.5),
        ]:
            level = exposure(machine, unit)
            assert level <= bound, f"{machine.name}: {unit} is exposed {level}, above {bound}"
  '';
}
