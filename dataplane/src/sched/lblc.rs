//! Locality-based least connection, without and with replication (kernel `ip_vs_lblc.c`,
//! `ip_vs_lblcr.c`).
//!
//! Both keep a cache keyed on the packet's destination address. The kernel's cache is one per
//! service, shared by every CPU under a lock; ours lives in the worker's [`super::SchedCursor`] (one
//! per service per lcore: no lock, no shared write), so each lcore learns its own mapping.
//!
//! - lblc ([`LblcCache::pick`]): a cached dest is kept unless it has weight 0 or is overloaded *in
//!   the lblc sense* ([`lblc_overloaded`]: `active > weight` while some dest has
//!   `active * 2 < weight`). Like the kernel, the cached path does not look at the threshold
//!   overload flag. Otherwise wlc picks over all dests and the entry is set to the winner.
//! - lblcr ([`LblcrCache::pick`]): the entry holds a set of dests, newest first (the kernel prepends).
//!   The pick is the wlc minimum inside the set (skipping overloaded dests, starting from the first
//!   member with weight > 0). If the set has more than one member and was not modified for 24 h, its
//!   most loaded member is dropped. If no member is usable, or the pick is overloaded in the lblc
//!   sense, wlc over all dests picks and the winner joins the set.
//!
//! Capacity and expiry (the kernel's rules, as far as a fixed-size table allows): the table has 1024
//! sets (the kernel's 1024 buckets, same bucket hash `hash_32(folded address, 10)`) of [`WAYS`]
//! entries. An entry unused for 24 h (`lblc_expiration`) is gone: it is treated as absent when next
//! looked up, as the kernel's periodic full check would have collected it. When a set is full the
//! least recently used entry is replaced, which is an entry idle for 6 minutes or more whenever the
//! set holds one (the kernel collects those only when it holds more than 16 x 1024 entries; we cannot
//! grow). A dest set holds at most [`SET_MAX`] members; a full set drops its most loaded member to let
//! a new one in. Entries are remapped (and members of deleted dests dropped) when the dest list
//! changes.

use super::lc::pick_wlc;
use super::SchedInput;
use crate::flow_hash::{fold_addr, hash_32};
use crate::service::Dest;
use std::net::IpAddr;

/// log2 of the number of sets (the kernel's `IP_VS_LBLC_TAB_BITS`).
pub const TAB_BITS: u32 = 10;
/// Number of sets.
pub const TAB_SIZE: usize = 1 << TAB_BITS;
/// Entries per set.
pub const WAYS: usize = 8;
/// An entry idle this long may be collected (the kernel's `ENTRY_TIMEOUT`, 6 minutes).
pub const ENTRY_TIMEOUT_MS: u64 = 6 * 60 * 1000;
/// An entry unused this long is expired; an lblcr set unmodified this long sheds its most loaded
/// member (the kernel's default `lblc_expiration`/`lblcr_expiration`, 24 hours).
pub const EXPIRATION_MS: u64 = 24 * 60 * 60 * 1000;
/// Most members of an lblcr dest set.
pub const SET_MAX: usize = 8;

const NONE: u32 = u32::MAX;

/// For each index of `old`, its index in `new` (by dest identity), or `u32::MAX` when deleted.
pub fn index_map(old: &[Dest], new: &[Dest]) -> Vec<u32> {
    let by_id: std::collections::HashMap<u64, u32> = new
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id, i as u32))
        .collect();
    old.iter()
        .map(|o| by_id.get(&o.id).copied().unwrap_or(NONE))
        .collect()
}

/// The kernel's lblc/lblcr `is_overloaded(dest, svc)`: `dest` has more active connections than its
/// weight while some dest of the service has fewer than half its weight.
pub fn lblc_overloaded(d: &Dest, dests: &[Dest]) -> bool {
    d.active() > d.weight() && dests.iter().any(|x| x.active() * 2 < x.weight())
}

#[inline]
fn key_of(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot<V> {
    used: bool,
    key: u128,
    lastuse: u64,
    val: V,
}

/// A fixed-capacity set-associative cache from destination address to `V`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AddrCache<V> {
    slots: Box<[Slot<V>]>,
    len: usize,
    evicted: u64,
}

impl<V: Copy + Default> Default for AddrCache<V> {
    fn default() -> Self {
        let empty = Slot {
            used: false,
            key: 0,
            lastuse: 0,
            val: V::default(),
        };
        AddrCache {
            slots: vec![empty; TAB_SIZE * WAYS].into_boxed_slice(),
            len: 0,
            evicted: 0,
        }
    }
}

impl<V: Copy + Default> AddrCache<V> {
    #[inline]
    fn set_range(addr: IpAddr) -> std::ops::Range<usize> {
        let s = hash_32(fold_addr(addr), TAB_BITS) as usize * WAYS;
        s..s + WAYS
    }

    /// The live entry for `addr` (an entry unused for [`EXPIRATION_MS`] is dropped instead).
    #[inline]
    fn get_mut(&mut self, addr: IpAddr, now: u64) -> Option<&mut Slot<V>> {
        let key = key_of(addr);
        let r = Self::set_range(addr);
        let j = r.clone().find(|&j| {
            let s = &self.slots[j];
            s.used && s.key == key
        })?;
        if now >= self.slots[j].lastuse.saturating_add(EXPIRATION_MS) {
            self.slots[j].used = false;
            self.len -= 1;
            return None;
        }
        Some(&mut self.slots[j])
    }

    /// Set `addr`'s entry to `val`, last used `now` (an existing entry is replaced; else a free way,
    /// else the least recently used way of the set).
    #[inline]
    fn put(&mut self, addr: IpAddr, now: u64, val: V) {
        let key = key_of(addr);
        let r = Self::set_range(addr);
        let mut target = None;
        let mut free = None;
        let mut lru: Option<usize> = None;
        for j in r {
            let s = &self.slots[j];
            if s.used && s.key == key {
                target = Some(j);
                break;
            }
            if !s.used {
                free = free.or(Some(j));
            } else if lru.is_none_or(|l| s.lastuse < self.slots[l].lastuse) {
                lru = Some(j);
            }
        }
        let j = match (target, free, lru) {
            (Some(j), _, _) => j,
            (None, Some(j), _) => {
                self.len += 1;
                j
            }
            (None, None, Some(j)) => {
                self.evicted += 1;
                j
            }
            (None, None, None) => return, // WAYS == 0: cannot happen
        };
        self.slots[j] = Slot {
            used: true,
            key,
            lastuse: now,
            val,
        };
    }

    fn retain(&mut self, mut f: impl FnMut(&mut V) -> bool) {
        for s in self.slots.iter_mut().filter(|s| s.used) {
            if !f(&mut s.val) {
                s.used = false;
                self.len -= 1;
            }
        }
    }
}

/// lblc's per-lcore cache: destination address -> dest index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LblcCache {
    cache: AddrCache<u32>,
}

impl LblcCache {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.cache.len
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.cache.len == 0
    }

    /// Entries replaced because their set was full.
    pub fn evicted(&self) -> u64 {
        self.cache.evicted
    }

    /// The cached dest index for `addr` at `now`, if any (does not refresh the entry).
    pub fn cached(&mut self, addr: IpAddr, now: u64) -> Option<usize> {
        self.cache.get_mut(addr, now).map(|s| s.val as usize)
    }

    /// Follow a dest list change (`map` from [`index_map`]): entries of deleted dests are dropped.
    pub fn remap(&mut self, map: &[u32]) {
        self.cache.retain(|v| match map.get(*v as usize) {
            Some(&n) if n != NONE => {
                *v = n;
                true
            }
            _ => false,
        });
    }

    /// Pick (`ip_vs_lblc_schedule`).
    pub fn pick(&mut self, dests: &[Dest], input: &SchedInput) -> Option<usize> {
        let now = input.now_ms;
        if let Some(s) = self.cache.get_mut(input.dst, now) {
            s.lastuse = now;
            let i = s.val as usize;
            if let Some(d) = dests.get(i) {
                if d.weight > 0 && !lblc_overloaded(d, dests) {
                    return Some(i);
                }
            }
        }
        let i = pick_wlc(dests)?;
        self.cache.put(input.dst, now, i as u32);
        Some(i)
    }
}

/// An lblcr dest set: members newest first, and when it last changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestSet {
    lastmod: u64,
    len: u8,
    members: [u32; SET_MAX],
}

impl DestSet {
    /// The members, newest first.
    pub fn members(&self) -> &[u32] {
        &self.members[..usize::from(self.len)]
    }

    /// When the set last gained or lost a member.
    pub fn lastmod(&self) -> u64 {
        self.lastmod
    }

    /// `ip_vs_dest_set_min`: the weighted least-connection member.
    fn min(&self, dests: &[Dest]) -> Option<usize> {
        let m = self.members();
        let first = m.iter().position(|&i| {
            let d = &dests[i as usize];
            !d.is_overloaded() && d.weight > 0
        })?;
        let mut least = m[first] as usize;
        let mut loh = dests[least].overhead();
        for &i in &m[first + 1..] {
            let d = &dests[i as usize];
            if d.is_overloaded() {
                continue;
            }
            let doh = d.overhead();
            if loh * d.weight() > doh * dests[least].weight() {
                least = i as usize;
                loh = doh;
            }
        }
        Some(least)
    }

    /// `ip_vs_dest_set_max`: the weighted most-connection member (weight > 0).
    fn max(&self, dests: &[Dest]) -> Option<usize> {
        let m = self.members();
        let first = m.iter().position(|&i| dests[i as usize].weight > 0)?;
        let mut most = m[first] as usize;
        let mut moh = dests[most].overhead();
        for &i in &m[first + 1..] {
            let d = &dests[i as usize];
            let doh = d.overhead();
            if moh * d.weight() < doh * dests[most].weight() && d.weight > 0 {
                most = i as usize;
                moh = doh;
            }
        }
        Some(most)
    }

    /// `ip_vs_dest_set_erase`.
    fn erase(&mut self, i: usize, now: u64) {
        let n = usize::from(self.len);
        if let Some(p) = self.members[..n].iter().position(|&x| x as usize == i) {
            self.members.copy_within(p + 1..n, p);
            self.len -= 1;
            self.lastmod = now;
        }
    }

    /// `ip_vs_dest_set_insert(set, dest, check = true)`: prepend unless present. A full set first
    /// drops its most loaded member (or its oldest when none has weight > 0).
    fn insert(&mut self, i: usize, now: u64, dests: &[Dest]) {
        if self.members().iter().any(|&x| x as usize == i) {
            return;
        }
        if usize::from(self.len) == SET_MAX {
            let victim = self
                .max(dests)
                .unwrap_or(self.members[SET_MAX - 1] as usize);
            self.erase(victim, now);
        }
        let n = usize::from(self.len);
        self.members.copy_within(0..n, 1);
        self.members[0] = i as u32;
        self.len += 1;
        self.lastmod = now;
    }
}

/// lblcr's per-lcore cache: destination address -> dest set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LblcrCache {
    cache: AddrCache<DestSet>,
}

impl LblcrCache {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.cache.len
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.cache.len == 0
    }

    /// The dest set cached for `addr` at `now`, if any (does not refresh the entry).
    pub fn cached(&mut self, addr: IpAddr, now: u64) -> Option<DestSet> {
        self.cache.get_mut(addr, now).map(|s| s.val)
    }

    /// Follow a dest list change (`map` from [`index_map`]): members of deleted dests are dropped.
    pub fn remap(&mut self, map: &[u32]) {
        self.cache.retain(|set| {
            let n = usize::from(set.len);
            let mut k = 0;
            for j in 0..n {
                if let Some(&m) = map.get(set.members[j] as usize) {
                    if m != NONE {
                        set.members[k] = m;
                        k += 1;
                    }
                }
            }
            set.len = k as u8;
            true
        });
    }

    /// Pick (`ip_vs_lblcr_schedule`).
    pub fn pick(&mut self, dests: &[Dest], input: &SchedInput) -> Option<usize> {
        let now = input.now_ms;
        if let Some(s) = self.cache.get_mut(input.dst, now) {
            s.lastuse = now;
            let set = &mut s.val;
            let dest = set.min(dests);
            if set.len > 1 && now > set.lastmod.saturating_add(EXPIRATION_MS) {
                if let Some(m) = set.max(dests) {
                    set.erase(m, now);
                }
            }
            if let Some(i) = dest {
                if !lblc_overloaded(&dests[i], dests) {
                    return Some(i);
                }
            }
            let i = pick_wlc(dests)?;
            set.insert(i, now, dests);
            return Some(i);
        }
        let i = pick_wlc(dests)?;
        let mut set = DestSet::default();
        set.insert(i, now, dests);
        self.cache.put(input.dst, now, set);
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;
    use std::net::Ipv4Addr;

    fn to(a: [u8; 4], now_ms: u64) -> SchedInput {
        SchedInput::v4(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::from(a), 80, now_ms)
    }

    #[test]
    fn lblc_sticks_until_lblc_overloaded() {
        let d = dests(&[2, 2]);
        let mut c = LblcCache::default();
        let x = to([10, 1, 0, 1], 0);
        assert_eq!(c.pick(&d, &x), Some(0)); // wlc: tie, first
        load(&d[0], 0, 50); // more loaded, but the cache keeps it
        assert_eq!(c.pick(&d, &x), Some(0));
        assert_eq!(c.pick(&d, &to([10, 1, 0, 2], 0)), Some(1)); // another address: wlc
                                                                // Threshold-overloaded: the kernel's cached path does not look at the flag.
        overload(&d[0]);
        assert_eq!(c.pick(&d, &x), Some(0));
        // active 3 > weight 2 and B has 0*2 < 2: lblc-overloaded -> wlc (B, A is flagged anyway).
        load(&d[0], 3, 0);
        assert_eq!(c.pick(&d, &x), Some(1));
        assert_eq!(c.cached(x.dst, 0), Some(1));
        // A weight 0 cached dest is replaced.
        let d = dests(&[1, 1]);
        let mut c = LblcCache::default();
        assert_eq!(c.pick(&d, &x), Some(0));
        let mut d2 = d.clone();
        d2[0].weight = 0;
        assert_eq!(c.pick(&d2, &x), Some(1));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn lblc_overloaded_needs_a_less_loaded_dest() {
        let d = dests(&[1, 2]);
        load(&d[0], 2, 0);
        load(&d[1], 1, 0); // 1*2 < 2? no: nobody under half -> not lblc-overloaded
        assert!(!lblc_overloaded(&d[0], &d));
        load(&d[1], 0, 0);
        assert!(lblc_overloaded(&d[0], &d));
        load(&d[0], 1, 0); // 1 > 1? no
        assert!(!lblc_overloaded(&d[0], &d));
    }

    #[test]
    fn lblc_entries_expire_after_24h_and_follow_dest_changes() {
        let d = dests(&[1, 1, 1]);
        let mut c = LblcCache::default();
        let x = to([10, 1, 0, 1], 1000);
        assert_eq!(c.pick(&d, &x), Some(0));
        load(&d[0], 0, 10); // wlc would now pick B
        assert_eq!(
            c.pick(&d, &to([10, 1, 0, 1], 1000 + EXPIRATION_MS - 1)),
            Some(0)
        );
        // Refreshed at the last pick: still there 24 h - 1 ms later, gone at 24 h.
        let t = 1000 + 2 * EXPIRATION_MS - 1;
        assert_eq!(c.cached(x.dst, t - 1), Some(0));
        assert_eq!(c.cached(x.dst, t), None);
        assert!(c.is_empty());
        // Remap: B deleted, C moves to index 1; an entry on A stays on A.
        assert_eq!(c.pick(&d, &to([10, 1, 0, 7], t)), Some(1));
        assert_eq!(c.pick(&d, &to([10, 1, 0, 8], t)), Some(1));
        let new = vec![d[0].clone(), d[2].clone()];
        c.remap(&index_map(&d, &new));
        assert_eq!(c.cached(to([10, 1, 0, 7], t).dst, t), None);
        let mut c2 = LblcCache::default();
        c2.pick(&d, &to([10, 1, 0, 9], t)); // -> B? A has 10 inactive, B 0 -> B
        load(&d[1], 0, 20);
        assert_eq!(c2.pick(&d, &to([10, 1, 0, 10], t)), Some(2));
        c2.remap(&index_map(&d, &new));
        assert_eq!(c2.cached(to([10, 1, 0, 10], t).dst, t), Some(1));
    }

    #[test]
    fn lblc_capacity_is_fixed_lru_replaces() {
        let d = dests(&[1]);
        let mut c = LblcCache::default();
        // Addresses landing in one set: 9 of them, WAYS = 8.
        let target = hash_32(0x0a00_0000, TAB_BITS);
        let same: Vec<u32> = (0x0a00_0000u32..)
            .filter(|&a| hash_32(a, TAB_BITS) == target)
            .take(WAYS + 1)
            .collect();
        for (k, &a) in same.iter().enumerate() {
            c.pick(&d, &to(a.to_be_bytes(), k as u64));
        }
        assert_eq!(c.len(), WAYS);
        assert_eq!(c.evicted(), 1);
        // The first (least recently used) went.
        assert_eq!(c.cached(IpAddr::V4(Ipv4Addr::from(same[0])), 100), None);
        assert_eq!(
            c.cached(IpAddr::V4(Ipv4Addr::from(same[WAYS])), 100),
            Some(0)
        );
        // Many addresses never grow the table beyond its capacity.
        for a in 0..(TAB_SIZE * WAYS * 2) as u32 {
            c.pick(&d, &to((0x0b00_0000 + a).to_be_bytes(), 200));
        }
        assert!(c.len() <= TAB_SIZE * WAYS);
    }

    #[test]
    fn lblcr_replicates_under_load_and_sheds_after_24h() {
        let d = dests(&[1, 1, 1]);
        let mut c = LblcrCache::default();
        let x = |t| to([10, 2, 0, 1], t);
        assert_eq!(c.pick(&d, &x(0)), Some(0));
        load(&d[0], 2, 0); // A: 2 > 1 and B/C have 0*2 < 1 -> lblc-overloaded: wlc adds B
        assert_eq!(c.pick(&d, &x(10)), Some(1));
        let set = c.cached(x(0).dst, 10).unwrap();
        assert_eq!(set.members(), &[1, 0]); // newest first
        assert_eq!(set.lastmod(), 10);
        // Inside the set the wlc minimum wins: B (0) over A (512).
        assert_eq!(c.pick(&d, &x(20)), Some(1));
        load(&d[1], 0, 600); // B 600 > A 512: A is the set minimum, but lblc-overloaded -> wlc C
        assert_eq!(c.pick(&d, &x(30)), Some(2));
        assert_eq!(c.cached(x(0).dst, 30).unwrap().members(), &[2, 1, 0]);
        // Used (not modified) half a day later: the entry stays fresh.
        assert_eq!(c.pick(&d, &x(30 + EXPIRATION_MS / 2)), Some(2));
        // 24 h after the last modification the most loaded member (B, 600) is shed; pick is C.
        let t = 30 + EXPIRATION_MS + 1;
        assert_eq!(c.pick(&d, &x(t)), Some(2));
        let set = c.cached(x(0).dst, t).unwrap();
        assert_eq!(set.members(), &[2, 0]);
        assert_eq!(set.lastmod(), t);
        // Deleting A drops it from the set.
        let new = vec![d[1].clone(), d[2].clone()];
        c.remap(&index_map(&d, &new));
        assert_eq!(c.cached(x(0).dst, t).unwrap().members(), &[1]);
    }

    #[test]
    fn lblcr_set_is_bounded() {
        let d = dests(&[1; 12]);
        let mut s = DestSet::default();
        for i in 0..12 {
            load(&d[i], 0, i as u32); // later members more loaded
            s.insert(i, i as u64, &d);
        }
        assert_eq!(usize::from(s.len), SET_MAX);
        // Each insert past 8 shed the most loaded member (the newest, i - 1).
        assert_eq!(s.members(), &[11, 6, 5, 4, 3, 2, 1, 0]);
    }
}
