# buildImageIndex: one image name for several platforms. Its images are
# those of buildImage or buildLayeredImage, each built for its own platform
# (`architecture`, and `variant` where it matters); the index is an OCI
# layout, an archive or a directory, whose index names each platform's
# manifest. Its scripts push every platform, or load the engine's own.
{ strataDerivation, makeScript }:
{
  images,
  # The images' own name by default.
  name ? null,
  # Without a tag, a hash of the images.
  tag ? null,
  annotations ? { },
  # "oci-archive" or "oci-dir".
  format ? "oci-archive",
  passthru ? { },
  meta ? { },
}:
let
  culprit = image: if builtins.isAttrs image then image.name or "an attribute set" else builtins.typeOf image;
  checkImage =
    image:
    if !(builtins.isAttrs image && image ? strataImage) then
      throw "strata: buildImageIndex: ${culprit image} is not an image of buildImage or buildLayeredImage; every entry of `images` must be one"
    else if image.strataImage == "stream" then
      throw "strata: buildImageIndex: ${image.name} is a stream of streamLayeredImage, which is not in the store; index images of buildLayeredImage"
    else
      image;
  checked =
    if !builtins.isList images || images == [ ] then
      throw "strata: buildImageIndex: `images` must be a non-empty list of images"
    else
      map checkImage images;
  imageNames = builtins.attrNames (
    builtins.listToAttrs (
      map (image: {
        name = image.imageName;
        value = null;
      }) checked
    )
  );
  indexName =
    if builtins.length imageNames > 1 then
      throw "strata: buildImageIndex: the images have different names (${builtins.concatStringsSep ", " imageNames}); an index is one image name for several platforms"
    else if name != null then
      name
    else
      builtins.head imageNames;
  indexTag =
    if tag != null then
      tag
    else
      builtins.substring 0 32 (
        builtins.hashString "sha256" (
          builtins.unsafeDiscardStringContext (builtins.concatStringsSep " " (map toString checked))
        )
      );
  checkedFormat =
    if format == "oci-archive" || format == "oci-dir" then
      format
    else
      throw "strata: buildImageIndex: format must be \"oci-archive\" or \"oci-dir\", not \"${toString format}\" (an index is an OCI layout; copyToDockerDaemon loads the engine's own platform)";
  indexSpec = {
    name = indexName;
    tag = indexTag;
    inherit annotations;
    format = checkedFormat;
  };
  baseName = baseNameOf indexName;
  index = strataDerivation {
    name = if checkedFormat == "oci-dir" then "${baseName}-index-oci" else "${baseName}-index.tar";
    step = "index";
    index = indexSpec;
    images = map toString checked;
  };
  # What the scripts are made from: the index's layout, and the
  # description of each of its images.
  description = strataDerivation {
    name = "${baseName}-index-description.json";
    step = "describe-index";
    index = indexSpec;
    descriptions = map (image: toString image.description) checked;
    sbomFacts = map (image: toString image.sbomFacts) checked;
    layout = toString index;
  };
  script = makeScript { inherit description; };
  allPassthru = passthru // {
    imageName = indexName;
    imageTag = indexTag;
    images = checked;
    inherit description;
    # Programs for `nix run`: push every platform's image (with its bill of
    # materials) and then the index (to docker://imageName:imageTag unless
    # given a destination), or load
    # the image of this machine's platform into Docker or podman.
    copyToRegistry = script "copy-to-registry" "push" true;
    copyToDockerDaemon = script "copy-to-docker-daemon" "docker-load" true;
    copyToPodman = script "copy-to-podman" "podman-load" true;
  };
in
index // allPassthru // { passthru = allPassthru; inherit meta; }
