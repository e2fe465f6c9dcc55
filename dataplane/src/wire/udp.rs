//! UDP header view (RFC 768).
//!
//! [`UdpPacket::new_checked`] guarantees the 8-byte header is present and `8 <= length <= buffer`;
//! [`UdpPacket::new_first_fragment`] (the header of a fragmented datagram) only the header, with the
//! accessors stopping at the buffer's end.
//! A stored checksum of 0 means "no checksum" over IPv4: the rewrite helpers leave it 0, and a
//! computed checksum of 0 is stored as 0xffff.

use super::WireError;
use crate::checksum;
use std::net::Ipv4Addr;

/// UDP header length.
pub const HEADER_LEN: usize = 8;

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wrap `buffer` (the IP payload) after checking the header and the length field.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when shorter than 8 bytes or than the length field;
    /// [`WireError::Malformed`] when the length field is below 8.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if len < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if len > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(UdpPacket { buffer })
    }

    /// Wrap the payload of a datagram's first fragment: only the 8-byte header is there, so only
    /// the header is checked (length field >= 8); the length field may run past the buffer, and the
    /// accessors stop at the buffer's end.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when shorter than 8 bytes; [`WireError::Malformed`] when the length
    /// field is below 8.
    pub fn new_first_fragment(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if usize::from(u16::from_be_bytes([b[4], b[5]])) < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        Ok(UdpPacket { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The length field, cut at the buffer's end (equal to it for a whole datagram).
    fn held_len(&self) -> usize {
        self.len().min(self.b().len())
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[0], self.b()[1]])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }

    /// Length field (header + payload).
    pub fn len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.b()[4], self.b()[5]]))
    }

    /// Never true: a checked datagram holds at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Stored checksum (0 = none).
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }

    /// The payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.held_len()]
    }

    /// The checksum is right (or absent) for a datagram carried from `src` to `dst`.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let d = &self.b()[..self.held_len()];
        let sum = checksum::pseudo_header_v4(src, dst, super::ipv4::PROTO_UDP, d.len() as u16)
            + checksum::sum16(d);
        checksum::fold(sum) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set the source port (checksum untouched).
    pub fn set_src_port(&mut self, p: u16) {
        self.bm()[0..2].copy_from_slice(&p.to_be_bytes());
    }

    /// Set the destination port (checksum untouched).
    pub fn set_dst_port(&mut self, p: u16) {
        self.bm()[2..4].copy_from_slice(&p.to_be_bytes());
    }

    /// Store a checksum.
    pub fn set_checksum(&mut self, c: u16) {
        self.bm()[6..8].copy_from_slice(&c.to_be_bytes());
    }

    /// Compute and store the checksum for a datagram carried from `src` to `dst`.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.held_len();
        let c = checksum::l4_checksum_v4(src, dst, super::ipv4::PROTO_UDP, &self.b()[..len]);
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }

    fn patch(&mut self, c: u16) {
        if self.checksum() != 0 {
            self.set_checksum(if c == 0 { 0xffff } else { c });
        }
    }

    /// Rewrite the source port, patching a present checksum.
    pub fn rewrite_src_port(&mut self, p: u16) {
        let c = checksum::update16(self.checksum(), self.src_port(), p);
        self.set_src_port(p);
        self.patch(c);
    }

    /// Rewrite the destination port, patching a present checksum.
    pub fn rewrite_dst_port(&mut self, p: u16) {
        let c = checksum::update16(self.checksum(), self.dst_port(), p);
        self.set_dst_port(p);
        self.patch(c);
    }

    /// Patch a present checksum for a pseudo-header address that changed from `old` to `new`.
    pub fn patch_pseudo_addr(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let c = checksum::update32(self.checksum(), u32::from(old), u32::from(new));
        self.patch(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);

    fn dgram() -> Vec<u8> {
        let mut v = vec![
            0x9c, 0x40, 0x23, 0x28, 0x00, 0x0b, 0x00, 0x00, b'h', b'i', b'!',
        ];
        let c = checksum::l4_checksum_v4(SRC, DST, 17, &v);
        v[6..8].copy_from_slice(&c.to_be_bytes());
        v
    }

    #[test]
    fn parse_fields() {
        let mut v = dgram();
        v.push(0); // trailing byte beyond the length field
        let u = UdpPacket::new_checked(&v[..]).unwrap();
        assert_eq!(u.src_port(), 40000);
        assert_eq!(u.dst_port(), 9000);
        assert_eq!(u.len(), 11);
        assert_eq!(u.payload(), b"hi!");
        assert!(u.verify_checksum_v4(SRC, DST));
    }

    #[test]
    fn rejects_bad_headers() {
        let v = dgram();
        assert_eq!(
            UdpPacket::new_checked(&v[..7]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            UdpPacket::new_checked(&v[..10]).unwrap_err(),
            WireError::Truncated
        );
        let mut bad = v;
        bad[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
    }

    #[test]
    fn rewrites_keep_checksum_valid_and_zero_stays_zero() {
        let mut v = dgram();
        let nsrc = Ipv4Addr::new(10, 10, 9, 1);
        let mut u = UdpPacket::new_checked(&mut v[..]).unwrap();
        u.rewrite_src_port(1025);
        u.patch_pseudo_addr(SRC, nsrc);
        assert!(u.verify_checksum_v4(nsrc, DST));
        u.set_checksum(0);
        u.rewrite_dst_port(1);
        u.patch_pseudo_addr(DST, nsrc);
        assert_eq!(u.checksum(), 0);
    }
}
