# mergeImages: the images of several docker-archives (strata's images of
# the docker format, `docker save` archives, compressed or not) in one
# archive that `docker load` and `podman load` load as all of them, each
# with its tags. Shared layers are in it once.
{ strataDerivation }:
images:
if !builtins.isList images || images == [ ] then
  throw "strata: mergeImages takes a non-empty list of images"
else
  strataDerivation {
    name = "merged-images.tar";
    step = "merge";
    images = map toString images;
  }
