//! The per-lcore load balancer: one IPv4 packet in, a verdict out.
//!
//! [`LbCtx`] owns this worker's sessions ([`SessionTable`]), its FULLNAT local port slices
//! ([`LaddrPool`]), its scheduler cursors and its counters, and holds the current `Arc<Snapshot>`.
//! The slow path compiles, the fast path replays:
//! - A packet that matches a session (either direction) replays its transform: NAT or FULLNAT rewrite,
//!   TCP state transition (INPUT table for client -> server, OUTPUT for replies), expiry refresh to
//!   `now + timeout(state)`, dest and service counters.
//! - Hostile input is refused before anything is created: TCP flag combinations no endpoint sends
//!   (conntrack's table: SYN+FIN, SYN+RST, no flags...) are `TcpBadFlags` whatever the flow.
//! - Checksums (`TcpBadChecksum`, `UdpBadChecksum`): a corrupt packet must neither open a session
//!   nor change one's state, and summing every segment costs about one instruction per byte. So:
//!   where the receiving port checked the TCP/UDP checksum ([`RxL4Csum`], rx checksum offload) its
//!   verdict is used (bad: dropped, whatever the packet; good: not summed again); otherwise the
//!   checksum is verified in software for every packet that could open a session and for every
//!   session segment that carries SYN, FIN or RST or would move the session to another TCP state.
//!   Other packets of a session (the data and ACKs of an established connection, UDP datagrams of
//!   a flow) are rewritten unverified, as IPVS does: the incremental (RFC 1624) update keeps a wrong
//!   checksum wrong, so the receiver drops the packet as it would have without us; all they can do
//!   here is refresh the session's timer and its byte counters.
//! - A packet with no session to a service `(proto, VIP, port)` starts one: TCP must be a plain SYN
//!   (no ACK; else `NoSession`), the scheduler picks a dest (`NoDest` when none is available), FULLNAT takes a local
//!   `(laddr, lport)` from this worker's slice (`NoLocalPort`), the session is inserted
//!   (`SessionTableFull`), counted on the dest (inactive until `ESTABLISHED`), and replayed.
//! - With the SYN proxy on or auto ([`crate::synproxy`], hooks in `lb/proxied.rs`), a TCP packet
//!   without session to a NAT/FULLNAT service may be answered with a cookie (SYN) or open a proxied
//!   connection (ACK with a good cookie): [`LbVerdict::Emit`]; packets of proxied sessions may be held
//!   ([`LbVerdict::Hold`]) and have their sequence numbers shifted after the ordinary rewrite.
//! - Anything else is [`LbVerdict::Pass`]: the pipeline handles it (ICMP echo to a local address, or
//!   drop).
//! - A session whose dest was deleted drops its packets (`DestDeleted`) and expires at once.
//! - A plain SYN from the client on a closed TCP session (`TIME_WAIT`, `CLOSE`) is a new connection
//!   (the kernel's `conn_reuse_mode` 1): the old session ends and the SYN is scheduled afresh.
//! - Direct routing (`-g`) and tunnel (`-i`) sessions only see the client's direction (the real
//!   server answers the client itself): their packets are not rewritten, their TCP state follows the
//!   kernel's IN-ONLY table (so `ESTABLISHED` and ActiveConn/InActConn are right), and the verdict
//!   asks the pipeline to send the packet to the real server's MAC
//!   ([`LbVerdict::Forward`] with `next_hop = RIP`) or to encapsulate it ([`LbVerdict::Encap`]).
//! - A first fragment (offset 0, MF) is a packet of its flow like any other, except that its TCP/UDP
//!   checksum is not verified (it covers bytes only the real server reassembles) and that a fragmented
//!   TCP segment never opens a session. Later fragments never reach [`LbCtx::process`]: the pipeline's
//!   fragment tracker ([`crate::frag`]) replays the first fragment's translation on them.
//! - ICMP errors (destination unreachable, source quench, time exceeded) about a session's packets
//!   are translated for the other side ([`crate::xmit::icmp`]): found by the quoted datagram's tuple
//!   reversed, they are owned by the lcore owning that flow ([`LbCtx::owner`]); with no session they
//!   are dropped (`IcmpNoSession`).
//!
//! The pipeline decrements the TTL of forwarded packets; this module does not (it refuses TTL <= 1
//! before creating or refreshing anything).
//!
//! Flow ownership ([`LbCtx::owner`]) follows [`crate::flow_hash`]: a packet that reaches
//! [`LbCtx::process`] on another worker than its owner is still processed, and counted in
//! `misowned_packets` (must stay 0).
//!
//! Scheduler cursors are per lcore (see [`crate::sched`]): on a snapshot change each service's cursor
//! is carried over by the service's identity and dest epoch.
//!
//! Persistent services (`-p`): a new connection first looks for its client's template in this lcore's
//! [`TemplateTable`] (see [`crate::sched::persist`]) and only schedules when there is none. So that
//! every connection of a client reaches the lcore holding its template, the owner rule hashes the
//! client address masked with the service's `-M` prefix and port 0 for packets to a persistent
//! service, and likewise the (masked) destination address with port 0 for NAT replies from a dest of
//! a persistent service (the snapshot knows those dests). FULLNAT replies keep the local-port rule.

use crate::flow_hash;
use crate::laddr::LaddrPool;
use crate::port::RxL4Csum;
use crate::sched::persist::TemplateTable;
use crate::sched::{SchedCursor, SchedInput};
use crate::service::mask_v4;
use crate::service::Snapshot;
use crate::session::table::{SessionId, SessionTable, TableFull};
use crate::session::tcp_state::{self, TcpDir, TcpFlags};
use crate::session::{ip_of, v4_of, Dir, FlowKey, Session, F_ACTIVE, F_SP_PENDING, F_SYNPROXY};
use crate::stats::DropReason;
use crate::synproxy::{Emitted, Synproxy, SynproxyConf};
use crate::wire::ipv4::{Ipv4Fields, Ipv4Packet, PROTO_TCP, PROTO_UDP};
use crate::wire::tcp::TcpPacket;
use crate::wire::udp::UdpPacket;
use crate::xmit;
use crate::xmit::tunnel::Tunnel;
use rvs_control::proto::{ConnInfo, Counter, FwdMethod, Protocol};
use std::net::Ipv4Addr;
use std::sync::Arc;

mod icmp;
mod proxied;

/// Per-lcore limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbLimits {
    /// Session table capacity of this lcore.
    pub max_sessions: usize,
}

/// What the pipeline does with a packet after [`LbCtx::process`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbVerdict {
    /// Not a load-balanced flow: the pipeline handles it (ICMP echo to a VIP/local address, or drop
    /// NotForUs/NoRoute).
    Pass,
    /// Rewritten in place (addresses, ports, checksums); send it. next_hop None = route the packet's
    /// (new) dst.
    Forward {
        /// Next hop, when not the packet's destination.
        next_hop: Option<Ipv4Addr>,
    },
    /// Not rewritten; encapsulate it towards the real server `rip` (tunnel sessions): the pipeline
    /// routes `rip`, checks the egress MTU (answering ICMP fragmentation-needed when the inner has DF),
    /// decrements the inner TTL, then prepends the outer headers built by
    /// [`crate::xmit::tunnel::encap_header`] from the route's source address.
    Encap {
        /// The real server (outer destination).
        rip: Ipv4Addr,
        /// Encapsulation type and checksum option.
        tunnel: Tunnel,
        /// The flow's hash (GUE source port).
        flow_hash: u32,
    },
    /// The SYN proxy replaced the packet by one it built ([`crate::synproxy`]): send it to
    /// `Emitted::to` as it is (no TTL decrement), its first `front_len` bytes inserted before the
    /// received packet's place.
    Emit(Emitted),
    /// A client packet of a proxied connection whose real server has not answered yet: the worker
    /// holds the frame, untouched, under this session slot until [`LbCtx::take_synproxy_release`]
    /// names it ([`crate::synproxy::hold`]).
    Hold(u32),
    /// Drop and count.
    Drop(DropReason),
}

#[derive(Debug)]
struct SvcLocal {
    id: u64,
    epoch: u64,
    cursor: SchedCursor,
    laddr_cursor: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct LbCounters {
    sessions_created: u64,
    sessions_expired: u64,
    misowned_packets: u64,
    table_full: u64,
    packets_in: u64,
    packets_out: u64,
    icmp_errors: u64,
    templates_expired: u64,
}

/// The parsed fields of a TCP/UDP packet: read once, then used by every later step (session
/// lookup, checksum verification, rewrite).
#[derive(Debug, Clone, Copy)]
struct Pkt {
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    ttl: u8,
    len: u16,
    flags: TcpFlags,
    /// The first fragment of a fragmented datagram (see [`crate::frag`]): its TCP/UDP header is
    /// whole but its checksum covers bytes that are not here.
    first_frag: bool,
    /// Offset of the TCP/UDP header in the IPv4 packet (the IPv4 header length).
    l4: u8,
}

/// Parse an IPv4 TCP/UDP packet or first fragment. `Ok(None)`: not TCP/UDP, or a later fragment.
fn parse(ip: &[u8]) -> Result<Option<Pkt>, DropReason> {
    let pkt = Ipv4Packet::new_checked(ip).map_err(|_| DropReason::Ipv4Malformed)?;
    parse_l4(ip, &pkt.fields())
}

/// Parse the TCP/UDP header of the IPv4 packet `ip` whose header fields `h` were read (and checked:
/// `h.header_len <= h.total_len <= ip.len()`) by [`Ipv4Packet::fields`]. `Ok(None)`: not TCP/UDP,
/// or a later fragment (a first fragment is parsed: its header is whole).
fn parse_l4(ip: &[u8], h: &Ipv4Fields) -> Result<Option<Pkt>, DropReason> {
    let proto = h.protocol;
    if (proto != PROTO_TCP && proto != PROTO_UDP) || (h.fragment && !h.first_fragment) {
        return Ok(None);
    }
    let first_frag = h.first_fragment;
    let seg = ip
        .get(usize::from(h.header_len)..usize::from(h.total_len))
        .ok_or(DropReason::Ipv4Malformed)?;
    let (sport, dport, flags) = if proto == PROTO_TCP {
        let t = TcpPacket::new_checked(seg).map_err(|_| DropReason::TcpMalformed)?;
        if !tcp_state::flags_valid(t.flags()) {
            return Err(DropReason::TcpBadFlags);
        }
        (t.src_port(), t.dst_port(), TcpFlags::from_byte(t.flags()))
    } else {
        let u = if first_frag {
            UdpPacket::new_first_fragment(seg)
        } else {
            UdpPacket::new_checked(seg)
        };
        let u = u.map_err(|_| DropReason::UdpMalformed)?;
        (u.src_port(), u.dst_port(), TcpFlags::default())
    };
    Ok(Some(Pkt {
        proto,
        src: h.src,
        dst: h.dst,
        sport,
        dport,
        ttl: h.ttl,
        len: h.total_len,
        flags,
        first_frag,
        l4: h.header_len,
    }))
}

/// Verify the TCP or UDP checksum of `ip`, a packet [`parse_l4`] read as `p`. A UDP checksum of zero
/// means none and passes. A first fragment passes: its checksum covers the whole datagram, which only
/// the real server reassembles (our rewrite updates the checksum incrementally, so a wrong one stays
/// wrong).
fn verify_l4(ip: &[u8], p: &Pkt) -> Result<(), DropReason> {
    if p.first_frag {
        return Ok(());
    }
    let Some(seg) = ip.get(usize::from(p.l4)..usize::from(p.len)) else {
        return Err(DropReason::Ipv4Malformed);
    };
    if p.proto == PROTO_TCP {
        match TcpPacket::new_checked(seg) {
            Ok(t) if t.verify_checksum_v4(p.src, p.dst) => Ok(()),
            Ok(_) => Err(DropReason::TcpBadChecksum),
            Err(_) => Err(DropReason::TcpMalformed),
        }
    } else {
        match UdpPacket::new_checked(seg) {
            Ok(u) if u.verify_checksum_v4(p.src, p.dst) => Ok(()),
            Ok(_) => Err(DropReason::UdpBadChecksum),
            Err(_) => Err(DropReason::UdpMalformed),
        }
    }
}

/// Live sessions from which [`LbCtx::wants_prefetch`] says yes: below it the table (64 B a session
/// plus its index entries) stays in the CPU's caches and a prefetch only costs instructions.
pub const PREFETCH_MIN_SESSIONS: usize = 1 << 16;

/// The session-index hash ([`FlowKey::hash`]) of the TCP/UDP over IPv4 packet in the Ethernet
/// `frame`, read without validation: a hint for the prefetch (a wrong answer only costs a useless
/// prefetch; the packet is parsed and checked for real later). `None` when it is not an option-less
/// IPv4 TCP/UDP frame or too short.
#[inline]
pub fn flow_hash_hint(frame: &[u8]) -> Option<u32> {
    let f = frame.get(..38)?;
    if f[12..14] != [0x08, 0x00] || f[14] != 0x45 {
        return None;
    }
    let proto = f[23];
    if proto != PROTO_TCP && proto != PROTO_UDP {
        return None;
    }
    let a = |i: usize| Ipv4Addr::new(f[i], f[i + 1], f[i + 2], f[i + 3]);
    let p = |i: usize| u16::from_be_bytes([f[i], f[i + 1]]);
    Some(FlowKey::v4(proto, a(26), p(34), a(30), p(36)).hash())
}

/// The drop reason of a packet whose TCP or UDP checksum is wrong.
fn bad_checksum(proto: u8) -> DropReason {
    if proto == PROTO_TCP {
        DropReason::TcpBadChecksum
    } else {
        DropReason::UdpBadChecksum
    }
}

/// One worker lcore's load-balancing state.
#[derive(Debug)]
pub struct LbCtx {
    worker_index: usize,
    n_workers: usize,
    snap: Arc<Snapshot>,
    local: Vec<SvcLocal>,
    sessions: SessionTable,
    templates: Option<TemplateTable>,
    template_capacity: usize,
    laddrs: LaddrPool,
    sp: Synproxy,
    c: LbCounters,
}

impl LbCtx {
    /// The context of worker `worker_index` among `n_workers`, with an empty snapshot. Allocates the
    /// whole session table now.
    pub fn new(worker_index: usize, n_workers: usize, limits: LbLimits) -> Self {
        LbCtx {
            worker_index,
            n_workers: n_workers.max(1),
            snap: Snapshot::empty(),
            local: Vec::new(),
            sessions: SessionTable::new(limits.max_sessions),
            templates: None,
            template_capacity: (limits.max_sessions / 4).max(64),
            laddrs: LaddrPool::new(worker_index, n_workers),
            sp: Synproxy::new(SynproxyConf::default(), 0),
            c: LbCounters::default(),
        }
    }

    /// Configure the SYN proxy (start-up, before traffic: allocates its per-session side entries).
    pub fn set_synproxy(&mut self, conf: SynproxyConf) {
        self.sp = Synproxy::new(conf, self.sessions.capacity());
    }

    /// The session slot whose held packets may now be re-injected (once), after the real server of a
    /// proxied connection answered ([`LbVerdict::Hold`]).
    #[inline]
    pub fn take_synproxy_release(&mut self) -> Option<u32> {
        self.sp.take_release()
    }

    /// Install a new snapshot (control path: may allocate). Scheduler cursors are carried over
    /// (kernel rules, see [`crate::sched`]); local port pools for new local addresses are created.
    pub fn set_snapshot(&mut self, snap: Arc<Snapshot>) {
        self.laddrs.sync(&snap);
        if snap.has_persistence() && self.templates.is_none() {
            self.templates = Some(TemplateTable::new(self.template_capacity));
        }
        let old = &self.snap;
        let mut old_local = std::mem::take(&mut self.local);
        let local = snap
            .services()
            .iter()
            .map(|s| {
                let prev = old.index_of_id(s.id).and_then(|i| {
                    let ol = old_local.get_mut(i)?;
                    Some((old.services().get(i)?, ol))
                });
                match prev {
                    Some((os, ol)) if ol.id == s.id => {
                        let old_cursor = std::mem::take(&mut ol.cursor);
                        let cursor = if os.sched.kind() != s.sched.kind() {
                            s.sched.new_cursor()
                        } else if ol.epoch == s.dests_epoch {
                            old_cursor
                        } else {
                            s.sched.carry_cursor(old_cursor, &os.dests, &s.dests)
                        };
                        SvcLocal {
                            id: s.id,
                            epoch: s.dests_epoch,
                            cursor,
                            laddr_cursor: ol.laddr_cursor,
                        }
                    }
                    _ => SvcLocal {
                        id: s.id,
                        epoch: s.dests_epoch,
                        cursor: s.sched.new_cursor(),
                        laddr_cursor: 0,
                    },
                }
            })
            .collect();
        self.local = local;
        self.snap = snap;
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snap
    }

    /// Live sessions on this lcore.
    pub fn sessions_live(&self) -> usize {
        self.sessions.len()
    }

    /// Whether the session table is big enough (at least [`PREFETCH_MIN_SESSIONS`] live) for the
    /// worker's burst-wide prefetch to pay for its extra parse and hash.
    #[inline]
    pub fn wants_prefetch(&self) -> bool {
        self.sessions.len() >= PREFETCH_MIN_SESSIONS
    }

    /// First prefetch stage for a packet whose [`flow_hash_hint`] is `h`: its index line.
    #[inline]
    pub fn prefetch_index(&self, h: u32) {
        self.sessions.prefetch_index(h);
    }

    /// Second prefetch stage: the session the index entry points at.
    #[inline]
    pub fn prefetch_session(&self, h: u32) {
        self.sessions.prefetch_session(h);
    }

    /// Number of workers sharing the flows (1: every flow is this worker's, no ownership check).
    pub fn n_workers(&self) -> usize {
        self.n_workers
    }

    fn owner_of(&self, p: &Pkt) -> usize {
        let n = self.n_workers;
        let h = |a, port| flow_hash::owner_of_hash(flow_hash::hash_addr_port(a, port, p.proto), n);
        if let Some((_, svc)) = self.snap.lookup(p.proto, p.dst, p.dport) {
            if svc.spec.persistent.is_some() {
                h(svc.persist_client(p.src), 0)
            } else {
                h(p.src, p.sport)
            }
        } else if self.snap.is_laddr(p.dst) {
            flow_hash::owner_of_port(p.dport, n)
        } else if let Some(prefix) = self.snap.persist_prefix_of_dest(p.proto, p.src, p.sport) {
            h(mask_v4(p.dst, prefix), 0)
        } else {
            h(p.dst, p.dport)
        }
    }

    /// Which worker owns this IPv4 packet's flow (ip = IPv4 header onwards, already validated).
    /// None = not a load-balanced flow (any lcore may handle it): not TCP/UDP, a fragment other than
    /// the first, or malformed. A first fragment has the owner of its flow (see [`crate::frag`]).
    ///
    /// An ICMP error (see [`crate::xmit::icmp`]) belongs to the flow of the datagram it quotes: its
    /// owner is the owner of that datagram's tuple reversed (the packets of the session it quotes).
    pub fn owner(&self, ip: &[u8]) -> Option<usize> {
        match parse(ip) {
            Ok(Some(p)) => Some(self.owner_of(&p)),
            Ok(None) => match icmp::error_flow(ip) {
                Ok(Some((p, _))) => Some(self.owner_of(&p)),
                _ => None,
            },
            Err(_) => None,
        }
    }

    /// Process one packet. ip = the IPv4 packet (header validated, checksum verified, slice cut to
    /// total_length). now_ms monotonic. Parses the IPv4 header, then [`LbCtx::process_v4`].
    pub fn process(&mut self, ip: &mut [u8], now_ms: u64) -> LbVerdict {
        match Ipv4Packet::new_checked(&*ip) {
            Ok(pkt) => {
                let h = pkt.fields();
                self.process_v4(ip, &h, RxL4Csum::Unknown, now_ms)
            }
            Err(_) => LbVerdict::Drop(DropReason::Ipv4Malformed),
        }
    }

    /// [`LbCtx::process`] of a packet whose IPv4 header the caller parsed (the pipeline, once per
    /// packet): `h` = [`Ipv4Packet::fields`] of `ip`, as checked by [`Ipv4Packet::new_checked`]
    /// (`ip` may extend past `h.total_len`: only `..total_len` is read). The TCP/UDP header is parsed
    /// once here and what it read is passed along (session lookup, checksum, rewrite): no stage
    /// parses the packet again. `l4_csum` is the receiving port's check of the TCP/UDP checksum
    /// (see the module doc for the checksum policy).
    pub fn process_v4(
        &mut self,
        ip: &mut [u8],
        h: &Ipv4Fields,
        l4_csum: RxL4Csum,
        now_ms: u64,
    ) -> LbVerdict {
        let p = match parse_l4(ip, h) {
            Ok(Some(p)) => p,
            Ok(None) => return self.icmp_error(ip),
            Err(r) => return LbVerdict::Drop(r),
        };
        if self.n_workers > 1 && self.owner_of(&p) != self.worker_index {
            self.c.misowned_packets += 1;
        }
        if l4_csum == RxL4Csum::Bad {
            return LbVerdict::Drop(bad_checksum(p.proto));
        }
        // Software verification: every packet that could open a session (below), and the
        // session packets that could change its state (`replay`); none when the port checked.
        let verify = l4_csum != RxL4Csum::Good;
        let key = FlowKey::v4(p.proto, p.src, p.sport, p.dst, p.dport);
        if let Some((id, dir)) = self.sessions.lookup(&key) {
            if !self.end_if_reused(id, dir, &p) {
                return self.replay(id, dir, &p, ip, verify, now_ms);
            }
        }
        let Some((si, _)) = self.snap.lookup(p.proto, p.dst, p.dport) else {
            return LbVerdict::Pass;
        };
        if p.proto == PROTO_TCP && !p.first_frag && self.sp.enabled() {
            if let Some(v) = self.synproxy_miss(si, &p, ip, now_ms) {
                return v;
            }
        }
        // Only a plain SYN opens a TCP session (SYN+ACK, a lone ACK... have no session here), and
        // never a fragmented one (its checksum cannot be verified before reassembly).
        if p.proto == PROTO_TCP && (!p.flags.syn || p.flags.ack || p.first_frag) {
            return LbVerdict::Drop(DropReason::NoSession);
        }
        if verify {
            if let Err(r) = verify_l4(ip, &p) {
                return LbVerdict::Drop(r);
            }
        }
        if let Some(Err(r)) = self.snap.services().get(si).map(|svc| svc.admit(p.src)) {
            return LbVerdict::Drop(r);
        }
        if p.ttl <= 1 {
            return LbVerdict::Drop(DropReason::Ipv4TtlExpired);
        }
        match self.open_session(si, &p, now_ms) {
            // Verified above (or by the port).
            Ok(id) => self.replay(id, Dir::In, &p, ip, false, now_ms),
            Err(r) => LbVerdict::Drop(r),
        }
    }

    /// Schedule a new connection of service `si` for `p` (ACL and TTL already checked) and insert its
    /// session, state `NONE` (the caller replays or proxies it at once).
    fn open_session(&mut self, si: usize, p: &Pkt, now_ms: u64) -> Result<SessionId, DropReason> {
        if self.sessions.len() >= self.sessions.capacity() {
            self.c.table_full += 1;
            return Err(DropReason::SessionTableFull);
        }
        let (Some(svc), Some(local)) = (self.snap.services().get(si), self.local.get_mut(si))
        else {
            return Err(DropReason::NotForUs); // cannot happen: `local` is built from the snapshot
        };
        let persistent = svc.spec.persistent.is_some();
        let known = match (&mut self.templates, persistent) {
            (Some(t), true) => t.lookup(svc, p.proto, p.src, p.dst, now_ms),
            _ => None,
        };
        let di = match known {
            Some(di) => di,
            None => {
                let input = SchedInput::v4(p.src, p.sport, p.dst, p.dport, now_ms);
                let Some(di) = svc.sched.pick(&mut local.cursor, &svc.dests, &input) else {
                    return Err(DropReason::NoDest);
                };
                if let (Some(t), true) = (&mut self.templates, persistent) {
                    if t.create(svc, p.proto, p.src, p.dst, di, now_ms).is_err() {
                        self.c.table_full += 1;
                        return Err(DropReason::SessionTableFull);
                    }
                }
                di
            }
        };
        let d = &svc.dests[di];
        // The kernel's destination port: the dest's, unless it is 0 or the packet came to a
        // port-zero (all ports) service on another port, where the packet's port is kept.
        let rport = if p.dport == svc.key.port && d.port != 0 {
            d.port
        } else {
            p.dport
        };
        let laddr = match d.fwd {
            FwdMethod::FullNat => match self.laddrs.alloc(&svc.laddrs, &mut local.laddr_cursor) {
                Some(l) => Some(l),
                None => return Err(DropReason::NoLocalPort),
            },
            FwdMethod::Masq | FwdMethod::Route | FwdMethod::Tunnel => None,
        };
        let mut s = Session::new(
            p.proto,
            (p.src, p.sport),
            (p.dst, p.dport),
            (d.addr, rport),
            laddr,
            d.counters.clone(),
        );
        match d.fwd {
            FwdMethod::Route => s.set_direct(None),
            FwdMethod::Tunnel => s.set_direct(Some(d.tunnel)),
            FwdMethod::Masq | FwdMethod::FullNat => {}
        }
        d.counters.bind_conn();
        let id = match self.sessions.insert(s) {
            Ok(id) => id,
            Err(TableFull(s)) => {
                self.c.table_full += 1;
                self.finish(&s);
                return Err(DropReason::SessionTableFull);
            }
        };
        self.c.sessions_created += 1;
        Ok(id)
    }

    /// Replay session `id` on packet `p` (`ip`) travelling `dir`. With `verify`, a segment that
    /// carries SYN, FIN or RST or that would move the session to another TCP state has its checksum
    /// verified first (dropped and counted when wrong, the session untouched); other packets of a
    /// session are not summed: the incremental rewrite keeps a wrong checksum wrong, so the receiver
    /// drops them as it would have without us.
    fn replay(
        &mut self,
        id: SessionId,
        dir: Dir,
        p: &Pkt,
        ip: &mut [u8],
        verify: bool,
        now_ms: u64,
    ) -> LbVerdict {
        let Some(s) = self.sessions.get(id) else {
            return LbVerdict::Pass;
        };
        if s.dest.is_deleted() {
            let (state, flags) = (s.state, s.flags);
            self.sessions.touch(id, state, flags, now_ms);
            return LbVerdict::Drop(DropReason::DestDeleted);
        }
        if p.ttl <= 1 {
            return LbVerdict::Drop(DropReason::Ipv4TtlExpired);
        }
        let s = if s.flags & F_SYNPROXY == 0 {
            s
        } else {
            if let Some(v) = self.synproxy_replay(id, dir, p, ip, now_ms) {
                return v;
            }
            match self.sessions.get(id) {
                Some(s) => s,
                None => return LbVerdict::Pass,
            }
        };
        let direct = s.is_direct();
        if direct && dir == Dir::Out {
            // The real server answers the client itself: nothing of ours to replay.
            return LbVerdict::Pass;
        }
        let state = if p.proto == PROTO_TCP {
            let tdir = match dir {
                Dir::In if direct => TcpDir::InputOnly,
                Dir::In => TcpDir::Input,
                Dir::Out => TcpDir::Output,
            };
            tcp_state::next_state(s.state, tdir, p.flags)
        } else {
            tcp_state::UDP
        };
        if verify && (p.flags.syn || p.flags.fin || p.flags.rst || state != s.state) {
            if let Err(r) = verify_l4(ip, p) {
                return LbVerdict::Drop(r);
            }
        }
        let verdict = Self::verdict_of(s);
        let (new_src, new_dst) = match (dir, s.is_fullnat()) {
            _ if direct => (None, None),
            (Dir::In, false) => (None, Some((v4_of(&s.rip), s.rport))),
            (Dir::In, true) => (
                Some((v4_of(&s.laddr), s.lport)),
                Some((v4_of(&s.rip), s.rport)),
            ),
            (Dir::Out, false) => (Some((v4_of(&s.vip), s.vport)), None),
            (Dir::Out, true) => (
                Some((v4_of(&s.vip), s.vport)),
                Some((v4_of(&s.client), s.cport)),
            ),
        };
        if !direct {
            if let Err(r) = xmit::rewrite_at(ip, p.proto, usize::from(p.l4), new_src, new_dst) {
                return LbVerdict::Drop(r);
            }
            if s.flags & (F_SYNPROXY | F_SP_PENDING) == F_SYNPROXY {
                if let Err(r) = crate::synproxy::shift(ip, dir, self.sp.slot(id.0).seq) {
                    return LbVerdict::Drop(r);
                }
            }
        }
        self.sp.on_state(s.state, state);
        let active = state == tcp_state::ESTABLISHED;
        let mut flags = s.flags;
        if active != s.is_active() {
            s.dest.set_active(active);
            flags ^= F_ACTIVE;
        }
        match dir {
            Dir::In => {
                s.dest.count_in(u64::from(p.len));
                self.c.packets_in += 1;
            }
            Dir::Out => {
                s.dest.count_out(u64::from(p.len));
                self.c.packets_out += 1;
            }
        }
        let expires = now_ms + self.snap.timeouts().ms(state);
        self.sessions.touch(id, state, flags, expires);
        if dir == Dir::In {
            if let Some(t) = &mut self.templates {
                if let Some((_, svc)) = self.snap.lookup(p.proto, p.dst, p.dport) {
                    if svc.spec.persistent.is_some() {
                        t.extend(svc, p.proto, p.src, p.dst, expires);
                    }
                }
            }
        }
        verdict
    }

    /// How a packet of session `s` travelling client -> real server is sent (once rewritten).
    fn verdict_of(s: &Session) -> LbVerdict {
        if let Some(tunnel) = s.tunnel() {
            LbVerdict::Encap {
                rip: v4_of(&s.rip),
                tunnel,
                flow_hash: s.key(Dir::In).hash(),
            }
        } else if s.is_direct() {
            LbVerdict::Forward {
                next_hop: Some(v4_of(&s.rip)),
            }
        } else {
            LbVerdict::Forward { next_hop: None }
        }
    }

    /// Release what a session holds: its dest's connection count, its local port.
    fn finish(&mut self, s: &Session) {
        self.sp.on_state(s.state, tcp_state::NONE);
        s.dest.unbind_conn(s.is_active());
        if s.is_fullnat() {
            self.laddrs.free(v4_of(&s.laddr), s.lport);
        }
    }

    /// A plain SYN from the client on a closed TCP session (`TIME_WAIT` or `CLOSE`) starts a new
    /// connection, as the kernel's `conn_reuse_mode` 1 has it: the old session ends now (counted in
    /// `sessions_expired`) and the caller schedules the SYN afresh. So a client port reused within
    /// `TIME_WAIT`'s 120 s neither revives a session on a dest that is quiesced (weight 0) nor hits one
    /// whose dest was deleted, which would drop every SYN of the new connection (`DestDeleted`) until
    /// the old session reached the head of its expiry list. Returns whether the session was ended.
    fn end_if_reused(&mut self, id: SessionId, dir: Dir, p: &Pkt) -> bool {
        let new_conn = dir == Dir::In
            && p.proto == PROTO_TCP
            && p.flags.syn
            && !p.flags.ack
            && !p.flags.rst
            && !p.flags.fin;
        let closed = self.sessions.get(id).is_some_and(|s| {
            s.proto == PROTO_TCP && (s.state == tcp_state::TIME_WAIT || s.state == tcp_state::CLOSE)
        });
        if !(new_conn && closed) {
            return false;
        }
        if let Some(s) = self.sessions.remove(id) {
            self.finish(&s);
            self.c.sessions_expired += 1;
        }
        true
    }

    /// Expire at most `budget` sessions; returns how many were removed.
    pub fn expire(&mut self, now_ms: u64, budget: usize) -> usize {
        let mut n = 0;
        while n < budget {
            let Some(s) = self.sessions.pop_expired(now_ms) else {
                break;
            };
            self.finish(&s);
            n += 1;
        }
        self.c.sessions_expired += n as u64;
        self.sp.update(now_ms);
        if let Some(t) = &mut self.templates {
            let k = t.expire(now_ms, budget - n);
            self.c.templates_expired += k as u64;
            return n + k;
        }
        n
    }

    /// Append this lcore's live sessions, persistence templates included (client port 0, state
    /// `NONE`; lcore field = lcore_id given).
    pub fn conns(&self, now_ms: u64, lcore_id: u32, out: &mut Vec<ConnInfo>) {
        let templates = self.templates.iter().flat_map(|t| t.iter());
        out.extend(
            self.sessions
                .iter()
                .chain(templates)
                .map(|s| conn_info(s, now_ms, lcore_id)),
        );
    }

    /// One bounded page of [`LbCtx::conns`]: the sessions, then the persistence templates, found in
    /// slots `cursor..` (slots of the session table first, then of the template table), stopping after
    /// `max` entries or `scan` slots visited, whichever comes first. Returns the slot to continue
    /// from, `None` once every slot was visited. The work is bounded by `scan` whatever the table
    /// size, so a worker answers a page between two bursts without stalling forwarding.
    pub fn conns_page(
        &self,
        now_ms: u64,
        lcore_id: u32,
        cursor: u64,
        max: usize,
        scan: usize,
        out: &mut Vec<ConnInfo>,
    ) -> Option<u64> {
        let n_sessions = self.sessions.capacity();
        let templates = self.templates.as_ref().map(TemplateTable::table);
        let end = n_sessions + templates.map_or(0, SessionTable::capacity);
        let mut slot = usize::try_from(cursor).unwrap_or(usize::MAX).min(end);
        let limit = slot.saturating_add(scan.max(1)).min(end);
        let mut taken = 0;
        while slot < limit && taken < max {
            let s = if slot < n_sessions {
                self.sessions.get(SessionId(slot as u32))
            } else {
                templates.and_then(|t| t.get(SessionId((slot - n_sessions) as u32)))
            };
            if let Some(s) = s {
                out.push(conn_info(s, now_ms, lcore_id));
                taken += 1;
            }
            slot += 1;
        }
        (slot < end).then_some(slot as u64)
    }

    /// This lcore's FULLNAT local-address port pools: `(local address, free ports, ports in use)`
    /// of its slice, sorted by address.
    pub fn laddr_pools(&self, out: &mut Vec<(Ipv4Addr, u64, u64)>) {
        self.laddrs.pools(out);
    }

    /// Named counters: sessions_created, sessions_expired, sessions_live, sessions_table_full (inserts
    /// refused, persistence templates included), misowned_packets (must stay 0), lb_packets_in,
    /// lb_packets_out, icmp_errors_forwarded (ICMP errors of sessions translated and sent on),
    /// templates_live, templates_created, templates_expired; with the SYN proxy on or auto, its
    /// counters ([`Synproxy::counters`]).
    pub fn counters(&self, out: &mut Vec<Counter>) {
        let c = &self.c;
        for (name, value) in [
            ("sessions_created", c.sessions_created),
            ("sessions_expired", c.sessions_expired),
            ("sessions_live", self.sessions.len() as u64),
            ("sessions_table_full", c.table_full),
            ("misowned_packets", c.misowned_packets),
            ("lb_packets_in", c.packets_in),
            ("lb_packets_out", c.packets_out),
            ("icmp_errors_forwarded", c.icmp_errors),
            (
                "templates_live",
                self.templates.as_ref().map_or(0, |t| t.len() as u64),
            ),
            (
                "templates_created",
                self.templates.as_ref().map_or(0, |t| t.created()),
            ),
            ("templates_expired", c.templates_expired),
        ] {
            out.push(Counter {
                name: name.to_string(),
                value,
            });
        }
        if self.sp.enabled() {
            self.sp.counters(out);
        }
    }

    /// One named counter (see [`LbCtx::counters`]), for tests and the worker.
    pub fn counter(&self, name: &str) -> Option<u64> {
        let mut v = Vec::new();
        self.counters(&mut v);
        v.into_iter().find(|c| c.name == name).map(|c| c.value)
    }
}

/// A session as `-Lnc` lists it.
fn conn_info(s: &Session, now_ms: u64, lcore_id: u32) -> ConnInfo {
    ConnInfo {
        proto: if s.proto == PROTO_UDP {
            Protocol::Udp
        } else {
            Protocol::Tcp
        },
        expires_s: u32::try_from(s.expires_ms.saturating_sub(now_ms) / 1000).unwrap_or(u32::MAX),
        state: tcp_state::state_name(s.state).to_string(),
        client: (ip_of(&s.client), s.cport),
        virt: (ip_of(&s.vip), s.vport),
        dest: (ip_of(&s.rip), s.rport),
        local: s.is_fullnat().then(|| (ip_of(&s.laddr), s.lport)),
        lcore: lcore_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use crate::xmit::testpkt::{self, parse_valid, ACK, FIN, PSH, RST, SYN};
    use rvs_control::proto::{
        DestSpec, LaddrSpec, Request, Response, ServiceInfo, ServiceKey, ServiceSpec, Timeouts,
        TrafficStats, TunnelCsum, TunnelType,
    };

    const C: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 2), 40000);
    const V: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 0, 100), 8990);
    const R1: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 1, 2), 8998);
    const R2: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 2, 2), 8999);
    const L1: Ipv4Addr = Ipv4Addr::new(10, 10, 9, 1);
    const FWD: LbVerdict = LbVerdict::Forward { next_hop: None };

    fn key(proto: Protocol) -> ServiceKey {
        ServiceKey {
            proto,
            addr: V.0.into(),
            port: V.1,
        }
    }

    fn dest(r: (Ipv4Addr, u16), fwd: FwdMethod, weight: u32) -> DestSpec {
        DestSpec {
            addr: r.0.into(),
            port: r.1,
            fwd,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunnelType::Ipip,
            tun_csum: TunnelCsum::NoCsum,
        }
    }

    /// One service on V (proto, scheduler) with dests (addr, fwd, weight) and local addresses.
    fn rules(proto: Protocol, sched: &str, dests: &[((Ipv4Addr, u16), FwdMethod, u32)]) -> Rules {
        let mut r = Rules::new();
        r.apply(&Request::AddService(ServiceSpec {
            key: key(proto),
            scheduler: sched.into(),
            persistent: None,
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
        for (a, f, w) in dests {
            r.apply(&Request::AddDest(key(proto), dest(*a, *f, *w)))
                .unwrap();
        }
        if dests.iter().any(|d| d.1 == FwdMethod::FullNat) {
            r.apply(&Request::AddLaddr(
                key(proto),
                LaddrSpec { addr: L1.into() },
            ))
            .unwrap();
        }
        r
    }

    fn ctx(r: &Rules, index: usize, n: usize, max: usize) -> LbCtx {
        let mut c = LbCtx::new(index, n, LbLimits { max_sessions: max });
        c.set_snapshot(r.snapshot());
        c
    }

    fn listing(r: &Rules) -> ServiceInfo {
        match r.query(&Request::GetServices(None)).unwrap() {
            Response::Services(mut v) => v.remove(0),
            other => panic!("{other:?}"),
        }
    }

    /// (ActiveConn, InActConn) of dest `i`.
    fn conns_of(r: &Rules, i: usize) -> (u32, u32) {
        let s = listing(r);
        (s.dests[i].active_conns, s.dests[i].inactive_conns)
    }

    fn state_of(c: &LbCtx, now: u64) -> (String, u32) {
        let mut v = Vec::new();
        c.conns(now, 7, &mut v);
        assert_eq!(v.len(), 1);
        (v[0].state.clone(), v[0].expires_s)
    }

    fn tcp(
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
        flags: u8,
        seq: u32,
        ack: u32,
        data: &[u8],
    ) -> Vec<u8> {
        testpkt::tcp(src, dst, 64, flags, seq, ack, data)
    }

    /// Send `input` through `c`; expect Forward and exactly `expected`, valid for etherparse.
    fn fwd(c: &mut LbCtx, now: u64, input: Vec<u8>, expected: Vec<u8>) {
        let mut p = input;
        assert_eq!(c.process(&mut p, now), FWD);
        assert_eq!(p, expected);
        parse_valid(&p);
    }

    #[test]
    fn nat_tcp_connection_end_to_end() {
        let r = rules(Protocol::Tcp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        let mut c = ctx(&r, 0, 1, 16);
        let mut t = 1_000;
        // SYN
        fwd(
            &mut c,
            t,
            tcp(C, V, SYN, 100, 0, &[]),
            tcp(C, R1, SYN, 100, 0, &[]),
        );
        assert_eq!(state_of(&c, t), ("SYN_RECV".into(), 60));
        assert_eq!(conns_of(&r, 0), (0, 1));
        // SYN-ACK
        t += 1;
        fwd(
            &mut c,
            t,
            tcp(R1, C, SYN | ACK, 500, 101, &[]),
            tcp(V, C, SYN | ACK, 500, 101, &[]),
        );
        assert_eq!(state_of(&c, t).0, "SYN_RECV");
        // ACK
        fwd(
            &mut c,
            t,
            tcp(C, V, ACK, 101, 501, &[]),
            tcp(C, R1, ACK, 101, 501, &[]),
        );
        assert_eq!(state_of(&c, t), ("ESTABLISHED".into(), 900));
        assert_eq!(conns_of(&r, 0), (1, 0));
        // Data both ways.
        let req = b"GET / HTTP/1.0\r\n\r\n";
        fwd(
            &mut c,
            t,
            tcp(C, V, ACK | PSH, 101, 501, req),
            tcp(C, R1, ACK | PSH, 101, 501, req),
        );
        let resp = [b'x'; 300];
        fwd(
            &mut c,
            t,
            tcp(R1, C, ACK | PSH, 501, 119, &resp),
            tcp(V, C, ACK | PSH, 501, 119, &resp),
        );
        // Server closes first: FIN_WAIT, then client FIN: TIME_WAIT.
        fwd(
            &mut c,
            t,
            tcp(R1, C, FIN | ACK, 801, 119, &[]),
            tcp(V, C, FIN | ACK, 801, 119, &[]),
        );
        assert_eq!(state_of(&c, t), ("FIN_WAIT".into(), 120));
        assert_eq!(conns_of(&r, 0), (0, 1));
        fwd(
            &mut c,
            t,
            tcp(C, V, FIN | ACK, 119, 802, &[]),
            tcp(C, R1, FIN | ACK, 119, 802, &[]),
        );
        assert_eq!(state_of(&c, t), ("TIME_WAIT".into(), 120));
        fwd(
            &mut c,
            t,
            tcp(R1, C, ACK, 802, 120, &[]),
            tcp(V, C, ACK, 802, 120, &[]),
        );
        assert_eq!(state_of(&c, t).0, "TIME_WAIT");

        // Counters: 4 packets in, 4 out; bytes are IP total lengths.
        let s = listing(&r);
        let inb = 3 * 40 + (40 + req.len() as u64);
        let outb = 3 * 40 + (40 + 300);
        let want = TrafficStats {
            conns: 1,
            inpkts: 4,
            outpkts: 4,
            inbytes: inb,
            outbytes: outb,
        };
        assert_eq!(s.stats, want);
        assert_eq!(s.dests[0].stats, want);
        assert_eq!(c.counter("sessions_created"), Some(1));
        assert_eq!(c.counter("sessions_live"), Some(1));
        assert_eq!(c.counter("lb_packets_in"), Some(4));
        assert_eq!(c.counter("lb_packets_out"), Some(4));
        assert_eq!(c.counter("misowned_packets"), Some(0));

        // Conn listing fields.
        let mut v = Vec::new();
        c.conns(t, 3, &mut v);
        assert_eq!(v[0].client, (C.0.into(), C.1));
        assert_eq!(v[0].virt, (V.0.into(), V.1));
        assert_eq!(v[0].dest, (R1.0.into(), R1.1));
        assert_eq!(v[0].local, None);
        assert_eq!(v[0].lcore, 3);
        assert_eq!(v[0].proto, Protocol::Tcp);

        // Expiry: TIME_WAIT 120 s after the last packet.
        assert_eq!(c.expire(t + 119_999, 16), 0);
        assert_eq!(c.expire(t + 120_000, 16), 1);
        assert_eq!(conns_of(&r, 0), (0, 0));
        assert_eq!(c.counter("sessions_expired"), Some(1));
        assert_eq!(c.counter("sessions_live"), Some(0));

        // A late ACK has no session: dropped, nothing counted.
        let mut p = tcp(C, V, ACK, 120, 802, &[]);
        assert_eq!(c.process(&mut p, t), LbVerdict::Drop(DropReason::NoSession));
        assert_eq!(listing(&r).stats, want);
        // Not a service: Pass, untouched.
        let mut p = tcp(C, (V.0, 22), SYN, 1, 0, &[]);
        let orig = p.clone();
        assert_eq!(c.process(&mut p, t), LbVerdict::Pass);
        assert_eq!(p, orig);
        // ICMP: Pass.
        let mut p = orig.clone();
        p[9] = 1;
        assert_eq!(c.process(&mut p, t), LbVerdict::Pass);
    }

    #[test]
    fn fullnat_tcp_connection_end_to_end() {
        let r = rules(Protocol::Tcp, "wrr", &[(R1, FwdMethod::FullNat, 1)]);
        let mut c = ctx(&r, 0, 1, 16);
        let l = (L1, 1024); // first port of worker 0's slice with one worker
        let t = 5_000;
        fwd(
            &mut c,
            t,
            tcp(C, V, SYN, 1, 0, &[]),
            tcp(l, R1, SYN, 1, 0, &[]),
        );
        // The reply goes to the local address.
        fwd(
            &mut c,
            t,
            tcp(R1, l, SYN | ACK, 9, 2, &[]),
            tcp(V, C, SYN | ACK, 9, 2, &[]),
        );
        fwd(
            &mut c,
            t,
            tcp(C, V, ACK, 2, 10, &[]),
            tcp(l, R1, ACK, 2, 10, &[]),
        );
        assert_eq!(state_of(&c, t).0, "ESTABLISHED");
        assert_eq!(conns_of(&r, 0), (1, 0));
        fwd(
            &mut c,
            t,
            tcp(C, V, ACK | PSH, 2, 10, b"hello"),
            tcp(l, R1, ACK | PSH, 2, 10, b"hello"),
        );
        fwd(
            &mut c,
            t,
            tcp(R1, l, ACK | PSH, 10, 7, b"world!"),
            tcp(V, C, ACK | PSH, 10, 7, b"world!"),
        );
        // Client closes: CLOSE_WAIT, server FIN: TIME_WAIT... then a RST: CLOSE.
        fwd(
            &mut c,
            t,
            tcp(C, V, FIN | ACK, 7, 16, &[]),
            tcp(l, R1, FIN | ACK, 7, 16, &[]),
        );
        assert_eq!(state_of(&c, t), ("CLOSE_WAIT".into(), 60));
        assert_eq!(conns_of(&r, 0), (0, 1));
        fwd(
            &mut c,
            t,
            tcp(R1, l, FIN | ACK, 16, 8, &[]),
            tcp(V, C, FIN | ACK, 16, 8, &[]),
        );
        assert_eq!(state_of(&c, t).0, "TIME_WAIT");
        fwd(
            &mut c,
            t,
            tcp(C, V, RST, 8, 0, &[]),
            tcp(l, R1, RST, 8, 0, &[]),
        );
        assert_eq!(state_of(&c, t), ("CLOSE".into(), 10));

        let mut v = Vec::new();
        c.conns(t, 0, &mut v);
        assert_eq!(v[0].local, Some((L1.into(), 1024)));
        match r.query(&Request::GetLaddrs(None)).unwrap() {
            Response::Laddrs(l) => assert_eq!(l[0].conns, 1),
            other => panic!("{other:?}"),
        }
        // Expiry frees the local port: the next connection reuses the FIFO (1025 first, 1024 last).
        assert_eq!(c.expire(t + 10_000, 1), 1);
        match r.query(&Request::GetLaddrs(None)).unwrap() {
            Response::Laddrs(l) => assert_eq!(l[0].conns, 0),
            other => panic!("{other:?}"),
        }
        fwd(
            &mut c,
            t,
            tcp(C, V, SYN, 1, 0, &[]),
            tcp((L1, 1025), R1, SYN, 1, 0, &[]),
        );
    }

    #[test]
    fn udp_both_directions_nat_and_fullnat() {
        for fwd_m in [FwdMethod::Masq, FwdMethod::FullNat] {
            let r = rules(Protocol::Udp, "wlc", &[(R1, fwd_m, 1)]);
            let mut c = ctx(&r, 0, 1, 16);
            let seen_by_rs = if fwd_m == FwdMethod::Masq {
                C
            } else {
                (L1, 1024)
            };
            let mut p = testpkt::udp(C, V, 64, b"query");
            assert_eq!(c.process(&mut p, 0), FWD);
            assert_eq!(p, testpkt::udp(seen_by_rs, R1, 64, b"query"));
            assert_eq!(state_of(&c, 0), ("UDP".into(), 300));
            let mut p = testpkt::udp(R1, seen_by_rs, 64, b"answer");
            assert_eq!(c.process(&mut p, 10_000), FWD);
            assert_eq!(p, testpkt::udp(V, C, 64, b"answer"));
            parse_valid(&p);
            assert_eq!(state_of(&c, 10_000), ("UDP".into(), 300));
            // UDP sessions count as inactive.
            assert_eq!(conns_of(&r, 0), (0, 1));
            assert_eq!(c.expire(309_999, 8), 0);
            assert_eq!(c.expire(310_000, 8), 1);
            assert_eq!(conns_of(&r, 0), (0, 0));
        }
    }

    #[test]
    fn owner_agrees_for_both_directions_with_two_workers() {
        for fwd_m in [FwdMethod::Masq, FwdMethod::FullNat] {
            let r = rules(Protocol::Tcp, "rr", &[(R1, fwd_m, 1)]);
            let mut w = [ctx(&r, 0, 2, 64), ctx(&r, 1, 2, 64)];
            let mut used = [0; 2];
            for cport in 40000..40016u16 {
                let cl = (C.0, cport);
                let mut p = tcp(cl, V, SYN, 1, 0, &[]);
                let o = w[0].owner(&p).unwrap();
                assert_eq!(w[1].owner(&p), Some(o));
                used[o] += 1;
                assert_eq!(w[o].process(&mut p, 0), FWD);
                let (seen_src, _, _) = parse_valid(&p);
                // The real server's reply, addressed to what it saw as the source.
                let mut reply = tcp(R1, seen_src, SYN | ACK, 5, 2, &[]);
                assert_eq!(w[0].owner(&reply), Some(o), "{fwd_m:?} reply owner");
                assert_eq!(w[1].owner(&reply), Some(o));
                if fwd_m == FwdMethod::FullNat {
                    assert_eq!(usize::from(seen_src.1) % 2, o);
                }
                assert_eq!(w[o].process(&mut reply, 0), FWD);
                assert_eq!(reply, tcp(V, cl, SYN | ACK, 5, 2, &[]));
            }
            assert!(used[0] > 0 && used[1] > 0, "{used:?}");
            for x in &w {
                assert_eq!(x.counter("misowned_packets"), Some(0));
            }
            // A packet handed to the wrong worker is still processed, and counted.
            let mut p = tcp((C.0, 40000), V, ACK, 2, 6, &[]);
            let o = w[0].owner(&p).unwrap();
            assert_eq!(
                w[1 - o].process(&mut p, 0),
                LbVerdict::Drop(DropReason::NoSession)
            );
            assert_eq!(w[1 - o].counter("misowned_packets"), Some(1));
            // Not TCP/UDP: no owner.
            let mut icmp = tcp(C, V, SYN, 1, 0, &[]);
            icmp[9] = 1;
            assert_eq!(w[0].owner(&icmp), None);
            assert_eq!(w[0].process(&mut icmp, 0), LbVerdict::Pass);
        }
    }

    #[test]
    fn scheduling_follows_rr_and_wrr_per_lcore() {
        let r = rules(
            Protocol::Tcp,
            "wrr",
            &[(R1, FwdMethod::Masq, 3), (R2, FwdMethod::Masq, 1)],
        );
        let mut c = ctx(&r, 0, 1, 256);
        let mut n = [0; 2];
        for cport in 0..200u16 {
            let mut p = tcp((C.0, 10000 + cport), V, SYN, 1, 0, &[]);
            assert_eq!(c.process(&mut p, 0), FWD);
            let (_, dst, _) = parse_valid(&p);
            n[usize::from(dst != R1)] += 1;
        }
        assert_eq!(n, [150, 50]);
        assert_eq!(conns_of(&r, 0), (0, 150));
        assert_eq!(conns_of(&r, 1), (0, 50));
        assert_eq!(listing(&r).stats.conns, 200);
    }

    #[test]
    fn snapshot_change_keeps_rr_cursor_and_live_flows() {
        let mut r = rules(
            Protocol::Tcp,
            "rr",
            &[(R1, FwdMethod::Masq, 1), (R2, FwdMethod::Masq, 1)],
        );
        let mut c = ctx(&r, 0, 1, 16);
        let mut p = tcp((C.0, 1), V, SYN, 1, 0, &[]);
        c.process(&mut p, 0);
        assert_eq!(parse_valid(&p).1, R1);
        // Weight change of R1 to 0: live flow continues, new flows avoid R1, cursor kept (next is R2).
        let mut d = dest(R1, FwdMethod::Masq, 0);
        d.u_threshold = 0;
        r.apply(&Request::EditDest(key(Protocol::Tcp), d)).unwrap();
        c.set_snapshot(r.snapshot());
        let mut p = tcp((C.0, 1), V, ACK, 2, 1, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        assert_eq!(parse_valid(&p).1, R1);
        for cport in 2..5 {
            let mut p = tcp((C.0, cport), V, SYN, 1, 0, &[]);
            c.process(&mut p, 0);
            assert_eq!(parse_valid(&p).1, R2);
        }
    }

    #[test]
    fn drops_no_dest_table_full_no_local_port_ttl() {
        // Weight 0 everywhere: NoDest, no session.
        let r = rules(Protocol::Tcp, "wlc", &[(R1, FwdMethod::Masq, 0)]);
        let mut c = ctx(&r, 0, 1, 1);
        let mut p = tcp(C, V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 0), LbVerdict::Drop(DropReason::NoDest));
        assert_eq!(c.sessions_live(), 0);
        assert_eq!(conns_of(&r, 0), (0, 0));

        // Table of one session.
        let r = rules(Protocol::Tcp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        let mut c = ctx(&r, 0, 1, 1);
        let mut p = tcp(C, V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        let mut p = tcp((C.0, 2), V, SYN, 1, 0, &[]);
        let orig = p.clone();
        assert_eq!(
            c.process(&mut p, 0),
            LbVerdict::Drop(DropReason::SessionTableFull)
        );
        assert_eq!(p, orig);
        assert_eq!(c.counter("sessions_table_full"), Some(1));
        assert_eq!(conns_of(&r, 0), (0, 1));
        assert_eq!(listing(&r).stats.conns, 1);
        // TTL 1 on a new flow and on a session: dropped untouched.
        let mut p = testpkt::tcp(C, V, 1, ACK, 2, 1, &[]);
        assert_eq!(
            c.process(&mut p, 0),
            LbVerdict::Drop(DropReason::Ipv4TtlExpired)
        );
        // SYN+RST does not start a session.
        let r2 = rules(Protocol::Tcp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        let mut c2 = ctx(&r2, 0, 1, 4);
        let mut p = tcp(C, V, SYN | RST, 1, 0, &[]);
        assert_eq!(
            c2.process(&mut p, 0),
            LbVerdict::Drop(DropReason::TcpBadFlags)
        );

        // Worker 0 of 64000 owns one local port (64000): the second FULLNAT flow has none.
        let r = rules(Protocol::Tcp, "rr", &[(R1, FwdMethod::FullNat, 1)]);
        let mut c = ctx(&r, 0, 64000, 4);
        let mut p = tcp(C, V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        assert_eq!(parse_valid(&p).0, (L1, 64000));
        let mut p = tcp((C.0, 2), V, SYN, 1, 0, &[]);
        assert_eq!(
            c.process(&mut p, 0),
            LbVerdict::Drop(DropReason::NoLocalPort)
        );
        assert_eq!(c.sessions_live(), 1);

        // Malformed TCP header inside a valid IP packet.
        let mut p = tcp(C, V, SYN, 1, 0, &[]);
        p[32] = 0x20; // data offset 2
        assert_eq!(
            c.process(&mut p, 0),
            LbVerdict::Drop(DropReason::TcpMalformed)
        );
    }

    /// Crafted segments never open a session nor reach a real server: bad flags, bad checksums,
    /// SYN+ACK without a session. A valid SYN afterwards still works; a bad checksum on an
    /// established session is dropped too, and the session survives.
    #[test]
    fn hostile_segments_open_nothing() {
        let r = rules(Protocol::Tcp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        let mut c = ctx(&r, 0, 1, 16);
        let cases: [(u8, DropReason); 6] = [
            (SYN | FIN, DropReason::TcpBadFlags),
            (SYN | RST, DropReason::TcpBadFlags),
            (0, DropReason::TcpBadFlags),
            (FIN | PSH | 0x20, DropReason::TcpBadFlags),
            (FIN, DropReason::TcpBadFlags),
            (SYN | ACK, DropReason::NoSession),
        ];
        for (flags, why) in cases {
            let mut p = tcp(C, V, flags, 1, 0, &[]);
            let orig = p.clone();
            assert_eq!(c.process(&mut p, 0), LbVerdict::Drop(why), "{flags:#04x}");
            assert_eq!(p, orig);
        }
        // A SYN with a wrong checksum (last byte of the TCP checksum flipped).
        let mut p = tcp(C, V, SYN, 1, 0, b"x");
        let n = p.len();
        p[20 + 17] ^= 0x01;
        let _ = n;
        assert_eq!(
            c.process(&mut p, 0),
            LbVerdict::Drop(DropReason::TcpBadChecksum)
        );
        assert_eq!(c.sessions_live(), 0);
        assert_eq!(c.counter("sessions_created"), Some(0));
        assert_eq!(listing(&r).stats.conns, 0);
        // The valid SYN opens the session; a corrupt segment of it is dropped, the session lives on.
        fwd(
            &mut c,
            0,
            tcp(C, V, SYN, 1, 0, &[]),
            tcp(C, R1, SYN, 1, 0, &[]),
        );
        let mut p = tcp(C, V, ACK, 2, 1, b"data");
        p[20 + 16] ^= 0x80;
        assert_eq!(
            c.process(&mut p, 0),
            LbVerdict::Drop(DropReason::TcpBadChecksum)
        );
        assert_eq!(c.sessions_live(), 1);
        assert_eq!(c.counter("lb_packets_in"), Some(1));
        fwd(
            &mut c,
            0,
            tcp(C, V, ACK, 2, 1, b"data"),
            tcp(C, R1, ACK, 2, 1, b"data"),
        );
        // UDP: a wrong checksum is dropped, a zero checksum (none) is accepted.
        let r = rules(Protocol::Udp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        let mut c = ctx(&r, 0, 1, 16);
        let mut p = testpkt::udp(C, V, 64, b"query");
        p[20 + 7] ^= 0x01;
        assert_eq!(
            c.process(&mut p, 0),
            LbVerdict::Drop(DropReason::UdpBadChecksum)
        );
        assert_eq!(c.sessions_live(), 0);
        let mut p = testpkt::udp(C, V, 64, b"query");
        p[20 + 6] = 0;
        p[20 + 7] = 0;
        assert_eq!(c.process(&mut p, 0), FWD);
        assert_eq!(c.sessions_live(), 1);
    }

    /// The prefetch hint hashes a TCP/UDP frame's flow as the session index does, and gives up on
    /// anything else (not IPv4, IPv4 options, another protocol, too short).
    #[test]
    fn flow_hash_hint_matches_the_index_hash() {
        let eth = |ip: &[u8]| {
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&[0x08, 0x00]);
            f.extend_from_slice(ip);
            f
        };
        let t = tcp(C, V, SYN, 1, 0, &[]);
        let want = FlowKey::v4(PROTO_TCP, C.0, C.1, V.0, V.1).hash();
        assert_eq!(flow_hash_hint(&eth(&t)), Some(want));
        let u = testpkt::udp(R1, C, 64, b"x");
        let want = FlowKey::v4(PROTO_UDP, R1.0, R1.1, C.0, C.1).hash();
        assert_eq!(flow_hash_hint(&eth(&u)), Some(want));
        assert_eq!(flow_hash_hint(&eth(&t)[..37]), None, "too short");
        let mut arp = eth(&t);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(flow_hash_hint(&arp), None);
        let mut opts = eth(&t);
        opts[14] = 0x46;
        assert_eq!(flow_hash_hint(&opts), None);
        let mut icmp = eth(&t);
        icmp[23] = 1;
        assert_eq!(flow_hash_hint(&icmp), None);
    }

    /// The checksum policy (module doc): without a verdict from the port, an established
    /// session's plain ACK/data segment with a wrong checksum is forwarded and its checksum stays
    /// wrong (only the checksum bytes differ from the right rewrite); a wrong SYN, FIN or RST of the
    /// session is dropped and changes nothing; a wrong UDP datagram of a flow is forwarded, still
    /// wrong. With the port's verdict: Bad drops whatever the packet, Good is not summed again.
    #[test]
    fn checksum_policy() {
        let r = rules(Protocol::Tcp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        let mut c = ctx(&r, 0, 1, 16);
        fwd(
            &mut c,
            0,
            tcp(C, V, SYN, 1, 0, &[]),
            tcp(C, R1, SYN, 1, 0, &[]),
        );
        fwd(
            &mut c,
            0,
            tcp(C, V, ACK, 2, 1, &[]),
            tcp(C, R1, ACK, 2, 1, &[]),
        );
        assert_eq!(conns_of(&r, 0), (1, 0), "established");
        // Plain data segment, checksum's high byte flipped: forwarded, still wrong.
        let mut p = tcp(C, V, ACK | PSH, 2, 1, b"data");
        p[20 + 16] ^= 0x80;
        assert_eq!(c.process(&mut p, 0), FWD);
        let want = tcp(C, R1, ACK | PSH, 2, 1, b"data");
        assert_eq!(p[..36], want[..36]);
        assert_eq!(p[38..], want[38..]);
        assert_ne!(p[36..38], want[36..38], "the checksum stays wrong");
        assert_eq!(c.counter("lb_packets_in"), Some(3));
        // FIN and RST with a wrong checksum: dropped, the state stays ESTABLISHED.
        for flags in [FIN | ACK, RST] {
            let mut p = tcp(C, V, flags, 6, 1, &[]);
            p[20 + 17] ^= 0x01;
            assert_eq!(
                c.process(&mut p, 0),
                LbVerdict::Drop(DropReason::TcpBadChecksum),
                "{flags:#04x}"
            );
        }
        assert_eq!(conns_of(&r, 0), (1, 0), "still established");
        assert_eq!(c.counter("lb_packets_in"), Some(3));
        // The port's verdict: Bad drops even a plain ACK; Good skips the sum (a wrong FIN that the
        // port calls good is taken: the port is trusted).
        let mut p = tcp(C, V, ACK, 6, 1, &[]);
        let h = Ipv4Packet::new_checked(&p[..]).unwrap().fields();
        assert_eq!(
            c.process_v4(&mut p, &h, RxL4Csum::Bad, 0),
            LbVerdict::Drop(DropReason::TcpBadChecksum)
        );
        let mut p = tcp(C, V, FIN | ACK, 6, 1, &[]);
        p[20 + 17] ^= 0x01;
        assert_eq!(c.process_v4(&mut p, &h, RxL4Csum::Good, 0), FWD);
        assert_eq!(conns_of(&r, 0), (0, 1), "FIN taken: no longer active");
        // A new flow the port calls bad opens nothing.
        let mut p = tcp((C.0, C.1 + 1), V, SYN, 1, 0, &[]);
        assert_eq!(
            c.process_v4(&mut p, &h, RxL4Csum::Bad, 0),
            LbVerdict::Drop(DropReason::TcpBadChecksum)
        );
        assert_eq!(c.sessions_live(), 1);
        // UDP: a flow's later datagram with a wrong checksum is forwarded, still wrong.
        let r = rules(Protocol::Udp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        let mut c = ctx(&r, 0, 1, 16);
        fwd(
            &mut c,
            0,
            testpkt::udp(C, V, 64, b"q1"),
            testpkt::udp(C, R1, 64, b"q1"),
        );
        let mut p = testpkt::udp(C, V, 64, b"q2");
        p[20 + 7] ^= 0x01;
        assert_eq!(c.process(&mut p, 0), FWD);
        let want = testpkt::udp(C, R1, 64, b"q2");
        assert_eq!(p[..26], want[..26]);
        assert_ne!(p[26..28], want[26..28]);
        assert_eq!(c.counter("lb_packets_in"), Some(2));
    }

    /// Allow/deny lists and the connection limit refuse new connections before scheduling (nothing
    /// bound, no session, the rr cursor untouched), count them per service and per lcore drop
    /// reason, never touch live sessions, and admit again once connections go.
    #[test]
    fn access_control_and_connection_limit() {
        use rvs_control::proto::{AclAction, AclSpec, ApiError};
        let mut r = rules(
            Protocol::Tcp,
            "rr",
            &[(R1, FwdMethod::Masq, 1), (R2, FwdMethod::Masq, 1)],
        );
        let k = key(Protocol::Tcp);
        let acl = |action, a: [u8; 4], prefix| AclSpec {
            action,
            addr: Ipv4Addr::from(a).into(),
            prefix,
        };
        let allow = acl(AclAction::Allow, [10, 10, 0, 0], 24);
        let deny = acl(AclAction::Deny, [10, 10, 0, 66], 32);
        r.apply(&Request::AddAcl(k, allow)).unwrap();
        r.apply(&Request::AddAcl(k, deny)).unwrap();
        // Refusals of the rule set change nothing.
        let gen = r.generation();
        for (req, e) in [
            (Request::AddAcl(k, allow), ApiError::AclExists),
            (
                Request::DelAcl(k, acl(AclAction::Deny, [10, 10, 0, 67], 32)),
                ApiError::NoSuchAcl,
            ),
            (
                Request::AddAcl(ServiceKey { port: 1, ..k }, deny),
                ApiError::NoSuchService,
            ),
        ] {
            assert_eq!(r.apply(&req), Err(e));
        }
        assert!(matches!(
            r.apply(&Request::AddAcl(
                k,
                acl(AclAction::Deny, [10, 10, 0, 1], 24)
            )),
            Err(ApiError::Invalid(_))
        ));
        assert_eq!(r.generation(), gen);
        let mut c = ctx(&r, 0, 1, 16);
        let denied = |c: &mut LbCtx, src: [u8; 4], cport| {
            let mut p = tcp((Ipv4Addr::from(src), cport), V, SYN, 1, 0, &[]);
            let orig = p.clone();
            let v = c.process(&mut p, 0);
            assert_eq!(p, orig);
            v
        };
        assert_eq!(
            denied(&mut c, [10, 10, 0, 66], 1),
            LbVerdict::Drop(DropReason::AclDenied)
        );
        assert_eq!(
            denied(&mut c, [10, 10, 1, 2], 1),
            LbVerdict::Drop(DropReason::AclDenied)
        );
        assert_eq!(c.sessions_live(), 0);
        // The allowed client is scheduled rr from the start: the refusals did not move the cursor.
        let mut p = tcp(C, V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        assert_eq!(parse_valid(&p).1, R1);
        let s = listing(&r);
        assert_eq!((s.acl_denied, s.conn_limited), (2, 0));
        assert_eq!(s.acl, vec![allow, deny]);

        // Deny the established client now: its session goes on, its new connections are refused.
        r.apply(&Request::AddAcl(
            k,
            acl(AclAction::Deny, [10, 10, 0, 2], 32),
        ))
        .unwrap();
        c.set_snapshot(r.snapshot());
        let mut p = tcp(C, V, ACK, 2, 1, &[]);
        assert_eq!(c.process(&mut p, 1), FWD);
        assert_eq!(
            denied(&mut c, [10, 10, 0, 2], 2),
            LbVerdict::Drop(DropReason::AclDenied)
        );
        assert_eq!(
            listing(&r).acl_denied,
            3,
            "counters survive snapshot rebuilds"
        );

        // Connection limit 2 (the live session counts): one more, then refused until one expires.
        r.apply(&Request::DelAcl(
            k,
            acl(AclAction::Deny, [10, 10, 0, 2], 32),
        ))
        .unwrap();
        r.apply(&Request::SetConnLimit(k, 2)).unwrap();
        c.set_snapshot(r.snapshot());
        let mut p = tcp((C.0, 3), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 2), FWD);
        assert_eq!(
            denied(&mut c, [10, 10, 0, 3], 4),
            LbVerdict::Drop(DropReason::ConnLimit)
        );
        assert_eq!(listing(&r).conn_limited, 1);
        assert_eq!(listing(&r).conn_limit, 2);
        // The SYN_RECV one expires after 60 s: room again.
        assert_eq!(c.expire(60_002, 16), 1);
        let mut p = tcp((C.0, 5), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 60_002), FWD);
        // Limit 0: none.
        r.apply(&Request::SetConnLimit(k, 0)).unwrap();
        c.set_snapshot(r.snapshot());
        let mut p = tcp((C.0, 6), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 60_002), FWD);
    }

    /// Worker 0 of 32000 owns two local ports (32000, 64000): a third FULLNAT flow is refused and
    /// counted without evicting anything, the established flows keep forwarding, and once one
    /// expires its port serves a new flow.
    #[test]
    fn full_local_port_pool_refuses_then_recovers() {
        let r = rules(Protocol::Tcp, "rr", &[(R1, FwdMethod::FullNat, 1)]);
        let mut c = ctx(&r, 0, 32000, 16);
        let mut ports = Vec::new();
        for cport in [1u16, 2] {
            let mut p = tcp((C.0, cport), V, SYN, 1, 0, &[]);
            assert_eq!(c.process(&mut p, 0), FWD);
            ports.push(parse_valid(&p).0 .1);
        }
        ports.sort_unstable();
        assert_eq!(ports, vec![32000, 64000]);
        // Establish flow 1 (900 s); flow 2 stays in SYN_RECV (60 s).
        let mut p = tcp((C.0, 1), V, ACK, 2, 1, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        for cport in 3..20u16 {
            let mut p = tcp((C.0, cport), V, SYN, 1, 0, &[]);
            let orig = p.clone();
            assert_eq!(
                c.process(&mut p, 10),
                LbVerdict::Drop(DropReason::NoLocalPort)
            );
            assert_eq!(p, orig);
        }
        assert_eq!(c.sessions_live(), 2);
        assert_eq!(c.counter("sessions_created"), Some(2));
        // No dest count leaked by the refusals.
        assert_eq!(conns_of(&r, 0), (1, 1));
        let mut p = tcp((C.0, 1), V, ACK | PSH, 2, 1, b"still here");
        assert_eq!(c.process(&mut p, 20), FWD);
        // Flow 2 expires: its port goes to the next new flow.
        assert_eq!(c.expire(60_000, 16), 1);
        let mut p = tcp((C.0, 3), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 60_000), FWD);
        assert_eq!(c.sessions_live(), 2);
    }

    #[test]
    fn deleted_dest_drops_its_sessions_and_expires_them() {
        let mut r = rules(
            Protocol::Tcp,
            "rr",
            &[(R1, FwdMethod::Masq, 1), (R2, FwdMethod::Masq, 1)],
        );
        let mut c = ctx(&r, 0, 1, 16);
        let mut p = tcp(C, V, SYN, 1, 0, &[]);
        c.process(&mut p, 0);
        assert_eq!(parse_valid(&p).1, R1);
        let dc = c.snapshot().services()[0].dests[0].counters.clone();
        r.apply(&Request::DelDest(key(Protocol::Tcp), R1.0.into(), R1.1))
            .unwrap();
        c.set_snapshot(r.snapshot());
        let mut p = tcp(C, V, ACK, 2, 1, &[]);
        let orig = p.clone();
        assert_eq!(
            c.process(&mut p, 100),
            LbVerdict::Drop(DropReason::DestDeleted)
        );
        assert_eq!(p, orig);
        assert_eq!(c.expire(100, 16), 1);
        assert_eq!(dc.inactive.load(std::sync::atomic::Ordering::Relaxed), 0);
        // The same client port now starts a new session on R2.
        let mut p = tcp(C, V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 100), FWD);
        assert_eq!(parse_valid(&p).1, R2);
    }

    /// Take the connection from client port `cport` (on `rs`) through the handshake and both FINs
    /// (server first) to TIME_WAIT at `t`.
    fn to_time_wait(c: &mut LbCtx, cport: u16, rs: (Ipv4Addr, u16), t: u64) {
        let cl = (C.0, cport);
        let seg = |c: &mut LbCtx, p: Vec<u8>| {
            let mut p = p;
            assert_eq!(c.process(&mut p, t), FWD);
        };
        seg(c, tcp(cl, V, SYN, 1, 0, &[]));
        seg(c, tcp(rs, cl, SYN | ACK, 9, 2, &[]));
        seg(c, tcp(cl, V, ACK, 2, 10, &[]));
        seg(c, tcp(rs, cl, FIN | ACK, 10, 2, &[]));
        seg(c, tcp(cl, V, FIN | ACK, 2, 11, &[]));
    }

    #[test]
    fn syn_on_a_closed_session_starts_a_new_connection() {
        let mut r = rules(
            Protocol::Tcp,
            "rr",
            &[(R1, FwdMethod::Masq, 1), (R2, FwdMethod::Masq, 1)],
        );
        let mut c = ctx(&r, 0, 1, 16);
        // Client port 1 goes to R1, port 2 to R2 (rr); port 2 reaches TIME_WAIT first, so port 1's
        // session is not at the head of the TIME_WAIT expiry list.
        let mut p = tcp((C.0, 1), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        assert_eq!(parse_valid(&p).1, R1);
        to_time_wait(&mut c, 2, R2, 10);
        to_time_wait(&mut c, 1, R1, 20);
        assert_eq!(c.sessions_live(), 2);
        assert_eq!(c.counter("sessions_created"), Some(2));
        let r1 = c.snapshot().services()[0].dests[0].counters.clone();
        r.apply(&Request::DelDest(key(Protocol::Tcp), R1.0.into(), R1.1))
            .unwrap();
        c.set_snapshot(r.snapshot());
        // A late ACK of the old connection is still dropped.
        let mut p = tcp((C.0, 1), V, ACK, 3, 11, &[]);
        assert_eq!(
            c.process(&mut p, 30),
            LbVerdict::Drop(DropReason::DestDeleted)
        );
        // The client reuses port 1 for a new connection: the SYN is scheduled (to R2), not dropped.
        let mut p = tcp((C.0, 1), V, SYN, 1000, 0, &[]);
        assert_eq!(c.process(&mut p, 31), FWD);
        assert_eq!(parse_valid(&p).1, R2);
        assert_eq!(r1.total(), 0);
        assert_eq!(c.counter("sessions_created"), Some(3));
        assert_eq!(c.counter("sessions_expired"), Some(1));
        assert_eq!(c.sessions_live(), 2);
        assert_eq!(conns_of(&r, 0), (0, 2));
        // A SYN on the TIME_WAIT session of a live dest starts a new session too (rr picks R2 again).
        let mut p = tcp((C.0, 2), V, SYN, 2000, 0, &[]);
        assert_eq!(c.process(&mut p, 32), FWD);
        assert_eq!(parse_valid(&p).1, R2);
        assert_eq!(c.counter("sessions_created"), Some(4));
        assert_eq!(c.counter("sessions_expired"), Some(2));
        assert_eq!(c.sessions_live(), 2);
        let mut v = Vec::new();
        c.conns(32, 0, &mut v);
        let mut states: Vec<_> = v.iter().map(|i| i.state.clone()).collect();
        states.sort();
        assert_eq!(states, ["SYN_RECV", "SYN_RECV"]);
        // A SYN retransmitted on an open session is replayed, not a new connection.
        let mut p = tcp((C.0, 2), V, SYN, 2000, 0, &[]);
        assert_eq!(c.process(&mut p, 33), FWD);
        assert_eq!(c.counter("sessions_created"), Some(4));
    }

    #[test]
    fn thresholds_skip_an_overloaded_dest_until_its_sessions_go() {
        let mut r = rules(
            Protocol::Tcp,
            "rr",
            &[(R1, FwdMethod::Masq, 1), (R2, FwdMethod::Masq, 1)],
        );
        let mut d = dest(R1, FwdMethod::Masq, 1);
        d.u_threshold = 2;
        r.apply(&Request::EditDest(key(Protocol::Tcp), d)).unwrap();
        let mut c = ctx(&r, 0, 1, 16);
        let mut to = Vec::new();
        for cport in 1..=6u16 {
            let mut p = tcp((C.0, cport), V, SYN, 1, 0, &[]);
            assert_eq!(c.process(&mut p, 0), FWD);
            to.push(parse_valid(&p).1);
        }
        // R1 takes 2 then is overloaded (u_threshold 2): R1 R2 R1 R2 R2 R2.
        assert_eq!(to, vec![R1, R2, R1, R2, R2, R2]);
        assert!(c.snapshot().services()[0].dests[0].is_overloaded());
        assert_eq!(conns_of(&r, 0), (0, 2));
        // The sessions (SYN_RECV, 60 s) expire: R1 falls to 0 < 3/4 * 2 and is used again.
        assert_eq!(c.expire(60_000, 16), 6);
        assert!(!c.snapshot().services()[0].dests[0].is_overloaded());
        let mut p = tcp((C.0, 7), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 60_000), FWD);
        assert_eq!(parse_valid(&p).1, R1);
    }

    #[test]
    fn lblc_cache_survives_snapshot_changes() {
        let mut r = rules(
            Protocol::Tcp,
            "lblc",
            &[(R1, FwdMethod::Masq, 1), (R2, FwdMethod::Masq, 1)],
        );
        let mut c = ctx(&r, 0, 1, 16);
        let mut p = tcp((C.0, 1), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        assert_eq!(parse_valid(&p).1, R1);
        // R1 more loaded than R2 now, but lblc keeps the VIP's cached dest, across a rule change too.
        r.apply(&Request::EditDest(
            key(Protocol::Tcp),
            dest(R2, FwdMethod::Masq, 1),
        ))
        .unwrap();
        c.set_snapshot(r.snapshot());
        let mut p = tcp((C.0, 2), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        assert_eq!(parse_valid(&p).1, R1);
        // Deleting R1 drops its cache entry: wlc picks R2.
        r.apply(&Request::DelDest(key(Protocol::Tcp), R1.0.into(), R1.1))
            .unwrap();
        c.set_snapshot(r.snapshot());
        let mut p = tcp((C.0, 3), V, SYN, 1, 0, &[]);
        assert_eq!(c.process(&mut p, 0), FWD);
        assert_eq!(parse_valid(&p).1, R2);
    }

    #[test]
    fn set_timeouts_apply_to_new_refreshes() {
        let mut r = rules(Protocol::Tcp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        r.apply(&Request::SetTimeouts(Timeouts {
            tcp: 30,
            tcp_fin: 0,
            udp: 0,
        }))
        .unwrap();
        let mut c = ctx(&r, 0, 1, 4);
        let mut p = tcp(C, V, SYN, 1, 0, &[]);
        c.process(&mut p, 0);
        let mut p = tcp(C, V, ACK, 2, 1, &[]);
        c.process(&mut p, 0);
        assert_eq!(state_of(&c, 0), ("ESTABLISHED".into(), 30));
        assert_eq!(state_of(&c, 10_500), ("ESTABLISHED".into(), 19));
        assert_eq!(c.expire(30_000, 4), 1);
        assert_eq!(conns_of(&r, 0), (0, 0));
    }

    /// Paging walks every slot exactly once: pages of at most `max` entries and `scan` slots, in slot
    /// order, together equal to `conns()`; a sparse table still ends after capacity/scan pages.
    #[test]
    fn conns_pages_cover_the_table_with_bounded_work() {
        let r = rules(Protocol::Udp, "rr", &[(R1, FwdMethod::Masq, 1)]);
        let mut c = ctx(&r, 0, 1, 100);
        for i in 0..37u16 {
            let mut p = testpkt::udp((C.0, 20000 + i), V, 64, b"q");
            assert_eq!(c.process(&mut p, 0), FWD);
        }
        let mut all = Vec::new();
        c.conns(1000, 3, &mut all);
        assert_eq!(all.len(), 37);
        for (max, scan) in [(5, 1000), (1000, 7), (4, 9), (1, 1)] {
            let (mut got, mut cursor, mut pages) = (Vec::new(), Some(0u64), 0);
            while let Some(cur) = cursor {
                let before = got.len();
                cursor = c.conns_page(1000, 3, cur, max, scan, &mut got);
                assert!(got.len() - before <= max);
                if let Some(next) = cursor {
                    assert!(next > cur && next - cur <= scan as u64);
                }
                pages += 1;
                assert!(pages <= 200, "paging does not end");
            }
            assert_eq!(got, all, "max {max} scan {scan}");
        }
        // Past the end: nothing, and the end is reported.
        let mut v = Vec::new();
        assert_eq!(c.conns_page(0, 3, 10_000, 10, 10, &mut v), None);
        assert!(v.is_empty());
        // The first entry carries the ipvsadm columns.
        assert_eq!(all[0].state, "UDP");
        assert_eq!(all[0].lcore, 3);
        assert_eq!(all[0].virt, (V.0.into(), V.1));
        assert_eq!(all[0].dest, (R1.0.into(), R1.1));
    }
}
