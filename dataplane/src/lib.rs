//! rvs dataplane: packet views, sessions, schedulers, forwarding modes and the lcore pipeline.
//!
//! Pure Rust, no `unsafe`: everything here builds and tests without DPDK, against the port traits in
//! [`port`]. The `rvsd` binary (feature `dpdk`) plugs DPDK in behind those traits.
#![forbid(unsafe_code)]

pub mod acl;
pub mod checksum;
pub mod estimator;
pub mod flow_hash;
pub mod frag;
pub mod laddr;
pub mod lb;
pub mod loadgen;
pub mod neigh;
pub mod pipeline;
pub mod port;
pub mod route;
pub mod rules;
pub mod sched;
pub mod service;
pub mod session;
pub mod stats;
pub mod synproxy;
pub mod trafgen;
pub mod wire;
pub mod worker;
pub mod xmit;
