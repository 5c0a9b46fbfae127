//! strata by hand: the same images as the Nix library builds, from store
//! paths on the command line.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::builder::plan_image;
use crate::cli::explain;
use crate::emit::description;
use crate::emit::image;
use crate::emit::index::{Described, IndexDescription};
use crate::emit::layer_source::EarlierTars;
use crate::emit::oci::canonical_json;
use crate::emit::output::{self, OutputMode};
use crate::emit::sbom::bill::{Bill, BuiltImage};
use crate::emit::sbom::document::{self, SbomFormat};
use crate::emit::sbom::facts::SbomFacts;
use crate::emit::stream;
use crate::format::compression::Compressor;
use crate::format::reference;
use crate::format::store_path::{self, StorePath};
use crate::input::attrs;
use crate::input::closure::{self, PathRecord};
use crate::input::nix_store;
use crate::input::spec::{
    self, Delivery, ImageFormat, ImageSpec, LayeringStrategy, ResolveContext,
};
use crate::plan::image_plan::ImagePlan;
use crate::transport::engine::{self, Engine};
use crate::transport::pull::{self, PullOptions};
use crate::transport::push::{self, PushOptions};
use crate::transport::push_index;

/// The tag of an image built by hand when neither the spec nor the command
/// line gives one.
const DEFAULT_TAG: &str = "latest";

/// What the image is made of, as given on the command line.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ImageArgs {
    /// Image spec, a JSON object with the Nix functions' argument names
    /// (name, tag, contents, config, maxLayers, created, …)
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Image name (overrides the spec)
    #[arg(long)]
    pub name: Option<String>,
    /// Image tag (overrides the spec; default "latest")
    #[arg(long)]
    pub tag: Option<String>,
    /// Store path whose top-level entries are linked into / (repeatable)
    #[arg(long = "contents", value_name = "STORE_PATH")]
    pub contents: Vec<String>,
    /// The most layers the image may have, customisation layer included
    #[arg(long, value_name = "N")]
    pub max_layers: Option<usize>,
    /// How store paths are grouped into layers
    #[arg(long, value_enum)]
    pub layering: Option<LayeringStrategy>,
    /// How layers are compressed (default: gz in archives and pushes, none
    /// in streams and loads)
    #[arg(long, value_enum)]
    pub compressor: Option<Compressor>,
    /// The compressor's level: gz 0-9 (default 6), zstd 1-19 (default 3)
    #[arg(long, value_name = "N")]
    pub compression_level: Option<i32>,
    /// What to write: an archive for docker and podman (default), an OCI
    /// archive, or an OCI layout directory
    #[arg(long, value_enum)]
    pub format: Option<ImageFormat>,
    /// Base image: a docker-archive (.tar, .tar.gz, .tar.zst) or an OCI
    /// layout (directory or tar) whose layers and config the image inherits
    #[arg(long, value_name = "IMAGE")]
    pub from_image: Option<PathBuf>,
    /// The plan of the image's previous version (plan or description JSON,
    /// or stream script): its layers are kept, so that only those whose
    /// paths changed are sent again
    #[arg(long, value_name = "FILE")]
    pub previous_plan: Option<PathBuf>,
    /// Closure file (exportReferencesGraph JSON or text, or nix-store --dump-db
    /// output) instead of asking nix-store
    #[arg(long, value_name = "FILE")]
    pub closure: Option<PathBuf>,
    /// Nix system the image is for, such as aarch64-linux (default: this machine's)
    #[arg(long)]
    pub system: Option<String>,
    /// Store paths to put into the image, with their closures
    #[arg(value_name = "STORE_PATH")]
    pub paths: Vec<String>,
}

/// Builds the image archive into `output`.
pub fn build(args: &ImageArgs, output: &Path, threads: usize) -> Result<()> {
    let plan = plan(args)?;
    let image = plan.spec.repo_tag();
    let blobs = image::build_archive(plan, output, OutputMode::Atomic, threads)?;
    let total: u64 = blobs.iter().map(|b| b.size).sum();
    eprintln!(
        "strata: wrote {} ({image}, {} layers, {:.1} MiB)",
        output.display(),
        blobs.len(),
        total as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

/// Hashes every layer's tar and writes the image description to `output`
/// (or stdout).
pub fn describe(args: &ImageArgs, output: Option<&Path>, threads: usize) -> Result<()> {
    let (plan, nar_hashes) = plan_and_nar_hashes(args)?;
    let earlier = EarlierTars::of_previous_version(&plan)?;
    let description = image::describe(plan, threads, &nar_hashes, &earlier)?;
    let json = canonical_json(&description)?;
    write_json(output, &json)
}

/// Prints the layering plan.
pub fn print_plan(args: &ImageArgs, output: Option<&Path>) -> Result<()> {
    let json = canonical_json(&plan(args)?)?;
    write_json(output, &json)
}

/// Explains the layers of the image the arguments describe, or of the plan,
/// description or stream script in `from`; with `since`, an earlier
/// version's, also which layers are new since it. Of an index description
/// (or its scripts), its platforms and each image.
pub fn explain(
    args: &ImageArgs,
    from: Option<&Path>,
    since: Option<&Path>,
    json: bool,
) -> Result<()> {
    if let Some(path) = from
        && let Some(index) = Described::read_index(path)?
    {
        if since.is_some() {
            bail!(
                "--since compares one image with an earlier version; {} is an index",
                path.display()
            );
        }
        let explanation = explain::explain_index(&index)?;
        return if json {
            write_json(None, &canonical_json(&explanation)?)
        } else {
            print!("{}", explain::render_index(&explanation));
            Ok(())
        };
    }
    let plan = match from {
        Some(path) => description::read_plan(path)?,
        None => plan(args)?,
    };
    let earlier = since.map(description::read_plan).transpose()?;
    let explanation = explain::explain(&plan, earlier.as_ref())?;
    if json {
        write_json(None, &canonical_json(&explanation)?)
    } else {
        print!("{}", explain::render(&explanation));
        Ok(())
    }
}

/// Writes the bill of materials of the image a plan, description or script
/// describes, its closure from nix-store.
pub fn sbom(
    source: &Path,
    image: Option<&Path>,
    format: SbomFormat,
    output: Option<&Path>,
    threads: usize,
) -> Result<()> {
    let plan = description::read_plan(source)?;
    let roots: Vec<StorePath> = plan.layers.iter().flat_map(|l| l.paths.clone()).collect();
    let facts = SbomFacts::new(&plan, &nix_store::query_closure(&roots)?, &[])?;
    let built = BuiltImage::of_plan(&plan, image, threads)?;
    let document = document::render(&Bill::new(&plan, &facts, &built)?, format)?;
    match output {
        Some(path) => output::write_file(path, OutputMode::Atomic, false, |w| {
            Ok(w.write_all(&document)?)
        }),
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(&document)?;
            Ok(stdout.flush()?)
        }
    }
}

/// Pulls an image by digest into the OCI layout `output`.
pub fn pull(options: &PullOptions, output: &Path) -> Result<()> {
    pull::pull(options, output, OutputMode::Atomic)?;
    eprintln!("strata: pulled {} into {}", options.image, output.display());
    Ok(())
}

/// Streams the archive of a description (or a stream script) to stdout,
/// the image named `repo_tag` when given.
pub fn stream(source: &Path, repo_tag: Option<&str>) -> Result<()> {
    let stdout = io::stdout();
    if stdout.is_terminal() {
        bail!(
            "refusing to write an image archive to a terminal; redirect it to a file or pipe it into `podman load` or `docker load`"
        );
    }
    let mut description = match Described::read(source)? {
        Described::Image(description) => *description,
        Described::Index(index) => bail!(
            "{} is an index of images for {}; stream one of its images",
            source.display(),
            platform_list(&index)
        ),
    };
    if let Some(repo_tag) = repo_tag {
        let (name, tag) = reference::name_and_tag(repo_tag)
            .with_context(|| format!("--repo_tag {repo_tag} is not NAME:TAG"))?;
        description.plan.spec.name = name.to_owned();
        description.plan.spec.tag = Some(tag.to_owned());
    }
    let encoding = description.plan.spec.encoding(Delivery::Unpacked);
    let out = stream::write_archive(
        &description,
        encoding,
        io::BufWriter::with_capacity(1 << 20, stdout.lock()),
    )?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .context("cannot write to stdout")?
        .flush()
        .context("cannot write to stdout")
}

/// Pushes the image or index of a description (or a script) to a registry.
pub fn push(source: &Path, options: &PushOptions) -> Result<()> {
    let summary = match Described::read(source)? {
        Described::Image(description) => push::push(*description, options)?,
        Described::Index(index) => push_index::push_index(&index, options)?,
    };
    eprintln!("strata: {summary}");
    Ok(())
}

/// Loads the image of a description (or a script) into a container engine;
/// of an index, the image for this machine's platform.
pub fn load(source: &Path, engine: Engine, socket: Option<&Path>) -> Result<()> {
    let description = match Described::read(source)? {
        Described::Image(description) => *description,
        Described::Index(index) => index.image_for_host()?.clone(),
    };
    let socket = match socket {
        Some(path) => path.to_owned(),
        None => engine.socket()?,
    };
    let said = engine::load(description, &socket)?;
    eprintln!("strata: {}", if said.is_empty() { "loaded" } else { &said });
    Ok(())
}

/// The platforms of an index, as a list for a message.
fn platform_list(index: &IndexDescription) -> String {
    let platforms: Vec<String> = index.platforms().iter().map(ToString::to_string).collect();
    platforms.join(", ")
}

fn write_json(output: Option<&Path>, json: &[u8]) -> Result<()> {
    match output {
        Some(path) => output::write_file(path, OutputMode::Atomic, false, |w| {
            w.write_all(json)?;
            Ok(w.write_all(b"\n")?)
        }),
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(json)?;
            stdout.write_all(b"\n")?;
            Ok(stdout.flush()?)
        }
    }
}

/// The plan of the image the arguments describe.
pub fn plan(args: &ImageArgs) -> Result<ImagePlan> {
    Ok(plan_and_nar_hashes(args)?.0)
}

/// The plan, and the NAR hashes the closure gives.
fn plan_and_nar_hashes(args: &ImageArgs) -> Result<(ImagePlan, BTreeMap<String, String>)> {
    let store_dir = attrs::store_dir();
    let spec = spec_of(args)?;
    let records = closure_of(args, &spec, &store_dir)?;
    let nar_hashes = closure::nar_hashes(&records);
    let plan = plan_image::plan_image(
        spec,
        records,
        &[],
        &store_dir,
        plan_image::Customisation::Planned,
    )?;
    Ok((plan, nar_hashes))
}

fn spec_of(args: &ImageArgs) -> Result<ImageSpec> {
    let mut value = match &args.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the spec {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("the spec {} is not valid JSON", path.display()))?
        }
        None => serde_json::json!({}),
    };
    let object = value
        .as_object_mut()
        .context("the image spec must be a JSON object")?;
    let overrides = [
        ("name", args.name.clone().map(serde_json::Value::from)),
        ("tag", args.tag.clone().map(serde_json::Value::from)),
        ("maxLayers", args.max_layers.map(serde_json::Value::from)),
        (
            "layering",
            args.layering
                .map(|l| serde_json::to_value(l).expect("an enum serializes")),
        ),
        (
            "compressor",
            args.compressor
                .map(|c| serde_json::to_value(c).expect("an enum serializes")),
        ),
        (
            "compressionLevel",
            args.compression_level.map(serde_json::Value::from),
        ),
        (
            "format",
            args.format
                .map(|f| serde_json::to_value(f).expect("an enum serializes")),
        ),
        (
            "fromImage",
            args.from_image
                .as_ref()
                .map(|p| serde_json::Value::from(p.to_string_lossy())),
        ),
        (
            "previousPlan",
            args.previous_plan
                .as_ref()
                .map(|p| serde_json::Value::from(p.to_string_lossy())),
        ),
    ];
    for (key, override_value) in overrides {
        if let Some(v) = override_value {
            object.insert(key.to_owned(), v);
        }
    }
    if !args.contents.is_empty() {
        let contents = object
            .entry("contents")
            .or_insert_with(|| serde_json::json!([]));
        let list = contents
            .as_array_mut()
            .context("`contents` in the spec must be a list")?;
        list.extend(args.contents.iter().cloned().map(serde_json::Value::from));
    }
    if !args.paths.is_empty() {
        let paths = object
            .entry("storePaths")
            .or_insert_with(|| serde_json::json!([]));
        paths
            .as_array_mut()
            .context("`storePaths` in the spec must be a list")?
            .extend(args.paths.iter().cloned().map(serde_json::Value::from));
    }
    if !object.contains_key("name") {
        bail!("the image needs a name: give --name or `name` in the spec");
    }
    let system = args.system.clone().unwrap_or_else(spec::host_system);
    ImageSpec::from_value(&mut value)?.resolve(&ResolveContext {
        system: &system,
        default_tag: DEFAULT_TAG,
    })
}

/// The store paths the image starts from: those the spec names and every
/// store path the config mentions.
fn roots_of(spec: &ImageSpec, store_dir: &str) -> Result<Vec<StorePath>> {
    let mut roots = plan_image::named_store_paths(spec, store_dir)?;
    let config = serde_json::to_string(&spec.config)?;
    roots.extend(store_path::scan_store_paths(&config, store_dir));
    // A base image in the store: what it refers to is in its layers.
    if let Some(image) = &spec.from_image {
        roots.extend(StorePath::parse(image, store_dir));
    }
    roots.sort();
    roots.dedup();
    Ok(roots)
}

fn closure_of(args: &ImageArgs, spec: &ImageSpec, store_dir: &str) -> Result<Vec<PathRecord>> {
    match &args.closure {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the closure {}", path.display()))?;
            closure::parse_closure_text(&text).with_context(|| format!("in {}", path.display()))
        }
        None => nix_store::query_closure(&roots_of(spec, store_dir)?),
    }
}
