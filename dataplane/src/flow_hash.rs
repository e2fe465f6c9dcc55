//! The one flow hash of the dataplane, and the rule that says which worker lcore owns a flow.
//!
//! Everything that hashes packet fields goes through here, so flow steering, the session index and
//! (later) the sh/dh/mh schedulers agree on which fields are hashed and how:
//!
//! - An address is folded to one 32-bit word by [`fold_addr`]: an IPv4 address (or an IPv4-mapped
//!   IPv6 address) is its own big-endian value; any other IPv6 address is the XOR of its four words.
//! - The mix is Bob Jenkins' `jhash` (as in the Linux kernel: `jhash_3words` / `jhash2`), with the fixed
//!   key [`HASH_KEY`], so every lcore and every run computes the same value.
//! - [`hash_addr_port`] hashes `(addr, port, proto)`: the flow-steering hash.
//! - [`hash_tuple`] hashes the whole 5-tuple: the session index hash.
//! - The schedulers use the kernel's own hashes so a table built here equals the kernel's:
//!   [`hash_32`] (sh, dh, lblc/lblcr buckets: `hash_32(port + folded address, bits)`) and
//!   [`hsiphash_u32`] (mh: the kernel's `hsiphash` of one 32-bit word, SipHash-1-3 on 64-bit hosts,
//!   with mh's fixed keys).
//!
//! Owner rule ([`owner_of_hash`], [`owner_of_port`]), as docs/interfaces.md states it:
//! - TCP/UDP to a service VIP:port: `hash_addr_port(src ip, src port, proto) % n`;
//! - TCP/UDP to a FULLNAT local address: the worker whose local port slice holds the destination port
//!   (`port % n`, see [`crate::laddr`]);
//! - any other TCP/UDP (e.g. a NAT reply from a real server, destination = the client):
//!   `hash_addr_port(dst ip, dst port, proto) % n`, which equals the inbound hash of the same flow;
//! - anything else: no owner.
//!
//! Fragments (see [`crate::frag`]) first go to their *fragment owner*,
//! `hash_frag(src, dst, proto, ident) % n`, which learns the flow's owner from the first fragment's
//! ports and passes the datagram's fragments on to it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The fixed hash key ("RVS!").
pub const HASH_KEY: u32 = 0x5256_5321;

const JHASH_INITVAL: u32 = 0xdead_beef;

#[inline]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline]
fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// The kernel's `jhash_3words(a, b, c, initval)`.
#[inline]
pub fn jhash_3words(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    let init = initval.wrapping_add(JHASH_INITVAL).wrapping_add(3 << 2);
    let mut a = a.wrapping_add(init);
    let mut b = b.wrapping_add(init);
    let mut c = c.wrapping_add(init);
    final_mix(&mut a, &mut b, &mut c);
    c
}

/// The kernel's `jhash2(words, initval)` over a slice of 32-bit words.
#[inline]
pub fn jhash2(words: &[u32], initval: u32) -> u32 {
    let init = JHASH_INITVAL
        .wrapping_add((words.len() as u32) << 2)
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = words;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        mix(&mut a, &mut b, &mut c);
        k = &k[3..];
    }
    match k.len() {
        3 => {
            c = c.wrapping_add(k[2]);
            b = b.wrapping_add(k[1]);
            a = a.wrapping_add(k[0]);
            final_mix(&mut a, &mut b, &mut c);
        }
        2 => {
            b = b.wrapping_add(k[1]);
            a = a.wrapping_add(k[0]);
            final_mix(&mut a, &mut b, &mut c);
        }
        1 => {
            a = a.wrapping_add(k[0]);
            final_mix(&mut a, &mut b, &mut c);
        }
        _ => {}
    }
    c
}

/// Fold an IPv6 address (as stored in sessions) to one word: IPv4-mapped addresses give their IPv4
/// value, others the XOR of their four words.
#[inline]
pub fn fold_v6(a: &Ipv6Addr) -> u32 {
    let o = a.octets();
    if o[..10] == [0u8; 10] && o[10] == 0xff && o[11] == 0xff {
        return u32::from_be_bytes([o[12], o[13], o[14], o[15]]);
    }
    let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
    w(0) ^ w(4) ^ w(8) ^ w(12)
}

/// Fold any address to one word (see [`fold_v6`]).
#[inline]
pub fn fold_addr(a: IpAddr) -> u32 {
    match a {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(v6) => fold_v6(&v6),
    }
}

/// The kernel's `GOLDEN_RATIO_32`.
pub const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// The kernel's `hash_32(val, bits)`: the top `bits` bits (1..=32) of `val * GOLDEN_RATIO_32`.
#[inline]
pub fn hash_32(val: u32, bits: u32) -> u32 {
    debug_assert!((1..=32).contains(&bits));
    val.wrapping_mul(GOLDEN_RATIO_32) >> (32 - bits)
}

#[inline]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-c-d of `data` with `key` (the kernel's `PREAMBLE`/`POSTAMBLE`, generic in the round
/// counts so the 2-4 variant can be checked against the reference implementation).
#[inline]
fn siphash_cd(data: &[u8], key: [u64; 2], c: usize, d: usize) -> u64 {
    let mut v = [
        0x736f_6d65_7073_6575 ^ key[0],
        0x646f_7261_6e64_6f6d ^ key[1],
        0x6c79_6765_6e65_7261 ^ key[0],
        0x7465_6462_7974_6573 ^ key[1],
    ];
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(ch);
        let m = u64::from_le_bytes(w);
        v[3] ^= m;
        for _ in 0..c {
            sipround(&mut v);
        }
        v[0] ^= m;
    }
    let mut b = (data.len() as u64) << 56;
    for (i, &byte) in chunks.remainder().iter().enumerate() {
        b |= u64::from(byte) << (8 * i);
    }
    v[3] ^= b;
    for _ in 0..c {
        sipround(&mut v);
    }
    v[0] ^= b;
    v[2] ^= 0xff;
    for _ in 0..d {
        sipround(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The kernel's `hsiphash(&v, sizeof(v), key)` for one 32-bit word on a 64-bit little-endian host
/// (x86-64, arm64): SipHash-1-3 of the word's 4 bytes in memory order, truncated to 32 bits.
#[inline]
pub fn hsiphash_u32(v: u32, key: [u64; 2]) -> u32 {
    siphash_cd(&v.to_le_bytes(), key, 1, 3) as u32
}

/// SipHash-2-4 of `data` with the secret `key` (the SYN proxy's cookies, [`crate::synproxy::cookie`]).
#[inline]
pub fn siphash24(data: &[u8], key: [u64; 2]) -> u64 {
    siphash_cd(data, key, 2, 4)
}

/// The flow-steering hash of `(addr, port, proto)`.
#[inline]
pub fn hash_addr_port(addr: Ipv4Addr, port: u16, proto: u8) -> u32 {
    jhash_3words(u32::from(addr), u32::from(port), u32::from(proto), HASH_KEY)
}

/// The fragment-steering hash of an IPv4 datagram's reassembly key `(src, dst, proto, ident)`: every
/// fragment of a datagram has it, whether or not it carries the ports (see [`crate::frag`]).
#[inline]
pub fn hash_frag(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ident: u16) -> u32 {
    jhash_3words(
        u32::from(src),
        u32::from(dst),
        (u32::from(proto) << 16) | u32::from(ident),
        HASH_KEY,
    )
}

/// The session-index hash of a 5-tuple (addresses already folded with [`fold_v6`]/[`fold_addr`]).
#[inline]
pub fn hash_tuple(proto: u8, src: u32, sport: u16, dst: u32, dport: u16) -> u32 {
    jhash2(
        &[
            src,
            dst,
            (u32::from(sport) << 16) | u32::from(dport),
            u32::from(proto),
        ],
        HASH_KEY,
    )
}

/// The worker owning a flow whose steering hash is `hash`, among `n_workers` (0 when `n_workers` is 0).
#[inline]
pub fn owner_of_hash(hash: u32, n_workers: usize) -> usize {
    if n_workers == 0 {
        0
    } else {
        hash as usize % n_workers
    }
}

/// The worker owning FULLNAT local port `port`, among `n_workers` (0 when `n_workers` is 0).
#[inline]
pub fn owner_of_port(port: u16, n_workers: usize) -> usize {
    if n_workers == 0 {
        0
    } else {
        usize::from(port) % n_workers
    }
}

/// A fast, fixed-key hasher for the dataplane's small lookup maps (service by key, local addresses).
/// Keys come from configuration, never from packets alone, so a keyed DoS-resistant hash is not needed.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlowHasher {
    state: u64,
}

impl std::hash::Hasher for FlowHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche (splitmix64) so low bits are well mixed for the table index.
        let mut z = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.state = (self.state.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// `BuildHasher` for [`FlowHasher`].
pub type FlowBuildHasher = std::hash::BuildHasherDefault<FlowHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jhash_matches_kernel_vectors() {
        // Values from the Linux kernel's include/linux/jhash.h compiled as C.
        assert_eq!(
            hash_addr_port(Ipv4Addr::new(10, 10, 0, 2), 40000, 6),
            1_404_285_743
        );
        assert_eq!(
            hash_tuple(6, 0x0a0a_0002, 40000, 0x0a0a_0064, 8990),
            2_411_580_337
        );
        assert_eq!(jhash2(&[1, 2, 3, 4, 5], 7), 1_515_141_918);
        assert_ne!(
            hash_addr_port(Ipv4Addr::new(10, 10, 0, 2), 40000, 6),
            hash_addr_port(Ipv4Addr::new(10, 10, 0, 2), 40001, 6)
        );
    }

    #[test]
    #[allow(deprecated)]
    fn siphash_matches_reference_and_hash32_matches_kernel() {
        use std::hash::Hasher;
        // SipHash-2-4 through the same code equals the standard library's reference implementation
        // (so the 1-3 variant used by hsiphash differs only in its round counts).
        for (k0, k1, data) in [
            (0u64, 0u64, &b""[..]),
            (2_654_435_761, 2_654_435_761, &[1, 2, 3, 4][..]),
            (
                0x0706_0504_0302_0100,
                0x0f0e_0d0c_0b0a_0908,
                &b"0123456789abcdefXYZ"[..],
            ),
        ] {
            let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
            h.write(data);
            assert_eq!(siphash_cd(data, [k0, k1], 2, 4), h.finish());
        }
        // Official SipHash-2-4 test vector (key 00..0f, empty input).
        assert_eq!(
            siphash_cd(&[], [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908], 2, 4),
            0x726f_db47_dd0e_0e31
        );
        assert_ne!(
            hsiphash_u32(1, [2_654_435_761, 2_654_435_761]),
            hsiphash_u32(1, [2_654_446_892, 2_654_446_892])
        );
        // hash_32: top bits of the golden-ratio product.
        assert_eq!(hash_32(0, 8), 0);
        assert_eq!(hash_32(1, 8), 0x61);
        assert_eq!(hash_32(1, 32), GOLDEN_RATIO_32);
        assert_eq!(
            hash_32(0x0a0a_0002, 10),
            (0x0a0a_0002u32.wrapping_mul(0x61C8_8647)) >> 22
        );
    }

    #[test]
    fn fold_v4_mapped_is_v4_value() {
        let v4 = Ipv4Addr::new(10, 1, 2, 3);
        assert_eq!(fold_v6(&v4.to_ipv6_mapped()), u32::from(v4));
        assert_eq!(fold_addr(IpAddr::V4(v4)), u32::from(v4));
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(fold_v6(&v6), 0x2001_0db8 ^ 1);
    }

    #[test]
    fn owners_spread_over_workers() {
        let mut counts = [0usize; 4];
        for p in 0..4000u16 {
            let h = hash_addr_port(Ipv4Addr::new(10, 10, 0, 2), 30000 + p, 6);
            counts[owner_of_hash(h, 4)] += 1;
        }
        for c in counts {
            assert!(c > 800, "{counts:?}");
        }
        assert_eq!(owner_of_port(1025, 2), 1);
        assert_eq!(owner_of_port(1024, 2), 0);
        assert_eq!(owner_of_hash(12345, 0), 0);
    }
}
