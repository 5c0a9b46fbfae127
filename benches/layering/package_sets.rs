//! Package sets as Nix would hash them: a package's store path derives from
//! its name, version and dependencies, and the generated set of a seed.

use std::collections::{BTreeMap, BTreeSet};

use strata::input::closure::PathRecord;

use crate::rng::Rng;

/// A package: what its store path's hash derives from.
#[derive(Clone, Debug)]
pub struct Package {
    pub name: String,
    pub version: u32,
    pub size: u64,
    pub deps: Vec<String>,
    /// The Debian packages it stands for (several when they depend on each
    /// other in a cycle); none for a generated package.
    pub members: Vec<String>,
}

impl Package {
    /// Version 1 of a package.
    pub fn new(name: String, size: u64, deps: Vec<String>) -> Self {
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
pub struct Universe {
    pub packages: BTreeMap<String, Package>,
    pub top_level: Vec<String>,
}

impl Universe {
    /// The image's closure, as Nix would export it: store paths hashed from
    /// their package and their dependencies' paths, plus the image's spec
    /// file, which refers to the top-level packages.
    pub fn closure(&self) -> Vec<PathRecord> {
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
    pub fn dependents(&self, name: &str) -> BTreeSet<String> {
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
pub fn store_path(seed: &str, name: &str) -> String {
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
pub fn synthetic_universe(seed: u64) -> Universe {
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
