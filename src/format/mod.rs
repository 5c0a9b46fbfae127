//! The vocabulary every stage speaks, with no policy of its own: digests,
//! Nix store paths, image references, tar headers, image documents as
//! read, platforms, layer blobs, and compression settings.

pub mod compression;
pub mod digest;
pub mod layer_blob;
pub mod manifest;
pub mod platform;
pub mod reference;
pub mod store_path;
pub mod tar_format;
