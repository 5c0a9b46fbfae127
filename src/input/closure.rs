//! The closure graph: store paths, their NAR sizes and their references.
//!
//! Read from what `exportReferencesGraph` exports (the JSON array of
//! structured attrs, or the legacy text format) or from
//! `nix-store --dump-db`. Nodes are kept sorted by path, so nothing built on
//! the graph depends on the order the input listed them in.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::format::store_path::StorePath;

/// Index of a node in a [`ClosureGraph`].
pub type NodeId = usize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub path: StorePath,
    /// Size of the path's NAR serialisation, when the source gave it.
    pub nar_size: Option<u64>,
    /// Other nodes this one refers to (self-references dropped), ascending.
    pub references: Vec<NodeId>,
}

/// A closed set of store paths: every reference is itself a node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClosureGraph {
    nodes: Vec<Node>,
    /// Node of each path, by its full text.
    index: HashMap<String, NodeId>,
}

/// One path as a source lists it, before the graph is checked.
#[derive(Clone, Debug)]
pub struct PathRecord {
    pub path: String,
    /// The hash of the path's NAR serialisation, as the source wrote it,
    /// when it gave one.
    pub nar_hash: Option<String>,
    pub nar_size: Option<u64>,
    pub references: Vec<String>,
}

impl ClosureGraph {
    /// Builds the graph, checking that every path is a store path, that no
    /// path is listed twice with different contents and that the set is
    /// closed under references.
    pub fn from_records(records: Vec<PathRecord>, store_dir: &str) -> Result<Self> {
        let mut by_path: BTreeMap<StorePath, PathRecord> = BTreeMap::new();
        for record in records {
            let path = StorePath::parse(&record.path, store_dir)
                .with_context(|| "in the closure".to_string())?;
            if let Some(previous) = by_path.get(&path) {
                let same_refs = previous.references.iter().collect::<BTreeSet<_>>()
                    == record.references.iter().collect::<BTreeSet<_>>();
                if previous.nar_size != record.nar_size || !same_refs {
                    bail!("the closure lists {path} twice, with different sizes or references");
                }
                continue;
            }
            by_path.insert(path, record);
        }
        // References are looked up by their text: a listed path was parsed
        // already, and only what is not listed needs parsing, for its error.
        let index: HashMap<String, NodeId> = by_path
            .keys()
            .enumerate()
            .map(|(id, path)| (path.as_str().to_owned(), id))
            .collect();
        let mut nodes = Vec::with_capacity(by_path.len());
        for (id, (path, record)) in by_path.into_iter().enumerate() {
            let mut references = Vec::with_capacity(record.references.len());
            for reference in &record.references {
                let Some(&target_id) = index.get(reference.as_str()) else {
                    let target = StorePath::parse(reference, store_dir)
                        .with_context(|| format!("in the references of {path}"))?;
                    bail!(
                        "the closure is incomplete: {path} refers to {target}, which it does not list"
                    );
                };
                if target_id != id {
                    references.push(target_id);
                }
            }
            references.sort_unstable();
            references.dedup();
            nodes.push(Node {
                path,
                nar_size: record.nar_size,
                references,
            });
        }
        Ok(ClosureGraph { nodes, index })
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn id_of(&self, path: &StorePath) -> Option<NodeId> {
        self.index.get(path.as_str()).copied()
    }

    /// Nodes that no other node refers to, ascending.
    pub fn roots(&self) -> Vec<NodeId> {
        let mut referenced = vec![false; self.nodes.len()];
        for node in &self.nodes {
            for &r in &node.references {
                referenced[r] = true;
            }
        }
        (0..self.nodes.len()).filter(|&i| !referenced[i]).collect()
    }

    /// For each node, the nodes that refer to it, ascending.
    pub fn referrers(&self) -> Vec<Vec<NodeId>> {
        let mut referrers = vec![Vec::new(); self.nodes.len()];
        for (id, node) in self.nodes.iter().enumerate() {
            for &r in &node.references {
                referrers[r].push(id);
            }
        }
        referrers
    }

    /// `roots` and every node they refer to, directly or not, ascending.
    pub fn closure_of(&self, roots: impl IntoIterator<Item = NodeId>) -> Vec<NodeId> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = roots
            .into_iter()
            .filter(|&r| !std::mem::replace(&mut seen[r], true))
            .collect();
        while let Some(node) = stack.pop() {
            for &r in &self.nodes[node].references {
                if !std::mem::replace(&mut seen[r], true) {
                    stack.push(r);
                }
            }
        }
        (0..seen.len()).filter(|&n| seen[n]).collect()
    }
}

/// The NAR hash of each path the records give one for, by path.
pub fn nar_hashes(records: &[PathRecord]) -> BTreeMap<String, String> {
    records
        .iter()
        .filter_map(|r| Some((r.path.trim_end_matches('/').to_owned(), r.nar_hash.clone()?)))
        .collect()
}

/// Parses a closure in any of the formats Nix writes, told apart by their
/// first character: a JSON array (structured `exportReferencesGraph`,
/// `nix path-info --json`) or the line-based registration format.
pub fn parse_closure_text(text: &str) -> Result<Vec<PathRecord>> {
    if text.trim_start().starts_with('[') {
        let value: serde_json::Value =
            serde_json::from_str(text).context("the closure is not valid JSON")?;
        parse_closure_json(&value)
    } else {
        parse_registration(text)
    }
}

/// Parses the JSON array that structured attrs hold for an
/// `exportReferencesGraph` key. Unknown keys are ignored; only `path` and
/// `references` are required.
pub fn parse_closure_json(value: &serde_json::Value) -> Result<Vec<PathRecord>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct JsonRecord {
        path: String,
        references: Vec<String>,
        #[serde(default)]
        nar_hash: Option<String>,
        #[serde(default)]
        nar_size: Option<u64>,
    }
    let items = value
        .as_array()
        .context("the closure is not a JSON array of path records")?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let record: JsonRecord = serde_json::from_value(item.clone()).with_context(|| {
                format!("closure record {i} needs a string `path` and a list `references`")
            })?;
            Ok(PathRecord {
                nar_hash: record.nar_hash,
                path: record.path,
                nar_size: record.nar_size,
                references: record.references,
            })
        })
        .collect()
}

/// Parses the registration format, one record per path:
/// `path`, optionally `narHash` (64 hex digits) and `narSize`, `deriver`
/// (often empty), a reference count, then that many reference lines.
/// Legacy `exportReferencesGraph` files have no hash and size;
/// `nix-store --dump-db` has them.
pub fn parse_registration(text: &str) -> Result<Vec<PathRecord>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::new();
    let mut at = 0;
    let line = |at: usize, what: &str| -> Result<&str> {
        lines.get(at).copied().with_context(|| {
            format!(
                "the closure file ends early at line {}: expected {what}",
                at + 1
            )
        })
    };
    while at < lines.len() {
        if lines[at].is_empty() {
            at += 1;
            continue;
        }
        let path = lines[at].to_owned();
        at += 1;
        let mut nar_size = None;
        let mut nar_hash = None;
        let next = line(at, "a deriver, hash or reference count")?;
        if next.len() == 64 && next.bytes().all(|b| b.is_ascii_hexdigit()) {
            nar_hash = Some(format!("sha256:{next}"));
            let size = line(at + 1, "a NAR size")?;
            nar_size = Some(
                size.parse::<u64>()
                    .with_context(|| format!("line {}: '{size}' is not a NAR size", at + 2))?,
            );
            at += 2;
        }
        at += 1; // deriver
        let count_line = line(at, "a reference count")?;
        let count: usize = count_line.parse().with_context(|| {
            format!(
                "line {}: expected the reference count of {path}, found '{count_line}'",
                at + 1
            )
        })?;
        at += 1;
        let mut references = Vec::with_capacity(count);
        for _ in 0..count {
            references.push(line(at, "a reference")?.to_owned());
            at += 1;
        }
        records.push(PathRecord {
            nar_hash,
            path,
            nar_size,
            references,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::store_path::test_store_path as sp;

    #[test]
    fn reads_structured_json_and_drops_self_references() {
        let (a, b) = (sp("a"), sp("b"));
        let json = format!(
            r#"[{{"path":"{a}","narHash":"sha256:x","narSize":10,"references":["{a}","{b}"],"closureSize":20,"valid":true}},
               {{"path":"{b}","references":[]}}]"#
        );
        let graph =
            ClosureGraph::from_records(parse_closure_text(&json).unwrap(), "/nix/store").unwrap();
        let a_id = graph
            .nodes()
            .iter()
            .position(|n| n.path.as_str() == a)
            .unwrap();
        let b_id = graph
            .nodes()
            .iter()
            .position(|n| n.path.as_str() == b)
            .unwrap();
        assert_eq!(graph.node(a_id).references, vec![b_id]);
        assert_eq!(graph.node(a_id).nar_size, Some(10));
        assert_eq!(graph.node(b_id).nar_size, None);
        assert_eq!(graph.roots(), vec![a_id]);
        assert!(graph.nodes().iter().any(|n| n.nar_size.is_none()));
    }

    #[test]
    fn reads_legacy_and_dump_db_formats() {
        let (a, b) = (sp("a"), sp("b"));
        let legacy = format!("{a}\n\n1\n{b}\n{b}\n\n0\n");
        let records = parse_closure_text(&legacy).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].references, vec![b.clone()]);
        let hash = "0".repeat(64);
        let dump =
            format!("{a}\n{hash}\n123\n/nix/store/x.drv\n2\n{a}\n{b}\n{b}\n{hash}\n7\n\n0\n");
        let records = parse_closure_text(&dump).unwrap();
        assert_eq!(records[0].nar_size, Some(123));
        assert_eq!(records[1].nar_size, Some(7));
        let graph = ClosureGraph::from_records(records, "/nix/store").unwrap();
        assert!(graph.nodes().iter().all(|n| n.nar_size.is_some()));
    }

    #[test]
    fn rejects_incomplete_and_malformed_closures() {
        let (a, b) = (sp("a"), sp("b"));
        let open = format!("{a}\n\n1\n{b}\n");
        let err = ClosureGraph::from_records(parse_closure_text(&open).unwrap(), "/nix/store")
            .unwrap_err();
        assert!(format!("{err:#}").contains("incomplete"), "{err:#}");
        assert!(parse_closure_text(&format!("{a}\n\nx\n")).is_err());
        assert!(parse_closure_text(&format!("{a}\n\n2\n{b}\n")).is_err());
        assert!(parse_closure_text("[{\"references\":[]}]").is_err());
        let err = ClosureGraph::from_records(
            parse_closure_text("[{\"path\":\"/etc/passwd\",\"references\":[]}]").unwrap(),
            "/nix/store",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("/etc/passwd"));
        // A reference that is no store path names both paths.
        let bad_reference = vec![PathRecord {
            nar_hash: None,
            path: a.clone(),
            nar_size: None,
            references: vec!["/etc/passwd".to_owned()],
        }];
        let err = format!(
            "{:#}",
            ClosureGraph::from_records(bad_reference, "/nix/store").unwrap_err()
        );
        assert!(
            err.contains(&format!("in the references of {a}")) && err.contains("/etc/passwd"),
            "{err}"
        );
    }

    #[test]
    fn references_lose_duplicates_and_the_path_itself() {
        let (a, b) = (sp("a"), sp("b"));
        let records = vec![
            PathRecord {
                nar_hash: None,
                path: a.clone(),
                nar_size: None,
                references: vec![b.clone(), a.clone(), b.clone()],
            },
            PathRecord {
                nar_hash: None,
                path: b.clone(),
                nar_size: None,
                references: vec![],
            },
        ];
        let graph = ClosureGraph::from_records(records, "/nix/store").unwrap();
        let ids: Vec<NodeId> = [&a, &b]
            .iter()
            .map(|p| {
                graph
                    .id_of(&StorePath::parse(p, "/nix/store").unwrap())
                    .unwrap()
            })
            .collect();
        assert_eq!(graph.node(ids[0]).references, vec![ids[1]]);
        assert_eq!(graph.closure_of([ids[0]]), {
            let mut both = ids.clone();
            both.sort_unstable();
            both
        });
        assert_eq!(graph.closure_of([ids[1]]), vec![ids[1]]);
    }

    #[test]
    fn input_order_does_not_matter() {
        let (a, b, c) = (sp("a"), sp("b"), sp("c"));
        let one = format!("{a}\n\n2\n{b}\n{c}\n{b}\n\n1\n{c}\n{c}\n\n0\n");
        let two = format!("{c}\n\n0\n{b}\n\n1\n{c}\n{a}\n\n2\n{c}\n{b}\n");
        let g1 = ClosureGraph::from_records(parse_closure_text(&one).unwrap(), "/nix/store");
        let g2 = ClosureGraph::from_records(parse_closure_text(&two).unwrap(), "/nix/store");
        assert_eq!(g1.unwrap(), g2.unwrap());
    }
}
