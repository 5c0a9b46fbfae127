//! Layering stability: what a registry receives again when one package of an
//! image changes.
//!
//!   cargo bench --bench stability [-- --seed 1 --seeds 8 --budget 99 --detail --metapackage gnome]
//!
//! A layer's bytes are a function of its sorted store paths, so a layer of
//! the new image is re-shipped exactly when no layer of the old image had the
//! same paths. Package graphs get Nix's hashing: a package's store path
//! changes when it or anything it depends on changes. For each case the
//! benchmark prints the unavoidable minimum (the new image's paths the old
//! one did not have) and, per strategy, the bytes re-shipped, the layer count
//! and the largest layer; one column plans the new image keeping the old
//! image's plan. The installed Debian packages' cases are then built for
//! real, from the packages' files, and what is re-shipped is counted by the
//! digests of the layers strata hashes. Then it sweeps each kind of change
//! over many packages, ships versions one after another, and judges the
//! single cases against their targets on several generated graphs, since
//! one graph's cases land well or badly by chance.

mod layering;
mod rng;

use clap::Parser;

use layering::changes::{cases, debian_cases};
use layering::debian::{debian_archive_universe, debian_universe};
use layering::package_sets::{Universe, synthetic_universe};
use layering::report::{report, report_built};
use layering::sweeps::{in_a_row, print_sweep, print_sweep_and_libraries, seeds, sweep_totals};
use layering::timings::timings;

#[derive(Parser)]
struct Args {
    /// Seed of the generated package graph
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Generated graphs (seeds 1 to this) over which the single cases are
    /// judged against the targets
    #[arg(long, default_value_t = 8)]
    seeds: u64,
    /// Layers for store paths (maxLayers less the customisation layer)
    #[arg(long, default_value_t = 99)]
    budget: usize,
    /// Also list, per strategy and case, the re-shipped layers with their
    /// changed and unchanged bytes
    #[arg(long)]
    detail: bool,
    /// The metapackage of the Debian archive whose closure is the large
    /// real package set
    #[arg(long, default_value = "gnome")]
    metapackage: String,
    /// Only time the planning of closures of 10 000 paths
    #[arg(long)]
    timings_only: bool,
    /// Times each strategy plans each of those closures (the least and the
    /// most are printed)
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Accepted for `cargo bench`, which passes it
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    if args.timings_only {
        timings(args.seed, args.rounds);
        return;
    }
    let synthetic = synthetic_universe(args.seed);
    let cases_synthetic = cases(&synthetic, "app", "lib5", "libc", "tool7");
    report(
        &format!("Generated package set (seed {})", args.seed),
        &synthetic,
        &cases_synthetic,
        args.budget,
        "app",
        args.detail,
    );

    let sets = [
        (
            "This machine's Debian packages (real sizes and dependencies)".to_owned(),
            "Debian packages".to_owned(),
            debian_universe(),
        ),
        (
            format!(
                "The Debian archive's `{}` (real sizes and dependencies)",
                args.metapackage
            ),
            format!("The `{}` closure", args.metapackage),
            debian_archive_universe(&args.metapackage),
        ),
    ];
    let set_cases: Vec<(String, Vec<(String, Universe)>)> = sets
        .iter()
        .map(|(title, _, set)| debian_cases(title, set))
        .collect();
    for ((title, _, set), (app, cases)) in sets.iter().zip(&set_cases) {
        report(title, set, cases, args.budget, app, args.detail);
    }
    // The installed set's cases again, built from real files.
    report_built(&sets[0].2, &set_cases[0].1, args.budget);
    println!("#### Many changes of each kind\n");
    println!("Generated package set:\n");
    let synthetic_sweep = sweep_totals(&synthetic, args.budget);
    print_sweep_and_libraries(&synthetic_sweep);
    for (_, short, set) in &sets {
        println!("{short}:\n");
        print_sweep_and_libraries(&sweep_totals(set, args.budget));
    }
    println!("#### Versions one after another\n");
    println!("Generated package set:\n");
    print_sweep(&in_a_row(&synthetic, args.budget));
    for (_, short, set) in &sets {
        println!("{short}:\n");
        print_sweep(&in_a_row(set, args.budget));
    }
    seeds(args.seeds, args.budget, (args.seed, synthetic_sweep));
    timings(args.seed, args.rounds);
}
