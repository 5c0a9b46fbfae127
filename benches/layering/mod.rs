//! The parts of the layering-stability benchmark. The package sets and
//! closures it plans are generated in `package_sets`, `debian` and `graphs`
//! (the closures written to disk for the build and loop benchmarks are in
//! `synthetic`); `installed_store` builds Debian's sets from real files.

pub mod changes;
pub mod debian;
pub mod graphs;
pub mod installed_store;
pub mod package_sets;
pub mod report;
pub mod reship;
pub mod sweeps;
pub mod timings;
