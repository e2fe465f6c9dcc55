//! rvs control plane: the versioned wire protocol spoken over rvsd's Unix socket, the client used by
//! `rvsadm`, and the server loop rvsd runs. No business logic lives here: the daemon supplies a handler.
#![forbid(unsafe_code)]

pub mod proto;
