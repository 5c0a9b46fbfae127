//! The tables the benchmark prints.

use std::collections::BTreeSet;

use crate::layering::installed_store::{BuiltStore, Described};
use crate::layering::package_sets::Universe;
use crate::layering::reship::{COLUMNS, Column, mib, minimum, old_layerings, ratio, reshipped};

pub fn report(
    title: &str,
    base: &Universe,
    cases: &[(String, Universe)],
    budget: usize,
    app: &str,
    detail: bool,
) {
    let mut details = String::new();
    let v1 = base.closure();
    let total: u64 = v1.iter().filter_map(|r| r.nar_size).sum();
    println!(
        "### {title}: {} store paths, {:.0} MiB\n",
        v1.len() - 1,
        mib(total)
    );
    print_head(
        "change | minimum (MiB)",
        &["re-shipped (MiB)", "× minimum", "layers", "largest (MiB)"],
    );
    let mut totals = [0u64; COLUMNS.len()];
    let mut total_minimum = 0;
    let olds = old_layerings(&v1, budget);
    let old_paths: BTreeSet<&str> = v1.iter().map(|r| r.path.as_str()).collect();
    for (name, universe) in cases {
        let v2 = universe.closure();
        let minimum = minimum(&v1, &v2);
        total_minimum += minimum;
        print!("| {name} | {:.1} |", mib(minimum));
        for (index, (column, old)) in COLUMNS.into_iter().zip(&olds).enumerate() {
            let new = old.next(&v2, column, budget);
            let shipped = reshipped(old, &new);
            totals[index] += shipped;
            let largest = new
                .iter()
                .map(|l| l.iter().map(|(_, s)| s).sum::<u64>())
                .max()
                .unwrap_or(0);
            if detail {
                for layer in new.iter().filter(|l| !old.layers.contains(*l)) {
                    let (changed, kept): (Vec<_>, Vec<_>) = layer
                        .iter()
                        .partition(|(p, _)| !old_paths.contains(p.as_str()));
                    let sum = |v: &Vec<&(String, u64)>| mib(v.iter().map(|(_, s)| s).sum());
                    details.push_str(&format!(
                        "{name} / {}: layer of {} paths, {:.1} MiB changed, {:.1} MiB unchanged ({})\n",
                        column.name,
                        layer.len(),
                        sum(&changed),
                        sum(&kept),
                        kept.iter().take(4).map(|(p, _)| &p[44..]).collect::<Vec<_>>().join(" ")
                    ));
                }
            }
            let ratio = ratio(shipped, minimum);
            print!(
                " {:.1} | {ratio} | {} | {:.1} |",
                mib(shipped),
                new.len(),
                mib(largest)
            );
        }
        println!();
    }
    print_totals(total_minimum, &totals, 2);
    println!();
    if let Some(app) = base.packages.get(app) {
        println!("\nThe application's own size: {:.1} MiB.\n", mib(app.size));
    } else {
        println!();
    }
    print!("{details}");
}

/// The single cases of `base`, a set of installed Debian packages, on real
/// images: each store path a directory of its packages' files, each image
/// described by strata (layers hashed, uncompressed), and what a registry
/// receives counted by the digests of the layers.
pub fn report_built(base: &Universe, cases: &[(String, Universe)], budget: usize) {
    let work = tempfile::tempdir().unwrap();
    let mut store = BuiltStore::new(work.path());
    let v1 = store.closure(base);
    let bytes: u64 = v1.iter().filter_map(|r| r.nar_size).sum();
    println!(
        "### This machine's Debian packages, built from their files: {} store paths, {:.0} MiB of files\n",
        v1.len(),
        mib(bytes)
    );
    print_head(
        "change | minimum (MiB)",
        &["re-shipped (MiB)", "× minimum", "layers re-shipped"],
    );
    // The old image is planned afresh in every column: one description per
    // strategy.
    let mut olds: Vec<Described> = Vec::new();
    for column in COLUMNS {
        let described = COLUMNS
            .iter()
            .zip(&olds)
            .find(|(earlier, _)| earlier.strategy == column.strategy)
            .map(|(_, old)| old.clone());
        olds.push(described.unwrap_or_else(|| store.describe(&v1, column.strategy, budget, None)));
    }
    let (mut totals, mut total_minimum) = ([0u64; COLUMNS.len()], 0);
    let (mut agreeing, mut compared) = (0, 0);
    for (name, universe) in cases {
        let v2 = store.closure(universe);
        let minimum = store.minimum(&v1, &v2);
        total_minimum += minimum;
        print!("| {name} | {:.1} |", mib(minimum));
        for (index, (column, old)) in COLUMNS.into_iter().zip(&olds).enumerate() {
            let previous = column.keeps_old_plan.then_some(old.file.as_path());
            let new = store.describe(&v2, column.strategy, budget, previous);
            // Each layer: whether its digest is new, and whether its paths.
            let new_by: Vec<(bool, bool)> = new
                .layers
                .iter()
                .map(|(digest, _, paths)| {
                    (
                        !old.layers.iter().any(|l| l.0 == *digest),
                        !old.layers.iter().any(|l| l.2 == *paths),
                    )
                })
                .collect();
            compared += 1;
            agreeing += usize::from(new_by.iter().all(|(digest, paths)| digest == paths));
            let sent: Vec<u64> = new
                .layers
                .iter()
                .zip(&new_by)
                .filter(|(_, (digest, _))| *digest)
                .map(|(layer, _)| layer.1)
                .collect();
            let shipped: u64 = sent.iter().sum();
            totals[index] += shipped;
            print!(
                " {:.1} | {} | {} of {} |",
                mib(shipped),
                ratio(shipped, minimum),
                sent.len(),
                new.layers.len()
            );
        }
        println!();
    }
    print_totals(total_minimum, &totals, 1);
    println!(
        "\n\nLayers re-shipped (new digests) are the layers with paths the old image had in no layer, in {agreeing} of {compared} comparisons.\n"
    );
}

/// The head of a table with a group of cells per column: `lead` the first
/// two cells' titles, `group` each column's own.
pub fn print_head(lead: &str, group: &[&str]) {
    print!("| {lead} |");
    for Column { name, .. } in COLUMNS {
        print!(" {name}: {} |", group.join(" | "));
    }
    println!();
    println!("|---|---:|{}", "---:|".repeat(group.len() * COLUMNS.len()));
}

/// The row of the five single cases together: each column's total and its
/// ratio to the minimum, then `blanks` empty cells.
pub fn print_totals(minimum: u64, totals: &[u64], blanks: usize) {
    print!("| all five | {:.1} |", mib(minimum));
    for &total in totals {
        print!(
            " **{:.1}** | {} |{}",
            mib(total),
            ratio(total, minimum),
            " |".repeat(blanks)
        );
    }
}
