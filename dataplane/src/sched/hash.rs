//! Source hashing and destination hashing (kernel `ip_vs_sh.c`, `ip_vs_dh.c`).
//!
//! Both keep a 256-bucket table (8 bits) of dest indices, built on the control side when the snapshot
//! is built (any dest change rebuilds it, as the kernel's `add_dest`/`del_dest`/`upd_dest` do):
//! - sh walks the dests round robin, each dest taking `weight` consecutive buckets (a weight 0 dest
//!   still takes one: the kernel moves on when `++count >= weight`), until the 256 buckets are full.
//!   Bucket of a packet: `hash_32(port + folded source address, 8)`, port = the source port with the
//!   sh-port flag ([`super::SCHED_FLAG_2`]), else 0. An unavailable dest (weight 0 or overloaded)
//!   yields no dest, unless sh-fallback ([`super::SCHED_FLAG_1`]): then, exactly as
//!   `ip_vs_sh_get_fallback`, probe `(roffset + h) % 256` with `roffset = (offset + h) % 256` for
//!   offset 0..255 and take the first available dest.
//! - dh gives each dest one bucket in turn (weights do not shape the table), bucket =
//!   `hash_32(folded destination address, 8)`; no flags. The bucket's dest must be available.
//!
//! Addresses are folded by [`crate::flow_hash::fold_addr`] (IPv6: XOR of the four words).

use super::{available, SchedInput, NO_DEST, SCHED_FLAG_1, SCHED_FLAG_2};
use crate::flow_hash::{fold_addr, hash_32};
use crate::service::Dest;

/// log2 of the table size.
pub const TAB_BITS: u32 = 8;
/// Buckets per table.
pub const TAB_SIZE: usize = 1 << TAB_BITS;

/// sh's bucket for `(folded address, port)` at `offset` (`ip_vs_sh_hashkey`).
#[inline]
fn sh_hashkey(addr_fold: u32, port: u16, offset: u32) -> usize {
    (offset.wrapping_add(hash_32(u32::from(port).wrapping_add(addr_fold), TAB_BITS)) as usize)
        % TAB_SIZE
}

#[inline]
fn dest_at(buckets: &[u32; TAB_SIZE], b: usize, dests: &[Dest]) -> Option<usize> {
    let i = buckets[b];
    if i == NO_DEST {
        None
    } else {
        Some(i as usize).filter(|&i| i < dests.len())
    }
}

/// sh's precomputed table and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShTable {
    buckets: Box<[u32; TAB_SIZE]>,
    fallback: bool,
    port: bool,
}

impl ShTable {
    /// Build the table over `dests` (`ip_vs_sh_reassign`) with the service flags `sched_flags`.
    pub fn new(dests: &[Dest], sched_flags: u32) -> ShTable {
        let mut buckets = Box::new([NO_DEST; TAB_SIZE]);
        if !dests.is_empty() {
            let mut p = 0usize;
            let mut count: i64 = 0;
            for b in buckets.iter_mut() {
                *b = p as u32;
                count += 1;
                if count >= dests[p].weight() {
                    p = (p + 1) % dests.len();
                    count = 0;
                }
            }
        }
        ShTable {
            buckets,
            fallback: sched_flags & SCHED_FLAG_1 != 0,
            port: sched_flags & SCHED_FLAG_2 != 0,
        }
    }

    /// The 256 buckets (dest indices, [`NO_DEST`] when the service has no dest).
    pub fn buckets(&self) -> &[u32; TAB_SIZE] {
        &self.buckets
    }

    /// The bucket a packet from `src:src_port` hashes to (offset 0).
    pub fn bucket_of(&self, input: &SchedInput) -> usize {
        let port = if self.port { input.src_port } else { 0 };
        sh_hashkey(fold_addr(input.src), port, 0)
    }

    /// Pick (`ip_vs_sh_schedule`).
    pub fn pick(&self, dests: &[Dest], input: &SchedInput) -> Option<usize> {
        let fold = fold_addr(input.src);
        let port = if self.port { input.src_port } else { 0 };
        let ihash = sh_hashkey(fold, port, 0);
        let first = dest_at(&self.buckets, ihash, dests)?;
        if available(&dests[first]) {
            return Some(first);
        }
        if !self.fallback {
            return None;
        }
        for offset in 0..TAB_SIZE {
            let roffset = ((offset + ihash) % TAB_SIZE) as u32;
            let i = dest_at(&self.buckets, sh_hashkey(fold, port, roffset), dests)?;
            if available(&dests[i]) {
                return Some(i);
            }
        }
        None
    }
}

/// dh's precomputed table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhTable {
    buckets: Box<[u32; TAB_SIZE]>,
}

impl DhTable {
    /// Build the table over `dests` (`ip_vs_dh_reassign`: one bucket per dest in turn).
    pub fn new(dests: &[Dest]) -> DhTable {
        let mut buckets = Box::new([NO_DEST; TAB_SIZE]);
        if !dests.is_empty() {
            for (b, slot) in buckets.iter_mut().enumerate() {
                *slot = (b % dests.len()) as u32;
            }
        }
        DhTable { buckets }
    }

    /// The 256 buckets.
    pub fn buckets(&self) -> &[u32; TAB_SIZE] {
        &self.buckets
    }

    /// Pick (`ip_vs_dh_schedule`).
    pub fn pick(&self, dests: &[Dest], input: &SchedInput) -> Option<usize> {
        let b = hash_32(fold_addr(input.dst), TAB_BITS) as usize;
        let i = dest_at(&self.buckets, b, dests)?;
        available(&dests[i]).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;
    use std::net::Ipv4Addr;

    fn from(a: [u8; 4], port: u16) -> SchedInput {
        SchedInput::v4(
            Ipv4Addr::from(a),
            port,
            Ipv4Addr::new(10, 10, 0, 100),
            80,
            0,
        )
    }

    fn to(a: [u8; 4]) -> SchedInput {
        SchedInput::v4(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::from(a), 80, 0)
    }

    #[test]
    fn sh_table_follows_weights_round_robin() {
        let d = dests(&[3, 1, 0]);
        let t = ShTable::new(&d, 0);
        // A A A B C | A A A B C ...: 256 = 51 * 5 + 1.
        let want: Vec<u32> = (0..TAB_SIZE).map(|b| [0, 0, 0, 1, 2][b % 5]).collect();
        assert_eq!(&t.buckets()[..], &want[..]);
        assert!(ShTable::new(&[], 0).buckets().iter().all(|&b| b == NO_DEST));
    }

    #[test]
    fn sh_hash_is_the_kernels() {
        // hash_32(0x0a000001, 8) = top byte of 0x0a000001 * 0x61c88647.
        let h = (0x0a00_0001u32.wrapping_mul(0x61c8_8647) >> 24) as usize;
        let t = ShTable::new(&dests(&[1]), 0);
        assert_eq!(t.bucket_of(&from([10, 0, 0, 1], 5555)), h);
        // With sh-port the source port is added before hashing.
        let t = ShTable::new(&dests(&[1]), SCHED_FLAG_2);
        let hp = (0x0a00_0001u32.wrapping_add(5555).wrapping_mul(0x61c8_8647) >> 24) as usize;
        assert_eq!(t.bucket_of(&from([10, 0, 0, 1], 5555)), hp);
    }

    #[test]
    fn sh_is_sticky_and_respects_availability_and_fallback() {
        let d = dests(&[1, 1, 1, 1]);
        let t = ShTable::new(&d, 0);
        let i = from([192, 168, 7, 9], 1);
        let b = t.bucket_of(&i);
        let want = b % 4; // weights 1: bucket b holds dest b % 4
        assert_eq!(t.pick(&d, &i), Some(want));
        assert_eq!(t.pick(&d, &from([192, 168, 7, 9], 2)), Some(want)); // port ignored
                                                                        // Unavailable without fallback: no dest.
        overload(&d[want]);
        assert_eq!(t.pick(&d, &i), None);
        // With fallback: probe (offset + 2h) % 256 from offset 0: buckets 2b, 2b+1, ...
        let t = ShTable::new(&d, SCHED_FLAG_1);
        let mut expect = None;
        for off in 0..TAB_SIZE {
            let j = (off + 2 * b) % TAB_SIZE % 4;
            if j != want {
                expect = Some(j);
                break;
            }
        }
        assert_eq!(t.pick(&d, &i), expect);
        // A weight 0 dest keeps one bucket per round but is unavailable: A B A B ...
        let d = dests(&[1, 0]);
        let t = ShTable::new(&d, 0);
        assert_eq!(&t.buckets()[..4], &[0, 1, 0, 1]);
        let on_b = (0..=255u8)
            .map(|x| from([10, 9, 8, x], 1))
            .find(|i| t.bucket_of(i) % 2 == 1)
            .unwrap();
        assert_eq!(t.pick(&d, &on_b), None);
        let t = ShTable::new(&d, SCHED_FLAG_1);
        assert_eq!(t.pick(&d, &on_b), Some(0));
    }

    #[test]
    fn dh_one_bucket_per_dest_keyed_on_destination() {
        let d = dests(&[5, 1, 1]);
        let t = DhTable::new(&d);
        let want: Vec<u32> = (0..TAB_SIZE as u32).map(|b| b % 3).collect();
        assert_eq!(&t.buckets()[..], &want[..]);
        for a in [[10, 1, 2, 3], [172, 16, 0, 9], [8, 8, 8, 8]] {
            let b = (u32::from_be_bytes(a).wrapping_mul(0x61c8_8647) >> 24) as usize;
            assert_eq!(t.pick(&d, &to(a)), Some(b % 3), "{a:?}");
        }
        let b = (u32::from_be_bytes([10, 1, 2, 3]).wrapping_mul(0x61c8_8647) >> 24) as usize;
        overload(&d[b % 3]);
        assert_eq!(t.pick(&d, &to([10, 1, 2, 3])), None);
    }
}
