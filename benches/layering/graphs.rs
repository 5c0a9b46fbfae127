//! The closures of 10 000 paths whose planning is timed: random, a chain
//! and a fan.

use strata::input::closure::PathRecord;

use crate::layering::package_sets::store_path;
use crate::rng::Rng;

/// A closure of `paths` paths with random sizes (below 50 MiB), each
/// referring to up to `most_references - 1` random paths after it.
pub fn random_closure(paths: usize, seed: u64, most_references: u64) -> Vec<PathRecord> {
    let mut rng = Rng::new(seed);
    let mut records = sized_records(paths, seed, &mut rng);
    for i in 0..paths {
        let refs: Vec<String> = (0..rng.below(most_references))
            .filter_map(|_| {
                let j = i + 1 + rng.below((paths - i).max(1) as u64) as usize;
                (j < paths).then(|| records[j].path.clone())
            })
            .collect();
        records[i].references = refs;
    }
    records
}

/// A chain of `paths` paths, each referring to the next: the deepest graph.
pub fn chain_closure(paths: usize, seed: u64) -> Vec<PathRecord> {
    let mut records = sized_records(paths, seed, &mut Rng::new(seed));
    for i in 1..paths {
        records[i - 1].references = vec![records[i].path.clone()];
    }
    records
}

/// One root referring to `paths - 2` paths that all refer to one library:
/// the widest graph.
pub fn fan_closure(paths: usize, seed: u64) -> Vec<PathRecord> {
    let mut records = sized_records(paths, seed, &mut Rng::new(seed));
    let library = records[paths - 1].path.clone();
    for record in &mut records[1..paths - 1] {
        record.references = vec![library.clone()];
    }
    records[0].references = records[1..paths - 1]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    records
}

/// `paths` paths named `p0`, `p1`, … with random sizes below 50 MiB and no
/// references yet.
pub fn sized_records(paths: usize, seed: u64, rng: &mut Rng) -> Vec<PathRecord> {
    (0..paths)
        .map(|i| PathRecord {
            nar_hash: None,
            path: store_path(&format!("{seed}-{i}"), &format!("p{i}")),
            nar_size: Some(rng.below(50 << 20)),
            references: Vec::new(),
        })
        .collect()
}
