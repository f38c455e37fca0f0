# services.dao-governance's executor: dao-executor.service applies the approved proposals to
# this host (part of ../dao-governance.nix). Root, Type=notify, owns the D-Bus name
# io.github.nixos_dao_governance.Agent1, and runs switch-to-configuration in a transient unit
# of its own.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    literalExpression
    mkIf
    mkOption
    optional
    types
    ;

  common = import ./common.nix { inherit config lib pkgs; };
  inherit (common)
    algodTokenCredential
    cfg
    commonHardening
    configFile
    duration
    secretAssertions
    secretPath
    settingsFormat
    stateDirName
    withoutNulls
    ;

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

  executorSettings = withoutNulls (
    removeAttrs cfg.settings [ "validator" ]
    // {
      roles = [ "executor" ];
      executor = cfg.settings.executor // {
        operator_group = cfg.operatorGroup;
      };
    }
  );

  executorConfig = configFile "executor" executorSettings;

  # Who this generation's executor is: its program and its configuration. The unit passes the
  # id to the agent, and /etc/dao-governance/executor-agent.json names it for the generation
  # the host runs; after a deployment that changed either, the agent sees the two differ and
  # exits with status 75 for the unit to start the new one (agent/daemon/src/daemon/upgrade.rs).
  agentExe = lib.getExe' cfg.package "dao-agent";
  agentId = builtins.hashString "sha256" "${agentExe}\n${executorConfig}";
  agentMarker = "/etc/dao-governance/executor-agent.json";
  selfUpgradeExit = 75;

  checkoutDir = cfg.settings.source.checkout_dir or null;
in
{
  options.services.dao-governance = {
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
        its own agent). When an approved deployment changes the agent (its package or its
        configuration), the agent finishes it, reports it on chain, then exits with status 75
        and the unit starts the new agent (`RestartForceExitStatus=75`); not after a rollback.
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


    # Declared again with the executor's sections: the module system merges the submodule
    # types of both declarations.
    settings = mkOption {
      type = types.submodule {
        options = {
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
                drift = mkOption {
                  type = types.enum [
                    "report"
                    "reactivate"
                  ];
                  default = "report";
                  description = ''
                    What the executor does when the host runs a system it did not activate
                    (someone ran `nixos-rebuild switch` by hand): `report` shows it in
                    `dao-agentctl status`, the `dao_agent_drift` metric, the on_outcome hook
                    (`drift`) and the next heartbeat on chain, and leaves the host as it is.
                    `reactivate` also switches back to the approved generation through the
                    deployment's own profile, switch, health check and revert; when that
                    generation was deleted or garbage-collected it refuses
                    (`approved_generation_gone`) and reports. See docs/heartbeats.md.
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

  config = mkIf cfg.enable (lib.mkMerge [
    {
      assertions = common.unreadAssertion {
        roles = [ "executor" ];
        enabled = cfg.executor.enable;
        options = [
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
            # The validator clones into a directory of its own.
            name = "settings.source.checkout_dir";
            set = cfg.settings.source ? checkout_dir;
          }
        ];
      };
    }

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
      environment.etc."dao-governance/executor-agent.json".text = builtins.toJSON {
        id = agentId;
        agent = agentExe;
        config = "${executorConfig}";
      };

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
        # so it would survive a restart; the agent finishes the deployment, reports it, and
        # then restarts itself when the deployment changed it (exit status 75, below).
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
          ExecStart = lib.concatStringsSep " " [
            agentExe
            "--role executor"
            "--config ${executorConfig}"
            "--self-upgrade-marker ${agentMarker}"
            "--self-upgrade-id ${agentId}"
          ];
          Restart = "on-failure";
          RestartSec = "10s";
          RestartPreventExitStatus = 2;
          # 75: the last deployment changed the agent; start the new one. A clean exit, not a
          # failure, but restarted whatever Restart= says.
          SuccessExitStatus = selfUpgradeExit;
          RestartForceExitStatus = selfUpgradeExit;
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
          ++ algodTokenCredential;

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
}
