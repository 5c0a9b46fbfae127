# Images on base images built elsewhere. `base` is the path of one (a
# docker-archive or an OCI layout), given by the test.
{
  strata,
  base ? null,
}:
let
  fixtures = import ./fixtures.nix { inherit strata; };
  inherit (fixtures) lib hostShell;

  # A script that needs the base image's shell, and a file for its /tmp.
  greeter = hostShell "greeter" ''
    mkdir -p $out/bin
    printf '#!/bin/sh\necho "greetings, SHARED=$SHARED"\n' > $out/bin/greet
    chmod +x $out/bin/greet
    mkdir -p $out/tmp
    echo "a file in the base's /tmp" > $out/tmp/greeter
  '';
  onBase = {
    name = "on-base";
    tag = "test";
    fromImage = base;
    # Said, not defaulted: the stream then writes the archive's bytes.
    compressor = "gz";
    contents = [ greeter ];
    # Added to the base's accounts; the base's names resolve.
    users.alice.uid = 1000;
    perms = [
      {
        path = "/tmp/greeter";
        uname = "www";
      }
    ];
    config = {
      Env = [
        "SHARED=image"
        "OWN=1"
      ];
      Labels."image.label" = "2";
    };
  };
in
{
  # On the base the test gives: the config is merged with the base's.
  on-base = lib.buildLayeredImage onBase;
  # The same as a stream script: the base's layers are copied as it runs.
  on-base-stream = lib.streamLayeredImage onBase;
  # Commands on the base: what they make in the base's directories leaves
  # those directories as the base has them.
  commands-on-base = fixtures.libWithTools.buildLayeredImage {
    name = "commands-on-base";
    tag = "test";
    fromImage = base;
    extraCommands = "mkdir -p tmp/made etc";
    config.Cmd = [
      "/bin/sh"
      "-c"
      "stat -c '%a %n' /tmp /tmp/made /etc"
    ];
  };
  # On an image strata built: its store paths are not repeated.
  on-strata-image = lib.buildLayeredImage {
    name = "on-strata-image";
    tag = "test";
    fromImage = fixtures.images.plain;
    contents = [ greeter ];
    config.Entrypoint = [ "/bin/greet" ];
  };

  # One image of a base archive that holds several.
  chosen-in-several = lib.buildImage {
    name = "chosen";
    tag = "test";
    fromImage = base;
    fromImageName = "web";
    fromImageTag = "latest";
    contents = [ greeter ];
  };

  # The base (a docker save archive), two strata images that share their
  # busybox layer, and one of them compressed whole.
  merged = lib.mergeImages [
    base
    fixtures.images.busybox
    fixtures.images.web
    (hostShell "plain.tar.gz" "gzip -c ${fixtures.images.plain} > $out")
  ];

  bad = {
    tag-twice = lib.mergeImages [
      fixtures.images.web
      fixtures.images.web
    ];
    oci-archive = lib.mergeImages [ fixtures.images.oci-archive ];
    not-an-image = lib.buildLayeredImage {
      name = "bad";
      fromImage = greeter;
      contents = [ greeter ];
    };
    other-architecture = lib.buildLayeredImage {
      name = "bad";
      fromImage = base;
      architecture = "arm64";
      contents = [ greeter ];
    };
    too-many-layers = lib.buildLayeredImage {
      name = "bad";
      fromImage = fixtures.images.plain;
      maxLayers = 3;
      contents = [ greeter ];
    };
  };
}
