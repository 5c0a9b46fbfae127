//! Customisation without root: accounts, directories, owners and modes set
//! in the tar, checked in podman with `id` and `stat`.

mod common;

use std::path::Path;

use common::*;

fn customisation_build(attribute: &str) -> std::process::Output {
    let mut command = nix_command("nix-build", "tests/nix/customisation.nix", attribute);
    command.arg("--no-out-link");
    output_of(&mut command)
}

#[test]
fn accounts_directories_and_perms_reach_the_container() {
    let output = customisation_build("accounts");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let archive = String::from_utf8(output.stdout).unwrap();
    podman_load(Path::new(archive.trim()));
    let app = run(&mut {
        let mut c = nix_command("nix-build", "tests/nix/customisation.nix", "app");
        c.arg("--no-out-link");
        c
    });
    let out = podman_run("accounts:test", &[], &[]);
    let expected = format!(
        "uid=1000(alice) gid=1000(alice) groups=50(staff),1000(alice)\n\
         note\n\
         1777 root root /tmp\n\
         770 alice staff /data\n\
         755 alice alice /home/alice\n\
         640 root root /etc/shadow\n\
         600 alice root {}/share/secret\n\
         secret\n\
         tmp is writable\n",
        app.trim()
    );
    assert_eq!(out, expected);
    let passwd = podman_run("accounts:test", &[], &["cat", "/etc/passwd", "/etc/group"]);
    assert_eq!(
        passwd,
        "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n\
         root:x:0:\nstaff:x:50:alice\nalice:x:1000:\n"
    );
}

#[test]
fn bad_customisations_are_clear_errors() {
    for (attribute, message) in [
        (
            "bad.unknown-user",
            "names the user 'bob', which `users` does not declare",
        ),
        ("bad.matches-nothing", "regex '/nowhere/.*' matches nothing"),
        ("bad.bad-mode", "`directories` entry /tmp"),
    ] {
        let output = customisation_build(attribute);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{attribute} built");
        assert!(stderr.contains(message), "{attribute}: {stderr}");
    }
}
