//! TCP header view (RFC 9293).
//!
//! [`TcpPacket::new_checked`] guarantees the buffer holds the 20-byte fixed header, the data offset is
//! at least 5 and the header (options included) fits in the buffer. The buffer must be the segment
//! only (cut at the IP total length), so the checksum helpers sum exactly the segment.
//!
//! Rewrite helpers patch the checksum incrementally (RFC 1624): a port change with
//! [`TcpPacket::rewrite_src_port`]/[`TcpPacket::rewrite_dst_port`], an address change of the
//! pseudo-header with [`TcpPacket::patch_pseudo_addr`].

use super::WireError;
use crate::checksum;
use std::net::Ipv4Addr;

mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
}

/// Fixed TCP header length.
pub const HEADER_LEN: usize = 20;
/// FIN flag bit.
pub const FLAG_FIN: u8 = 0x01;
/// SYN flag bit.
pub const FLAG_SYN: u8 = 0x02;
/// RST flag bit.
pub const FLAG_RST: u8 = 0x04;
/// PSH flag bit.
pub const FLAG_PSH: u8 = 0x08;
/// ACK flag bit.
pub const FLAG_ACK: u8 = 0x10;

/// A read/write view of a TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T> {
    buffer: T,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap `buffer` (the whole segment) after checking the lengths the accessors rely on.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when shorter than the header; [`WireError::Malformed`] when the data
    /// offset is below 5 or the header runs past the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let off = usize::from(b[field::OFF] >> 4) * 4;
        if off < HEADER_LEN || off > b.len() {
            return Err(WireError::Malformed);
        }
        Ok(TcpPacket { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.b(), field::SRC_PORT.start)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), field::DST_PORT.start)
    }

    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.b(), field::SEQ.start)
    }

    /// Acknowledgement number.
    pub fn ack_number(&self) -> u32 {
        be32(self.b(), field::ACK.start)
    }

    /// Header length (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::OFF] >> 4) * 4
    }

    /// The flags byte (CWR ECE URG ACK PSH RST SYN FIN).
    pub fn flags(&self) -> u8 {
        self.b()[field::FLAGS]
    }

    /// SYN set.
    pub fn syn(&self) -> bool {
        self.flags() & FLAG_SYN != 0
    }

    /// ACK set.
    pub fn ack(&self) -> bool {
        self.flags() & FLAG_ACK != 0
    }

    /// FIN set.
    pub fn fin(&self) -> bool {
        self.flags() & FLAG_FIN != 0
    }

    /// RST set.
    pub fn rst(&self) -> bool {
        self.flags() & FLAG_RST != 0
    }

    /// Window.
    pub fn window(&self) -> u16 {
        be16(self.b(), field::WINDOW.start)
    }

    /// Stored checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.b(), field::CHECKSUM.start)
    }

    /// The payload after the header.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }

    /// The checksum is right for a segment carried from `src` to `dst`.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let b = self.b();
        let sum = checksum::pseudo_header_v4(src, dst, super::ipv4::PROTO_TCP, b.len() as u16)
            + checksum::sum16(b);
        checksum::fold(sum) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set the source port (checksum untouched).
    pub fn set_src_port(&mut self, p: u16) {
        self.bm()[field::SRC_PORT].copy_from_slice(&p.to_be_bytes());
    }

    /// Set the destination port (checksum untouched).
    pub fn set_dst_port(&mut self, p: u16) {
        self.bm()[field::DST_PORT].copy_from_slice(&p.to_be_bytes());
    }

    /// Store a checksum.
    pub fn set_checksum(&mut self, c: u16) {
        self.bm()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Compute and store the checksum for a segment carried from `src` to `dst`.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let c = checksum::l4_checksum_v4(src, dst, super::ipv4::PROTO_TCP, self.b());
        self.set_checksum(c);
    }

    /// Rewrite the source port, patching the checksum.
    pub fn rewrite_src_port(&mut self, p: u16) {
        let c = checksum::update16(self.checksum(), self.src_port(), p);
        self.set_src_port(p);
        self.set_checksum(c);
    }

    /// Rewrite the destination port, patching the checksum.
    pub fn rewrite_dst_port(&mut self, p: u16) {
        let c = checksum::update16(self.checksum(), self.dst_port(), p);
        self.set_dst_port(p);
        self.set_checksum(c);
    }

    /// Patch the checksum for a pseudo-header address that changed from `old` to `new`.
    pub fn patch_pseudo_addr(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let c = checksum::update32(self.checksum(), u32::from(old), u32::from(new));
        self.set_checksum(c);
    }

    /// Rewrite the sequence number, patching the checksum.
    pub fn rewrite_seq(&mut self, seq: u32) {
        let c = checksum::update32(self.checksum(), self.seq(), seq);
        self.bm()[field::SEQ].copy_from_slice(&seq.to_be_bytes());
        self.set_checksum(c);
    }

    /// Rewrite the acknowledgment number, patching the checksum.
    pub fn rewrite_ack_number(&mut self, ack: u32) {
        let c = checksum::update32(self.checksum(), self.ack_number(), ack);
        self.bm()[field::ACK].copy_from_slice(&ack.to_be_bytes());
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);

    fn syn() -> Vec<u8> {
        let mut v = vec![
            0xc3, 0x50, 0x23, 0x1e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x60, 0x02,
            0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
        ];
        let c = checksum::l4_checksum_v4(SRC, DST, 6, &v);
        v[16..18].copy_from_slice(&c.to_be_bytes());
        v
    }

    #[test]
    fn parse_fields() {
        let v = syn();
        let t = TcpPacket::new_checked(&v[..]).unwrap();
        assert_eq!(t.src_port(), 50000);
        assert_eq!(t.dst_port(), 8990);
        assert_eq!(t.seq(), 1);
        assert_eq!(t.header_len(), 24);
        assert!(t.syn() && !t.ack() && !t.fin() && !t.rst());
        assert_eq!(t.window(), 0xffff);
        assert!(t.payload().is_empty());
        assert!(t.verify_checksum_v4(SRC, DST));
        assert!(!t.verify_checksum_v4(SRC, Ipv4Addr::new(10, 10, 0, 101)));
    }

    #[test]
    fn rejects_bad_headers() {
        let v = syn();
        assert_eq!(
            TcpPacket::new_checked(&v[..19]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&v[..22]).unwrap_err(),
            WireError::Malformed
        );
        let mut bad = v;
        bad[12] = 0x40; // data offset 4
        assert_eq!(
            TcpPacket::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
    }

    #[test]
    fn nat_rewrite_keeps_checksum_valid() {
        let mut v = syn();
        let new_dst = Ipv4Addr::new(10, 10, 1, 2);
        let mut t = TcpPacket::new_checked(&mut v[..]).unwrap();
        t.rewrite_dst_port(8998);
        t.patch_pseudo_addr(DST, new_dst);
        assert!(t.verify_checksum_v4(SRC, new_dst));
        let c = t.checksum();
        t.fill_checksum_v4(SRC, new_dst);
        assert_eq!(t.checksum(), c);
    }

    #[test]
    fn seq_and_ack_rewrites_keep_checksum_valid() {
        let mut v = syn();
        let mut t = TcpPacket::new_checked(&mut v[..]).unwrap();
        t.rewrite_seq(0xfedc_ba98);
        t.rewrite_ack_number(0x0123_4567);
        assert_eq!((t.seq(), t.ack_number()), (0xfedc_ba98, 0x0123_4567));
        assert!(t.verify_checksum_v4(SRC, DST));
    }
}
