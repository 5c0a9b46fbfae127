//! The commands of the command line, each a short function over the stages
//! below, and `strata explain`'s report.

pub mod commands;
pub mod explain;
