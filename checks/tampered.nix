# A proposal whose diff hash does not match its commits (made with a client of the proposer's
# own, as dao-agentctl cannot lie) is approved: the executor refuses it, switches nothing and
# reports "refused". The same change proposed honestly is then applied.
{ config, ... }:
{
  name = "tampered";
  imports = [ ./lib/fleet.nix ];

  fleet.hosts.host1.id = 1;
  fleet.commits.release-v2.host1 = ./fleet/release-v2.nix;

  testScript = config.fleet.helpers + ''
    start_fleet()
    genesis = FLEET["toplevels"]["host1"]["genesis"]

    with subtest("an approved proposal with a wrong diff hash is refused"):
        head = commit("release-v2")
        base = repo("git rev-parse genesis").strip()
        tampered = int(
            chain.succeed(
                f"{FLEET['python']} {FLEET['tamper']} http://127.0.0.1:4002"
                f" {DEVNET}/algod.token {FLEET['appId']} {DEVNET}/accounts/dev2.mnemonic"
                f" {base} {head} 1"
            ).strip()
        )
        approve(tampered)
        report = wait_for_report(tampered, "host1")
        assert_report(report, host1, "refused")

    with subtest("nothing was switched"):
        assert_runs(host1, genesis)
        assert generation(host1) == 1
        host1.succeed("grep -qx genesis /etc/fleet/release")

    with subtest("the honest proposal of the same change is applied"):
        honest = propose("release-v2", [1])
        approve(honest)
        report = wait_for_report(honest, "host1")
        assert_runs(host1, FLEET["toplevels"]["host1"]["release-v2"])
        assert_report(report, host1, "applied")
        assert show(tampered)["reports"][0]["report"]["status"] == "refused"
  '';
}
