//! Maglev (mh) through the control side: tables are reproducible from the same commands, adding or
//! removing one of N dests moves about 1/N of the keys, weight 0 does not reshuffle, and the dest
//! limit is the table size.

use rvs_control::proto::{
    ApiError, DestSpec, FwdMethod, Protocol, Request, ServiceKey, ServiceSpec, TunnelCsum,
    TunnelType,
};
use rvs_dataplane::rules::Rules;
use rvs_dataplane::sched::{mh, SchedInput, Scheduler};
use std::net::Ipv4Addr;

fn key() -> ServiceKey {
    ServiceKey {
        proto: Protocol::Tcp,
        addr: "10.10.0.100".parse().unwrap(),
        port: 80,
    }
}

fn dest(a: Ipv4Addr, weight: u32) -> DestSpec {
    DestSpec {
        addr: a.into(),
        port: 8080,
        fwd: FwdMethod::Masq,
        weight,
        u_threshold: 0,
        l_threshold: 0,
        tun_type: TunnelType::Ipip,
        tun_csum: TunnelCsum::NoCsum,
    }
}

fn rs(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a01_0000 + i)
}

fn rules(n: u32, flags: u32) -> Rules {
    let mut r = Rules::new();
    r.apply(&Request::AddService(ServiceSpec {
        key: key(),
        scheduler: "mh".into(),
        persistent: None,
        netmask_prefix: 32,
        sched_flags: flags,
        one_packet: false,
    }))
    .unwrap();
    for i in 0..n {
        r.apply(&Request::AddDest(key(), dest(rs(i), 1))).unwrap();
    }
    r
}

/// The table as dest addresses (None for an empty slot).
fn table(r: &Rules) -> Vec<Option<Ipv4Addr>> {
    let snap = r.snapshot();
    let s = &snap.services()[0];
    let Scheduler::Mh(t) = &s.sched else {
        panic!("not mh: {:?}", s.sched.kind())
    };
    assert_eq!(t.size(), mh::DEFAULT_SIZE);
    t.lookup()
        .iter()
        .map(|&i| s.dests.get(i as usize).map(|d| d.addr))
        .collect()
}

/// Where 20000 clients go (dest addresses).
fn placement(r: &Rules) -> Vec<Option<Ipv4Addr>> {
    let snap = r.snapshot();
    let s = &snap.services()[0];
    let mut c = s.sched.new_cursor();
    (0..20000u32)
        .map(|x| {
            let i = SchedInput::v4(Ipv4Addr::from(0xc0a8_0000 + x), 40000, key_vip(), 80, 0);
            s.sched.pick(&mut c, &s.dests, &i).map(|k| s.dests[k].addr)
        })
        .collect()
}

fn key_vip() -> Ipv4Addr {
    Ipv4Addr::new(10, 10, 0, 100)
}

fn moved(a: &[Option<Ipv4Addr>], b: &[Option<Ipv4Addr>]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x != y).count() as f64 / a.len() as f64
}

#[test]
fn same_commands_give_identical_tables() {
    let a = rules(7, 0);
    let b = rules(7, 0);
    assert_eq!(table(&a), table(&b));
    let (sa, sb) = (a.snapshot(), b.snapshot());
    assert_eq!(sa.services()[0].sched, sb.services()[0].sched);
    // Rebuilding from the same rules (another snapshot) gives the same table too.
    assert_eq!(table(&a), table(&a));
    assert!(table(&a).iter().all(|d| d.is_some()));
}

#[test]
fn adding_or_removing_one_of_n_moves_about_one_nth() {
    for n in [4u32, 8, 16] {
        let before = rules(n, 0);
        let (tb, pb) = (table(&before), placement(&before));
        // Add one: ideally 1/(n+1) of slots and keys move, all to the new dest (Maglev is near-minimal:
        // a few slots also shift between old dests).
        let mut after = rules(n, 0);
        after
            .apply(&Request::AddDest(key(), dest(rs(n), 1)))
            .unwrap();
        let (ta, pa) = (table(&after), placement(&after));
        let ideal = 1.0 / f64::from(n + 1);
        let m = moved(&tb, &ta);
        assert!(
            m <= ideal * 1.25 + 0.01,
            "add to {n}: slots moved {m} ideal {ideal}"
        );
        assert!(
            m >= ideal * 0.8,
            "add to {n}: slots moved {m} ideal {ideal}"
        );
        let mk = moved(&pb, &pa);
        assert!(mk <= ideal * 1.25 + 0.01, "add to {n}: keys moved {mk}");
        let to_new = pb
            .iter()
            .zip(&pa)
            .filter(|(x, y)| x != y && **y == Some(rs(n)))
            .count() as f64
            / pb.len() as f64;
        assert!(
            to_new >= mk * 0.75,
            "add to {n}: {to_new} of {mk} went to the new dest"
        );
        // Remove one (the third): its keys move, others mostly stay.
        let mut removed = rules(n, 0);
        removed
            .apply(&Request::DelDest(key(), rs(2).into(), 8080))
            .unwrap();
        let pr = placement(&removed);
        let ideal = 1.0 / f64::from(n);
        let mk = moved(&pb, &pr);
        assert!(
            mk <= ideal * 1.25 + 0.01,
            "remove from {n}: keys moved {mk} ideal {ideal}"
        );
        for (x, y) in pb.iter().zip(&pr) {
            if *x == Some(rs(2)) {
                assert_ne!(*y, Some(rs(2)));
                assert!(y.is_some());
            }
        }
    }
}

#[test]
fn weight_zero_does_not_reshuffle_and_fallback_rehashes() {
    let mut r = rules(5, 0);
    let t0 = table(&r);
    let p0 = placement(&r);
    r.apply(&Request::EditDest(key(), dest(rs(1), 0))).unwrap();
    assert_eq!(table(&r), t0);
    let p1 = placement(&r);
    for (x, y) in p0.iter().zip(&p1) {
        if *x == Some(rs(1)) {
            assert_eq!(*y, None); // no fallback: no dest
        } else {
            assert_eq!(x, y);
        }
    }
    // mh-fallback: the quiesced dest's clients go elsewhere, the others stay.
    let mut r = rules(5, rvs_dataplane::sched::SCHED_FLAG_1);
    assert_eq!(table(&r), t0);
    r.apply(&Request::EditDest(key(), dest(rs(1), 0))).unwrap();
    let pf = placement(&r);
    for (x, y) in p0.iter().zip(&pf) {
        if *x == Some(rs(1)) {
            assert!(y.is_some() && *y != Some(rs(1)));
        } else {
            assert_eq!(x, y);
        }
    }
    // Back to weight 1: the same table, the same placement as at first.
    r.apply(&Request::EditDest(key(), dest(rs(1), 1))).unwrap();
    assert_eq!(placement(&r), p0);
}

#[test]
fn more_dests_than_slots_is_refused() {
    let mut r = rules(0, 0);
    for i in 0..mh::DEFAULT_SIZE as u32 {
        r.apply(&Request::AddDest(key(), dest(rs(i), 1))).unwrap();
    }
    let gen = r.generation();
    assert!(matches!(
        r.apply(&Request::AddDest(key(), dest(rs(99999), 1))),
        Err(ApiError::Invalid(_))
    ));
    assert_eq!(r.generation(), gen);
    assert!(table(&r).iter().all(|d| d.is_some()));
}
