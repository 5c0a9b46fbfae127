//! strata builds reproducible, layered OCI and Docker images from Nix
//! closures.
//!
//! Two stages, kept apart: [`plan`] turns a closure and an image spec into an
//! ordered list of layers (no I/O), and [`emit`] turns a plan into bytes.

pub mod accounts;
pub mod archive;
pub mod attrs;
pub mod base_image;
pub mod blob_cache;
pub mod closure;
pub mod commands;
pub mod compress;
pub mod customise;
pub mod description;
pub mod digest;
pub mod emit;
pub mod engine;
pub mod explain;
pub mod inputs;
pub mod known_blobs;
pub mod layer;
pub mod layer_source;
pub mod layering;
pub mod manifest;
pub mod nix_builder;
pub mod nix_store;
pub mod oci;
pub mod output;
pub mod parallel_gzip;
pub mod perms;
pub mod plan;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod rootfs;
pub mod spec;
pub mod store_path;
pub mod stream;
pub mod tar_format;
#[cfg(test)]
mod test_support;
