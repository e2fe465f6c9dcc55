//! rvsd: the rvs dataplane daemon.
//!
//! Start-up order: read and validate the config (errors name the key and line, exit 1) -> parse the
//! start-up rules with rvsadm's parser (errors name the file and line, exit 1) -> EAL -> mbuf pool ->
//! ports (one rx/tx queue pair per worker) -> workers (static neighbours installed in each), each launched on its lcore with its own
//! `DpdkIo`, its control channel and its ends of the hand-off mesh -> rules applied and published ->
//! gratuitous ARP -> the control socket.
//!
//! With `[control] state_file`, the file is read before the EAL starts (a damaged file stops rvsd,
//! naming the file and line); when it exists its rules replace the config's `[services]` rules
//! (`-C` then the file's lines), and from then on every change is saved to it (see
//! [`rvs_control::state`] for the format and the atomic write). The main lcore then runs the control loop until SIGINT or
//! SIGTERM, when the workers are stopped, the ports stopped and closed, and the socket removed.
#![forbid(unsafe_code)]

mod control_loop;
mod dpdk_io;

use anyhow::{bail, Context};
use clap::Parser;
use control_loop::{ControlLoop, PortDesc, PortState};
use rvs_control::ipvsadm::{self, Command};
use rvs_control::proto::{Counter, Request};
use rvs_dataplane::synproxy::SynproxyConf;
use rvs_dataplane::worker::{handoff_mesh, PortConf, RouteConf, Worker, WorkerConf, WorkerMsg};
use rvs_ffi::{Eal, Mempool};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set by SIGINT/SIGTERM; every loop of rvsd watches it.
static STOP: AtomicBool = AtomicBool::new(false);

/// Depth of each worker's hand-off ring.
const HANDOFF_DEPTH: usize = 1024;

/// Command line of rvsd.
#[derive(Debug, Parser)]
#[command(name = "rvsd", version, about = "rvs: a layer-4 load balancer on DPDK")]
struct Cli {
    /// The TOML configuration file.
    #[arg(long, short = 'c')]
    config: PathBuf,
    /// Control socket path (overrides RVS_SOCKET and the config's [control] socket).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Validate the configuration and the start-up rules, then exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RVS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rvsd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parse the config's start-up rules into requests; a bad line is reported with its origin and line.
/// The SYN cookie secret: 128 random bits from the kernel, drawn once per process.
fn cookie_secret() -> std::io::Result<[u64; 2]> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    let (lo, hi) = b.split_at(8);
    let word = |s: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(s);
        u64::from_ne_bytes(w)
    };
    Ok([word(lo), word(hi)])
}

fn startup_requests(cfg: &rvs_config::Config) -> anyhow::Result<Vec<Request>> {
    let names = ipvsadm::names::NameDb::system();
    let mut out = Vec::new();
    for line in &cfg.services.rules {
        let words: Vec<String> = line
            .text
            .split_whitespace()
            .filter(|w| *w != "ipvsadm")
            .map(String::from)
            .collect();
        match ipvsadm::parse_restore_line("rvsd", &words, names) {
            Ok(Command::Apply(req)) => out.push(req),
            Ok(_) => bail!(
                "{}:{}: not a rule (only commands that change rules may appear): {}",
                line.origin,
                line.line,
                line.text
            ),
            Err(e) => bail!("{}:{}: {}", line.origin, line.line, e.message),
        }
    }
    Ok(out)
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let cfg = rvs_config::load(&cli.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let startup = startup_requests(&cfg)?;
    if cli.check {
        println!(
            "configuration OK: {} ports, {} workers, {} rules",
            cfg.ports.len(),
            cfg.dataplane.workers.len(),
            startup.len()
        );
        return Ok(());
    }
    let saved = match &cfg.control.state_file {
        Some(p) => rvs_control::state::load(p).map_err(|e| anyhow::anyhow!("state file: {e}"))?,
        None => None,
    };
    let socket_path = cfg.socket_path(cli.socket.as_deref());
    rvs_ffi::signals::install_stop_flag(&STOP).context("installing signal handlers")?;

    let eal_args = cfg.eal_args();
    let eal = Eal::init(&eal_args[1..]).context("EAL initialisation")?;
    let n_workers = cfg.dataplane.workers.len();
    let available = eal.worker_lcores();
    for l in &cfg.dataplane.workers {
        if !available.contains(l) {
            bail!("dataplane.workers: lcore {l} is not enabled in the EAL arguments (enabled worker lcores: {available:?})");
        }
    }
    let pool = Arc::new(
        Mempool::new(
            &eal,
            "rvs_mbufs",
            cfg.dataplane.mbufs,
            256,
            Mempool::DEFAULT_DATA_ROOM,
            Mempool::SOCKET_ANY,
        )
        .context("creating the mbuf pool")?,
    );
    let n_queues = u16::try_from(n_workers).context("too many workers")?;
    let mut ports = Vec::with_capacity(cfg.ports.len());
    for p in &cfg.ports {
        let setup = dpdk_io::setup_port(&eal, &p.device, n_queues, &pool, p.mtu)
            .with_context(|| format!("port {} ({})", p.name, p.device))?;
        ports.push(setup);
    }
    let port_confs: Vec<PortConf> = cfg
        .ports
        .iter()
        .zip(&ports)
        .map(|(p, s)| PortConf {
            mac: s.mac,
            addrs: p.addresses.iter().map(|a| (a.addr, a.prefix)).collect(),
            mtu: p.mtu,
        })
        .collect();
    let routes: Vec<RouteConf> = cfg
        .routes
        .iter()
        .map(|r| RouteConf {
            dest: r.dest.addr,
            prefix: r.dest.prefix,
            via: r.via,
            port: r.port,
        })
        .collect();

    let ios = dpdk_io::worker_ios(&mut ports, n_workers, &pool)
        .context("splitting queues over workers")?;
    let mesh = handoff_mesh(n_workers, HANDOFF_DEPTH);
    let synproxy = SynproxyConf {
        mode: cfg.dataplane.synproxy,
        threshold: cfg.dataplane.synproxy_threshold,
        secret: cookie_secret().context("drawing the SYN cookie secret from /dev/urandom")?,
    };
    tracing::info!(mode = ?synproxy.mode, threshold = synproxy.threshold, "SYN proxy");
    let mut worker_tx = Vec::with_capacity(n_workers);
    for (index, ((io, handoff), &lcore_id)) in ios
        .into_iter()
        .zip(mesh)
        .zip(&cfg.dataplane.workers)
        .enumerate()
    {
        let (tx, rx) = crossbeam_channel::unbounded::<WorkerMsg>();
        let conf = WorkerConf {
            index,
            lcore_id,
            n_workers,
            ports: port_confs.clone(),
            routes: routes.clone(),
            idle_backoff_us: cfg.dataplane.idle_backoff_us,
            max_sessions: cfg.dataplane.max_sessions,
        };
        let mut worker = Worker::new(conf, io, rx, handoff)
            .with_context(|| format!("worker on lcore {lcore_id}"))?;
        worker.set_synproxy(synproxy);
        for n in &cfg.neighbours {
            if !worker.add_static_neighbour(n.port, n.ip, n.mac) {
                bail!("static neighbour {}: the neighbour table is full", n.ip);
            }
        }
        eal.launch(lcore_id, Box::new(move || worker.run(&STOP)))
            .with_context(|| format!("launching the worker on lcore {lcore_id}"))?;
        worker_tx.push(tx);
        tracing::info!(lcore = lcore_id, index, "worker started");
    }

    let devs: Vec<_> = ports.iter().map(|p| p.dev.clone()).collect();
    let port_state: control_loop::PortStateFn = Box::new(move |i| {
        let Some(dev) = devs.get(i) else {
            return PortState::default();
        };
        let (link_up, speed_mbps) = dev.link().map_or((false, 0), |l| (l.up, l.speed_mbps));
        let counters = dev.stats().map_or_else(
            |_| Vec::new(),
            |s| {
                [
                    ("rx_packets", s.ipackets),
                    ("tx_packets", s.opackets),
                    ("rx_bytes", s.ibytes),
                    ("tx_bytes", s.obytes),
                    ("rx_missed", s.imissed),
                    ("rx_errors", s.ierrors),
                    ("tx_errors", s.oerrors),
                    ("rx_nombuf", s.rx_nombuf),
                ]
                .into_iter()
                .map(|(k, v)| Counter {
                    name: k.to_string(),
                    value: v,
                })
                .collect()
            },
        );
        PortState {
            link_up,
            speed_mbps,
            counters,
        }
    });
    let port_descs: Vec<PortDesc> = cfg
        .ports
        .iter()
        .zip(&port_confs)
        .map(|(p, pc)| PortDesc {
            name: p.name.clone(),
            device: p.device.clone(),
            mac: pc.mac,
            mtu: pc.mtu,
            addrs: pc.addrs.clone(),
        })
        .collect();
    let mut control = ControlLoop::new(worker_tx, port_descs, routes, port_state);
    let startup = match saved {
        Some(mut reqs) => {
            tracing::info!(
                rules = reqs.len(),
                "rules from the state file replace the config's"
            );
            reqs.insert(0, Request::Flush);
            reqs
        }
        None => startup,
    };
    control.set_state_file(cfg.control.state_file.clone());
    let result = serve(&mut control, &startup, &socket_path);
    STOP.store(true, Ordering::SeqCst);
    drop(control);
    if let Err(e) = eal.wait_all() {
        tracing::error!(error = %e, "a worker failed");
    }
    for p in &ports {
        if let Err(e) = p.dev.stop() {
            tracing::warn!(port = p.dev.id(), error = %e, "stopping port");
        }
    }
    tracing::info!("rvsd stopped");
    result
}

/// Apply the start-up rules, open the control socket and serve until stopped.
fn serve(
    control: &mut ControlLoop,
    startup: &[Request],
    socket_path: &std::path::Path,
) -> anyhow::Result<()> {
    for req in startup {
        control
            .apply_quiet(req)
            .map_err(|e| anyhow::anyhow!("start-up rule {req:?}: {e}"))?;
    }
    control
        .publish()
        .map_err(|e| anyhow::anyhow!("publishing rules: {e}"))?;
    control
        .persist()
        .map_err(|e| anyhow::anyhow!("state file: {e}"))?;
    control.send_garp();
    let (htx, hrx) = crossbeam_channel::bounded(64);
    let stop = Arc::new(AtomicBool::new(false));
    let server = rvs_control::server::serve(socket_path, htx, Arc::clone(&stop))
        .with_context(|| format!("control socket {}", socket_path.display()))?;
    tracing::info!(socket = %socket_path.display(), "rvsd ready");
    control.run(&hrx, &STOP);
    stop.store(true, Ordering::SeqCst);
    let _ = server.join();
    Ok(())
}
