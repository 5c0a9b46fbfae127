//! The paths `stable` merges, put in one order and cut into runs of
//! neighbours, for large closures.
//!
//! The order puts each path right after the dependency it shares most with
//! (the one whose closure is largest), depth first, so that neighbours tend
//! to change together. The cut is the one of least cost among all cuts into
//! the given number of runs, found exactly. A run's cost is the one `stable`
//! weighs merges by: what it re-sends needlessly, summed over every path
//! that could change. Since the order does not depend on what else is in the
//! image and the cut is exact, a package that comes or goes moves the cuts
//! near it and seldom others, where merging single paths greedily re-makes
//! many layers.

use rayon::prelude::*;

use crate::plan::layering::bitset::{BitSet, SparseBitSet};

/// Runs cover at most this many (order position, run length) cells, so that
/// the table of run costs stays within 128 MiB.
const MOST_CELLS: usize = 1 << 24;

/// The paths in one order: each after its parent, the dependency with the
/// largest closure (in bytes; ties to the smaller index), depth first;
/// siblings and parentless paths by index. `references` and `deps` are by
/// index: the paths each refers to, and those in its closure (itself
/// included).
pub struct Sequence {
    pub order: Vec<usize>,
    parents: Vec<Option<usize>>,
}

impl Sequence {
    pub fn new(references: &[Vec<usize>], deps: &[BitSet], sizes: &[u64]) -> Self {
        let n = references.len();
        let closure_bytes: Vec<u64> = deps
            .iter()
            .map(|d| d.iter().map(|p| sizes[p]).sum())
            .collect();
        let mut parents = vec![None; n];
        let mut children = vec![Vec::new(); n];
        let mut roots = Vec::new();
        for (path, refs) in references.iter().enumerate() {
            let parent = refs
                .iter()
                .copied()
                .filter(|&r| r != path)
                .max_by_key(|&r| (closure_bytes[r], std::cmp::Reverse(r)));
            parents[path] = parent;
            match parent {
                Some(p) => children[p].push(path),
                None => roots.push(path),
            }
        }
        let mut order = Vec::with_capacity(n);
        let mut stack: Vec<usize> = roots.into_iter().rev().collect();
        while let Some(path) = stack.pop() {
            order.push(path);
            children[path].sort_unstable();
            stack.extend(children[path].iter().rev());
        }
        Sequence { order, parents }
    }
}

/// The longest run `cut` allows for `paths` paths in `runs` runs: four
/// times the mean (at least 16), or `None` when the table of run costs
/// would be too large.
pub fn longest_run(paths: usize, runs: usize) -> Option<usize> {
    let longest = (4 * paths).div_ceil(runs.max(1)).max(16).min(paths);
    (paths.saturating_mul(longest + 1) <= MOST_CELLS).then_some(longest)
}

/// `sequence` cut into `runs` runs (or one per path, if fewer) of at most
/// `longest` paths (from `longest_run`), each a list of indices; the
/// cheapest such cut, ties to the one whose later runs start earliest.
pub fn cut(
    sequence: &Sequence,
    deps: &[BitSet],
    sizes: &[u64],
    runs: usize,
    longest: usize,
) -> Vec<Vec<usize>> {
    let n = sequence.order.len();
    let runs = runs.clamp(1, n.max(1));
    let width = longest + 1;
    let costs = run_costs(sequence, deps, sizes, longest);

    // best: the least cost of the first j paths in the runs so far;
    // starts[m][j]: where the last of m + 1 runs starts in it.
    let mut best = vec![u64::MAX; n + 1];
    best[0] = 0;
    let mut starts = Vec::with_capacity(runs);
    for m in 1..=runs {
        // m runs end at j: each of at most `longest`, room for the rest.
        let first = m.max(n.saturating_sub((runs - m) * longest));
        let last = (m * longest).min(n - (runs - m));
        let row: Vec<(u64, usize)> = (first..=last)
            .into_par_iter()
            .map(|j| {
                let ending = &costs[j * width..(j + 1) * width];
                let (mut least, mut start) = (u64::MAX, 0);
                let lowest = (m - 1).max(j.saturating_sub(longest));
                // A longer prefix never costs less in as many runs (drop
                // its last path, splitting a run if that empties one), so
                // every start costs at least its run plus `best[lowest]`:
                // once that exceeds `least`, no earlier start can win.
                let floor = if best[lowest] == u64::MAX {
                    0
                } else {
                    best[lowest]
                };
                // Starts from j - 1 down to `lowest`, each with the cost of
                // its run: `ending[j - i]` beside `best[i]`.
                let candidates = ending[1..=j - lowest]
                    .iter()
                    .zip(best[lowest..j].iter().rev())
                    .zip((lowest..j).rev());
                for ((&cost, &before), i) in candidates {
                    // A run only grows dearer as it starts earlier.
                    if cost >= least || cost.saturating_add(floor) > least {
                        break;
                    }
                    if before == u64::MAX {
                        continue;
                    }
                    let total = before.saturating_add(cost);
                    if total <= least {
                        (least, start) = (total, i);
                    }
                }
                (least, start)
            })
            .collect();
        let mut next = vec![u64::MAX; n + 1];
        let mut from = vec![0; n + 1];
        for (j, (least, start)) in (first..=last).zip(row) {
            next[j] = least;
            from[j] = start;
        }
        best = next;
        starts.push(from);
    }

    let mut cuts = Vec::with_capacity(runs);
    let mut end = n;
    for from in starts.iter().rev() {
        let start = from[end];
        cuts.push(sequence.order[start..end].to_vec());
        end = start;
    }
    cuts.reverse();
    cuts
}

/// `costs[j * (longest + 1) + l]`: the cost of the run of `l` paths that
/// ends before position `j`. A path adds to the run's dependencies only
/// what its parent lacks when the parent is in the run (as it is whenever
/// the run holds the two and what lies between), which keeps this near
/// linear in the run's length; otherwise its whole closure. Both are added
/// a word of 64 paths at a time, and only their non-empty words, so that a
/// small set costs little even in a large graph. Blocks of rows are filled
/// in parallel; each also follows the runs that start up to `longest` rows
/// before it.
fn run_costs(sequence: &Sequence, deps: &[BitSet], sizes: &[u64], longest: usize) -> Vec<u64> {
    let n = sequence.order.len();
    let width = longest + 1;
    // Only read for paths with a parent.
    let lacked: Vec<SparseBitSet> = (0..n)
        .map(|path| match sequence.parents[path] {
            Some(parent) => SparseBitSet::difference(&deps[path], &deps[parent]),
            None => SparseBitSet::default(),
        })
        .collect();
    // Read for paths whose parent is not in the run.
    let closures: Vec<SparseBitSet> = deps.iter().map(SparseBitSet::from).collect();
    let own_counts: Vec<u64> = deps.iter().map(BitSet::len).collect();
    let mut position = vec![0; n];
    for (at, &path) in sequence.order.iter().enumerate() {
        position[path] = at;
    }

    let mut costs = vec![u64::MAX; (n + 1) * width];
    // Blocks of four times `longest` rows: at most an eighth of the work
    // is done twice, for runs that cross into a block.
    let block_rows = 4 * longest;
    costs
        .par_chunks_mut(block_rows * width)
        .enumerate()
        .for_each_init(
            // The dependencies of the run being followed.
            || BitSet::new(n),
            |union, (block, rows)| {
                let first_row = block * block_rows;
                let end_row = first_row + rows.len() / width;
                for start in first_row.saturating_sub(longest)..end_row.min(n) {
                    union.clear();
                    let (mut count, mut bytes, mut own) = (0u64, 0u64, 0u64);
                    for end in start..n.min(start + longest).min(end_row - 1) {
                        let path = sequence.order[end];
                        count += match sequence.parents[path] {
                            Some(parent) if position[parent] >= start => {
                                union.insert_counting(&lacked[path])
                            }
                            _ => union.insert_counting(&closures[path]),
                        };
                        let size = sizes[path];
                        bytes = bytes.saturating_add(size);
                        own = own.saturating_add(size.saturating_mul(own_counts[path]));
                        let row = end + 1;
                        if row >= first_row {
                            // Σ size × (|union| − |deps|) over the run's paths.
                            rows[(row - first_row) * width + (row - start)] =
                                count.saturating_mul(bytes) - own;
                        }
                    }
                }
            },
        );
    costs
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Closures (each path with what it reaches) of paths that refer only
    /// to paths with smaller indices.
    fn closures(references: &[Vec<usize>]) -> Vec<BitSet> {
        let mut deps: Vec<BitSet> = Vec::with_capacity(references.len());
        for (path, refs) in references.iter().enumerate() {
            let mut set = BitSet::new(references.len());
            set.insert(path);
            for &r in refs {
                set.union_with(&deps[r]);
            }
            deps.push(set);
        }
        deps
    }

    /// A run's cost, straight from its definition.
    fn cost(run: &[usize], deps: &[BitSet], sizes: &[u64]) -> u64 {
        let mut union = BitSet::new(deps.len());
        for &path in run {
            union.union_with(&deps[path]);
        }
        run.iter()
            .map(|&path| sizes[path] * (union.len() - deps[path].len()))
            .sum()
    }

    /// a, b (on a), c (on a and b), d, e (on d), f (on a).
    fn families() -> (Vec<Vec<usize>>, Vec<u64>) {
        let references = vec![vec![], vec![0], vec![0, 1], vec![], vec![3], vec![0]];
        (references, vec![10, 5, 1, 100, 1, 5])
    }

    #[test]
    fn each_path_follows_the_dependency_with_the_largest_closure() {
        let (references, sizes) = families();
        let deps = closures(&references);
        // c follows b (closure 15 bytes) rather than a (10); a's children
        // go by index.
        let sequence = Sequence::new(&references, &deps, &sizes);
        assert_eq!(sequence.order, vec![0, 1, 2, 5, 3, 4]);
    }

    #[test]
    fn the_cheapest_cut_keeps_families_apart() {
        let (references, sizes) = families();
        let deps = closures(&references);
        let sequence = Sequence::new(&references, &deps, &sizes);
        // {a, b, c, f} costs 51 and {d, e} 100; every other cut into two
        // costs at least 337.
        let got = cut(&sequence, &deps, &sizes, 2, 6);
        assert_eq!(got, vec![vec![0, 1, 2, 5], vec![3, 4]]);
        assert_eq!(got.iter().map(|r| cost(r, &deps, &sizes)).sum::<u64>(), 151);
        // Runs of at most three paths leave one cut.
        let got = cut(&sequence, &deps, &sizes, 2, 3);
        assert_eq!(got, vec![vec![0, 1, 2], vec![5, 3, 4]]);
    }

    #[test]
    fn large_tables_are_refused() {
        assert_eq!(longest_run(10_000, 99), Some(405));
        assert_eq!(longest_run(100, 99), Some(16));
        assert_eq!(longest_run(100_000, 99), None);
    }

    /// The least total cost of cutting `order` into `runs` runs of at most
    /// `longest`, trying every cut.
    fn least_cost(
        order: &[usize],
        deps: &[BitSet],
        sizes: &[u64],
        runs: usize,
        longest: usize,
    ) -> Option<u64> {
        if runs == 0 {
            return order.is_empty().then_some(0);
        }
        (1..=longest.min(order.len()))
            .filter_map(|first| {
                let rest = least_cost(&order[first..], deps, sizes, runs - 1, longest)?;
                Some(cost(&order[..first], deps, sizes) + rest)
            })
            .min()
    }

    proptest! {
        #[test]
        fn every_run_cost_is_its_definition(
            (references, sizes, longest) in (1usize..200).prop_flat_map(|n| (
                (0..n).map(|path| proptest::sample::subsequence((0..path).collect::<Vec<_>>(), 0..=path.min(3))).collect::<Vec<_>>(),
                proptest::collection::vec(0u64..1000, n),
                1usize..8,
            )),
        ) {
            // Short runs make many blocks of rows, and runs that cross them;
            // over 64 paths, closures span several words.
            let deps = closures(&references);
            let sequence = Sequence::new(&references, &deps, &sizes);
            let costs = run_costs(&sequence, &deps, &sizes, longest);
            let width = longest + 1;
            prop_assert_eq!(costs.len(), (references.len() + 1) * width);
            for (row, cells) in costs.chunks(width).enumerate() {
                for (length, &got) in cells.iter().enumerate() {
                    let expected = if (1..=row).contains(&length) {
                        cost(&sequence.order[row - length..row], &deps, &sizes)
                    } else {
                        u64::MAX
                    };
                    prop_assert_eq!(got, expected, "row {} length {}", row, length);
                }
            }
        }

        #[test]
        fn the_cut_is_the_cheapest(
            (references, sizes, runs, longest) in (1usize..10).prop_flat_map(|n| (
                (0..n).map(|path| proptest::sample::subsequence((0..path).collect::<Vec<_>>(), 0..=path.min(3))).collect::<Vec<_>>(),
                proptest::collection::vec(0u64..1000, n),
                1..=n,
                1..=n,
            )),
        ) {
            let longest = longest.max(references.len().div_ceil(runs));
            let deps = closures(&references);
            let sequence = Sequence::new(&references, &deps, &sizes);
            let mut placed = sequence.order.clone();
            placed.sort_unstable();
            prop_assert_eq!(placed, (0..references.len()).collect::<Vec<_>>());
            for (at, &path) in sequence.order.iter().enumerate() {
                if let Some(parent) = sequence.parents[path] {
                    prop_assert!(sequence.order[..at].contains(&parent));
                }
            }

            let got = cut(&sequence, &deps, &sizes, runs, longest);
            prop_assert_eq!(got.len(), runs);
            prop_assert!(got.iter().all(|run| !run.is_empty() && run.len() <= longest));
            prop_assert_eq!(got.concat(), sequence.order.clone());
            let total: u64 = got.iter().map(|run| cost(run, &deps, &sizes)).sum();
            prop_assert_eq!(Some(total), least_cost(&sequence.order, &deps, &sizes, runs, longest));
        }
    }
}
