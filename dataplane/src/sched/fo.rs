//! Weighted failover and weighted overflow (kernel `ip_vs_fo.c`, `ip_vs_ovf.c`). Stateless.
//!
//! fo: the dest with the highest weight that is not overloaded; weight 0 never wins; ties go to the
//! earlier dest. ovf: the dest with the highest weight among those with weight > 0, not overloaded and
//! with active connections <= weight; ties go to the earlier dest (so traffic overflows to the next
//! weight down once the heaviest dest holds `weight` active connections).

use crate::service::Dest;

/// fo's pick (kernel `ip_vs_fo_schedule`).
pub fn pick_fo(dests: &[Dest]) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut hw = 0;
    for (i, d) in dests.iter().enumerate() {
        if !d.is_overloaded() && d.weight() > hw {
            best = Some(i);
            hw = d.weight();
        }
    }
    best
}

/// ovf's pick (kernel `ip_vs_ovf_schedule`).
pub fn pick_ovf(dests: &[Dest]) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut hw = 0;
    for (i, d) in dests.iter().enumerate() {
        let w = d.weight();
        if d.is_overloaded() || d.active() > w || w == 0 {
            continue;
        }
        if best.is_none() || w > hw {
            best = Some(i);
            hw = w;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;

    #[test]
    fn fo_highest_weight_first_wins_ties() {
        let d = dests(&[2, 5, 5, 1]);
        assert_eq!(pick_fo(&d), Some(1));
        load(&d[1], 1000, 1000); // load does not matter
        assert_eq!(pick_fo(&d), Some(1));
        overload(&d[1]);
        assert_eq!(pick_fo(&d), Some(2));
        overload(&d[2]);
        assert_eq!(pick_fo(&d), Some(0));
        assert_eq!(pick_fo(&dests(&[0, 0])), None);
    }

    #[test]
    fn ovf_overflows_when_active_exceeds_weight() {
        let d = dests(&[1, 3, 2, 3]);
        assert_eq!(pick_ovf(&d), Some(1));
        load(&d[1], 3, 50); // active == weight: still eligible
        assert_eq!(pick_ovf(&d), Some(1));
        load(&d[1], 4, 0); // active > weight: the other weight-3 dest
        assert_eq!(pick_ovf(&d), Some(3));
        load(&d[3], 4, 0);
        assert_eq!(pick_ovf(&d), Some(2));
        load(&d[2], 3, 0);
        assert_eq!(pick_ovf(&d), Some(0));
        load(&d[0], 2, 0);
        assert_eq!(pick_ovf(&d), None);
        assert_eq!(pick_ovf(&dests(&[0])), None);
    }
}
