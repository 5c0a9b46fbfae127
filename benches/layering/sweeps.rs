//! Each kind of change swept over many packages, versions shipped one after
//! another, and the single cases judged on several generated graphs.

use strata::input::closure::PathRecord;

use crate::layering::changes::{add_package, cases};
use crate::layering::package_sets::{Universe, synthetic_universe};
use crate::layering::report::print_head;
use crate::layering::reship::{
    COLUMNS, Column, OldImage, layering, mib, minimum, old_layerings, ratio, reshipped,
    within_target,
};

/// The short name of the sweep's library changes.
pub const LIBRARIES_CHANGED: &str = "libraries changed";

/// One kind of change of a sweep: each change's minimum and what each
/// column re-shipped for it.
pub struct SweepKind {
    pub title: String,
    /// The kind without its count, for sums over several graphs.
    pub short: &'static str,
    pub minimums: Vec<u64>,
    /// Per column, in the order of `COLUMNS`, the bytes each change
    /// re-shipped.
    pub shipped: Vec<Vec<u64>>,
}

impl SweepKind {
    /// How many changes meet `test` (re-shipped bytes, minimum).
    pub fn count(&self, shipped: &[u64], test: impl Fn(u64, u64) -> bool) -> usize {
        shipped
            .iter()
            .zip(&self.minimums)
            .filter(|&(&s, &m)| test(s, m))
            .count()
    }
}

/// The same kinds of change over many packages rather than one, so that a
/// strategy is not judged by where one package happens to land: every
/// top-level package removed in turn, 24 packages of various sizes added in
/// turn (on existing dependencies only, then each with new libraries of its
/// own), every package with 2 to 60 dependents changed in turn, and an
/// addition and a removal at eight top-level counts. The titles name each
/// kind with its count.
pub fn sweep_totals(base: &Universe, budget: usize) -> Vec<SweepKind> {
    let v1 = base.closure();
    let removals: Vec<Universe> = base
        .top_level
        .iter()
        .map(|removed| {
            let mut u = base.clone();
            u.top_level.retain(|t| t != removed);
            u
        })
        .collect();
    let added = |i: u64, model: u64, new_libraries: u64| {
        let mut u = base.clone();
        add_package(&mut u, base, i, model, new_libraries);
        u
    };
    let additions: Vec<Universe> = (0..24).map(|i| added(i, i, 0)).collect();
    // As a removal takes away the dependencies only that package had, an
    // addition often brings some of its own.
    let additions_with_libraries: Vec<Universe> =
        (0..24).map(|i| added(i, 24 + i, 1 + i % 3)).collect();
    let libraries: Vec<Universe> = base
        .packages
        .keys()
        .filter(|p| (2..=60).contains(&base.dependents(p).len()))
        .map(|p| {
            let mut u = base.clone();
            u.packages.get_mut(p).unwrap().version += 1;
            u
        })
        .collect();
    let olds = old_layerings(&v1, budget);
    let kinds = [
        (
            format!(
                "every top-level package removed in turn ({})",
                removals.len()
            ),
            removals,
            "top-level packages removed",
        ),
        (
            format!(
                "a package added, {} variants (0.25 to 8 MiB)",
                additions.len()
            ),
            additions,
            "packages added",
        ),
        (
            format!(
                "a package added with 1 to 3 new libraries of its own, {} variants",
                additions_with_libraries.len()
            ),
            additions_with_libraries,
            "packages added with new libraries",
        ),
        (
            format!(
                "every package with 2 to 60 dependents changed in turn ({})",
                libraries.len()
            ),
            libraries,
            LIBRARIES_CHANGED,
        ),
    ];
    let mut kinds: Vec<SweepKind> = kinds
        .into_iter()
        .map(|(title, universes, short)| {
            let closures: Vec<Vec<PathRecord>> = universes.iter().map(Universe::closure).collect();
            let minimums: Vec<u64> = closures.iter().map(|v2| minimum(&v1, v2)).collect();
            let shipped = COLUMNS
                .into_iter()
                .zip(&olds)
                .map(|(column, old)| {
                    closures
                        .iter()
                        .map(|v2| reshipped(old, &old.next(v2, column, budget)))
                        .collect()
                })
                .collect();
            SweepKind {
                title,
                short,
                minimums,
                shipped,
            }
        })
        .collect();
    kinds.extend(at_top_level_counts(base, budget));
    kinds
}

/// An addition and a removal at eight top-level counts in a row: the image
/// less its first 0 to 7 top-level packages (by name) gets a package, or
/// loses its next one. Where the layers a strategy keeps for top-level
/// packages step with their count, one count alone lands on a step or not
/// by chance.
pub fn at_top_level_counts(base: &Universe, budget: usize) -> Vec<SweepKind> {
    let mut tops = base.top_level.clone();
    tops.sort();
    let counts = tops.len().saturating_sub(1).min(8);
    [
        (true, "a package added", "packages added at 8 counts"),
        (
            false,
            "a top-level package removed",
            "top-level packages removed at 8 counts",
        ),
    ]
    .into_iter()
    .map(|(adding, what, short)| {
        let mut shipped = vec![Vec::new(); COLUMNS.len()];
        let mut minimums = Vec::new();
        for k in 0..counts {
            let mut v1 = base.clone();
            v1.top_level.retain(|t| !tops[..k].contains(t));
            let mut v2 = v1.clone();
            if adding {
                add_package(&mut v2, &v1, k as u64, k as u64, 0);
            } else {
                v2.top_level.retain(|t| *t != tops[k]);
            }
            let (v1, v2) = (v1.closure(), v2.closure());
            minimums.push(minimum(&v1, &v2));
            let olds = old_layerings(&v1, budget);
            for (index, (column, old)) in COLUMNS.into_iter().zip(&olds).enumerate() {
                shipped[index].push(reshipped(old, &old.next(&v2, column, budget)));
            }
        }
        SweepKind {
            title: format!(
                "{what}, at {counts} top-level counts ({} to {} top-level packages)",
                tops.len() + 1 - counts,
                tops.len()
            ),
            short,
            minimums,
            shipped,
        }
    })
    .collect()
}

/// Versions of an image one after another, as a user ships them: 24
/// packages with new libraries added, each version one more, and 24
/// top-level packages removed (all but one, when there are fewer), each
/// version one fewer. Each column plans each version after the one before
/// (keeping its plan, where it does).
pub fn in_a_row(base: &Universe, budget: usize) -> Vec<SweepKind> {
    let mut growing = vec![base.clone()];
    for i in 0..24u64 {
        let mut next = growing.last().unwrap().clone();
        add_package(&mut next, base, i, 24 + i, 1 + i % 3);
        growing.push(next);
    }
    let removals = base.top_level.len().saturating_sub(1).min(24);
    let mut shrinking = vec![base.clone()];
    for _ in 0..removals {
        let mut next = shrinking.last().unwrap().clone();
        next.top_level.remove(0);
        shrinking.push(next);
    }
    [
        (
            "24 packages with new libraries added, one version after another".to_owned(),
            "packages with new libraries added, one version after another",
            growing,
        ),
        (
            format!("{removals} top-level packages removed, one version after another"),
            "top-level packages removed, one version after another",
            shrinking,
        ),
    ]
    .into_iter()
    .map(|(title, short, versions)| {
        let closures: Vec<Vec<PathRecord>> = versions.iter().map(Universe::closure).collect();
        let minimums: Vec<u64> = closures.windows(2).map(|w| minimum(&w[0], &w[1])).collect();
        let shipped = COLUMNS
            .into_iter()
            .map(|column| {
                let mut old = OldImage::new(layering(&closures[0], column.strategy, budget, None));
                let mut shipped = Vec::new();
                for v2 in &closures[1..] {
                    let new = old.next(v2, column, budget);
                    shipped.push(reshipped(&old, &new));
                    old = OldImage::new(new);
                }
                shipped
            })
            .collect();
        SweepKind {
            title,
            short,
            minimums,
            shipped,
        }
    })
    .collect()
}

/// The generated set's five single cases on graphs of several seeds, each
/// judged against its target: the application change within 5% of the
/// application's size, every other within 1.5× of the minimum. One graph's
/// cases land well or badly by chance; this shows how often they land well.
/// `measured` is one seed's sweep, already measured.
pub fn seeds(count: u64, budget: usize, (measured_seed, measured_sweep): (u64, Vec<SweepKind>)) {
    const LABELS: [&str; 5] = [
        "application",
        "mid-level library",
        "leaf library",
        "added",
        "removed",
    ];
    if count == 0 {
        return;
    }
    println!("#### The single cases on {count} generated graphs\n");
    println!(
        "| seed | strategy | application (× its size) | lib5 (× minimum) | libc (× minimum) | added (× minimum) | tool7 removed (MiB) | targets met |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    let mut met = [[0u64; 5]; COLUMNS.len()];
    let mut sweeps: Vec<SweepKind> = Vec::new();
    let mut measured_sweep = Some(measured_sweep);
    for seed in 1..=count {
        let base = synthetic_universe(seed);
        let kinds = match measured_sweep.take_if(|_| seed == measured_seed) {
            Some(kinds) => kinds,
            None => sweep_totals(&base, budget),
        };
        for (index, kind) in kinds.into_iter().enumerate() {
            let Some(sum) = sweeps.get_mut(index) else {
                sweeps.push(kind);
                continue;
            };
            sum.minimums.extend(kind.minimums);
            for (total, shipped) in sum.shipped.iter_mut().zip(kind.shipped) {
                total.extend(shipped);
            }
        }
        let v1 = base.closure();
        let app_size = base.packages["app"].size;
        let changed: Vec<Vec<PathRecord>> = cases(&base, "app", "lib5", "libc", "tool7")
            .iter()
            .map(|(_, universe)| universe.closure())
            .collect();
        let olds = old_layerings(&v1, budget);
        for (index, (column, old)) in COLUMNS.into_iter().zip(&olds).enumerate() {
            let mut cells = Vec::new();
            let mut met_here = 0;
            for (case, v2) in changed.iter().enumerate() {
                let shipped = reshipped(old, &old.next(v2, column, budget));
                let (reference, met_target) = if case == 0 {
                    (app_size, shipped <= app_size + app_size / 20)
                } else {
                    let minimum = minimum(&v1, v2);
                    (minimum, within_target(shipped, minimum))
                };
                if met_target {
                    met[index][case] += 1;
                    met_here += 1;
                }
                cells.push(if reference == 0 {
                    format!("{:.1}", mib(shipped))
                } else {
                    ratio(shipped, reference)
                });
            }
            println!(
                "| {seed} | {} | {} | {met_here} of 5 |",
                column.name,
                cells.join(" | ")
            );
        }
    }
    println!("\nTargets met over the {count} graphs:\n");
    println!("| strategy | {} | all |", LABELS.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(LABELS.len()));
    for (index, Column { name, .. }) in COLUMNS.into_iter().enumerate() {
        let cells: Vec<String> = met[index]
            .iter()
            .map(|m| format!("{m} of {count}"))
            .collect();
        let all: u64 = met[index].iter().sum();
        println!(
            "| {name} | {} | {all} of {} |",
            cells.join(" | "),
            5 * count
        );
    }
    println!("\nThe sweeps on the {count} graphs, summed:\n");
    for sum in &mut sweeps {
        sum.title = format!("{}, {} in all", sum.short, sum.minimums.len());
    }
    print_sweep_and_libraries(&sweeps);
}

/// A table of sweep results, one row per kind of change.
pub fn print_sweep(kinds: &[SweepKind]) {
    print_head(
        "changes | minimum, total (MiB)",
        &[
            "re-shipped, total (MiB)",
            "× minimum",
            "nothing extra",
            "within 1.5×",
        ],
    );
    for kind in kinds {
        let changes = kind.minimums.len();
        let minimum: u64 = kind.minimums.iter().sum();
        print!("| {} | {:.1} |", kind.title, mib(minimum));
        for shipped in &kind.shipped {
            let total: u64 = shipped.iter().sum();
            let exact = kind.count(shipped, |s, m| s <= m);
            let within = kind.count(shipped, within_target);
            print!(
                " {:.1} | {} | {exact} of {changes} | {within} of {changes} |",
                mib(total),
                ratio(total, minimum)
            );
        }
        println!();
    }
    println!();
}

/// A sweep table, then how many of its library changes re-ship no more than
/// 1.5 times their minimum, by the size of that minimum: small changes are
/// where a shared layer costs most.
pub fn print_sweep_and_libraries(kinds: &[SweepKind]) {
    const BANDS: [(u64, u64); 4] = [(0, 8), (8, 32), (32, 128), (128, u64::MAX)];
    print_sweep(kinds);
    let Some(kind) = kinds.iter().find(|k| k.short == LIBRARIES_CHANGED) else {
        return;
    };
    print_head("library changes, by minimum | changes", &["within 1.5×"]);
    for (low, high) in BANDS {
        let in_band = |m: u64| (low << 20..high.saturating_mul(1 << 20)).contains(&m);
        let band = if high == u64::MAX {
            format!("{low} MiB or more")
        } else {
            format!("{low} to {high} MiB")
        };
        let count = kind.minimums.iter().filter(|&&m| in_band(m)).count();
        print!("| {band} | {count} |");
        for shipped in &kind.shipped {
            let within = kind.count(shipped, |s, m| in_band(m) && within_target(s, m));
            print!(" {within} of {count} |");
        }
        println!();
    }
    println!();
}
