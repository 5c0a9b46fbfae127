# A shell: busybox's applets linked into /bin.
{ lib, busybox }:
lib.buildLayeredImage {
  name = "busybox";
  tag = "latest";
  contents = [ busybox ];
  config = {
    Cmd = [ "/bin/sh" ];
    Env = [ "PATH=/bin" ];
  };
}
