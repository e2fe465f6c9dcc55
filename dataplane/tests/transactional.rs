//! Every refused rule change leaves the rule set exactly as it was: same listing (services, dests,
//! local addresses, access-control entries, limits, counters), same timeouts, same generation (so no
//! snapshot is published), and an identical snapshot. The refusals include the ones found only after
//! part of the request was validated (an `mh` service over its table size on edit, thresholds out of
//! range on an existing dest, an IPv6 dest on an IPv4 service, a duplicate local address...).

use rvs_control::proto::*;
use rvs_dataplane::rules::Rules;
use std::net::IpAddr;

fn key(port: u16) -> ServiceKey {
    ServiceKey {
        proto: Protocol::Tcp,
        addr: "10.10.0.100".parse().unwrap(),
        port,
    }
}

fn svc(port: u16, sched: &str) -> ServiceSpec {
    ServiceSpec {
        key: key(port),
        scheduler: sched.into(),
        persistent: None,
        netmask_prefix: 32,
        sched_flags: 0,
        one_packet: false,
    }
}

fn dest(addr: &str, weight: u32) -> DestSpec {
    DestSpec {
        addr: addr.parse().unwrap(),
        port: 8998,
        fwd: FwdMethod::Masq,
        weight,
        u_threshold: 0,
        l_threshold: 0,
        tun_type: TunnelType::Ipip,
        tun_csum: TunnelCsum::NoCsum,
    }
}

/// Everything observable about a rule set.
fn state(r: &Rules) -> (Reply, Reply, Reply, u64, String) {
    let snap = r.snapshot();
    let snap_view = format!(
        "{:?}",
        snap.services()
            .iter()
            .map(|s| (
                s.id,
                s.key,
                &s.spec,
                s.dests.len(),
                &s.laddrs,
                &s.acl,
                s.conn_limit
            ))
            .collect::<Vec<_>>()
    );
    (
        r.query(&Request::GetServices(None)),
        r.query(&Request::GetLaddrs(None)),
        r.query(&Request::GetTimeouts),
        r.generation(),
        snap_view,
    )
}

#[test]
fn refused_requests_change_nothing() {
    let mut r = Rules::new();
    r.apply(&Request::AddService(svc(80, "wlc"))).unwrap();
    r.apply(&Request::AddDest(key(80), dest("10.10.1.2", 1)))
        .unwrap();
    r.apply(&Request::AddLaddr(
        key(80),
        LaddrSpec {
            addr: "10.10.9.1".parse().unwrap(),
        },
    ))
    .unwrap();
    r.apply(&Request::AddAcl(
        key(80),
        AclSpec {
            action: AclAction::Deny,
            addr: "10.10.0.66".parse().unwrap(),
            prefix: 32,
        },
    ))
    .unwrap();
    r.apply(&Request::SetConnLimit(key(80), 10)).unwrap();
    // An mh service full of dests (its table size is the limit).
    r.apply(&Request::AddService(svc(81, "rr"))).unwrap();
    let mh_size = rvs_dataplane::sched::mh::DEFAULT_SIZE;
    for i in 0..=mh_size {
        let a = format!("10.20.{}.{}", i / 250, i % 250 + 1);
        r.apply(&Request::AddDest(key(81), dest(&a, 1))).unwrap();
    }
    r.apply(&Request::AddService(svc(82, "mh"))).unwrap();
    let before = state(&r);

    let mut bad_thresholds = dest("10.10.1.2", 1);
    bad_thresholds.l_threshold = 5;
    bad_thresholds.u_threshold = 4;
    let v6 = dest("2001:db8::1", 1);
    let refusals: Vec<(Request, &str)> = vec![
        (Request::AddService(svc(80, "rr")), "service exists"),
        (Request::AddService(svc(83, "nosuch")), "unknown scheduler"),
        (Request::EditService(svc(84, "rr")), "no such service"),
        (
            Request::EditService(svc(81, "mh")),
            "mh over its table size, found after the scheduler is known",
        ),
        (Request::DelService(key(85)), "no such service"),
        (
            Request::AddDest(key(85), dest("10.10.1.3", 1)),
            "service not defined",
        ),
        (
            Request::AddDest(key(80), dest("10.10.1.2", 1)),
            "dest exists",
        ),
        (Request::AddDest(key(80), v6), "IPv6 dest"),
        (
            Request::EditDest(key(80), bad_thresholds.clone()),
            "thresholds out of range on an existing dest",
        ),
        (
            Request::AddDest(key(80), bad_thresholds),
            "thresholds out of range",
        ),
        (
            Request::EditDest(key(80), dest("10.10.1.9", 1)),
            "no such dest",
        ),
        (
            Request::DelDest(key(80), "10.10.1.9".parse::<IpAddr>().unwrap(), 8998),
            "no such dest",
        ),
        (Request::Zero(Some(key(85))), "zero of no such service"),
        (
            Request::AddLaddr(
                key(80),
                LaddrSpec {
                    addr: "10.10.9.1".parse().unwrap(),
                },
            ),
            "local address exists",
        ),
        (
            Request::DelLaddr(
                key(80),
                LaddrSpec {
                    addr: "10.10.9.2".parse().unwrap(),
                },
            ),
            "no such local address",
        ),
        (
            Request::AddAcl(
                key(80),
                AclSpec {
                    action: AclAction::Deny,
                    addr: "10.10.0.66".parse().unwrap(),
                    prefix: 32,
                },
            ),
            "ACL entry exists",
        ),
        (
            Request::AddAcl(
                key(80),
                AclSpec {
                    action: AclAction::Allow,
                    addr: "10.10.0.1".parse().unwrap(),
                    prefix: 24,
                },
            ),
            "ACL prefix with host bits",
        ),
        (
            Request::DelAcl(
                key(80),
                AclSpec {
                    action: AclAction::Allow,
                    addr: "10.10.0.0".parse().unwrap(),
                    prefix: 24,
                },
            ),
            "no such ACL entry",
        ),
        (
            Request::SetConnLimit(key(85), 1),
            "limit of no such service",
        ),
        (Request::GetServices(None), "a read request is not a change"),
    ];
    for (req, what) in refusals {
        assert!(r.apply(&req).is_err(), "{what}: accepted");
        assert!(state(&r) == before, "{what}: the refusal changed the rules");
    }
    // And an accepted change does change the generation (the check above is not vacuous).
    r.apply(&Request::SetConnLimit(key(80), 11)).unwrap();
    assert!(state(&r) != before);
}
