//! Writing one layer's tar from its plan entry.
//!
//! Every layer starts with the directories of the store path prefix
//! (`nix/`, `nix/store/`), all with the same attributes. Store paths are then
//! walked depth-first, parents before children, siblings sorted bytewise by
//! name (the order of a NAR). Hard links are written as separate files.
//!
//! The same walk either writes a layer ([`write_layer`]) or only adds up its
//! size from the files' metadata ([`layer_size`]), so that an archive can be
//! laid out before any layer is written.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::format::store_path::StorePath;
use crate::format::tar_format::{self, EntryKind};
use crate::input::customisation::{self, RecordedEntries};
use crate::plan::image_plan::LayerPlan;
use crate::plan::perms::EntryRules;
use crate::plan::root_tree::{RootEntry, RootTree};

/// Size of the buffer file contents are copied through.
pub const COPY_BUFFER: usize = 1 << 20;

/// Where the walk sends a layer's tar: header bytes, and file contents.
trait TarSink: Write {
    /// Adds exactly `size` bytes: the contents of the file at `path`.
    fn file_contents(&mut self, path: &Path, size: u64) -> Result<()>;
}

/// Writes the tar, reading file contents through `buffer`.
struct ContentWriter<'a, W> {
    out: W,
    buffer: &'a mut [u8],
}

impl<W: Write> Write for ContentWriter<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.out.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> TarSink for ContentWriter<'_, W> {
    fn file_contents(&mut self, path: &Path, size: u64) -> Result<()> {
        let mut file =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        tar_format::copy_exactly(&mut self.out, &mut file, size, self.buffer)
            .with_context(|| format!("cannot read {}", path.display()))
    }
}

/// Counts the tar's bytes without reading any file.
#[derive(Default)]
struct SizeCounter(u64);

impl Write for SizeCounter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TarSink for SizeCounter {
    fn file_contents(&mut self, _path: &Path, size: u64) -> Result<()> {
        self.0 += size;
        Ok(())
    }
}

/// Writes the complete tar of `layer` to `out`, copying file contents
/// through `buffer`.
pub fn write_layer<W: Write>(
    layer: &LayerPlan,
    store_dir: &str,
    rules: &EntryRules,
    out: W,
    buffer: &mut [u8],
) -> Result<W> {
    let mut sink = ContentWriter { out, buffer };
    walk_layer(layer, store_dir, rules, &mut sink)?;
    Ok(sink.out)
}

/// The size of the tar [`write_layer`] writes, from metadata alone.
pub fn layer_size(layer: &LayerPlan, store_dir: &str, rules: &EntryRules) -> Result<u64> {
    let mut counter = SizeCounter::default();
    walk_layer(layer, store_dir, rules, &mut counter)?;
    Ok(counter.0)
}

fn walk_layer<S: TarSink>(
    layer: &LayerPlan,
    store_dir: &str,
    rules: &EntryRules,
    out: &mut S,
) -> Result<()> {
    let prefix = store_prefix_dirs(store_dir);
    for dir in &prefix {
        tar_format::write_header(
            out,
            &rules.attrs_for(dir.as_bytes()),
            dir.as_bytes(),
            &EntryKind::Directory,
        )?;
    }
    for path in &layer.paths {
        walk_store_path(path, rules, out)?;
    }
    write_root_tree(&layer.root, &prefix, rules, out)?;
    if let Some(dir) = &layer.root_dir {
        walk_root_dir(Path::new(dir), &prefix, rules, out)?;
    }
    tar_format::write_end(out)?;
    Ok(())
}

/// `nix/`, `nix/store/` for `/nix/store`: the entries every layer starts with.
fn store_prefix_dirs(store_dir: &str) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut current = String::new();
    for component in store_dir.split('/').filter(|c| !c.is_empty()) {
        current.push_str(component);
        current.push('/');
        dirs.push(current.clone());
    }
    dirs
}

fn walk_store_path<S: TarSink>(root: &StorePath, rules: &EntryRules, out: &mut S) -> Result<()> {
    let root_name = root.as_str().trim_start_matches('/').as_bytes().to_vec();
    let start = vec![(root.as_path().to_path_buf(), root_name)];
    walk_tree(start, rules, None, &[], out).with_context(|| format!("in store path {root}"))
}

/// Writes the customisation root made by commands: the entries below
/// `dir/root`, with the modes and owners recorded beside it. The store
/// prefix directories are already written, so their headers are left out.
fn walk_root_dir<S: TarSink>(
    dir: &Path,
    prefix: &[String],
    rules: &EntryRules,
    out: &mut S,
) -> Result<()> {
    let recorded = customisation::read_recorded(dir)?;
    let root = dir.join(customisation::ROOT_DIR);
    let start = sorted_children(&root)?
        .into_iter()
        .rev()
        .map(|child| (root.join(&child), child.as_bytes().to_vec()))
        .collect();
    walk_tree(start, rules, Some(&recorded), prefix, out)
}

/// Writes the entries on the stack `start` (file system path, tar name;
/// the last one first) and everything below them, depth first, siblings
/// by name bytes. `recorded` gives modes and owners by tar name.
fn walk_tree<S: TarSink>(
    mut stack: Vec<(PathBuf, Vec<u8>)>,
    rules: &EntryRules,
    recorded: Option<&RecordedEntries>,
    skipped_headers: &[String],
    out: &mut S,
) -> Result<()> {
    let attrs_for = |name: &[u8]| {
        let key = String::from_utf8_lossy(name);
        let found = recorded.and_then(|r| r.get(key.trim_end_matches('/')));
        rules.attrs_over(name, found.copied())
    };
    while let Some((fs_path, name)) = stack.pop() {
        let meta = fs::symlink_metadata(&fs_path)
            .with_context(|| format!("cannot read {}", fs_path.display()))?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            let mut dir_name = name.clone();
            dir_name.push(b'/');
            if !skipped_headers.iter().any(|s| s.as_bytes() == dir_name) {
                let kind = EntryKind::Directory;
                tar_format::write_header(out, &attrs_for(&dir_name), &dir_name, &kind)?;
            }
            for child in sorted_children(&fs_path)?.into_iter().rev() {
                let mut child_name = dir_name.clone();
                child_name.extend_from_slice(child.as_bytes());
                stack.push((fs_path.join(&child), child_name));
            }
        } else if file_type.is_symlink() {
            let target = fs::read_link(&fs_path)
                .with_context(|| format!("cannot read the symlink {}", fs_path.display()))?;
            let kind = EntryKind::Symlink {
                target: target.as_os_str().as_bytes(),
            };
            tar_format::write_header(out, &attrs_for(&name), &name, &kind)?;
        } else if file_type.is_file() {
            let size = meta.len();
            let kind = EntryKind::File {
                size,
                executable: meta.permissions().mode() & 0o111 != 0,
            };
            tar_format::write_header(out, &attrs_for(&name), &name, &kind)?;
            out.file_contents(&fs_path, size)?;
            tar_format::write_padding(out, size)?;
        } else {
            bail!(
                "{} is a {}; a layer may hold only files, directories and symlinks",
                fs_path.display(),
                special_kind(&file_type)
            );
        }
    }
    Ok(())
}

/// The names in directory `dir`, sorted bytewise.
fn sorted_children(dir: &Path) -> Result<Vec<OsString>> {
    let mut children: Vec<OsString> = fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
        .with_context(|| format!("cannot list {}", dir.display()))?;
    children.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(children)
}

fn special_kind(file_type: &fs::FileType) -> &'static str {
    if file_type.is_fifo() {
        "fifo"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

/// Writes the root tree; the store prefix directories are already written,
/// so they are passed over (their other children are not).
fn write_root_tree<W: Write>(
    tree: &RootTree,
    prefix: &[String],
    rules: &EntryRules,
    out: &mut W,
) -> Result<()> {
    let mut stack: Vec<(String, &RootEntry)> = tree
        .entries
        .iter()
        .rev()
        .map(|(name, entry)| (name.clone(), entry))
        .collect();
    while let Some((name, entry)) = stack.pop() {
        match entry {
            RootEntry::Symlink(target) => {
                let kind = EntryKind::Symlink {
                    target: target.as_bytes(),
                };
                tar_format::write_header(
                    out,
                    &rules.attrs_for(name.as_bytes()),
                    name.as_bytes(),
                    &kind,
                )?;
            }
            RootEntry::File(text) => {
                let size = text.len() as u64;
                let kind = EntryKind::File {
                    size,
                    executable: false,
                };
                tar_format::write_header(
                    out,
                    &rules.attrs_for(name.as_bytes()),
                    name.as_bytes(),
                    &kind,
                )?;
                out.write_all(text.as_bytes())?;
                tar_format::write_padding(out, size)?;
            }
            RootEntry::Directory(children) => {
                let dir_name = format!("{name}/");
                if !prefix.contains(&dir_name) {
                    tar_format::write_header(
                        out,
                        &rules.attrs_for(dir_name.as_bytes()),
                        dir_name.as_bytes(),
                        &EntryKind::Directory,
                    )?;
                }
                for (child, entry) in children.iter().rev() {
                    stack.push((format!("{dir_name}{child}"), entry));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::tar_format::EntryAttrs;
    use crate::format::tar_format::tar_entries;
    use crate::plan::root_tree::RootEntry;
    use std::collections::BTreeMap;

    #[test]
    fn prefix_dirs() {
        assert_eq!(store_prefix_dirs("/nix/store"), ["nix/", "nix/store/"]);
        assert_eq!(store_prefix_dirs("/a/b/c/"), ["a/", "a/b/", "a/b/c/"]);
    }

    fn store_only(paths: Vec<StorePath>) -> LayerPlan {
        LayerPlan {
            paths,
            root: RootTree::default(),
            nar_size: None,
            root_dir: None,
            base: None,
            reason: "test".to_owned(),
        }
    }

    /// The layer's bytes, checked against the size its metadata predicts.
    fn layer_of(plan: &LayerPlan, store_dir: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        write_layer(
            plan,
            store_dir,
            &EntryRules::new(EntryAttrs::default(), &[])?,
            &mut out,
            &mut [0; 7],
        )?;
        Ok(out)
    }

    /// A store directory in a temporary directory, with one store path.
    fn store_with_path() -> (tempfile::TempDir, String, StorePath) {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = format!("{}/store", dir.path().display());
        let path = format!("{store_dir}/00000000000000000000000000000000-pkg");
        std::fs::create_dir_all(format!("{path}/a/b")).unwrap();
        std::fs::create_dir_all(format!("{path}/a-b")).unwrap();
        std::fs::write(format!("{path}/a/b/file"), "one").unwrap();
        std::fs::write(format!("{path}/a-b/exe"), "#!").unwrap();
        let mut perms = std::fs::metadata(format!("{path}/a-b/exe"))
            .unwrap()
            .permissions();
        perms.set_mode(0o700);
        std::fs::set_permissions(format!("{path}/a-b/exe"), perms).unwrap();
        std::fs::hard_link(format!("{path}/a/b/file"), format!("{path}/a/hard")).unwrap();
        std::os::unix::fs::symlink("b/file", format!("{path}/a/link")).unwrap();
        let store_path = StorePath::parse(&path, &store_dir).unwrap();
        (dir, store_dir, store_path)
    }

    #[test]
    fn store_paths_are_written_in_nar_order_with_nix_modes() {
        let (_dir, store_dir, path) = store_with_path();
        let plan = store_only(vec![path.clone()]);
        let got = tar_entries(&layer_of(&plan, &store_dir).unwrap());
        let root = path.as_str().trim_start_matches('/');
        let prefix: Vec<String> = store_prefix_dirs(&store_dir);
        let names: Vec<&str> = got.iter().map(|e| e.name.as_str()).collect();
        let mut expected: Vec<String> = prefix.clone();
        for rest in [
            "/",
            "/a/",
            "/a/b/",
            "/a/b/file",
            "/a/hard",
            "/a/link",
            "/a-b/",
            "/a-b/exe",
        ] {
            expected.push(format!("{root}{rest}"));
        }
        assert_eq!(
            names, expected,
            "parents first, siblings by name bytes: a/b before a-b"
        );
        let by_name = |suffix: &str| got.iter().find(|e| e.name.ends_with(suffix)).unwrap();
        assert_eq!(
            by_name("/a/hard").kind,
            tar::EntryType::Regular,
            "hard links become files"
        );
        assert_eq!(by_name("/a/hard").data, b"one");
        assert_eq!(by_name("/a/hard").mode, 0o444);
        assert_eq!(by_name("/a-b/exe").mode, 0o555);
        assert_eq!(by_name("/a/").mode, 0o555);
        assert_eq!(by_name("/a/link").link.as_deref(), Some("b/file"));
    }

    #[test]
    fn every_layer_starts_with_the_same_prefix_entries() {
        let (_dir, store_dir, path) = store_with_path();
        let mut tree = RootTree::default();
        tree.entries
            .insert("bin".into(), RootEntry::Symlink(format!("{path}/a")));
        tree.entries.insert(
            "etc".into(),
            RootEntry::Directory(BTreeMap::from([(
                "x".to_owned(),
                RootEntry::Symlink("/y".into()),
            )])),
        );
        let store = layer_of(&store_only(vec![path]), &store_dir).unwrap();
        let root = layer_of(
            &LayerPlan {
                root: tree,
                ..store_only(Vec::new())
            },
            &store_dir,
        )
        .unwrap();
        let prefix_len = store_prefix_dirs(&store_dir).len() * tar_format::BLOCK;
        assert_eq!(store[..prefix_len], root[..prefix_len]);
        let names: Vec<String> = tar_entries(&root).into_iter().map(|e| e.name).collect();
        assert_eq!(names[names.len() - 3..], ["bin", "etc/", "etc/x"]);
    }

    #[test]
    fn special_files_are_an_error_naming_them() {
        let (_dir, store_dir, path) = store_with_path();
        let fifo = format!("{path}/a/fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let plan = store_only(vec![path]);
        let err = format!("{:#}", layer_of(&plan, &store_dir).unwrap_err());
        assert!(err.contains(&format!("{fifo} is a fifo")), "{err}");
    }
}
