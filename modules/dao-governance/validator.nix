# services.dao-governance's validator: dao-validator.service builds every open deploy proposal
# for the hosts it is configured for and attests the result on chain (part of
# ../dao-governance.nix). It never activates anything, so it runs as the watcher does: a
# dynamic unprivileged user without capabilities, in the full sandbox; its builds go through
# nix-daemon, which does the privileged part.
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
    stateDir
    stateDirName
    unprivilegedHardening
    withoutNulls
    ;

  v = cfg.validator;

  # The unit's user (DynamicUser=): named, so that nix.settings.allowed-users can name it.
  user = "dao-validator";
  # Its own state directory, below the shared state_dir as each role's is: its journal of
  # attestations, its own clone of the governed repository and the GC roots of its builds.
  # Nothing is shared with the executor's root-owned directories.
  validatorStateDir = "${stateDir}/validator";
  cacheDir = "dao-governance-validator";

  hostName = "[A-Za-z0-9][A-Za-z0-9._-]{0,31}";

  hostType = types.submodule {
    options = {
      id = mkOption {
        type = types.ints.unsigned;
        example = 1;
        description = "The host's id in the app (`dao-agentctl hosts`): the number deploy proposals target.";
      };
      name = mkOption {
        type = types.strMatching hostName;
        example = "web-1";
        description = ''
          The host's name: in logs, and in the default
          {option}`services.dao-governance.validator.hosts.*.flakeOutput`. 1–32 of
          `A–Z a–z 0–9 . _ -`, starting with a letter or digit.
        '';
      };
      flakeOutput = mkOption {
        type = types.nullOr types.str;
        default = null;
        defaultText = literalExpression ''"nixosConfigurations.\"''${name}\".config.system.build.toplevel"'';
        example = "nixosConfigurations.web-1.config.system.build.toplevel";
        description = ''
          The attribute of the governed flake that the validator builds for this host at each
          proposed commit: the same toplevel the host's executor builds
          ({option}`services.dao-governance.settings.host.flake_output` on that host), or
          the two can never agree.
        '';
      };
    };
  };

  # Values that occur more than once in the hosts' `attr`.
  repeated =
    attr:
    let
      values = map (h: h.${attr}) v.hosts;
    in
    lib.unique (lib.filter (x: lib.count (y: y == x) values > 1) values);

  hostsWith = attr: value: lib.filter (h: h.${attr} == value) v.hosts;

  repeatedId =
    id:
    let
      names = lib.concatMapStringsSep ", " (h: h.name) (hostsWith "id" id);
    in
    "services.dao-governance.validator.hosts lists host id ${toString id} more than once (${names}): list each host of the app once, with the id it has there (`dao-agentctl hosts`).";

  repeatedName =
    name:
    let
      ids = lib.concatMapStringsSep ", " (h: toString h.id) (hostsWith "name" name);
    in
    "services.dao-governance.validator.hosts lists the name \"${name}\" more than once (ids ${ids}): each host needs a name of its own, which also selects its default flakeOutput.";

  allowedUsers = config.nix.settings.allowed-users or [ "*" ];

  validatorSettings = withoutNulls (
    removeAttrs cfg.settings [
      "host"
      "executor"
      "keys"
      "validator"
    ]
    // {
      roles = [ "validator" ];
      state_dir = validatorStateDir;
      # Its clone lives in its own state directory (checkout_dir is the executor's).
      source = removeAttrs cfg.settings.source [ "checkout_dir" ];
      validator = {
        # (withoutNulls does not look into lists.)
        hosts = map (
          h:
          lib.filterAttrs (_: x: x != null) {
            inherit (h) id name;
            flake_output = h.flakeOutput;
          }
        ) v.hosts;
        inherit (v) policy;
        check_command = if v.checkCommand == [ ] then null else v.checkCommand;
        check_timeout = v.checkTimeout;
        fetch_timeout = v.fetchTimeout;
        eval_timeout = v.evalTimeout;
        build_timeout = v.buildTimeout;
      };
    }
  );

  validatorConfig = configFile "validator" validatorSettings;
in
{
  options.services.dao-governance.validator = {
    enable = mkOption {
      type = types.bool;
      default = false;
      example = true;
      description = ''
        Whether to run the validator role as `dao-validator.service`. For each open deploy
        proposal the validator fetches the proposed commit from
        {option}`services.dao-governance.settings.source.allowed_remotes` and verifies it as
        an executor does, evaluates and builds the toplevel of every targeted host among
        {option}`services.dao-governance.validator.hosts` (it never switches), runs
        {option}`services.dao-governance.validator.checkCommand`, and attests on chain, per
        host, `built` with the hash of the toplevel's closure (store paths and NAR hashes) or
        `eval_failed`, `build_failed` or `checks_failed`, signed with
        {option}`services.dao-governance.validator.keyFile`. When the app's attestation
        quorum k is above 0, a host switches only once k validators agreed on a closure that
        its own build has.

        It runs as a dynamic unprivileged user without capabilities; builds go through
        nix-daemon, in the system's store. Run it on a machine of its own: on a host that also
        runs the executor it builds with the same store and Nix as the host, and its
        attestation checks nothing independently.
      '';
    };

    keyFile = mkOption {
      type = types.nullOr secretPath;
      default = null;
      example = "/run/keys/dao-validator-key";
      description = ''
        File holding the validator's Algorand account key (a 25-word mnemonic or a
        64-hex-digit seed): an account of the app's validator set (`dao-agentctl
        validators`), which signs the attestations. Required for the validator; not the
        host's {option}`services.dao-governance.keyFile`.

        Handed to the unit as the systemd credential `account-key`, like
        {option}`services.dao-governance.keyFile`: never in the Nix store, the environment
        or the generated configuration.
      '';
    };

    hosts = mkOption {
      type = types.listOf hostType;
      default = [ ];
      example = literalExpression ''
        [
          { id = 1; name = "web-1"; }
          { id = 2; name = "db-1"; flakeOutput = "nixosConfigurations.db.config.system.build.toplevel"; }
        ]
      '';
      description = ''
        The hosts this validator builds every deploy proposal for, as the app knows them. A
        proposal's other targets are left to other validators. Required, each id and name
        once.
      '';
    };

    policy = mkOption {
      type = types.enum [
        "attest"
        "vote"
      ];
      default = "attest";
      description = ''
        `attest` only attests. `vote` also votes on each deploy proposal: for when every
        targeted host of {option}`services.dao-governance.validator.hosts` built and the
        checks passed, against when any failed, abstain otherwise. The validator's account
        must then be a member.
      '';
    };

    checkCommand = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = literalExpression ''[ "''${pkgs.nix}/bin/nix" "flake" "check" "--no-build" ]'';
      description = ''
        A command run in a work tree of the proposal's head commit once the hosts built, as an
        argument list with an absolute program (no shell, no PATH search). If it does not
        exit 0 within {option}`services.dao-governance.validator.checkTimeout`, the validator
        attests `checks_failed`. Empty: no check. It runs in the validator's sandbox, as its
        unprivileged user, with no capabilities and no writable and executable memory (no
        JIT compilers).
      '';
    };

    checkTimeout = duration "30m" "How long the check command may take.";
    fetchTimeout = duration "5m" "How long fetching a proposal's commits from one remote may take.";
    evalTimeout = duration "30m" "How long evaluating one host's toplevel may take.";
    buildTimeout = duration "2h" "How long building one host's toplevel may take.";
  };

  config = mkIf cfg.enable (
    lib.mkMerge [
      {
        assertions = common.unreadAssertion {
          roles = [ "validator" ];
          enabled = v.enable;
          options = [
            {
              name = "validator.keyFile";
              set = v.keyFile != null;
            }
            {
              name = "validator.hosts";
              set = v.hosts != [ ];
            }
            {
              name = "validator.checkCommand";
              set = v.checkCommand != [ ];
            }
          ];
        };
      }

      (mkIf v.enable {
        assertions = [
          {
            assertion = v.hosts != [ ];
            message = ''
              services.dao-governance.validator.hosts is empty: list the hosts this validator
              builds every deploy proposal for, with the ids the app gave them
              (`dao-agentctl hosts`), e.g.
                services.dao-governance.validator.hosts = [ { id = 1; name = "web-1"; } ];'';
          }
          {
            assertion = repeated "id" == [ ];
            message = lib.concatMapStringsSep "\n" repeatedId (repeated "id");
          }
          {
            assertion = repeated "name" == [ ];
            message = lib.concatMapStringsSep "\n" repeatedName (repeated "name");
          }
          {
            assertion = v.keyFile != null;
            message = ''
              services.dao-governance.validator.keyFile is not set, but the validator needs it:
              set it to the file holding the validator's Algorand account key (an account of the
              app's validator set, see `dao-agentctl validators`), which signs its attestations.'';
          }
          {
            assertion = v.keyFile == null || v.keyFile != cfg.keyFile;
            message = ''
              services.dao-governance.validator.keyFile is the host's own key
              (services.dao-governance.keyFile): a host attesting its own builds is no
              independent check. Give the validator an account of its own.'';
          }
          {
            assertion = cfg.settings.source.allowed_remotes != [ ];
            message = "services.dao-governance.validator needs settings.source.allowed_remotes: where the governed repository may be fetched from (the URL pinned in the app among them).";
          }
          {
            assertion = !(cfg.settings ? validator);
            message = ''
              Set the validator's settings with the options under services.dao-governance.validator
              (hosts, policy, checkCommand, the timeouts), not settings.validator. Its own Nix store
              (`store`) is not offered on NixOS: it builds through nix-daemon, in the system's store.'';
          }
          {
            assertion = config.nix.enable;
            message = "services.dao-governance.validator builds the proposed configurations with Nix: it needs nix.enable = true.";
          }
          {
            assertion = !config.nix.enable || lib.elem "*" allowedUsers || lib.elem user allowedUsers;
            message = ''
              nix.settings.allowed-users does not allow the validator's user "${user}", so
              nix-daemon would refuse its builds. Add "${user}" to nix.settings.allowed-users (a
              group such as "@wheel" does not cover it: it is a dynamic user in no group).'';
          }
        ]
        ++ secretAssertions "validator.keyFile" v.keyFile;

        warnings = lib.optional cfg.executor.enable ''
          services.dao-governance.validator runs on a host that also runs the executor: it
          builds with the host's own store and Nix, so its attestations are no independent check
          of this host's builds. Run validators on machines of their own.'';

        environment.etc."dao-governance/validator.toml".source = validatorConfig;

        systemd.services.dao-validator = {
          description = "nixos-dao-governance validator: builds proposed changes and attests them on chain";
          documentation = [ "https://github.com/nixos-dao-governance/nixos-dao-governance" ];
          wantedBy = [ "multi-user.target" ];
          wants = [
            "network-online.target"
            "nix-daemon.socket"
          ];
          after = [
            "network-online.target"
            "nix-daemon.socket"
          ];

          path = [
            config.nix.package
            pkgs.git
          ];
          environment = {
            # The builds happen in nix-daemon: the unit has no write access to the store.
            NIX_REMOTE = "daemon";
            # A dynamic user's home is /: keep what Nix and git write for themselves in the
            # unit's own directories.
            HOME = validatorStateDir;
            XDG_CACHE_HOME = "/var/cache/${cacheDir}";
          };

          serviceConfig = commonHardening // unprivilegedHardening // {
            Type = "notify";
            NotifyAccess = "main";
            ExecStart = "${lib.getExe' cfg.package "dao-agent"} --role validator --config ${validatorConfig}";
            Restart = "on-failure";
            RestartSec = "10s";
            # 2: the configuration is wrong; restarting will not fix it.
            RestartPreventExitStatus = 2;
            WatchdogSec = "3min";

            User = user;
            StateDirectory = "${stateDirName}/validator";
            StateDirectoryMode = "0700";
            CacheDirectory = cacheDir;
            CacheDirectoryMode = "0700";
            LoadCredential = [ "account-key:${toString v.keyFile}" ] ++ algodTokenCredential;

            # Unlike the watcher: no ProcSubset=pid, since Nix's garbage collector reads
            # /proc/stat for the number of CPUs; and @resources allowed, since the evaluator
            # raises its stack limit (setrlimit) for deep NixOS evaluations.
            SystemCallFilter = [
              "@system-service"
              "~@privileged"
            ];
          };
        };
      })
    ]
  );
}
