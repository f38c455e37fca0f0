# The governed repository's nixosConfigurations in the VM tests, imported by its flake.nix
# (written by ./fleet.nix). Inside the VMs the agent builds these: the fleet's own test nodes,
# evaluated as the test on the host evaluates them — same nixpkgs, same fleet.json, same node
# set — with the host modules of the repository's commit (hosts/<name>.nix). So each approved
# commit yields exactly the toplevel the test placed in the host's store.
{
  nixpkgs,
  repo,
}:

let
  fleet = builtins.fromJSON (builtins.readFile "${repo}/fleet.json");
  inherit (fleet) hosts;

  # As the flake's checks import it: no flake metadata, no configuration from the environment.
  pkgs = import nixpkgs {
    inherit (fleet) system;
    config = { };
    overlays = [ ];
  };
  inherit (pkgs) lib;

  test = pkgs.testers.runNixOSTest {
    imports = [ ./fleet.nix ];
    fleet.hosts = lib.mapAttrs (
      name: host: host // { module = "${repo}/hosts/${name}.nix"; }
    ) hosts;
    # The same node set as the test (the hosts' /etc/hosts names every node).
    fleet.validators = fleet.validators or [ ];
  };
in
lib.mapAttrs (name: _: { config = test.config.nodes.${name}; }) hosts
