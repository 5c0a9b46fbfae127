//! strata builds reproducible, layered OCI and Docker images from Nix
//! closures.
//!
//! One folder per stage of the data flow. Each imports only from the
//! folders listed after it, never from one listed before:
//!
//! - [`cli`]: the commands of the command line;
//! - [`builder`]: the steps Nix runs strata for, as the builder of the
//!   library's derivations, and the planning step the commands share;
//! - [`transport`]: registries, engines and the blob cache;
//! - [`emit`]: the bytes of layers, archives, OCI documents, descriptions;
//! - [`plan`]: which layers hold what, decided without writing anything;
//! - [`input`]: what an image is made from, as read: attributes, closures,
//!   the spec, base images, customisation outputs;
//! - [`format`](mod@format): the vocabulary every stage speaks: digests, store paths,
//!   image references, tar headers, manifests, compression settings.

pub mod builder;
pub mod cli;
pub mod emit;
pub mod format;
pub mod input;
pub mod plan;
pub mod transport;
