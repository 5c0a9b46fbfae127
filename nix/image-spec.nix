# Checks an image's arguments and resolves their defaults (tag, architecture,
# "now") into a JSON file. The file refers to every store path the image
# needs, so its closure is the image's closure; the image derivations export
# that closure and leave the file itself out of the layers.
{ strataDerivation }:
image:
let
  file = strataDerivation {
    name = "${baseNameOf image.name}-spec.json";
    step = "spec";
    inherit image;
  };
  hashOf = path: builtins.substring 0 32 (baseNameOf (builtins.unsafeDiscardStringContext path));
in
{
  inherit file;
  imageName = image.name;
  # As in dockerTools: without a tag, the hash of a store path of the image.
  imageTag = if image.tag != null then image.tag else hashOf file.outPath;
  # What an image derivation needs to read the spec and its closure.
  builderAttrs = {
    specFile = file;
    exportReferencesGraph.closure = [ file ];
  };
}
