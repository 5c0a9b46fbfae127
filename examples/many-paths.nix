# An image with more store paths than layers: 140 packages over a graph of
# shared libraries, so the most popular paths get layers of their own and
# the rest share the last store layer.
{
  lib,
  busybox,
  runBusybox,
}:
let
  # A package that refers to its dependencies (and so pulls them in).
  package =
    name: deps:
    runBusybox name ''
      mkdir -p $out/share
      echo ${name} > $out/share/name
      for dep in ${toString deps}; do echo $dep >> $out/share/deps; done
      i=0; while [ $i -lt 64 ]; do echo "${name} line $i"; i=$((i + 1)); done > $out/share/data
    '';
  libc = package "libc" [ ];
  libs = builtins.genList (i: package "lib${toString i}" [ libc ]) 20;
  apps = builtins.genList (
    i:
    package "app${toString i}" [
      (builtins.elemAt libs (i - (i / 20) * 20))
      (builtins.elemAt libs ((i * 7) - ((i * 7) / 20) * 20))
    ]
  ) 119;
  bundle = package "bundle" apps;
in
lib.buildLayeredImage {
  name = "many-paths";
  tag = "latest";
  contents = [ busybox ];
  maxLayers = 40;
  config.Cmd = [
    "/bin/sh"
    "-c"
    "ls /nix/store | wc -l; cat ${bundle}/share/deps | wc -l"
  ];
}
