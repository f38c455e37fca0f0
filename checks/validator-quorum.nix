# Two validators, one host, attestation quorum k = 2. A reproducible change: host1 does not
# switch while fewer than two validators attested (it waits, awaiting_attestations, on the
# system it runs), then switches once both agree on the closure its own build has; a validator
# claims its reward, once. An unreproducible change (its toplevel records random bytes): the
# validators' closures differ, agreement is impossible, and host1 refuses it as
# not_reproducible without switching; no reward is paid for it.
{ config, ... }:
{
  name = "validator-quorum";
  imports = [ ./lib/fleet.nix ];

  fleet = {
    hosts.host1.id = 1;
    validators = [
      "validator1"
      "validator2"
    ];
    attestation = {
      quorum = 2;
      reward = 1000000;
    };
    commits = {
      release-v2.host1 = ./fleet/release-v2.nix;
      unreproducible.host1 = ./fleet/unreproducible.nix;
    };
    # Built by each machine itself, so that each build differs.
    unbuilt = [ "unreproducible" ];
  };

  # Three machines evaluate the governed flake for each proposal, one after another.
  globalTimeout = 2 * 3600;

  testScript = config.fleet.helpers + ''
    accounts = start_fleet()
    genesis = FLEET["toplevels"]["host1"]["genesis"]
    v2 = FLEET["toplevels"]["host1"]["release-v2"]
    address = {name: accounts[validator_account(name)] for name in VALIDATORS}
    reward = FLEET["attestation"]["reward"]

    with subtest("the app's validator set is the two validators"):
        listed = git.succeed(f"dao-agentctl validators {CHAIN} --json")
        for name, a in address.items():
            assert a in listed, f"{name} ({a}) is not in the validator set: {listed}"
        # A host's account is not a validator.
        assert accounts[host_account("host1")] not in listed, listed

    with subtest("the validators run unprivileged, in their sandbox"):
        for machine in VALIDATORS.values():
            machine.succeed("test $(systemctl show -P DynamicUser dao-validator.service) = yes")
            machine.succeed("test -z \"$(systemctl show -P CapabilityBoundingSet dao-validator.service)\"")
            # It builds through nix-daemon, as the dynamic user.
            machine.succeed("systemctl show -P Environment dao-validator.service | grep -qw NIX_REMOTE=daemon")
            # Unlike the watcher it may raise its stack limit and read /proc/stat (Nix
            # needs both), hence a little above the watcher's 1.5.
            level = exposure(machine, "dao-validator.service")
            assert level <= 2.0, f"{machine.name}: dao-validator.service is exposed {level}, above 2.0"

    with subtest("without attestations host1 builds the approved change and waits"):
        for machine in VALIDATORS.values():
            machine.succeed("systemctl stop dao-validator.service")
        commit("release-v2")
        proposal = propose("release-v2", [1])
        approve(proposal)
        host1.wait_until_succeeds(f"dao-agentctl status --json | jq -e '{AWAITING}'", timeout=1800)
        # Time enough to switch, were it allowed to.
        host1.sleep(30)
        assert_waits(host1, proposal, genesis)
        assert attestations(proposal, "host1") == []

    with subtest("one validator's attestation is not enough"):
        validator1.succeed("systemctl start dao-validator.service")
        validator1.wait_for_unit("dao-validator.service")

        def attested_by_validator1(_: bool) -> bool:
            return [a["validator"] for a in attestations(proposal, "host1")] == [address["validator1"]]

        retry(attested_by_validator1, timeout=1800)
        [first] = attestations(proposal, "host1")
        assert first["outcome"] == "built", first
        assert not first["agreed"], f"one attestation counted as an agreement of two: {first}"
        host1.sleep(30)
        assert_waits(host1, proposal, genesis)
        assert generation(host1) == 1

    with subtest("with the second validator's agreement host1 switches and reports it"):
        validator2.succeed("systemctl start dao-validator.service")
        report = wait_for_report(proposal, "host1")
        assert_report(report, host1, "applied")
        assert_runs(host1, v2)
        assert generation(host1) == 2
        host1.succeed("grep -qx v2 /etc/fleet/release")
        host1.wait_for_unit("fleet-hello.service")

    with subtest("two built attestations agree on one closure"):
        atts = attestations(proposal, "host1")
        assert sorted(a["validator"] for a in atts) == sorted(address.values()), atts
        assert all(a["outcome"] == "built" for a in atts), atts
        assert len({a["closure"] for a in atts}) == 1, f"the validators disagree: {atts}"
        assert all(a["agreed"] for a in atts), f"no agreement recorded: {atts}"

    with subtest("a validator claims its reward, once"):
        before = balance(address["validator1"])
        git.succeed(claim_reward(proposal, "validator1"))
        after = balance(address["validator1"])
        # The reward, less the claim's fee and the box that records it (well under 0.1 Algo).
        assert after - before >= reward - 100000, f"validator1 went from {before} to {after} µAlgo"
        git.fail(claim_reward(proposal, "validator1"))
        assert balance(address["validator1"]) == after, "a second claim changed the balance"

    with subtest("an unreproducible change: the validators' closures differ"):
        commit("unreproducible", parent="release-v2")
        unreproducible = propose("unreproducible", [1], base="release-v2")
        approve(unreproducible)

        def both_attested(_: bool) -> bool:
            return len(attestations(unreproducible, "host1")) == 2

        retry(both_attested, timeout=1800)
        atts = attestations(unreproducible, "host1")
        assert all(a["outcome"] == "built" for a in atts), atts
        assert len({a["closure"] for a in atts}) == 2, f"two random builds agreed: {atts}"
        assert not any(a["agreed"] for a in atts), atts

    with subtest("host1 refuses it as not reproducible and switches nothing"):
        report = wait_for_report(unreproducible, "host1")
        assert_report(report, host1, "not_reproducible")
        assert_runs(host1, v2)
        assert generation(host1) == 2
        host1.fail("test -e /run/current-system/fleet-build-id")
        host1.succeed("grep -qx v2 /etc/fleet/release")

    with subtest("no reward for an attestation nobody agreed with"):
        for name in VALIDATORS:
            before = balance(address[name])
            git.fail(claim_reward(unreproducible, name))
            assert balance(address[name]) == before, f"{name} was paid for a disagreement"
  '';
}
