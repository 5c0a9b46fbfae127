//! How long each strategy takes to plan large closures.

use std::time::Instant;

use strata::input::closure::PathRecord;
use strata::input::spec::LayeringStrategy;

use crate::layering::graphs::{chain_closure, fan_closure, random_closure};
use crate::layering::reship::{COLUMNS, Column, old_layerings};

/// How long each strategy takes to plan `records`, described as `what`:
/// the least and the most of `rounds` plans.
pub fn timing(what: &str, records: &[PathRecord], rounds: usize) {
    let single = Column {
        name: "single",
        strategy: LayeringStrategy::Single,
        keeps_old_plan: false,
    };
    // Keeping a plan is timed against the closure's own plan.
    let olds = old_layerings(records, 99);
    let figures: Vec<String> = COLUMNS
        .into_iter()
        .zip(&olds)
        .chain([(single, &olds[0])])
        .map(|(column, old)| {
            let (mut least, mut most, mut count) = (f64::MAX, 0f64, 0);
            for _ in 0..rounds.max(1) {
                let started = Instant::now();
                count = old.next(records, column, 99).len();
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                (least, most) = (least.min(ms), most.max(ms));
            }
            let time = if rounds > 1 {
                format!("{least:.0} to {most:.0} ms")
            } else {
                format!("{least:.0} ms")
            };
            format!(
                "{} {time} ({count} {})",
                column.name,
                if count == 1 { "layer" } else { "layers" }
            )
        })
        .collect();
    let times = if rounds > 1 {
        format!(" ({rounds} rounds)")
    } else {
        String::new()
    };
    println!("Planning {what}, budget 99{times}: {}.", figures.join("; "));
}

/// Times every strategy on closures of 10 000 paths, `rounds` times each:
/// two random graphs, a sparser and a denser one, then the deepest and the
/// widest graph.
pub fn timings(seed: u64, rounds: usize) {
    const PATHS: usize = 10_000;
    for most_references in [6, 20] {
        let records = random_closure(PATHS, seed, most_references);
        let references: usize = records.iter().map(|r| r.references.len()).sum();
        timing(
            &format!(
                "{PATHS} store paths ({:.1} references each on average)",
                references as f64 / PATHS as f64
            ),
            &records,
            rounds,
        );
    }
    timing(
        &format!("a chain of {PATHS} store paths, each referring to the next"),
        &chain_closure(PATHS, seed),
        rounds,
    );
    timing(
        &format!("{PATHS} store paths, one root over the others, which all refer to one library"),
        &fan_closure(PATHS, seed),
        rounds,
    );
}
