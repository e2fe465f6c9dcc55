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

use crate::stats::DropReason;
use crate::wire::ipv4::{Ipv4Packet, PROTO_TCP, PROTO_UDP};
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
    let mut pkt = Ipv4Packet::new_checked(ip).map_err(|_| DropReason::Ipv4Malformed)?;
    if pkt.frag_offset() != 0 {
        return Err(DropReason::Ipv4Fragment);
    }
    let first_frag = pkt.more_frags();
    if pkt.ttl() <= 1 {
        return Err(DropReason::Ipv4TtlExpired);
    }
    let (src, dst, proto) = (pkt.src(), pkt.dst(), pkt.protocol());
    match proto {
        PROTO_TCP => {
            let mut l4 =
                TcpPacket::new_checked(pkt.payload_mut()).map_err(|_| DropReason::TcpMalformed)?;
            if let Some((a, p)) = new_src {
                l4.patch_pseudo_addr(src, a);
                l4.rewrite_src_port(p);
            }
            if let Some((a, p)) = new_dst {
                l4.patch_pseudo_addr(dst, a);
                l4.rewrite_dst_port(p);
            }
        }
        PROTO_UDP => {
            let l4 = if first_frag {
                UdpPacket::new_first_fragment(pkt.payload_mut())
            } else {
                UdpPacket::new_checked(pkt.payload_mut())
            };
            let mut l4 = l4.map_err(|_| DropReason::UdpMalformed)?;
            if let Some((a, p)) = new_src {
                l4.patch_pseudo_addr(src, a);
                l4.rewrite_src_port(p);
            }
            if let Some((a, p)) = new_dst {
                l4.patch_pseudo_addr(dst, a);
                l4.rewrite_dst_port(p);
            }
        }
        _ => return Err(DropReason::NotForUs),
    }
    if let Some((a, _)) = new_src {
        pkt.rewrite_src(a);
    }
    if let Some((a, _)) = new_dst {
        pkt.rewrite_dst(a);
    }
    if dec_ttl {
        pkt.decrement_ttl();
    }
    Ok(())
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

    #[test]
    fn ttl_two_is_forwarded_with_ttl_one() {
        let mut p = udp(C, V, 2, b"x");
        rewrite(&mut p, None, None, true).unwrap();
        assert_eq!(parse_valid(&p), (C, V, 1));
    }
}
