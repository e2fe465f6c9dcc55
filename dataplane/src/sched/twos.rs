//! Power of two choices (kernel `ip_vs_twos.c`).
//!
//! Over the dests with weight > 0 that are not overloaded (total weight T): draw two random numbers
//! in `[0, T]` (the kernel's `% (T + 1)`), walk the list subtracting weights, and take the first dest
//! where each running value reaches <= 0 as choice 1 and choice 2. Choice 2 wins only if
//! `w2 * overhead1 > w1 * overhead2`. The randomness is a per-lcore [`Prng`] in the cursor with a
//! fixed seed, so a test sees exactly the same sequence every run.

use crate::service::Dest;

/// A small per-lcore PRNG (splitmix64): deterministic from its seed, no allocation, no syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prng {
    state: u64,
}

impl Prng {
    /// The fixed seed every cursor starts from.
    pub const SEED: u64 = 0x5256_5321_7477_6f73;

    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Self {
        Prng { state: seed }
    }

    /// The next 32 random bits (the high half of splitmix64's output).
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 32) as u32
    }
}

impl Default for Prng {
    fn default() -> Self {
        Prng::new(Prng::SEED)
    }
}

/// twos' pick, drawing from `rng`.
pub fn pick_twos(rng: &mut Prng, dests: &[Dest]) -> Option<usize> {
    let mut total: i64 = 0;
    let mut any = false;
    for d in dests {
        if !d.is_overloaded() && d.weight > 0 {
            total += d.weight();
            any = true;
        }
    }
    if !any {
        return None;
    }
    let total = total + 1;
    let mut r1 = i64::from(rng.next_u32()) % total;
    let mut r2 = i64::from(rng.next_u32()) % total;
    pick_with(dests, &mut r1, &mut r2)
}

/// The walk with the two drawn values (separate so tests can give the draws).
fn pick_with(dests: &[Dest], r1: &mut i64, r2: &mut i64) -> Option<usize> {
    let mut c1: Option<(usize, i64, i64)> = None; // (index, weight, overhead)
    let mut c2: Option<(usize, i64, i64)> = None;
    for (i, d) in dests.iter().enumerate() {
        if d.is_overloaded() || d.weight == 0 {
            continue;
        }
        let w = d.weight();
        *r1 -= w;
        *r2 -= w;
        if *r1 <= 0 && c1.is_none() {
            c1 = Some((i, w, d.overhead()));
        }
        if *r2 <= 0 && c2.is_none() {
            c2 = Some((i, w, d.overhead()));
        }
        if c1.is_some() && c2.is_some() {
            break;
        }
    }
    let (i1, w1, o1) = c1?;
    match c2 {
        Some((i2, w2, o2)) if w2 * o1 > w1 * o2 => Some(i2),
        _ => Some(i1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_util::*;

    #[test]
    fn walk_with_given_draws() {
        // Weights A=1, B=2, C=3 (total 6, draws in 0..=6): 0..=1 -> A, 2..=3 -> B, 4..=6 -> C.
        let d = dests(&[1, 2, 3]);
        let walk = |a: i64, b: i64| pick_with(&d, &mut { a }, &mut { b });
        assert_eq!(walk(0, 6), Some(0)); // no load: 3*0 > 1*0 false, choice 1 stays
        load(&d[0], 1, 0); // A overhead 256
        assert_eq!(walk(0, 6), Some(2)); // 3*256 > 1*0
        assert_eq!(walk(1, 2), Some(1)); // B: 2*256 > 1*0
        load(&d[1], 0, 100);
        assert_eq!(walk(2, 0), Some(1)); // choice 1 B (100), choice 2 A: 1*100 > 2*256? no
        load(&d[0], 0, 10);
        assert_eq!(walk(2, 0), Some(0)); // 1*100 > 2*10
                                         // Weight 0 and overloaded dests are not walked.
        let d = dests(&[0, 1, 1]);
        overload(&d[1]);
        assert_eq!(pick_with(&d, &mut 0, &mut 1), Some(2));
    }

    #[test]
    fn fixed_seed_gives_a_fixed_sequence_proportional_to_weight() {
        let d = dests(&[1, 3]);
        let mut a = Prng::default();
        let mut b = Prng::default();
        let sa: Vec<_> = (0..64).map(|_| pick_twos(&mut a, &d)).collect();
        let sb: Vec<_> = (0..64).map(|_| pick_twos(&mut b, &d)).collect();
        assert_eq!(sa, sb);
        // No load: choice 1 always wins; draws 0..=1 -> A, 2..=4 -> B (2/5 and 3/5).
        let mut r = Prng::default();
        let mut n = [0; 2];
        for _ in 0..5000 {
            n[pick_twos(&mut r, &d).unwrap()] += 1;
        }
        assert!((1800..2200).contains(&n[0]), "{n:?}");
        assert_eq!(n[0] + n[1], 5000);
    }
}
