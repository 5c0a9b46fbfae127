//! A layer of store paths, and the measures the strategies share: NAR
//! sizes, closure sizes, names without versions.

use anyhow::{Result, bail};

use crate::input::closure::{ClosureGraph, NodeId};

/// A layer of store paths, and why they are together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreLayer {
    /// Ascending.
    pub paths: Vec<NodeId>,
    pub reason: String,
}

/// `layers` without empty ones, each with its paths in node order, as a plan
/// lists them.
pub fn settled(mut layers: Vec<StoreLayer>) -> Vec<StoreLayer> {
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
pub fn version_free(name: &str) -> String {
    let mut parts = name.split('-');
    let first = parts.next().unwrap_or_default();
    parts
        .filter(|part| !part.starts_with(|c: char| c.is_ascii_digit()))
        .fold(first.to_owned(), |key, part| key + "-" + part)
}

/// Every path's NAR size, which the size-aware strategies need.
pub fn nar_sizes(graph: &ClosureGraph) -> Result<Vec<u64>> {
    let Some(sizes) = graph.nodes().iter().map(|n| n.nar_size).collect() else {
        bail!(
            "stable and auto layering need the NAR size of every path, and the closure has none (the legacy exportReferencesGraph format lacks them); give a closure with sizes or use layering = \"popularity\""
        )
    };
    Ok(sizes)
}

/// The NAR size of the closure of `paths`, by which layers are ordered.
pub fn closure_size(graph: &ClosureGraph, paths: &[NodeId], sizes: &[u64]) -> u64 {
    graph
        .closure_of(paths.iter().copied())
        .into_iter()
        .map(|n| sizes[n])
        .sum()
}

/// Each layer's path names, sorted, bottom layer first.
#[cfg(test)]
pub fn layer_names(graph: &ClosureGraph, layers: &[StoreLayer]) -> Vec<Vec<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
