# The small trees dockerTools offers for contents, made by strata: each a
# store path to put into `contents` (or copyToRoot).
{ strataDerivation, pkgs }:
let
  tree =
    name: description:
    strataDerivation {
      inherit name;
      step = "tree";
      tree = description;
    };
  needPkgs =
    helper:
    if pkgs == null then
      throw "strata: ${helper} links to packages of nixpkgs; import the strata library with `pkgs`"
    else
      pkgs;
  caBundle = "${(needPkgs "caCertificates").cacert}/etc/ssl/certs/ca-bundle.crt";
in
{
  # /bin/sh, from bash.
  binSh = tree "bin-sh" {
    symlinks."bin/sh" = "${(needPkgs "binSh").bashInteractive}/bin/bash";
  };
  # /usr/bin/env, which `#!/usr/bin/env` scripts need.
  usrBinEnv = tree "usr-bin-env" {
    symlinks."usr/bin/env" = "${(needPkgs "usrBinEnv").coreutils}/bin/env";
  };
  # The CA bundle where programs look for it.
  caCertificates = tree "ca-certificates" {
    symlinks = {
      "etc/ssl/certs/ca-bundle.crt" = caBundle;
      "etc/ssl/certs/ca-certificates.crt" = caBundle;
      "etc/pki/tls/certs/ca-bundle.crt" = caBundle;
    };
  };
  # Just enough of /etc for programs that look up users and hosts: root and
  # nobody, and name resolution through files, then DNS.
  fakeNss = tree "fake-nss" {
    files = {
      "etc/passwd" = ''
        root:x:0:0:root user:/var/empty:/bin/sh
        nobody:x:65534:65534:nobody:/var/empty:/bin/sh
      '';
      "etc/group" = ''
        root:x:0:
        nobody:x:65534:
      '';
      "etc/nsswitch.conf" = ''
        hosts: files dns
      '';
    };
    directories = [ "var/empty" ];
  };
}
