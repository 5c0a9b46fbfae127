//! What an image's bill of materials says of its store paths, known before
//! the image is built: each path's NAR hash and references (from the
//! closure Nix exports) and, for the packages Nix named, their `meta`.
//! Written beside the image description, it lets a push make the bill once
//! the manifest is known, the same bytes as the image function's `sbom`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::format::store_path::StorePath;
use crate::input::closure::PathRecord;
use crate::plan::image_plan::ImagePlan;

/// What Nix knew of a package at evaluation (its `meta`), by store path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageMeta {
    pub path: String,
    #[serde(default)]
    pub licenses: Vec<LicenseMeta>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// One entry of `meta.license`: its `spdxId` when it has one, and its
/// text (`fullName`, `shortName`, or the string itself).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseMeta {
    #[serde(default)]
    pub spdx_id: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

/// A license as the documents record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum License {
    /// An identifier of the SPDX license list.
    Spdx(String),
    /// Anything else, by its text (SPDX records it as `NOASSERTION`).
    Other(String),
}

impl LicenseMeta {
    /// Its SPDX identifier, when its `spdxId` (or else its text) is one of
    /// the SPDX license list; else its text.
    pub fn license(&self) -> License {
        let listed = [self.spdx_id.as_deref(), self.text.as_deref()]
            .into_iter()
            .flatten()
            .find_map(::spdx::license_id);
        match listed {
            Some(id) => License::Spdx(id.name.to_owned()),
            None => License::Other(
                self.text
                    .clone()
                    .or_else(|| self.spdx_id.clone())
                    .unwrap_or_else(|| "unknown".to_owned()),
            ),
        }
    }
}

/// One store path of the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathFacts {
    pub path: String,
    pub nar_hash: String,
    /// The image's store paths it refers to, itself left out.
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<PackageMeta>,
}

/// The facts of every store path of an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbomFacts {
    pub paths: Vec<PathFacts>,
}

impl SbomFacts {
    /// The facts of the store paths of `plan`, from its `closure` and the
    /// `meta` Nix gave.
    pub fn new(plan: &ImagePlan, closure: &[PathRecord], meta: &[PackageMeta]) -> Result<Self> {
        let records: BTreeMap<&str, &PathRecord> = closure
            .iter()
            .map(|r| (r.path.trim_end_matches('/'), r))
            .collect();
        let meta: BTreeMap<&str, &PackageMeta> =
            meta.iter().map(|m| (m.path.as_str(), m)).collect();
        let in_image: BTreeSet<&str> = plan
            .layers
            .iter()
            .flat_map(|l| l.paths.iter().map(StorePath::as_str))
            .collect();
        let paths = in_image
            .iter()
            .map(|&path| {
                let record = records
                    .get(path)
                    .with_context(|| format!("the closure does not list {path}"))?;
                let nar_hash = record
                    .nar_hash
                    .clone()
                    .with_context(|| format!("the closure gives no NAR hash for {path}"))?;
                let references: BTreeSet<String> = record
                    .references
                    .iter()
                    .map(|r| r.trim_end_matches('/'))
                    .filter(|r| *r != path && in_image.contains(r))
                    .map(str::to_owned)
                    .collect();
                Ok(PathFacts {
                    path: path.to_owned(),
                    nar_hash,
                    references: references.into_iter().collect(),
                    meta: meta.get(path).map(|&m| m.clone()),
                })
            })
            .collect::<Result<_>>()?;
        Ok(SbomFacts { paths })
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not the facts of a bill of materials", path.display()))
    }

    /// Each path's facts, by its path.
    pub fn by_path(&self) -> BTreeMap<&str, &PathFacts> {
        self.paths.iter().map(|f| (f.path.as_str(), f)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn license(spdx_id: Option<&str>, text: Option<&str>) -> License {
        LicenseMeta {
            spdx_id: spdx_id.map(str::to_owned),
            text: text.map(str::to_owned),
        }
        .license()
    }

    #[test]
    fn a_license_is_its_spdx_id_or_else_its_text() {
        let spdx = |id: &str| License::Spdx(id.to_owned());
        let other = |text: &str| License::Other(text.to_owned());
        assert_eq!(license(Some("MIT"), Some("MIT License")), spdx("MIT"));
        assert_eq!(license(None, Some("Apache-2.0")), spdx("Apache-2.0"));
        assert_eq!(license(Some("NotAnId-1.0"), Some("Ours")), other("Ours"));
        assert_eq!(license(Some("NotAnId-1.0"), None), other("NotAnId-1.0"));
        assert_eq!(license(None, None), other("unknown"));
    }
}
