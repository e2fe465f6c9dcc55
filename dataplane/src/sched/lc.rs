//! Least connection and weighted least connection (kernel `ip_vs_lc.c`, `ip_vs_wlc.c`).
//!
//! Overhead = active * 256 + inactive. lc: minimum overhead over available dests with weight > 0
//! (weights otherwise ignored). wlc: minimum overhead / weight by 64-bit cross-multiplication, starting
//! from the first available dest with weight > 0. Ties go to the earlier dest. Stateless.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;
    use std::sync::atomic::Ordering::Relaxed;

    fn load(d: &Dest, active: u32, inactive: u32) {
        d.counters.active.store(active, Relaxed);
        d.counters.inactive.store(inactive, Relaxed);
    }

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
}
