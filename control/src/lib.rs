//! rvs control plane: the versioned wire protocol spoken over rvsd's Unix socket, the client used by
//! `rvsadm`, and the server loop rvsd runs. No business logic lives here: the daemon supplies a handler.
//!
//! - [`proto`]: every type that crosses the socket.
//! - [`frame`]: `u32 BE length | u32 BE API_VERSION | JSON` framing, checked before decoding.
//! - [`client`]: [`client::Client`], one blocking request/reply at a time, with timeouts.
//! - [`server`]: [`server::serve`], the accept loop rvsd runs; requests go to a handler channel.
//! - [`ipvsadm`]: ipvsadm 1.31's command line ([`ipvsadm::parse_args`]), output formats and exit codes.
//! - [`state`]: rvsd's state file (its rules in `-S` syntax, written atomically, read back at start).
#![forbid(unsafe_code)]

pub mod client;
pub mod frame;
pub mod ipvsadm;
pub mod proto;
pub mod server;
pub mod state;
