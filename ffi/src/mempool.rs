//! Packet-buffer pools (`rte_pktmbuf_pool_create`).
//!
//! A [`Mempool`] is shared between lcores (DPDK's default ring ops are multi-producer/multi-consumer),
//! so it is `Send + Sync` and is usually held in an `Arc`. Invariant: the pool is freed only when no
//! mbuf of it is in use; a pool dropped while mbufs are out (in a queue, a port's rings or a caller's
//! hands) is deliberately leaked, together with its EAL handle, because freeing it would leave those
//! mbufs dangling.

use std::ffi::CString;
use std::ptr::NonNull;

use crate::eal::{Eal, EalHandle};
use crate::error::{check_ptr, DpdkError};
use crate::mbuf::Mbuf;
use crate::sys;

/// A pool of packet mbufs.
#[derive(Debug)]
pub struct Mempool {
    ptr: NonNull<sys::rte_mempool>,
    eal: Option<EalHandle>,
}

// SAFETY: an rte_mempool with default (MP/MC ring) ops may be used from any thread concurrently: get/put
// are thread-safe; lcore caches are per EAL lcore and non-EAL threads bypass them.
unsafe impl Send for Mempool {}
// SAFETY: see Send; every method takes &self and calls only thread-safe mempool functions.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Socket id meaning "any NUMA socket".
    pub const SOCKET_ANY: i32 = -1;
    /// Default mbuf data room: 2048 bytes plus the default headroom (128).
    pub const DEFAULT_DATA_ROOM: u16 = sys::RVS_MBUF_DEFAULT_BUF_SIZE as u16;
    /// Headroom reserved in front of the data of every freshly allocated mbuf.
    pub const HEADROOM: u16 = sys::RVS_PKTMBUF_HEADROOM as u16;

    /// Creates a pool of `n` mbufs (best `2^k - 1`) named `name` (unique in the process), with a
    /// per-lcore cache of `cache` mbufs and a data room of `data_room` bytes (headroom included), on
    /// NUMA socket `socket` (or [`Mempool::SOCKET_ANY`]).
    ///
    /// # Errors
    /// `EEXIST` for a name in use, `ENOMEM` when the EAL memory (`-m`) is too small, `EINVAL` for bad
    /// sizes (e.g. cache larger than 512 or n/1.5), [`DpdkError::InvalidArgument`] for a NUL in `name`.
    pub fn new(
        eal: &Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Mempool, DpdkError> {
        let cname = CString::new(name)
            .map_err(|_| DpdkError::InvalidArgument(format!("NUL byte in {name:?}")))?;
        // SAFETY: cname is a valid C string for the call; EAL is initialised (eal exists); DPDK validates the
        // sizes and returns NULL with rte_errno on error.
        let p =
            unsafe { sys::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, 0, data_room, socket) };
        let ptr = check_ptr("rte_pktmbuf_pool_create", p)?;
        Ok(Mempool {
            ptr,
            eal: Some(eal.handle()),
        })
    }

    /// Allocates one mbuf (length 0, default headroom), or None when the pool is empty.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: self.ptr is a live pktmbuf pool; rte_pktmbuf_alloc is thread-safe and returns NULL when empty.
        let m = unsafe { sys::rvs_pktmbuf_alloc(self.ptr.as_ptr()) };
        // SAFETY: a non-null m is a freshly allocated mbuf owned by nobody else.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// Mbufs currently free in the pool (ring plus lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: self.ptr is a live pool; a read-only count.
        unsafe { sys::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// Mbufs currently allocated from the pool (by anyone: callers, queues, port rings).
    pub fn in_use(&self) -> u32 {
        // SAFETY: self.ptr is a live pool; a read-only count.
        unsafe { sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    /// The raw pool pointer, for queue setup.
    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.ptr.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        if self.in_use() == 0 {
            // SAFETY: no mbuf of the pool is in use, so nothing refers to its memory any more; the EAL is
            // still alive (self.eal is dropped after this).
            unsafe { sys::rte_mempool_free(self.ptr.as_ptr()) };
        } else {
            // Mbufs are still out: leak the pool and keep the EAL alive forever (see module doc).
            std::mem::forget(self.eal.take());
        }
    }
}
