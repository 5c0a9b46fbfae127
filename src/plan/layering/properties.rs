//! Properties every strategy keeps, with and without an earlier plan, on
//! closures chosen at random and on very deep and very wide ones.

use std::collections::BTreeSet;

use crate::input::closure::{ClosureGraph, NodeId};
use crate::input::closure_fixtures::{graph as test_graph, node_named};
use crate::input::spec::LayeringStrategy;
use crate::plan::layering::previous::{PreviousLayers, store_layers_keeping};
use crate::plan::layering::store_layer::layer_names;
use crate::plan::layering::strategy::store_layers;

const ALL: [LayeringStrategy; 4] = [
    LayeringStrategy::Stable,
    LayeringStrategy::Auto,
    LayeringStrategy::Popularity,
    LayeringStrategy::Single,
];

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
    use crate::format::store_path::test_store_path as store_path;
    use crate::input::closure::PathRecord;
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
        let mut previous = PreviousLayers::default();
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

mod random_closures {
    use super::*;
    use crate::format::store_path::test_store_path as store_path;
    use crate::input::closure::PathRecord;
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
        let mut previous = PreviousLayers::default();
        if !old.is_empty() {
            for layer in layered_names(old, LayeringStrategy::Stable, &BTreeSet::new(), old_budget)
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
