# The examples without nixpkgs: busybox is Debian's static one
# (busybox-static), copied into the store by the host's /bin/sh.
{
  strata,
  system ? builtins.currentSystem,
}:
let
  lib = import ../nix { inherit strata system; };
  busybox = derivation {
    name = "busybox";
    inherit system;
    builder = "/bin/sh";
    args = [
      "-c"
      ''
        set -e
        mkdir -p $out/bin
        cp /bin/busybox $out/bin/busybox
        for applet in sh echo ls cat id wget httpd sleep stat find readlink wc head sha256sum test true; do
          ln -s busybox $out/bin/$applet
        done
      ''
    ];
    PATH = "/usr/bin:/bin";
  };
in
{
  inherit lib busybox;
  images = import ./. { inherit lib busybox system; };
}
