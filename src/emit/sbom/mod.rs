//! Bills of materials: what an image holds, as SPDX 2.3 and CycloneDX 1.6
//! JSON documents. The image by its manifest digest, name and tag; each of
//! its layers by digest (the base image's among them); each store path
//! with its name and version, NAR hash, layer and references; and, for the
//! packages Nix named, their `meta`.
//!
//! The documents are reproducible: no clock is read (the image's `created`
//! stands for the time), and their identifiers derive from the manifest
//! digest.

pub mod bill;
pub mod cyclonedx;
pub mod document;
pub mod facts;
pub mod spdx;
