# The customisation layer made by commands: contents, accounts and
# directories made on disk, then includeNixDB, extraCommands (in the root,
# unprivileged) and fakeRootCommands (under fakeroot, so chown sticks). The
# modes and owners are recorded beside the tree, for the image to use.
{ strataDerivation, tools }:
{
  name,
  spec,
  extraCommands,
  fakeRootCommands,
  includeNixDB,
}:
if tools == null then
  throw "strata: extraCommands, fakeRootCommands and includeNixDB run a shell, fakeroot and nix from nixpkgs; import the strata library with `pkgs`"
else
  strataDerivation (
    spec.builderAttrs
    // {
      name = "${baseNameOf name}-customisation";
      step = "customise";
      inherit (tools) shell fakeroot;
      commandsPath = tools.path;
      inherit extraCommands fakeRootCommands;
    }
    // (if includeNixDB then { inherit (tools) nixStore sqlite; } else { })
  )
