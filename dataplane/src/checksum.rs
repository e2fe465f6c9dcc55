//! Internet checksums (RFC 1071) and their incremental updates (RFC 1624).
//!
//! Every checksum the dataplane writes goes through this module. Headers we originate (ARP and ICMP
//! replies, tunnel outer headers) are summed whole with [`checksum`]; rewrites of forwarded packets
//! (NAT, FULLNAT, TTL) patch the stored checksum with [`update16`]/[`update32`] so a rewrite costs a few
//! instructions instead of a pass over the payload.
//!
//! Conventions: sums are accumulated in `u32` of big-endian 16-bit words and folded with [`fold`];
//! stored checksums are the one's complement of the folded sum, as they appear on the wire (host `u16`
//! holding the big-endian field value).

use std::net::Ipv4Addr;

/// Sum of `data` as big-endian 16-bit words (an odd trailing byte is padded with zero), not folded.
/// Summing up to 128 KiB cannot overflow the `u32`.
pub fn sum16(data: &[u8]) -> u32 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([*last, 0])));
    }
    sum
}

/// Fold a 32-bit one's-complement sum into 16 bits (end-around carry).
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum to store for `data`: the one's complement of its folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum16(data))
}

/// The (unfolded) sum of the IPv4 pseudo-header used by TCP and UDP checksums.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(proto)
        + u32::from(len)
}

/// The checksum to store for a TCP or UDP segment `l4` (checksum field included, any value: pass the
/// segment with its checksum field zeroed) carried between `src` and `dst`.
pub fn l4_checksum_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> u16 {
    let len = l4.len() as u16;
    !fold(pseudo_header_v4(src, dst, proto, len) + sum16(l4))
}

/// RFC 1624 eqn. 3: the new stored checksum after a 16-bit field changed from `old` to `new`.
/// `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!csum) + u32::from(!old) + u32::from(new);
    !fold(sum)
}

/// RFC 1624 for a 32-bit field (an IPv4 address) changing from `old` to `new`.
#[inline]
pub fn update32(csum: u16, old: u32, new: u32) -> u16 {
    let sum = u32::from(!csum)
        + u32::from(!(old >> 16) as u16)
        + u32::from(!(old as u16))
        + (new >> 16)
        + (new & 0xffff);
    !fold(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 1071 section 3 example: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum16(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum16(&[0x12]), 0x1200);
        assert_eq!(sum16(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    // A real IPv4 header (from a capture): checksum 0xb861.
    #[test]
    fn ipv4_header_checksum() {
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    proptest! {
        #[test]
        fn update16_matches_full_recompute(mut data in proptest::collection::vec(any::<u8>(), 4..64),
                                          idx in 0usize..30, new in any::<u16>()) {
            let words = data.len() / 2;
            let i = (idx % (words - 1)) + 1; // word 0 holds the checksum
            data[0] = 0; data[1] = 0;
            let c = checksum(&data);
            data[0..2].copy_from_slice(&c.to_be_bytes());
            let old = u16::from_be_bytes([data[2 * i], data[2 * i + 1]]);
            data[2 * i..2 * i + 2].copy_from_slice(&new.to_be_bytes());
            let inc = update16(c, old, new);
            data[0] = 0; data[1] = 0;
            let full = checksum(&data);
            // 0x0000 and 0xffff are the same one's-complement value; compare as sums.
            prop_assert_eq!(fold(u32::from(inc)) % 0xffff, fold(u32::from(full)) % 0xffff);
        }

        #[test]
        fn update32_matches_full_recompute(mut data in proptest::collection::vec(any::<u8>(), 8..64),
                                          new in any::<u32>()) {
            data[0] = 0; data[1] = 0;
            let c = checksum(&data);
            let old = u32::from_be_bytes([data[2], data[3], data[4], data[5]]);
            data[2..6].copy_from_slice(&new.to_be_bytes());
            let inc = update32(c, old, new);
            let full = checksum(&data);
            prop_assert_eq!(fold(u32::from(inc)) % 0xffff, fold(u32::from(full)) % 0xffff);
        }
    }
}
