# The strata binary, built from this repository with nixpkgs' Rust tooling.
{ lib, rustPlatform }:
let
  cargo = builtins.fromTOML (builtins.readFile ../Cargo.toml);
  # Cargo refuses a manifest whose bench targets have no file, even in a
  # build that compiles none of them: each target's entry file comes along,
  # and nothing else of the benchmarks.
  benchEntries = map (bench: ../. + "/${bench.path or "benches/${bench.name}.rs"}") (
    cargo.bench or [ ]
  );
in
rustPlatform.buildRustPackage {
  pname = cargo.package.name;
  inherit (cargo.package) version;
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions (
      [
        ../Cargo.toml
        ../Cargo.lock
        ../src
      ]
      ++ benchEntries
    );
  };
  cargoLock.lockFile = ../Cargo.lock;
  # The tests drive Nix, podman and skopeo, which a Nix build cannot run.
  doCheck = false;
  meta = {
    inherit (cargo.package) description;
    license = lib.licenses.mit;
    mainProgram = "strata";
    platforms = lib.platforms.linux;
  };
}
