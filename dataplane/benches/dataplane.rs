//! Criterion benches of the dataplane's pieces and of one full burst through `Worker<MemIo>`.
//!
//! Quick by design (10 samples, short measurement): `cargo bench -p rvs-dataplane
//! --no-default-features --bench dataplane`. Not run by `cargo test`; `clippy --all-targets` only
//! compiles it. The traffic is [`rvs_dataplane::loadgen`]'s, as in `rvs-bench` and the callgrind
//! script, so figures compare across the three.
//!
//! - `wire/*`: parse and validate a 64-byte TCP frame (Ethernet, IPv4 with checksum, TCP).
//! - `checksum/*`: a whole IPv4 header sum, and the RFC 1624 updates of a NAT rewrite.
//! - `session/*`: lookup of a random live key and insert+remove churn with 1 k and 1 M sessions.
//! - `burst/*`: 32 frames through `Worker::poll_once` (rx, pipeline, LbCtx, neighbour, tx): NAT and
//!   FULLNAT established flows in both directions (1 k sessions; 1 M for the client direction) and
//!   the new-flow path (SYNs of flows never seen; time advances 2 s per burst so SYN_RECV sessions
//!   expire and the table stays small: new flows plus their expiry, the steady state).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvs_dataplane::checksum;
use rvs_dataplane::loadgen::{self, Generator, LbMode, Traffic, FRAME_LEN, MEM_PORT_MACS};
use rvs_dataplane::port::{MemIo, PacketBuf, VecBuf, BURST};
use rvs_dataplane::service::{DestCounters, TrafficCounters};
use rvs_dataplane::session::table::SessionTable;
use rvs_dataplane::session::{Dir, FlowKey, Session};
use rvs_dataplane::wire::ethernet::EthernetFrame;
use rvs_dataplane::wire::ipv4::Ipv4Packet;
use rvs_dataplane::wire::tcp::TcpPacket;
use rvs_dataplane::worker::{handoff_mesh, Worker, WorkerMsg};

const NOW_MS: u64 = 10_000;

fn frame(traffic: Traffic) -> Vec<u8> {
    let mut g = Generator::new(traffic, MEM_PORT_MACS, 1);
    let mut f = vec![0u8; FRAME_LEN];
    g.fill(&mut f);
    f
}

fn wire(c: &mut Criterion) {
    let f = frame(Traffic::In { n: 1 });
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_eth_ipv4_tcp", |b| {
        b.iter(|| {
            let f = black_box(&f[..]);
            let eth = EthernetFrame::new_checked(f).unwrap();
            let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            (
                eth.ethertype(),
                ip.verify_checksum(),
                ip.src(),
                ip.dst(),
                tcp.src_port(),
                tcp.dst_port(),
                tcp.flags(),
            )
        })
    });
    g.finish();
}

fn checksums(c: &mut Criterion) {
    let f = frame(Traffic::In { n: 1 });
    let mut g = c.benchmark_group("checksum");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ipv4_header_full", |b| {
        b.iter(|| checksum::checksum(black_box(&f[14..34])))
    });
    // A NAT rewrite of the destination: address in the IP header, address and port in TCP's.
    g.bench_function("nat_rewrite_incremental", |b| {
        b.iter(|| {
            let (ipc, tcpc, old, new) =
                black_box((0x1234u16, 0x4321u16, 0x0a0a_0064u32, 0x0a0a_0102));
            let ipc = checksum::update32(ipc, old, new);
            let tcpc = checksum::update32(tcpc, old, new);
            let tcpc = checksum::update16(tcpc, 80, 8080);
            (ipc, tcpc)
        })
    });
    g.finish();
}

fn dest() -> Arc<DestCounters> {
    Arc::new(DestCounters::new(
        Arc::new(TrafficCounters::default()),
        0,
        0,
    ))
}

fn session(k: u32, dc: &Arc<DestCounters>) -> Session {
    Session::new(
        6,
        loadgen::flow_client(k),
        (loadgen::VIP, loadgen::VPORT),
        (loadgen::rs_ip((k % 8) as u8), loadgen::RPORT),
        None,
        Arc::clone(dc),
    )
}

fn sessions(c: &mut Criterion) {
    let mut g = c.benchmark_group("session");
    g.throughput(Throughput::Elements(1));
    let dc = dest();
    for n in [1_000u32, 1_000_000] {
        let mut t = SessionTable::new(n as usize + 1);
        let keys: Vec<FlowKey> = (0..n)
            .map(|k| {
                let s = session(k, &dc);
                let key = s.key(Dir::In);
                t.insert(s).unwrap();
                key
            })
            .collect();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        g.bench_with_input(BenchmarkId::new("lookup", n), &n, |b, &n| {
            b.iter(|| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let k = ((rng >> 32) * u64::from(n)) >> 32;
                t.lookup(black_box(&keys[k as usize]))
            })
        });
        let mut next = n;
        g.bench_with_input(BenchmarkId::new("insert_remove", n), &n, |b, _| {
            b.iter(|| {
                let id = t.insert(session(next, &dc)).unwrap();
                next = next.wrapping_add(1) % 8_000_000;
                t.remove(black_box(id))
            })
        });
    }
    g.finish();
}

/// A worker over in-memory ports with the lab's rules, neighbours learned, and `n` established
/// sessions (flows `0..n`).
fn lab_worker(mode: LbMode, n: u32) -> Worker<MemIo> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let h = handoff_mesh(1, 64).into_iter().next().unwrap();
    let max = (n as usize).max(1 << 16);
    let mut w = Worker::new(
        loadgen::worker_conf(MEM_PORT_MACS, max),
        MemIo::new(2),
        rx,
        h,
    )
    .unwrap();
    let (ack, acked) = crossbeam_channel::bounded(1);
    let rules = loadgen::rules(mode, max).unwrap();
    tx.send(WorkerMsg::Snapshot(rules.snapshot(), ack)).unwrap();
    w.poll_once(NOW_MS);
    acked.try_recv().unwrap();
    for (port, f) in loadgen::neighbour_frames() {
        w.io_mut().rx[usize::from(port)].push_back(VecBuf::from_slice(&f));
    }
    w.poll_once(NOW_MS);
    clear_tx(&mut w);
    run(&mut w, Traffic::SynInOrder { n }, u64::from(n));
    run(&mut w, Traffic::AckInOrder { n }, u64::from(n));
    assert_eq!(w.pipeline().lb.sessions_live(), n as usize);
    w
}

fn clear_tx(w: &mut Worker<MemIo>) {
    for q in &mut w.io_mut().tx {
        q.clear();
    }
}

/// Send `count` frames of `traffic` through `w` (untimed set-up).
fn run(w: &mut Worker<MemIo>, traffic: Traffic, count: u64) {
    let mut g = Generator::new(traffic, MEM_PORT_MACS, 1);
    let port = usize::from(g.port());
    let mut left = count;
    let mut buf = [0u8; FRAME_LEN];
    while left > 0 {
        for _ in 0..left.min(BURST as u64) {
            let n = g.fill(&mut buf);
            w.io_mut().rx[port].push_back(VecBuf::from_slice(&buf[..n]));
        }
        left -= left.min(BURST as u64);
        w.poll_once(NOW_MS);
        clear_tx(w);
    }
}

/// Time `poll_once` over bursts of 32 frames of `g` (frames built outside the timing); `step_ms` is
/// added to the clock per burst. Checks that every frame was sent.
fn time_bursts(
    w: &mut Worker<MemIo>,
    g: &mut Generator,
    iters: u64,
    step_ms: u64,
    now: &mut u64,
) -> Duration {
    let port = usize::from(g.port());
    let mut total = Duration::ZERO;
    let mut buf = [0u8; FRAME_LEN];
    for i in 0..iters {
        if step_ms > 0 && i % 64 == 0 {
            // Keep the neighbours reachable while the clock runs (untimed).
            for (p, f) in loadgen::neighbour_frames() {
                w.io_mut().rx[usize::from(p)].push_back(VecBuf::from_slice(&f));
            }
            w.poll_once(*now);
            clear_tx(w);
        }
        for _ in 0..BURST {
            let n = g.fill(&mut buf);
            w.io_mut().rx[port].push_back(VecBuf::from_slice(&buf[..n]));
        }
        let t0 = Instant::now();
        let handled = w.poll_once(*now);
        total += t0.elapsed();
        *now += step_ms;
        assert_eq!(handled, BURST);
        let sent: usize = w.io().tx.iter().map(Vec::len).sum();
        assert_eq!(sent, BURST, "every frame forwarded");
        let first = w.io().tx.iter().flatten().next().map(|b| b.data().len());
        black_box(first);
        clear_tx(w);
    }
    total
}

fn bursts(c: &mut Criterion) {
    let mut g = c.benchmark_group("burst");
    g.throughput(Throughput::Elements(BURST as u64));
    for (mode, n) in [
        (LbMode::Nat, 1_000u32),
        (LbMode::FullNat, 1_000),
        (LbMode::Nat, 1_000_000),
        (LbMode::FullNat, 1_000_000),
    ] {
        let mut w = lab_worker(mode, n);
        let mut conns = Vec::new();
        w.pipeline().lb.conns(NOW_MS, 0, &mut conns);
        let replies = loadgen::replies(&conns, n);
        drop(conns);
        let mut now = NOW_MS;
        let mut gin = Generator::new(Traffic::In { n }, MEM_PORT_MACS, 2);
        g.bench_function(format!("{}_in_{n}", mode.name()), |b| {
            b.iter_custom(|iters| time_bursts(&mut w, &mut gin, iters, 0, &mut now))
        });
        if n <= 1_000 {
            let mut gout = Generator::new(Traffic::Out { replies }, MEM_PORT_MACS, 3);
            g.bench_function(format!("{}_out_{n}", mode.name()), |b| {
                b.iter_custom(|iters| time_bursts(&mut w, &mut gout, iters, 0, &mut now))
            });
        }
    }
    for mode in [LbMode::Nat, LbMode::FullNat] {
        let mut w = lab_worker(mode, 0);
        let mut now = NOW_MS;
        let mut gnew = Generator::new(Traffic::NewFlows { next: 0 }, MEM_PORT_MACS, 4);
        g.bench_function(format!("{}_new_flows", mode.name()), |b| {
            b.iter_custom(|iters| time_bursts(&mut w, &mut gnew, iters, 2_000, &mut now))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = wire, checksums, sessions, bursts
}
criterion_main!(benches);
