//! Stop-flag signal handling: SIGINT and SIGTERM set a caller's `AtomicBool`, so a daemon's loops can
//! notice and shut down cleanly (stop workers, then ports, then the EAL).
//!
//! The handler only stores `true` into an atomic (a lock-free store: async-signal-safe).

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// The flag the handler sets (null until installed).
static STOP_FLAG: AtomicPtr<AtomicBool> = AtomicPtr::new(ptr::null_mut());

extern "C" fn on_signal(_sig: libc::c_int) {
    let p = STOP_FLAG.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: p comes from a &'static AtomicBool (install_stop_flag), valid forever.
        unsafe { &*p }.store(true, Ordering::SeqCst);
    }
}

/// Makes SIGINT and SIGTERM set `flag` (instead of killing the process). A later call replaces the
/// flag.
///
/// # Errors
/// The `sigaction` error.
pub fn install_stop_flag(flag: &'static AtomicBool) -> io::Result<()> {
    STOP_FLAG.store(ptr::from_ref(flag).cast_mut(), Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain data; all-zero is a valid (empty) value we then fill in.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        // SAFETY: sa.sa_mask is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: sa is fully initialised; the handler is async-signal-safe (one atomic store).
        if unsafe { libc::sigaction(sig, &sa, ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
