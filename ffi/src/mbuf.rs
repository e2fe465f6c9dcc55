//! An owning packet buffer over one `rte_mbuf`.
//!
//! Invariants: an [`Mbuf`] owns its mbuf exclusively (reference count 1, never cloned or attached), so
//! [`Mbuf::data_mut`] cannot alias; it is freed back to its pool on drop, from any thread (mbufs are
//! `Send`). The slices cover the first segment only: rvs configures no scatter rx, so received frames
//! and the frames it builds are single-segment (length edits refuse multi-segment mbufs).
//!
//! The hot accessors ([`Mbuf::data`], [`Mbuf::len`], [`Mbuf::ol_flags`]) read `buf_addr`, `data_off`,
//! `data_len` and `ol_flags` from
//! Rust (plain fields; `size_of::<rte_mbuf>() == 128` is asserted at compile time here and in the shim,
//! and bindgen's layout tests check every offset); everything else (bitfields, anonymous unions, DPDK's
//! length bookkeeping) goes through the C shim.

use std::fmt;
use std::ptr::NonNull;

use crate::sys;

/// Which L4 checksum the port should compute on transmit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum L4Cksum {
    /// None.
    #[default]
    None,
    /// TCP over IPv4.
    Tcp,
    /// UDP over IPv4.
    Udp,
}

/// Transmit checksum offload request for one IPv4 frame (`ol_flags` + `l2_len`/`l3_len`).
///
/// The checksum fields may hold anything: the tx path runs `rte_eth_tx_prepare`, which writes what the
/// driver needs (e.g. the pseudo-header sum for Intel NICs); software PMDs such as net_tap compute the
/// whole checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxOffload {
    /// Have the port compute the IPv4 header checksum.
    pub ipv4_cksum: bool,
    /// Have the port compute this L4 checksum.
    pub l4: L4Cksum,
    /// Ethernet header length (14, or 18 with a VLAN tag).
    pub l2_len: u16,
    /// IPv4 header length (20 plus options).
    pub l3_len: u16,
}

impl TxOffload {
    /// The `RTE_MBUF_F_TX_*` flags this request stands for (0 when nothing is requested).
    pub fn ol_flags(&self) -> u64 {
        let mut f = 0;
        if self.ipv4_cksum {
            f |= sys::RVS_MBUF_F_TX_IP_CKSUM;
        }
        match self.l4 {
            L4Cksum::None => {}
            L4Cksum::Tcp => f |= sys::RVS_MBUF_F_TX_TCP_CKSUM,
            L4Cksum::Udp => f |= sys::RVS_MBUF_F_TX_UDP_CKSUM,
        }
        if f != 0 {
            f |= sys::RVS_MBUF_F_TX_IPV4;
        }
        f
    }
}

// The fields read from Rust assume DPDK 22.11's two-cache-line rte_mbuf.
const _: () = assert!(std::mem::size_of::<sys::rte_mbuf>() == 128);

/// An owned, single-segment packet mbuf. Freed to its pool on drop.
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: the mbuf is owned exclusively (refcount 1, module invariant) and rte_pktmbuf_free may run on any
// thread, so moving the owner between threads is sound.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `m` must be a valid mbuf from a pktmbuf pool, with reference count 1, not owned or referenced by
    /// anything else (e.g. fresh from `rte_pktmbuf_alloc` or `rte_eth_rx_burst`), and its pool must stay
    /// alive while the `Mbuf` lives.
    pub unsafe fn from_raw(m: NonNull<sys::rte_mbuf>) -> Mbuf {
        Mbuf(m)
    }

    /// Gives up ownership without freeing (e.g. to a tx queue).
    pub fn into_raw(self) -> NonNull<sys::rte_mbuf> {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    /// The raw pointer, still owned by `self`.
    pub fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.0.as_ptr()
    }

    /// The frame's bytes (first segment).
    #[inline]
    pub fn data(&self) -> &[u8] {
        let (p, len) = self.data_ptr_len();
        if len == 0 {
            return &[];
        }
        // SAFETY: p points at data_len initialised bytes inside the mbuf's data room (DPDK's invariant),
        // alive as long as the mbuf; &self forbids concurrent mutation through this owner.
        unsafe { std::slice::from_raw_parts(p, len) }
    }

    /// The frame's bytes (first segment), writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let (p, len) = self.data_ptr_len();
        if len == 0 {
            return &mut [];
        }
        // SAFETY: as in data(); &mut self plus exclusive ownership (refcount 1) make the slice unique.
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }

    /// Length of the first segment (the whole frame for single-segment mbufs).
    #[inline]
    pub fn len(&self) -> usize {
        self.data_ptr_len().1
    }

    /// `buf_addr + data_off` and `data_len`, read directly (the hot path: no shim call).
    #[inline]
    fn data_ptr_len(&self) -> (*mut u8, usize) {
        let m = self.as_ptr();
        // SAFETY: m is a valid, aligned rte_mbuf we own; buf_addr, data_off and data_len are plain fields
        // (layout checked by bindgen's layout tests and the size assert below); data_off < buf_len so the
        // pointer stays inside the buffer.
        unsafe {
            let base = (*m).buf_addr.cast::<u8>();
            (
                base.add(usize::from((*m).data_off)),
                usize::from((*m).data_len),
            )
        }
    }

    /// True when the frame is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total packet length over all segments.
    pub fn pkt_len(&self) -> usize {
        // SAFETY: self owns a valid mbuf; a field read.
        unsafe { sys::rvs_pktmbuf_pkt_len(self.as_ptr()) as usize }
    }

    /// Number of segments.
    pub fn nb_segs(&self) -> u16 {
        // SAFETY: self owns a valid mbuf; a field read.
        unsafe { sys::rvs_pktmbuf_nb_segs(self.as_ptr()) }
    }

    /// Free bytes in front of the data.
    pub fn headroom(&self) -> usize {
        // SAFETY: self owns a valid mbuf; a computation over its fields.
        usize::from(unsafe { sys::rvs_pktmbuf_headroom(self.as_ptr()) })
    }

    /// Free bytes after the data (of the last segment).
    pub fn tailroom(&self) -> usize {
        // SAFETY: self owns a valid mbuf; a computation over its fields.
        usize::from(unsafe { sys::rvs_pktmbuf_tailroom(self.as_ptr()) })
    }

    /// Grows the frame at the front by `n` bytes (contents unspecified). False, changing nothing, when
    /// the headroom is too small.
    pub fn prepend(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: self owns a valid mbuf exclusively; rte_pktmbuf_prepend checks the headroom.
        unsafe { sys::rvs_pktmbuf_prepend(self.as_ptr(), n) == 0 }
    }

    /// Removes `n` bytes from the front. False, changing nothing, when the first segment is shorter.
    pub fn adj(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: self owns a valid mbuf exclusively; rte_pktmbuf_adj checks data_len.
        unsafe { sys::rvs_pktmbuf_adj(self.as_ptr(), n) == 0 }
    }

    /// Sets the frame length: shrinks (trim) or grows into the tailroom (append; new bytes
    /// unspecified). False, changing nothing, without room or for a multi-segment mbuf.
    pub fn set_len(&mut self, len: usize) -> bool {
        let Ok(len) = u16::try_from(len) else {
            return false;
        };
        // SAFETY: self owns a valid mbuf exclusively; the shim checks segments and room.
        unsafe { sys::rvs_pktmbuf_set_len(self.as_ptr(), len) == 0 }
    }

    /// The RSS hash the receiving port computed, if it did.
    pub fn rss_hash(&self) -> Option<u32> {
        let mut h = 0u32;
        // SAFETY: self owns a valid mbuf; h is a valid out pointer.
        let ok = unsafe { sys::rvs_pktmbuf_rss_hash(self.as_ptr(), &mut h) };
        (ok != 0).then_some(h)
    }

    /// The mbuf's offload flags (`ol_flags`), read directly (read per received packet: no shim call).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        let m = self.as_ptr();
        // SAFETY: m is a valid, aligned rte_mbuf we own; ol_flags is a plain u64 field (layout checked
        // by bindgen's layout tests and the size assert above).
        unsafe { (*m).ol_flags }
    }

    /// The receiving port's check of the TCP/UDP checksum (`RTE_MBUF_F_RX_L4_CKSUM_*` in `ol_flags`):
    /// `Some(true)` good, `Some(false)` bad, `None` unknown or not checked (no rx checksum offload
    /// enabled, or the driver could not tell).
    pub fn rx_l4_cksum(&self) -> Option<bool> {
        match self.ol_flags() & sys::RVS_MBUF_F_RX_L4_CKSUM_MASK {
            sys::RVS_MBUF_F_RX_L4_CKSUM_GOOD => Some(true),
            sys::RVS_MBUF_F_RX_L4_CKSUM_BAD => Some(false),
            _ => None,
        }
    }

    /// Requests transmit checksum offloads (replaces any earlier request; `TxOffload::default()` clears).
    /// Only meaningful on a port configured with the matching tx offloads.
    pub fn set_tx_offload(&mut self, req: TxOffload) {
        // SAFETY: self owns a valid mbuf exclusively; the shim writes ol_flags' TX bits and the length
        // bitfields.
        unsafe {
            sys::rvs_pktmbuf_set_tx_offload(
                self.as_ptr(),
                req.ol_flags(),
                req.l2_len,
                req.l3_len,
                0,
            )
        }
    }

    /// The `(l2_len, l3_len, l4_len)` transmit offload lengths.
    pub fn tx_lens(&self) -> (u16, u16, u16) {
        let (mut a, mut b, mut c) = (0u16, 0u16, 0u16);
        // SAFETY: self owns a valid mbuf; the out pointers are valid.
        unsafe { sys::rvs_pktmbuf_tx_lens(self.as_ptr(), &mut a, &mut b, &mut c) };
        (a, b, c)
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns the mbuf exclusively (module invariant); it is freed exactly once.
        unsafe { sys::rvs_pktmbuf_free(self.as_ptr()) }
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mbuf")
            .field("ptr", &self.0)
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .finish()
    }
}

impl AsRef<Mbuf> for Mbuf {
    fn as_ref(&self) -> &Mbuf {
        self
    }
}
