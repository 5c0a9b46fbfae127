//! The customisation root: `contents` merged at `/` the way nixpkgs'
//! `symlinkJoin` merges them.
//!
//! Every directory of a content path becomes a real directory in the root,
//! and every file and symlink a symlink into the store
//! (`/bin/sh -> /nix/store/…-busybox/bin/sh`), so that content paths merge
//! with each other and with a base image's directories, and `/etc` is a
//! directory in which an engine can mount `/etc/hosts` without hiding the
//! rest (Docker makes the mount points in a layer of its own, which hides a
//! symlinked `/etc`). A symlink into the store that leads to a directory, as
//! `buildEnv` makes for a directory only one package has, is merged as that
//! directory. Two different files at one place are an error naming both;
//! identical files (same bytes, same executable bit) are not.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::format::store_path::StorePath;

/// Top-level names `buildEnv` leaves out: package metadata, not files to use.
const SKIPPED_TOP_LEVEL: &[&str] = &["nix-support", "propagated-build-inputs"];

/// An entry of the root tree.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootEntry {
    Directory(BTreeMap<String, RootEntry>),
    Symlink(String),
    /// A file made by strata (`/etc/passwd`), with its text.
    File(String),
}

/// The tree of the customisation layer, entries sorted by name.
///
/// In plans and descriptions it is one map from each entry's path (no
/// leading `/`) to what the entry is, parents first, so that a deep tree
/// does not become deeply nested JSON. Trees nested by directory, as
/// earlier versions wrote them, are read too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootTree {
    pub entries: BTreeMap<String, RootEntry>,
}

/// One entry of a tree as written: a directory's entries have records of
/// their own.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FlatEntry<'a> {
    Directory,
    Symlink(#[serde(borrow)] Cow<'a, str>),
    File(#[serde(borrow)] Cow<'a, str>),
}

/// What a tree's record may hold: a flat entry, or a directory with its
/// entries nested (the earlier form).
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredEntry<'a> {
    #[serde(borrow)]
    Flat(FlatEntry<'a>),
    Nested(RootEntry),
}

impl Serialize for RootTree {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut records = Vec::new();
        let mut stack: Vec<(String, &RootEntry)> = self
            .entries
            .iter()
            .rev()
            .map(|(name, entry)| (name.clone(), entry))
            .collect();
        while let Some((path, entry)) = stack.pop() {
            let flat = match entry {
                RootEntry::Directory(children) => {
                    stack.extend(
                        children
                            .iter()
                            .rev()
                            .map(|(name, child)| (format!("{path}/{name}"), child)),
                    );
                    FlatEntry::Directory
                }
                RootEntry::Symlink(target) => FlatEntry::Symlink(Cow::Borrowed(target)),
                RootEntry::File(text) => FlatEntry::File(Cow::Borrowed(text)),
            };
            records.push((path, flat));
        }
        serializer.collect_map(records)
    }
}

impl<'de> Deserialize<'de> for RootTree {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let records = BTreeMap::<String, StoredEntry>::deserialize(deserializer)?;
        let mut tree = RootTree::default();
        // Sorted, a directory comes before what it holds.
        for (path, stored) in records {
            let entry = match stored {
                StoredEntry::Flat(FlatEntry::Directory) => RootEntry::Directory(BTreeMap::new()),
                StoredEntry::Flat(FlatEntry::Symlink(target)) => {
                    RootEntry::Symlink(target.into_owned())
                }
                StoredEntry::Flat(FlatEntry::File(text)) => RootEntry::File(text.into_owned()),
                StoredEntry::Nested(entry) => entry,
            };
            tree.place(&path, entry).map_err(serde::de::Error::custom)?;
        }
        Ok(tree)
    }
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

    /// Puts `entry` at `path` (no leading `/`), below directories already
    /// there, as a tree is read back.
    fn place(&mut self, path: &str, entry: RootEntry) -> Result<(), String> {
        let (parents, name) = match path.rsplit_once('/') {
            Some((parents, name)) => (Some(parents), name),
            None => (None, path),
        };
        let mut map = &mut self.entries;
        for parent in parents.into_iter().flat_map(|p| p.split('/')) {
            match map.get_mut(parent) {
                Some(RootEntry::Directory(children)) => map = children,
                _ => {
                    return Err(format!(
                        "the root tree has {path}, but no directory above it"
                    ));
                }
            }
        }
        if name.is_empty() || map.insert(name.to_owned(), entry).is_some() {
            return Err(format!(
                "the root tree has a bad or repeated entry {path:?}"
            ));
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

/// Merges the content paths, in order, into one root tree.
///
/// `base_symlinks` are the base image's symlinks outside the store (path
/// without its leading `/`, to target): where the base has a symlink to a
/// directory (`/bin -> usr/bin`, or into the store as a strata image has),
/// the entries go where it points, into the directory it names or beside
/// the store directory's entries.
pub fn merge_contents(
    contents: &[StorePath],
    base_symlinks: &BTreeMap<String, String>,
) -> Result<RootTree> {
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
    if let Some(store_dir) = contents.first().map(StorePath::store_dir) {
        check_store_dir_untouched(&root, store_dir)?;
        expand_directories(&mut root, store_dir, &mut Vec::new())?;
        follow_base_symlinks(&mut root, base_symlinks, store_dir)?;
    }
    Ok(RootTree {
        entries: root
            .into_iter()
            .map(|(name, slot)| (name, finish(slot)))
            .collect(),
    })
}

/// Most symlinks followed from one entry to the directory it leads to.
const MAX_LINK_HOPS: usize = 40;

/// Replaces every link to a directory, or to a symlink into the store that
/// leads to one, by a directory of links. `expanding` holds the
/// directories being expanded above, so that a link back to one of them
/// stays a link.
fn expand_directories(
    map: &mut BTreeMap<String, Slot>,
    store_dir: &str,
    expanding: &mut Vec<PathBuf>,
) -> Result<()> {
    for slot in map.values_mut() {
        if let Slot::Link { source, origin } = slot
            && let Some((directory, owner)) = directory_behind(source, origin, store_dir)?
            && !expanding.contains(&directory)
        {
            let mut children = BTreeMap::new();
            add_children(&mut children, &directory, &owner, "/")?;
            expanding.push(directory);
            expand_directories(&mut children, store_dir, expanding)?;
            expanding.pop();
            *slot = Slot::Directory(children);
        } else if let Slot::Directory(children) = slot {
            expand_directories(children, store_dir, expanding)?;
        }
    }
    Ok(())
}

/// The directory that `source` (in content path `origin`) is, or that it
/// leads to through symlinks into the store, with the store path holding
/// it; `None` for a file, or a symlink elsewhere.
fn directory_behind(
    source: &Path,
    origin: &StorePath,
    store_dir: &str,
) -> Result<Option<(PathBuf, StorePath)>> {
    let mut path = source.to_owned();
    let mut owner = origin.clone();
    for _ in 0..MAX_LINK_HOPS {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return Ok(None);
        };
        if meta.is_dir() {
            return Ok(Some((path, owner)));
        }
        if !meta.file_type().is_symlink() {
            return Ok(None);
        }
        let target = fs::read_link(&path)
            .with_context(|| format!("cannot read the symlink {}", path.display()))?;
        match store_path_holding(&target, store_dir) {
            Some(store_path) => {
                owner = store_path;
                path = target;
            }
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// The store path that the absolute `path` is or is inside of.
fn store_path_holding(path: &Path, store_dir: &str) -> Option<StorePath> {
    let top = path
        .ancestors()
        .find(|a| a.parent() == Some(Path::new(store_dir)))?;
    StorePath::parse(&top.to_string_lossy(), store_dir).ok()
}

/// Moves or completes the directories that the base image has as symlinks
/// (see [`merge_contents`]).
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
            let origin = store_path_holding(&on_disk, store_dir).with_context(|| {
                format!("the base image's /{path} points to {target}, which is not a store path")
            })?;
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

    /// No base image: no base symlinks to follow.
    const NO_BASE: BTreeMap<String, String> = BTreeMap::new();

    fn dir<const N: usize>(entries: [(&str, RootEntry); N]) -> RootEntry {
        RootEntry::Directory(entries.map(|(n, e)| (n.to_owned(), e)).into())
    }

    #[test]
    fn directories_are_made_and_files_linked_even_for_one_content_path() {
        let store = Store::new();
        let a = store.path(
            "a",
            &[
                ("bin/x", "x"),
                ("etc/conf", "c"),
                ("etc/ssl/certs/bundle", "b"),
                ("nix-support/setup", "s"),
            ],
        );
        let tree = merge_contents(std::slice::from_ref(&a), &NO_BASE).unwrap();
        let expected = BTreeMap::from([
            ("bin".to_owned(), dir([("x", link(&a, "bin/x"))])),
            (
                "etc".to_owned(),
                dir([
                    ("conf", link(&a, "etc/conf")),
                    (
                        "ssl",
                        dir([("certs", dir([("bundle", link(&a, "etc/ssl/certs/bundle"))]))]),
                    ),
                ]),
            ),
        ]);
        assert_eq!(tree.entries, expected);
    }

    #[test]
    fn shared_directories_are_merged() {
        let store = Store::new();
        let a = store.path("a", &[("bin/x", "x"), ("share/a/1", "1")]);
        let bb = store.path("bb", &[("bin/y", "y"), ("share/b/2", "2"), ("lib/l", "l")]);
        let tree = merge_contents(&[a.clone(), bb.clone()], &NO_BASE).unwrap();
        let expected = BTreeMap::from([
            (
                "bin".to_owned(),
                dir([("x", link(&a, "bin/x")), ("y", link(&bb, "bin/y"))]),
            ),
            ("lib".to_owned(), dir([("l", link(&bb, "lib/l"))])),
            (
                "share".to_owned(),
                dir([
                    ("a", dir([("1", link(&a, "share/a/1"))])),
                    ("b", dir([("2", link(&bb, "share/b/2"))])),
                ]),
            ),
        ]);
        assert_eq!(tree.entries, expected);
    }

    #[test]
    fn store_symlinks_to_directories_are_merged_as_those_directories() {
        let store = Store::new();
        let nss = store.path("nss", &[("etc/passwd", "root")]);
        let lib = store.path("lib", &[("lib/libc.so", "c")]);
        // What buildEnv makes of a directory one package has, a link back
        // to a directory being merged, and links that stay links: relative
        // ones, and ones out of the store.
        let env = store.path("env", &[]);
        let env_dir = env.as_path();
        fs::create_dir_all(env_dir.join("usr")).unwrap();
        std::os::unix::fs::symlink(nss.as_path().join("etc"), env_dir.join("etc")).unwrap();
        std::os::unix::fs::symlink(lib.as_path().join("lib"), env_dir.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("lib", env_dir.join("usr/lib64")).unwrap();
        std::os::unix::fs::symlink(env_dir.join("usr"), env_dir.join("usr/usr")).unwrap();
        std::os::unix::fs::symlink("/etc", env_dir.join("host-etc")).unwrap();
        let tree = merge_contents(std::slice::from_ref(&env), &NO_BASE).unwrap();
        let expected = BTreeMap::from([
            (
                "etc".to_owned(),
                dir([("passwd", link(&nss, "etc/passwd"))]),
            ),
            ("host-etc".to_owned(), link(&env, "host-etc")),
            (
                "usr".to_owned(),
                dir([
                    ("lib", dir([("libc.so", link(&lib, "lib/libc.so"))])),
                    ("lib64", link(&env, "usr/lib64")),
                    ("usr", link(&env, "usr/usr")),
                ]),
            ),
        ]);
        assert_eq!(tree.entries, expected);
    }

    #[test]
    fn identical_files_may_overlap_different_ones_may_not() {
        let store = Store::new();
        let a = store.path("a", &[("etc/same", "same"), ("etc/one", "1")]);
        let bb = store.path("bb", &[("etc/same", "same"), ("etc/two", "2")]);
        assert!(merge_contents(&[a.clone(), bb], &NO_BASE).is_ok());
        let ccc = store.path("ccc", &[("etc/one", "different")]);
        let err = format!(
            "{:#}",
            merge_contents(&[a.clone(), ccc.clone()], &NO_BASE).unwrap_err()
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
        let err = format!("{:#}", merge_contents(&[a, bb], &NO_BASE).unwrap_err());
        assert!(err.contains("collide at /bin"), "{err}");
    }

    #[test]
    fn nothing_may_hide_the_store() {
        let store = Store::new();
        // The first component of the store directory (`nix` in /nix/store).
        let first = store.store_dir.split('/').nth(1).unwrap().to_owned();
        let a = store.path("a", &[(&format!("{first}/x"), "x")]);
        let err = format!("{:#}", merge_contents(&[a], &NO_BASE).unwrap_err());
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
        let tree = merge_contents(std::slice::from_ref(&app), &base_symlinks).unwrap();
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
    fn trees_are_written_flat_and_read_flat_or_nested() {
        let mut deep = RootEntry::File("bottom".to_owned());
        for level in (0..300).rev() {
            deep = dir([(&format!("d{level}"), deep)]);
        }
        let tree = RootTree {
            entries: BTreeMap::from([
                ("deep".to_owned(), deep),
                (
                    "etc".to_owned(),
                    dir([
                        ("empty", dir([])),
                        (
                            "passwd",
                            RootEntry::File("root:x:0:0::/:/bin/sh\n".to_owned()),
                        ),
                    ]),
                ),
                (
                    "bin".to_owned(),
                    RootEntry::Symlink("/nix/store/x-y/bin".to_owned()),
                ),
            ]),
        };
        let json = serde_json::to_string(&tree).unwrap();
        assert!(
            json.starts_with(
                r#"{"bin":{"symlink":"/nix/store/x-y/bin"},"deep":"directory","deep/d0":"directory","#
            ),
            "{json}"
        );
        assert!(
            json.ends_with(r#""etc":"directory","etc/empty":"directory","etc/passwd":{"file":"root:x:0:0::/:/bin/sh\n"}}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<RootTree>(&json).unwrap(), tree);

        let nested = r#"{"bin":{"symlink":"/s"},"etc":{"directory":{"a":{"file":"x"},"e":{"directory":{}}}}}"#;
        let expected = RootTree {
            entries: BTreeMap::from([
                ("bin".to_owned(), RootEntry::Symlink("/s".to_owned())),
                (
                    "etc".to_owned(),
                    dir([("a", RootEntry::File("x".to_owned())), ("e", dir([]))]),
                ),
            ]),
        };
        assert_eq!(serde_json::from_str::<RootTree>(nested).unwrap(), expected);
        let orphan = serde_json::from_str::<RootTree>(r#"{"etc/passwd":{"file":"x"}}"#);
        assert!(
            orphan
                .unwrap_err()
                .to_string()
                .contains("no directory above it"),
        );
    }

    #[test]
    fn a_file_is_not_a_valid_contents_path() {
        let store = Store::new();
        let path = format!("{}/{:0>32}-file", store.store_dir, 0);
        fs::write(&path, "x").unwrap();
        let file = StorePath::parse(&path, &store.store_dir).unwrap();
        let err = format!("{:#}", merge_contents(&[file], &NO_BASE).unwrap_err());
        assert!(err.contains("is a file"), "{err}");
    }
}
