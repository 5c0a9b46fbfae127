//! From what a user gives (a resolved spec and a closure) to an
//! [`ImagePlan`], with the checks that need the filesystem done up front, so
//! that a missing path is reported before any byte is written.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::emit::description;
use crate::format::store_path::StorePath;
use crate::input::base_image::{self, BaseChoice, BaseFilesystem};
use crate::input::closure::{ClosureGraph, PathRecord};
use crate::input::customisation;
use crate::input::perm_rule::PermRule;
use crate::input::spec::ImageSpec;
use crate::plan::accounts;
use crate::plan::image_plan::{self, ImagePlan};
use crate::plan::layering::previous::PreviousLayers;
use crate::plan::root_tree::{self, RootEntry, RootTree};
use crate::plan::rule_check;

/// Where the customisation layer comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Customisation<'a> {
    /// The planned root tree: contents, accounts, directories.
    Planned,
    /// The planned tree, for the commands to run in: `perms` may name what
    /// they will make, so they are not checked yet.
    ForCommands,
    /// The root the commands made (a customisation derivation's output).
    Made(&'a str),
}

/// Plans the image of `spec` over the closure `records`. `helpers` are in the
/// closure only to build the image and go into no layer.
pub fn plan_image(
    spec: ImageSpec,
    records: Vec<PathRecord>,
    helpers: &[StorePath],
    store_dir: &str,
    customisation: Customisation,
) -> Result<ImagePlan> {
    let graph = ClosureGraph::from_records(records, store_dir)?;
    let base = match &spec.from_image {
        Some(image) => Some(base_image::read(
            Path::new(image),
            spec.architecture(),
            &spec.os,
            &BaseChoice {
                name: spec.from_image_name.as_deref(),
                tag: spec.from_image_tag.as_deref(),
            },
        )?),
        None => None,
    };
    // The base's file system matters only to what is merged at `/`: its
    // symlinks to directories redirect the contents, its accounts files are
    // extended, and its directories keep their modes.
    let merges_at_root = !spec.contents.is_empty()
        || spec.layers.iter().any(|l| !l.copy_to_root.is_empty())
        || !spec.users.is_empty()
        || !spec.groups.is_empty()
        || !spec.directories.is_empty()
        || spec.root_commands;
    let base_filesystem = match &base {
        Some(base) if merges_at_root => base.filesystem(store_dir)?,
        _ => Default::default(),
    };
    let base_symlinks = &base_filesystem.symlinks;
    let contents = parse_store_paths(&spec.contents, store_dir, "contents")?;
    let mut roots = image_plan::RootTrees {
        contents: root_tree::merge_contents(&contents, base_symlinks)?,
        explicit: Vec::new(),
    };
    for layer in &spec.layers {
        let copy = parse_store_paths(&layer.copy_to_root, store_dir, "layers.copyToRoot")?;
        roots
            .explicit
            .push(root_tree::merge_contents(&copy, base_symlinks)?);
    }
    let (generated, user_rules) = accounts::generate(
        &spec.users,
        &spec.groups,
        &spec.directories,
        &spec.perms,
        &base_filesystem.account_files,
    )?;
    for directory in &generated.directories {
        roots.contents.insert(
            directory,
            RootEntry::Directory(Default::default()),
            "the directory",
        )?;
    }
    for (path, text) in generated.files {
        roots
            .contents
            .insert(&path, RootEntry::File(text), "the accounts file")?;
    }
    // Directories the base has keep its mode and owner (a /tmp stays 1777).
    let made = match customisation {
        Customisation::Made(dir) => Some(dir),
        _ => None,
    };
    let base_directory_rules = inherited_directories(&roots.contents, made, &base_filesystem)?;
    let mut helpers = helpers.to_vec();
    let previous = match &spec.previous_plan {
        Some(file) => {
            // In the store, the plan is an input of the build, not content.
            helpers.extend(StorePath::parse(file, store_dir).ok());
            Some(previous_layers(Path::new(file))?)
        }
        None => None,
    };
    let mut plan = image_plan::make_plan(
        spec,
        &graph,
        &helpers,
        roots,
        base,
        previous.as_ref(),
        store_dir,
    )?;
    if let Customisation::Made(dir) = customisation {
        let layer = plan
            .customisation_layer_mut()
            .context("the image has commands but no customisation layer")?;
        layer.root = Default::default();
        layer.root_dir = Some(dir.to_owned());
        layer.reason = "customisation layer: contents and what the commands made".to_owned();
    }
    if customisation != Customisation::ForCommands {
        rule_check::check_rules_match(&plan, &user_rules)?;
    }
    plan.perms = base_directory_rules;
    plan.perms.extend(generated.rules);
    plan.perms.extend(user_rules);
    check_on_disk(&plan)?;
    Ok(plan)
}

/// The store-path layers of the plan in `file`, bottom first.
fn previous_layers(file: &Path) -> Result<PreviousLayers> {
    let plan = description::read_plan(file).context("in `previousPlan`")?;
    let mut layers = PreviousLayers::default();
    for layer in plan
        .layers
        .iter()
        .filter(|l| l.base.is_none() && !l.paths.is_empty())
    {
        let names = layer.paths.iter().map(|p| p.name().to_owned()).collect();
        layers.push(names, &layer.reason);
    }
    Ok(layers)
}

/// Rules that give the directories of the customisation layer that the
/// base also has the base's mode and owner. The layer is `tree`, or the
/// root the commands made in `made`.
fn inherited_directories(
    tree: &RootTree,
    made: Option<&str>,
    base: &BaseFilesystem,
) -> Result<Vec<PermRule>> {
    let mut directories = Vec::new();
    match made {
        Some(dir) => directories_on_disk(
            &Path::new(dir).join(customisation::ROOT_DIR),
            "",
            &mut directories,
        )?,
        None => directories_in_tree(&tree.entries, "", &mut directories),
    }
    Ok(directories
        .into_iter()
        .filter_map(|path| {
            let &(mode, uid, gid) = base.directories.get(&path)?;
            Some(PermRule {
                mode: Some(format!("{mode:04o}")),
                uid: Some(uid),
                gid: Some(gid),
                ..PermRule::exact(&format!("/{path}"))
            })
        })
        .collect())
}

/// `prefix/name` without a leading `/`.
fn joined(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

fn directories_in_tree(
    entries: &BTreeMap<String, RootEntry>,
    prefix: &str,
    found: &mut Vec<String>,
) {
    for (name, entry) in entries {
        if let RootEntry::Directory(children) = entry {
            let path = joined(prefix, name);
            directories_in_tree(children, &path, found);
            found.push(path);
        }
    }
}

/// As `directories_in_tree`, in the same (name) order whatever order the
/// file system lists them in.
fn directories_on_disk(dir: &Path, prefix: &str, found: &mut Vec<String>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        if entry.file_type()?.is_dir() {
            let path = joined(prefix, &entry.file_name().to_string_lossy());
            directories_on_disk(&entry.path(), &path, found)?;
            found.push(path);
        }
    }
    Ok(())
}

/// Every store path the spec names: `contents`, `storePaths`, and the
/// explicit layers' `deps` and `copyToRoot`, each checked.
pub fn named_store_paths(spec: &ImageSpec, store_dir: &str) -> Result<Vec<StorePath>> {
    let mut paths = parse_store_paths(&spec.contents, store_dir, "contents")?;
    paths.extend(parse_store_paths(
        &spec.store_paths,
        store_dir,
        "storePaths",
    )?);
    for layer in &spec.layers {
        paths.extend(parse_store_paths(&layer.deps, store_dir, "layers.deps")?);
        paths.extend(parse_store_paths(
            &layer.copy_to_root,
            store_dir,
            "layers.copyToRoot",
        )?);
    }
    Ok(paths)
}

/// Parses user-given store paths, naming the argument they came from.
pub fn parse_store_paths(paths: &[String], store_dir: &str, what: &str) -> Result<Vec<StorePath>> {
    paths
        .iter()
        .map(|p| StorePath::parse(p, store_dir).with_context(|| format!("in `{what}`")))
        .collect()
}

fn check_on_disk(plan: &ImagePlan) -> Result<()> {
    for path in plan.layers.iter().flat_map(|l| &l.paths) {
        if std::fs::symlink_metadata(path.as_path()).is_err() {
            bail!(
                "store path {path} is in the closure but not on disk; build or fetch it first (nix-store --realise {path})"
            );
        }
    }
    Ok(())
}
