# Who maintains this code, in the form of nixpkgs' maintainers/maintainer-list.nix.
#
# The package's and the VM tests' meta.maintainers list these. The module's cannot: NixOS
# accepts there only members of lib.maintainers, and this project is not in nixpkgs; it
# keeps `meta.maintainers = [ ]` until it is.
{
  dao-governance = {
    name = "nixos-dao-governance maintainers";
    github = "nixos-dao-governance";
  };
}
