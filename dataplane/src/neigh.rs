//! The per-lcore IPv4 neighbour (ARP) table.
//!
//! Owns, for one worker, the mapping (port, IPv4 address) -> MAC with a small state machine:
//!
//! - `Incomplete`: an ARP request was sent; up to [`PENDING_MAX`] packets wait in the entry's queue
//!   (more are dropped, counted `NeighUnresolved` by the caller). The request is repeated every
//!   [`RETRY_MS`]; after [`MAX_TRIES`] unanswered requests the entry is removed and its queued packets
//!   are dropped.
//! - `Reachable`: confirmed by an ARP packet less than [`REACHABLE_MS`] ago; used as is.
//! - `Stale`: older than that; still used, but the first use after each [`RETRY_MS`] sends a new
//!   request; after [`MAX_TRIES`] unanswered refreshes, or [`GC_STALE_MS`] without use, it is removed.
//! - `Permanent`: a static entry from the configuration ([`NeighTable::set_permanent`]): used as is, never
//!   aged, refreshed, removed or changed by ARP packets.
//!
//! Sharing between lcores: an ARP reply arrives on whichever worker's rx queue the port picks, not
//! necessarily on the worker that asked. The worker that receives an ARP packet learns from it and
//! sends a [`NeighUpdate`] (port, ip, mac) to every other worker over a dedicated bounded channel
//! (built next to the packet hand-off mesh); receivers apply it with [`NeighTable::learn`] and never
//! forward it again. Updates are tiny and rare, so a full channel just loses one update (the retry
//! timer asks again).
//!
//! Allocation: the table's map is sized at creation for its capacity; an entry's pending queue is
//! allocated when the entry is created (the first packet towards a new neighbour), never per packet.
//! ARP requests to send are collected in a bounded list the worker drains ([`NeighTable::drain_requests`]).

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

use crate::flow_hash::FlowBuildHasher;

/// How long an ARP confirmation keeps an entry reachable.
pub const REACHABLE_MS: u64 = 300_000;
/// Interval between ARP requests for one entry.
pub const RETRY_MS: u64 = 1_000;
/// Requests sent before giving up on an entry.
pub const MAX_TRIES: u8 = 3;
/// Packets queued per unresolved entry.
pub const PENDING_MAX: usize = 8;
/// A stale entry unused for this long is removed.
pub const GC_STALE_MS: u64 = 600_000;
/// Default table capacity (entries).
pub const DEFAULT_CAPACITY: usize = 4096;
const MAX_REQUESTS: usize = 256;

/// State of a neighbour entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighState {
    /// Being resolved; no MAC yet.
    Incomplete,
    /// Recently confirmed.
    Reachable,
    /// Confirmation too old; used while being refreshed.
    Stale,
    /// Static (from the configuration): never aged, never changed by ARP.
    Permanent,
}

/// A learned mapping passed from the worker that saw the ARP packet to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighUpdate {
    /// The port it was learned on.
    pub port: u16,
    /// The neighbour's address.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: [u8; 6],
}

/// The outcome of [`NeighTable::resolve`].
#[derive(Debug)]
pub enum Resolve<B> {
    /// The MAC is known: send the packet to it now.
    Ready([u8; 6], B),
    /// The packet waits in the entry's queue until the neighbour answers.
    Queued,
    /// Queue or table full: the packet is given back to be dropped (count `NeighUnresolved`).
    Dropped(B),
}

#[derive(Debug)]
struct Entry<B> {
    state: NeighState,
    mac: [u8; 6],
    confirmed_ms: u64,
    last_req_ms: u64,
    used_ms: u64,
    tries: u8,
    pending: VecDeque<B>,
}

/// One worker's neighbour table, generic over the packet buffer it queues.
#[derive(Debug)]
pub struct NeighTable<B> {
    map: HashMap<(u16, u32), Entry<B>, FlowBuildHasher>,
    capacity: usize,
    requests: Vec<(u16, Ipv4Addr)>,
}

impl<B> NeighTable<B> {
    /// An empty table holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        NeighTable {
            map: HashMap::with_capacity_and_hasher(capacity, FlowBuildHasher::default()),
            capacity,
            requests: Vec::with_capacity(MAX_REQUESTS),
        }
    }

    fn request(&mut self, port: u16, ip: Ipv4Addr) {
        if self.requests.len() < MAX_REQUESTS {
            self.requests.push((port, ip));
        }
    }

    /// Find the MAC of `ip` on `port` for `pkt`: ready to send, queued behind an ARP request (one is
    /// scheduled when the entry is new or its retry interval has passed), or given back to drop.
    pub fn resolve(&mut self, port: u16, ip: Ipv4Addr, now_ms: u64, pkt: B) -> Resolve<B> {
        let key = (port, u32::from(ip));
        let Some(e) = self.map.get_mut(&key) else {
            if self.map.len() >= self.capacity {
                return Resolve::Dropped(pkt);
            }
            let mut pending = VecDeque::with_capacity(PENDING_MAX);
            pending.push_back(pkt);
            self.map.insert(
                key,
                Entry {
                    state: NeighState::Incomplete,
                    mac: [0; 6],
                    confirmed_ms: 0,
                    last_req_ms: now_ms,
                    used_ms: now_ms,
                    tries: 1,
                    pending,
                },
            );
            self.request(port, ip);
            return Resolve::Queued;
        };
        e.used_ms = now_ms;
        if e.state == NeighState::Reachable && now_ms.saturating_sub(e.confirmed_ms) >= REACHABLE_MS
        {
            e.state = NeighState::Stale;
            e.tries = 0;
            e.last_req_ms = 0;
        }
        match e.state {
            NeighState::Reachable | NeighState::Permanent => Resolve::Ready(e.mac, pkt),
            NeighState::Stale => {
                let mac = e.mac;
                let refresh =
                    e.tries < MAX_TRIES && now_ms.saturating_sub(e.last_req_ms) >= RETRY_MS;
                if refresh {
                    e.tries += 1;
                    e.last_req_ms = now_ms;
                    self.request(port, ip);
                }
                Resolve::Ready(mac, pkt)
            }
            NeighState::Incomplete => {
                if e.pending.len() >= PENDING_MAX {
                    Resolve::Dropped(pkt)
                } else {
                    e.pending.push_back(pkt);
                    Resolve::Queued
                }
            }
        }
    }

    /// Record that `ip` on `port` is at `mac` (from an ARP packet, or a [`NeighUpdate`]): the entry
    /// becomes reachable and its queued packets are appended to `released`, to be sent to `mac` on
    /// `port`. A missing entry is created only when `create` is set and the table has room.
    /// Returns true when an entry was refreshed or created (then the other workers must hear of it:
    /// the reply may answer one of *their* requests, or refresh their stale entry).
    pub fn learn(
        &mut self,
        port: u16,
        ip: Ipv4Addr,
        mac: [u8; 6],
        now_ms: u64,
        create: bool,
        released: &mut Vec<B>,
    ) -> bool {
        let key = (port, u32::from(ip));
        if let Some(e) = self.map.get_mut(&key) {
            if e.state == NeighState::Permanent {
                return false;
            }
            e.state = NeighState::Reachable;
            e.mac = mac;
            e.confirmed_ms = now_ms;
            e.tries = 0;
            released.extend(e.pending.drain(..));
            return true;
        }
        if !create || self.map.len() >= self.capacity {
            return false;
        }
        self.map.insert(
            key,
            Entry {
                state: NeighState::Reachable,
                mac,
                confirmed_ms: now_ms,
                last_req_ms: 0,
                used_ms: now_ms,
                tries: 0,
                pending: VecDeque::new(),
            },
        );
        true
    }

    /// Install a permanent entry: `ip` on `port` is at `mac` from now on, whatever ARP says; packets
    /// queued behind an earlier resolution of it are appended to `released`. Returns false, changing
    /// nothing, when the table is full.
    pub fn set_permanent(
        &mut self,
        port: u16,
        ip: Ipv4Addr,
        mac: [u8; 6],
        released: &mut Vec<B>,
    ) -> bool {
        let key = (port, u32::from(ip));
        if let Some(e) = self.map.get_mut(&key) {
            e.state = NeighState::Permanent;
            e.mac = mac;
            e.tries = 0;
            released.extend(e.pending.drain(..));
            return true;
        }
        if self.map.len() >= self.capacity {
            return false;
        }
        self.map.insert(
            key,
            Entry {
                state: NeighState::Permanent,
                mac,
                confirmed_ms: 0,
                last_req_ms: 0,
                used_ms: 0,
                tries: 0,
                pending: VecDeque::new(),
            },
        );
        true
    }

    /// Run the timers: repeat requests of incomplete entries, age reachable ones, remove entries that
    /// failed or went unused. Returns the number of queued packets dropped with failed entries (count
    /// them `NeighUnresolved`).
    pub fn tick(&mut self, now_ms: u64) -> usize {
        let mut dropped = 0;
        let mut retry: [(u16, Ipv4Addr); 16] = [(0, Ipv4Addr::UNSPECIFIED); 16];
        let mut n_retry = 0;
        self.map.retain(|&(port, ip), e| {
            let since_req = now_ms.saturating_sub(e.last_req_ms);
            match e.state {
                NeighState::Incomplete => {
                    if since_req < RETRY_MS {
                        return true;
                    }
                    if e.tries >= MAX_TRIES {
                        dropped += e.pending.len();
                        return false;
                    }
                    if n_retry < retry.len() {
                        retry[n_retry] = (port, Ipv4Addr::from(ip));
                        n_retry += 1;
                        e.tries += 1;
                        e.last_req_ms = now_ms;
                    }
                    true
                }
                NeighState::Reachable => {
                    if now_ms.saturating_sub(e.confirmed_ms) >= REACHABLE_MS {
                        e.state = NeighState::Stale;
                        e.tries = 0;
                        e.last_req_ms = 0;
                    }
                    true
                }
                NeighState::Permanent => true,
                NeighState::Stale => {
                    let failed = e.tries >= MAX_TRIES && since_req >= RETRY_MS;
                    let unused = now_ms.saturating_sub(e.used_ms) >= GC_STALE_MS;
                    !(failed || unused)
                }
            }
        });
        for &(port, ip) in &retry[..n_retry] {
            self.request(port, ip);
        }
        dropped
    }

    /// Move the ARP requests to send, as (port, target address), into `out`.
    pub fn drain_requests(&mut self, out: &mut Vec<(u16, Ipv4Addr)>) {
        out.append(&mut self.requests);
    }

    /// The usable MAC of `ip` on `port` (reachable or stale).
    pub fn mac(&self, port: u16, ip: Ipv4Addr) -> Option<[u8; 6]> {
        self.map
            .get(&(port, u32::from(ip)))
            .filter(|e| e.state != NeighState::Incomplete)
            .map(|e| e.mac)
    }

    /// The state of the entry for `ip` on `port`, if any (as stored; aging happens on use and in
    /// [`NeighTable::tick`]).
    pub fn state(&self, port: u16, ip: Ipv4Addr) -> Option<NeighState> {
        self.map.get(&(port, u32::from(ip))).map(|e| e.state)
    }

    /// True when an entry (in any state) exists.
    pub fn contains(&self, port: u16, ip: Ipv4Addr) -> bool {
        self.map.contains_key(&(port, u32::from(ip)))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Append every entry as `(port, address, MAC, state)`, sorted by port then address (control
    /// path: the `--show-neigh` listing). An incomplete entry's MAC is all zeros.
    pub fn entries(&self, out: &mut Vec<(u16, Ipv4Addr, [u8; 6], NeighState)>) {
        let start = out.len();
        out.extend(
            self.map
                .iter()
                .map(|((port, ip), e)| (*port, Ipv4Addr::from(*ip), e.mac, e.state)),
        );
        out[start..].sort_unstable_by_key(|e| (e.0, u32::from(e.1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 2);
    const MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];

    fn reqs(t: &mut NeighTable<u32>) -> Vec<(u16, Ipv4Addr)> {
        let mut v = Vec::new();
        t.drain_requests(&mut v);
        v
    }

    #[test]
    fn resolve_queues_then_learn_releases() {
        let mut t = NeighTable::new(16);
        assert!(matches!(t.resolve(1, IP, 0, 1u32), Resolve::Queued));
        assert_eq!(reqs(&mut t), vec![(1, IP)]);
        assert_eq!(t.state(1, IP), Some(NeighState::Incomplete));
        for i in 2..=PENDING_MAX as u32 {
            assert!(matches!(t.resolve(1, IP, 10, i), Resolve::Queued));
        }
        assert!(reqs(&mut t).is_empty(), "one request per retry interval");
        assert!(matches!(t.resolve(1, IP, 10, 99), Resolve::Dropped(99)));
        assert_eq!(t.mac(1, IP), None);
        let mut out = Vec::new();
        assert!(t.learn(1, IP, MAC, 20, false, &mut out));
        assert_eq!(out, (1..=PENDING_MAX as u32).collect::<Vec<_>>());
        assert_eq!(t.state(1, IP), Some(NeighState::Reachable));
        assert!(matches!(t.resolve(1, IP, 30, 7), Resolve::Ready(MAC, 7)));
        assert_eq!(t.mac(0, IP), None, "per port");
    }

    #[test]
    fn retries_then_gives_up() {
        let mut t = NeighTable::new(16);
        assert!(matches!(t.resolve(0, IP, 0, 1u32), Resolve::Queued));
        assert!(matches!(t.resolve(0, IP, 0, 2u32), Resolve::Queued));
        reqs(&mut t);
        assert_eq!(t.tick(999), 0);
        assert!(reqs(&mut t).is_empty());
        assert_eq!(t.tick(1000), 0);
        assert_eq!(reqs(&mut t), vec![(0, IP)]);
        assert_eq!(t.tick(2000), 0);
        assert_eq!(reqs(&mut t), vec![(0, IP)]);
        assert_eq!(t.tick(2999), 0);
        assert_eq!(
            t.tick(3000),
            2,
            "third try unanswered: queued packets dropped"
        );
        assert!(reqs(&mut t).is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn learn_creates_only_when_asked() {
        let mut t: NeighTable<u32> = NeighTable::new(16);
        let mut out = Vec::new();
        assert!(!t.learn(0, IP, MAC, 0, false, &mut out));
        assert!(t.is_empty());
        assert!(t.learn(0, IP, MAC, 0, true, &mut out));
        assert!(
            t.learn(0, IP, MAC, 1, false, &mut out),
            "same MAC: refreshed"
        );
        assert!(
            t.learn(0, IP, [2, 0, 0, 0, 0, 9], 2, false, &mut out),
            "new MAC"
        );
        assert_eq!(t.mac(0, IP), Some([2, 0, 0, 0, 0, 9]));
        assert!(out.is_empty());
    }

    #[test]
    fn stale_refresh_and_expiry() {
        let mut t: NeighTable<u32> = NeighTable::new(16);
        let mut out = Vec::new();
        t.learn(0, IP, MAC, 0, true, &mut out);
        assert!(matches!(
            t.resolve(0, IP, REACHABLE_MS - 1, 1),
            Resolve::Ready(MAC, 1)
        ));
        assert!(reqs(&mut t).is_empty());
        let s = REACHABLE_MS;
        assert!(
            matches!(t.resolve(0, IP, s, 2), Resolve::Ready(MAC, 2)),
            "stale still used"
        );
        assert_eq!(t.state(0, IP), Some(NeighState::Stale));
        assert_eq!(reqs(&mut t), vec![(0, IP)], "stale use triggers a refresh");
        assert!(matches!(
            t.resolve(0, IP, s + 10, 3),
            Resolve::Ready(MAC, 3)
        ));
        assert!(reqs(&mut t).is_empty(), "at most one refresh per interval");
        // The answer comes back: reachable again.
        t.learn(0, IP, MAC, s + 20, false, &mut out);
        assert_eq!(t.state(0, IP), Some(NeighState::Reachable));
        // Stale and never answered: removed after MAX_TRIES refreshes.
        let s2 = s + 20 + REACHABLE_MS;
        for i in 0..u64::from(MAX_TRIES) {
            t.resolve(0, IP, s2 + i * RETRY_MS, 0);
        }
        assert_eq!(reqs(&mut t).len(), usize::from(MAX_TRIES));
        t.tick(s2 + u64::from(MAX_TRIES) * RETRY_MS - 1);
        assert!(t.contains(0, IP));
        t.tick(s2 + u64::from(MAX_TRIES) * RETRY_MS);
        assert!(!t.contains(0, IP));
    }

    #[test]
    fn tick_ages_and_collects_unused() {
        let mut t: NeighTable<u32> = NeighTable::new(16);
        let mut out = Vec::new();
        t.learn(0, IP, MAC, 0, true, &mut out);
        t.tick(REACHABLE_MS);
        assert_eq!(t.state(0, IP), Some(NeighState::Stale));
        t.tick(GC_STALE_MS - 1);
        assert!(t.contains(0, IP));
        t.tick(GC_STALE_MS);
        assert!(!t.contains(0, IP));
    }

    #[test]
    fn permanent_entries_never_age_nor_learn() {
        let mut t: NeighTable<u32> = NeighTable::new(2);
        let mut out = Vec::new();
        // A resolution in progress is completed by the static entry.
        assert!(matches!(t.resolve(0, IP, 0, 5), Resolve::Queued));
        reqs(&mut t);
        assert!(t.set_permanent(0, IP, MAC, &mut out));
        assert_eq!(out, vec![5]);
        assert_eq!(t.state(0, IP), Some(NeighState::Permanent));
        let other = [2, 0, 0, 0, 9, 9];
        assert!(
            !t.learn(0, IP, other, 10, true, &mut out),
            "ARP does not change it"
        );
        assert_eq!(t.mac(0, IP), Some(MAC));
        for now in [REACHABLE_MS, GC_STALE_MS, 10 * GC_STALE_MS] {
            assert_eq!(t.tick(now), 0);
            assert!(matches!(t.resolve(0, IP, now, 1), Resolve::Ready(MAC, 1)));
        }
        assert!(reqs(&mut t).is_empty(), "never refreshed");
        assert_eq!(t.state(0, IP), Some(NeighState::Permanent));
        let mut e = Vec::new();
        t.entries(&mut e);
        assert_eq!(e, vec![(0, IP, MAC, NeighState::Permanent)]);
        // Capacity: one more fits, then the table is full.
        assert!(t.set_permanent(1, IP, other, &mut out));
        assert!(!t.set_permanent(2, IP, other, &mut out));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn capacity_bound() {
        let mut t = NeighTable::new(1);
        assert!(matches!(t.resolve(0, IP, 0, 1u32), Resolve::Queued));
        assert!(matches!(
            t.resolve(0, Ipv4Addr::new(1, 1, 1, 1), 0, 2u32),
            Resolve::Dropped(2)
        ));
        let mut out = Vec::new();
        assert!(!t.learn(0, Ipv4Addr::new(1, 1, 1, 1), MAC, 0, true, &mut out));
        assert_eq!(t.len(), 1);
    }
}
