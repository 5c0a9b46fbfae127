# An image function: the arguments of nixpkgs dockerTools' image functions,
# passed to strata, and the derivation that runs one strata step over them.
{
  strataDerivation,
  imageSpec,
  strataBin,
}:
{
  # The strata builder step: "archive" or "stream-script".
  step,
  # The derivation's name from the image's base name and format.
  derivationName,
  # The layering when the caller gives none.
  defaultLayering,
}:
{
  name,
  tag ? null,
  contents ? [ ],
  copyToRoot ? null,
  config ? { },
  created ? "1970-01-01T00:00:01Z",
  mtime ? "1970-01-01T00:00:01Z",
  maxLayers ? 100,
  layering ? defaultLayering,
  architecture ? null,
  uid ? 0,
  gid ? 0,
  uname ? "root",
  gname ? "root",
  includeStorePaths ? true,
  # Layers of buildLayer, bottom first, below the automatic ones.
  layers ? [ ],
  # Store paths, or regular expressions over them, to leave out.
  excludePaths ? [ ],
  # Layer compression: "none", "gz" or "zstd", and its level.
  compressor ? "gz",
  compressionLevel ? null,
  # "docker" (an archive docker and podman load), "oci-archive" or
  # "oci-dir" (a directory).
  format ? "docker",
  passthru ? { },
  meta ? { },
}:
let
  roots = if copyToRoot != null then copyToRoot else contents;
  layerSpec =
    layer:
    if layer._type or null == "strataLayer" then
      { inherit (layer) deps copyToRoot; }
    else
      throw "strata: every entry of `layers` must come from buildLayer";
  spec = imageSpec {
    inherit
      name
      tag
      config
      created
      mtime
      maxLayers
      layering
      architecture
      uid
      gid
      uname
      gname
      includeStorePaths
      compressor
      compressionLevel
      format
      ;
    contents = if builtins.isList roots then roots else [ roots ];
    layers = map layerSpec layers;
    excludePaths = map toString excludePaths;
  };
  result = strataDerivation (
    spec.builderAttrs
    // {
      name = derivationName (baseNameOf name) format;
      inherit step;
    }
    # A stream script's interpreter is strata.
    // (if step == "stream-script" then { interpreter = strataBin; } else { })
  );
  allPassthru = passthru // {
    inherit (spec) imageName imageTag;
    # The layering plan (JSON), for `strata explain --plan`.
    plan = strataDerivation (
      spec.builderAttrs
      // {
        name = "${baseNameOf name}-plan.json";
        step = "plan";
      }
    );
  };
in
result // allPassthru // { passthru = allPassthru; inherit meta; }
