//! Splitting a closure's store paths into layers.

pub mod auto;
mod bitset;
pub mod popularity;
pub mod previous;
mod runs;
pub mod stable;

use std::collections::BTreeSet;

use anyhow::{Result, bail};

use crate::closure::{ClosureGraph, NodeId};
use crate::spec::LayeringStrategy;

/// A layer of store paths, and why they are together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreLayer {
    /// Ascending.
    pub paths: Vec<NodeId>,
    pub reason: String,
}

/// Groups the store paths of `graph`, except `excluded`, into at most
/// `budget` layers, bottom layer first.
///
/// Excluded paths (the image's own helper files, paths in explicit layers)
/// still take part in ordering, as they do in nixpkgs, but land in no layer.
pub fn store_layers(
    graph: &ClosureGraph,
    strategy: LayeringStrategy,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
) -> Result<Vec<StoreLayer>> {
    assert!(
        budget >= 1,
        "the layer budget is checked when the spec is read"
    );
    let layers = match strategy {
        LayeringStrategy::Popularity => {
            let order: Vec<NodeId> = popularity::order(graph)?
                .into_iter()
                .filter(|id| !excluded.contains(id))
                .collect();
            split_by_budget(order, budget)
        }
        LayeringStrategy::Stable => stable::layers(graph, excluded, budget)?,
        LayeringStrategy::Auto => auto::layers(graph, excluded, budget)?,
        LayeringStrategy::Single => vec![StoreLayer {
            paths: (0..graph.len())
                .filter(|id| !excluded.contains(id))
                .collect(),
            reason: "every store path (single-layer image)".to_owned(),
        }],
    };
    Ok(settled(layers))
}

/// As [`store_layers`], keeping the layers of `previous`, an earlier plan of
/// the image, and laying out only what it lacks by `strategy` (see
/// [`previous`]).
pub fn store_layers_keeping(
    graph: &ClosureGraph,
    strategy: LayeringStrategy,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
    previous: &previous::PreviousLayers,
) -> Result<Vec<StoreLayer>> {
    Ok(settled(previous::layers(
        graph, strategy, excluded, budget, previous,
    )?))
}

/// `layers` without empty ones, each with its paths in node order, as a plan
/// lists them.
fn settled(mut layers: Vec<StoreLayer>) -> Vec<StoreLayer> {
    layers.retain(|layer| !layer.paths.is_empty());
    for layer in &mut layers {
        layer.paths.sort_unstable();
    }
    layers
}

/// A store path name without its version: after the first, the
/// dash-separated parts that start with a digit are left out
/// (`glibc-2.40-66-bin` → `glibc-bin`), so that a package's new version is
/// known as the same package.
fn version_free(name: &str) -> String {
    let mut parts = name.split('-');
    let first = parts.next().unwrap_or_default();
    parts
        .filter(|part| !part.starts_with(|c: char| c.is_ascii_digit()))
        .fold(first.to_owned(), |key, part| key + "-" + part)
}

/// Every path's NAR size, which the size-aware strategies need.
fn nar_sizes(graph: &ClosureGraph) -> Result<Vec<u64>> {
    let Some(sizes) = graph.nodes().iter().map(|n| n.nar_size).collect() else {
        bail!(
            "stable and auto layering need the NAR size of every path, and the closure has none (the legacy exportReferencesGraph format lacks them); give a closure with sizes or use layering = \"popularity\""
        )
    };
    Ok(sizes)
}

/// The NAR size of the closure of `paths`, by which layers are ordered.
fn closure_size(graph: &ClosureGraph, paths: &[NodeId], sizes: &[u64]) -> u64 {
    graph
        .closure_of(paths.iter().copied())
        .into_iter()
        .map(|n| sizes[n])
        .sum()
}

/// One layer per path while the budget lasts; when there are more paths than
/// layers, the first `budget - 1` get a layer each and the rest share the last.
fn split_by_budget(order: Vec<NodeId>, budget: usize) -> Vec<StoreLayer> {
    let singles = if order.len() <= budget {
        order.len()
    } else {
        budget - 1
    };
    let mut rest = order;
    let shared = rest.split_off(singles);
    let mut layers: Vec<StoreLayer> = rest
        .into_iter()
        .enumerate()
        .map(|(rank, id)| StoreLayer {
            paths: vec![id],
            reason: format!("popularity rank {}", rank + 1),
        })
        .collect();
    if !shared.is_empty() {
        layers.push(StoreLayer {
            paths: shared,
            reason: format!(
                "the less popular paths (rank {} and below), sharing the last layer",
                singles + 1
            ),
        });
    }
    layers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{graph as test_graph, node_named};

    const ALL: [LayeringStrategy; 4] = [
        LayeringStrategy::Stable,
        LayeringStrategy::Auto,
        LayeringStrategy::Popularity,
        LayeringStrategy::Single,
    ];

    #[test]
    fn version_free_names() {
        assert_eq!(version_free("glibc-2.40-66-bin"), "glibc-bin");
        assert_eq!(version_free("hello-2.12.1"), "hello");
        assert_eq!(
            version_free("python3.12-requests-2.31.0"),
            "python3.12-requests"
        );
        assert_eq!(version_free("7zz-24.08"), "7zz");
        assert_eq!(version_free("source"), "source");
    }

    #[test]
    fn budget_split() {
        let paths = |order: Vec<NodeId>, budget| -> Vec<Vec<NodeId>> {
            split_by_budget(order, budget)
                .into_iter()
                .map(|l| l.paths)
                .collect()
        };
        assert_eq!(paths(vec![3, 1, 2], 3), vec![vec![3], vec![1], vec![2]]);
        assert_eq!(
            paths(vec![3, 1, 2, 0], 3),
            vec![vec![3], vec![1], vec![2, 0]]
        );
        assert_eq!(paths(vec![3, 1, 2], 1), vec![vec![3, 1, 2]]);
        assert!(paths(vec![], 4).is_empty());
        let shared = &split_by_budget(vec![3, 1, 2, 0], 3)[2];
        assert_eq!(
            shared.reason,
            "the less popular paths (rank 3 and below), sharing the last layer"
        );
    }

    #[test]
    fn excluded_paths_land_nowhere_and_every_other_path_once() {
        let g = test_graph(&[
            ("helper", &["app", "lib"]),
            ("app", &["lib", "libc"]),
            ("lib", &["libc"]),
            ("libc", &[]),
        ]);
        let helper = node_named(&g, "helper");
        let excluded = BTreeSet::from([helper]);
        for strategy in ALL {
            for budget in 1..5 {
                let layers = store_layers(&g, strategy, &excluded, budget).unwrap();
                assert!(layers.len() <= budget);
                let mut all: Vec<NodeId> = layers.iter().flat_map(|l| l.paths.clone()).collect();
                all.sort();
                let mut expected: Vec<NodeId> = (0..g.len()).filter(|&i| i != helper).collect();
                expected.sort();
                assert_eq!(all, expected, "{strategy:?} budget {budget}");
            }
        }
        let layers = store_layers(&g, LayeringStrategy::Popularity, &excluded, 2).unwrap();
        assert_eq!(
            g.node(layers[0].paths[0]).path.name(),
            "libc",
            "most popular first"
        );
    }

    #[test]
    fn deep_and_wide_closures_of_ten_thousand_paths() {
        use crate::closure::PathRecord;
        use crate::test_support::store_path;
        let record = |name: String, references: Vec<String>| PathRecord {
            nar_hash: None,
            path: store_path(&name),
            nar_size: Some(4096),
            references: references.iter().map(|r| store_path(r)).collect(),
        };
        // A chain, each path referring to the next, and a fan: one root
        // referring to 10 000 paths that all refer to one library.
        let deep: Vec<PathRecord> = (0..10_000)
            .map(|i| {
                record(
                    format!("p{i}"),
                    if i < 9_999 {
                        vec![format!("p{}", i + 1)]
                    } else {
                        vec![]
                    },
                )
            })
            .collect();
        let mut wide: Vec<PathRecord> = (0..10_000)
            .map(|i| record(format!("w{i}"), vec!["lib".to_owned()]))
            .collect();
        wide.push(record("lib".to_owned(), vec![]));
        wide.push(record(
            "root".to_owned(),
            (0..10_000).map(|i| format!("w{i}")).collect(),
        ));
        for records in [deep, wide] {
            let g = ClosureGraph::from_records(records, "/nix/store").unwrap();
            for strategy in ALL {
                let layers = store_layers(&g, strategy, &BTreeSet::new(), 99).unwrap();
                assert!(layers.len() <= 99, "{strategy:?}");
                let paths: usize = layers.iter().map(|l| l.paths.len()).sum();
                assert_eq!(paths, g.len(), "{strategy:?}");
            }
            // Keeping a plan of half the paths, in twice the layers allowed.
            let mut previous = previous::PreviousLayers::default();
            for chunk in (0..g.len() / 2).collect::<Vec<_>>().chunks(g.len() / 400) {
                let names = chunk
                    .iter()
                    .map(|&n| g.node(n).path.name().to_owned())
                    .collect();
                previous.push(names, "");
            }
            let layers = store_layers_keeping(
                &g,
                LayeringStrategy::Stable,
                &BTreeSet::new(),
                99,
                &previous,
            )
            .unwrap();
            assert!(layers.len() <= 99);
            let paths: usize = layers.iter().map(|l| l.paths.len()).sum();
            assert_eq!(paths, g.len());
        }
    }

    mod properties {
        use super::*;
        use crate::closure::PathRecord;
        use crate::test_support::{layer_names, store_path};
        use proptest::prelude::*;

        /// A random closure: node i refers to each node after it with
        /// probability 0.15 (so there is no cycle), with random NAR sizes.
        fn closures() -> impl Strategy<Value = Vec<PathRecord>> {
            (1usize..40).prop_flat_map(|n| {
                (
                    proptest::collection::vec(
                        proptest::collection::vec(proptest::bool::weighted(0.15), n),
                        n,
                    ),
                    proptest::collection::vec(0u64..1_000_000, n),
                )
                    .prop_map(move |(edges, sizes)| {
                        (0..n)
                            .map(|i| PathRecord {
                                nar_hash: None,
                                path: store_path(&format!("p{i}")),
                                nar_size: Some(sizes[i]),
                                references: (i + 1..n)
                                    .filter(|&j| edges[i][j])
                                    .map(|j| store_path(&format!("p{j}")))
                                    .collect(),
                            })
                            .collect()
                    })
            })
        }

        fn layered_names(
            records: Vec<PathRecord>,
            strategy: LayeringStrategy,
            excluded_names: &BTreeSet<String>,
            budget: usize,
        ) -> Vec<Vec<String>> {
            let g = ClosureGraph::from_records(records, "/nix/store").unwrap();
            let excluded = (0..g.len())
                .filter(|&i| excluded_names.contains(g.node(i).path.name()))
                .collect();
            layer_names(&g, &store_layers(&g, strategy, &excluded, budget).unwrap())
        }

        /// The names `p{i}` of the paths `i` that `every` divides.
        fn every_nth(count: usize, every: usize) -> BTreeSet<String> {
            (0..count)
                .filter(|i| i % every == 0)
                .map(|i| format!("p{i}"))
                .collect()
        }

        /// `records` reversed, then rotated by `rotate`.
        fn reordered(records: &[PathRecord], rotate: usize) -> Vec<PathRecord> {
            let mut shuffled = records.to_vec();
            shuffled.reverse();
            shuffled.rotate_left(rotate % records.len());
            shuffled
        }

        /// `layers` are at most `budget`, none empty, and hold each of the
        /// `count` paths but `excluded` exactly once.
        fn check_partition(
            layers: &[Vec<String>],
            budget: usize,
            count: usize,
            excluded: &BTreeSet<String>,
        ) -> Result<(), TestCaseError> {
            prop_assert!(layers.len() <= budget);
            prop_assert!(layers.iter().all(|l| !l.is_empty()));
            let mut all: Vec<String> = layers.concat();
            all.sort();
            let mut expected: Vec<String> = (0..count)
                .map(|i| format!("p{i}"))
                .filter(|n| !excluded.contains(n))
                .collect();
            expected.sort();
            prop_assert_eq!(all, expected);
            Ok(())
        }

        /// `records` layered with `budget`, keeping a plan of the same
        /// paths but those in `unplanned`, layered with `old_budget`.
        fn kept_names(
            records: Vec<PathRecord>,
            unplanned: &BTreeSet<String>,
            old_budget: usize,
            budget: usize,
        ) -> Vec<Vec<String>> {
            let old: Vec<PathRecord> = records
                .iter()
                .filter(|r| !unplanned.contains(&r.path[44..]))
                .map(|r| PathRecord {
                    nar_hash: None,
                    references: r
                        .references
                        .iter()
                        .filter(|p| !unplanned.contains(&p[44..]))
                        .cloned()
                        .collect(),
                    ..r.clone()
                })
                .collect();
            let mut previous = previous::PreviousLayers::default();
            if !old.is_empty() {
                for layer in
                    layered_names(old, LayeringStrategy::Stable, &BTreeSet::new(), old_budget)
                {
                    previous.push(layer, "");
                }
            }
            let g = ClosureGraph::from_records(records, "/nix/store").unwrap();
            let layers = store_layers_keeping(
                &g,
                LayeringStrategy::Stable,
                &BTreeSet::new(),
                budget,
                &previous,
            )
            .unwrap();
            layer_names(&g, &layers)
        }

        proptest! {
            #[test]
            fn a_kept_plan_places_every_path_once_within_budget_whatever_the_order(
                records in closures(),
                old_budget in 1usize..12,
                budget in 1usize..12,
                unplanned_every in 2usize..6,
                rotate in 0usize..40,
            ) {
                let unplanned = every_nth(records.len(), unplanned_every);
                let layers = kept_names(records.clone(), &unplanned, old_budget, budget);
                check_partition(&layers, budget, records.len(), &BTreeSet::new())?;
                let shuffled = reordered(&records, rotate);
                prop_assert_eq!(&layers, &kept_names(shuffled, &unplanned, old_budget, budget));
            }

            #[test]
            fn every_path_in_exactly_one_layer_within_budget_whatever_the_order(
                records in closures(),
                budget in 1usize..12,
                exclude_every in 2usize..6,
                rotate in 0usize..40,
            ) {
                let excluded = every_nth(records.len(), exclude_every);
                let shuffled = reordered(&records, rotate);
                for strategy in ALL {
                    let layers = layered_names(records.clone(), strategy, &excluded, budget);
                    check_partition(&layers, budget, records.len(), &excluded)?;
                    prop_assert_eq!(&layers, &layered_names(shuffled.clone(), strategy, &excluded, budget));
                }
            }
        }
    }
}
