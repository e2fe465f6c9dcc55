//! The hardware boundary of the dataplane: a packet buffer trait and a per-lcore port I/O trait.
//!
//! The pipeline and the worker loop are generic over these traits, so every test of them runs on
//! [`VecBuf`]/[`MemIo`] without booting DPDK; rvsd implements them over DPDK mbufs and ethdev queues.
//! Bursts are moved through caller-owned `Vec`s whose capacity is reused: no allocation per burst.

use std::collections::VecDeque;

/// Maximum packets per rx/tx burst.
pub const BURST: usize = 32;

/// Transmit checksum work a port can do for us (from the ethdev's tx offload capabilities).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOffloadCaps {
    /// The port computes IPv4 header checksums.
    pub ipv4_cksum: bool,
    /// The port computes TCP checksums.
    pub tcp_cksum: bool,
    /// The port computes UDP checksums.
    pub udp_cksum: bool,
}

/// What the receiving port found when it checked a frame's TCP/UDP checksum (rx checksum offload).
///
/// The load balancer uses it to skip its own verification ([`RxL4Csum::Good`]) or to drop at once
/// ([`RxL4Csum::Bad`]); with [`RxL4Csum::Unknown`] it verifies in software where a corrupt packet could
/// change state (see [`crate::lb`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RxL4Csum {
    /// Not checked (no offload, not TCP/UDP, or the driver could not tell).
    #[default]
    Unknown,
    /// Checked and right.
    Good,
    /// Checked and wrong.
    Bad,
}

/// A packet buffer: contiguous frame bytes starting at the Ethernet header, with headroom in front.
pub trait PacketBuf: Send + 'static {
    /// The frame's bytes.
    fn data(&self) -> &[u8];
    /// The frame's bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grow the frame at the front by `n` bytes (for an encapsulation header). Returns false, changing
    /// nothing, when there is not enough headroom.
    fn prepend(&mut self, n: usize) -> bool;
    /// Remove `n` bytes from the front. Returns false, changing nothing, when the frame is shorter.
    fn adj(&mut self, n: usize) -> bool;
    /// Set the frame length: shrink, or grow into tailroom (new bytes are unspecified). Returns false,
    /// changing nothing, when there is not enough tailroom.
    fn set_len(&mut self, len: usize) -> bool;
    /// The receive queue's RSS hash of this frame, where the port computed one.
    fn rss_hash(&self) -> Option<u32> {
        None
    }
    /// The receiving port's verdict on the frame's TCP/UDP checksum, where it checked it.
    fn rx_l4_csum(&self) -> RxL4Csum {
        RxL4Csum::Unknown
    }
}

/// One worker lcore's view of the ports: its rx queue on each port, its tx queue on each port, and
/// its buffer pool.
pub trait WorkerIo {
    /// The buffer type this I/O moves.
    type Buf: PacketBuf;
    /// Number of ports.
    fn n_ports(&self) -> u16;
    /// Receive up to `BURST` frames from this lcore's queue on `port`, appended to `out`; returns how
    /// many were received.
    fn rx_burst(&mut self, port: u16, out: &mut Vec<Self::Buf>) -> usize;
    /// Send frames from the front of `bufs` on this lcore's queue of `port`, removing those sent.
    /// Returns how many were sent; the caller frees (and counts) what is left.
    fn tx_burst(&mut self, port: u16, bufs: &mut Vec<Self::Buf>) -> usize;
    /// Allocate an empty buffer (length 0) for a frame we originate (ARP, ICMP).
    fn alloc(&mut self) -> Option<Self::Buf>;
    /// The tx checksum offloads of `port`.
    fn tx_offload(&self, port: u16) -> TxOffloadCaps {
        let _ = port;
        TxOffloadCaps::default()
    }
}

/// A heap-backed packet buffer for tests, benchmarks and fuzzing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecBuf {
    storage: Vec<u8>,
    head: usize,
    len: usize,
}

impl VecBuf {
    /// Headroom given to every buffer, as an mbuf has (RTE_PKTMBUF_HEADROOM).
    pub const HEADROOM: usize = 128;
    /// Total room of a buffer, as the mbuf pool's data room.
    pub const ROOM: usize = 2048 + Self::HEADROOM;

    /// A buffer holding a copy of `frame`.
    pub fn from_slice(frame: &[u8]) -> Self {
        let mut storage = vec![0u8; Self::ROOM.max(Self::HEADROOM + frame.len())];
        storage[Self::HEADROOM..Self::HEADROOM + frame.len()].copy_from_slice(frame);
        VecBuf {
            storage,
            head: Self::HEADROOM,
            len: frame.len(),
        }
    }

    /// An empty buffer.
    pub fn empty() -> Self {
        Self::from_slice(&[])
    }
}

impl PacketBuf for VecBuf {
    fn data(&self) -> &[u8] {
        &self.storage[self.head..self.head + self.len]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.head..self.head + self.len]
    }
    fn prepend(&mut self, n: usize) -> bool {
        if n > self.head {
            return false;
        }
        self.head -= n;
        self.len += n;
        true
    }
    fn adj(&mut self, n: usize) -> bool {
        if n > self.len {
            return false;
        }
        self.head += n;
        self.len -= n;
        true
    }
    fn set_len(&mut self, len: usize) -> bool {
        if self.head + len > self.storage.len() {
            return false;
        }
        self.len = len;
        true
    }
}

/// In-memory ports for tests: frames queued per port for rx, frames collected per port on tx.
#[derive(Debug, Default)]
pub struct MemIo {
    /// Frames waiting to be received, per port.
    pub rx: Vec<VecDeque<VecBuf>>,
    /// Frames transmitted, per port.
    pub tx: Vec<Vec<VecBuf>>,
    /// Offload capabilities reported for every port.
    pub offload: TxOffloadCaps,
    /// When set, `alloc` fails (to test pool exhaustion).
    pub alloc_fails: bool,
}

impl MemIo {
    /// In-memory I/O with `n` ports.
    pub fn new(n: u16) -> Self {
        MemIo {
            rx: (0..n).map(|_| VecDeque::new()).collect(),
            tx: (0..n).map(|_| Vec::new()).collect(),
            offload: TxOffloadCaps::default(),
            alloc_fails: false,
        }
    }
}

impl WorkerIo for MemIo {
    type Buf = VecBuf;
    fn n_ports(&self) -> u16 {
        self.rx.len() as u16
    }
    fn rx_burst(&mut self, port: u16, out: &mut Vec<VecBuf>) -> usize {
        let Some(q) = self.rx.get_mut(port as usize) else {
            return 0;
        };
        let n = q.len().min(BURST);
        out.extend(q.drain(..n));
        n
    }
    fn tx_burst(&mut self, port: u16, bufs: &mut Vec<VecBuf>) -> usize {
        let Some(q) = self.tx.get_mut(port as usize) else {
            return 0;
        };
        let n = bufs.len();
        q.append(bufs);
        n
    }
    fn alloc(&mut self) -> Option<VecBuf> {
        (!self.alloc_fails).then(VecBuf::empty)
    }
    fn tx_offload(&self, _port: u16) -> TxOffloadCaps {
        self.offload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vecbuf_prepend_adj_set_len() {
        let mut b = VecBuf::from_slice(&[1, 2, 3]);
        assert!(b.prepend(2));
        assert_eq!(b.data().len(), 5);
        assert_eq!(&b.data()[2..], &[1, 2, 3]);
        assert!(b.adj(2));
        assert_eq!(b.data(), &[1, 2, 3]);
        assert!(!b.adj(4));
        assert!(b.set_len(1));
        assert_eq!(b.data(), &[1]);
        assert!(!b.prepend(VecBuf::HEADROOM + 1));
        assert!(!b.set_len(VecBuf::ROOM));
    }

    #[test]
    fn memio_moves_bursts() {
        let mut io = MemIo::new(2);
        for i in 0..40u8 {
            io.rx[1].push_back(VecBuf::from_slice(&[i]));
        }
        let mut v = Vec::with_capacity(BURST);
        assert_eq!(io.rx_burst(1, &mut v), BURST);
        assert_eq!(io.rx_burst(0, &mut v), 0);
        assert_eq!(io.tx_burst(0, &mut v), BURST);
        assert!(v.is_empty());
        assert_eq!(io.tx[0].len(), BURST);
    }
}
