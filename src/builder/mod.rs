//! What Nix runs strata for: each step of the library's derivations
//! ([`steps`]), the customisation derivation that runs the image's
//! commands, and planning an image from its inputs, which the command line
//! shares.

pub mod customise;
pub mod plan_image;
pub mod steps;
