//! The structured attributes Nix hands a builder.
//!
//! With `__structuredAttrs = true`, Nix writes the derivation's attributes as
//! JSON to `$NIX_ATTRS_JSON_FILE` (`.attrs.json` in the build directory on
//! older Nix), replaces each `exportReferencesGraph` key with the closure's
//! path records, and gives the output paths under `outputs`; `$out` is not in
//! the environment.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::input::closure::{self, PathRecord};

pub struct NixAttrs {
    source: PathBuf,
    value: Value,
}

impl NixAttrs {
    /// Reads the attributes of the running build.
    pub fn load() -> Result<Self> {
        let source = std::env::var_os("NIX_ATTRS_JSON_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".attrs.json"));
        Self::read(&source)
    }

    pub fn read(source: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(source).with_context(|| {
            format!(
                "cannot read the derivation's attributes from {}; strata runs as a Nix builder only with `__structuredAttrs = true`",
                source.display()
            )
        })?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", source.display()))?;
        if !value.is_object() {
            bail!("{} does not hold a JSON object", source.display());
        }
        Ok(NixAttrs {
            source: source.to_owned(),
            value,
        })
    }

    /// The attribute `key`, which must be present.
    pub fn get(&self, key: &str) -> Result<&Value> {
        self.value.get(key).with_context(|| {
            format!(
                "the derivation has no attribute `{key}` (in {})",
                self.source.display()
            )
        })
    }

    /// Whether the derivation has the attribute `key`.
    pub fn has(&self, key: &str) -> bool {
        self.value.get(key).is_some()
    }

    /// The string attribute `key`.
    pub fn string(&self, key: &str) -> Result<&str> {
        self.get(key)?
            .as_str()
            .with_context(|| format!("the derivation attribute `{key}` is not a string"))
    }

    /// The attribute `key`, a list of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        let not_strings = || format!("the derivation attribute `{key}` is not a list of strings");
        self.get(key)?
            .as_array()
            .with_context(not_strings)?
            .iter()
            .map(|v| v.as_str().with_context(not_strings))
            .collect()
    }

    /// The path of output `out`.
    pub fn out_path(&self) -> Result<PathBuf> {
        self.get("outputs")?
            .get("out")
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .with_context(|| format!("{} has no `outputs.out`", self.source.display()))
    }

    /// The closure Nix exported under `exportReferencesGraph.<key>`.
    pub fn closure(&self, key: &str) -> Result<Vec<PathRecord>> {
        let records = self.get(key).with_context(|| {
            format!("set `exportReferencesGraph.{key}` to export the image's closure")
        })?;
        closure::parse_closure_json(records)
            .with_context(|| format!("in the exported closure `{key}`"))
    }
}

/// The number of worker threads a build may use: `NIX_BUILD_CORES`, where 0
/// (or no value) means one per core.
pub fn build_threads() -> Result<usize> {
    match std::env::var("NIX_BUILD_CORES") {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("NIX_BUILD_CORES is '{value}', not a number of cores")),
        Err(_) => Ok(0),
    }
}

/// The store directory: `$NIX_STORE` (set in builds), else `/nix/store`.
pub fn store_dir() -> String {
    std::env::var("NIX_STORE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/nix/store".to_owned())
        .trim_end_matches('/')
        .to_owned()
}
