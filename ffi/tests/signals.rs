//! SIGINT and SIGTERM set the stop flag instead of killing the process.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

#[test]
fn sigint_and_sigterm_set_the_flag() {
    rvs_ffi::signals::install_stop_flag(&STOP).unwrap();
    for sig in [libc::SIGTERM, libc::SIGINT] {
        STOP.store(false, Ordering::SeqCst);
        // SAFETY: raising a signal whose handler we installed; the handler only stores to an atomic.
        assert_eq!(unsafe { libc::raise(sig) }, 0);
        assert!(STOP.load(Ordering::SeqCst), "signal {sig} sets the flag");
    }
}
