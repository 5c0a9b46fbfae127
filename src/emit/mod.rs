//! Turning a plan into bytes: layer tars, their compression, OCI and Docker
//! documents, archives and OCI directories, image descriptions, indexes,
//! merged archives, bills of materials, and the one-pass stream. Every
//! output is written whole or not at all.

pub mod archive;
pub mod compress;
pub mod description;
pub mod image;
pub mod index;
pub mod layer;
pub mod layer_source;
pub mod merge;
pub mod oci;
pub mod output;
pub mod parallel_gzip;
pub mod sbom;
pub mod stream;
