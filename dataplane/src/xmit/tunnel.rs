//! Tunnel forwarding (ipvsadm `-i`, "Tunnel"): the outer headers put in front of a client's packet.
//!
//! The client's IPv4 packet travels unchanged (except the TTL the pipeline decrements) inside an outer
//! IPv4 header from a local address of rvsd (the preferred source of the route towards the real
//! server) to the real server, as the kernel's `ip_vs_tunnel_xmit` builds it:
//! - outer IPv4: no options, protocol 4 (IPIP), 17 (GUE) or 47 (GRE), TTL [`OUTER_TTL`] (the kernel
//!   copies the inner TTL; we use a fixed TTL so a nearly expired inner packet still reaches the real
//!   server), DF copied from the inner header, TOS copied from the inner header with the ECN field
//!   encapsulated as RFC 6040 (CE becomes ECT(0)), identification copied from the inner header;
//! - GUE ([`TunnelType::Gue`]): UDP from a source port derived from the flow hash (the kernel's
//!   `udp_flow_src_port` over 32768..60999, so one flow always uses one port and flows spread over
//!   receive queues) to the configured port, then a 4-byte GUE header: version 0, C = 0, hlen 0,
//!   proto 4 (IPIP), flags 0. `--tun-nocsum`: UDP checksum 0; `--tun-csum`: full UDP checksum;
//!   `--tun-remcsum`: also a full UDP checksum and no remote-checksum option, which is what the kernel
//!   sends for a forwarded packet (its `ipvs_gue_encap` adds the option only to `CHECKSUM_PARTIAL`
//!   packets, which a forwarded packet never is);
//! - GRE ([`TunnelType::Gre`]): 4 bytes (flags 0, protocol 0x0800), or 8 with `--tun-csum` (C bit,
//!   protocol, checksum over the GRE header and payload, reserved 0). `--tun-remcsum` with GRE is
//!   refused ([`DropReason::FwdUnsupported`]); ipvsadm refuses that combination too.
//!
//! The header is built into a fixed array ([`EncapHeader`]) after the inner packet is final, because
//! the GUE and GRE checksums cover it; the worker prepends it into the buffer's headroom.

use crate::checksum;
use crate::stats::DropReason;
use crate::wire::ipv4::{Ipv4Header, Ipv4Packet, HEADER_LEN, PROTO_GRE, PROTO_IPIP, PROTO_UDP};
use rvs_control::proto::{TunnelCsum, TunnelType};
use std::net::Ipv4Addr;

/// TTL of the outer header.
pub const OUTER_TTL: u8 = 64;
/// The longest header we put in front (outer IPv4 + UDP + GUE).
pub const MAX_HEADER: usize = HEADER_LEN + 8 + 4;
/// Lowest GUE source port (the kernel's default `ip_local_port_range` low end).
pub const GUE_SPORT_MIN: u16 = 32768;
/// Highest GUE source port (the range's high end).
pub const GUE_SPORT_MAX: u16 = 60999;
/// GRE protocol type of an encapsulated IPv4 packet.
pub const GRE_PROTO_IPV4: u16 = 0x0800;
/// GRE flags word with the checksum-present bit.
pub const GRE_FLAG_CSUM: u16 = 0x8000;

/// How one real server's packets are encapsulated (the dest's `--tun-type` and checksum option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunnel {
    /// IPIP, GUE to a port, or GRE.
    pub kind: TunnelType,
    /// Checksum option (ignored for IPIP).
    pub csum: TunnelCsum,
}

impl Tunnel {
    /// Plain IPIP.
    pub const IPIP: Tunnel = Tunnel {
        kind: TunnelType::Ipip,
        csum: TunnelCsum::NoCsum,
    };

    /// Bytes this encapsulation adds in front of the inner packet.
    pub fn overhead(&self) -> usize {
        match self.kind {
            TunnelType::Ipip => HEADER_LEN,
            TunnelType::Gue { .. } => HEADER_LEN + 8 + 4,
            TunnelType::Gre if self.csum == TunnelCsum::NoCsum => HEADER_LEN + 4,
            TunnelType::Gre => HEADER_LEN + 8,
        }
    }
}

/// The outer headers of one encapsulated packet, ready to be prepended (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncapHeader {
    bytes: [u8; MAX_HEADER],
    len: u8,
}

impl EncapHeader {
    /// No header (a frame that is only cut, not grown).
    pub const EMPTY: EncapHeader = EncapHeader {
        bytes: [0; MAX_HEADER],
        len: 0,
    };

    /// A header holding a copy of `bytes`; `None` when longer than [`MAX_HEADER`].
    pub fn from_bytes(bytes: &[u8]) -> Option<EncapHeader> {
        let mut h = EncapHeader::EMPTY;
        h.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        h.len = bytes.len() as u8;
        Some(h)
    }

    /// The header bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for [`EncapHeader::EMPTY`].
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The GUE source port of a flow whose hash is `flow_hash` (kernel `udp_flow_src_port`: the hash's
/// low half folded into its high half, scaled into [`GUE_SPORT_MIN`]..[`GUE_SPORT_MAX`]).
pub fn gue_source_port(flow_hash: u32) -> u16 {
    let h = flow_hash ^ (flow_hash << 16);
    let span = u64::from(GUE_SPORT_MAX - GUE_SPORT_MIN);
    GUE_SPORT_MIN + ((u64::from(h) * span) >> 32) as u16
}

/// The outer TOS for an inner TOS (RFC 6040 normal mode: DSCP copied, CE sent as ECT(0)).
fn outer_tos(inner: u8) -> u8 {
    if inner & 0x03 == 0x03 {
        (inner & !0x03) | 0x02
    } else {
        inner
    }
}

/// Build the outer headers that carry `inner` (a whole IPv4 packet in its final form) from `src` to
/// `dst` through `tun`. `flow_hash` picks the GUE source port.
///
/// # Errors
/// `Ipv4Malformed` when `inner` is not a valid IPv4 packet or the result would exceed 65535 bytes;
/// `FwdUnsupported` for GRE with `--tun-remcsum`.
pub fn encap_header(
    inner: &[u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    tun: Tunnel,
    flow_hash: u32,
) -> Result<EncapHeader, DropReason> {
    let p = Ipv4Packet::new_checked(inner).map_err(|_| DropReason::Ipv4Malformed)?;
    let inner = &inner[..p.total_len()];
    if tun.kind == TunnelType::Gre && tun.csum == TunnelCsum::RemCsum {
        return Err(DropReason::FwdUnsupported);
    }
    let over = tun.overhead();
    let payload_len =
        u16::try_from(over - HEADER_LEN + inner.len()).map_err(|_| DropReason::Ipv4Malformed)?;
    let protocol = match tun.kind {
        TunnelType::Ipip => PROTO_IPIP,
        TunnelType::Gue { .. } => PROTO_UDP,
        TunnelType::Gre => PROTO_GRE,
    };
    let mut h = EncapHeader {
        bytes: [0; MAX_HEADER],
        len: over as u8,
    };
    Ipv4Header {
        src,
        dst,
        protocol,
        payload_len,
        ttl: OUTER_TTL,
        ident: p.ident(),
        dont_frag: p.dont_frag(),
        tos: outer_tos(p.tos()),
    }
    .emit(&mut h.bytes)
    .map_err(|_| DropReason::Ipv4Malformed)?;
    let rest = &mut h.bytes[HEADER_LEN..over];
    match tun.kind {
        TunnelType::Ipip => {}
        TunnelType::Gue { port } => {
            rest[0..2].copy_from_slice(&gue_source_port(flow_hash).to_be_bytes());
            rest[2..4].copy_from_slice(&port.to_be_bytes());
            rest[4..6].copy_from_slice(&payload_len.to_be_bytes());
            // rest[6..8]: checksum, below. GUE: version 0, C 0, hlen 0; proto IPIP; flags 0.
            rest[8..12].copy_from_slice(&[0, PROTO_IPIP, 0, 0]);
            if tun.csum != TunnelCsum::NoCsum {
                let sum = checksum::pseudo_header_v4(src, dst, PROTO_UDP, payload_len)
                    + checksum::sum16(rest)
                    + checksum::sum16(inner);
                let c = match !checksum::fold(sum) {
                    0 => 0xffff,
                    c => c,
                };
                rest[6..8].copy_from_slice(&c.to_be_bytes());
            }
        }
        TunnelType::Gre => {
            rest[2..4].copy_from_slice(&GRE_PROTO_IPV4.to_be_bytes());
            if tun.csum == TunnelCsum::Csum {
                rest[0..2].copy_from_slice(&GRE_FLAG_CSUM.to_be_bytes());
                let c = !checksum::fold(checksum::sum16(rest) + checksum::sum16(inner));
                rest[4..6].copy_from_slice(&c.to_be_bytes());
            }
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::super::testpkt;
    use super::*;
    use etherparse::{Ipv4Header as EpIpv4, UdpHeader};

    const C: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 2), 40000);
    const V: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 8990);
    const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 1);
    const RIP: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 2);

    fn inner() -> Vec<u8> {
        // etherparse sets DF on what it builds; TTL already decremented by the pipeline.
        testpkt::tcp(C, V, 63, testpkt::SYN, 1000, 0, b"hello")
    }

    /// Outer header checked by etherparse; returns (outer header, bytes after the outer header).
    fn outer(h: &EncapHeader, inner: &[u8]) -> (EpIpv4, Vec<u8>) {
        let mut pkt = h.as_bytes().to_vec();
        pkt.extend_from_slice(inner);
        let (ip, rest) = EpIpv4::from_slice(&pkt).unwrap();
        assert_eq!(ip.header_checksum, ip.calc_header_checksum());
        assert_eq!(usize::from(ip.total_len), pkt.len());
        assert_eq!(ip.source, LOCAL.octets());
        assert_eq!(ip.destination, RIP.octets());
        assert_eq!(ip.time_to_live, 64);
        assert!(ip.dont_fragment);
        (ip, rest.to_vec())
    }

    #[test]
    fn ipip_golden() {
        let inner = inner();
        let h = encap_header(&inner, LOCAL, RIP, Tunnel::IPIP, 7).unwrap();
        // Written out: 45 00 len(20+45=65) id=inner DF ttl 64 proto 4 csum src dst.
        let id = [inner[4], inner[5]];
        let mut want = vec![
            0x45, 0x00, 0x00, 65, id[0], id[1], 0x40, 0x00, 64, 4, 0, 0, 10, 10, 1, 1, 10, 10, 1, 2,
        ];
        let c = crate::checksum::checksum(&want);
        want[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(h.as_bytes(), &want[..]);
        let (ip, rest) = outer(&h, &inner);
        assert_eq!(ip.protocol.0, 4);
        assert_eq!(rest, inner);
        assert_eq!(testpkt::parse_valid(&rest), (C, V, 63));
    }

    #[test]
    fn gue_nocsum_and_csum_golden() {
        let inner = inner();
        for (csum, checked) in [
            (TunnelCsum::NoCsum, false),
            (TunnelCsum::Csum, true),
            (TunnelCsum::RemCsum, true),
        ] {
            let tun = Tunnel {
                kind: TunnelType::Gue { port: 5555 },
                csum,
            };
            let h = encap_header(&inner, LOCAL, RIP, tun, 0x1234_5678).unwrap();
            assert_eq!(h.len(), 32);
            let (ip, rest) = outer(&h, &inner);
            assert_eq!(ip.protocol.0, 17);
            let (u, payload) = UdpHeader::from_slice(&rest).unwrap();
            assert_eq!(u.source_port, gue_source_port(0x1234_5678));
            assert_eq!(u.destination_port, 5555);
            assert_eq!(usize::from(u.length), 8 + 4 + inner.len());
            if checked {
                assert_ne!(u.checksum, 0);
                assert_eq!(u.checksum, u.calc_checksum_ipv4(&ip, payload).unwrap());
            } else {
                assert_eq!(u.checksum, 0);
            }
            assert_eq!(&payload[..4], &[0x00, 0x04, 0x00, 0x00]);
            assert_eq!(&payload[4..], &inner[..]);
        }
    }

    #[test]
    fn gue_source_port_range_and_stability() {
        assert_eq!(gue_source_port(0), GUE_SPORT_MIN);
        for h in [1u32, 0xffff_ffff, 0x8000_0000, 0xdead_beef, 12345] {
            let p = gue_source_port(h);
            assert!((GUE_SPORT_MIN..GUE_SPORT_MAX).contains(&p), "{p}");
            assert_eq!(p, gue_source_port(h));
        }
        assert_ne!(gue_source_port(0x0001_0000), gue_source_port(0x8000_0000));
    }

    #[test]
    fn gre_plain_and_csum_golden() {
        let inner = inner();
        let tun = Tunnel {
            kind: TunnelType::Gre,
            csum: TunnelCsum::NoCsum,
        };
        let h = encap_header(&inner, LOCAL, RIP, tun, 0).unwrap();
        let (ip, rest) = outer(&h, &inner);
        assert_eq!(ip.protocol.0, 47);
        assert_eq!(&rest[..4], &[0x00, 0x00, 0x08, 0x00]);
        assert_eq!(&rest[4..], &inner[..]);

        let tun = Tunnel {
            kind: TunnelType::Gre,
            csum: TunnelCsum::Csum,
        };
        let h = encap_header(&inner, LOCAL, RIP, tun, 0).unwrap();
        let (ip, rest) = outer(&h, &inner);
        assert_eq!(usize::from(ip.total_len), 20 + 8 + inner.len());
        assert_eq!(&rest[..4], &[0x80, 0x00, 0x08, 0x00]);
        assert_eq!(&rest[6..8], &[0, 0]);
        // Independent check: the one's-complement sum over GRE header + payload folds to 0xffff.
        let mut sum: u32 = 0;
        for c in rest.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
        assert_eq!(&rest[8..], &inner[..]);

        let tun = Tunnel {
            kind: TunnelType::Gre,
            csum: TunnelCsum::RemCsum,
        };
        assert_eq!(
            encap_header(&inner, LOCAL, RIP, tun, 0),
            Err(DropReason::FwdUnsupported)
        );
    }

    #[test]
    fn df_tos_and_ident_follow_the_inner_header() {
        let mut inner = inner();
        inner[1] = 0xb8 | 0x03; // EF, CE
        inner[6] = 0; // no DF
        inner[4..6].copy_from_slice(&[0xab, 0xcd]);
        let h = encap_header(&inner, LOCAL, RIP, Tunnel::IPIP, 0).unwrap();
        let b = h.as_bytes();
        assert_eq!(b[1], 0xb8 | 0x02);
        assert_eq!(&b[4..8], &[0xab, 0xcd, 0, 0]);
        assert_eq!(crate::checksum::checksum(b), 0);
        assert_eq!(
            encap_header(&inner[..10], LOCAL, RIP, Tunnel::IPIP, 0),
            Err(DropReason::Ipv4Malformed)
        );
    }
}
