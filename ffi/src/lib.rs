//! DPDK 22.11 bindings and the safe types built on them. The only crate of rvs with `unsafe` code.
