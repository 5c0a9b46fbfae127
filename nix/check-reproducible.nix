# A check that fails when two builds of the same image differ: the image is
# built a second time, by a derivation that differs only in an attribute
# strata ignores, and the two archives are compared byte for byte.
{ pkgs, image }:
let
  rebuilt = derivation (image.drvAttrs // { strataRebuild = "second build"; });
in
pkgs.runCommand "${image.name}-reproducible"
  {
    first = image;
    second = rebuilt;
  }
  ''
    if ! cmp "$first" "$second"; then
      echo "two builds of ${image.name} differ" >&2
      exit 1
    fi
    echo identical > $out
  ''
