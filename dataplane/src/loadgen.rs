//! Synthetic traffic for benchmarks: a two-port lab (clients behind a gateway on port 0, real
//! servers on port 1), one TCP service in NAT, FULLNAT or direct-routing mode, and a frame
//! [`Generator`] for N flows in either direction.
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
}

impl LbMode {
    /// Lower-case name (`nat`, `fullnat`, `dr`).
    pub fn name(self) -> &'static str {
        match self {
            LbMode::Nat => "nat",
            LbMode::FullNat => "fullnat",
            LbMode::Dr => "dr",
        }
    }

    /// Parse [`LbMode::name`].
    pub fn from_name(s: &str) -> Option<LbMode> {
        [LbMode::Nat, LbMode::FullNat, LbMode::Dr]
            .into_iter()
            .find(|m| m.name() == s)
    }

    fn fwd(self) -> FwdMethod {
        match self {
            LbMode::Nat => FwdMethod::Masq,
            LbMode::FullNat => FwdMethod::FullNat,
            LbMode::Dr => FwdMethod::Route,
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
                port: if mode == LbMode::Dr { VPORT } else { RPORT },
                fwd: mode.fwd(),
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: TunnelType::Ipip,
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

/// The reply tuple of every flow `0..n`, from the worker's session listing. Flows without a session
/// keep `None`.
pub fn reply_table(conns: &[ConnInfo], n: u32) -> Vec<Option<ReplyTuple>> {
    let mut t = vec![None; n as usize];
    for c in conns {
        let (std::net::IpAddr::V4(cip), std::net::IpAddr::V4(rip)) = (c.client.0, c.dest.0) else {
            continue;
        };
        let Some(k) = flow_index(cip, c.client.1) else {
            continue;
        };
        let rs = u32::from(rip).wrapping_sub(u32::from(rs_ip(0)));
        let (dst, dport) = match c.local {
            Some((std::net::IpAddr::V4(l), lp)) => (l, lp),
            _ => (cip, c.client.1),
        };
        if let (Some(slot), Ok(rs)) = (t.get_mut(k as usize), u8::try_from(rs)) {
            *slot = Some(ReplyTuple { rs, dst, dport });
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
}
