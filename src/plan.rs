//! Planning: closure + resolved spec + root tree → an [`ImagePlan`].
//!
//! Pure and cheap: no file is read here. The plan decides every byte of the
//! image together with the store contents, so a layer can be regenerated
//! from its plan entry at any later time.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::closure::{ClosureGraph, NodeId};
use crate::layering;
use crate::rootfs::RootTree;
use crate::spec::ImageSpec;
use crate::store_path::StorePath;
use crate::tar_format::EntryAttrs;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePlan {
    /// The resolved spec: name, tag, config, times, owner.
    pub spec: ImageSpec,
    /// The store directory, `/nix/store` unless Nix was set up otherwise.
    pub store_dir: String,
    /// Bottom layer first.
    pub layers: Vec<LayerPlan>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum LayerPlan {
    /// Whole store paths, ascending.
    Store {
        paths: Vec<StorePath>,
        /// Sum of the paths' NAR sizes, when the closure gave them.
        #[serde(skip_serializing_if = "Option::is_none")]
        nar_size: Option<u64>,
    },
    /// The customisation layer: `contents` merged at `/`.
    Root { tree: RootTree },
}

impl LayerPlan {
    /// One line for the config history: what the layer holds.
    pub fn summary(&self) -> String {
        match self {
            LayerPlan::Store { paths, .. } => {
                let names: Vec<&str> = paths.iter().map(StorePath::as_str).collect();
                format!("strata: store paths {}", names.join(" "))
            }
            LayerPlan::Root { tree } => {
                let names: Vec<String> = tree.entries.keys().map(|n| format!("/{n}")).collect();
                format!("strata: customisation layer {}", names.join(" "))
            }
        }
    }

    /// A rough size, to start the largest layers first.
    pub fn estimated_size(&self) -> u64 {
        match self {
            LayerPlan::Store { nar_size, paths } => nar_size.unwrap_or(paths.len() as u64),
            LayerPlan::Root { .. } => 0,
        }
    }
}

impl ImagePlan {
    /// The header owner and time every entry of every layer gets.
    pub fn entry_attrs(&self) -> EntryAttrs {
        EntryAttrs {
            uid: self.spec.uid.into(),
            gid: self.spec.gid.into(),
            uname: self.spec.uname.clone(),
            gname: self.spec.gname.clone(),
            mtime: self.spec.mtime.seconds(),
            owner_writable: false,
        }
    }
}

/// Plans the image. `helpers` are store paths that exist only to build the
/// image (the spec file): they are in the closure but in no layer.
pub fn make_plan(
    spec: ImageSpec,
    graph: &ClosureGraph,
    helpers: &[StorePath],
    root: RootTree,
    store_dir: &str,
) -> Result<ImagePlan> {
    let mut excluded = BTreeSet::new();
    for helper in helpers {
        if let Some(id) = graph.id_of(helper) {
            excluded.insert(id);
        }
    }
    if spec.include_store_paths {
        for content in &spec.contents {
            let path = StorePath::parse(content, store_dir)?;
            if graph.id_of(&path).is_none() {
                bail!(
                    "contents path {content} is not in the closure; the closure must contain every contents path"
                );
            }
        }
    }
    let root_layers = usize::from(!root.is_empty());
    let budget = spec.max_layers - root_layers;
    let mut layers: Vec<LayerPlan> = if spec.include_store_paths {
        layering::store_layers(graph, spec.layering, &excluded, budget)?
            .into_iter()
            .map(|ids| store_layer(graph, &ids))
            .collect()
    } else {
        Vec::new()
    };
    if !root.is_empty() {
        layers.push(LayerPlan::Root { tree: root });
    }
    if layers.is_empty() {
        bail!("the image would have no layers: give `contents` or a closure with store paths");
    }
    Ok(ImagePlan {
        spec,
        store_dir: store_dir.to_owned(),
        layers,
    })
}

fn store_layer(graph: &ClosureGraph, ids: &[NodeId]) -> LayerPlan {
    let nar_size = ids
        .iter()
        .map(|&id| graph.node(id).nar_size)
        .sum::<Option<u64>>();
    LayerPlan::Store {
        paths: ids.iter().map(|&id| graph.node(id).path.clone()).collect(),
        nar_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::RootEntry;
    use crate::test_support::graph as test_graph;

    fn spec(max_layers: usize) -> ImageSpec {
        ImageSpec {
            name: "test".into(),
            max_layers,
            ..ImageSpec::default()
        }
    }

    fn root() -> RootTree {
        let mut tree = RootTree::default();
        tree.entries.insert(
            "bin".into(),
            RootEntry::Symlink("/nix/store/x-y/bin".into()),
        );
        tree
    }

    #[test]
    fn customisation_layer_counts_against_the_budget() {
        let g = test_graph(&[("a", &["b"]), ("b", &["c"]), ("c", &[])]);
        let plan = make_plan(spec(2), &g, &[], root(), "/nix/store").unwrap();
        assert_eq!(plan.layers.len(), 2);
        assert!(
            matches!(&plan.layers[0], LayerPlan::Store { paths, nar_size: Some(3) } if paths.len() == 3)
        );
        assert!(matches!(plan.layers[1], LayerPlan::Root { .. }));
        let plan = make_plan(spec(2), &g, &[], RootTree::default(), "/nix/store").unwrap();
        assert_eq!(
            plan.layers.len(),
            2,
            "without contents both layers hold store paths"
        );
    }

    #[test]
    fn helpers_never_land_in_a_layer() {
        let g = test_graph(&[("spec", &["a"]), ("a", &[])]);
        let helper = g.node(g.roots()[0]).path.clone();
        let plan = make_plan(
            spec(10),
            &g,
            std::slice::from_ref(&helper),
            RootTree::default(),
            "/nix/store",
        )
        .unwrap();
        let text = serde_json::to_string(&plan).unwrap();
        assert!(!text.contains(helper.as_str()));
        assert_eq!(plan.layers.len(), 1);
    }

    #[test]
    fn an_empty_image_is_an_error() {
        let g = test_graph(&[("spec", &[])]);
        let helper = g.node(0).path.clone();
        let err = make_plan(spec(10), &g, &[helper], RootTree::default(), "/nix/store");
        assert!(err.is_err());
    }

    #[test]
    fn plans_round_trip_through_json() {
        let g = test_graph(&[("a", &["b"]), ("b", &[])]);
        let plan = make_plan(spec(5), &g, &[], root(), "/nix/store").unwrap();
        let text = serde_json::to_string(&plan).unwrap();
        assert_eq!(serde_json::from_str::<ImagePlan>(&text).unwrap(), plan);
    }
}
