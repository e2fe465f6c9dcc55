//! The per-packet pipeline: one received frame in, one [`Verdict`] out.
//!
//! Owns the L2/L3 decisions of a worker: Ethernet parsing and MAC filtering, ARP (answering for
//! port addresses, VIPs and FULLNAT local addresses; learning neighbours), IPv4 validation (header,
//! checksum), ICMP echo for our addresses, flow ownership (hand-off to the owning worker), the load
//! balancer ([`LbCtx::process`]), TTL, routing and the Ethernet source rewrite. IPv4 fragments take
//! their own path (`pipeline/fragments.rs`, policy in [`crate::frag`]).
//! Neighbour resolution of the next hop is the caller's (the worker's) step, through
//! [`Pipeline::neigh`], because it may queue the buffer.
//!
//! Invariants: the pipeline works on the frame's bytes in place and allocates nothing; every byte
//! string is either answered, forwarded, handed off, absorbed (ARP replies), held (a fragment
//! waiting for its datagram's first fragment, bounded in count and time), or dropped with a
//! [`DropReason`] — malformed input never panics (all parsing goes through `new_checked` views).
//! Malformed TCP/UDP headers inside a valid IPv4 packet are [`LbCtx::process`]'s to reject.
//! A frame received from another worker's hand-off skips the ownership check (so a disagreement
//! between two workers' snapshots can never bounce a packet back and forth).

use std::net::Ipv4Addr;

use crate::frag::{EntryId, FragLimits, FragTable};
use crate::lb::{LbCtx, LbVerdict};
use crate::neigh::{NeighTable, NeighUpdate};
use crate::port::PacketBuf;
use crate::port::RxL4Csum;
use crate::route::{in_subnet, RouteTable};
use crate::stats::DropReason;
use crate::wire::arp::{self, ArpPacket};
use crate::wire::ethernet::{self, ethertype, EthernetFrame};
use crate::wire::icmp::{msg_type, IcmpPacket};
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::worker::PortConf;
use crate::xmit::decrement_ttl;
use crate::xmit::icmp::frag_needed_in_place;
use crate::xmit::tunnel::{encap_header, EncapHeader, Tunnel};

mod fragments;

/// TTL of packets we originate (echo replies).
pub const DEFAULT_TTL: u8 = 64;

/// What to do with a frame after [`Pipeline::process`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the frame as it now is on this port (an ARP reply).
    Tx(u16),
    /// An IPv4 frame ready to go except its destination MAC (source MAC already set): resolve
    /// `next_hop` on `port` and send.
    Forward {
        /// Output port.
        port: u16,
        /// The neighbour whose MAC goes into the destination field.
        next_hop: Ipv4Addr,
    },
    /// Like [`Verdict::Forward`] after reshaping the frame: insert `header` between the Ethernet header
    /// and the IPv4 packet (grow at the front: tunnel encapsulation), then cut the frame to
    /// `14 + header.len() + ip_len` bytes (an ICMP error built in place is shorter than the packet).
    ForwardReshaped {
        /// Output port.
        port: u16,
        /// The neighbour whose MAC goes into the destination field.
        next_hop: Ipv4Addr,
        /// Bytes to insert after the Ethernet header (empty: none).
        header: EncapHeader,
        /// Length of the IPv4 packet that follows the header.
        ip_len: u16,
    },
    /// Another worker owns this flow: move the unmodified frame to its hand-off ring.
    Handoff(usize),
    /// A client packet of a proxied connection waiting for its real server: keep the unmodified
    /// frame under this session slot until the load balancer releases it
    /// ([`crate::lb::LbVerdict::Hold`]).
    Hold(u32),
    /// Taken in without an answer (an ARP reply we learned from). Not a drop.
    Consumed,
    /// A fragment that waits for its datagram's first fragment: give the buffer to
    /// [`Pipeline::hold_fragment`].
    HoldFragment,
    /// Drop and count.
    Drop(DropReason),
}

/// One worker's pipeline state: ports, routes, neighbours, and the load balancer.
pub struct Pipeline<B> {
    index: usize,
    ports: Vec<PortConf>,
    routes: RouteTable,
    /// The worker's neighbour table.
    pub neigh: NeighTable<B>,
    /// The worker's load-balancer context (sessions, snapshot).
    pub lb: LbCtx,
    /// The worker's fragment tracker ([`crate::frag`]).
    pub frag: FragTable<B>,
    frag_hold: Option<EntryId>,
    frag_out: Vec<(B, Verdict)>,
    frag_scratch: Vec<B>,
    frag_dropped: Vec<(B, DropReason)>,
    /// Every port address, flattened (the per-packet "is it ours" checks scan this, not the ports).
    port_addrs: Vec<Ipv4Addr>,
    /// The broadcast address of every connected subnet with a prefix shorter than /31.
    directed_broadcasts: Vec<Ipv4Addr>,
    scratch: Vec<B>,
    released: Vec<(u16, [u8; 6], B)>,
    updates: Vec<NeighUpdate>,
}

impl<B: PacketBuf> Pipeline<B> {
    /// A pipeline for worker `index`.
    pub fn new(
        index: usize,
        ports: Vec<PortConf>,
        routes: RouteTable,
        neigh: NeighTable<B>,
        lb: LbCtx,
    ) -> Self {
        let frag = FragTable::new(index, lb.n_workers(), FragLimits::default());
        let held = frag.limits().held;
        let port_addrs = ports
            .iter()
            .flat_map(|p| p.addrs.iter().map(|(a, _)| *a))
            .collect();
        let directed_broadcasts = ports
            .iter()
            .flat_map(|p| p.addrs.iter())
            .filter(|(_, l)| *l < 31)
            .map(|(a, l)| {
                let host = u32::MAX.checked_shr(u32::from(*l)).unwrap_or(0);
                Ipv4Addr::from(u32::from(*a) | host)
            })
            .collect();
        Pipeline {
            index,
            ports,
            routes,
            neigh,
            lb,
            frag,
            frag_hold: None,
            frag_out: Vec::with_capacity(held + 1),
            frag_scratch: Vec::with_capacity(held),
            frag_dropped: Vec::with_capacity(held),
            port_addrs,
            directed_broadcasts,
            scratch: Vec::with_capacity(crate::neigh::PENDING_MAX),
            released: Vec::with_capacity(crate::neigh::PENDING_MAX),
            updates: Vec::with_capacity(8),
        }
    }

    /// The ports.
    pub fn ports(&self) -> &[PortConf] {
        &self.ports
    }

    /// The route table.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// True when `ip` is an address of port `port`.
    pub fn is_port_addr(&self, port: u16, ip: Ipv4Addr) -> bool {
        self.ports
            .get(usize::from(port))
            .is_some_and(|p| p.addrs.iter().any(|(a, _)| *a == ip))
    }

    /// True when `ip` is an address of any port.
    #[inline]
    pub fn is_any_port_addr(&self, ip: Ipv4Addr) -> bool {
        self.port_addrs.contains(&ip)
    }

    /// True when `ip` is inside a subnet of port `port` (a neighbour may live there).
    pub fn on_link(&self, port: u16, ip: Ipv4Addr) -> bool {
        self.ports
            .get(usize::from(port))
            .is_some_and(|p| p.addrs.iter().any(|(a, l)| in_subnet(ip, *a, *l)))
    }

    /// True when no host may send from `src` (the kernel's martian sources, plus ours): 0.0.0.0/8,
    /// 127.0.0.0/8, multicast, 255.255.255.255, the broadcast address of a connected subnet (prefix
    /// shorter than /31), or one of our own addresses (port address, VIP, local address: a spoofed
    /// "land" packet).
    pub fn is_martian_source(&self, src: Ipv4Addr) -> bool {
        let o = src.octets();
        if o[0] == 0 || o[0] == 127 || src.is_multicast() || src.is_broadcast() {
            return true;
        }
        self.directed_broadcasts.contains(&src)
            || self.is_any_port_addr(src)
            || self.lb.snapshot().is_local(src)
    }

    /// The source address for ARP requests towards `target` on `port`: the port address whose subnet
    /// holds it, else the port's first address.
    pub fn arp_source(&self, port: u16, target: Ipv4Addr) -> Option<Ipv4Addr> {
        let p = self.ports.get(usize::from(port))?;
        p.addrs
            .iter()
            .find(|(a, l)| in_subnet(target, *a, *l))
            .or(p.addrs.first())
            .map(|(a, _)| *a)
    }

    /// Learn a neighbour; queued packets it releases are kept for [`Pipeline::drain_released`].
    /// Returns true when an entry was created or refreshed.
    pub fn learn(
        &mut self,
        port: u16,
        ip: Ipv4Addr,
        mac: [u8; 6],
        now_ms: u64,
        create: bool,
    ) -> bool {
        let learned = self
            .neigh
            .learn(port, ip, mac, now_ms, create, &mut self.scratch);
        self.released
            .extend(self.scratch.drain(..).map(|b| (port, mac, b)));
        learned
    }

    /// Move packets released by neighbour resolution, as (port, destination MAC, frame), into `out`.
    pub fn drain_released(&mut self, out: &mut Vec<(u16, [u8; 6], B)>) {
        out.append(&mut self.released);
    }

    /// Move the neighbour updates learned from the wire (to pass to the other workers) into `out`.
    pub fn drain_updates(&mut self, out: &mut Vec<NeighUpdate>) {
        out.append(&mut self.updates);
    }

    /// Whether packets released by neighbour resolution or learned neighbours wait to be drained
    /// (the worker skips its per-packet drain when none do).
    pub fn has_pending(&self) -> bool {
        !self.released.is_empty() || !self.updates.is_empty() || !self.frag_out.is_empty()
    }

    /// Process a frame received on `in_port` (no rx checksum verdict from the port: see
    /// [`Pipeline::process_rx`]).
    pub fn process(&mut self, in_port: u16, frame: &mut [u8], now_ms: u64) -> Verdict {
        self.process_rx(in_port, frame, RxL4Csum::Unknown, now_ms)
    }

    /// Process a frame received on `in_port` whose TCP/UDP checksum the port checked (`l4_csum`, from
    /// [`crate::port::PacketBuf::rx_l4_csum`]; the load balancer's checksum policy uses it).
    pub fn process_rx(
        &mut self,
        in_port: u16,
        frame: &mut [u8],
        l4_csum: RxL4Csum,
        now_ms: u64,
    ) -> Verdict {
        let Ok(eth) = EthernetFrame::new_checked(&*frame) else {
            return Verdict::Drop(DropReason::EthTruncated);
        };
        let Some(port) = self.ports.get(usize::from(in_port)) else {
            return Verdict::Drop(DropReason::NotForUs);
        };
        let dst = eth.dst();
        if dst != port.mac && !ethernet::is_multicast(dst) {
            return Verdict::Drop(DropReason::NotForUs);
        }
        if ethernet::is_multicast(eth.src()) {
            return Verdict::Drop(DropReason::EthBadSource);
        }
        if frame.len() > ethernet::HEADER_LEN + usize::from(port.mtu) {
            return Verdict::Drop(DropReason::EthOversized);
        }
        match eth.ethertype() {
            ethertype::ARP => self.arp(in_port, frame, now_ms),
            ethertype::IPV4 if dst != port.mac => Verdict::Drop(DropReason::Ipv4NotUnicast),
            ethertype::IPV4 => self.ipv4(frame, now_ms, false, l4_csum),
            _ => Verdict::Drop(DropReason::EthUnsupported),
        }
    }

    /// Process a frame another worker handed off to this one (already L2-checked there; the
    /// ownership check is skipped).
    pub fn process_handoff(&mut self, frame: &mut [u8], now_ms: u64) -> Verdict {
        match EthernetFrame::new_checked(&*frame) {
            Ok(eth) if eth.ethertype() == ethertype::IPV4 => {
                self.ipv4(frame, now_ms, true, RxL4Csum::Unknown)
            }
            Ok(_) => Verdict::Drop(DropReason::EthUnsupported),
            Err(_) => Verdict::Drop(DropReason::EthTruncated),
        }
    }

    fn arp(&mut self, in_port: u16, frame: &mut [u8], now_ms: u64) -> Verdict {
        let payload = &mut frame[ethernet::HEADER_LEN..];
        let Ok(a) = ArpPacket::new_checked(&*payload) else {
            return Verdict::Drop(DropReason::ArpMalformed);
        };
        let (op, sha, spa, tpa) = (a.op(), a.sha(), a.spa(), a.tpa());
        if op != arp::op::REQUEST && op != arp::op::REPLY {
            return Verdict::Drop(DropReason::ArpMalformed);
        }
        if ethernet::is_multicast(sha) || sha == [0; 6] || spa.is_broadcast() || spa.is_multicast()
        {
            return Verdict::Drop(DropReason::ArpBadSender);
        }
        if self.is_any_port_addr(spa) || self.lb.snapshot().is_local(spa) {
            return Verdict::Drop(DropReason::ArpAddressConflict);
        }
        // 0.0.0.0: an RFC 5227 probe, answered but never learnt.
        let probe = spa.is_unspecified();
        if !probe && !self.on_link(in_port, spa) {
            return Verdict::Drop(DropReason::ArpWrongSubnet);
        }
        let ours = self.is_port_addr(in_port, tpa) || self.lb.snapshot().is_local(tpa);
        if !probe
            && self.learn(in_port, spa, sha, now_ms, ours)
            && self.updates.len() < self.updates.capacity()
        {
            self.updates.push(NeighUpdate {
                port: in_port,
                ip: spa,
                mac: sha,
            });
        }
        match op {
            arp::op::REQUEST if ours => {
                let mac = self.ports[usize::from(in_port)].mac;
                // Length checked by new_checked above: these cannot fail.
                let _ = arp::emit_reply(payload, mac, tpa, sha, spa);
                let _ = ethernet::emit(frame, sha, mac, ethertype::ARP);
                Verdict::Tx(in_port)
            }
            arp::op::REQUEST => Verdict::Drop(DropReason::NotForUs),
            _ => Verdict::Consumed,
        }
    }

    fn ipv4(
        &mut self,
        frame: &mut [u8],
        now_ms: u64,
        handed_off: bool,
        l4_csum: RxL4Csum,
    ) -> Verdict {
        let (hdr, rest) = frame.split_at_mut(ethernet::HEADER_LEN);
        // The one parse of the IPv4 header: its fields go along to the load balancer.
        let h = match Ipv4Packet::new_checked(&*rest) {
            Ok(p) if !p.verify_checksum() => return Verdict::Drop(DropReason::Ipv4BadChecksum),
            Ok(p) => p.fields(),
            Err(_) => return Verdict::Drop(DropReason::Ipv4Malformed),
        };
        if usize::from(h.header_len) > ipv4::HEADER_LEN {
            return Verdict::Drop(DropReason::Ipv4Options);
        }
        let (src, dst, proto) = (h.src, h.dst, h.protocol);
        if self.is_martian_source(src) {
            return Verdict::Drop(DropReason::Ipv4BadSource);
        }
        let ip = &mut rest[..usize::from(h.total_len)];
        if h.fragment {
            return self.fragment(hdr, ip, now_ms, handed_off);
        }
        if self.is_any_port_addr(dst) {
            return if proto == ipv4::PROTO_ICMP {
                self.echo(hdr, ip)
            } else {
                Verdict::Drop(DropReason::NotForUs)
            };
        }
        // With one worker every flow is ours: skip the ownership parse.
        if !handed_off && self.lb.n_workers() > 1 {
            if let Some(w) = self.lb.owner(ip) {
                if w != self.index {
                    return Verdict::Handoff(w);
                }
            }
        }
        match self.lb.process_v4(ip, &h, l4_csum, now_ms) {
            LbVerdict::Forward { next_hop } => {
                // `ip` holds at least the 20-byte header checked above (the load balancer may have
                // rewritten addresses, never the length).
                if ip[8] <= 1 {
                    return Verdict::Drop(DropReason::Ipv4TtlExpired);
                }
                decrement_ttl(ip);
                let target =
                    next_hop.unwrap_or_else(|| Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
                self.route_out(hdr, target)
            }
            LbVerdict::Encap {
                rip,
                tunnel,
                flow_hash,
            } => self.encap(hdr, ip, rip, tunnel, flow_hash),
            LbVerdict::Emit(e) => match self.route_out(hdr, e.to) {
                Verdict::Forward { port, next_hop } => Verdict::ForwardReshaped {
                    port,
                    next_hop,
                    header: EncapHeader::from_bytes(e.front()).unwrap_or(EncapHeader::EMPTY),
                    ip_len: e.ip_len,
                },
                other => other,
            },
            LbVerdict::Hold(slot) => Verdict::Hold(slot),
            LbVerdict::Pass if proto == ipv4::PROTO_ICMP && self.lb.snapshot().is_local(dst) => {
                self.echo(hdr, ip)
            }
            LbVerdict::Pass => Verdict::Drop(DropReason::NotForUs),
            LbVerdict::Drop(r) => Verdict::Drop(r),
        }
    }

    /// Route towards `target`, set the Ethernet source to the out port's MAC.
    fn route_out(&self, eth_hdr: &mut [u8], target: Ipv4Addr) -> Verdict {
        let Some(r) = self.routes.lookup(target) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let Some(p) = self.ports.get(usize::from(r.port)) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        eth_hdr[6..12].copy_from_slice(&p.mac);
        Verdict::Forward {
            port: r.port,
            next_hop: r.next_hop,
        }
    }

    /// Encapsulate the IPv4 packet `ip` towards `rip` (see [`LbVerdict::Encap`]). The outer source is
    /// the route's preferred source. When the result would exceed the egress MTU: a packet with DF is
    /// answered with ICMP fragmentation-needed from its destination (the VIP), advertising the MTU
    /// left inside the tunnel and quoting the packet as received (before the TTL decrement, as
    /// `ip_forward` checks the MTU first); a packet without DF is dropped and counted
    /// (`TunnelTooBig`): the dataplane does not fragment.
    fn encap(
        &self,
        eth_hdr: &mut [u8],
        ip: &mut [u8],
        rip: Ipv4Addr,
        tunnel: Tunnel,
        flow_hash: u32,
    ) -> Verdict {
        let Some(r) = self.routes.lookup(rip) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let Some(port) = self.ports.get(usize::from(r.port)) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let (len, df, vip, client) = match Ipv4Packet::new_checked(&*ip) {
            Ok(p) => (p.total_len(), p.dont_frag(), p.dst(), p.src()),
            Err(_) => return Verdict::Drop(DropReason::Ipv4Malformed),
        };
        let over = tunnel.overhead();
        if len + over > usize::from(port.mtu) {
            if !df {
                return Verdict::Drop(DropReason::TunnelTooBig);
            }
            let mtu = port.mtu.saturating_sub(over as u16);
            return match frag_needed_in_place(ip, vip, mtu) {
                Ok(n) => match self.route_out(eth_hdr, client) {
                    Verdict::Forward { port, next_hop } => Verdict::ForwardReshaped {
                        port,
                        next_hop,
                        header: EncapHeader::EMPTY,
                        ip_len: n as u16,
                    },
                    other => other,
                },
                Err(_) => Verdict::Drop(DropReason::TunnelTooBig),
            };
        }
        let Ok(mut p) = Ipv4Packet::new_checked(&mut *ip) else {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        };
        if p.ttl() <= 1 {
            return Verdict::Drop(DropReason::Ipv4TtlExpired);
        }
        p.decrement_ttl();
        let header = match encap_header(ip, r.src, rip, tunnel, flow_hash) {
            Ok(h) => h,
            Err(e) => return Verdict::Drop(e),
        };
        eth_hdr[6..12].copy_from_slice(&port.mac);
        Verdict::ForwardReshaped {
            port: r.port,
            next_hop: r.next_hop,
            header,
            ip_len: len as u16,
        }
    }

    /// Answer an ICMP echo request to one of our addresses in place; anything else ICMP is not for us.
    fn echo(&self, eth_hdr: &mut [u8], ip: &mut [u8]) -> Verdict {
        let Ok(mut p) = Ipv4Packet::new_checked(&mut *ip) else {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        };
        let (src, dst) = (p.src(), p.dst());
        if src.is_unspecified() || src.is_broadcast() || src.is_multicast() {
            return Verdict::Drop(DropReason::NotForUs);
        }
        let Ok(mut icmp) = IcmpPacket::new_checked(p.payload_mut()) else {
            return Verdict::Drop(DropReason::IcmpMalformed);
        };
        if !icmp.verify_checksum() {
            return Verdict::Drop(DropReason::IcmpMalformed);
        }
        if icmp.msg_type() != msg_type::ECHO_REQUEST {
            return Verdict::Drop(DropReason::NotForUs);
        }
        icmp.make_echo_reply();
        p.set_src(dst);
        p.set_dst(src);
        p.set_ttl(DEFAULT_TTL);
        p.fill_checksum();
        self.route_out(eth_hdr, src)
    }
}
