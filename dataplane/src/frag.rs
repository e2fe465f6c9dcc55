//! IPv4 fragments of load-balanced TCP/UDP datagrams: a per-lcore, preallocated, bounded tracker.
//!
//! rvs does not reassemble. It forwards every fragment of a datagram to the real server of the
//! datagram's session, translated exactly like the session's other packets, and lets the receiving
//! host reassemble (DPVS drops fragments; the kernel's IPVS reassembles first). Policy:
//!
//! - The **first fragment** (offset 0) carries the TCP/UDP header: it goes through the normal session
//!   path ([`crate::lb::LbCtx::process`]: lookup or creation, NAT/FULLNAT rewrite with the L4
//!   checksum updated incrementally — RFC 1624 needs nothing but the changed words; DR; tunnel). The
//!   outcome is recorded for the datagram as an [`Xlate`]: the new source and destination addresses,
//!   the new IP identification, and how the session's packets leave (next hop or tunnel).
//! - **Later fragments** carry no ports. They look the datagram up here by its reassembly key
//!   [`FragKey`] `(src, dst, proto, ident)` and get the same IP-level rewrite (addresses,
//!   identification, header checksum; the pipeline decrements the TTL), with no L4 work.
//! - Later fragments that arrive **before the first** are held (bounded per datagram and per lcore)
//!   and sent, in arrival order, right after the first; when the first does not come within
//!   [`FragLimits::timeout_ms`] they are dropped (`frag_timeout`).
//! - **New IP identification**: whenever the translation changes an address (NAT and FULLNAT, both
//!   directions), the datagram gets a fresh identification from a per-lcore counter (lcore `i` of `n`
//!   hands out `i, i + n, i + 2n...`), applied to all its fragments: two clients using the same id
//!   towards one real server through one FULLNAT local address (or two real servers answering one
//!   client through the VIP) never collide in the receiver's reassembly. DR and tunnel keep the
//!   client's datagram as it is.
//! - Session state and counters follow the first fragment: a fragmented datagram is one packet of
//!   its first fragment's bytes in the dest's traffic counters (IPVS, which reassembles first, counts
//!   one packet too) and later fragments do not refresh the session's expiry.
//! - A datagram whose first fragment is refused (no service, no session, ACL, full table...) has all
//!   its fragments dropped under the same reason. A fragmented TCP segment never opens a session (its
//!   checksum cannot be verified before reassembly): it only replays an existing one.
//! - Hostile input is handled as hosts do (the kernel's `ip_fragment.c`) and counted: an exact
//!   duplicate is dropped alone (`frag_duplicate`); an overlap drops the whole datagram
//!   (`frag_overlap`, RFC 5722's rule, as Linux does for IPv4 since 4.19); RFC 1858: a first fragment
//!   shorter than the whole TCP/UDP header (`frag_tiny`) or a TCP fragment at offset 8 bytes
//!   (`frag_offset_one`) drops the datagram; more than [`FragLimits::frags_per_datagram`] fragments
//!   (`frag_too_many`), an empty fragment, a non-last one whose length is not a multiple of 8, one
//!   ending beyond 65,535 bytes or disagreeing about the end (`frag_malformed`) drop it too; no free
//!   entry (`frag_table_full`), hold limits (`frag_hold_full`).
//! - Fragments to our own addresses (ICMP echo...) and of protocols other than TCP/UDP stay dropped
//!   (`ipv4_fragment`); fragments that can belong to no session (destination not a VIP or local
//!   address, source not a real server) are `not_for_us`, like any packet to nothing we serve.
//!
//! Flow ownership with several workers: later fragments have no ports, so they cannot be hashed to
//! their flow's owner. Every fragment first goes to its **fragment owner**, the lcore
//! `hash_frag(src, dst, proto, ident) % n` ([`crate::flow_hash::hash_frag`]). The fragment owner learns
//! the flow's owner from the first fragment's ports ([`crate::lb::LbCtx::owner`]): when it is itself,
//! it translates; otherwise it passes the first fragment, then the held ones in order, then every
//! later one, to the flow owner through the hand-off mesh ([`FragState::Forward`]). The flow owner
//! tracks the datagram too (it receives its fragments in order from one ring) and translates. A
//! fragment handed to an lcore that is not its fragment owner came from the fragment owner: it is
//! never passed on again, so a fragment crosses at most two rings and never bounces.
//!
//! The tracker here is only the data structure: entries, byte ranges, held buffers, timeouts; the
//! pipeline (`pipeline/fragments.rs`) applies the policy above. Memory: everything is allocated by
//! [`FragTable::new`] (entries with their range arrays, a chained hash index seeded at random, the
//! held-buffer pool, the output lists); nothing is allocated per packet. Entries live at most
//! `timeout_ms` from their first fragment (never refreshed: a slow drip cannot pin one) and are
//! freed as soon as every byte of the datagram has passed.

use crate::flow_hash;
use crate::lb::LbVerdict;
use crate::stats::DropReason;
use crate::wire::ipv4::{Ipv4Packet, PROTO_TCP};
use rvs_control::proto::Counter;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;

/// Most fragments one datagram may have (a 65,535-byte datagram on a 1,500-byte MTU has 45).
pub const MAX_FRAGS: usize = 64;
/// No entry / no slot.
const NIL: u32 = u32::MAX;

/// Bounds of one lcore's tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragLimits {
    /// Datagrams tracked at once.
    pub datagrams: usize,
    /// Fragments per datagram (at most [`MAX_FRAGS`]).
    pub frags_per_datagram: usize,
    /// Fragments one datagram may have waiting for its first fragment.
    pub held_per_datagram: usize,
    /// Fragments waiting on this lcore, all datagrams together.
    pub held: usize,
    /// Lifetime of an entry from its first fragment seen, in ms.
    pub timeout_ms: u64,
}

impl Default for FragLimits {
    /// 1,024 datagrams, 64 fragments each, 64 held per datagram (a whole datagram sent last fragment
    /// first), 256 held per lcore, 2 s.
    fn default() -> Self {
        FragLimits {
            datagrams: 1024,
            frags_per_datagram: MAX_FRAGS,
            held_per_datagram: MAX_FRAGS,
            held: 256,
            timeout_ms: 2000,
        }
    }
}

/// The reassembly key of an IPv4 datagram (RFC 791): every fragment carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub proto: u8,
    /// Identification.
    pub ident: u16,
}

impl FragKey {
    /// The lcore, among `n`, that first receives every fragment of this datagram.
    pub fn owner(&self, n: usize) -> usize {
        let h = flow_hash::hash_frag(self.src, self.dst, self.proto, self.ident);
        flow_hash::owner_of_hash(h, n)
    }
}

/// One fragment's place in its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragInfo {
    /// Its datagram.
    pub key: FragKey,
    /// Offset of its payload in the datagram's payload, in bytes.
    pub offset: usize,
    /// Its payload length in bytes.
    pub len: usize,
    /// More fragments follow (MF).
    pub more: bool,
    /// IPv4 header length (for the 65,535-byte bound).
    pub header_len: usize,
}

impl FragInfo {
    /// The fragment information of the IPv4 packet `ip`; `None` when it is malformed or not a
    /// fragment.
    pub fn of(ip: &[u8]) -> Option<FragInfo> {
        let p = Ipv4Packet::new_checked(ip).ok()?;
        if !p.is_fragment() {
            return None;
        }
        Some(FragInfo {
            key: FragKey {
                src: p.src(),
                dst: p.dst(),
                proto: p.protocol(),
                ident: p.ident(),
            },
            offset: p.frag_offset(),
            len: p.total_len() - p.header_len(),
            more: p.more_frags(),
            header_len: p.header_len(),
        })
    }
}

/// How the fragments of a datagram are translated on the lcore owning its flow: what the first
/// fragment's session did to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xlate {
    /// New source address (None: unchanged).
    pub src: Option<Ipv4Addr>,
    /// New destination address (None: unchanged).
    pub dst: Option<Ipv4Addr>,
    /// New identification (None: unchanged).
    pub ident: Option<u16>,
    /// How the session's packets leave: [`LbVerdict::Forward`] or [`LbVerdict::Encap`].
    pub verdict: LbVerdict,
}

impl Xlate {
    /// Rewrite the IPv4 header of fragment `ip` in place (checksum patched incrementally).
    ///
    /// # Errors
    /// `Ipv4Malformed` when `ip` is not an IPv4 packet (nothing is written).
    pub fn apply(&self, ip: &mut [u8]) -> Result<(), DropReason> {
        let mut p = Ipv4Packet::new_checked(ip).map_err(|_| DropReason::Ipv4Malformed)?;
        if let Some(a) = self.src {
            p.rewrite_src(a);
        }
        if let Some(a) = self.dst {
            p.rewrite_dst(a);
        }
        if let Some(i) = self.ident {
            p.rewrite_ident(i);
        }
        Ok(())
    }
}

/// What this lcore does with a datagram's fragments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragState {
    /// No first fragment yet: later fragments wait.
    Pending,
    /// (Fragment owner) the flow belongs to worker `.0`: pass every fragment to it, unchanged.
    Forward(usize),
    /// (Flow owner) translate every fragment so.
    Translate(Xlate),
    /// Dropped: every fragment of the datagram is dropped under this reason until the entry expires.
    Refused(DropReason),
}

/// An entry's handle, valid until the entry is freed (complete, expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryId(u32);

#[derive(Debug)]
struct Entry {
    key: FragKey,
    state: FragState,
    expires_ms: u64,
    /// Payload length of the datagram, once its last fragment was seen.
    end: Option<u32>,
    /// Payload bytes seen (no overlaps: they are refused).
    seen: u32,
    nranges: u16,
    ranges: [(u32, u32); MAX_FRAGS],
    held_head: u32,
    held_tail: u32,
    nheld: u32,
    /// Next entry in the same hash bucket.
    chain: u32,
    /// Age list (in use) or free list (`next` only).
    prev: u32,
    next: u32,
    used: bool,
}

impl Entry {
    fn empty() -> Self {
        Entry {
            key: FragKey {
                src: Ipv4Addr::UNSPECIFIED,
                dst: Ipv4Addr::UNSPECIFIED,
                proto: 0,
                ident: 0,
            },
            state: FragState::Pending,
            expires_ms: 0,
            end: None,
            seen: 0,
            nranges: 0,
            ranges: [(0, 0); MAX_FRAGS],
            held_head: NIL,
            held_tail: NIL,
            nheld: 0,
            chain: NIL,
            prev: NIL,
            next: NIL,
            used: false,
        }
    }
}

#[derive(Debug)]
struct Held<B> {
    buf: Option<B>,
    next: u32,
}

#[derive(Debug, Default, Clone, Copy)]
struct FragCounters {
    datagrams: u64,
    completed: u64,
    translated: u64,
    held: u64,
}

/// One lcore's fragment tracker (see the module doc). `B` is the packet buffer type of held
/// fragments.
#[derive(Debug)]
pub struct FragTable<B> {
    limits: FragLimits,
    entries: Vec<Entry>,
    buckets: Vec<u32>,
    seed: u32,
    free: u32,
    age_head: u32,
    age_tail: u32,
    live: usize,
    held: Vec<Held<B>>,
    held_free: u32,
    held_live: usize,
    dropped: Vec<(B, DropReason)>,
    next_ident: u16,
    ident_step: u16,
    c: FragCounters,
}

impl<B> FragTable<B> {
    /// The tracker of worker `index` among `n_workers`, with everything allocated now.
    pub fn new(index: usize, n_workers: usize, limits: FragLimits) -> Self {
        let limits = FragLimits {
            datagrams: limits.datagrams.clamp(1, NIL as usize - 1),
            frags_per_datagram: limits.frags_per_datagram.clamp(1, MAX_FRAGS),
            held_per_datagram: limits.held_per_datagram.max(1),
            held: limits.held.clamp(1, NIL as usize - 1),
            timeout_ms: limits.timeout_ms,
        };
        let n = limits.datagrams;
        let mut entries: Vec<Entry> = (0..n).map(|_| Entry::empty()).collect();
        for (i, e) in entries.iter_mut().enumerate() {
            e.next = if i + 1 < n { (i + 1) as u32 } else { NIL };
        }
        let held = (0..limits.held)
            .map(|i| Held {
                buf: None,
                next: if i + 1 < limits.held {
                    (i + 1) as u32
                } else {
                    NIL
                },
            })
            .collect();
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5256_5321u32) as u32;
        let step = u16::try_from(n_workers.max(1)).unwrap_or(u16::MAX);
        FragTable {
            limits,
            entries,
            buckets: vec![NIL; (2 * n).next_power_of_two()],
            seed,
            free: 0,
            age_head: NIL,
            age_tail: NIL,
            live: 0,
            held,
            held_free: 0,
            held_live: 0,
            dropped: Vec::with_capacity(limits.held),
            next_ident: u16::try_from(index).unwrap_or(0),
            ident_step: step,
            c: FragCounters::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &FragLimits {
        &self.limits
    }

    /// Datagrams tracked now.
    pub fn len(&self) -> usize {
        self.live
    }

    /// No datagram tracked.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Fragments held now.
    pub fn held_len(&self) -> usize {
        self.held_live
    }

    fn bucket(&self, k: &FragKey) -> usize {
        let h = flow_hash::jhash_3words(
            u32::from(k.src),
            u32::from(k.dst),
            (u32::from(k.proto) << 16) | u32::from(k.ident),
            self.seed,
        );
        h as usize & (self.buckets.len() - 1)
    }

    /// The entry of `k`, if tracked.
    pub fn find(&self, k: &FragKey) -> Option<EntryId> {
        let mut i = self.buckets[self.bucket(k)];
        while i != NIL {
            let e = &self.entries[i as usize];
            if e.key == *k {
                return Some(EntryId(i));
            }
            i = e.chain;
        }
        None
    }

    fn create(&mut self, k: &FragKey, now_ms: u64) -> Option<EntryId> {
        let i = self.free;
        if i == NIL {
            return None;
        }
        let b = self.bucket(k);
        let chain = self.buckets[b];
        let tail = self.age_tail;
        let e = &mut self.entries[i as usize];
        self.free = e.next;
        *e = Entry {
            key: *k,
            expires_ms: now_ms.saturating_add(self.limits.timeout_ms),
            chain,
            prev: tail,
            next: NIL,
            used: true,
            ..Entry::empty()
        };
        self.buckets[b] = i;
        match tail {
            NIL => self.age_head = i,
            t => self.entries[t as usize].next = i,
        }
        self.age_tail = i;
        self.live += 1;
        self.c.datagrams += 1;
        Some(EntryId(i))
    }

    /// Unlink and free entry `i` (its held fragments must have been moved out).
    fn free_entry(&mut self, i: u32) {
        let (key, prev, next) = {
            let e = &self.entries[i as usize];
            (e.key, e.prev, e.next)
        };
        let b = self.bucket(&key);
        let mut cur = self.buckets[b];
        let mut before = NIL;
        while cur != NIL && cur != i {
            before = cur;
            cur = self.entries[cur as usize].chain;
        }
        let chain = self.entries[i as usize].chain;
        match before {
            NIL => self.buckets[b] = chain,
            p => self.entries[p as usize].chain = chain,
        }
        match prev {
            NIL => self.age_head = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.age_tail = prev,
            n => self.entries[n as usize].prev = prev,
        }
        let free = self.free;
        let e = &mut self.entries[i as usize];
        e.used = false;
        e.next = free;
        e.prev = NIL;
        e.chain = NIL;
        self.free = i;
        self.live -= 1;
    }

    /// Take fragment `f` into its datagram's entry (created when new): checks it against the
    /// fragments seen (duplicate, overlap, bounds, RFC 1858 offset 8 for TCP) and records its bytes.
    /// Returns the entry, whose [`FragTable::state`] says what to do with the fragment.
    ///
    /// # Errors
    /// The reason to drop this fragment: the datagram's refusal reason when it was refused before;
    /// `FragDuplicate` (the datagram goes on); `FragTableFull`; or `FragOverlap`, `FragOffsetOne`,
    /// `FragMalformed`, `FragTooMany`, which refuse the whole datagram (its held fragments are moved
    /// to the dropped list, see [`FragTable::drain_dropped`]).
    pub fn admit(&mut self, f: &FragInfo, now_ms: u64) -> Result<EntryId, DropReason> {
        let id = match self.find(&f.key) {
            Some(id) => id,
            None => self
                .create(&f.key, now_ms)
                .ok_or(DropReason::FragTableFull)?,
        };
        let e = &self.entries[id.0 as usize];
        if let FragState::Refused(r) = e.state {
            return Err(r);
        }
        let start = f.offset as u32;
        let end = start + f.len as u32;
        let bad = if f.len == 0
            || (f.more && !f.len.is_multiple_of(8))
            || end as usize + f.header_len > usize::from(u16::MAX)
        {
            Some(DropReason::FragMalformed)
        } else if f.key.proto == PROTO_TCP && f.offset == 8 {
            Some(DropReason::FragOffsetOne)
        } else if e.end.is_some_and(|x| end > x || (!f.more && end != x))
            || (!f.more && e.ranges[..usize::from(e.nranges)].iter().any(|r| r.1 > end))
        {
            Some(DropReason::FragMalformed)
        } else {
            let ranges = &e.ranges[..usize::from(e.nranges)];
            if ranges.contains(&(start, end)) {
                return Err(DropReason::FragDuplicate);
            }
            if ranges.iter().any(|r| start < r.1 && r.0 < end) {
                Some(DropReason::FragOverlap)
            } else if usize::from(e.nranges) >= self.limits.frags_per_datagram {
                Some(DropReason::FragTooMany)
            } else {
                None
            }
        };
        if let Some(r) = bad {
            self.refuse(id, r);
            return Err(r);
        }
        let e = &mut self.entries[id.0 as usize];
        e.ranges[usize::from(e.nranges)] = (start, end);
        e.nranges += 1;
        e.seen += end - start;
        if !f.more {
            e.end = Some(end);
        }
        Ok(id)
    }

    /// The state of entry `id`.
    pub fn state(&self, id: EntryId) -> FragState {
        self.entries[id.0 as usize].state
    }

    /// Set the state of entry `id` (the first fragment decided).
    pub fn set_state(&mut self, id: EntryId, s: FragState) {
        self.entries[id.0 as usize].state = s;
    }

    /// Refuse datagram `id` under `r`: its held fragments go to the dropped list, later ones will be
    /// refused by [`FragTable::admit`] until the entry expires.
    pub fn refuse(&mut self, id: EntryId, r: DropReason) {
        self.entries[id.0 as usize].state = FragState::Refused(r);
        let mut i = self.take_held_list(id);
        while i != NIL {
            let h = &mut self.held[i as usize];
            let next = h.next;
            if let Some(b) = h.buf.take() {
                self.dropped.push((b, r));
            }
            self.free_held(i);
            i = next;
        }
    }

    /// Whether one more fragment of `id` may be held.
    ///
    /// # Errors
    /// `FragHoldFull` when the datagram's or this lcore's hold limit is reached.
    pub fn can_hold(&self, id: EntryId) -> Result<(), DropReason> {
        let e = &self.entries[id.0 as usize];
        if e.nheld as usize >= self.limits.held_per_datagram || self.held_free == NIL {
            return Err(DropReason::FragHoldFull);
        }
        Ok(())
    }

    /// Hold `buf`, a later fragment of `id`, until the first fragment comes. Gives the buffer back
    /// when it cannot be held (see [`FragTable::can_hold`]).
    pub fn hold(&mut self, id: EntryId, buf: B) -> Result<(), B> {
        if self.can_hold(id).is_err() || !self.entries[id.0 as usize].used {
            return Err(buf);
        }
        let i = self.held_free;
        let h = &mut self.held[i as usize];
        self.held_free = h.next;
        h.buf = Some(buf);
        h.next = NIL;
        self.held_live += 1;
        self.c.held += 1;
        let e = &mut self.entries[id.0 as usize];
        match e.held_tail {
            NIL => e.held_head = i,
            t => self.held[t as usize].next = i,
        }
        let e = &mut self.entries[id.0 as usize];
        e.held_tail = i;
        e.nheld += 1;
        Ok(())
    }

    /// Move the held fragments of `id`, in arrival order, to the end of `out` (the first fragment
    /// came).
    pub fn release(&mut self, id: EntryId, out: &mut Vec<B>) {
        let mut i = self.take_held_list(id);
        while i != NIL {
            let h = &mut self.held[i as usize];
            let next = h.next;
            if let Some(b) = h.buf.take() {
                out.push(b);
            }
            self.free_held(i);
            i = next;
        }
    }

    fn take_held_list(&mut self, id: EntryId) -> u32 {
        let e = &mut self.entries[id.0 as usize];
        let head = e.held_head;
        e.held_head = NIL;
        e.held_tail = NIL;
        e.nheld = 0;
        head
    }

    fn free_held(&mut self, i: u32) {
        self.held[i as usize].next = self.held_free;
        self.held_free = i;
        self.held_live -= 1;
    }

    /// Free entry `id` when every byte of its datagram has been seen (nothing is held then: the
    /// first fragment released them). Returns whether it was freed.
    pub fn finish_if_complete(&mut self, id: EntryId) -> bool {
        let e = &self.entries[id.0 as usize];
        if !e.used || e.end != Some(e.seen) || e.held_head != NIL {
            return false;
        }
        self.c.completed += 1;
        self.free_entry(id.0);
        true
    }

    /// Free at most `budget` entries older than their lifetime; their held fragments go to the
    /// dropped list as `FragTimeout`. Returns how many entries were freed.
    pub fn expire(&mut self, now_ms: u64, budget: usize) -> usize {
        let mut n = 0;
        while n < budget {
            let i = self.age_head;
            if i == NIL || self.entries[i as usize].expires_ms > now_ms {
                break;
            }
            let id = EntryId(i);
            if self.entries[i as usize].held_head != NIL {
                self.refuse(id, DropReason::FragTimeout);
            }
            self.free_entry(i);
            n += 1;
        }
        n
    }

    /// Move the fragments dropped by refusals and timeouts, with their reasons, to `out`.
    pub fn drain_dropped(&mut self, out: &mut Vec<(B, DropReason)>) {
        out.append(&mut self.dropped);
    }

    /// Whether dropped fragments wait to be drained.
    pub fn has_dropped(&self) -> bool {
        !self.dropped.is_empty()
    }

    /// A fresh IP identification for a translated datagram (disjoint between lcores until the
    /// counter wraps).
    pub fn fresh_ident(&mut self) -> u16 {
        let i = self.next_ident;
        self.next_ident = i.wrapping_add(self.ident_step);
        i
    }

    /// Count one fragment translated by this lcore.
    pub fn count_translated(&mut self) {
        self.c.translated += 1;
    }

    /// Named counters: frag_datagrams (datagrams tracked), frag_completed (datagrams whose every
    /// byte passed), frag_translated (fragments translated and sent on by this lcore, first ones
    /// included), frag_held (fragments that waited for their first fragment), frag_live (datagrams
    /// tracked now), frag_held_live (fragments held now).
    pub fn counters(&self, out: &mut Vec<Counter>) {
        let c = &self.c;
        for (name, value) in [
            ("frag_datagrams", c.datagrams),
            ("frag_completed", c.completed),
            ("frag_translated", c.translated),
            ("frag_held", c.held),
            ("frag_live", self.live as u64),
            ("frag_held_live", self.held_live as u64),
        ] {
            out.push(Counter {
                name: name.to_string(),
                value,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 2);
    const V: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);

    fn key(ident: u16) -> FragKey {
        FragKey {
            src: A,
            dst: V,
            proto: 17,
            ident,
        }
    }

    fn frag(ident: u16, offset: usize, len: usize, more: bool) -> FragInfo {
        FragInfo {
            key: key(ident),
            offset,
            len,
            more,
            header_len: 20,
        }
    }

    fn small() -> FragTable<u32> {
        FragTable::new(
            0,
            1,
            FragLimits {
                datagrams: 2,
                frags_per_datagram: 4,
                held_per_datagram: 2,
                held: 3,
                timeout_ms: 100,
            },
        )
    }

    #[test]
    fn info_of_a_packet() {
        let mut ip = crate::xmit::testpkt::udp((A, 1), (V, 2), 64, &[0u8; 40]);
        assert_eq!(FragInfo::of(&ip), None, "a whole datagram is no fragment");
        ip[6] = 0x20; // MF, offset 0
        ip[7] = 0x00;
        let f = FragInfo::of(&ip).unwrap();
        assert_eq!((f.offset, f.len, f.more, f.header_len), (0, 48, true, 20));
        ip[6] = 0x00;
        ip[7] = 0x03; // offset 24 bytes, last
        let f = FragInfo::of(&ip).unwrap();
        assert_eq!((f.offset, f.more), (24, false));
        assert_eq!(f.key.ident, u16::from_be_bytes([ip[4], ip[5]]));
        assert_eq!(FragInfo::of(&ip[..10]), None);
    }

    #[test]
    fn in_order_datagram_completes_and_frees_its_entry() {
        let mut t = small();
        let id = t.admit(&frag(1, 0, 16, true), 0).unwrap();
        assert_eq!(t.state(id), FragState::Pending);
        assert_eq!(t.admit(&frag(1, 16, 16, true), 0), Ok(id));
        assert!(!t.finish_if_complete(id));
        assert_eq!(t.admit(&frag(1, 32, 5, false), 0), Ok(id));
        assert!(t.finish_if_complete(id));
        assert!(t.is_empty());
        assert_eq!(t.find(&key(1)), None);
    }

    #[test]
    fn duplicates_overlaps_and_bounds() {
        let mut t = small();
        let id = t.admit(&frag(1, 16, 16, true), 0).unwrap();
        assert_eq!(
            t.admit(&frag(1, 16, 16, true), 0),
            Err(DropReason::FragDuplicate)
        );
        assert_eq!(
            t.state(id),
            FragState::Pending,
            "a duplicate refuses nothing"
        );
        assert_eq!(
            t.admit(&frag(1, 24, 16, true), 0),
            Err(DropReason::FragOverlap)
        );
        assert_eq!(t.state(id), FragState::Refused(DropReason::FragOverlap));
        assert_eq!(
            t.admit(&frag(1, 64, 8, true), 0),
            Err(DropReason::FragOverlap),
            "later fragments of a refused datagram share its fate"
        );
        // Malformed: not a multiple of 8 with MF, empty, beyond 65,535, two different ends.
        assert_eq!(
            t.admit(&frag(2, 0, 12, true), 0),
            Err(DropReason::FragMalformed)
        );
        let mut t = small();
        assert_eq!(
            t.admit(&frag(3, 0, 0, false), 0),
            Err(DropReason::FragMalformed)
        );
        let mut t = small();
        assert_eq!(
            t.admit(&frag(4, 65528, 8, false), 0),
            Err(DropReason::FragMalformed)
        );
        let mut t = small();
        t.admit(&frag(5, 0, 8, false), 0).unwrap();
        assert_eq!(
            t.admit(&frag(5, 8, 8, false), 0),
            Err(DropReason::FragMalformed)
        );
        let mut t = small();
        t.admit(&frag(6, 32, 8, true), 0).unwrap();
        assert_eq!(
            t.admit(&frag(6, 0, 8, false), 0),
            Err(DropReason::FragMalformed),
            "a last fragment ending before bytes already seen"
        );
    }

    #[test]
    fn tcp_offset_eight_is_refused_udp_is_not() {
        let mut t = small();
        let mut f = frag(1, 8, 8, true);
        assert!(t.admit(&f, 0).is_ok());
        f.key.proto = PROTO_TCP;
        assert_eq!(t.admit(&f, 0), Err(DropReason::FragOffsetOne));
    }

    #[test]
    fn too_many_fragments() {
        let mut t = small();
        for i in 0..4 {
            t.admit(&frag(1, 8 * i, 8, true), 0).unwrap();
        }
        assert_eq!(
            t.admit(&frag(1, 64, 8, true), 0),
            Err(DropReason::FragTooMany)
        );
    }

    #[test]
    fn table_full_then_expiry_frees() {
        let mut t = small();
        t.admit(&frag(1, 8, 8, true), 0).unwrap();
        t.admit(&frag(2, 8, 8, true), 50).unwrap();
        assert_eq!(
            t.admit(&frag(3, 8, 8, true), 60),
            Err(DropReason::FragTableFull)
        );
        assert_eq!(t.expire(99, 10), 0);
        assert_eq!(t.expire(100, 10), 1, "the oldest only");
        assert!(t.admit(&frag(3, 8, 8, true), 100).is_ok());
        assert_eq!(t.expire(1000, 1), 1, "bounded by the budget");
        assert_eq!(t.len(), 1);
        assert_eq!(t.expire(1000, 10), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn hold_release_in_order_and_limits() {
        let mut t = small();
        let a = t.admit(&frag(1, 16, 8, true), 0).unwrap();
        t.hold(a, 11).unwrap();
        let a2 = t.admit(&frag(1, 24, 8, true), 0).unwrap();
        t.hold(a2, 12).unwrap();
        assert_eq!(t.can_hold(a), Err(DropReason::FragHoldFull), "per datagram");
        assert_eq!(t.hold(a, 13), Err(13));
        let b = t.admit(&frag(2, 16, 8, true), 0).unwrap();
        t.hold(b, 21).unwrap();
        assert_eq!(t.held_len(), 3);
        // Per lcore: three held in all.
        assert_eq!(t.can_hold(b), Err(DropReason::FragHoldFull), "per lcore");
        let mut out = Vec::new();
        t.release(a, &mut out);
        assert_eq!(out, vec![11, 12]);
        assert_eq!(t.held_len(), 1);
        assert!(t.can_hold(b).is_ok());
        // Refusal moves held fragments to the dropped list.
        t.refuse(b, DropReason::FragOverlap);
        let mut d = Vec::new();
        t.drain_dropped(&mut d);
        assert_eq!(d, vec![(21, DropReason::FragOverlap)]);
        assert_eq!(t.held_len(), 0);
    }

    #[test]
    fn expiry_drops_held_fragments_as_timeouts() {
        let mut t = small();
        let a = t.admit(&frag(1, 16, 8, true), 0).unwrap();
        t.hold(a, 1).unwrap();
        let a = t.admit(&frag(1, 32, 8, false), 0).unwrap();
        t.hold(a, 2).unwrap();
        assert_eq!(t.expire(100, 10), 1);
        let mut d = Vec::new();
        t.drain_dropped(&mut d);
        assert_eq!(
            d,
            vec![(1, DropReason::FragTimeout), (2, DropReason::FragTimeout)]
        );
        assert!(t.is_empty());
        assert_eq!(t.held_len(), 0);
    }

    #[test]
    fn entries_are_reused_after_free_in_any_order() {
        let mut t = small();
        let a = t.admit(&frag(1, 0, 8, false), 0).unwrap();
        let b = t.admit(&frag(2, 0, 8, true), 0).unwrap();
        assert!(t.finish_if_complete(a));
        let c = t.admit(&frag(3, 0, 8, false), 0).unwrap();
        assert_ne!(b, c);
        assert_eq!(t.find(&key(2)), Some(b));
        assert_eq!(t.find(&key(3)), Some(c));
        assert!(t.finish_if_complete(c));
        assert_eq!(t.expire(100, 10), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn fresh_idents_are_disjoint_between_lcores() {
        let mut t0: FragTable<u32> = FragTable::new(0, 2, FragLimits::default());
        let mut t1: FragTable<u32> = FragTable::new(1, 2, FragLimits::default());
        let a: Vec<u16> = (0..4).map(|_| t0.fresh_ident()).collect();
        let b: Vec<u16> = (0..4).map(|_| t1.fresh_ident()).collect();
        assert_eq!(a, vec![0, 2, 4, 6]);
        assert_eq!(b, vec![1, 3, 5, 7]);
    }
}
