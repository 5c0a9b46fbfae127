# Offline fixtures for the tests: store paths made by the host's /bin/sh
# (the Nix sandbox is off here), and images over them.
{
  strata,
  # The plan file that version 2 of the `versioned` image keeps.
  previousPlan ? null,
}:
let
  system = builtins.currentSystem;
  offline = import ../../examples/offline.nix { inherit strata system; };
  inherit (offline) lib busybox;
  hostShell =
    name: script:
    derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [
        "-c"
        "set -e\n${script}"
      ];
      PATH = "/usr/bin:/bin";
    };

  # Every kind of entry a store path can hold, with the awkward cases.
  tree = hostShell "tree" ''
    mkdir -p $out/bin $out/share/empty-dir
    printf '#!/bin/sh\necho "tree says hi"\n' > $out/bin/tree-hello
    chmod +x $out/bin/tree-hello
    name200=$(printf 'n%.0s' $(seq 1 200))
    mkdir -p $out/long/$name200/$name200
    echo "a path over 600 bytes" > $out/long/$name200/$name200/$name200.txt
    echo "non-ASCII name" > "$out/share/héllo wörld ✓.txt"
    ln -s ../bin/tree-hello $out/share/relative-link
    ln -s /etc/hostname $out/share/absolute-link
    ln -s $out/bin/tree-hello $out/share/self-link
    ln -s does-not-exist $out/share/dangling-link
    ln -s $out/long/$name200/$name200 $out/share/long-target-link
    deep=$out/deep
    for i in $(seq 1 80); do deep=$deep/d$i; done
    mkdir -p $deep
    echo bottom > $deep/bottom.txt
    truncate -s 110M $out/share/big-sparse
    printf 'end of the sparse file' >> $out/share/big-sparse
    echo "one file, two names" > $out/share/linked-a
    ln $out/share/linked-a $out/share/linked-b
    echo "same bytes as a file elsewhere" > $out/share/duplicate-1
    echo "same bytes as a file elsewhere" > $out/share/duplicate-2
  '';

  # Packages the helpers link to, made of busybox.
  busyboxAs =
    name: program:
    hostShell name ''
      mkdir -p $out/bin
      ln -s ${busybox}/bin/busybox $out/bin/${program}
    '';
  # The commands' tools are the host's here; with nixpkgs they are its.
  hostPkgs = {
    runtimeShell = "/bin/sh";
    bashInteractive = busyboxAs "bash" "bash";
    coreutils = busyboxAs "coreutils" "env";
    cacert = hostShell "cacert" ''
      mkdir -p $out/etc/ssl/certs
      echo "a bundle of certificates" > $out/etc/ssl/certs/ca-bundle.crt
    '';
    findutils = "/usr";
    gnused = "/usr";
    gnugrep = "/usr";
    getopt = "/usr";
    fakeroot = "/usr";
    nix = "/usr";
    sqlite = "/usr";
  };
  libWithTools = import ../../nix {
    inherit strata;
    pkgs = hostPkgs;
  };

  sharedBase = lib.buildLayer { deps = [ busybox ]; };
  etc-files = hostShell "etc-files" ''
    mkdir -p $out/etc
    echo "hello from /etc" > $out/etc/greeting
  '';

  # Hard links and duplicate files, for the one test that rewrites them.
  linked = hostShell "linked" ''
    mkdir -p $out/share
    echo "one file, two names" > $out/share/linked-a
    ln $out/share/linked-a $out/share/linked-b
    echo "same bytes as a file elsewhere" > $out/share/duplicate-1
    echo "same bytes as a file elsewhere" > $out/share/duplicate-2
    seq 1 200000 > $out/share/numbers
  '';

  # Two packages that both provide bin/clash, with different contents.
  clashing = map (
    n:
    hostShell "clash-${n}" ''
      mkdir -p $out/bin
      echo ${n} > $out/bin/clash
    ''
  ) [ "one" "two" ];

  # Two versions of an application; nothing else differs between them.
  app =
    version:
    hostShell "app" ''
      mkdir -p $out/bin
      printf '#!/bin/sh\necho "app ${version}"\n' > $out/bin/app
      chmod +x $out/bin/app
    '';
  appArgs = version: {
    name = "app";
    tag = version;
    contents = [
      busybox
      tree
      (app version)
    ];
    config.Cmd = [ "/bin/app" ];
  };
  appImage = imageFunction: version: imageFunction (appArgs version);
  # An image in two versions: the greeter changes, and version 2 adds a
  # tool with a library of its own and keeps the plan of version 1.
  versionedImage =
    version:
    let
      greeter = hostShell "greeter-${version}" ''
        mkdir -p $out/bin
        printf '#!/bin/sh\necho "greeter ${version}"\n' > $out/bin/greet
        chmod +x $out/bin/greet
      '';
      toolLib = hostShell "tool-lib-0.1" ''
        mkdir -p $out/share
        echo "words from the tool's library" > $out/share/words
      '';
      tool = hostShell "tool-0.1" ''
        mkdir -p $out/bin
        printf '#!/bin/sh\ncat ${toolLib}/share/words\n' > $out/bin/tool
        chmod +x $out/bin/tool
      '';
    in
    lib.buildLayeredImage {
      name = "versioned";
      tag = "v${version}";
      contents = [
        busybox
        etc-files
        linked
        greeter
      ]
      ++ (if version == "1" then [ ] else [ tool ]);
      config.Cmd = [ "/bin/greet" ];
      previousPlan = if version == "1" then null else previousPlan;
    };
  # The tree image, compressed with zstd: an archive, a stream that must
  # write the same bytes, and (under another name) one to push.
  zstdImage = {
    name = "zstd";
    tag = "test";
    compressor = "zstd";
    contents = [
      busybox
      tree
    ];
    config.Cmd = [ "/bin/tree-hello" ];
  };

in
{
  inherit
    busybox
    tree
    linked
    etc-files
    lib
    libWithTools
    hostShell
    ;
  # Images for the push tests, as stream scripts: nothing in the store is
  # an archive.
  pushed = {
    v1 = appImage lib.streamLayeredImage "v1";
    v2 = appImage lib.streamLayeredImage "v2";
    zstd = lib.streamLayeredImage (zstdImage // { name = "app-zstd"; });
    # Version 1 stored: the manifest a push of it makes is this archive's.
    v1-archive = appImage lib.buildLayeredImage "v1";
    # Version 2, described with version 1's description as previousPlan.
    v2-after-v1 = lib.streamLayeredImage ((appArgs "v2") // { inherit previousPlan; });
  };
  clash-one = builtins.elemAt clashing 0;
  clash-two = builtins.elemAt clashing 1;

  images = offline.images // {
    tree = lib.buildLayeredImage {
      name = "tree";
      tag = "test";
      contents = [
        busybox
        tree
      ];
      config.Cmd = [ "/bin/tree-hello" ];
    };
    # Two images on one explicit base layer; the second stacks another.
    shared-a = lib.buildLayeredImage {
      name = "shared-a";
      tag = "test";
      layers = [ sharedBase ];
      contents = [ busybox ];
      config.Cmd = [
        "/bin/sh"
        "-c"
        "echo image a"
      ];
    };
    shared-b = lib.buildLayeredImage {
      name = "shared-b";
      tag = "test";
      layers = [
        sharedBase
        (lib.buildLayer {
          deps = [ tree ];
          copyToRoot = [ etc-files ];
        })
      ];
      contents = [ busybox ];
      config.Cmd = [
        "/bin/sh"
        "-c"
        "cat /etc/greeting; ${tree}/bin/tree-hello"
      ];
    };
    # The tree image with each compressor.
    zstd = lib.buildLayeredImage zstdImage;
    plain = lib.buildLayeredImage {
      name = "plain";
      tag = "test";
      compressor = "none";
      contents = [ busybox ];
      config.Cmd = [
        "/bin/sh"
        "-c"
        "echo uncompressed"
      ];
    };
    # The busybox example in the two OCI formats.
    oci-archive = lib.buildLayeredImage {
      name = "oci-archive";
      tag = "test";
      format = "oci-archive";
      contents = [ busybox ];
      config.Cmd = [
        "/bin/sh"
        "-c"
        "echo from an oci archive"
      ];
    };
    oci-dir = lib.buildLayeredImage {
      name = "oci-dir";
      tag = "test";
      format = "oci-dir";
      annotations."org.opencontainers.image.source" = "https://example.com/strata";
      contents = [ busybox ];
      config.Cmd = [
        "/bin/sh"
        "-c"
        "echo from an oci directory"
      ];
    };
    untagged = lib.buildLayeredImage {
      name = "untagged";
      config.Cmd = [ "${busybox}/bin/true" ];
    };
    single = lib.buildImage {
      name = "single";
      tag = "test";
      copyToRoot = [ busybox ];
      config.Cmd = [
        "/bin/sh"
        "-c"
        "echo single layer"
      ];
    };
  };

  # Images whose arguments are wrong: each build must fail with a clear error.
  bad = {
    non-store-contents = lib.buildLayeredImage {
      name = "bad";
      contents = [ "/etc" ];
    };
    max-layers = lib.buildLayeredImage {
      name = "bad";
      contents = [ busybox ];
      maxLayers = 1;
    };
    upper-case-name = lib.buildLayeredImage {
      name = "Bad";
      contents = [ busybox ];
    };
    bad-tag = lib.buildLayeredImage {
      name = "bad";
      tag = "v1:latest";
      contents = [ busybox ];
    };
    excluded-command = lib.buildLayeredImage {
      name = "bad";
      contents = [ busybox ];
      excludePaths = [ busybox ];
      config.Cmd = [ "${busybox}/bin/sh" ];
    };
    not-a-layer = lib.buildLayeredImage {
      name = "bad";
      layers = [ { deps = [ busybox ]; } ];
    };
    previous-plan-derivation = lib.buildLayeredImage {
      name = "bad";
      contents = [ busybox ];
      previousPlan = (versionedImage "1").plan;
    };
    collision = lib.buildLayeredImage {
      name = "bad";
      contents = clashing;
    };
  };

  zstd-stream = lib.streamLayeredImage zstdImage;

  versioned = {
    v1 = versionedImage "1";
    v2 = versionedImage "2";
  };

  platforms = import ./platforms.nix { inherit lib busybox hostShell; };
  # An image, and a stream, with arguments overridden.
  overridden = {
    image = offline.images.web.override (old: {
      tag = "overridden";
      config = old.config // {
        Env = [ "OVERRIDDEN=yes" ];
      };
    });
    stream = (lib.streamLayeredImage {
      name = "overridable";
      contents = [ busybox ];
    }).override { tag = "streamed"; };
  };
  # The VM-only arguments of dockerTools' buildImage: accepted, with a
  # warning.
  vmArguments = lib.buildImage {
    name = "vm-arguments";
    contents = [ busybox ];
    diskSize = 2048;
    buildVMMemorySize = 512;
  };
  sbom = import ./sbom.nix {
    inherit lib busybox hostShell;
    base = offline.images.busybox;
  };

  # The examples as stream scripts, told to compress as the archives do:
  # their output must equal the archives.
  streams = import ../../examples {
    lib = lib // {
      buildLayeredImage = args: lib.streamLayeredImage (args // { compressor = "gz"; });
    };
    inherit busybox system;
  };
  # And as they are by default: the same tars, uncompressed.
  uncompressed-streams = import ../../examples {
    lib = lib // {
      buildLayeredImage = lib.streamLayeredImage;
    };
    inherit busybox system;
  };
}
