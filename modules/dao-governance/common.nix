# What the parts of services.dao-governance share (../dao-governance.nix, ./executor.nix,
# ./validator.nix): types, the generated configuration files, credentials and the sandbox. Not
# a module: each part imports it with its own module arguments.
{
  config,
  lib,
  pkgs,
}:

let
  inherit (lib) mkOption types;

  cfg = config.services.dao-governance;
  settingsFormat = pkgs.formats.toml { };

  inStore = p: lib.hasPrefix "${builtins.storeDir}/" (toString p);
in
rec {
  inherit cfg settingsFormat;

  # A file on the host, never in the world-readable store: a string naming an absolute path
  # outside it (a Nix path such as ./key is refused, as interpolating it would copy the secret
  # into the store). types.externalPath is in nixpkgs from 25.11, types.pathWith from 25.05;
  # secretAssertions below say the same on older releases.
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

  # Assertions about a secret's path. Nix paths (./key) are refused: interpolating one copies
  # the secret into the world-readable Nix store.
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

  durationType = types.strMatching "([0-9]+(ms|s|m|h|d))+";

  duration =
    default: description:
    mkOption {
      type = durationType;
      inherit default description;
      example = "1h30m";
    };

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

  stateDir = cfg.settings.state_dir;
  stateDirName = lib.removePrefix "/var/lib/" stateDir;

  # `settings`, as the agent reads it: options left at null are omitted, so the agent's own
  # defaults (docs/configuration.md) apply.
  withoutNulls = lib.filterAttrsRecursive (_: v: v != null);

  # Secrets reach the units only as systemd credentials (LoadCredential=), and the generated
  # files name no path to them: the agent reads `account-key` and `algod-token` from
  # $CREDENTIALS_DIRECTORY when its configuration names no file (agent/daemon/src/daemon/
  # credentials.rs). A path such as /run/credentials/<unit>/… in the file would tie it to one
  # unit name and one systemd layout; `%d` would say the same but is expanded only in unit
  # settings, never in a file the unit reads.
  algodTokenCredential = lib.optional (
    cfg.algodTokenFile != null
  ) "algod-token:${toString cfg.algodTokenFile}";

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

  # The sandbox every unit shares; each adds what its role needs.
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

  # What the unprivileged units (the watcher, the validator) add: no capability at all, no
  # view of other users, their IPC removed when they stop.
  unprivilegedHardening = {
    DynamicUser = true;
    CapabilityBoundingSet = [ "" ];
    AmbientCapabilities = [ "" ];
    DevicePolicy = "closed";
    MemoryDenyWriteExecute = true;
    PrivateIPC = true;
    PrivateUsers = true;
    RemoveIPC = true;
  };

  # Options that only some roles read, set on a host where none of them runs: they would be
  # silently ignored. `options` is a list of { name, set }; `roles` names the readers.
  unreadAssertion =
    {
      roles,
      enabled,
      options,
    }:
    let
      set = lib.filter (o: o.set) options;
      names = lib.concatMapStringsSep ", " (o: "services.dao-governance.${o.name}") set;
      enable = r: "services.dao-governance.${r}.enable";
      one = lib.length roles == 1;
      role = lib.head roles;
      readers = if one then "the ${role} reads" else "the ${lib.concatStringsSep " and the " roles} read";
      off =
        if one then
          "the ${role} is off on this host (${enable role} = false)"
        else
          "none of them runs on this host (${lib.concatMapStringsSep ", " enable roles} are false)";
      fix = lib.concatMapStringsSep " or " (r: "${enable r} = true") roles;
    in
    lib.optional (!enabled) {
      assertion = set == [ ];
      message = ''
        ${names} is set, but only ${readers} it,
        and ${off}: it would be silently ignored.
        Set ${fix}, or remove it.'';
    };
}
