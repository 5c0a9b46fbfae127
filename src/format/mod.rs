//! The vocabulary every stage speaks, with no policy of its own: digests,
//! Nix store paths, image references, tar headers, image documents as
//! read, platforms, layer blobs, compression settings, NAR hashes and
//! package names.

pub mod compression;
pub mod digest;
pub mod drv_name;
pub mod layer_blob;
pub mod manifest;
pub mod nar_hash;
pub mod platform;
pub mod reference;
pub mod store_path;
pub mod tar_format;
