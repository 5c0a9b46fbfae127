//! `perms`: owners and modes of chosen entries, applied when the tar is
//! written, so nothing needs root.
//!
//! A rule names entries by `path` (that entry and everything below it) or by
//! `regex` (matched against whole absolute paths), or both (entries below
//! `path` that also match `regex`). Later rules win over earlier ones, field
//! by field. Every rule must match some entry of the image.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::customise::{self, Recorded};
use crate::plan::ImagePlan;
use crate::rootfs::RootEntry;
use crate::tar_format::EntryAttrs;

/// One rule, as the spec gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PermRule {
    pub path: Option<String>,
    pub regex: Option<String>,
    /// Octal, as a string: `"0755"`, `"1777"`.
    pub mode: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub uname: Option<String>,
    pub gname: Option<String>,
}

impl PermRule {
    /// The rule for exactly the entry at `path` (nothing below it).
    pub fn exact(path: &str) -> Self {
        PermRule {
            regex: Some(regex::escape(path)),
            ..PermRule::default()
        }
    }

    fn describe(&self) -> String {
        match (&self.path, &self.regex) {
            (Some(path), Some(regex)) => format!("perms entry for path {path} and regex '{regex}'"),
            (Some(path), None) => format!("perms entry for path {path}"),
            (None, Some(regex)) => format!("perms entry for regex '{regex}'"),
            (None, None) => "perms entry".to_owned(),
        }
    }

    /// Checks what can be checked without the image's entries.
    pub fn validate(&self) -> Result<()> {
        let what = self.describe();
        if self.path.is_none() && self.regex.is_none() {
            bail!("a perms entry needs `path` or `regex`");
        }
        if let Some(path) = &self.path
            && !path.starts_with('/')
        {
            bail!("{what}: `path` must be absolute");
        }
        if let Some(mode) = &self.mode {
            parse_mode(mode).with_context(|| what.clone())?;
        }
        if let Some(regex) = &self.regex {
            Regex::new(regex).with_context(|| format!("{what}: not a valid regular expression"))?;
        }
        if self.mode.is_none() && self.uid.is_none() && self.gid.is_none() {
            bail!("{what} sets nothing: give mode, uid or gid");
        }
        Ok(())
    }
}

/// `"0755"` → 0o755; at most 0o7777.
pub fn parse_mode(mode: &str) -> Result<u32> {
    u32::from_str_radix(mode, 8)
        .ok()
        .filter(|&m| m <= 0o7777)
        .with_context(|| format!("mode '{mode}' is not an octal mode like \"0755\" or \"1777\""))
}

/// The rules of an image, ready to match entries.
pub struct EntryRules {
    base: EntryAttrs,
    rules: Vec<CompiledRule>,
}

struct CompiledRule {
    below: Option<String>,
    regex: Option<Regex>,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    uname: Option<String>,
    gname: Option<String>,
}

impl CompiledRule {
    fn matches(&self, path: &str) -> bool {
        self.below.as_ref().is_none_or(|below| {
            path == below
                || path
                    .strip_prefix(below.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        }) && self.regex.as_ref().is_none_or(|r| r.is_match(path))
    }
}

impl EntryRules {
    /// `base` for every entry, changed by `rules` (already resolved: every
    /// rule that sets an id sets its number).
    pub fn new(base: EntryAttrs, rules: &[PermRule]) -> Result<Self> {
        let rules = rules
            .iter()
            .map(|rule| {
                Ok(CompiledRule {
                    below: rule
                        .path
                        .as_ref()
                        .map(|p| p.trim_end_matches('/').to_owned()),
                    regex: rule
                        .regex
                        .as_ref()
                        .map(|r| Regex::new(&format!("^(?:{r})$")))
                        .transpose()?,
                    mode: rule.mode.as_deref().map(parse_mode).transpose()?,
                    uid: rule.uid,
                    gid: rule.gid,
                    uname: rule.uname.clone(),
                    gname: rule.gname.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(EntryRules { base, rules })
    }

    /// The attributes of the entry named `name` in the tar (no leading `/`,
    /// directories with a trailing one).
    pub fn attrs_for(&self, name: &[u8]) -> Cow<'_, EntryAttrs> {
        self.attrs_over(name, None)
    }

    /// As [`Self::attrs_for`], starting from the mode and owner `recorded`
    /// for the entry (by the commands that made it) when there are some.
    pub fn attrs_over(&self, name: &[u8], recorded: Option<Recorded>) -> Cow<'_, EntryAttrs> {
        let mut attrs = Cow::Borrowed(&self.base);
        if let Some(recorded) = recorded {
            let attrs = attrs.to_mut();
            attrs.mode = Some(recorded.mode);
            if let Some((uid, gid)) = recorded.owner
                && (u64::from(uid), u64::from(gid)) != (attrs.uid, attrs.gid)
            {
                attrs.uid = uid.into();
                attrs.gid = gid.into();
                attrs.uname = String::new();
                attrs.gname = String::new();
            }
        }
        if self.rules.is_empty() {
            return attrs;
        }
        let path = absolute(name);
        for rule in self.rules.iter().filter(|r| r.matches(&path)) {
            let attrs = attrs.to_mut();
            if let Some(mode) = rule.mode {
                attrs.mode = Some(mode);
            }
            if let Some(uid) = rule.uid {
                attrs.uid = uid.into();
                attrs.uname = rule.uname.clone().unwrap_or_default();
            }
            if let Some(gid) = rule.gid {
                attrs.gid = gid.into();
                attrs.gname = rule.gname.clone().unwrap_or_default();
            }
        }
        attrs
    }

    pub fn base(&self) -> &EntryAttrs {
        &self.base
    }
}

/// `nix/store/x/` → `/nix/store/x`.
fn absolute(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    format!("/{}", name.trim_end_matches('/'))
}

/// Fails unless every rule of `plan` matches an entry of one of the
/// image's own layers (the base image's are not changed).
pub fn check_rules_match(plan: &ImagePlan, rules: &[PermRule]) -> Result<()> {
    let compiled = EntryRules::new(EntryAttrs::default(), rules)?;
    let mut unmatched: Vec<usize> = (0..rules.len()).collect();
    let mut visit = |path: &str| {
        unmatched.retain(|&i| !compiled.rules[i].matches(path));
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
            let root = Path::new(dir).join(customise::ROOT_DIR);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: Option<&str>, regex: Option<&str>, mode: &str) -> PermRule {
        PermRule {
            path: path.map(str::to_owned),
            regex: regex.map(str::to_owned),
            mode: Some(mode.to_owned()),
            ..PermRule::default()
        }
    }

    #[test]
    fn rules_match_below_a_path_or_by_expression_and_later_ones_win() {
        let rules = EntryRules::new(
            EntryAttrs::default(),
            &[
                rule(Some("/home"), None, "0700"),
                rule(None, Some(".*\\.sh"), "0755"),
                PermRule {
                    uid: Some(1000),
                    uname: Some("alice".into()),
                    ..rule(Some("/home/alice"), None, "0750")
                },
            ],
        )
        .unwrap();
        assert_eq!(rules.attrs_for(b"home/").mode, Some(0o700));
        assert_eq!(rules.attrs_for(b"homely/").mode, None, "not below /home");
        assert_eq!(rules.attrs_for(b"home/bob/x.sh").mode, Some(0o755));
        let alice = rules.attrs_for(b"home/alice/");
        assert_eq!(
            (alice.mode, alice.uid, alice.uname.as_str()),
            (Some(0o750), 1000, "alice")
        );
        assert!(matches!(rules.attrs_for(b"etc/"), Cow::Borrowed(_)));
    }

    #[test]
    fn bad_rules_are_named() {
        for (bad, message) in [
            (rule(None, None, "0755"), "needs `path` or `regex`"),
            (rule(Some("rel"), None, "0755"), "must be absolute"),
            (rule(Some("/x"), None, "u+x"), "'u+x' is not an octal mode"),
            (rule(Some("/x"), None, "17777"), "not an octal mode"),
            (
                rule(None, Some("("), "0755"),
                "not a valid regular expression",
            ),
        ] {
            let err = format!("{:#}", bad.validate().unwrap_err());
            assert!(err.contains(message), "{err}");
        }
    }
}
