//! Moving images to and from other programs: the registry client and its
//! authentication, push (of images and indexes) and pull, the Docker and podman APIs, and what is
//! known of compressed blobs pushed before.

pub mod auth;
pub mod blob_cache;
pub mod engine;
pub mod known_blobs;
pub mod pull;
pub mod push;
pub mod push_index;
pub mod referrers;
pub mod registry;
