use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strata::builder::steps::{self, BuilderStep};
use strata::cli::commands::{self, ImageArgs};
use strata::emit::sbom::document::SbomFormat;
use strata::transport::engine::Engine;
use strata::transport::pull::PullOptions;
use strata::transport::push::PushOptions;

/// Build reproducible, layered OCI and Docker images from Nix closures.
///
/// Inside Nix, the library in nix/ runs strata as the builder of each image
/// derivation. By hand, give store paths (or a spec file) and strata asks
/// nix-store for their closure.
#[derive(Parser)]
#[command(name = "strata", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How to reach a registry.
#[derive(clap::Args)]
struct RegistryArgs {
    /// Credentials (default: from $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json or ~/.docker/config.json)
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "STRATA_REGISTRY_CREDS",
        hide_env_values = true
    )]
    creds: Option<String>,
    /// Use plain HTTP (always used for a registry on localhost)
    #[arg(long)]
    insecure: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Build an image archive that `docker load` and `podman load` accept
    Build {
        #[command(flatten)]
        image: ImageArgs,
        /// Where to write the archive
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Worker threads (0: one per core)
        #[arg(long, env = "NIX_BUILD_CORES", default_value_t = 0)]
        threads: usize,
    },
    /// Hash every layer and write an image description (JSON) from which
    /// `strata stream` writes the archive in one pass
    Describe {
        #[command(flatten)]
        image: ImageArgs,
        /// Where to write the description (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Worker threads (0: one per core)
        #[arg(long, env = "NIX_BUILD_CORES", default_value_t = 0)]
        threads: usize,
    },
    /// Write the image archive of a description, or of a stream script made
    /// by streamLayeredImage, to stdout
    Stream {
        /// Image description or stream script
        #[arg(value_name = "FILE")]
        description: PathBuf,
        /// The name and tag the archive gives the image, instead of its own
        #[arg(
            long = "repo_tag",
            short = 't',
            visible_alias = "repo-tag",
            value_name = "NAME:TAG"
        )]
        repo_tag: Option<String>,
    },
    /// Push the image of a description, or of a script made by the Nix
    /// library, to a registry (of an index: every platform, then the
    /// index); layers the registry has are not sent
    Push {
        /// Image description or script
        #[arg(value_name = "FILE")]
        description: PathBuf,
        /// Where to push: [docker://]NAME[:TAG] (default: the image's name
        /// and tag)
        #[arg(value_name = "DESTINATION")]
        destination: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
        /// Blobs sent at once
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Another repository of the registry to mount missing blobs from
        #[arg(long, value_name = "REPOSITORY")]
        mount_from: Option<String>,
        /// Leave out the bill of materials the scripts push along
        #[arg(long)]
        no_sbom: bool,
    },
    /// Pull an image by digest into an OCI layout directory, for fromImage
    Pull {
        /// [docker://]NAME@sha256:DIGEST
        #[arg(value_name = "IMAGE")]
        image: String,
        /// The directory to create
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// The platform to pick from a multi-platform index
        #[arg(long, default_value = "linux")]
        os: String,
        /// The architecture to pick, as OCI names it: amd64, arm64, …
        /// (default: this machine's)
        #[arg(long)]
        arch: Option<String>,
        /// The tag the layout gives the image
        #[arg(long, default_value = "latest")]
        tag: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Load the image into Docker through its API socket, without writing an
    /// archive (of an index: this machine's platform)
    DockerLoad {
        /// Image description or script
        #[arg(value_name = "FILE")]
        description: PathBuf,
        /// The socket (default: $DOCKER_HOST, else /var/run/docker.sock)
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Load the image into podman through its Docker-compatible API socket
    /// (`podman system service`), without writing an archive (of an index:
    /// this machine's platform)
    PodmanLoad {
        /// Image description or script
        #[arg(value_name = "FILE")]
        description: PathBuf,
        /// The socket (default: $CONTAINER_HOST, else podman's own)
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Print the layering plan (JSON): which store paths go into which layer
    Plan {
        #[command(flatten)]
        image: ImageArgs,
        /// Where to write the plan (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Explain the layers: their sizes, their store paths (largest first) and
    /// why each path is where it is
    Explain {
        #[command(flatten)]
        image: ImageArgs,
        /// Explain this plan, image description or stream script (the
        /// `plan` passthru of the Nix image functions) instead; of an index's
        /// description, its platforms and each image
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Also tell which layers are new since an earlier version: its
        /// plan, image description or stream script (a registry holding it
        /// receives only the new layers)
        #[arg(long, value_name = "FILE")]
        since: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Write the image's bill of materials, SPDX 2.3 or CycloneDX 1.6 JSON:
    /// the image, its layers, and each store path with its NAR hash, layer
    /// and references (from nix-store)
    Sbom {
        /// Plan, image description or script
        #[arg(value_name = "FILE")]
        plan: PathBuf,
        /// The image as built (archive, or OCI layout directory), for its
        /// manifest digest (default: built into a scratch directory)
        #[arg(long, value_name = "IMAGE")]
        image: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "spdx")]
        format: SbomFormat,
        /// Where to write the document (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Worker threads (0: one per core)
        #[arg(long, env = "NIX_BUILD_CORES", default_value_t = 0)]
        threads: usize,
    },
    /// Run as the builder of a derivation of the Nix library (reads the
    /// structured attributes of the build)
    Builder {
        #[arg(value_enum)]
        step: BuilderStep,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Build {
            image,
            output,
            threads,
        } => commands::build(image, output, *threads),
        Command::Describe {
            image,
            output,
            threads,
        } => commands::describe(image, output.as_deref(), *threads),
        Command::Stream {
            description,
            repo_tag,
        } => commands::stream(description, repo_tag.as_deref()),
        Command::Push {
            description,
            destination,
            registry,
            jobs,
            mount_from,
            no_sbom,
        } => commands::push(
            description,
            &PushOptions {
                destination: destination.clone(),
                credentials: registry.creds.clone(),
                insecure: registry.insecure,
                jobs: *jobs,
                mount_from: mount_from.clone(),
                sbom: !no_sbom,
            },
        ),
        Command::Pull {
            image,
            output,
            os,
            arch,
            tag,
            registry,
        } => commands::pull(
            &PullOptions {
                image: image.strip_prefix("docker://").unwrap_or(image).to_owned(),
                os: os.clone(),
                architecture: arch.clone(),
                variant: None,
                tag: tag.clone(),
                credentials: registry.creds.clone(),
                insecure: registry.insecure,
            },
            output,
        ),
        Command::DockerLoad {
            description,
            socket,
        } => commands::load(description, Engine::Docker, socket.as_deref()),
        Command::PodmanLoad {
            description,
            socket,
        } => commands::load(description, Engine::Podman, socket.as_deref()),
        Command::Plan { image, output } => commands::print_plan(image, output.as_deref()),
        Command::Explain {
            image,
            plan,
            since,
            json,
        } => commands::explain(image, plan.as_deref(), since.as_deref(), *json),
        Command::Sbom {
            plan,
            image,
            format,
            output,
            threads,
        } => commands::sbom(plan, image.as_deref(), *format, output.as_deref(), *threads),
        Command::Builder { step } => steps::run(*step),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("strata: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
