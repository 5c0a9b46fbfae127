# Images of two platforms and indexes over them: the amd64 busybox of the
# host, and Debian's arm64 one (scripts/install-deps fetches it), which
# qemu-user runs here.
{
  lib,
  busybox,
  hostShell,
}:
let
  arm64Dir = "/var/lib/strata-tests/busybox-arm64";
  busyboxArm64 = hostShell "busybox-arm64" ''
    if [ ! -x ${arm64Dir}/bin/busybox ]; then
      echo "${arm64Dir}/bin/busybox is missing: run scripts/install-deps" >&2
      exit 1
    fi
    mkdir -p $out/bin
    cp ${arm64Dir}/bin/busybox $out/bin/busybox
    for applet in sh uname cat ls; do ln -s busybox $out/bin/$applet; done
  '';
  image =
    architecture: contents: args:
    lib.buildLayeredImage (
      {
        name = "multi";
        tag = "1";
        inherit architecture contents;
        config.Cmd = [
          "/bin/busybox"
          "uname"
          "-m"
        ];
        format = "oci-archive";
      }
      // args
    );
  amd64 = image "amd64" [ busybox ] { };
  arm64 = image "arm64" [ busyboxArm64 ] { };
  index =
    args:
    lib.buildImageIndex (
      {
        images = [
          amd64
          arm64
        ];
        tag = "1";
        annotations."org.opencontainers.image.description" = "busybox for two platforms";
      }
      // args
    );
in
{
  inherit amd64 arm64;
  index = index { };
  indexDir = index { format = "oci-dir"; };
  # Its images of the docker and oci-dir formats.
  mixedFormats = index {
    images = [
      (image "amd64" [ busybox ] { format = "docker"; })
      (image "arm64" [ busyboxArm64 ] { format = "oci-dir"; })
    ];
  };
  untagged = index { tag = null; };
  # arm v7, the platform a variant tells apart.
  armv7 = image "arm" [ busybox ] { variant = "v7"; };
  # An image built on the index: its base is the platform it is for.
  onIndex = image "arm64" [ ] {
    name = "on-index";
    fromImage = index { };
    config.Cmd = [ "/bin/ls" "/bin" ];
  };

  bad = {
    samePlatform = index {
      images = [
        amd64
        (image "amd64" [ busybox ] { tag = "2"; })
      ];
    };
    differentNames = index {
      images = [
        amd64
        (image "arm64" [ busyboxArm64 ] { name = "other"; })
      ];
    };
    notAnImage = index { images = [ amd64 busybox ]; };
    stream = index {
      images = [
        amd64
        (lib.streamLayeredImage {
          name = "multi";
          architecture = "arm64";
          contents = [ busyboxArm64 ];
        })
      ];
    };
    dockerFormat = index { format = "docker"; };
    unknownArchitecture = image "arm65" [ busybox ] { };
    variantWithout = image "386" [ busybox ] { variant = "v7"; };
    unknownVariant = image "arm" [ busybox ] { variant = "v9"; };
  };
}
