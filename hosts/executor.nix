# An example host that applies approved changes: web-1, host 1 of the fleet's app on TestNet.
# Import it from the host's configuration, or copy it there and put in your own values.
# `nix flake check` evaluates it (checks.<system>.host-examples) and validates the agent's
# configuration files it generates.
{
  services.dao-governance = {
    enable = true;
    # The executor applies what the DAO approved for this host; the watcher (on by default)
    # keeps an independent, unprivileged audit trail of the chain in the journal.
    executor.enable = true;

    # Deployed outside the Nix store (agenix, sops-nix, or by hand with mode 0600); handed to
    # the units as systemd credentials.
    keyFile = "/run/keys/dao-account-key";
    algodTokenFile = "/run/keys/algod-token";

    # May run `dao-agentctl rollback`, `pause` and `resume` (root always may).
    operatorGroup = "dao-operators";

    settings = {
      chain = {
        algod_url = "https://testnet-api.example.org";
        app_id = 123456789;
        network = "testnet";
      };
      # The id given to this host at formation: dao-agentctl form --host 1=ADDRESS.
      host.id = 1;
      # The repository pinned in the app, and a mirror.
      source.allowed_remotes = [
        "https://git.example.org/fleet/infra.git"
        "https://mirror.example.org/fleet/infra.git"
      ];
      executor = {
        build_timeout = "1h30m";
        # After a switch these must be active within 90 s, or the host goes back to exactly
        # the generation it had.
        # The build fails if one of them is not a unit of this system.
        health.required_units = [
          "sshd.service"
          # "nginx.service" and the like: only units this host enables.
        ];
      };
    };
  };

  # Provides sshd.service, which the health check requires.
  services.openssh.enable = true;
}
