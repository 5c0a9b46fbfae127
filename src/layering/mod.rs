//! Splitting a closure's store paths into layers.

pub mod popularity;

use std::collections::BTreeSet;

use anyhow::Result;

use crate::closure::{ClosureGraph, NodeId};
use crate::spec::LayeringStrategy;

/// Groups the store paths of `graph`, except `excluded`, into at most
/// `budget` layers, bottom layer first. Within a layer paths are ascending.
///
/// Excluded paths (the image's own helper files) still take part in ordering,
/// as they do in nixpkgs, but land in no layer.
pub fn store_layers(
    graph: &ClosureGraph,
    strategy: LayeringStrategy,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
) -> Result<Vec<Vec<NodeId>>> {
    assert!(
        budget >= 1,
        "the layer budget is checked when the spec is read"
    );
    let mut layers = match strategy {
        LayeringStrategy::Popularity => {
            let order: Vec<NodeId> = popularity::order(graph)?
                .into_iter()
                .filter(|id| !excluded.contains(id))
                .collect();
            split_by_budget(order, budget)
        }
        LayeringStrategy::Single => {
            vec![
                (0..graph.len())
                    .filter(|id| !excluded.contains(id))
                    .collect(),
            ]
        }
    };
    layers.retain(|layer| !layer.is_empty());
    for layer in &mut layers {
        layer.sort_unstable();
    }
    Ok(layers)
}

/// One layer per path while the budget lasts; when there are more paths than
/// layers, the first `budget - 1` get a layer each and the rest share the last.
fn split_by_budget(order: Vec<NodeId>, budget: usize) -> Vec<Vec<NodeId>> {
    if order.len() <= budget {
        return order.into_iter().map(|id| vec![id]).collect();
    }
    let mut rest = order;
    let shared = rest.split_off(budget - 1);
    let mut layers: Vec<Vec<NodeId>> = rest.into_iter().map(|id| vec![id]).collect();
    layers.push(shared);
    layers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::graph as test_graph;

    #[test]
    fn budget_split() {
        assert_eq!(
            split_by_budget(vec![3, 1, 2], 3),
            vec![vec![3], vec![1], vec![2]]
        );
        assert_eq!(
            split_by_budget(vec![3, 1, 2, 0], 3),
            vec![vec![3], vec![1], vec![2, 0]]
        );
        assert_eq!(split_by_budget(vec![3, 1, 2], 1), vec![vec![3, 1, 2]]);
        assert!(split_by_budget(vec![], 4).is_empty());
    }

    #[test]
    fn excluded_paths_land_nowhere_and_every_other_path_once() {
        let g = test_graph(&[
            ("helper", &["app", "lib"]),
            ("app", &["lib", "libc"]),
            ("lib", &["libc"]),
            ("libc", &[]),
        ]);
        let helper = (0..g.len())
            .find(|&i| g.node(i).path.name() == "helper")
            .unwrap();
        let excluded = BTreeSet::from([helper]);
        for strategy in [LayeringStrategy::Popularity, LayeringStrategy::Single] {
            for budget in 1..5 {
                let layers = store_layers(&g, strategy, &excluded, budget).unwrap();
                assert!(layers.len() <= budget);
                let mut all: Vec<NodeId> = layers.concat();
                all.sort();
                let mut expected: Vec<NodeId> = (0..g.len()).filter(|&i| i != helper).collect();
                expected.sort();
                assert_eq!(all, expected, "{strategy:?} budget {budget}");
            }
        }
        let layers = store_layers(&g, LayeringStrategy::Popularity, &excluded, 2).unwrap();
        assert_eq!(
            g.node(layers[0][0]).path.name(),
            "libc",
            "most popular first"
        );
    }
}
