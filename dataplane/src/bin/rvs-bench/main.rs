//! rvs-bench: the real dataplane in one process, on DPDK `net_null` ports, against dpdk-testpmd.
//!
//! What runs is rvsd's code: the EAL, an mbuf pool, two `net_null` ports brought up by rvsd's
//! `setup_port`, rvsd's `DpdkIo`, and `Worker::poll_once` (pipeline, LbCtx, sessions, neighbour
//! resolution, tx buffering) on the main lcore. The only addition is [`GenIo`], a `WorkerIo` that
//! wraps `DpdkIo` and writes a generated frame ([`rvs_dataplane::loadgen`]) into each mbuf that
//! `net_null` hands out on rx: it stands for the NIC writing a received frame. Its cost is measured
//! separately on the same traffic (rx, write, tx without the worker) and subtracted; what is left,
//! "dataplane ns/packet", includes the mbuf rx/tx work, as testpmd's figures do.
//!
//! Scenarios, per mode (NAT, FULLNAT) and session count: `new` (first packets: SYNs of flows `0..n`
//! into an empty table: schedule, local port for FULLNAT, session insert), then the sessions are
//! established (one ACK each), then `in` (client ACKs, random flow order) and `out` (real-server
//! ACKs, random order) for `--packets` packets each. After them: dpdk-testpmd `io` and `macswap` on
//! the same kind of ports (subprocess, its own `--file-prefix`, lcores 0-1), and our rates as a ratio
//! of theirs. Session memory is the process RSS with the sessions minus before the worker existed.
//!
//! `--only NAME` runs one scenario (for `bench/callgrind.sh`, which counts instructions inside
//! [`measured_run`], less those of [`gen_fill`] called from it).
#![forbid(unsafe_code)]

#[path = "../rvsd/dpdk_io.rs"]
mod dpdk_io;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use dpdk_io::{DpdkBuf, DpdkIo};
use rvs_dataplane::loadgen::{self, Generator, LbMode, Traffic};
use rvs_dataplane::port::{PacketBuf, TxOffloadCaps, WorkerIo};
use rvs_dataplane::worker::{handoff_mesh, Worker, WorkerMsg};
use rvs_ffi::{Eal, Mempool};

/// The clock given to the worker: fixed, so no session or neighbour expires during a run.
const NOW_MS: u64 = 10_000;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "rvs-bench",
    about = "rvs dataplane benchmark on DPDK net_null ports, with dpdk-testpmd as the reference"
)]
struct Cli {
    /// Packets per established-flow scenario.
    #[arg(long, default_value_t = 5_000_000)]
    packets: u64,
    /// Session counts (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    sessions: Vec<u32>,
    /// Modes (nat, fullnat, dr; comma-separated). DR has no `out` scenario.
    #[arg(long, value_delimiter = ',', default_value = "nat,fullnat")]
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
}

/// `DpdkIo` plus a frame generator on one port's rx (see the module doc).
struct GenIo {
    io: Rc<RefCell<DpdkIo>>,
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
        self.io.borrow().n_ports()
    }

    fn rx_burst(&mut self, port: u16, out: &mut Vec<DpdkBuf>) -> usize {
        let Some(g) = self.gen.as_mut() else {
            return 0;
        };
        if self.left == 0 || g.port() != port {
            return 0;
        }
        let start = out.len();
        let n = self.io.borrow_mut().rx_burst(port, out);
        let keep = n.min(usize::try_from(self.left).unwrap_or(usize::MAX));
        out.truncate(start + keep);
        for b in &mut out[start..] {
            gen_fill(g, b);
        }
        self.left -= keep as u64;
        keep
    }

    fn tx_burst(&mut self, port: u16, bufs: &mut Vec<DpdkBuf>) -> usize {
        self.io.borrow_mut().tx_burst(port, bufs)
    }

    fn alloc(&mut self) -> Option<DpdkBuf> {
        self.io.borrow_mut().alloc()
    }

    fn tx_offload(&self, port: u16) -> TxOffloadCaps {
        self.io.borrow().tx_offload(port)
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

/// A worker over `io` with the lab's rules for `mode` and `n` sessions, neighbours learned.
fn lab_worker(
    io: &Rc<RefCell<DpdkIo>>,
    macs: [[u8; 6]; 2],
    mode: LbMode,
    n: u32,
) -> anyhow::Result<Worker<GenIo>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let h = handoff_mesh(1, 64)
        .into_iter()
        .next()
        .context("hand-off mesh")?;
    let max = (n as usize).max(1024);
    let gio = GenIo {
        io: Rc::clone(io),
        gen: None,
        left: 0,
    };
    let mut w = Worker::new(loadgen::worker_conf(macs, max), gio, rx, h)?;
    let rules = loadgen::rules(mode, max)?;
    let (ack, acked) = crossbeam_channel::bounded(1);
    tx.send(WorkerMsg::Snapshot(rules.snapshot(), ack))?;
    w.poll_once(NOW_MS);
    acked.try_recv().context("snapshot not installed")?;
    for (port, f) in loadgen::neighbour_frames() {
        let frames = Arc::new(vec![f]);
        w.io_mut()
            .start(Generator::new(Traffic::Frames { port, frames }, macs, 0), 1);
        w.poll_once(NOW_MS);
    }
    w.poll_once(NOW_MS);
    Ok(w)
}

/// What one run did.
struct RunStats {
    packets: u64,
    secs: f64,
    sent: u64,
    dropped: u64,
}

/// Poll the worker until the generator has handed out `count` frames.
#[inline(always)]
fn drive(w: &mut Worker<GenIo>, gen: Generator, count: u64) -> RunStats {
    let tx0 = w.counters().tx_packets;
    let d0: u64 = w.counters().drops.iter().sum();
    w.io_mut().start(gen, count);
    let t0 = Instant::now();
    while w.io().left > 0 {
        w.poll_once(NOW_MS);
    }
    w.poll_once(NOW_MS);
    let secs = t0.elapsed().as_secs_f64();
    RunStats {
        packets: count,
        secs,
        sent: w.counters().tx_packets - tx0,
        dropped: w.counters().drops.iter().sum::<u64>() - d0,
    }
}

/// [`drive`] for a measured scenario (what `bench/callgrind.sh` counts).
#[inline(never)]
fn measured_run(w: &mut Worker<GenIo>, gen: Generator, count: u64) -> RunStats {
    drive(w, gen, count)
}

/// [`drive`] for set-up traffic (not counted).
#[inline(never)]
fn setup_run(w: &mut Worker<GenIo>, gen: Generator, count: u64) -> RunStats {
    drive(w, gen, count)
}

/// rx from `net_null`, optionally write the generator's frames, tx on the other port: our own
/// "testpmd io", and the generator's cost. Returns ns per packet.
fn io_loop(io: &Rc<RefCell<DpdkIo>>, mut gen: Option<Generator>, port: u16, count: u64) -> f64 {
    let mut v: Vec<DpdkBuf> = Vec::with_capacity(64);
    let mut left = count;
    let t0 = Instant::now();
    while left > 0 {
        let mut io = io.borrow_mut();
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
    t0.elapsed().as_secs_f64() * 1e9 / count as f64
}

/// One result line.
struct Row {
    name: String,
    packets: u64,
    total_ns: f64,
    gen_ns: f64,
    dropped: u64,
}

impl Row {
    fn dp_ns(&self) -> f64 {
        (self.total_ns - self.gen_ns).max(0.001)
    }
    fn mpps(&self) -> f64 {
        1000.0 / self.dp_ns()
    }
}

fn run_scenario(
    w: &mut Worker<GenIo>,
    io: &Rc<RefCell<DpdkIo>>,
    name: String,
    gen: Generator,
    count: u64,
) -> anyhow::Result<Row> {
    let port = gen.port();
    let gen_ns = io_loop(io, Some(gen.clone()), port, count) - io_loop(io, None, port, count);
    let r = measured_run(w, gen, count);
    if r.sent + r.dropped != r.packets {
        bail!(
            "{name}: {} packets in, {} sent, {} dropped",
            r.packets,
            r.sent,
            r.dropped
        );
    }
    let row = Row {
        name,
        packets: count,
        total_ns: r.secs * 1e9 / count as f64,
        gen_ns: gen_ns.max(0.0),
        dropped: r.dropped,
    };
    println!(
        "{:<22} {:>9} pkts  total {:>7.1} ns/pkt  gen {:>5.1}  dataplane {:>7.1} ns/pkt  {:>6.2} Mpps  drops {}",
        row.name,
        row.packets,
        row.total_ns,
        row.gen_ns,
        row.dp_ns(),
        row.mpps(),
        row.dropped
    );
    Ok(row)
}

/// Runs dpdk-testpmd in `fwd` mode over two net_null ports (`copy=1` for macswap, which reads the
/// frames) and returns its forwarding rate in Mpps (Rx-pps of both ports over `secs`).
fn testpmd(fwd: &str, secs: u64, mem_mb: u32) -> anyhow::Result<f64> {
    let prefix = format!("rvs-bench-tp-{}", std::process::id());
    let copy = if fwd == "io" { "" } else { ",copy=1" };
    let mut child = Command::new("dpdk-testpmd")
        .args([
            "-l",
            "0-1",
            "--no-huge",
            "-m",
            &mem_mb.to_string(),
            "--no-pci",
        ])
        .args(["--file-prefix", &prefix, "--log-level", "lib.eal:error"])
        .arg(format!("--vdev=net_null0{copy}"))
        .arg(format!("--vdev=net_null1{copy}"))
        .args(["--", "-i", "--total-num-mbufs=8192"])
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let modes: Vec<LbMode> = cli
        .modes
        .iter()
        .map(|m| LbMode::from_name(m).with_context(|| format!("unknown mode {m}")))
        .collect::<anyhow::Result<_>>()?;
    let prefix = format!("rvs-bench-{}", std::process::id());
    let mem = cli.mem_mb.to_string();
    let eal = Eal::init(&[
        "-l",
        "0",
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
    let pool = Arc::new(Mempool::new(
        &eal,
        "rvs_bench",
        8191,
        256,
        Mempool::DEFAULT_DATA_ROOM,
        Mempool::SOCKET_ANY,
    )?);
    let mut ports = vec![
        dpdk_io::setup_port(&eal, "net_null0", 1, &pool, 0)?,
        dpdk_io::setup_port(&eal, "net_null1", 1, &pool, 0)?,
    ];
    let macs = [ports[0].mac, ports[1].mac];
    let io = Rc::new(RefCell::new(
        dpdk_io::worker_ios(&mut ports, 1, &pool)?
            .pop()
            .context("no queues")?,
    ));
    println!(
        "rvs-bench: 1 worker on the main lcore, net_null ports, 64-byte TCP frames, {} packets per established scenario",
        cli.packets
    );
    let io_ns = io_loop(&io, None, 0, cli.packets);
    println!(
        "rvs io loop (rx net_null0 -> tx net_null1, no dataplane): {io_ns:.1} ns/pkt = {:.1} Mpps",
        1000.0 / io_ns
    );
    let wanted = |name: &str| !matches!(cli.only.as_deref(), Some(o) if o != name);
    let mut rows = Vec::new();
    let mut mem_rows = Vec::new();
    for &mode in &modes {
        for &n in &cli.sessions {
            let m = mode.name();
            let names = [
                format!("{m}_new_{n}"),
                format!("{m}_in_{n}"),
                format!("{m}_out_{n}"),
            ];
            if !names.iter().any(|s| wanted(s)) {
                continue;
            }
            let rss0 = rss_bytes();
            let mut w = lab_worker(&io, macs, mode, n)?;
            let g = Generator::new(Traffic::SynInOrder { n }, macs, cli.seed);
            if wanted(&names[0]) {
                rows.push(run_scenario(
                    &mut w,
                    &io,
                    names[0].clone(),
                    g,
                    u64::from(n),
                )?);
            } else {
                setup_run(&mut w, g, u64::from(n));
            }
            let g = Generator::new(Traffic::AckInOrder { n }, macs, cli.seed);
            let r = setup_run(&mut w, g, u64::from(n));
            let live = w.pipeline().lb.sessions_live();
            if live != n as usize || r.dropped != 0 {
                bail!(
                    "{m}: {live} sessions live of {n}, {} set-up drops",
                    r.dropped
                );
            }
            let per = (rss_bytes().saturating_sub(rss0)) as f64 / f64::from(n);
            mem_rows.push((format!("{m}_{n}"), per));
            if wanted(&names[1]) {
                let g = Generator::new(Traffic::In { n }, macs, cli.seed);
                rows.push(run_scenario(&mut w, &io, names[1].clone(), g, cli.packets)?);
            }
            if mode != LbMode::Dr && wanted(&names[2]) {
                let mut conns = Vec::new();
                w.pipeline().lb.conns(NOW_MS, 0, &mut conns);
                let replies = loadgen::replies(&conns, n);
                drop(conns);
                let g = Generator::new(Traffic::Out { replies }, macs, cli.seed);
                rows.push(run_scenario(&mut w, &io, names[2].clone(), g, cli.packets)?);
            }
        }
    }
    for (name, per) in &mem_rows {
        println!("memory {name}: {per:.0} bytes per session (RSS with the sessions minus before the worker)");
    }
    if cli.only.is_none() && cli.testpmd_secs > 0 {
        let mut refs = Vec::new();
        for fwd in ["io", "macswap"] {
            match testpmd(fwd, cli.testpmd_secs, cli.mem_mb) {
                Ok(mpps) => {
                    println!(
                        "testpmd {fwd} (net_null{}): {mpps:.1} Mpps",
                        if fwd == "io" { "" } else { ",copy=1" }
                    );
                    refs.push((fwd, mpps));
                }
                Err(e) => println!("testpmd {fwd}: {e:#}"),
            }
        }
        println!("{:<22} {:>8} {:>10}", "scenario", "Mpps", "ratio");
        for r in &rows {
            let ratios: Vec<String> = refs
                .iter()
                .map(|(f, mpps)| format!("{:.3} of testpmd {f}", r.mpps() / mpps))
                .collect();
            println!("{:<22} {:>8.2}   {}", r.name, r.mpps(), ratios.join(", "));
        }
    }
    drop(io);
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
