//! Ethernet II frame view.
//!
//! Owns the 14-byte Ethernet II header: destination MAC, source MAC, EtherType. VLAN tags are not
//! parsed (their EtherType 0x8100 is reported as is, and the pipeline drops it as unsupported).
//! Invariant: a [`EthernetFrame`] built by [`EthernetFrame::new_checked`] holds at least
//! [`HEADER_LEN`] bytes, so no accessor can panic.

use super::WireError;

/// Ethernet header length.
pub const HEADER_LEN: usize = 14;
/// The broadcast MAC address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// EtherType values the dataplane knows.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IEEE 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
}

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wrap `buf` without checking its length (only for buffers we sized ourselves).
    pub fn new_unchecked(buf: T) -> Self {
        EthernetFrame { buf }
    }

    /// Wrap `buf`, checking that it holds a whole Ethernet header.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when shorter than [`HEADER_LEN`].
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buf })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }

    /// Destination MAC.
    pub fn dst(&self) -> [u8; 6] {
        mac(&self.buf.as_ref()[field::DST])
    }

    /// Source MAC.
    pub fn src(&self) -> [u8; 6] {
        mac(&self.buf.as_ref()[field::SRC])
    }

    /// EtherType.
    pub fn ethertype(&self) -> u16 {
        let b = &self.buf.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Set the destination MAC.
    pub fn set_dst(&mut self, mac: [u8; 6]) {
        self.buf.as_mut()[field::DST].copy_from_slice(&mac);
    }

    /// Set the source MAC.
    pub fn set_src(&mut self, mac: [u8; 6]) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&mac);
    }

    /// Set the EtherType.
    pub fn set_ethertype(&mut self, ethertype: u16) {
        self.buf.as_mut()[field::ETHERTYPE].copy_from_slice(&ethertype.to_be_bytes());
    }

    /// The bytes after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
}

/// Write an Ethernet header at the start of `buf`.
///
/// # Errors
/// [`WireError::Truncated`] when `buf` is shorter than [`HEADER_LEN`] (nothing is written).
pub fn emit(buf: &mut [u8], dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Result<(), WireError> {
    let mut f = EthernetFrame::new_checked(buf)?;
    f.set_dst(dst);
    f.set_src(src);
    f.set_ethertype(ethertype);
    Ok(())
}

/// True for a multicast (including broadcast) MAC.
pub fn is_multicast(mac: [u8; 6]) -> bool {
    mac[0] & 1 == 1
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(b);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0x08, 0x06, // ARP
        0xab, 0xcd, // payload
    ];

    #[test]
    fn parse() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst(), BROADCAST);
        assert_eq!(f.src(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(f.ethertype(), ethertype::ARP);
        assert_eq!(f.payload(), &[0xab, 0xcd]);
        assert!(is_multicast(f.dst()));
        assert!(!is_multicast(f.src()));
    }

    #[test]
    fn header_only_and_truncated() {
        assert!(EthernetFrame::new_checked(&FRAME[..14])
            .unwrap()
            .payload()
            .is_empty());
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..13]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            EthernetFrame::new_checked(&[][..]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn emit_round_trip() {
        let mut buf = [0u8; 16];
        buf[14] = 0xab;
        buf[15] = 0xcd;
        emit(&mut buf, BROADCAST, [2, 0, 0, 0, 0, 1], ethertype::ARP).unwrap();
        assert_eq!(buf, FRAME);
        assert_eq!(
            emit(&mut buf[..10], BROADCAST, BROADCAST, 0),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn setters() {
        let mut buf = FRAME;
        let mut f = EthernetFrame::new_checked(&mut buf[..]).unwrap();
        f.set_dst([1, 2, 3, 4, 5, 6]);
        f.set_ethertype(ethertype::IPV4);
        f.payload_mut()[0] = 0;
        assert_eq!(&buf[..6], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(&buf[12..], &[0x08, 0x00, 0x00, 0xcd]);
    }
}
