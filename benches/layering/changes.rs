//! The changes a new version makes to a package set: the single cases, and
//! packages added with or without libraries of their own.

use crate::layering::package_sets::{Package, Universe};

/// The changes measured, as (name, new universe, what it changes).
pub fn cases(
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

/// Adds package `i` to `u` as a top-level package, 0.25 to 8 MiB, on the
/// dependencies of `base`'s package `model`, with `new_libraries` libraries
/// of its own (0.125 to 8 MiB), each on the dependencies of yet another
/// (from the 48th on).
pub fn add_package(u: &mut Universe, base: &Universe, i: u64, model: u64, new_libraries: u64) {
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

/// The five single cases of a Debian package set, and its application: the
/// largest top-level package changes; the largest package with 10 to 59
/// dependents changes; the package most depend on changes; a package is
/// added; the first other top-level package by name is removed. `title`
/// names the set when it is too small for these cases.
pub fn debian_cases(title: &str, set: &Universe) -> (String, Vec<(String, Universe)>) {
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
