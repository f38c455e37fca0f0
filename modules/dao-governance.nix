# services.dao-governance: the nixos-dao-governance agent on a NixOS host.
#
# Three roles, each its own unit, each with its own configuration file generated from `settings`:
#   dao-watcher.service    follows the governance app and re-verifies every proposal; unprivileged
#                          (DynamicUser), no key, no bus name, the full sandbox.
#   dao-executor.service   applies approved proposals to this host; root, Type=notify, owns the
#                          D-Bus name io.github.nixos_dao_governance.Agent1, and runs
#                          switch-to-configuration in a transient unit of its own
#                          (./dao-governance/executor.nix).
#   dao-validator.service  builds every open deploy proposal for the hosts it is configured for
#                          and attests the result on chain; never activates anything,
#                          unprivileged, builds through nix-daemon (./dao-governance/validator.nix).
# The files' format is docs/configuration.md; `dao-agentctl validate-config` checks each at
# build time. Secrets reach the units only as systemd credentials (LoadCredential=).
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    literalExpression
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    types
    ;

  common = import ./dao-governance/common.nix { inherit config lib pkgs; };
  inherit (common)
    algodTokenCredential
    cfg
    commonHardening
    configFile
    remoteSchemes
    secretAssertions
    secretPath
    settingsFormat
    stateDir
    stateDirName
    unprivilegedHardening
    unsupportedRemotes
    withoutNulls
    ;

  # `pkgs.dao-agent` where an overlay provides it (this flake's overlays.default), else the
  # agent built from this repository with the host's pkgs.
  packageScope = {
    dao-agent = pkgs.callPackage ../nix/package.nix { };
  }
  // lib.optionalAttrs (pkgs ? dao-agent) { inherit (pkgs) dao-agent; };

  # The chain options every role needs; null until set, so that a missing section gets an
  # assertion that says what to write rather than an undefined-option error.
  missingChain = lib.filter (k: cfg.settings.chain.${k} == null) [
    "algod_url"
    "app_id"
    "network"
  ];

  # The watcher needs the chain and nothing about deploying.
  watcherSettings = withoutNulls (
    removeAttrs cfg.settings [
      "host"
      "source"
      "executor"
      "keys"
      "validator"
    ]
    // {
      roles = [ "watcher" ];
    }
  );

  watcherConfig = configFile "watcher" watcherSettings;

  # A directory below /var/lib, normalized: StateDirectory= takes it relative to /var/lib and
  # silently ignores an empty or absolute name.
  stateDirOk =
    builtins.match "/var/lib(/[A-Za-z0-9_.@+-]+)+" stateDir != null
    && !(lib.elem "." (lib.splitString "/" stateDir))
    && !(lib.elem ".." (lib.splitString "/" stateDir));

  # Roles that fetch the governed repository.
  fetches = cfg.executor.enable || cfg.validator.enable;
in
{
  imports = [
    ./dao-governance/executor.nix
    ./dao-governance/validator.nix
    ./dao-governance/monitoring.nix
  ];

  options.services.dao-governance = {
    enable = mkEnableOption "the nixos-dao-governance agent, which applies to this host only the changes of its configuration that a governance app on Algorand approved";

    package = lib.mkPackageOption packageScope "dao-agent" {
      extraDescription = ''
        It provides `dao-agent` and `dao-agentctl`. Unless an overlay adds `dao-agent` to
        `pkgs` (this flake's `overlays.default` does), it is built from this repository's
        {file}`nix/package.nix` with the host's `pkgs`: NixOS 25.05 or later (Rust ≥ 1.86).
      '';
    };

    watcher.enable = mkOption {
      type = types.bool;
      default = true;
      example = false;
      description = ''
        Whether to run the watcher role as `dao-watcher.service`. The watcher follows the
        governance app, re-verifies every proposal with the agent's rules engine and logs each
        event with its verdict: an independent audit trail in the journal. It changes nothing on
        the host, runs as a dynamic unprivileged user and needs no key.
      '';
    };


    algodTokenFile = mkOption {
      type = types.nullOr secretPath;
      default = null;
      example = "/run/keys/algod-token";
      description = ''
        File holding the API token of the algod node at
        {option}`services.dao-governance.settings.chain.algod_url`, if it needs one. Handed to
        every unit as the systemd credential `algod-token`, like
        {option}`services.dao-governance.keyFile`.
      '';
    };

    settings = mkOption {
      default = { };
      example = literalExpression ''
        {
          chain = {
            algod_url = "https://testnet-api.example.org";
            app_id = 123456789;
            network = "testnet";
          };
          host.id = 1;
          source.allowed_remotes = [ "https://git.example.org/fleet/infra.git" ];
          executor.health.required_units = [ "nginx.service" ];
        }
      '';
      description = ''
        The agent's configuration, written as TOML
        (see [docs/configuration.md](https://github.com/nixos-dao-governance/nixos-dao-governance/blob/main/docs/configuration.md)
        for every key). Keys not declared here are passed through unchanged; the agent refuses
        unknown keys, and the build fails with every problem listed.

        The module writes one file per role, each with `roles` set to that role alone. Set the
        secrets with {option}`services.dao-governance.keyFile`,
        {option}`services.dao-governance.validator.keyFile` and
        {option}`services.dao-governance.algodTokenFile`, the operator group with
        {option}`services.dao-governance.operatorGroup` and the validator's settings with
        the options under {option}`services.dao-governance.validator`, not here.
      '';
      type = types.submodule {
        freeformType = settingsFormat.type;

        options = {
          state_dir = mkOption {
            type = types.str;
            default = "/var/lib/dao-governance";
            description = ''
              Where the agent keeps its journal, watermarks, GC roots and its clone of the
              governed repository; each role uses `<state_dir>/<role>`. It must be under
              {file}`/var/lib`: the units create it with `StateDirectory=`.
            '';
          };

          chain = mkOption {
            description = "Which governance app to follow, and where.";
            default = { };
            type = types.submodule {
              freeformType = settingsFormat.type;
              options = {
                algod_url = mkOption {
                  type = types.nullOr types.str;
                  default = null;
                  example = "https://testnet-api.example.org";
                  description = ''
                    The algod REST endpoint (`http` or `https`), without credentials: give the
                    token with {option}`services.dao-governance.algodTokenFile`. Required.
                  '';
                };
                app_id = mkOption {
                  type = types.nullOr types.ints.positive;
                  default = null;
                  example = 123456789;
                  description = "The governance app's id (printed by `dao-agentctl form`). Required.";
                };
                network = mkOption {
                  type = types.nullOr (
                    types.enum [
                      "devnet"
                      "localnet"
                      "testnet"
                      "betanet"
                      "mainnet"
                    ]
                  );
                  default = null;
                  example = "testnet";
                  description = "The network the app lives on; checked against the node's genesis before following. Required.";
                };
                allowed_program_hashes = mkOption {
                  type = types.listOf types.str;
                  default = [ ];
                  description = ''
                    Approval-program hashes (in address form) accepted besides the released ones
                    built into the agent. Only for your own audited builds of the app.
                  '';
                };
              };
            };
          };


          source = mkOption {
            description = "Where the executor and the validator fetch the governed repository from.";
            default = { };
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.allowed_remotes = mkOption {
                type = types.listOf types.str;
                default = [ ];
                example = [
                  "https://git.example.org/fleet/infra.git"
                  "https://mirror.example.org/fleet/infra.git"
                ];
                description = ''
                  URLs (`https`, `http`, `git` or `file`) the governed repository may be
                  fetched from; the one pinned in the app at formation must be among them.
                  `ssh` remotes are refused: the agent has no way to hold ssh credentials yet.
                  What is fetched is verified against the commit ids and diff hash approved on
                  chain, so the transport need not be trusted. Required for the executor and
                  the validator.
                '';
              };
            };
          };
        };
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = cfg.watcher.enable || cfg.executor.enable || cfg.validator.enable;
          message = "services.dao-governance is enabled with no role: set watcher.enable, executor.enable or validator.enable.";
        }
        {
          assertion = !(cfg.settings ? roles);
          message = "services.dao-governance.settings.roles is set by the module from watcher.enable, executor.enable and validator.enable; remove it.";
        }
        {
          assertion = !(cfg.settings ? keys);
          message = "Set the account keys with services.dao-governance.keyFile (the executor's) and validator.keyFile (the validator's), each a systemd credential, not settings.keys.";
        }
        {
          assertion = !(cfg.settings.chain ? algod_token_file);
          message = "Set the algod token with services.dao-governance.algodTokenFile (a systemd credential), not settings.chain.algod_token_file.";
        }
        {
          assertion = stateDirOk;
          message = ''
            services.dao-governance.settings.state_dir must name a directory below /var/lib, such
            as "/var/lib/dao-governance" (the units create <state_dir>/<role> with
            StateDirectory=, which takes a path relative to /var/lib), not "${stateDir}".'';
        }
        {
          assertion = missingChain == [ ];
          message = ''
            services.dao-governance.settings.chain is incomplete: set ${
              lib.concatMapStringsSep ", " (k: "settings.chain.${k}") missingChain
            }. Every role follows one governance app, e.g.
              services.dao-governance.settings.chain = {
                algod_url = "https://testnet-api.example.org";
                app_id = 123456789;   # printed by `dao-agentctl form`
                network = "testnet";
              };'';
        }
        {
          assertion = !fetches || unsupportedRemotes == [ ];
          message = ''
            services.dao-governance.settings.source.allowed_remotes has ${
              lib.concatMapStringsSep ", " (u: ''"${u}"'') unsupportedRemotes
            }: the agent fetches only over ${lib.concatStringsSep ", " remoteSchemes} URLs
            (scheme://host/path). ssh remotes need credentials the agent cannot hold yet: serve the
            repository over https (read-only access is enough: what is fetched is verified
            against the commit ids and diff hash approved on chain).'';
        }
      ]
      ++ common.unreadAssertion {
        roles = [
          "executor"
          "validator"
        ];
        enabled = fetches;
        options = [
          {
            name = "settings.source.allowed_remotes";
            set = cfg.settings.source.allowed_remotes != [ ];
          }
        ];
      }
      ++ secretAssertions "algodTokenFile" cfg.algodTokenFile;

      environment.systemPackages = [ cfg.package ];
    }

    (mkIf cfg.watcher.enable {
      # For operators to read and `dao-agentctl validate-config`; the unit reads the store path.
      environment.etc."dao-governance/watcher.toml".source = watcherConfig;

      systemd.services.dao-watcher = {
        description = "nixos-dao-governance watcher: follows and re-verifies the governance app";
        documentation = [ "https://github.com/nixos-dao-governance/nixos-dao-governance" ];
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];

        serviceConfig = commonHardening // unprivilegedHardening // {
          Type = "notify";
          NotifyAccess = "main";
          ExecStart = "${lib.getExe' cfg.package "dao-agent"} --role watcher --config ${watcherConfig}";
          Restart = "on-failure";
          RestartSec = "10s";
          # 2: the configuration is wrong; restarting will not fix it.
          RestartPreventExitStatus = 2;
          WatchdogSec = "2min";

          StateDirectory = "${stateDirName}/watcher";
          StateDirectoryMode = "0700";
          LoadCredential = algodTokenCredential;

          ProcSubset = "pid";
          SystemCallFilter = [
            "@system-service"
            "~@privileged"
            "~@resources"
          ];
        };
      };
    })
  ]);

  # Only members of lib.maintainers are accepted here, and this project is not in nixpkgs:
  # the package and the VM tests name their maintainers (nix/maintainers.nix).
  meta.maintainers = [ ];
}