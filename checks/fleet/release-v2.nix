# A visible change: a new /etc file content and a new service.
{ pkgs, ... }:
{
  environment.etc."fleet/release".text = "v2\n";

  systemd.services.fleet-web = {
    description = "The fleet's web service";
    wantedBy = [ "multi-user.target" ];
    serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
  };

  systemd.services.fleet-hello = {
    description = "Says hello once the fleet runs release v2";
    wantedBy = [ "multi-user.target" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = "${pkgs.coreutils}/bin/touch /run/fleet-hello";
    };
  };
}
