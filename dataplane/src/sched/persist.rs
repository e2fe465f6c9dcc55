//! Persistence templates (`-p T`, `-M mask`), as the kernel's `ip_vs_sched_persist`.
//!
//! A persistent service keeps each client (its address masked with the service's `-M` prefix) on the
//! same dest for T seconds through a *template*: a session entry with client port 0, state `NONE`
//! (`UDP` for UDP), listed by `-Lnc` like the kernel's, and counted in its dest's `persistconns`
//! (PersistConn), not in ActiveConn/InActConn and not in the overload total. A new connection first
//! looks for its client's template: when there is one and its dest still exists (not deleted), that
//! dest is used whatever its weight (a template keeps pointing at a dest set to weight 0: the
//! kernel's `expire_quiescent_template` is off by default) or load, and the template is refreshed to
//! `now + T`; otherwise the scheduler picks and a template is created. The kernel's template keys:
//! `<proto, caddr/mask, 0, vaddr, vport>` pointing at `<daddr, dport>`; for FTP (port 21) and for a
//! port-zero (all ports) service, vport and dport are 0.
//!
//! The kernel keeps a template alive while connections it controls live; here every packet of such
//! a connection from the client extends the template to at least the connection's own expiry
//! ([`TemplateTable::extend`]), and the template then lasts until T after its last new connection or
//! the end of its last connection, whichever is later.
//!
//! Templates live in their own per-lcore [`SessionTable`] (so no packet ever matches one): with
//! persistence the flow-steering rule hashes the masked client address with port 0, so every
//! connection of a client reaches the lcore holding its template (see [`crate::lb`]). The table's
//! expiry lists are FIFO per state; with services of different `-p` values a template may expire up to
//! the difference late, never early.

use crate::service::Service;
use crate::session::table::SessionTable;
use crate::session::{Dir, FlowKey, Session};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The FTP control port: its templates cover every port of the VIP (the kernel's `FTPPORT`).
pub const FTP_PORT: u16 = 21;

/// The template table is full: no template (and, as in the kernel, no connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("persistence template table full")]
pub struct TemplateTableFull;

/// (template vport, template dport) of a connection to `svc` scheduled to a dest on `dest_port`.
#[inline]
fn template_ports(svc: &Service, dest_port: u16) -> (u16, u16) {
    if svc.key.port == 0 || svc.key.port == FTP_PORT {
        (0, 0)
    } else {
        (svc.key.port, dest_port)
    }
}

/// The template key of a connection from `client` to `vip` on persistent service `svc`.
#[inline]
pub fn template_key(svc: &Service, proto: u8, client: Ipv4Addr, vip: Ipv4Addr) -> FlowKey {
    let (vport, _) = template_ports(svc, 0);
    FlowKey::v4(proto, svc.persist_client(client), 0, vip, vport)
}

/// One lcore's persistence templates.
#[derive(Debug)]
pub struct TemplateTable {
    table: SessionTable,
    created: u64,
    refused: u64,
}

impl TemplateTable {
    /// A table of at most `capacity` templates, allocated now (control path).
    pub fn new(capacity: usize) -> Self {
        TemplateTable {
            table: SessionTable::new(capacity),
            created: 0,
            refused: 0,
        }
    }

    /// Live templates.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no template is live.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Templates created so far.
    pub fn created(&self) -> u64 {
        self.created
    }

    /// Templates refused because the table was full.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The dest (index in `svc.dests`) of the template of `client -> vip` on persistent service
    /// `svc`, refreshing the template to at least `now + T`. A template whose dest was deleted (or is
    /// no longer a dest of `svc`) is removed, its count released, and `None` returned (the caller
    /// schedules and creates a new one).
    pub fn lookup(
        &mut self,
        svc: &Service,
        proto: u8,
        client: Ipv4Addr,
        vip: Ipv4Addr,
        now_ms: u64,
    ) -> Option<usize> {
        let t_ms = svc.persistence_ms()?;
        let (id, dir) = self.table.lookup(&template_key(svc, proto, client, vip))?;
        if dir != Dir::In {
            return None;
        }
        let t = self.table.get(id)?;
        let pos = if t.dest.is_deleted() {
            None
        } else {
            svc.dests
                .iter()
                .position(|d| Arc::ptr_eq(&d.counters, &t.dest))
        };
        match pos {
            Some(i) => {
                let (state, flags) = (t.state, t.flags);
                let expires = t.expires_ms.max(now_ms + t_ms);
                self.table.touch(id, state, flags, expires);
                Some(i)
            }
            None => {
                if let Some(t) = self.table.remove(id) {
                    t.dest.unbind_template();
                }
                None
            }
        }
    }

    /// Create the template of `client -> vip` on persistent service `svc` pointing at dest `di`
    /// (just scheduled), expiring at `now + T`, counted in the dest's persistent connections.
    ///
    /// # Errors
    /// [`TemplateTableFull`] when the table holds its capacity.
    pub fn create(
        &mut self,
        svc: &Service,
        proto: u8,
        client: Ipv4Addr,
        vip: Ipv4Addr,
        di: usize,
        now_ms: u64,
    ) -> Result<(), TemplateTableFull> {
        let (Some(t_ms), Some(d)) = (svc.persistence_ms(), svc.dests.get(di)) else {
            return Ok(());
        };
        let (vport, dport) = template_ports(svc, d.port);
        let mut s = Session::new(
            proto,
            (svc.persist_client(client), 0),
            (vip, vport),
            (d.addr, dport),
            None,
            d.counters.clone(),
        );
        s.expires_ms = now_ms + t_ms;
        match self.table.insert(s) {
            Ok(_) => {
                d.counters.bind_template();
                self.created += 1;
                Ok(())
            }
            Err(_) => {
                self.refused += 1;
                Err(TemplateTableFull)
            }
        }
    }

    /// Keep the template of `client -> vip` on `svc` alive at least until `until_ms` (the expiry of a
    /// connection it controls, refreshed by one of its packets).
    #[inline]
    pub fn extend(
        &mut self,
        svc: &Service,
        proto: u8,
        client: Ipv4Addr,
        vip: Ipv4Addr,
        until_ms: u64,
    ) {
        let Some((id, Dir::In)) = self.table.lookup(&template_key(svc, proto, client, vip)) else {
            return;
        };
        if let Some(t) = self.table.get(id) {
            if t.expires_ms < until_ms {
                let (state, flags) = (t.state, t.flags);
                self.table.touch(id, state, flags, until_ms);
            }
        }
    }

    /// Expire at most `budget` templates due at `now_ms`, releasing their dests' counts; returns how
    /// many went.
    pub fn expire(&mut self, now_ms: u64, budget: usize) -> usize {
        let mut n = 0;
        while n < budget {
            let Some(t) = self.table.pop_expired(now_ms) else {
                break;
            };
            t.dest.unbind_template();
            n += 1;
        }
        n
    }

    /// Every live template.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.table.iter()
    }

    /// The table (paged listings walk its slots).
    pub fn table(&self) -> &SessionTable {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use crate::session::tcp_state;
    use rvs_control::proto::{
        DestSpec, FwdMethod, Protocol, Request, ServiceKey, ServiceSpec, TunnelCsum, TunnelType,
    };
    use std::sync::atomic::Ordering::Relaxed;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);

    fn key(port: u16) -> ServiceKey {
        ServiceKey {
            proto: Protocol::Tcp,
            addr: VIP.into(),
            port,
        }
    }

    fn rules(port: u16, persistent: Option<u32>, prefix: u8, weights: &[u32]) -> Rules {
        let mut r = Rules::new();
        r.apply(&Request::AddService(ServiceSpec {
            key: key(port),
            scheduler: "rr".into(),
            persistent,
            netmask_prefix: prefix,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
        for (i, &w) in weights.iter().enumerate() {
            r.apply(&Request::AddDest(key(port), dest(i as u8 + 1, w)))
                .unwrap();
        }
        r
    }

    fn dest(i: u8, weight: u32) -> DestSpec {
        DestSpec {
            addr: Ipv4Addr::new(10, 10, 1, i).into(),
            port: 8000 + u16::from(i),
            fwd: FwdMethod::Masq,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunnelType::Ipip,
            tun_csum: TunnelCsum::NoCsum,
        }
    }

    fn svc(r: &Rules) -> Service {
        r.snapshot().services()[0].clone()
    }

    const C1: Ipv4Addr = Ipv4Addr::new(192, 168, 5, 7);
    const C1_SAME_24: Ipv4Addr = Ipv4Addr::new(192, 168, 5, 200);
    const C2: Ipv4Addr = Ipv4Addr::new(192, 168, 6, 7);

    #[test]
    fn template_is_created_found_refreshed_and_listed() {
        let r = rules(80, Some(360), 24, &[1, 1]);
        let s = svc(&r);
        let mut t = TemplateTable::new(8);
        assert_eq!(t.lookup(&s, 6, C1, VIP, 0), None);
        t.create(&s, 6, C1, VIP, 1, 1000).unwrap();
        assert_eq!(s.dests[1].counters.persist.load(Relaxed), 1);
        assert_eq!(s.dests[1].counters.inactive.load(Relaxed), 0);
        // Same /24: same template; another /24: none.
        assert_eq!(t.lookup(&s, 6, C1_SAME_24, VIP, 5000), Some(1));
        assert_eq!(t.lookup(&s, 6, C2, VIP, 5000), None);
        assert_eq!(t.lookup(&s, 17, C1, VIP, 5000), None); // other protocol
        let tpl = t.iter().next().unwrap();
        assert_eq!(tpl.cport, 0);
        assert_eq!(
            crate::session::v4_of(&tpl.client),
            Ipv4Addr::new(192, 168, 5, 0)
        );
        assert_eq!(
            (crate::session::v4_of(&tpl.rip), tpl.rport),
            (Ipv4Addr::new(10, 10, 1, 2), 8002)
        );
        assert_eq!(tpl.vport, 80);
        assert_eq!(tpl.state, tcp_state::NONE);
        // Refreshed by the lookup at 5000: expires at 365000.
        assert_eq!(tpl.expires_ms, 365_000);
        assert_eq!(t.expire(364_999, 8), 0);
        assert_eq!(t.expire(365_000, 8), 1);
        assert!(t.is_empty());
        assert_eq!(s.dests[1].counters.persist.load(Relaxed), 0);
        assert_eq!(t.created(), 1);
    }

    #[test]
    fn controlled_connections_extend_the_template() {
        let r = rules(80, Some(60), 32, &[1]);
        let s = svc(&r);
        let mut t = TemplateTable::new(8);
        t.create(&s, 6, C1, VIP, 0, 0).unwrap();
        t.extend(&s, 6, C1, VIP, 900_000); // an ESTABLISHED connection refreshed at 0
        t.extend(&s, 6, C1, VIP, 30_000); // never shortened
        assert_eq!(t.expire(899_999, 8), 0);
        assert_eq!(t.expire(900_000, 8), 1);
        t.extend(&s, 6, C1, VIP, 1); // no template: nothing
        assert!(t.is_empty());
    }

    #[test]
    fn weight_zero_keeps_the_template_deleted_dest_drops_it() {
        let mut r = rules(80, Some(360), 32, &[1, 1]);
        let s = svc(&r);
        let mut t = TemplateTable::new(8);
        t.create(&s, 6, C1, VIP, 0, 0).unwrap();
        r.apply(&Request::EditDest(key(80), dest(1, 0))).unwrap();
        let s = svc(&r);
        assert_eq!(s.dests[0].weight, 0);
        assert_eq!(t.lookup(&s, 6, C1, VIP, 1), Some(0));
        let old = s.dests[0].counters.clone();
        r.apply(&Request::DelDest(
            key(80),
            Ipv4Addr::new(10, 10, 1, 1).into(),
            8001,
        ))
        .unwrap();
        let s = svc(&r);
        assert_eq!(t.lookup(&s, 6, C1, VIP, 2), None);
        assert!(t.is_empty());
        assert_eq!(old.persist.load(Relaxed), 0);
    }

    #[test]
    fn ftp_and_port_zero_templates_cover_every_port() {
        for port in [0u16, FTP_PORT] {
            let r = rules(port, Some(360), 32, &[1]);
            let s = svc(&r);
            let mut t = TemplateTable::new(8);
            t.create(&s, 6, C1, VIP, 0, 0).unwrap();
            let tpl = t.iter().next().unwrap();
            assert_eq!((tpl.vport, tpl.rport), (0, 0), "port {port}");
            assert_eq!(t.lookup(&s, 6, C1, VIP, 0), Some(0));
        }
    }

    #[test]
    fn full_table_refuses_and_not_persistent_is_a_no_op() {
        let r = rules(80, Some(360), 32, &[1]);
        let s = svc(&r);
        let mut t = TemplateTable::new(1);
        t.create(&s, 6, C1, VIP, 0, 0).unwrap();
        assert_eq!(t.create(&s, 6, C2, VIP, 0, 0), Err(TemplateTableFull));
        assert_eq!(t.refused(), 1);
        assert_eq!(s.dests[0].counters.persist.load(Relaxed), 1);
        let r = rules(80, None, 32, &[1]);
        let s = svc(&r);
        let mut t = TemplateTable::new(1);
        assert_eq!(t.create(&s, 6, C1, VIP, 0, 0), Ok(()));
        assert!(t.is_empty());
        assert_eq!(t.lookup(&s, 6, C1, VIP, 0), None);
    }
}

/// Persistence through the per-lcore load balancer ([`crate::lb::LbCtx`]): templates decide the
/// dest, are listed, counted, steer flows to one lcore, and expire.
#[cfg(test)]
mod lb_tests {
    use crate::lb::{LbCtx, LbLimits, LbVerdict};
    use crate::rules::Rules;
    use crate::xmit::testpkt::{self, parse_valid, ACK, SYN};
    use rvs_control::proto::{
        DestSpec, FwdMethod, Protocol, Request, Response, ServiceKey, ServiceSpec, TunnelCsum,
        TunnelType,
    };
    use std::net::Ipv4Addr;

    const C: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 2);
    const C_NEXT: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 3);
    const C_OTHER: Ipv4Addr = Ipv4Addr::new(10, 10, 7, 2);
    const V: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 8990);
    const R1: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 1, 2), 8998);
    const R2: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 2, 2), 8999);
    const FWD: LbVerdict = LbVerdict::Forward { next_hop: None };

    fn key() -> ServiceKey {
        ServiceKey {
            proto: Protocol::Tcp,
            addr: V.0.into(),
            port: V.1,
        }
    }

    fn dest(r: (Ipv4Addr, u16), weight: u32) -> DestSpec {
        DestSpec {
            addr: r.0.into(),
            port: r.1,
            fwd: FwdMethod::Masq,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunnelType::Ipip,
            tun_csum: TunnelCsum::NoCsum,
        }
    }

    fn rules(persistent: Option<u32>, prefix: u8) -> Rules {
        let mut r = Rules::new();
        r.apply(&Request::AddService(ServiceSpec {
            key: key(),
            scheduler: "rr".into(),
            persistent,
            netmask_prefix: prefix,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
        r.apply(&Request::AddDest(key(), dest(R1, 1))).unwrap();
        r.apply(&Request::AddDest(key(), dest(R2, 1))).unwrap();
        r
    }

    fn ctx(r: &Rules, index: usize, n: usize) -> LbCtx {
        let mut c = LbCtx::new(index, n, LbLimits { max_sessions: 64 });
        c.set_snapshot(r.snapshot());
        c
    }

    /// Open a connection from `client:port` on `c`; the real server it went to.
    fn syn(c: &mut LbCtx, client: Ipv4Addr, port: u16, now: u64) -> (Ipv4Addr, u16) {
        let mut p = testpkt::tcp((client, port), V, 64, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, now), FWD);
        parse_valid(&p).1
    }

    fn persist_conns(r: &Rules) -> Vec<u32> {
        match r.query(&Request::GetServices(None)).unwrap() {
            Response::Services(v) => v[0].dests.iter().map(|d| d.persist_conns).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_client_stays_on_its_dest() {
        // Without -p, rr alternates per connection.
        let r = rules(None, 32);
        let mut c = ctx(&r, 0, 1);
        let got: Vec<_> = (1..=4).map(|p| syn(&mut c, C, p, 0)).collect();
        assert_eq!(got, vec![R1, R2, R1, R2]);
        // With -p 360: every connection of C goes to R1; another client gets R2.
        let mut r = rules(Some(360), 32);
        let mut c = ctx(&r, 0, 1);
        for p in 1..=4 {
            assert_eq!(syn(&mut c, C, p, 1000), R1);
        }
        assert_eq!(syn(&mut c, C_NEXT, 1, 1000), R2);
        assert_eq!(persist_conns(&r), vec![1, 1]);
        assert_eq!(c.counter("templates_live"), Some(2));
        // -Lnc shows the templates: client port 0, state NONE, 360 s.
        let mut v = Vec::new();
        c.conns(1000, 3, &mut v);
        let t: Vec<_> = v.iter().filter(|i| i.client.1 == 0).collect();
        assert_eq!(t.len(), 2);
        let t1 = t.iter().find(|i| i.client.0 == C).unwrap();
        assert_eq!(t1.state, "NONE");
        assert_eq!(t1.expires_s, 360);
        assert_eq!(t1.virt, (V.0.into(), V.1));
        assert_eq!(t1.dest, (R1.0.into(), R1.1));
        assert_eq!(t1.local, None);
        // R1 quiesced (weight 0): C still goes to R1, a new client does not.
        r.apply(&Request::EditDest(key(), dest(R1, 0))).unwrap();
        c.set_snapshot(r.snapshot());
        assert_eq!(syn(&mut c, C, 9, 2000), R1);
        assert_eq!(syn(&mut c, C_OTHER, 1, 2000), R2);
    }

    #[test]
    fn netmask_groups_clients_and_templates_expire() {
        let r = rules(Some(60), 24);
        let mut c = ctx(&r, 0, 1);
        assert_eq!(syn(&mut c, C, 1, 0), R1);
        assert_eq!(syn(&mut c, C_NEXT, 1, 0), R1); // same /24
        assert_eq!(syn(&mut c, C_OTHER, 1, 0), R2);
        // The connections (SYN_RECV, 60 s) and the templates (60 s) all go at 60 s.
        assert_eq!(c.expire(59_999, 64), 0);
        assert_eq!(c.expire(60_000, 64), 5);
        assert_eq!(persist_conns(&r), vec![0, 0]);
        assert_eq!(c.counter("templates_expired"), Some(2));
        // rr resumes after R2: the next new client of the /24 gets R1 again by rr.
        assert_eq!(syn(&mut c, C, 2, 60_000), R1);
    }

    #[test]
    fn an_established_connection_keeps_its_template() {
        let r = rules(Some(60), 32);
        let mut c = ctx(&r, 0, 1);
        assert_eq!(syn(&mut c, C, 1, 0), R1);
        let mut p = testpkt::tcp((C, 1), V, 64, ACK, 2, 1, &[]);
        assert_eq!(c.process(&mut p, 0), FWD); // SYN_RECV + ACK: ESTABLISHED, 900 s
                                               // At 100 s the template (60 s) is still there because its connection is.
        assert_eq!(c.expire(100_000, 64), 0);
        assert_eq!(syn(&mut c, C, 2, 100_000), R1);
    }

    #[test]
    fn all_connections_of_a_client_and_their_replies_have_one_owner() {
        let r = rules(Some(360), 32);
        let w = [ctx(&r, 0, 4), ctx(&r, 1, 4), ctx(&r, 2, 4), ctx(&r, 3, 4)];
        let mut owners = std::collections::HashSet::new();
        for port in 40000..40032u16 {
            let p = testpkt::tcp((C, port), V, 64, SYN, 1, 0, &[]);
            let o = w[0].owner(&p).unwrap();
            owners.insert(o);
            // The NAT reply of either real server to that client port.
            for rs in [R1, R2] {
                let reply = testpkt::tcp(rs, (C, port), 64, SYN | ACK, 5, 2, &[]);
                assert_eq!(w[1].owner(&reply), Some(o));
            }
        }
        assert_eq!(owners.len(), 1);
        // Not persistent: the client's ports spread.
        let r = rules(None, 32);
        let w0 = ctx(&r, 0, 4);
        let owners: std::collections::HashSet<_> = (40000..40032u16)
            .map(|port| {
                w0.owner(&testpkt::tcp((C, port), V, 64, SYN, 1, 0, &[]))
                    .unwrap()
            })
            .collect();
        assert!(owners.len() > 1);
        // And a reply is processed on the owner: NAT reverse rewrite.
        let r = rules(Some(360), 32);
        let mut w = [ctx(&r, 0, 2), ctx(&r, 1, 2)];
        let p = testpkt::tcp((C, 40000), V, 64, SYN, 1, 0, &[]);
        let o = w[0].owner(&p).unwrap();
        assert_eq!(syn(&mut w[o], C, 40000, 0), R1);
        let mut reply = testpkt::tcp(R1, (C, 40000), 64, SYN | ACK, 5, 2, &[]);
        assert_eq!(w[0].owner(&reply), Some(o));
        assert_eq!(w[o].process(&mut reply, 0), FWD);
        assert_eq!(parse_valid(&reply).0, V);
        assert_eq!(w[o].counter("misowned_packets"), Some(0));
    }

    #[test]
    fn port_zero_service_catches_every_port() {
        let mut r = Rules::new();
        let k0 = ServiceKey { port: 0, ..key() };
        r.apply(&Request::AddService(ServiceSpec {
            key: k0,
            scheduler: "rr".into(),
            persistent: Some(360),
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
        r.apply(&Request::AddDest(k0, dest((R1.0, 0), 1))).unwrap();
        r.apply(&Request::AddDest(k0, dest((R2.0, 0), 1))).unwrap();
        let mut c = ctx(&r, 0, 1);
        // Any port of the VIP: the client's first dest, with the packet's port kept.
        for port in [80u16, 443, 8990] {
            let mut p = testpkt::tcp((C, 5000 + port), (V.0, port), 64, SYN, 1, 0, &[]);
            assert_eq!(c.process(&mut p, 0), FWD, "port {port}");
            assert_eq!(parse_valid(&p).1, (R1.0, port));
        }
    }
}
