//! NAT (ipvsadm `-m`, "Masq"): the real server sees the client's address and replies through us.
//!
//! Inbound (client -> VIP:vport): destination becomes RIP:rport. Outbound (RIP:rport -> client):
//! source becomes VIP:vport. Checksums are patched incrementally and the TTL decremented
//! ([`super::rewrite`]).

use super::rewrite;
use crate::stats::DropReason;
use std::net::Ipv4Addr;

/// Client -> real server: destination VIP:vport -> `rip:rport`.
///
/// # Errors
/// As [`super::rewrite`]; nothing is written on error.
#[inline]
pub fn nat_in(ip: &mut [u8], rip: Ipv4Addr, rport: u16) -> Result<(), DropReason> {
    rewrite(ip, None, Some((rip, rport)), true)
}

/// Real server -> client: source RIP:rport -> `vip:vport`.
///
/// # Errors
/// As [`super::rewrite`]; nothing is written on error.
#[inline]
pub fn nat_out(ip: &mut [u8], vip: Ipv4Addr, vport: u16) -> Result<(), DropReason> {
    rewrite(ip, Some((vip, vport)), None, true)
}

#[cfg(test)]
mod tests {
    use super::super::testpkt::*;
    use super::*;

    const C: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 2), 40000);
    const V: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 8990);
    const R: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 1, 2), 8998);

    /// A SYN client -> VIP written out by hand (TTL 64, id 0x1c46, DF, MSS option), and the packet
    /// NAT must send to the real server. Checksums: input from a full recompute (etherparse verifies
    /// both); output checked by etherparse below.
    const SYN_IN: [u8; 44] = [
        0x45, 0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00,
        0x00, // checksum patched
        10, 10, 0, 2, 10, 10, 0, 100, // src, dst
        0x9c, 0x40, 0x23, 0x1e, // 40000 -> 8990
        0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, // seq 1000, ack 0
        0x60, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00, // doff 6, SYN, win 64240, csum, urg
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
    ];

    fn full_checksums(p: &mut [u8]) {
        // From-scratch recompute with etherparse (independent of our checksum module).
        let (h, rest) = etherparse::Ipv4Header::from_slice(p).unwrap();
        let hc = h.calc_header_checksum();
        let l4 = rest.to_vec();
        let (t, payload) = etherparse::TcpHeader::from_slice(&l4).unwrap();
        let tc = t.calc_checksum_ipv4(&h, payload).unwrap();
        p[10..12].copy_from_slice(&hc.to_be_bytes());
        p[36..38].copy_from_slice(&tc.to_be_bytes());
    }

    #[test]
    fn golden_syn_in_by_hand() {
        let mut input = SYN_IN;
        full_checksums(&mut input);
        let mut expected = SYN_IN;
        expected[8] = 63; // TTL
        expected[16..20].copy_from_slice(&[10, 10, 1, 2]);
        expected[22..24].copy_from_slice(&8998u16.to_be_bytes());
        full_checksums(&mut expected);

        let mut p = input;
        nat_in(&mut p, R.0, R.1).unwrap();
        assert_eq!(p, expected);
        assert_eq!(parse_valid(&p), (C, R, 63));
        // Frozen header checksums (summed by hand: ~0xf5f2 and ~(0xf5f2 - 0x100 + 0x9e)).
        assert_eq!(&input[10..12], &[0x0a, 0x0d]);
        assert_eq!(&p[10..12], &[0x0a, 0x6f]);
    }

    #[test]
    fn tcp_both_directions_match_etherparse_builds() {
        let payload = b"GET / HTTP/1.0\r\n\r\n";
        let mut p = tcp(C, V, 64, ACK | PSH, 1001, 5001, payload);
        nat_in(&mut p, R.0, R.1).unwrap();
        assert_eq!(p, tcp(C, R, 63, ACK | PSH, 1001, 5001, payload));
        assert_eq!(parse_valid(&p), (C, R, 63));

        let mut p = tcp(R, C, 64, ACK, 5001, 1019, b"HTTP/1.0 200 OK\r\n");
        nat_out(&mut p, V.0, V.1).unwrap();
        assert_eq!(p, tcp(V, C, 63, ACK, 5001, 1019, b"HTTP/1.0 200 OK\r\n"));
        assert_eq!(parse_valid(&p), (V, C, 63));
    }

    #[test]
    fn udp_both_directions_and_zero_checksum() {
        let mut p = udp(C, V, 64, b"ping");
        nat_in(&mut p, R.0, R.1).unwrap();
        assert_eq!(p, udp(C, R, 63, b"ping"));
        let mut p = udp(R, C, 9, b"pong!");
        nat_out(&mut p, V.0, V.1).unwrap();
        assert_eq!(p, udp(V, C, 8, b"pong!"));
        assert_eq!(parse_valid(&p), (V, C, 8));

        // Checksum 0 (none) stays 0.
        let mut p = udp(C, V, 64, b"ping");
        p[26..28].copy_from_slice(&[0, 0]);
        nat_in(&mut p, R.0, R.1).unwrap();
        let mut want = udp(C, R, 63, b"ping");
        want[26..28].copy_from_slice(&[0, 0]);
        assert_eq!(p, want);
        assert_eq!(parse_valid(&p), (C, R, 63));
    }
}
