# The fleet every VM test runs, as a module of a NixOS test (pkgs.testers.runNixOSTest).
#
# Nodes:
#   chain    the devnet: an algod-compatible REST endpoint over go-algorand's evaluator
#   git      nginx serving the governed repository over HTTPS (git-http-backend, a test CA
#            every node trusts): https://git/fleet.git; also the members' workstation, where
#            they commit, propose and vote with dao-agentctl
#   <host>   one node per `fleet.hosts` entry, running the agent as the module's units from
#            boot, installed on a disk with a boot loader like a real host
#   <validator>  one node per `fleet.validators` entry: the validator role (and the watcher)
#            for every host of the fleet, a machine of its own that never switches
#
# The governed repository is a flake whose nixosConfigurations are these very test nodes: its
# flake.nix (./governed.nix) evaluates this file with the same `fleet.hosts` (fleet.json) and
# the host modules of its own commit (hosts/<name>.nix). Every toplevel a test expects a host to
# switch to is evaluated here as well and placed in that host's store, so the agent's real
# `nix build` inside the VM evaluates the governed flake and finds its result already built:
# the VMs have no network and build nothing. (nixpkgs' nixos-rebuild tests pre-load the build
# closure with system.includeBuildDependencies instead, at 13 GiB per VM.) The exception is
# `fleet.unbuilt`: those toplevels are built inside the VMs, each machine on its own, from the
# inputs of the toplevel's own derivation, which are placed in the stores instead.
{
  config,
  lib,
  hostPkgs,
  extendModules,
  ...
}:

let
  inherit (lib) mkOption types;

  cfg = config.fleet;

  # The app `dao-agentctl form` creates first on a fresh devnet: the devnet numbers apps by its
  # transaction counter, and forming is the first transaction. The tests check it.
  appId = 10001;
  repoUrl = "https://git/fleet.git";

  # A test CA and the git node's certificate, made once at build time. The hosts trust the CA
  # as a site would its own (security.pki.certificateFiles).
  certs =
    hostPkgs.runCommand "fleet-test-certs"
      {
        nativeBuildInputs = [ hostPkgs.openssl ];
      }
      ''
        mkdir $out
        openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=fleet test CA" \
          -keyout ca.key -out $out/ca.crt
        openssl req -newkey rsa:2048 -nodes -subj "/CN=git" -keyout $out/git.key -out git.csr
        printf 'subjectAltName=DNS:git\nextendedKeyUsage=serverAuth\n' > ext.cnf
        openssl x509 -req -in git.csr -CA $out/ca.crt -CAkey ca.key -CAcreateserial -days 36500 \
          -extfile ext.cnf -out $out/git.crt
      '';

  package = hostPkgs.callPackage ../../nix/package.nix { };
  devnet = hostPkgs.callPackage ../../nix/devnet.nix { };

  hostNames = lib.attrNames cfg.hosts;

  # The toplevel `host` runs at `commit`: this test evaluated again with the host module of
  # that commit, exactly as the governed flake evaluates it inside the VM.
  toplevelAt =
    host: commit:
    (extendModules {
      modules = [ { fleet.hosts.${host}.module = lib.mkForce cfg.commits.${commit}.${host}; } ];
    }).config.nodes.${host}.system.build.toplevel;

  commitsOf = host: lib.filter (c: cfg.commits.${c} ? ${host}) (lib.attrNames cfg.commits);
  builtCommitsOf = host: lib.filter (c: !(lib.elem c cfg.unbuilt)) (commitsOf host);
  unbuiltCommitsOf = host: lib.filter (c: lib.elem c cfg.unbuilt) (commitsOf host);

  # What building `host`'s toplevel at `commit` needs, without the toplevel itself: a file
  # naming every input of its derivation (its references are exactly those inputs' outputs).
  # With it in a store, that machine builds only the toplevel derivation itself.
  buildInputsAt =
    host: commit:
    hostPkgs.writeText "fleet-${host}-${commit}-build-inputs" (
      builtins.toJSON (toplevelAt host commit).drvAttrs
    );

  # The toplevels a machine finds already built, and the build inputs of those it builds.
  storePathsFor =
    hosts: withBuildInputs:
    lib.concatMap (
      host:
      map (toplevelAt host) (builtCommitsOf host)
      ++ map (buildInputsAt host) (
        if withBuildInputs then commitsOf host else unbuiltCommitsOf host
      )
    ) hosts;

  # What fleet.json holds: enough for the governed flake to evaluate the same nodes.
  hostsJson = lib.mapAttrs (_: h: { inherit (h) id executor; }) cfg.hosts;

  # Host N signs with devN+3 (dev1..dev3 are the members); the validators come after the
  # highest host id.
  maxHostId = lib.foldl' lib.max 0 (lib.mapAttrsToList (_: h: h.id) cfg.hosts);
  validatorAccounts = lib.listToAttrs (
    lib.imap1 (i: name: lib.nameValuePair name "dev${toString (maxHostId + 3 + i)}") cfg.validators
  );
  accounts = lib.max 6 (maxHostId + 3 + lib.length cfg.validators);

  lockNode = src: {
    flake = false;
    locked = {
      type = "path";
      path = src.outPath;
      inherit (src) narHash;
    };
    original = {
      type = "path";
      path = src.outPath;
    };
  };

  governedFlake = hostPkgs.writeText "flake.nix" ''
    # The fleet of the nixos-dao-governance VM tests (written by checks/lib/fleet.nix).
    {
      inputs = {
        nixpkgs = {
          url = "path:${cfg.sources.nixpkgs.outPath}";
          flake = false;
        };
        dao = {
          url = "path:${cfg.sources.dao.outPath}";
          flake = false;
        };
      };
      outputs =
        { self, nixpkgs, dao }:
        {
          nixosConfigurations = import "''${dao}/checks/lib/governed.nix" {
            inherit nixpkgs;
            repo = self;
          };
        };
    }
  '';

  governedLock = hostPkgs.writeText "flake.lock" (
    builtins.toJSON {
      nodes = {
        nixpkgs = lockNode cfg.sources.nixpkgs;
        dao = lockNode cfg.sources.dao;
        root.inputs = {
          nixpkgs = "nixpkgs";
          dao = "dao";
        };
      };
      root = "root";
      version = 7;
    }
  );

  # Short periods and the shortest timelock the app allows (10 s): a proposal the first member
  # approves can be finalized at once and applied 10 s later.
  rules = hostPkgs.writeText "rules.toml" ''
    voting_delay = 0
    voting_period = 600
    support_ppm = 500000
    quorum_ppm = 200000
    emergency_period = 60
    emergency_support_ppm = 666667
    timelock = 10
    grace_period = 86400
    min_proposer_weight = 1
    vote_cap_ppm = 0
    proposal_bond = 0
    heartbeat_interval = 86400
  '';

  # What the test script knows of the fleet (checks/lib/fleet.py reads it).
  fleetData = {
    inherit appId repoUrl;
    hosts = hostsJson;
    genesis = {
      "flake.nix" = "${governedFlake}";
      "flake.lock" = "${governedLock}";
      "fleet.json" = "${
        hostPkgs.writeText "fleet.json" (
          builtins.toJSON {
            hosts = hostsJson;
            inherit (cfg) validators;
            inherit (hostPkgs.stdenv.hostPlatform) system;
          }
        )
      }";
    }
    // lib.mapAttrs' (name: h: lib.nameValuePair "hosts/${name}.nix" "${h.module}") cfg.hosts;
    commits = lib.mapAttrs (
      _: hosts: lib.mapAttrs' (name: file: lib.nameValuePair "hosts/${name}.nix" "${file}") hosts
    ) cfg.commits;
    # Not those of fleet.unbuilt: each machine builds its own.
    toplevels = lib.genAttrs hostNames (
      name:
      {
        genesis = "${config.nodes.${name}.system.build.toplevel}";
      }
      // lib.genAttrs (builtCommitsOf name) (toplevelAt name)
    );
    validators = validatorAccounts;
    inherit (cfg) attestation;
    rules = "${rules}";
    tamper = "${./propose_tampered.py}";
    fund = "${./fund_app.py}";
    python = "${devnet.python}/bin/python3";
  };

  hostNode =
    name: host:
    { lib, pkgs, ... }:
    {
      imports = [
        ../../modules/dao-governance.nix
        # The governed part of this host, from the commit it runs.
        host.module
      ];

      # The agent switches the host as on a real one: the switch script (VM tests leave it
      # out by default), and a disk installed with GRUB and the system profile at generation 1
      # (virtualisation.useBootLoader), so that a switch installs the boot loader's menu and a
      # reboot boots the profile's generation.
      system.switch.enable = true;

      virtualisation = {
        useBootLoader = true;
        diskSize = 8192;
        cores = 2;
        # The executor evaluates the governed flake (all of a NixOS test) inside the VM.
        memorySize = if host.executor then 4096 else 1024;
        # The governed flake's inputs, every toplevel this host is expected to switch to and
        # what it needs to build those of fleet.unbuilt itself.
        additionalPaths = [
          cfg.sources.nixpkgs.outPath
          cfg.sources.dao.outPath
        ]
        ++ storePathsFor [ name ] false;
      };

      security.pki.certificateFiles = [ "${certs}/ca.crt" ];

      nix.settings = {
        substituters = lib.mkForce [ ];
        hashed-mirrors = null;
        connect-timeout = 1;
      };

      environment.systemPackages = [ pkgs.jq ];

      users.users = {
        # In the operator group: may pause, resume and roll back.
        alice = {
          isNormalUser = true;
          extraGroups = [ "dao-operators" ];
        };
        # Not: the agent refuses her.
        mallory.isNormalUser = true;
      };

      # The agents start at boot, as on a real host. Until the members form the DAO and the
      # test script writes the secrets (the devnet makes the accounts and the token when it
      # starts), they exit and systemd restarts them every 10 s (Restart=on-failure).
      services.dao-governance = lib.mkMerge [
        following
        (lib.mkIf host.executor {
          executor.enable = true;
          keyFile = "/var/lib/dao-secrets/account-key";
          operatorGroup = "dao-operators";
          settings = {
            host.id = host.id;
            source.allowed_remotes = [ repoUrl ];
            executor = {
              build_timeout = "30m";
              health = {
                timeout = "30s";
                # Defined by the governed host module (checks/fleet/*.nix).
                required_units = [ "fleet-web.service" ];
              };
            };
          };
        })
      ];
    };

  # What every agent of the fleet follows.
  following = {
    enable = true;
    algodTokenFile = "/var/lib/dao-secrets/algod-token";
    settings.chain = {
      algod_url = "http://chain:4001";
      app_id = appId;
      network = "devnet";
    };
  };

  # A validator: a machine of its own that builds every proposal for every host of the
  # fleet and attests the result. Its unit starts at boot and is restarted until the test
  # writes its key, as the hosts' agents are.
  validatorNode =
    { lib, pkgs, ... }:
    {
      imports = [ ../../modules/dao-governance.nix ];

      virtualisation = {
        diskSize = 8192;
        cores = 2;
        # It evaluates the governed flake (all of a NixOS test), as an executor does.
        memorySize = 4096;
        # Its builds and the derivations its evaluations write go to the disk, not to RAM.
        writableStoreUseTmpfs = false;
        # The governed flake's inputs, the toplevels the hosts find already built (so must
        # it) and what it needs to build each toplevel itself.
        additionalPaths = [
          cfg.sources.nixpkgs.outPath
          cfg.sources.dao.outPath
        ]
        ++ storePathsFor hostNames true;
      };

      security.pki.certificateFiles = [ "${certs}/ca.crt" ];

      nix.settings = {
        substituters = lib.mkForce [ ];
        hashed-mirrors = null;
        connect-timeout = 1;
      };

      environment.systemPackages = [ pkgs.jq ];

      services.dao-governance = lib.mkMerge [
        following
        {
          validator = {
            enable = true;
            keyFile = "/var/lib/dao-secrets/validator-key";
            hosts = lib.mapAttrsToList (name: host: {
              inherit (host) id;
              inherit name;
            }) cfg.hosts;
            buildTimeout = "30m";
          };
          settings.source.allowed_remotes = [ repoUrl ];
        }
      ];
    };
in
{
  options.fleet = {
    hosts = mkOption {
      description = "The hosts running the agent, by node name.";
      type = types.attrsOf (
        types.submodule {
          options = {
            id = mkOption {
              type = types.ints.positive;
              description = "The host's id in the app.";
            };
            executor = mkOption {
              type = types.bool;
              default = true;
              description = "Whether the host runs the executor (every host runs the watcher).";
            };
            module = mkOption {
              type = types.path;
              default = ../fleet/genesis.nix;
              description = "The governed part of the host's configuration, at the commit it runs.";
            };
          };
        }
      );
    };

    validators = mkOption {
      description = ''
        The validators' nodes: each runs the validator role for every host. `dao-agentctl form`
        adds their accounts to the app's validator set, with the policy `fleet.attestation`.
      '';
      type = types.listOf types.str;
      default = [ ];
    };

    attestation = {
      quorum = mkOption {
        description = "How many validators must agree on a host's closure before it switches.";
        type = types.ints.unsigned;
        default = lib.length cfg.validators;
        defaultText = "the number of validators";
      };
      reward = mkOption {
        description = "What a validator earns (µAlgo) per host its attestation agreed for.";
        type = types.ints.unsigned;
        default = 1000000;
      };
    };

    unbuilt = mkOption {
      description = ''
        Commits of `fleet.commits` whose toplevels the machines build themselves, each on its
        own (to test builds that differ between machines): only the inputs of the toplevel's
        derivation are placed in the stores.
      '';
      type = types.listOf types.str;
      default = [ ];
    };

    commits = mkOption {
      description = ''
        Commits the test makes to the governed repository, by name: for each, the host modules
        it changes (each replaces hosts/<name>.nix of genesis). fleet.py's commit() makes them.
      '';
      type = types.attrsOf (types.attrsOf types.path);
      default = { };
    };

    sources = mkOption {
      description = "The store paths and NAR hashes of nixpkgs and of this repository, which the governed flake locks.";
      type = types.attrsOf (
        types.submodule {
          options = {
            outPath = mkOption { type = types.str; };
            narHash = mkOption { type = types.str; };
          };
        }
      );
    };

    helpers = mkOption {
      description = "Python prepended to the test script: the fleet's data and checks/lib/fleet.py.";
      type = types.str;
      readOnly = true;
    };
  };

  config = {
    fleet.helpers = ''
      import json

      FLEET = json.loads(${builtins.toJSON (builtins.toJSON fleetData)})
      HOSTS = {${lib.concatMapStringsSep ", " (n: ''"${n}": ${n}'') hostNames}}
      VALIDATORS: dict[str, Machine] = {${lib.concatMapStringsSep ", " (n: ''"${n}": ${n}'') cfg.validators}}
    ''
    + builtins.readFile ./fleet.py;

    nodes = {
      chain =
        { pkgs, ... }:
        {
          environment.systemPackages = [
            devnet
            pkgs.curl
          ];
          systemd.services.dao-devnet = {
            description = "The devnet: algod's REST API over go-algorand's evaluator";
            wantedBy = [ "multi-user.target" ];
            # As root: it binds its evaluator's scratch directory in a private mount namespace.
            serviceConfig.ExecStart = "${lib.getExe devnet} --port 4002 --state-dir /var/lib/dao-devnet --accounts ${toString accounts} --block-interval 1s";
          };
          # The devnet listens on 127.0.0.1 only; the other nodes reach it through this.
          systemd.services.dao-devnet-proxy = {
            description = "Forwards port 4001 to the devnet on 127.0.0.1:4002";
            wantedBy = [ "multi-user.target" ];
            after = [ "dao-devnet.service" ];
            serviceConfig.ExecStart = "${pkgs.socat}/bin/socat TCP-LISTEN:4001,fork,reuseaddr TCP:127.0.0.1:4002";
          };
          networking.firewall.allowedTCPPorts = [ 4001 ];
        };

      # Smart HTTP over TLS, as a forge serves a repository: nginx hands the git requests to
      # git-http-backend through fcgiwrap, which runs it as user git.
      git =
        { config, pkgs, ... }:
        {
          users.users.git = {
            isSystemUser = true;
            group = "git";
            home = "/srv/git";
            createHome = true;
          };
          users.groups.git = { };

          services.fcgiwrap.instances.git = {
            process = {
              user = "git";
              group = "git";
            };
            socket = {
              inherit (config.services.nginx) user group;
            };
          };

          services.nginx = {
            enable = true;
            virtualHosts.git = {
              onlySSL = true;
              sslCertificate = "${certs}/git.crt";
              sslCertificateKey = "${certs}/git.key";
              locations."~ ^/[^/]+\\.git/(info/refs|git-upload-pack)$" = {
                fastcgiParams = {
                  SCRIPT_FILENAME = "${pkgs.git}/libexec/git-core/git-http-backend";
                  GIT_PROJECT_ROOT = "/srv/git";
                  GIT_HTTP_EXPORT_ALL = "1";
                  PATH_INFO = "$uri";
                };
                extraConfig = "fastcgi_pass unix:${config.services.fcgiwrap.instances.git.socket.address};";
              };
            };
          };

          security.pki.certificateFiles = [ "${certs}/ca.crt" ];
          networking.firewall.allowedTCPPorts = [ 443 ];
          environment.systemPackages = [
            package
            pkgs.git
            pkgs.jq
          ];
        };
    }
    // lib.mapAttrs hostNode cfg.hosts
    // lib.genAttrs cfg.validators (_: validatorNode);
  };
}
