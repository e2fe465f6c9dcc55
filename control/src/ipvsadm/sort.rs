//! ipvsadm's listing order, quirks included.
//!
//! ipvsadm sorts with `qsort()` and comparators that subtract: `int r = ntohl(a) - ntohl(b)`. The
//! subtraction wraps, so IPv4 addresses 2^31 or more apart compare the wrong way round (1.0.0.1 lists
//! after 200.0.0.1). Such a comparator is not a total order, which Rust's `sort_by` may reject with a
//! panic; and the visible order then depends on the algorithm. So we sort with our own copy of glibc's
//! `msort` (a top-down merge sort taking from the left run when `cmp <= 0`), which is what Debian's
//! glibc `qsort()` runs for these small arrays.

use crate::proto::{DestInfo, ServiceInfo};
use std::net::IpAddr;

/// `AF_INET`/`AF_INET6` as ipvsadm compares them.
fn af(a: &IpAddr) -> i32 {
    match a {
        IpAddr::V4(_) => 2,
        IpAddr::V6(_) => 10,
    }
}

/// The wrapping address comparison: IPv4 one 32-bit word, IPv6 four words until one differs.
fn addr_cmp(a: &IpAddr, b: &IpAddr) -> i32 {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => u32::from(*x).wrapping_sub(u32::from(*y)) as i32,
        (IpAddr::V6(x), IpAddr::V6(y)) => {
            let (x, y) = (x.octets(), y.octets());
            for i in 0..4 {
                let w = |o: &[u8; 16]| {
                    u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
                };
                let r = w(&x).wrapping_sub(w(&y)) as i32;
                if r != 0 {
                    return r;
                }
            }
            0
        }
        _ => af(a) - af(b),
    }
}

/// `service_cmp()`: (fwmark, af, protocol, address, port).
pub fn service_cmp(a: &ServiceInfo, b: &ServiceInfo) -> i32 {
    let (ka, kb) = (&a.spec.key, &b.spec.key);
    let r = af(&ka.addr) - af(&kb.addr);
    if r != 0 {
        return r;
    }
    let r = i32::from(ka.proto.number()) - i32::from(kb.proto.number());
    if r != 0 {
        return r;
    }
    let r = addr_cmp(&ka.addr, &kb.addr);
    if r != 0 {
        return r;
    }
    i32::from(ka.port) - i32::from(kb.port)
}

/// `ipvs_cmp_dests()`: (af, address, port).
pub fn dest_cmp(a: &DestInfo, b: &DestInfo) -> i32 {
    let r = af(&a.spec.addr) - af(&b.spec.addr);
    if r != 0 {
        return r;
    }
    let r = addr_cmp(&a.spec.addr, &b.spec.addr);
    if r != 0 {
        return r;
    }
    i32::from(a.spec.port) - i32::from(b.spec.port)
}

/// glibc's `msort_with_tmp()`: stable top-down merge sort driven by a C-style comparator. Never
/// panics, whatever the comparator returns.
pub fn msort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    {
        let (b1, b2) = v.split_at_mut(n1);
        msort(b1, cmp);
        msort(b2, cmp);
    }
    let mut out = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            out.push(v[i].clone());
            i += 1;
        } else {
            out.push(v[j].clone());
            j += 1;
        }
    }
    out.extend_from_slice(&v[i..n1]);
    out.extend_from_slice(&v[j..n]);
    v.clone_from_slice(&out);
}

/// Services in ipvsadm's order, each with its destinations sorted.
pub fn sorted_services(services: &[ServiceInfo]) -> Vec<ServiceInfo> {
    let mut v = services.to_vec();
    msort(&mut v, &service_cmp);
    for s in &mut v {
        msort(&mut s.dests, &dest_cmp);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn msort_is_a_stable_sort_for_total_orders() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        msort(&mut v, &|a: &(i32, char), b: &(i32, char)| a.0 - b.0);
        assert_eq!(v, vec![(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
    }

    proptest! {
        #[test]
        fn msort_never_panics_on_the_wrapping_comparator(v in proptest::collection::vec(any::<u32>(), 0..40)) {
            let mut w = v.clone();
            msort(&mut w, &|a: &u32, b: &u32| a.wrapping_sub(*b) as i32);
            let mut a = v.clone();
            let mut b = w.clone();
            a.sort_unstable();
            b.sort_unstable();
            prop_assert_eq!(a, b);
        }
    }
}
