//! strata as the builder of the Nix library's derivations.
//!
//! Three steps, one derivation each:
//! - `spec`: checks the `image` attribute, fills in its defaults (the tag is
//!   the hash of this output, as in dockerTools) and writes it as JSON. Its
//!   output refers to every store path the image needs, so its closure is the
//!   image's closure.
//! - `archive`: plans from the spec file and its exported closure and writes
//!   the image archive.
//! - `describe`: hashes every layer and writes the image description.
//! - `script`: writes an executable whose interpreter is strata and whose
//!   text is an image description: running it streams the archive to stdout,
//!   pushes the image or loads it, as its `command` says.
//! - `plan`: writes the layering plan, for `strata explain`.
//! - `sbom-facts`: writes what the bill of materials says of the image's
//!   store paths, and `sbom` the bill itself.
//! - `merge`: writes the images of several docker-archives as one.
//! - `index`: writes an image index over images built for several
//!   platforms, and `describe-index` its description, for its scripts.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, Result, bail};

use crate::builder::customise;
use crate::builder::plan_image::{self, Customisation};
use crate::emit::description::ImageDescription;
use crate::emit::image;
use crate::emit::index::{self, Described, IndexDescription, IndexSpec};
use crate::emit::layer_source::EarlierTars;
use crate::emit::merge;
use crate::emit::oci::canonical_json;
use crate::emit::output::{self, OutputMode};
use crate::emit::sbom::bill::{Bill, BuiltImage};
use crate::emit::sbom::document::{self, SbomFormat};
use crate::emit::sbom::facts::{PackageMeta, SbomFacts};
use crate::format::store_path::StorePath;
use crate::input::attrs::{self, NixAttrs};
use crate::input::closure::{self, PathRecord};
use crate::input::image_layout::ImageLayout;
use crate::input::spec::{self, ImageFormat, ImageSpec, ResolveContext};
use crate::plan::image_plan::ImagePlan;
use crate::plan::root_tree::{RootEntry, RootTree};
use crate::transport::pull::{self, PullOptions};

/// The `exportReferencesGraph` key the Nix library exports the closure under.
const CLOSURE_KEY: &str = "closure";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BuilderStep {
    /// Check and resolve the `image` attribute into a spec file.
    Spec,
    /// Write the image archive.
    Archive,
    /// Write the image description (JSON).
    Describe,
    /// Write a script that streams, pushes or loads the image.
    Script,
    /// Write the layering plan (JSON).
    Plan,
    /// Make the customisation root and run the commands in it.
    Customise,
    /// Record the modes and owners of the customisation root (run by
    /// `customise`, under fakeroot).
    Record,
    /// Pull an image by digest into an OCI layout (a fixed-output
    /// derivation).
    Pull,
    /// Write a small tree of text files, symlinks and directories (the
    /// helpers binSh, usrBinEnv, caCertificates, fakeNss).
    Tree,
    /// Write an image index over images of several platforms.
    Index,
    /// Write the description of an index, for its scripts.
    DescribeIndex,
    /// Write the image's bill of materials, SPDX or CycloneDX.
    Sbom,
    /// Write what the bill of materials says of the image's store paths.
    SbomFacts,
    /// Write the images of several docker-archives as one (mergeImages).
    Merge,
}

pub fn run(step: BuilderStep) -> Result<()> {
    let attrs = NixAttrs::load()?;
    let out = attrs.out_path()?;
    match step {
        BuilderStep::Spec => {
            let spec = resolve_spec(&attrs)?;
            let json = canonical_json(&spec)?;
            output::write_file(
                &out,
                OutputMode::InPlace,
                false,
                |w| Ok(w.write_all(&json)?),
            )
        }
        BuilderStep::Archive => {
            let plan = plan_from_attrs(&attrs)?;
            image::build_archive(plan, &out, OutputMode::InPlace, attrs::build_threads()?)?;
            Ok(())
        }
        BuilderStep::Plan => {
            let json = canonical_json(&plan_from_attrs(&attrs)?)?;
            output::write_file(
                &out,
                OutputMode::InPlace,
                false,
                |w| Ok(w.write_all(&json)?),
            )
        }
        BuilderStep::Describe => {
            let records = attrs.closure(CLOSURE_KEY)?;
            let nar_hashes = closure::nar_hashes(&records);
            let plan = plan_from_records(&attrs, records)?;
            let earlier = EarlierTars::of_previous_version(&plan)?;
            let description =
                image::describe(plan, attrs::build_threads()?, &nar_hashes, &earlier)?;
            write_json(&out, &description)
        }
        BuilderStep::Sbom => write_sbom(&attrs, &out),
        BuilderStep::SbomFacts => write_sbom_facts(&attrs, &out),
        BuilderStep::Merge => {
            let images: Vec<std::path::PathBuf> = attrs
                .strings("images")?
                .into_iter()
                .map(Into::into)
                .collect();
            merge::merge(&images, &out, OutputMode::InPlace)
        }
        BuilderStep::Script => write_script(&attrs, &out),
        BuilderStep::Customise => customise_root(&attrs, &out),
        BuilderStep::Record => customise::record_to_file(&out, true),
        BuilderStep::Pull => pull_image(&attrs, &out),
        BuilderStep::Tree => write_tree(&attrs, &out),
        BuilderStep::Index => {
            let images = read_each(&attrs, "images", ImageLayout::open)?;
            index::build_index(&index_spec(&attrs)?, &images, &out, OutputMode::InPlace)?;
            Ok(())
        }
        BuilderStep::DescribeIndex => {
            let spec = index_spec(&attrs)?;
            let mut images = read_each(&attrs, "descriptions", ImageDescription::read)?;
            for (image, facts) in images.iter_mut().zip(attrs.strings("sbomFacts")?) {
                image.sbom_facts = Some(facts.into());
            }
            let description = IndexDescription {
                name: spec.name,
                tag: spec.tag,
                layout: attrs.string("layout")?.into(),
                images,
            };
            write_json(&out, &description)
        }
    }
}

/// Writes the tree the attributes `files` (path to text), `symlinks` (path
/// to target) and `directories` (paths) describe; paths are relative.
fn write_tree(attrs: &NixAttrs, out: &std::path::Path) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Tree {
        #[serde(default)]
        files: BTreeMap<String, String>,
        #[serde(default)]
        symlinks: BTreeMap<String, String>,
        #[serde(default)]
        directories: Vec<String>,
    }
    let description: Tree = serde_json::from_value(attrs.get("tree")?.clone())
        .context("`tree` must hold files, symlinks and directories")?;
    let entries = description
        .directories
        .into_iter()
        .map(|path| (path, RootEntry::Directory(BTreeMap::new())))
        .chain(
            description
                .files
                .into_iter()
                .map(|(p, t)| (p, RootEntry::File(t))),
        )
        .chain(
            description
                .symlinks
                .into_iter()
                .map(|(p, t)| (p, RootEntry::Symlink(t))),
        );
    let mut tree = RootTree::default();
    for (path, entry) in entries {
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            bail!("'{path}' must be a relative path inside the tree");
        }
        tree.insert(&format!("/{path}"), entry, "the tree entry")?;
    }
    output::fill_dir(out, OutputMode::InPlace, |dir| tree.write_to(dir))
}

/// Pulls `imageName@imageDigest` for `os`/`arch` (the system's unless
/// given) into an OCI layout.
fn pull_image(attrs: &NixAttrs, out: &std::path::Path) -> Result<()> {
    let (architecture, variant) = if attrs.has("arch") {
        (attrs.string("arch")?.to_owned(), None)
    } else {
        let (architecture, variant) = spec::goarch_of_system(attrs.string("system")?)?;
        (architecture.to_owned(), variant.map(str::to_owned))
    };
    let tls_verify = attrs.get("tlsVerify")?.as_bool().unwrap_or(true);
    let options = PullOptions {
        image: format!(
            "{}@{}",
            attrs.string("imageName")?,
            attrs.string("imageDigest")?
        ),
        os: attrs.string("os")?.to_owned(),
        architecture: Some(architecture),
        variant,
        tag: attrs.string("finalImageTag")?.to_owned(),
        credentials: std::env::var("STRATA_REGISTRY_CREDS")
            .ok()
            .filter(|c| !c.is_empty()),
        insecure: !tls_verify,
    };
    pull::pull(&options, out, OutputMode::InPlace)
}

/// Makes the customisation root of the image and runs its commands.
fn customise_root(attrs: &NixAttrs, out: &std::path::Path) -> Result<()> {
    let plan = plan_from_attrs(attrs)?;
    let optional = |key: &str| -> Result<Option<&str>> {
        Ok(if attrs.has(key) {
            Some(attrs.string(key)?)
        } else {
            None
        })
    };
    let nix_db = match (optional("nixStore")?, optional("sqlite")?) {
        (Some(nix_store), Some(sqlite)) => Some((nix_store, sqlite)),
        _ => None,
    };
    let commands = customise::Commands {
        shell: attrs.string("shell")?,
        path: optional("commandsPath")?.unwrap_or(""),
        extra: optional("extraCommands")?.unwrap_or(""),
        fake_root: optional("fakeRootCommands")?.unwrap_or(""),
        fakeroot: optional("fakeroot")?,
        nix_db,
    };
    let closure = attrs.get(CLOSURE_KEY)?;
    output::fill_dir(out, OutputMode::InPlace, |dir| {
        customise::build(&plan, closure, &commands, dir)
    })
}

/// The commands a script may run.
const SCRIPT_COMMANDS: [&str; 4] = ["stream", "push", "docker-load", "podman-load"];

/// Writes the script: the output itself, or with a `program` attribute the
/// program `bin/<program>` (for `nix run`).
fn write_script(attrs: &NixAttrs, out: &std::path::Path) -> Result<()> {
    let command = attrs.string("command")?;
    if !SCRIPT_COMMANDS.contains(&command) {
        bail!("unknown script command '{command}'");
    }
    let program = if attrs.has("program") {
        Some(attrs.string("program")?)
    } else {
        None
    };
    let source = std::path::PathBuf::from(attrs.string("descriptionFile")?);
    let json = match Described::read(&source)? {
        Described::Image(mut description) => {
            if description.plan.spec.format == ImageFormat::OciDir && command != "push" {
                bail!(
                    "an oci-dir image is a directory in the store; streaming and loading take the docker or oci-archive format"
                );
            }
            if attrs.has("sbomFacts") {
                description.sbom_facts = Some(attrs.string("sbomFacts")?.into());
            }
            serde_json::to_vec(&description)?
        }
        Described::Index(index) => {
            if command == "stream" {
                bail!(
                    "the index {}:{} holds several platforms' images; an archive stream holds one",
                    index.name,
                    index.tag
                );
            }
            serde_json::to_vec(&index)?
        }
    };
    let interpreter = attrs.string("interpreter")?;
    let path = match program {
        Some(program) => {
            let bin = out.join("bin");
            std::fs::create_dir_all(&bin)
                .with_context(|| format!("cannot create {}", bin.display()))?;
            bin.join(program)
        }
        None => out.to_owned(),
    };
    output::write_file(&path, OutputMode::InPlace, true, |w| {
        writeln!(w, "#!{interpreter} {command}")?;
        w.write_all(&json)?;
        Ok(w.write_all(b"\n")?)
    })
}

/// Writes the bill of materials of the image (attribute `image`, when it
/// is built; a stream's is built here), in the format `sbomFormat` names,
/// from the facts of its store paths (attribute `facts`).
fn write_sbom(attrs: &NixAttrs, out: &std::path::Path) -> Result<()> {
    let plan = plan_from_attrs(attrs)?;
    let format: SbomFormat = serde_json::from_value(attrs.get("sbomFormat")?.clone())
        .context("the attribute `sbomFormat` is not \"spdx\" or \"cyclonedx\"")?;
    let facts = SbomFacts::read(std::path::Path::new(attrs.string("facts")?))?;
    let image = match attrs.get("image")? {
        serde_json::Value::Null => None,
        _ => Some(std::path::PathBuf::from(attrs.string("image")?)),
    };
    let built = BuiltImage::of_plan(&plan, image.as_deref(), attrs::build_threads()?)?;
    let document = document::render(&Bill::new(&plan, &facts, &built)?, format)?;
    output::write_file(out, OutputMode::InPlace, false, |w| {
        Ok(w.write_all(&document)?)
    })
}

/// Writes the facts of the image's store paths, with the `meta` of the
/// packages in `packagesMeta`.
fn write_sbom_facts(attrs: &NixAttrs, out: &std::path::Path) -> Result<()> {
    let records = attrs.closure(CLOSURE_KEY)?;
    let plan = plan_from_records(attrs, records.clone())?;
    let meta: Vec<PackageMeta> = serde_json::from_value(attrs.get("packagesMeta")?.clone())
        .context("the attribute `packagesMeta` is not valid")?;
    write_json(out, &SbomFacts::new(&plan, &records, &meta)?)
}

/// Writes `value` as JSON to the output.
fn write_json(out: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    let json = serde_json::to_vec(value)?;
    output::write_file(out, OutputMode::InPlace, false, |w| Ok(w.write_all(&json)?))
}

/// Reads each file the list attribute `key` names.
fn read_each<T>(
    attrs: &NixAttrs,
    key: &str,
    read: impl Fn(&std::path::Path) -> Result<T>,
) -> Result<Vec<T>> {
    attrs
        .strings(key)?
        .iter()
        .map(|file| read(std::path::Path::new(file)))
        .collect()
}

/// The attribute `index`: name, tag, annotations and format.
fn index_spec(attrs: &NixAttrs) -> Result<IndexSpec> {
    let spec: IndexSpec = serde_json::from_value(attrs.get("index")?.clone())
        .context("the attribute `index` is not valid")?;
    crate::format::reference::validate_name(&spec.name)?;
    crate::format::reference::validate_tag(&spec.tag)?;
    Ok(spec)
}

fn resolve_spec(attrs: &NixAttrs) -> Result<ImageSpec> {
    let store_dir = attrs::store_dir();
    let mut image = attrs.get("image")?.clone();
    let spec = ImageSpec::from_value(&mut image)?;
    plan_image::named_store_paths(&spec, &store_dir)?;
    let out = attrs.out_path()?;
    let out = StorePath::parse(&out.to_string_lossy(), &store_dir)
        .context("the output of the spec derivation")?;
    spec.resolve(&ResolveContext {
        system: attrs.string("system")?,
        default_tag: out.hash_part(),
    })
}

fn plan_from_attrs(attrs: &NixAttrs) -> Result<ImagePlan> {
    plan_from_records(attrs, attrs.closure(CLOSURE_KEY)?)
}

fn plan_from_records(attrs: &NixAttrs, records: Vec<PathRecord>) -> Result<ImagePlan> {
    let store_dir = attrs::store_dir();
    let spec_file = attrs.string("specFile")?;
    let text = std::fs::read_to_string(spec_file)
        .with_context(|| format!("cannot read the image spec {spec_file}"))?;
    let spec = ImageSpec::from_json(&text).with_context(|| format!("in {spec_file}"))?;
    let helper = StorePath::parse(spec_file, &store_dir).context("the spec file")?;
    // The customisation root the commands made replaces the planned one.
    let customisation = if attrs.has("customisation") {
        Customisation::Made(attrs.string("customisation")?)
    } else if spec.root_commands {
        Customisation::ForCommands
    } else {
        Customisation::Planned
    };
    plan_image::plan_image(spec, records, &[helper], &store_dir, customisation)
}
