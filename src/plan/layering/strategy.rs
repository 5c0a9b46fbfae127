//! Laying out a closure's store paths by one strategy.

use std::collections::BTreeSet;

use anyhow::Result;

use crate::input::closure::{ClosureGraph, NodeId};
use crate::input::spec::LayeringStrategy;
use crate::plan::layering::store_layer::{StoreLayer, settled};
use crate::plan::layering::{auto, popularity, stable};

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
}
