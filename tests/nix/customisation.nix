# Images customised without root: accounts, directories, owners and modes.
{ strata }:
let
  fixtures = import ./fixtures.nix { inherit strata; };
  inherit (fixtures) lib busybox hostShell;

  app = hostShell "owned-app" ''
    mkdir -p $out/bin $out/share
    printf '#!/bin/sh\necho owned\n' > $out/bin/owned
    chmod +x $out/bin/owned
    echo secret > $out/share/secret
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
  inherit app;
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
