//! Rate estimation as IPVS does it (`net/netfilter/ipvs/ip_vs_est.c`): every 2 seconds the counters
//! of each service and each dest are sampled, and five rates (connections, packets in/out, bytes
//! in/out per second) are smoothed with the kernel's scaled EWMA.
//!
//! The arithmetic is the kernel's, bit for bit:
//! - per-second rates are kept scaled: packet and connection rates by 2^10, byte rates by 2^5; the
//!   2-second delta is therefore shifted left by 9 (resp. 4): `rate = (now - last) << 9`;
//! - the average moves a quarter of the way each sample with an arithmetic (flooring) shift:
//!   `avg += (rate - avg) >> 2` on signed 64-bit values;
//! - reading rounds as `ip_vs_read_estimator`: `(avg + 0x1FF) >> 10` for cps/pps, `(avg + 0xF) >> 5`
//!   for bps;
//! - `-Z` (`ip_vs_zero_estimator`) takes the current counters as the new baseline and clears the
//!   averages.
//!
//! [`RateEstimator`] is one estimator (one counter set). [`Estimators`] holds one per service and per
//! dest of a [`Snapshot`], keyed by their identities (a deleted and re-added rule starts afresh, an
//! edited one keeps its rates), and fills the `rates` of listing answers. It runs on rvsd's control
//! thread only (driven by a 2-second timer), reading the shared relaxed-atomic counters: nothing here
//! touches the hot path.

use crate::service::{Snapshot, TrafficCounters};
use rvs_control::proto::{RateStats, ServiceInfo, ServiceKey, TrafficStats};
use std::collections::HashMap;
use std::net::IpAddr;

/// The sampling period the kernel's estimator assumes (the shifts above divide by it).
pub const PERIOD_MS: u64 = 2000;

/// One smoothed rate set (the kernel's `struct ip_vs_estimator`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateEstimator {
    last: TrafficStats,
    cps: i64,
    inpps: i64,
    outpps: i64,
    inbps: i64,
    outbps: i64,
}

/// One EWMA step: `avg += ((delta << shift) - avg) >> 2` on signed 64-bit values (wrapping as the
/// kernel's unsigned arithmetic would on a counter that went backwards).
#[inline]
fn step(avg: &mut i64, now: u64, last: u64, shift: u32) {
    let rate = (now.wrapping_sub(last) << shift) as i64;
    *avg += rate.wrapping_sub(*avg) >> 2;
}

/// Unscale a kernel average (`(avg + round) >> shift`), treating a negative average as 0.
#[inline]
fn read(avg: i64, round: u64, shift: u32) -> u64 {
    (u64::try_from(avg).unwrap_or(0) + round) >> shift
}

impl RateEstimator {
    /// An estimator whose baseline is `start` (the counters when estimation starts; zeros for a new
    /// rule, as the kernel's zero-allocated estimator).
    pub fn new(start: TrafficStats) -> Self {
        RateEstimator {
            last: start,
            ..RateEstimator::default()
        }
    }

    /// Take one 2-second sample of the counters `now` (the kernel's `estimation_timer` body).
    pub fn sample(&mut self, now: TrafficStats) {
        let last = self.last;
        step(&mut self.cps, now.conns, last.conns, 9);
        step(&mut self.inpps, now.inpkts, last.inpkts, 9);
        step(&mut self.outpps, now.outpkts, last.outpkts, 9);
        step(&mut self.inbps, now.inbytes, last.inbytes, 4);
        step(&mut self.outbps, now.outbytes, last.outbytes, 4);
        self.last = now;
    }

    /// The rates, unscaled and rounded as `ip_vs_read_estimator`.
    pub fn rates(&self) -> RateStats {
        RateStats {
            cps: read(self.cps, 0x1FF, 10),
            inpps: read(self.inpps, 0x1FF, 10),
            outpps: read(self.outpps, 0x1FF, 10),
            inbps: read(self.inbps, 0xF, 5),
            outbps: read(self.outbps, 0xF, 5),
        }
    }

    /// `ip_vs_zero_estimator`: `now` (the counters just after zeroing) becomes the baseline and every
    /// average is cleared.
    pub fn zero(&mut self, now: TrafficStats) {
        *self = RateEstimator::new(now);
    }
}

/// The estimators of every service and dest of the running rules.
#[derive(Debug, Default)]
pub struct Estimators {
    services: HashMap<u64, RateEstimator>,
    dests: HashMap<u64, RateEstimator>,
}

impl Estimators {
    /// No estimators yet.
    pub fn new() -> Self {
        Estimators::default()
    }

    /// One 2-second sample of every service and dest of `snap` (the rules now running). Rules that
    /// appeared start from zero counters; rules that went away lose their estimator.
    pub fn tick(&mut self, snap: &Snapshot) {
        let mut services = HashMap::with_capacity(snap.services().len());
        let mut dests = HashMap::with_capacity(self.dests.len());
        for s in snap.services() {
            let mut e = self.services.get(&s.id).copied().unwrap_or_default();
            e.sample(s.counters.stats());
            services.insert(s.id, e);
            for d in &s.dests {
                let mut e = self.dests.get(&d.id).copied().unwrap_or_default();
                e.sample(d.counters.traffic.stats());
                dests.insert(d.id, e);
            }
        }
        self.services = services;
        self.dests = dests;
    }

    /// Restart the estimators of one service (and its dests) or of all, after their counters were
    /// zeroed (`-Z`). Call it right after zeroing, with the snapshot of the current rules.
    pub fn zero(&mut self, snap: &Snapshot, key: Option<&ServiceKey>) {
        for s in snap.services() {
            if key.is_some_and(|k| !same_service(s, k)) {
                continue;
            }
            restart(&mut self.services, s.id, &s.counters);
            for d in &s.dests {
                restart(&mut self.dests, d.id, &d.counters.traffic);
            }
        }
    }

    /// Fill the `rates` of `infos` (a listing built from the same rules as `snap`): services are
    /// matched by key, dests by address and port. Anything without an estimator shows 0.
    pub fn fill(&self, snap: &Snapshot, infos: &mut [ServiceInfo]) {
        for info in infos {
            let k = info.spec.key;
            let Some(svc) = (match k.addr {
                IpAddr::V4(a) => snap
                    .lookup(k.proto.number(), a, k.port)
                    .map(|(_, s)| s)
                    .filter(|s| same_service(s, &k)),
                IpAddr::V6(_) => None,
            }) else {
                continue;
            };
            info.rates = self.rates_of(&self.services, svc.id);
            for di in &mut info.dests {
                if let Some(d) = svc
                    .dests
                    .iter()
                    .find(|d| IpAddr::V4(d.addr) == di.spec.addr && d.port == di.spec.port)
                {
                    di.rates = self.rates_of(&self.dests, d.id);
                }
            }
        }
    }

    fn rates_of(&self, map: &HashMap<u64, RateEstimator>, id: u64) -> RateStats {
        map.get(&id).map(RateEstimator::rates).unwrap_or_default()
    }
}

fn same_service(s: &crate::service::Service, k: &ServiceKey) -> bool {
    s.spec.key == *k
}

fn restart(map: &mut HashMap<u64, RateEstimator>, id: u64, c: &TrafficCounters) {
    map.insert(id, RateEstimator::new(c.stats()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use rvs_control::proto::{
        DestSpec, FwdMethod, Protocol, Request, Response, ServiceSpec, TunnelCsum, TunnelType,
    };

    fn stats(conns: u64, pkts: u64, bytes: u64) -> TrafficStats {
        TrafficStats {
            conns,
            inpkts: pkts,
            outpkts: pkts / 2,
            inbytes: bytes,
            outbytes: bytes * 3,
        }
    }

    /// 50 connections/s for 6 samples, then none: the averages climb a quarter of the way each time
    /// and decay the same way. Expected values worked by hand from the kernel's formulas:
    /// avg1 = 51200/4 = 12800 -> (12800+511)>>10 = 12; avg2 = 12800 + 38400/4 = 22400 -> 22; ...
    /// decay: avg7 = 42087 + floor(-42087/4) = 42087 - 10522 = 31565 -> 31.
    #[test]
    fn kernel_ewma_exact_sequence() {
        let mut e = RateEstimator::default();
        let mut got = Vec::new();
        for c in [100, 200, 300, 400, 500, 600, 600, 600] {
            e.sample(stats(c, 0, 0));
            got.push(e.rates().cps);
        }
        assert_eq!(got, [12, 22, 29, 34, 38, 41, 31, 23]);
        assert_eq!(e.cps, 23673);
    }

    /// Bytes use 2^5 scaling: 150000 bytes per 2 s = 75000 B/s; rate = 150000 << 4 = 2400000.
    #[test]
    fn byte_rates_use_five_bit_scaling() {
        let mut e = RateEstimator::default();
        let mut inbps = Vec::new();
        let mut outbps = Vec::new();
        for i in 1..=8u64 {
            e.sample(stats(0, 0, 150_000 * i));
            let r = e.rates();
            inbps.push(r.inbps);
            outbps.push(r.outbps);
        }
        assert_eq!(
            inbps,
            [18750, 32812, 43359, 51270, 57202, 61652, 64989, 67491]
        );
        // out = 3x in: rate 7200000 per sample; avg1 = 1800000 -> (1800000+15)>>5 = 56250.
        assert_eq!(outbps[0], 56250);
        // Converges to the true rate (225000 B/s) from below, never above.
        let mut e2 = e;
        for i in 9..=80u64 {
            e2.sample(stats(0, 0, 150_000 * i));
        }
        assert_eq!(e2.rates().inbps, 75000);
        assert_eq!(e2.rates().outbps, 225000);
    }

    /// Packet rates: 1000 packets per 2 s in, 500 out.
    #[test]
    fn packet_rates_and_zero() {
        let mut e = RateEstimator::default();
        e.sample(stats(0, 1000, 0));
        // in: 1000<<9 = 512000, avg 128000 -> (128000+511)>>10 = 125; out: 500<<9/4 = 64000 -> 62.
        assert_eq!(
            e.rates(),
            RateStats {
                cps: 0,
                inpps: 125,
                outpps: 62,
                inbps: 0,
                outbps: 0
            }
        );
        // -Z: counters go back to 0; the estimator takes 0 as baseline and clears the averages, so
        // the next sample sees only what came after the zeroing (no huge negative delta).
        e.zero(stats(0, 0, 0));
        assert_eq!(e.rates(), RateStats::default());
        e.sample(stats(0, 1000, 0));
        assert_eq!(e.rates().inpps, 125);
    }

    fn key(port: u16) -> ServiceKey {
        ServiceKey {
            proto: Protocol::Udp,
            addr: "10.0.0.1".parse().unwrap(),
            port,
        }
    }

    fn add(r: &mut Rules, port: u16) {
        r.apply(&Request::AddService(ServiceSpec {
            key: key(port),
            scheduler: "rr".into(),
            persistent: None,
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
        r.apply(&Request::AddDest(
            key(port),
            DestSpec {
                addr: "10.1.0.2".parse().unwrap(),
                port: 53,
                fwd: FwdMethod::Masq,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: TunnelType::Ipip,
                tun_csum: TunnelCsum::NoCsum,
            },
        ))
        .unwrap();
    }

    fn listing(r: &Rules) -> Vec<ServiceInfo> {
        match r.query(&Request::GetServices(None)).unwrap() {
            Response::Services(v) => v,
            other => panic!("{other:?}"),
        }
    }

    /// Through the rule set: packets counted on a dest (as the workers do) show as rates on the dest
    /// and on its service only; `-Z` of one service clears its rates and leaves the other's.
    #[test]
    fn estimators_follow_rules_and_zero() {
        let mut r = Rules::new();
        add(&mut r, 53);
        add(&mut r, 54);
        let snap = r.snapshot();
        let mut est = Estimators::new();
        for (i, s) in snap.services().iter().enumerate() {
            let d = &s.dests[0].counters;
            for _ in 0..(1000 * (i + 1)) {
                d.count_in(100);
            }
        }
        est.tick(&snap);
        let mut infos = listing(&r);
        est.fill(&snap, &mut infos);
        // 1000 pkts / 2 s: inpps 125 (see above); 100000 bytes: (100000<<4)/4 = 400000 -> 12500.
        let want = RateStats {
            cps: 0,
            inpps: 125,
            outpps: 0,
            inbps: 12500,
            outbps: 0,
        };
        assert_eq!(infos[0].rates, want);
        assert_eq!(infos[0].dests[0].rates, want);
        // 2000 pkts: 1024000/4 = 256000 -> 250; 200000 B: 800000 -> 25000.
        assert_eq!(infos[1].rates.inpps, 250);
        assert_eq!(infos[1].dests[0].rates.inbps, 25000);

        r.apply(&Request::Zero(Some(key(53)))).unwrap();
        est.zero(&snap, Some(&key(53)));
        let mut infos = listing(&r);
        est.fill(&snap, &mut infos);
        assert_eq!(infos[0].rates, RateStats::default());
        assert_eq!(infos[0].dests[0].rates, RateStats::default());
        assert_eq!(infos[0].stats, TrafficStats::default());
        assert_eq!(infos[1].rates.inpps, 250);

        // A sample after the zero sees only new traffic.
        est.tick(&snap);
        let mut infos = listing(&r);
        est.fill(&snap, &mut infos);
        assert_eq!(infos[0].rates, RateStats::default());
        // Service 54: no new packets, the average decays: 256000 - 64000 = 192000 -> 192511 >> 10 = 187.
        assert_eq!(infos[1].rates.inpps, 187);

        // A deleted and re-added service starts afresh.
        r.apply(&Request::DelService(key(54))).unwrap();
        add(&mut r, 54);
        let snap = r.snapshot();
        est.tick(&snap);
        let mut infos = listing(&r);
        est.fill(&snap, &mut infos);
        assert_eq!(infos[1].rates, RateStats::default());
    }
}
