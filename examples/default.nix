# Example images. Each needs only the strata library and a busybox: the
# flake passes nixpkgs' busybox, the tests a static one.
{
  lib,
  busybox,
  system ? builtins.currentSystem,
}:
let
  # A store path made by a busybox shell script: no stdenv needed.
  runBusybox =
    name: script:
    derivation {
      inherit name system;
      builder = "${busybox}/bin/sh";
      args = [
        "-c"
        script
      ];
      PATH = "${busybox}/bin";
    };
in
{
  busybox = import ./busybox.nix { inherit lib busybox; };
  script = import ./script.nix { inherit lib busybox; };
  web = import ./web.nix { inherit lib busybox runBusybox; };
  many-paths = import ./many-paths.nix { inherit lib busybox runBusybox; };
}
