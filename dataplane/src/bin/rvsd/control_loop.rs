//! rvsd's control side: owns the rule set, answers control-socket requests, publishes snapshots.
//!
//! Runs on the main lcore (a plain thread). Every mutating request is validated and applied to
//! [`Rules`]; on success a new immutable snapshot is built and sent to every worker, and the reply
//! waits until each worker has acknowledged that generation, so a client that gets `Ok` knows the
//! dataplane already runs the new rules. A refused request changes nothing.
//! Reads that need the workers (sessions, counters) are sent to each of them as messages and
//! gathered with a deadline: the workers answer between bursts, so forwarding never stalls on a lock.
//!
//! Every [`estimator::PERIOD_MS`] the loop samples every service's and dest's counters into the
//! rate estimators (IPVS' 2-second estimator), whose rates fill the `rates` of `GetServices` answers;
//! `-Z` restarts the estimators of what it zeroed.
//!
//! - `GetConnsPage` asks one worker at a time for a bounded page (at most
//!   [`rvs_dataplane::worker::CONNS_PAGE_SCAN`] slots visited per message), so listing a huge session
//!   table costs each worker only short pauses between bursts; `GetConns` (all at once) is built from
//!   the same pages.
//! - `Batch` applies its requests in order (a refused one changes nothing and the others still
//!   apply, as ipvsadm's restore) and publishes once: restoring thousands of rules costs one snapshot.
//! - The dpip-style listings read the port layout given at start ([`PortDesc`], static routes), the
//!   ports' live state through a callback, and the workers' neighbour tables, per-port counters and
//!   local-port pools through messages.
//! - With a state file ([`ControlLoop::set_state_file`], `[control] state_file`), every successful
//!   rule change (a request, or a whole `Batch`) is written to it atomically
//!   ([`rvs_control::state`]) after it was published and before the client is answered; `-Z` (counters
//!   only) is not. A write that fails is answered as an error naming the file (the rules stay applied).

use crossbeam_channel::{Receiver, Sender};
use rvs_control::proto::{
    AddrInfo, ApiError, ConnCursor, ConnInfo, Counter, DataplaneStats, LaddrPoolInfo, NeighInfo,
    PortInfo, PortLcoreStats, Reply, Request, Response, RouteInfo,
};
use rvs_dataplane::estimator::{self, Estimators};
use rvs_dataplane::neigh::NeighState;
use rvs_dataplane::route::in_subnet;
use rvs_dataplane::rules::Rules;
use rvs_dataplane::service::Snapshot;
use rvs_dataplane::worker::{ConnPage, RouteConf, WorkerMsg, CONNS_PAGE_MAX};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a worker may take to acknowledge a snapshot or answer a query.
const WORKER_DEADLINE: Duration = Duration::from_secs(2);

/// Worker pages one `GetConnsPage` request may gather before answering (each is bounded work).
const PAGES_PER_REQUEST: usize = 16;

/// A port as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDesc {
    /// Name from the configuration.
    pub name: String,
    /// DPDK device string.
    pub device: String,
    /// MAC address.
    pub mac: [u8; 6],
    /// MTU.
    pub mtu: u16,
    /// Addresses with prefix lengths.
    pub addrs: Vec<(Ipv4Addr, u8)>,
}

/// A port's live state, read through the callback given to [`ControlLoop::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortState {
    /// Link up.
    pub link_up: bool,
    /// Speed in Mbit/s.
    pub speed_mbps: u32,
    /// Device counters by name (`rx_packets`, `tx_packets`, ...).
    pub counters: Vec<Counter>,
}

/// Reads the live state of port `index`.
pub type PortStateFn = Box<dyn Fn(usize) -> PortState + Send>;

/// `aa:bb:cc:dd:ee:ff`.
fn mac_string(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// The network address of `a/prefix`.
fn network(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let m = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    Ipv4Addr::from(u32::from(a) & m)
}

/// The control side's state.
pub struct ControlLoop {
    rules: Rules,
    workers: Vec<Sender<WorkerMsg>>,
    ports: Vec<PortDesc>,
    routes: Vec<RouteConf>,
    port_state: PortStateFn,
    /// The last snapshot built (what the workers run once acknowledged).
    snap: Arc<Snapshot>,
    estimators: Estimators,
    state_file: Option<PathBuf>,
}

impl ControlLoop {
    /// A control loop over `workers`' message channels (in worker-index order), for the ports
    /// `ports` (by port index) and static `routes`; `port_state` reads a port's live state.
    pub fn new(
        workers: Vec<Sender<WorkerMsg>>,
        ports: Vec<PortDesc>,
        routes: Vec<RouteConf>,
        port_state: PortStateFn,
    ) -> Self {
        ControlLoop {
            rules: Rules::new(),
            workers,
            ports,
            routes,
            port_state,
            snap: Snapshot::empty(),
            estimators: Estimators::new(),
            state_file: None,
        }
    }

    /// Persist the rules to `path` after every change from now on (`None`: stop persisting).
    pub fn set_state_file(&mut self, path: Option<PathBuf>) {
        self.state_file = path;
    }

    /// Write the current rules to the state file, if one is set.
    ///
    /// # Errors
    /// [`ApiError::Internal`] naming the file and the failed step.
    pub fn persist(&self) -> Result<(), ApiError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let services = match self.rules.query(&Request::GetServices(None))? {
            Response::Services(s) => s,
            _ => Vec::new(),
        };
        let text = rvs_control::state::render(&services, &self.rules.timeouts());
        rvs_control::state::write_atomic(path, &text).map_err(|e| {
            tracing::error!(error = %e, "rules applied but not saved");
            ApiError::Internal(format!("rules applied but not saved: {e}"))
        })
    }

    /// Take one 2-second sample of every counter set into the rate estimators.
    pub fn estimate(&mut self) {
        self.estimators.tick(&self.snap);
    }

    /// Publish the current rules to every worker and wait for their acknowledgements.
    pub fn publish(&mut self) -> Result<(), ApiError> {
        let snap = self.rules.snapshot();
        self.snap = Arc::clone(&snap);
        let gen = snap.generation();
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(self.workers.len());
        for w in &self.workers {
            w.send(WorkerMsg::Snapshot(snap.clone(), ack_tx.clone()))
                .map_err(|_| ApiError::Internal("a worker has stopped".into()))?;
        }
        for _ in 0..self.workers.len() {
            match ack_rx.recv_timeout(WORKER_DEADLINE) {
                Ok(g) if g == gen => {}
                Ok(_) => {}
                Err(_) => {
                    return Err(ApiError::Internal(
                        "a worker did not acknowledge the rules".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Apply a start-up rule without publishing (call [`ControlLoop::publish`] once after the batch).
    pub fn apply_quiet(&mut self, req: &Request) -> Result<(), ApiError> {
        self.rules.apply(req)
    }

    /// Ask every worker to send gratuitous ARP for the local addresses.
    pub fn send_garp(&self) {
        for w in &self.workers {
            let _ = w.send(WorkerMsg::SendGarp);
        }
    }

    /// Send `make(reply sender)` to every worker and gather one answer from each (any order).
    fn gather<T: Send + 'static>(
        &self,
        make: impl Fn(Sender<T>) -> WorkerMsg,
    ) -> Result<Vec<T>, ApiError> {
        let (tx, rx) = crossbeam_channel::bounded(self.workers.len());
        for w in &self.workers {
            w.send(make(tx.clone()))
                .map_err(|_| ApiError::Internal("a worker has stopped".into()))?;
        }
        (0..self.workers.len())
            .map(|_| {
                rx.recv_timeout(WORKER_DEADLINE)
                    .map_err(|_| ApiError::Internal("a worker did not answer".into()))
            })
            .collect()
    }

    /// One bounded page of worker `w`'s sessions from `slot`.
    fn worker_page(&self, w: usize, slot: u64, max: usize) -> Result<ConnPage, ApiError> {
        let sender = self
            .workers
            .get(w)
            .ok_or_else(|| ApiError::Internal("no such worker".into()))?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        sender
            .send(WorkerMsg::GetConnsPage {
                cursor: slot,
                max,
                reply: tx,
            })
            .map_err(|_| ApiError::Internal("a worker has stopped".into()))?;
        rx.recv_timeout(WORKER_DEADLINE)
            .map_err(|_| ApiError::Internal("a worker did not answer".into()))
    }

    /// Sessions from `cursor` on: up to `max`, gathering at most `pages` worker pages. Returns the
    /// sessions and where to continue (`None`: every worker's tables were walked).
    fn conns_from(
        &self,
        mut cursor: ConnCursor,
        max: usize,
        pages: usize,
    ) -> Result<(Vec<ConnInfo>, Option<ConnCursor>), ApiError> {
        let mut conns = Vec::new();
        for _ in 0..pages {
            let w = cursor.worker as usize;
            if w >= self.workers.len() || conns.len() >= max {
                break;
            }
            let mut page = self.worker_page(w, cursor.slot, max - conns.len())?;
            conns.append(&mut page.conns);
            cursor = match page.next {
                Some(slot) => ConnCursor {
                    worker: cursor.worker,
                    slot,
                },
                None => ConnCursor {
                    worker: cursor.worker + 1,
                    slot: 0,
                },
            };
        }
        let next = ((cursor.worker as usize) < self.workers.len()).then_some(cursor);
        Ok((conns, next))
    }

    /// Every session of every worker, page by page.
    fn all_conns(&self) -> Result<Vec<ConnInfo>, ApiError> {
        let mut all = Vec::new();
        let mut cursor = Some(ConnCursor::default());
        while let Some(c) = cursor {
            let (mut conns, next) = self.conns_from(c, CONNS_PAGE_MAX, PAGES_PER_REQUEST)?;
            all.append(&mut conns);
            cursor = next;
        }
        Ok(all)
    }

    fn port_name(&self, port: u16) -> String {
        self.ports
            .get(usize::from(port))
            .map_or_else(|| format!("port{port}"), |p| p.name.clone())
    }

    /// The port whose subnet holds `a`, `-` when none does.
    fn port_of(&self, a: Ipv4Addr) -> String {
        self.ports
            .iter()
            .find(|p| p.addrs.iter().any(|(pa, l)| in_subnet(a, *pa, *l)))
            .map_or_else(|| "-".to_string(), |p| p.name.clone())
    }

    fn ports_info(&self) -> Result<Vec<PortInfo>, ApiError> {
        let per_worker: Vec<Vec<PortLcoreStats>> = self.gather(WorkerMsg::GetPortStats)?;
        Ok(self
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let st = (self.port_state)(i);
                let mut lcores: Vec<PortLcoreStats> = per_worker
                    .iter()
                    .filter_map(|w| w.get(i).copied())
                    .collect();
                lcores.sort_by_key(|l| l.lcore);
                PortInfo {
                    index: i as u16,
                    name: p.name.clone(),
                    device: p.device.clone(),
                    mac: mac_string(p.mac),
                    mtu: p.mtu,
                    link_up: st.link_up,
                    speed_mbps: st.speed_mbps,
                    counters: st.counters,
                    lcores,
                }
            })
            .collect())
    }

    fn addrs_info(&self) -> Vec<AddrInfo> {
        let mut out: Vec<AddrInfo> = Vec::new();
        for p in &self.ports {
            for (a, l) in &p.addrs {
                out.push(AddrInfo {
                    addr: IpAddr::V4(*a),
                    prefix: *l,
                    kind: "port".into(),
                    port: p.name.clone(),
                });
            }
        }
        let mut vips: Vec<Ipv4Addr> = self.snap.services().iter().map(|s| s.key.addr).collect();
        vips.sort_unstable();
        vips.dedup();
        let mut laddrs: Vec<Ipv4Addr> = self
            .snap
            .services()
            .iter()
            .flat_map(|s| s.laddrs.iter().copied())
            .collect();
        laddrs.sort_unstable();
        laddrs.dedup();
        for (kind, list) in [("vip", vips), ("laddr", laddrs)] {
            out.extend(list.into_iter().map(|a| AddrInfo {
                addr: IpAddr::V4(a),
                prefix: 32,
                kind: kind.into(),
                port: self.port_of(a),
            }));
        }
        out
    }

    fn routes_info(&self) -> Vec<RouteInfo> {
        let mut out = Vec::new();
        for p in &self.ports {
            for (a, l) in &p.addrs {
                out.push(RouteInfo {
                    dest: IpAddr::V4(network(*a, *l)),
                    prefix: *l,
                    via: None,
                    port: p.name.clone(),
                    kind: "connected".into(),
                });
            }
        }
        for r in &self.routes {
            out.push(RouteInfo {
                dest: IpAddr::V4(r.dest),
                prefix: r.prefix,
                via: r.via.map(IpAddr::V4),
                port: self.port_name(r.port),
                kind: "static".into(),
            });
        }
        out
    }

    fn neighbours_info(&self) -> Result<Vec<NeighInfo>, ApiError> {
        let mut tables = self.gather(WorkerMsg::GetNeighbours)?;
        tables.sort_by_key(|t| t.lcore);
        Ok(tables
            .into_iter()
            .flat_map(|t| {
                let lcore = t.lcore;
                t.entries
                    .into_iter()
                    .map(move |(port, ip, mac, state)| (lcore, port, ip, mac, state))
            })
            .map(|(lcore, port, ip, mac, state)| NeighInfo {
                addr: IpAddr::V4(ip),
                mac: mac_string(mac),
                port: self.port_name(port),
                state: match state {
                    NeighState::Incomplete => "INCOMPLETE",
                    NeighState::Reachable => "REACHABLE",
                    NeighState::Stale => "STALE",
                    NeighState::Permanent => "PERMANENT",
                }
                .into(),
                lcore,
            })
            .collect())
    }

    fn laddr_pools_info(&self) -> Result<Vec<LaddrPoolInfo>, ApiError> {
        let mut out: Vec<LaddrPoolInfo> = self
            .gather(WorkerMsg::GetLaddrPools)?
            .into_iter()
            .flat_map(|(lcore, pools)| {
                pools.into_iter().map(move |(a, free, used)| LaddrPoolInfo {
                    addr: IpAddr::V4(a),
                    lcore,
                    free_ports: free,
                    used_ports: used,
                })
            })
            .collect();
        out.sort_by_key(|p| (p.addr, p.lcore));
        Ok(out)
    }

    /// Apply the requests of a batch in order; publish once if any was applied.
    fn batch(&mut self, reqs: &[Request]) -> Reply {
        let mut results = Vec::with_capacity(reqs.len());
        let (mut changed, mut garp) = (false, false);
        for r in reqs {
            let res = match r {
                Request::Batch(_) => Err(ApiError::Invalid("a batch inside a batch".into())),
                Request::Zero(k) => self.rules.apply(r).map(|()| {
                    self.estimators.zero(&self.snap, k.as_ref());
                }),
                _ => self.rules.apply(r).map(|()| {
                    changed = true;
                    garp |= matches!(r, Request::AddService(_) | Request::AddLaddr(..));
                }),
            };
            results.push(res);
        }
        if changed {
            self.publish()?;
            self.persist()?;
        }
        if garp {
            self.send_garp();
        }
        Ok(Response::Batch(results))
    }

    /// Answer one request.
    pub fn handle(&mut self, req: &Request) -> Reply {
        match req {
            Request::GetServices(_) => {
                let mut r = self.rules.query(req)?;
                if let Response::Services(infos) = &mut r {
                    self.estimators.fill(&self.snap, infos);
                }
                Ok(r)
            }
            Request::GetServicesPage { start, max_entries } => {
                let (mut services, next) = self.rules.services_page(
                    usize::try_from(*start).unwrap_or(usize::MAX),
                    usize::try_from(*max_entries).unwrap_or(usize::MAX),
                );
                self.estimators.fill(&self.snap, &mut services);
                Ok(Response::ServicesPage {
                    services,
                    next: next.and_then(|n| u32::try_from(n).ok()),
                })
            }
            Request::GetTimeouts | Request::GetLaddrs(_) => self.rules.query(req),
            Request::Zero(k) => {
                self.rules.apply(req)?;
                self.estimators.zero(&self.snap, k.as_ref());
                Ok(Response::Ok)
            }
            Request::GetConns => Ok(Response::Conns(self.all_conns()?)),
            Request::GetConnsPage { cursor, max } => {
                let max = usize::try_from(*max)
                    .unwrap_or(usize::MAX)
                    .clamp(1, CONNS_PAGE_MAX);
                let (conns, next) = self.conns_from(*cursor, max, PAGES_PER_REQUEST)?;
                Ok(Response::ConnsPage { conns, next })
            }
            Request::GetDataplaneStats => {
                let mut lcores = self.gather(WorkerMsg::GetStats)?;
                lcores.sort_by_key(|l| l.lcore);
                let mut ports = Vec::new();
                for (i, p) in self.ports.iter().enumerate() {
                    for c in (self.port_state)(i).counters {
                        ports.push(Counter {
                            name: format!("{}(port{i}).{}", p.name, c.name),
                            value: c.value,
                        });
                    }
                }
                Ok(Response::DataplaneStats(DataplaneStats { lcores, ports }))
            }
            Request::GetPorts => Ok(Response::Ports(self.ports_info()?)),
            Request::GetAddrs => Ok(Response::Addrs(self.addrs_info())),
            Request::GetRoutes => Ok(Response::Routes(self.routes_info())),
            Request::GetNeighbours => Ok(Response::Neighbours(self.neighbours_info()?)),
            Request::GetLaddrPools => Ok(Response::LaddrPools(self.laddr_pools_info()?)),
            Request::Batch(reqs) => self.batch(reqs),
            _ => {
                self.rules.apply(req)?;
                self.publish()?;
                if matches!(req, Request::AddService(_) | Request::AddLaddr(..)) {
                    self.send_garp();
                }
                self.persist()?;
                Ok(Response::Ok)
            }
        }
    }

    /// Serve requests until `stop` is set, sampling the rate estimators every 2 seconds.
    pub fn run(&mut self, requests: &Receiver<(Request, Sender<Reply>)>, stop: &AtomicBool) {
        let period = Duration::from_millis(estimator::PERIOD_MS);
        let mut next_sample = Instant::now() + period;
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next_sample {
                self.estimate();
                next_sample += period;
                if next_sample <= now {
                    // Fell a whole period behind (a slow request): restart the cadence from now.
                    next_sample = now + period;
                }
            }
            let wait = next_sample
                .saturating_duration_since(now)
                .min(Duration::from_millis(100));
            match requests.recv_timeout(wait) {
                Ok((req, reply_tx)) => {
                    let reply = self.handle(&req);
                    let _ = reply_tx.send(reply);
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_control::proto::{LaddrSpec, Protocol, ServiceKey, ServiceSpec};

    fn key(port: u16) -> ServiceKey {
        ServiceKey {
            proto: Protocol::Tcp,
            addr: "10.10.0.100".parse().unwrap(),
            port,
        }
    }

    fn add(port: u16) -> Request {
        Request::AddService(ServiceSpec {
            key: key(port),
            scheduler: "rr".into(),
            persistent: None,
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        })
    }

    /// A control loop without workers (publishing needs no acknowledgement) over the lab's client
    /// port and one static route.
    fn control() -> ControlLoop {
        ControlLoop::new(
            Vec::new(),
            vec![PortDesc {
                name: "client".into(),
                device: "net_null0".into(),
                mac: [2, 0, 0, 0, 0, 0x10],
                mtu: 1500,
                addrs: vec![("10.10.0.1".parse().unwrap(), 24)],
            }],
            vec![RouteConf {
                dest: "10.20.0.0".parse().unwrap(),
                prefix: 16,
                via: Some("10.10.0.254".parse().unwrap()),
                port: 0,
            }],
            Box::new(|_| PortState::default()),
        )
    }

    #[test]
    fn batch_applies_in_order_reports_each_refusal_and_publishes_once() {
        let mut c = control();
        let gen0 = c.snap.generation();
        let reply = c.handle(&Request::Batch(vec![
            add(80),
            add(80),
            Request::AddLaddr(
                key(81),
                LaddrSpec {
                    addr: "10.10.9.1".parse().unwrap(),
                },
            ),
            add(81),
            Request::Batch(vec![]),
            Request::GetTimeouts,
        ]));
        assert_eq!(
            reply,
            Ok(Response::Batch(vec![
                Ok(()),
                Err(ApiError::ServiceExists),
                Err(ApiError::NoSuchService),
                Ok(()),
                Err(ApiError::Invalid("a batch inside a batch".into())),
                Err(ApiError::Invalid("not a rule change".into())),
            ]))
        );
        // One snapshot for the whole batch, holding both services.
        assert_eq!(c.snap.services().len(), 2);
        assert!(c.snap.generation() > gen0);
        match c.handle(&Request::GetServicesPage {
            start: 0,
            max_entries: 1,
        }) {
            Ok(Response::ServicesPage { services, next }) => {
                assert_eq!(services.len(), 1);
                assert_eq!(services[0].spec.key, key(80));
                assert_eq!(next, Some(1));
            }
            other => panic!("{other:?}"),
        }
        // A refused-only batch publishes nothing.
        let snap = Arc::clone(&c.snap);
        assert_eq!(
            c.handle(&Request::Batch(vec![add(80)])),
            Ok(Response::Batch(vec![Err(ApiError::ServiceExists)]))
        );
        assert!(Arc::ptr_eq(&snap, &c.snap));
    }

    #[test]
    fn addresses_routes_and_empty_session_pages() {
        let mut c = control();
        c.handle(&add(80)).unwrap();
        let Ok(Response::Addrs(a)) = c.handle(&Request::GetAddrs) else {
            panic!()
        };
        let a: Vec<String> = a
            .iter()
            .map(|a| format!("{}/{} {} {}", a.addr, a.prefix, a.kind, a.port))
            .collect();
        assert_eq!(a, ["10.10.0.1/24 port client", "10.10.0.100/32 vip client"]);
        let Ok(Response::Routes(r)) = c.handle(&Request::GetRoutes) else {
            panic!()
        };
        let r: Vec<String> = r
            .iter()
            .map(|r| format!("{}/{} {:?} {} {}", r.dest, r.prefix, r.via, r.port, r.kind))
            .collect();
        assert_eq!(
            r,
            [
                "10.10.0.0/24 None client connected",
                "10.20.0.0/16 Some(10.10.0.254) client static"
            ]
        );
        assert_eq!(
            c.handle(&Request::GetConnsPage {
                cursor: ConnCursor::default(),
                max: 10
            }),
            Ok(Response::ConnsPage {
                conns: vec![],
                next: None
            })
        );
        assert_eq!(
            c.handle(&Request::GetNeighbours),
            Ok(Response::Neighbours(vec![]))
        );
        assert_eq!(mac_string([2, 0xab, 0, 0, 0, 0x10]), "02:ab:00:00:00:10");
        assert_eq!(
            network("10.10.7.9".parse().unwrap(), 20),
            "10.10.0.0".parse::<Ipv4Addr>().unwrap()
        );
    }

    /// Every successful change is in the state file before the answer; a refused one and `-Z`
    /// leave the file untouched; a batch is written once, whole; the file rebuilds the same rules.
    #[test]
    fn state_file_follows_every_change() {
        let dir = std::env::temp_dir().join(format!("rvsd-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rules.state");
        let mut c = control();
        c.set_state_file(Some(path.clone()));
        let saved = || std::fs::read_to_string(&path).unwrap();
        assert_eq!(c.handle(&add(80)), Ok(Response::Ok));
        let one = saved();
        assert!(one.contains("\n-A -t 10.10.0.100:80 -s rr\n"), "{one}");
        assert!(c.handle(&add(80)).is_err());
        assert_eq!(saved(), one);
        assert_eq!(c.handle(&Request::Zero(None)), Ok(Response::Ok));
        assert_eq!(saved(), one);
        let reply = c.handle(&Request::Batch(vec![add(81), add(80), add(82)]));
        assert!(matches!(reply, Ok(Response::Batch(ref r)) if r.len() == 3));
        let three = saved();
        assert_eq!(three.matches("\n-A ").count(), 3, "{three}");
        // The file rebuilds the same listing.
        let reqs = rvs_control::state::load(&path).unwrap().unwrap();
        let mut again = control();
        for r in &reqs {
            again.apply_quiet(r).unwrap();
        }
        assert_eq!(
            again.handle(&Request::GetServices(None)),
            c.handle(&Request::GetServices(None))
        );
        // A file that cannot be written: the change is applied, the answer names the failure.
        c.set_state_file(Some(dir.join("missing/rules.state")));
        assert!(matches!(
            c.handle(&add(83)),
            Err(ApiError::Internal(m)) if m.contains("not saved")
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
