//! The one error type of the DPDK wrappers, and the helpers that turn DPDK's error conventions
//! ("negative return is -errno", "NULL or negative return plus `rte_errno`") into it.
//!
//! Every fallible wrapper in this crate goes through [`check`], [`check_errno`] or [`check_ptr`], so the
//! error text always comes from `rte_strerror` (which knows DPDK's own errno values too).

use std::ffi::CStr;
use std::os::raw::c_int;
use std::ptr::NonNull;

use crate::sys;

/// An error from DPDK or from the wrappers' own checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpdkError {
    /// A DPDK call failed with errno `code`.
    #[error("{call}: {text} (errno {code})")]
    Call {
        /// The DPDK function that failed.
        call: &'static str,
        /// The (positive) errno value.
        code: i32,
        /// `rte_strerror(code)`.
        text: String,
    },
    /// `Eal::init` was called a second time in this process (EAL can initialise once per process).
    #[error("the EAL was already initialised in this process")]
    AlreadyInitialized,
    /// An argument contains a NUL byte or is otherwise unusable for DPDK.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No ethdev port has this name.
    #[error("no ethdev port named {0:?}")]
    NoSuchPort(String),
    /// A queue handle for this port/queue is alive elsewhere, so the queue (or its port) cannot be
    /// set up, reconfigured, stopped or closed now.
    #[error("port {port} queue {queue:?} is in use by a live queue handle")]
    QueueInUse {
        /// Port id.
        port: u16,
        /// Queue id, or None for "some queue of this port".
        queue: Option<u16>,
    },
    /// A function launched on a worker lcore returned an error or panicked.
    #[error("lcore {lcore} returned {code}")]
    LcoreFailed {
        /// The lcore id.
        lcore: u32,
        /// Its return value (-1 for a panic).
        code: i32,
    },
}

/// `rte_strerror(code)` as a `String`.
pub fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror accepts any int and returns a pointer to a NUL-terminated string, static or in
    // a per-thread buffer valid until the next call on this thread; we copy it out at once.
    let p = unsafe { sys::rte_strerror(code) };
    if p.is_null() {
        return format!("errno {code}");
    }
    // SAFETY: p is non-null and points to a NUL-terminated string (see above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The calling thread's `rte_errno`.
pub fn rte_errno() -> i32 {
    // SAFETY: reads a thread-local int; no preconditions.
    unsafe { sys::rvs_errno() }
}

/// An error for `call` failing with errno `code` (sign ignored).
pub(crate) fn call_error(call: &'static str, code: i32) -> DpdkError {
    let code = code.saturating_abs();
    DpdkError::Call {
        call,
        code,
        text: strerror(code),
    }
}

/// Convention "returns 0 or a negative errno": `rc >= 0` is `Ok(rc)`.
pub(crate) fn check(call: &'static str, rc: c_int) -> Result<c_int, DpdkError> {
    if rc < 0 {
        Err(call_error(call, rc))
    } else {
        Ok(rc)
    }
}

/// Convention "returns -1 (or any negative) and sets `rte_errno`".
pub(crate) fn check_errno(call: &'static str, rc: c_int) -> Result<c_int, DpdkError> {
    if rc < 0 {
        let e = rte_errno();
        Err(call_error(call, if e != 0 { e } else { rc }))
    } else {
        Ok(rc)
    }
}

/// Convention "returns NULL and sets `rte_errno`".
pub(crate) fn check_ptr<T>(call: &'static str, p: *mut T) -> Result<NonNull<T>, DpdkError> {
    NonNull::new(p).ok_or_else(|| {
        let e = rte_errno();
        call_error(call, if e != 0 { e } else { libc::EINVAL })
    })
}
