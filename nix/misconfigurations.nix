# Every misconfiguration of services.dao-governance that has been tried, and what stops it.
#
# Each case is a module added to a host that is otherwise correct (`valid` below), the stage
# that must refuse it and a phrase the refusal must contain:
#   assertion  an assertion of the module fails; `nixos-rebuild` stops at evaluation
#   type       an option's type refuses the value; evaluation stops with the option's name
#   build      a check in system.checks fails when the system is built
#   validate   `dao-agentctl validate-config` refuses the generated file when the system is
#              built (the agent's own parser: the settings pass through the module untyped)
#   warning    the system builds, but `nixos-rebuild` prints a warning naming the option
# A case with `needs = "validator"` is checked by validate-config only once dao-agentctl knows
# the validator role (docs/configuration.md); nix/misconfigurations.py skips it, saying so,
# with an older dao-agentctl.
#
# scripts/check-nix evaluates every case against a nixpkgs tree and prints the message each
# one gets:
#   nix-instantiate --eval --strict nix/misconfigurations.nix --arg nixpkgs TREE -A names
#   nix-instantiate --eval --strict nix/misconfigurations.nix --arg nixpkgs TREE -A 'run.NAME'
# (nix/misconfigurations.py runs them all.) `run.NAME` gives the case's stage and its refusals: the failed assertions, the system checks'
# messages or the generated configuration (JSON, for validate-config); a type error stops the
# evaluation itself, with its message on stderr.
{
  nixpkgs,
  system ? "x86_64-linux",
}:

let
  lib = import (nixpkgs + "/lib");

  # A complete, correct host: both roles, everything an executor needs.
  valid = {
    networking.hostName = "web-1";
    fileSystems."/".device = "/dev/disk/by-label/nixos";
    boot.loader.grub.device = "nodev";
    system.stateVersion = "25.11";
    services.openssh.enable = true;
    services.dao-governance = {
      enable = true;
      executor.enable = true;
      keyFile = "/run/keys/dao-account-key";
      settings = {
        chain = {
          algod_url = "https://testnet-api.example.org";
          app_id = 123456789;
          network = "testnet";
        };
        host.id = 1;
        source.allowed_remotes = [ "https://git.example.org/fleet/infra.git" ];
        executor.health.required_units = [ "sshd.service" ];
      };
    };
  };

  # The same host without the executor: the watcher alone. (Below mkForce, so that a case
  # can set one of the executor's options again.)
  unset = lib.mkOverride 60;
  watcherOnly = {
    services.dao-governance = {
      executor.enable = unset false;
      keyFile = unset null;
      settings.host.id = unset null;
      settings.source.allowed_remotes = unset [ ];
    };
  };

  # A validator's machine: the validator and the watcher, no executor (the same unsetting).
  validatorHost = {
    services.dao-governance = {
      executor.enable = unset false;
      keyFile = unset null;
      settings.host.id = unset null;
      validator = {
        enable = true;
        keyFile = "/run/keys/dao-validator-key";
        hosts = [
          {
            id = 1;
            name = "web-1";
          }
          {
            id = 2;
            name = "db-1";
          }
        ];
      };
    };
  };
  onValidator = module: { imports = [ validatorHost module ]; };
  validatorWith = settings: onValidator { services.dao-governance.validator = settings; };

  dao = settings: { services.dao-governance = settings; };
  daoSettings = settings: dao { inherit settings; };
  force = lib.mkForce;

  cases = import ./misconfigurations-validator.nix {
    inherit
      dao
      force
      onValidator
      validatorWith
      ;
  }
  // {
    # --- roles and the keys the module owns -------------------------------------------------
    no-role = {
      stage = "assertion";
      expect = "is enabled with no role";
      config = dao {
        watcher.enable = false;
        executor.enable = force false;
        keyFile = force null;
        settings.host.id = force null;
        settings.source.allowed_remotes = force [ ];
      };
    };
    settings-roles = {
      stage = "assertion";
      expect = "settings.roles is set by the module";
      config = daoSettings { roles = [ "executor" ]; };
    };
    settings-keys = {
      stage = "assertion";
      expect = "not settings.keys";
      config = daoSettings { keys.account_key_file = "/run/keys/k"; };
    };
    settings-algod-token-file = {
      stage = "assertion";
      expect = "not settings.chain.algod_token_file";
      config = daoSettings { chain.algod_token_file = "/run/keys/t"; };
    };
    settings-operator-group = {
      stage = "assertion";
      expect = "not settings.executor.operator_group";
      config = daoSettings { executor.operator_group = "wheel"; };
    };

    # --- state_dir ---------------------------------------------------------------------------
    state-dir-var-lib = {
      stage = "assertion";
      expect = "state_dir must name a directory below /var/lib";
      config = daoSettings { state_dir = "/var/lib/"; };
    };
    state-dir-outside = {
      stage = "assertion";
      expect = "state_dir must name a directory below /var/lib";
      config = daoSettings { state_dir = "/srv/dao"; };
    };
    state-dir-dotdot = {
      stage = "assertion";
      expect = "state_dir must name a directory below /var/lib";
      config = daoSettings { state_dir = "/var/lib/../etc"; };
    };
    state-dir-trailing-slash = {
      stage = "assertion";
      expect = "state_dir must name a directory below /var/lib";
      config = daoSettings { state_dir = "/var/lib/dao/"; };
    };

    # --- chain -------------------------------------------------------------------------------
    chain-missing = {
      stage = "assertion";
      expect = "settings.chain is incomplete: set settings.chain.algod_url, settings.chain.app_id, settings.chain.network";
      config = daoSettings { chain = force { }; };
    };
    chain-app-id-missing = {
      stage = "assertion";
      expect = "settings.chain is incomplete: set settings.chain.app_id";
      config = daoSettings {
        chain = force {
          algod_url = "https://testnet-api.example.org";
          network = "testnet";
        };
      };
    };
    chain-app-id-zero = {
      stage = "type";
      expect = "services.dao-governance.settings.chain.app_id' is not of type `null or (positive integer";
      config = daoSettings { chain.app_id = force 0; };
    };
    chain-network-unknown = {
      stage = "type";
      expect = "services.dao-governance.settings.chain.network' is not of type";
      config = daoSettings { chain.network = force "main"; };
    };
    chain-url-scheme = {
      stage = "validate";
      expect = "chain.algod_url: scheme \"ftp\" is not allowed here";
      config = daoSettings { chain.algod_url = force "ftp://testnet-api.example.org"; };
    };
    chain-url-password = {
      stage = "validate";
      expect = "chain.algod_url: contains a password";
      config = daoSettings { chain.algod_url = force "https://user:secret@testnet-api.example.org"; };
    };
    chain-program-hash = {
      stage = "validate";
      expect = "chain.allowed_program_hashes[0]: not a program hash in address form";
      config = daoSettings { chain.allowed_program_hashes = [ "0123abcd" ]; };
    };
    chain-unknown-key = {
      stage = "validate";
      expect = "chain.algod_uri: unknown field `algod_uri`";
      config = daoSettings { chain.algod_uri = "https://typo.example.org"; };
    };
    unknown-section = {
      stage = "validate";
      expect = "unknown field `telemetry`";
      config = daoSettings { telemetry.listen = "127.0.0.1:9100"; };
    };

    # --- what the executor needs -----------------------------------------------------------
    executor-no-host-id = {
      stage = "assertion";
      expect = "executor needs settings.host.id";
      config = daoSettings { host.id = force null; };
    };
    executor-no-remotes = {
      stage = "assertion";
      expect = "executor needs settings.source.allowed_remotes";
      config = daoSettings { source.allowed_remotes = force [ ]; };
    };
    executor-no-key = {
      stage = "assertion";
      expect = "executor needs keyFile";
      config = dao { keyFile = force null; };
    };
    executor-switch-direct = {
      stage = "assertion";
      expect = "switch_mode = \"direct\" cannot work on NixOS";
      config = daoSettings { executor.switch_mode = "direct"; };
    };
    executor-without-nix = {
      stage = "assertion";
      expect = "it needs nix.enable = true";
      config = {
        nix.enable = false;
      };
    };
    host-name-invalid = {
      stage = "validate";
      expect = "host.name: \"web 1\" is not a host name";
      config = daoSettings { host.name = "web 1"; };
    };
    flake-output-invalid = {
      stage = "validate";
      expect = "host.flake_output: \".#web-1\" is not a flake output attribute path";
      config = daoSettings { host.flake_output = ".#web-1"; };
    };
    operator-group-invalid = {
      stage = "validate";
      expect = "executor.operator_group: \"Ops\" is not a group name";
      config = dao { operatorGroup = "Ops"; };
    };

    # --- remotes -----------------------------------------------------------------------------
    remote-ssh = {
      stage = "assertion";
      expect = "allowed_remotes has \"ssh://git@git.example.org/fleet/infra.git\": the agent fetches only over https, http, git, file URLs";
      config = daoSettings {
        source.allowed_remotes = force [ "ssh://git@git.example.org/fleet/infra.git" ];
      };
    };
    remote-scp-style = {
      stage = "assertion";
      expect = "allowed_remotes has \"git@git.example.org:fleet/infra.git\"";
      config = daoSettings { source.allowed_remotes = force [ "git@git.example.org:fleet/infra.git" ]; };
    };
    remote-git-ssh = {
      stage = "assertion";
      expect = "allowed_remotes has \"git+ssh://git.example.org/fleet/infra.git\"";
      config = daoSettings {
        source.allowed_remotes = force [ "git+ssh://git.example.org/fleet/infra.git" ];
      };
    };
    remote-no-host = {
      stage = "assertion";
      expect = "allowed_remotes has \"https:///fleet/infra.git\"";
      config = daoSettings { source.allowed_remotes = force [ "https:///fleet/infra.git" ]; };
    };

    # --- health ------------------------------------------------------------------------------
    health-checks-nothing = {
      stage = "assertion";
      expect = "settings.executor.health checks nothing";
      config = daoSettings {
        executor.health = {
          required_units = force [ ];
          check_chain = false;
          check_remote = false;
        };
      };
    };
    health-unit-not-on-host = {
      stage = "build";
      expect = "required_units names nginx.service, which\nthis system does not have";
      config = daoSettings { executor.health.required_units = [ "nginx.service" ]; };
    };
    health-unit-not-a-unit = {
      stage = "validate";
      expect = "executor.health.required_units[1]: \"nginx\" is not a systemd unit name";
      config = daoSettings { executor.health.required_units = [ "nginx" ]; };
    };
    health-command-relative = {
      stage = "validate";
      expect = "executor.health.command[0]: \"curl\" must be an absolute path";
      config = daoSettings {
        executor.health.command = [
          "curl"
          "http://127.0.0.1/"
        ];
      };
    };
    health-command-string = {
      stage = "type";
      expect = "services.dao-governance.settings.executor.health.command' is not of type `null or (list of string)'";
      config = daoSettings { executor.health.command = "/run/current-system/sw/bin/true"; };
    };
    timeout-malformed = {
      stage = "type";
      expect = "services.dao-governance.settings.executor.health.timeout' is not of type `string matching the pattern";
      config = daoSettings { executor.health.timeout = "90"; };
    };
    timeout-zero = {
      stage = "validate";
      expect = "executor.switch_timeout: must be more than 0s and at most 7d";
      config = daoSettings { executor.switch_timeout = "0s"; };
    };

    # --- secrets -----------------------------------------------------------------------------
    key-in-store = {
      stage = "type";
      expect = "services.dao-governance.keyFile' is not of type `null or absolute path not in the Nix store'";
      config = dao { keyFile = force "${builtins.storeDir}/00000000000000000000000000000000-key"; };
    };
    key-nix-path = {
      stage = "type";
      expect = "services.dao-governance.keyFile' is not of type `null or absolute path not in the Nix store'";
      config = dao { keyFile = force /run/keys/dao-account-key; };
    };
    key-relative = {
      stage = "type";
      expect = "services.dao-governance.keyFile' is not of type `null or absolute path not in the Nix store'";
      config = dao { keyFile = force "keys/dao-account-key"; };
    };
    token-in-store = {
      stage = "type";
      expect = "services.dao-governance.algodTokenFile' is not of type `null or absolute path not in the Nix store'";
      config = dao { algodTokenFile = "${builtins.storeDir}/00000000000000000000000000000000-token"; };
    };

    # --- a watcher-only host with the executor's options --------------------------------------
    watcher-only-key = {
      stage = "assertion";
      expect = "services.dao-governance.keyFile is set, but only the executor reads it";
      config.imports = [
        watcherOnly
        (dao { keyFile = force "/run/keys/dao-account-key"; })
      ];
    };
    watcher-only-host-id = {
      stage = "assertion";
      expect = "services.dao-governance.settings.host.id is set, but only the executor reads it";
      config.imports = [
        watcherOnly
        (daoSettings { host.id = force 1; })
      ];
    };
    watcher-only-remotes = {
      stage = "assertion";
      expect = "services.dao-governance.settings.source.allowed_remotes is set, but only the executor and the validator read it";
      config.imports = [
        watcherOnly
        (daoSettings { source.allowed_remotes = force [ "https://git.example.org/fleet/infra.git" ]; })
      ];
    };
    watcher-only-operator-group = {
      stage = "assertion";
      expect = "services.dao-governance.operatorGroup is set, but only the executor reads it";
      config.imports = [
        watcherOnly
        (dao { operatorGroup = "dao-operators"; })
      ];
    };
    watcher-only-checkout-dir = {
      stage = "assertion";
      expect = "services.dao-governance.settings.source.checkout_dir is set, but only the executor reads it";
      config.imports = [
        watcherOnly
        (daoSettings { source.checkout_dir = "/var/lib/dao-checkout"; })
      ];
    };
  };

  evalHost =
    modules:
    import (nixpkgs + "/nixos/lib/eval-config.nix") {
      inherit system;
      modules = [
        ../modules/dao-governance.nix
        valid
      ]
      ++ modules;
    };

  refusals =
    case:
    let
      inherit (evalHost [ case.config ]) config;
      etc = config.environment.etc;
    in
    {
      assertion = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
      # Forces every option's value: a type error stops the evaluation here.
      type =
        let
          cfg = config.services.dao-governance;
        in
        builtins.deepSeq [
          cfg.settings
          cfg.keyFile
          cfg.algodTokenFile
          cfg.operatorGroup
          cfg.validator
        ] (map (a: a.message) (lib.filter (a: !a.assertion) config.assertions));
      build = map (c: c.message or c.name) config.system.checks;
      validate = map (role: builtins.toJSON etc."dao-governance/${role}.toml".source.settings) (
        lib.filter (role: etc ? "dao-governance/${role}.toml") [
          "watcher"
          "executor"
          "validator"
        ]
      );
      warning = config.warnings;
    }
    .${case.stage};
in
{
  inherit cases;
  names = lib.attrNames cases;

  # The correct host must pass: no failed assertion, no check of ours, valid files.
  valid = refusals {
    stage = "assertion";
    config = { };
  };

  # The generated configuration files of the correct host, for validate-config.
  validFiles = refusals {
    stage = "validate";
    config = { };
  };

  # A host with every secret set and every role on: the generated files name no secret's path
  # (the agent reads the credentials from $CREDENTIALS_DIRECTORY), and each unit is handed the
  # credentials it reads. nix/misconfigurations.py checks both and runs validate-config.
  credentials =
    let
      inherit
        (evalHost [
          validatorHost
          (dao {
            executor.enable = lib.mkForce true;
            keyFile = lib.mkForce "/run/keys/dao-account-key";
            settings.host.id = lib.mkForce 1;
            algodTokenFile = "/run/keys/algod-token";
          })
        ])
        config
        ;
      etc = config.environment.etc;
      units = [
        "watcher"
        "executor"
        "validator"
      ];
    in
    {
      files = lib.genAttrs units (
        role: builtins.toJSON etc."dao-governance/${role}.toml".source.settings
      );
      loadCredential = lib.genAttrs units (
        role: config.systemd.services."dao-${role}".serviceConfig.LoadCredential
      );
    };

  # The same for a correct validator's machine: no failed assertion, no warning, valid files.
  validValidator = refusals {
    stage = "assertion";
    config = validatorHost;
  };
  validValidatorWarnings = refusals {
    stage = "warning";
    config = validatorHost;
  };
  validValidatorFiles = refusals {
    stage = "validate";
    config = validatorHost;
  };

  stages = lib.mapAttrs (
    _: case:
    {
      inherit (case) stage expect;
    }
    // lib.optionalAttrs (case ? needs) { inherit (case) needs; }
  ) cases;

  run = lib.mapAttrs (_: case: {
    inherit (case) stage expect;
    refusals = refusals case;
  }) cases;
}
