# pullImage from the test's registry, and an image on what it pulled.
{
  strata,
  imageName,
  imageDigest,
  sha256,
  arch ? "amd64",
}:
let
  fixtures = import ./fixtures.nix { inherit strata; };
  inherit (fixtures) lib;
in
rec {
  pulled = lib.pullImage {
    inherit imageName imageDigest sha256;
    inherit arch;
    finalImageTag = "pulled";
  };
  on-pulled = lib.buildLayeredImage {
    name = "on-pulled";
    tag = "test";
    fromImage = pulled;
    config.Env = [ "PULLED=yes" ];
  };
}
