//! The client side of rvs-gen (the balancer's client port): UDP flows, a SYN flood, or full TCP
//! connections, plus the ARP it needs (it answers for its client addresses and resolves the VIP).
//!
//! Tuples: connection or flow number `k` is client address `clients.nth(k / PORTS)`, port
//! `FIRST_PORT + k % PORTS` ([`tuple`]). TCP connections take consecutive `k`, so a run never reuses a
//! 4-tuple while the balancer may still hold its TIME_WAIT session; a run stops opening connections
//! when the tuples run out.
//!
//! TCP connections keep bounded, preallocated state: a table of `concurrency` slots and a free list.
//! A connection's ISN is `slot << 12`, so every segment the server sends back names its slot in the
//! acknowledgment number (`ack >> 12`); the reply's destination tuple is checked against the slot's.
//! Each connection: SYN -> (SYN-ACK) -> ACK, request -> (response + FIN) -> FIN-ACK -> (ACK): done;
//! an RST fails it; a connection older than the timeout is timed out (an RST is sent so the
//! balancer can drop its session). Timeouts are found by a cursor that visits a bounded number of
//! slots per poll. Latency (SYN to the last ACK, and SYN to SYN-ACK) goes into [`Histogram`]s.

use std::net::Ipv4Addr;

use super::responder::UDP_MAGIC;
use super::{
    parse_arp_reply, parse_arp_request, parse_l4, write_arp, write_tcp, write_udp, AddrRange,
    Histogram, Rng,
};
use crate::port::{PacketBuf, WorkerIo};
use crate::wire::{arp, ethernet, ipv4, tcp};

/// Client ports per client address (1024..=65535).
pub const PORTS: u32 = 64_512;
/// The first client port.
pub const FIRST_PORT: u16 = 1024;
/// The request each connection sends.
pub const REQUEST: &[u8] = b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n";
/// Most connection slots (the ISN carries the slot in its upper 20 bits).
pub const MAX_CONCURRENCY: u32 = 1 << 20;
const SLOT_SHIFT: u32 = 12;

/// Tuple of connection or flow `k` over `clients`.
#[inline]
pub fn tuple(clients: &AddrRange, k: u64) -> (Ipv4Addr, u16) {
    let ip = clients.nth((k / u64::from(PORTS)) as u32);
    (ip, FIRST_PORT + (k % u64::from(PORTS)) as u16)
}

/// What the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    /// UDP datagrams to the VIP, round robin over `flows` flows, `frame_len`-byte frames.
    Udp {
        /// Flows.
        flows: u32,
        /// Frame length (at least 60).
        frame_len: usize,
    },
    /// SYNs from random client addresses and ports (never completed).
    SynFlood,
    /// Full TCP connections, at most `concurrency` open at once, each failed after `timeout_ns`.
    Tcp {
        /// Connection slots.
        concurrency: u32,
        /// Connection timeout.
        timeout_ns: u64,
    },
}

/// The client's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConf {
    /// The service: VIP and port.
    pub vip: (Ipv4Addr, u16),
    /// Client addresses (answered in ARP).
    pub clients: AddrRange,
    /// The client port's MAC.
    pub mac: [u8; 6],
    /// What to send.
    pub mode: ClientMode,
    /// Seed of the SYN flood's random sources.
    pub seed: u64,
}

/// The client's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Frames built for sending (the driver counts what the port refused).
    pub built: u64,
    /// UDP datagrams or flood SYNs built.
    pub datagrams: u64,
    /// ARP requests for client addresses answered.
    pub arp_replies: u64,
    /// Connections opened (SYN sent).
    pub started: u64,
    /// Connections completed (last ACK received).
    pub completed: u64,
    /// Connections reset by the other side.
    pub failed: u64,
    /// Connections timed out.
    pub timed_out: u64,
    /// SYN-ACKs received in SYN-flood mode.
    pub flood_synacks: u64,
    /// Segments matching no connection or state (duplicates, strays).
    pub unexpected: u64,
    /// Frames neither ARP nor valid TCP/UDP for us.
    pub other: u64,
    /// Buffers that could not be allocated (the frame was not sent).
    pub no_buffer: u64,
}

const FREE: u8 = 0;
const SYN_SENT: u8 = 1;
const REQ_SENT: u8 = 2;
const FIN_SENT: u8 = 3;

#[derive(Debug, Clone, Copy, Default)]
struct Conn {
    k: u64,
    t0: u64,
    srv_next: u32,
    state: u8,
}

/// The client side (see the module doc).
#[derive(Debug)]
pub struct Client {
    conf: ClientConf,
    peer: Option<[u8; 6]>,
    stats: ClientStats,
    next: u64,
    rng: Rng,
    conns: Vec<Conn>,
    free: Vec<u32>,
    cursor: usize,
    /// SYN to the last ACK of completed connections.
    pub conn_latency: Histogram,
    /// SYN to SYN-ACK.
    pub handshake_latency: Histogram,
}

impl Client {
    /// A client for `conf` (allocates the connection table). The concurrency is capped at
    /// [`MAX_CONCURRENCY`].
    pub fn new(conf: ClientConf) -> Client {
        let n = match conf.mode {
            ClientMode::Tcp { concurrency, .. } => concurrency.clamp(1, MAX_CONCURRENCY),
            _ => 0,
        };
        Client {
            conf,
            peer: None,
            stats: ClientStats::default(),
            next: 0,
            rng: Rng::new(conf.seed),
            conns: vec![Conn::default(); n as usize],
            free: (0..n).rev().collect(),
            cursor: 0,
            conn_latency: Histogram::default(),
            handshake_latency: Histogram::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// The balancer's MAC, once the VIP is resolved.
    pub fn peer(&self) -> Option<[u8; 6]> {
        self.peer
    }

    /// Set the balancer's MAC (instead of resolving the VIP).
    pub fn set_peer(&mut self, mac: [u8; 6]) {
        self.peer = Some(mac);
    }

    /// Open connections (TCP mode).
    pub fn open(&self) -> usize {
        self.conns.len() - self.free.len()
    }

    /// Connections, datagrams or SYNs sent so far (what a count bound counts).
    pub fn sent(&self) -> u64 {
        self.next
    }

    /// Whether every 4-tuple has been used (TCP and UDP modes stop there).
    pub fn exhausted(&self) -> bool {
        matches!(self.conf.mode, ClientMode::Tcp { .. })
            && self.next >= u64::from(self.conf.clients.count) * u64::from(PORTS)
    }

    /// Write an ARP request for the VIP into `buf` (broadcast).
    pub fn arp_for_vip<B: PacketBuf>(&self, buf: &mut B) -> bool {
        self.announce(0, buf)
    }

    /// Write into `buf` the ARP request for the VIP from client address `i`: the balancer answers
    /// and learns the client (so its first replies wait for no resolution). False when `i` is out of
    /// range.
    pub fn announce<B: PacketBuf>(&self, i: u32, buf: &mut B) -> bool {
        i < self.conf.clients.count
            && write_arp(
                buf,
                ethernet::BROADCAST,
                arp::op::REQUEST,
                self.conf.mac,
                self.conf.clients.nth(i),
                [0; 6],
                self.conf.vip.0,
            )
    }

    fn macs(&self) -> Option<([u8; 6], [u8; 6])> {
        self.peer.map(|p| (p, self.conf.mac))
    }

    /// Handle a received frame: replies go to `out` (the buffer itself, or new ones from `io`).
    pub fn handle<IO: WorkerIo>(
        &mut self,
        now_ns: u64,
        mut buf: IO::Buf,
        io: &mut IO,
        out: &mut Vec<IO::Buf>,
    ) {
        if let Some((sha, spa, tpa)) = parse_arp_request(buf.data()) {
            if self.conf.clients.contains(tpa) {
                self.stats.arp_replies += 1;
                if write_arp(&mut buf, sha, arp::op::REPLY, self.conf.mac, tpa, sha, spa) {
                    self.stats.built += 1;
                    out.push(buf);
                }
            } else {
                self.stats.other += 1;
            }
            return;
        }
        if let Some((sha, spa)) = parse_arp_reply(buf.data()) {
            if spa == self.conf.vip.0 {
                self.peer = Some(sha);
            } else {
                self.stats.other += 1;
            }
            return;
        }
        let Some(p) = parse_l4(buf.data()) else {
            self.stats.other += 1;
            return;
        };
        if p.proto != ipv4::PROTO_TCP || p.src != self.conf.vip {
            self.stats.other += 1;
            return;
        }
        let ClientMode::Tcp { .. } = self.conf.mode else {
            if p.flags & (tcp::FLAG_SYN | tcp::FLAG_ACK) == tcp::FLAG_SYN | tcp::FLAG_ACK {
                self.stats.flood_synacks += 1;
            } else {
                self.stats.unexpected += 1;
            }
            return;
        };
        let slot = (p.ack >> SLOT_SHIFT) as usize;
        let Some(c) = self.conns.get(slot).copied() else {
            self.stats.unexpected += 1;
            return;
        };
        if c.state == FREE || tuple(&self.conf.clients, c.k) != p.dst {
            self.stats.unexpected += 1;
            return;
        }
        let isn = (slot as u32) << SLOT_SHIFT;
        let me = p.dst;
        let Some(macs) = self.macs() else { return };
        if p.flags & tcp::FLAG_RST != 0 {
            self.stats.failed += 1;
            self.release(slot);
            return;
        }
        let req_end = isn.wrapping_add(1 + REQUEST.len() as u32);
        match c.state {
            SYN_SENT
                if p.flags & (tcp::FLAG_SYN | tcp::FLAG_ACK) == tcp::FLAG_SYN | tcp::FLAG_ACK
                    && p.ack == isn.wrapping_add(1) =>
            {
                self.handshake_latency.record(now_ns.saturating_sub(c.t0));
                let srv_next = p.seq.wrapping_add(1);
                self.conns[slot].srv_next = srv_next;
                self.conns[slot].state = REQ_SENT;
                let seq = isn.wrapping_add(1);
                if write_tcp(
                    &mut buf,
                    macs,
                    me,
                    self.conf.vip,
                    seq,
                    srv_next,
                    tcp::FLAG_ACK,
                    &[],
                ) {
                    self.stats.built += 1;
                    out.push(buf);
                }
                match io.alloc() {
                    Some(mut b) => {
                        let flags = tcp::FLAG_PSH | tcp::FLAG_ACK;
                        if write_tcp(
                            &mut b,
                            macs,
                            me,
                            self.conf.vip,
                            seq,
                            srv_next,
                            flags,
                            REQUEST,
                        ) {
                            self.stats.built += 1;
                            out.push(b);
                        }
                    }
                    None => self.stats.no_buffer += 1,
                }
            }
            REQ_SENT
                if p.ack == req_end
                    && p.seq == c.srv_next
                    && (p.payload_len > 0 || p.flags & tcp::FLAG_FIN != 0) =>
            {
                let fin = p.flags & tcp::FLAG_FIN != 0;
                let srv_next = c
                    .srv_next
                    .wrapping_add(p.payload_len as u32 + u32::from(fin));
                self.conns[slot].srv_next = srv_next;
                let flags = if fin {
                    self.conns[slot].state = FIN_SENT;
                    tcp::FLAG_FIN | tcp::FLAG_ACK
                } else {
                    tcp::FLAG_ACK
                };
                if write_tcp(
                    &mut buf,
                    macs,
                    me,
                    self.conf.vip,
                    req_end,
                    srv_next,
                    flags,
                    &[],
                ) {
                    self.stats.built += 1;
                    out.push(buf);
                }
            }
            REQ_SENT if p.flags & (tcp::FLAG_SYN | tcp::FLAG_FIN) == 0 && p.payload_len == 0 => {
                // A bare ACK of our request: nothing to do.
            }
            FIN_SENT if p.flags & tcp::FLAG_ACK != 0 && p.ack == req_end.wrapping_add(1) => {
                self.conn_latency.record(now_ns.saturating_sub(c.t0));
                self.stats.completed += 1;
                self.release(slot);
            }
            _ => self.stats.unexpected += 1,
        }
    }

    fn release(&mut self, slot: usize) {
        self.conns[slot].state = FREE;
        self.free.push(slot as u32);
    }

    /// Build up to `max` new frames (new connections, datagrams or SYNs) into `out`; returns how
    /// many. Nothing before the VIP is resolved; TCP also stops at free slots and tuples.
    pub fn generate<IO: WorkerIo>(
        &mut self,
        now_ns: u64,
        max: u64,
        io: &mut IO,
        out: &mut Vec<IO::Buf>,
    ) -> u64 {
        let Some(macs) = self.macs() else { return 0 };
        let vip = self.conf.vip;
        let mut n = 0;
        while n < max {
            let Some(mut b) = io.alloc() else {
                self.stats.no_buffer += 1;
                break;
            };
            let ok = match self.conf.mode {
                ClientMode::Udp { flows, frame_len } => {
                    let flow = (self.next % u64::from(flows.max(1))) as u32;
                    let mut pl = [0u8; 16];
                    pl[..4].copy_from_slice(&UDP_MAGIC);
                    pl[4..8].copy_from_slice(&flow.to_be_bytes());
                    pl[8..16].copy_from_slice(&self.next.to_be_bytes());
                    let src = tuple(&self.conf.clients, u64::from(flow));
                    self.stats.datagrams += 1;
                    write_udp(&mut b, macs, src, vip, &pl, frame_len)
                }
                ClientMode::SynFlood => {
                    let ip = self
                        .conf
                        .clients
                        .nth(self.rng.below(self.conf.clients.count));
                    let port = FIRST_PORT + self.rng.below(PORTS) as u16;
                    let seq = self.rng.next_u64() as u32;
                    self.stats.datagrams += 1;
                    write_tcp(&mut b, macs, (ip, port), vip, seq, 0, tcp::FLAG_SYN, &[])
                }
                ClientMode::Tcp { .. } => {
                    if self.exhausted() {
                        break;
                    }
                    let Some(slot) = self.free.pop() else { break };
                    let k = self.next;
                    self.conns[slot as usize] = Conn {
                        k,
                        t0: now_ns,
                        srv_next: 0,
                        state: SYN_SENT,
                    };
                    self.stats.started += 1;
                    let isn = slot << SLOT_SHIFT;
                    let src = tuple(&self.conf.clients, k);
                    write_tcp(&mut b, macs, src, vip, isn, 0, tcp::FLAG_SYN, &[])
                }
            };
            self.next += 1;
            n += 1;
            if ok {
                self.stats.built += 1;
                out.push(b);
            }
        }
        n
    }

    /// Time out connections older than the timeout among the next `budget` slots (RSTs into
    /// `out`); with `all`, every open connection whatever its age (end of a run). Returns how many.
    pub fn expire<IO: WorkerIo>(
        &mut self,
        now_ns: u64,
        budget: usize,
        all: bool,
        io: &mut IO,
        out: &mut Vec<IO::Buf>,
    ) -> usize {
        let ClientMode::Tcp { timeout_ns, .. } = self.conf.mode else {
            return 0;
        };
        let n = self.conns.len();
        let mut expired = 0;
        for _ in 0..budget.min(n) {
            let slot = self.cursor;
            self.cursor = (self.cursor + 1) % n;
            let c = self.conns[slot];
            if c.state == FREE || (!all && now_ns.saturating_sub(c.t0) < timeout_ns) {
                continue;
            }
            expired += 1;
            self.stats.timed_out += 1;
            self.release(slot);
            let isn = (slot as u32) << SLOT_SHIFT;
            let seq = match c.state {
                SYN_SENT => isn.wrapping_add(1),
                REQ_SENT => isn.wrapping_add(1 + REQUEST.len() as u32),
                _ => isn.wrapping_add(2 + REQUEST.len() as u32),
            };
            if let (Some(macs), Some(mut b)) = (self.macs(), io.alloc()) {
                let src = tuple(&self.conf.clients, c.k);
                if write_tcp(&mut b, macs, src, self.conf.vip, seq, 0, tcp::FLAG_RST, &[]) {
                    self.stats.built += 1;
                    out.push(b);
                }
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::{MemIo, VecBuf};
    use crate::trafgen::responder::{Reply, Responder, ResponderConf};

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const LB: [u8; 6] = [2, 0, 0, 0, 0, 0xaa];
    const VIP: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 80);

    fn client(mode: ClientMode) -> Client {
        let mut c = Client::new(ClientConf {
            vip: VIP,
            clients: AddrRange {
                first: Ipv4Addr::new(10, 10, 0, 2),
                count: 2,
            },
            mac: MAC,
            mode,
            seed: 1,
        });
        c.set_peer(LB);
        c
    }

    /// The responder, pretending to be the VIP (a balancer that rewrites nothing).
    fn mirror() -> Responder {
        Responder::new(ResponderConf {
            servers: AddrRange {
                first: VIP.0,
                count: 1,
            },
            mac: LB,
            secret: 9,
            udp_flows: 0,
        })
    }

    #[test]
    fn connections_complete_against_the_responder() {
        let mut c = client(ClientMode::Tcp {
            concurrency: 3,
            timeout_ns: 1_000,
        });
        let mut r = mirror();
        let mut io = MemIo::new(1);
        let mut wire: Vec<VecBuf> = Vec::new();
        assert_eq!(c.generate(0, 10, &mut io, &mut wire), 3, "three slots");
        assert_eq!(c.open(), 3);
        let mut rounds = 0;
        let mut frames = 0;
        while !wire.is_empty() && rounds < 10 {
            rounds += 1;
            let mut back = Vec::new();
            for mut b in wire.drain(..) {
                frames += 1;
                if r.handle(&mut b) == Reply::Send {
                    back.push(b);
                }
            }
            for b in back {
                c.handle(5, b, &mut io, &mut wire);
            }
        }
        let s = c.stats().clone();
        assert_eq!(
            (s.started, s.completed, s.failed, s.unexpected),
            (3, 3, 0, 0)
        );
        assert_eq!(frames, 3 * 4, "SYN, ACK, request, FIN per connection");
        assert_eq!(c.open(), 0);
        assert_eq!(c.conn_latency.count(), 3);
        assert_eq!(r.stats().requests, 3);
        // Consecutive tuples, new ones for the next connections.
        assert_eq!(
            tuple(&c.conf.clients, 0),
            (Ipv4Addr::new(10, 10, 0, 2), 1024)
        );
        assert_eq!(
            tuple(&c.conf.clients, u64::from(PORTS)),
            (Ipv4Addr::new(10, 10, 0, 3), 1024)
        );
        assert_eq!(c.generate(10, 1, &mut io, &mut wire), 1);
        let p = parse_l4(wire[0].data()).unwrap();
        assert_eq!(p.src, (Ipv4Addr::new(10, 10, 0, 2), 1027));
    }

    #[test]
    fn timeouts_rst_and_strays() {
        let mut c = client(ClientMode::Tcp {
            concurrency: 2,
            timeout_ns: 100,
        });
        let mut io = MemIo::new(1);
        let mut wire: Vec<VecBuf> = Vec::new();
        assert_eq!(c.generate(0, 2, &mut io, &mut wire), 2);
        wire.clear();
        // An RST for slot 1 fails it.
        let mut b = VecBuf::empty();
        let me = tuple(&c.conf.clients, 1);
        assert!(write_tcp(
            &mut b,
            (MAC, LB),
            VIP,
            me,
            5,
            1 << SLOT_SHIFT,
            tcp::FLAG_RST,
            &[]
        ));
        c.handle(1, b, &mut io, &mut wire);
        // A SYN-ACK naming slot 0 but the wrong tuple is a stray.
        let mut b = VecBuf::empty();
        let flags = tcp::FLAG_SYN | tcp::FLAG_ACK;
        assert!(write_tcp(&mut b, (MAC, LB), VIP, me, 5, 1, flags, &[]));
        c.handle(1, b, &mut io, &mut wire);
        assert!(wire.is_empty());
        assert_eq!(c.expire(99, 10, false, &mut io, &mut wire), 0);
        assert_eq!(c.expire(100, 10, false, &mut io, &mut wire), 1);
        let p = parse_l4(wire[0].data()).unwrap();
        assert_eq!(
            (p.flags, p.seq, p.src),
            (tcp::FLAG_RST, 1, tuple(&c.conf.clients, 0))
        );
        let s = c.stats();
        assert_eq!((s.failed, s.timed_out, s.unexpected), (1, 1, 1));
        assert_eq!(c.open(), 0);
    }

    #[test]
    fn udp_flows_and_flood() {
        let mut c = client(ClientMode::Udp {
            flows: 3,
            frame_len: 64,
        });
        let mut io = MemIo::new(1);
        let mut wire: Vec<VecBuf> = Vec::new();
        assert_eq!(c.generate(0, 7, &mut io, &mut wire), 7);
        let flows: Vec<_> = wire
            .iter()
            .map(|b| {
                let p = parse_l4(b.data()).unwrap();
                assert_eq!(b.data().len(), 64);
                assert_eq!(p.dst, VIP);
                p.src
            })
            .collect();
        assert_eq!(flows[0], flows[3]);
        assert_ne!(flows[0], flows[1]);
        let mut c = client(ClientMode::SynFlood);
        wire.clear();
        assert_eq!(c.generate(0, 50, &mut io, &mut wire), 50);
        let srcs: std::collections::HashSet<_> = wire
            .iter()
            .map(|b| parse_l4(b.data()).unwrap().src)
            .collect();
        assert!(srcs.len() > 45, "random sources");
        // Without the balancer's MAC nothing is sent.
        let mut c = Client::new(ClientConf { ..c.conf });
        assert_eq!(c.generate(0, 5, &mut io, &mut wire), 0);
        let mut b = VecBuf::empty();
        assert!(c.arp_for_vip(&mut b));
        assert_eq!(parse_arp_request(b.data()).unwrap().2, VIP.0);
    }
}
