//! The least-connection family (kernel `ip_vs_lc.c`, `ip_vs_wlc.c`, `ip_vs_sed.c`, `ip_vs_nq.c`).
//!
//! Overhead = active * 256 + inactive. lc: minimum overhead over available dests with weight > 0
//! (weights otherwise ignored). wlc: minimum overhead / weight by 64-bit cross-multiplication, starting
//! from the first available dest with weight > 0. sed: as wlc with overhead = active + 1 (inactive
//! ignored). nq: the first available dest with no active connection wins at once, otherwise sed.
//! Ties go to the earlier dest. Stateless.

use crate::service::Dest;

/// lc's pick.
pub fn pick_lc(dests: &[Dest]) -> Option<usize> {
    let mut least: Option<(usize, i64)> = None;
    for (i, d) in dests.iter().enumerate() {
        if d.is_overloaded() || d.weight == 0 {
            continue;
        }
        let doh = d.overhead();
        let better = match least {
            None => true,
            Some((_, loh)) => doh < loh,
        };
        if better {
            least = Some((i, doh));
        }
    }
    least.map(|(i, _)| i)
}

/// wlc's pick.
pub fn pick_wlc(dests: &[Dest]) -> Option<usize> {
    let first = dests
        .iter()
        .position(|d| !d.is_overloaded() && d.weight > 0)?;
    let mut least = first;
    let mut loh = dests[first].overhead();
    for (i, d) in dests.iter().enumerate().skip(first + 1) {
        if d.is_overloaded() {
            continue;
        }
        let doh = d.overhead();
        if loh * d.weight() > doh * dests[least].weight() {
            least = i;
            loh = doh;
        }
    }
    Some(least)
}

/// sed's overhead (`ip_vs_sed_dest_overhead`): active + 1.
#[inline]
fn sed_overhead(d: &Dest) -> i64 {
    d.active() + 1
}

/// sed's pick (kernel `ip_vs_sed_schedule`).
pub fn pick_sed(dests: &[Dest]) -> Option<usize> {
    let first = dests
        .iter()
        .position(|d| !d.is_overloaded() && d.weight > 0)?;
    let mut least = first;
    let mut loh = sed_overhead(&dests[first]);
    for (i, d) in dests.iter().enumerate().skip(first + 1) {
        if d.is_overloaded() {
            continue;
        }
        let doh = sed_overhead(d);
        if loh * d.weight() > doh * dests[least].weight() {
            least = i;
            loh = doh;
        }
    }
    Some(least)
}

/// nq's pick (kernel `ip_vs_nq_schedule`): an idle dest (no active connection) at once, in list
/// order; otherwise the sed minimum.
pub fn pick_nq(dests: &[Dest]) -> Option<usize> {
    let mut least: Option<(usize, i64)> = None;
    for (i, d) in dests.iter().enumerate() {
        if d.is_overloaded() || d.weight == 0 {
            continue;
        }
        let doh = sed_overhead(d);
        if d.active() == 0 {
            return Some(i);
        }
        let better = match least {
            None => true,
            Some((l, loh)) => loh * d.weight() > doh * dests[l].weight(),
        };
        if better {
            least = Some((i, doh));
        }
    }
    least.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;

    #[test]
    fn lc_picks_least_overhead_ties_first() {
        let d = dests(&[1, 5, 1]);
        assert_eq!(pick_lc(&d), Some(0));
        load(&d[0], 1, 0); // 256
        load(&d[1], 0, 255); // 255
        load(&d[2], 0, 255);
        assert_eq!(pick_lc(&d), Some(1));
        let d = dests(&[0, 1]);
        assert_eq!(pick_lc(&d), Some(1));
        assert_eq!(pick_lc(&dests(&[0, 0])), None);
    }

    #[test]
    fn wlc_cross_multiplies() {
        let d = dests(&[1, 3]);
        load(&d[0], 1, 0); // 256/1
        load(&d[1], 2, 0); // 512/3 < 256
        assert_eq!(pick_wlc(&d), Some(1));
        load(&d[1], 3, 0); // 768/3 == 256: tie, first wins
        assert_eq!(pick_wlc(&d), Some(0));
        let d = dests(&[0, 2, 1]);
        load(&d[1], 0, 2); // 2/2 = 1
        load(&d[2], 0, 1); // 1/1 = 1 tie
        assert_eq!(pick_wlc(&d), Some(1));
        assert_eq!(pick_wlc(&dests(&[0])), None);
        let d = dests(&[1, 1]);
        d[0].counters.set_thresholds(1, 0);
        d[0].counters.bind_conn();
        load(&d[1], 100, 0);
        assert_eq!(pick_wlc(&d), Some(1));
    }

    #[test]
    fn sed_minimises_active_plus_one_over_weight() {
        // (a+1)/w: A (0+1)/1 = 1, B (1+1)/3 = 0.67, C (0+1)/1 = 1 -> B; inactive is ignored.
        let d = dests(&[1, 3, 1]);
        load(&d[1], 1, 500);
        assert_eq!(pick_sed(&d), Some(1));
        // B (2+1)/3 = 1 ties A 1/1: the earlier (A) wins.
        load(&d[1], 2, 0);
        assert_eq!(pick_sed(&d), Some(0));
        // Weight 0 is never chosen even with no load; overloaded is skipped.
        let d = dests(&[0, 1, 1]);
        load(&d[1], 5, 0);
        assert_eq!(pick_sed(&d), Some(2));
        overload(&d[2]);
        assert_eq!(pick_sed(&d), Some(1));
    }

    #[test]
    fn nq_takes_the_first_idle_else_sed() {
        let d = dests(&[1, 2, 1]);
        load(&d[0], 1, 0);
        load(&d[1], 0, 100); // no active: idle for nq
        assert_eq!(pick_nq(&d), Some(1));
        load(&d[1], 3, 0); // (3+1)/2 = 2 vs A (1+1)/1 = 2 tie -> A... but C is idle
        assert_eq!(pick_nq(&d), Some(2));
        load(&d[2], 2, 0); // C (2+1)/1 = 3: A and B tie at 2 -> A
        assert_eq!(pick_nq(&d), Some(0));
        load(&d[0], 4, 0); // A 5: B 2 wins
        assert_eq!(pick_nq(&d), Some(1));
        // An idle weight 0 or overloaded dest is not taken.
        let d = dests(&[0, 1, 1]);
        load(&d[2], 1, 0);
        overload(&d[1]);
        load(&d[1], 0, 0);
        assert_eq!(pick_nq(&d), Some(2));
    }
}
