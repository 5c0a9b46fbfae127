//! Closure graphs for the unit tests of the stages that take one.

use crate::format::store_path::test_store_path;
use crate::input::closure::{ClosureGraph, NodeId, PathRecord};

/// A graph from `(name, references)` pairs; every path has NAR size 1.
pub fn graph(edges: &[(&str, &[&str])]) -> ClosureGraph {
    graph_of(
        edges
            .iter()
            .map(|(name, refs)| (*name, 1, refs.iter().copied())),
    )
}

/// A graph from `(name, NAR size, references)`.
pub fn sized_graph(nodes: &[(&str, u64, &[&str])]) -> ClosureGraph {
    graph_of(
        nodes
            .iter()
            .map(|(name, size, refs)| (*name, *size, refs.iter().copied())),
    )
}

/// `sized_graph` of names built at run time.
pub fn owned_graph(nodes: &[(String, u64, Vec<String>)]) -> ClosureGraph {
    graph_of(
        nodes
            .iter()
            .map(|(name, size, refs)| (name.as_str(), *size, refs.iter().map(String::as_str))),
    )
}

fn graph_of<'a, R: Iterator<Item = &'a str>>(
    nodes: impl Iterator<Item = (&'a str, u64, R)>,
) -> ClosureGraph {
    let records = nodes
        .map(|(name, size, refs)| PathRecord {
            nar_hash: None,
            path: test_store_path(name),
            nar_size: Some(size),
            references: refs.map(test_store_path).collect(),
        })
        .collect();
    ClosureGraph::from_records(records, "/nix/store").unwrap()
}

/// The node of `graph` whose path is named `name`.
pub fn node_named(graph: &ClosureGraph, name: &str) -> NodeId {
    (0..graph.len())
        .find(|&i| graph.node(i).path.name() == name)
        .unwrap_or_else(|| panic!("no path named {name}"))
}
