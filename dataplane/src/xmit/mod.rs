//! Forwarding modes: in-place rewrites of an IPv4 packet for NAT and FULLNAT, tunnel headers
//! ([`tunnel`]) and ICMP errors of sessions ([`icmp`]). Direct routing needs no rewrite at all: the
//! packet only goes to the real server's MAC.
//!
//! Each rewrite changes addresses and ports, patches the IP header checksum and the TCP/UDP checksum
//! incrementally (RFC 1624, through [`crate::wire`]'s `rewrite_*` helpers: the pseudo-header addresses
//! and the ports), keeps a UDP checksum of 0 ("none") at 0, and (`dec_ttl`) decrements the TTL,
//! patching the header checksum. A packet whose TTL is <= 1 is refused with
//! [`DropReason::Ipv4TtlExpired`] before anything is written. The `nat_*`/`fullnat_*` functions
//! decrement the TTL; [`crate::lb::LbCtx`] calls [`rewrite`] without it because the pipeline
//! decrements the TTL of every forwarded packet itself. A first fragment (offset 0) is rewritten like
//! a whole packet: its TCP/UDP header is all there and the incremental checksum update needs nothing
//! else (see [`crate::frag`]); later fragments are refused ([`DropReason::Ipv4Fragment`]): they have no
//! ports.

pub mod fullnat;
pub mod icmp;
pub mod nat;
pub mod tunnel;

use crate::checksum;
use crate::stats::DropReason;
use crate::wire::ipv4::{self, Ipv4Packet, PROTO_TCP, PROTO_UDP};
use crate::wire::tcp::TcpPacket;
use crate::wire::udp::UdpPacket;
use std::net::Ipv4Addr;

/// Rewrite the source and/or destination `(address, port)` of the TCP or UDP packet `ip` in place,
/// with incremental checksum updates, and a TTL decrement when `dec_ttl`.
///
/// # Errors
/// `Ipv4Malformed`, `Ipv4Fragment` (a fragment other than the first), `Ipv4TtlExpired`,
/// `TcpMalformed`/`UdpMalformed`, or `NotForUs` for a protocol other than TCP/UDP. Nothing is written
/// on error.
pub fn rewrite(
    ip: &mut [u8],
    new_src: Option<(Ipv4Addr, u16)>,
    new_dst: Option<(Ipv4Addr, u16)>,
    dec_ttl: bool,
) -> Result<(), DropReason> {
    let pkt = Ipv4Packet::new_checked(&*ip).map_err(|_| DropReason::Ipv4Malformed)?;
    if pkt.frag_offset() != 0 {
        return Err(DropReason::Ipv4Fragment);
    }
    let first_frag = pkt.more_frags();
    if pkt.ttl() <= 1 {
        return Err(DropReason::Ipv4TtlExpired);
    }
    let proto = pkt.protocol();
    let l4 = pkt.header_len();
    match proto {
        PROTO_TCP => {
            TcpPacket::new_checked(pkt.payload()).map_err(|_| DropReason::TcpMalformed)?;
        }
        PROTO_UDP => {
            if first_frag {
                UdpPacket::new_first_fragment(pkt.payload())
            } else {
                UdpPacket::new_checked(pkt.payload())
            }
            .map_err(|_| DropReason::UdpMalformed)?;
        }
        _ => return Err(DropReason::NotForUs),
    }
    rewrite_at(ip, proto, l4, new_src, new_dst)?;
    if dec_ttl {
        decrement_ttl(ip);
    }
    Ok(())
}

/// Offset of the checksum inside the TCP header.
const TCP_CSUM: usize = 16;
/// Offset of the checksum inside the UDP header.
const UDP_CSUM: usize = 6;

#[inline]
fn be16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// [`rewrite`] of a packet already parsed and checked (the parse-once fast path: the load balancer
/// calls it with what its parse read): `proto` is TCP or UDP, its header starts at byte `l4` of `ip`
/// and is whole. Reads the old addresses and ports from the packet, writes the new ones and patches
/// the checksums exactly as [`rewrite`] does (the same RFC 1624 updates in the same order, so the
/// bytes are the same; a UDP checksum of 0 stays 0 and a computed 0 is stored as `0xffff`). No TTL
/// change, no fragment or TTL check.
///
/// # Errors
/// `NotForUs` for another protocol, `Ipv4Malformed` when `ip` is shorter than the headers the caller
/// promised (a caller bug, never a panic). Nothing is written on error.
#[inline]
pub fn rewrite_at(
    ip: &mut [u8],
    proto: u8,
    l4: usize,
    new_src: Option<(Ipv4Addr, u16)>,
    new_dst: Option<(Ipv4Addr, u16)>,
) -> Result<(), DropReason> {
    let csum_at = match proto {
        PROTO_TCP => l4 + TCP_CSUM,
        PROTO_UDP => l4 + UDP_CSUM,
        _ => return Err(DropReason::NotForUs),
    };
    if ip.len() < csum_at + 2 || l4 < ipv4::HEADER_LEN {
        return Err(DropReason::Ipv4Malformed);
    }
    let (src, dst) = (be32_at(ip, 12), be32_at(ip, 16));
    let mut ipc = be16_at(ip, 10);
    let mut c = be16_at(ip, csum_at);
    // UDP without a checksum keeps none; a patched UDP checksum of 0 is sent as 0xffff (RFC 768).
    let patch = proto == PROTO_TCP || c != 0;
    let fix = |c: u16| {
        if proto == PROTO_UDP && c == 0 {
            0xffff
        } else {
            c
        }
    };
    if let Some((a, p)) = new_src {
        let a = u32::from(a);
        if patch {
            c = fix(checksum::update32(c, src, a));
            c = fix(checksum::update16(c, be16_at(ip, l4), p));
        }
        ip[l4..l4 + 2].copy_from_slice(&p.to_be_bytes());
    }
    if let Some((a, p)) = new_dst {
        let a = u32::from(a);
        if patch {
            c = fix(checksum::update32(c, dst, a));
            c = fix(checksum::update16(c, be16_at(ip, l4 + 2), p));
        }
        ip[l4 + 2..l4 + 4].copy_from_slice(&p.to_be_bytes());
    }
    if patch {
        ip[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    }
    if let Some((a, _)) = new_src {
        ipc = checksum::update32(ipc, src, u32::from(a));
        ip[12..16].copy_from_slice(&a.octets());
    }
    if let Some((a, _)) = new_dst {
        ipc = checksum::update32(ipc, dst, u32::from(a));
        ip[16..20].copy_from_slice(&a.octets());
    }
    ip[10..12].copy_from_slice(&ipc.to_be_bytes());
    Ok(())
}

/// Decrement the TTL of the IPv4 packet `ip` (at least a whole 20-byte header: the caller checked
/// it) by one, patching the header checksum incrementally as [`Ipv4Packet::decrement_ttl`] does.
/// Returns the new TTL; a packet shorter than 20 bytes is left alone (returns 0).
#[inline]
pub fn decrement_ttl(ip: &mut [u8]) -> u8 {
    if ip.len() < ipv4::HEADER_LEN {
        return 0;
    }
    let (ttl, proto) = (ip[8], ip[9]);
    let new_ttl = ttl.wrapping_sub(1);
    let c = checksum::update16(
        be16_at(ip, 10),
        u16::from_be_bytes([ttl, proto]),
        u16::from_be_bytes([new_ttl, proto]),
    );
    ip[8] = new_ttl;
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    new_ttl
}

/// Test packets built and checked by the independent parser `etherparse` (never by our own code).
#[cfg(test)]
pub(crate) mod testpkt {
    use etherparse::{Ipv4Header, PacketBuilder, TcpHeader, UdpHeader};
    use std::net::Ipv4Addr;

    /// TCP flag bits for [`tcp`].
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;

    /// An IPv4/TCP packet with valid checksums, built by etherparse.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
        ttl: u8,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut b =
            PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), ttl).tcp(src.1, dst.1, seq, 64240);
        if flags & SYN != 0 {
            b = b.syn();
        }
        if flags & FIN != 0 {
            b = b.fin();
        }
        if flags & RST != 0 {
            b = b.rst();
        }
        if flags & PSH != 0 {
            b = b.psh();
        }
        if flags & ACK != 0 {
            b = b.ack(ack);
        }
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    /// An IPv4/UDP packet with valid checksums, built by etherparse.
    pub fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), ttl: u8, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), ttl).udp(src.1, dst.1);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    /// What etherparse sees in a packet whose IP and TCP/UDP checksums it verified:
    /// (src, sport, dst, dport, ttl). Panics on any invalid checksum.
    pub fn parse_valid(ip: &[u8]) -> ((Ipv4Addr, u16), (Ipv4Addr, u16), u8) {
        let (h, rest) = Ipv4Header::from_slice(ip).unwrap();
        assert_eq!(
            h.header_checksum,
            h.calc_header_checksum(),
            "IP header checksum"
        );
        let src = Ipv4Addr::from(h.source);
        let dst = Ipv4Addr::from(h.destination);
        let l4 = &rest[..usize::from(h.total_len) - h.header_len()];
        match h.protocol.0 {
            6 => {
                let (t, payload) = TcpHeader::from_slice(l4).unwrap();
                assert_eq!(
                    t.checksum,
                    t.calc_checksum_ipv4(&h, payload).unwrap(),
                    "TCP checksum"
                );
                (
                    (src, t.source_port),
                    (dst, t.destination_port),
                    h.time_to_live,
                )
            }
            17 => {
                let (u, payload) = UdpHeader::from_slice(l4).unwrap();
                if u.checksum != 0 {
                    assert_eq!(
                        u.checksum,
                        u.calc_checksum_ipv4(&h, payload).unwrap(),
                        "UDP checksum"
                    );
                }
                (
                    (src, u.source_port),
                    (dst, u.destination_port),
                    h.time_to_live,
                )
            }
            p => panic!("protocol {p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testpkt::*;
    use super::*;

    const C: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 2), 40000);
    const V: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 8990);

    #[test]
    fn ttl_one_and_fragments_are_refused_untouched() {
        let mut p = tcp(C, V, 1, SYN, 1, 0, &[]);
        let orig = p.clone();
        assert_eq!(
            rewrite(&mut p, None, Some(V), true),
            Err(DropReason::Ipv4TtlExpired)
        );
        assert_eq!(p, orig);
        let mut p = tcp(C, V, 0, SYN, 1, 0, &[]);
        assert_eq!(
            rewrite(&mut p, None, Some(V), true),
            Err(DropReason::Ipv4TtlExpired)
        );
        let mut p = tcp(C, V, 64, SYN, 1, 0, &[]);
        p[6] = 0x00;
        p[7] = 0x01; // offset 8 bytes
        let orig = p.clone();
        assert_eq!(
            rewrite(&mut p, None, Some(V), true),
            Err(DropReason::Ipv4Fragment)
        );
        assert_eq!(p, orig);
        let mut p = tcp(C, V, 64, SYN, 1, 0, &[]);
        p[9] = 47;
        assert_eq!(
            rewrite(&mut p, None, Some(V), true),
            Err(DropReason::NotForUs)
        );
        let mut p = tcp(C, V, 64, SYN, 1, 0, &[]);
        p.truncate(30);
        p[2..4].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(
            rewrite(&mut p, None, Some(V), true),
            Err(DropReason::TcpMalformed)
        );
        assert_eq!(
            rewrite(&mut [0u8; 10], None, None, true),
            Err(DropReason::Ipv4Malformed)
        );
    }

    #[test]
    fn without_ttl_decrement() {
        let mut p = tcp(C, V, 64, SYN, 1, 0, &[]);
        let r = (Ipv4Addr::new(10, 10, 1, 2), 8998);
        rewrite(&mut p, None, Some(r), false).unwrap();
        assert_eq!(p, tcp(C, r, 64, SYN, 1, 0, &[]));
        let mut p = tcp(C, V, 1, SYN, 1, 0, &[]);
        assert_eq!(
            rewrite(&mut p, None, Some(r), false),
            Err(DropReason::Ipv4TtlExpired)
        );
    }

    /// The view-based rewrite that [`rewrite_at`] replaced (through the `wire` views' `rewrite_*`
    /// helpers), kept as the reference its bytes must equal.
    fn rewrite_by_views(
        ip: &mut [u8],
        new_src: Option<(Ipv4Addr, u16)>,
        new_dst: Option<(Ipv4Addr, u16)>,
    ) {
        let mut pkt = Ipv4Packet::new_checked(ip).unwrap();
        let (src, dst) = (pkt.src(), pkt.dst());
        if pkt.protocol() == PROTO_TCP {
            let mut l4 = TcpPacket::new_checked(pkt.payload_mut()).unwrap();
            if let Some((a, p)) = new_src {
                l4.patch_pseudo_addr(src, a);
                l4.rewrite_src_port(p);
            }
            if let Some((a, p)) = new_dst {
                l4.patch_pseudo_addr(dst, a);
                l4.rewrite_dst_port(p);
            }
        } else {
            let mut l4 = UdpPacket::new_checked(pkt.payload_mut()).unwrap();
            if let Some((a, p)) = new_src {
                l4.patch_pseudo_addr(src, a);
                l4.rewrite_src_port(p);
            }
            if let Some((a, p)) = new_dst {
                l4.patch_pseudo_addr(dst, a);
                l4.rewrite_dst_port(p);
            }
        }
        if let Some((a, _)) = new_src {
            pkt.rewrite_src(a);
        }
        if let Some((a, _)) = new_dst {
            pkt.rewrite_dst(a);
        }
    }

    proptest::proptest! {
        /// `rewrite_at` writes the same bytes as the view-based rewrite, for TCP, UDP with a
        /// checksum (any value, 0xffff included) and UDP without one, any addresses and ports; and
        /// `decrement_ttl` the same as `Ipv4Packet::decrement_ttl`.
        #[test]
        fn rewrite_at_matches_views(
            udp_csum in proptest::prelude::any::<Option<u16>>(),
            tcp_proto in proptest::prelude::any::<bool>(),
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            a in proptest::prelude::any::<[u32; 4]>(),
            ports in proptest::prelude::any::<[u16; 4]>(),
            which in 0u8..4,
            ttl in 1u8..=255,
        ) {
            let (s, d) = ((Ipv4Addr::from(a[0]), ports[0]), (Ipv4Addr::from(a[1]), ports[1]));
            let mut p = if tcp_proto {
                tcp(s, d, ttl, ACK, 1, 2, &payload)
            } else {
                let mut p = udp(s, d, ttl, &payload);
                if let Some(c) = udp_csum {
                    p[26..28].copy_from_slice(&c.to_be_bytes());
                }
                p
            };
            let ns = (which & 1 != 0).then_some((Ipv4Addr::from(a[2]), ports[2]));
            let nd = (which & 2 != 0).then_some((Ipv4Addr::from(a[3]), ports[3]));
            let mut want = p.clone();
            rewrite_by_views(&mut want, ns, nd);
            let proto = p[9];
            rewrite_at(&mut p, proto, 20, ns, nd).unwrap();
            proptest::prop_assert_eq!(&p, &want);
            let new_ttl = decrement_ttl(&mut p);
            Ipv4Packet::new_checked(&mut want[..]).unwrap().decrement_ttl();
            proptest::prop_assert_eq!(new_ttl, ttl - 1);
            proptest::prop_assert_eq!(p, want);
        }
    }

    #[test]
    fn rewrite_at_refuses_short_buffers_and_other_protocols() {
        let mut p = tcp(C, V, 64, SYN, 1, 0, &[]);
        let orig = p.clone();
        assert_eq!(
            rewrite_at(&mut p[..37], PROTO_TCP, 20, None, Some(V)),
            Err(DropReason::Ipv4Malformed)
        );
        assert_eq!(
            rewrite_at(&mut p, 47, 20, None, Some(V)),
            Err(DropReason::NotForUs)
        );
        assert_eq!(p, orig);
        assert_eq!(decrement_ttl(&mut p[..19]), 0);
        assert_eq!(p, orig);
    }

    #[test]
    fn ttl_two_is_forwarded_with_ttl_one() {
        let mut p = udp(C, V, 2, b"x");
        rewrite(&mut p, None, None, true).unwrap();
        assert_eq!(parse_valid(&p), (C, V, 1));
    }
}
