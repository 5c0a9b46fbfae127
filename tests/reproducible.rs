//! The same inputs give the same bytes: across rebuilds, thread counts,
//! closure orders, and however the store happens to hard-link files.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

#[test]
fn nix_build_check_rebuilds_identically_on_one_core_and_all() {
    nix_build("images.tree");
    for cores in ["0", "1"] {
        let output = output_of(
            nix_build_command("images.tree")
                .arg("--check")
                .args(["--option", "cores", cores]),
        );
        assert!(
            output.status.success(),
            "nix-build --check with {cores} cores found a difference:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The closure of `contents`, as `nix-store --dump-db` prints it (records
/// of path, hash, size, deriver, references).
fn dump_db_records(contents: &[String]) -> Vec<Vec<String>> {
    let paths = run(Command::new("nix-store")
        .args(["--query", "--requisites"])
        .args(contents));
    let text = run(Command::new("nix-store")
        .arg("--dump-db")
        .args(paths.lines()));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut records = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let count: usize = lines[at + 4].parse().unwrap();
        records.push(lines[at..at + 5 + count].to_vec());
        at += 5 + count;
    }
    records
}

/// Builds an image of `contents` by hand, from the closure file `closure`,
/// its layers compressed by `compressor`.
fn build_by_hand(
    dir: &Path,
    name: &str,
    contents: &[String],
    closure: &Path,
    threads: &str,
    layering: &str,
    compressor: &str,
) -> Vec<u8> {
    let out = dir.join(format!("{name}.tar"));
    let mut command = Command::new(strata_binary());
    command.args(["build", "--name", "by-hand", "--tag", "test"]);
    command.args([
        "--threads",
        threads,
        "--layering",
        layering,
        "--compressor",
        compressor,
    ]);
    for content in contents {
        command.arg("--contents").arg(content);
    }
    run(command.arg("--closure").arg(closure).arg("-o").arg(&out));
    fs::read(out).unwrap()
}

#[test]
fn closure_order_format_and_thread_count_do_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let contents = [nix_build("busybox"), nix_build("tree")];
    let records = dump_db_records(&contents);
    assert!(records.len() >= 2);
    let write = |name: &str, text: String| -> PathBuf {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    };
    let forward = write("forward", records.concat().join("\n") + "\n");
    let mut reversed_records = records.clone();
    reversed_records.reverse();
    let reversed = write("reversed", reversed_records.concat().join("\n") + "\n");
    let json: Vec<_> = reversed_records
        .iter()
        .map(|r| {
            serde_json::json!({
                "path": r[0], "narSize": r[2].parse::<u64>().unwrap(),
                "references": r[5..], "closureSize": 0, "valid": true,
            })
        })
        .collect();
    let json = write("reversed.json", serde_json::to_string(&json).unwrap());
    // The legacy exportReferencesGraph text: path, empty deriver, count, references.
    let legacy: String = reversed_records
        .iter()
        .map(|r| {
            format!(
                "{}\n\n{}\n{}",
                r[0],
                r[4],
                r[5..].iter().map(|l| format!("{l}\n")).collect::<String>()
            )
        })
        .collect();
    let legacy = write("reversed.legacy", legacy);

    for layering in ["auto", "popularity"] {
        let build = |name: &str, closure: &Path, threads: &str| {
            // zstd, whose compressor uses several threads when there are.
            build_by_hand(
                dir.path(),
                name,
                &contents,
                closure,
                threads,
                layering,
                "zstd",
            )
        };
        let reference = build("forward", &forward, "0");
        assert!(reference == build("reversed", &reversed, "0"), "{layering}");
        assert!(reference == build("json", &json, "0"), "{layering}");
        assert!(
            reference == build("one-thread", &forward, "1"),
            "{layering}"
        );
        assert!(
            reference == build("three-threads", &forward, "3"),
            "{layering}"
        );
        if layering == "popularity" {
            // The legacy format has no NAR sizes, which stable and auto layering need.
            assert!(reference == build("legacy", &legacy, "0"));
        }
    }
}

#[test]
fn gz_layers_are_the_same_on_any_thread_count_and_gzip_reads_them() {
    require("gzip");
    let dir = tempfile::tempdir().unwrap();
    let contents = [nix_build("busybox"), nix_build("tree")];
    let closure = dir.path().join("closure");
    fs::write(
        &closure,
        dump_db_records(&contents).concat().join("\n") + "\n",
    )
    .unwrap();
    let build = |threads: &str| {
        let name = format!("gz-{threads}");
        build_by_hand(
            dir.path(),
            &name,
            &contents,
            &closure,
            threads,
            "popularity",
            "gz",
        );
        dir.path().join(format!("{name}.tar"))
    };
    let reference = build("1");
    for threads in ["2", "8"] {
        assert!(
            same_bytes(&reference, &build(threads)),
            "gz layers differ between 1 and {threads} threads"
        );
    }
    let manifest = oci_manifest(&reference);
    let mut largest = 0;
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let digest = layer["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let blob = dir.path().join(digest);
        fs::write(
            &blob,
            archive_file(&reference, &format!("blobs/sha256/{digest}")),
        )
        .unwrap();
        run(Command::new("gzip").arg("-t").arg(&blob));
        let unpacked = run(Command::new("gzip").args(["-l", "--quiet"]).arg(&blob));
        let size: u64 = unpacked.split_whitespace().nth(1).unwrap().parse().unwrap();
        largest = largest.max(size);
    }
    // The blocks are 1 MiB: a layer this large is several of them.
    assert!(
        largest > 2 << 20,
        "no layer spans several blocks ({largest} bytes)"
    );
}

/// Files of `root` that share their inode with another name.
fn hard_linked_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if meta.is_file() && meta.nlink() > 1 {
            found.push(path);
        }
    }
    found
}

/// Replaces each hard-linked file of `root` by a copy of its own.
fn break_hard_links(root: &Path) {
    for file in hard_linked_files(root) {
        let copy = file.with_extension("strata-test-copy");
        fs::copy(&file, &copy).unwrap();
        fs::rename(&copy, &file).unwrap();
    }
}

#[test]
fn hard_links_and_copies_give_the_same_image() {
    // This test rewrites the files of its own fixture, which no other test reads.
    let dir = tempfile::tempdir().unwrap();
    let contents = [nix_build("linked")];
    let closure = dir.path().join("closure");
    fs::write(
        &closure,
        dump_db_records(&contents).concat().join("\n") + "\n",
    )
    .unwrap();
    let linked_path = PathBuf::from(&contents[0]);
    let build =
        |name: &str| build_by_hand(dir.path(), name, &contents, &closure, "0", "auto", "zstd");
    let as_found = build("as-found");

    break_hard_links(&linked_path);
    assert!(hard_linked_files(&linked_path).is_empty());
    assert!(as_found == build("copied"));

    // What auto-optimise-store does: identical files become hard links.
    run(Command::new("nix-store").arg("--optimise"));
    let linked = hard_linked_files(&linked_path);
    for name in ["duplicate-1", "duplicate-2", "linked-a", "linked-b"] {
        assert!(
            linked.iter().any(|p| p.ends_with(format!("share/{name}"))),
            "{name}"
        );
    }
    assert!(as_found == build("optimised"));
}
