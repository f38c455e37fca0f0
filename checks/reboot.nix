# After an approved deployment the host reboots: the boot loader's default entry is the
# approved generation, the host boots into it, and the agent, started at boot as its unit,
# reports nothing twice and deploys nothing again.
{ config, ... }:
{
  name = "reboot";
  imports = [ ./lib/fleet.nix ];

  fleet.hosts.host1.id = 1;
  fleet.commits.release-v2.host1 = ./fleet/release-v2.nix;

  testScript = config.fleet.helpers + ''
    start_fleet()
    approved = FLEET["toplevels"]["host1"]["release-v2"]

    with subtest("members approve release v2 and host1 switches to it"):
        commit("release-v2")
        proposal = propose("release-v2", [1])
        approve(proposal)
        report = wait_for_report(proposal, "host1")
        assert_report(report, host1, "applied")
        assert_runs(host1, approved)
        assert generation(host1) == 2

    with subtest("the switch installed the boot loader's menu for generation 2"):
        # switch-to-configuration ran GRUB's installer: its first (default) entry boots the
        # profile's current generation, and the menu lists both generations.
        first = host1.succeed("grep -m1 -o 'init=[^ ]*' /boot/grub/grub.cfg").strip()
        assert first == f"init={approved}/init", f"GRUB's default entry is {first}"
        host1.succeed("grep -F 'NixOS - Configuration 2 ' /boot/grub/grub.cfg")
        host1.succeed("grep -F 'NixOS - Configuration 1 ' /boot/grub/grub.cfg")

    with subtest("host1 reboots into the approved generation"):
        host1.shutdown()
        host1.start()
        host1.wait_for_unit("multi-user.target")
        booted = host1.succeed("readlink -f /run/booted-system").strip()
        assert booted == approved, f"host1 booted {booted}, not the approved {approved}"
        assert_runs(host1, approved)
        assert generation(host1) == 2
        host1.succeed("grep -qx v2 /etc/fleet/release")
        host1.wait_for_unit("fleet-hello.service")
        host1.wait_for_unit("fleet-web.service")

    with subtest("the agent resumes as its unit and reports nothing twice"):
        host1.wait_for_unit("dao-watcher.service")
        host1.wait_for_unit("dao-executor.service")
        status = json.loads(host1.succeed("dao-agentctl status --json"))
        assert status["last"]["proposal"] == proposal, status
        # Give it time to follow the chain again from its watermark.
        host1.sleep(15)
        entries = [r for r in show(proposal)["reports"] if r["host"] == 1]
        assert len(entries) == 1 and entries[0]["amended"] is None, entries
        assert_runs(host1, approved)
        assert generation(host1) == 2
  '';
}
