# The governed part of every host at the genesis commit of the VM tests' repository
# (hosts/<name>.nix). Each file in this folder is a whole host module: a commit replaces it.
{ pkgs, ... }:
{
  environment.etc."fleet/release".text = "genesis\n";

  # The service the agent's health check requires (executor.health.required_units).
  systemd.services.fleet-web = {
    description = "The fleet's web service";
    wantedBy = [ "multi-user.target" ];
    serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
  };
}
