//! Fixtures shared by the unit tests.

use crate::closure::{ClosureGraph, PathRecord};

/// A valid store path whose hash part derives from `name`.
pub fn store_path(name: &str) -> String {
    let alphabet = crate::store_path::NIXBASE32_ALPHABET;
    let mut seed: u64 = name
        .bytes()
        .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let hash: String = (0..32)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(alphabet[(seed >> 59) as usize])
        })
        .collect();
    format!("/nix/store/{hash}-{name}")
}

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
            path: store_path(name),
            nar_size: Some(size),
            references: refs.map(store_path).collect(),
        })
        .collect();
    ClosureGraph::from_records(records, "/nix/store").unwrap()
}

/// The node of `graph` whose path is named `name`.
pub fn node_named(graph: &ClosureGraph, name: &str) -> crate::closure::NodeId {
    (0..graph.len())
        .find(|&i| graph.node(i).path.name() == name)
        .unwrap_or_else(|| panic!("no path named {name}"))
}

/// Each layer's path names, sorted, bottom layer first.
pub fn layer_names(
    graph: &ClosureGraph,
    layers: &[crate::layering::StoreLayer],
) -> Vec<Vec<String>> {
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

/// One entry of a tar, as a reader sees it.
pub struct TarEntry {
    pub name: String,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub mtime: u64,
    pub link: Option<String>,
    pub data: Vec<u8>,
}

/// Every entry of `archive`, read with the tar crate.
pub fn tar_entries(archive: &[u8]) -> Vec<TarEntry> {
    use std::io::Read;
    tar::Archive::new(archive)
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let header = entry.header();
            let (kind, mode, mtime) = (
                header.entry_type(),
                header.mode().unwrap(),
                header.mtime().unwrap(),
            );
            let name = String::from_utf8(entry.path_bytes().to_vec()).unwrap();
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8(l.to_vec()).unwrap());
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            TarEntry {
                name,
                kind,
                mode,
                mtime,
                link,
                data,
            }
        })
        .collect()
}
