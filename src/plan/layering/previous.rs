//! Layering that keeps the layers of an earlier version of the image.
//!
//! A stateless layering sees only the new closure, so adding or removing a
//! few paths can move many others (merges cascade, thresholds step). Given
//! the previous plan, each of its layers is kept with the paths of the same
//! name that are still in the image, so a layer is re-sent only when one of
//! its own paths changed. Paths the previous plan does not name are laid out
//! by the chosen strategy in the layers the kept ones leave, above them.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::Result;

use crate::input::closure::{ClosureGraph, NodeId};
use crate::input::spec::LayeringStrategy;
use crate::plan::layering::store_layer::{StoreLayer, settled, version_free};
use crate::plan::layering::strategy::store_layers;

/// Said before the reason of a layer kept from the previous plan.
const KEPT: &str = "as in the previous plan";

/// The store-path layers of an earlier plan, bottom first.
#[derive(Clone, Debug, Default)]
pub struct PreviousLayers {
    layers: Vec<PreviousLayer>,
}

#[derive(Clone, Debug)]
struct PreviousLayer {
    /// The names of its store paths (what follows the hash).
    names: Vec<String>,
    /// Why the earlier plan grouped them, without any earlier "kept" prefix.
    reason: String,
}

impl PreviousLayers {
    /// Adds the next layer up, from its store paths' names and its reason.
    pub fn push(&mut self, names: Vec<String>, reason: &str) {
        let reason = match reason.strip_prefix(KEPT) {
            Some(rest) => rest.split_once(": ").map_or(rest, |(_, r)| r),
            None => reason,
        };
        self.layers.push(PreviousLayer {
            names,
            reason: reason.to_owned(),
        });
    }

    /// The previous layer of each name; a name in several layers belongs to
    /// the lowest.
    fn by_name(&self) -> HashMap<&str, usize> {
        let mut by_name = HashMap::new();
        for (index, layer) in self.layers.iter().enumerate() {
            for name in &layer.names {
                by_name.entry(name.as_str()).or_insert(index);
            }
        }
        by_name
    }

    /// The previous layer and name of each version-free name, among the
    /// names not in `current`: what a new version replaced, not a second
    /// version that stays beside it.
    fn by_version_free_name(&self, current: &HashSet<&str>) -> HashMap<String, (usize, &str)> {
        let mut by_key = HashMap::new();
        for (index, layer) in self.layers.iter().enumerate() {
            for name in layer.names.iter().filter(|n| !current.contains(n.as_str())) {
                by_key
                    .entry(version_free(name))
                    .or_insert((index, name.as_str()));
            }
        }
        by_key
    }
}

/// A layer being kept: its index in the previous plan and its paths now.
struct Kept {
    previous: usize,
    paths: Vec<NodeId>,
    size: u64,
    /// Other previous layers merged into it to meet the budget.
    merged: Vec<usize>,
    /// Paths that took the place of their gone version: (old name, new).
    versions: Vec<(String, NodeId)>,
    /// Paths new since the previous plan that joined it.
    joined: usize,
}

/// The layers of `graph` (but `excluded`) in at most `budget` layers,
/// keeping `previous`'s: each path joins the previous layer that held a path
/// of its name or, failing that, a gone path of its version-free name (the
/// version it replaces). When the kept layers are more than the budget, the
/// two smallest merge, repeatedly. Paths new since the previous plan are
/// laid out by `strategy` in the layers left; when none is left, they join
/// the smallest kept layer.
pub fn layers(
    graph: &ClosureGraph,
    strategy: LayeringStrategy,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
    previous: &PreviousLayers,
) -> Result<Vec<StoreLayer>> {
    let included: Vec<NodeId> = (0..graph.len()).filter(|n| !excluded.contains(n)).collect();
    let name = |n: NodeId| graph.node(n).path.name();
    let by_name = previous.by_name();
    let by_key = previous.by_version_free_name(&included.iter().map(|&n| name(n)).collect());
    let size = |n: NodeId| graph.node(n).nar_size.unwrap_or(0);
    let mut kept: Vec<Kept> = (0..previous.layers.len())
        .map(|previous| Kept {
            previous,
            paths: Vec::new(),
            size: 0,
            merged: Vec::new(),
            versions: Vec::new(),
            joined: 0,
        })
        .collect();
    let mut fresh = Vec::new();
    for node in included {
        let index = if let Some(&index) = by_name.get(name(node)) {
            index
        } else if let Some(&(index, old)) = by_key.get(&version_free(name(node))) {
            kept[index].versions.push((old.to_owned(), node));
            index
        } else {
            fresh.push(node);
            continue;
        };
        kept[index].paths.push(node);
        kept[index].size += size(node);
    }
    kept.retain(|k| !k.paths.is_empty());
    while kept.len() > budget {
        let first = smallest(&kept, None);
        let second = smallest(&kept, Some(first));
        let (low, high) = (first.min(second), first.max(second));
        let gone = kept.remove(high);
        let into = &mut kept[low];
        into.paths.extend(gone.paths);
        into.size += gone.size;
        into.merged.push(gone.previous);
        into.merged.extend(gone.merged);
        into.versions.extend(gone.versions);
    }

    let mut new_layers = Vec::new();
    if !fresh.is_empty() {
        let room = budget - kept.len();
        if room == 0 {
            let smallest = smallest(&kept, None);
            kept[smallest].joined = fresh.len();
            kept[smallest].paths.extend(fresh);
        } else {
            let mut elsewhere = excluded.clone();
            elsewhere.extend(kept.iter().flat_map(|k| k.paths.iter().copied()));
            new_layers = store_layers(graph, strategy, &elsewhere, room)?;
            for layer in &mut new_layers {
                layer.reason = format!("new since the previous plan: {}", layer.reason);
            }
        }
    }
    Ok(kept
        .into_iter()
        .map(|k| StoreLayer {
            reason: kept_reason(graph, previous, &k),
            paths: k.paths,
        })
        .chain(new_layers)
        .collect())
}

/// The smallest of `kept` but `skip` (the lowest, of equal sizes).
fn smallest(kept: &[Kept], skip: Option<usize>) -> usize {
    (0..kept.len())
        .filter(|&i| Some(i) != skip)
        .min_by_key(|&i| (kept[i].size, i))
        .expect("a budget of at least one leaves a layer kept")
}

/// How many new versions a kept layer's reason names; the rest are counted.
const VERSIONS_NAMED: usize = 3;

/// The previous reason, after what has changed since: the layer's place in
/// the previous plan, layers merged into it, new versions that replaced old
/// ones (the previous reason may name the old), and paths that joined it.
fn kept_reason(graph: &ClosureGraph, previous: &PreviousLayers, kept: &Kept) -> String {
    let mut said = format!("{KEPT} (layer {}", kept.previous + 1);
    if !kept.merged.is_empty() {
        let others: Vec<String> = kept.merged.iter().map(|i| (i + 1).to_string()).collect();
        said.push_str(&format!(
            ", with layers {} to meet maxLayers",
            others.join(", ")
        ));
    }
    let mut versions: Vec<(&str, &str)> = kept
        .versions
        .iter()
        .map(|(old, new)| (old.as_str(), graph.node(*new).path.name()))
        .collect();
    versions.sort_unstable();
    for (old, new) in versions.iter().take(VERSIONS_NAMED) {
        said.push_str(&format!(", {old} now {new}"));
    }
    if versions.len() > VERSIONS_NAMED {
        said.push_str(&format!(
            ", and {} more at new versions",
            versions.len() - VERSIONS_NAMED
        ));
    }
    if kept.joined > 0 {
        let paths = if kept.joined == 1 { "path" } else { "paths" };
        said.push_str(&format!(
            ", and {} {paths} new since, with no layer left for them",
            kept.joined
        ));
    }
    format!("{said}): {}", previous.layers[kept.previous].reason)
}

/// As [`store_layers`], keeping the layers of `previous`, an earlier plan of
/// the image, and laying out only what it lacks by `strategy` (see the
/// module docs).
pub fn store_layers_keeping(
    graph: &ClosureGraph,
    strategy: LayeringStrategy,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
    previous: &PreviousLayers,
) -> Result<Vec<StoreLayer>> {
    Ok(settled(layers(
        graph, strategy, excluded, budget, previous,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::closure_fixtures::sized_graph;
    use crate::plan::layering::store_layer::layer_names;

    fn previous(layers: &[&[&str]]) -> PreviousLayers {
        let mut previous = PreviousLayers::default();
        for (index, names) in layers.iter().enumerate() {
            let names = names.iter().map(|n| n.to_string()).collect();
            previous.push(names, &format!("reason {}", index + 1));
        }
        previous
    }

    fn names(layers: &[&[&str]]) -> Vec<Vec<String>> {
        layers
            .iter()
            .map(|l| {
                let mut names: Vec<String> = l.iter().map(|n| n.to_string()).collect();
                names.sort();
                names
            })
            .collect()
    }

    #[test]
    fn paths_keep_their_layers_and_new_ones_go_above() {
        // app-2 is app-1's new version; tool is new, and gone-1 was removed.
        let g = sized_graph(&[
            ("app-2", 10, &["lib-1.1", "zlib-1.3", "newlib"]),
            ("tool", 5, &["zlib-1.3"]),
            ("lib-1.1", 20, &["zlib-1.3"]),
            ("newlib", 3, &[]),
            ("zlib-1.3", 1, &[]),
        ]);
        let old = previous(&[&["zlib-1.3", "lib-1.0"], &["gone-1"], &["app-1"]]);
        let layers = layers(&g, LayeringStrategy::Stable, &BTreeSet::new(), 5, &old).unwrap();
        let got = layer_names(&g, &layers);
        assert_eq!(got[..2], names(&[&["lib-1.1", "zlib-1.3"], &["app-2"]]));
        let mut fresh: Vec<String> = got[2..].concat();
        fresh.sort();
        assert_eq!(fresh, ["newlib", "tool"]);
        assert_eq!(
            layers[0].reason,
            "as in the previous plan (layer 1, lib-1.0 now lib-1.1): reason 1"
        );
        assert_eq!(
            layers[1].reason,
            "as in the previous plan (layer 3, app-1 now app-2): reason 3"
        );
        assert!(
            layers[2]
                .reason
                .starts_with("new since the previous plan: ")
        );
    }

    #[test]
    fn a_reason_names_a_few_new_versions_and_counts_the_rest() {
        let g = sized_graph(&[
            ("a-2", 1, &[]),
            ("b-2", 1, &[]),
            ("c-2", 1, &[]),
            ("d-2", 1, &[]),
            ("e-2", 1, &[]),
            ("same", 1, &[]),
        ]);
        let old = previous(&[&["e-1", "d-1", "c-1", "b-1", "a-1", "same"]]);
        let layers = layers(&g, LayeringStrategy::Stable, &BTreeSet::new(), 1, &old).unwrap();
        assert_eq!(
            layers[0].reason,
            "as in the previous plan (layer 1, a-1 now a-2, b-1 now b-2, c-1 now c-2, \
             and 2 more at new versions): reason 1"
        );
    }

    #[test]
    fn exact_names_go_before_version_free_ones() {
        // Both versions of lib stay; each finds its own layer.
        let g = sized_graph(&[("lib-1", 1, &[]), ("lib-2", 1, &[])]);
        let old = previous(&[&["lib-2"], &["lib-1"]]);
        let layers = layers(&g, LayeringStrategy::Stable, &BTreeSet::new(), 2, &old).unwrap();
        assert_eq!(layer_names(&g, &layers), names(&[&["lib-2"], &["lib-1"]]));
    }

    #[test]
    fn a_new_version_replaces_the_one_that_is_gone() {
        // gcc-12-base and gcc-13-base have the same version-free name; only
        // the first got a new version.
        let g = sized_graph(&[("gcc-12-base-2", 1, &[]), ("gcc-13-base-1", 1, &[])]);
        let old = previous(&[&["gcc-13-base-1"], &["gcc-12-base-1"]]);
        let layers = layers(&g, LayeringStrategy::Stable, &BTreeSet::new(), 2, &old).unwrap();
        assert_eq!(
            layer_names(&g, &layers),
            names(&[&["gcc-13-base-1"], &["gcc-12-base-2"]])
        );
    }

    #[test]
    fn without_room_new_paths_join_the_smallest_kept_layer() {
        let g = sized_graph(&[
            ("a", 10, &[]),
            ("b", 2, &[]),
            ("c", 5, &[]),
            ("new", 1, &[]),
        ]);
        let old = previous(&[&["a"], &["b"], &["c"]]);
        let layers = layers(&g, LayeringStrategy::Stable, &BTreeSet::new(), 3, &old).unwrap();
        assert_eq!(
            layer_names(&g, &layers),
            names(&[&["a"], &["b", "new"], &["c"]])
        );
        assert_eq!(
            layers[1].reason,
            "as in the previous plan (layer 2, and 1 path new since, with no layer left for them): reason 2"
        );
    }

    #[test]
    fn more_kept_layers_than_the_budget_merge_the_smallest() {
        let g = sized_graph(&[("a", 10, &[]), ("b", 2, &[]), ("c", 5, &[]), ("d", 1, &[])]);
        let old = previous(&[&["a"], &["b"], &["c"], &["d"]]);
        let layers = layers(&g, LayeringStrategy::Stable, &BTreeSet::new(), 2, &old).unwrap();
        // d and b merge (3), then that and c (8); a stays alone.
        assert_eq!(layer_names(&g, &layers), names(&[&["a"], &["b", "c", "d"]]));
        assert_eq!(
            layers[1].reason,
            "as in the previous plan (layer 2, with layers 4, 3 to meet maxLayers): reason 2"
        );
    }

    #[test]
    fn excluded_paths_are_kept_nowhere_and_a_kept_reason_is_not_repeated() {
        let g = sized_graph(&[("spec", 1, &["a"]), ("a", 1, &[])]);
        let mut old = PreviousLayers::default();
        old.push(
            vec!["a".to_owned(), "spec".to_owned()],
            "as in the previous plan (layer 4): the first reason",
        );
        let excluded = BTreeSet::from([crate::input::closure_fixtures::node_named(&g, "spec")]);
        let layers = layers(&g, LayeringStrategy::Stable, &excluded, 4, &old).unwrap();
        assert_eq!(layer_names(&g, &layers), names(&[&["a"]]));
        assert_eq!(
            layers[0].reason,
            "as in the previous plan (layer 1): the first reason"
        );
    }
}
