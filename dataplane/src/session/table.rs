//! The per-lcore session table: a fixed-capacity slab, a two-keys-per-session hash index, and one
//! expiry FIFO per state.
//!
//! Invariants:
//! - Everything is allocated in [`SessionTable::new`]; insert, lookup, touch and remove never allocate.
//! - The index is open addressing with linear probing over `2^k >= 8/3 * capacity` entries (load <=
//!   3/4 with two keys per session) and backward-shift deletion (no tombstones). An entry packs the
//!   key's 32-bit hash and `slot << 1 | dir`; [`EMPTY`] marks a free entry.
//! - Every live session is linked in exactly one expiry list, the one of its state, and is *due* at
//!   its place in that list at `expires_ms - due_lag_ms`: its expiry when it was linked. Lists are
//!   appended when a session is inserted or changes state, so within a state they are ordered by due
//!   time as long as the timeout of a state does not change (after `--set` lowers a timeout, sessions
//!   refreshed before the change may expire up to the old timeout late: they sit behind the list's
//!   head until it expires).
//! - Lazy refresh: a refresh that keeps the state and does not move the expiry before the due time
//!   (the per-packet case) only stores the new expiry (and the lag); it does not relink, so a packet
//!   touches its own session's cache line and nothing else. The sweep ([`SessionTable::pop_expired`])
//!   removes a head whose expiry has passed, and moves a head that is due but was refreshed since
//!   to its list's tail, due at its current expiry. Moved sessions are due at their expiry, not in
//!   strict order with the sessions appended around them, so a session queued behind a moved one may
//!   be removed late: by less than one timeout of its state in the worst case (it was refreshed long
//!   before the one ahead of it), by nothing when the sessions ahead are idle or are refreshed as
//!   often.
//! - Duplicate keys are not checked on insert: the caller looked the inbound key up first. Should two
//!   sessions share an outbound key (same client address and port scheduled to the same real server
//!   through two VIPs under NAT), lookup finds the older one, as the kernel's `ip_vs_conn_out_get` does.

use super::tcp_state::N_STATES;
use super::{Dir, FlowKey, SessAddr, Session};
use std::net::Ipv4Addr;

/// "No session" in the expiry lists.
pub const NIL: u32 = u32::MAX;
/// A free index entry.
pub const EMPTY: u64 = u64::MAX;
/// Refreshed heads one [`SessionTable::pop_expired`] call moves to the tail at most, per list.
pub const REQUEUE_BUDGET: usize = 64;

/// A live session's handle (its slab slot). Valid until the session is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionId(pub u32);

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// The table is full: the session is handed back.
#[derive(Debug, thiserror::Error)]
#[error("session table full")]
pub struct TableFull<A: SessAddr = Ipv4Addr>(pub Session<A>);

/// One lcore's sessions of one address family.
#[derive(Debug)]
pub struct SessionTable<A: SessAddr = Ipv4Addr> {
    slots: Vec<Option<Session<A>>>,
    free: Vec<u32>,
    index: Vec<u64>,
    mask: usize,
    lists: [List; N_STATES],
    live: usize,
    full_refusals: u64,
}

/// Start loading the cache line of `r` (`rvs_ffi::hint::prefetch`; nothing without DPDK).
#[inline(always)]
fn prefetch<T>(r: &T) {
    #[cfg(feature = "dpdk")]
    rvs_ffi::hint::prefetch(r);
    #[cfg(not(feature = "dpdk"))]
    let _ = r;
}

/// Index entries for a table of `capacity` sessions: two keys each at a load of at most 3/4.
fn index_len(capacity: usize) -> usize {
    (capacity * 8).div_ceil(3).next_power_of_two()
}

impl<A: SessAddr> SessionTable<A> {
    /// A table of at most `capacity` sessions (at least 1; at most 2^30).
    pub fn new(capacity: usize) -> SessionTable<A> {
        let capacity = capacity.clamp(1, 1 << 30);
        let index_len = index_len(capacity);
        SessionTable {
            slots: (0..capacity).map(|_| None).collect(),
            free: (0..capacity as u32).rev().collect(),
            index: vec![EMPTY; index_len],
            mask: index_len - 1,
            lists: [List {
                head: NIL,
                tail: NIL,
            }; N_STATES],
            live: 0,
            full_refusals: 0,
        }
    }

    /// Bytes the table holds per session of capacity (slab slot, free-list entry, index entries).
    pub fn bytes_per_session(&self) -> usize {
        let cap = self.slots.len();
        (cap * (std::mem::size_of::<Option<Session<A>>>() + 4) + self.index.len() * 8).div_ceil(cap)
    }

    /// Maximum number of sessions.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Live sessions.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// How many inserts were refused because the table was full.
    pub fn full_refusals(&self) -> u64 {
        self.full_refusals
    }

    #[inline]
    fn entry_key(&self, e: u64) -> Option<FlowKey<A>> {
        let v = e as u32;
        let slot = (v >> 1) as usize;
        let dir = if v & 1 == 0 { Dir::In } else { Dir::Out };
        self.slots.get(slot)?.as_ref().map(|s| s.key(dir))
    }

    /// Find the session a packet with `key` belongs to, and the direction it travels.
    #[inline]
    pub fn lookup(&self, key: &FlowKey<A>) -> Option<(SessionId, Dir)> {
        let h = key.hash();
        let mut i = h as usize & self.mask;
        loop {
            let e = self.index[i];
            if e == EMPTY {
                return None;
            }
            if (e >> 32) as u32 == h && self.entry_key(e).as_ref() == Some(key) {
                let v = e as u32;
                let dir = if v & 1 == 0 { Dir::In } else { Dir::Out };
                return Some((SessionId(v >> 1), dir));
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Start loading the index line where the probe of a key hashing to `h` ([`FlowKey::hash`])
    /// begins (first stage of a burst-wide lookup: see [`crate::worker`]).
    #[inline]
    pub fn prefetch_index(&self, h: u32) {
        if let Some(e) = self.index.get(h as usize & self.mask) {
            prefetch(e);
        }
    }

    /// Start loading the session that the first entry of `h`'s probe points at, when that entry's
    /// hash is `h` (second stage, once [`SessionTable::prefetch_index`] had time to land).
    #[inline]
    pub fn prefetch_session(&self, h: u32) {
        let Some(&e) = self.index.get(h as usize & self.mask) else {
            return;
        };
        if e != EMPTY && (e >> 32) as u32 == h {
            if let Some(s) = self.slots.get((e as u32 >> 1) as usize) {
                prefetch(s);
            }
        }
    }

    fn index_insert(&mut self, h: u32, slot: u32, dir: Dir) {
        let e = (u64::from(h) << 32) | u64::from((slot << 1) | u32::from(dir == Dir::Out));
        let mut i = h as usize & self.mask;
        while self.index[i] != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.index[i] = e;
    }

    fn index_remove(&mut self, h: u32, slot: u32, dir: Dir) {
        let want = (slot << 1) | u32::from(dir == Dir::Out);
        let mut i = h as usize & self.mask;
        loop {
            let e = self.index[i];
            if e == EMPTY {
                return; // not present (cannot happen for a live session)
            }
            if e as u32 == want {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward-shift deletion.
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.index[j];
            if e == EMPTY {
                break;
            }
            let home = (e >> 32) as usize & self.mask;
            // Move e into the hole at i unless its home lies cyclically in (i, j].
            let in_range = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !in_range {
                self.index[i] = e;
                i = j;
            }
        }
        self.index[i] = EMPTY;
    }

    fn link_tail(&mut self, slot: u32, state: u8) {
        let l = usize::from(state).min(N_STATES - 1);
        let tail = self.lists[l].tail;
        if let Some(Some(s)) = self.slots.get_mut(slot as usize) {
            s.prev = tail;
            s.next = NIL;
            s.due_lag_ms = 0;
        }
        if tail == NIL {
            self.lists[l].head = slot;
        } else if let Some(Some(t)) = self.slots.get_mut(tail as usize) {
            t.next = slot;
        }
        self.lists[l].tail = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let Some(Some(s)) = self.slots.get(slot as usize) else {
            return;
        };
        let (prev, next, l) = (s.prev, s.next, usize::from(s.state).min(N_STATES - 1));
        if prev == NIL {
            self.lists[l].head = next;
        } else if let Some(Some(p)) = self.slots.get_mut(prev as usize) {
            p.next = next;
        }
        if next == NIL {
            self.lists[l].tail = prev;
        } else if let Some(Some(n)) = self.slots.get_mut(next as usize) {
            n.prev = prev;
        }
    }

    /// Insert `s` (its `expires_ms` and `state` already set) under both its keys.
    ///
    /// # Errors
    /// [`TableFull`] (with the session handed back) when the table holds `capacity` sessions.
    pub fn insert(&mut self, s: Session<A>) -> Result<SessionId, TableFull<A>> {
        let Some(slot) = self.free.pop() else {
            self.full_refusals += 1;
            return Err(TableFull(s));
        };
        let (hin, hout) = (s.key(Dir::In).hash(), s.key(Dir::Out).hash());
        let state = s.state;
        self.slots[slot as usize] = Some(s);
        self.index_insert(hin, slot, Dir::In);
        self.index_insert(hout, slot, Dir::Out);
        self.link_tail(slot, state);
        self.live += 1;
        Ok(SessionId(slot))
    }

    /// The session `id`.
    #[inline]
    pub fn get(&self, id: SessionId) -> Option<&Session<A>> {
        self.slots.get(id.0 as usize)?.as_ref()
    }

    /// Refresh session `id`: new state, flags and expiry. In the same state, with an expiry not
    /// before the session's due time (within 2^32 ms of it), only the fields are stored (lazy
    /// refresh, see the module doc); otherwise it moves to the tail of its (new) state's list.
    #[inline]
    pub fn touch(&mut self, id: SessionId, state: u8, flags: u8, expires_ms: u64) {
        let Some(Some(s)) = self.slots.get_mut(id.0 as usize) else {
            return;
        };
        if s.state == state {
            let due = s.expires_ms.saturating_sub(u64::from(s.due_lag_ms));
            if let Some(Ok(lag)) = expires_ms.checked_sub(due).map(u32::try_from) {
                s.flags = flags;
                s.expires_ms = expires_ms;
                s.due_lag_ms = lag;
                return;
            }
        }
        self.unlink(id.0);
        if let Some(Some(s)) = self.slots.get_mut(id.0 as usize) {
            s.state = state;
            s.flags = flags;
            s.expires_ms = expires_ms;
        }
        self.link_tail(id.0, state);
    }

    /// Remove session `id` and hand it back.
    pub fn remove(&mut self, id: SessionId) -> Option<Session<A>> {
        let s = self.get(id)?;
        let (hin, hout) = (s.key(Dir::In).hash(), s.key(Dir::Out).hash());
        self.unlink(id.0);
        self.index_remove(hin, id.0, Dir::In);
        self.index_remove(hout, id.0, Dir::Out);
        let s = self.slots.get_mut(id.0 as usize)?.take()?;
        self.free.push(id.0);
        self.live -= 1;
        Some(s)
    }

    /// Remove and hand back one session whose expiry is `<= now_ms`, if any. Looks only at the head
    /// of each state's list: a head whose expiry has passed is removed; a head that is due but was
    /// refreshed since it was linked moves to the list's tail (at most [`REQUEUE_BUDGET`] per list
    /// and call) and the next head is looked at.
    pub fn pop_expired(&mut self, now_ms: u64) -> Option<Session<A>> {
        for l in 0..N_STATES {
            for _ in 0..REQUEUE_BUDGET {
                let h = self.lists[l].head;
                let Some(Some(s)) = self.slots.get(h as usize) else {
                    break;
                };
                if s.expires_ms <= now_ms {
                    return self.remove(SessionId(h));
                }
                if s.expires_ms.saturating_sub(u64::from(s.due_lag_ms)) > now_ms {
                    break;
                }
                let state = s.state;
                self.unlink(h);
                self.link_tail(h, state);
            }
        }
        None
    }

    /// Every live session, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &Session<A>> {
        self.slots.iter().filter_map(|s| s.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tcp_state;
    use super::*;
    use crate::service::{DestCounters, TrafficCounters};
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    fn dc() -> Arc<DestCounters> {
        Arc::new(DestCounters::new(
            Arc::new(TrafficCounters::default()),
            0,
            0,
        ))
    }

    fn sess(cport: u16, exp: u64) -> Session {
        let mut s = Session::new(
            6,
            (Ipv4Addr::new(10, 10, 0, 2), cport),
            (Ipv4Addr::new(10, 10, 0, 100), 8990),
            (Ipv4Addr::new(10, 10, 1, 2), 8998),
            None,
            dc(),
        );
        s.expires_ms = exp;
        s
    }

    #[test]
    fn insert_lookup_both_directions_remove() {
        let mut t = SessionTable::new(8);
        let s = sess(40000, 1000);
        let kin = s.key(Dir::In);
        let kout = s.key(Dir::Out);
        let id = t.insert(s).unwrap();
        assert_eq!(t.lookup(&kin), Some((id, Dir::In)));
        assert_eq!(t.lookup(&kout), Some((id, Dir::Out)));
        assert_eq!(t.len(), 1);
        let other = FlowKey::v4(
            6,
            Ipv4Addr::new(10, 10, 0, 2),
            40001,
            Ipv4Addr::new(10, 10, 0, 100),
            8990,
        );
        assert_eq!(t.lookup(&other), None);
        let s = t.remove(id).unwrap();
        assert_eq!(s.cport, 40000);
        assert_eq!(t.lookup(&kin), None);
        assert_eq!(t.lookup(&kout), None);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_refuses_and_counts() {
        let mut t = SessionTable::new(2);
        t.insert(sess(1, 0)).unwrap();
        t.insert(sess(2, 0)).unwrap();
        let e = t.insert(sess(3, 0)).unwrap_err();
        assert_eq!(e.0.cport, 3);
        assert_eq!(t.full_refusals(), 1);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn expiry_is_per_state_fifo() {
        let mut t = SessionTable::new(8);
        let a = t.insert(sess(1, 100)).unwrap();
        let b = t.insert(sess(2, 200)).unwrap();
        let _c = t.insert(sess(3, 300)).unwrap();
        // a refreshed into ESTABLISHED far in the future; b stays.
        t.touch(a, tcp_state::ESTABLISHED, 0, 10_000);
        assert_eq!(t.pop_expired(150).map(|s| s.cport), None);
        assert_eq!(t.pop_expired(250).map(|s| s.cport), Some(2));
        assert!(t.get(b).is_none());
        assert_eq!(t.pop_expired(250).map(|s| s.cport), None);
        assert_eq!(t.pop_expired(9_999).map(|s| s.cport), Some(3));
        assert_eq!(t.pop_expired(10_000).map(|s| s.cport), Some(1));
        assert!(t.is_empty());
        assert_eq!(t.pop_expired(u64::MAX).map(|s| s.cport), None);
    }

    /// A refresh in the same state does not relink; the sweep requeues a refreshed head and expires
    /// what is behind it on time, then the refreshed one at its new expiry.
    #[test]
    fn lazy_refresh_requeues_at_the_sweep() {
        let mut t = SessionTable::new(8);
        let a = t.insert(sess(1, 100)).unwrap();
        let b = t.insert(sess(2, 200)).unwrap();
        let state = t.get(a).unwrap().state;
        t.touch(a, state, 0, 300);
        // Not relinked: a is still the head, due at 100, lag 200.
        assert_eq!(t.lists[usize::from(state)].head, a.0);
        assert_eq!(t.get(a).unwrap().due_lag_ms, 200);
        assert_eq!(t.pop_expired(150).map(|s| s.cport), None);
        // The sweep moved a behind b, due at its expiry.
        assert_eq!(t.lists[usize::from(state)].head, b.0);
        assert_eq!(t.get(a).unwrap().due_lag_ms, 0);
        assert_eq!(t.pop_expired(250).map(|s| s.cport), Some(2));
        assert_eq!(t.pop_expired(299).map(|s| s.cport), None);
        assert_eq!(t.pop_expired(300).map(|s| s.cport), Some(1));
        assert!(t.is_empty());
        // A refresh to before the due time relinks (here: expire now).
        let c = t.insert(sess(3, 1_000)).unwrap();
        let _d = t.insert(sess(4, 900)).unwrap();
        t.touch(c, state, 0, 1_000);
        t.touch(c, state, 0, 500);
        assert_eq!(t.get(c).unwrap().due_lag_ms, 0);
        assert_eq!(t.lists[usize::from(state)].tail, c.0);
        assert_eq!(
            t.pop_expired(500).map(|s| s.cport),
            None,
            "behind d, due at 900"
        );
        assert_eq!(t.pop_expired(900).map(|s| s.cport), Some(4));
        assert_eq!(t.pop_expired(900).map(|s| s.cport), Some(3));
    }

    /// One sweep call requeues at most REQUEUE_BUDGET refreshed heads per list.
    #[test]
    fn requeue_is_bounded() {
        let n = REQUEUE_BUDGET + 10;
        let mut t = SessionTable::new(n + 1);
        let ids: Vec<_> = (0..n as u16)
            .map(|p| t.insert(sess(p, 100)).unwrap())
            .collect();
        let last = t.insert(sess(9999, 100)).unwrap();
        let state = t.get(last).unwrap().state;
        for id in &ids {
            t.touch(*id, state, 0, 10_000);
        }
        assert_eq!(t.pop_expired(100).map(|s| s.cport), None);
        let head = t.lists[usize::from(state)].head;
        assert_eq!(head, ids[REQUEUE_BUDGET].0, "64 moved, the rest wait");
        assert_eq!(t.pop_expired(100).map(|s| s.cport), Some(9999));
        assert_eq!(t.len(), n);
    }

    #[test]
    fn index_sized_for_three_quarters_load() {
        assert_eq!(index_len(1), 4);
        assert_eq!(index_len(1000), 4096);
        assert_eq!(index_len(1 << 20), 1 << 22);
        // 10 M sessions: 20 M keys in 32 M entries (load 0.62), not 64 M.
        assert_eq!(index_len(10_000_000), 1 << 25);
        // 3 M: 8 M keys exactly at 3/4 of 2^23.
        assert_eq!(index_len(3 << 20), 1 << 23);
        let t: SessionTable = SessionTable::new(10_000);
        // 64 B slot + 4 B free entry + 32768 * 8 / 10000 index bytes.
        assert_eq!(t.bytes_per_session(), 95);
    }

    #[test]
    fn many_inserts_and_removes_keep_index_consistent() {
        // Exercise probing and backward-shift deletion with a small index.
        let n = 500;
        let mut t = SessionTable::new(n);
        let mut ids = Vec::new();
        for p in 0..n as u16 {
            ids.push(t.insert(sess(p, u64::from(p))).unwrap());
        }
        // Remove every third, then check every key.
        for (p, id) in ids.iter().enumerate() {
            if p % 3 == 0 {
                t.remove(*id).unwrap();
            }
        }
        for p in 0..n as u16 {
            let s = sess(p, 0);
            let hit_in = t.lookup(&s.key(Dir::In));
            let hit_out = t.lookup(&s.key(Dir::Out));
            if p % 3 == 0 {
                assert_eq!(hit_in, None);
                assert_eq!(hit_out, None);
            } else {
                assert_eq!(hit_in, Some((ids[p as usize], Dir::In)));
                assert_eq!(hit_out, Some((ids[p as usize], Dir::Out)));
            }
        }
        // Reuse the freed slots.
        for p in 0..n as u16 {
            if p % 3 == 0 {
                t.insert(sess(p, 0)).unwrap();
            }
        }
        assert_eq!(t.len(), n);
        assert!(t.insert(sess(9999, 0)).is_err());
        let mut count = 0;
        while t.pop_expired(u64::MAX).is_some() {
            count += 1;
        }
        assert_eq!(count, n);
        assert!(t.index.iter().all(|&e| e == EMPTY));
    }
}
