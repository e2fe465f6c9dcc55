//! CPU hints for the dataplane's hot path: [`prefetch`].
//!
//! The dataplane crate forbids `unsafe`; the prefetch intrinsic takes a raw pointer, so it lives here
//! behind a function that takes a reference (always a valid address) and has no architectural
//! effect: it only asks the cache hierarchy to start loading a line, so that the misses of a burst of
//! independent lookups overlap instead of being paid one after the other.

/// Start loading the cache line holding `*r` into every cache level (`prefetcht0`); a no-op on
/// architectures other than x86-64.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = (r as *const T).cast::<i8>();
        // SAFETY: prefetcht0 is a hint: it never faults and reads nothing architecturally, whatever
        // the address; here the address comes from a live reference anyway. SSE is part of the
        // x86-64 baseline, so the instruction exists on every CPU this code runs on.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}
