# An example host that only follows the chain: it re-verifies every proposal and vote with the
# agent's rules engine and logs each event with its verdict, unprivileged, signing nothing.
# `nix flake check` evaluates it (checks.<system>.host-examples).
{
  services.dao-governance = {
    enable = true;
    settings.chain = {
      algod_url = "https://testnet-api.example.org";
      app_id = 123456789;
      network = "testnet";
    };
  };
}
