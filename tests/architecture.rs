//! The shape of `src/`: one folder per stage, imports pointing one way
//! (from the top stage down), and no cycles among files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The stages, bottom first: a file may import from its own folder and
/// from the folders before it.
const STAGES: [&str; 7] = [
    "format",
    "input",
    "plan",
    "emit",
    "transport",
    "builder",
    "cli",
];

/// Every `.rs` file below `dir`, as its path relative to `src/`.
fn sources(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(root, &path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path.strip_prefix(root).unwrap().to_owned());
        }
    }
}

/// The file a module path (`["plan", "perms"]`) is defined in.
fn module_file(files: &BTreeSet<String>, segments: &[&str]) -> Option<String> {
    (1..=segments.len()).rev().find_map(|n| {
        let stem = segments[..n].join("/");
        [format!("{stem}.rs"), format!("{stem}/mod.rs")]
            .into_iter()
            .find(|candidate| files.contains(candidate))
    })
}

/// The files each file refers to through `crate::` (or `strata::`) paths,
/// comments left out.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut found = Vec::new();
    sources(src, src, &mut found);
    let files: BTreeSet<String> = found
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let text = fs::read_to_string(src.join(file)).unwrap();
        let mut targets = BTreeSet::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for prefix in ["crate::", "strata::"] {
                for (at, _) in line.match_indices(prefix) {
                    let path = &line[at + prefix.len()..];
                    let end = path
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                        .unwrap_or(path.len());
                    let segments: Vec<&str> =
                        path[..end].split("::").filter(|s| !s.is_empty()).collect();
                    if let Some(target) = module_file(&files, &segments)
                        && &target != file
                    {
                        targets.insert(target);
                    }
                }
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The stage of a file: its folder's rank, or none for `lib.rs` and
/// `main.rs`.
fn stage(file: &str) -> Option<usize> {
    let folder = file.split('/').next()?;
    let rank = STAGES.iter().position(|s| *s == folder);
    assert!(
        rank.is_some() || !file.contains('/'),
        "{file} is in {folder}/, which is not a stage"
    );
    rank
}

#[test]
fn every_file_is_in_a_stage_folder() {
    for file in imports(&src_dir()).keys() {
        if stage(file).is_none() {
            assert!(
                file == "lib.rs" || file == "main.rs",
                "{file} is outside the stage folders"
            );
        }
    }
}

/// Every import of a file from a stage above its own.
fn upward_imports(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut upward = Vec::new();
    for (file, targets) in graph {
        let Some(from) = stage(file) else { continue };
        for target in targets {
            if stage(target).is_some_and(|to| to > from) {
                upward.push(format!("{file} imports {target}"));
            }
        }
    }
    upward
}

/// A cycle of imports, when there is one: files that import each other in
/// a circle, the first repeated at the end.
fn import_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first: a file met again while still on the path closes a cycle.
    fn visit<'a>(
        file: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|f| *f == file) {
            let mut cycle: Vec<String> = path[start..].iter().map(|f| f.to_string()).collect();
            cycle.push(file.to_owned());
            return Some(cycle);
        }
        if !done.insert(file) {
            return None;
        }
        path.push(file);
        for target in &graph[file] {
            if let Some(cycle) = visit(target, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|file| visit(file, graph, &mut Vec::new(), &mut done))
}

#[test]
fn imports_point_from_a_stage_down() {
    let upward = upward_imports(&imports(&src_dir()));
    assert!(
        upward.is_empty(),
        "imports up the stages:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_file_imports_itself_back() {
    if let Some(cycle) = import_cycle(&imports(&src_dir())) {
        panic!("an import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn folder_modules_only_declare_their_files() {
    let src = src_dir();
    for file in imports(&src).keys().filter(|f| f.ends_with("mod.rs")) {
        let text = fs::read_to_string(src.join(file)).unwrap();
        for line in text.lines().map(str::trim) {
            let declaration = line.strip_prefix("pub ").unwrap_or(line);
            assert!(
                line.is_empty()
                    || line.starts_with("//")
                    || line == "#[cfg(test)]"
                    || (declaration.starts_with("mod ") && declaration.ends_with(';')),
                "{file} holds more than its folder's docs and modules: {line}"
            );
        }
    }
}

#[test]
fn the_checks_see_a_cycle_and_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("strata-architecture-{}", std::process::id()));
    fs::create_dir_all(dir.join("format")).unwrap();
    fs::create_dir_all(dir.join("plan")).unwrap();
    fs::write(dir.join("format/a.rs"), "use crate::plan::b::B;\n").unwrap();
    fs::write(dir.join("plan/b.rs"), "use crate::format::a::{self, A};\n").unwrap();
    fs::write(
        dir.join("plan/c.rs"),
        "// crate::format::a::A, in a comment\n",
    )
    .unwrap();
    let graph = imports(&dir);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(upward_imports(&graph), ["format/a.rs imports plan/b.rs"]);
    assert_eq!(
        import_cycle(&graph).unwrap(),
        ["format/a.rs", "plan/b.rs", "format/a.rs"]
    );
    assert!(graph["plan/c.rs"].is_empty());
}
