# An example validator: a member's machine of its own that builds every deploy proposal for
# the fleet's hosts and attests on chain what each builds to, so that hosts switch only to a
# closure that k independent validators reproduced. It never switches anything itself.
# `nix flake check` evaluates it (checks.<system>.host-examples) and validates the agent's
# configuration files it generates.
{
  services.dao-governance = {
    enable = true;
    validator = {
      enable = true;
      # The validator's own account, in the app's validator set (`dao-agentctl validators`);
      # deployed outside the Nix store and handed to the unit as a systemd credential.
      keyFile = "/run/keys/dao-validator-key";
      # The hosts it builds for, as the app knows them (`dao-agentctl hosts`). Each is built
      # from the same flake output as its executor builds (by default
      # nixosConfigurations."<name>".config.system.build.toplevel).
      hosts = [
        {
          id = 1;
          name = "web-1";
        }
        {
          id = 2;
          name = "db-1";
        }
      ];
      # Also vote for a proposal when everything built and the checks passed, against when
      # not (the validator's account is a member).
      policy = "vote";
      buildTimeout = "3h";
    };
    algodTokenFile = "/run/keys/algod-token";

    settings = {
      chain = {
        algod_url = "https://testnet-api.example.org";
        app_id = 123456789;
        network = "testnet";
      };
      # The repository pinned in the app, and a mirror.
      source.allowed_remotes = [
        "https://git.example.org/fleet/infra.git"
        "https://mirror.example.org/fleet/infra.git"
      ];
    };
  };
}
