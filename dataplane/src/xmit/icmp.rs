//! ICMP errors of load-balanced flows: translating them for NAT/FULLNAT sessions, and originating
//! "fragmentation needed" for packets too big for a tunnel.
//!
//! An ICMP error (destination unreachable, source quench, time exceeded: the types the kernel's
//! `ip_vs_in_icmp`/`ip_vs_out_icmp` handle) quotes the IP header and at least 8 bytes of the datagram
//! that caused it. [`parse_error`] reads that embedded datagram's tuple; the session it belongs to is
//! found by the reversed tuple. [`translate_error`] then rewrites, as `ip_vs_nat_icmp` does, the outer
//! addresses, the embedded addresses and ports, the embedded IP header checksum (recomputed over the
//! quoted header) and the ICMP checksum (recomputed over the whole message), and patches the outer
//! header checksum incrementally. Beyond the kernel, the embedded TCP/UDP checksum is patched
//! incrementally (RFC 1624) when the quote holds it (Linux quotes up to 576 bytes, so the TCP checksum
//! at offset 16 is usually there; a UDP checksum of 0 stays 0): the receiver then sees exactly the
//! datagram it sent.
//!
//! [`frag_needed_in_place`] turns a packet into the ICMP type 3 code 4 its sender must get, quoting the
//! original IP header and 8 bytes of payload (as the kernel's `icmp_send` from IPVS does), with
//! precedence "internetwork control" and TTL 64, never in answer to an ICMP error.

use crate::checksum;
use crate::stats::DropReason;
use crate::wire::icmp::{msg_type, IcmpPacket, HEADER_LEN as ICMP_HEADER_LEN};
use crate::wire::ipv4::{Ipv4Header, Ipv4Packet, HEADER_LEN, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use std::net::Ipv4Addr;

/// ICMP source quench (type 4), deprecated but still handled by the kernel's IPVS.
pub const SOURCE_QUENCH: u8 = 4;
/// Destination-unreachable code "fragmentation needed and DF set".
pub const CODE_FRAG_NEEDED: u8 = 4;
/// TTL of ICMP errors we originate.
pub const ICMP_TTL: u8 = 64;
/// TOS of ICMP errors we originate (precedence "internetwork control", as Linux sends them).
pub const ICMP_ERROR_TOS: u8 = 0xc0;

/// The tuple of the datagram an ICMP error quotes, as that datagram travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Embedded {
    /// IP protocol of the quoted datagram (TCP or UDP).
    pub proto: u8,
    /// Its source address and port.
    pub src: (Ipv4Addr, u16),
    /// Its destination address and port.
    pub dst: (Ipv4Addr, u16),
}

/// Whether ICMP message type `t` is an error IPVS translates.
fn is_translated_error(t: u8) -> bool {
    matches!(
        t,
        msg_type::DEST_UNREACHABLE | SOURCE_QUENCH | msg_type::TIME_EXCEEDED
    )
}

/// The quoted header length and the embedded tuple of the ICMP message `icmp` (header included).
fn embedded_of(icmp: &[u8]) -> Option<(usize, Embedded)> {
    let e = icmp.get(ICMP_HEADER_LEN..)?;
    let v = *e.first()?;
    let hl = usize::from(v & 0x0f) * 4;
    if v >> 4 != 4 || hl < HEADER_LEN || e.len() < hl + 8 {
        return None;
    }
    let frag = u16::from_be_bytes([e[6], e[7]]);
    let proto = e[9];
    // Only a first fragment (offset 0) carries the ports.
    if frag & 0x1fff != 0 || (proto != PROTO_TCP && proto != PROTO_UDP) {
        return None;
    }
    let a = |o: usize| Ipv4Addr::new(e[o], e[o + 1], e[o + 2], e[o + 3]);
    let port = |o: usize| u16::from_be_bytes([e[hl + o], e[hl + o + 1]]);
    Some((
        hl,
        Embedded {
            proto,
            src: (a(12), port(0)),
            dst: (a(16), port(2)),
        },
    ))
}

/// Read the ICMP error in `ip` (a whole IPv4 packet, header already validated). `Ok(None)`: not ICMP,
/// not a translated error type, or a quote without a TCP/UDP first-fragment header and 8 bytes.
///
/// # Errors
/// `Ipv4Malformed` for a bad outer header; `IcmpMalformed` for an ICMP error shorter than its header
/// or whose checksum is wrong (the kernel drops those too).
pub fn parse_error(ip: &[u8]) -> Result<Option<Embedded>, DropReason> {
    let p = Ipv4Packet::new_checked(ip).map_err(|_| DropReason::Ipv4Malformed)?;
    if p.protocol() != PROTO_ICMP || p.is_fragment() {
        return Ok(None);
    }
    let icmp = IcmpPacket::new_checked(p.payload()).map_err(|_| DropReason::IcmpMalformed)?;
    if !is_translated_error(icmp.msg_type()) {
        return Ok(None);
    }
    if !icmp.verify_checksum() {
        return Err(DropReason::IcmpMalformed);
    }
    Ok(embedded_of(p.payload()).map(|(_, e)| e))
}

/// The new addresses of an ICMP error and of the datagram it quotes (`None` = unchanged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorRewrite {
    /// New outer source.
    pub outer_src: Option<Ipv4Addr>,
    /// New outer destination.
    pub outer_dst: Option<Ipv4Addr>,
    /// New source address and port of the quoted datagram.
    pub emb_src: Option<(Ipv4Addr, u16)>,
    /// New destination address and port of the quoted datagram.
    pub emb_dst: Option<(Ipv4Addr, u16)>,
    /// Added to the quoted TCP segment's sequence number, when the quote holds it (a SYN-proxied
    /// session's packets to the client carry shifted sequence numbers, see [`crate::synproxy`]).
    pub emb_seq_add: u32,
}

fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

fn rd32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Rewrite the ICMP error in `ip` in place (see the module doc). Nothing is written on error.
///
/// # Errors
/// `Ipv4Malformed`, or `IcmpMalformed` when `ip` is not an ICMP error quoting a TCP/UDP header.
pub fn translate_error(ip: &mut [u8], rw: &ErrorRewrite) -> Result<(), DropReason> {
    let mut p = Ipv4Packet::new_checked(&mut *ip).map_err(|_| DropReason::Ipv4Malformed)?;
    if p.protocol() != PROTO_ICMP {
        return Err(DropReason::IcmpMalformed);
    }
    let (hl, emb) = embedded_of(p.payload()).ok_or(DropReason::IcmpMalformed)?;
    {
        let icmp = p.payload_mut();
        let e = &mut icmp[ICMP_HEADER_LEN..];
        let l4_csum_at = match emb.proto {
            PROTO_TCP if e.len() >= hl + 18 => Some(hl + 16),
            PROTO_UDP if rd16(e, hl + 6) != 0 => Some(hl + 6),
            _ => None,
        };
        let mut l4c = l4_csum_at.map(|o| rd16(e, o));
        for (new, addr_at, port_at) in [(rw.emb_src, 12, hl), (rw.emb_dst, 16, hl + 2)] {
            let Some((a, port)) = new else { continue };
            let (old_a, old_port) = (rd32(e, addr_at), rd16(e, port_at));
            e[addr_at..addr_at + 4].copy_from_slice(&a.octets());
            e[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
            l4c = l4c.map(|c| {
                let c = checksum::update32(c, old_a, u32::from(a));
                checksum::update16(c, old_port, port)
            });
        }
        if rw.emb_seq_add != 0 && emb.proto == PROTO_TCP && e.len() >= hl + 8 {
            let old = rd32(e, hl + 4);
            let new = old.wrapping_add(rw.emb_seq_add);
            e[hl + 4..hl + 8].copy_from_slice(&new.to_be_bytes());
            l4c = l4c.map(|c| checksum::update32(c, old, new));
        }
        if let (Some(o), Some(c)) = (l4_csum_at, l4c) {
            // A UDP checksum that computes to 0 is sent as 0xffff (0 means "none").
            let c = if emb.proto == PROTO_UDP && c == 0 {
                0xffff
            } else {
                c
            };
            e[o..o + 2].copy_from_slice(&c.to_be_bytes());
        }
        e[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&e[..hl]);
        e[10..12].copy_from_slice(&c.to_be_bytes());
        icmp[2..4].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
    }
    if let Some(a) = rw.outer_src {
        p.rewrite_src(a);
    }
    if let Some(a) = rw.outer_dst {
        p.rewrite_dst(a);
    }
    Ok(())
}

/// Turn the IPv4 packet in `ip` into an ICMP "fragmentation needed" (type 3, code 4) from `from` to
/// its source, advertising next-hop MTU `mtu` and quoting its IP header and the first 8 bytes of its
/// payload. Returns the length of the new packet (the rest of `ip` is left over).
///
/// # Errors
/// `Ipv4Malformed` for a bad packet; `NotForUs` when no error may be sent about it (an ICMP error, a
/// non-first fragment, or a source that is not a unicast address).
pub fn frag_needed_in_place(ip: &mut [u8], from: Ipv4Addr, mtu: u16) -> Result<usize, DropReason> {
    let p = Ipv4Packet::new_checked(&*ip).map_err(|_| DropReason::Ipv4Malformed)?;
    let (hl, src) = (p.header_len(), p.src());
    if src.is_unspecified() || src.is_broadcast() || src.is_multicast() {
        return Err(DropReason::NotForUs);
    }
    if p.flags_frag() & 0x1fff != 0 {
        return Err(DropReason::NotForUs);
    }
    if p.protocol() == PROTO_ICMP {
        let t = p.payload().first().copied();
        if !matches!(
            t,
            Some(msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY | 13 | 14 | 17 | 18)
        ) {
            return Err(DropReason::NotForUs);
        }
    }
    let quote = (hl + 8).min(p.total_len());
    let new_len = HEADER_LEN + ICMP_HEADER_LEN + quote;
    if ip.len() < new_len {
        return Err(DropReason::Ipv4Malformed);
    }
    ip.copy_within(..quote, HEADER_LEN + ICMP_HEADER_LEN);
    Ipv4Header {
        src: from,
        dst: src,
        protocol: PROTO_ICMP,
        payload_len: (ICMP_HEADER_LEN + quote) as u16,
        ttl: ICMP_TTL,
        ident: 0,
        dont_frag: false,
        tos: ICMP_ERROR_TOS,
    }
    .emit(ip)
    .map_err(|_| DropReason::Ipv4Malformed)?;
    let icmp = &mut ip[HEADER_LEN..new_len];
    icmp[..8].copy_from_slice(&[
        msg_type::DEST_UNREACHABLE,
        CODE_FRAG_NEEDED,
        0,
        0,
        0,
        0,
        0,
        0,
    ]);
    icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
    let c = checksum::checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(new_len)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::testpkt;
    use super::*;
    use etherparse::{
        IcmpEchoHeader, Icmpv4Header, Icmpv4Type, Ipv4Header as EpIpv4, PacketBuilder,
    };

    const C: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 2), 40000);
    const V: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 8990);
    const R: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 1, 2), 8998);
    const L: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 9, 1), 1024);
    const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 254);

    /// An ICMP error from `from` to `to` of `typ`/`code` quoting `quote` (built by etherparse).
    pub(crate) fn icmp_error(
        from: Ipv4Addr,
        to: Ipv4Addr,
        typ: Icmpv4Type,
        quote: &[u8],
    ) -> Vec<u8> {
        let b = PacketBuilder::ipv4(from.octets(), to.octets(), 64).icmpv4(typ);
        let mut v = Vec::new();
        b.write(&mut v, quote).unwrap();
        v
    }

    pub(crate) fn port_unreachable() -> Icmpv4Type {
        Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Port)
    }

    /// etherparse's view of an ICMP error whose checksums it verified: (outer src, outer dst,
    /// icmp type, quoted bytes).
    pub(crate) fn parse_icmp_valid(ip: &[u8]) -> (Ipv4Addr, Ipv4Addr, Icmpv4Type, Vec<u8>) {
        let (h, rest) = EpIpv4::from_slice(ip).unwrap();
        assert_eq!(
            h.header_checksum,
            h.calc_header_checksum(),
            "outer IP checksum"
        );
        let l4 = &rest[..usize::from(h.total_len) - h.header_len()];
        let (icmp, body) = Icmpv4Header::from_slice(l4).unwrap();
        assert_eq!(
            icmp.checksum,
            icmp.icmp_type.calc_checksum(body),
            "ICMP checksum"
        );
        (
            h.source.into(),
            h.destination.into(),
            icmp.icmp_type,
            body.to_vec(),
        )
    }

    #[test]
    fn parse_reads_embedded_tuple_and_refuses_bad_checksum() {
        let sent = testpkt::tcp(C, R, 63, testpkt::SYN, 1, 0, &[]);
        let e = icmp_error(R.0, C.0, port_unreachable(), &sent);
        assert_eq!(
            parse_error(&e),
            Ok(Some(Embedded {
                proto: PROTO_TCP,
                src: C,
                dst: R
            }))
        );
        let mut bad = e.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(parse_error(&bad), Err(DropReason::IcmpMalformed));
        // Echo request: not an error.
        let b = PacketBuilder::ipv4(C.0.octets(), V.0.octets(), 64)
            .icmpv4(Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 1 }));
        let mut echo = Vec::new();
        b.write(&mut echo, b"x").unwrap();
        assert_eq!(parse_error(&echo), Ok(None));
        // Not ICMP.
        assert_eq!(parse_error(&sent), Ok(None));
        // Quote shorter than header + 8.
        let e = icmp_error(R.0, C.0, port_unreachable(), &sent[..27]);
        assert_eq!(parse_error(&e), Ok(None));
        // Quoted non-first fragment.
        let mut frag = sent.clone();
        frag[6..8].copy_from_slice(&[0x00, 0x10]);
        let e = icmp_error(R.0, C.0, port_unreachable(), &frag[..28]);
        assert_eq!(parse_error(&e), Ok(None));
        // Time exceeded and source quench are handled, parameter problem is not.
        let e = icmp_error(
            ROUTER,
            C.0,
            Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit),
            &sent[..28],
        );
        assert!(parse_error(&e).unwrap().is_some());
    }

    #[test]
    fn nat_error_from_real_server_goes_back_as_from_the_vip() {
        // The client's SYN as the real server got it (NAT: dst rewritten), quoted whole.
        let sent = testpkt::tcp(C, R, 63, testpkt::SYN, 1, 0, b"abc");
        let mut e = icmp_error(R.0, C.0, port_unreachable(), &sent);
        translate_error(
            &mut e,
            &ErrorRewrite {
                outer_src: Some(V.0),
                emb_dst: Some(V),
                ..ErrorRewrite::default()
            },
        )
        .unwrap();
        let (src, dst, t, body) = parse_icmp_valid(&e);
        assert_eq!((src, dst, t), (V.0, C.0, port_unreachable()));
        // The quote is now exactly what the client sent (checksums included).
        assert_eq!(body, testpkt::tcp(C, V, 63, testpkt::SYN, 1, 0, b"abc"));
        assert_eq!(testpkt::parse_valid(&body), (C, V, 63));
    }

    #[test]
    fn fullnat_error_both_ways_with_partial_quotes() {
        // Real-server side, about a packet laddr -> rs, quoted header + 8 (no TCP checksum in it).
        let sent = testpkt::tcp(L, R, 63, testpkt::ACK, 1, 2, &[]);
        let mut e = icmp_error(ROUTER, L.0, port_unreachable(), &sent[..28]);
        translate_error(
            &mut e,
            &ErrorRewrite {
                outer_src: Some(V.0),
                outer_dst: Some(C.0),
                emb_src: Some(C),
                emb_dst: Some(V),
                ..ErrorRewrite::default()
            },
        )
        .unwrap();
        let (src, dst, _, body) = parse_icmp_valid(&e);
        assert_eq!((src, dst), (V.0, C.0));
        let orig = testpkt::tcp(C, V, 63, testpkt::ACK, 1, 2, &[]);
        assert_eq!(body, orig[..28]);
        // Client side, about a UDP reply vip -> client; quote holds the UDP checksum.
        let reply = testpkt::udp(V, C, 63, b"answer");
        let mut e = icmp_error(C.0, V.0, port_unreachable(), &reply);
        translate_error(
            &mut e,
            &ErrorRewrite {
                outer_src: Some(L.0),
                outer_dst: Some(R.0),
                emb_src: Some(R),
                emb_dst: Some(L),
                ..ErrorRewrite::default()
            },
        )
        .unwrap();
        let (src, dst, _, body) = parse_icmp_valid(&e);
        assert_eq!((src, dst), (L.0, R.0));
        assert_eq!(body, testpkt::udp(R, L, 63, b"answer"));
        // UDP checksum 0 stays 0.
        let mut reply = testpkt::udp(V, C, 63, b"answer");
        reply[26..28].copy_from_slice(&[0, 0]);
        let mut e = icmp_error(C.0, V.0, port_unreachable(), &reply);
        translate_error(
            &mut e,
            &ErrorRewrite {
                outer_dst: Some(R.0),
                emb_src: Some(R),
                ..ErrorRewrite::default()
            },
        )
        .unwrap();
        let (_, _, _, body) = parse_icmp_valid(&e);
        assert_eq!(&body[26..28], &[0, 0]);
    }

    #[test]
    fn frag_needed_golden() {
        let mut big = testpkt::tcp(C, V, 64, testpkt::ACK, 1, 2, &[0x55; 1460]);
        let orig = big.clone();
        let n = frag_needed_in_place(&mut big, V.0, 1480).unwrap();
        assert_eq!(n, 20 + 8 + 28);
        let (src, dst, t, body) = parse_icmp_valid(&big[..n]);
        assert_eq!((src, dst), (V.0, C.0));
        assert_eq!(
            t,
            Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                    next_hop_mtu: 1480
                }
            )
        );
        assert_eq!(body, orig[..28]);
        assert_eq!(big[1], 0xc0);
        assert_eq!(big[8], 64);
        // Never about an ICMP error; echo is fine.
        let mut e = icmp_error(R.0, C.0, port_unreachable(), &orig[..28]);
        e.resize(100, 0);
        assert_eq!(
            frag_needed_in_place(&mut e, V.0, 1480),
            Err(DropReason::NotForUs)
        );
    }
}
