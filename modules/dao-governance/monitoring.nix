# services.dao-governance.metrics and .hooks: Prometheus metrics on each role unit and the
# program the executor runs after each outcome (docs/metrics.md, docs/hooks.md). Both end up in
# the generated configuration files, as [metrics] and [hooks] (docs/configuration.md).
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    mkIf
    mkMerge
    mkOption
    types
    ;

  common = import ./common.nix { inherit config lib pkgs; };
  inherit (common) cfg duration;

  m = cfg.metrics;

  # One port per role unit: the watcher serves on `port`, the executor on `port + 1`, the
  # validator on `port + 2` (each unit runs `dao-agent --role R`, which adds its offset).
  rolePorts =
    lib.optional cfg.watcher.enable m.port
    ++ lib.optional cfg.executor.enable (m.port + 1)
    ++ lib.optional cfg.validator.enable (m.port + 2);

  hook = cfg.hooks.onOutcome;
in
{
  options.services.dao-governance = {
    metrics = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Whether each role unit serves Prometheus metrics (`/metrics`, docs/metrics.md): the
          watcher on {option}`services.dao-governance.metrics.port`, the executor on port + 1,
          the validator on port + 2.
        '';
      };

      address = mkOption {
        type = types.str;
        default = "127.0.0.1";
        example = "::";
        description = ''
          The IP address the metrics listen on. Loopback by default: the metrics say what the
          host runs and when it fails. Another address also needs
          {option}`services.dao-governance.metrics.openFirewall` or a firewall rule of your own.
        '';
      };

      port = mkOption {
        type = types.port;
        default = 9470;
        description = ''
          The watcher's metrics port; the executor uses this port + 1 and the validator + 2.
        '';
      };

      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Whether to open the metrics ports of the roles that run on this host in the firewall.
        '';
      };
    };

    hooks = {
      onOutcome = mkOption {
        type = types.nullOr (types.nonEmptyListOf types.str);
        default = null;
        example = lib.literalExpression ''
          [ "''${pkgs.writeShellScript "notify" "…"}" ]
        '';
        description = ''
          A program and its arguments that the executor runs after each outcome (applied,
          rolled back, refused, failed, not reproducible), with the facts in `DAO_*` environment
          variables (docs/hooks.md), in a transient systemd unit of its own. It is stopped at
          {option}`services.dao-governance.hooks.timeout`; its failure is logged and never
          changes the deployment. The program must be an absolute path (a store path); its
          environment holds `PATH` and the `DAO_*` variables only.
        '';
      };

      timeout = duration "30s" "How long the on_outcome hook may run before it is stopped.";
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = !m.enable || m.port <= 65533;
          message = "services.dao-governance.metrics.port must be at most 65533: the executor and the validator use port + 1 and port + 2.";
        }
        {
          assertion = hook == null || lib.hasPrefix "/" (lib.head hook);
          message = "services.dao-governance.hooks.onOutcome must start with an absolute program (a store path such as \"\${pkgs.curl}/bin/curl\"): the hook runs without a PATH search.";
        }
      ]
      ++ common.unreadAssertion {
        roles = [ "executor" ];
        enabled = cfg.executor.enable;
        options = [
          {
            name = "hooks.onOutcome";
            set = hook != null;
          }
        ];
      };
    }

    (mkIf m.enable {
      services.dao-governance.settings.metrics = {
        enable = true;
        inherit (m) address port;
      };
      networking.firewall.allowedTCPPorts = mkIf m.openFirewall rolePorts;
    })

    (mkIf (hook != null) {
      services.dao-governance.settings.hooks = {
        on_outcome = hook;
        inherit (cfg.hooks) timeout;
      };
    })
  ]);
}
