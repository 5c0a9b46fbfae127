//! Splitting a closure's store paths into layers.

//!
//! [`strategy::store_layers`] lays out a closure by one of the strategies
//! (popularity, stable, auto, single); [`previous::store_layers_keeping`]
//! keeps an earlier plan's layers and lays out only what is new. The
//! strategies share [`store_layer`]'s measures.

pub mod auto;
mod bitset;
pub mod popularity;
pub mod previous;
#[cfg(test)]
mod properties;
mod runs;
pub mod stable;
pub mod store_layer;
pub mod strategy;
