# The reference of every services.dao-governance option, as markdown, generated from the
# module's declarations. docs/nixos.md holds a copy between the markers below; the flake check
# `module-options-doc` fails when the two differ, so the documentation cannot drift from the
# module. Refresh the copy with the text of
#   nix eval --raw .#checks.x86_64-linux.module-options-doc.markdown
{
  lib,
  pkgs,
  runCommand,
  writeText,
}:

let
  begin = "<!-- options:begin (generated from modules/dao-governance.nix by nix/options-doc.nix) -->";
  end = "<!-- options:end -->";

  eval = lib.evalModules {
    modules = [
      ../modules/dao-governance.nix
      {
        _module.args.pkgs = pkgs;
        # Only the declarations matter here: the module's config refers to NixOS options.
        _module.check = false;
      }
    ];
  };

  options = lib.filter (
    o: o.visible && !o.internal && lib.hasPrefix "services.dao-governance." o.name
  ) (lib.optionAttrSetToDocList eval.options);

  # MyST roles do not render on forges: `{option}`x`` becomes `x`.
  plain =
    builtins.replaceStrings
      [ "{option}`" "{file}`" "{var}`" "{command}`" ]
      [ "`" "`" "`" "`" ];

  field =
    label: v:
    let
      text = lib.trim v.text;
    in
    if v._type or null == "literalMD" then
      "*${label}:* ${plain text}"
    else if lib.hasInfix "\n" text then
      "*${label}:*\n\n```nix\n${text}\n```"
    else
      "*${label}:* `${text}`";

  render =
    o:
    lib.concatStringsSep "\n\n" (
      [
        "### `${o.name}`"
        (lib.trim (plain o.description))
        "*Type:* ${o.type}"
      ]
      ++ lib.optional (o ? default) (field "Default" o.default)
      ++ lib.optional (o ? example) (field "Example" o.example)
    );

  markdown = lib.concatMapStringsSep "\n\n" render options + "\n";

  undocumented = lib.filter (o: (o.description or null) == null || o.description == "") options;

  # The copy in docs/nixos.md, between the markers.
  afterBegin = lib.elemAt (lib.splitString begin (builtins.readFile ../docs/nixos.md)) 1;
  documented = lib.head (lib.splitString end afterBegin);
in
assert lib.assertMsg (
  undocumented == [ ]
) "options without a description: ${toString (map (o: o.name) undocumented)}";
runCommand "module-options-doc"
  {
    passthru = {
      inherit markdown;
      upToDate = lib.trim documented == lib.trim markdown;
    };
  }
  ''
    if ! diff -u ${writeText "documented.md" (lib.trim documented)} ${writeText "generated.md" (lib.trim markdown)}; then
      echo "docs/nixos.md: the option reference differs from the module's declarations." >&2
      echo "Replace the text between its options markers with the output of" >&2
      echo "  nix eval --raw .#checks.${pkgs.stdenv.hostPlatform.system}.module-options-doc.markdown" >&2
      exit 1
    fi
    touch $out
  ''
