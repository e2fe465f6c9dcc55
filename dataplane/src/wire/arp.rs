//! ARP for Ethernet/IPv4 (RFC 826).
//!
//! Owns the 28-byte ARP packet with htype 1 (Ethernet), ptype 0x0800 (IPv4), hlen 6, plen 4.
//! Invariant: an [`ArpPacket`] built by [`ArpPacket::new_checked`] holds at least [`PACKET_LEN`]
//! bytes and those four fixed fields have the Ethernet/IPv4 values, so every accessor is total.
//! Other hardware/protocol combinations are rejected as [`WireError::Malformed`]: the dataplane
//! speaks ARP for IPv4 over Ethernet only.

use std::net::Ipv4Addr;

use super::WireError;

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// ARP operation codes.
pub mod op {
    /// Request.
    pub const REQUEST: u16 = 1;
    /// Reply.
    pub const REPLY: u16 = 2;
}

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// A view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wrap `buf`, checking its length and the Ethernet/IPv4 fixed fields.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when shorter than [`PACKET_LEN`]; [`WireError::Malformed`] when
    /// htype, ptype, hlen or plen is not 1, 0x0800, 6, 4.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let b = buf.as_ref();
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::HTYPE] != [0, 1]
            || b[field::PTYPE] != [8, 0]
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(WireError::Malformed);
        }
        Ok(ArpPacket { buf })
    }

    /// Operation ([`op::REQUEST`], [`op::REPLY`], or anything else the sender put there).
    pub fn op(&self) -> u16 {
        let b = &self.buf.as_ref()[field::OPER];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Sender hardware address.
    pub fn sha(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buf.as_ref()[field::SHA]);
        m
    }

    /// Sender protocol address.
    pub fn spa(&self) -> Ipv4Addr {
        ip(&self.buf.as_ref()[field::SPA])
    }

    /// Target hardware address.
    pub fn tha(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buf.as_ref()[field::THA]);
        m
    }

    /// Target protocol address.
    pub fn tpa(&self) -> Ipv4Addr {
        ip(&self.buf.as_ref()[field::TPA])
    }
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// Write a whole Ethernet/IPv4 ARP packet (28 bytes) at the start of `buf`.
///
/// # Errors
/// [`WireError::Truncated`] when `buf` is shorter than [`PACKET_LEN`] (nothing is written).
pub fn emit(
    buf: &mut [u8],
    oper: u16,
    sha: [u8; 6],
    spa: Ipv4Addr,
    tha: [u8; 6],
    tpa: Ipv4Addr,
) -> Result<(), WireError> {
    let Some(b) = buf.get_mut(..PACKET_LEN) else {
        return Err(WireError::Truncated);
    };
    b[field::HTYPE].copy_from_slice(&[0, 1]);
    b[field::PTYPE].copy_from_slice(&[8, 0]);
    b[field::HLEN] = 6;
    b[field::PLEN] = 4;
    b[field::OPER].copy_from_slice(&oper.to_be_bytes());
    b[field::SHA].copy_from_slice(&sha);
    b[field::SPA].copy_from_slice(&spa.octets());
    b[field::THA].copy_from_slice(&tha);
    b[field::TPA].copy_from_slice(&tpa.octets());
    Ok(())
}

/// Write a request: who has `tpa`? tell `spa` (at `sha`). The target hardware address is zero.
///
/// # Errors
/// As [`emit`].
pub fn emit_request(
    buf: &mut [u8],
    sha: [u8; 6],
    spa: Ipv4Addr,
    tpa: Ipv4Addr,
) -> Result<(), WireError> {
    emit(buf, op::REQUEST, sha, spa, [0; 6], tpa)
}

/// Write a reply: `spa` is at `sha`, sent to `tha`/`tpa`.
///
/// # Errors
/// As [`emit`].
pub fn emit_reply(
    buf: &mut [u8],
    sha: [u8; 6],
    spa: Ipv4Addr,
    tha: [u8; 6],
    tpa: Ipv4Addr,
) -> Result<(), WireError> {
    emit(buf, op::REPLY, sha, spa, tha, tpa)
}

#[cfg(test)]
mod tests {
    use super::*;

    // who-has 10.10.0.1 tell 10.10.0.2 (02:00:00:00:00:02)
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype ptype hlen plen op
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10, 10, 0, 2, // sha spa
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 10, 0, 1, // tha tpa
    ];

    #[test]
    fn parse_request() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.op(), op::REQUEST);
        assert_eq!(p.sha(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(p.spa(), Ipv4Addr::new(10, 10, 0, 2));
        assert_eq!(p.tha(), [0; 6]);
        assert_eq!(p.tpa(), Ipv4Addr::new(10, 10, 0, 1));
    }

    #[test]
    fn emit_request_matches_bytes() {
        let mut b = [0xeeu8; 30];
        emit_request(
            &mut b,
            [2, 0, 0, 0, 0, 2],
            Ipv4Addr::new(10, 10, 0, 2),
            Ipv4Addr::new(10, 10, 0, 1),
        )
        .unwrap();
        assert_eq!(&b[..28], &REQUEST);
        assert_eq!(&b[28..], &[0xee, 0xee], "bytes past the packet untouched");
    }

    #[test]
    fn emit_reply_round_trip() {
        let mut b = [0u8; 28];
        let (sha, tha) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        emit_reply(
            &mut b,
            sha,
            Ipv4Addr::new(10, 10, 0, 1),
            tha,
            Ipv4Addr::new(10, 10, 0, 2),
        )
        .unwrap();
        let p = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.op(), op::REPLY);
        assert_eq!(
            (p.sha(), p.spa(), p.tha(), p.tpa()),
            (
                sha,
                Ipv4Addr::new(10, 10, 0, 1),
                tha,
                Ipv4Addr::new(10, 10, 0, 2)
            )
        );
        assert_eq!(
            emit_reply(
                &mut b[..27],
                sha,
                Ipv4Addr::LOCALHOST,
                tha,
                Ipv4Addr::LOCALHOST
            ),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn truncated_and_bad_fields() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            WireError::Truncated
        );
        for (i, v) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut b = REQUEST;
            b[i] = v;
            assert_eq!(
                ArpPacket::new_checked(&b[..]).unwrap_err(),
                WireError::Malformed,
                "byte {i}"
            );
        }
        // Ethernet padding after the packet is fine.
        let mut long = [0u8; 46];
        long[..28].copy_from_slice(&REQUEST);
        assert!(ArpPacket::new_checked(&long[..]).is_ok());
    }
}
