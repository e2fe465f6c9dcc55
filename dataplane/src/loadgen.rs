//! Synthetic traffic for benchmarks: a two-port lab (clients behind a gateway on port 0, real
//! servers on port 1), one TCP service in NAT, FULLNAT, direct-routing or tunnel (IPIP, GUE, GRE)
//! mode, and a frame [`Generator`] for N flows in either direction.
//!
//! The criterion benches (over [`crate::port::MemIo`]), `rvs-bench` (over DPDK vdevs) and the
//! callgrind script all use this module, so their figures are taken on the same traffic.
//!
//! Invariants and choices:
//! - Frames are [`FRAME_LEN`] (64) bytes, the mbuf length of testpmd's `net_null`: Ethernet + IPv4 +
//!   TCP (no options, no payload) + 10 bytes of zero padding, with valid IPv4 and TCP checksums.
//! - Flow `k` is client [`flow_client`]`(k)` -> VIP:80; clients sit behind the gateway
//!   [`GATEWAY_IP`] (route `10.128.0.0/9`), so the whole client side is one neighbour, as behind a
//!   router; real servers are on-link on port 1.
//! - Random order is a xorshift64* stream (seeded, so repeatable) reduced to `0..n` by a multiply:
//!   flows are touched in random order with repetition, as independent arrivals.
//! - With several workers, [`rss_queue`] spreads flows over rx queues as a NIC's RSS would (Toeplitz
//!   over the IPv4 4-tuple with the usual 40-byte key, a 128-entry round-robin indirection table),
//!   and [`Traffic::Flows`] sends only the flows one queue receives.
//! - Nothing here is on the dataplane's hot path; building a frame costs about as much as a NIC's
//!   DMA write makes the data hot in cache, which is what benchmarks subtract (see `rvs-bench`).

use std::net::Ipv4Addr;
use std::sync::Arc;

use rvs_control::proto::{
    ConnInfo, DestSpec, FwdMethod, LaddrSpec, Protocol, Request, ServiceKey, ServiceSpec,
    TunnelCsum, TunnelType,
};

use crate::checksum;
use crate::rules::Rules;
use crate::wire::{arp, ethernet};
use crate::worker::{PortConf, RouteConf, WorkerConf};

/// Length of every generated IPv4 frame (what `net_null` hands out by default).
pub const FRAME_LEN: usize = 64;
/// The VIP.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);
/// The virtual port.
pub const VPORT: u16 = 80;
/// The real servers' port.
pub const RPORT: u16 = 8080;
/// rvs's address on port 0 (client side).
pub const P0_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 1);
/// rvs's address on port 1 (real-server side).
pub const P1_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 1);
/// The router in front of the clients (port 0).
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 254);
/// The router's MAC.
pub const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x00, 0xfe];
/// Port MACs used with in-memory ports (DPDK ports have their own).
pub const MEM_PORT_MACS: [[u8; 6]; 2] = [[0x02, 0, 0, 0, 0, 0x01], [0x02, 0, 0, 0, 1, 0x01]];
/// Number of real servers.
pub const N_RS: u8 = 8;
/// Client ports used per client address.
pub const PORTS_PER_CLIENT: u32 = 50_000;
/// First client port.
pub const FIRST_CPORT: u16 = 10_000;
/// Local ports a local address offers one worker (1024..=65535).
const LPORTS_PER_LADDR: usize = 64_512;

/// TCP flags.
pub mod tcp_flags {
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// The forwarding method of the benchmark's real servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbMode {
    /// NAT (`-m`).
    Nat,
    /// FULLNAT (`--fullnat`), with enough local addresses for the sessions.
    FullNat,
    /// Direct routing (`-g`): only the client's direction passes through us.
    Dr,
    /// IPIP tunnel (`-i`): only the client's direction passes through us, encapsulated.
    Tun,
    /// GUE tunnel (`-i --tun-type gue`, UDP port [`GUE_PORT`]).
    TunGue,
    /// GRE tunnel (`-i --tun-type gre`).
    TunGre,
}

/// The UDP port of the GUE real servers.
pub const GUE_PORT: u16 = 6080;

impl LbMode {
    /// Every mode, in the order benchmarks list them.
    pub const ALL: [LbMode; 6] = [
        LbMode::Nat,
        LbMode::FullNat,
        LbMode::Dr,
        LbMode::Tun,
        LbMode::TunGue,
        LbMode::TunGre,
    ];

    /// Lower-case name (`nat`, `fullnat`, `dr`, `tun`, `tungue`, `tungre`).
    pub fn name(self) -> &'static str {
        match self {
            LbMode::Nat => "nat",
            LbMode::FullNat => "fullnat",
            LbMode::Dr => "dr",
            LbMode::Tun => "tun",
            LbMode::TunGue => "tungue",
            LbMode::TunGre => "tungre",
        }
    }

    /// Parse [`LbMode::name`].
    pub fn from_name(s: &str) -> Option<LbMode> {
        LbMode::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Whether the real servers' replies pass through the balancer (NAT, FULLNAT), so that an
    /// `out` direction exists.
    pub fn has_replies(self) -> bool {
        matches!(self, LbMode::Nat | LbMode::FullNat)
    }

    fn fwd(self) -> FwdMethod {
        match self {
            LbMode::Nat => FwdMethod::Masq,
            LbMode::FullNat => FwdMethod::FullNat,
            LbMode::Dr => FwdMethod::Route,
            LbMode::Tun | LbMode::TunGue | LbMode::TunGre => FwdMethod::Tunnel,
        }
    }

    fn tun_type(self) -> TunnelType {
        match self {
            LbMode::TunGue => TunnelType::Gue { port: GUE_PORT },
            LbMode::TunGre => TunnelType::Gre,
            _ => TunnelType::Ipip,
        }
    }
}

/// Real server `i` (0-based): `10.10.1.(2+i)`.
pub fn rs_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 10, 1, 2 + i)
}

/// Real server `i`'s MAC.
pub fn rs_mac(i: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0x01, 0x10 + i]
}

/// Local address `i` (0-based): `10.10.9.(1+i)`, then `10.10.10.x`...
pub fn laddr(i: usize) -> Ipv4Addr {
    let v = u32::from(Ipv4Addr::new(10, 10, 9, 1)) + i as u32;
    Ipv4Addr::from(v)
}

/// Local addresses FULLNAT needs for `sessions` sessions on one worker (at least 1, at most 250).
pub fn laddrs_for(sessions: usize) -> usize {
    (sessions / LPORTS_PER_LADDR + 1).clamp(1, 250)
}

/// Client address and port of flow `k`.
#[inline]
pub fn flow_client(k: u32) -> (Ipv4Addr, u16) {
    let ip = u32::from(Ipv4Addr::new(10, 128, 0, 0)) + k / PORTS_PER_CLIENT;
    (
        Ipv4Addr::from(ip),
        FIRST_CPORT + (k % PORTS_PER_CLIENT) as u16,
    )
}

/// Flow index of a client address and port (inverse of [`flow_client`]).
pub fn flow_index(ip: Ipv4Addr, port: u16) -> Option<u32> {
    let base = u32::from(Ipv4Addr::new(10, 128, 0, 0));
    let hi = u32::from(ip).checked_sub(base)?;
    let lo = u32::from(port.checked_sub(FIRST_CPORT)?);
    (lo < PORTS_PER_CLIENT).then_some(hi * PORTS_PER_CLIENT + lo)
}

/// The worker configuration of the lab: two ports with MACs `port_macs`, the clients' route, one
/// worker, busy polling, `max_sessions` sessions.
pub fn worker_conf(port_macs: [[u8; 6]; 2], max_sessions: usize) -> WorkerConf {
    WorkerConf {
        index: 0,
        lcore_id: 0,
        n_workers: 1,
        ports: vec![
            PortConf {
                mac: port_macs[0],
                addrs: vec![(P0_IP, 24)],
                mtu: 1500,
            },
            PortConf {
                mac: port_macs[1],
                addrs: vec![(P1_IP, 24)],
                mtu: 1500,
            },
        ],
        routes: vec![RouteConf {
            dest: Ipv4Addr::new(10, 128, 0, 0),
            prefix: 9,
            via: Some(GATEWAY_IP),
            port: 0,
        }],
        idle_backoff_us: 0,
        max_sessions,
    }
}

/// A rule-set error while building the lab (cannot happen with the constants above).
#[derive(Debug, thiserror::Error)]
#[error("lab rules: {0:?}")]
pub struct LabError(pub rvs_control::proto::ApiError);

/// The lab's rules: TCP VIP:80, round robin over [`N_RS`] real servers in `mode`, with enough local
/// addresses for `sessions` FULLNAT sessions.
///
/// # Errors
/// [`LabError`] when a request is refused.
pub fn rules(mode: LbMode, sessions: usize) -> Result<Rules, LabError> {
    let key = ServiceKey {
        proto: Protocol::Tcp,
        addr: VIP.into(),
        port: VPORT,
    };
    let mut r = Rules::new();
    r.apply(&Request::AddService(ServiceSpec {
        key,
        scheduler: "rr".into(),
        persistent: None,
        netmask_prefix: 32,
        sched_flags: 0,
        one_packet: false,
    }))
    .map_err(LabError)?;
    for i in 0..N_RS {
        r.apply(&Request::AddDest(
            key,
            DestSpec {
                addr: rs_ip(i).into(),
                port: if mode.has_replies() { RPORT } else { VPORT },
                fwd: mode.fwd(),
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: mode.tun_type(),
                tun_csum: TunnelCsum::NoCsum,
            },
        ))
        .map_err(LabError)?;
    }
    if mode == LbMode::FullNat {
        for i in 0..laddrs_for(sessions) {
            r.apply(&Request::AddLaddr(
                key,
                LaddrSpec {
                    addr: laddr(i).into(),
                },
            ))
            .map_err(LabError)?;
        }
    }
    Ok(r)
}

/// ARP requests that teach the worker its neighbours: the gateway on port 0 and every real server
/// on port 1, each asking for rvs's port address. (port, frame) pairs.
pub fn neighbour_frames() -> Vec<(u16, Vec<u8>)> {
    let mut out = vec![(0, arp_request(GATEWAY_MAC, GATEWAY_IP, P0_IP))];
    out.extend((0..N_RS).map(|i| (1, arp_request(rs_mac(i), rs_ip(i), P1_IP))));
    out
}

fn arp_request(sha: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + arp::PACKET_LEN];
    // Lengths are right by construction: these cannot fail.
    let _ = ethernet::emit(&mut f, ethernet::BROADCAST, sha, ethernet::ethertype::ARP);
    let _ = arp::emit_request(&mut f[ethernet::HEADER_LEN..], sha, spa, tpa);
    f
}

/// Write a 64-byte Ethernet/IPv4/TCP frame (no payload, zero padding, valid checksums) into
/// `frame[..FRAME_LEN]`. Returns false, writing nothing, when `frame` is shorter.
#[allow(clippy::too_many_arguments)]
pub fn write_tcp(
    frame: &mut [u8],
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    flags: u8,
    seq: u32,
) -> bool {
    let Some(f) = frame.get_mut(..FRAME_LEN) else {
        return false;
    };
    f[0..6].copy_from_slice(&eth_dst);
    f[6..12].copy_from_slice(&eth_src);
    f[12..14].copy_from_slice(&ethernet::ethertype::IPV4.to_be_bytes());
    let (ip, rest) = f[14..].split_at_mut(20);
    ip.copy_from_slice(&[
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    ip[12..16].copy_from_slice(&src.0.octets());
    ip[16..20].copy_from_slice(&dst.0.octets());
    let c = checksum::checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let (tcp, pad) = rest.split_at_mut(20);
    tcp[0..2].copy_from_slice(&src.1.to_be_bytes());
    tcp[2..4].copy_from_slice(&dst.1.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    let ack = if flags & tcp_flags::ACK != 0 { 1u32 } else { 0 };
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
    tcp[16..20].fill(0);
    let c = checksum::l4_checksum_v4(src.0, dst.0, 6, tcp);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    pad.fill(0);
    true
}

/// The reply direction of one session: what the real server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTuple {
    /// Real server (source).
    pub rs: u8,
    /// Destination: the client (NAT) or the local address (FULLNAT).
    pub dst: Ipv4Addr,
    /// Destination port.
    pub dport: u16,
}

/// The reply tuple of one listed session (`None` for a session that is not the lab's IPv4 traffic).
pub fn reply_of(c: &ConnInfo) -> Option<ReplyTuple> {
    let (std::net::IpAddr::V4(cip), std::net::IpAddr::V4(rip)) = (c.client.0, c.dest.0) else {
        return None;
    };
    let rs = u8::try_from(u32::from(rip).wrapping_sub(u32::from(rs_ip(0)))).ok()?;
    let (dst, dport) = match c.local {
        Some((std::net::IpAddr::V4(l), lp)) => (l, lp),
        _ => (cip, c.client.1),
    };
    Some(ReplyTuple { rs, dst, dport })
}

/// The reply tuple of every flow `0..n`, from the worker's session listing. Flows without a session
/// keep `None`.
pub fn reply_table(conns: &[ConnInfo], n: u32) -> Vec<Option<ReplyTuple>> {
    let mut t = vec![None; n as usize];
    for c in conns {
        let std::net::IpAddr::V4(cip) = c.client.0 else {
            continue;
        };
        let Some(k) = flow_index(cip, c.client.1) else {
            continue;
        };
        if let (Some(slot), Some(r)) = (t.get_mut(k as usize), reply_of(c)) {
            *slot = Some(r);
        }
    }
    t
}

/// What a [`Generator`] sends.
#[derive(Debug, Clone)]
pub enum Traffic {
    /// First packets (SYN) of new flows `next, next+1, ...` (port 0).
    NewFlows {
        /// The next flow index.
        next: u32,
    },
    /// SYN of flows `0..n` in order (port 0): session set-up.
    SynInOrder {
        /// Flows.
        n: u32,
    },
    /// ACKs of flows `0..n` in order (port 0): moves set-up sessions to ESTABLISHED.
    AckInOrder {
        /// Flows.
        n: u32,
    },
    /// ACKs from clients of flows `0..n`, in random order (port 0).
    In {
        /// Flows.
        n: u32,
    },
    /// ACKs from real servers to clients (NAT) or local addresses (FULLNAT), in random order over
    /// the flows of the table (port 1).
    Out {
        /// The flows' reply tuples (flows with `None` are skipped).
        replies: Arc<Vec<ReplyTuple>>,
    },
    /// Client packets (port 0) of these flows only: in list order (`random` false) or in random
    /// order with repetition (`random` true); `flags` are the TCP flags (SYN, ACK). What one worker's
    /// rx queue receives of [`Traffic::SynInOrder`], [`Traffic::AckInOrder`] or [`Traffic::In`].
    Flows {
        /// Flow indices.
        flows: Arc<Vec<u32>>,
        /// TCP flags.
        flags: u8,
        /// Random order.
        random: bool,
    },
    /// These frames on this port, round robin.
    Frames {
        /// Port.
        port: u16,
        /// Frames.
        frames: Arc<Vec<Vec<u8>>>,
    },
}

/// Writes the frames of a [`Traffic`] one by one.
#[derive(Debug, Clone)]
pub struct Generator {
    traffic: Traffic,
    port_macs: [[u8; 6]; 2],
    rng: u64,
    i: u64,
}

impl Generator {
    /// A generator of `traffic` towards ports with MACs `port_macs`, random order seeded by `seed`.
    pub fn new(traffic: Traffic, port_macs: [[u8; 6]; 2], seed: u64) -> Generator {
        Generator {
            traffic,
            port_macs,
            rng: seed | 1,
            i: 0,
        }
    }

    /// The port its frames arrive on.
    pub fn port(&self) -> u16 {
        match &self.traffic {
            Traffic::Out { .. } => 1,
            Traffic::Frames { port, .. } => *port,
            _ => 0,
        }
    }

    /// Frames written so far.
    pub fn written(&self) -> u64 {
        self.i
    }

    #[inline]
    fn next_random(&mut self, n: u32) -> u32 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32;
        ((r * u64::from(n)) >> 32) as u32
    }

    /// Write the next frame into `frame` (at least [`FRAME_LEN`] bytes); returns its length.
    #[inline]
    pub fn fill(&mut self, frame: &mut [u8]) -> usize {
        let seq = self.i as u32;
        self.i += 1;
        let p0 = self.port_macs[0];
        let p1 = self.port_macs[1];
        let vip = (VIP, VPORT);
        let (k, flags) = match &mut self.traffic {
            Traffic::NewFlows { next } => {
                let k = *next;
                *next = next.wrapping_add(1);
                (k, tcp_flags::SYN)
            }
            Traffic::SynInOrder { n } => ((seq % (*n).max(1)), tcp_flags::SYN),
            Traffic::AckInOrder { n } => ((seq % (*n).max(1)), tcp_flags::ACK),
            Traffic::In { n } => {
                let n = *n;
                (self.next_random(n), tcp_flags::ACK)
            }
            Traffic::Flows {
                flows,
                flags,
                random,
            } => {
                let (flows, flags, random) = (Arc::clone(flows), *flags, *random);
                let len = flows.len() as u32;
                let j = if random {
                    self.next_random(len)
                } else {
                    seq % len.max(1)
                };
                (flows.get(j as usize).copied().unwrap_or(0), flags)
            }
            Traffic::Out { replies } => {
                let replies = Arc::clone(replies);
                let n = replies.len() as u32;
                let r = replies[self.next_random(n) as usize];
                write_tcp(
                    frame,
                    p1,
                    rs_mac(r.rs),
                    (rs_ip(r.rs), RPORT),
                    (r.dst, r.dport),
                    tcp_flags::ACK,
                    seq,
                );
                return FRAME_LEN;
            }
            Traffic::Frames { frames, .. } => {
                let f = &frames[(seq as usize) % frames.len().max(1)];
                let n = f.len().min(frame.len());
                frame[..n].copy_from_slice(&f[..n]);
                return n;
            }
        };
        write_tcp(frame, p0, GATEWAY_MAC, flow_client(k), vip, flags, seq);
        FRAME_LEN
    }
}

/// The default RSS key of DPDK's drivers and testpmd (Microsoft's 40-byte Toeplitz key).
pub const RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Entries of the RSS indirection table (filled round robin over the queues, as drivers do).
pub const RSS_RETA_SIZE: u32 = 128;

/// The Toeplitz hash of `input` under [`RSS_KEY`] (what a NIC computes for RSS).
pub fn toeplitz(input: &[u8]) -> u32 {
    let key = u64::from_be_bytes([
        RSS_KEY[0], RSS_KEY[1], RSS_KEY[2], RSS_KEY[3], RSS_KEY[4], RSS_KEY[5], RSS_KEY[6],
        RSS_KEY[7],
    ]);
    // The top 32 bits of `window` are the key bits i..i+32 for input bit i; after each input byte
    // the low byte of the window (shifted empty) takes the next key byte.
    let mut window = key;
    let mut h = 0u32;
    for (i, &b) in input.iter().enumerate() {
        for bit in 0..8 {
            if b & (0x80 >> bit) != 0 {
                h ^= (window >> 32) as u32;
            }
            window <<= 1;
        }
        window |= u64::from(RSS_KEY.get(i + 8).copied().unwrap_or(0));
    }
    h
}

/// The rx queue (of `n_queues`) a NIC's RSS puts a TCP/IPv4 packet `src -> dst` in: Toeplitz over
/// source address, destination address, source port, destination port, then the indirection table.
pub fn rss_queue(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), n_queues: u32) -> u32 {
    let mut input = [0u8; 12];
    input[0..4].copy_from_slice(&src.0.octets());
    input[4..8].copy_from_slice(&dst.0.octets());
    input[8..10].copy_from_slice(&src.1.to_be_bytes());
    input[10..12].copy_from_slice(&dst.1.to_be_bytes());
    (toeplitz(&input) % RSS_RETA_SIZE) % n_queues.max(1)
}

/// The reply tuples of a listing, flows without a session left out (for [`Traffic::Out`]).
pub fn replies(conns: &[ConnInfo], n: u32) -> Arc<Vec<ReplyTuple>> {
    Arc::new(reply_table(conns, n).into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use crate::wire::tcp::TcpPacket;

    #[test]
    fn frames_are_valid_and_flows_invert() {
        let mut g = Generator::new(Traffic::In { n: 1000 }, MEM_PORT_MACS, 7);
        let mut f = [0u8; 128];
        for _ in 0..100 {
            assert_eq!(g.fill(&mut f), FRAME_LEN);
            let ip = Ipv4Packet::new_checked(&f[14..FRAME_LEN]).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!(ip.dst(), VIP);
            assert!(TcpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum_v4(ip.src(), ip.dst()));
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            let k = flow_index(ip.src(), tcp.src_port()).unwrap();
            assert!(k < 1000);
            assert_eq!(flow_client(k), (ip.src(), tcp.src_port()));
        }
        assert_eq!(flow_index(Ipv4Addr::new(10, 128, 0, 3), 9999), None);
        assert_eq!(flow_client(123_456), (Ipv4Addr::new(10, 128, 0, 2), 33_456));
        assert_eq!(laddrs_for(1_000_000), 16);
    }

    #[test]
    fn toeplitz_matches_the_published_verification_vector() {
        // Microsoft's RSS verification suite, IPv4 with TCP ports: 66.9.149.187:2794 ->
        // 161.142.100.80:1766 hashes to 0x51ccc178 (and 0x323e8fc2 over the addresses alone).
        let mut input = [0u8; 12];
        input[0..4].copy_from_slice(&[66, 9, 149, 187]);
        input[4..8].copy_from_slice(&[161, 142, 100, 80]);
        input[8..10].copy_from_slice(&2794u16.to_be_bytes());
        input[10..12].copy_from_slice(&1766u16.to_be_bytes());
        assert_eq!(toeplitz(&input), 0x51cc_c178);
        assert_eq!(toeplitz(&input[..8]), 0x323e_8fc2);
        let q = rss_queue(
            (Ipv4Addr::new(66, 9, 149, 187), 2794),
            (Ipv4Addr::new(161, 142, 100, 80), 1766),
            4,
        );
        assert_eq!(q, (0x51cc_c178 % 128) % 4);
    }

    #[test]
    fn flow_lists_send_only_their_flows() {
        let flows = Arc::new(vec![5u32, 77, 300]);
        let mut g = Generator::new(
            Traffic::Flows {
                flows: Arc::clone(&flows),
                flags: tcp_flags::SYN,
                random: false,
            },
            MEM_PORT_MACS,
            1,
        );
        let mut f = [0u8; 64];
        let mut seen = Vec::new();
        for _ in 0..6 {
            g.fill(&mut f);
            let ip = Ipv4Packet::new_checked(&f[14..FRAME_LEN]).unwrap();
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(tcp.syn() && !tcp.ack());
            seen.push(flow_index(ip.src(), tcp.src_port()).unwrap());
        }
        assert_eq!(seen, [5, 77, 300, 5, 77, 300]);
        let mut g = Generator::new(
            Traffic::Flows {
                flows,
                flags: tcp_flags::ACK,
                random: true,
            },
            MEM_PORT_MACS,
            1,
        );
        let mut counts = [0; 3];
        for _ in 0..3000 {
            g.fill(&mut f);
            let ip = Ipv4Packet::new_checked(&f[14..FRAME_LEN]).unwrap();
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            let k = flow_index(ip.src(), tcp.src_port()).unwrap();
            counts[[5, 77, 300].iter().position(|&x| x == k).unwrap()] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
