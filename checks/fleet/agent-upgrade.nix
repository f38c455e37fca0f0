# A change to the agent itself: the host's dao-agent package wrapped into a new store path, as
# a new release of the agent would be. The executor applies it, reports it, then exits with
# status 75 and its unit starts the new agent (checks/self-upgrade.nix).
{ options, pkgs, ... }:
let
  # The agent the host ran until now: the module's default package.
  running = options.services.dao-governance.package.default;
in
{
  environment.etc."fleet/release".text = "agent-upgrade\n";

  systemd.services.fleet-web = {
    description = "The fleet's web service";
    wantedBy = [ "multi-user.target" ];
    serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
  };

  services.dao-governance.package = pkgs.symlinkJoin {
    name = "dao-agent-upgraded";
    paths = [ running ];
    nativeBuildInputs = [ pkgs.makeWrapper ];
    # The environment marks the new agent's process; the program is the same binary.
    postBuild = "wrapProgram $out/bin/dao-agent --set DAO_FLEET_AGENT upgraded";
  };
}
