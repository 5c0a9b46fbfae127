# The strata Nix library: dockerTools-compatible image functions whose
# builder is the strata binary itself.
#
#   strata: a derivation or store path with bin/strata
#   pkgs:   nixpkgs, for helpers that need packages (the image functions
#           here need nothing but strata, and do not use it)
#   system: the system the images are built on, and for
{
  strata,
  pkgs ? null,
  system ? builtins.currentSystem,
}:
let
  strataBin = "${strata}/bin/strata";
  strataDerivation = import ./strata-derivation.nix { inherit strataBin system; };
  imageSpec = import ./image-spec.nix { inherit strataDerivation; };
  imageFunction = import ./image-function.nix { inherit strataDerivation imageSpec strataBin; };
in
{
  buildLayeredImage = import ./build-layered-image.nix { inherit imageFunction; };
  streamLayeredImage = import ./stream-layered-image.nix { inherit imageFunction; };
  buildImage = import ./build-image.nix { inherit imageFunction; };
  buildLayer = import ./build-layer.nix;
}
