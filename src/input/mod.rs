//! What an image is made from, as read: the builder's structured
//! attributes, the closure Nix exports (or `nix-store` reports), the image
//! spec, base images, images' OCI layouts, and the output of a
//! customisation derivation.

pub mod attrs;
pub mod base_image;
pub mod closure;
#[cfg(test)]
pub mod closure_fixtures;
pub mod customisation;
pub mod image_layout;
pub mod nix_store;
pub mod perm_rule;
pub mod spec;
