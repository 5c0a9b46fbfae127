//! What a layer's tar is made from, as one digest, so that a version of an
//! image can take the diff_id of a layer its previous version described
//! without reading the layer again.
//!
//! The digest covers everything that reaches the tar's bytes: the store
//! paths with their NAR hashes (a NAR hash fixes a path's contents), the
//! root entries, the store directory, the owner, the time, the modes and
//! owners the plan sets, and the version of the tar format strata writes.
//! A layer with a path whose NAR hash is unknown, or with a customisation
//! root made by commands, has none: it is always hashed. A previous
//! version that records a wrong diff_id is caught where the bytes are
//! made, since streams, pushes and loads check every layer they regenerate.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::emit::description::{self, ImageDescription, LayerTar};
use crate::emit::oci::canonical_json;
use crate::format::digest::Digest;
use crate::plan::image_plan::ImagePlan;

/// Changes whenever strata writes the tar of the same layer differently:
/// digests recorded by another tar format are not reused.
const TAR_FORMAT: u32 = 1;

/// The source digest of layer `index` of `plan`, when it has one.
pub fn source_of(
    plan: &ImagePlan,
    index: usize,
    nar_hashes: &BTreeMap<String, String>,
) -> Result<Option<Digest>> {
    let layer = &plan.layers[index];
    if layer.base.is_some() || layer.root_dir.is_some() {
        return Ok(None);
    }
    let mut paths = Vec::with_capacity(layer.paths.len());
    for path in &layer.paths {
        match nar_hashes.get(path.as_str()) {
            Some(hash) => paths.push((path.as_str(), hash.as_str())),
            None => return Ok(None),
        }
    }
    let spec = &plan.spec;
    let source = serde_json::json!({
        "tarFormat": TAR_FORMAT,
        "storeDir": plan.store_dir,
        "paths": paths,
        "root": layer.root,
        "owner": [spec.uid, spec.gid, spec.uname, spec.gname],
        "mtime": spec.mtime.seconds(),
        "perms": plan.perms,
    });
    Ok(Some(Digest::of(&canonical_json(&source)?)))
}

/// The tars an earlier version described, by their source digest.
#[derive(Default)]
pub struct EarlierTars {
    by_source: BTreeMap<Digest, LayerTar>,
}

impl EarlierTars {
    /// What the previous version (`previousPlan`) of `plan`'s image
    /// described of its layers.
    pub fn of_previous_version(plan: &ImagePlan) -> Result<Self> {
        match &plan.spec.previous_plan {
            Some(file) => Self::read(std::path::Path::new(file)).context("in `previousPlan`"),
            None => Ok(Self::default()),
        }
    }

    /// The tars of the description in `file`; none when it is a plan or
    /// a description from before sources were recorded.
    pub fn read(file: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let Ok(earlier) =
            serde_json::from_str::<ImageDescription>(description::script_payload(&text))
        else {
            return Ok(Self::default());
        };
        Ok(Self {
            by_source: earlier
                .layers
                .into_iter()
                .filter_map(|tar| Some((tar.source?, tar)))
                .collect(),
        })
    }

    /// The tar of the same source, if the earlier version described one.
    pub fn get(&self, source: &Digest) -> Option<&LayerTar> {
        self.by_source.get(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::store_path::StorePath;
    use crate::format::store_path::test_store_path as store_path;
    use crate::input::perm_rule::PermRule;
    use crate::input::spec::ImageSpec;
    use crate::plan::image_plan::LayerPlan;

    fn plan(spec: ImageSpec) -> ImagePlan {
        let path = |name: &str| StorePath::parse(&store_path(name), "/nix/store").unwrap();
        ImagePlan {
            spec,
            store_dir: "/nix/store".into(),
            layers: vec![LayerPlan {
                paths: vec![path("a"), path("b")],
                root: Default::default(),
                nar_size: None,
                root_dir: None,
                base: None,
                reason: "test".into(),
            }],
            base: None,
            perms: Vec::new(),
        }
    }

    fn hashes(b: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (store_path("a"), "sha256:aaa".to_owned()),
            (store_path("b"), b.to_owned()),
        ])
    }

    #[test]
    fn the_source_changes_with_whatever_reaches_the_tar() {
        let source = |plan: &ImagePlan, hashes: &BTreeMap<String, String>| {
            source_of(plan, 0, hashes).unwrap()
        };
        let same = source(&plan(ImageSpec::default()), &hashes("sha256:bbb"));
        assert!(same.is_some());
        assert_eq!(
            source(&plan(ImageSpec::default()), &hashes("sha256:bbb")),
            same
        );
        assert_ne!(
            source(&plan(ImageSpec::default()), &hashes("sha256:ccc")),
            same
        );
        let owned = ImageSpec {
            uid: 1000,
            ..ImageSpec::default()
        };
        assert_ne!(source(&plan(owned), &hashes("sha256:bbb")), same);
        let mut moded = plan(ImageSpec::default());
        moded.perms.push(PermRule::default());
        assert_ne!(source(&moded, &hashes("sha256:bbb")), same);
        // What the tar is made of cannot all be named: no source.
        let mut unknown = hashes("sha256:bbb");
        unknown.remove(&store_path("b"));
        assert_eq!(source(&plan(ImageSpec::default()), &unknown), None);
    }
}
