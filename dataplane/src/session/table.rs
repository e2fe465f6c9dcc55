//! The per-lcore session table: a fixed-capacity slab, a two-keys-per-session hash index, and one
//! expiry FIFO per state.
//!
//! Invariants:
//! - Everything is allocated in [`SessionTable::new`]; insert, lookup, touch and remove never allocate.
//! - The index is open addressing with linear probing over `2^k >= 4 * capacity` entries (load <= 1/2
//!   with two keys per session) and backward-shift deletion (no tombstones). An entry packs the key's
//!   32-bit hash and `slot << 1 | dir`; [`EMPTY`] marks a free entry.
//! - Every live session is linked in exactly one expiry list, the one of its state; lists are
//!   appended on every refresh, so they are ordered by expiry as long as the timeout of a state does not
//!   change (after `--set` lowers a timeout, sessions refreshed before the change may expire up to the
//!   old timeout late: they sit behind the list's head until it expires).
//! - Duplicate keys are not checked on insert: the caller looked the inbound key up first. Should two
//!   sessions share an outbound key (same client address and port scheduled to the same real server
//!   through two VIPs under NAT), lookup finds the older one, as the kernel's `ip_vs_conn_out_get` does.

use super::tcp_state::N_STATES;
use super::{Dir, FlowKey, Session};

/// "No session" in the expiry lists.
pub const NIL: u32 = u32::MAX;
/// A free index entry.
pub const EMPTY: u64 = u64::MAX;

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
pub struct TableFull(pub Session);

/// One lcore's sessions.
#[derive(Debug)]
pub struct SessionTable {
    slots: Vec<Option<Session>>,
    free: Vec<u32>,
    index: Vec<u64>,
    mask: usize,
    lists: [List; N_STATES],
    live: usize,
    full_refusals: u64,
}

impl SessionTable {
    /// A table of at most `capacity` sessions (at least 1; at most 2^30).
    pub fn new(capacity: usize) -> SessionTable {
        let capacity = capacity.clamp(1, 1 << 30);
        let index_len = (capacity * 4).next_power_of_two();
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
    fn entry_key(&self, e: u64) -> Option<FlowKey> {
        let v = e as u32;
        let slot = (v >> 1) as usize;
        let dir = if v & 1 == 0 { Dir::In } else { Dir::Out };
        self.slots.get(slot)?.as_ref().map(|s| s.key(dir))
    }

    /// Find the session a packet with `key` belongs to, and the direction it travels.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<(SessionId, Dir)> {
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
    pub fn insert(&mut self, s: Session) -> Result<SessionId, TableFull> {
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
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.slots.get(id.0 as usize)?.as_ref()
    }

    /// Refresh session `id`: new state, flags and expiry; it moves to the tail of its state's list.
    pub fn touch(&mut self, id: SessionId, state: u8, flags: u8, expires_ms: u64) {
        if self.get(id).is_none() {
            return;
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
    pub fn remove(&mut self, id: SessionId) -> Option<Session> {
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

    /// Remove and hand back one session whose expiry is `<= now_ms`, if any (looks only at the head of
    /// each state's list).
    pub fn pop_expired(&mut self, now_ms: u64) -> Option<Session> {
        for l in 0..N_STATES {
            let h = self.lists[l].head;
            if h == NIL {
                continue;
            }
            if let Some(Some(s)) = self.slots.get(h as usize) {
                if s.expires_ms <= now_ms {
                    return self.remove(SessionId(h));
                }
            }
        }
        None
    }

    /// Every live session, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
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
