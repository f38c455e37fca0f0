# services.dao-governance: the nixos-dao-governance agent on a NixOS host.
#
# Two roles, each its own unit, each with its own configuration file generated from `settings`:
#   dao-watcher.service   follows the governance app and re-verifies every proposal; unprivileged
#                         (DynamicUser), no key, no bus name, the full sandbox.
#   dao-executor.service  applies approved proposals to this host; root, Type=notify, owns the
#                         D-Bus name io.github.nixos_dao_governance.Agent1, and runs
#                         switch-to-configuration in a transient unit of its own.
# The files' format is docs/configuration.md; `dao-agentctl validate-config` checks both at
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
    optional
    optionalAttrs
    types
    ;

  cfg = config.services.dao-governance;
  settingsFormat = pkgs.formats.toml { };

  # `pkgs.dao-agent` where an overlay provides it (this flake's overlays.default), else the
  # agent built from this repository with the host's pkgs.
  packageScope = {
    dao-agent = pkgs.callPackage ../nix/package.nix { };
  }
  // lib.optionalAttrs (pkgs ? dao-agent) { inherit (pkgs) dao-agent; };

  # A file on the host, never in the world-readable store: a string naming an absolute path
  # outside it (a Nix path such as ./key is refused, as interpolating it would copy the secret
  # into the store). types.externalPath is in nixpkgs from 25.11, types.pathWith from 25.05;
  # the assertions below say the same on older releases.
  secretPath =
    types.externalPath or (
      if types ? pathWith then
        types.pathWith {
          absolute = true;
          inStore = false;
        }
      else
        types.str
    );

  # The remote schemes the agent can fetch from without credentials of its own.
  remoteSchemes = [
    "https"
    "http"
    "git"
    "file"
  ];
  # scheme://host/path (file:///path): the agent's URL parser would read "https:///x" as
  # host "x".
  remotePattern = "(${lib.concatStringsSep "|" (lib.remove "file" remoteSchemes)})://[^/]+/.*|file:///.+";
  unsupportedRemotes = lib.filter (
    url: builtins.match remotePattern url == null
  ) cfg.settings.source.allowed_remotes;

  health = cfg.settings.executor.health;

  # Required units this configuration does not declare itself (systemd.services and the like).
  # They may still come from systemd or from a package (systemd.packages): a build-time check
  # looks for them among the unit files the system installs.
  declaredUnit =
    unit:
    config.systemd.units ? ${unit}
    || (
      let
        m = builtins.match "([^@]+)@[^.]+(\..+)" unit;
      in
      m != null && config.systemd.units ? "${lib.elemAt m 0}@${lib.elemAt m 1}"
    );
  undeclaredUnits = lib.filter (u: !(declaredUnit u)) health.required_units;

  requiredUnitsCheck =
    pkgs.runCommand "dao-governance-required-units"
      {
        preferLocalBuild = true;
        units = undeclaredUnits;
        unitDir = config.environment.etc."systemd/system".source;
        passthru.message = lib.concatMapStringsSep "\n" unitsMessage undeclaredUnits;
      }
      ''
        missing=0
        for unit in $units; do
          template=$(printf '%s' "$unit" | sed -n 's/^\([^@]*@\)[^.]*\(\..*\)$/\1\2/p')
          if [ ! -e "$unitDir/$unit" ] && { [ -z "$template" ] || [ ! -e "$unitDir/$template" ]; }; then
            echo "${unitsMessage "$unit"}" >&2
            missing=1
          fi
        done
        [ "$missing" = 0 ]
        touch $out
      '';

  unitsMessage = unit: ''
    services.dao-governance.settings.executor.health.required_units names ${unit}, which
    this system does not have: every deployment would fail its health check and be rolled back.
    Enable the service that provides it, or remove it from required_units.'';

  # Options that only the executor reads: set on a host without it, they would be ignored.
  executorOnly = lib.filter (o: o.set) [
    {
      name = "keyFile";
      set = cfg.keyFile != null;
    }
    {
      name = "operatorGroup";
      set = cfg.operatorGroup != null;
    }
    {
      name = "settings.host.id";
      set = cfg.settings.host.id != null;
    }
    {
      name = "settings.source.allowed_remotes";
      set = cfg.settings.source.allowed_remotes != [ ];
    }
  ];

  # The chain options every role needs; null until set, so that a missing section gets an
  # assertion that says what to write rather than an undefined-option error.
  missingChain = lib.filter (k: cfg.settings.chain.${k} == null) [
    "algod_url"
    "app_id"
    "network"
  ];

  # `settings`, as the agent reads it: options left at null are omitted, so the agent's own
  # defaults (docs/configuration.md) apply.
  withoutNulls = lib.filterAttrsRecursive (_: v: v != null);

  credentialPath = unit: name: "/run/credentials/${unit}.service/${name}";

  algodToken =
    unit:
    optionalAttrs (cfg.algodTokenFile != null) {
      algod_token_file = credentialPath unit "algod-token";
    };

  # The watcher needs the chain and nothing about deploying.
  watcherSettings = withoutNulls (
    removeAttrs cfg.settings [
      "host"
      "source"
      "executor"
      "keys"
    ]
    // {
      roles = [ "watcher" ];
      chain = cfg.settings.chain // algodToken "dao-watcher";
    }
  );

  executorSettings = withoutNulls (
    cfg.settings
    // {
      roles = [ "executor" ];
      chain = cfg.settings.chain // algodToken "dao-executor";
      executor = cfg.settings.executor // {
        operator_group = cfg.operatorGroup;
      };
      keys = {
        account_key_file = credentialPath "dao-executor" "account-key";
      };
    }
  );

  # The generated file, checked by the agent's own parser when the system is built: a typo in
  # a key or a malformed duration fails `nixos-rebuild`, not the service at boot.
  configFile =
    role: settings:
    let
      file = settingsFormat.generate "dao-governance-${role}.toml" settings;
    in
    if pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform then
      pkgs.runCommand "dao-governance-${role}.toml"
        {
          nativeBuildInputs = [ cfg.package ];
          preferLocalBuild = true;
          # What the file holds, for nix/misconfigurations.nix.
          passthru = { inherit settings; };
        }
        ''
          dao-agentctl validate-config ${file}
          ln -s ${file} $out
        ''
    else
      file // { inherit settings; };

  watcherConfig = configFile "watcher" watcherSettings;
  executorConfig = configFile "executor" executorSettings;

  durationType = types.strMatching "([0-9]+(ms|s|m|h|d))+";

  duration =
    default: description:
    mkOption {
      type = durationType;
      inherit default description;
      example = "1h30m";
    };

  inStore = p: lib.hasPrefix "${builtins.storeDir}/" (toString p);

  # Assertions about a secret's path. Nix paths (./key) are refused: interpolating one copies
  # the secret into the world-readable store.
  secretAssertions =
    option: value:
    lib.optionals (value != null) [
      {
        assertion = !builtins.isPath value;
        message = ''
          services.dao-governance.${option} is a Nix path (${toString value}), which would be
          copied into the world-readable Nix store. Give it as a string naming a file on the host,
          e.g. "/run/keys/dao-account-key".
        '';
      }
      {
        assertion = !inStore value;
        message = ''
          services.dao-governance.${option} (${toString value}) is inside ${builtins.storeDir},
          which every user can read. Keep the file outside the store (mode 0600, root), e.g.
          deployed by agenix or sops-nix.
        '';
      }
      {
        assertion = lib.hasPrefix "/" (toString value);
        message = "services.dao-governance.${option} must be an absolute path, not ${toString value}.";
      }
    ];

  stateDir = cfg.settings.state_dir;
  stateDirName = lib.removePrefix "/var/lib/" stateDir;
  # A directory below /var/lib, normalized: StateDirectory= takes it relative to /var/lib and
  # silently ignores an empty or absolute name.
  stateDirOk =
    builtins.match "/var/lib(/[A-Za-z0-9_.@+-]+)+" stateDir != null
    && !(lib.elem "." (lib.splitString "/" stateDir))
    && !(lib.elem ".." (lib.splitString "/" stateDir));
  checkoutDir = cfg.settings.source.checkout_dir or null;

  # The sandbox both units share; each adds what its role needs.
  commonHardening = {
    LockPersonality = true;
    NoNewPrivileges = true;
    PrivateDevices = true;
    PrivateTmp = true;
    ProtectClock = true;
    ProtectControlGroups = true;
    ProtectHome = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectProc = "invisible";
    ProtectSystem = "strict";
    RestrictAddressFamilies = [
      "AF_UNIX"
      "AF_INET"
      "AF_INET6"
    ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    SystemCallArchitectures = "native";
    SystemCallErrorNumber = "EPERM";
    UMask = "0077";
  };
in
{
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

    executor.enable = mkOption {
      type = types.bool;
      default = false;
      example = true;
      description = ''
        Whether to run the executor role as `dao-executor.service`. The executor applies to this
        host the proposals approved for it: it fetches the approved commit from
        {option}`services.dao-governance.settings.source.allowed_remotes`, verifies its diff
        hash, builds {option}`services.dao-governance.settings.host.flake_output`, switches to
        it in a transient systemd unit, checks the host's health (or rolls back to exactly the
        generation it had) and reports the outcome on chain, signed with
        {option}`services.dao-governance.keyFile`. It runs as root, in a sandbox.

        A switch does not restart this unit when it changes (the switch it runs would restart
        its own agent): a new agent takes over at the next `systemctl restart
        dao-executor.service` or reboot.
      '';
    };

    keyFile = mkOption {
      type = types.nullOr secretPath;
      default = null;
      example = "/run/keys/dao-account-key";
      description = ''
        File holding this host's Algorand account key (a 25-word mnemonic or a 64-hex-digit
        seed), the account registered for {option}`services.dao-governance.settings.host.id` in
        the app. The executor signs its execution reports with it. Required for the executor.

        The file is handed to the unit as the systemd credential `account-key`
        (`LoadCredential=`): it stays readable by root only, never enters the Nix store, the
        environment or the generated configuration. Give it as a string naming a file that
        exists on the host (deployed by agenix, sops-nix or by hand, mode 0600). A path in the
        Nix store, or a Nix path such as `./key` (which would be copied there), is refused.
      '';
    };

    algodTokenFile = mkOption {
      type = types.nullOr secretPath;
      default = null;
      example = "/run/keys/algod-token";
      description = ''
        File holding the API token of the algod node at
        {option}`services.dao-governance.settings.chain.algod_url`, if it needs one. Handed to
        both units as the systemd credential `algod-token`, like
        {option}`services.dao-governance.keyFile`.
      '';
    };

    operatorGroup = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "dao-operators";
      description = ''
        Members of this group may use the executor's state-changing commands:
        `dao-agentctl rollback`, `pause` and `resume`. Root always may; anyone may read
        `dao-agentctl status` and `deployments`. The agent decides from the caller's
        credentials as the bus reports them. The group is created if it does not exist.
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
        secrets with {option}`services.dao-governance.keyFile` and
        {option}`services.dao-governance.algodTokenFile` and the operator group with
        {option}`services.dao-governance.operatorGroup`, not here.
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

          host = mkOption {
            description = "This host, as the app knows it (the executor's settings).";
            default = { };
            type = types.submodule {
              freeformType = settingsFormat.type;
              options = {
                id = mkOption {
                  type = types.nullOr types.ints.unsigned;
                  default = null;
                  example = 1;
                  description = ''
                    This host's id in the app: the number registered with `dao-agentctl form
                    --host ID=ADDRESS` (or a hosts proposal), which deploy proposals target.
                    Required for the executor.
                  '';
                };
                name = mkOption {
                  type = types.str;
                  default = config.networking.hostName;
                  defaultText = literalExpression "config.networking.hostName";
                  description = ''
                    The host's name for people (logs, status) and the default flake output:
                    1–32 of `A–Z a–z 0–9 . _ -`, starting with a letter or digit.
                  '';
                };
                flake_output = mkOption {
                  type = types.nullOr types.str;
                  default = null;
                  defaultText = literalExpression ''"nixosConfigurations.\"''${name}\".config.system.build.toplevel"'';
                  example = "nixosConfigurations.web-1.config.system.build.toplevel";
                  description = ''
                    The attribute of the governed flake that the executor builds at each approved
                    commit and switches to: a NixOS system's toplevel.
                  '';
                };
              };
            };
          };

          source = mkOption {
            description = "Where the executor fetches the governed repository from.";
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
                  chain, so the transport need not be trusted. Required for the executor.
                '';
              };
            };
          };

          executor = mkOption {
            description = "How the executor applies a change.";
            default = { };
            type = types.submodule {
              freeformType = settingsFormat.type;
              options = {
                system_profile = mkOption {
                  type = types.str;
                  default = "/nix/var/nix/profiles/system";
                  description = "The profile whose generations the executor sets and switches.";
                };
                switch_mode = mkOption {
                  type = types.enum [
                    "systemd"
                    "direct"
                  ];
                  default = "systemd";
                  description = ''
                    `systemd` runs `switch-to-configuration` in a transient unit
                    (`dao-governance-switch-<hash>-<ms>.service`) that survives a restart of the agent
                    itself. `direct` runs it as the agent's child, for hosts without systemd; the
                    module refuses it, since the unit's sandbox would block the switch.
                  '';
                };
                fetch_timeout = duration "5m" "How long fetching the approved commits from one remote may take.";
                dry_build_timeout = duration "30m" "How long the dry build (evaluation) may take.";
                build_timeout = duration "2h" "How long building the toplevel may take.";
                switch_timeout = duration "15m" "How long `switch-to-configuration switch` may take.";
                health = mkOption {
                  description = ''
                    After a switch every check must pass within `timeout`, or the host goes back
                    to exactly the generation it had and the proposal is reported rolled back.
                  '';
                  default = { };
                  type = types.submodule {
                    freeformType = settingsFormat.type;
                    options = {
                      timeout = duration "90s" "How long the health checks may take to pass after a switch.";
                      required_units = mkOption {
                        type = types.listOf types.str;
                        default = [ ];
                        example = [
                          "sshd.service"
                          "nginx.service"
                        ];
                        description = "Units that must be active after a switch.";
                      };
                      command = mkOption {
                        type = types.nullOr (types.listOf types.str);
                        default = null;
                        example = literalExpression ''
                          [ "''${pkgs.curl}/bin/curl" "--fail" "--silent" "http://127.0.0.1/health" ]
                        '';
                        description = ''
                          A command that must exit 0, as an argument list with an absolute
                          program (no shell, no PATH search). It runs inside the executor's
                          sandbox, as root without capabilities but `CAP_SYS_ADMIN`.
                        '';
                      };
                      check_chain = mkOption {
                        type = types.bool;
                        default = true;
                        description = "Whether the host must reach algod again after a switch.";
                      };
                      check_remote = mkOption {
                        type = types.bool;
                        default = true;
                        description = "Whether the host must reach an allowed remote again after a switch.";
                      };
                    };
                  };
                };
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
          assertion = cfg.watcher.enable || cfg.executor.enable;
          message = "services.dao-governance is enabled with no role: set watcher.enable or executor.enable (or both).";
        }
        {
          assertion = !(cfg.settings ? roles);
          message = "services.dao-governance.settings.roles is set by the module from watcher.enable and executor.enable; remove it.";
        }
        {
          assertion = !(cfg.settings ? keys);
          message = "Set the account key with services.dao-governance.keyFile (a systemd credential), not settings.keys.";
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
      ]
      ++ lib.optional (!cfg.executor.enable) {
        assertion = executorOnly == [ ];
        message = ''
          ${
            lib.concatMapStringsSep ", " (o: "services.dao-governance.${o.name}") executorOnly
          } is set, but only the executor reads it, and the executor is off on this host
          (services.dao-governance.executor.enable = false): it would be silently ignored. Set
          services.dao-governance.executor.enable = true, or remove it.'';
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

        serviceConfig = commonHardening // {
          Type = "notify";
          NotifyAccess = "main";
          ExecStart = "${lib.getExe' cfg.package "dao-agent"} --role watcher --config ${watcherConfig}";
          Restart = "on-failure";
          RestartSec = "10s";
          # 2: the configuration is wrong; restarting will not fix it.
          RestartPreventExitStatus = 2;
          WatchdogSec = "2min";

          DynamicUser = true;
          StateDirectory = "${stateDirName}/watcher";
          StateDirectoryMode = "0700";
          LoadCredential = optional (cfg.algodTokenFile != null) "algod-token:${toString cfg.algodTokenFile}";

          CapabilityBoundingSet = [ "" ];
          AmbientCapabilities = [ "" ];
          DevicePolicy = "closed";
          MemoryDenyWriteExecute = true;
          PrivateIPC = true;
          PrivateUsers = true;
          ProcSubset = "pid";
          RemoveIPC = true;
          SystemCallFilter = [
            "@system-service"
            "~@privileged"
            "~@resources"
          ];
        };
      };
    })

    (mkIf cfg.executor.enable {
      assertions = [
        {
          assertion = cfg.settings.host.id != null;
          message = "services.dao-governance.executor needs settings.host.id: this host's id in the app (dao-agentctl form --host ID=ADDRESS).";
        }
        {
          assertion = cfg.settings.source.allowed_remotes != [ ];
          message = "services.dao-governance.executor needs settings.source.allowed_remotes: where the governed repository may be fetched from (the URL pinned in the app among them).";
        }
        {
          assertion = cfg.keyFile != null;
          message = "services.dao-governance.executor needs keyFile: the file holding this host's Algorand account key, which signs its execution reports.";
        }
        {
          assertion = cfg.settings.executor.switch_mode == "systemd";
          message = "services.dao-governance.settings.executor.switch_mode = \"direct\" cannot work on NixOS: the switch would run inside the executor's sandbox and die with it. Use \"systemd\".";
        }
        {
          assertion = !(cfg.settings.executor ? operator_group);
          message = "Set the operator group with services.dao-governance.operatorGroup, not settings.executor.operator_group.";
        }
        {
          assertion = unsupportedRemotes == [ ];
          message = ''
            services.dao-governance.settings.source.allowed_remotes has ${
              lib.concatMapStringsSep ", " (u: ''"${u}"'') unsupportedRemotes
            }: the executor fetches only over ${lib.concatStringsSep ", " remoteSchemes} URLs
            (scheme://host/path). ssh remotes need credentials the agent cannot hold yet: serve the
            repository over https (read-only access is enough: what is fetched is verified
            against the commit ids and diff hash approved on chain).'';
        }
        {
          assertion =
            health.required_units != [ ]
            || health.command != null
            || health.check_chain
            || health.check_remote;
          message = ''
            services.dao-governance.settings.executor.health checks nothing: required_units and
            command are empty and check_chain and check_remote are false, so a change that breaks
            the host would be reported applied and never rolled back. Name the units that must
            be active after a switch in settings.executor.health.required_units (e.g.
            [ "sshd.service" ]), give a health command, or keep check_chain = true.'';
        }
        {
          assertion = config.nix.enable;
          message = "services.dao-governance.executor builds the approved configurations with Nix: it needs nix.enable = true.";
        }
      ]
      ++ secretAssertions "keyFile" cfg.keyFile;

      services.dbus.packages = [ cfg.package ];

      # Required units that no option of this configuration declares are looked up among the
      # unit files the system installs, when it is built.
      system.checks = lib.optional (undeclaredUnits != [ ]) requiredUnitsCheck;

      environment.etc."dao-governance/executor.toml".source = executorConfig;

      users.groups = mkIf (cfg.operatorGroup != null) { ${cfg.operatorGroup} = { }; };

      systemd.tmpfiles.settings."10-dao-governance" = mkIf (checkoutDir != null) {
        ${checkoutDir}.d = {
          mode = "0700";
          user = "root";
          group = "root";
        };
      };

      systemd.services.dao-executor = {
        description = "nixos-dao-governance executor: applies the approved changes to this host";
        documentation = [ "https://github.com/nixos-dao-governance/nixos-dao-governance" ];
        wantedBy = [ "multi-user.target" ];
        # wants, not requires: a switch that restarts nix-daemon.socket must not stop the agent
        # that is waiting for that very switch.
        wants = [
          "network-online.target"
          "nix-daemon.socket"
        ];
        after = [
          "network-online.target"
          "nix-daemon.socket"
          "dbus.socket"
        ];

        # A switch this agent runs may change this very unit: restarting it then would interrupt
        # the deployment it is confirming. The switch itself runs in a transient unit of its own,
        # so it would survive a restart; the agent finishes the deployment, and a new agent
        # takes over at the next restart.
        restartIfChanged = false;

        path = [
          config.nix.package
          pkgs.git
        ];
        environment = {
          # Builds go through nix-daemon, so the unit needs no write access to the store.
          NIX_REMOTE = "daemon";
          # Nix's fetcher and evaluation caches, instead of the protected /root.
          XDG_CACHE_HOME = "/var/cache/dao-governance";
        };

        serviceConfig = commonHardening // {
          Type = "notify";
          NotifyAccess = "main";
          ExecStart = "${lib.getExe' cfg.package "dao-agent"} --role executor --config ${executorConfig}";
          Restart = "on-failure";
          RestartSec = "10s";
          RestartPreventExitStatus = 2;
          WatchdogSec = "3min";
          # On SIGTERM the agent first lets a switch in progress and its health checks finish;
          # only the main process is signalled, it stops its own children.
          KillMode = "mixed";
          TimeoutStopSec = "${cfg.settings.executor.switch_timeout} ${cfg.settings.executor.health.timeout} 1min";

          User = "root";
          StateDirectory = [
            "${stateDirName}/executor"
          ]
          ++ optional (checkoutDir == null) "${stateDirName}/checkout";
          StateDirectoryMode = "0700";
          CacheDirectory = "dao-governance";
          CacheDirectoryMode = "0700";
          ReadWritePaths = [
            (dirOf cfg.settings.executor.system_profile)
          ]
          # "-": a custom checkout directory is created by tmpfiles; never fail on it missing.
          ++ optional (checkoutDir != null) "-${checkoutDir}";
          LoadCredential = [
            "account-key:${toString cfg.keyFile}"
          ]
          ++ optional (cfg.algodTokenFile != null) "algod-token:${toString cfg.algodTokenFile}";

          # Root without root's powers: CAP_SYS_ADMIN is what systemd asks of a caller of
          # StartTransientUnit who is not authorized by polkit. The system profile, the state
          # and the credentials are root's own files; builds run in nix-daemon; the switch runs
          # in its own unit, outside this sandbox.
          CapabilityBoundingSet = [ "CAP_SYS_ADMIN" ];
          SystemCallFilter = [ "@system-service" ];
        };
      };
    })
  ]);

  # Only members of lib.maintainers are accepted here, and this project is not in nixpkgs:
  # the package and the VM tests name their maintainers (nix/maintainers.nix).
  meta.maintainers = [ ];
}
