# The misconfigurations of the validator role tried so far (services.dao-governance.validator),
# part of ./misconfigurations.nix, which says how each case is run. Most run on a validator's
# machine (`validatorWith`, `onValidator`: the validator and the watcher, no executor); `dao`
# sets options on the correct executor host itself.
{
  dao,
  force,
  onValidator,
  validatorWith,
}:

let
  daoSettings = settings: dao { inherit settings; };

  # The options' shapes, shortened.
  host = id: name: { inherit id name; };
in
{
  validator-no-hosts = {
    stage = "assertion";
    expect = "services.dao-governance.validator.hosts is empty";
    config = validatorWith { hosts = force [ ]; };
  };
  validator-duplicate-id = {
    stage = "assertion";
    expect = "services.dao-governance.validator.hosts lists host id 1 more than once (web-1, web-2)";
    config = validatorWith {
      hosts = force [
        (host 1 "web-1")
        (host 1 "web-2")
      ];
    };
  };
  validator-duplicate-name = {
    stage = "assertion";
    expect = "services.dao-governance.validator.hosts lists the name \"web-1\" more than once (ids 1, 2)";
    config = validatorWith {
      hosts = force [
        (host 1 "web-1")
        (host 2 "web-1")
      ];
    };
  };
  validator-host-name-invalid = {
    stage = "type";
    expect = "services.dao-governance.validator.hosts.\"[definition 1-entry 1]\".name' is not of type `string matching the pattern";
    config = validatorWith {
      hosts = force [ (host 1 "web 1") ];
    };
  };
  validator-no-key = {
    stage = "assertion";
    expect = "services.dao-governance.validator.keyFile is not set";
    config = validatorWith { keyFile = force null; };
  };
  validator-key-in-store = {
    stage = "type";
    expect = "services.dao-governance.validator.keyFile' is not of type `null or absolute path not in the Nix store'";
    config = validatorWith {
      keyFile = force "${builtins.storeDir}/00000000000000000000000000000000-validator-key";
    };
  };
  validator-key-nix-path = {
    stage = "type";
    expect = "services.dao-governance.validator.keyFile' is not of type `null or absolute path not in the Nix store'";
    config = validatorWith { keyFile = force /run/keys/dao-validator-key; };
  };
  validator-key-is-host-key = {
    stage = "assertion";
    expect = "services.dao-governance.validator.keyFile is the host's own key";
    config = dao {
      validator = {
        enable = true;
        keyFile = "/run/keys/dao-account-key";
        hosts = [ (host 1 "web-1") ];
      };
    };
  };
  validator-bad-policy = {
    stage = "type";
    expect = "services.dao-governance.validator.policy' is not of type `one of \"attest\", \"vote\"'";
    config = validatorWith { policy = "approve"; };
  };
  validator-no-remotes = {
    stage = "assertion";
    expect = "services.dao-governance.validator needs settings.source.allowed_remotes";
    config = onValidator (daoSettings { source.allowed_remotes = force [ ]; });
  };
  validator-remote-ssh = {
    stage = "assertion";
    expect = "allowed_remotes has \"ssh://git@git.example.org/fleet/infra.git\": the agent fetches only over";
    config = onValidator (daoSettings {
      source.allowed_remotes = force [ "ssh://git@git.example.org/fleet/infra.git" ];
    });
  };
  validator-settings-section = {
    stage = "assertion";
    expect = "under services.dao-governance.validator\n(hosts, policy, checkCommand, the timeouts), not settings.validator";
    config = onValidator (daoSettings { validator.store = "/var/lib/dao-governance/store"; });
  };
  validator-without-nix = {
    stage = "assertion";
    expect = "services.dao-governance.validator builds the proposed configurations with Nix: it needs nix.enable = true";
    config = onValidator { nix.enable = false; };
  };
  validator-nix-user-refused = {
    stage = "assertion";
    expect = "nix.settings.allowed-users does not allow the validator's user \"dao-validator\"";
    config = onValidator { nix.settings.allowed-users = [ "@wheel" ]; };
  };
  validator-off-key = {
    stage = "assertion";
    expect = "services.dao-governance.validator.keyFile is set, but only the validator reads it";
    config = dao { validator.keyFile = "/run/keys/dao-validator-key"; };
  };
  validator-off-hosts = {
    stage = "assertion";
    expect = "services.dao-governance.validator.hosts is set, but only the validator reads it";
    config = dao {
      validator.hosts = [ (host 1 "web-1") ];
    };
  };
  validator-with-executor = {
    stage = "warning";
    expect = "services.dao-governance.validator runs on a host that also runs the executor";
    config = dao {
      validator = {
        enable = true;
        keyFile = "/run/keys/dao-validator-key";
        hosts = [ (host 1 "web-1") ];
      };
    };
  };
  # What only the agent's parser knows.
  validator-check-command-relative = {
    stage = "validate";
    needs = "validator";
    expect = "validator.check_command[0]";
    config = validatorWith {
      checkCommand = [
        "make"
        "check"
      ];
    };
  };
  validator-flake-output-invalid = {
    stage = "validate";
    needs = "validator";
    expect = "validator.hosts[0].flake_output";
    config = validatorWith {
      hosts = force [
        {
          id = 1;
          name = "web-1";
          flakeOutput = ".#web-1";
        }
      ];
    };
  };
  validator-timeout-zero = {
    stage = "validate";
    needs = "validator";
    expect = "validator.build_timeout";
    config = validatorWith { buildTimeout = "0s"; };
  };
}
