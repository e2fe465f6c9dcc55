//! Schedulers: which real server a new connection goes to, exactly as the kernel's IPVS schedulers.
//!
//! A [`Scheduler`] is an enum (no trait object on the hot path) holding the data precomputed when a
//! snapshot is built on the control side: wrr's gcd and max weight, sh's and dh's 256-bucket tables,
//! the Maglev lookup table. The state that mutates on every pick is a [`SchedCursor`] owned by each
//! worker lcore: rr's and wrr's position, twos' PRNG, lblc's and lblcr's fixed-capacity caches. No
//! lock, no shared write, no allocation per pick. Consequence, by design: with one worker the
//! sequence of picks is exactly the kernel's; with N workers each worker runs the kernel's sequence
//! (and its own lblc/lblcr cache) independently over the flows it owns.
//!
//! On a snapshot change a worker carries its cursor over with [`Scheduler::carry_cursor`], applying the
//! kernel's rules: rr keeps its position (a deleted current dest moves the cursor back to the previous
//! surviving dest); wrr runs `ip_vs_wrr_dest_changed` (cursor to the list head, cw adjusted);
//! lblc/lblcr caches keep their entries, remapped to the new dest indices (entries of deleted dests
//! are dropped).
//!
//! Common rules (every scheduler): dests are compared in list order with strict comparisons, so the
//! earlier dest wins ties; weighted comparisons cross-multiply in 64 bits; a weight 0 dest gets no new
//! connection; an overloaded dest (see [`crate::service::DestCounters`]) is skipped — except where the
//! kernel itself does not look at the flag (lblc keeping a cached dest, see [`lblc`]).
//!
//! The packet fields a pick may hash (sh, dh, mh, lblc, lblcr) come in a [`SchedInput`]; sh and mh
//! read the service's scheduler flags ([`SCHED_FLAG_1`] fallback, [`SCHED_FLAG_2`] port), fixed when
//! the snapshot is built. Adding a scheduler: a variant here, one file, a name in
//! [`SchedKind::from_name`].

pub mod fo;
pub mod hash;
pub mod lblc;
pub mod lc;
pub mod mh;
pub mod persist;
pub mod rr;
pub mod twos;
pub mod wrr;

use crate::service::Dest;
use std::net::{IpAddr, Ipv4Addr};

/// Service flag `IP_VS_SVC_F_SCHED1`: sh-fallback / mh-fallback.
pub const SCHED_FLAG_1: u32 = 0x08;
/// Service flag `IP_VS_SVC_F_SCHED2`: sh-port / mh-port.
pub const SCHED_FLAG_2: u32 = 0x10;
/// Service flag `IP_VS_SVC_F_SCHED3` (no scheduler uses it).
pub const SCHED_FLAG_3: u32 = 0x20;

/// Index value meaning "no dest" in the precomputed tables.
pub const NO_DEST: u32 = u32::MAX;

/// The schedulers this daemon knows, by ipvsadm name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchedKind {
    /// Round robin (`rr`).
    Rr,
    /// Weighted round robin (`wrr`).
    Wrr,
    /// Least connection (`lc`).
    Lc,
    /// Weighted least connection (`wlc`, the default).
    Wlc,
    /// Shortest expected delay (`sed`).
    Sed,
    /// Never queue (`nq`).
    Nq,
    /// Source hashing (`sh`).
    Sh,
    /// Destination hashing (`dh`).
    Dh,
    /// Maglev hashing (`mh`).
    Mh,
    /// Weighted failover (`fo`).
    Fo,
    /// Weighted overflow (`ovf`).
    Ovf,
    /// Power of two choices (`twos`).
    Twos,
    /// Locality-based least connection (`lblc`).
    Lblc,
    /// Locality-based least connection with replication (`lblcr`).
    Lblcr,
}

impl SchedKind {
    /// Every kind, in the order of the kernel's documentation.
    pub const ALL: [SchedKind; 14] = [
        SchedKind::Rr,
        SchedKind::Wrr,
        SchedKind::Lc,
        SchedKind::Wlc,
        SchedKind::Lblc,
        SchedKind::Lblcr,
        SchedKind::Dh,
        SchedKind::Sh,
        SchedKind::Sed,
        SchedKind::Nq,
        SchedKind::Fo,
        SchedKind::Ovf,
        SchedKind::Mh,
        SchedKind::Twos,
    ];

    /// The kind named `name` (ipvsadm's `-s`, exact lower-case name), or `None` for a scheduler we do
    /// not have.
    pub fn from_name(name: &str) -> Option<SchedKind> {
        SchedKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The ipvsadm name.
    pub fn name(self) -> &'static str {
        match self {
            SchedKind::Rr => "rr",
            SchedKind::Wrr => "wrr",
            SchedKind::Lc => "lc",
            SchedKind::Wlc => "wlc",
            SchedKind::Sed => "sed",
            SchedKind::Nq => "nq",
            SchedKind::Sh => "sh",
            SchedKind::Dh => "dh",
            SchedKind::Mh => "mh",
            SchedKind::Fo => "fo",
            SchedKind::Ovf => "ovf",
            SchedKind::Twos => "twos",
            SchedKind::Lblc => "lblc",
            SchedKind::Lblcr => "lblcr",
        }
    }
}

/// The packet fields a pick may look at (the first packet of a new connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedInput {
    /// Client (source) address: sh and mh hash it.
    pub src: IpAddr,
    /// Client (source) port: sh/mh hash it with the sh-port/mh-port flag.
    pub src_port: u16,
    /// Destination address (the VIP for a normal service): dh hashes it, lblc/lblcr key their cache
    /// on it.
    pub dst: IpAddr,
    /// Destination port.
    pub dst_port: u16,
    /// Monotonic time in milliseconds (lblc/lblcr cache ages).
    pub now_ms: u64,
}

impl SchedInput {
    /// The input of an IPv4 packet `src:src_port -> dst:dst_port` at `now_ms`.
    pub fn v4(src: Ipv4Addr, src_port: u16, dst: Ipv4Addr, dst_port: u16, now_ms: u64) -> Self {
        SchedInput {
            src: IpAddr::V4(src),
            src_port,
            dst: IpAddr::V4(dst),
            dst_port,
            now_ms,
        }
    }
}

/// A service's scheduler with its precomputed, immutable data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin with its gcd/max-weight data.
    Wrr(wrr::WrrTable),
    /// Least connection.
    Lc,
    /// Weighted least connection.
    Wlc,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Source hashing with its bucket table and flags.
    Sh(hash::ShTable),
    /// Destination hashing with its bucket table.
    Dh(hash::DhTable),
    /// Maglev hashing with its lookup table and flags.
    Mh(mh::MhTable),
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Power of two choices.
    Twos,
    /// Locality-based least connection.
    Lblc,
    /// Locality-based least connection with replication.
    Lblcr,
}

/// A worker's mutable scheduling state for one service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SchedCursor {
    /// The scheduler keeps no state.
    #[default]
    Stateless,
    /// rr position.
    Rr(rr::RrCursor),
    /// wrr position and current weight.
    Wrr(wrr::WrrCursor),
    /// twos' random number generator.
    Twos(twos::Prng),
    /// lblc's destination-address cache.
    Lblc(Box<lblc::LblcCache>),
    /// lblcr's destination-address -> dest-set cache.
    Lblcr(Box<lblc::LblcrCache>),
}

impl Scheduler {
    /// Build `kind` over `dests` with no scheduler flags (precomputing its tables).
    pub fn new(kind: SchedKind, dests: &[Dest]) -> Scheduler {
        Scheduler::build(kind, 0, dests)
    }

    /// Build `kind` over `dests` with the service's scheduler flags `sched_flags` (precomputing its
    /// tables: this is the control side's work, never done per packet).
    pub fn build(kind: SchedKind, sched_flags: u32, dests: &[Dest]) -> Scheduler {
        match kind {
            SchedKind::Rr => Scheduler::Rr,
            SchedKind::Wrr => Scheduler::Wrr(wrr::WrrTable::new(dests)),
            SchedKind::Lc => Scheduler::Lc,
            SchedKind::Wlc => Scheduler::Wlc,
            SchedKind::Sed => Scheduler::Sed,
            SchedKind::Nq => Scheduler::Nq,
            SchedKind::Sh => Scheduler::Sh(hash::ShTable::new(dests, sched_flags)),
            SchedKind::Dh => Scheduler::Dh(hash::DhTable::new(dests)),
            SchedKind::Mh => Scheduler::Mh(mh::MhTable::new(dests, sched_flags)),
            SchedKind::Fo => Scheduler::Fo,
            SchedKind::Ovf => Scheduler::Ovf,
            SchedKind::Twos => Scheduler::Twos,
            SchedKind::Lblc => Scheduler::Lblc,
            SchedKind::Lblcr => Scheduler::Lblcr,
        }
    }

    /// Which kind this is.
    pub fn kind(&self) -> SchedKind {
        match self {
            Scheduler::Rr => SchedKind::Rr,
            Scheduler::Wrr(_) => SchedKind::Wrr,
            Scheduler::Lc => SchedKind::Lc,
            Scheduler::Wlc => SchedKind::Wlc,
            Scheduler::Sed => SchedKind::Sed,
            Scheduler::Nq => SchedKind::Nq,
            Scheduler::Sh(_) => SchedKind::Sh,
            Scheduler::Dh(_) => SchedKind::Dh,
            Scheduler::Mh(_) => SchedKind::Mh,
            Scheduler::Fo => SchedKind::Fo,
            Scheduler::Ovf => SchedKind::Ovf,
            Scheduler::Twos => SchedKind::Twos,
            Scheduler::Lblc => SchedKind::Lblc,
            Scheduler::Lblcr => SchedKind::Lblcr,
        }
    }

    /// The initial cursor (the kernel's `init_service`). For lblc/lblcr this allocates the
    /// fixed-capacity cache: call it on the control path (snapshot installation), not per packet.
    pub fn new_cursor(&self) -> SchedCursor {
        match self {
            Scheduler::Rr => SchedCursor::Rr(rr::RrCursor::default()),
            Scheduler::Wrr(t) => SchedCursor::Wrr(t.new_cursor()),
            Scheduler::Twos => SchedCursor::Twos(twos::Prng::default()),
            Scheduler::Lblc => SchedCursor::Lblc(Box::default()),
            Scheduler::Lblcr => SchedCursor::Lblcr(Box::default()),
            _ => SchedCursor::Stateless,
        }
    }

    /// Carry `old` (a cursor of a scheduler of the same kind over `old_dests`) over a change of the dest
    /// list to `new_dests` (this scheduler's). A cursor of another kind gives a fresh cursor.
    /// Control path (may allocate).
    pub fn carry_cursor(
        &self,
        old: SchedCursor,
        old_dests: &[Dest],
        new_dests: &[Dest],
    ) -> SchedCursor {
        match (self, old) {
            (Scheduler::Rr, SchedCursor::Rr(c)) => SchedCursor::Rr(c.carry(old_dests, new_dests)),
            (Scheduler::Wrr(t), SchedCursor::Wrr(c)) => SchedCursor::Wrr(t.dest_changed(&c)),
            (Scheduler::Twos, c @ SchedCursor::Twos(_)) => c,
            (Scheduler::Lblc, SchedCursor::Lblc(mut c)) => {
                c.remap(&lblc::index_map(old_dests, new_dests));
                SchedCursor::Lblc(c)
            }
            (Scheduler::Lblcr, SchedCursor::Lblcr(mut c)) => {
                c.remap(&lblc::index_map(old_dests, new_dests));
                SchedCursor::Lblcr(c)
            }
            _ => self.new_cursor(),
        }
    }

    /// Pick a dest for a new connection described by `input`: its index in `dests`, or `None` when
    /// none is available. `cursor` must come from this scheduler
    /// ([`Scheduler::new_cursor`]/[`Scheduler::carry_cursor`]); a mismatched cursor is reset first.
    #[inline]
    pub fn pick(
        &self,
        cursor: &mut SchedCursor,
        dests: &[Dest],
        input: &SchedInput,
    ) -> Option<usize> {
        match (self, &mut *cursor) {
            (Scheduler::Rr, SchedCursor::Rr(c)) => c.pick(dests),
            (Scheduler::Wrr(t), SchedCursor::Wrr(c)) => t.pick(c, dests),
            (Scheduler::Lc, _) => lc::pick_lc(dests),
            (Scheduler::Wlc, _) => lc::pick_wlc(dests),
            (Scheduler::Sed, _) => lc::pick_sed(dests),
            (Scheduler::Nq, _) => lc::pick_nq(dests),
            (Scheduler::Sh(t), _) => t.pick(dests, input),
            (Scheduler::Dh(t), _) => t.pick(dests, input),
            (Scheduler::Mh(t), _) => t.pick(dests, input),
            (Scheduler::Fo, _) => fo::pick_fo(dests),
            (Scheduler::Ovf, _) => fo::pick_ovf(dests),
            (Scheduler::Twos, SchedCursor::Twos(r)) => twos::pick_twos(r, dests),
            (Scheduler::Lblc, SchedCursor::Lblc(c)) => c.pick(dests, input),
            (Scheduler::Lblcr, SchedCursor::Lblcr(c)) => c.pick(dests, input),
            _ => {
                *cursor = self.new_cursor();
                self.pick(cursor, dests, input)
            }
        }
    }
}

/// Whether `d` may take a new connection at all: weight > 0 and not overloaded (the kernel's
/// `is_unavailable` negated, as sh/dh/mh use it).
#[inline]
pub(crate) fn available(d: &Dest) -> bool {
    d.weight > 0 && !d.is_overloaded()
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::SchedInput;
    use crate::service::{Dest, DestCounters, TrafficCounters};
    use rvs_control::proto::FwdMethod;
    use std::net::Ipv4Addr;
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;

    /// Dests with the given weights, ids 1.., addresses 10.0.0.(id).
    pub fn dests(weights: &[u32]) -> Vec<Dest> {
        let svc = Arc::new(TrafficCounters::default());
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Dest {
                id: i as u64 + 1,
                addr: Ipv4Addr::new(10, 0, 0, i as u8 + 1),
                port: 80,
                fwd: FwdMethod::Masq,
                tunnel: crate::xmit::tunnel::Tunnel::IPIP,
                weight: w,
                last_weight: w,
                counters: Arc::new(DestCounters::new(svc.clone(), 0, 0)),
            })
            .collect()
    }

    /// Set a dest's active/inactive counts.
    pub fn load(d: &Dest, active: u32, inactive: u32) {
        d.counters.active.store(active, Relaxed);
        d.counters.inactive.store(inactive, Relaxed);
    }

    /// Flag a dest overloaded (threshold 1, one connection bound).
    pub fn overload(d: &Dest) {
        d.counters.set_thresholds(1, 0);
        d.counters.bind_conn();
        assert!(d.is_overloaded());
    }

    /// An input from 192.168.0.1:1000 to 10.10.0.100:80 at time 0.
    pub fn input() -> SchedInput {
        SchedInput::v4(
            Ipv4Addr::new(192, 168, 0, 1),
            1000,
            Ipv4Addr::new(10, 10, 0, 100),
            80,
            0,
        )
    }

    /// Letters for picks (0 = 'A').
    pub fn letters(picks: &[Option<usize>]) -> String {
        picks
            .iter()
            .map(|p| match p {
                Some(i) => (b'A' + *i as u8) as char,
                None => '-',
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn names() {
        for k in SchedKind::ALL {
            assert_eq!(SchedKind::from_name(k.name()), Some(k));
            assert_eq!(Scheduler::new(k, &dests(&[1])).kind(), k);
        }
        assert_eq!(SchedKind::from_name("foo"), None);
        assert_eq!(SchedKind::from_name("RR"), None);
        assert_eq!(SchedKind::from_name(""), None);
    }

    #[test]
    fn distribution_over_200_picks() {
        let i = input();
        let d = dests(&[1, 1]);
        let s = Scheduler::new(SchedKind::Rr, &d);
        let mut c = s.new_cursor();
        let mut n = [0; 2];
        for _ in 0..200 {
            n[s.pick(&mut c, &d, &i).unwrap()] += 1;
        }
        assert_eq!(n, [100, 100]);

        let d = dests(&[3, 1]);
        let s = Scheduler::new(SchedKind::Wrr, &d);
        let mut c = s.new_cursor();
        let mut n = [0; 2];
        for _ in 0..200 {
            n[s.pick(&mut c, &d, &i).unwrap()] += 1;
        }
        assert_eq!(n, [150, 50]);
    }

    #[test]
    fn mismatched_cursor_is_reset() {
        let i = input();
        let d = dests(&[1, 1]);
        let s = Scheduler::new(SchedKind::Rr, &d);
        let mut c = SchedCursor::Stateless;
        assert_eq!(s.pick(&mut c, &d, &i), Some(0));
        assert_eq!(s.pick(&mut c, &d, &i), Some(1));
        let w = Scheduler::new(SchedKind::Wrr, &d);
        assert_eq!(w.carry_cursor(c, &d, &d), w.new_cursor());
        let l = Scheduler::new(SchedKind::Lblc, &d);
        let mut c = SchedCursor::Stateless;
        assert_eq!(l.pick(&mut c, &d, &i), Some(0));
        assert!(matches!(c, SchedCursor::Lblc(_)));
    }

    #[test]
    fn every_scheduler_refuses_all_weight_zero_and_all_overloaded() {
        let i = input();
        for k in SchedKind::ALL {
            let d = dests(&[0, 0, 0]);
            let s = Scheduler::new(k, &d);
            let mut c = s.new_cursor();
            assert_eq!(s.pick(&mut c, &d, &i), None, "{k:?} weight 0");
            let d = dests(&[1, 2, 3]);
            for x in &d {
                overload(x);
            }
            let s = Scheduler::new(k, &d);
            let mut c = s.new_cursor();
            assert_eq!(s.pick(&mut c, &d, &i), None, "{k:?} overloaded");
            let s = Scheduler::new(k, &[]);
            let mut c = s.new_cursor();
            assert_eq!(s.pick(&mut c, &[], &i), None, "{k:?} empty");
        }
    }
}
