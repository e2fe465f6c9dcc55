//! SYN cookies: the initial sequence number of the proxy's SYN-ACK, which lets the proxy recognise
//! the client's ACK without having kept anything of its SYN.
//!
//! The layout is Linux's (`net/ipv4/syncookies.c`, `secure_tcp_syn_cookie`):
//!
//! ```text
//! cookie = H(tuple, 0) + client_isn + (count << 24) + ((H(tuple, count) + mss_index) mod 2^24)
//! ```
//!
//! where `tuple` is (client address, client port, virtual address, virtual port), `H` is SipHash-2-4
//! ([`crate::flow_hash::siphash24`]) keyed with a per-process random secret (rvsd draws it at start from
//! the kernel's random source; the dataplane never sees where it came from), `count` the coarse time
//! counter (`now_ms >> PERIOD_SHIFT`, about 65.5 s per period) and `mss_index` an index into
//! [`MSS_TABLE`]. On the client's ACK (`cookie = ack - 1`, `client_isn = seq - 1`) the check
//! subtracts the first hash and the ISN, reads the counter from the top 8 bits (valid while less than
//! [`MAX_AGE`] periods old: between 65 and 131 s), subtracts the second hash computed with that
//! counter and accepts the remainder only if it is an MSS index. A forger who does not know the secret
//! hits a valid cookie with probability 4 / 2^24 per guess.
//!
//! Nothing here allocates; a cookie costs two SipHash runs over 20 bytes.

use crate::flow_hash::siphash24;
use std::net::Ipv4Addr;

/// The MSS values a cookie can carry (Linux's `msstab`); the SYN's MSS is rounded down to one.
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// The MSS a SYN without an MSS option implies (RFC 9293).
pub const DEFAULT_MSS: u16 = 536;
/// log2 of the counter period in milliseconds (2^16 ms = 65.536 s).
pub const PERIOD_SHIFT: u32 = 16;
/// A cookie is valid while its counter is less than this many periods behind the current one.
pub const MAX_AGE: u32 = 2;

const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;

/// The index of the largest [`MSS_TABLE`] entry not above `mss` (0 when `mss` is below them all).
pub fn mss_index(mss: u16) -> u8 {
    MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0) as u8
}

/// The counter period of `now_ms`.
#[inline]
pub fn period(now_ms: u64) -> u32 {
    (now_ms >> PERIOD_SHIFT) as u32
}

/// The secret cookies are keyed with (one per process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieKey {
    key: [u64; 2],
}

/// The 4-tuple a cookie is bound to: the client's address and port, the service's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieTuple {
    /// Client address.
    pub client: Ipv4Addr,
    /// Client port.
    pub cport: u16,
    /// Virtual address.
    pub vip: Ipv4Addr,
    /// Virtual port.
    pub vport: u16,
}

impl CookieKey {
    /// A key from a 128-bit secret.
    pub fn new(secret: [u64; 2]) -> Self {
        CookieKey { key: secret }
    }

    fn hash(&self, t: &CookieTuple, count: u32, domain: u32) -> u32 {
        let mut b = [0u8; 20];
        b[0..4].copy_from_slice(&t.client.octets());
        b[4..8].copy_from_slice(&t.vip.octets());
        b[8..10].copy_from_slice(&t.cport.to_be_bytes());
        b[10..12].copy_from_slice(&t.vport.to_be_bytes());
        b[12..16].copy_from_slice(&count.to_be_bytes());
        b[16..20].copy_from_slice(&domain.to_be_bytes());
        siphash24(&b, self.key) as u32
    }

    /// The cookie for a SYN of `t` with initial sequence number `isn`, carrying MSS index `mss_idx`
    /// (below [`MSS_TABLE`]'s length), made at `now_ms`.
    pub fn make(&self, t: &CookieTuple, isn: u32, mss_idx: u8, now_ms: u64) -> u32 {
        let count = period(now_ms);
        self.hash(t, 0, 0)
            .wrapping_add(isn)
            .wrapping_add(count << COOKIE_BITS)
            .wrapping_add(self.hash(t, count, 1).wrapping_add(u32::from(mss_idx)) & COOKIE_MASK)
    }

    /// Check `cookie` (the client's ACK number minus one) against `t` and `isn` (the ACK's sequence
    /// number minus one) at `now_ms`: the MSS index it carries, or `None` for a forged or expired
    /// cookie.
    pub fn check(&self, t: &CookieTuple, isn: u32, cookie: u32, now_ms: u64) -> Option<u8> {
        let count = period(now_ms);
        let diff = cookie.wrapping_sub(self.hash(t, 0, 0)).wrapping_sub(isn);
        let age = count.wrapping_sub(diff >> COOKIE_BITS) & (u32::MAX >> COOKIE_BITS);
        if age >= MAX_AGE {
            return None;
        }
        let made = count.wrapping_sub(age);
        let idx = diff.wrapping_sub(self.hash(t, made, 1)) & COOKIE_MASK;
        (idx < MSS_TABLE.len() as u32).then_some(idx as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: CookieTuple = CookieTuple {
        client: Ipv4Addr::new(10, 10, 0, 2),
        cport: 40000,
        vip: Ipv4Addr::new(10, 10, 0, 100),
        vport: 8990,
    };
    const PERIOD_MS: u64 = 1 << PERIOD_SHIFT;

    #[test]
    fn mss_is_rounded_down_to_the_table() {
        assert_eq!(mss_index(0), 0);
        assert_eq!(mss_index(535), 0);
        assert_eq!(mss_index(536), 0);
        assert_eq!(mss_index(1299), 0);
        assert_eq!(mss_index(1300), 1);
        assert_eq!(mss_index(1452), 2);
        assert_eq!(mss_index(1460), 3);
        assert_eq!(mss_index(9000), 3);
    }

    #[test]
    fn cookie_is_valid_for_its_period_and_the_next() {
        let k = CookieKey::new([0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210]);
        let made_at = 10 * PERIOD_MS + 1234;
        for idx in 0..4u8 {
            let c = k.make(&T, 777, idx, made_at);
            assert_eq!(k.check(&T, 777, c, made_at), Some(idx));
            // Still valid at the very end of the next period...
            assert_eq!(k.check(&T, 777, c, 12 * PERIOD_MS - 1), Some(idx));
            // ...and expired from the period after.
            assert_eq!(k.check(&T, 777, c, 12 * PERIOD_MS), None);
            assert_eq!(k.check(&T, 777, c, 300 * PERIOD_MS), None);
            // A cookie "from the future" (clock went backwards) is refused too.
            assert_eq!(k.check(&T, 777, c, 9 * PERIOD_MS), None);
        }
    }

    #[test]
    fn forged_cookies_are_refused() {
        let k = CookieKey::new([1, 2]);
        let now = 5 * PERIOD_MS;
        let c = k.make(&T, 1000, 3, now);
        // Another ISN, another tuple, another key, a flipped bit: refused. (ISN and cookie are added,
        // so an ISN a little off only moves the MSS index, as in Linux: 1001 reads index 2.)
        assert_eq!(k.check(&T, 1001, c, now), Some(2));
        assert_eq!(k.check(&T, 1008, c, now), None);
        assert_eq!(k.check(&T, 2000, c, now), None);
        let other = CookieTuple { cport: 40001, ..T };
        assert_eq!(k.check(&other, 1000, c, now), None);
        let other = CookieTuple {
            client: Ipv4Addr::new(10, 10, 0, 3),
            ..T
        };
        assert_eq!(k.check(&other, 1000, c, now), None);
        assert_eq!(CookieKey::new([1, 3]).check(&T, 1000, c, now), None);
        // The two low bits carry the MSS index itself (as in Linux, they are not authenticated: a
        // client can only lower or raise its own MSS choice); any other bit flipped is refused.
        assert_eq!(k.check(&T, 1000, c ^ 1, now), Some(2));
        for bit in 2..32 {
            assert_eq!(k.check(&T, 1000, c ^ (1 << bit), now), None, "bit {bit}");
        }
        // Blind guesses: about 4 in 2^24 pass; none of 100000 sequential guesses should.
        let valid = (0..100_000u32)
            .filter(|g| {
                k.check(&T, 1000, g.wrapping_mul(2_654_435_761), now)
                    .is_some()
            })
            .count();
        assert_eq!(valid, 0);
    }
}
