# The flake's outputs, evaluated with a stand-in for nixpkgs (which cannot be
# fetched here): callPackage yields the strata under test, busybox is
# Debian's static one, runCommand runs the host's /bin/sh. Everything else,
# the library, the example checks and the reproducibility check, is the
# flake's own.
{ strata }:
let
  system = builtins.currentSystem;
  offline = import ../../examples/offline.nix { inherit strata system; };
  pkgs = {
    inherit (offline) busybox;
    callPackage = _path: _args: strata;
    runCommand =
      name: env: script:
      derivation (
        env
        // {
          inherit name system;
          builder = "/bin/sh";
          args = [
            "-c"
            script
          ];
          PATH = "/usr/bin:/bin";
        }
      );
    stdenv.hostPlatform.system = system;
  };
  nixpkgs = {
    lib.genAttrs =
      names: f:
      builtins.listToAttrs (
        map (name: {
          inherit name;
          value = f name;
        }) names
      );
    legacyPackages.${system} = pkgs;
  };
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
    contents = [ offline.busybox ];
  };
}
