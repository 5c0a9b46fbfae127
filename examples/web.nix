# A static web server: busybox httpd serving a page from the store.
{
  lib,
  busybox,
  runBusybox,
}:
let
  site = runBusybox "site" ''
    mkdir -p $out
    echo '<h1>served by a strata image</h1>' > $out/index.html
  '';
in
lib.buildLayeredImage {
  name = "web";
  tag = "latest";
  contents = [ busybox ];
  config = {
    Cmd = [
      "/bin/httpd"
      "-f"
      "-p"
      "8080"
      "-h"
      "${site}"
    ];
    ExposedPorts."8080/tcp" = { };
    WorkingDir = "/";
  };
}
