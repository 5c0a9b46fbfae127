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

mod installed_store;
mod rng;

use installed_store::BuiltStore;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use clap::Parser;
use rng::Rng;
use strata::input::closure::{ClosureGraph, PathRecord};
use strata::input::spec::LayeringStrategy;
use strata::plan::layering::previous::PreviousLayers;
use strata::plan::layering::previous::store_layers_keeping;
use strata::plan::layering::strategy::store_layers;

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

/// A package: what its store path's hash derives from.
#[derive(Clone, Debug)]
struct Package {
    name: String,
    version: u32,
    size: u64,
    deps: Vec<String>,
    /// The Debian packages it stands for (several when they depend on each
    /// other in a cycle); none for a generated package.
    members: Vec<String>,
}

impl Package {
    /// Version 1 of a package.
    fn new(name: String, size: u64, deps: Vec<String>) -> Self {
        Package {
            name,
            version: 1,
            size,
            deps,
            members: Vec::new(),
        }
    }
}

/// A set of packages and the image's top-level ones.
#[derive(Clone)]
struct Universe {
    packages: BTreeMap<String, Package>,
    top_level: Vec<String>,
}

impl Universe {
    /// The image's closure, as Nix would export it: store paths hashed from
    /// their package and their dependencies' paths, plus the image's spec
    /// file, which refers to the top-level packages.
    fn closure(&self) -> Vec<PathRecord> {
        let mut paths: BTreeMap<String, String> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut stack: Vec<(String, bool)> =
            self.top_level.iter().map(|t| (t.clone(), false)).collect();
        while let Some((name, expanded)) = stack.pop() {
            if paths.contains_key(&name) {
                continue;
            }
            let package = &self.packages[&name];
            if !expanded {
                stack.push((name.clone(), true));
                for dep in &package.deps {
                    if !paths.contains_key(dep) {
                        stack.push((dep.clone(), false));
                    }
                }
                continue;
            }
            let mut seed = format!("{}-{}", package.name, package.version);
            for dep in &package.deps {
                seed.push_str(&paths[dep]);
            }
            let versioned = format!("{}-{}", package.name, package.version);
            paths.insert(name.clone(), store_path(&seed, &versioned));
            order.push(name);
        }
        let mut records: Vec<PathRecord> = order
            .iter()
            .map(|name| {
                let package = &self.packages[name];
                PathRecord {
                    nar_hash: None,
                    path: paths[name].clone(),
                    nar_size: Some(package.size),
                    references: package.deps.iter().map(|d| paths[d].clone()).collect(),
                }
            })
            .collect();
        let spec_refs: Vec<String> = self.top_level.iter().map(|t| paths[t].clone()).collect();
        records.push(PathRecord {
            nar_hash: None,
            path: store_path(&spec_refs.concat(), "image-spec.json"),
            nar_size: Some(2048),
            references: spec_refs,
        });
        records
    }

    /// Every package that depends on `name`, directly or not.
    fn dependents(&self, name: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut changed = true;
        while changed {
            changed = false;
            for package in self.packages.values() {
                if !found.contains(&package.name)
                    && package.deps.iter().any(|d| d == name || found.contains(d))
                {
                    found.insert(package.name.clone());
                    changed = true;
                }
            }
        }
        found
    }
}

/// A store path whose hash part is derived from `seed`.
fn store_path(seed: &str, name: &str) -> String {
    const NIXBASE32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
    let mut rng = Rng::new(seed.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    }));
    let hash: String = (0..32)
        .map(|_| NIXBASE32[rng.below(32) as usize] as char)
        .collect();
    format!("/nix/store/{hash}-{name}")
}

/// A realistic synthetic package set, about 1 GiB: a libc everything uses,
/// core and shared libraries, a few large runtimes, tools, and the
/// application on top, which has private dependencies of its own.
fn synthetic_universe(seed: u64) -> Universe {
    let mut rng = Rng::new(seed);
    let mut packages = BTreeMap::new();
    let mut add = |name: String, size: u64, deps: Vec<String>| {
        packages.insert(name.clone(), Package::new(name, size, deps));
    };
    let mib = |n: u64| n << 20;
    add("libc".into(), mib(30), vec![]);
    let core: Vec<String> = (0..15).map(|i| format!("core{i}")).collect();
    for name in &core {
        add(
            name.clone(),
            mib(1) + rng.below(mib(6)),
            vec!["libc".into()],
        );
    }
    let libs: Vec<String> = (0..120).map(|i| format!("lib{i}")).collect();
    for (i, name) in libs.iter().enumerate() {
        let mut deps = vec!["libc".to_owned(), core[rng.below(15) as usize].clone()];
        for _ in 0..rng.below(3) {
            if i > 0 {
                deps.push(libs[rng.below(i as u64) as usize].clone());
            }
        }
        deps.sort();
        deps.dedup();
        add(name.clone(), 64 << 10 | rng.below(mib(4)), deps);
    }
    let runtimes = ["python", "llvm", "jdk", "node"];
    for (i, name) in runtimes.iter().enumerate() {
        let deps = vec![
            "libc".to_owned(),
            libs[i * 7].clone(),
            libs[i * 11 + 3].clone(),
        ];
        add(name.to_string(), mib(60 + 40 * i as u64), deps);
    }
    let tools: Vec<String> = (0..100).map(|i| format!("tool{i}")).collect();
    for name in &tools {
        let mut deps = vec!["libc".to_owned()];
        for _ in 0..1 + rng.below(4) {
            deps.push(libs[rng.below(libs.len() as u64) as usize].clone());
        }
        if rng.below(4) == 0 {
            deps.push(runtimes[rng.below(4) as usize].to_owned());
        }
        deps.sort();
        deps.dedup();
        add(name.clone(), 32 << 10 | rng.below(mib(3)), deps);
    }
    // The application: a package of the user's, with private dependencies.
    let private: Vec<String> = (0..20).map(|i| format!("app-dep{i}")).collect();
    for name in &private {
        add(
            name.clone(),
            rng.below(mib(8)),
            vec!["libc".into(), libs[rng.below(120) as usize].clone()],
        );
    }
    let mut app_deps = private.clone();
    app_deps.extend([
        "python".to_owned(),
        libs[5].clone(),
        libs[17].clone(),
        core[3].clone(),
    ]);
    add("app".into(), mib(25), app_deps);
    add("busybox".into(), mib(1), vec![]);
    let mut top_level = vec!["app".to_owned(), "busybox".to_owned()];
    top_level.extend(tools.iter().take(60).cloned());
    Universe {
        packages,
        top_level,
    }
}

/// Debian package records (`Package`, `Installed-Size`, `Pre-Depends`,
/// `Depends`, `Provides`), as dpkg's status file and apt's index hold them.
struct DebianRecords {
    /// Size and dependencies (each a list of alternatives), by name; the
    /// first record of a name counts.
    packages: BTreeMap<String, (u64, Vec<Vec<String>>)>,
    /// For each virtual name, the first package that provides it.
    provides: BTreeMap<String, String>,
}

impl DebianRecords {
    /// The records of `text` for which `keep` holds; `keep` is given a
    /// record's field lookup.
    fn parse(text: &str, keep: impl Fn(&dyn Fn(&str) -> Option<String>) -> bool) -> Self {
        let mut records = DebianRecords {
            packages: BTreeMap::new(),
            provides: BTreeMap::new(),
        };
        for paragraph in text.split("\n\n") {
            let field = |key: &str| {
                paragraph
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{key}: ")))
                    .map(str::to_owned)
            };
            let Some(name) = field("Package") else {
                continue;
            };
            if records.packages.contains_key(&name) || !keep(&field) {
                continue;
            }
            let size = field("Installed-Size")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024;
            let mut deps = Vec::new();
            for key in ["Pre-Depends", "Depends"] {
                for item in field(key).unwrap_or_default().split(',') {
                    let alternatives: Vec<String> = item
                        .split('|')
                        .map(|a| {
                            a.trim()
                                .split([' ', '(', ':'])
                                .next()
                                .unwrap_or("")
                                .to_owned()
                        })
                        .filter(|a| !a.is_empty())
                        .collect();
                    if !alternatives.is_empty() {
                        deps.push(alternatives);
                    }
                }
            }
            for provided in field("Provides").unwrap_or_default().split(',') {
                let provided = provided.trim().split([' ', '(']).next().unwrap_or("");
                if !provided.is_empty() {
                    records
                        .provides
                        .entry(provided.to_owned())
                        .or_insert_with(|| name.clone());
                }
            }
            records.packages.insert(name, (size.max(4096), deps));
        }
        records
    }

    /// The package that meets a dependency: its first alternative that is a
    /// package, or else is provided by one.
    fn resolve(&self, alternatives: &[String]) -> Option<String> {
        alternatives.iter().find_map(|a| {
            if self.packages.contains_key(a) {
                Some(a.clone())
            } else {
                self.provides.get(a).cloned()
            }
        })
    }

    /// The packages `name` depends on, resolved.
    fn dependencies(&self, name: &str) -> Vec<String> {
        let mut resolved: Vec<String> = self.packages[name]
            .1
            .iter()
            .filter_map(|alternatives| self.resolve(alternatives))
            .filter(|d| d != name)
            .collect();
        resolved.sort();
        resolved.dedup();
        resolved
    }

    /// A package set of `selected` (closed under dependencies) whose image
    /// holds every package nothing depends on. Debian has dependency
    /// cycles, Nix has none: each strongly connected component becomes one
    /// package.
    fn universe(&self, selected: &BTreeSet<String>) -> Universe {
        let edges: BTreeMap<String, Vec<String>> = selected
            .iter()
            .map(|name| (name.clone(), self.dependencies(name)))
            .collect();
        let components = strongly_connected(&edges);
        let component_of: BTreeMap<&String, String> = components
            .iter()
            .flat_map(|c| c.iter().map(move |m| (m, c[0].clone())))
            .collect();
        let mut packages = BTreeMap::new();
        for component in &components {
            let name = component[0].clone();
            let size = component.iter().map(|m| self.packages[m].0).sum();
            let mut deps: Vec<String> = component
                .iter()
                .flat_map(|m| &edges[m])
                .map(|d| component_of[d].clone())
                .filter(|d| *d != name)
                .collect();
            deps.sort();
            deps.dedup();
            let package = Package {
                members: component.clone(),
                ..Package::new(name.clone(), size, deps)
            };
            packages.insert(name, package);
        }
        let depended: BTreeSet<&String> = packages.values().flat_map(|p| &p.deps).collect();
        let top_level = packages
            .keys()
            .filter(|n| !depended.contains(n))
            .cloned()
            .collect();
        Universe {
            packages,
            top_level,
        }
    }
}

/// Debian's installed packages, with their real sizes and dependencies:
/// the closure of every installed package.
fn debian_universe() -> Universe {
    let status =
        std::fs::read_to_string("/var/lib/dpkg/status").expect("cannot read /var/lib/dpkg/status");
    let records = DebianRecords::parse(&status, |field| {
        field("Status").is_some_and(|s| s.ends_with("installed") && !s.contains("not-installed"))
    });
    let every: BTreeSet<String> = records.packages.keys().cloned().collect();
    records.universe(&every)
}

/// The Debian archive's `metapackage` (from apt's package index), with real
/// sizes and dependencies: the closure of what it depends on, a realistic
/// large image.
fn debian_archive_universe(metapackage: &str) -> Universe {
    let output = std::process::Command::new("apt-cache")
        .arg("dumpavail")
        .output()
        .expect("cannot run apt-cache dumpavail");
    assert!(
        output.status.success(),
        "apt-cache dumpavail failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = DebianRecords::parse(&String::from_utf8_lossy(&output.stdout), |_| true);
    assert!(
        records.packages.contains_key(metapackage),
        "apt's package index lacks {metapackage}: is the name right, and has apt-get update run?"
    );
    let mut selected = BTreeSet::new();
    let mut stack = records.dependencies(metapackage);
    while let Some(name) = stack.pop() {
        if selected.insert(name.clone()) {
            stack.extend(records.dependencies(&name));
        }
    }
    assert!(
        !selected.is_empty(),
        "{metapackage} depends on nothing: there is no closure to lay out"
    );
    records.universe(&selected)
}

/// Tarjan's strongly connected components, each listed smallest name first.
fn strongly_connected(edges: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, Vec<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in &s.edges[v] {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let lw = s.low[w.as_str()];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w.as_str()) {
                let iw = s.index[w.as_str()];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.components.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.components
}

/// The changes measured, as (name, new universe, what it changes).
fn cases(
    base: &Universe,
    app: &str,
    mid: &str,
    leaf: &str,
    removed: &str,
) -> Vec<(String, Universe)> {
    let bump = |name: &str| {
        let mut u = base.clone();
        u.packages.get_mut(name).unwrap().version += 1;
        u
    };
    let mut added = base.clone();
    let new_deps = base.packages[mid].deps.clone();
    added.packages.insert(
        "new-tool".into(),
        Package::new("new-tool".into(), 3 << 20, new_deps),
    );
    added.top_level.push("new-tool".into());
    let mut without = base.clone();
    without.top_level.retain(|t| t != removed);
    vec![
        (format!("application changes ({app})"), bump(app)),
        (
            format!(
                "mid-level library changes ({mid}, {} dependents)",
                base.dependents(mid).len()
            ),
            bump(mid),
        ),
        (
            format!(
                "leaf library changes ({leaf}, {} dependents)",
                base.dependents(leaf).len()
            ),
            bump(leaf),
        ),
        ("a package is added".to_owned(), added),
        (format!("a package is removed ({removed})"), without),
    ]
}

/// Layers of a closure: each a sorted list of (path, size). With
/// `previous`, the layers of the version before are kept.
fn layering(
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
struct Column {
    name: &'static str,
    strategy: LayeringStrategy,
    keeps_old_plan: bool,
}

const COLUMNS: [Column; 4] = [
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
struct OldImage {
    layers: BTreeSet<Vec<(String, u64)>>,
    plan: PreviousLayers,
}

impl OldImage {
    fn new(layers: Vec<Vec<(String, u64)>>) -> Self {
        OldImage {
            plan: plan_of(&layers),
            layers: layers.into_iter().collect(),
        }
    }

    /// The layers of `v2` under `column`, planned after this image.
    fn next(&self, v2: &[PathRecord], column: Column, budget: usize) -> Vec<Vec<(String, u64)>> {
        let previous = column.keeps_old_plan.then_some(&self.plan);
        layering(v2, column.strategy, budget, previous)
    }
}

/// The plan of `layers` as a new version keeps it.
fn plan_of(layers: &[Vec<(String, u64)>]) -> PreviousLayers {
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

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn report(
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
fn report_built(base: &Universe, cases: &[(String, Universe)], budget: usize) {
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
    let mut olds: Vec<installed_store::Described> = Vec::new();
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

/// `v1` under each column, in the order of `COLUMNS`: the first version
/// has no plan before it.
fn old_layerings(v1: &[PathRecord], budget: usize) -> Vec<OldImage> {
    COLUMNS
        .into_iter()
        .map(|column| OldImage::new(layering(v1, column.strategy, budget, None)))
        .collect()
}

/// The bytes of `new`'s layers that `old` lacks: what a registry receives.
fn reshipped(old: &OldImage, new: &[Vec<(String, u64)>]) -> u64 {
    new.iter()
        .filter(|l| !old.layers.contains(*l))
        .map(|l| l.iter().map(|(_, s)| s).sum::<u64>())
        .sum()
}

/// Whether `shipped` meets the target of a change other than the
/// application's: within 1.5 times its `minimum`.
fn within_target(shipped: u64, minimum: u64) -> bool {
    shipped <= minimum + minimum / 2
}

/// `shipped` as a multiple of `minimum`, or a dash when nothing had to be.
fn ratio(shipped: u64, minimum: u64) -> String {
    if minimum == 0 {
        "—".to_owned()
    } else {
        format!("{:.2}", shipped as f64 / minimum as f64)
    }
}

/// The store paths of `v2` that `v1` lacks (the image's spec file aside).
fn new_paths<'a>(v1: &[PathRecord], v2: &'a [PathRecord]) -> Vec<&'a PathRecord> {
    let old: BTreeSet<&str> = v1.iter().map(|r| r.path.as_str()).collect();
    v2.iter()
        .filter(|r| !old.contains(r.path.as_str()) && !r.path.ends_with("image-spec.json"))
        .collect()
}

/// The bytes of `v2`'s paths that `v1` lacks.
fn minimum(v1: &[PathRecord], v2: &[PathRecord]) -> u64 {
    new_paths(v1, v2).iter().filter_map(|r| r.nar_size).sum()
}

/// The head of a table with a group of cells per column: `lead` the first
/// two cells' titles, `group` each column's own.
fn print_head(lead: &str, group: &[&str]) {
    print!("| {lead} |");
    for Column { name, .. } in COLUMNS {
        print!(" {name}: {} |", group.join(" | "));
    }
    println!();
    println!("|---|---:|{}", "---:|".repeat(group.len() * COLUMNS.len()));
}

/// The row of the five single cases together: each column's total and its
/// ratio to the minimum, then `blanks` empty cells.
fn print_totals(minimum: u64, totals: &[u64], blanks: usize) {
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

/// A table of sweep results, one row per kind of change.
fn print_sweep(kinds: &[SweepKind]) {
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
fn print_sweep_and_libraries(kinds: &[SweepKind]) {
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

/// The short name of the sweep's library changes.
const LIBRARIES_CHANGED: &str = "libraries changed";

/// One kind of change of a sweep: each change's minimum and what each
/// column re-shipped for it.
struct SweepKind {
    title: String,
    /// The kind without its count, for sums over several graphs.
    short: &'static str,
    minimums: Vec<u64>,
    /// Per column, in the order of `COLUMNS`, the bytes each change
    /// re-shipped.
    shipped: Vec<Vec<u64>>,
}

impl SweepKind {
    /// How many changes meet `test` (re-shipped bytes, minimum).
    fn count(&self, shipped: &[u64], test: impl Fn(u64, u64) -> bool) -> usize {
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
fn sweep_totals(base: &Universe, budget: usize) -> Vec<SweepKind> {
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
fn at_top_level_counts(base: &Universe, budget: usize) -> Vec<SweepKind> {
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

/// Adds package `i` to `u` as a top-level package, 0.25 to 8 MiB, on the
/// dependencies of `base`'s package `model`, with `new_libraries` libraries
/// of its own (0.125 to 8 MiB), each on the dependencies of yet another
/// (from the 48th on).
fn add_package(u: &mut Universe, base: &Universe, i: u64, model: u64, new_libraries: u64) {
    let names: Vec<&String> = base.packages.keys().collect();
    let pick = |k: u64| {
        base.packages[names[(k as usize * 7919) % names.len()]]
            .deps
            .clone()
    };
    let mut deps = pick(model);
    for j in 0..new_libraries {
        let name = format!("added{i}-lib{j}");
        let size = (1u64 << 17) << ((i + j) % 7);
        u.packages.insert(
            name.clone(),
            Package::new(name.clone(), size, pick(48 + 3 * i + j)),
        );
        deps.push(name);
    }
    let name = format!("added{i}");
    let size = (1u64 << 18) << (i % 6);
    u.packages
        .insert(name.clone(), Package::new(name.clone(), size, deps));
    u.top_level.push(name);
}

/// Versions of an image one after another, as a user ships them: 24
/// packages with new libraries added, each version one more, and 24
/// top-level packages removed (all but one, when there are fewer), each
/// version one fewer. Each column plans each version after the one before
/// (keeping its plan, where it does).
fn in_a_row(base: &Universe, budget: usize) -> Vec<SweepKind> {
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

/// A closure of `paths` paths with random sizes (below 50 MiB), each
/// referring to up to `most_references - 1` random paths after it.
fn random_closure(paths: usize, seed: u64, most_references: u64) -> Vec<PathRecord> {
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
fn chain_closure(paths: usize, seed: u64) -> Vec<PathRecord> {
    let mut records = sized_records(paths, seed, &mut Rng::new(seed));
    for i in 1..paths {
        records[i - 1].references = vec![records[i].path.clone()];
    }
    records
}

/// One root referring to `paths - 2` paths that all refer to one library:
/// the widest graph.
fn fan_closure(paths: usize, seed: u64) -> Vec<PathRecord> {
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
fn sized_records(paths: usize, seed: u64, rng: &mut Rng) -> Vec<PathRecord> {
    (0..paths)
        .map(|i| PathRecord {
            nar_hash: None,
            path: store_path(&format!("{seed}-{i}"), &format!("p{i}")),
            nar_size: Some(rng.below(50 << 20)),
            references: Vec::new(),
        })
        .collect()
}

/// How long each strategy takes to plan `records`, described as `what`:
/// the least and the most of `rounds` plans.
fn timing(what: &str, records: &[PathRecord], rounds: usize) {
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
fn timings(seed: u64, rounds: usize) {
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

/// The five single cases of a Debian package set, and its application: the
/// largest top-level package changes; the largest package with 10 to 59
/// dependents changes; the package most depend on changes; a package is
/// added; the first other top-level package by name is removed. `title`
/// names the set when it is too small for these cases.
fn debian_cases(title: &str, set: &Universe) -> (String, Vec<(String, Universe)>) {
    let app = set
        .top_level
        .iter()
        .max_by_key(|t| (set.packages[*t].size, (*t).clone()))
        .unwrap()
        .clone();
    let mid = set
        .packages
        .keys()
        .filter(|p| (10..60).contains(&set.dependents(p).len()))
        .max_by_key(|p| (set.packages[*p].size, (*p).clone()))
        .cloned()
        .unwrap_or_else(|| {
            panic!("{title}: no package has 10 to 59 dependents, as the mid-level case needs")
        });
    let leaf = set
        .packages
        .keys()
        .max_by_key(|p| (set.dependents(p).len(), (*p).clone()))
        .unwrap()
        .clone();
    let removed = set
        .top_level
        .iter()
        .find(|t| **t != app)
        .unwrap_or_else(|| panic!("{title}: one top-level package, and the removal case needs two"))
        .clone();
    let set_cases = cases(set, &app, &mid, &leaf, &removed);
    (app, set_cases)
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

/// The generated set's five single cases on graphs of several seeds, each
/// judged against its target: the application change within 5% of the
/// application's size, every other within 1.5× of the minimum. One graph's
/// cases land well or badly by chance; this shows how often they land well.
/// `measured` is one seed's sweep, already measured.
fn seeds(count: u64, budget: usize, (measured_seed, measured_sweep): (u64, Vec<SweepKind>)) {
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
