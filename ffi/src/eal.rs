//! The DPDK Environment Abstraction Layer: initialisation (once per process), lcores, remote launch,
//! and cleanup.
//!
//! Invariants: [`Eal::init`] succeeds at most once per process (DPDK cannot re-initialise). Every object
//! of this crate that uses DPDK memory or devices ([`crate::Mempool`], [`crate::EthDev`], queue handles)
//! holds an [`EalHandle`], so `rte_eal_cleanup` runs only when the [`Eal`] and all of them are gone; before
//! it, every worker lcore is waited for. Closures launched on lcores must catch nothing special: a panic
//! is caught at the FFI boundary (it must not unwind into C) and reported as return value -1.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{call_error, check, check_errno, DpdkError};
use crate::sys;

/// Set once `rte_eal_init` has been attempted in this process.
static INIT_ATTEMPTED: AtomicBool = AtomicBool::new(false);

/// `LCORE_ID_ANY`: what `rte_lcore_id()` returns on a thread that is not an EAL lcore.
const LCORE_ID_ANY: u32 = u32::MAX;

/// Keeps the EAL alive; the last one dropped waits for the worker lcores and runs `rte_eal_cleanup`.
#[derive(Debug)]
struct EalLife;

impl Drop for EalLife {
    fn drop(&mut self) {
        for lcore in worker_lcores() {
            // SAFETY: lcore is an enabled worker lcore id (from rte_get_next_lcore); waiting is allowed
            // from any thread after init.
            unsafe { sys::rte_eal_wait_lcore(lcore) };
        }
        // SAFETY: the EAL was initialised (EalLife exists only after a successful init) and this is the
        // last handle: no mempool, port or queue of this crate is left to use DPDK afterwards.
        unsafe { sys::rte_eal_cleanup() };
    }
}

/// A reference that keeps the EAL initialised (see the module doc). Cheap to clone.
#[derive(Debug, Clone)]
pub struct EalHandle(#[allow(dead_code)] Arc<EalLife>);

/// The initialised EAL of this process. Dropping it (and every object holding an [`EalHandle`]) waits
/// for the worker lcores and cleans the EAL up.
#[derive(Debug)]
pub struct Eal {
    handle: EalHandle,
}

impl Eal {
    /// Initialises the EAL with `args` (EAL arguments without a program name, e.g.
    /// `["--no-huge", "-m", "256", "--vdev=net_ring0"]`).
    ///
    /// # Errors
    /// [`DpdkError::AlreadyInitialized`] on a second call in this process (successful or not: DPDK
    /// cannot retry), [`DpdkError::InvalidArgument`] for an argument with a NUL byte, and the
    /// `rte_eal_init` error otherwise.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal, DpdkError> {
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("rvs").map_err(|e| DpdkError::InvalidArgument(e.to_string()))?);
        for a in args {
            owned.push(CString::new(a.as_ref()).map_err(|_| {
                DpdkError::InvalidArgument(format!("NUL byte in EAL argument {:?}", a.as_ref()))
            })?);
        }
        if INIT_ATTEMPTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::AlreadyInitialized);
        }
        // EAL may keep pointers into argv (and permutes the array): leak both, once per process.
        let strings: &'static mut [CString] = Box::leak(owned.into_boxed_slice());
        let argv: &'static mut [*mut c_char] = Box::leak(
            strings
                .iter()
                .map(|s| s.as_ptr().cast_mut())
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let argc = c_int::try_from(argv.len())
            .map_err(|_| DpdkError::InvalidArgument("too many EAL arguments".into()))?;
        // SAFETY: argv holds argc valid NUL-terminated strings that live forever (leaked above); this is
        // the only call of rte_eal_init in the process (guarded by INIT_ATTEMPTED).
        let rc = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        check_errno("rte_eal_init", rc)?;
        Ok(Eal {
            handle: EalHandle(Arc::new(EalLife)),
        })
    }

    /// A handle that keeps the EAL alive (held by mempools, ports and queues).
    pub fn handle(&self) -> EalHandle {
        self.handle.clone()
    }

    /// The main lcore's id (the thread that called [`Eal::init`]).
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised (self exists); a plain getter.
        unsafe { sys::rte_get_main_lcore() }
    }

    /// Number of enabled lcores, main included.
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: EAL is initialised; a plain getter.
        unsafe { sys::rte_lcore_count() }
    }

    /// The enabled worker lcores (all but the main lcore), in increasing id order.
    pub fn worker_lcores(&self) -> Vec<u32> {
        worker_lcores()
    }

    /// The NUMA socket of `lcore_id`.
    pub fn lcore_socket(&self, lcore_id: u32) -> u32 {
        // SAFETY: EAL is initialised; DPDK bounds-checks lcore_id (returns SOCKET_ID_ANY-like values).
        unsafe { sys::rte_lcore_to_socket_id(lcore_id) }
    }

    /// Runs `f` on worker lcore `lcore_id` (`rte_eal_remote_launch`). The lcore's return value is 0 when
    /// `f` returns, -1 when it panics; collect it with [`Eal::wait`] or [`Eal::wait_all`].
    ///
    /// # Errors
    /// `EINVAL` for an id that is not an enabled worker lcore, `EBUSY` when the lcore is still running
    /// an earlier function.
    pub fn launch(&self, lcore_id: u32, f: Box<dyn FnOnce() + Send>) -> Result<(), DpdkError> {
        if !self.is_worker(lcore_id) {
            return Err(call_error("rte_eal_remote_launch", libc::EINVAL));
        }
        let arg: *mut Box<dyn FnOnce() + Send> = Box::into_raw(Box::new(f));
        // SAFETY: trampoline matches lcore_function_t; arg is a valid Box pointer whose ownership passes to
        // the trampoline when the launch succeeds; lcore_id is an enabled worker (checked above).
        let rc =
            unsafe { sys::rte_eal_remote_launch(Some(trampoline), arg.cast::<c_void>(), lcore_id) };
        if rc < 0 {
            // SAFETY: the launch failed, so the trampoline never runs and we still own arg.
            drop(unsafe { Box::from_raw(arg) });
            return Err(call_error("rte_eal_remote_launch", rc));
        }
        Ok(())
    }

    /// Waits until worker `lcore_id` has finished its launched function (returns at once when idle).
    ///
    /// # Errors
    /// [`DpdkError::LcoreFailed`] when the function panicked; `EINVAL` for a bad lcore id.
    pub fn wait(&self, lcore_id: u32) -> Result<(), DpdkError> {
        if !self.is_worker(lcore_id) {
            return Err(call_error("rte_eal_wait_lcore", libc::EINVAL));
        }
        // SAFETY: lcore_id is an enabled worker lcore.
        let rc = unsafe { sys::rte_eal_wait_lcore(lcore_id) };
        if rc != 0 {
            return Err(DpdkError::LcoreFailed {
                lcore: lcore_id,
                code: rc,
            });
        }
        Ok(())
    }

    /// Waits for every worker lcore; returns the first failure after all have finished.
    ///
    /// # Errors
    /// [`DpdkError::LcoreFailed`] for the lowest lcore whose function panicked.
    pub fn wait_all(&self) -> Result<(), DpdkError> {
        let mut first = Ok(());
        for lcore in worker_lcores() {
            let r = self.wait(lcore);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Hot-plugs a device (`rte_dev_probe`), e.g. `"net_tap0,iface=rvsc"` or a PCI address, as an
    /// alternative to passing `--vdev` / `-a` to [`Eal::init`].
    ///
    /// # Errors
    /// The `rte_dev_probe` error (e.g. `EEXIST` when the device is already probed).
    pub fn probe(&self, devargs: &str) -> Result<(), DpdkError> {
        let c = CString::new(devargs)
            .map_err(|_| DpdkError::InvalidArgument(format!("NUL byte in {devargs:?}")))?;
        // SAFETY: c is a valid NUL-terminated string for the duration of the call; EAL is initialised.
        let rc = unsafe { sys::rte_dev_probe(c.as_ptr()) };
        check("rte_dev_probe", rc).map(|_| ())
    }

    fn is_worker(&self, lcore_id: u32) -> bool {
        if lcore_id >= sys::RVS_MAX_LCORE || lcore_id == self.main_lcore() {
            return false;
        }
        // SAFETY: lcore_id < RTE_MAX_LCORE (checked above); a plain getter.
        unsafe { sys::rte_lcore_is_enabled(lcore_id) != 0 }
    }
}

/// The calling thread's EAL lcore id, or `None` on a thread that is not an EAL lcore.
pub fn lcore_id() -> Option<u32> {
    // SAFETY: reads a thread-local; valid on any thread.
    let id = unsafe { sys::rvs_lcore_id() };
    (id != LCORE_ID_ANY).then_some(id)
}

/// A CPU hint for spin-wait loops (`rte_pause`).
pub fn pause() {
    // SAFETY: a pause instruction; no preconditions.
    unsafe { sys::rvs_pause() }
}

fn worker_lcores() -> Vec<u32> {
    let mut out = Vec::new();
    let mut i = u32::MAX; // rte_get_next_lcore increments first, so this starts at lcore 0
    loop {
        // SAFETY: a plain iterator over EAL's lcore table; any i is accepted.
        i = unsafe { sys::rte_get_next_lcore(i, 1, 0) };
        if i >= sys::RVS_MAX_LCORE {
            return out;
        }
        out.push(i);
    }
}

/// Runs the boxed closure passed by [`Eal::launch`] on the worker lcore.
extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: arg comes from Box::into_raw in Eal::launch and is passed to exactly one trampoline call.
    let f = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) };
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}
