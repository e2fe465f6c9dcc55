//! Schedulers: which real server a new connection goes to, exactly as the kernel's IPVS schedulers.
//!
//! A [`Scheduler`] is an enum (no trait object on the hot path) holding the data precomputed when a
//! snapshot is built (wrr's gcd and max weight). The state that mutates on every pick (rr's and wrr's
//! cursor) is a [`SchedCursor`] owned by each worker lcore, derived from the snapshot: no lock and no
//! shared write. Consequence, by design: with one worker the sequence of picks is exactly the kernel's;
//! with N workers each worker runs the kernel's sequence independently over the flows it owns (so the
//! global distribution stays proportional to the weights, but the interleaving differs from one kernel
//! director's).
//!
//! On a snapshot change a worker carries its cursor over with [`Scheduler::carry_cursor`], applying the
//! kernel's rules: rr keeps its position (a deleted current dest moves the cursor back to the previous
//! surviving dest); wrr runs `ip_vs_wrr_dest_changed` (cursor to the list head, cw adjusted).
//!
//! Dests unavailable to every scheduler: overloaded ones (see [`crate::service::DestCounters`]); weight
//! 0 dests get no new connection. Adding a scheduler: a variant here, one file, a name in
//! [`SchedKind::from_name`].

pub mod lc;
pub mod rr;
pub mod wrr;

use crate::service::Dest;

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
}

impl SchedKind {
    /// The kind named `name` (ipvsadm's `-s`), or `None` for a scheduler we do not have.
    pub fn from_name(name: &str) -> Option<SchedKind> {
        match name {
            "rr" => Some(SchedKind::Rr),
            "wrr" => Some(SchedKind::Wrr),
            "lc" => Some(SchedKind::Lc),
            "wlc" => Some(SchedKind::Wlc),
            _ => None,
        }
    }

    /// The ipvsadm name.
    pub fn name(self) -> &'static str {
        match self {
            SchedKind::Rr => "rr",
            SchedKind::Wrr => "wrr",
            SchedKind::Lc => "lc",
            SchedKind::Wlc => "wlc",
        }
    }
}

/// A service's scheduler with its precomputed, immutable data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin with its gcd/max-weight data.
    Wrr(wrr::WrrTable),
    /// Least connection.
    Lc,
    /// Weighted least connection.
    Wlc,
}

/// A worker's mutable scheduling state for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedCursor {
    /// The scheduler keeps no state.
    Stateless,
    /// rr position.
    Rr(rr::RrCursor),
    /// wrr position and current weight.
    Wrr(wrr::WrrCursor),
}

impl Scheduler {
    /// Build `kind` over `dests` (precomputing its tables).
    pub fn new(kind: SchedKind, dests: &[Dest]) -> Scheduler {
        match kind {
            SchedKind::Rr => Scheduler::Rr,
            SchedKind::Wrr => Scheduler::Wrr(wrr::WrrTable::new(dests)),
            SchedKind::Lc => Scheduler::Lc,
            SchedKind::Wlc => Scheduler::Wlc,
        }
    }

    /// Which kind this is.
    pub fn kind(&self) -> SchedKind {
        match self {
            Scheduler::Rr => SchedKind::Rr,
            Scheduler::Wrr(_) => SchedKind::Wrr,
            Scheduler::Lc => SchedKind::Lc,
            Scheduler::Wlc => SchedKind::Wlc,
        }
    }

    /// The initial cursor (the kernel's `init_service`).
    pub fn new_cursor(&self) -> SchedCursor {
        match self {
            Scheduler::Rr => SchedCursor::Rr(rr::RrCursor::default()),
            Scheduler::Wrr(t) => SchedCursor::Wrr(t.new_cursor()),
            Scheduler::Lc | Scheduler::Wlc => SchedCursor::Stateless,
        }
    }

    /// Carry `old` (a cursor of a scheduler of the same kind over `old_dests`) over a change of the dest
    /// list to `new_dests` (this scheduler's). A cursor of another kind gives a fresh cursor.
    pub fn carry_cursor(
        &self,
        old: &SchedCursor,
        old_dests: &[Dest],
        new_dests: &[Dest],
    ) -> SchedCursor {
        match (self, old) {
            (Scheduler::Rr, SchedCursor::Rr(c)) => SchedCursor::Rr(c.carry(old_dests, new_dests)),
            (Scheduler::Wrr(t), SchedCursor::Wrr(c)) => SchedCursor::Wrr(t.dest_changed(c)),
            _ => self.new_cursor(),
        }
    }

    /// Pick a dest for a new connection: its index in `dests`, or `None` when none is available.
    /// `cursor` must come from this scheduler ([`Scheduler::new_cursor`]/[`Scheduler::carry_cursor`]);
    /// a mismatched cursor is reset first.
    #[inline]
    pub fn pick(&self, cursor: &mut SchedCursor, dests: &[Dest]) -> Option<usize> {
        match (self, &mut *cursor) {
            (Scheduler::Rr, SchedCursor::Rr(c)) => c.pick(dests),
            (Scheduler::Wrr(t), SchedCursor::Wrr(c)) => t.pick(c, dests),
            (Scheduler::Lc, _) => lc::pick_lc(dests),
            (Scheduler::Wlc, _) => lc::pick_wlc(dests),
            _ => {
                *cursor = self.new_cursor();
                self.pick(cursor, dests)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::service::{Dest, DestCounters, TrafficCounters};
    use rvs_control::proto::FwdMethod;
    use std::net::Ipv4Addr;
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
                weight: w,
                counters: Arc::new(DestCounters::new(svc.clone(), 0, 0)),
            })
            .collect()
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
        for k in [SchedKind::Rr, SchedKind::Wrr, SchedKind::Lc, SchedKind::Wlc] {
            assert_eq!(SchedKind::from_name(k.name()), Some(k));
        }
        assert_eq!(SchedKind::from_name("foo"), None);
        assert_eq!(SchedKind::from_name("RR"), None);
    }

    #[test]
    fn distribution_over_200_picks() {
        let d = dests(&[1, 1]);
        let s = Scheduler::new(SchedKind::Rr, &d);
        let mut c = s.new_cursor();
        let mut n = [0; 2];
        for _ in 0..200 {
            n[s.pick(&mut c, &d).unwrap()] += 1;
        }
        assert_eq!(n, [100, 100]);

        let d = dests(&[3, 1]);
        let s = Scheduler::new(SchedKind::Wrr, &d);
        let mut c = s.new_cursor();
        let mut n = [0; 2];
        for _ in 0..200 {
            n[s.pick(&mut c, &d).unwrap()] += 1;
        }
        assert_eq!(n, [150, 50]);
    }

    #[test]
    fn mismatched_cursor_is_reset() {
        let d = dests(&[1, 1]);
        let s = Scheduler::new(SchedKind::Rr, &d);
        let mut c = SchedCursor::Stateless;
        assert_eq!(s.pick(&mut c, &d), Some(0));
        assert_eq!(s.pick(&mut c, &d), Some(1));
        let w = Scheduler::new(SchedKind::Wrr, &d);
        assert_eq!(w.carry_cursor(&c, &d, &d), w.new_cursor());
    }
}
