//! strata's own layering, `stable`: what a new version re-sends is close to
//! what changed.
//!
//! Two kinds of path are treated apart:
//!
//! - *Top-level packages* (what only the image's own files refer to) change,
//!   come and go most. Each gets a layer of its own while the layers reserved
//!   for them last. When they are too many, those at least as large as a
//!   threshold stay alone and the rest share a few layers by a hash of their
//!   name (without its version). The threshold is a power of two or halfway
//!   between two (in ratio), so it seldom moves when a package comes or
//!   goes, and the layers of the others stay as they were.
//! - *Everything else* starts as one layer per path, and the two layers whose
//!   union costs least are merged until the budget is met. Merging A and B
//!   costs `size(A) × |deps(B) − deps(A)| + size(B) × |deps(A) − deps(B)|`,
//!   where `deps` is the set of paths (the layer's own included) whose change
//!   changes the layer: it is what the union re-sends needlessly, summed over
//!   every path that could change. A library thus shares a layer with what
//!   changes with it. In a large closure (at least four times as many such
//!   paths as the budget) merging starts instead from as many runs as the
//!   budget, cut from one order of the paths at least cost (see `runs`):
//!   they move little when a package comes or goes, where merges of single
//!   paths cascade.
//!
//! Candidates for a merge are a path and what it refers to, and paths that
//! refer to the same path (each with its four nearest in size), which keeps
//! planning near linear in the closure. Ties go by name, never by store path
//! hash, which changes with every version.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use anyhow::Result;

use crate::input::closure::{ClosureGraph, NodeId};
use crate::plan::layering::bitset::BitSet;
use crate::plan::layering::popularity::topological_order;
use crate::plan::layering::runs;
use crate::plan::layering::store_layer::{StoreLayer, closure_size, nar_sizes, version_free};

/// Where a path goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// A top-level package alone.
    Top(NodeId),
    /// Smaller top-level packages sharing a layer by a hash of their name.
    TopBucket(NodeId),
    /// Other paths, merged; named by the first path of the group merging
    /// started from.
    Merged(NodeId),
}

pub fn layers(
    graph: &ClosureGraph,
    excluded: &BTreeSet<NodeId>,
    budget: usize,
) -> Result<Vec<StoreLayer>> {
    let sizes = nar_sizes(graph)?;
    let included: Vec<NodeId> = (0..graph.len()).filter(|n| !excluded.contains(n)).collect();
    if budget < 2 {
        return Ok(vec![StoreLayer {
            paths: included,
            reason: "every store path (a budget of one layer)".to_owned(),
        }]);
    }
    let referrers = graph.referrers();
    let (tops, others): (Vec<NodeId>, Vec<NodeId>) = included
        .iter()
        .partition(|&&n| referrers[n].iter().all(|r| excluded.contains(r)));

    let reserved = top_level_share(budget, tops.len(), others.len());
    let mut groups: BTreeMap<Group, Vec<NodeId>> = BTreeMap::new();
    for (node, group) in top_level_groups(graph, &tops, &sizes, reserved) {
        groups.entry(group).or_default().push(node);
    }
    for cluster in merged_groups(
        graph,
        &referrers,
        &others,
        &sizes,
        budget - reserved,
        budget,
    )? {
        groups.insert(Group::Merged(cluster[0]), cluster);
    }

    let mut layers: Vec<(u64, NodeId, Vec<NodeId>, Group)> = groups
        .into_iter()
        .map(|(group, mut paths)| {
            paths.sort_unstable();
            (closure_size(graph, &paths, &sizes), paths[0], paths, group)
        })
        .collect();
    layers.sort();
    Ok(layers
        .into_iter()
        .map(|(_, _, paths, group)| StoreLayer {
            reason: reason(graph, &group, &paths, &sizes),
            paths,
        })
        .collect())
}

/// The layers kept for top-level packages: as many as there are packages,
/// rounded up to a multiple of a twelfth of the budget (eight of 99) so that
/// one more or less seldom takes a layer from the other paths; at most half
/// the budget, unless the other paths need fewer.
fn top_level_share(budget: usize, tops: usize, others: usize) -> usize {
    let most = budget.saturating_sub(others.min(budget / 2)).max(1);
    let step = (budget / 12).max(1);
    most.min(tops.div_ceil(step).max(1) * step)
}

/// The group of each top-level package, given `share` layers for them all.
fn top_level_groups(
    graph: &ClosureGraph,
    tops: &[NodeId],
    sizes: &[u64],
    share: usize,
) -> Vec<(NodeId, Group)> {
    if tops.len() <= share {
        return tops.iter().map(|&t| (t, Group::Top(t))).collect();
    }
    let buckets = (share / 2).max(1);
    let alone_at_most = share - buckets;
    let threshold = thresholds()
        .find(|&threshold| tops.iter().filter(|&&t| sizes[t] >= threshold).count() <= alone_at_most)
        .expect("no size reaches u64::MAX");
    tops.iter()
        .map(|&t| {
            let group = if sizes[t] >= threshold {
                Group::Top(t)
            } else {
                Group::TopBucket(name_bucket(
                    &version_free(graph.node(t).path.name()),
                    buckets,
                ))
            };
            (t, group)
        })
        .collect()
}

/// The sizes a threshold may take, ascending: powers of two and, between
/// each two, the power times 181/128 (about √2), in whole numbers so that
/// every machine finds the same.
fn thresholds() -> impl Iterator<Item = u64> {
    (0..64)
        .flat_map(|bits| {
            let power = 1u128 << bits;
            [power, power * 181 / 128]
        })
        .map(|threshold| u64::try_from(threshold).unwrap_or(u64::MAX))
        .chain([u64::MAX])
}

/// A bucket for `name`, from a hash of it (FNV-1a), so that a package keeps
/// its bucket whatever else is in the image (and, named without its version,
/// through new versions).
fn name_bucket(name: &str, buckets: usize) -> NodeId {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % buckets as u64) as NodeId
}

/// A group of paths while they are merged.
#[derive(Default)]
struct Cluster {
    members: Vec<NodeId>,
    size: u64,
    /// The paths whose change changes this group (local indices).
    deps: BitSet,
    dep_count: u64,
    /// Clusters it may merge with (local indices, possibly merged since).
    candidates: Vec<usize>,
    /// Bumped at each merge, so that stale queue entries are skipped.
    version: u32,
}

/// A possible merge in the queue: cheapest first, then by name order.
type Entry = Reverse<(u128, usize, usize, u32, u32)>;

/// Groups `paths` into at most `budget` groups, cheapest merges first,
/// starting from `starting_groups` (with `run_count` runs).
fn merged_groups(
    graph: &ClosureGraph,
    referrers: &[Vec<NodeId>],
    paths: &[NodeId],
    sizes: &[u64],
    budget: usize,
    run_count: usize,
) -> Result<Vec<Vec<NodeId>>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    // Local indices in name order, so that ties go by name.
    let mut order = paths.to_vec();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&graph.node(a).path, &graph.node(b).path);
        pa.name().cmp(pb.name()).then_with(|| pa.cmp(pb))
    });
    let mut local = vec![usize::MAX; graph.len()];
    for (i, &node) in order.iter().enumerate() {
        local[node] = i;
    }
    let mut deps = dependency_sets(graph, &order, &local)?;

    let starts = starting_groups(graph, &order, &local, &deps, sizes, run_count);
    let mut group_of = vec![0; order.len()];
    let mut clusters: Vec<Cluster> = Vec::with_capacity(starts.len());
    for (index, group) in starts.into_iter().enumerate() {
        // Groups are disjoint: each path's set is taken once.
        let mut union = std::mem::take(&mut deps[group[0]]);
        for &path in &group[1..] {
            union.union_with(&deps[path]);
        }
        for &path in &group {
            group_of[path] = index;
        }
        clusters.push(Cluster {
            members: group.iter().map(|&path| order[path]).collect(),
            size: group.iter().map(|&path| sizes[order[path]]).sum(),
            dep_count: union.len(),
            deps: union,
            candidates: Vec::new(),
            version: 0,
        });
    }
    drop(deps);
    for (a, b) in initial_candidates(graph, referrers, &order, &local, sizes) {
        let (a, b) = (group_of[a], group_of[b]);
        if a != b {
            clusters[a].candidates.push(b);
            clusters[b].candidates.push(a);
        }
    }
    let mut merged_into: Vec<usize> = (0..clusters.len()).collect();
    let mut queue: BinaryHeap<Entry> = BinaryHeap::new();
    for a in 0..clusters.len() {
        clusters[a].candidates.sort_unstable();
        clusters[a].candidates.dedup();
        for &b in clusters[a].candidates.iter().filter(|&&b| b > a) {
            queue.push(entry(&clusters, a, b));
        }
    }

    let mut alive = clusters.len();
    while alive > budget {
        let Some(Reverse((_, a, b, version_a, version_b))) = queue.pop() else {
            // Nothing left to try but the budget is not met: let every group
            // meet its neighbours in order of size.
            let mut living: Vec<usize> = (0..clusters.len())
                .filter(|&c| merged_into[c] == c)
                .collect();
            living.sort_by_key(|&c| (clusters[c].size, c));
            for pair in living.windows(2) {
                let (a, b) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
                clusters[a].candidates.push(b);
                clusters[b].candidates.push(a);
                queue.push(entry(&clusters, a, b));
            }
            continue;
        };
        let stale = merged_into[a] != a
            || merged_into[b] != b
            || clusters[a].version != version_a
            || clusters[b].version != version_b;
        if stale {
            continue;
        }
        merge(&mut clusters, &mut merged_into, a, b);
        alive -= 1;
        for &other in &clusters[a].candidates {
            queue.push(entry(&clusters, a.min(other), a.max(other)));
        }
    }
    Ok((0..clusters.len())
        .filter(|&c| merged_into[c] == c)
        .map(|c| std::mem::take(&mut clusters[c].members))
        .collect())
}

/// The groups merging starts from (local indices): one per path, or, when
/// the paths number at least four times `run_count`, that many runs of
/// neighbours in one order (see `runs`). A large closure thus starts from
/// groups that move little when a package comes or goes.
fn starting_groups(
    graph: &ClosureGraph,
    order: &[NodeId],
    local: &[usize],
    deps: &[BitSet],
    sizes: &[u64],
    run_count: usize,
) -> Vec<Vec<usize>> {
    let singles = || (0..order.len()).map(|path| vec![path]).collect();
    if order.len() < 4 * run_count {
        return singles();
    }
    let Some(longest) = runs::longest_run(order.len(), run_count) else {
        return singles();
    };
    let references: Vec<Vec<usize>> = order
        .iter()
        .map(|&node| grouped(&graph.node(node).references, local))
        .collect();
    let local_sizes: Vec<u64> = order.iter().map(|&node| sizes[node]).collect();
    let sequence = runs::Sequence::new(&references, deps, &local_sizes);
    runs::cut(&sequence, deps, &local_sizes, run_count, longest)
}

/// The queue entry for merging clusters `a` < `b`.
fn entry(clusters: &[Cluster], a: usize, b: usize) -> Entry {
    let (x, y) = (&clusters[a], &clusters[b]);
    let union = x.deps.union_len(&y.deps);
    let cost = u128::from(x.size) * u128::from(union - x.dep_count)
        + u128::from(y.size) * u128::from(union - y.dep_count);
    Reverse((cost, a, b, x.version, y.version))
}

/// Merges cluster `b` into `a`.
fn merge(clusters: &mut [Cluster], merged_into: &mut [usize], a: usize, b: usize) {
    let taken = std::mem::take(&mut clusters[b]);
    merged_into[b] = a;
    let mut candidates: Vec<usize> = clusters[a]
        .candidates
        .iter()
        .chain(&taken.candidates)
        .map(|&c| find(merged_into, c))
        .filter(|&c| c != a)
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    let cluster = &mut clusters[a];
    cluster.members.extend(taken.members);
    cluster.size += taken.size;
    cluster.deps.union_with(&taken.deps);
    cluster.dep_count = cluster.deps.len();
    cluster.candidates = candidates;
    cluster.version += 1;
}

/// The cluster that `c` has been merged into, shortening the chain.
fn find(merged_into: &mut [usize], c: usize) -> usize {
    let mut root = c;
    while merged_into[root] != root {
        root = merged_into[root];
    }
    let mut at = c;
    while merged_into[at] != root {
        let next = merged_into[at];
        merged_into[at] = root;
        at = next;
    }
    root
}

/// For each path being grouped (by local index), the grouped paths whose
/// change changes it: those in its closure, itself included.
fn dependency_sets(graph: &ClosureGraph, order: &[NodeId], local: &[usize]) -> Result<Vec<BitSet>> {
    let mut closure: Vec<BitSet> = vec![BitSet::default(); graph.len()];
    for &node in topological_order(graph)?.iter().rev() {
        let mut set = BitSet::new(order.len());
        for &r in &graph.node(node).references {
            set.union_with(&closure[r]);
        }
        if local[node] != usize::MAX {
            set.insert(local[node]);
        }
        closure[node] = set;
    }
    Ok(order
        .iter()
        .map(|&n| std::mem::take(&mut closure[n]))
        .collect())
}

/// Pairs worth weighing at the start (local indices, smaller first): each
/// path with what it refers to, and paths that refer to the same path with
/// their four nearest in size.
fn initial_candidates(
    graph: &ClosureGraph,
    referrers: &[Vec<NodeId>],
    order: &[NodeId],
    local: &[usize],
    sizes: &[u64],
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (a, &node) in order.iter().enumerate() {
        for b in grouped(&graph.node(node).references, local) {
            pairs.push((a.min(b), a.max(b)));
        }
    }
    for users in referrers {
        let mut siblings = grouped(users, local);
        siblings.sort_by_key(|&a| (sizes[order[a]], a));
        for (i, &a) in siblings.iter().enumerate() {
            for &b in siblings.iter().skip(i + 1).take(4) {
                pairs.push((a.min(b), a.max(b)));
            }
        }
    }
    pairs
}

/// The local indices of those of `nodes` being grouped.
fn grouped(nodes: &[NodeId], local: &[usize]) -> Vec<usize> {
    nodes
        .iter()
        .map(|&n| local[n])
        .filter(|&l| l != usize::MAX)
        .collect()
}

/// Why the paths of a group share a layer.
fn reason(graph: &ClosureGraph, group: &Group, paths: &[NodeId], sizes: &[u64]) -> String {
    let name = |n: NodeId| graph.node(n).path.name().to_owned();
    match group {
        Group::Top(node) => format!("{}, a top-level package, alone", name(*node)),
        Group::TopBucket(bucket) => format!("smaller top-level packages, name bucket {bucket}"),
        Group::Merged(_) if paths.len() == 1 => format!("{}, alone", name(paths[0])),
        Group::Merged(_) => {
            let largest = *paths
                .iter()
                .max_by_key(|&&n| (sizes[n], Reverse(graph.node(n).path.name())))
                .expect("a group has paths");
            format!(
                "{} and {} more that depend on much the same paths",
                name(largest),
                paths.len() - 1
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::closure_fixtures::{node_named, owned_graph, sized_graph};
    use crate::plan::layering::store_layer::layer_names;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The layers of `graph` without its `helper` path, as sorted names.
    fn layered(graph: &ClosureGraph, budget: usize) -> Vec<Vec<String>> {
        let helper = BTreeSet::from([node_named(graph, "helper")]);
        layer_names(graph, &layers(graph, &helper, budget).unwrap())
    }

    /// Top-level app and tool; libc large, used by all; a-ext only extends
    /// lib-a.
    fn libraries() -> ClosureGraph {
        sized_graph(&[
            ("helper", 1, &["app", "tool"]),
            ("app", 50, &["lib-a", "a-ext"]),
            ("tool", 5, &["lib-b"]),
            ("lib-a", 10, &["libc"]),
            ("a-ext", 1, &["lib-a"]),
            ("lib-b", 10, &["libc"]),
            ("libc", 100, &[]),
        ])
    }

    #[test]
    fn a_library_shares_a_layer_with_what_changes_with_it() {
        let g = libraries();
        // Three layers for the four libraries: a-ext joins lib-a, whose
        // change changes it anyway (cost 10: a-ext's own change re-sends
        // lib-a). lib-a with lib-b would cost 20, anything with libc 100.
        let got = layered(&g, 5);
        assert_eq!(
            got,
            // Dependencies first: by the size of each layer's closure.
            vec![
                names(&["libc"]),
                names(&["lib-b"]),
                names(&["a-ext", "lib-a"]),
                names(&["tool"]),
                names(&["app"]),
            ]
        );
        // With two, lib-b joins them (cost 31), and libc stays alone.
        let got = layered(&g, 4);
        assert!(
            got.contains(&names(&["a-ext", "lib-a", "lib-b"])),
            "{got:?}"
        );
        assert!(got.contains(&names(&["libc"])), "{got:?}");
        assert!(got.contains(&names(&["app"])) && got.contains(&names(&["tool"])));
    }

    #[test]
    fn reasons_name_the_groups() {
        let g = libraries();
        let helper = BTreeSet::from([node_named(&g, "helper")]);
        let reasons: Vec<String> = layers(&g, &helper, 4)
            .unwrap()
            .into_iter()
            .map(|l| l.reason)
            .collect();
        for expected in [
            "app, a top-level package, alone",
            "libc, alone",
            "lib-a and 2 more that depend on much the same paths",
        ] {
            assert!(
                reasons.iter().any(|r| r == expected),
                "{expected}: {reasons:?}"
            );
        }
    }

    /// 30 small tools on libc, and `extra` (name, size) as a 31st.
    fn tools(extra: Option<(&str, u64)>) -> Vec<Vec<String>> {
        tools_sized(|i| 1000 + i, extra)
    }

    /// 30 tools on libc, tool `i` of `size(i)` bytes, and `extra` (name,
    /// size) as a 31st; layered with a budget of 20.
    fn tools_sized(size: impl Fn(u64) -> u64, extra: Option<(&str, u64)>) -> Vec<Vec<String>> {
        let mut nodes: Vec<(String, u64, Vec<String>)> = (0..30)
            .map(|i| (format!("tool{i}"), size(i), vec!["libc".to_owned()]))
            .collect();
        if let Some((name, size)) = extra {
            nodes.push((name.to_owned(), size, vec!["libc".to_owned()]));
        }
        let tools: Vec<String> = nodes.iter().map(|n| n.0.clone()).collect();
        nodes.push(("helper".to_owned(), 1, tools));
        nodes.push(("libc".to_owned(), 50_000, vec![]));
        layered(&owned_graph(&nodes), 20)
    }

    #[test]
    fn many_top_level_packages_the_largest_alone_the_rest_by_name() {
        let got = tools(None);
        assert!(got.len() <= 20);
        // Half the 19 layers kept for them are buckets; at most the other
        // half are alone: those of 1024 bytes or more (tool24 to tool29).
        for i in 24..30 {
            assert!(got.contains(&vec![format!("tool{i}")]), "tool{i}: {got:?}");
        }
        assert!(!got.contains(&vec!["tool23".to_owned()]), "{got:?}");
    }

    #[test]
    fn the_threshold_may_fall_halfway_between_powers_of_two() {
        // Ten tools of 1500 bytes and twenty of 1100 on libc, budget 20: at
        // most ten alone. 2048 would leave them all in buckets; 1448 (1024
        // times 181/128) keeps the ten larger ones alone.
        let got = tools_sized(|i| if i < 10 { 1500 } else { 1100 }, None);
        for i in 0..10 {
            assert!(got.contains(&vec![format!("tool{i}")]), "tool{i}: {got:?}");
        }
        // The smaller twenty share the nine name buckets.
        let small: BTreeSet<String> = (10..30).map(|i| format!("tool{i}")).collect();
        let buckets = got
            .iter()
            .filter(|l| l.iter().all(|name| small.contains(name)))
            .count();
        assert!(buckets <= 9, "{got:?}");
    }

    #[test]
    fn adding_a_top_level_package_moves_no_other_layer() {
        let before: BTreeSet<Vec<String>> = tools(None).into_iter().collect();
        // Large enough to be alone, and small enough to join a bucket.
        for (size, alone) in [(1500, true), (500, false)] {
            let after = tools(Some(("new-tool", size)));
            let changed: Vec<&Vec<String>> =
                after.iter().filter(|l| !before.contains(*l)).collect();
            assert_eq!(changed.len(), 1, "only the new tool's layer: {changed:?}");
            assert!(changed[0].contains(&"new-tool".to_owned()));
            assert_eq!(changed[0].len() == 1, alone, "{changed:?}");
        }
    }

    #[test]
    fn a_new_version_of_a_small_package_keeps_its_bucket() {
        let bucket_mates = |version: &str| {
            let name = format!("small-{version}");
            let mut mates = tools(Some((&name, 500)))
                .into_iter()
                .find(|l| l.contains(&name))
                .unwrap();
            mates.retain(|n| *n != name);
            mates
        };
        let first = bucket_mates("1.0");
        assert!(!first.is_empty(), "it shares a bucket");
        for version in ["1.1", "2.0.3", "10"] {
            assert_eq!(bucket_mates(version), first, "version {version}");
        }
    }

    #[test]
    fn a_small_budget_keeps_no_spare_layers_for_top_level_packages() {
        // One application on a chain of 20 libraries, 9 layers: the
        // application alone, and all 8 others for the libraries.
        let mut nodes = vec![
            ("helper".to_owned(), 1, vec!["app".to_owned()]),
            ("app".to_owned(), 100, vec!["lib00".to_owned()]),
        ];
        for i in 0..20u64 {
            let next = (i < 19).then(|| format!("lib{:02}", i + 1));
            nodes.push((format!("lib{i:02}"), 10 + i, next.into_iter().collect()));
        }
        let got = layered(&owned_graph(&nodes), 9);
        assert_eq!(got.len(), 9, "{got:?}");
        assert!(got.contains(&vec!["app".to_owned()]), "{got:?}");
    }

    #[test]
    fn a_budget_of_one_is_a_single_layer() {
        let g = libraries();
        assert_eq!(layered(&g, 1).len(), 1);
    }
}
