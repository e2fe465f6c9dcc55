//! Weighted round robin (kernel `ip_vs_wrr.c`).
//!
//! Precomputed per snapshot: `di` = gcd of the positive weights (1 if none) and `mw` = max weight -
//! (di - 1). Per lcore: the last chosen dest `cl` and the current weight `cw` (starts at `mw`). A pick
//! resumes after `cl` and returns the first available dest with weight >= cw; at each wrap `cw -= di`,
//! and when `cw <= 0` it resets to `mw`. On any dest change (`ip_vs_wrr_dest_changed`): `cl` to the
//! head; if `cw > mw` or `cw == 0` then `cw = mw`, else if `di > 1` then `cw = (cw / di) * di + 1`.
//! Weights 4:3:2 give A A B A B C A B C, repeating.

use crate::service::Dest;

/// wrr's precomputed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrrTable {
    /// gcd of the positive weights (1 when none).
    pub di: i64,
    /// max weight - (di - 1).
    pub mw: i64,
}

/// wrr's per-lcore state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrrCursor {
    /// Last chosen dest (`None` = list head).
    pub cl: Option<usize>,
    /// Current weight.
    pub cw: i64,
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl WrrTable {
    /// Compute `di` and `mw` over `dests`.
    pub fn new(dests: &[Dest]) -> WrrTable {
        let mut g = 0;
        let mut max = 0;
        for d in dests {
            let w = d.weight();
            if w > 0 {
                g = if g > 0 { gcd(w, g) } else { w };
            }
            max = max.max(w);
        }
        let di = if g > 0 { g } else { 1 };
        WrrTable {
            di,
            mw: max - (di - 1),
        }
    }

    /// The initial cursor.
    pub fn new_cursor(&self) -> WrrCursor {
        WrrCursor {
            cl: None,
            cw: self.mw,
        }
    }

    /// `ip_vs_wrr_dest_changed`: the cursor after a dest change (`self` is the new table).
    pub fn dest_changed(&self, old: &WrrCursor) -> WrrCursor {
        let cw = if old.cw > self.mw || old.cw == 0 {
            self.mw
        } else if self.di > 1 {
            (old.cw / self.di) * self.di + 1
        } else {
            old.cw
        };
        WrrCursor { cl: None, cw }
    }

    /// Pick (kernel `ip_vs_wrr_schedule`, including its last-pass rules so it terminates when every
    /// dest is overloaded).
    pub fn pick(&self, c: &mut WrrCursor, dests: &[Dest]) -> Option<usize> {
        let n = dests.len();
        if self.mw == 0 {
            return None;
        }
        if matches!(c.cl, Some(i) if i >= n) {
            c.cl = None;
        }
        let last = c.cl;
        let mut from = c.cl;
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        loop {
            let start = from.map_or(0, |i| i + 1);
            for (j, d) in dests.iter().enumerate().skip(start) {
                if !d.is_overloaded() && d.weight() >= c.cw {
                    c.cl = Some(j);
                    return Some(j);
                }
                if stop == Some(j) {
                    c.cl = Some(j);
                    return None;
                }
            }
            from = None;
            c.cw -= self.di;
            if c.cw <= 0 {
                c.cw = self.mw;
                if last_pass || last.is_none() {
                    c.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = c.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;

    fn run(t: &WrrTable, c: &mut WrrCursor, d: &[Dest], n: usize) -> String {
        letters(&(0..n).map(|_| t.pick(c, d)).collect::<Vec<_>>())
    }

    #[test]
    fn weights_4_3_2() {
        let d = dests(&[4, 3, 2]);
        let t = WrrTable::new(&d);
        assert_eq!(t, WrrTable { di: 1, mw: 4 });
        let mut c = t.new_cursor();
        assert_eq!(run(&t, &mut c, &d, 18), "AABABCABCAABABCABC");
    }

    #[test]
    fn gcd_stepping() {
        let d = dests(&[4, 2, 0]);
        let t = WrrTable::new(&d);
        assert_eq!(t, WrrTable { di: 2, mw: 3 });
        let mut c = t.new_cursor();
        assert_eq!(run(&t, &mut c, &d, 6), "AABAAB");
    }

    #[test]
    fn all_zero_and_all_overloaded() {
        let d = dests(&[0, 0]);
        let t = WrrTable::new(&d);
        assert_eq!(t.mw, 0);
        let mut c = t.new_cursor();
        assert_eq!(run(&t, &mut c, &d, 2), "--");

        let d = dests(&[2, 1]);
        for x in &d {
            x.counters.set_thresholds(1, 0);
            x.counters.bind_conn();
        }
        let t = WrrTable::new(&d);
        let mut c = t.new_cursor();
        assert_eq!(run(&t, &mut c, &d, 1), "-");
        assert_eq!(c, WrrCursor { cl: None, cw: 2 });
        // From a non-head cursor too (exercises the last-pass stop).
        let mut c = WrrCursor { cl: Some(0), cw: 2 };
        assert_eq!(run(&t, &mut c, &d, 1), "-");
    }

    #[test]
    fn one_overloaded_is_skipped() {
        let d = dests(&[3, 1]);
        d[0].counters.set_thresholds(1, 0);
        d[0].counters.bind_conn();
        let t = WrrTable::new(&d);
        let mut c = t.new_cursor();
        assert_eq!(run(&t, &mut c, &d, 3), "BBB");
    }

    #[test]
    fn dest_changed_rules() {
        let t = WrrTable { di: 1, mw: 4 };
        assert_eq!(
            t.dest_changed(&WrrCursor { cl: Some(2), cw: 3 }),
            WrrCursor { cl: None, cw: 3 }
        );
        assert_eq!(
            t.dest_changed(&WrrCursor { cl: Some(2), cw: 9 }),
            WrrCursor { cl: None, cw: 4 }
        );
        assert_eq!(
            t.dest_changed(&WrrCursor { cl: Some(2), cw: 0 }),
            WrrCursor { cl: None, cw: 4 }
        );
        let t = WrrTable { di: 2, mw: 5 };
        assert_eq!(
            t.dest_changed(&WrrCursor { cl: Some(1), cw: 4 }),
            WrrCursor { cl: None, cw: 5 }
        );
        assert_eq!(
            t.dest_changed(&WrrCursor { cl: Some(1), cw: 3 }),
            WrrCursor { cl: None, cw: 3 }
        );
    }
}
