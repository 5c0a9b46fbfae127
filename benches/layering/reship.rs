//! Planning two versions and counting what the second re-sends: a layer is
//! re-sent when the old image had no layer with the same paths.

use std::collections::BTreeSet;

use strata::input::closure::{ClosureGraph, PathRecord};
use strata::input::spec::LayeringStrategy;
use strata::plan::layering::previous::{PreviousLayers, store_layers_keeping};
use strata::plan::layering::strategy::store_layers;

/// Layers of a closure: each a sorted list of (path, size). With
/// `previous`, the layers of the version before are kept.
pub fn layering(
    records: &[PathRecord],
    strategy: LayeringStrategy,
    budget: usize,
    previous: Option<&PreviousLayers>,
) -> Vec<Vec<(String, u64)>> {
    let graph = ClosureGraph::from_records(records.to_vec(), "/nix/store").unwrap();
    let helper: BTreeSet<usize> = (0..graph.len())
        .filter(|&i| graph.node(i).path.name() == "image-spec.json")
        .collect();
    match previous {
        Some(previous) => store_layers_keeping(&graph, strategy, &helper, budget, previous),
        None => store_layers(&graph, strategy, &helper, budget),
    }
    .unwrap()
    .into_iter()
    .map(|layer| {
        layer
            .paths
            .into_iter()
            .map(|i| {
                (
                    graph.node(i).path.to_string(),
                    graph.node(i).nar_size.unwrap(),
                )
            })
            .collect()
    })
    .collect()
}

/// A column of the tables: a strategy, planning each version afresh or
/// keeping the plan of the version before.
#[derive(Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub strategy: LayeringStrategy,
    pub keeps_old_plan: bool,
}

pub const COLUMNS: [Column; 4] = [
    Column {
        name: "popularity",
        strategy: LayeringStrategy::Popularity,
        keeps_old_plan: false,
    },
    Column {
        name: "auto",
        strategy: LayeringStrategy::Auto,
        keeps_old_plan: false,
    },
    Column {
        name: "stable",
        strategy: LayeringStrategy::Stable,
        keeps_old_plan: false,
    },
    Column {
        name: "stable, old plan kept",
        strategy: LayeringStrategy::Stable,
        keeps_old_plan: true,
    },
];

/// The old image under one column: its layers, and the plan a new version
/// may keep.
pub struct OldImage {
    pub layers: BTreeSet<Vec<(String, u64)>>,
    pub plan: PreviousLayers,
}

impl OldImage {
    pub fn new(layers: Vec<Vec<(String, u64)>>) -> Self {
        OldImage {
            plan: plan_of(&layers),
            layers: layers.into_iter().collect(),
        }
    }

    /// The layers of `v2` under `column`, planned after this image.
    pub fn next(
        &self,
        v2: &[PathRecord],
        column: Column,
        budget: usize,
    ) -> Vec<Vec<(String, u64)>> {
        let previous = column.keeps_old_plan.then_some(&self.plan);
        layering(v2, column.strategy, budget, previous)
    }
}

/// The plan of `layers` as a new version keeps it.
pub fn plan_of(layers: &[Vec<(String, u64)>]) -> PreviousLayers {
    let mut plan = PreviousLayers::default();
    for layer in layers {
        let names = layer
            .iter()
            .map(|(path, _)| path[44..].to_owned())
            .collect();
        plan.push(names, "");
    }
    plan
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// `v1` under each column, in the order of `COLUMNS`: the first version
/// has no plan before it.
pub fn old_layerings(v1: &[PathRecord], budget: usize) -> Vec<OldImage> {
    COLUMNS
        .into_iter()
        .map(|column| OldImage::new(layering(v1, column.strategy, budget, None)))
        .collect()
}

/// The bytes of `new`'s layers that `old` lacks: what a registry receives.
pub fn reshipped(old: &OldImage, new: &[Vec<(String, u64)>]) -> u64 {
    new.iter()
        .filter(|l| !old.layers.contains(*l))
        .map(|l| l.iter().map(|(_, s)| s).sum::<u64>())
        .sum()
}

/// Whether `shipped` meets the target of a change other than the
/// application's: within 1.5 times its `minimum`.
pub fn within_target(shipped: u64, minimum: u64) -> bool {
    shipped <= minimum + minimum / 2
}

/// `shipped` as a multiple of `minimum`, or a dash when nothing had to be.
pub fn ratio(shipped: u64, minimum: u64) -> String {
    if minimum == 0 {
        "—".to_owned()
    } else {
        format!("{:.2}", shipped as f64 / minimum as f64)
    }
}

/// The store paths of `v2` that `v1` lacks (the image's spec file aside).
pub fn new_paths<'a>(v1: &[PathRecord], v2: &'a [PathRecord]) -> Vec<&'a PathRecord> {
    let old: BTreeSet<&str> = v1.iter().map(|r| r.path.as_str()).collect();
    v2.iter()
        .filter(|r| !old.contains(r.path.as_str()) && !r.path.ends_with("image-spec.json"))
        .collect()
}

/// The bytes of `v2`'s paths that `v1` lacks.
pub fn minimum(v1: &[PathRecord], v2: &[PathRecord]) -> u64 {
    new_paths(v1, v2).iter().filter_map(|r| r.nar_size).sum()
}
