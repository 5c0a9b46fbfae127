//! Size-aware layering (nixpkgs' `auto`), with explicit tie-breaks.
//!
//! Store paths are taken largest first as *primaries*. Every path belongs to
//! the group of primaries that claim it: a new primary claims itself and each
//! of its dependencies that no deeper primary (one it depends on) claims, and
//! takes the place of the primaries that depend on it. Each distinct group is
//! a layer. Primaries are added until one more would make more groups than
//! the budget allows. Layers are ordered by the total NAR size of their
//! closure, so a layer comes after the layers it depends on.
//!
//! Ties, which nixpkgs leaves to set order: equal sizes go by name, then by
//! hash; equal closure sizes by the layers' first paths.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use anyhow::{Result, bail};

use crate::closure::{ClosureGraph, NodeId};
use crate::layering::StoreLayer;

/// Which layer a path goes to: the primaries that claim it, ascending (none
/// for an unclaimed path); or a marker and a number: `[OWN, primary]` for a
/// primary alone, `[TOP, node]` for a top-level path alone,
/// `[TOP_BUCKET, bucket]` and `[UNCLAIMED, bucket]` for paths shared by name.
type Group = Vec<NodeId>;

const OWN: NodeId = NodeId::MAX;
const TOP: NodeId = NodeId::MAX - 1;
const TOP_BUCKET: NodeId = NodeId::MAX - 2;
const UNCLAIMED: NodeId = NodeId::MAX - 3;

/// Refinements of the grouping, for the `stable` strategy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// A primary gets a layer of its own, apart from the dependencies it
    /// claims: when it changes, they need not be sent again.
    pub primaries_alone: bool,
    /// Top-level paths (those only the image's helpers refer to) are kept
    /// out of the grouping. Half the budget goes to them (more when the other
    /// paths need less): when they are more than that, the largest get a
    /// layer each and the rest share the other layers of that half, by a hash
    /// of their name.
    pub top_level_apart: bool,
    /// Paths that no primary claims are spread over an eighth of the budget
    /// by a hash of their name, rather than sharing one layer: a change to
    /// one of them re-sends a small layer.
    pub unclaimed_spread: bool,
}

impl Options {
    /// The `stable` strategy: every refinement.
    pub const STABLE: Options = Options {
        primaries_alone: true,
        top_level_apart: true,
        unclaimed_spread: true,
    };
}

pub fn layers(
    graph: &ClosureGraph,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
) -> Result<Vec<StoreLayer>> {
    layers_with(graph, excluded, budget, Options::default())
}

pub fn layers_with(
    graph: &ClosureGraph,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
    options: Options,
) -> Result<Vec<StoreLayer>> {
    let sizes = nar_sizes(graph)?;
    let referrers = graph.referrers();
    let mut groups: Vec<Group> = vec![Vec::new(); graph.len()];
    let mut top_level = BTreeSet::new();
    if options.top_level_apart && budget >= 2 {
        for (node, group) in top_level_groups(graph, excluded, &referrers, &sizes, budget) {
            top_level.insert(node);
            groups[node] = group;
        }
    }
    let unclaimed_buckets = if options.unclaimed_spread {
        (budget / 8).max(1)
    } else {
        1
    };
    // Where each path goes should no primary claim it: its name bucket (or,
    // without spreading, the one unclaimed layer).
    let unclaimed: Vec<Group> = (0..graph.len())
        .map(|node| {
            if unclaimed_buckets > 1 {
                vec![
                    UNCLAIMED,
                    name_bucket(graph.node(node).path.name(), unclaimed_buckets),
                ]
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut candidates: Vec<NodeId> = (0..graph.len())
        .filter(|i| !excluded.contains(i) && !top_level.contains(i))
        .collect();
    candidates.sort_by(|&a, &b| {
        let (na, nb) = (&graph.node(a).path, &graph.node(b).path);
        sizes[b]
            .cmp(&sizes[a])
            .then_with(|| na.name().cmp(nb.name()))
            .then_with(|| na.hash_part().cmp(nb.hash_part()))
    });

    let mut in_deps = vec![false; graph.len()];
    let mut in_users = vec![false; graph.len()];
    for primary in candidates {
        let deps = reachable(primary, |n| &graph.node(n).references);
        let users = reachable(primary, |n| &referrers[n]);
        deps.iter().for_each(|&d| in_deps[d] = true);
        users.iter().for_each(|&u| in_users[u] = true);
        let own = if options.primaries_alone {
            vec![OWN, primary]
        } else {
            vec![primary]
        };
        let mut changes: Vec<(NodeId, Group)> = vec![(primary, own)];
        // Earlier primaries and top-level paths keep their groups.
        for &dep in deps.iter().filter(|&&d| !is_fixed(&groups[d])) {
            let mut group: Group = groups[dep]
                .iter()
                .copied()
                .filter(|&p| !in_users[p])
                .collect();
            if !group.iter().any(|&p| in_deps[p]) {
                let at = group.partition_point(|&p| p < primary);
                group.insert(at, primary);
            }
            changes.push((dep, group));
        }
        deps.iter().for_each(|&d| in_deps[d] = false);
        users.iter().for_each(|&u| in_users[u] = false);

        let changed: BTreeMap<NodeId, &Group> = changes.iter().map(|(n, g)| (*n, g)).collect();
        let count = (0..graph.len())
            .filter(|n| !excluded.contains(n))
            .map(|n| {
                layer_key(
                    changed.get(&n).copied().unwrap_or(&groups[n]),
                    &unclaimed[n],
                )
            })
            .collect::<HashSet<&Group>>()
            .len();
        if count > budget {
            break;
        }
        for (node, group) in changes {
            groups[node] = group;
        }
    }

    let mut by_group: BTreeMap<Group, Vec<NodeId>> = BTreeMap::new();
    for node in (0..graph.len()).filter(|n| !excluded.contains(n)) {
        by_group
            .entry(layer_key(&groups[node], &unclaimed[node]).clone())
            .or_default()
            .push(node);
    }
    let mut layers: Vec<(u64, Vec<NodeId>, Group)> = by_group
        .into_iter()
        .map(|(group, paths)| (closure_size(graph, &paths, &sizes), paths, group))
        .collect();
    layers.sort();
    Ok(layers
        .into_iter()
        .map(|(_, paths, group)| StoreLayer {
            reason: reason(graph, &group),
            paths,
        })
        .collect())
}

/// The groups of the top-level paths (those only excluded paths refer to).
/// Half the budget goes to them, or more when the other paths need fewer
/// layers. When they fit, each is alone; else those larger than an even share
/// of the top-level bytes (a threshold that moves little when a package comes
/// or goes) are alone, at most half of that share, and the rest share the
/// other half by a hash of their name.
fn top_level_groups(
    graph: &ClosureGraph,
    excluded: &BTreeSet<NodeId>,
    referrers: &[Vec<NodeId>],
    sizes: &[u64],
    budget: usize,
) -> Vec<(NodeId, Group)> {
    let top_level: Vec<NodeId> = (0..graph.len())
        .filter(|&n| !excluded.contains(&n) && referrers[n].iter().all(|r| excluded.contains(r)))
        .collect();
    let others = graph.len() - excluded.len() - top_level.len();
    let share = budget.saturating_sub(others.min(budget / 2)).max(1);
    let total: u64 = top_level.iter().map(|&n| sizes[n]).sum();
    let mut by_size = top_level;
    by_size.sort_by(|&a, &b| {
        let (pa, pb) = (&graph.node(a).path, &graph.node(b).path);
        sizes[b]
            .cmp(&sizes[a])
            .then_with(|| pa.name().cmp(pb.name()))
            .then_with(|| pa.cmp(pb))
    });
    let fits = by_size.len() <= share;
    let alone_cap = if fits { share } else { share / 2 };
    let buckets = (share - alone_cap).max(1);
    by_size
        .iter()
        .enumerate()
        .map(|(rank, &node)| {
            let large = u128::from(sizes[node]) * share as u128 >= u128::from(total);
            let group = if fits || (large && rank < alone_cap) {
                vec![TOP, node]
            } else {
                vec![
                    TOP_BUCKET,
                    name_bucket(graph.node(node).path.name(), buckets),
                ]
            };
            (node, group)
        })
        .collect()
}

/// Why the paths of `group` share a layer.
fn reason(graph: &ClosureGraph, group: &Group) -> String {
    let name = |n: NodeId| graph.node(n).path.name().to_owned();
    match group.as_slice() {
        [OWN, primary] => format!("{}, one of the largest paths, alone", name(*primary)),
        [TOP, node] => format!("{}, a top-level package, alone", name(*node)),
        [TOP_BUCKET, bucket] => format!("smaller top-level packages, name bucket {bucket}"),
        [UNCLAIMED, bucket] => format!("paths no large path needs, name bucket {bucket}"),
        [] => "paths no large path needs".to_owned(),
        primaries => {
            const SHOWN: usize = 6;
            let mut names: Vec<String> = primaries.iter().map(|&p| name(p)).collect();
            names.sort();
            if names.len() > SHOWN {
                let more = names.len() - SHOWN;
                names.truncate(SHOWN);
                names.push(format!("{more} more"));
            }
            format!("needed by {} and by no larger path", names.join(", "))
        }
    }
}

/// The layer a path goes to: its group, or for an unclaimed path its
/// unclaimed layer.
fn layer_key<'a>(group: &'a Group, unclaimed: &'a Group) -> &'a Group {
    if group.is_empty() { unclaimed } else { group }
}

/// Whether a group is a primary's own or a top-level path's, which no later
/// primary changes.
fn is_fixed(group: &Group) -> bool {
    matches!(group.first(), Some(&OWN) | Some(&TOP) | Some(&TOP_BUCKET))
}

/// A bucket for `name`, from a hash of it (FNV-1a), so that a path keeps its
/// bucket whatever else is in the image.
fn name_bucket(name: &str, buckets: usize) -> NodeId {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % buckets as u64) as NodeId
}

fn nar_sizes(graph: &ClosureGraph) -> Result<Vec<u64>> {
    graph
        .nodes()
        .iter()
        .map(|n| n.nar_size)
        .collect::<Option<Vec<u64>>>()
        .map_or_else(
            || {
                bail!(
                    "auto layering needs the NAR size of every path, and the closure has none (the legacy exportReferencesGraph format lacks them); give a closure with sizes or use layering = \"popularity\""
                )
            },
            Ok,
        )
}

/// The nodes reachable from `start` along `next`, without `start`.
fn reachable<'a>(start: NodeId, next: impl Fn(NodeId) -> &'a Vec<NodeId>) -> Vec<NodeId> {
    let mut seen = BTreeSet::from([start]);
    let mut stack = vec![start];
    while let Some(node) = stack.pop() {
        for &n in next(node) {
            if seen.insert(n) {
                stack.push(n);
            }
        }
    }
    seen.remove(&start);
    seen.into_iter().collect()
}

/// The NAR size of the closure of `paths`.
fn closure_size(graph: &ClosureGraph, paths: &[NodeId], sizes: &[u64]) -> u64 {
    graph
        .closure_of(paths.iter().copied())
        .into_iter()
        .map(|n| sizes[n])
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::closure::PathRecord;
    use crate::test_support::store_path;

    /// A graph from `(name, size, references)`.
    fn sized_graph(nodes: &[(&str, u64, &[&str])]) -> ClosureGraph {
        let records = nodes
            .iter()
            .map(|(name, size, refs)| PathRecord {
                path: store_path(name),
                nar_size: Some(*size),
                references: refs.iter().map(|r| store_path(r)).collect(),
            })
            .collect();
        ClosureGraph::from_records(records, "/nix/store").unwrap()
    }

    /// Each layer's path names, sorted.
    fn named(graph: &ClosureGraph, layers: &[StoreLayer]) -> Vec<Vec<String>> {
        layers
            .iter()
            .map(|l| {
                let mut names: Vec<String> = l
                    .paths
                    .iter()
                    .map(|&n| graph.node(n).path.name().to_owned())
                    .collect();
                names.sort();
                names
            })
            .collect()
    }

    /// app -> (python -> libc), (app-lib -> libc); tool -> (python).
    fn example() -> ClosureGraph {
        sized_graph(&[
            ("env", 1, &["app", "tool"]),
            ("app", 50, &["python", "app-lib"]),
            ("tool", 5, &["python"]),
            ("python", 100, &["libc"]),
            ("app-lib", 20, &["libc"]),
            ("libc", 30, &[]),
        ])
    }

    #[test]
    fn largest_paths_become_layers_with_what_only_they_need() {
        let g = example();
        let got = named(&g, &layers(&g, &BTreeSet::new(), 10).unwrap());
        // With room for every path, each becomes a primary of its own:
        // python first (it claims libc), then app (it claims app-lib), then
        // libc, which leaves python's group for its own.
        assert!(got.contains(&vec!["python".to_owned()]), "{got:?}");
        assert!(got.contains(&vec!["libc".to_owned()]), "{got:?}");
        assert!(got.contains(&vec!["app".to_owned()]), "{got:?}");
        assert!(got.contains(&vec!["app-lib".to_owned()]), "{got:?}");
        assert_eq!(
            got.first().unwrap(),
            &vec!["libc".to_owned()],
            "smallest closure first"
        );
        assert_eq!(got.concat().len(), g.len());
    }

    #[test]
    fn a_small_budget_keeps_the_largest_paths_apart() {
        let g = example();
        let got = named(&g, &layers(&g, &BTreeSet::new(), 2).unwrap());
        // Python (the largest path) and libc, which it needs, in one layer;
        // everything else in the other.
        assert_eq!(got.len(), 2);
        assert!(
            got.contains(&vec!["libc".to_owned(), "python".to_owned()]),
            "{got:?}"
        );
    }

    #[test]
    fn budget_one_is_a_single_layer() {
        let g = example();
        assert_eq!(layers(&g, &BTreeSet::new(), 1).unwrap().len(), 1);
    }

    #[test]
    fn equal_sizes_go_by_name() {
        let g = sized_graph(&[("b", 10, &[]), ("a", 10, &[]), ("c", 10, &[])]);
        let got = named(&g, &layers(&g, &BTreeSet::new(), 2).unwrap());
        // `a` is the first primary; `b` and `c` stay in the unclaimed group.
        assert!(got.contains(&vec!["a".to_owned()]), "{got:?}");
    }

    #[test]
    fn closures_without_sizes_are_refused() {
        let records = vec![PathRecord {
            path: store_path("x"),
            nar_size: None,
            references: vec![],
        }];
        let g = ClosureGraph::from_records(records, "/nix/store").unwrap();
        let err = format!("{:#}", layers(&g, &BTreeSet::new(), 5).unwrap_err());
        assert!(err.contains("popularity"), "{err}");
    }

    const STABLE: Options = Options::STABLE;

    #[test]
    fn stable_keeps_top_level_packages_and_primaries_apart() {
        // env is the image's helper: app and tool are its top-level packages.
        let g = example();
        let env = (0..g.len())
            .find(|&i| g.node(i).path.name() == "env")
            .unwrap();
        let got = named(
            &g,
            &layers_with(&g, &BTreeSet::from([env]), 10, STABLE).unwrap(),
        );
        for alone in ["app", "tool", "python"] {
            assert!(got.contains(&vec![alone.to_owned()]), "{alone}: {got:?}");
        }
        assert_eq!(got.concat().len(), g.len() - 1);
    }

    #[test]
    fn stable_top_level_layers_do_not_move_when_a_package_is_added() {
        // Many small top-level packages: more than half the budget, so they
        // share layers by name, and a new one joins a layer of its bucket.
        let mut nodes: Vec<(String, u64, Vec<&str>)> = (0..30)
            .map(|i| (format!("tool{i}"), 1000 + i, vec!["libc"]))
            .collect();
        nodes.push(("libc".to_owned(), 50_000, vec![]));
        let build = |extra: bool| {
            let mut all = nodes.clone();
            if extra {
                all.push(("new-tool".to_owned(), 1500, vec!["libc"]));
            }
            let tools: Vec<String> = all
                .iter()
                .filter(|n| n.0 != "libc")
                .map(|n| n.0.clone())
                .collect();
            let refs: Vec<&str> = tools.iter().map(String::as_str).collect();
            all.push(("helper".to_owned(), 1, refs));
            let borrowed: Vec<(&str, u64, &[&str])> = all
                .iter()
                .map(|(n, s, r)| (n.as_str(), *s, r.as_slice()))
                .collect();
            let g = sized_graph(&borrowed);
            let helper = (0..g.len())
                .find(|&i| g.node(i).path.name() == "helper")
                .unwrap();
            named(
                &g,
                &layers_with(&g, &BTreeSet::from([helper]), 20, STABLE).unwrap(),
            )
        };
        let before: BTreeSet<Vec<String>> = build(false).into_iter().collect();
        let after = build(true);
        let changed: Vec<&Vec<String>> = after.iter().filter(|l| !before.contains(*l)).collect();
        assert_eq!(
            changed.len(),
            1,
            "only the new tool's layer differs: {changed:?}"
        );
        assert!(changed[0].contains(&"new-tool".to_owned()));
    }
}
