//! The worker lcore loop: burst rx from every port, the pipeline per packet, buffered tx per port.
//!
//! Owns everything one worker touches on the hot path: its [`Pipeline`] (routes, neighbour table,
//! [`LbCtx`] with sessions), its per-port tx buffers, its counters. Nothing is shared with other
//! threads except through channels:
//!
//! - control messages ([`WorkerMsg`]) from rvsd's main thread: a new snapshot (acked with its
//!   generation once installed), connection and counter queries, gratuitous ARP;
//! - the hand-off mesh ([`handoff_mesh`]): a bounded channel per worker carrying frames whose flow
//!   another worker owns (a full ring drops the frame, counted `drop.handoff_full`), plus a bounded
//!   channel of [`NeighUpdate`]s so that what one worker learns from ARP reaches all of them (see
//!   [`crate::neigh`]).
//!
//! Each iteration: control -> neighbour updates -> hand-off ring -> rx burst of every port ->
//! (with a big session table, a burst-wide session prefetch) -> pipeline -> neighbour timers and
//! ARP requests -> bounded fragment expiry -> tx flush -> bounded session expiry. Fragments held by
//! the pipeline ([`crate::frag`]) are sent, or dropped and counted, right after the packet that
//! released them. Tx is flushed whenever a port's buffer reaches a burst and at the end of the
//! iteration; what the queue does not take is freed and counted `drop.tx_full`, never retried in a
//! spin.
//!
//! Allocation: bursts and tx buffers are `Vec`s whose capacity is reused; the only allocations after
//! start-up are control-rate (answers to queries, a new neighbour entry's queue).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use rvs_control::proto::{ConnInfo, Counter, LcoreStats, PortLcoreStats};

use crate::lb::{LbCtx, LbLimits};
use crate::neigh::{self, NeighState, NeighTable, NeighUpdate, Resolve};
use crate::pipeline::{Pipeline, Verdict};
use crate::port::{PacketBuf, WorkerIo, BURST};
use crate::route::{RouteError, RouteTable};
use crate::service::Snapshot;
use crate::stats::DropReason;
use crate::synproxy::hold::{HoldQueue, HOLD_CAPACITY, HOLD_PER_SESSION};
use crate::synproxy::SynproxyConf;
use crate::wire::{arp, ethernet};

/// Sessions expired at most per iteration.
pub const EXPIRE_BUDGET: usize = 64;
/// Fragment-tracker entries expired at most per iteration.
pub const FRAG_EXPIRE_BUDGET: usize = 64;
/// Interval of the neighbour timers.
pub const NEIGH_TICK_MS: u64 = 100;
/// Neighbour updates applied at most per iteration.
const NEIGH_UPDATES_PER_POLL: usize = 64;
/// Most sessions one `GetConnsPage` answer carries.
pub const CONNS_PAGE_MAX: usize = 4096;
/// Most table slots one `GetConnsPage` visits: bounds the pause a listing causes between two bursts
/// whatever the table size.
pub const CONNS_PAGE_SCAN: usize = 65536;
/// Length of ARP frames we originate (Ethernet header + ARP, unpadded: the port pads).
pub const ARP_FRAME_LEN: usize = ethernet::HEADER_LEN + arp::PACKET_LEN;

/// One port as a worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConf {
    /// The port's MAC address.
    pub mac: [u8; 6],
    /// Its IPv4 addresses with prefix lengths (each gives a connected route).
    pub addrs: Vec<(Ipv4Addr, u8)>,
    /// Its MTU.
    pub mtu: u16,
}

/// A static route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteConf {
    /// Destination network.
    pub dest: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// Gateway; `None` for a device route (destinations are on-link).
    pub via: Option<Ipv4Addr>,
    /// Output port index.
    pub port: u16,
}

/// A worker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConf {
    /// Index of this worker among the workers (0..n_workers): flow ownership and hand-off.
    pub index: usize,
    /// Its lcore id (reported in stats and connection listings).
    pub lcore_id: u32,
    /// Number of workers.
    pub n_workers: usize,
    /// The ports, by port index.
    pub ports: Vec<PortConf>,
    /// Static routes (connected routes come from the port addresses).
    pub routes: Vec<RouteConf>,
    /// Upper bound of the sleep after an empty poll, in microseconds; 0 = busy polling.
    pub idle_backoff_us: u32,
    /// Session table capacity of this worker.
    pub max_sessions: usize,
}

/// A message from the control thread to a worker.
#[derive(Debug)]
pub enum WorkerMsg {
    /// Install this snapshot, then send back its generation.
    Snapshot(Arc<Snapshot>, Sender<u64>),
    /// Send back this worker's live sessions (all at once: prefer `GetConnsPage` for big tables).
    GetConns(Sender<Vec<ConnInfo>>),
    /// Send back one bounded page of this worker's sessions: at most `max` (capped at
    /// [`CONNS_PAGE_MAX`]) found from slot `cursor` on, visiting at most [`CONNS_PAGE_SCAN`] slots.
    GetConnsPage {
        /// Slot to continue from (0 for the first page).
        cursor: u64,
        /// Most sessions wanted.
        max: usize,
        /// Where the page goes.
        reply: Sender<ConnPage>,
    },
    /// Send back this worker's neighbour table.
    GetNeighbours(Sender<LcoreNeighbours>),
    /// Send back this worker's FULLNAT local-address port pools.
    GetLaddrPools(Sender<LcoreLaddrPools>),
    /// Send back this worker's traffic per port, by port index.
    GetPortStats(Sender<Vec<PortLcoreStats>>),
    /// Send back this worker's counters.
    GetStats(Sender<LcoreStats>),
    /// Send a gratuitous ARP for every local address (port addresses, VIPs, local addresses).
    SendGarp,
}

/// One page of a worker's sessions (answer to [`WorkerMsg::GetConnsPage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnPage {
    /// The sessions found.
    pub conns: Vec<ConnInfo>,
    /// The slot to continue from; `None` when this worker's tables were walked to the end.
    pub next: Option<u64>,
}

/// A worker's neighbour table (answer to [`WorkerMsg::GetNeighbours`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcoreNeighbours {
    /// The worker's lcore id.
    pub lcore: u32,
    /// `(port, address, MAC, state)`, sorted by port and address.
    pub entries: Vec<(u16, Ipv4Addr, [u8; 6], NeighState)>,
}

/// A worker's FULLNAT local-port pools (answer to [`WorkerMsg::GetLaddrPools`]): `(lcore id,
/// [(local address, free ports, ports in use)])`, sorted by address.
pub type LcoreLaddrPools = (u32, Vec<(Ipv4Addr, u64, u64)>);

/// One worker's traffic on one port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received from the port.
    pub rx_packets: u64,
    /// Frames the port's tx queue took.
    pub tx_packets: u64,
    /// Frames the tx queue refused (freed, also counted in `drop.tx_full`).
    pub tx_dropped: u64,
}

/// A worker's ends of the hand-off mesh.
#[derive(Debug)]
pub struct Handoff<B> {
    /// Frame senders to every worker, by worker index (this worker's own entry is unused).
    pub tx: Vec<Sender<B>>,
    /// Frames handed to this worker.
    pub rx: Receiver<B>,
    /// Neighbour update senders to every worker, by index (own entry unused).
    pub neigh_tx: Vec<Sender<NeighUpdate>>,
    /// Neighbour updates for this worker.
    pub neigh_rx: Receiver<NeighUpdate>,
}

/// Build the hand-off mesh of `n` workers: each gets a bounded frame channel of `depth` (and a
/// neighbour update channel of the same depth) and senders to everyone's.
pub fn handoff_mesh<B>(n: usize, depth: usize) -> Vec<Handoff<B>> {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| crossbeam_channel::bounded(depth)).unzip();
    let (ntxs, nrxs): (Vec<_>, Vec<_>) = (0..n)
        .map(|_| crossbeam_channel::bounded(depth.max(16)))
        .unzip();
    rxs.into_iter()
        .zip(nrxs)
        .map(|(rx, neigh_rx)| Handoff {
            tx: txs.clone(),
            rx,
            neigh_tx: ntxs.clone(),
            neigh_rx,
        })
        .collect()
}

/// A worker could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// The route table is inconsistent.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// `index` is not below `n_workers`, or the mesh does not match `n_workers`.
    #[error("worker index {index} with {n_workers} workers and a mesh of {mesh}")]
    BadIndex {
        /// The index.
        index: usize,
        /// The worker count.
        n_workers: usize,
        /// Senders in the hand-off mesh.
        mesh: usize,
    },
}

/// Counters of one worker, besides the load balancer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCounters {
    /// Frames received from the ports.
    pub rx_packets: u64,
    /// Frames the tx queues took.
    pub tx_packets: u64,
    /// Frames received from other workers.
    pub handoff_in: u64,
    /// Frames passed to other workers.
    pub handoff_out: u64,
    /// ARP requests sent (resolution and refresh).
    pub arp_requests: u64,
    /// Gratuitous ARPs sent.
    pub garp_sent: u64,
    /// Neighbour updates received from other workers.
    pub neigh_updates_in: u64,
    /// Drops, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::ALL.len()],
    /// Traffic per port, by port index.
    pub ports: Vec<PortCounters>,
}

impl Default for WorkerCounters {
    /// All zero (written out: `Default` is not derived for arrays longer than 32).
    fn default() -> Self {
        WorkerCounters {
            rx_packets: 0,
            tx_packets: 0,
            handoff_in: 0,
            handoff_out: 0,
            arp_requests: 0,
            garp_sent: 0,
            neigh_updates_in: 0,
            drops: [0; DropReason::ALL.len()],
            ports: Vec::new(),
        }
    }
}

impl WorkerCounters {
    fn drop(&mut self, r: DropReason, n: u64) {
        self.drops[r as usize] += n;
    }

    /// Named counters: `rx_packets`, `tx_packets`, `handoff_in`, `handoff_out`, `arp_requests`,
    /// `garp_sent`, `neigh_updates_in`, then `drop.<reason>` for every [`DropReason`].
    pub fn to_counters(&self, out: &mut Vec<Counter>) {
        let named = [
            ("rx_packets", self.rx_packets),
            ("tx_packets", self.tx_packets),
            ("handoff_in", self.handoff_in),
            ("handoff_out", self.handoff_out),
            ("arp_requests", self.arp_requests),
            ("garp_sent", self.garp_sent),
            ("neigh_updates_in", self.neigh_updates_in),
        ];
        out.extend(named.iter().map(|(n, v)| Counter {
            name: (*n).to_string(),
            value: *v,
        }));
        out.extend(DropReason::ALL.iter().map(|r| Counter {
            name: format!("drop.{}", r.name()),
            value: self.drops[*r as usize],
        }));
    }
}

/// One worker lcore.
pub struct Worker<IO: WorkerIo> {
    index: usize,
    lcore_id: u32,
    idle_backoff_us: u32,
    io: IO,
    ctrl: Receiver<WorkerMsg>,
    handoff: Handoff<IO::Buf>,
    pipe: Pipeline<IO::Buf>,
    counters: WorkerCounters,
    rx: Vec<IO::Buf>,
    tx: Vec<Vec<IO::Buf>>,
    released: Vec<(u16, [u8; 6], IO::Buf)>,
    frags: Vec<(IO::Buf, Verdict)>,
    updates: Vec<NeighUpdate>,
    arp_requests: Vec<(u16, Ipv4Addr)>,
    held: HoldQueue<IO::Buf>,
    released_held: Vec<IO::Buf>,
    last_tick_ms: u64,
}

impl<IO: WorkerIo> Worker<IO> {
    /// Build a worker from its configuration, its port I/O, its control channel and its ends of the
    /// hand-off mesh. Starts with an empty snapshot.
    ///
    /// # Errors
    /// [`WorkerError::Route`] when the routes are inconsistent with the ports;
    /// [`WorkerError::BadIndex`] when the index, worker count and mesh disagree.
    pub fn new(
        conf: WorkerConf,
        io: IO,
        ctrl: Receiver<WorkerMsg>,
        handoff: Handoff<IO::Buf>,
    ) -> Result<Self, WorkerError> {
        if conf.index >= conf.n_workers
            || handoff.tx.len() != conf.n_workers
            || handoff.neigh_tx.len() != conf.n_workers
        {
            return Err(WorkerError::BadIndex {
                index: conf.index,
                n_workers: conf.n_workers,
                mesh: handoff.tx.len(),
            });
        }
        let routes = RouteTable::new(&conf.ports, &conf.routes)?;
        let n_ports = usize::from(io.n_ports());
        let lb = LbCtx::new(
            conf.index,
            conf.n_workers,
            LbLimits {
                max_sessions: conf.max_sessions,
            },
        );
        let pipe: Pipeline<IO::Buf> = Pipeline::new(
            conf.index,
            conf.ports,
            routes,
            NeighTable::new(neigh::DEFAULT_CAPACITY),
            lb,
        );
        let frags_cap = pipe.frag.limits().held + 1;
        Ok(Worker {
            index: conf.index,
            lcore_id: conf.lcore_id,
            idle_backoff_us: conf.idle_backoff_us,
            io,
            ctrl,
            handoff,
            pipe,
            counters: WorkerCounters {
                ports: vec![PortCounters::default(); n_ports],
                ..WorkerCounters::default()
            },
            rx: Vec::with_capacity(BURST),
            tx: (0..n_ports).map(|_| Vec::with_capacity(BURST)).collect(),
            released: Vec::with_capacity(neigh::PENDING_MAX),
            frags: Vec::with_capacity(frags_cap),
            updates: Vec::with_capacity(8),
            arp_requests: Vec::with_capacity(64),
            held: HoldQueue::new(HOLD_CAPACITY),
            released_held: Vec::with_capacity(HOLD_PER_SESSION),
            last_tick_ms: 0,
        })
    }

    /// Configure the SYN proxy (before traffic; see [`crate::synproxy`]).
    pub fn set_synproxy(&mut self, conf: SynproxyConf) {
        self.pipe.lb.set_synproxy(conf);
    }

    /// Frames held for proxied connections waiting for their real server.
    pub fn held_frames(&self) -> usize {
        self.held.len()
    }

    /// Install a static neighbour (permanent entry, see [`crate::neigh`]); call before the worker
    /// runs. Returns false when the neighbour table is full.
    pub fn add_static_neighbour(&mut self, port: u16, ip: Ipv4Addr, mac: [u8; 6]) -> bool {
        let mut released = Vec::new();
        let ok = self.pipe.neigh.set_permanent(port, ip, mac, &mut released);
        // Before the worker runs nothing is queued; anything released is freed.
        drop(released);
        ok
    }

    /// The port I/O (tests inspect `MemIo` through it).
    pub fn io(&self) -> &IO {
        &self.io
    }

    /// The port I/O, writable (tests feed `MemIo` through it).
    pub fn io_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// This worker's counters (besides the load balancer's).
    pub fn counters(&self) -> &WorkerCounters {
        &self.counters
    }

    /// The pipeline (routes, neighbours, load balancer).
    pub fn pipeline(&self) -> &Pipeline<IO::Buf> {
        &self.pipe
    }

    /// All counters as [`LcoreStats`] (what `GetStats` answers).
    pub fn stats(&self) -> LcoreStats {
        let mut counters = Vec::with_capacity(DropReason::ALL.len() + 16);
        self.counters.to_counters(&mut counters);
        self.pipe.lb.counters(&mut counters);
        self.pipe.frag.counters(&mut counters);
        LcoreStats {
            lcore: self.lcore_id,
            counters,
        }
    }

    /// One iteration: control messages, neighbour updates, hand-off ring, rx bursts of every port,
    /// pipeline, neighbour timers, tx flush, session expiry. Returns the packets handled (received
    /// from ports or from other workers).
    pub fn poll_once(&mut self, now_ms: u64) -> usize {
        self.control(now_ms);
        for _ in 0..NEIGH_UPDATES_PER_POLL {
            let Ok(u) = self.handoff.neigh_rx.try_recv() else {
                break;
            };
            self.counters.neigh_updates_in += 1;
            self.pipe.learn(u.port, u.ip, u.mac, now_ms, true);
        }
        self.after_packet(now_ms);
        let mut handled = 0;
        for _ in 0..BURST {
            let Ok(mut buf) = self.handoff.rx.try_recv() else {
                break;
            };
            self.counters.handoff_in += 1;
            handled += 1;
            let v = self.pipe.process_handoff(buf.data_mut(), now_ms);
            self.dispatch(buf, v, now_ms);
        }
        for port in 0..self.io.n_ports() {
            let mut rx = std::mem::take(&mut self.rx);
            let n = self.io.rx_burst(port, &mut rx);
            self.counters.rx_packets += n as u64;
            if let Some(pc) = self.counters.ports.get_mut(usize::from(port)) {
                pc.rx_packets += n as u64;
            }
            handled += n;
            if self.pipe.lb.wants_prefetch() {
                self.prefetch_burst(&rx);
            }
            for mut buf in rx.drain(..) {
                let csum = buf.rx_l4_csum();
                let v = self.pipe.process_rx(port, buf.data_mut(), csum, now_ms);
                self.dispatch(buf, v, now_ms);
            }
            self.rx = rx;
        }
        if now_ms.saturating_sub(self.last_tick_ms) >= NEIGH_TICK_MS {
            self.last_tick_ms = now_ms;
            let lost = self.pipe.neigh.tick(now_ms);
            self.counters.drop(DropReason::NeighUnresolved, lost as u64);
            if !self.held.is_empty() {
                let n = self.held.expire(now_ms);
                self.counters
                    .drop(DropReason::SynproxyHoldExpired, n as u64);
            }
        }
        self.send_arp_requests();
        if self.pipe.expire_fragments(now_ms, FRAG_EXPIRE_BUDGET) > 0 {
            self.after_packet(now_ms);
        }
        self.flush_all();
        self.pipe.lb.expire(now_ms, EXPIRE_BUDGET);
        handled
    }

    /// Poll until `stop` is set. With `idle_backoff_us` > 0, an empty poll sleeps, starting at 1 µs
    /// and doubling up to that bound; any packet resets the back-off.
    pub fn run(&mut self, stop: &AtomicBool) {
        let start = Instant::now();
        let mut idle_us: u32 = 0;
        while !stop.load(Ordering::Relaxed) {
            let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            let n = self.poll_once(now_ms);
            if n > 0 || self.idle_backoff_us == 0 {
                idle_us = 0;
                if n == 0 {
                    std::hint::spin_loop();
                }
                continue;
            }
            idle_us = idle_us.saturating_mul(2).clamp(1, self.idle_backoff_us);
            std::thread::sleep(Duration::from_micros(u64::from(idle_us)));
        }
        self.flush_all();
    }

    /// Burst-wide prefetch of the sessions of a received burst (big tables only: see
    /// [`LbCtx::wants_prefetch`]): hash every packet's flow and start loading its index line, then
    /// start loading the session each index entry points at, so that the cache misses of the burst's
    /// lookups overlap instead of stalling one packet after the other. Only hints: the packets are
    /// then processed as usual.
    fn prefetch_burst(&self, rx: &[IO::Buf]) {
        let mut hashes = [None; BURST];
        for (h, b) in hashes.iter_mut().zip(rx) {
            *h = crate::lb::flow_hash_hint(b.data());
            if let Some(h) = *h {
                self.pipe.lb.prefetch_index(h);
            }
        }
        for h in hashes.iter().take(rx.len()).flatten() {
            self.pipe.lb.prefetch_session(*h);
        }
    }

    fn control(&mut self, now_ms: u64) {
        loop {
            let msg = match self.ctrl.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            };
            match msg {
                WorkerMsg::Snapshot(snap, ack) => {
                    let generation = snap.generation();
                    self.pipe.lb.set_snapshot(snap);
                    let _ = ack.send(generation);
                }
                WorkerMsg::GetConns(reply) => {
                    let mut v = Vec::new();
                    self.pipe.lb.conns(now_ms, self.lcore_id, &mut v);
                    let _ = reply.send(v);
                }
                WorkerMsg::GetConnsPage { cursor, max, reply } => {
                    let mut conns = Vec::new();
                    let next = self.pipe.lb.conns_page(
                        now_ms,
                        self.lcore_id,
                        cursor,
                        max.min(CONNS_PAGE_MAX),
                        CONNS_PAGE_SCAN,
                        &mut conns,
                    );
                    let _ = reply.send(ConnPage { conns, next });
                }
                WorkerMsg::GetNeighbours(reply) => {
                    let mut entries = Vec::with_capacity(self.pipe.neigh.len());
                    self.pipe.neigh.entries(&mut entries);
                    let _ = reply.send(LcoreNeighbours {
                        lcore: self.lcore_id,
                        entries,
                    });
                }
                WorkerMsg::GetLaddrPools(reply) => {
                    let mut pools = Vec::new();
                    self.pipe.lb.laddr_pools(&mut pools);
                    let _ = reply.send((self.lcore_id, pools));
                }
                WorkerMsg::GetPortStats(reply) => {
                    let stats = self
                        .counters
                        .ports
                        .iter()
                        .map(|p| PortLcoreStats {
                            lcore: self.lcore_id,
                            rx_packets: p.rx_packets,
                            tx_packets: p.tx_packets,
                            tx_dropped: p.tx_dropped,
                        })
                        .collect();
                    let _ = reply.send(stats);
                }
                WorkerMsg::GetStats(reply) => {
                    let _ = reply.send(self.stats());
                }
                WorkerMsg::SendGarp => self.send_garp(),
            }
        }
    }

    fn dispatch(&mut self, mut buf: IO::Buf, v: Verdict, now_ms: u64) {
        let v = match v {
            Verdict::ForwardReshaped {
                port,
                next_hop,
                header,
                ip_len,
            } => match reshape(&mut buf, header.as_bytes(), usize::from(ip_len)) {
                Ok(()) => Verdict::Forward { port, next_hop },
                Err(r) => Verdict::Drop(r),
            },
            v => v,
        };
        match v {
            Verdict::Tx(port) => self.push_tx(port, buf),
            Verdict::Forward { port, next_hop } => {
                match self.pipe.neigh.resolve(port, next_hop, now_ms, buf) {
                    Resolve::Ready(mac, mut b) => {
                        set_dst_mac(b.data_mut(), mac);
                        self.push_tx(port, b);
                    }
                    Resolve::Queued => {}
                    Resolve::Dropped(_) => self.counters.drop(DropReason::NeighUnresolved, 1),
                }
            }
            Verdict::Handoff(w) => match self.handoff.tx.get(w).map(|t| t.try_send(buf)) {
                Some(Ok(())) => self.counters.handoff_out += 1,
                _ => self.counters.drop(DropReason::HandoffFull, 1),
            },
            Verdict::HoldFragment => {
                if self.pipe.hold_fragment(buf).is_err() {
                    self.counters.drop(DropReason::FragHoldFull, 1);
                }
            }
            Verdict::Hold(slot) => {
                if self.held.push(slot, buf, now_ms).is_err() {
                    self.counters.drop(DropReason::SynproxyHoldFull, 1);
                }
            }
            // Turned into `Forward` or `Drop` above.
            Verdict::Consumed | Verdict::ForwardReshaped { .. } => {}
            Verdict::Drop(r) => self.counters.drop(r, 1),
        }
        if let Some(slot) = self.pipe.lb.take_synproxy_release() {
            self.release_held(slot, now_ms);
        }
        self.after_packet(now_ms);
    }

    /// Re-inject the frames held for session slot `slot` (its real server answered), oldest first:
    /// each is processed again from its own headers, as a frame handed off by another worker.
    #[cold]
    #[inline(never)]
    fn release_held(&mut self, slot: u32, now_ms: u64) {
        let mut out = std::mem::take(&mut self.released_held);
        self.held.take(slot, &mut out);
        for mut buf in out.drain(..) {
            let v = self.pipe.process_handoff(buf.data_mut(), now_ms);
            self.dispatch(buf, v, now_ms);
        }
        self.released_held = out;
    }

    /// Send what neighbour resolution released, dispatch the fragments the pipeline released or
    /// dropped, and pass learned neighbours to the other workers.
    fn after_packet(&mut self, now_ms: u64) {
        if !self.pipe.has_pending() {
            return;
        }
        let mut frags = std::mem::take(&mut self.frags);
        self.pipe.drain_fragments(&mut frags);
        for (b, v) in frags.drain(..) {
            self.dispatch(b, v, now_ms);
        }
        self.frags = frags;
        let mut rel = std::mem::take(&mut self.released);
        self.pipe.drain_released(&mut rel);
        for (port, mac, mut b) in rel.drain(..) {
            set_dst_mac(b.data_mut(), mac);
            self.push_tx(port, b);
        }
        self.released = rel;
        self.pipe.drain_updates(&mut self.updates);
        for u in self.updates.drain(..) {
            for (w, tx) in self.handoff.neigh_tx.iter().enumerate() {
                if w != self.index {
                    let _ = tx.try_send(u);
                }
            }
        }
    }

    fn push_tx(&mut self, port: u16, buf: IO::Buf) {
        let Some(q) = self.tx.get_mut(usize::from(port)) else {
            self.counters.drop(DropReason::NoRoute, 1);
            return;
        };
        q.push(buf);
        if q.len() >= BURST {
            self.flush(port);
        }
    }

    fn flush(&mut self, port: u16) {
        let Some(q) = self.tx.get_mut(usize::from(port)) else {
            return;
        };
        if q.is_empty() {
            return;
        }
        let sent = self.io.tx_burst(port, q);
        self.counters.tx_packets += sent as u64;
        let refused = q.len() as u64;
        if let Some(pc) = self.counters.ports.get_mut(usize::from(port)) {
            pc.tx_packets += sent as u64;
            pc.tx_dropped += refused;
        }
        self.counters.drop(DropReason::TxFull, refused);
        q.clear();
    }

    fn flush_all(&mut self) {
        for port in 0..self.tx.len() {
            self.flush(port as u16);
        }
    }

    fn send_arp_requests(&mut self) {
        self.pipe.neigh.drain_requests(&mut self.arp_requests);
        let mut reqs = std::mem::take(&mut self.arp_requests);
        for (port, target) in reqs.drain(..) {
            if let Some(src) = self.pipe.arp_source(port, target) {
                if self.originate_arp(port, src, target) {
                    self.counters.arp_requests += 1;
                }
            }
        }
        self.arp_requests = reqs;
    }

    /// Build and queue an ARP request (who-has `target` tell `src`) on `port`. Returns false (counted
    /// `drop.no_buffer`) when no buffer could be had.
    fn originate_arp(&mut self, port: u16, src: Ipv4Addr, target: Ipv4Addr) -> bool {
        let Some(mac) = self.pipe.ports().get(usize::from(port)).map(|p| p.mac) else {
            return false;
        };
        let Some(mut b) = self.io.alloc() else {
            self.counters.drop(DropReason::NoBuffer, 1);
            return false;
        };
        if !b.set_len(ARP_FRAME_LEN) {
            self.counters.drop(DropReason::NoBuffer, 1);
            return false;
        }
        let f = b.data_mut();
        let ok = ethernet::emit(f, ethernet::BROADCAST, mac, ethernet::ethertype::ARP).is_ok()
            && arp::emit_request(&mut f[ethernet::HEADER_LEN..], mac, src, target).is_ok();
        if ok {
            self.push_tx(port, b);
        }
        ok
    }

    /// Gratuitous ARP (a request with sender = target = the address) for every port address on its
    /// port, and for every VIP and local address on the port whose subnet holds it (every port when
    /// none does).
    fn send_garp(&mut self) {
        let mut garps: Vec<(u16, Ipv4Addr)> = Vec::new();
        for (p, pc) in self.pipe.ports().iter().enumerate() {
            garps.extend(pc.addrs.iter().map(|(a, _)| (p as u16, *a)));
        }
        let mut locals: Vec<Ipv4Addr> = Vec::new();
        for s in self.pipe.lb.snapshot().services() {
            locals.push(s.key.addr);
            locals.extend(s.laddrs.iter().copied());
        }
        locals.sort_unstable();
        locals.dedup();
        let n_ports = self.pipe.ports().len() as u16;
        for a in locals {
            let on_link = self.pipe.ports().iter().position(|pc| {
                pc.addrs
                    .iter()
                    .any(|(pa, l)| crate::route::in_subnet(a, *pa, *l))
            });
            match on_link {
                Some(p) => garps.push((p as u16, a)),
                None => garps.extend((0..n_ports).map(|p| (p, a))),
            }
        }
        for (port, a) in garps {
            if self.originate_arp(port, a, a) {
                self.counters.garp_sent += 1;
            }
        }
        self.flush_all();
    }
}

/// Insert `header` between the Ethernet header and the IPv4 packet of `buf` (into its headroom), then
/// cut the frame to `14 + header.len() + ip_len` bytes ([`Verdict::ForwardReshaped`]).
fn reshape<B: PacketBuf>(buf: &mut B, header: &[u8], ip_len: usize) -> Result<(), DropReason> {
    let (n, eth) = (header.len(), ethernet::HEADER_LEN);
    if buf.data().len() < eth {
        return Err(DropReason::EthTruncated);
    }
    if n > 0 && !buf.prepend(n) {
        return Err(DropReason::NoHeadroom);
    }
    let d = buf.data_mut();
    d.copy_within(n..n + eth, 0);
    d[eth..eth + n].copy_from_slice(header);
    let want = eth + n + ip_len;
    if want < buf.data().len() {
        buf.set_len(want);
    }
    Ok(())
}

fn set_dst_mac(frame: &mut [u8], mac: [u8; 6]) {
    if let Some(d) = frame.get_mut(..6) {
        d.copy_from_slice(&mac);
    }
}
