//! Customisation without root: accounts, directories, owners and modes set
//! in the tar, checked in podman and in dockerd with `id` and `stat`.

mod common;

use std::path::Path;

use common::engines::*;
use common::*;

fn customisation_build(attribute: &str) -> std::process::Output {
    let mut command = nix_command("nix-build", "tests/nix/customisation.nix", attribute);
    command.arg("--no-out-link");
    output_of(&mut command)
}

/// Builds an attribute of the fixtures; returns its store path.
fn built(attribute: &str) -> String {
    let output = customisation_build(attribute);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Builds `attribute` again and fails if the result differs.
fn assert_rebuilds_identically(attribute: &str) {
    let mut check = nix_command("nix-build", "tests/nix/customisation.nix", attribute);
    check.args(["--no-out-link", "--check"]);
    run(&mut check);
}

#[test]
fn accounts_directories_and_perms_reach_the_container() {
    let archive = built("accounts");
    let app = built("app");
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
    in_every_engine(&[Path::new(&archive)], |engine| {
        assert_eq!(
            engine.run("accounts:test", &[], &[]),
            expected,
            "in {engine}"
        );
        let passwd = engine.run("accounts:test", &[], &["cat", "/etc/passwd", "/etc/group"]);
        assert_eq!(
            passwd,
            "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n\
             root:x:0:\nstaff:x:50:alice\nalice:x:1000:\n",
            "in {engine}"
        );
    });
}

#[test]
fn one_owner_for_the_whole_image() {
    let archive = built("owned-store");
    let app = built("app");
    in_every_engine(&[Path::new(&archive)], |engine| {
        assert_eq!(
            engine.run("owned-store:test", &[], &[]),
            format!("1000 50 {app}\n1000 50 {app}/share/secret\n1000 50 /bin\n"),
            "in {engine}"
        );
    });
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

#[test]
fn extra_and_fake_root_commands_reach_the_tar() {
    let archive = built("commands");
    in_every_engine(&[Path::new(&archive)], |engine| {
        assert_eq!(
            engine.run("commands:test", &[], &[]),
            "755 1000 50 /srv\n\
             4755 1000 50 /srv/index.html\n\
             600 1000 50 /srv/private\n\
             755 1000 0 /opt\n\
             700 0 0 /var/log\n\
             755 1000 1000 /home/alice\n\
             made by extraCommands\n\
             opt is writable\n",
            "chown under fakeroot, chmod in either, perms over both, and the accounts' home, in {engine}"
        );
    });
    // Built again, the tree and the recorded owners are the same.
    assert_rebuilds_identically("commands.customisation");

    let failing = customisation_build("failing-commands");
    let stderr = String::from_utf8_lossy(&failing.stderr);
    assert!(!failing.status.success());
    assert!(stderr.contains("extraCommands failed"), "{stderr}");
}

/// `nix-store` of the host, run inside the container on the image's store
/// and database: the host's /usr and libraries are mounted read-only.
fn nix_store_in_container(engine: &Engine, args: &str) -> String {
    engine.run(
        "nix-db:test",
        &[
            "-v",
            "/usr:/usr:ro",
            "-v",
            "/usr/lib:/lib:ro",
            "-v",
            "/usr/lib64:/lib64:ro",
            "-e",
            "USER=root",
        ],
        &["/bin/sh", "-c", &format!("/usr/bin/nix-store {args}")],
    )
}

#[test]
fn include_nix_db_registers_the_closure() {
    let archive = built("nix-db");
    let busybox = nix_build("busybox");
    let user = built("busybox-user");

    // On the host: nix-store on the unpacked root.
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("oci");
    skopeo_copy(&format!("oci-archive:{archive}"), &layout, "test");
    let rootfs = umoci_unpack(&layout, "test", &work.path().join("bundle"));
    let store = format!("local?root={}", rootfs.display());
    let requisites = run(std::process::Command::new("nix-store")
        .args(["--store", &store, "-q", "--requisites", &busybox])
        .env("USER", "root"));
    assert_eq!(requisites.trim(), busybox);
    let verify = output_of(
        std::process::Command::new("nix-store")
            .args(["--store", &store, "--verify", "--check-contents"])
            .env("USER", "root"),
    );
    assert!(
        verify.status.success() && !String::from_utf8_lossy(&verify.stderr).contains("error"),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // In the container.
    in_every_engine(&[Path::new(&archive)], |engine| {
        let verified =
            nix_store_in_container(engine, "--verify --check-contents 2>&1 && echo verified");
        assert!(verified.ends_with("verified\n"), "in {engine}: {verified}");
        assert!(!verified.contains("error"), "in {engine}: {verified}");
        assert_eq!(
            nix_store_in_container(engine, &format!("-q --references {user} 2>/dev/null")),
            format!("{busybox}\n"),
            "in {engine}"
        );
    });

    // Built again, the database is the same byte for byte.
    assert_rebuilds_identically("nix-db.customisation");
}

#[test]
fn helpers_give_a_shell_env_certificates_and_accounts() {
    let archive = built("helpers");
    in_every_engine(&[Path::new(&archive)], |engine| {
        assert_eq!(
            engine.run("helpers:test", &[], &[]),
            "hello\n\
             a bundle of certificates\n\
             a bundle of certificates\n\
             uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\n\
             /var/empty\n",
            "in {engine}"
        );
    });
}

#[test]
fn etc_from_a_single_package_is_seen_in_every_engine() {
    // Docker makes /etc/hosts and friends in a layer of its own, which
    // hides an /etc that is a symlink into the store.
    let cases = [
        ("note", "etc-note:test", "a note in /etc\n"),
        (
            "fake-nss",
            "etc-fake-nss:test",
            "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\n",
        ),
        (
            "certificates",
            "etc-certificates:test",
            "a bundle of certificates\n",
        ),
        ("env", "etc-env:test", "a bundle of certificates\n"),
    ];
    let archives: Vec<String> = cases
        .iter()
        .map(|(attribute, ..)| built(&format!("etc-alone.{attribute}")))
        .collect();
    let archives: Vec<&Path> = archives.iter().map(Path::new).collect();
    in_every_engine(&archives, |engine| {
        for (_, image, expected) in cases {
            assert_eq!(engine.run(image, &[], &[]), expected, "{image} in {engine}");
        }
    });
}
