# A script as the entrypoint. Nothing is linked into /: the script and its
# interpreter are reached by their store paths.
{ lib, busybox }:
let
  greet = builtins.toFile "greet.sh" ''
    echo "hello from strata, ''${1:-world}"
  '';
in
lib.buildLayeredImage {
  name = "greet";
  tag = "latest";
  config = {
    Entrypoint = [
      "${busybox}/bin/sh"
      greet
    ];
    Cmd = [ "nix" ];
    Labels."org.opencontainers.image.description" = "prints a greeting";
  };
}
