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

use anyhow::Result;

use crate::input::closure::{ClosureGraph, NodeId};
use crate::plan::layering::store_layer::{StoreLayer, closure_size, nar_sizes};

/// Which layer a path goes to: the primaries that claim it, ascending (none
/// for an unclaimed path).
type Group = Vec<NodeId>;

pub fn layers(
    graph: &ClosureGraph,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
) -> Result<Vec<StoreLayer>> {
    let sizes = nar_sizes(graph)?;
    let referrers = graph.referrers();
    let mut groups: Vec<Group> = vec![Vec::new(); graph.len()];
    let mut candidates: Vec<NodeId> = (0..graph.len()).filter(|i| !excluded.contains(i)).collect();
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
        let mut changes: Vec<(NodeId, Group)> = vec![(primary, vec![primary])];
        for &dep in &deps {
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
            .map(|n| changed.get(&n).copied().unwrap_or(&groups[n]))
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
        by_group.entry(groups[node].clone()).or_default().push(node);
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

/// Why the paths of `group` share a layer.
fn reason(graph: &ClosureGraph, group: &Group) -> String {
    let name = |n: NodeId| graph.node(n).path.name().to_owned();
    match group.as_slice() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::store_path::test_store_path as store_path;
    use crate::input::closure::PathRecord;
    use crate::input::closure_fixtures::sized_graph;
    use crate::plan::layering::store_layer::layer_names as named;

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
            nar_hash: None,
            path: store_path("x"),
            nar_size: None,
            references: vec![],
        }];
        let g = ClosureGraph::from_records(records, "/nix/store").unwrap();
        let err = format!("{:#}", layers(&g, &BTreeSet::new(), 5).unwrap_err());
        assert!(err.contains("popularity"), "{err}");
    }
}
