//! FULLNAT local addresses and ports, per lcore.
//!
//! Each worker owns a disjoint slice of every local address's ports: port `p` in `1024..=65535` with
//! `p % n_workers == worker_index`. Replies from a real server come back to `(laddr, lport)`, so the
//! port alone names the owning worker ([`crate::flow_hash::owner_of_port`]): no shared state, no lock.
//!
//! One [`PortRing`] per local address (shared by every service that lists the address, so two services
//! can never hand out the same `(laddr, lport)`), built when a snapshot brings the address and kept for
//! the life of the worker (a removed address may still have sessions holding its ports). A ring is a
//! preallocated FIFO of free ports plus an in-use bitmap: allocation and release never allocate, freed
//! ports go to the back (longest reuse distance, friendly to TIME_WAIT on the real server), and a
//! double free is ignored.

use crate::flow_hash::FlowBuildHasher;
use crate::service::Snapshot;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// The lowest local port handed out.
pub const MIN_PORT: u16 = 1024;

/// Free ports of one local address in this worker's slice.
#[derive(Debug)]
pub struct PortRing {
    ring: Vec<u16>,
    head: usize,
    len: usize,
    in_use: Vec<u64>,
    conns: Arc<AtomicU64>,
}

impl PortRing {
    fn new(worker_index: usize, n_workers: usize, conns: Arc<AtomicU64>) -> PortRing {
        let n = n_workers.max(1);
        let ring: Vec<u16> = (MIN_PORT..=u16::MAX)
            .filter(|p| usize::from(*p) % n == worker_index)
            .collect();
        let len = ring.len();
        PortRing {
            ring,
            head: 0,
            len,
            in_use: vec![0; 1024],
            conns,
        }
    }

    /// Free ports left.
    pub fn free_ports(&self) -> usize {
        self.len
    }

    fn bit(&self, p: u16) -> bool {
        self.in_use[usize::from(p) / 64] & (1 << (p % 64)) != 0
    }

    fn set_bit(&mut self, p: u16, v: bool) {
        let w = &mut self.in_use[usize::from(p) / 64];
        if v {
            *w |= 1 << (p % 64);
        } else {
            *w &= !(1 << (p % 64));
        }
    }

    fn alloc(&mut self) -> Option<u16> {
        if self.len == 0 {
            return None;
        }
        let p = self.ring[self.head];
        self.head = (self.head + 1) % self.ring.len();
        self.len -= 1;
        self.set_bit(p, true);
        self.conns.fetch_add(1, Relaxed);
        Some(p)
    }

    fn free(&mut self, p: u16) {
        if !self.bit(p) || self.len == self.ring.len() {
            return;
        }
        self.set_bit(p, false);
        let tail = (self.head + self.len) % self.ring.len();
        self.ring[tail] = p;
        self.len += 1;
        self.conns.fetch_sub(1, Relaxed);
    }
}

/// This worker's local port pools, by local address.
#[derive(Debug)]
pub struct LaddrPool {
    worker_index: usize,
    n_workers: usize,
    rings: HashMap<Ipv4Addr, PortRing, FlowBuildHasher>,
}

impl LaddrPool {
    /// The pools of worker `worker_index` among `n_workers` (empty until [`LaddrPool::sync`]).
    pub fn new(worker_index: usize, n_workers: usize) -> LaddrPool {
        LaddrPool {
            worker_index,
            n_workers: n_workers.max(1),
            rings: HashMap::with_hasher(FlowBuildHasher::default()),
        }
    }

    /// Whether local port `port` belongs to this worker's slice.
    pub fn owns_port(&self, port: u16) -> bool {
        port >= MIN_PORT && usize::from(port) % self.n_workers == self.worker_index
    }

    /// Create the rings of every local address `snap` brings (control path: allocates).
    pub fn sync(&mut self, snap: &Snapshot) {
        for s in snap.services() {
            for a in &s.laddrs {
                if !self.rings.contains_key(a) {
                    let conns = snap.laddr_conns(*a).cloned().unwrap_or_default();
                    self.rings
                        .insert(*a, PortRing::new(self.worker_index, self.n_workers, conns));
                }
            }
        }
    }

    /// Allocate a `(laddr, lport)` from `laddrs`, trying them round-robin from `*cursor` (advanced past
    /// the address used). `None` when every address's slice is exhausted (or none is known).
    pub fn alloc(&mut self, laddrs: &[Ipv4Addr], cursor: &mut usize) -> Option<(Ipv4Addr, u16)> {
        let n = laddrs.len();
        for k in 0..n {
            let i = (*cursor + k) % n;
            let a = laddrs[i];
            if let Some(p) = self.rings.get_mut(&a).and_then(PortRing::alloc) {
                *cursor = (i + 1) % n;
                return Some((a, p));
            }
        }
        None
    }

    /// Give `(laddr, lport)` back (ignored when not allocated here).
    pub fn free(&mut self, laddr: Ipv4Addr, port: u16) {
        if let Some(r) = self.rings.get_mut(&laddr) {
            r.free(port);
        }
    }

    /// Free ports of `laddr` in this worker's slice (`None`: unknown address).
    pub fn free_ports(&self, laddr: Ipv4Addr) -> Option<usize> {
        self.rings.get(&laddr).map(PortRing::free_ports)
    }

    /// Append `(local address, free ports, ports in use)` of every pool of this worker's slice, sorted
    /// by address (control path: the `--show-laddr-pools` listing).
    pub fn pools(&self, out: &mut Vec<(Ipv4Addr, u64, u64)>) {
        let start = out.len();
        out.extend(
            self.rings
                .iter()
                .map(|(a, r)| (*a, r.len as u64, (r.ring.len() - r.len) as u64)),
        );
        out[start..].sort_unstable_by_key(|p| p.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use rvs_control::proto::{LaddrSpec, Protocol, Request, ServiceKey, ServiceSpec};

    const L1: Ipv4Addr = Ipv4Addr::new(10, 10, 9, 1);
    const L2: Ipv4Addr = Ipv4Addr::new(10, 10, 9, 2);

    fn snap() -> Arc<Snapshot> {
        let mut r = Rules::new();
        let key = ServiceKey {
            proto: Protocol::Tcp,
            addr: "10.10.0.100".parse().unwrap(),
            port: 8990,
        };
        r.apply(&Request::AddService(ServiceSpec {
            key,
            scheduler: "rr".into(),
            persistent: None,
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
        for a in [L1, L2] {
            r.apply(&Request::AddLaddr(key, LaddrSpec { addr: a.into() }))
                .unwrap();
        }
        r.snapshot()
    }

    #[test]
    fn slices_are_disjoint_and_cover_1024_to_65535() {
        let s = snap();
        let mut seen = vec![false; 65536];
        for w in 0..3 {
            let mut p = LaddrPool::new(w, 3);
            p.sync(&s);
            let n = p.free_ports(L1).unwrap();
            let mut c = 0;
            for _ in 0..n {
                let (a, port) = p.alloc(&[L1], &mut c).unwrap();
                assert_eq!(a, L1);
                assert!(p.owns_port(port));
                assert_eq!(usize::from(port) % 3, w);
                assert!(!seen[usize::from(port)]);
                seen[usize::from(port)] = true;
            }
            assert_eq!(p.alloc(&[L1], &mut c), None);
        }
        assert!(seen[1024..].iter().all(|&b| b));
        assert!(seen[..1024].iter().all(|&b| !b));
    }

    #[test]
    fn round_robin_exhaustion_free_and_conns() {
        let s = snap();
        let mut p = LaddrPool::new(1, 2);
        p.sync(&s);
        let mut c = 0;
        let (a1, p1) = p.alloc(&[L1, L2], &mut c).unwrap();
        let (a2, p2) = p.alloc(&[L1, L2], &mut c).unwrap();
        assert_eq!((a1, p1), (L1, 1025));
        assert_eq!((a2, p2), (L2, 1025));
        assert_eq!(s.laddr_conns(L1).unwrap().load(Relaxed), 1);
        p.free(L1, p1);
        p.free(L1, p1); // double free ignored
        p.free(L1, 1027); // never allocated: ignored
        assert_eq!(s.laddr_conns(L1).unwrap().load(Relaxed), 0);
        let total = p.free_ports(L1).unwrap();
        assert_eq!(total, (65536 - 1024) / 2);
        // Exhaust L1: allocation moves on to L2, then fails.
        let mut c1 = 0;
        let mut last = 0;
        for _ in 0..total {
            last = p.alloc(&[L1], &mut c1).unwrap().1;
        }
        // Freed 1025 went to the back of the FIFO: it is the last one handed out.
        assert_eq!(last, 1025);
        assert_eq!(p.free_ports(L1), Some(0));
        let mut c = 0;
        assert_eq!(p.alloc(&[L1, L2], &mut c).map(|x| x.0), Some(L2));
        assert_eq!(p.alloc(&[Ipv4Addr::new(1, 2, 3, 4)], &mut c), None);
        assert_eq!(p.alloc(&[], &mut c), None);
        assert!(!p.owns_port(1000));
    }
}
