//! Debian package sets: this machine's installed packages and the closure
//! of a metapackage of the archive, with their real sizes and dependencies
//! (dependency cycles merged into one package each, as Nix has none).

use std::collections::{BTreeMap, BTreeSet};

use crate::layering::package_sets::{Package, Universe};

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
pub fn debian_universe() -> Universe {
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
pub fn debian_archive_universe(metapackage: &str) -> Universe {
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
