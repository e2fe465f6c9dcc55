//! The control-side rule set: validates ipvsadm requests with the kernel's error classes, answers the
//! listing requests, and compiles the immutable [`Snapshot`] the workers run on.
//!
//! Invariants:
//! - Every mutating request is validated completely before anything changes: on error nothing changes
//!   (transactional), and the error is the class ipvsadm would print ([`ApiError`]).
//! - Check order follows the kernel: add-service checks existence before the scheduler; dest
//!   operations check the service (`Service not defined`), then the ranges (`l_threshold >
//!   u_threshold` -> `Numerical result out of range`), then the dest's existence (address and port).
//! - `EditService`/`EditDest` replace the whole entry (the client sends a full spec built from the
//!   defaults), keeping identity, counters, dests and local addresses.
//! - Counters are `Arc`'d atomics created with the rule and shared with every snapshot and session;
//!   deleting a dest (or its service, or `Flush`) marks its counters deleted so the workers drop the
//!   packets of its sessions.
//! - Services and dests keep insertion order (the kernel's order; the client sorts).
//!
//! - Every scheduler the kernel ships is accepted (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh
//!   twos); any other name is [`ApiError::NoScheduler`]. The scheduler flags (`-b`) reach the snapshot:
//!   sh/mh read sh-fallback/mh-fallback and sh-port/mh-port from them. An mh service holds at most as
//!   many dests as its table has slots ([`crate::sched::mh::DEFAULT_SIZE`], the kernel's `EINVAL`).
//! - Each dest keeps its last non-zero weight (the kernel's `last_weight`: set on add, and on every
//!   edit with a non-zero weight), which mh builds its table from.
//!
//! Only IPv4 services, dests and local addresses are accepted for now (`Unsupported` otherwise).
//! Persistence (`-p`, `-M`) is applied by the workers ([`crate::sched::persist`]); one-packet (`-o`)
//! is stored and listed, not applied yet.

use crate::acl::{self, AccessCounters, Acl};
use crate::sched::{mh, SchedKind, Scheduler};
use crate::service::{Dest, DestCounters, Service, Snapshot, SvcKey, TrafficCounters};
use crate::session::tcp_state::{self, TimeoutTable};
use rvs_control::proto::{
    AclSpec, ApiError, DestInfo, DestSpec, LaddrInfo, RateStats, Reply, Request, Response,
    ServiceInfo, ServiceKey, ServiceSpec, Timeouts,
};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Debug)]
struct RuleDest {
    id: u64,
    addr: Ipv4Addr,
    spec: DestSpec,
    last_weight: u32,
    counters: Arc<DestCounters>,
}

#[derive(Debug)]
struct RuleService {
    id: u64,
    key: SvcKey,
    spec: ServiceSpec,
    sched: SchedKind,
    dests: Vec<RuleDest>,
    laddrs: Vec<Ipv4Addr>,
    counters: Arc<TrafficCounters>,
    dests_epoch: u64,
    acl: Vec<AclSpec>,
    conn_limit: u32,
    access: Arc<AccessCounters>,
}

/// The rule set (services in insertion order, dests in insertion order, local addresses, timeouts and
/// the shared counters).
#[derive(Debug)]
pub struct Rules {
    services: Vec<RuleService>,
    timeouts: TimeoutTable,
    laddr_conns: HashMap<Ipv4Addr, Arc<AtomicU64>>,
    next_id: u64,
    generation: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new()
    }
}

fn v4(a: IpAddr, what: &str) -> Result<Ipv4Addr, ApiError> {
    match a {
        IpAddr::V4(v) => Ok(v),
        IpAddr::V6(_) => Err(ApiError::Unsupported(format!("IPv6 {what}"))),
    }
}

fn svc_key(k: &ServiceKey) -> Result<SvcKey, ApiError> {
    Ok(SvcKey {
        proto: k.proto.number(),
        addr: v4(k.addr, "services")?,
        port: k.port,
    })
}

fn check_ranges(d: &DestSpec) -> Result<(), ApiError> {
    if d.weight > i32::MAX as u32 || d.l_threshold > d.u_threshold {
        return Err(ApiError::OutOfRange);
    }
    Ok(())
}

impl Rules {
    /// An empty rule set with the default timeouts (900 120 300).
    pub fn new() -> Self {
        Rules {
            services: Vec::new(),
            timeouts: TimeoutTable::default(),
            laddr_conns: HashMap::new(),
            next_id: 1,
            generation: 1,
        }
    }

    /// The generation the next [`Rules::snapshot`] carries (bumped by every successful `apply`).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn find(&self, k: &ServiceKey) -> Option<usize> {
        let k = svc_key(k).ok()?;
        self.services.iter().position(|s| s.key == k)
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn validate_service(spec: &ServiceSpec) -> Result<SchedKind, ApiError> {
        let kind = SchedKind::from_name(&spec.scheduler).ok_or(ApiError::NoScheduler)?;
        if spec.key.port == 0 && spec.persistent.is_none() {
            return Err(ApiError::Invalid(
                "Zero port specified for non-persistent service".into(),
            ));
        }
        Ok(kind)
    }

    /// The kernel refuses (EINVAL) an mh service with more dests than table slots.
    fn check_mh_capacity(sched: SchedKind, n_dests: usize) -> Result<(), ApiError> {
        if sched == SchedKind::Mh && n_dests > mh::DEFAULT_SIZE {
            return Err(ApiError::Invalid(format!(
                "mh: more than {} destinations",
                mh::DEFAULT_SIZE
            )));
        }
        Ok(())
    }

    fn dest_service(&self, k: &ServiceKey) -> Result<usize, ApiError> {
        self.find(k).ok_or(ApiError::ServiceNotDefined)
    }

    /// Apply a mutating request (AddService, EditService, DelService, Flush, AddDest, EditDest, DelDest,
    /// Zero, SetTimeouts, AddLaddr, DelLaddr).
    ///
    /// # Errors
    /// The ipvsadm class of the refusal ([`ApiError`]); on error nothing changes. A read request gives
    /// [`ApiError::Invalid`].
    pub fn apply(&mut self, req: &Request) -> Result<(), ApiError> {
        match req {
            Request::AddService(spec) => {
                let key = svc_key(&spec.key)?;
                if self.find(&spec.key).is_some() {
                    return Err(ApiError::ServiceExists);
                }
                let sched = Self::validate_service(spec)?;
                let id = self.new_id();
                self.services.push(RuleService {
                    id,
                    key,
                    spec: spec.clone(),
                    sched,
                    dests: Vec::new(),
                    laddrs: Vec::new(),
                    counters: Arc::new(TrafficCounters::default()),
                    dests_epoch: 0,
                    acl: Vec::new(),
                    conn_limit: 0,
                    access: Arc::new(AccessCounters::default()),
                });
            }
            Request::EditService(spec) => {
                let i = self.find(&spec.key).ok_or(ApiError::NoSuchService)?;
                let sched = Self::validate_service(spec)?;
                Self::check_mh_capacity(sched, self.services[i].dests.len())?;
                let s = &mut self.services[i];
                s.spec = spec.clone();
                s.sched = sched;
            }
            Request::DelService(k) => {
                let i = self.find(k).ok_or(ApiError::NoSuchService)?;
                let s = self.services.remove(i);
                for d in &s.dests {
                    d.counters.mark_deleted();
                }
            }
            Request::Flush => {
                for s in self.services.drain(..) {
                    for d in &s.dests {
                        d.counters.mark_deleted();
                    }
                }
            }
            Request::AddDest(k, spec) => {
                let i = self.dest_service(k)?;
                let addr = v4(spec.addr, "real servers")?;
                check_ranges(spec)?;
                let s = &self.services[i];
                if s.dests
                    .iter()
                    .any(|d| d.addr == addr && d.spec.port == spec.port)
                {
                    return Err(ApiError::DestExists);
                }
                Self::check_mh_capacity(s.sched, s.dests.len() + 1)?;
                let counters = Arc::new(DestCounters::new(
                    s.counters.clone(),
                    spec.u_threshold,
                    spec.l_threshold,
                ));
                let id = self.new_id();
                let s = &mut self.services[i];
                s.dests.push(RuleDest {
                    id,
                    addr,
                    spec: spec.clone(),
                    last_weight: spec.weight,
                    counters,
                });
                s.dests_epoch += 1;
            }
            Request::EditDest(k, spec) => {
                let i = self.dest_service(k)?;
                let addr = v4(spec.addr, "real servers")?;
                check_ranges(spec)?;
                let s = &mut self.services[i];
                let d = s
                    .dests
                    .iter_mut()
                    .find(|d| d.addr == addr && d.spec.port == spec.port)
                    .ok_or(ApiError::NoSuchDest)?;
                d.spec = spec.clone();
                if spec.weight != 0 {
                    d.last_weight = spec.weight;
                }
                d.counters
                    .set_thresholds(spec.u_threshold, spec.l_threshold);
                s.dests_epoch += 1;
            }
            Request::DelDest(k, addr, port) => {
                let i = self.dest_service(k)?;
                let s = &mut self.services[i];
                let j = s
                    .dests
                    .iter()
                    .position(|d| IpAddr::V4(d.addr) == *addr && d.spec.port == *port)
                    .ok_or(ApiError::NoSuchDest)?;
                let d = s.dests.remove(j);
                d.counters.mark_deleted();
                s.dests_epoch += 1;
            }
            Request::Zero(k) => {
                let zero = |s: &RuleService| {
                    s.counters.zero();
                    for d in &s.dests {
                        d.counters.traffic.zero();
                    }
                };
                match k {
                    Some(k) => zero(&self.services[self.find(k).ok_or(ApiError::NoSuchService)?]),
                    None => self.services.iter().for_each(zero),
                }
            }
            Request::SetTimeouts(t) => {
                let secs = &mut self.timeouts.secs;
                if t.tcp != 0 {
                    secs[usize::from(tcp_state::ESTABLISHED)] = t.tcp;
                }
                if t.tcp_fin != 0 {
                    secs[usize::from(tcp_state::FIN_WAIT)] = t.tcp_fin;
                }
                if t.udp != 0 {
                    secs[usize::from(tcp_state::UDP)] = t.udp;
                }
            }
            Request::AddLaddr(k, l) => {
                let i = self.find(k).ok_or(ApiError::NoSuchService)?;
                let addr = v4(l.addr, "local addresses")?;
                if self.services[i].laddrs.contains(&addr) {
                    return Err(ApiError::LaddrExists);
                }
                self.laddr_conns.entry(addr).or_default();
                self.services[i].laddrs.push(addr);
            }
            Request::DelLaddr(k, l) => {
                let i = self.find(k).ok_or(ApiError::NoSuchService)?;
                let s = &mut self.services[i];
                let j = s
                    .laddrs
                    .iter()
                    .position(|a| IpAddr::V4(*a) == l.addr)
                    .ok_or(ApiError::NoSuchLaddr)?;
                s.laddrs.remove(j);
            }
            Request::AddAcl(k, a) => {
                let i = self.find(k).ok_or(ApiError::NoSuchService)?;
                if a.addr.is_ipv6() {
                    return Err(ApiError::Unsupported("IPv6 access-control entries".into()));
                }
                if !acl::valid_v4(a) {
                    return Err(ApiError::Invalid(format!(
                        "{}/{}: not a network prefix",
                        a.addr, a.prefix
                    )));
                }
                if self.services[i].acl.contains(a) {
                    return Err(ApiError::AclExists);
                }
                self.services[i].acl.push(*a);
            }
            Request::DelAcl(k, a) => {
                let i = self.find(k).ok_or(ApiError::NoSuchService)?;
                let s = &mut self.services[i];
                let j = s
                    .acl
                    .iter()
                    .position(|x| x == a)
                    .ok_or(ApiError::NoSuchAcl)?;
                s.acl.remove(j);
            }
            Request::SetConnLimit(k, n) => {
                let i = self.find(k).ok_or(ApiError::NoSuchService)?;
                self.services[i].conn_limit = *n;
            }
            Request::GetServices(_)
            | Request::GetTimeouts
            | Request::GetConns
            | Request::GetLaddrs(_)
            | Request::GetDataplaneStats
            | Request::GetConnsPage { .. }
            | Request::GetPorts
            | Request::GetAddrs
            | Request::GetRoutes
            | Request::GetNeighbours
            | Request::GetLaddrPools
            | Request::GetServicesPage { .. }
            | Request::Batch(_) => {
                return Err(ApiError::Invalid("not a rule change".into()));
            }
        }
        self.generation += 1;
        Ok(())
    }

    fn info(&self, s: &RuleService) -> ServiceInfo {
        ServiceInfo {
            spec: s.spec.clone(),
            dests: s
                .dests
                .iter()
                .map(|d| DestInfo {
                    spec: d.spec.clone(),
                    active_conns: d.counters.active.load(Relaxed),
                    inactive_conns: d.counters.inactive.load(Relaxed),
                    persist_conns: d.counters.persist.load(Relaxed),
                    stats: d.counters.traffic.stats(),
                    rates: RateStats::default(),
                })
                .collect(),
            laddrs: s.laddrs.iter().map(|a| IpAddr::V4(*a)).collect(),
            stats: s.counters.stats(),
            rates: RateStats::default(),
            acl: s.acl.clone(),
            conn_limit: s.conn_limit,
            acl_denied: s.access.denied.load(Relaxed),
            conn_limited: s.access.limited.load(Relaxed),
        }
    }

    fn laddr_infos(&self, s: &RuleService, out: &mut Vec<LaddrInfo>) {
        let key = ServiceKey {
            proto: s.spec.key.proto,
            addr: s.spec.key.addr,
            port: s.spec.key.port,
        };
        for a in &s.laddrs {
            out.push(LaddrInfo {
                service: key,
                addr: IpAddr::V4(*a),
                conns: self.laddr_conns.get(a).map_or(0, |c| c.load(Relaxed)),
            });
        }
    }

    /// Whole services from index `start` (insertion order) until `max_entries` entries (a service and
    /// each of its dests count one) are reached, at least one; and the index of the next page (`None`
    /// after the last). Counters are live; rates are left 0 (the caller fills them).
    pub fn services_page(
        &self,
        start: usize,
        max_entries: usize,
    ) -> (Vec<ServiceInfo>, Option<usize>) {
        let mut out = Vec::new();
        let mut entries = 0;
        let mut i = start;
        while let Some(s) = self.services.get(i) {
            if !out.is_empty() && entries + 1 + s.dests.len() > max_entries {
                break;
            }
            entries += 1 + s.dests.len();
            out.push(self.info(s));
            i += 1;
        }
        (out, (i < self.services.len()).then_some(i))
    }

    /// The current timeouts (`-L --timeout`).
    pub fn timeouts(&self) -> Timeouts {
        let secs = &self.timeouts.secs;
        Timeouts {
            tcp: secs[usize::from(tcp_state::ESTABLISHED)],
            tcp_fin: secs[usize::from(tcp_state::FIN_WAIT)],
            udp: secs[usize::from(tcp_state::UDP)],
        }
    }

    /// Answer a read request (GetServices, GetTimeouts, GetLaddrs). Counters are live (summed over
    /// every lcore through the shared atomics). Rates are left 0 (no estimator yet).
    pub fn query(&self, req: &Request) -> Reply {
        match req {
            Request::GetServices(None) => Ok(Response::Services(
                self.services.iter().map(|s| self.info(s)).collect(),
            )),
            Request::GetServices(Some(k)) => {
                let i = self.find(k).ok_or(ApiError::NoSuchService)?;
                Ok(Response::Services(vec![self.info(&self.services[i])]))
            }
            Request::GetTimeouts => Ok(Response::Timeouts(self.timeouts())),
            Request::GetLaddrs(k) => {
                let mut out = Vec::new();
                match k {
                    Some(k) => {
                        let i = self.find(k).ok_or(ApiError::NoSuchService)?;
                        self.laddr_infos(&self.services[i], &mut out);
                    }
                    None => self
                        .services
                        .iter()
                        .for_each(|s| self.laddr_infos(s, &mut out)),
                }
                Ok(Response::Laddrs(out))
            }
            _ => Err(ApiError::Invalid("not a rule query".into())),
        }
    }

    /// Build the immutable snapshot the workers run on (scheduler data precomputed).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let services = self
            .services
            .iter()
            .map(|s| {
                let dests: Vec<Dest> = s
                    .dests
                    .iter()
                    .map(|d| Dest {
                        id: d.id,
                        addr: d.addr,
                        port: d.spec.port,
                        fwd: d.spec.fwd,
                        tunnel: crate::xmit::tunnel::Tunnel {
                            kind: d.spec.tun_type,
                            csum: d.spec.tun_csum,
                        },
                        weight: d.spec.weight,
                        last_weight: d.last_weight,
                        counters: d.counters.clone(),
                    })
                    .collect();
                Service {
                    id: s.id,
                    key: s.key,
                    spec: s.spec.clone(),
                    sched: Scheduler::build(s.sched, s.spec.sched_flags, &dests),
                    dests,
                    laddrs: s.laddrs.clone(),
                    counters: s.counters.clone(),
                    dests_epoch: s.dests_epoch,
                    acl: Acl::new(&s.acl),
                    conn_limit: s.conn_limit,
                    access: s.access.clone(),
                }
            })
            .collect();
        Arc::new(Snapshot::new(
            self.generation,
            services,
            self.laddr_conns.clone(),
            self.timeouts,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_control::proto::{FwdMethod, LaddrSpec, Protocol, TunnelCsum, TunnelType};

    fn key(port: u16) -> ServiceKey {
        ServiceKey {
            proto: Protocol::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port,
        }
    }

    fn svc(port: u16, sched: &str) -> ServiceSpec {
        ServiceSpec {
            key: key(port),
            scheduler: sched.into(),
            persistent: None,
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        }
    }

    fn dest(addr: &str, port: u16, fwd: FwdMethod, weight: u32) -> DestSpec {
        DestSpec {
            addr: addr.parse().unwrap(),
            port,
            fwd,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunnelType::Ipip,
            tun_csum: TunnelCsum::NoCsum,
        }
    }

    fn services(r: &Rules) -> Vec<ServiceInfo> {
        match r.query(&Request::GetServices(None)).unwrap() {
            Response::Services(v) => v,
            other => panic!("{other:?}"),
        }
    }

    /// Apply and check that a refused request changed nothing (listing, generation, snapshot).
    fn refused(r: &mut Rules, req: Request, want: ApiError) {
        let before = services(r);
        let gen = r.generation();
        let t = r.timeouts();
        assert_eq!(r.apply(&req), Err(want));
        assert_eq!(services(r), before);
        assert_eq!(r.generation(), gen);
        assert_eq!(r.timeouts(), t);
    }

    #[test]
    fn service_error_classes() {
        let mut r = Rules::new();
        refused(
            &mut r,
            Request::AddService(svc(80, "foo")),
            ApiError::NoScheduler,
        );
        r.apply(&Request::AddService(svc(80, "rr"))).unwrap();
        refused(
            &mut r,
            Request::AddService(svc(80, "wlc")),
            ApiError::ServiceExists,
        );
        // Existence is checked before the scheduler.
        refused(
            &mut r,
            Request::AddService(svc(80, "foo")),
            ApiError::ServiceExists,
        );
        refused(
            &mut r,
            Request::EditService(svc(81, "rr")),
            ApiError::NoSuchService,
        );
        refused(
            &mut r,
            Request::EditService(svc(80, "nope")),
            ApiError::NoScheduler,
        );
        refused(
            &mut r,
            Request::DelService(key(81)),
            ApiError::NoSuchService,
        );
        refused(
            &mut r,
            Request::Zero(Some(key(81))),
            ApiError::NoSuchService,
        );
        assert_eq!(
            r.query(&Request::GetServices(Some(key(81)))),
            Err(ApiError::NoSuchService)
        );
        refused(
            &mut r,
            Request::AddService(svc(0, "rr")),
            ApiError::Invalid("Zero port specified for non-persistent service".into()),
        );
        let mut v6 = svc(80, "rr");
        v6.key.addr = "2001:db8::1".parse().unwrap();
        refused(
            &mut r,
            Request::AddService(v6),
            ApiError::Unsupported("IPv6 services".into()),
        );
        for s in ["rr", "wrr", "lc", "wlc"] {
            r.apply(&Request::EditService(svc(80, s))).unwrap();
        }
        r.apply(&Request::DelService(key(80))).unwrap();
        assert!(services(&r).is_empty());
    }

    #[test]
    fn dest_error_classes() {
        let mut r = Rules::new();
        let d = dest("192.168.1.2", 80, FwdMethod::Masq, 1);
        refused(
            &mut r,
            Request::AddDest(key(80), d.clone()),
            ApiError::ServiceNotDefined,
        );
        refused(
            &mut r,
            Request::EditDest(key(80), d.clone()),
            ApiError::ServiceNotDefined,
        );
        refused(
            &mut r,
            Request::DelDest(key(80), d.addr, 80),
            ApiError::ServiceNotDefined,
        );
        r.apply(&Request::AddService(svc(80, "wlc"))).unwrap();
        r.apply(&Request::AddDest(key(80), d.clone())).unwrap();
        refused(
            &mut r,
            Request::AddDest(key(80), d.clone()),
            ApiError::DestExists,
        );
        // -y 10 alone: l_threshold 10 > u_threshold 0.
        let mut bad = dest("192.168.1.3", 80, FwdMethod::Masq, 1);
        bad.l_threshold = 10;
        refused(
            &mut r,
            Request::AddDest(key(80), bad.clone()),
            ApiError::OutOfRange,
        );
        // Range before existence, on edit too.
        let mut bad_existing = d.clone();
        bad_existing.l_threshold = 20;
        bad_existing.u_threshold = 10;
        refused(
            &mut r,
            Request::EditDest(key(80), bad_existing.clone()),
            ApiError::OutOfRange,
        );
        refused(
            &mut r,
            Request::AddDest(key(80), bad_existing),
            ApiError::OutOfRange,
        );
        refused(
            &mut r,
            Request::EditDest(key(80), dest("192.168.1.9", 80, FwdMethod::Masq, 5)),
            ApiError::NoSuchDest,
        );
        refused(
            &mut r,
            Request::DelDest(key(80), "192.168.1.9".parse().unwrap(), 80),
            ApiError::NoSuchDest,
        );
        // The port must match.
        refused(
            &mut r,
            Request::DelDest(key(80), d.addr, 8080),
            ApiError::NoSuchDest,
        );
        refused(
            &mut r,
            Request::EditDest(key(80), dest("192.168.1.2", 8080, FwdMethod::Masq, 5)),
            ApiError::NoSuchDest,
        );
        // Same address, other port: a different dest.
        r.apply(&Request::AddDest(
            key(80),
            dest("192.168.1.2", 8080, FwdMethod::Masq, 1),
        ))
        .unwrap();
        r.apply(&Request::DelDest(key(80), d.addr, 80)).unwrap();
        let s = services(&r);
        assert_eq!(s[0].dests.len(), 1);
        assert_eq!(s[0].dests[0].spec.port, 8080);
    }

    #[test]
    fn edits_replace_whole_entries() {
        let mut r = Rules::new();
        let mut p = svc(80, "rr");
        p.persistent = Some(360);
        p.one_packet = true;
        r.apply(&Request::AddService(p)).unwrap();
        let mut d = dest("192.168.1.2", 80, FwdMethod::Masq, 3);
        d.u_threshold = 100;
        d.l_threshold = 50;
        r.apply(&Request::AddDest(key(80), d)).unwrap();
        // -E -t VIP:80 (no -s): wlc, persistence and -o cleared.
        r.apply(&Request::EditService(svc(80, "wlc"))).unwrap();
        // -e ... -w 0: forwarding back to Route, thresholds 0.
        let e = dest("192.168.1.2", 80, FwdMethod::Route, 0);
        r.apply(&Request::EditDest(key(80), e.clone())).unwrap();
        let s = services(&r);
        assert_eq!(s[0].spec, svc(80, "wlc"));
        assert_eq!(s[0].dests[0].spec, e);
        // Dests survive the service edit.
        assert_eq!(s[0].dests.len(), 1);
        let snap = r.snapshot();
        assert_eq!(snap.services()[0].sched.kind(), SchedKind::Wlc);
        assert_eq!(snap.services()[0].dests[0].weight, 0);
        assert_eq!(snap.services()[0].dests[0].fwd, FwdMethod::Route);
    }

    #[test]
    fn laddrs_timeouts_flush_zero() {
        let mut r = Rules::new();
        r.apply(&Request::AddService(svc(80, "rr"))).unwrap();
        let l = LaddrSpec {
            addr: "10.10.9.1".parse().unwrap(),
        };
        refused(
            &mut r,
            Request::AddLaddr(key(81), l),
            ApiError::NoSuchService,
        );
        r.apply(&Request::AddLaddr(key(80), l)).unwrap();
        refused(&mut r, Request::AddLaddr(key(80), l), ApiError::LaddrExists);
        let l2 = LaddrSpec {
            addr: "10.10.9.2".parse().unwrap(),
        };
        refused(
            &mut r,
            Request::DelLaddr(key(80), l2),
            ApiError::NoSuchLaddr,
        );
        r.apply(&Request::AddLaddr(key(80), l2)).unwrap();
        assert_eq!(
            r.query(&Request::GetLaddrs(Some(key(80)))),
            Ok(Response::Laddrs(vec![
                LaddrInfo {
                    service: key(80),
                    addr: l.addr,
                    conns: 0
                },
                LaddrInfo {
                    service: key(80),
                    addr: l2.addr,
                    conns: 0
                },
            ]))
        );
        let snap = r.snapshot();
        assert!(snap.is_local("10.10.9.2".parse().unwrap()));
        assert!(snap.is_laddr("10.10.9.2".parse().unwrap()));
        assert!(snap.is_local("10.0.0.1".parse().unwrap()));
        assert!(!snap.is_laddr("10.0.0.1".parse().unwrap()));
        r.apply(&Request::DelLaddr(key(80), l)).unwrap();
        assert_eq!(services(&r)[0].laddrs, vec![l2.addr]);

        // Timeouts: defaults, 0 = unchanged.
        assert_eq!(
            r.query(&Request::GetTimeouts),
            Ok(Response::Timeouts(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }))
        );
        r.apply(&Request::SetTimeouts(Timeouts {
            tcp: 0,
            tcp_fin: 30,
            udp: 0,
        }))
        .unwrap();
        assert_eq!(
            r.timeouts(),
            Timeouts {
                tcp: 900,
                tcp_fin: 30,
                udp: 300
            }
        );
        assert_eq!(r.snapshot().timeouts().ms(tcp_state::FIN_WAIT), 30_000);

        // Zero clears traffic counters, not connection counts.
        r.apply(&Request::AddDest(
            key(80),
            dest("192.168.1.2", 80, FwdMethod::Masq, 1),
        ))
        .unwrap();
        let snap = r.snapshot();
        let dc = snap.services()[0].dests[0].counters.clone();
        dc.bind_conn();
        dc.count_in(100);
        assert_eq!(services(&r)[0].stats.inbytes, 100);
        assert_eq!(services(&r)[0].dests[0].stats.conns, 1);
        r.apply(&Request::Zero(None)).unwrap();
        let s = services(&r);
        assert_eq!(s[0].stats, Default::default());
        assert_eq!(s[0].dests[0].stats, Default::default());
        assert_eq!(s[0].dests[0].inactive_conns, 1);

        // Flush marks dests deleted and empties the table; timeouts stay.
        r.apply(&Request::Flush).unwrap();
        assert!(dc.is_deleted());
        assert!(services(&r).is_empty());
        assert_eq!(r.timeouts().tcp_fin, 30);
        assert!(r.snapshot().services().is_empty());
    }

    #[test]
    fn insertion_order_generation_and_snapshot() {
        let mut r = Rules::new();
        let g0 = r.generation();
        for p in [90, 80, 85] {
            r.apply(&Request::AddService(svc(p, "wrr"))).unwrap();
        }
        for a in ["10.1.0.3", "10.1.0.1", "10.1.0.2"] {
            r.apply(&Request::AddDest(key(80), dest(a, 80, FwdMethod::Masq, 2)))
                .unwrap();
        }
        assert_eq!(r.generation(), g0 + 6);
        let s = services(&r);
        assert_eq!(
            s.iter().map(|s| s.spec.key.port).collect::<Vec<_>>(),
            vec![90, 80, 85]
        );
        assert_eq!(
            s[1].dests
                .iter()
                .map(|d| d.spec.addr.to_string())
                .collect::<Vec<_>>(),
            vec!["10.1.0.3", "10.1.0.1", "10.1.0.2"]
        );
        let snap = r.snapshot();
        assert_eq!(snap.generation(), r.generation());
        let (i, sv) = snap.lookup(6, "10.0.0.1".parse().unwrap(), 80).unwrap();
        assert_eq!(i, 1);
        assert_eq!(sv.dests.len(), 3);
        assert_eq!(sv.dests_epoch, 3);
        assert!(snap.lookup(17, "10.0.0.1".parse().unwrap(), 80).is_none());
        // Counters are shared across rebuilds.
        let a = snap.services()[1].dests[0].counters.clone();
        let b = r.snapshot().services()[1].dests[0].counters.clone();
        assert!(Arc::ptr_eq(&a, &b));
        // Deleting a dest marks it deleted.
        r.apply(&Request::DelDest(key(80), "10.1.0.3".parse().unwrap(), 80))
            .unwrap();
        assert!(a.is_deleted());
        assert!(!r.snapshot().services()[1].dests[0].counters.is_deleted());
        assert_eq!(
            r.apply(&Request::GetTimeouts),
            Err(ApiError::Invalid("not a rule change".into()))
        );
    }

    /// Pages hold whole services up to the entry budget (at least one service), in insertion order,
    /// and together equal the full listing.
    #[test]
    fn services_pages_cover_the_listing() {
        let mut r = Rules::new();
        for (port, n_dests) in [(80, 3u8), (81, 0), (82, 5), (83, 1)] {
            r.apply(&Request::AddService(svc(port, "rr"))).unwrap();
            for d in 0..n_dests {
                r.apply(&Request::AddDest(
                    key(port),
                    dest(&format!("10.1.0.{}", d + 1), port, FwdMethod::Masq, 1),
                ))
                .unwrap();
            }
        }
        let all = match r.query(&Request::GetServices(None)).unwrap() {
            Response::Services(v) => v,
            other => panic!("{other:?}"),
        };
        let ports = |v: &[ServiceInfo]| v.iter().map(|s| s.spec.key.port).collect::<Vec<_>>();
        // Budget 5: [80 (4 entries), 81 (1)] then [82 (6, alone: at least one)] then [83 (2)].
        let (p, next) = r.services_page(0, 5);
        assert_eq!((ports(&p), next), (vec![80, 81], Some(2)));
        let (p, next) = r.services_page(2, 5);
        assert_eq!((ports(&p), next), (vec![82], Some(3)));
        let (p, next) = r.services_page(3, 5);
        assert_eq!((ports(&p), next), (vec![83], None));
        assert_eq!(r.services_page(4, 5), (vec![], None));
        let mut joined = Vec::new();
        let mut start = Some(0);
        while let Some(i) = start {
            let (mut p, next) = r.services_page(i, 3);
            joined.append(&mut p);
            start = next;
        }
        assert_eq!(joined, all);
    }
}
