//! The check that every `perms` rule names an entry of the image.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::format::tar_format::EntryAttrs;
use crate::input::customisation;
use crate::input::perm_rule::PermRule;
use crate::plan::image_plan::ImagePlan;
use crate::plan::perms::EntryRules;
use crate::plan::root_tree::RootEntry;

/// Fails unless every rule of `plan` matches an entry of one of the
/// image's own layers (the base image's are not changed).
pub fn check_rules_match(plan: &ImagePlan, rules: &[PermRule]) -> Result<()> {
    let compiled = EntryRules::new(EntryAttrs::default(), rules)?;
    let mut unmatched: Vec<usize> = (0..rules.len()).collect();
    let mut visit = |path: &str| {
        unmatched.retain(|&i| !compiled.rule_matches(i, path));
        !unmatched.is_empty()
    };
    'layers: for layer in &plan.layers {
        if !visit_tree(&layer.root.entries, "", &mut visit) {
            break;
        }
        for store_path in &layer.paths {
            if !visit_disk(store_path.as_path(), store_path.as_str(), &mut visit)? {
                break 'layers;
            }
        }
        if let Some(dir) = &layer.root_dir {
            let root = Path::new(dir).join(customisation::ROOT_DIR);
            for child in std::fs::read_dir(&root)
                .with_context(|| format!("cannot list {}", root.display()))?
            {
                let name = child?.file_name();
                let image_path = format!("/{}", name.to_string_lossy());
                if !visit_disk(&root.join(&name), &image_path, &mut visit)? {
                    break 'layers;
                }
            }
        }
    }
    if let Some(&first) = unmatched.first() {
        bail!("{} matches nothing in the image", rules[first].describe());
    }
    Ok(())
}

/// Calls `visit` on every path of the tree until it returns false.
fn visit_tree(
    entries: &BTreeMap<String, RootEntry>,
    prefix: &str,
    visit: &mut impl FnMut(&str) -> bool,
) -> bool {
    for (name, entry) in entries {
        let path = format!("{prefix}/{name}");
        if !visit(&path) {
            return false;
        }
        if let RootEntry::Directory(children) = entry
            && !visit_tree(children, &path, visit)
        {
            return false;
        }
    }
    true
}

/// Calls `visit` on `path` (in the image: `image_path`) and everything
/// below it until it returns false.
fn visit_disk(path: &Path, image_path: &str, visit: &mut impl FnMut(&str) -> bool) -> Result<bool> {
    if !visit(image_path) {
        return Ok(false);
    }
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        let mut children: Vec<_> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        children.sort();
        for child in children {
            let child_image_path = format!("{image_path}/{}", child.to_string_lossy());
            if !visit_disk(&path.join(&child), &child_image_path, visit)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}
