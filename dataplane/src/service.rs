//! The immutable service snapshot the workers run on, and the shared per-dest/per-service counters.
//!
//! [`crate::rules::Rules`] (the control side) validates every request and builds a new [`Snapshot`]
//! with a bumped generation; workers hold an `Arc<Snapshot>` and never lock. A snapshot holds the
//! services (insertion order) with an O(1) index by `(proto, vip, vport)`, their dests (insertion
//! order) and scheduler data precomputed ([`crate::sched::Scheduler`]), the set of local addresses
//! (VIPs and FULLNAT local addresses) and the timeout table.
//!
//! Counters are not part of the snapshot's value: each dest carries an `Arc<DestCounters>` and each
//! service an `Arc<TrafficCounters>` created when the rule is added and shared by every later snapshot
//! and by every session bound to it, so they survive rebuilds and `-Ln` shows the sum over every lcore.
//! They are relaxed atomics: each is an independent counter, no ordering between them is relied upon.
//! The dest's overload flag follows the kernel's hysteresis exactly (`ip_vs_bind_dest`,
//! `ip_vs_unbind_dest`, `__ip_vs_update_dest`): with an upper threshold u > 0, binding a connection
//! sets it when active + inactive >= u (persistence templates are not counted); unbinding one clears
//! it when the total falls below the lower threshold l, or, when l is 0, when total * 4 < u * 3 (and
//! always when u is 0); an edit clears it when u is removed or raised. State changes (inactive <->
//! active) never touch it.

use crate::flow_hash::FlowBuildHasher;
use crate::sched::Scheduler;
use crate::session::tcp_state::TimeoutTable;
use rvs_control::proto::{FwdMethod, ServiceSpec, TrafficStats};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Connection and traffic counters (one service, or one dest's traffic part).
#[derive(Debug, Default)]
pub struct TrafficCounters {
    /// Connections scheduled.
    pub conns: AtomicU64,
    /// Packets client -> real server.
    pub inpkts: AtomicU64,
    /// Packets real server -> client.
    pub outpkts: AtomicU64,
    /// Bytes client -> real server (IP total length).
    pub inbytes: AtomicU64,
    /// Bytes real server -> client.
    pub outbytes: AtomicU64,
}

impl TrafficCounters {
    /// Read every counter.
    pub fn stats(&self) -> TrafficStats {
        TrafficStats {
            conns: self.conns.load(Relaxed),
            inpkts: self.inpkts.load(Relaxed),
            outpkts: self.outpkts.load(Relaxed),
            inbytes: self.inbytes.load(Relaxed),
            outbytes: self.outbytes.load(Relaxed),
        }
    }

    /// Zero every counter (`-Z`).
    pub fn zero(&self) {
        self.conns.store(0, Relaxed);
        self.inpkts.store(0, Relaxed);
        self.outpkts.store(0, Relaxed);
        self.inbytes.store(0, Relaxed);
        self.outbytes.store(0, Relaxed);
    }

    #[inline]
    fn count_in(&self, bytes: u64) {
        self.inpkts.fetch_add(1, Relaxed);
        self.inbytes.fetch_add(bytes, Relaxed);
    }

    #[inline]
    fn count_out(&self, bytes: u64) {
        self.outpkts.fetch_add(1, Relaxed);
        self.outbytes.fetch_add(bytes, Relaxed);
    }
}

/// The live state of one dest shared by Rules, every snapshot and every session bound to it.
#[derive(Debug)]
pub struct DestCounters {
    /// Connections in `ESTABLISHED`, summed over lcores.
    pub active: AtomicU32,
    /// Connections in any other state (UDP sessions included, as the kernel counts them).
    pub inactive: AtomicU32,
    /// Persistence templates (always 0 until persistence exists).
    pub persist: AtomicU32,
    /// The dest's own traffic counters.
    pub traffic: TrafficCounters,
    /// The owning service's counters (every packet counted on the dest is counted there too).
    pub service: Arc<TrafficCounters>,
    overloaded: AtomicBool,
    deleted: AtomicBool,
    u_threshold: AtomicU32,
    l_threshold: AtomicU32,
}

impl DestCounters {
    /// Fresh counters for a dest of the service whose counters are `service`.
    pub fn new(service: Arc<TrafficCounters>, u_threshold: u32, l_threshold: u32) -> Self {
        DestCounters {
            active: AtomicU32::new(0),
            inactive: AtomicU32::new(0),
            persist: AtomicU32::new(0),
            traffic: TrafficCounters::default(),
            service,
            overloaded: AtomicBool::new(false),
            deleted: AtomicBool::new(false),
            u_threshold: AtomicU32::new(u_threshold),
            l_threshold: AtomicU32::new(l_threshold),
        }
    }

    /// The kernel's `ip_vs_dest_totalconns`: active + inactive. Persistence templates are not
    /// counted (the kernel counts them in `persistconns`, outside the total the thresholds compare).
    pub fn total(&self) -> u64 {
        u64::from(self.active.load(Relaxed)) + u64::from(self.inactive.load(Relaxed))
    }

    /// Whether the dest is flagged overloaded (skipped by every scheduler).
    #[inline]
    pub fn is_overloaded(&self) -> bool {
        self.overloaded.load(Relaxed)
    }

    /// Whether the dest was deleted (its sessions' packets are dropped).
    #[inline]
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Relaxed)
    }

    /// Mark the dest deleted (control side, when its rule goes away).
    pub fn mark_deleted(&self) {
        self.deleted.store(true, Relaxed);
    }

    /// New thresholds from `-e` (kernel `__ip_vs_update_dest`: the overload flag clears when the
    /// upper threshold is removed or raised).
    pub fn set_thresholds(&self, u_threshold: u32, l_threshold: u32) {
        let old_u = self.u_threshold.swap(u_threshold, Relaxed);
        self.l_threshold.store(l_threshold, Relaxed);
        if u_threshold == 0 || u_threshold > old_u {
            self.overloaded.store(false, Relaxed);
        }
    }

    /// A new connection is bound to this dest: counted inactive (as the kernel starts every connection)
    /// and in `conns`; sets the overload flag at the upper threshold.
    pub fn bind_conn(&self) {
        self.inactive.fetch_add(1, Relaxed);
        self.traffic.conns.fetch_add(1, Relaxed);
        self.service.conns.fetch_add(1, Relaxed);
        let u = self.u_threshold.load(Relaxed);
        if u != 0 && self.total() >= u64::from(u) {
            self.overloaded.store(true, Relaxed);
        }
    }

    /// A persistence template was bound to this dest (`persistconns`; the overload check runs as on
    /// any bind, over active + inactive).
    pub fn bind_template(&self) {
        self.persist.fetch_add(1, Relaxed);
        let u = self.u_threshold.load(Relaxed);
        if u != 0 && self.total() >= u64::from(u) {
            self.overloaded.store(true, Relaxed);
        }
    }

    /// A persistence template bound to this dest went away.
    pub fn unbind_template(&self) {
        self.persist.fetch_sub(1, Relaxed);
        self.update_after_unbind();
    }

    /// A connection bound to this dest went away (`active`: it was counted active). Clears the overload
    /// flag below the lower threshold (or below 3/4 of the upper one when the lower is 0).
    pub fn unbind_conn(&self, active: bool) {
        if active {
            self.active.fetch_sub(1, Relaxed);
        } else {
            self.inactive.fetch_sub(1, Relaxed);
        }
        self.update_after_unbind();
    }

    /// The clearing half of the hysteresis (end of `ip_vs_unbind_dest`).
    fn update_after_unbind(&self) {
        let (u, l) = (
            self.u_threshold.load(Relaxed),
            self.l_threshold.load(Relaxed),
        );
        let total = self.total();
        let clear = if l != 0 {
            total < u64::from(l)
        } else if u != 0 {
            total * 4 < u64::from(u) * 3
        } else {
            true
        };
        if clear {
            self.overloaded.store(false, Relaxed);
        }
    }

    /// A connection moved between inactive and active.
    #[inline]
    pub fn set_active(&self, active: bool) {
        if active {
            self.inactive.fetch_sub(1, Relaxed);
            self.active.fetch_add(1, Relaxed);
        } else {
            self.active.fetch_sub(1, Relaxed);
            self.inactive.fetch_add(1, Relaxed);
        }
    }

    /// Count a packet client -> real server of `bytes` on the dest and its service.
    #[inline]
    pub fn count_in(&self, bytes: u64) {
        self.traffic.count_in(bytes);
        self.service.count_in(bytes);
    }

    /// Count a packet real server -> client of `bytes` on the dest and its service.
    #[inline]
    pub fn count_out(&self, bytes: u64) {
        self.traffic.count_out(bytes);
        self.service.count_out(bytes);
    }
}

/// One real server in a snapshot.
#[derive(Debug, Clone)]
pub struct Dest {
    /// Identity, unique for the life of the daemon (kept by `-e`).
    pub id: u64,
    /// Real-server address.
    pub addr: Ipv4Addr,
    /// Real-server port.
    pub port: u16,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// Tunnel type and checksum option (used by `Tunnel` dests).
    pub tunnel: crate::xmit::tunnel::Tunnel,
    /// Weight (0 = quiesced).
    pub weight: u32,
    /// The last non-zero weight (the weight given when added, then every non-zero weight given by
    /// `-e`): the kernel's `last_weight`, which mh builds its table from so that quiescing a dest
    /// does not reshuffle the table.
    pub last_weight: u32,
    /// Shared live counters.
    pub counters: Arc<DestCounters>,
}

impl Dest {
    /// Weight as the schedulers compare it.
    #[inline]
    pub fn weight(&self) -> i64 {
        i64::from(self.weight)
    }

    /// Whether the dest is overloaded.
    #[inline]
    pub fn is_overloaded(&self) -> bool {
        self.counters.is_overloaded()
    }

    /// Active connections (`ESTABLISHED`), as the schedulers compare them.
    #[inline]
    pub fn active(&self) -> i64 {
        i64::from(self.counters.active.load(Relaxed))
    }

    /// The kernel's `ip_vs_dest_conn_overhead`: active * 256 + inactive.
    #[inline]
    pub fn overhead(&self) -> i64 {
        (i64::from(self.counters.active.load(Relaxed)) << 8)
            + i64::from(self.counters.inactive.load(Relaxed))
    }
}

/// `(proto, vip, vport)`: the lookup key of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SvcKey {
    /// IP protocol number (6 or 17).
    pub proto: u8,
    /// Virtual address.
    pub addr: Ipv4Addr,
    /// Virtual port.
    pub port: u16,
}

/// One virtual service in a snapshot.
#[derive(Debug, Clone)]
pub struct Service {
    /// Identity, unique for the life of the daemon (kept by `-E`; a deleted and re-added service gets
    /// a new one).
    pub id: u64,
    /// Lookup key.
    pub key: SvcKey,
    /// Its configuration as given.
    pub spec: ServiceSpec,
    /// The scheduler with its precomputed data.
    pub sched: Scheduler,
    /// Real servers, insertion order.
    pub dests: Vec<Dest>,
    /// FULLNAT local addresses, insertion order.
    pub laddrs: Vec<Ipv4Addr>,
    /// Shared service counters.
    pub counters: Arc<TrafficCounters>,
    /// Bumped on every dest add, edit or delete (per-lcore scheduler cursors follow it).
    pub dests_epoch: u64,
    /// Allow/deny lists for new connections.
    pub acl: crate::acl::Acl,
    /// Most connections (active + inactive, all lcores); 0 = no limit.
    pub conn_limit: u32,
    /// Shared refusal counters of the lists and the limit.
    pub access: Arc<crate::acl::AccessCounters>,
}

impl Service {
    /// The persistence timeout in ms (`-p`), `None` when the service is not persistent.
    #[inline]
    pub fn persistence_ms(&self) -> Option<u64> {
        self.spec.persistent.map(|s| u64::from(s) * 1000)
    }

    /// Whether a new connection from `client` may be scheduled: the allow/deny lists, then the
    /// connection limit (counted on the service's shared counters when refused).
    ///
    /// # Errors
    /// `AclDenied` or `ConnLimit`.
    #[inline]
    pub fn admit(&self, client: Ipv4Addr) -> Result<(), crate::stats::DropReason> {
        if !self.acl.is_empty() && !self.acl.admits(client) {
            self.access.count_denied();
            return Err(crate::stats::DropReason::AclDenied);
        }
        if self.conn_limit > 0 {
            let conns: u64 = self.dests.iter().map(|d| d.counters.total()).sum();
            if conns >= u64::from(self.conn_limit) {
                self.access.count_limited();
                return Err(crate::stats::DropReason::ConnLimit);
            }
        }
        Ok(())
    }

    /// The client address as persistence sees it: masked with the service's `-M` prefix.
    #[inline]
    pub fn persist_client(&self, client: Ipv4Addr) -> Ipv4Addr {
        mask_v4(client, self.spec.netmask_prefix)
    }
}

/// `a` masked to its first `prefix` bits (prefix >= 32 keeps it whole).
#[inline]
pub fn mask_v4(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let m = if prefix >= 32 {
        u32::MAX
    } else {
        !(u32::MAX >> prefix)
    };
    Ipv4Addr::from(u32::from(a) & m)
}

/// The immutable rule set the workers run on.
#[derive(Debug)]
pub struct Snapshot {
    generation: u64,
    services: Vec<Service>,
    by_key: HashMap<SvcKey, usize, FlowBuildHasher>,
    by_id: HashMap<u64, usize, FlowBuildHasher>,
    vips: HashSet<Ipv4Addr, FlowBuildHasher>,
    laddrs: HashMap<Ipv4Addr, Arc<AtomicU64>, FlowBuildHasher>,
    timeouts: TimeoutTable,
    /// `(proto, real-server address, port)` of the dests of persistent services -> the service's
    /// persistence prefix (replies from them are owned by the masked client's worker).
    persist_dests: HashMap<(u8, Ipv4Addr, u16), u8, FlowBuildHasher>,
    /// Addresses of every dest of every service (the sources of NAT replies).
    dest_addrs: HashSet<Ipv4Addr, FlowBuildHasher>,
    any_port_zero: bool,
    any_persistent: bool,
}

impl Snapshot {
    /// Build a snapshot. `laddr_conns` gives, for every FULLNAT local address of any service, the shared
    /// counter of sessions using it.
    pub fn new(
        generation: u64,
        services: Vec<Service>,
        laddr_conns: HashMap<Ipv4Addr, Arc<AtomicU64>>,
        timeouts: TimeoutTable,
    ) -> Self {
        let mut by_key = HashMap::with_hasher(FlowBuildHasher::default());
        let mut by_id = HashMap::with_hasher(FlowBuildHasher::default());
        let mut vips = HashSet::with_hasher(FlowBuildHasher::default());
        let mut laddrs = HashMap::with_hasher(FlowBuildHasher::default());
        let mut persist_dests = HashMap::with_hasher(FlowBuildHasher::default());
        let mut dest_addrs = HashSet::with_hasher(FlowBuildHasher::default());
        let mut any_port_zero = false;
        let mut any_persistent = false;
        for (i, s) in services.iter().enumerate() {
            by_key.insert(s.key, i);
            any_port_zero |= s.key.port == 0;
            if s.spec.persistent.is_some() {
                any_persistent = true;
                for d in &s.dests {
                    persist_dests.insert((s.key.proto, d.addr, d.port), s.spec.netmask_prefix);
                }
            }
            by_id.insert(s.id, i);
            dest_addrs.extend(s.dests.iter().map(|d| d.addr));
            vips.insert(s.key.addr);
            for a in &s.laddrs {
                let c = laddr_conns.get(a).cloned().unwrap_or_default();
                laddrs.insert(*a, c);
            }
        }
        Snapshot {
            generation,
            services,
            by_key,
            by_id,
            vips,
            laddrs,
            timeouts,
            persist_dests,
            dest_addrs,
            any_port_zero,
            any_persistent,
        }
    }

    /// A snapshot with no services (generation 0).
    pub fn empty() -> Arc<Snapshot> {
        Arc::new(Snapshot::new(
            0,
            Vec::new(),
            HashMap::new(),
            TimeoutTable::default(),
        ))
    }

    /// The generation (bumped by Rules on every change).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether `ip` is ours: a VIP or a FULLNAT local address (answer ARP and ICMP echo for it).
    #[inline]
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        self.vips.contains(&ip) || self.laddrs.contains_key(&ip)
    }

    /// Whether `ip` is the address of a dest of some service (whatever its forwarding method).
    #[inline]
    pub fn is_dest_addr(&self, ip: Ipv4Addr) -> bool {
        self.dest_addrs.contains(&ip)
    }

    /// Whether `ip` is a FULLNAT local address of some service.
    #[inline]
    pub fn is_laddr(&self, ip: Ipv4Addr) -> bool {
        self.laddrs.contains_key(&ip)
    }

    /// The shared session counter of local address `ip`.
    pub fn laddr_conns(&self, ip: Ipv4Addr) -> Option<&Arc<AtomicU64>> {
        self.laddrs.get(&ip)
    }

    /// The service `(proto, addr, port)` and its index; when there is none, the catch-all
    /// (persistent) port-zero service of `(proto, addr)`, as the kernel's `ip_vs_service_find`.
    #[inline]
    pub fn lookup(&self, proto: u8, addr: Ipv4Addr, port: u16) -> Option<(usize, &Service)> {
        let i = match self.by_key.get(&SvcKey { proto, addr, port }) {
            Some(i) => *i,
            None if self.any_port_zero && port != 0 => *self.by_key.get(&SvcKey {
                proto,
                addr,
                port: 0,
            })?,
            None => return None,
        };
        self.services.get(i).map(|s| (i, s))
    }

    /// Whether some service is persistent (`-p`).
    #[inline]
    pub fn has_persistence(&self) -> bool {
        self.any_persistent
    }

    /// The persistence prefix of the persistent service whose dest is `(proto, addr, port)`, if any.
    #[inline]
    pub fn persist_prefix_of_dest(&self, proto: u8, addr: Ipv4Addr, port: u16) -> Option<u8> {
        if self.persist_dests.is_empty() {
            return None;
        }
        self.persist_dests.get(&(proto, addr, port)).copied()
    }

    /// The index of the service with identity `id`.
    pub fn index_of_id(&self, id: u64) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// Every service, insertion order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The timeout table.
    #[inline]
    pub fn timeouts(&self) -> &TimeoutTable {
        &self.timeouts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_hysteresis_with_and_without_lower_threshold() {
        let svc = Arc::new(TrafficCounters::default());
        let d = DestCounters::new(svc.clone(), 4, 0);
        for _ in 0..3 {
            d.bind_conn();
        }
        assert!(!d.is_overloaded());
        d.bind_conn();
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 3 * 4 = 12 < 12? no
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 2 * 4 = 8 < 12
        assert!(!d.is_overloaded());
        assert_eq!(svc.conns.load(Relaxed), 4);

        let d = DestCounters::new(svc, 3, 2);
        for _ in 0..3 {
            d.bind_conn();
        }
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 2 < 2? no
        assert!(d.is_overloaded());
        d.unbind_conn(false);
        assert!(!d.is_overloaded());
        d.bind_conn();
        d.bind_conn();
        assert!(d.is_overloaded());
        d.set_thresholds(10, 0); // raised: flag clears
        assert!(!d.is_overloaded());
    }

    /// Bind `n` connections.
    fn bind(d: &DestCounters, n: u32) {
        for _ in 0..n {
            d.bind_conn();
        }
    }

    #[test]
    fn overload_is_set_at_the_upper_threshold_counting_active_and_inactive() {
        let svc = Arc::new(TrafficCounters::default());
        let d = DestCounters::new(svc, 3, 0);
        bind(&d, 2);
        d.set_active(true); // 1 active + 1 inactive
        assert!(!d.is_overloaded());
        // State moves never touch the flag, whatever the total.
        d.set_active(false);
        d.set_active(true);
        assert!(!d.is_overloaded());
        d.bind_conn(); // 1 + 2 = 3 >= 3
        assert!(d.is_overloaded());
        assert_eq!(d.total(), 3);
        // Persistence templates are not part of the total (the kernel's ip_vs_dest_totalconns).
        let svc = Arc::new(TrafficCounters::default());
        let d = DestCounters::new(svc, 2, 0);
        d.persist.store(10, Relaxed);
        d.bind_conn();
        assert!(!d.is_overloaded());
        assert_eq!(d.total(), 1);
        d.bind_conn();
        assert!(d.is_overloaded());
    }

    #[test]
    fn overload_clears_below_three_quarters_without_lower_threshold() {
        // u = 2: clears when total * 4 < 6, i.e. at 1 (the kernel's rounding: ceil(3u/4)).
        let svc = Arc::new(TrafficCounters::default());
        let d = DestCounters::new(svc.clone(), 2, 0);
        bind(&d, 2);
        assert!(d.is_overloaded());
        d.unbind_conn(false);
        assert!(!d.is_overloaded());
        // u = 5: 4 * 4 = 16 < 15 no; 3 * 4 = 12 < 15 yes.
        let d = DestCounters::new(svc.clone(), 5, 0);
        bind(&d, 5);
        assert!(d.is_overloaded());
        d.unbind_conn(false);
        assert!(d.is_overloaded());
        d.unbind_conn(false);
        assert!(!d.is_overloaded());
        // Hysteresis: binding again does not set it until the threshold is reached again.
        d.bind_conn(); // 4
        assert!(!d.is_overloaded());
        d.bind_conn(); // 5
        assert!(d.is_overloaded());
        // An active connection going away counts the same.
        d.set_active(true);
        d.unbind_conn(true); // 4
        d.unbind_conn(false); // 3
        assert!(!d.is_overloaded());
        assert_eq!(d.active.load(Relaxed), 0);
    }

    #[test]
    fn overload_clears_below_the_lower_threshold() {
        let svc = Arc::new(TrafficCounters::default());
        let d = DestCounters::new(svc, 4, 2);
        bind(&d, 4);
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 3: not < 2
        d.unbind_conn(false); // 2: not < 2
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 1 < 2
        assert!(!d.is_overloaded());
    }

    #[test]
    fn threshold_edits_follow_the_kernel() {
        let svc = Arc::new(TrafficCounters::default());
        let d = DestCounters::new(svc, 2, 0);
        bind(&d, 2);
        assert!(d.is_overloaded());
        // Same or lower upper threshold: the flag stays (no re-evaluation).
        d.set_thresholds(2, 1);
        assert!(d.is_overloaded());
        d.set_thresholds(1, 0);
        assert!(d.is_overloaded());
        // Raised: cleared (even though the total is still above the new lower bound).
        d.set_thresholds(3, 0);
        assert!(!d.is_overloaded());
        // Lowered below the current total: set at the next bind only.
        d.set_thresholds(1, 0);
        assert!(!d.is_overloaded());
        d.bind_conn();
        assert!(d.is_overloaded());
        // Removed (-x 0): cleared, and never set again.
        d.set_thresholds(0, 0);
        assert!(!d.is_overloaded());
        bind(&d, 100);
        assert!(!d.is_overloaded());
        // Without thresholds an unbind clears a flag left over (the kernel's last branch).
        let svc = Arc::new(TrafficCounters::default());
        let d = DestCounters::new(svc, 1, 0);
        d.bind_conn();
        assert!(d.is_overloaded());
        d.u_threshold.store(0, Relaxed);
        d.unbind_conn(false);
        assert!(!d.is_overloaded());
    }

    #[test]
    fn active_inactive_moves_and_traffic() {
        let svc = Arc::new(TrafficCounters::default());
        let d = DestCounters::new(svc.clone(), 0, 0);
        d.bind_conn();
        d.set_active(true);
        assert_eq!(d.active.load(Relaxed), 1);
        assert_eq!(d.inactive.load(Relaxed), 0);
        d.count_in(60);
        d.count_out(40);
        d.count_out(40);
        assert_eq!(
            d.traffic.stats(),
            TrafficStats {
                conns: 1,
                inpkts: 1,
                outpkts: 2,
                inbytes: 60,
                outbytes: 80
            }
        );
        assert_eq!(svc.stats(), d.traffic.stats());
        d.unbind_conn(true);
        assert_eq!(d.active.load(Relaxed), 0);
        svc.zero();
        assert_eq!(svc.stats(), TrafficStats::default());
    }

    #[test]
    fn empty_snapshot() {
        let s = Snapshot::empty();
        assert_eq!(s.generation(), 0);
        assert!(!s.is_local(Ipv4Addr::new(10, 10, 0, 100)));
        assert!(s.lookup(6, Ipv4Addr::new(10, 10, 0, 100), 80).is_none());
        assert!(s.services().is_empty());
    }
}
