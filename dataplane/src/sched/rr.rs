//! Round robin (kernel `ip_vs_rr.c`).
//!
//! The cursor is the last chosen dest (or the list head). A pick resumes after it and returns the first
//! dest with weight > 0 that is not overloaded, wrapping at most once. Weight acts only as on/off.

use crate::service::Dest;

/// rr's per-lcore position: the index of the last chosen dest, `None` = the list head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RrCursor {
    last: Option<usize>,
}

impl RrCursor {
    /// The index of the last chosen dest (`None`: at the list head).
    pub fn last(&self) -> Option<usize> {
        self.last
    }

    /// Pick (kernel `ip_vs_rr_schedule`).
    pub fn pick(&mut self, dests: &[Dest]) -> Option<usize> {
        let n = dests.len();
        let start = match self.last {
            Some(i) if i < n => i + 1,
            Some(_) => {
                self.last = None;
                0
            }
            None => 0,
        };
        // From `start` to the end, then (only when we did not start at the head) from the head up to
        // and including the last chosen dest.
        let wrap_end = match self.last {
            Some(i) => i + 1,
            None => 0,
        };
        let hit = (start..n)
            .chain(0..wrap_end)
            .find(|&j| dests[j].weight > 0 && !dests[j].is_overloaded());
        if let Some(j) = hit {
            self.last = Some(j);
        }
        hit
    }

    /// The cursor after the dest list changed from `old` to `new`: it stays on the same dest; if that
    /// dest was deleted it moves back to the nearest earlier dest that survives, else to the head
    /// (kernel `ip_vs_rr_del_dest`).
    pub fn carry(&self, old: &[Dest], new: &[Dest]) -> RrCursor {
        let Some(i) = self.last else {
            return RrCursor { last: None };
        };
        let upto = i.min(old.len().saturating_sub(1));
        if old.is_empty() {
            return RrCursor { last: None };
        }
        for j in (0..=upto).rev() {
            if let Some(k) = new.iter().position(|d| d.id == old[j].id) {
                return RrCursor { last: Some(k) };
            }
        }
        RrCursor { last: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;

    fn run(c: &mut RrCursor, d: &[Dest], n: usize) -> String {
        letters(&(0..n).map(|_| c.pick(d)).collect::<Vec<_>>())
    }

    #[test]
    fn cycles_in_order() {
        let d = dests(&[1, 5, 1]);
        let mut c = RrCursor::default();
        assert_eq!(run(&mut c, &d, 7), "ABCABCA");
    }

    #[test]
    fn weight_zero_is_skipped() {
        let d = dests(&[1, 0, 1]);
        let mut c = RrCursor::default();
        assert_eq!(run(&mut c, &d, 6), "ACACAC");
        let d = dests(&[0, 0, 0]);
        let mut c = RrCursor::default();
        assert_eq!(run(&mut c, &d, 2), "--");
        assert_eq!(c.last(), None);
    }

    #[test]
    fn overloaded_is_skipped() {
        let d = dests(&[1, 1, 1]);
        d[1].counters.set_thresholds(1, 0);
        d[1].counters.bind_conn();
        assert!(d[1].is_overloaded());
        let mut c = RrCursor::default();
        assert_eq!(run(&mut c, &d, 4), "ACAC");
    }

    #[test]
    fn only_the_last_one_available_wraps_back_to_itself() {
        let d = dests(&[1, 0, 0]);
        let mut c = RrCursor::default();
        assert_eq!(run(&mut c, &d, 3), "AAA");
    }

    #[test]
    fn deleting_current_moves_back() {
        let d = dests(&[1, 1, 1]);
        let mut c = RrCursor::default();
        assert_eq!(run(&mut c, &d, 2), "AB"); // cursor on B
        let new: Vec<Dest> = vec![d[0].clone(), d[2].clone()];
        let mut c2 = c.carry(&d, &new);
        assert_eq!(c2.last(), Some(0)); // back to A
        assert_eq!(run(&mut c2, &new, 3), "BAB"); // next is C (index 1 in new)

        // Deleting the head dest while on it: back to the list head.
        let mut c = RrCursor::default();
        assert_eq!(run(&mut c, &d, 1), "A");
        let new: Vec<Dest> = vec![d[1].clone(), d[2].clone()];
        let mut c2 = c.carry(&d, &new);
        assert_eq!(c2.last(), None);
        assert_eq!(run(&mut c2, &new, 1), "A");

        // Adding a dest keeps the position.
        let mut c = RrCursor::default();
        assert_eq!(run(&mut c, &d, 3), "ABC");
        let more = dests(&[1, 1, 1, 1]);
        let mut c2 = c.carry(&d, &more);
        assert_eq!(run(&mut c2, &more, 2), "DA");
    }
}
