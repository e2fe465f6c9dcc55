//! The bodies of the cargo-fuzz targets `wire`, `control_frame` and `config` (dataplane/fuzz), shared
//! with the `fuzz_regressions` test so that the replay of `dataplane/fuzz/regressions/<target>/` in
//! `cargo test` runs exactly the code the fuzz target runs. Each fuzz target includes its one file
//! with `#[path]`; the test includes them all through this module.

pub mod config;
pub mod control_frame;
pub mod wire;
