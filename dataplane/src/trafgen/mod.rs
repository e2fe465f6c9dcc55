//! rvs-gen's traffic logic: a packet generator and a stateless responder that drive a balancer
//! through two ports, as the DPVS figures were measured (many UDP flows, SYN floods, full TCP
//! connections against servers that keep no state).
//!
//! Pure Rust over the dataplane's port traits ([`crate::port::WorkerIo`]), so the same code runs on
//! DPDK ports in the `rvs-gen` binary and on [`crate::port::MemIo`] in tests, where it is wired to a
//! real [`crate::worker::Worker`] in the same process.
//!
//! - [`client`]: the client side (port 0): UDP flows, SYN flood, and TCP connections with bounded,
//!   preallocated per-connection state.
//! - [`responder`]: the real servers (port 1): ARP, SYN -> SYN-ACK with a cookie ISN, request ->
//!   response + FIN, FIN -> ACK, UDP counted; no per-connection state.
//! - [`driver`]: one polling loop over both sides (rx, handlers, new traffic, timeouts, tx).
//! - Here: the frames both sides write ([`write_tcp`], [`write_udp`], [`write_arp`]), the
//!   [`Pacer`], the [`Histogram`] of latencies and the [`Rng`].
//!
//! Invariants: every frame written carries valid IPv4 and TCP/UDP checksums and is at least
//! [`MIN_FRAME`] bytes (zero padding); nothing here allocates after construction; every loop is
//! bounded by a burst or a table size.

pub mod client;
pub mod driver;
pub mod responder;

use std::net::Ipv4Addr;

use crate::checksum;
use crate::port::PacketBuf;
use crate::wire::ipv4::{self, Ipv4Header};
use crate::wire::{arp, ethernet, tcp};

/// Smallest Ethernet frame we send (without FCS).
pub const MIN_FRAME: usize = 60;
/// Ethernet + IPv4 header bytes.
pub const L3_OFF: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN;
/// Bytes before a TCP payload in frames we write (no TCP options).
pub const TCP_PAYLOAD_OFF: usize = L3_OFF + tcp::HEADER_LEN;
/// Bytes before a UDP payload.
pub const UDP_PAYLOAD_OFF: usize = L3_OFF + 8;
/// Largest frame we write.
pub const MAX_FRAME: usize = 1514;

/// Ethernet addresses of a frame to write: (destination, source).
pub type Macs = ([u8; 6], [u8; 6]);

/// Write an Ethernet/IPv4/TCP frame (no options) carrying `payload` into `buf`, sized to the frame
/// (at least [`MIN_FRAME`], zero padded). Returns false, leaving the buffer unspecified, when the
/// buffer has no room.
#[allow(clippy::too_many_arguments)]
pub fn write_tcp<B: PacketBuf>(
    buf: &mut B,
    macs: Macs,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> bool {
    let seg_len = tcp::HEADER_LEN + payload.len();
    let frame_len = (L3_OFF + seg_len).max(MIN_FRAME);
    if frame_len > MAX_FRAME || !buf.set_len(frame_len) {
        return false;
    }
    let f = buf.data_mut();
    if ethernet::emit(f, macs.0, macs.1, ethernet::ethertype::IPV4).is_err() {
        return false;
    }
    let hdr = Ipv4Header {
        src: src.0,
        dst: dst.0,
        protocol: ipv4::PROTO_TCP,
        payload_len: seg_len as u16,
        ttl: 64,
        ident: 0,
        dont_frag: true,
        tos: 0,
    };
    if hdr.emit(&mut f[ethernet::HEADER_LEN..]).is_err() {
        return false;
    }
    let seg = &mut f[L3_OFF..L3_OFF + seg_len];
    seg[0..2].copy_from_slice(&src.1.to_be_bytes());
    seg[2..4].copy_from_slice(&dst.1.to_be_bytes());
    seg[4..8].copy_from_slice(&seq.to_be_bytes());
    seg[8..12].copy_from_slice(&ack.to_be_bytes());
    seg[12] = (tcp::HEADER_LEN as u8 / 4) << 4;
    seg[13] = flags;
    seg[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
    seg[16..20].fill(0);
    seg[tcp::HEADER_LEN..].copy_from_slice(payload);
    let c = checksum::l4_checksum_v4(src.0, dst.0, ipv4::PROTO_TCP, seg);
    seg[16..18].copy_from_slice(&c.to_be_bytes());
    f[L3_OFF + seg_len..].fill(0);
    true
}

/// Write an Ethernet/IPv4/UDP frame of `frame_len` bytes (at least [`MIN_FRAME`] and room for
/// `payload`; the rest of the datagram is zeros) into `buf`. Returns false when it does not fit.
pub fn write_udp<B: PacketBuf>(
    buf: &mut B,
    macs: Macs,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    payload: &[u8],
    frame_len: usize,
) -> bool {
    let frame_len = frame_len
        .max(MIN_FRAME)
        .max(UDP_PAYLOAD_OFF + payload.len());
    if frame_len > MAX_FRAME || !buf.set_len(frame_len) {
        return false;
    }
    let dgram_len = frame_len - L3_OFF;
    let f = buf.data_mut();
    if ethernet::emit(f, macs.0, macs.1, ethernet::ethertype::IPV4).is_err() {
        return false;
    }
    let hdr = Ipv4Header {
        src: src.0,
        dst: dst.0,
        protocol: ipv4::PROTO_UDP,
        payload_len: dgram_len as u16,
        ttl: 64,
        ident: 0,
        dont_frag: true,
        tos: 0,
    };
    if hdr.emit(&mut f[ethernet::HEADER_LEN..]).is_err() {
        return false;
    }
    let d = &mut f[L3_OFF..];
    d[0..2].copy_from_slice(&src.1.to_be_bytes());
    d[2..4].copy_from_slice(&dst.1.to_be_bytes());
    d[4..6].copy_from_slice(&(dgram_len as u16).to_be_bytes());
    d[6..8].fill(0);
    d[8..8 + payload.len()].copy_from_slice(payload);
    d[8 + payload.len()..].fill(0);
    let mut c = checksum::l4_checksum_v4(src.0, dst.0, ipv4::PROTO_UDP, d);
    if c == 0 {
        c = 0xffff;
    }
    d[6..8].copy_from_slice(&c.to_be_bytes());
    true
}

/// Write an ARP frame (`oper` request or reply) into `buf`, padded to [`MIN_FRAME`].
pub fn write_arp<B: PacketBuf>(
    buf: &mut B,
    eth_dst: [u8; 6],
    oper: u16,
    sha: [u8; 6],
    spa: Ipv4Addr,
    tha: [u8; 6],
    tpa: Ipv4Addr,
) -> bool {
    if !buf.set_len(MIN_FRAME) {
        return false;
    }
    let f = buf.data_mut();
    f.fill(0);
    ethernet::emit(f, eth_dst, sha, ethernet::ethertype::ARP).is_ok()
        && arp::emit(&mut f[ethernet::HEADER_LEN..], oper, sha, spa, tha, tpa).is_ok()
}

/// A parsed IPv4 TCP or UDP frame (what both sides read from the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L4 {
    /// Source address and port.
    pub src: (Ipv4Addr, u16),
    /// Destination address and port.
    pub dst: (Ipv4Addr, u16),
    /// Ethernet source (where a stateless reply goes).
    pub eth_src: [u8; 6],
    /// IP protocol (TCP or UDP).
    pub proto: u8,
    /// TCP sequence number (0 for UDP).
    pub seq: u32,
    /// TCP acknowledgment number (0 for UDP).
    pub ack: u32,
    /// TCP flags (0 for UDP).
    pub flags: u8,
    /// Offset of the L4 payload in the frame.
    pub payload_off: usize,
    /// Length of the L4 payload.
    pub payload_len: usize,
}

/// Parse an Ethernet/IPv4 TCP or UDP frame with valid IPv4 and L4 checksums; None for anything
/// else (ARP, fragments, bad checksums, truncated).
pub fn parse_l4(f: &[u8]) -> Option<L4> {
    let eth = ethernet::EthernetFrame::new_checked(f).ok()?;
    if eth.ethertype() != ethernet::ethertype::IPV4 {
        return None;
    }
    let ip = ipv4::Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.is_fragment() || !ip.verify_checksum() {
        return None;
    }
    let (src, dst) = (ip.src(), ip.dst());
    let l4_off = ethernet::HEADER_LEN + ip.header_len();
    let mut eth_src = [0u8; 6];
    eth_src.copy_from_slice(&f[6..12]);
    match ip.protocol() {
        ipv4::PROTO_TCP => {
            let t = tcp::TcpPacket::new_checked(ip.payload()).ok()?;
            if !t.verify_checksum_v4(src, dst) {
                return None;
            }
            Some(L4 {
                src: (src, t.src_port()),
                dst: (dst, t.dst_port()),
                eth_src,
                proto: ipv4::PROTO_TCP,
                seq: t.seq(),
                ack: t.ack_number(),
                flags: t.flags(),
                payload_off: l4_off + t.header_len(),
                payload_len: t.payload().len(),
            })
        }
        ipv4::PROTO_UDP => {
            let u = crate::wire::udp::UdpPacket::new_checked(ip.payload()).ok()?;
            if !u.verify_checksum_v4(src, dst) {
                return None;
            }
            Some(L4 {
                src: (src, u.src_port()),
                dst: (dst, u.dst_port()),
                eth_src,
                proto: ipv4::PROTO_UDP,
                seq: 0,
                ack: 0,
                flags: 0,
                payload_off: l4_off + 8,
                payload_len: u.payload().len(),
            })
        }
        _ => None,
    }
}

/// An ARP request for `tpa` in `f` (sender MAC and address), or None.
pub fn parse_arp_request(f: &[u8]) -> Option<([u8; 6], Ipv4Addr, Ipv4Addr)> {
    let eth = ethernet::EthernetFrame::new_checked(f).ok()?;
    if eth.ethertype() != ethernet::ethertype::ARP {
        return None;
    }
    let a = arp::ArpPacket::new_checked(eth.payload()).ok()?;
    (a.op() == arp::op::REQUEST).then(|| (a.sha(), a.spa(), a.tpa()))
}

/// An ARP reply in `f`: (sender MAC, sender address), or None.
pub fn parse_arp_reply(f: &[u8]) -> Option<([u8; 6], Ipv4Addr)> {
    let eth = ethernet::EthernetFrame::new_checked(f).ok()?;
    if eth.ethertype() != ethernet::ethertype::ARP {
        return None;
    }
    let a = arp::ArpPacket::new_checked(eth.payload()).ok()?;
    (a.op() == arp::op::REPLY).then(|| (a.sha(), a.spa()))
}

/// A range of consecutive IPv4 addresses `first .. first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    /// First address.
    pub first: Ipv4Addr,
    /// Number of addresses (at least 1).
    pub count: u32,
}

impl AddrRange {
    /// Whether `ip` is in the range.
    #[inline]
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip).wrapping_sub(u32::from(self.first)) < self.count
    }

    /// The `i`-th address (`i` reduced modulo the count).
    #[inline]
    pub fn nth(&self, i: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.first).wrapping_add(i % self.count.max(1)))
    }

    /// Index of `ip` in the range.
    #[inline]
    pub fn index(&self, ip: Ipv4Addr) -> Option<u32> {
        let i = u32::from(ip).wrapping_sub(u32::from(self.first));
        (i < self.count).then_some(i)
    }
}

/// A xorshift64* stream: cheap, seeded, repeatable.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (0 when `n` is 0).
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }
}

/// Paces sending to `rate` per second from a start time (0 = unpaced): how many may go now.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: u64,
    start_ns: u64,
    sent: u64,
}

impl Pacer {
    /// A pacer of `rate` per second starting at `start_ns` (0 = no limit).
    pub fn new(rate: u64, start_ns: u64) -> Pacer {
        Pacer {
            rate,
            start_ns,
            sent: 0,
        }
    }

    /// How many may be sent at `now_ns`, at most `max`.
    #[inline]
    pub fn allowance(&self, now_ns: u64, max: u64) -> u64 {
        if self.rate == 0 {
            return max;
        }
        let elapsed = now_ns.saturating_sub(self.start_ns);
        let due = (u128::from(elapsed) * u128::from(self.rate) / 1_000_000_000) as u64;
        due.saturating_sub(self.sent).min(max)
    }

    /// Record `n` sent.
    #[inline]
    pub fn sent(&mut self, n: u64) {
        self.sent += n;
    }
}

/// A log-linear histogram of nanosecond values: 16 sub-buckets per power of two (at most 6.25 %
/// above the true value), fixed size, no allocation after construction.
#[derive(Debug, Clone)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max: u64,
}

const SUB: u32 = 16;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; (64 * SUB) as usize],
            count: 0,
            max: 0,
        }
    }
}

impl Histogram {
    #[inline]
    fn index(v: u64) -> usize {
        if v < u64::from(SUB) {
            return v as usize;
        }
        let e = 63 - v.leading_zeros(); // >= 4
        let m = (v >> (e - 4)) as u32 & (SUB - 1);
        ((e - 3) * SUB + m) as usize
    }

    /// The largest value of bucket `i`.
    fn upper(i: usize) -> u64 {
        let i = i as u32;
        if i < SUB {
            return u64::from(i);
        }
        let e = i / SUB + 3;
        let m = u64::from(i % SUB);
        ((SUB as u64 + m + 1) << (e - 4)) - 1
    }

    /// Record one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        let i = Self::index(v).min(self.buckets.len() - 1);
        self.buckets[i] += 1;
        self.count += 1;
        self.max = self.max.max(v);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest value recorded.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The `p`-th percentile (0..=100): an upper bound within 6.25 %; 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::VecBuf;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    #[test]
    fn tcp_frame_parses_independently() {
        let mut b = VecBuf::empty();
        let src = (Ipv4Addr::new(10, 10, 0, 2), 1234);
        let dst = (Ipv4Addr::new(10, 10, 0, 100), 80);
        assert!(write_tcp(
            &mut b,
            ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]),
            src,
            dst,
            7,
            9,
            tcp::FLAG_PSH | tcp::FLAG_ACK,
            b"hello"
        ));
        assert_eq!(b.data().len(), MIN_FRAME);
        let p = SlicedPacket::from_ethernet(b.data()).unwrap();
        let Some(NetSlice::Ipv4(ip)) = p.net else {
            panic!("not ipv4")
        };
        assert_eq!(ip.header().source_addr(), src.0);
        assert_eq!(ip.header().total_len(), 45);
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!("not tcp")
        };
        assert_eq!((t.source_port(), t.destination_port()), (1234, 80));
        assert_eq!((t.sequence_number(), t.acknowledgment_number()), (7, 9));
        assert!(t.psh() && t.ack() && !t.syn());
        assert_eq!(t.payload(), b"hello");
        let l4 = parse_l4(b.data()).unwrap();
        assert_eq!((l4.src, l4.dst, l4.seq, l4.ack), (src, dst, 7, 9));
        assert_eq!(&b.data()[l4.payload_off..][..l4.payload_len], b"hello");
        // A flipped payload bit fails the checksum.
        b.data_mut()[TCP_PAYLOAD_OFF] ^= 1;
        assert_eq!(parse_l4(b.data()), None);
    }

    #[test]
    fn udp_and_arp_frames() {
        let mut b = VecBuf::empty();
        let src = (Ipv4Addr::new(10, 10, 0, 2), 5000);
        let dst = (Ipv4Addr::new(10, 10, 0, 100), 9000);
        assert!(write_udp(&mut b, ([1; 6], [2; 6]), src, dst, b"abcd", 100));
        assert_eq!(b.data().len(), 100);
        let p = SlicedPacket::from_ethernet(b.data()).unwrap();
        let Some(TransportSlice::Udp(u)) = p.transport else {
            panic!("not udp")
        };
        assert_eq!(u.length(), 66);
        assert_eq!(&u.payload()[..4], b"abcd");
        let l4 = parse_l4(b.data()).unwrap();
        assert_eq!((l4.proto, l4.payload_len), (ipv4::PROTO_UDP, 58));
        assert!(write_arp(
            &mut b,
            ethernet::BROADCAST,
            arp::op::REQUEST,
            [2; 6],
            src.0,
            [0; 6],
            dst.0
        ));
        assert_eq!(b.data().len(), MIN_FRAME);
        assert_eq!(parse_arp_request(b.data()), Some(([2; 6], src.0, dst.0)));
        assert_eq!(parse_arp_reply(b.data()), None);
    }

    #[test]
    fn histogram_percentiles_within_bound() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(50.0), 0);
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        for (p, want) in [(50.0, 5_000_000u64), (90.0, 9_000_000), (99.0, 9_900_000)] {
            let got = h.percentile(p);
            assert!(
                got >= want && got <= want + want / 16,
                "p{p}: {got} vs {want}"
            );
        }
        assert_eq!(h.percentile(100.0), 10_000_000);
        assert_eq!(h.count(), 10_000);
        for v in [0u64, 1, 15, 16, 17, 31, 32, 1 << 40, u64::MAX] {
            let i = Histogram::index(v);
            assert!(Histogram::upper(i) >= v, "{v}");
            if i > 0 {
                assert!(Histogram::upper(i - 1) < v, "{v}");
            }
        }
    }

    #[test]
    fn pacer_and_ranges() {
        let p = Pacer::new(1000, 5);
        assert_eq!(p.allowance(5, 100), 0);
        assert_eq!(p.allowance(5 + 10_000_000, 100), 10);
        assert_eq!(p.allowance(5 + 10_000_000, 4), 4);
        let mut p = Pacer::new(0, 0);
        assert_eq!(p.allowance(0, 32), 32);
        p.sent(32);
        let r = AddrRange {
            first: Ipv4Addr::new(10, 0, 0, 250),
            count: 10,
        };
        assert!(r.contains(Ipv4Addr::new(10, 0, 1, 3)));
        assert!(!r.contains(Ipv4Addr::new(10, 0, 1, 4)));
        assert!(!r.contains(Ipv4Addr::new(10, 0, 0, 249)));
        assert_eq!(r.nth(12), Ipv4Addr::new(10, 0, 0, 252));
        assert_eq!(r.index(Ipv4Addr::new(10, 0, 1, 0)), Some(6));
        let mut g = Rng::new(0);
        assert!((0..1000).all(|_| g.below(7) < 7));
    }
}
