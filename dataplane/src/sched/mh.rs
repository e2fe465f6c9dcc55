//! Maglev hashing (kernel `ip_vs_mh.c`, after Eisenbud et al., NSDI 2016, section 3.4).
//!
//! The lookup table has a prime size M from [`PRIMES`] (default 4093, the kernel's default
//! `CONFIG_IP_VS_MH_TAB_INDEX` 12). It is built on the control side when the snapshot is built, from
//! each dest's *last non-zero weight* ([`crate::service::Dest::last_weight`]), so setting a weight to 0
//! does not reshuffle the table: the dest simply becomes unavailable. Exactly as the kernel:
//! - per dest (address, port): `offset = h1 % M`, `skip = h2 % (M - 1) + 1`, where h1/h2 are the
//!   kernel's `hsiphash` of the word `port + address` with the fixed keys [`HASH1`]/[`HASH2`]
//!   ([`crate::flow_hash::hsiphash_u32`]), so every director (and the kernel) builds the same table;
//! - `gcd` of the positive last weights, `rshift = max(0, fls(max_weight / gcd) - bits)` with
//!   `bits = (index + 8) / 2`, and per dest `turns = (last_weight / gcd) >> rshift`, or 1 when that is 0
//!   and the last weight is not;
//! - dests take turns in list order, each filling `turns` slots per round with its next preferred
//!   empty slot (`perm += skip`), until the M slots are full. Dests with 0 turns take none; when every
//!   last weight is 0 the table is empty.
//!
//! Pick: slot `hsiphash(port + folded source address, HASH1) % M`, port = source port with mh-port
//! ([`super::SCHED_FLAG_2`]). An unavailable dest (weight 0 or overloaded) yields no dest unless
//! mh-fallback ([`super::SCHED_FLAG_1`]): then probe `hsiphash(roffset + port + address) % M` with
//! `roffset = (offset + slot) % M` for offset 0..M and take the first available dest. More dests than
//! M is an error the control side refuses ([`crate::rules::Rules`]); a table asked for over more is
//! built empty.

use super::{available, SchedInput, NO_DEST, SCHED_FLAG_1, SCHED_FLAG_2};
use crate::flow_hash::{fold_addr, hsiphash_u32};
use crate::service::Dest;
use std::net::IpAddr;

/// The table sizes the kernel offers.
pub const PRIMES: [u32; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];
/// Index in [`PRIMES`] of the default size (4093).
pub const DEFAULT_INDEX: usize = 4;
/// The default table size.
pub const DEFAULT_SIZE: usize = PRIMES[DEFAULT_INDEX] as usize;
/// Key of the offset hash (and of the lookup hash): the kernel's `hash1`.
pub const HASH1: [u64; 2] = [2_654_435_761, 2_654_435_761];
/// Key of the skip hash: the kernel's `hash2`.
pub const HASH2: [u64; 2] = [2_654_446_892, 2_654_446_892];

/// `ip_vs_mh_hashkey`: hsiphash of `offset + port + folded address`.
#[inline]
fn hashkey(addr_fold: u32, port: u16, key: [u64; 2], offset: u32) -> u32 {
    hsiphash_u32(
        offset.wrapping_add(u32::from(port)).wrapping_add(addr_fold),
        key,
    )
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// mh's precomputed lookup table and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MhTable {
    lookup: Box<[u32]>,
    fallback: bool,
    port: bool,
}

impl MhTable {
    /// Build the default-size table over `dests` with the service flags `sched_flags`.
    pub fn new(dests: &[Dest], sched_flags: u32) -> MhTable {
        MhTable::with_index(dests, sched_flags, DEFAULT_INDEX)
    }

    /// Build a table of size `PRIMES[index]` (index clamped to the table).
    pub fn with_index(dests: &[Dest], sched_flags: u32, index: usize) -> MhTable {
        let index = index.min(PRIMES.len() - 1);
        MhTable {
            lookup: populate(dests, index),
            fallback: sched_flags & SCHED_FLAG_1 != 0,
            port: sched_flags & SCHED_FLAG_2 != 0,
        }
    }

    /// The table size M.
    pub fn size(&self) -> usize {
        self.lookup.len()
    }

    /// The slots (dest indices, [`NO_DEST`] for an empty table).
    pub fn lookup(&self) -> &[u32] {
        &self.lookup
    }

    /// The slot a packet from `src:src_port` hashes to.
    pub fn slot_of(&self, src: IpAddr, src_port: u16) -> usize {
        let port = if self.port { src_port } else { 0 };
        hashkey(fold_addr(src), port, HASH1, 0) as usize % self.lookup.len()
    }

    #[inline]
    fn dest_at(&self, slot: usize, n: usize) -> Option<usize> {
        let i = self.lookup[slot];
        if i == NO_DEST || i as usize >= n {
            None
        } else {
            Some(i as usize)
        }
    }

    /// Pick (`ip_vs_mh_schedule`).
    pub fn pick(&self, dests: &[Dest], input: &SchedInput) -> Option<usize> {
        let m = self.lookup.len();
        let fold = fold_addr(input.src);
        let port = if self.port { input.src_port } else { 0 };
        let ihash = hashkey(fold, port, HASH1, 0) as usize % m;
        let first = self.dest_at(ihash, dests.len())?;
        if available(&dests[first]) {
            return Some(first);
        }
        if !self.fallback {
            return None;
        }
        for offset in 0..m {
            let roffset = ((offset + ihash) % m) as u32;
            let slot = hashkey(fold, port, HASH1, roffset) as usize % m;
            let i = self.dest_at(slot, dests.len())?;
            if available(&dests[i]) {
                return Some(i);
            }
        }
        None
    }
}

/// `ip_vs_mh_permutate` + `ip_vs_mh_populate` for table `PRIMES[index]`.
fn populate(dests: &[Dest], index: usize) -> Box<[u32]> {
    let m = PRIMES[index] as usize;
    let mut lookup = vec![NO_DEST; m].into_boxed_slice();
    let g = dests
        .iter()
        .map(|d| d.last_weight)
        .filter(|&w| w > 0)
        .fold(0, |g, w| if g > 0 { gcd(w, g) } else { w });
    if g < 1 || dests.len() > m {
        return lookup;
    }
    let bits = (index as u32 + 8) / 2;
    let mw = dests.iter().map(|d| d.last_weight).max().unwrap_or(0) / g;
    let fls = 32 - mw.leading_zeros();
    let rshift = fls.saturating_sub(bits);
    struct Setup {
        skip: usize,
        perm: usize,
        turns: u32,
    }
    let mut setup: Vec<Setup> = dests
        .iter()
        .map(|d| {
            let fold = u32::from(d.addr);
            let offset = hashkey(fold, d.port, HASH1, 0) as usize % m;
            let skip = hashkey(fold, d.port, HASH2, 0) as usize % (m - 1) + 1;
            let lw = d.last_weight;
            let t = (lw / g) >> rshift;
            Setup {
                skip,
                perm: offset,
                turns: if t != 0 { t } else { u32::from(lw != 0) },
            }
        })
        .collect();
    let mut taken = vec![false; m];
    let mut n = 0;
    let mut dt_count = 0;
    let mut p = 0;
    while n < m {
        if p == dests.len() {
            p = 0;
        }
        while p < dests.len() {
            let ds = &mut setup[p];
            if ds.turns < 1 {
                p += 1;
                continue;
            }
            let mut c = ds.perm;
            while taken[c] {
                ds.perm += ds.skip;
                if ds.perm >= m {
                    ds.perm -= m;
                }
                c = ds.perm;
            }
            taken[c] = true;
            lookup[c] = p as u32;
            n += 1;
            if n == m {
                return lookup;
            }
            dt_count += 1;
            if dt_count >= ds.turns {
                dt_count = 0;
                p += 1;
            }
        }
    }
    lookup
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;
    use std::net::Ipv4Addr;

    fn counts(t: &MhTable, n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &i in t.lookup() {
            c[i as usize] += 1;
        }
        c
    }

    #[test]
    fn table_is_full_and_shares_follow_weights() {
        let d = dests(&[1, 1, 1, 1]);
        let t = MhTable::new(&d, 0);
        assert_eq!(t.size(), 4093);
        assert!(t.lookup().iter().all(|&i| i < 4));
        // Equal weights: each dest takes one slot per round, so shares differ by at most 1.
        let c = counts(&t, 4);
        assert!(c.iter().all(|&x| x == 1023 || x == 1024), "{c:?}");
        let d = dests(&[3, 1]);
        let c = counts(&MhTable::new(&d, 0), 2);
        assert_eq!(c.iter().sum::<usize>(), 4093);
        assert!((3068..=3071).contains(&c[0]), "{c:?}");
        // No dest, or every last weight 0: empty table, no pick.
        assert!(MhTable::new(&[], 0).lookup().iter().all(|&i| i == NO_DEST));
        let z = dests(&[0, 0]);
        assert!(MhTable::new(&z, 0).lookup().iter().all(|&i| i == NO_DEST));
        assert_eq!(MhTable::new(&z, SCHED_FLAG_1).pick(&z, &input()), None);
    }

    #[test]
    fn large_weights_are_shifted() {
        // gcd 1, max 1000: fls(1000) = 10 > 6 bits: rshift 4, turns 62 and 6 (1000>>4, 100>>4).
        let mut d = dests(&[1000, 101]);
        d[1].last_weight = 101;
        let c = counts(&MhTable::new(&d, 0), 2);
        // 68 slots per round: 62/68 of the table, within a round.
        assert!((3731 - 62..=3731 + 62).contains(&c[0]), "{c:?}");
    }

    #[test]
    fn weight_zero_keeps_the_table_and_fallback_moves_only_its_clients() {
        let d = dests(&[1, 1, 1]);
        let t = MhTable::new(&d, 0);
        let mut d0 = d.clone();
        d0[1].weight = 0; // last_weight stays 1
        let t0 = MhTable::new(&d0, 0);
        assert_eq!(t, t0);
        let tf = MhTable::new(&d0, SCHED_FLAG_1);
        let mut moved = 0;
        for x in 0..2000u32 {
            let src = Ipv4Addr::from(0xc0a8_0000 + x);
            let i = SchedInput::v4(src, 1, Ipv4Addr::new(10, 10, 0, 100), 80, 0);
            let before = t.pick(&d, &i).unwrap();
            if before == 1 {
                assert_eq!(t0.pick(&d0, &i), None);
                assert_ne!(tf.pick(&d0, &i), Some(1));
                assert!(tf.pick(&d0, &i).is_some());
                moved += 1;
            } else {
                assert_eq!(t0.pick(&d0, &i), Some(before));
                assert_eq!(tf.pick(&d0, &i), Some(before));
            }
        }
        assert!(moved > 500, "{moved}");
    }

    #[test]
    fn port_flag_spreads_one_client() {
        let d = dests(&[1, 1, 1, 1]);
        let src = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1));
        let t = MhTable::new(&d, 0);
        let tp = MhTable::new(&d, SCHED_FLAG_2);
        let slots: std::collections::HashSet<usize> =
            (1000..1100).map(|p| t.slot_of(src, p)).collect();
        assert_eq!(slots.len(), 1);
        let slots: std::collections::HashSet<usize> =
            (1000..1100).map(|p| tp.slot_of(src, p)).collect();
        assert!(slots.len() > 90);
        assert_eq!(
            tp.slot_of(src, 7),
            hsiphash_u32(u32::from(Ipv4Addr::new(192, 168, 1, 1)) + 7, HASH1) as usize % 4093
        );
    }

    #[test]
    fn smaller_prime_sizes() {
        let d = dests(&[2, 1]);
        let t = MhTable::with_index(&d, 0, 0);
        assert_eq!(t.size(), 251);
        let c = counts(&t, 2);
        assert!((166..=168).contains(&c[0]), "{c:?}");
        // More dests than slots: refused by the control side, built empty here.
        let many = dests(&vec![1; 252]);
        assert!(MhTable::with_index(&many, 0, 0)
            .lookup()
            .iter()
            .all(|&i| i == NO_DEST));
    }
}
