//! The customisation root: `contents` merged at `/` the way `buildEnv` does.
//!
//! Each top-level entry of each content path becomes a symlink into the store
//! (`/bin -> /nix/store/…-busybox/bin`). Where two content paths both have a
//! directory at the same place, a real directory is made and their entries are
//! merged one level down, recursively. Two different files at one place are an
//! error naming both; identical files (same bytes, same executable bit) are not.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::store_path::StorePath;

/// Top-level names `buildEnv` leaves out: package metadata, not files to use.
const SKIPPED_TOP_LEVEL: &[&str] = &["nix-support", "propagated-build-inputs"];

/// An entry of the root tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootEntry {
    Directory(BTreeMap<String, RootEntry>),
    Symlink(String),
    /// A file made by strata (`/etc/passwd`), with its text.
    File(String),
}

/// The tree of the customisation layer, entries sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RootTree {
    pub entries: BTreeMap<String, RootEntry>,
}

impl RootTree {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a file or a directory made by strata at the absolute `path`
    /// (`what` made it, for errors). Directories above it are made; a link
    /// into a content path's directory becomes a directory of links.
    pub fn insert(&mut self, path: &str, entry: RootEntry, what: &str) -> Result<()> {
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let Some((name, parents)) = components.split_last() else {
            bail!("{what} cannot be made at {path}");
        };
        let mut map = &mut self.entries;
        for (depth, parent) in parents.iter().enumerate() {
            let at = format!("/{}", components[..=depth].join("/"));
            let slot = map
                .entry((*parent).to_owned())
                .or_insert_with(|| RootEntry::Directory(BTreeMap::new()));
            expand_link(slot, &at, what, path)?;
            let RootEntry::Directory(children) = slot else {
                bail!("{what} {path} cannot be made: contents have a file at {at}");
            };
            map = children;
        }
        match (map.get_mut(*name), entry) {
            (None, entry) => {
                map.insert((*name).to_owned(), entry);
            }
            (Some(existing), RootEntry::Directory(_)) => {
                expand_link(existing, path, what, path)?;
                if !matches!(existing, RootEntry::Directory(_)) {
                    bail!("{what} {path} cannot be made: contents have a file there");
                }
            }
            (Some(_), _) => bail!("{what} {path} collides with {path} from contents"),
        }
        Ok(())
    }

    /// Makes the tree on disk in the directory `dir`: directories
    /// (writable), symlinks and files.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        write_entries(&self.entries, dir)
    }
}

fn write_entries(entries: &BTreeMap<String, RootEntry>, dir: &Path) -> Result<()> {
    for (name, entry) in entries {
        let path = dir.join(name);
        match entry {
            RootEntry::Directory(children) => {
                fs::create_dir_all(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                write_entries(children, &path)?;
            }
            RootEntry::Symlink(target) => std::os::unix::fs::symlink(target, &path)
                .with_context(|| format!("cannot create {}", path.display()))?,
            RootEntry::File(text) => fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?,
        }
    }
    Ok(())
}

/// Turns a link to a directory into a directory of links to its entries.
fn expand_link(entry: &mut RootEntry, at: &str, what: &str, path: &str) -> Result<()> {
    if let RootEntry::Symlink(target) = entry {
        if !Path::new(target).is_dir() {
            bail!(
                "{what} {path} cannot be made: contents have a link at {at} to {target}, not to a directory"
            );
        }
        let mut names: Vec<String> = fs::read_dir(&*target)
            .with_context(|| format!("cannot list {target}"))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        *entry = RootEntry::Directory(
            names
                .into_iter()
                .map(|n| {
                    let link = RootEntry::Symlink(format!("{target}/{n}"));
                    (n, link)
                })
                .collect(),
        );
    }
    Ok(())
}

/// While merging: where an entry comes from.
enum Slot {
    /// A symlink to `source` (inside content path `origin`).
    Link {
        source: PathBuf,
        origin: StorePath,
    },
    Directory(BTreeMap<String, Slot>),
}

/// How deep the root tree links into the content paths.
#[derive(Clone, Copy, Debug)]
pub enum Linking<'a> {
    /// Top-level entries are links where only one content path has them
    /// (`/bin -> …/bin`), as `buildEnv` does.
    TopLevel,
    /// Every directory is made and only files and symlinks are links, so
    /// the tree merges with a base image's directories. Where the base has
    /// a symlink to a directory (`/bin -> usr/bin`, or into the store as a
    /// strata image has), the entries go where it points: into the
    /// directory it names, or beside the store directory's entries.
    Files {
        /// The base image's symlinks outside the store: path (no leading
        /// `/`) to target.
        base_symlinks: &'a BTreeMap<String, String>,
    },
}

/// Merges the content paths, in order, into one root tree.
pub fn merge_contents(contents: &[StorePath], linking: Linking) -> Result<RootTree> {
    let mut root: BTreeMap<String, Slot> = BTreeMap::new();
    for content in contents {
        let meta = fs::metadata(content.as_path())
            .with_context(|| format!("cannot read contents path {content}"))?;
        if !meta.is_dir() {
            bail!(
                "contents path {content} is a file; contents (copyToRoot) must be directories whose entries are linked into /"
            );
        }
        add_children(&mut root, content.as_path(), content, "")?;
    }
    let store_dir = contents.first().map(|c| c.store_dir().to_owned());
    if let Some(store_dir) = &store_dir {
        check_store_dir_untouched(&root, store_dir)?;
    }
    if let (Linking::Files { base_symlinks }, Some(store_dir)) = (linking, &store_dir) {
        expand_directories(&mut root)?;
        follow_base_symlinks(&mut root, base_symlinks, store_dir)?;
    }
    Ok(RootTree {
        entries: root
            .into_iter()
            .map(|(name, slot)| (name, finish(slot)))
            .collect(),
    })
}

/// Replaces every link to a directory by a directory of links.
fn expand_directories(map: &mut BTreeMap<String, Slot>) -> Result<()> {
    for slot in map.values_mut() {
        if let Slot::Link { source, origin } = slot
            && fs::symlink_metadata(&*source).is_ok_and(|m| m.is_dir())
        {
            let mut children = BTreeMap::new();
            add_children(&mut children, source, origin, "/")?;
            *slot = Slot::Directory(children);
        }
        if let Slot::Directory(children) = slot {
            expand_directories(children)?;
        }
    }
    Ok(())
}

/// Moves or completes the directories that the base image has as symlinks
/// (see [`Linking::Files`]).
fn follow_base_symlinks(
    root: &mut BTreeMap<String, Slot>,
    base_symlinks: &BTreeMap<String, String>,
    store_dir: &str,
) -> Result<()> {
    for (path, target) in base_symlinks {
        let components: Vec<&str> = path.split('/').collect();
        let Some((name, parents)) = components.split_last() else {
            continue;
        };
        let Some(map) = directory_at(root, parents) else {
            continue;
        };
        if !matches!(map.get(*name), Some(Slot::Directory(_))) {
            continue;
        }
        let Some(Slot::Directory(children)) = map.remove(*name) else {
            unreachable!("checked above");
        };
        let resolved = resolve_link(parents, target);
        let on_disk = Path::new("/").join(&resolved);
        if on_disk.starts_with(store_dir) {
            // Into a store path: a directory of links to what it holds, and
            // to this image's entries.
            let origin = StorePath::parse(
                &on_disk
                    .ancestors()
                    .find(|a| a.parent() == Some(Path::new(store_dir)))
                    .unwrap_or(&on_disk)
                    .to_string_lossy(),
                store_dir,
            )
            .with_context(|| format!("the base image's /{path} points to {target}"))?;
            let mut merged = BTreeMap::new();
            if on_disk.is_dir() {
                add_children(&mut merged, &on_disk, &origin, &format!("/{path}"))?;
            }
            for (child, slot) in children {
                merged.insert(child, slot);
            }
            map.insert((*name).to_owned(), Slot::Directory(merged));
        } else {
            // Elsewhere in the image: the entries go there.
            let mut map = &mut *root;
            let parts: Vec<&str> = resolved.split('/').filter(|c| !c.is_empty()).collect();
            for part in &parts {
                let slot = map
                    .entry((*part).to_owned())
                    .or_insert_with(|| Slot::Directory(BTreeMap::new()));
                let Slot::Directory(next) = slot else {
                    bail!(
                        "the base image's /{path} points to /{resolved}, where contents have a file"
                    );
                };
                map = next;
            }
            for (child, slot) in children {
                if map.insert(child.clone(), slot).is_some() {
                    bail!(
                        "contents have both /{path}/{child} and /{resolved}/{child}, which the base image's symlink /{path} -> {target} makes one"
                    );
                }
            }
        }
    }
    Ok(())
}

/// The directory of the tree at `path`, if the tree has one there.
fn directory_at<'m>(
    map: &'m mut BTreeMap<String, Slot>,
    path: &[&str],
) -> Option<&'m mut BTreeMap<String, Slot>> {
    match path.split_first() {
        None => Some(map),
        Some((first, rest)) => match map.get_mut(*first) {
            Some(Slot::Directory(children)) => directory_at(children, rest),
            _ => None,
        },
    }
}

/// The path (no leading `/`) that the symlink in directory `parents` with
/// target `target` names, `.` and `..` resolved.
fn resolve_link(parents: &[&str], target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        parents.to_vec()
    };
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn add_children(
    map: &mut BTreeMap<String, Slot>,
    dir: &Path,
    origin: &StorePath,
    relative: &str,
) -> Result<()> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name().into_string().map_err(|raw| {
            anyhow::anyhow!(
                "{} has the entry {raw:?}, whose name is not UTF-8; it cannot be merged into /",
                dir.display()
            )
        })?;
        names.push(name);
    }
    names.sort();
    for name in names {
        if relative.is_empty() && SKIPPED_TOP_LEVEL.contains(&name.as_str()) {
            continue;
        }
        let child_relative = format!("{relative}/{name}");
        add(map, name.clone(), dir.join(&name), origin, &child_relative)?;
    }
    Ok(())
}

fn add(
    map: &mut BTreeMap<String, Slot>,
    name: String,
    source: PathBuf,
    origin: &StorePath,
    relative: &str,
) -> Result<()> {
    match map.remove(&name) {
        None => {
            map.insert(
                name,
                Slot::Link {
                    source,
                    origin: origin.clone(),
                },
            );
        }
        Some(Slot::Link {
            source: existing,
            origin: existing_origin,
        }) => {
            if is_dir(&existing) && is_dir(&source) {
                let mut merged = BTreeMap::new();
                add_children(&mut merged, &existing, &existing_origin, relative)?;
                add_children(&mut merged, &source, origin, relative)?;
                map.insert(name, Slot::Directory(merged));
            } else if same_file(&existing, &source)? {
                map.insert(
                    name,
                    Slot::Link {
                        source: existing,
                        origin: existing_origin,
                    },
                );
            } else {
                bail!(
                    "contents collide at {relative}: {existing_origin} and {origin} both provide it, with different contents ({} and {})",
                    existing.display(),
                    source.display()
                );
            }
        }
        Some(Slot::Directory(mut merged)) => {
            if !is_dir(&source) {
                bail!(
                    "contents collide at {relative}: {origin} provides a file where other contents paths have a directory"
                );
            }
            add_children(&mut merged, &source, origin, relative)?;
            map.insert(name, Slot::Directory(merged));
        }
    }
    Ok(())
}

/// Nothing in `/` may replace the store directory or put entries into it:
/// a symlink at `/nix` or a directory with entries at `/nix/store` is an error.
fn check_store_dir_untouched(root: &BTreeMap<String, Slot>, store_dir: &str) -> Result<()> {
    let components: Vec<&str> = store_dir.split('/').filter(|c| !c.is_empty()).collect();
    let mut map = root;
    for (depth, component) in components.iter().enumerate() {
        let at = format!("/{}", components[..=depth].join("/"));
        match map.get(*component) {
            None => return Ok(()),
            Some(Slot::Link { origin, .. }) => {
                bail!(
                    "contents path {origin} has {at}, which would hide the store directory {store_dir} in the image"
                )
            }
            Some(Slot::Directory(children)) if depth + 1 == components.len() => {
                let origin = first_origin(children).map_or_else(String::new, |o| format!("{o} "));
                bail!("contents path {origin}puts entries into the store directory {store_dir}")
            }
            Some(Slot::Directory(children)) => map = children,
        }
    }
    Ok(())
}

fn first_origin(map: &BTreeMap<String, Slot>) -> Option<&StorePath> {
    map.values().find_map(|slot| match slot {
        Slot::Link { origin, .. } => Some(origin),
        Slot::Directory(children) => first_origin(children),
    })
}

fn finish(slot: Slot) -> RootEntry {
    match slot {
        Slot::Link { source, .. } => RootEntry::Symlink(source.to_string_lossy().into_owned()),
        Slot::Directory(children) => RootEntry::Directory(
            children
                .into_iter()
                .map(|(name, slot)| (name, finish(slot)))
                .collect(),
        ),
    }
}

fn is_dir(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// Whether two paths resolve to the same file, or to regular files with the
/// same bytes and the same executable bit.
fn same_file(a: &Path, b: &Path) -> Result<bool> {
    if let (Ok(ca), Ok(cb)) = (fs::canonicalize(a), fs::canonicalize(b))
        && ca == cb
    {
        return Ok(true);
    }
    let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) else {
        return Ok(false);
    };
    if !ma.is_file()
        || !mb.is_file()
        || ma.len() != mb.len()
        || (ma.permissions().mode() & 0o111 != 0) != (mb.permissions().mode() & 0o111 != 0)
    {
        return Ok(false);
    }
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Store {
        _dir: tempfile::TempDir,
        store_dir: String,
    }

    impl Store {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store_dir = format!("{}/nix/store", dir.path().display());
            fs::create_dir_all(&store_dir).unwrap();
            Store {
                _dir: dir,
                store_dir,
            }
        }

        /// A store path `name` holding `files` (relative path, contents).
        fn path(&self, name: &str, files: &[(&str, &str)]) -> StorePath {
            let hash = format!("{:0>32}", name.len());
            let path = format!("{}/{hash}-{name}", self.store_dir);
            for (file, data) in files {
                let full = Path::new(&path).join(file);
                fs::create_dir_all(full.parent().unwrap()).unwrap();
                fs::write(full, data).unwrap();
            }
            StorePath::parse(&path, &self.store_dir).unwrap()
        }
    }

    fn link(target: &StorePath, rest: &str) -> RootEntry {
        RootEntry::Symlink(format!("{target}/{rest}"))
    }

    #[test]
    fn single_contents_link_their_top_level_entries() {
        let store = Store::new();
        let a = store.path(
            "a",
            &[
                ("bin/x", "x"),
                ("etc/conf", "c"),
                ("nix-support/setup", "s"),
            ],
        );
        let tree = merge_contents(std::slice::from_ref(&a), Linking::TopLevel).unwrap();
        let expected = BTreeMap::from([
            ("bin".to_owned(), link(&a, "bin")),
            ("etc".to_owned(), link(&a, "etc")),
        ]);
        assert_eq!(tree.entries, expected);
    }

    #[test]
    fn shared_directories_are_merged_one_level_at_a_time() {
        let store = Store::new();
        let a = store.path("a", &[("bin/x", "x"), ("share/a/1", "1")]);
        let bb = store.path("bb", &[("bin/y", "y"), ("share/b/2", "2"), ("lib/l", "l")]);
        let tree = merge_contents(&[a.clone(), bb.clone()], Linking::TopLevel).unwrap();
        let expected = BTreeMap::from([
            (
                "bin".to_owned(),
                RootEntry::Directory(BTreeMap::from([
                    ("x".to_owned(), link(&a, "bin/x")),
                    ("y".to_owned(), link(&bb, "bin/y")),
                ])),
            ),
            ("lib".to_owned(), link(&bb, "lib")),
            (
                "share".to_owned(),
                RootEntry::Directory(BTreeMap::from([
                    ("a".to_owned(), link(&a, "share/a")),
                    ("b".to_owned(), link(&bb, "share/b")),
                ])),
            ),
        ]);
        assert_eq!(tree.entries, expected);
    }

    #[test]
    fn identical_files_may_overlap_different_ones_may_not() {
        let store = Store::new();
        let a = store.path("a", &[("etc/same", "same"), ("etc/one", "1")]);
        let bb = store.path("bb", &[("etc/same", "same"), ("etc/two", "2")]);
        assert!(merge_contents(&[a.clone(), bb], Linking::TopLevel).is_ok());
        let ccc = store.path("ccc", &[("etc/one", "different")]);
        let err = format!(
            "{:#}",
            merge_contents(&[a.clone(), ccc.clone()], Linking::TopLevel).unwrap_err()
        );
        assert!(err.contains("collide at /etc/one"), "{err}");
        assert!(
            err.contains(a.as_str()) && err.contains(ccc.as_str()),
            "{err}"
        );
    }

    #[test]
    fn a_file_where_another_has_a_directory_collides() {
        let store = Store::new();
        let a = store.path("a", &[("bin/x", "x")]);
        let bb = store.path("bb", &[("bin", "a file")]);
        let err = format!(
            "{:#}",
            merge_contents(&[a, bb], Linking::TopLevel).unwrap_err()
        );
        assert!(err.contains("collide at /bin"), "{err}");
    }

    #[test]
    fn nothing_may_hide_the_store() {
        let store = Store::new();
        // The first component of the store directory (`nix` in /nix/store).
        let first = store.store_dir.split('/').nth(1).unwrap().to_owned();
        let a = store.path("a", &[(&format!("{first}/x"), "x")]);
        let err = format!("{:#}", merge_contents(&[a], Linking::TopLevel).unwrap_err());
        assert!(err.contains("would hide the store directory"), "{err}");
    }

    #[test]
    fn on_a_base_directories_are_made_and_follow_the_base_symlinks() {
        let store = Store::new();
        let base_bin = store.path("base", &[("bin/sh", "sh")]);
        let app = store.path("app", &[("bin/app", "a"), ("lib/x", "x")]);
        let base_symlinks = BTreeMap::from([
            ("bin".to_owned(), format!("{base_bin}/bin")),
            ("lib".to_owned(), "usr/lib64".to_owned()),
        ]);
        let tree = merge_contents(
            std::slice::from_ref(&app),
            Linking::Files {
                base_symlinks: &base_symlinks,
            },
        )
        .unwrap();
        let expected = BTreeMap::from([
            (
                "bin".to_owned(),
                RootEntry::Directory(BTreeMap::from([
                    ("app".to_owned(), link(&app, "bin/app")),
                    ("sh".to_owned(), link(&base_bin, "bin/sh")),
                ])),
            ),
            (
                "usr".to_owned(),
                RootEntry::Directory(BTreeMap::from([(
                    "lib64".to_owned(),
                    RootEntry::Directory(BTreeMap::from([("x".to_owned(), link(&app, "lib/x"))])),
                )])),
            ),
        ]);
        assert_eq!(tree.entries, expected);
        assert_eq!(resolve_link(&["a", "b"], "../c/./d"), "a/c/d");
        assert_eq!(resolve_link(&["a"], "/x/y"), "x/y");
    }

    #[test]
    fn a_file_is_not_a_valid_contents_path() {
        let store = Store::new();
        let path = format!("{}/{:0>32}-file", store.store_dir, 0);
        fs::write(&path, "x").unwrap();
        let file = StorePath::parse(&path, &store.store_dir).unwrap();
        let err = format!(
            "{:#}",
            merge_contents(&[file], Linking::TopLevel).unwrap_err()
        );
        assert!(err.contains("is a file"), "{err}");
    }
}
