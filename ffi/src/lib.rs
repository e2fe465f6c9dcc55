//! DPDK 22.11 bindings and the safe types built on them. The only crate of rvs with `unsafe` code.
//!
//! - [`sys`]: bindgen output for the allowlisted DPDK API plus the C shim (`src/shim.{h,c}`) that wraps
//!   DPDK's static inline fast path.
//! - [`eal`]: [`Eal`] init/cleanup, lcores, remote launch. [`mempool`]: [`Mempool`]. [`mbuf`]: [`Mbuf`].
//! - [`ethdev`]: [`EthDev`] ports, [`RxQueue`]/[`TxQueue`] burst handles. [`signals`]: stop flag.
//! - [`error`]: [`DpdkError`] and the DPDK error conventions.
//! - [`hint`]: [`hint::prefetch`], a cache prefetch behind a safe function.
//!
//! Lifetime rule: the EAL is cleaned up only after the [`Eal`] and every pool, port and queue are gone
//! (they hold [`eal::EalHandle`]s); shut down in the order workers, queues, ports, pools, EAL.

pub mod eal;
pub mod error;
pub mod ethdev;
pub mod hint;
pub mod mbuf;
pub mod mempool;
pub mod signals;

/// Raw bindings (bindgen) of the allowlisted DPDK API and of the C shim.
#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    missing_docs
)]
#[allow(clippy::all, clippy::pedantic, clippy::undocumented_unsafe_blocks)]
pub mod sys {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

pub use eal::{lcore_id, Eal, EalHandle};
pub use error::DpdkError;
pub use ethdev::{DevInfo, EthConf, EthDev, EthStats, LinkStatus, RxQueue, TxQueue, BURST};
pub use mbuf::{L4Cksum, Mbuf, TxOffload};
pub use mempool::Mempool;
