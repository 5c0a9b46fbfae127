# Images customised without root: accounts, directories, owners and modes.
{ strata }:
let
  fixtures = import ./fixtures.nix { inherit strata; };
  inherit (fixtures) busybox hostShell;
  # The library with the host's tools for the commands.
  lib = fixtures.libWithTools;

  app = hostShell "owned-app" ''
    mkdir -p $out/bin $out/share
    printf '#!/bin/sh\necho owned\n' > $out/bin/owned
    chmod +x $out/bin/owned
    echo secret > $out/share/secret
  '';
  # A package that refers to another.
  busybox-user = hostShell "busybox-user" ''
    mkdir -p $out
    echo ${busybox}/bin/sh > $out/shell
  '';
  accounts = {
    users.alice = {
      uid = 1000;
      groups = [ "staff" ];
    };
    groups.staff.gid = 50;
  };
in
{
  inherit app busybox-user;
  accounts = lib.buildLayeredImage (
    accounts
    // {
      name = "accounts";
      tag = "test";
      contents = [
        busybox
        app
      ];
      directories = [
        {
          path = "/tmp";
          mode = "1777";
        }
        {
          path = "/data";
          mode = "0770";
          uname = "alice";
          gname = "staff";
        }
      ];
      perms = [
        {
          path = app;
          regex = ".*/share/.*";
          mode = "0600";
          uname = "alice";
        }
      ];
      config.User = "alice";
      config.Cmd = [
        "/bin/sh"
        "-c"
        "id; cd /home/alice && echo note > note && cat note; stat -c '%a %U %G %n' /tmp /data /home/alice /etc/shadow ${app}/share/secret; cat ${app}/share/secret; echo x > /tmp/x && echo tmp is writable"
      ];
    }
  );

  # One owner for every store path and the customisation layer.
  owned-store = lib.buildLayeredImage {
    name = "owned-store";
    tag = "test";
    contents = [
      busybox
      app
    ];
    uid = 1000;
    gid = 50;
    uname = "alice";
    gname = "staff";
    config.Cmd = [
      "/bin/sh"
      "-c"
      "stat -c '%u %g %n' ${app} ${app}/share/secret /bin"
    ];
  };

  # The root changed by commands, unprivileged and under fakeroot.
  commands = lib.buildLayeredImage (
    accounts
    // {
      name = "commands";
      tag = "test";
      contents = [ busybox ];
      extraCommands = ''
        mkdir -p srv var/log
        echo "made by extraCommands" > srv/index.html
        echo "for root only" > srv/private
        chmod 0600 srv/private
      '';
      # A rule on what the commands make, over what they left.
      perms = [
        {
          path = "/var/log";
          mode = "0700";
        }
      ];
      fakeRootCommands = ''
        chown -R 1000:50 srv
        chmod 4755 srv/index.html
        mkdir opt
        chown 1000 opt
      '';
      config.User = "alice";
      config.Cmd = [
        "/bin/sh"
        "-c"
        "stat -c '%a %u %g %n' /srv /srv/index.html /srv/private /opt /var/log /home/alice; cat /srv/index.html; echo x > /opt/x && echo opt is writable"
      ];
    }
  );

  # A Nix database of the image's store paths (includeNixDB).
  nix-db = lib.buildLayeredImageWithNixDb {
    name = "nix-db";
    tag = "test";
    contents = [
      busybox
      busybox-user
    ];
  };

  # The helpers, each linked into /.
  helpers = lib.buildLayeredImage {
    name = "helpers";
    tag = "test";
    contents = with lib; [
      binSh
      usrBinEnv
      caCertificates
      fakeNss
    ];
    config.Cmd = [
      "/usr/bin/env"
      "GREETING=hello"
      "/bin/sh"
      "-c"
      "echo $GREETING; ${busybox}/bin/cat /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; ${busybox}/bin/id nobody; ${busybox}/bin/ls -d /var/empty"
    ];
  };

  # /etc from one package alone: a directory that engines mount
  # /etc/hosts into, whatever provides it.
  etc-alone =
    let
      note = hostShell "note" ''
        mkdir -p $out/etc
        echo "a note in /etc" > $out/etc/note
      '';
      # What buildEnv makes of a directory one package has: a link to it.
      env = hostShell "certificates-env" ''
        mkdir -p $out
        ln -s ${lib.caCertificates}/etc $out/etc
      '';
      image =
        name: contents: config:
        lib.buildLayeredImage {
          inherit name contents config;
          tag = "test";
        };
    in
    {
      note = image "etc-note" [ busybox note ] { Cmd = [ "/bin/cat" "/etc/note" ]; };
      fake-nss = image "etc-fake-nss" [ busybox lib.fakeNss ] {
        User = "nobody";
        Cmd = [ "/bin/id" ];
      };
      certificates = image "etc-certificates" [ busybox lib.caCertificates ] {
        Cmd = [ "/bin/cat" "/etc/ssl/certs/ca-bundle.crt" ];
      };
      env = image "etc-env" [ busybox env ] {
        Cmd = [ "/bin/cat" "/etc/ssl/certs/ca-certificates.crt" ];
      };
    };

  # Commands that fail stop the build.
  failing-commands = lib.buildLayeredImage {
    name = "failing";
    contents = [ busybox ];
    extraCommands = "false";
  };

  bad = {
    unknown-user = lib.buildLayeredImage {
      name = "bad";
      contents = [ app ];
      perms = [
        {
          path = app;
          uname = "bob";
        }
      ];
    };
    matches-nothing = lib.buildLayeredImage {
      name = "bad";
      contents = [ app ];
      perms = [
        {
          regex = "/nowhere/.*";
          mode = "0700";
        }
      ];
    };
    bad-mode = lib.buildLayeredImage {
      name = "bad";
      contents = [ app ];
      directories = [
        {
          path = "/tmp";
          mode = "a+w";
        }
      ];
    };
  };
}
