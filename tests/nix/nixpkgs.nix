# A stand-in for the parts of nixpkgs that flake.nix and nix/package.nix
# use, since nixpkgs cannot be fetched here. Each part does what nixpkgs'
# does where it matters to strata's build:
#
# - `lib.fileset.toSource` copies exactly the files the fileset names, and
#   `lib.fileset.unions` rejects a path that does not exist;
# - `rustPlatform.buildRustPackage` checks that `cargoLock.lockFile` is the
#   source's own lock file, vendors the crates of that lock file offline,
#   and runs `cargo build --release --offline --frozen` on a copy of the
#   source, with the machine's Rust toolchain;
# - `busybox` is Debian's static one, `runCommand` runs the host's /bin/sh.
#
# The build reads the toolchain and the crate cache where they are, outside
# the store: build it as the user that owns them
# (`--option build-users-group ''`).
{
  # The directory holding the toolchain's `cargo` and `rustc`.
  toolchain,
  # A cargo home whose registry cache holds every crate of Cargo.lock
  # (`cargo fetch --locked` fills it).
  cargoHome,
}:
let
  system = builtins.currentSystem;
  hostShell =
    name: env: script:
    derivation (
      env
      // {
        inherit name system;
        builder = "/bin/sh";
        args = [
          "-c"
          "set -e\n${script}"
        ];
        PATH = "/usr/bin:/bin";
      }
    );

  hasPrefix = prefix: text: builtins.substring 0 (builtins.stringLength prefix) text == prefix;
  # `path` is `parent` or inside it.
  within = parent: path: path == parent || hasPrefix "${parent}/" path;

  lib = {
    fileset = {
      unions =
        paths:
        map (
          path:
          if builtins.pathExists path then
            toString path
          else
            throw "lib.fileset.unions: ${toString path} is a path that does not exist"
        ) paths;
      toSource =
        { root, fileset }:
        builtins.path {
          name = "source";
          path = root;
          # A file named by the fileset, what a named directory holds, and
          # the directories above them.
          filter = path: _type: builtins.any (member: within member path || within path member) fileset;
        };
    };
    licenses.mit = "MIT";
    platforms.linux = [
      "x86_64-linux"
      "aarch64-linux"
    ];
    genAttrs =
      names: f:
      builtins.listToAttrs (
        map (name: {
          inherit name;
          value = f name;
        }) names
      );
  };

  rustPlatform.buildRustPackage =
    {
      pname,
      version,
      src,
      cargoLock,
      meta ? { },
      ...
    }:
    hostShell "${pname}-${version}"
      {
        inherit src cargoHome;
        lockFile = cargoLock.lockFile;
        NIX_TOOLCHAIN = toolchain;
      }
      ''
        export PATH="$NIX_TOOLCHAIN:$PATH"
        cp -r "$src" source
        chmod -R u+w source
        cd source
        if ! cmp -s Cargo.lock "$lockFile"; then
          echo "cargoLock.lockFile is not the Cargo.lock of the source" >&2
          exit 1
        fi
        CARGO_HOME="$cargoHome" cargo vendor --offline --locked "$TMPDIR/vendor" > /dev/null
        mkdir -p .cargo
        printf '[source.crates-io]\nreplace-with = "vendored"\n[source.vendored]\ndirectory = "%s"\n' \
          "$TMPDIR/vendor" > .cargo/config.toml
        export CARGO_HOME="$TMPDIR/cargo-home" CARGO_NET_OFFLINE=true
        cargo build --release --offline --frozen -j "$NIX_BUILD_CORES"
        mkdir -p "$out/bin"
        for file in target/release/*; do
          if [ -f "$file" ] && [ -x "$file" ]; then
            cp "$file" "$out/bin/"
          fi
        done
      ''
    // {
      inherit meta src;
    };

  offline = import ../../examples/offline.nix {
    strata = throw "the stand-in's busybox needs no strata";
    inherit system;
  };
  pkgs = {
    inherit lib rustPlatform;
    inherit (offline) busybox;
    callPackage = path: args: import path ({ inherit lib rustPlatform; } // args);
    runCommand = name: env: script: hostShell name env script;
    stdenv.hostPlatform.system = system;
  };
in
{
  inherit lib;
  legacyPackages.${system} = pkgs;
}
