//! nixpkgs' `referencesByPopularity` order.
//!
//! With N(v) the number of distinct paths from a root to v (N(root) = 1),
//! the popularity of x is the sum of N(v) over x and all its ancestors.
//! Paths are ordered by popularity, most popular first; ties by the path with
//! its first `-`-separated field moved to the end (`name-…-/nix/store/hash`),
//! ascending, exactly as nixpkgs breaks them.
//!
//! Counts grow exponentially with the depth of a graph full of diamonds, so
//! they are computed in u128 and, should that overflow, again in big integers.

use std::cmp::Reverse;

use anyhow::{Result, bail};
use num_bigint::BigUint;

use crate::input::closure::{ClosureGraph, NodeId};
use crate::plan::layering::bitset::BitSet;

/// Every node of `graph`, most popular first.
pub fn order(graph: &ClosureGraph) -> Result<Vec<NodeId>> {
    let topo = topological_order(graph)?;
    let parents = graph.referrers();
    let ancestors = ancestor_sets(graph.len(), &topo, &parents);
    let mut ids: Vec<NodeId> = (0..graph.len()).collect();
    let names: Vec<String> = graph
        .nodes()
        .iter()
        .map(|n| tie_break_name(n.path.as_str()))
        .collect();
    match popularity::<u128>(&topo, &parents, &ancestors) {
        Some(pop) => {
            ids.sort_by(|&a, &b| (Reverse(&pop[a]), &names[a]).cmp(&(Reverse(&pop[b]), &names[b])))
        }
        None => {
            let pop = popularity::<BigUint>(&topo, &parents, &ancestors)
                .expect("big integers do not overflow");
            ids.sort_by(|&a, &b| (Reverse(&pop[a]), &names[a]).cmp(&(Reverse(&pop[b]), &names[b])));
        }
    }
    Ok(ids)
}

/// `/nix/store/hash-name-1.0` becomes `name-1.0-/nix/store/hash`.
fn tie_break_name(path: &str) -> String {
    match path.split_once('-') {
        Some((first, rest)) => format!("{rest}-{first}"),
        None => path.to_owned(),
    }
}

trait Count: Clone + Ord {
    fn zero() -> Self;
    fn one() -> Self;
    fn checked_add(&self, other: &Self) -> Option<Self>;
}

impl Count for u128 {
    fn zero() -> Self {
        0
    }
    fn one() -> Self {
        1
    }
    fn checked_add(&self, other: &Self) -> Option<Self> {
        u128::checked_add(*self, *other)
    }
}

impl Count for BigUint {
    fn zero() -> Self {
        BigUint::ZERO
    }
    fn one() -> Self {
        BigUint::from(1u8)
    }
    fn checked_add(&self, other: &Self) -> Option<Self> {
        Some(self + other)
    }
}

fn popularity<C: Count>(
    topo: &[NodeId],
    parents: &[Vec<NodeId>],
    ancestors: &[BitSet],
) -> Option<Vec<C>> {
    let n = parents.len();
    let mut paths_to = vec![C::zero(); n];
    for &v in topo {
        paths_to[v] = if parents[v].is_empty() {
            C::one()
        } else {
            parents[v]
                .iter()
                .try_fold(C::zero(), |sum, &p| sum.checked_add(&paths_to[p]))?
        };
    }
    (0..n)
        .map(|x| {
            ancestors[x]
                .iter()
                .try_fold(paths_to[x].clone(), |sum, a| sum.checked_add(&paths_to[a]))
        })
        .collect()
}

/// Referrers before the paths they refer to (Kahn's algorithm, smallest id
/// first, so the order is fixed). A cycle is an error: Nix closures have none.
pub(crate) fn topological_order(graph: &ClosureGraph) -> Result<Vec<NodeId>> {
    let mut referrers = vec![0usize; graph.len()];
    for node in graph.nodes() {
        for &r in &node.references {
            referrers[r] += 1;
        }
    }
    let mut ready: std::collections::BTreeSet<NodeId> =
        (0..graph.len()).filter(|&i| referrers[i] == 0).collect();
    let mut order = Vec::with_capacity(graph.len());
    while let Some(id) = ready.pop_first() {
        order.push(id);
        for &r in &graph.node(id).references {
            referrers[r] -= 1;
            if referrers[r] == 0 {
                ready.insert(r);
            }
        }
    }
    if order.len() != graph.len() {
        let stuck = (0..graph.len()).find(|&i| referrers[i] > 0).unwrap_or(0);
        bail!(
            "the closure has a reference cycle through {}; Nix closures cannot",
            graph.node(stuck).path
        );
    }
    Ok(order)
}

/// For each node, the set of nodes from which it can be reached.
fn ancestor_sets(n: usize, topo: &[NodeId], parents: &[Vec<NodeId>]) -> Vec<BitSet> {
    let mut sets = vec![BitSet::new(0); n];
    for &v in topo {
        let mut set = BitSet::new(n);
        for &p in &parents[v] {
            set.union_with(&sets[p]);
            set.insert(p);
        }
        sets[v] = set;
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::store_path::test_store_path;
    use crate::input::closure::PathRecord;
    use crate::input::closure_fixtures::{graph, owned_graph};

    fn names(graph: &ClosureGraph, order: &[NodeId]) -> Vec<String> {
        order
            .iter()
            .map(|&i| graph.node(i).path.name().to_owned())
            .collect()
    }

    #[test]
    fn nixpkgs_published_example_tree() {
        // The worked example in nixpkgs' closure-graph documentation, whose
        // published popularities are A 1, B 2, C 3, D 4, E 5, F 9, G 2.
        let g = graph(&[
            ("a", &["b", "g"]),
            ("b", &["c", "e"]),
            ("c", &["d", "e"]),
            ("d", &["f"]),
            ("e", &["f"]),
            ("f", &[]),
            ("g", &[]),
        ]);
        assert_eq!(
            names(&g, &order(&g).unwrap()),
            ["f", "e", "d", "c", "b", "g", "a"]
        );
    }

    #[test]
    fn nixpkgs_published_popularity_counts() {
        // nixpkgs' own test: foo -> bar, baz; bar -> baz; baz -> tux gives
        // foo 1, bar 2, baz 4, tux 6.
        let g = graph(&[
            ("foo", &["bar", "baz"]),
            ("bar", &["baz"]),
            ("baz", &["tux"]),
            ("tux", &[]),
        ]);
        let topo = topological_order(&g).unwrap();
        let parents = g.referrers();
        let ancestors = ancestor_sets(g.len(), &topo, &parents);
        let pop = popularity::<u128>(&topo, &parents, &ancestors).unwrap();
        let by_name: Vec<(String, u128)> = (0..g.len())
            .map(|i| (g.node(i).path.name().to_owned(), pop[i]))
            .collect();
        for (name, expected) in [("foo", 1), ("bar", 2), ("baz", 4), ("tux", 6)] {
            assert!(
                by_name.contains(&(name.to_owned(), expected)),
                "{name}: {by_name:?}"
            );
        }
        assert_eq!(names(&g, &order(&g).unwrap()), ["tux", "baz", "bar", "foo"]);
    }

    #[test]
    fn chain_and_diamond_follow_the_formula() {
        let g = graph(&[("a", &["b", "c"]), ("b", &["d"]), ("c", &["d"]), ("d", &[])]);
        // pop: a 1, b 2, c 2, d 5.
        assert_eq!(names(&g, &order(&g).unwrap()), ["d", "b", "c", "a"]);
    }

    #[test]
    fn ties_sort_by_name_then_hash() {
        assert_eq!(
            tie_break_name("/nix/store/abc-hello-2.0"),
            "hello-2.0-/nix/store/abc"
        );
        let g = graph(&[("z", &[]), ("m", &[]), ("a", &[])]);
        assert_eq!(names(&g, &order(&g).unwrap()), ["a", "m", "z"]);
    }

    #[test]
    fn deep_diamonds_overflow_into_big_integers() {
        // 200 stacked diamonds: 2^200 paths reach the bottom.
        let mut edges: Vec<(String, Vec<String>)> = Vec::new();
        for level in 0..200 {
            let (top, next) = (format!("t{level}"), format!("t{}", level + 1));
            let (l, r) = (format!("l{level}"), format!("r{level}"));
            edges.push((top, vec![l.clone(), r.clone()]));
            edges.push((l, vec![next.clone()]));
            edges.push((r, vec![next]));
        }
        edges.push(("t200".to_owned(), vec![]));
        let nodes: Vec<(String, u64, Vec<String>)> =
            edges.into_iter().map(|(n, r)| (n, 1, r)).collect();
        let g = owned_graph(&nodes);
        let order = order(&g).unwrap();
        assert_eq!(g.node(order[0]).path.name(), "t200");
        assert_eq!(g.node(*order.last().unwrap()).path.name(), "t0");
    }

    #[test]
    fn cycles_are_reported() {
        let records = vec![
            PathRecord {
                nar_hash: None,
                path: test_store_path("a"),
                nar_size: None,
                references: vec![test_store_path("b")],
            },
            PathRecord {
                nar_hash: None,
                path: test_store_path("b"),
                nar_size: None,
                references: vec![test_store_path("a")],
            },
        ];
        let g = ClosureGraph::from_records(records, "/nix/store").unwrap();
        assert!(format!("{:#}", order(&g).unwrap_err()).contains("cycle"));
    }
}
