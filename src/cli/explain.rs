//! `strata explain`: each layer of a plan, its size, its paths (largest
//! first) and why they share a layer; given an earlier version's plan, which
//! layers are new since it. Of an index, its platforms, and each image.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::emit::index::IndexDescription;
use crate::emit::layer;
use crate::format::digest::Digest;
use crate::format::store_path::StorePath;
use crate::input::image_layout::IndexLayout;
use crate::plan::image_plan::{ImagePlan, LayerPlan};
use crate::plan::perms::EntryRules;
use crate::plan::root_tree::RootTree;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub image: String,
    /// The earlier image the layers are compared with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    pub layers: Vec<LayerExplanation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerExplanation {
    pub reason: String,
    /// Bytes of the layer's tar.
    pub size: u64,
    /// Store paths, largest first, with their bytes in the layer.
    pub paths: Vec<(String, u64)>,
    /// Entries the layer puts at `/`.
    pub root: Vec<String>,
    /// Compared with an earlier image: whether the layer is new since it
    /// (what a registry holding that image would receive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
}

/// Sizes every layer and path of `plan` from the store's metadata and,
/// given the plan of an earlier version, tells which layers are new since.
pub fn explain(plan: &ImagePlan, since: Option<&ImagePlan>) -> Result<Explanation> {
    let attrs = plan.entry_rules()?;
    let layers = plan
        .layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let mut explained = explain_layer(layer, &plan.store_dir, &attrs)?;
            explained.new = since.map(|earlier| !plan.layer_is_in(index, earlier));
            Ok(explained)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Explanation {
        image: plan.spec.repo_tag(),
        since: since.map(|earlier| earlier.spec.repo_tag()),
        layers,
    })
}

fn explain_layer(
    layer: &LayerPlan,
    store_dir: &str,
    attrs: &EntryRules,
) -> Result<LayerExplanation> {
    // A layer's tar is the entries every layer starts and ends with, each
    // path's entries and the root's: sized apart, the store is walked once.
    if let Some(base) = &layer.base {
        return Ok(LayerExplanation {
            reason: format!("{} ({})", layer.reason, base.image.display()),
            size: base.blob.size,
            paths: Vec::new(),
            root: Vec::new(),
            new: None,
        });
    }
    let part = |paths: Vec<StorePath>, root: RootTree| LayerPlan {
        paths,
        root,
        nar_size: None,
        root_dir: None,
        base: None,
        reason: String::new(),
    };
    let size_of = |plan: &LayerPlan| layer::layer_size(plan, store_dir, attrs);
    let empty = size_of(&part(Vec::new(), RootTree::default()))?;
    let root = size_of(&LayerPlan {
        root_dir: layer.root_dir.clone(),
        ..part(Vec::new(), layer.root.clone())
    })? - empty;
    let mut paths = layer
        .paths
        .iter()
        .map(|path| {
            let bytes = size_of(&part(vec![path.clone()], RootTree::default()))? - empty;
            Ok((path.to_string(), bytes))
        })
        .collect::<Result<Vec<_>>>()?;
    let size = empty + root + paths.iter().map(|(_, bytes)| bytes).sum::<u64>();
    paths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(LayerExplanation {
        reason: layer.reason.clone(),
        size,
        paths,
        root: root_entries(layer)?,
        new: None,
    })
}

/// The names the layer puts at `/`, from its tree or from the root the
/// commands made.
fn root_entries(layer: &LayerPlan) -> Result<Vec<String>> {
    let mut names: Vec<String> = layer.root.entries.keys().map(|n| format!("/{n}")).collect();
    if let Some(dir) = &layer.root_dir {
        let root = std::path::Path::new(dir).join(crate::input::customisation::ROOT_DIR);
        for entry in
            std::fs::read_dir(&root).with_context(|| format!("cannot list {}", root.display()))?
        {
            names.push(format!("/{}", entry?.file_name().to_string_lossy()));
        }
        names.sort();
    }
    Ok(names)
}

/// The explanation as text for a person.
pub fn render(explanation: &Explanation) -> String {
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    let total: u64 = explanation.layers.iter().map(|l| l.size).sum();
    let mut out = format!(
        "{}: {} layers, {:.1} MiB\n",
        explanation.image,
        explanation.layers.len(),
        mib(total)
    );
    let count = explanation.layers.len();
    if let Some(since) = &explanation.since {
        let new: Vec<&LayerExplanation> = explanation
            .layers
            .iter()
            .filter(|l| l.new == Some(true))
            .collect();
        let _ = writeln!(
            out,
            "new since {since}: {} of {count} layers, {:.1} MiB",
            new.len(),
            mib(new.iter().map(|l| l.size).sum())
        );
    }
    for (index, layer) in explanation.layers.iter().enumerate() {
        let status = match layer.new {
            Some(true) => " (new)",
            Some(false) => " (unchanged)",
            None => "",
        };
        let paths = match layer.paths.len() {
            1 => "1 store path".to_owned(),
            n => format!("{n} store paths"),
        };
        let _ = writeln!(
            out,
            "\nlayer {} of {count}{status}: {:.1} MiB, {paths}: {}",
            index + 1,
            mib(layer.size),
            layer.reason
        );
        for (path, bytes) in &layer.paths {
            let _ = writeln!(out, "  {:>10.1} MiB  {path}", mib(*bytes));
        }
        if !layer.root.is_empty() {
            let _ = writeln!(out, "  at /: {}", layer.root.join(" "));
        }
    }
    out
}

/// An index: each platform's manifest, and its image explained.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexExplanation {
    pub index: String,
    pub digest: Digest,
    pub platforms: Vec<PlatformExplanation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformExplanation {
    pub platform: String,
    pub manifest: Digest,
    pub image: Explanation,
}

/// Explains every image of the index, with its manifest's digest as the
/// index's layout holds it.
pub fn explain_index(index: &IndexDescription) -> Result<IndexExplanation> {
    let layout = IndexLayout::open(&index.layout)?;
    let platforms = layout
        .images
        .iter()
        .map(|image| {
            let description = index.image_for(&image.platform)?;
            Ok(PlatformExplanation {
                platform: image.platform.to_string(),
                manifest: image.manifest_digest,
                image: explain(&description.plan, None)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(IndexExplanation {
        index: format!("{}:{}", index.name, index.tag),
        digest: layout.index_digest,
        platforms,
    })
}

/// The index's explanation as text: its platforms, then each image.
pub fn render_index(explanation: &IndexExplanation) -> String {
    let mut out = format!(
        "{} ({}): an index of {} platforms\n",
        explanation.index,
        explanation.digest,
        explanation.platforms.len()
    );
    for platform in &explanation.platforms {
        let _ = writeln!(out, "  {:<16} {}", platform.platform, platform.manifest);
    }
    for platform in &explanation.platforms {
        let _ = write!(out, "\n{}, ", platform.platform);
        out.push_str(&render(&platform.image));
    }
    out
}
