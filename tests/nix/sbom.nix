# Images whose bills of materials the tests read: packages with every kind
# of meta.license, one referring to another, one named in config, on a base
# image, and as a stream.
{
  lib,
  busybox,
  hostShell,
  base,
}:
let
  withMeta = package: meta: package // { inherit meta; };
  custom = withMeta (hostShell "sbom-custom-2.0" ''
    mkdir -p $out/share
    echo custom > $out/share/custom
  '') {
    license = {
      fullName = "A licence of its own";
      free = false;
    };
    description = "a package under no SPDX licence";
  };
  app = withMeta (hostShell "sbom-app-1.0" ''
    mkdir -p $out/bin
    printf '#!/bin/sh\ncat ${custom}/share/custom\n' > $out/bin/app
    chmod +x $out/bin/app
  '') {
    license = {
      spdxId = "MIT";
      fullName = "MIT License";
    };
    homepage = "https://example.org/app";
    description = "the application";
  };
  dual = withMeta (hostShell "sbom-dual-3.1-lib" ''
    mkdir -p $out/lib
    echo dual > $out/lib/dual
  '') {
    license = [
      { spdxId = "MIT"; }
      { spdxId = "Apache-2.0"; }
    ];
  };
  asText = withMeta (hostShell "sbom-text" ''
    mkdir -p $out/share
    echo text > $out/share/text
  '') { license = "GPL-2.0-only"; };
  tool = withMeta (hostShell "sbom-tool-0.1" ''
    mkdir -p $out/bin
    echo tool > $out/bin/tool
  '') {
    license = "see COPYING";
    homepage = "not a URL";
  };
  args = {
    name = "registry.example.com/team/sbom";
    tag = "1";
    created = "2024-05-01T00:00:00Z";
    contents = [
      busybox
      app
      custom
      dual
      asText
    ];
    config.Labels."org.example.tool" = tool;
  };
in
{
  inherit app custom dual;
  image = lib.buildLayeredImage args;
  other = lib.buildLayeredImage (args // { tag = "2"; });
  stream = lib.streamLayeredImage (args // { name = "sbom-stream"; });
  onBase = lib.buildLayeredImage {
    name = "sbom-on-base";
    fromImage = base;
    contents = [ app ];
  };
}
