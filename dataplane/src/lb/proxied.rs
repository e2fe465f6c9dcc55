//! The SYN proxy's hooks in the load balancer (the protocol is described in [`crate::synproxy`]).
//!
//! Two entry points, both on TCP only:
//! - [`LbCtx::synproxy_miss`], for a packet without session to a service: a SYN is answered with a
//!   cookie while the proxy is engaged; an ACK is checked against the cookies while any may be out,
//!   and a good one opens the connection through the ordinary new-flow code and becomes the proxy's
//!   SYN to the real server.
//! - [`LbCtx::synproxy_replay`], for a packet of a proxied session (flag [`F_SYNPROXY`]) before its
//!   ordinary replay: it holds client packets while the real server is silent, turns the real
//!   server's SYN-ACK into the proxy's ACK, and refuses what does not fit; `None` lets the ordinary
//!   replay rewrite the packet, after which the sequence numbers are shifted.

use super::{verify_l4, LbCtx, LbVerdict, Pkt};
use crate::service::Service;
use crate::session::table::SessionId;
use crate::session::tcp_state::{CLOSE, ESTABLISHED, SYN_SENT, TIME_WAIT};
use crate::session::{v4_of, Dir, Session, F_ACTIVE, F_SP_PENDING, F_SYNPROXY};
use crate::stats::DropReason;
use crate::synproxy::cookie::{self, CookieTuple, MSS_TABLE};
use crate::synproxy::{synack_window, Built, Segment, SpSlot, SYN_RETRY_MS};
use crate::wire::tcp::{FLAG_ACK, FLAG_SYN};
use rvs_control::proto::FwdMethod;
use std::net::Ipv4Addr;

/// Whether new connections of `svc` can be proxied: at least one dest, every dest NAT or FULLNAT
/// (a direct-routing or tunnel real server answers the client itself, past the sequence shift).
fn proxiable(svc: &Service) -> bool {
    !svc.dests.is_empty()
        && svc
            .dests
            .iter()
            .all(|d| matches!(d.fwd, FwdMethod::Masq | FwdMethod::FullNat))
}

fn tuple(p: &Pkt) -> CookieTuple {
    CookieTuple {
        client: p.src,
        cport: p.sport,
        vip: p.dst,
        vport: p.dport,
    }
}

/// The address and port a session's packets to its real server come from: the client (NAT) or the
/// local address (FULLNAT).
fn inner_source(s: &Session) -> (Ipv4Addr, u16) {
    if s.is_fullnat() {
        (v4_of(&s.laddr), s.lport)
    } else {
        (v4_of(&s.client), s.cport)
    }
}

fn emit(b: &Built, ip: &mut [u8]) -> LbVerdict {
    match b.place(ip) {
        Ok(e) => LbVerdict::Emit(e),
        Err(r) => LbVerdict::Drop(r),
    }
}

impl LbCtx {
    /// A TCP packet `p` without session to service `si`, with the proxy on or auto. `None`: not the
    /// proxy's (the ordinary path decides). Kept out of line: the ordinary path stays small.
    #[inline(never)]
    pub(super) fn synproxy_miss(
        &mut self,
        si: usize,
        p: &Pkt,
        ip: &mut [u8],
        now_ms: u64,
    ) -> Option<LbVerdict> {
        // Cheap checks first: while the proxy is idle, a new flow pays only for them.
        let f = p.flags;
        let proxiable = |lb: &LbCtx| lb.snap.services().get(si).is_some_and(proxiable);
        if f.syn && !f.ack {
            if !self.sp.answers_syn(now_ms) || !proxiable(self) {
                return None;
            }
            return Some(self.answer_syn(si, p, ip, now_ms));
        }
        if f.ack && !f.syn && !f.rst && self.sp.cookies_outstanding(now_ms) && proxiable(self) {
            return Some(self.cookie_ack(si, p, ip, now_ms));
        }
        None
    }

    /// Answer a SYN with a SYN-ACK whose sequence number is a cookie; nothing is stored.
    fn answer_syn(&mut self, si: usize, p: &Pkt, ip: &mut [u8], now_ms: u64) -> LbVerdict {
        if let Err(r) = verify_l4(ip, p) {
            return LbVerdict::Drop(r);
        }
        if let Some(Err(r)) = self.snap.services().get(si).map(|svc| svc.admit(p.src)) {
            return LbVerdict::Drop(r);
        }
        let Some(seg) = Segment::parse(ip) else {
            return LbVerdict::Drop(DropReason::TcpMalformed);
        };
        let idx = cookie::mss_index(seg.mss.unwrap_or(cookie::DEFAULT_MSS));
        let mss = MSS_TABLE
            .get(usize::from(idx))
            .copied()
            .unwrap_or(cookie::DEFAULT_MSS);
        let k = self.sp.key().make(&tuple(p), seg.seq, idx, now_ms);
        let b = Built {
            src: (p.dst, p.dport),
            dst: (p.src, p.sport),
            seq: k,
            ack: seg.seq.wrapping_add(1),
            flags: FLAG_SYN | FLAG_ACK,
            win: synack_window(mss),
            mss: Some(mss),
        };
        let v = emit(&b, ip);
        if matches!(v, LbVerdict::Emit(_)) {
            self.sp.count_cookie_sent();
        }
        v
    }

    /// An ACK without session while cookies may be out: check the cookie, open the connection, send
    /// the proxy's SYN to the real server in the ACK's place.
    fn cookie_ack(&mut self, si: usize, p: &Pkt, ip: &mut [u8], now_ms: u64) -> LbVerdict {
        if let Err(r) = verify_l4(ip, p) {
            return LbVerdict::Drop(r);
        }
        let Some(seg) = Segment::parse(ip) else {
            return LbVerdict::Drop(DropReason::TcpMalformed);
        };
        let isn = seg.seq.wrapping_sub(1);
        let k = seg.ack.wrapping_sub(1);
        let Some(idx) = self.sp.key().check(&tuple(p), isn, k, now_ms) else {
            self.sp.count_cookie(false);
            return LbVerdict::Drop(DropReason::SynproxyBadCookie);
        };
        self.sp.count_cookie(true);
        if let Some(Err(r)) = self.snap.services().get(si).map(|svc| svc.admit(p.src)) {
            return LbVerdict::Drop(r);
        }
        let id = match self.open_session(si, p, now_ms) {
            Ok(id) => id,
            Err(r) => return LbVerdict::Drop(r),
        };
        let mss = MSS_TABLE
            .get(usize::from(idx))
            .copied()
            .unwrap_or(cookie::DEFAULT_MSS);
        self.sp.set_slot(
            id.0,
            SpSlot {
                seq: k,
                isn,
                win: seg.win,
                mss,
            },
        );
        let Some(s) = self.sessions.get(id) else {
            return LbVerdict::Pass;
        };
        s.dest.count_in(u64::from(p.len));
        self.c.packets_in += 1;
        let flags = s.flags | F_SYNPROXY | F_SP_PENDING;
        let v = self.send_syn(id, ip);
        let expires = now_ms + self.snap.timeouts().ms(SYN_SENT);
        self.sessions.touch(id, SYN_SENT, flags, expires);
        v
    }

    /// Build the proxy's SYN to the real server of session `id` in place of `ip`.
    fn send_syn(&self, id: SessionId, ip: &mut [u8]) -> LbVerdict {
        let Some(s) = self.sessions.get(id) else {
            return LbVerdict::Pass;
        };
        let sp = self.sp.slot(id.0);
        let b = Built {
            src: inner_source(s),
            dst: (v4_of(&s.rip), s.rport),
            seq: sp.isn,
            ack: 0,
            flags: FLAG_SYN,
            win: sp.win,
            mss: Some(sp.mss),
        };
        emit(&b, ip)
    }

    /// A packet `p` travelling `dir` of proxied session `id`, before the ordinary replay. `None`: replay
    /// it (and shift its sequence numbers unless still pending). Out of line, off the plain path.
    #[cold]
    #[inline(never)]
    pub(super) fn synproxy_replay(
        &mut self,
        id: SessionId,
        dir: Dir,
        p: &Pkt,
        ip: &mut [u8],
        now_ms: u64,
    ) -> Option<LbVerdict> {
        let s = self.sessions.get(id)?;
        let (state, flags, expires) = (s.state, s.flags, s.expires_ms);
        let pending = flags & F_SP_PENDING != 0;
        let f = p.flags;
        match dir {
            Dir::In if f.syn && !f.ack => {
                if state == TIME_WAIT || state == CLOSE {
                    // A new connection reusing the tuple of a finished one: end the old session and
                    // treat the SYN as a new flow.
                    if let Some(old) = self.sessions.remove(id) {
                        self.finish(&old);
                        self.c.sessions_expired += 1;
                    }
                    return Some(self.process(ip, now_ms));
                }
                Some(LbVerdict::Drop(DropReason::SynproxyUnexpected))
            }
            Dir::In if pending => {
                if f.rst {
                    return None; // to the real server unshifted; the state machine closes the session
                }
                if state == CLOSE {
                    return Some(LbVerdict::Drop(DropReason::NoSession));
                }
                let sent_at = expires.saturating_sub(self.snap.timeouts().ms(SYN_SENT));
                if now_ms >= sent_at.saturating_add(SYN_RETRY_MS) {
                    let v = self.send_syn(id, ip);
                    self.sp.count_syn_retransmit();
                    let expires = now_ms + self.snap.timeouts().ms(SYN_SENT);
                    self.sessions.touch(id, state, flags, expires);
                    return Some(v);
                }
                self.sp.count_held();
                Some(LbVerdict::Hold(id.0))
            }
            Dir::Out if f.syn && f.ack => Some(self.server_synack(id, p, ip, now_ms)),
            Dir::Out if pending && f.rst => {
                // The real server refused the proxy's SYN: the client, which believes itself
                // connected, gets the RST with the sequence number it expects (cookie + 1).
                let seg = Segment::parse(ip)?;
                let mut sp = self.sp.slot(id.0);
                sp.seq = seg.seq.wrapping_sub(sp.seq.wrapping_add(1));
                self.sp.set_slot(id.0, sp);
                self.sp.on_state(state, CLOSE);
                self.sessions
                    .touch(id, CLOSE, flags & !F_SP_PENDING, expires);
                None
            }
            Dir::Out if pending => Some(LbVerdict::Drop(DropReason::SynproxyUnexpected)),
            _ => None,
        }
    }

    /// The real server's SYN-ACK: learn the sequence delta (first time), answer with the proxy's ACK,
    /// establish the session and release the held client packets.
    fn server_synack(&mut self, id: SessionId, p: &Pkt, ip: &mut [u8], now_ms: u64) -> LbVerdict {
        let Some(seg) = Segment::parse(ip) else {
            return LbVerdict::Drop(DropReason::TcpMalformed);
        };
        let Some(s) = self.sessions.get(id) else {
            return LbVerdict::Pass;
        };
        let (mut flags, old_state) = (s.flags, s.state);
        let mut sp = self.sp.slot(id.0);
        let state = if flags & F_SP_PENDING != 0 {
            sp.seq = seg.seq.wrapping_sub(sp.seq);
            flags &= !F_SP_PENDING;
            self.sp.set_slot(id.0, sp);
            self.sp.release(id.0);
            self.sp.count_established();
            ESTABLISHED
        } else {
            self.sp.count_synack_retransmit();
            old_state
        };
        if state == ESTABLISHED && flags & F_ACTIVE == 0 {
            s.dest.set_active(true);
            flags |= F_ACTIVE;
        }
        s.dest.count_out(u64::from(p.len));
        self.c.packets_out += 1;
        let b = Built {
            src: inner_source(s),
            dst: (v4_of(&s.rip), s.rport),
            seq: seg.ack,
            ack: seg.seq.wrapping_add(1),
            flags: FLAG_ACK,
            win: sp.win,
            mss: None,
        };
        let v = emit(&b, ip);
        self.sp.on_state(old_state, state);
        let expires = now_ms + self.snap.timeouts().ms(state);
        self.sessions.touch(id, state, flags, expires);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::LbLimits;
    use crate::rules::Rules;
    use crate::synproxy::{SynproxyConf, SynproxyMode};
    use crate::xmit::testpkt::{self, parse_valid, ACK, FIN, PSH, RST, SYN};
    use etherparse::{PacketBuilder, TcpOptionElement};
    use rvs_control::proto::{
        DestSpec, LaddrSpec, Protocol, Request, Response, ServiceKey, ServiceSpec, TunnelCsum,
        TunnelType,
    };

    const C: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 2), 40000);
    const V: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 8990);
    const R1: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 1, 2), 8998);
    const L1: Ipv4Addr = Ipv4Addr::new(10, 10, 9, 1);
    const SECRET: [u64; 2] = [0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00];
    const FWD: LbVerdict = LbVerdict::Forward { next_hop: None };
    const ISN: u32 = 1_000_000;
    const S: u32 = 7_000_000; // the real server's ISN

    fn key() -> ServiceKey {
        ServiceKey {
            proto: Protocol::Tcp,
            addr: V.0.into(),
            port: V.1,
        }
    }

    fn rules(fwd: FwdMethod) -> Rules {
        let mut r = Rules::new();
        r.apply(&Request::AddService(ServiceSpec {
            key: key(),
            scheduler: "rr".into(),
            persistent: None,
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
        r.apply(&Request::AddDest(
            key(),
            DestSpec {
                addr: R1.0.into(),
                port: R1.1,
                fwd,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: TunnelType::Ipip,
                tun_csum: TunnelCsum::NoCsum,
            },
        ))
        .unwrap();
        if fwd == FwdMethod::FullNat {
            r.apply(&Request::AddLaddr(key(), LaddrSpec { addr: L1.into() }))
                .unwrap();
        }
        r
    }

    fn ctx(r: &Rules, mode: SynproxyMode, threshold: usize, max: usize) -> LbCtx {
        let mut c = LbCtx::new(0, 1, LbLimits { max_sessions: max });
        c.set_snapshot(r.snapshot());
        c.set_synproxy(SynproxyConf {
            mode,
            threshold,
            secret: SECRET,
        });
        c
    }

    /// A TCP packet built by etherparse, with options.
    #[allow(clippy::too_many_arguments)]
    fn seg(
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
        flags: u8,
        seq: u32,
        ack: u32,
        win: u16,
        opts: &[TcpOptionElement],
        data: &[u8],
    ) -> Vec<u8> {
        let mut b =
            PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64).tcp(src.1, dst.1, seq, win);
        if flags & SYN != 0 {
            b = b.syn();
        }
        if flags & FIN != 0 {
            b = b.fin();
        }
        if flags & RST != 0 {
            b = b.rst();
        }
        if flags & PSH != 0 {
            b = b.psh();
        }
        if flags & ACK != 0 {
            b = b.ack(ack);
        }
        let b = b.options(opts).unwrap();
        let mut v = Vec::new();
        b.write(&mut v, data).unwrap();
        v
    }

    fn mss(m: u16) -> [TcpOptionElement; 1] {
        [TcpOptionElement::MaximumSegmentSize(m)]
    }

    /// The client's SYN as Linux sends it: MSS, SACK permitted, timestamps, window scale.
    fn client_syn(c: (Ipv4Addr, u16), isn: u32) -> Vec<u8> {
        seg(
            c,
            V,
            SYN,
            isn,
            0,
            64240,
            &[
                TcpOptionElement::MaximumSegmentSize(1460),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Timestamp(1, 0),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ],
            &[],
        )
    }

    /// The bytes an `Emit` verdict sends.
    fn emitted(v: LbVerdict, ip: &[u8]) -> Vec<u8> {
        let LbVerdict::Emit(e) = v else {
            panic!("expected Emit, got {v:?}");
        };
        let mut out = e.front().to_vec();
        out.extend_from_slice(&ip[..usize::from(e.ip_len)]);
        parse_valid(&out);
        out
    }

    fn cookie_of(c: &LbCtx, client: (Ipv4Addr, u16), isn: u32, idx: u8, now: u64) -> u32 {
        let t = CookieTuple {
            client: client.0,
            cport: client.1,
            vip: V.0,
            vport: V.1,
        };
        c.sp.key().make(&t, isn, idx, now)
    }

    fn fwd(c: &mut LbCtx, now: u64, input: Vec<u8>, expected: Vec<u8>) {
        let mut p = input;
        assert_eq!(c.process(&mut p, now), FWD);
        assert_eq!(p, expected);
        parse_valid(&p);
    }

    fn state(c: &LbCtx, now: u64) -> String {
        let mut v = Vec::new();
        c.conns(now, 0, &mut v);
        assert_eq!(v.len(), 1);
        v[0].state.clone()
    }

    fn dest_conns(r: &Rules) -> (u32, u32) {
        match r.query(&Request::GetServices(None)).unwrap() {
            Response::Services(v) => (v[0].dests[0].active_conns, v[0].dests[0].inactive_conns),
            other => panic!("{other:?}"),
        }
    }

    /// A whole proxied connection for `fwd` (NAT or FULLNAT), every packet's bytes checked.
    fn proxied_connection(fwd_method: FwdMethod) {
        let r = rules(fwd_method);
        let mut c = ctx(&r, SynproxyMode::On, 1, 16);
        let t = 1_000;
        // What the real server sees as the client: the client itself (NAT) or the local address.
        let inner = if fwd_method == FwdMethod::FullNat {
            (L1, 1024)
        } else {
            C
        };
        // 1. SYN -> SYN-ACK from the VIP, cookie as ISN, MSS only, window 8 segments.
        let k = cookie_of(&c, C, ISN, 3, t);
        let mut p = client_syn(C, ISN);
        let v = c.process(&mut p, t);
        let want = seg(V, C, SYN | ACK, k, ISN + 1, 8 * 1460, &mss(1460), &[]);
        assert_eq!(emitted(v, &p), want);
        assert_eq!(c.counter("sessions_live"), Some(0), "no state for a SYN");
        assert_eq!(c.counter("synproxy_cookies_sent"), Some(1));
        // 2. ACK -> the proxy's SYN to the real server: client ISN, cookie MSS, client window.
        let mut p = seg(C, V, ACK, ISN + 1, k + 1, 502, &[], &[]);
        let v = c.process(&mut p, t);
        let want = seg(inner, R1, SYN, ISN, 0, 502, &mss(1460), &[]);
        assert_eq!(emitted(v, &p), want);
        assert_eq!(c.counter("synproxy_cookies_valid"), Some(1));
        assert_eq!(c.counter("sessions_live"), Some(1));
        assert_eq!(state(&c, t), "SYN_SENT");
        assert_eq!(dest_conns(&r), (0, 1));
        // 3. The request arrives before the real server answered: held, untouched.
        let req = b"GET / HTTP/1.0\r\n\r\n";
        let mut p = seg(C, V, ACK | PSH, ISN + 1, k + 1, 502, &[], req);
        let orig = p.clone();
        let v = c.process(&mut p, t + 1);
        let LbVerdict::Hold(slot) = v else {
            panic!("{v:?}");
        };
        assert_eq!(p, orig);
        assert_eq!(c.take_synproxy_release(), None);
        // 4. The real server's SYN-ACK -> the proxy's ACK; held packets released.
        let mut p = seg(R1, inner, SYN | ACK, S, ISN + 1, 65160, &mss(1460), &[]);
        let v = c.process(&mut p, t + 2);
        let want = seg(inner, R1, ACK, ISN + 1, S + 1, 502, &[], &[]);
        assert_eq!(emitted(v, &p), want);
        assert_eq!(c.take_synproxy_release(), Some(slot));
        assert_eq!(c.take_synproxy_release(), None, "released once");
        assert_eq!(state(&c, t + 2), "ESTABLISHED");
        assert_eq!(dest_conns(&r), (1, 0));
        assert_eq!(c.counter("synproxy_established"), Some(1));
        // 5. The held request, re-injected: rewritten, ack shifted into the server's space.
        fwd(
            &mut c,
            t + 2,
            orig,
            seg(inner, R1, ACK | PSH, ISN + 1, S + 1, 502, &[], req),
        );
        // 6. Data from the server: seq shifted back into the cookie's space.
        let resp = [b'x'; 1000];
        let ack_c = ISN + 1 + req.len() as u32;
        fwd(
            &mut c,
            t + 3,
            seg(R1, inner, ACK | PSH, S + 1, ack_c, 509, &[], &resp),
            seg(V, C, ACK | PSH, k + 1, ack_c, 509, &[], &resp),
        );
        // 7. The client acknowledges it: ack shifted.
        fwd(
            &mut c,
            t + 4,
            seg(C, V, ACK, ack_c, k + 1001, 500, &[], &[]),
            seg(inner, R1, ACK, ack_c, S + 1001, 500, &[], &[]),
        );
        // 8. A retransmitted SYN-ACK is acknowledged again, not passed to the client.
        let mut p = seg(R1, inner, SYN | ACK, S, ISN + 1, 65160, &mss(1460), &[]);
        let v = c.process(&mut p, t + 5);
        assert_eq!(
            emitted(v, &p),
            seg(inner, R1, ACK, ISN + 1, S + 1, 502, &[], &[])
        );
        assert_eq!(c.take_synproxy_release(), None);
        assert_eq!(c.counter("synproxy_synack_retransmits"), Some(1));
        // 9. Close: FINs both ways, shifted; wrap-around of the sequence space is fine.
        fwd(
            &mut c,
            t + 6,
            seg(R1, inner, FIN | ACK, S + 1001, ack_c, 509, &[], &[]),
            seg(V, C, FIN | ACK, k + 1001, ack_c, 509, &[], &[]),
        );
        fwd(
            &mut c,
            t + 7,
            seg(C, V, FIN | ACK, ack_c, k + 1002, 500, &[], &[]),
            seg(inner, R1, FIN | ACK, ack_c, S + 1002, 500, &[], &[]),
        );
        assert_eq!(state(&c, t + 7), "TIME_WAIT");
        assert_eq!(c.counter("synproxy_held"), Some(1));
        assert_eq!(c.counter("synproxy_cookies_invalid"), Some(0));
        assert_eq!(c.counter("misowned_packets"), Some(0));
    }

    #[test]
    fn nat_proxied_connection_exact_bytes() {
        proxied_connection(FwdMethod::Masq);
    }

    #[test]
    fn fullnat_proxied_connection_exact_bytes() {
        proxied_connection(FwdMethod::FullNat);
    }

    #[test]
    fn option_less_syn_grows_by_the_mss_option() {
        let r = rules(FwdMethod::Masq);
        let mut c = ctx(&r, SynproxyMode::On, 1, 16);
        let mut p = testpkt::tcp(C, V, 64, SYN, ISN, 0, &[]);
        assert_eq!(p.len(), 40);
        let v = c.process(&mut p, 5);
        let LbVerdict::Emit(e) = v else {
            panic!("{v:?}");
        };
        assert_eq!((e.front_len, e.ip_len, e.to), (4, 40, C.0));
        // No MSS option: 536 is implied; the cookie carries index 0.
        let k = cookie_of(&c, C, ISN, 0, 5);
        assert_eq!(
            emitted(v, &p),
            seg(V, C, SYN | ACK, k, ISN + 1, 8 * 536, &mss(536), &[])
        );
    }

    #[test]
    fn forged_and_expired_cookies_are_refused_and_counted() {
        let r = rules(FwdMethod::Masq);
        let mut c = ctx(&r, SynproxyMode::On, 1, 16);
        let t = 10 * (1 << cookie::PERIOD_SHIFT);
        let k = cookie_of(&c, C, ISN, 3, t);
        let bad = LbVerdict::Drop(DropReason::SynproxyBadCookie);
        // Wrong cookie, wrong ISN, another client port.
        for p in [
            seg(C, V, ACK, ISN + 1, k + 2, 502, &[], &[]),
            seg(C, V, ACK, ISN + 9, k + 1, 502, &[], &[]),
            seg((C.0, C.1 + 1), V, ACK, ISN + 1, k + 1, 502, &[], &[]),
        ] {
            let mut p = p;
            assert_eq!(c.process(&mut p, t), bad);
        }
        // Expired: two periods later.
        let mut p = seg(C, V, ACK, ISN + 1, k + 1, 502, &[], &[]);
        assert_eq!(c.process(&mut p, t + 2 * (1 << cookie::PERIOD_SHIFT)), bad);
        assert_eq!(c.counter("synproxy_cookies_invalid"), Some(4));
        assert_eq!(c.counter("synproxy_cookies_valid"), Some(0));
        assert_eq!(c.counter("sessions_live"), Some(0));
        // Still valid one period later.
        let mut p = seg(C, V, ACK, ISN + 1, k + 1, 502, &[], &[]);
        let v = c.process(&mut p, t + (1 << cookie::PERIOD_SHIFT));
        assert!(matches!(v, LbVerdict::Emit(_)), "{v:?}");
        assert_eq!(c.counter("sessions_live"), Some(1));
    }

    #[test]
    fn auto_mode_engages_on_half_open_sessions_and_disengages_after_expiry() {
        let r = rules(FwdMethod::Masq);
        let mut c = ctx(&r, SynproxyMode::Auto, 3, 64);
        let t = 1_000;
        // Not engaged: a lone ACK is no_session as without the proxy; SYNs open sessions.
        let mut p = seg(C, V, ACK, 1, 1, 502, &[], &[]);
        assert_eq!(c.process(&mut p, t), LbVerdict::Drop(DropReason::NoSession));
        for port in 1..=3u16 {
            let mut p = client_syn((C.0, port), ISN);
            assert_eq!(c.process(&mut p, t), FWD, "port {port}");
        }
        assert_eq!(c.counter("synproxy_half_open"), Some(3));
        // The fourth SYN finds 3 half-open sessions: cookie, no session.
        let mut p = client_syn((C.0, 4), ISN);
        assert!(matches!(c.process(&mut p, t), LbVerdict::Emit(_)));
        assert_eq!(c.counter("sessions_live"), Some(3));
        assert_eq!(c.counter("synproxy_engaged"), Some(1));
        assert_eq!(c.counter("synproxy_engagements"), Some(1));
        // One handshake completes: 2 half-open > 3 / 2, still engaged.
        fwd(
            &mut c,
            t,
            seg(R1, (C.0, 1), SYN | ACK, S, ISN + 1, 65160, &[], &[]),
            seg(V, (C.0, 1), SYN | ACK, S, ISN + 1, 65160, &[], &[]),
        );
        fwd(
            &mut c,
            t,
            seg((C.0, 1), V, ACK, ISN + 1, S + 1, 502, &[], &[]),
            seg((C.0, 1), R1, ACK, ISN + 1, S + 1, 502, &[], &[]),
        );
        assert_eq!(c.counter("synproxy_half_open"), Some(2));
        let mut p = client_syn((C.0, 5), ISN);
        assert!(matches!(c.process(&mut p, t), LbVerdict::Emit(_)));
        // The half-open sessions expire (SYN_RECV: 60 s): disengaged, SYNs open sessions again.
        c.expire(t + 60_000, 64);
        assert_eq!(c.counter("synproxy_half_open"), Some(0));
        assert_eq!(c.counter("synproxy_engaged"), Some(0));
        let mut p = client_syn((C.0, 6), ISN);
        assert_eq!(c.process(&mut p, t + 60_000), FWD);
        // Cookies sent while engaged are still honoured.
        let k = cookie_of(&c, (C.0, 5), ISN, 3, t);
        let mut p = seg((C.0, 5), V, ACK, ISN + 1, k + 1, 502, &[], &[]);
        assert!(matches!(c.process(&mut p, t + 60_000), LbVerdict::Emit(_)));
        assert_eq!(c.counter("synproxy_cookies_valid"), Some(1));
    }

    #[test]
    fn a_syn_flood_costs_no_session_and_a_full_table_refuses_proxied_connections() {
        let r = rules(FwdMethod::Masq);
        let mut c = ctx(&r, SynproxyMode::On, 1, 2);
        for i in 0..5000u32 {
            let src = (Ipv4Addr::from(0x0b00_0000 + i), 1024 + (i % 60000) as u16);
            let mut p = testpkt::tcp(src, V, 64, SYN, i, 0, &[]);
            assert!(matches!(c.process(&mut p, 7), LbVerdict::Emit(_)));
        }
        assert_eq!(c.counter("sessions_live"), Some(0));
        assert_eq!(c.counter("synproxy_cookies_sent"), Some(5000));
        // Three clients complete the handshake; the table holds two.
        let mut verdicts = Vec::new();
        for port in 1..=3u16 {
            let k = cookie_of(&c, (C.0, port), ISN, 0, 7);
            let mut p = seg((C.0, port), V, ACK, ISN + 1, k + 1, 502, &[], &[]);
            verdicts.push(c.process(&mut p, 7));
        }
        assert!(matches!(verdicts[0], LbVerdict::Emit(_)));
        assert!(matches!(verdicts[1], LbVerdict::Emit(_)));
        assert_eq!(verdicts[2], LbVerdict::Drop(DropReason::SessionTableFull));
        assert_eq!(c.counter("sessions_live"), Some(2));
        assert_eq!(c.counter("sessions_table_full"), Some(1));
    }

    #[test]
    fn silent_server_gets_the_syn_again_and_a_refusing_one_resets_the_client() {
        let r = rules(FwdMethod::Masq);
        let mut c = ctx(&r, SynproxyMode::On, 1, 16);
        let t = 500;
        let k = cookie_of(&c, C, ISN, 3, t);
        let mut p = seg(C, V, ACK, ISN + 1, k + 1, 502, &[], &[]);
        assert!(matches!(c.process(&mut p, t), LbVerdict::Emit(_)));
        // Within a second: held. From a second on: the packet becomes the SYN again.
        let data = seg(C, V, ACK | PSH, ISN + 1, k + 1, 502, &[], b"x");
        let mut p = data.clone();
        assert!(matches!(c.process(&mut p, t + 999), LbVerdict::Hold(_)));
        let mut p = data.clone();
        let v = c.process(&mut p, t + 1000);
        assert_eq!(
            emitted(v, &p),
            seg(C, R1, SYN, ISN, 0, 502, &mss(1460), &[])
        );
        assert_eq!(c.counter("synproxy_syn_retransmits"), Some(1));
        let mut p = data.clone();
        assert!(matches!(c.process(&mut p, t + 1500), LbVerdict::Hold(_)));
        // The server refuses: the client gets a RST it accepts (seq = cookie + 1).
        fwd(
            &mut c,
            t + 1600,
            seg(R1, C, RST | ACK, 0, ISN + 1, 0, &[], &[]),
            seg(V, C, RST | ACK, k + 1, ISN + 1, 0, &[], &[]),
        );
        assert_eq!(state(&c, t + 1600), "CLOSE");
        assert_eq!(c.take_synproxy_release(), None);
        // Before its SYN-ACK, a server segment other than SYN-ACK/RST is refused.
        let k2 = cookie_of(&c, (C.0, 2), ISN, 3, t);
        let mut p = seg((C.0, 2), V, ACK, ISN + 1, k2 + 1, 502, &[], &[]);
        assert!(matches!(c.process(&mut p, t), LbVerdict::Emit(_)));
        let mut p = seg(R1, (C.0, 2), ACK, S, ISN + 1, 502, &[], b"y");
        assert_eq!(
            c.process(&mut p, t),
            LbVerdict::Drop(DropReason::SynproxyUnexpected)
        );
    }

    #[test]
    fn a_new_syn_on_a_finished_proxied_connection_gets_a_new_cookie() {
        let r = rules(FwdMethod::Masq);
        let mut c = ctx(&r, SynproxyMode::On, 1, 16);
        let t = 100;
        let k = cookie_of(&c, C, ISN, 3, t);
        let mut p = seg(C, V, ACK, ISN + 1, k + 1, 502, &[], &[]);
        assert!(matches!(c.process(&mut p, t), LbVerdict::Emit(_)));
        let mut p = seg(R1, C, SYN | ACK, S, ISN + 1, 502, &[], &[]);
        assert!(matches!(c.process(&mut p, t), LbVerdict::Emit(_)));
        // A SYN inside the live connection is refused.
        let mut p = client_syn(C, ISN + 5);
        assert_eq!(
            c.process(&mut p, t),
            LbVerdict::Drop(DropReason::SynproxyUnexpected)
        );
        // Closed (RST): a new SYN on the tuple ends the old session and gets a cookie.
        let mut p = seg(C, V, RST | ACK, ISN + 1, k + 1, 0, &[], &[]);
        assert_eq!(c.process(&mut p, t), FWD);
        let mut p = client_syn(C, ISN + 100);
        assert!(matches!(c.process(&mut p, t + 1), LbVerdict::Emit(_)));
        assert_eq!(c.counter("sessions_live"), Some(0));
        assert_eq!(dest_conns(&r), (0, 0));
    }

    #[test]
    fn icmp_error_about_a_shifted_packet_quotes_the_server_sequence() {
        use crate::xmit::icmp::tests::{icmp_error, parse_icmp_valid};
        let r = rules(FwdMethod::Masq);
        let mut c = ctx(&r, SynproxyMode::On, 1, 16);
        let k = cookie_of(&c, C, ISN, 3, 1);
        let mut p = seg(C, V, ACK, ISN + 1, k + 1, 502, &[], &[]);
        assert!(matches!(c.process(&mut p, 1), LbVerdict::Emit(_)));
        let mut p = seg(R1, C, SYN | ACK, S, ISN + 1, 502, &[], &[]);
        assert!(matches!(c.process(&mut p, 1), LbVerdict::Emit(_)));
        // What we sent the client (seq in the cookie's space), and a router's error about it.
        let mut sent = seg(R1, C, ACK, S + 1, ISN + 1, 502, &[], &[0; 100]);
        assert_eq!(c.process(&mut sent, 2), FWD);
        let router = Ipv4Addr::new(10, 10, 0, 254);
        let frag = etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 100 },
        );
        let mut e = icmp_error(router, V.0, frag.clone(), &sent[..28]);
        assert_eq!(c.process(&mut e, 3), FWD);
        let (src, dst, typ, quote) = parse_icmp_valid(&e);
        assert_eq!((src, dst, typ), (router, R1.0, frag));
        // The quote as the real server sent it: its address and port, its own sequence number.
        let want = seg(R1, C, ACK, S + 1, ISN + 1, 502, &[], &[0; 100]);
        assert_eq!(quote[..28], want[..28]);
    }

    #[test]
    fn direct_routing_services_are_not_proxied() {
        let r = rules(FwdMethod::Route);
        let mut c = ctx(&r, SynproxyMode::On, 1, 16);
        let mut p = client_syn(C, ISN);
        assert_eq!(
            c.process(&mut p, 1),
            LbVerdict::Forward {
                next_hop: Some(R1.0)
            }
        );
        assert_eq!(c.counter("synproxy_cookies_sent"), Some(0));
    }
}
