# Release v2 with a build that differs on every machine: the toplevel itself records random
# bytes and the time of its build. It is the only derivation that changes from release-v2, so
# each machine builds just it (checks/lib/fleet.nix: fleet.unbuilt), and no two builds have
# the same NAR hash although they have the same store path.
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

  # An internal option, but the plainest way to make the toplevel's own build unreproducible
  # (stdenvNoCC's coreutils run it).
  system.systemBuilderCommands = ''
    { head -c 32 /dev/urandom | od -An -tx1; date +%s%N; } > $out/fleet-build-id
  '';
}
