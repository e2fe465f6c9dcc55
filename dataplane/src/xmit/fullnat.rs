//! FULLNAT (DPVS' full NAT): the real server sees one of our local addresses, so it needs no route to
//! the client.
//!
//! Inbound (client:cport -> VIP:vport): source becomes `laddr:lport`, destination `rip:rport`.
//! Outbound (rip:rport -> laddr:lport): source becomes VIP:vport, destination client:cport.
//! Checksums are patched incrementally and the TTL decremented ([`super::rewrite`]). TCP options
//! (DPVS' TOA carrying the client address) are not added.

use super::rewrite;
use crate::stats::DropReason;
use std::net::Ipv4Addr;

/// Client -> real server: source -> `local`, destination -> `rs`.
///
/// # Errors
/// As [`super::rewrite`]; nothing is written on error.
#[inline]
pub fn fullnat_in(
    ip: &mut [u8],
    local: (Ipv4Addr, u16),
    rs: (Ipv4Addr, u16),
) -> Result<(), DropReason> {
    rewrite(ip, Some(local), Some(rs), true)
}

/// Real server -> client: source -> `virt` (VIP:vport), destination -> `client`.
///
/// # Errors
/// As [`super::rewrite`]; nothing is written on error.
#[inline]
pub fn fullnat_out(
    ip: &mut [u8],
    virt: (Ipv4Addr, u16),
    client: (Ipv4Addr, u16),
) -> Result<(), DropReason> {
    rewrite(ip, Some(virt), Some(client), true)
}

#[cfg(test)]
mod tests {
    use super::super::testpkt::*;
    use super::*;

    const C: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 2), 40000);
    const V: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 8990);
    const R: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 1, 2), 8998);
    const L: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 9, 1), 1025);

    #[test]
    fn tcp_both_directions() {
        let mut p = tcp(C, V, 64, SYN, 7, 0, &[]);
        fullnat_in(&mut p, L, R).unwrap();
        assert_eq!(p, tcp(L, R, 63, SYN, 7, 0, &[]));
        assert_eq!(parse_valid(&p), (L, R, 63));

        let mut p = tcp(R, L, 64, SYN | ACK, 900, 8, &[]);
        fullnat_out(&mut p, V, C).unwrap();
        assert_eq!(p, tcp(V, C, 63, SYN | ACK, 900, 8, &[]));
        assert_eq!(parse_valid(&p), (V, C, 63));

        let data = [0xa5u8; 1000];
        let mut p = tcp(C, V, 3, ACK | PSH, 8, 901, &data);
        fullnat_in(&mut p, L, R).unwrap();
        assert_eq!(p, tcp(L, R, 2, ACK | PSH, 8, 901, &data));
    }

    #[test]
    fn udp_both_directions_and_zero_checksum() {
        let mut p = udp(C, V, 64, b"q");
        fullnat_in(&mut p, L, R).unwrap();
        assert_eq!(p, udp(L, R, 63, b"q"));
        let mut p = udp(R, L, 64, b"answer");
        fullnat_out(&mut p, V, C).unwrap();
        assert_eq!(p, udp(V, C, 63, b"answer"));
        assert_eq!(parse_valid(&p), (V, C, 63));

        let mut p = udp(R, L, 64, b"answer");
        p[26..28].copy_from_slice(&[0, 0]);
        fullnat_out(&mut p, V, C).unwrap();
        assert_eq!(&p[26..28], &[0, 0]);
        assert_eq!(parse_valid(&p), (V, C, 63));
    }
}
