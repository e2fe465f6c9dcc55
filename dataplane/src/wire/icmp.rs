//! ICMPv4 message view (RFC 792).
//!
//! Owns the 8-byte ICMP header (type, code, checksum, and the 4 "rest of header" bytes that echo
//! messages use as identifier/sequence) and the message body. For error messages (destination
//! unreachable, time exceeded, ...) the body starts with the offending datagram's IP header; it is
//! exposed raw through [`IcmpPacket::embedded`], to be wrapped in an IPv4 view by the caller.
//! Invariant: an [`IcmpPacket`] built by [`IcmpPacket::new_checked`] holds at least [`HEADER_LEN`]
//! bytes, so every accessor is total. The view spans exactly the bytes given (the caller cuts the
//! slice to the IP payload), and the checksum covers all of them.

use super::WireError;
use crate::checksum;

/// ICMP header length (type, code, checksum, rest of header).
pub const HEADER_LEN: usize = 8;

/// ICMP message types the dataplane knows.
pub mod msg_type {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAMETER_PROBLEM: u8 = 12;
}

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_ID: Range<usize> = 4..6;
    pub const ECHO_SEQ: Range<usize> = 6..8;
}

/// A view of an ICMPv4 message.
#[derive(Debug, Clone)]
pub struct IcmpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wrap `buf` (the whole ICMP message), checking that it holds the 8-byte header.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when shorter than [`HEADER_LEN`].
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(IcmpPacket { buf })
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buf.as_ref()[field::TYPE]
    }

    /// Message code.
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[field::CODE]
    }

    /// The checksum field as stored.
    pub fn checksum(&self) -> u16 {
        be16(&self.buf.as_ref()[field::CHECKSUM])
    }

    /// True when the checksum over the whole message is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum16(self.buf.as_ref())) == 0xffff
    }

    /// Echo identifier (meaningful for echo request/reply).
    pub fn echo_id(&self) -> u16 {
        be16(&self.buf.as_ref()[field::ECHO_ID])
    }

    /// Echo sequence number (meaningful for echo request/reply).
    pub fn echo_seq(&self) -> u16 {
        be16(&self.buf.as_ref()[field::ECHO_SEQ])
    }

    /// True for error messages, whose body carries the offending datagram's header.
    pub fn is_error(&self) -> bool {
        matches!(
            self.msg_type(),
            msg_type::DEST_UNREACHABLE
                | msg_type::TIME_EXCEEDED
                | msg_type::PARAMETER_PROBLEM
                | 4
                | 5
        )
    }

    /// The body after the 8-byte header (echo data, or the embedded datagram of an error).
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }

    /// For an error message, the embedded (offending) IP datagram: its header and at least 8 bytes of
    /// its payload, as far as the sender included them. `None` for non-error types.
    pub fn embedded(&self) -> Option<&[u8]> {
        self.is_error().then(|| self.payload())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    /// Set the message type (checksum not updated).
    pub fn set_msg_type(&mut self, t: u8) {
        self.buf.as_mut()[field::TYPE] = t;
    }

    /// Set the message code (checksum not updated).
    pub fn set_code(&mut self, c: u8) {
        self.buf.as_mut()[field::CODE] = c;
    }

    /// Store a checksum value.
    pub fn set_checksum(&mut self, c: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Set the echo identifier (checksum not updated).
    pub fn set_echo_id(&mut self, id: u16) {
        self.buf.as_mut()[field::ECHO_ID].copy_from_slice(&id.to_be_bytes());
    }

    /// Set the echo sequence number (checksum not updated).
    pub fn set_echo_seq(&mut self, seq: u16) {
        self.buf.as_mut()[field::ECHO_SEQ].copy_from_slice(&seq.to_be_bytes());
    }

    /// Compute and store the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buf.as_ref());
        self.set_checksum(c);
    }

    /// The body after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }

    /// Turn an echo request into its echo reply in place: type 0, code 0, checksum updated
    /// incrementally (RFC 1624), identifier, sequence and data kept.
    pub fn make_echo_reply(&mut self) {
        let old = u16::from_be_bytes([self.msg_type(), self.code()]);
        let new = u16::from_be_bytes([msg_type::ECHO_REPLY, 0]);
        let c = checksum::update16(self.checksum(), old, new);
        self.set_msg_type(msg_type::ECHO_REPLY);
        self.set_code(0);
        self.set_checksum(c);
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request id 0x1234 seq 1, data "abcd"; checksum computed by hand:
    // 0x0800 + 0x1234 + 0x0001 + 0x6162 + 0x6364 = 0xdefb -> !0xdefb = 0x2104.
    const ECHO_REQ: [u8; 12] = [
        8, 0, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd',
    ];

    #[test]
    fn parse_echo() {
        let p = IcmpPacket::new_checked(&ECHO_REQ[..]).unwrap();
        assert_eq!(p.msg_type(), msg_type::ECHO_REQUEST);
        assert_eq!(p.code(), 0);
        assert_eq!(p.checksum(), 0x2104);
        assert!(p.verify_checksum());
        assert_eq!((p.echo_id(), p.echo_seq()), (0x1234, 1));
        assert_eq!(p.payload(), b"abcd");
        assert!(!p.is_error());
        assert!(p.embedded().is_none());
    }

    #[test]
    fn bad_checksum_and_truncated() {
        let mut b = ECHO_REQ;
        b[11] ^= 1;
        assert!(!IcmpPacket::new_checked(&b[..]).unwrap().verify_checksum());
        assert_eq!(
            IcmpPacket::new_checked(&ECHO_REQ[..7]).unwrap_err(),
            WireError::Truncated
        );
        assert!(IcmpPacket::new_checked(&ECHO_REQ[..8])
            .unwrap()
            .payload()
            .is_empty());
    }

    #[test]
    fn fill_checksum_matches() {
        let mut b = ECHO_REQ;
        b[2] = 0xaa;
        b[3] = 0xbb;
        let mut p = IcmpPacket::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        assert_eq!(b, ECHO_REQ);
    }

    #[test]
    fn echo_reply_in_place() {
        let mut b = ECHO_REQ;
        let mut p = IcmpPacket::new_checked(&mut b[..]).unwrap();
        p.make_echo_reply();
        assert!(p.verify_checksum());
        // 0x0000 + 0x1234 + 0x0001 + 0x6162 + 0x6364 = 0xd6fb -> !0xd6fb = 0x2904.
        assert_eq!(
            b,
            [0, 0, 0x29, 0x04, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd']
        );
    }

    #[test]
    fn error_embeds_datagram() {
        // Port unreachable carrying a 20-byte IP header + 8 bytes.
        let mut b = [0u8; 36];
        b[0] = msg_type::DEST_UNREACHABLE;
        b[1] = 3;
        b[8] = 0x45;
        let mut p = IcmpPacket::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert!(p.is_error());
        let e = p.embedded().unwrap();
        assert_eq!(e.len(), 28);
        assert_eq!(e[0], 0x45);
    }
}
