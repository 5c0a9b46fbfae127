# The strata Nix library: dockerTools-compatible image functions whose
# builder is the strata binary itself.
#
#   strata: a derivation or store path with bin/strata
#   pkgs:   nixpkgs, for what needs packages: the shell, coreutils,
#           fakeroot, nix and sqlite of extraCommands, fakeRootCommands
#           and includeNixDB, and the helpers (binSh, caCertificates, …)
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
  # What extraCommands, fakeRootCommands and includeNixDB run with.
  tools =
    if pkgs == null then
      null
    else
      {
        shell = pkgs.runtimeShell;
        path = builtins.concatStringsSep ":" (
          map (p: "${p}/bin") [
            pkgs.coreutils
            pkgs.findutils
            pkgs.gnused
            pkgs.gnugrep
            pkgs.getopt
          ]
        );
        fakeroot = "${pkgs.fakeroot}/bin/fakeroot";
        nixStore = "${pkgs.nix}/bin/nix-store";
        sqlite = "${pkgs.sqlite.bin or pkgs.sqlite}/bin/sqlite3";
      };
  customisation = import ./customisation.nix { inherit strataDerivation tools; };
  makeScript = import ./script.nix { inherit strataDerivation strataBin; };
  imageFunction = import ./image-function.nix {
    inherit
      strataDerivation
      imageSpec
      makeScript
      customisation
      ;
  };
  # Each function's result has `.override`.
  overridable = import ./overridable.nix;
  buildLayeredImage = import ./build-layered-image.nix { inherit imageFunction; };
  buildImage = import ./build-image.nix { inherit imageFunction; };
in
builtins.mapAttrs (_: overridable) {
  inherit buildLayeredImage buildImage;
  streamLayeredImage = import ./stream-layered-image.nix { inherit imageFunction; };
  buildLayer = import ./build-layer.nix;
  pullImage = import ./pull-image.nix { inherit strataDerivation; };
  buildImageIndex = import ./build-image-index.nix { inherit strataDerivation makeScript; };
  mergeImages = import ./merge-images.nix { inherit strataDerivation; };
  # As buildImage and buildLayeredImage, with a Nix database of the image's
  # store paths (includeNixDB).
  buildImageWithNixDb = args: buildImage (args // { includeNixDB = true; });
  buildLayeredImageWithNixDb = args: buildLayeredImage (args // { includeNixDB = true; });
}
// import ./helpers.nix { inherit strataDerivation pkgs; }
