# A change whose switch restarts the executor's own unit while the switch is running, as a
# change to the agent itself would (the module sets restartIfChanged = false, so this is done
# by a unit the switch starts).
{ config, pkgs, ... }:
{
  environment.etc."fleet/release".text = "restarts-agent\n";

  systemd.services.fleet-web = {
    description = "The fleet's web service";
    wantedBy = [ "multi-user.target" ];
    serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
  };

  systemd.services.fleet-restart-agent = {
    description = "Restarts dao-executor.service during the switch";
    wantedBy = [ "multi-user.target" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      # --no-block: the executor waits for the switch to end before it stops, and the switch
      # waits for this unit.
      ExecStart = "${config.systemd.package}/bin/systemctl restart --no-block dao-executor.service";
    };
  };
}
