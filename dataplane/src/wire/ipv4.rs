//! IPv4 header view (RFC 791).
//!
//! [`Ipv4Packet::new_checked`] guarantees: the buffer holds at least 20 bytes, the version is 4,
//! IHL >= 5, the header fits in the buffer, and `header_len <= total_len <= buffer length`. After
//! that no accessor can panic. [`Ipv4Packet::payload`] ends at `total_len`, so Ethernet padding behind
//! the packet is never mistaken for payload.

use super::WireError;
use crate::checksum;
use std::net::Ipv4Addr;

mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Minimum (option-less) IPv4 header length.
pub const HEADER_LEN: usize = 20;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of IPIP.
pub const PROTO_IPIP: u8 = 4;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of GRE.
pub const PROTO_GRE: u8 = 47;

/// Don't-fragment flag (in the flags/fragment-offset word).
pub const FLAG_DF: u16 = 0x4000;
/// More-fragments flag.
pub const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 packet (header and payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap `buffer` after checking every length and field the accessors rely on.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when the buffer is shorter than the header or than `total_len`;
    /// [`WireError::Malformed`] when the version is not 4, IHL < 5 or `total_len < header_len`.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(WireError::Malformed);
        }
        let hl = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if hl < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let tl = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if tl < hl {
            return Err(WireError::Malformed);
        }
        if b.len() < tl {
            return Err(WireError::Truncated);
        }
        Ok(Ipv4Packet { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::VER_IHL] & 0x0f) * 4
    }

    /// Type of service / DSCP+ECN byte.
    pub fn tos(&self) -> u8 {
        self.b()[field::TOS]
    }

    /// Total length field (header + payload).
    pub fn total_len(&self) -> usize {
        let b = self.b();
        usize::from(u16::from_be_bytes([
            b[field::LENGTH.start],
            b[field::LENGTH.start + 1],
        ]))
    }

    /// Identification field.
    pub fn ident(&self) -> u16 {
        let b = self.b();
        u16::from_be_bytes([b[field::IDENT.start], b[field::IDENT.start + 1]])
    }

    /// The flags and fragment-offset word.
    pub fn flags_frag(&self) -> u16 {
        let b = self.b();
        u16::from_be_bytes([b[field::FLAGS_FRAG.start], b[field::FLAGS_FRAG.start + 1]])
    }

    /// Don't-fragment set.
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    /// A fragment (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        let f = self.flags_frag();
        f & FLAG_MF != 0 || f & FRAG_OFFSET_MASK != 0
    }

    /// More-fragments flag set.
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field times 8).
    pub fn frag_offset(&self) -> usize {
        usize::from(self.flags_frag() & FRAG_OFFSET_MASK) * 8
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }

    /// Protocol number of the payload.
    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }

    /// Stored header checksum.
    pub fn checksum(&self) -> u16 {
        let b = self.b();
        u16::from_be_bytes([b[field::CHECKSUM.start], b[field::CHECKSUM.start + 1]])
    }

    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    /// The header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum16(&self.b()[..self.header_len()])) == 0xffff
    }

    /// The header bytes (options included).
    pub fn header(&self) -> &[u8] {
        &self.b()[..self.header_len()]
    }

    /// The payload, from the end of the header to `total_len`.
    pub fn payload(&self) -> &[u8] {
        let (h, t) = (self.header_len(), self.total_len());
        &self.b()[h..t]
    }
}

/// The fields of an IPv4 header read once (by the pipeline, after [`Ipv4Packet::new_checked`]) and
/// passed along, so later stages need not parse the header again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Fields {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Header length in bytes (20 without options).
    pub header_len: u8,
    /// Total length in bytes (`header_len <= total_len <=` the buffer's length).
    pub total_len: u16,
    /// A fragment (MF set or a non-zero offset).
    pub fragment: bool,
    /// The first fragment of a fragmented datagram (MF set, offset 0): its transport header is
    /// whole.
    pub first_fragment: bool,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// The header's fields, read in one go.
    #[inline]
    pub fn fields(&self) -> Ipv4Fields {
        Ipv4Fields {
            src: self.src(),
            dst: self.dst(),
            protocol: self.protocol(),
            ttl: self.ttl(),
            header_len: self.header_len() as u8,
            total_len: self.total_len() as u16,
            fragment: self.is_fragment(),
            first_fragment: self.more_frags() && self.frag_offset() == 0,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set the source address (the checksum is not touched).
    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.bm()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Set the destination address (the checksum is not touched).
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.bm()[field::DST].copy_from_slice(&a.octets());
    }

    /// Set the TTL (the checksum is not touched).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.bm()[field::TTL] = ttl;
    }

    /// Store a header checksum.
    pub fn set_checksum(&mut self, c: u16) {
        self.bm()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Compute and store the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::checksum(&self.b()[..hl]);
        self.set_checksum(c);
    }

    /// Decrement the TTL by one, patching the checksum incrementally. Returns the new TTL.
    pub fn decrement_ttl(&mut self) -> u8 {
        let b = self.b();
        let old = u16::from_be_bytes([b[field::TTL], b[field::PROTOCOL]]);
        let ttl = self.ttl().wrapping_sub(1);
        self.set_ttl(ttl);
        let new = u16::from_be_bytes([ttl, self.protocol()]);
        let c = checksum::update16(self.checksum(), old, new);
        self.set_checksum(c);
        ttl
    }

    /// Rewrite the source address and patch the header checksum; returns the old address.
    pub fn rewrite_src(&mut self, a: Ipv4Addr) -> Ipv4Addr {
        let old = self.src();
        let c = checksum::update32(self.checksum(), u32::from(old), u32::from(a));
        self.set_src(a);
        self.set_checksum(c);
        old
    }

    /// Rewrite the destination address and patch the header checksum; returns the old address.
    pub fn rewrite_dst(&mut self, a: Ipv4Addr) -> Ipv4Addr {
        let old = self.dst();
        let c = checksum::update32(self.checksum(), u32::from(old), u32::from(a));
        self.set_dst(a);
        self.set_checksum(c);
        old
    }

    /// Rewrite the identification field and patch the header checksum; returns the old value.
    pub fn rewrite_ident(&mut self, id: u16) -> u16 {
        let old = self.ident();
        let c = checksum::update16(self.checksum(), old, id);
        self.bm()[field::IDENT].copy_from_slice(&id.to_be_bytes());
        self.set_checksum(c);
        old
    }

    /// The payload, writable (up to `total_len`).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, t) = (self.header_len(), self.total_len());
        &mut self.bm()[h..t]
    }
}

/// Fields of an option-less IPv4 header to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol.
    pub protocol: u8,
    /// Payload length in bytes.
    pub payload_len: u16,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub ident: u16,
    /// Set don't-fragment.
    pub dont_frag: bool,
    /// TOS byte.
    pub tos: u8,
}

impl Ipv4Header {
    /// Write this header, checksum included, into `buf[..20]`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when `buf` is shorter than 20 bytes, [`WireError::Malformed`] when the
    /// total length would exceed 65535.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let Some(h) = buf.get_mut(..HEADER_LEN) else {
            return Err(WireError::Truncated);
        };
        let total = u16::try_from(HEADER_LEN + usize::from(self.payload_len))
            .map_err(|_| WireError::Malformed)?;
        h[0] = 0x45;
        h[1] = self.tos;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&self.ident.to_be_bytes());
        h[6..8].copy_from_slice(&(if self.dont_frag { FLAG_DF } else { 0 }).to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[10..12].copy_from_slice(&[0, 0]);
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        let c = checksum::checksum(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKT: [u8; 24] = [
        0x45, 0x00, 0x00, 0x18, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0xde, 0xad, 0xbe, 0xef,
    ];

    fn with_checksum() -> Vec<u8> {
        let mut v = PKT.to_vec();
        let c = checksum::checksum(&v[..20]);
        v[10..12].copy_from_slice(&c.to_be_bytes());
        v
    }

    #[test]
    fn parse_fields() {
        let v = with_checksum();
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 24);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag());
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), PROTO_UDP);
        assert_eq!(p.src(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.dst(), Ipv4Addr::new(10, 0, 0, 2));
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn padding_is_not_payload() {
        let mut v = with_checksum();
        v.extend_from_slice(&[0; 10]);
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.payload().len(), 4);
    }

    #[test]
    fn rejects_bad_headers() {
        let v = with_checksum();
        assert_eq!(
            Ipv4Packet::new_checked(&v[..19]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&v[..23]).unwrap_err(),
            WireError::Truncated
        );
        let mut bad = v.clone();
        bad[0] = 0x44; // IHL 4
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut bad = v.clone();
        bad[0] = 0x65; // version 6
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut bad = v.clone();
        bad[3] = 16; // total length < header length
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut bad = v;
        bad[0] = 0x46; // IHL 6 = 24 bytes, total 24: header fits but payload empty
        let p = Ipv4Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(p.payload().len(), 0);
    }

    #[test]
    fn fragments_detected() {
        let mut v = with_checksum();
        v[6] = 0x20; // MF
        assert!(Ipv4Packet::new_checked(&v[..]).unwrap().is_fragment());
        v[6] = 0x00;
        v[7] = 0x01; // offset 8
        assert!(Ipv4Packet::new_checked(&v[..]).unwrap().is_fragment());
    }

    #[test]
    fn rewrites_keep_checksum_valid() {
        let mut v = with_checksum();
        let mut p = Ipv4Packet::new_checked(&mut v[..]).unwrap();
        assert_eq!(
            p.rewrite_src(Ipv4Addr::new(192, 168, 7, 9)),
            Ipv4Addr::new(10, 0, 0, 1)
        );
        p.rewrite_dst(Ipv4Addr::new(172, 16, 255, 254));
        assert_eq!(p.decrement_ttl(), 63);
        assert!(p.verify_checksum());
        let c = p.checksum();
        p.fill_checksum();
        assert_eq!(p.checksum(), c);
    }

    #[test]
    fn emit_roundtrip() {
        let h = Ipv4Header {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: PROTO_UDP,
            payload_len: 4,
            ttl: 64,
            ident: 0x1234,
            dont_frag: true,
            tos: 0,
        };
        let mut buf = [0u8; 24];
        h.emit(&mut buf).unwrap();
        buf[20..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&buf[..], &with_checksum()[..]);
        assert_eq!(h.emit(&mut [0u8; 19]).unwrap_err(), WireError::Truncated);
    }
}
