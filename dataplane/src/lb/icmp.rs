//! ICMP errors about load-balanced flows, on the lcore that owns the flow they quote.
//!
//! The quoted datagram reversed is a packet of the session's own direction: `client -> VIP` when the
//! error is about a packet we (or a direct-routing real server) sent to the client, `real server ->
//! client` (NAT) or `real server -> local address` (FULLNAT) when it is about a packet we sent to the
//! real server. That reversed tuple is looked up in the session table and steers ownership, so the
//! error reaches the lcore holding the session. What is rewritten (as the kernel's `ip_vs_nat_icmp`;
//! FULLNAT rewrites both addresses, as the packets of its sessions):
//!
//! | session | error about | outer src | outer dst | quoted src | quoted dst |
//! |---|---|---|---|---|---|
//! | NAT | a packet to the client | kept | RIP | RIP:rport | kept |
//! | NAT | a packet to the real server | VIP | kept (client) | kept | VIP:vport |
//! | FULLNAT | a packet to the client | laddr | RIP | RIP:rport | laddr:lport |
//! | FULLNAT | a packet to the real server | VIP | client | client:cport | VIP:vport |
//!
//! Direct-routing and tunnel sessions: an error about a packet to the client (sent by the real
//! server with the VIP as source) goes to the real server unchanged, routed to its MAC or
//! encapsulated, as the kernel's `ip_vs_icmp_xmit` passes it to the connection's transmitter.
//! The session's state and expiry are not touched.

use super::{LbCtx, LbVerdict, Pkt};
use crate::session::tcp_state::TcpFlags;
use crate::session::{v4_of, Dir, FlowKey, F_SP_PENDING, F_SYNPROXY};
use crate::stats::DropReason;
use crate::wire::ipv4::Ipv4Packet;
use crate::xmit::icmp::{parse_error, translate_error, Embedded, ErrorRewrite};

/// The flow an ICMP error in `ip` belongs to, as a packet of that flow (the quoted datagram
/// reversed; TTL and length are the error's own), with the quoted tuple. `Ok(None)`: not an ICMP
/// error of a TCP/UDP datagram.
pub(super) fn error_flow(ip: &[u8]) -> Result<Option<(Pkt, Embedded)>, DropReason> {
    let Some(e) = parse_error(ip)? else {
        return Ok(None);
    };
    let outer = Ipv4Packet::new_checked(ip).map_err(|_| DropReason::Ipv4Malformed)?;
    Ok(Some((
        Pkt {
            proto: e.proto,
            src: e.dst.0,
            sport: e.dst.1,
            dst: e.src.0,
            dport: e.src.1,
            ttl: outer.ttl(),
            len: outer.total_len() as u16,
            flags: TcpFlags::default(),
            first_frag: false,
            l4: outer.header_len() as u8,
        },
        e,
    )))
}

impl LbCtx {
    /// Handle a packet that is not TCP/UDP: an ICMP error of a session is translated, anything else
    /// passes to the pipeline.
    pub(super) fn icmp_error(&mut self, ip: &mut [u8]) -> LbVerdict {
        let (p, _) = match error_flow(ip) {
            Ok(Some(f)) => f,
            Ok(None) => return LbVerdict::Pass,
            Err(r) => return LbVerdict::Drop(r),
        };
        if self.n_workers > 1 && self.owner_of(&p) != self.worker_index {
            self.c.misowned_packets += 1;
        }
        let key = FlowKey::v4(p.proto, p.src, p.sport, p.dst, p.dport);
        let Some((id, dir)) = self.sessions.lookup(&key) else {
            return LbVerdict::Drop(DropReason::IcmpNoSession);
        };
        let Some(s) = self.sessions.get(id) else {
            return LbVerdict::Drop(DropReason::IcmpNoSession);
        };
        if s.dest.is_deleted() {
            return LbVerdict::Drop(DropReason::DestDeleted);
        }
        if p.ttl <= 1 {
            return LbVerdict::Drop(DropReason::Ipv4TtlExpired);
        }
        let c = (v4_of(&s.client), s.cport);
        let v = (v4_of(&s.vip), s.vport);
        let r = (v4_of(&s.rip), s.rport);
        let l = (v4_of(&s.laddr), s.lport);
        let rw = match (dir, s.is_direct(), s.is_fullnat()) {
            (Dir::In, true, _) => {
                let verdict = Self::verdict_of(s);
                self.c.icmp_errors += 1;
                return verdict;
            }
            // Direct sessions never send to the real server with a source of ours.
            (Dir::Out, true, _) => return LbVerdict::Drop(DropReason::IcmpNoSession),
            (Dir::In, false, false) => ErrorRewrite {
                outer_dst: Some(r.0),
                emb_src: Some(r),
                ..ErrorRewrite::default()
            },
            (Dir::In, false, true) => ErrorRewrite {
                outer_src: Some(l.0),
                outer_dst: Some(r.0),
                emb_src: Some(r),
                emb_dst: Some(l),
                ..ErrorRewrite::default()
            },
            (Dir::Out, false, false) => ErrorRewrite {
                outer_src: Some(v.0),
                emb_dst: Some(v),
                ..ErrorRewrite::default()
            },
            (Dir::Out, false, true) => ErrorRewrite {
                outer_src: Some(v.0),
                outer_dst: Some(c.0),
                emb_src: Some(c),
                emb_dst: Some(v),
                ..ErrorRewrite::default()
            },
        };
        // A proxied session's packets to the client had their sequence numbers shifted: the real
        // server must see its own in the quote.
        let mut rw = rw;
        if dir == Dir::In && s.flags & (F_SYNPROXY | F_SP_PENDING) == F_SYNPROXY {
            rw.emb_seq_add = self.sp.slot(id.0).seq;
        }
        if let Err(r) = translate_error(ip, &rw) {
            return LbVerdict::Drop(r);
        }
        self.c.icmp_errors += 1;
        LbVerdict::Forward { next_hop: None }
    }
}
