//! The pipeline's fragment path: the policy of [`crate::frag`] applied to one received IPv4 fragment
//! (header valid, checksum verified, no options, source not martian).
//!
//! Kept apart from the rest of the pipeline: [`Pipeline::ipv4`](super::Pipeline) hands every
//! fragment to [`Pipeline::fragment`] and the worker calls [`Pipeline::hold_fragment`],
//! [`Pipeline::drain_fragments`] and [`Pipeline::expire_fragments`]; nothing else here touches the
//! unfragmented path.
//!
//! Order: a fragment's verdict is dispatched by the worker before the fragments it released (held
//! ones, sent right after their first fragment) which wait in `frag_out` until
//! [`Pipeline::drain_fragments`]; all go through the same tx queue or hand-off ring, in order.

use super::{Pipeline, Verdict};
use crate::frag::{EntryId, FragInfo, FragState, Xlate};
use crate::lb::LbVerdict;
use crate::port::PacketBuf;
use crate::stats::DropReason;
use crate::wire::ethernet;
use crate::wire::ipv4::{Ipv4Packet, PROTO_TCP, PROTO_UDP};
use crate::wire::tcp;
use crate::wire::udp;

impl<B: PacketBuf> Pipeline<B> {
    /// Process fragment `ip` (Ethernet header `hdr`); `handed_off` as in `ipv4`.
    pub(super) fn fragment(
        &mut self,
        hdr: &mut [u8],
        ip: &mut [u8],
        now_ms: u64,
        handed_off: bool,
    ) -> Verdict {
        let Some(f) = FragInfo::of(ip) else {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        };
        let k = f.key;
        if (k.proto != PROTO_TCP && k.proto != PROTO_UDP) || self.is_any_port_addr(k.dst) {
            return Verdict::Drop(DropReason::Ipv4Fragment);
        }
        // A session's packets go to a VIP or a local address, or come from a real server (NAT
        // replies): anything else can belong to none.
        let snap = self.lb.snapshot();
        if !snap.is_local(k.dst) && !snap.is_dest_addr(k.src) {
            return Verdict::Drop(DropReason::NotForUs);
        }
        let n = self.lb.n_workers();
        let frag_owner = k.owner(n);
        if n > 1 && !handed_off && frag_owner != self.index {
            return Verdict::Handoff(frag_owner);
        }
        // As the fragment owner (with several workers), the first fragment decides who translates.
        let steer = n > 1 && frag_owner == self.index;
        let id = match self.frag.admit(&f, now_ms) {
            Ok(id) => id,
            Err(r) => {
                self.collect_frag_drops();
                return Verdict::Drop(r);
            }
        };
        let v = if f.offset == 0 {
            self.first_fragment(id, hdr, ip, now_ms, steer)
        } else {
            match self.frag.state(id) {
                FragState::Pending => match self.frag.can_hold(id) {
                    Ok(()) => {
                        self.frag_hold = Some(id);
                        Verdict::HoldFragment
                    }
                    Err(r) => {
                        self.frag.refuse(id, r);
                        Verdict::Drop(r)
                    }
                },
                FragState::Forward(w) => Verdict::Handoff(w),
                FragState::Translate(x) => self.translate(hdr, ip, &x),
                FragState::Refused(r) => Verdict::Drop(r),
            }
        };
        self.frag.finish_if_complete(id);
        self.collect_frag_drops();
        v
    }

    fn first_fragment(
        &mut self,
        id: EntryId,
        hdr: &mut [u8],
        ip: &mut [u8],
        now_ms: u64,
        steer: bool,
    ) -> Verdict {
        if is_tiny(ip) {
            self.frag.refuse(id, DropReason::FragTiny);
            return Verdict::Drop(DropReason::FragTiny);
        }
        if steer {
            if let Some(w) = self.lb.owner(ip).filter(|w| *w != self.index) {
                self.frag.set_state(id, FragState::Forward(w));
                self.release_held(id);
                return Verdict::Handoff(w);
            }
        }
        let (src, dst) = match Ipv4Packet::new_checked(&*ip) {
            Ok(p) => (p.src(), p.dst()),
            Err(_) => return Verdict::Drop(DropReason::Ipv4Malformed),
        };
        let verdict = match self.lb.process(ip, now_ms) {
            v @ (LbVerdict::Forward { .. } | LbVerdict::Encap { .. }) => v,
            LbVerdict::Drop(r) => {
                self.frag.refuse(id, r);
                return Verdict::Drop(r);
            }
            LbVerdict::Pass => {
                self.frag.refuse(id, DropReason::NotForUs);
                return Verdict::Drop(DropReason::NotForUs);
            }
            // A fragmented segment of a proxied connection still waiting for its real server (or
            // one the SYN proxy would answer): not held, the client retransmits it.
            LbVerdict::Emit(_) | LbVerdict::Hold(_) => {
                self.frag.refuse(id, DropReason::SynproxyUnexpected);
                return Verdict::Drop(DropReason::SynproxyUnexpected);
            }
        };
        let Ok(mut p) = Ipv4Packet::new_checked(&mut *ip) else {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        };
        let (new_src, new_dst) = (p.src(), p.dst());
        let changed = new_src != src || new_dst != dst;
        let x = Xlate {
            src: (new_src != src).then_some(new_src),
            dst: (new_dst != dst).then_some(new_dst),
            ident: changed.then(|| self.frag.fresh_ident()),
            verdict,
        };
        if let Some(i) = x.ident {
            p.rewrite_ident(i);
        }
        self.frag.set_state(id, FragState::Translate(x));
        self.release_held(id);
        self.frag.count_translated();
        self.send_translated(hdr, ip, verdict)
    }

    /// Translate a later fragment of a datagram whose first fragment this lcore translated.
    fn translate(&mut self, hdr: &mut [u8], ip: &mut [u8], x: &Xlate) -> Verdict {
        if let Err(r) = x.apply(ip) {
            return Verdict::Drop(r);
        }
        self.frag.count_translated();
        self.send_translated(hdr, ip, x.verdict)
    }

    /// Send a translated fragment as the session's packets are sent (TTL, route or tunnel).
    fn send_translated(&mut self, hdr: &mut [u8], ip: &mut [u8], v: LbVerdict) -> Verdict {
        match v {
            LbVerdict::Forward { next_hop } => {
                let Ok(mut p) = Ipv4Packet::new_checked(&mut *ip) else {
                    return Verdict::Drop(DropReason::Ipv4Malformed);
                };
                if p.ttl() <= 1 {
                    return Verdict::Drop(DropReason::Ipv4TtlExpired);
                }
                p.decrement_ttl();
                let target = next_hop.unwrap_or_else(|| p.dst());
                self.route_out(hdr, target)
            }
            LbVerdict::Encap {
                rip,
                tunnel,
                flow_hash,
            } => self.encap(hdr, ip, rip, tunnel, flow_hash),
            LbVerdict::Pass | LbVerdict::Drop(_) | LbVerdict::Emit(_) | LbVerdict::Hold(_) => {
                Verdict::Drop(DropReason::NotForUs)
            }
        }
    }

    /// The first fragment of `id` was decided: send its held fragments after it, in arrival order.
    fn release_held(&mut self, id: EntryId) {
        let mut held = std::mem::take(&mut self.frag_scratch);
        self.frag.release(id, &mut held);
        let state = self.frag.state(id);
        for mut b in held.drain(..) {
            let v = match state {
                FragState::Forward(w) => Verdict::Handoff(w),
                FragState::Translate(x) => {
                    let frame = b.data_mut();
                    let (hdr, rest) = frame.split_at_mut(ethernet::HEADER_LEN.min(frame.len()));
                    match Ipv4Packet::new_checked(&*rest).map(|p| p.total_len()) {
                        Ok(total) => self.translate(hdr, &mut rest[..total], &x),
                        Err(_) => Verdict::Drop(DropReason::Ipv4Malformed),
                    }
                }
                FragState::Pending => Verdict::Drop(DropReason::FragTimeout),
                FragState::Refused(r) => Verdict::Drop(r),
            };
            self.frag_out.push((b, v));
        }
        self.frag_scratch = held;
    }

    fn collect_frag_drops(&mut self) {
        if self.frag.has_dropped() {
            let mut d = std::mem::take(&mut self.frag_dropped);
            self.frag.drain_dropped(&mut d);
            self.frag_out
                .extend(d.drain(..).map(|(b, r)| (b, Verdict::Drop(r))));
            self.frag_dropped = d;
        }
    }

    /// Keep `buf`, the frame that just got [`Verdict::HoldFragment`], until its datagram's first fragment
    /// comes. Gives it back (to drop as `frag_hold_full`) when it cannot be held.
    pub fn hold_fragment(&mut self, buf: B) -> Result<(), B> {
        match self.frag_hold.take() {
            Some(id) => self.frag.hold(id, buf),
            None => Err(buf),
        }
    }

    /// Move the fragments released or dropped since the last call, with their verdicts, in order,
    /// to `out` (the worker dispatches them).
    pub fn drain_fragments(&mut self, out: &mut Vec<(B, Verdict)>) {
        out.append(&mut self.frag_out);
    }

    /// Expire at most `budget` fragment-tracker entries (their held fragments become
    /// `frag_timeout` drops, see [`Pipeline::drain_fragments`]). Returns how many were freed.
    pub fn expire_fragments(&mut self, now_ms: u64, budget: usize) -> usize {
        let n = self.frag.expire(now_ms, budget);
        self.collect_frag_drops();
        n
    }
}

/// RFC 1858: a first fragment too short to hold the whole TCP header (options included) or UDP
/// header.
fn is_tiny(ip: &[u8]) -> bool {
    let Ok(p) = Ipv4Packet::new_checked(ip) else {
        return true;
    };
    let l4 = p.payload();
    match p.protocol() {
        PROTO_TCP => l4.len() < tcp::HEADER_LEN || l4.len() < usize::from(l4[12] >> 4) * 4,
        _ => l4.len() < udp::HEADER_LEN,
    }
}
