//! `perms`: owners and modes of chosen entries, applied when the tar is
//! written, so nothing needs root.
//!
//! A rule names entries by `path` (that entry and everything below it) or by
//! `regex` (matched against whole absolute paths), or both (entries below
//! `path` that also match `regex`). Later rules win over earlier ones, field
//! by field. Every rule must match some entry of the image.

use std::borrow::Cow;

use anyhow::Result;
use regex::Regex;

use crate::format::tar_format::EntryAttrs;
use crate::input::customisation::Recorded;
use crate::input::perm_rule::{PermRule, parse_mode};

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

    /// Whether rule `index` (in the order given to [`Self::new`]) names the
    /// entry at absolute `path`.
    pub fn rule_matches(&self, index: usize, path: &str) -> bool {
        self.rules[index].matches(path)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::perm_rule::tests::rule;

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
}
