//! Planning: closure + resolved spec + root trees → an [`ImagePlan`].
//!
//! Pure and cheap: no file is read here. The plan decides every byte of the
//! image together with the store contents, so a layer can be regenerated
//! from its plan entry at any later time.
//!
//! Layers, bottom first: the user's explicit layers (each holding what the
//! ones below it lack), the automatic layers of the remaining store paths,
//! and the customisation layer.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::format::compression::Encoding;
use crate::format::store_path::{self, StorePath};
use crate::format::tar_format::EntryAttrs;
use crate::input::base_image::{BaseConfig, BaseImage, BaseLayer};
use crate::input::closure::{ClosureGraph, NodeId};
use crate::input::perm_rule::PermRule;
use crate::input::spec::{Delivery, ImageSpec, Timestamp};
use crate::plan::layering::previous::PreviousLayers;
use crate::plan::layering::previous::store_layers_keeping;
use crate::plan::layering::store_layer::StoreLayer;
use crate::plan::layering::strategy::store_layers;
use crate::plan::perms::EntryRules;
use crate::plan::root_tree::RootTree;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePlan {
    /// The resolved spec: name, tag, config, times, owner.
    pub spec: ImageSpec,
    /// The store directory, `/nix/store` unless Nix was set up otherwise.
    pub store_dir: String,
    /// Bottom layer first.
    pub layers: Vec<LayerPlan>,
    /// What the config inherits from the base image (`fromImage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseConfig>,
    /// Owners and modes of chosen entries, names resolved to ids: those of
    /// accounts and directories, then the spec's `perms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perms: Vec<PermRule>,
}

/// One layer: whole store paths, and entries merged at `/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerPlan {
    /// Ascending.
    #[serde(default)]
    pub paths: Vec<StorePath>,
    /// Entries at `/`: `contents` for the customisation layer, `copyToRoot`
    /// for an explicit layer.
    #[serde(default, skip_serializing_if = "RootTree::is_empty")]
    pub root: RootTree,
    /// Sum of the paths' NAR sizes, when the closure gave them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nar_size: Option<u64>,
    /// The customisation root made by commands (a store path holding
    /// `root/` and the recorded modes and owners), merged at `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_dir: Option<String>,
    /// A layer of the base image, carried over as it is (no paths, no
    /// root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseLayer>,
    /// Why these paths share a layer.
    pub reason: String,
}

impl LayerPlan {
    /// One line for the config history: why the layer exists, and what it
    /// holds.
    pub fn summary(&self) -> String {
        let mut items: Vec<String> = self.paths.iter().map(ToString::to_string).collect();
        items.extend(self.root.entries.keys().map(|n| format!("/{n}")));
        format!("strata: {}: {}", self.reason, items.join(" "))
    }

    /// Whether it could be the customisation layer: a root, no store paths,
    /// nothing from a base image.
    fn is_customisation(&self) -> bool {
        self.paths.is_empty() && self.base.is_none()
    }

    /// A rough size, to start the largest layers first.
    pub fn estimated_size(&self) -> u64 {
        match &self.base {
            Some(base) => base.blob.size,
            None => self.nar_size.unwrap_or(self.paths.len() as u64),
        }
    }
}

impl ImagePlan {
    /// The customisation layer: the last one, when it is one.
    pub fn customisation_layer(&self) -> Option<&LayerPlan> {
        self.layers.last().filter(|l| l.is_customisation())
    }

    pub fn customisation_layer_mut(&mut self) -> Option<&mut LayerPlan> {
        self.layers.last_mut().filter(|l| l.is_customisation())
    }

    /// The header owner, time and mode of the entries of the layers.
    pub fn entry_rules(&self) -> Result<EntryRules> {
        let base = EntryAttrs {
            uid: self.spec.uid.into(),
            gid: self.spec.gid.into(),
            uname: self.spec.uname.clone(),
            gname: self.spec.gname.clone(),
            mtime: self.spec.mtime.seconds(),
            owner_writable: false,
            mode: None,
        };
        EntryRules::new(base, &self.perms)
    }

    /// Whether layer `index` is a blob that `earlier` has too, so that a
    /// registry holding `earlier` would not receive it again: a base image's
    /// layer of the same digest, or a layer of the same store paths and root
    /// written the same way (owner, time, modes and compression).
    pub fn layer_is_in(&self, index: usize, earlier: &ImagePlan) -> bool {
        let layer = &self.layers[index];
        if let Some(base) = &layer.base {
            return earlier
                .layers
                .iter()
                .filter_map(|l| l.base.as_ref())
                .any(|b| b.blob.digest == base.blob.digest);
        }
        let written_alike = match (self.written_with(), earlier.written_with()) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => false,
        };
        written_alike
            && earlier.layers.iter().any(|l| {
                l.base.is_none()
                    && l.paths == layer.paths
                    && l.root == layer.root
                    && l.root_dir == layer.root_dir
            })
    }

    /// What the layers strata writes take from the plan besides their own
    /// paths and root; `None` when their times are those of each build.
    fn written_with(&self) -> Option<WrittenWith<'_>> {
        let spec = &self.spec;
        let Timestamp::At(mtime) = spec.mtime else {
            return None;
        };
        Some(WrittenWith {
            store_dir: &self.store_dir,
            owner: (spec.uid, spec.gid, &spec.uname, &spec.gname),
            mtime,
            perms: &self.perms,
            encoding: spec.encoding(Delivery::Kept),
        })
    }
}

/// The settings every layer strata writes for a plan is made with: two
/// plans write the same layer alike only when these agree.
#[derive(PartialEq)]
struct WrittenWith<'a> {
    store_dir: &'a str,
    /// uid, gid, user and group name.
    owner: (u32, u32, &'a str, &'a str),
    mtime: u64,
    perms: &'a [PermRule],
    /// How a registry receives the layers.
    encoding: Encoding,
}

/// The merged `/` of the customisation layer and of each explicit layer.
#[derive(Clone, Debug, Default)]
pub struct RootTrees {
    pub contents: RootTree,
    /// One per explicit layer, in the spec's order.
    pub explicit: Vec<RootTree>,
}

/// Plans the image. `helpers` are store paths that exist only to build the
/// image (the spec file): they are in the closure but in no layer. The base
/// image's layers come first; its closure (a strata image refers to the
/// store paths it holds) is in no layer of this image. With `previous`, the
/// store-path layers of the image's previous version are kept.
pub fn make_plan(
    spec: ImageSpec,
    graph: &ClosureGraph,
    helpers: &[StorePath],
    roots: RootTrees,
    base: Option<BaseImage>,
    previous: Option<&PreviousLayers>,
    store_dir: &str,
) -> Result<ImagePlan> {
    let node_of = |path: &str, what: &str| -> Result<NodeId> {
        let parsed = StorePath::parse(path, store_dir).with_context(|| format!("in `{what}`"))?;
        graph.id_of(&parsed).with_context(|| {
            format!("{what} path {path} is not in the closure; the closure must contain it")
        })
    };
    let mut taken: BTreeSet<NodeId> = helpers.iter().filter_map(|h| graph.id_of(h)).collect();
    taken.extend(excluded_paths(&spec, graph, store_dir)?);

    // The customisation layer: contents, accounts, and what commands make.
    let customised = !roots.contents.is_empty() || spec.root_commands;
    let mut layers = Vec::new();
    let base_config = base.map(|base| {
        if let Some(id) = spec
            .from_image
            .as_deref()
            .and_then(|image| StorePath::parse(image, store_dir).ok())
            .and_then(|path| graph.id_of(&path))
        {
            taken.extend(graph.closure_of([id]));
        }
        let count = base.layers.len();
        for (index, layer) in base.layers.into_iter().enumerate() {
            layers.push(LayerPlan {
                paths: Vec::new(),
                root: RootTree::default(),
                nar_size: None,
                root_dir: None,
                base: Some(layer),
                reason: format!("base image layer {} of {count}", index + 1),
            });
        }
        base.config
    });
    let base_layers = layers.len();
    if spec.include_store_paths {
        for content in &spec.contents {
            node_of(content, "contents")?;
        }
        for (index, (explicit, root)) in spec.layers.iter().zip(roots.explicit).enumerate() {
            let mut starts = Vec::new();
            for path in &explicit.deps {
                starts.push(node_of(path, "layers.deps")?);
            }
            for path in &explicit.copy_to_root {
                starts.push(node_of(path, "layers.copyToRoot")?);
            }
            let ids: Vec<NodeId> = graph
                .closure_of(starts)
                .into_iter()
                .filter(|id| !taken.contains(id))
                .collect();
            taken.extend(&ids);
            let mut layer = store_layer(
                graph,
                StoreLayer {
                    paths: ids,
                    reason: format!("explicit layer {}", index + 1),
                },
            );
            layer.root = root;
            layers.push(layer);
        }
        let automatic = graph.len() - taken.len();
        let reserved = layers.len() + usize::from(customised);
        if automatic > 0 {
            let Some(budget) = spec.max_layers.checked_sub(reserved).filter(|&b| b > 0) else {
                bail!(
                    "maxLayers is {}, and the {} base image layers, {} explicit layers and the customisation layer leave none for the other {automatic} store paths; raise maxLayers",
                    spec.max_layers,
                    base_layers,
                    spec.layers.len()
                );
            };
            let groups = match previous {
                Some(previous) => {
                    store_layers_keeping(graph, spec.layering, &taken, budget, previous)?
                }
                None => store_layers(graph, spec.layering, &taken, budget)?,
            };
            for group in groups {
                layers.push(store_layer(graph, group));
            }
        }
    }
    layers.retain(|l| !l.paths.is_empty() || !l.root.is_empty() || l.base.is_some());
    if customised {
        layers.push(LayerPlan {
            paths: Vec::new(),
            root: roots.contents,
            nar_size: None,
            root_dir: None,
            base: None,
            reason: "customisation layer: contents linked into /".to_owned(),
        });
    }
    if layers.is_empty() {
        bail!("the image would have no layers: give `contents` or a closure with store paths");
    }
    if layers.len() > spec.max_layers {
        bail!(
            "the image needs {} layers ({base_layers} from the base image, {} explicit), more than maxLayers = {}",
            layers.len(),
            spec.layers.len(),
            spec.max_layers
        );
    }
    Ok(ImagePlan {
        spec,
        store_dir: store_dir.to_owned(),
        layers,
        base: base_config,
        perms: Vec::new(),
    })
}

/// The nodes `excludePaths` names. Each entry is a store path or a regular
/// expression over whole store paths, and must match something; nothing the
/// config or `contents` points to may be excluded.
fn excluded_paths(
    spec: &ImageSpec,
    graph: &ClosureGraph,
    store_dir: &str,
) -> Result<BTreeSet<NodeId>> {
    let mut excluded = BTreeSet::new();
    for entry in &spec.exclude_paths {
        let matched: Vec<NodeId> = match StorePath::parse(entry, store_dir) {
            Ok(path) => graph.id_of(&path).into_iter().collect(),
            Err(_) => {
                let pattern = regex::Regex::new(&format!("^(?:{entry})$")).with_context(|| {
                    format!("excludePaths entry '{entry}' is neither a store path nor a valid regular expression")
                })?;
                (0..graph.len())
                    .filter(|&n| pattern.is_match(graph.node(n).path.as_str()))
                    .collect()
            }
        };
        if matched.is_empty() {
            bail!("excludePaths entry '{entry}' matches no store path of the image");
        }
        excluded.extend(matched);
    }
    let config = serde_json::to_string(&spec.config)?;
    let pointed_to = store_path::scan_store_paths(&config, store_dir)
        .into_iter()
        .map(|p| (p, "the image config"))
        .chain(
            spec.contents
                .iter()
                .filter_map(|c| StorePath::parse(c, store_dir).ok())
                .map(|p| (p, "contents")),
        );
    for (path, whom) in pointed_to {
        if graph.id_of(&path).is_some_and(|id| excluded.contains(&id)) {
            bail!("excludePaths would remove {path}, which {whom} points to");
        }
    }
    Ok(excluded)
}

fn store_layer(graph: &ClosureGraph, group: StoreLayer) -> LayerPlan {
    let nar_size = group
        .paths
        .iter()
        .map(|&id| graph.node(id).nar_size)
        .sum::<Option<u64>>();
    LayerPlan {
        paths: group
            .paths
            .iter()
            .map(|&id| graph.node(id).path.clone())
            .collect(),
        root: RootTree::default(),
        nar_size,
        root_dir: None,
        base: None,
        reason: group.reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::compression::Compressor;
    use crate::format::digest::Digest;
    use crate::format::store_path::test_store_path as store_path;
    use crate::input::closure_fixtures::graph as test_graph;
    use crate::input::spec::{ExplicitLayer, LayeringStrategy};
    use crate::plan::root_tree::RootEntry;

    fn spec(max_layers: usize) -> ImageSpec {
        ImageSpec {
            name: "test".into(),
            max_layers,
            layering: LayeringStrategy::Popularity,
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

    fn contents_root() -> RootTrees {
        RootTrees {
            contents: root(),
            explicit: Vec::new(),
        }
    }

    /// The plan of `spec` over `graph`: no helpers, no base image, no
    /// previous plan.
    fn plan_over(spec: ImageSpec, graph: &ClosureGraph, roots: RootTrees) -> Result<ImagePlan> {
        make_plan(spec, graph, &[], roots, None, None, "/nix/store")
    }

    fn names(layer: &LayerPlan) -> Vec<&str> {
        layer.paths.iter().map(StorePath::name).collect()
    }

    #[test]
    fn customisation_layer_counts_against_the_budget() {
        let g = test_graph(&[("a", &["b"]), ("b", &["c"]), ("c", &[])]);
        let plan = plan_over(spec(2), &g, contents_root()).unwrap();
        assert_eq!(plan.layers.len(), 2);
        assert_eq!(plan.layers[0].paths.len(), 3);
        assert_eq!(plan.layers[0].nar_size, Some(3));
        assert!(plan.layers[1].paths.is_empty() && !plan.layers[1].root.is_empty());
        let plan = plan_over(spec(2), &g, RootTrees::default()).unwrap();
        assert_eq!(
            plan.layers.len(),
            2,
            "without contents both layers hold store paths"
        );
    }

    #[test]
    fn a_layer_is_in_an_earlier_plan_when_written_alike_from_the_same_paths() {
        let v1 = test_graph(&[("app-1", &["lib"]), ("lib", &[])]);
        let v2 = test_graph(&[("app-2", &["lib"]), ("lib", &[])]);
        let earlier = plan_over(spec(10), &v1, contents_root()).unwrap();
        let plan = |spec: ImageSpec| plan_over(spec, &v2, contents_root()).unwrap();
        // Which of the new layers the earlier plan has: lib's and the
        // customisation layer (same root), not app-2's.
        let kept_layers = |later: &ImagePlan| -> Vec<Vec<String>> {
            (0..later.layers.len())
                .filter(|&i| later.layer_is_in(i, &earlier))
                .map(|i| {
                    names(&later.layers[i])
                        .iter()
                        .map(|&n| n.to_owned())
                        .collect()
                })
                .collect()
        };
        let same = plan(spec(10));
        assert_eq!(kept_layers(&same), [vec!["lib".to_owned()], vec![]]);
        let mut other_root = contents_root();
        other_root.contents.entries.insert(
            "etc".into(),
            RootEntry::Symlink("/nix/store/x-y/etc".into()),
        );
        let rooted = plan_over(spec(10), &v2, other_root).unwrap();
        assert_eq!(
            kept_layers(&rooted),
            [vec!["lib".to_owned()]],
            "another root"
        );
        let default_level = plan(ImageSpec {
            compression_level: Some(6),
            ..spec(10)
        });
        assert_eq!(
            kept_layers(&default_level).len(),
            2,
            "gzip's level 6 is its default"
        );

        // Any setting that goes into every layer's bytes makes them all new.
        let written_otherwise = [
            ImageSpec {
                mtime: Timestamp::At(2),
                ..spec(10)
            },
            ImageSpec {
                uid: 1000,
                ..spec(10)
            },
            ImageSpec {
                compression_level: Some(9),
                ..spec(10)
            },
            ImageSpec {
                compressor: Some(Compressor::Zstd),
                ..spec(10)
            },
        ];
        for later in written_otherwise {
            assert!(kept_layers(&plan(later)).is_empty());
        }
        let mut moded = plan(spec(10));
        moded.perms.push(PermRule::default());
        assert!(kept_layers(&moded).is_empty(), "other modes");
        // A base image's layer is the same blob when its digest is, however
        // the rest is written.
        let base_layer = |bytes: &[u8]| LayerPlan {
            paths: Vec::new(),
            root: RootTree::default(),
            nar_size: None,
            root_dir: None,
            base: Some(BaseLayer {
                image: "base.tar".into(),
                entry: "blobs/sha256/…".into(),
                blob: crate::format::layer_blob::LayerBlob {
                    diff_id: Digest::of(bytes),
                    digest: Digest::of(bytes),
                    size: bytes.len() as u64,
                    media_type: Compressor::None.media_type().to_owned(),
                    settings: None,
                },
            }),
            reason: "base image layer".into(),
        };
        let mut earlier_on_base = earlier.clone();
        earlier_on_base.layers.insert(0, base_layer(b"base 1"));
        for (bytes, kept) in [(b"base 1", true), (b"base 2", false)] {
            let mut later = plan(ImageSpec {
                uid: 1000,
                ..spec(10)
            });
            later.layers.insert(0, base_layer(bytes));
            assert_eq!(later.layer_is_in(0, &earlier_on_base), kept);
            assert!(!later.layer_is_in(0, &earlier), "no base layer before");
        }

        // Times of the build: no layer is ever the same, even against itself.
        let now = plan(ImageSpec {
            mtime: Timestamp::Now,
            ..spec(10)
        });
        assert!(!(0..now.layers.len()).any(|i| now.layer_is_in(i, &now)));
    }

    #[test]
    fn helpers_never_land_in_a_layer() {
        let g = test_graph(&[("spec", &["a"]), ("a", &[])]);
        let helper = g.node(g.roots()[0]).path.clone();
        let plan = make_plan(
            spec(10),
            &g,
            std::slice::from_ref(&helper),
            RootTrees::default(),
            None,
            None,
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
        let err = make_plan(
            spec(10),
            &g,
            &[helper],
            RootTrees::default(),
            None,
            None,
            "/nix/store",
        );
        assert!(err.is_err());
    }

    #[test]
    fn plans_round_trip_through_json() {
        let g = test_graph(&[("a", &["b"]), ("b", &[])]);
        let plan = plan_over(spec(5), &g, contents_root()).unwrap();
        let text = serde_json::to_string(&plan).unwrap();
        assert_eq!(serde_json::from_str::<ImagePlan>(&text).unwrap(), plan);
    }

    #[test]
    fn explicit_layers_stack_and_keep_their_paths_from_automatic_layers() {
        let g = test_graph(&[
            ("app", &["runtime", "libc"]),
            ("runtime", &["libc"]),
            ("libc", &[]),
            ("tool", &["libc"]),
        ]);
        let mut s = spec(10);
        s.layers = vec![
            ExplicitLayer {
                deps: vec![store_path("libc")],
                ..ExplicitLayer::default()
            },
            ExplicitLayer {
                deps: vec![store_path("runtime")],
                ..ExplicitLayer::default()
            },
        ];
        let roots = RootTrees {
            contents: RootTree::default(),
            explicit: vec![RootTree::default(), root()],
        };
        let plan = plan_over(s, &g, roots).unwrap();
        assert_eq!(names(&plan.layers[0]), ["libc"]);
        assert_eq!(
            names(&plan.layers[1]),
            ["runtime"],
            "the base layer's libc is not repeated"
        );
        assert!(
            !plan.layers[1].root.is_empty(),
            "copyToRoot of the second layer"
        );
        let automatic: Vec<&str> = plan.layers[2..].iter().flat_map(names).collect();
        assert_eq!(automatic.len(), 2);
        assert!(automatic.contains(&"app") && automatic.contains(&"tool"));
    }

    #[test]
    fn an_explicit_layer_is_the_same_whatever_else_the_image_holds() {
        let layer = ExplicitLayer {
            deps: vec![store_path("runtime")],
            ..ExplicitLayer::default()
        };
        let plan_of = |g: ClosureGraph| {
            let mut s = spec(10);
            s.layers = vec![layer.clone()];
            let roots = RootTrees {
                contents: RootTree::default(),
                explicit: vec![RootTree::default()],
            };
            plan_over(s, &g, roots).unwrap().layers[0].clone()
        };
        let one = plan_of(test_graph(&[
            ("app", &["runtime"]),
            ("runtime", &["libc"]),
            ("libc", &[]),
        ]));
        let two = plan_of(test_graph(&[
            ("other", &["runtime", "x"]),
            ("x", &[]),
            ("runtime", &["libc"]),
            ("libc", &[]),
        ]));
        assert_eq!(one, two);
    }

    #[test]
    fn exclude_paths_by_path_or_expression() {
        let g = test_graph(&[("app", &["docs", "libc"]), ("docs", &[]), ("libc", &[])]);
        let mut s = spec(10);
        s.exclude_paths = vec![".*-docs".to_owned()];
        let plan = plan_over(s.clone(), &g, RootTrees::default()).unwrap();
        let all: Vec<&str> = plan.layers.iter().flat_map(names).collect();
        assert!(!all.contains(&"docs") && all.len() == 2, "{all:?}");
        s.exclude_paths = vec![store_path("docs")];
        assert!(plan_over(s.clone(), &g, RootTrees::default()).is_ok());

        s.exclude_paths = vec!["nothing-like-this".to_owned()];
        let err = format!(
            "{:#}",
            plan_over(s.clone(), &g, RootTrees::default()).unwrap_err()
        );
        assert!(err.contains("matches no store path"), "{err}");
        s.exclude_paths = vec!["(".to_owned()];
        let err = format!(
            "{:#}",
            plan_over(s.clone(), &g, RootTrees::default()).unwrap_err()
        );
        assert!(err.contains("regular expression"), "{err}");
        s.exclude_paths = vec![".*-libc".to_owned()];
        s.config.cmd = Some(vec![format!("{}/bin/x", store_path("libc"))]);
        let err = format!("{:#}", plan_over(s, &g, RootTrees::default()).unwrap_err());
        assert!(err.contains("the image config points to"), "{err}");
    }

    #[test]
    fn explicit_layers_must_leave_room() {
        let g = test_graph(&[("a", &["b"]), ("b", &[])]);
        let mut s = spec(2);
        s.layers = vec![
            ExplicitLayer {
                deps: vec![store_path("b")],
                ..ExplicitLayer::default()
            };
            1
        ];
        let roots = RootTrees {
            contents: root(),
            explicit: vec![RootTree::default()],
        };
        let err = format!("{:#}", plan_over(s, &g, roots).unwrap_err());
        assert!(err.contains("raise maxLayers"), "{err}");
    }
}
