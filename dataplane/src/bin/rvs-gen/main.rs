//! rvs-gen: rvs's own packet generator, for what dpdk-testpmd cannot do: many UDP flows to a VIP,
//! SYN floods with random sources, and full TCP connections (handshake, request, response, close
//! with FIN both ways) against a stateless responder standing in for the real servers.
//!
//! One DPDK process, one lcore, two ports: `--client-dev` faces the balancer's client port (the
//! clients), `--server-dev` its real-server port (the responder answers ARP for the real-server
//! addresses, SYN with a cookie SYN-ACK, request with response + FIN, FIN with ACK, and counts UDP).
//! The traffic logic is [`rvs_dataplane::trafgen`] (tested against a real worker in process); this
//! binary adds the EAL, the ports (rvsd's `setup_port`/`DpdkIo`), the clock, the bounds and the
//! report.
//!
//! A run: EAL, ports -> announce the client and server addresses to the balancer and wait until it
//! answered the VIP (bounded by `--resolve-ms`) -> send for `--duration` seconds or `--count`
//! connections/datagrams/SYNs, paced at `--rate` per second -> drain for at most `--drain-ms` while
//! open connections finish -> time out what is left -> report (`key=value` words, one line per
//! topic, for scripts). SIGINT/SIGTERM end the sending phase early. Every loop is bounded in time.
#![forbid(unsafe_code)]

#[path = "../rvsd/dpdk_io.rs"]
mod dpdk_io;

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use dpdk_io::DpdkIo;
use rvs_dataplane::trafgen::client::{Client, ClientConf, ClientMode, MAX_CONCURRENCY};
use rvs_dataplane::trafgen::driver::Driver;
use rvs_dataplane::trafgen::responder::{Responder, ResponderConf};
use rvs_dataplane::trafgen::{AddrRange, Histogram};
use rvs_ffi::{Eal, Mempool};

/// Set by SIGINT/SIGTERM: ends the sending phase.
static STOP: AtomicBool = AtomicBool::new(false);

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// UDP datagrams over `--flows` flows.
    Udp,
    /// SYNs from random client addresses and ports.
    Syn,
    /// Full TCP connections.
    Tcp,
}

/// Command line; EAL arguments follow `--`.
#[derive(Debug, Parser)]
#[command(
    name = "rvs-gen",
    about = "rvs packet generator: UDP flows, SYN flood, full TCP connections against a stateless responder",
    after_help = "EAL arguments follow `--`, e.g. -- -l 0 --in-memory --no-pci"
)]
struct Cli {
    /// Traffic mode.
    #[arg(long, value_enum, default_value = "tcp")]
    mode: Mode,
    /// Device of the client side (a vdev such as net_virtio_user0,path=...).
    #[arg(long)]
    client_dev: String,
    /// Device of the real-server side.
    #[arg(long)]
    server_dev: String,
    /// The VIP.
    #[arg(long, default_value = "10.10.0.100")]
    vip: Ipv4Addr,
    /// The virtual port.
    #[arg(long, default_value_t = 80)]
    vport: u16,
    /// First client address (on the balancer's client subnet).
    #[arg(long, default_value = "10.10.0.2")]
    client_ip: Ipv4Addr,
    /// Number of client addresses.
    #[arg(long, default_value_t = 16)]
    clients: u32,
    /// First real-server address the responder stands for.
    #[arg(long, default_value = "10.10.1.2")]
    server_ip: Ipv4Addr,
    /// Number of real-server addresses.
    #[arg(long, default_value_t = 1)]
    servers: u32,
    /// The balancer's address on the real-server side (asked for by each server address at start).
    #[arg(long, default_value = "10.10.1.1")]
    lb_server_addr: Ipv4Addr,
    /// New connections (tcp) or packets (udp, syn) per second; 0 = as fast as the ports take.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Stop after this many connections (tcp) or packets (udp, syn); 0 = only the duration bounds.
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// Seconds of sending (the upper bound of the sending phase).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Open connections at most (tcp).
    #[arg(long, default_value_t = 4096)]
    concurrency: u32,
    /// A connection not done after this many ms is timed out (tcp).
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Most ms to wait after sending for open connections to finish.
    #[arg(long, default_value_t = 2000)]
    drain_ms: u64,
    /// Most ms to wait for the balancer to answer ARP for the VIP.
    #[arg(long, default_value_t = 5000)]
    resolve_ms: u64,
    /// UDP flows.
    #[arg(long, default_value_t = 1000)]
    flows: u32,
    /// UDP frame length in bytes (60..=1514).
    #[arg(long, default_value_t = 64)]
    frame_len: usize,
    /// mbufs in the pool.
    #[arg(long, default_value_t = 16383)]
    mbufs: u32,
    /// Seed of the SYN flood's random sources and of the cookies.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print a progress line every second.
    #[arg(long)]
    progress: bool,
    /// EAL arguments.
    #[arg(last = true)]
    eal: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rvs-gen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(cli: &Cli) -> anyhow::Result<()> {
    if cli.clients == 0 || cli.servers == 0 {
        bail!("--clients and --servers must be at least 1");
    }
    if cli.concurrency == 0 || cli.concurrency > MAX_CONCURRENCY {
        bail!("--concurrency must be 1..={MAX_CONCURRENCY}");
    }
    if !(60..=1514).contains(&cli.frame_len) {
        bail!("--frame-len must be 60..=1514");
    }
    if !(cli.duration > 0.0 && cli.duration <= 3600.0) {
        bail!("--duration must be in (0, 3600] seconds");
    }
    if cli.flows == 0 || cli.flows > 1 << 24 {
        bail!("--flows must be 1..=16777216");
    }
    Ok(())
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn percentiles(h: &Histogram) -> String {
    format!(
        "n={} p50_us={} p90_us={} p99_us={} p999_us={} max_us={}",
        h.count(),
        us(h.percentile(50.0)),
        us(h.percentile(90.0)),
        us(h.percentile(99.0)),
        us(h.percentile(99.9)),
        us(h.max())
    )
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    check(cli)?;
    rvs_ffi::signals::install_stop_flag(&STOP).context("installing signal handlers")?;
    let mut eal_args = vec!["rvs-gen".to_string()];
    eal_args.extend(cli.eal.iter().cloned());
    let eal = Eal::init(&eal_args[1..]).context("EAL initialisation")?;
    let pool = Arc::new(
        Mempool::new(
            &eal,
            "rvsgen_mbufs",
            cli.mbufs,
            256,
            Mempool::DEFAULT_DATA_ROOM,
            Mempool::SOCKET_ANY,
        )
        .context("creating the mbuf pool")?,
    );
    let mut ports = Vec::with_capacity(2);
    for dev in [&cli.client_dev, &cli.server_dev] {
        ports.push(
            dpdk_io::setup_port(&eal, dev, 1, &pool, 0).with_context(|| format!("port {dev}"))?,
        );
    }
    let macs = [ports[0].mac, ports[1].mac];
    let io = dpdk_io::worker_ios(&mut ports, 1, &pool)
        .context("port queues")?
        .pop()
        .context("no queues")?;
    let mode = match cli.mode {
        Mode::Udp => ClientMode::Udp {
            flows: cli.flows,
            frame_len: cli.frame_len,
        },
        Mode::Syn => ClientMode::SynFlood,
        Mode::Tcp => ClientMode::Tcp {
            concurrency: cli.concurrency,
            timeout_ns: cli.timeout_ms.saturating_mul(1_000_000),
        },
    };
    let client = Client::new(ClientConf {
        vip: (cli.vip, cli.vport),
        clients: AddrRange {
            first: cli.client_ip,
            count: cli.clients,
        },
        mac: macs[0],
        mode,
        seed: cli.seed,
    });
    let responder = Responder::new(ResponderConf {
        servers: AddrRange {
            first: cli.server_ip,
            count: cli.servers,
        },
        mac: macs[1],
        secret: cli.seed.wrapping_mul(0x5851_f42d_4c95_7f2d) ^ 0x00c0_ffee,
        udp_flows: if cli.mode == Mode::Udp { cli.flows } else { 0 },
    });
    let mut d: Driver<DpdkIo> = Driver::new(io, client, responder);
    let t0 = Instant::now();
    let ns = |t: Instant| t.duration_since(t0).as_nanos() as u64;

    // Resolve the VIP and let the balancer learn our addresses.
    d.announce(cli.lb_server_addr);
    let resolve_by = t0 + Duration::from_millis(cli.resolve_ms);
    let mut settle_until = None;
    loop {
        let now = Instant::now();
        d.poll(ns(now));
        if d.client.peer().is_some() && settle_until.is_none() {
            settle_until = Some(now + Duration::from_millis(50));
        }
        if settle_until.is_some_and(|t| now >= t) {
            break;
        }
        if now >= resolve_by || STOP.load(Ordering::Relaxed) {
            bail!(
                "the balancer did not answer ARP for the VIP {} within {} ms",
                cli.vip,
                cli.resolve_ms
            );
        }
    }
    let ann = d.ports();

    // Send.
    let start = Instant::now();
    d.start(ns(start), cli.rate, cli.count);
    let end_by = start + Duration::from_secs_f64(cli.duration);
    let mut next_report = start + Duration::from_secs(1);
    let (mut last_done, mut last_tx) = (0u64, 0u64);
    let mut polls = 0u64;
    let sent_end = loop {
        let now = Instant::now();
        d.poll(ns(now));
        polls += 1;
        if cli.progress && now >= next_report {
            let done = d.client.stats().completed;
            let tx = d.ports()[0].tx;
            println!(
                "rvs-gen: progress t_s={:.0} completed_per_s={} client_tx_pps={} open={}",
                now.duration_since(start).as_secs_f64(),
                done - last_done,
                tx - last_tx,
                d.client.open()
            );
            (last_done, last_tx) = (done, tx);
            next_report += Duration::from_secs(1);
        }
        if now >= end_by || d.done_sending() || STOP.load(Ordering::Relaxed) {
            break now;
        }
    };
    d.stop_sending();
    let sent_secs = sent_end.duration_since(start).as_secs_f64();
    let sent_stats = d.client.stats().clone();
    let sent_ports = d.ports();

    // Drain.
    let drain_by = sent_end + Duration::from_millis(cli.drain_ms);
    let mut quiet_since = Instant::now();
    loop {
        let now = Instant::now();
        if d.poll(ns(now)) > 0 {
            quiet_since = now;
        }
        let idle = now.duration_since(quiet_since) >= Duration::from_millis(100);
        if now >= drain_by || (d.client.open() == 0 && idle) {
            break;
        }
    }
    let left_open = d.expire_all(ns(Instant::now()));
    let end = Instant::now();
    for _ in 0..100 {
        d.poll(ns(Instant::now()));
    }

    let c = d.client.stats();
    let r = d.responder.stats();
    let p = d.ports();
    let mode = match cli.mode {
        Mode::Udp => "udp",
        Mode::Syn => "syn",
        Mode::Tcp => "tcp",
    };
    let rate = |n: u64| (n as f64 / sent_secs.max(1e-9)).round() as u64;
    println!(
        "rvs-gen: mode={mode} send_s={sent_secs:.3} total_s={:.3} polls={polls} rate_limit={} count_limit={}",
        end.duration_since(start).as_secs_f64(),
        cli.rate,
        cli.count
    );
    match cli.mode {
        Mode::Tcp => {
            println!(
                "rvs-gen: conns started={} completed={} failed={} timed_out={} left_open={left_open} unexpected={} completed_in_send={} conns_per_s={}",
                c.started,
                c.completed,
                c.failed,
                c.timed_out,
                c.unexpected,
                sent_stats.completed,
                rate(sent_stats.completed)
            );
            println!(
                "rvs-gen: latency conn {}",
                percentiles(&d.client.conn_latency)
            );
            println!(
                "rvs-gen: latency handshake {}",
                percentiles(&d.client.handshake_latency)
            );
        }
        Mode::Udp | Mode::Syn => {
            println!(
                "rvs-gen: sent packets={} pps={} flood_synacks={} unexpected={}",
                c.datagrams,
                rate(sent_stats.datagrams),
                c.flood_synacks,
                c.unexpected
            );
        }
    }
    println!(
        "rvs-gen: port client rx={} tx={} tx_dropped={} tx_pps={} rx_pps={} no_buffer={} arp_replies={} other={}",
        p[0].rx,
        p[0].tx,
        p[0].tx_dropped,
        rate(sent_ports[0].tx - ann[0].tx),
        rate(sent_ports[0].rx - ann[0].rx),
        c.no_buffer,
        c.arp_replies,
        c.other
    );
    println!(
        "rvs-gen: port server rx={} tx={} tx_dropped={} rx_pps={} tx_pps={}",
        p[1].rx,
        p[1].tx,
        p[1].tx_dropped,
        rate(sent_ports[1].rx - ann[1].rx),
        rate(sent_ports[1].tx - ann[1].tx)
    );
    println!(
        "rvs-gen: responder arp_replies={} arp_answers={} syns={} requests={} fins={} acks={} rsts={} bad_cookie={} udp_packets={} udp_flows={} other={}",
        r.arp_replies,
        r.arp_answers,
        r.syns,
        r.requests,
        r.fins,
        r.acks,
        r.rsts,
        r.bad_cookie,
        r.udp_packets,
        r.udp_flows,
        r.other
    );
    drop(d);
    for p in &ports {
        if let Err(e) = p.dev.stop() {
            eprintln!("rvs-gen: stopping port {}: {e}", p.dev.id());
        }
        let _ = p.dev.close();
    }
    Ok(())
}
