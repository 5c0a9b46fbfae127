//! One `perms` rule as the spec gives it: which entries (by `path`, by
//! `regex`, or both) get which mode and owner.

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde::{Deserialize, Serialize};

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

    /// The rule as an error message names it.
    pub fn describe(&self) -> String {
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

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn rule(path: Option<&str>, regex: Option<&str>, mode: &str) -> PermRule {
        PermRule {
            path: path.map(str::to_owned),
            regex: regex.map(str::to_owned),
            mode: Some(mode.to_owned()),
            ..PermRule::default()
        }
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
