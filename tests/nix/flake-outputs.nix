# The flake's outputs, evaluated with the stand-in for nixpkgs of
# nixpkgs.nix: the package is nix/package.nix built as the flake builds it,
# and every image of the checks is made by that package. Everything else,
# the library, the example checks and the reproducibility check, is the
# flake's own.
{ toolchain, cargoHome }:
let
  system = builtins.currentSystem;
  nixpkgs = import ./nixpkgs.nix { inherit toolchain cargoHome; };
  pkgs = nixpkgs.legacyPackages.${system};
  flake = import ../../flake.nix;
  outputs = flake.outputs {
    self = outputs;
    inherit nixpkgs;
  };
  # nixpkgs with the flake's overlay applied.
  final = pkgs // outputs.overlays.default final pkgs;
in
outputs
// {
  # The reproducibility check applied to a derivation that differs on every
  # build: the check must fail.
  unreproducible = import ../../nix/check-reproducible.nix {
    inherit pkgs;
    image = derivation {
      name = "clock";
      inherit system;
      builder = "/bin/sh";
      args = [
        "-c"
        "/bin/cat /proc/sys/kernel/random/uuid > $out"
      ];
    };
  };
  overlayImage = final.strataTools.buildLayeredImage {
    name = "from-overlay";
    tag = "test";
    contents = [ pkgs.busybox ];
  };
}
