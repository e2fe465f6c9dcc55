//! rvs-bench: the real dataplane in one process, on DPDK `net_null` ports, against dpdk-testpmd.
//!
//! What runs is rvsd's code: the EAL, an mbuf pool, two `net_null` ports brought up by rvsd's
//! `setup_port` (one queue pair per worker), rvsd's `DpdkIo`, the hand-off mesh, and
//! `Worker::poll_once` (pipeline, LbCtx, sessions, neighbour resolution, tx buffering) on each
//! worker lcore (worker 0 on the main lcore). The only addition is [`GenIo`], a `WorkerIo` that
//! wraps `DpdkIo` and writes a generated frame ([`rvs_dataplane::loadgen`]) into each mbuf that
//! `net_null` hands out on rx: it stands for the NIC writing a received frame. Its cost is measured
//! separately on the same traffic (rx, write, tx without the worker) and subtracted; what is left,
//! "dataplane ns/packet", includes the mbuf rx/tx work, as testpmd's figures do.
//!
//! Scenarios, per mode (NAT, FULLNAT, DR, TUN over IPIP, GUE, GRE) and session count: `new` (first
//! packets: SYNs of flows `0..n` into an empty table: schedule, local port for FULLNAT, session
//! insert), then the sessions are established (one ACK each), then `in` (client ACKs, random flow
//! order) and, where replies pass through us (NAT, FULLNAT), `out` (real-server ACKs, random order)
//! for `--packets` packets each. After them: dpdk-testpmd `io` and `macswap` on the same kind of
//! ports with as many forwarding cores as we have workers (subprocess, its own `--file-prefix`),
//! and our rates as a ratio of theirs. Session memory is the process RSS with the sessions minus
//! before the workers existed.
//!
//! Workers (`--workers N`): each worker polls its own queue pair of both ports; the flows are
//! spread over the workers' rx queues as a NIC's RSS would (`--steer rss`: Toeplitz, default key,
//! round-robin indirection table; replies by the Toeplitz hash of the reply tuple) or by the owner
//! rule itself (`--steer owner`: what a NIC programmed to steer by our hash would do). Flow
//! ownership is on: a packet that reaches a worker that does not own its flow is handed off to its
//! owner over the mesh (counted `handoff`), and `misowned` (packets the load balancer processed on a
//! worker that does not own them) must stay 0. A phase ends when every worker's generator has
//! handed out its share and every hand-off ring is drained; its time is from the first worker's
//! start to the last worker's end. Per-worker figures are the aggregate divided by N.
//!
//! `--only NAME` runs one scenario (for `bench/callgrind.sh`, which counts instructions inside
//! [`measured_run`], less those of [`gen_fill`] called from it). `--out FILE` writes every result
//! as CSV (for `bench/chart.py` and `bench/scaling.sh`).
#![forbid(unsafe_code)]

#[path = "../rvsd/dpdk_io.rs"]
mod dpdk_io;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use dpdk_io::{DpdkBuf, DpdkIo};
use rvs_control::proto::ConnInfo;
use rvs_dataplane::flow_hash;
use rvs_dataplane::loadgen::{self, tcp_flags, Generator, LbMode, ReplyTuple, Traffic};
use rvs_dataplane::port::{PacketBuf, TxOffloadCaps, WorkerIo};
use rvs_dataplane::stats::DropReason;
use rvs_dataplane::worker::{handoff_mesh, Handoff, Worker, WorkerMsg};
use rvs_ffi::{Eal, Mempool};

/// The clock given to the worker: fixed, so no session or neighbour expires during a run.
const NOW_MS: u64 = 10_000;
/// Depth of each worker's hand-off ring (rvsd's).
const HANDOFF_DEPTH: usize = 1024;
/// Sessions listed per page when collecting the reply tuples.
const LIST_PAGE: usize = 4096;

/// How flows reach the workers' rx queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Steer {
    /// As a NIC's RSS spreads them (Toeplitz over the 4-tuple): most packets reach a worker that
    /// does not own them and are handed off.
    Rss,
    /// By the owner rule (no hand-off): the upper bound, a NIC steering by our flow hash.
    Owner,
}

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "rvs-bench",
    about = "rvs dataplane benchmark on DPDK net_null ports, with dpdk-testpmd as the reference"
)]
struct Cli {
    /// Packets per established-flow scenario (all workers together).
    #[arg(long, default_value_t = 5_000_000)]
    packets: u64,
    /// Session counts (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    sessions: Vec<u32>,
    /// Modes (nat, fullnat, dr, tun, tungue, tungre; comma-separated). DR and the tunnels have no
    /// `out` scenario (the replies do not pass through us).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "nat,fullnat,dr,tun,tungue,tungre"
    )]
    modes: Vec<String>,
    /// Run only this scenario (e.g. `nat_in_1000`, `fullnat_new_1000000`); skips testpmd.
    #[arg(long)]
    only: Option<String>,
    /// Seconds of each testpmd measurement (0 = skip testpmd).
    #[arg(long, default_value_t = 3)]
    testpmd_secs: u64,
    /// EAL memory in MiB (`--no-huge -m`).
    #[arg(long, default_value_t = 1024)]
    mem_mb: u32,
    /// Random seed of the flow order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker lcores (worker 0 on the main lcore), each with its own queue pair on both ports.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// CPUs of the workers (comma-separated, one per worker; default 0..N-1 wrapped over the CPUs
    /// present). Worker i runs as EAL lcore i on the i-th CPU (`--lcores i@cpu`).
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<u32>,
    /// How flows are spread over the workers' rx queues.
    #[arg(long, value_enum, default_value_t = Steer::Rss)]
    steer: Steer,
    /// Write the results as CSV to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `DpdkIo` plus a frame generator on one port's rx (see the module doc).
struct GenIo {
    io: Option<DpdkIo>,
    gen: Option<Generator>,
    left: u64,
}

impl GenIo {
    fn start(&mut self, gen: Generator, count: u64) {
        self.gen = Some(gen);
        self.left = count;
    }
}

/// One frame written by the generator (kept out of line so callgrind can count it apart).
#[inline(never)]
fn gen_fill(g: &mut Generator, b: &mut DpdkBuf) {
    let n = g.fill(b.data_mut());
    if n != b.data().len() {
        b.set_len(n);
    }
}

impl WorkerIo for GenIo {
    type Buf = DpdkBuf;

    fn n_ports(&self) -> u16 {
        self.io.as_ref().map_or(0, DpdkIo::n_ports)
    }

    fn rx_burst(&mut self, port: u16, out: &mut Vec<DpdkBuf>) -> usize {
        let (Some(g), Some(io)) = (self.gen.as_mut(), self.io.as_mut()) else {
            return 0;
        };
        if self.left == 0 || g.port() != port {
            return 0;
        }
        let start = out.len();
        let n = io.rx_burst(port, out);
        let keep = n.min(usize::try_from(self.left).unwrap_or(usize::MAX));
        out.truncate(start + keep);
        for b in &mut out[start..] {
            gen_fill(g, b);
        }
        self.left -= keep as u64;
        keep
    }

    fn tx_burst(&mut self, port: u16, bufs: &mut Vec<DpdkBuf>) -> usize {
        self.io.as_mut().map_or(0, |io| io.tx_burst(port, bufs))
    }

    fn alloc(&mut self) -> Option<DpdkBuf> {
        self.io.as_mut().and_then(DpdkIo::alloc)
    }

    fn tx_offload(&self, port: u16) -> TxOffloadCaps {
        self.io
            .as_ref()
            .map_or_else(TxOffloadCaps::default, |io| io.tx_offload(port))
    }
}

/// Resident set size of this process in bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// What every worker thread shares.
struct Shared {
    workers: usize,
    steer: Steer,
    seed: u64,
    packets: u64,
    macs: [[u8; 6]; 2],
    barrier: Barrier,
    /// Generators finished, over all phases (phase p ends at `workers * p`).
    done: AtomicUsize,
    /// Sessions live after set-up, summed over the workers.
    live: AtomicUsize,
    /// Set-up drops, summed over the workers.
    setup_drops: AtomicU64,
    /// Reply tuples of every worker's sessions (`out` scenarios).
    replies: Mutex<Vec<ReplyTuple>>,
    /// Phase results of every worker.
    stats: Mutex<Vec<PhaseStat>>,
}

/// One worker's share of one measured phase.
#[derive(Debug, Clone)]
struct PhaseStat {
    name: String,
    worker: usize,
    packets: u64,
    t0: Instant,
    t1: Instant,
    sent: u64,
    dropped: u64,
    handoff_out: u64,
    misowned: u64,
    gen_ns: f64,
    /// Drops by reason (index of `DropReason::ALL`).
    drops: Vec<u64>,
}

/// The scenarios of one mode and session count, as every worker runs them.
#[derive(Debug, Clone)]
struct Combo {
    mode: LbMode,
    n: u32,
    names: [String; 3],
    want: [bool; 3],
}

/// One worker thread's state across the combos.
struct Thread {
    index: usize,
    lcore: u32,
    shared: Arc<Shared>,
    io: Option<DpdkIo>,
    meshes: Vec<Handoff<DpdkBuf>>,
    phase: usize,
}

/// The queue a client flow `k` arrives on.
fn in_queue(steer: Steer, k: u32, n: usize) -> usize {
    let (cip, cport) = loadgen::flow_client(k);
    match steer {
        Steer::Rss => loadgen::rss_queue(
            (cip, cport),
            (loadgen::VIP, loadgen::VPORT),
            u32::try_from(n).unwrap_or(1),
        ) as usize,
        Steer::Owner => flow_hash::owner_of_hash(flow_hash::hash_addr_port(cip, cport, 6), n),
    }
}

/// The queue a real server's reply arrives on.
fn out_queue(steer: Steer, mode: LbMode, r: &ReplyTuple, n: usize) -> usize {
    match steer {
        Steer::Rss => loadgen::rss_queue(
            (loadgen::rs_ip(r.rs), loadgen::RPORT),
            (r.dst, r.dport),
            u32::try_from(n).unwrap_or(1),
        ) as usize,
        Steer::Owner if mode == LbMode::FullNat => flow_hash::owner_of_port(r.dport, n),
        Steer::Owner => flow_hash::owner_of_hash(flow_hash::hash_addr_port(r.dst, r.dport, 6), n),
    }
}

/// Poll the worker until the generator has handed out `count` frames, then (several workers)
/// until every worker's generator is done and the hand-off rings are drained.
#[inline(always)]
fn drive(w: &mut Worker<GenIo>, gen: Generator, count: u64, done: &AtomicUsize, target: usize) {
    w.io_mut().start(gen, count);
    while w.io().left > 0 {
        w.poll_once(NOW_MS);
    }
    w.poll_once(NOW_MS);
    done.fetch_add(1, Ordering::AcqRel);
    if target > 1 {
        // Bounded by the other workers finishing their own (bounded) share.
        loop {
            let all = done.load(Ordering::Acquire) >= target;
            if w.poll_once(NOW_MS) == 0 && all {
                break;
            }
        }
    }
}

/// [`drive`] for a measured scenario (what `bench/callgrind.sh` counts).
#[inline(never)]
fn measured_run(
    w: &mut Worker<GenIo>,
    gen: Generator,
    count: u64,
    done: &AtomicUsize,
    target: usize,
) {
    drive(w, gen, count, done, target);
    // Keeps the body distinct from `setup_run`'s: identical functions are merged at link time,
    // and callgrind would then count the set-up traffic too.
    std::hint::black_box(1u8);
}

/// [`drive`] for set-up traffic (not counted).
#[inline(never)]
fn setup_run(w: &mut Worker<GenIo>, gen: Generator, count: u64, done: &AtomicUsize, target: usize) {
    drive(w, gen, count, done, target);
    std::hint::black_box(2u8);
}

/// rx from `net_null`, optionally write the generator's frames, tx on the other port: our own
/// "testpmd io", and the generator's cost. Returns ns per packet.
fn io_loop(io: &mut DpdkIo, mut gen: Option<Generator>, port: u16, count: u64) -> f64 {
    let mut v: Vec<DpdkBuf> = Vec::with_capacity(64);
    let mut left = count;
    let t0 = Instant::now();
    while left > 0 {
        let n = io.rx_burst(port, &mut v) as u64;
        if let Some(g) = gen.as_mut() {
            for b in &mut v {
                gen_fill(g, b);
            }
        }
        io.tx_burst(1 - port, &mut v);
        v.clear();
        left = left.saturating_sub(n);
    }
    t0.elapsed().as_secs_f64() * 1e9 / count.max(1) as f64
}

impl Thread {
    fn wait(&self) {
        self.shared.barrier.wait();
    }

    /// One phase on this worker: `count` frames of `gen`, all workers together; measured phases
    /// record a [`PhaseStat`] (and the generator's cost, measured first on this worker's queues).
    fn phase(&mut self, w: &mut Worker<GenIo>, name: Option<&str>, gen: Generator, count: u64) {
        let n = self.shared.workers;
        let gen_ns = match (name, w.io_mut().io.as_mut()) {
            (Some(_), Some(io)) if count > 0 => {
                let port = gen.port();
                (io_loop(io, Some(gen.clone()), port, count) - io_loop(io, None, port, count))
                    .max(0.0)
            }
            _ => 0.0,
        };
        let c = w.counters();
        let (tx0, d0, h0) = (c.tx_packets, c.drops.iter().sum::<u64>(), c.handoff_out);
        let reasons0 = c.drops.to_vec();
        let m0 = misowned(w);
        self.phase += 1;
        let target = n * self.phase;
        self.wait();
        let t0 = Instant::now();
        if name.is_some() {
            measured_run(w, gen, count, &self.shared.done, target);
        } else {
            setup_run(w, gen, count, &self.shared.done, target);
        }
        let t1 = Instant::now();
        let c = w.counters();
        let st = PhaseStat {
            name: name.unwrap_or("setup").to_string(),
            worker: self.index,
            packets: count,
            t0,
            t1,
            sent: c.tx_packets - tx0,
            dropped: c.drops.iter().sum::<u64>() - d0,
            handoff_out: c.handoff_out - h0,
            misowned: misowned(w) - m0,
            gen_ns,
            drops: c.drops.iter().zip(&reasons0).map(|(a, b)| a - b).collect(),
        };
        if name.is_some() {
            if let Ok(mut s) = self.shared.stats.lock() {
                s.push(st);
            }
        } else {
            self.shared
                .setup_drops
                .fetch_add(st.dropped, Ordering::AcqRel);
        }
        self.wait();
    }

    /// A worker with the lab's rules for `mode`, room for `max` sessions, neighbours learned.
    fn worker(
        &mut self,
        mode: LbMode,
        max: usize,
        handoff: Handoff<DpdkBuf>,
    ) -> anyhow::Result<Worker<GenIo>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let gio = GenIo {
            io: self.io.take(),
            gen: None,
            left: 0,
        };
        let mut conf = loadgen::worker_conf(self.shared.macs, max);
        conf.index = self.index;
        conf.lcore_id = self.lcore;
        conf.n_workers = self.shared.workers;
        let mut w = Worker::new(conf, gio, rx, handoff)?;
        let rules = loadgen::rules(mode, max.saturating_mul(self.shared.workers))?;
        let (ack, acked) = crossbeam_channel::bounded(1);
        tx.send(WorkerMsg::Snapshot(rules.snapshot(), ack))?;
        w.poll_once(NOW_MS);
        acked.try_recv().context("snapshot not installed")?;
        for (port, f) in loadgen::neighbour_frames() {
            let frames = Arc::new(vec![f]);
            w.io_mut().start(
                Generator::new(Traffic::Frames { port, frames }, self.shared.macs, 0),
                1,
            );
            w.poll_once(NOW_MS);
        }
        w.poll_once(NOW_MS);
        Ok(w)
    }

    /// Every combo, in order; worker 0 (the main lcore) also checks and reports in `report`.
    fn run(&mut self, combos: &[Combo], mut report: Option<&mut Report>) -> anyhow::Result<()> {
        let sh = Arc::clone(&self.shared);
        let nw = sh.workers;
        let meshes = std::mem::take(&mut self.meshes);
        for (combo, handoff) in combos.iter().zip(meshes) {
            let (mode, n) = (combo.mode, combo.n);
            let m = mode.name();
            self.wait();
            let rss0 = rss_bytes();
            self.wait();
            let t_setup = Instant::now();
            let max = if nw == 1 {
                (n as usize).max(1024)
            } else {
                (n as usize / nw) + (n as usize / nw) / 16 + 4096
            };
            let mut w = self.worker(mode, max, handoff)?;
            // This worker's rx share of the flows (all of them with one worker).
            let mine: Arc<Vec<u32>> = Arc::new(if nw == 1 {
                Vec::new()
            } else {
                (0..n)
                    .filter(|&k| in_queue(sh.steer, k, nw) == self.index)
                    .collect()
            });
            let share = if nw == 1 {
                u64::from(n)
            } else {
                mine.len() as u64
            };
            let list = |flags, random| Traffic::Flows {
                flows: Arc::clone(&mine),
                flags,
                random,
            };
            let syn = if nw == 1 {
                Traffic::SynInOrder { n }
            } else {
                list(tcp_flags::SYN, false)
            };
            let g = Generator::new(syn, sh.macs, sh.seed);
            let new_name = combo.want[0].then_some(combo.names[0].as_str());
            self.phase(&mut w, new_name, g, share);
            if nw == 1 {
                let ack = Generator::new(Traffic::AckInOrder { n }, sh.macs, sh.seed);
                self.phase(&mut w, None, ack, share);
            } else {
                // Set-up traffic is steered by the owner rule (no hand-off, so no hand-off ring
                // overflow): SYN again (a retransmission where the `new` phase made the session,
                // a new session where its hand-off was dropped), then the ACKs.
                let owned: Arc<Vec<u32>> = Arc::new(
                    (0..n)
                        .filter(|&k| in_queue(Steer::Owner, k, nw) == self.index)
                        .collect(),
                );
                let c = owned.len() as u64;
                for flags in [tcp_flags::SYN, tcp_flags::ACK] {
                    let t = Traffic::Flows {
                        flows: Arc::clone(&owned),
                        flags,
                        random: false,
                    };
                    self.phase(&mut w, None, Generator::new(t, sh.macs, sh.seed), c);
                }
            }
            sh.live
                .fetch_add(w.pipeline().lb.sessions_live(), Ordering::AcqRel);
            self.wait();
            if let Some(r) = report.as_deref_mut() {
                let live = sh.live.swap(0, Ordering::AcqRel);
                let drops = sh.setup_drops.swap(0, Ordering::AcqRel);
                if live != n as usize || drops != 0 {
                    bail!("{m}: {live} sessions live of {n}, {drops} set-up drops");
                }
                let per = rss_bytes().saturating_sub(rss0) as f64 / f64::from(n);
                let secs = t_setup.elapsed().as_secs_f64();
                println!(
                    "set-up {m} {n}: {secs:.1} s (workers, SYN + ACK of every flow, checks); {per:.0} bytes per session"
                );
                r.mem.push((format!("{m}_{n}"), per, secs));
            }
            let per_worker = sh.packets / nw as u64;
            if combo.want[1] {
                let t = if nw == 1 {
                    Traffic::In { n }
                } else {
                    list(tcp_flags::ACK, true)
                };
                let g = Generator::new(t, sh.macs, sh.seed + self.index as u64);
                self.phase(&mut w, Some(&combo.names[1]), g, per_worker);
            }
            if mode.has_replies() && combo.want[2] {
                let mine = self.replies(&w, mode)?;
                let g = Generator::new(
                    Traffic::Out { replies: mine },
                    sh.macs,
                    sh.seed + self.index as u64,
                );
                self.phase(&mut w, Some(&combo.names[2]), g, per_worker);
            }
            if let Some(r) = report.as_deref_mut() {
                r.collect(combo, &sh);
            }
            self.io = w.io_mut().io.take();
            drop(w);
        }
        Ok(())
    }

    /// The reply tuples arriving on this worker's queue: every worker lists its sessions into the
    /// shared list, then takes its share of the whole.
    fn replies(&mut self, w: &Worker<GenIo>, mode: LbMode) -> anyhow::Result<Arc<Vec<ReplyTuple>>> {
        let sh = Arc::clone(&self.shared);
        let mut page: Vec<ConnInfo> = Vec::with_capacity(LIST_PAGE);
        let mut mine = Vec::with_capacity(w.pipeline().lb.sessions_live());
        let mut cursor = Some(0);
        while let Some(c) = cursor {
            page.clear();
            cursor = w
                .pipeline()
                .lb
                .conns_page(NOW_MS, 0, c, LIST_PAGE, 1 << 16, &mut page);
            mine.extend(page.iter().filter_map(loadgen::reply_of));
        }
        if sh.workers == 1 {
            return Ok(Arc::new(mine));
        }
        if let Ok(mut all) = sh.replies.lock() {
            all.extend(mine);
        }
        self.wait();
        let share: Vec<ReplyTuple> = sh
            .replies
            .lock()
            .map(|all| {
                all.iter()
                    .filter(|r| out_queue(sh.steer, mode, r, sh.workers) == self.index)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        self.wait();
        if self.index == 0 {
            if let Ok(mut all) = sh.replies.lock() {
                *all = Vec::new();
            }
        }
        if share.is_empty() {
            bail!("worker {}: no replies arrive on its queue", self.index);
        }
        Ok(Arc::new(share))
    }
}

/// The load balancer's `misowned_packets` counter.
fn misowned(w: &Worker<GenIo>) -> u64 {
    let mut c = Vec::new();
    w.pipeline().lb.counters(&mut c);
    c.iter()
        .find(|c| c.name == "misowned_packets")
        .map_or(0, |c| c.value)
}

/// One result line (all workers of one scenario).
#[derive(Debug, Clone)]
struct Row {
    name: String,
    mode: String,
    dir: String,
    sessions: u32,
    workers: usize,
    packets: u64,
    /// Wall time per packet and worker (ns).
    total_ns: f64,
    /// Generator cost per packet (mean over the workers).
    gen_ns: f64,
    dropped: u64,
    /// Non-zero drop counters, `name=count` separated by spaces.
    drop_reasons: String,
    handoff: u64,
    misowned: u64,
    /// Each worker's own rate over its own time (Mpps, generator included).
    worker_mpps: Vec<f64>,
}

impl Row {
    /// Wall time per packet less the generator's cost; the whole wall time when the generator's
    /// measured cost is not below it (a short phase on a loaded machine: the two measurements are
    /// noise, and subtracting would report an absurd rate).
    fn dp_ns(&self) -> f64 {
        if self.gen_ns < self.total_ns {
            self.total_ns - self.gen_ns
        } else {
            self.total_ns.max(0.001)
        }
    }
    /// Dataplane Mpps per worker.
    fn mpps(&self) -> f64 {
        1000.0 / self.dp_ns()
    }
    /// All workers together.
    fn mpps_total(&self) -> f64 {
        self.mpps() * self.workers as f64
    }
    /// All workers together, counting only the packets sent on (not those dropped, e.g. at a full
    /// hand-off ring): the forwarding rate.
    fn mpps_fwd_total(&self) -> f64 {
        self.mpps_total() * (self.packets - self.dropped.min(self.packets)) as f64
            / self.packets.max(1) as f64
    }
}

/// What worker 0 gathers.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    /// (mode_sessions, bytes per session, set-up seconds).
    mem: Vec<(String, f64, f64)>,
    error: Option<String>,
}

impl Report {
    fn collect(&mut self, combo: &Combo, sh: &Shared) {
        let nw = sh.workers;
        let stats: Vec<PhaseStat> = sh
            .stats
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        for (i, name) in combo.names.iter().enumerate() {
            let st: Vec<&PhaseStat> = stats.iter().filter(|s| &s.name == name).collect();
            if st.is_empty() {
                continue;
            }
            let packets: u64 = st.iter().map(|s| s.packets).sum();
            let sent: u64 = st.iter().map(|s| s.sent).sum();
            let dropped: u64 = st.iter().map(|s| s.dropped).sum();
            if sent + dropped != packets && self.error.is_none() {
                self.error = Some(format!(
                    "{name}: {packets} packets in, {sent} sent, {dropped} dropped"
                ));
            }
            let (Some(t0), Some(t1)) =
                (st.iter().map(|s| s.t0).min(), st.iter().map(|s| s.t1).max())
            else {
                continue;
            };
            let secs = (t1 - t0).as_secs_f64();
            let mut reasons = Vec::new();
            for (i, r) in DropReason::ALL.iter().enumerate() {
                let d: u64 = st
                    .iter()
                    .map(|s| s.drops.get(i).copied().unwrap_or(0))
                    .sum();
                if d > 0 {
                    reasons.push(format!("{}={d}", r.name()));
                }
            }
            let row = Row {
                name: name.clone(),
                mode: combo.mode.name().to_string(),
                dir: ["new", "in", "out"][i].to_string(),
                sessions: combo.n,
                workers: nw,
                packets,
                total_ns: secs * 1e9 * nw as f64 / packets.max(1) as f64,
                gen_ns: st.iter().map(|s| s.gen_ns).sum::<f64>() / st.len() as f64,
                dropped,
                drop_reasons: reasons.join(" "),
                handoff: st.iter().map(|s| s.handoff_out).sum(),
                misowned: st.iter().map(|s| s.misowned).sum(),
                worker_mpps: {
                    let mut v: Vec<(usize, f64)> = st
                        .iter()
                        .map(|s| {
                            (
                                s.worker,
                                s.packets as f64 / (s.t1 - s.t0).as_secs_f64().max(1e-9) / 1e6,
                            )
                        })
                        .collect();
                    v.sort_by_key(|x| x.0);
                    v.into_iter().map(|x| x.1).collect()
                },
            };
            let extra = if nw > 1 {
                format!(
                    "  {:>6.2} Mpps all ({:.2} forwarded)  handoff {} misowned {}  per worker (gen. incl.) {}",
                    row.mpps_total(),
                    row.mpps_fwd_total(),
                    row.handoff,
                    row.misowned,
                    row.worker_mpps
                        .iter()
                        .map(|m| format!("{m:.2}"))
                        .collect::<Vec<_>>()
                        .join("/")
                )
            } else {
                String::new()
            };
            println!(
                "{:<22} {:>9} pkts  total {:>7.1} ns/pkt  gen {:>5.1}  dataplane {:>7.1} ns/pkt  {:>6.2} Mpps/worker  drops {}{}{extra}",
                row.name,
                row.packets,
                row.total_ns,
                row.gen_ns,
                row.dp_ns(),
                row.mpps(),
                row.dropped,
                if row.dropped > 0 {
                    format!(" ({})", row.drop_reasons)
                } else {
                    String::new()
                }
            );
            self.rows.push(row);
        }
    }
}

/// Runs dpdk-testpmd in `fwd` mode over two net_null ports (`copy=1` for macswap, which reads the
/// frames) with one forwarding core per CPU of `cpus` (each port with that many queues) and returns
/// its forwarding rate in Mpps (Rx-pps of both ports over `secs`).
fn testpmd(fwd: &str, secs: u64, mem_mb: u32, cpus: &[u32]) -> anyhow::Result<f64> {
    let prefix = format!("rvs-bench-tp-{}", std::process::id());
    let copy = if fwd == "io" { "" } else { ",copy=1" };
    let nc = cpus.len().max(1);
    // Main lcore 0 (idle at the prompt) shares the first forwarding core's CPU.
    let first = cpus.first().copied().unwrap_or(0);
    let mut lcores = vec![format!("0@{first}")];
    lcores.extend(
        cpus.iter()
            .enumerate()
            .map(|(i, c)| format!("{}@{c}", i + 1)),
    );
    let mut child = Command::new("dpdk-testpmd")
        .args(["--lcores", &lcores.join(",")])
        .args(["--no-huge", "-m", &mem_mb.to_string(), "--no-pci"])
        .args(["--file-prefix", &prefix, "--log-level", "lib.eal:error"])
        .arg(format!("--vdev=net_null0{copy}"))
        .arg(format!("--vdev=net_null1{copy}"))
        .args(["--", "-i"])
        .arg(format!("--total-num-mbufs={}", 8192 * nc))
        .arg(format!("--nb-cores={nc}"))
        .arg(format!("--rxq={nc}"))
        .arg(format!("--txq={nc}"))
        .arg(format!("--forward-mode={fwd}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting dpdk-testpmd (package dpdk-dev)")?;
    let out = Arc::new(Mutex::new(String::new()));
    // Raw reads, not lines: the prompt has no newline after it.
    let reader = child.stdout.take().map(|mut so| {
        let out = Arc::clone(&out);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = so.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut o) = out.lock() {
                    o.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        })
    });
    let mut stdin = child.stdin.take().context("testpmd stdin")?;
    // Wait for the prompt (EAL start) before starting, at most 30 s.
    let t0 = Instant::now();
    while !out.lock().map(|o| o.contains("testpmd>")).unwrap_or(true) {
        if t0.elapsed() > Duration::from_secs(30) || child.try_wait()?.is_some() {
            let _ = child.kill();
            let _ = child.wait();
            bail!("testpmd did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut say = |s: &str| -> anyhow::Result<()> {
        stdin.write_all(s.as_bytes())?;
        stdin.flush()?;
        Ok(())
    };
    say("start\n")?;
    std::thread::sleep(Duration::from_secs(1));
    say("show port stats all\n")?;
    std::thread::sleep(Duration::from_secs(secs));
    say("show port stats all\n")?;
    std::thread::sleep(Duration::from_millis(300));
    say("stop\n")?;
    say("quit\n")?;
    drop(stdin);
    let t1 = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if t1.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(r) = reader {
        let _ = r.join();
    }
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    let text = out.lock().map(|o| o.clone()).unwrap_or_default();
    // testpmd's stdout is block-buffered into the pipe: the second `show` prints the last two
    // Rx-pps lines (the rate of each port since the first `show`).
    let pps: Vec<f64> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Rx-pps:"))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect();
    if pps.len() < 4 {
        bail!("no Rx-pps in testpmd's output:\n{text}");
    }
    Ok(pps[pps.len() - 2..].iter().sum::<f64>() / 1e6)
}

/// The CSV results file: one line per scenario and one per testpmd reference.
fn write_csv(path: &PathBuf, rows: &[Row], refs: &[(&str, f64)], cli: &Cli) -> anyhow::Result<()> {
    let mut s = String::from(
        "kind,name,mode,dir,sessions,workers,steer,packets,total_ns,gen_ns,dp_ns,mpps_worker,mpps_total,mpps_fwd_total,ratio_io,ratio_macswap,dropped,handoff,misowned,drop_reasons\n",
    );
    let steer = format!("{:?}", cli.steer).to_lowercase();
    let r_of = |f: &str| refs.iter().find(|r| r.0 == f).map(|r| r.1);
    for r in rows {
        let ratio =
            |f: &str| r_of(f).map_or(String::new(), |m| format!("{:.4}", r.mpps_fwd_total() / m));
        s.push_str(&format!(
            "rvs,{},{},{},{},{},{steer},{},{:.2},{:.2},{:.2},{:.3},{:.3},{:.3},{},{},{},{},{},{}\n",
            r.name,
            r.mode,
            r.dir,
            r.sessions,
            r.workers,
            r.packets,
            r.total_ns,
            r.gen_ns,
            r.dp_ns(),
            r.mpps(),
            r.mpps_total(),
            r.mpps_fwd_total(),
            ratio("io"),
            ratio("macswap"),
            r.dropped,
            r.handoff,
            r.misowned,
            r.drop_reasons
        ));
    }
    for (f, m) in refs {
        let nw = cli.workers;
        s.push_str(&format!(
            "testpmd,testpmd_{f},{f},,,{nw},,,,,,{:.3},{m:.3},{m:.3},,,,,,\n",
            m / nw as f64
        ));
    }
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let modes: Vec<LbMode> = cli
        .modes
        .iter()
        .map(|m| LbMode::from_name(m).with_context(|| format!("unknown mode {m}")))
        .collect::<anyhow::Result<_>>()?;
    let nw = cli.workers.max(1);
    let ncpu = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let cpus: Vec<u32> = if cli.cpus.is_empty() {
        (0..nw).map(|i| (i % ncpu) as u32).collect()
    } else if cli.cpus.len() == nw {
        cli.cpus.clone()
    } else {
        bail!("--cpus lists {} CPUs for {nw} workers", cli.cpus.len());
    };
    let lcores: Vec<String> = cpus
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{i}@{c}"))
        .collect();
    let lcores = lcores.join(",");
    let prefix = format!("rvs-bench-{}", std::process::id());
    let mem = cli.mem_mb.to_string();
    let eal = Eal::init(&[
        "--lcores",
        lcores.as_str(),
        "--no-huge",
        "-m",
        mem.as_str(),
        "--no-pci",
        "--file-prefix",
        prefix.as_str(),
        "--log-level",
        "lib.eal:error",
        "--vdev=net_null0",
        "--vdev=net_null1",
    ])
    .context("EAL init")?;
    let lcore_ids: Vec<u32> = std::iter::once(eal.main_lcore())
        .chain(eal.worker_lcores())
        .collect();
    if lcore_ids.len() < nw {
        bail!("{} lcores for {nw} workers", lcore_ids.len());
    }
    let pool = Arc::new(Mempool::new(
        &eal,
        "rvs_bench",
        8191 * u32::try_from(nw).unwrap_or(1) + 4096,
        256,
        Mempool::DEFAULT_DATA_ROOM,
        Mempool::SOCKET_ANY,
    )?);
    let nq = u16::try_from(nw).context("too many workers")?;
    let mut ports = vec![
        dpdk_io::setup_port(&eal, "net_null0", nq, &pool, 0)?,
        dpdk_io::setup_port(&eal, "net_null1", nq, &pool, 0)?,
    ];
    let macs = [ports[0].mac, ports[1].mac];
    let mut ios = dpdk_io::worker_ios(&mut ports, nw, &pool)?;
    println!(
        "rvs-bench: {nw} worker(s) on lcores {lcores} (lcore@cpu), net_null ports ({nq} queue pair(s) each), steering {:?}, 64-byte TCP frames, {} packets per established scenario",
        cli.steer, cli.packets
    );
    if let Some(io) = ios.first_mut() {
        let io_ns = io_loop(io, None, 0, cli.packets);
        println!(
            "rvs io loop (worker 0: rx net_null0 -> tx net_null1, no dataplane): {io_ns:.1} ns/pkt = {:.1} Mpps",
            1000.0 / io_ns
        );
    }
    let wanted = |name: &str| !matches!(cli.only.as_deref(), Some(o) if o != name);
    let mut combos = Vec::new();
    for &mode in &modes {
        for &n in &cli.sessions {
            let m = mode.name();
            let names = [
                format!("{m}_new_{n}"),
                format!("{m}_in_{n}"),
                format!("{m}_out_{n}"),
            ];
            let want = [
                wanted(&names[0]),
                wanted(&names[1]),
                mode.has_replies() && wanted(&names[2]),
            ];
            if want.iter().any(|&x| x) {
                combos.push(Combo {
                    mode,
                    n,
                    names,
                    want,
                });
            }
        }
    }
    let shared = Arc::new(Shared {
        workers: nw,
        steer: cli.steer,
        seed: cli.seed,
        packets: cli.packets,
        macs,
        barrier: Barrier::new(nw),
        done: AtomicUsize::new(0),
        live: AtomicUsize::new(0),
        setup_drops: AtomicU64::new(0),
        replies: Mutex::new(Vec::new()),
        stats: Mutex::new(Vec::new()),
    });
    // One hand-off mesh per combo (a worker consumes its ends), transposed to per-worker lists.
    let mut per_worker: Vec<Vec<Handoff<DpdkBuf>>> = (0..nw).map(|_| Vec::new()).collect();
    for _ in &combos {
        let depth = if nw == 1 { 64 } else { HANDOFF_DEPTH };
        for (i, h) in handoff_mesh(nw, depth).into_iter().enumerate() {
            per_worker[i].push(h);
        }
    }
    let mut threads: Vec<Thread> = ios
        .into_iter()
        .zip(per_worker)
        .enumerate()
        .map(|(i, (io, meshes))| Thread {
            index: i,
            lcore: lcore_ids[i],
            shared: Arc::clone(&shared),
            io: Some(io),
            meshes,
            phase: 0,
        })
        .collect();
    let mut main_thread = threads.remove(0);
    for mut t in threads {
        let combos = combos.clone();
        let lcore = t.lcore;
        eal.launch(
            lcore,
            Box::new(move || {
                if let Err(e) = t.run(&combos, None) {
                    // The other workers wait for this one at the next barrier: end the process.
                    eprintln!("rvs-bench: worker {}: {e:#}", t.index);
                    std::process::exit(1);
                }
                drop(t);
            }),
        )
        .with_context(|| format!("launching worker on lcore {lcore}"))?;
    }
    let mut report = Report::default();
    main_thread.run(&combos, Some(&mut report))?;
    for &l in &lcore_ids[1..nw] {
        eal.wait(l)?;
    }
    if let Some(e) = &report.error {
        bail!("{e}");
    }
    for (name, per, secs) in &report.mem {
        println!("memory {name}: {per:.0} bytes per session (RSS with the sessions minus before the workers); set-up {secs:.1} s");
    }
    let mut refs: Vec<(&str, f64)> = Vec::new();
    if cli.only.is_none() && cli.testpmd_secs > 0 {
        for fwd in ["io", "macswap"] {
            match testpmd(fwd, cli.testpmd_secs, cli.mem_mb, &cpus) {
                Ok(mpps) => {
                    println!(
                        "testpmd {fwd} (net_null{}, {nw} forwarding core(s)): {mpps:.1} Mpps",
                        if fwd == "io" { "" } else { ",copy=1" }
                    );
                    refs.push((fwd, mpps));
                }
                Err(e) => println!("testpmd {fwd}: {e:#}"),
            }
        }
        println!(
            "{:<22} {:>11} {:>9} {:>9}   ratio (forwarded, all workers) to testpmd with {nw} core(s), same invocation",
            "scenario", "Mpps/worker", "Mpps all", "forwarded"
        );
        for r in &report.rows {
            let ratios: Vec<String> = refs
                .iter()
                .map(|(f, mpps)| format!("{:.3} of testpmd {f}", r.mpps_fwd_total() / mpps))
                .collect();
            println!(
                "{:<22} {:>11.2} {:>9.2} {:>9.2}   {}",
                r.name,
                r.mpps(),
                r.mpps_total(),
                r.mpps_fwd_total(),
                ratios.join(", ")
            );
        }
    }
    if let Some(p) = &cli.out {
        write_csv(p, &report.rows, &refs, &cli)?;
        println!("results written to {}", p.display());
    }
    drop(main_thread);
    for p in &ports {
        let _ = p.dev.stop();
        let _ = p.dev.close();
    }
    drop(ports);
    drop(pool);
    drop(eal);
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    Ok(())
}
