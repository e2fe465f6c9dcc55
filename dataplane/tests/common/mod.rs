//! Shared fixtures for the dataplane integration tests: the lab's ports and hosts, frame builders,
//! and worker construction over `MemIo`.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use crossbeam_channel::Sender;
use etherparse::PacketBuilder;
use rvs_dataplane::port::{MemIo, VecBuf};
use rvs_dataplane::worker::{
    handoff_mesh, Handoff, PortConf, RouteConf, Worker, WorkerConf, WorkerMsg,
};

/// Port MACs of rvsd in the lab.
pub const P0_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x00, 0x10];
pub const P1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x10];
pub const P2_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x10];
pub const P0_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 1);
pub const P1_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 1);
pub const P2_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 2, 1);
/// The client host.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x00, 0x02];
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 2);
/// Real server 1.
pub const RS1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x02];
pub const RS1_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 2);
pub const RS2_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x02];
pub const RS2_IP: Ipv4Addr = Ipv4Addr::new(10, 10, 2, 2);
/// The VIP and FULLNAT local addresses.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);
pub const LADDR1: Ipv4Addr = Ipv4Addr::new(10, 10, 9, 1);

pub fn lab_ports() -> Vec<PortConf> {
    vec![
        PortConf {
            mac: P0_MAC,
            addrs: vec![(P0_IP, 24)],
            mtu: 1500,
        },
        PortConf {
            mac: P1_MAC,
            addrs: vec![(P1_IP, 24)],
            mtu: 1500,
        },
        PortConf {
            mac: P2_MAC,
            addrs: vec![(P2_IP, 24)],
            mtu: 1500,
        },
    ]
}

pub fn lab_routes() -> Vec<RouteConf> {
    vec![RouteConf {
        dest: Ipv4Addr::new(10, 20, 0, 0),
        prefix: 16,
        via: Some(Ipv4Addr::new(10, 10, 1, 254)),
        port: 1,
    }]
}

pub fn conf(index: usize, n_workers: usize) -> WorkerConf {
    WorkerConf {
        index,
        lcore_id: index as u32 + 1,
        n_workers,
        ports: lab_ports(),
        routes: lab_routes(),
        idle_backoff_us: 0,
        max_sessions: 1024,
    }
}

/// One worker over 3 in-memory ports, with its control sender.
pub fn one_worker() -> (Worker<MemIo>, Sender<WorkerMsg>) {
    let mesh: Vec<Handoff<VecBuf>> = handoff_mesh(1, 64);
    let (tx, rx) = crossbeam_channel::unbounded();
    let h = mesh.into_iter().next().unwrap();
    (Worker::new(conf(0, 1), MemIo::new(3), rx, h).unwrap(), tx)
}

/// `n` workers sharing a hand-off mesh, with their control senders.
pub fn workers(n: usize) -> Vec<(Worker<MemIo>, Sender<WorkerMsg>)> {
    handoff_mesh::<VecBuf>(n, 64)
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let (tx, rx) = crossbeam_channel::unbounded();
            (Worker::new(conf(i, n), MemIo::new(3), rx, h).unwrap(), tx)
        })
        .collect()
}

/// An Ethernet/ARP frame (42 bytes, unpadded).
pub fn arp_frame(
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
    op: u16,
    sha: [u8; 6],
    spa: Ipv4Addr,
    tha: [u8; 6],
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut v = Vec::with_capacity(42);
    v.extend_from_slice(&eth_dst);
    v.extend_from_slice(&eth_src);
    v.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04]);
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&sha);
    v.extend_from_slice(&spa.octets());
    v.extend_from_slice(&tha);
    v.extend_from_slice(&tpa.octets());
    v
}

/// Who-has `tpa` tell `spa`, broadcast.
pub fn arp_request(sha: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    arp_frame([0xff; 6], sha, 1, sha, spa, [0; 6], tpa)
}

/// `spa` is at `sha`, unicast to `tha`/`tpa`.
pub fn arp_reply(sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    arp_frame(tha, sha, 2, sha, spa, tha, tpa)
}

/// An ICMP echo request or reply frame.
#[allow(clippy::too_many_arguments)]
pub fn icmp_echo(
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    request: bool,
    id: u16,
    seq: u16,
    data: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(eth_src, eth_dst).ipv4(src.octets(), dst.octets(), ttl);
    let b = if request {
        b.icmpv4_echo_request(id, seq)
    } else {
        b.icmpv4_echo_reply(id, seq)
    };
    let mut v = Vec::with_capacity(b.size(data.len()));
    b.write(&mut v, data).unwrap();
    v
}

/// A TCP frame.
#[allow(clippy::too_many_arguments)]
pub fn tcp_frame(
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    ttl: u8,
    seq: u32,
    syn: bool,
    ack: Option<u32>,
    data: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(eth_src, eth_dst)
        .ipv4(src.0.octets(), dst.0.octets(), ttl)
        .tcp(src.1, dst.1, seq, 64240);
    if syn {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut v = Vec::with_capacity(b.size(data.len()));
    b.write(&mut v, data).unwrap();
    v
}

/// A UDP frame.
pub fn udp_frame(
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    data: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(eth_src, eth_dst)
        .ipv4(src.0.octets(), dst.0.octets(), 64)
        .udp(src.1, dst.1);
    let mut v = Vec::with_capacity(b.size(data.len()));
    b.write(&mut v, data).unwrap();
    v
}

/// Queue `frame` for rx on `port` of `w`.
pub fn inject(w: &mut Worker<MemIo>, port: u16, frame: &[u8]) {
    w.io_mut().rx[usize::from(port)].push_back(VecBuf::from_slice(frame));
}

/// Take every frame sent on `port` so far.
pub fn take_tx(w: &mut Worker<MemIo>, port: u16) -> Vec<Vec<u8>> {
    use rvs_dataplane::port::PacketBuf;
    w.io_mut().tx[usize::from(port)]
        .drain(..)
        .map(|b| b.data().to_vec())
        .collect()
}

/// Every counter of `w` by name (worker and load-balancer counters).
pub fn counters(w: &Worker<MemIo>) -> std::collections::BTreeMap<String, u64> {
    w.stats()
        .counters
        .into_iter()
        .map(|c| (c.name, c.value))
        .collect()
}

/// Counters that changed between two readings, with their deltas (saturating).
pub fn changed(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> Vec<(String, u64)> {
    after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, v)| {
            (
                k.clone(),
                v.saturating_sub(before.get(k).copied().unwrap_or(0)),
            )
        })
        .collect()
}

/// Parse an emitted frame with etherparse, requiring every header to be valid, and check IPv4/ICMP/
/// TCP/UDP checksums.
pub fn assert_frame_valid(frame: &[u8]) {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ethernet(frame)
        .unwrap_or_else(|e| panic!("emitted frame does not parse: {e:?} {frame:02x?}"));
    if let Some(NetSlice::Ipv4(ip)) = &p.net {
        let h = ip.header().to_header();
        assert_eq!(
            h.calc_header_checksum(),
            h.header_checksum,
            "IPv4 header checksum"
        );
        match &p.transport {
            Some(TransportSlice::Icmpv4(icmp)) => {
                let mut sum: u32 = 0;
                for c in icmp.slice().chunks(2) {
                    sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
                }
                while sum > 0xffff {
                    sum = (sum & 0xffff) + (sum >> 16);
                }
                assert_eq!(sum, 0xffff, "ICMP checksum");
            }
            Some(TransportSlice::Tcp(tcp)) => {
                let expect = tcp
                    .to_header()
                    .calc_checksum_ipv4(&h, tcp.payload())
                    .unwrap();
                assert_eq!(tcp.checksum(), expect, "TCP checksum");
            }
            Some(TransportSlice::Udp(udp)) if udp.checksum() != 0 => {
                let expect = udp
                    .to_header()
                    .calc_checksum_ipv4(&h, udp.payload())
                    .unwrap();
                assert_eq!(udp.checksum(), expect, "UDP checksum");
            }
            _ => {}
        }
    }
}

/// The service key of TCP VIP:port.
pub fn tcp_key(port: u16) -> rvs_control::proto::ServiceKey {
    rvs_control::proto::ServiceKey {
        proto: rvs_control::proto::Protocol::Tcp,
        addr: VIP.into(),
        port,
    }
}

/// A round-robin service TCP VIP:`vport` with the given real servers (addr, port, method), and
/// local addresses for FULLNAT.
pub fn lab_rules(
    vport: u16,
    dests: &[(Ipv4Addr, u16, rvs_control::proto::FwdMethod)],
    laddrs: &[Ipv4Addr],
) -> rvs_dataplane::rules::Rules {
    let mut r = rvs_dataplane::rules::Rules::new();
    add_service(&mut r, vport, dests, laddrs);
    r
}

/// Add a round-robin service TCP VIP:`vport` to `r` (see [`lab_rules`]).
pub fn add_service(
    r: &mut rvs_dataplane::rules::Rules,
    vport: u16,
    dests: &[(Ipv4Addr, u16, rvs_control::proto::FwdMethod)],
    laddrs: &[Ipv4Addr],
) {
    use rvs_control::proto::{DestSpec, LaddrSpec, Request, ServiceSpec, TunnelCsum, TunnelType};
    let key = tcp_key(vport);
    r.apply(&Request::AddService(ServiceSpec {
        key,
        scheduler: "rr".into(),
        persistent: None,
        netmask_prefix: 32,
        sched_flags: 0,
        one_packet: false,
    }))
    .unwrap();
    for &(addr, port, fwd) in dests {
        r.apply(&Request::AddDest(
            key,
            DestSpec {
                addr: addr.into(),
                port,
                fwd,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: TunnelType::Ipip,
                tun_csum: TunnelCsum::NoCsum,
            },
        ))
        .unwrap();
    }
    for &a in laddrs {
        r.apply(&Request::AddLaddr(key, LaddrSpec { addr: a.into() }))
            .unwrap();
    }
}

/// Install `snap` in a worker through its control channel; returns the acked generation.
pub fn install(
    w: &mut Worker<MemIo>,
    ctrl: &Sender<WorkerMsg>,
    snap: std::sync::Arc<rvs_dataplane::service::Snapshot>,
    now_ms: u64,
) -> u64 {
    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::Snapshot(snap, tx)).unwrap();
    w.poll_once(now_ms);
    rx.try_recv().unwrap()
}
