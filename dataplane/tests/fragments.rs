//! IPv4 fragments of load-balanced datagrams through whole workers (policy in `rvs_dataplane::frag`):
//! every fragment of a datagram reaches the session's real server translated like the session's
//! other packets (NAT and FULLNAT both ways, DR, tunnel), in order, with one and two workers; the
//! hostile cases are dropped under their own counters. Inputs and expected outputs are built by the
//! independent parser etherparse (a whole datagram, then cut into fragments by `fragments`), and
//! outputs are compared byte for byte; the datagrams a real server would reassemble are checked too
//! (UDP checksum over the reassembled payload).

mod common;

use std::net::Ipv4Addr;

use common::*;
use etherparse::{
    EtherType, Ethernet2Header, IpFragOffset, IpNumber, Ipv4Header, PacketBuilder, UdpHeader,
};
use rvs_control::proto::{
    DestSpec, FwdMethod, LaddrSpec, Protocol, Request, ServiceKey, ServiceSpec, TunnelCsum,
    TunnelType,
};
use rvs_dataplane::flow_hash;
use rvs_dataplane::frag::FragKey;
use rvs_dataplane::port::MemIo;
use rvs_dataplane::rules::Rules;
use rvs_dataplane::worker::{Worker, WorkerMsg};

const UDP_PORT: u16 = 9000;
const C: (Ipv4Addr, u16) = (CLIENT_IP, 40000);
const V: (Ipv4Addr, u16) = (VIP, UDP_PORT);
const R1: (Ipv4Addr, u16) = (RS1_IP, UDP_PORT);
/// Frames from the client to rvsd, from rvsd to rs1, from rs1 to rvsd, from rvsd to the client.
const FROM_CLIENT: ([u8; 6], [u8; 6]) = (CLIENT_MAC, P0_MAC);
const TO_RS1: ([u8; 6], [u8; 6]) = (P1_MAC, RS1_MAC);
const FROM_RS1: ([u8; 6], [u8; 6]) = (RS1_MAC, P1_MAC);
const TO_CLIENT: ([u8; 6], [u8; 6]) = (P0_MAC, CLIENT_MAC);

fn udp_key(port: u16) -> ServiceKey {
    ServiceKey {
        proto: Protocol::Udp,
        addr: VIP.into(),
        port,
    }
}

/// A UDP service VIP:9000 (rr) with one dest rs1:9000 of `fwd` (IPIP for tunnels), LADDR1 for
/// FULLNAT; and a TCP service VIP:8990 to rs1:8998 with the same method.
fn rules(fwd: FwdMethod) -> Rules {
    let mut r = Rules::new();
    for (key, rport) in [(udp_key(UDP_PORT), UDP_PORT), (tcp_key(8990), 8998)] {
        r.apply(&Request::AddService(ServiceSpec {
            key,
            scheduler: "rr".into(),
            persistent: None,
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
        r.apply(&Request::AddDest(
            key,
            DestSpec {
                addr: RS1_IP.into(),
                port: rport,
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
            r.apply(&Request::AddLaddr(
                key,
                LaddrSpec {
                    addr: LADDR1.into(),
                },
            ))
            .unwrap();
        }
    }
    r
}

/// Teach worker `w` the lab's neighbours (ARP requests to its port addresses) and clear its tx.
fn learn(w: &mut Worker<MemIo>, now_ms: u64) {
    inject(w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    inject(w, 2, &arp_request(RS2_MAC, RS2_IP, P2_IP));
    w.poll_once(now_ms);
    for p in 0..3 {
        take_tx(w, p);
    }
}

/// One worker with `rules(fwd)` installed and the neighbours learnt.
fn worker(fwd: FwdMethod) -> (Worker<MemIo>, crossbeam_channel::Sender<WorkerMsg>) {
    let (mut w, ctrl) = one_worker();
    install(&mut w, &ctrl, rules(fwd).snapshot(), 0);
    learn(&mut w, 0);
    (w, ctrl)
}

/// The IPv4 bytes of a UDP datagram `src -> dst` (checksummed by etherparse).
fn udp_ip(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), ttl: u8, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), ttl).udp(src.1, dst.1);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// Cut the option-less IPv4 packet `ip` into fragments of `chunk` payload bytes (a multiple of 8)
/// with identification `ident`, DF clear, as Ethernet frames `eth` (source, destination).
fn fragments(eth: ([u8; 6], [u8; 6]), ip: &[u8], chunk: usize, ident: u16) -> Vec<Vec<u8>> {
    let (h, _) = Ipv4Header::from_slice(ip).unwrap();
    let payload = &ip[h.header_len()..usize::from(h.total_len)];
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| {
            let mut fh = h.clone();
            fh.identification = ident;
            fh.dont_fragment = false;
            fh.more_fragments = (i + 1) * chunk < payload.len();
            fh.fragment_offset = IpFragOffset::try_new(((i * chunk) / 8) as u16).unwrap();
            fh.set_payload_len(c.len()).unwrap();
            fh.header_checksum = fh.calc_header_checksum();
            let mut f = Vec::new();
            Ethernet2Header {
                source: eth.0,
                destination: eth.1,
                ether_type: EtherType::IPV4,
            }
            .write(&mut f)
            .unwrap();
            fh.write(&mut f).unwrap();
            f.extend_from_slice(c);
            f
        })
        .collect()
}

/// A fragment of `len` payload bytes at byte `offset` (MF when `more`), protocol `proto`.
fn raw_fragment(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
    offset: usize,
    payload: &[u8],
    more: bool,
) -> Vec<u8> {
    let mut h = Ipv4Header::new(
        payload.len() as u16,
        64,
        IpNumber(proto),
        src.octets(),
        dst.octets(),
    )
    .unwrap();
    h.identification = ident;
    h.more_fragments = more;
    h.fragment_offset = IpFragOffset::try_new((offset / 8) as u16).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut f = Vec::new();
    Ethernet2Header {
        source: CLIENT_MAC,
        destination: P0_MAC,
        ether_type: EtherType::IPV4,
    }
    .write(&mut f)
    .unwrap();
    h.write(&mut f).unwrap();
    f.extend_from_slice(payload);
    f
}

/// Reassemble fragment frames (any order) as a receiving host would, check the IPv4 header
/// checksums and the UDP checksum of the whole datagram; returns (src, dst, ident, UDP payload).
fn reassemble(frames: &[Vec<u8>]) -> ((Ipv4Addr, u16), (Ipv4Addr, u16), u16, Vec<u8>) {
    let mut parts: Vec<(usize, Ipv4Header, Vec<u8>)> = frames
        .iter()
        .map(|f| {
            assert_frame_valid(f);
            let (h, rest) = Ipv4Header::from_slice(&f[14..]).unwrap();
            assert_eq!(h.header_checksum, h.calc_header_checksum());
            let n = usize::from(h.total_len) - h.header_len();
            (
                usize::from(h.fragment_offset.value()) * 8,
                h.clone(),
                rest[..n].to_vec(),
            )
        })
        .collect();
    parts.sort_by_key(|p| p.0);
    let mut data = Vec::new();
    for (off, h, d) in &parts {
        assert_eq!(*off, data.len(), "fragments contiguous");
        assert_eq!(h.identification, parts[0].1.identification);
        data.extend_from_slice(d);
    }
    assert!(!parts.last().unwrap().1.more_fragments);
    let mut h = parts[0].1.clone();
    h.more_fragments = false;
    h.set_payload_len(data.len()).unwrap();
    let (u, payload) = UdpHeader::from_slice(&data).unwrap();
    assert_eq!(usize::from(u.length), data.len());
    assert_eq!(
        u.checksum,
        u.calc_checksum_ipv4(&h, payload).unwrap(),
        "UDP checksum of the reassembled datagram"
    );
    (
        (Ipv4Addr::from(h.source), u.source_port),
        (Ipv4Addr::from(h.destination), u.destination_port),
        h.identification,
        payload.to_vec(),
    )
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Non-zero counters of `w` that are drops.
fn drops(w: &Worker<MemIo>) -> Vec<(String, u64)> {
    counters(w)
        .into_iter()
        .filter(|(k, v)| k.starts_with("drop.") && *v != 0)
        .collect()
}

fn send(w: &mut Worker<MemIo>, port: u16, frames: &[Vec<u8>], now_ms: u64) {
    for f in frames {
        inject(w, port, f);
    }
    w.poll_once(now_ms);
}

#[test]
fn nat_udp_datagram_both_ways_exact_bytes() {
    let (mut w, _ctrl) = worker(FwdMethod::Masq);
    let data = payload(4000, 1);
    let input = fragments(FROM_CLIENT, &udp_ip(C, V, 64, &data), 1480, 0x1234);
    assert_eq!(input.len(), 3);
    let before = counters(&w);
    send(&mut w, 0, &input, 1);
    // NAT: destination rewritten, L4 checksum updated in the first fragment, fresh ident (lcore 0 of
    // 1 starts at 0), TTL - 1.
    let want = fragments(TO_RS1, &udp_ip(C, R1, 63, &data), 1480, 0);
    let got = take_tx(&mut w, 1);
    assert_eq!(got, want);
    assert_eq!(reassemble(&got), (C, R1, 0, data.clone()));

    let reply = payload(3000, 2);
    let back = fragments(FROM_RS1, &udp_ip(R1, C, 64, &reply), 1480, 0x0777);
    send(&mut w, 1, &back, 2);
    let got = take_tx(&mut w, 0);
    assert_eq!(
        got,
        fragments(TO_CLIENT, &udp_ip(V, C, 63, &reply), 1480, 1)
    );
    assert_eq!(reassemble(&got), (V, C, 1, reply));
    assert_eq!(
        changed(&before, &counters(&w)),
        vec![
            ("frag_completed".into(), 2),
            ("frag_datagrams".into(), 2),
            ("frag_translated".into(), 6),
            ("lb_packets_in".into(), 1),
            ("lb_packets_out".into(), 1),
            ("rx_packets".into(), 6),
            ("sessions_created".into(), 1),
            ("sessions_live".into(), 1),
            ("tx_packets".into(), 6),
        ]
    );
}

#[test]
fn fullnat_udp_datagrams_both_ways_and_distinct_idents() {
    let (mut w, _ctrl) = worker(FwdMethod::FullNat);
    let data = payload(3100, 3);
    send(
        &mut w,
        0,
        &fragments(FROM_CLIENT, &udp_ip(C, V, 64, &data), 1480, 0x4242),
        1,
    );
    let got = take_tx(&mut w, 1);
    let lport = UdpHeader::from_slice(&got[0][34..]).unwrap().0.source_port;
    let l = (LADDR1, lport);
    assert_eq!(got, fragments(TO_RS1, &udp_ip(l, R1, 63, &data), 1480, 0));
    assert_eq!(reassemble(&got), (l, R1, 0, data.clone()));

    // A second client with the same ident: the real server sees another ident from the same laddr.
    let c2 = (Ipv4Addr::new(10, 10, 0, 3), 40001);
    inject(&mut w, 0, &arp_request([2, 0, 0, 0, 0, 3], c2.0, P0_IP));
    send(
        &mut w,
        0,
        &fragments(FROM_CLIENT, &udp_ip(c2, V, 64, &data), 1480, 0x4242),
        2,
    );
    take_tx(&mut w, 0);
    let got2 = take_tx(&mut w, 1);
    let (src2, dst2, ident2, data2) = reassemble(&got2);
    assert_eq!((src2.0, dst2, ident2, data2), (LADDR1, R1, 1, data.clone()));
    assert_ne!(src2.1, lport);

    let reply = payload(2000, 4);
    send(
        &mut w,
        1,
        &fragments(FROM_RS1, &udp_ip(R1, l, 64, &reply), 1480, 0x0999),
        3,
    );
    let got = take_tx(&mut w, 0);
    assert_eq!(
        got,
        fragments(TO_CLIENT, &udp_ip(V, C, 63, &reply), 1480, 2)
    );
    assert_eq!(drops(&w), vec![]);
    assert_eq!(
        w.stats()
            .counters
            .iter()
            .find(|c| c.name == "frag_live")
            .unwrap()
            .value,
        0
    );
}

#[test]
fn out_of_order_fragments_wait_for_the_first_and_follow_it_in_arrival_order() {
    let (mut w, _ctrl) = worker(FwdMethod::Masq);
    let data = payload(4000, 5);
    let input = fragments(FROM_CLIENT, &udp_ip(C, V, 64, &data), 1480, 0x2222);
    let want = fragments(TO_RS1, &udp_ip(C, R1, 63, &data), 1480, 0);
    let before = counters(&w);
    send(&mut w, 0, &input[2..3], 1);
    send(&mut w, 0, &input[1..2], 2);
    assert!(take_tx(&mut w, 1).is_empty(), "held");
    assert_eq!(w.pipeline().frag.held_len(), 2);
    send(&mut w, 0, &input[0..1], 3);
    assert_eq!(
        take_tx(&mut w, 1),
        vec![want[0].clone(), want[2].clone(), want[1].clone()]
    );
    assert_eq!(w.pipeline().frag.held_len(), 0);
    let ch = changed(&before, &counters(&w));
    assert!(ch.contains(&("frag_held".into(), 2)), "{ch:?}");
    assert!(ch.contains(&("frag_translated".into(), 3)), "{ch:?}");
    assert_eq!(drops(&w), vec![]);
    // Complete: the entry is gone.
    assert!(w.pipeline().frag.is_empty());
}

#[test]
fn direct_routing_fragments_go_unchanged_to_the_real_server_mac() {
    let (mut w, _ctrl) = worker(FwdMethod::Route);
    let data = payload(4000, 6);
    let input = fragments(FROM_CLIENT, &udp_ip(C, V, 64, &data), 1480, 0x3333);
    send(&mut w, 0, &input[1..], 1);
    send(&mut w, 0, &input[..1], 2);
    let want = fragments(TO_RS1, &udp_ip(C, V, 63, &data), 1480, 0x3333);
    assert_eq!(
        take_tx(&mut w, 1),
        vec![want[0].clone(), want[1].clone(), want[2].clone()]
    );
    assert_eq!(drops(&w), vec![]);
}

#[test]
fn tunnel_fragments_are_encapsulated_and_too_big_ones_dropped() {
    let (mut w, _ctrl) = worker(FwdMethod::Tunnel);
    let data = payload(2000, 7);
    let input = fragments(FROM_CLIENT, &udp_ip(C, V, 64, &data), 800, 0x5555);
    send(&mut w, 0, &input, 1);
    let inner = fragments(TO_RS1, &udp_ip(C, V, 63, &data), 800, 0x5555);
    let got = take_tx(&mut w, 1);
    assert_eq!(got.len(), 3);
    for (g, i) in got.iter().zip(&inner) {
        assert_eq!(&g[..14], &i[..14]);
        let (outer, rest) = Ipv4Header::from_slice(&g[14..]).unwrap();
        assert_eq!(outer.header_checksum, outer.calc_header_checksum());
        assert_eq!(outer.protocol, IpNumber(4));
        assert_eq!(
            (
                Ipv4Addr::from(outer.source),
                Ipv4Addr::from(outer.destination)
            ),
            (P1_IP, RS1_IP)
        );
        assert_eq!(rest, &i[14..], "inner fragment as received, TTL - 1");
    }
    assert_eq!(drops(&w), vec![]);
    // 1480-byte fragments no longer fit once encapsulated: dropped (no DF), as any such packet.
    let input = fragments(FROM_CLIENT, &udp_ip(C, V, 64, &data), 1480, 0x5556);
    send(&mut w, 0, &input, 2);
    let got = take_tx(&mut w, 1);
    assert_eq!(got.len(), 1, "the short last fragment fits");
    assert_eq!(drops(&w), vec![("drop.tunnel_too_big".into(), 1)]);
}

#[test]
fn tcp_fragments_replay_a_session_but_never_open_one() {
    let (mut w, _ctrl) = worker(FwdMethod::Masq);
    let tc = (CLIENT_IP, 41000);
    let tv = (VIP, 8990);
    let tr = (RS1_IP, 8998);
    // A fragmented SYN opens nothing: all its fragments are no_session.
    let syn = |payload: &[u8]| {
        let mut v = Vec::new();
        PacketBuilder::ipv4(tc.0.octets(), tv.0.octets(), 64)
            .tcp(tc.1, tv.1, 1, 64240)
            .syn()
            .write(&mut v, payload)
            .unwrap();
        v
    };
    let before = counters(&w);
    send(
        &mut w,
        0,
        &fragments(FROM_CLIENT, &syn(&[9; 100]), 64, 7),
        1,
    );
    assert!(take_tx(&mut w, 1).is_empty());
    let ch = changed(&before, &counters(&w));
    assert!(ch.contains(&("drop.no_session".into(), 2)), "{ch:?}");
    assert!(!ch.iter().any(|c| c.0 == "sessions_created"));
    // A plain SYN opens the session; a fragmented segment of it is then forwarded.
    send(
        &mut w,
        0,
        &[tcp_frame(
            CLIENT_MAC, P0_MAC, tc, tv, 64, 1, true, None, b"",
        )],
        2,
    );
    assert_eq!(take_tx(&mut w, 1).len(), 1);
    let data = payload(3000, 8);
    let mut seg = Vec::new();
    PacketBuilder::ipv4(tc.0.octets(), tv.0.octets(), 64)
        .tcp(tc.1, tv.1, 2, 64240)
        .ack(1)
        .write(&mut seg, &data)
        .unwrap();
    let mut want = Vec::new();
    PacketBuilder::ipv4(tc.0.octets(), tr.0.octets(), 63)
        .tcp(tc.1, tr.1, 2, 64240)
        .ack(1)
        .write(&mut want, &data)
        .unwrap();
    send(&mut w, 0, &fragments(FROM_CLIENT, &seg, 1480, 0x6666), 3);
    assert_eq!(take_tx(&mut w, 1), fragments(TO_RS1, &want, 1480, 0));
    assert_eq!(drops(&w), vec![("drop.no_session".into(), 2)]);
}

/// Run `frames` (from the client port) through a fresh NAT worker at time 1, then `later_ms`
/// later; returns (frames sent on any port, counters changed).
fn hostile(frames: &[Vec<u8>], later_ms: u64) -> (usize, Vec<(String, u64)>) {
    let (mut w, _ctrl) = worker(FwdMethod::Masq);
    let before = counters(&w);
    for f in frames {
        inject(&mut w, 0, f);
        w.poll_once(1);
    }
    w.poll_once(1 + later_ms);
    let sent = (0..3).map(|p| take_tx(&mut w, p).len()).sum();
    let ch = changed(&before, &counters(&w))
        .into_iter()
        .filter(|(k, _)| k != "rx_packets" && k != "frag_held" && k != "frag_datagrams")
        .collect();
    (sent, ch)
}

fn d(name: &str, n: u64) -> (String, u64) {
    (name.to_string(), n)
}

#[test]
fn hostile_fragments_are_dropped_under_their_own_names() {
    let udp_first = |ident, len: usize, more| {
        let ip = udp_ip(C, V, 64, &payload(64, 9));
        raw_fragment(CLIENT_IP, VIP, 17, ident, 0, &ip[20..20 + len], more)
    };
    let u = |ident, off, len, more| {
        raw_fragment(CLIENT_IP, VIP, 17, ident, off, &vec![0xab; len], more)
    };
    let t =
        |ident, off, len, more| raw_fragment(CLIENT_IP, VIP, 6, ident, off, &vec![0xcd; len], more);

    // Overlap: the held fragment and the overlapping one, then the first: all frag_overlap.
    assert_eq!(
        hostile(
            &[
                u(1, 24, 16, true),
                u(1, 32, 16, true),
                udp_first(1, 24, true)
            ],
            0
        ),
        (0, vec![d("drop.frag_overlap", 3), d("frag_live", 1)])
    );
    // Duplicate: dropped alone; the datagram goes on and completes.
    let (sent, ch) = hostile(
        &[
            u(2, 24, 8, false),
            u(2, 24, 8, false),
            udp_first(2, 24, true),
        ],
        0,
    );
    assert_eq!(sent, 2);
    assert!(ch.contains(&d("drop.frag_duplicate", 1)), "{ch:?}");
    assert!(ch.contains(&d("frag_translated", 2)), "{ch:?}");
    // RFC 1858: a TCP first fragment shorter than the TCP header, then the rest of the header.
    assert_eq!(
        hostile(&[t(3, 0, 8, true), t(3, 8, 16, false)], 0),
        (0, vec![d("drop.frag_tiny", 2), d("frag_live", 1)])
    );
    // A UDP first fragment of 4 bytes (with MF, a fragment must hold a multiple of 8 bytes, so a
    // UDP header is never cut: this one is malformed before it is tiny).
    assert_eq!(
        hostile(
            &[u(4, 0, 8, true)[..14 + 20 + 4].to_vec()].map(|mut f| {
                f[17] = 24;
                let mut h = Ipv4Header::from_slice(&f[14..]).unwrap().0;
                h.header_checksum = h.calc_header_checksum();
                f[24..26].copy_from_slice(&h.header_checksum.to_be_bytes());
                f
            }),
            0
        ),
        (0, vec![d("drop.frag_malformed", 1), d("frag_live", 1)])
    );
    // RFC 1858: TCP at offset 8 bytes.
    assert_eq!(
        hostile(&[t(5, 8, 16, true), t(5, 8, 16, true)], 0),
        (0, vec![d("drop.frag_offset_one", 2), d("frag_live", 1)])
    );
    // Malformed: a middle fragment of 12 bytes; a datagram ending beyond 65,535 bytes.
    assert_eq!(
        hostile(&[u(6, 16, 12, true), u(7, 65520, 16, false)], 0),
        (0, vec![d("drop.frag_malformed", 2), d("frag_live", 2)])
    );
    // Timeout: a lone last fragment is held, then dropped 2 s later; the entry is freed.
    assert_eq!(
        hostile(&[u(8, 64, 8, false)], 1999),
        (0, vec![d("frag_held_live", 1), d("frag_live", 1)])
    );
    assert_eq!(
        hostile(&[u(8, 64, 8, false)], 2000),
        (0, vec![d("drop.frag_timeout", 1)])
    );
    // Too many: 64 fragments held, the 65th refuses the datagram.
    let many: Vec<_> = (1..=65).map(|i| u(9, 8 * i, 8, true)).collect();
    assert_eq!(
        hostile(&many, 0),
        (0, vec![d("drop.frag_too_many", 65), d("frag_live", 1)])
    );
    // Hold limit per lcore: 4 datagrams of 64 held fragments fill the 256 slots.
    let mut full: Vec<_> = (0..4u16)
        .flat_map(|id| (1..=64).map(move |i| (id, i)))
        .map(|(id, i)| u(100 + id, 8 * i, 8, true))
        .collect();
    full.push(u(200, 8, 8, true));
    full.push(u(200, 16, 8, true));
    assert_eq!(
        hostile(&full, 0),
        (
            0,
            vec![
                d("drop.frag_hold_full", 2),
                d("frag_held_live", 256),
                d("frag_live", 5)
            ]
        )
    );
    // Fragments to nothing we serve; to rvsd's own address (UDP or ICMP echo); other protocols.
    let elsewhere = raw_fragment(
        CLIENT_IP,
        Ipv4Addr::new(10, 20, 30, 40),
        17,
        10,
        8,
        &[1; 8],
        true,
    );
    let to_port = raw_fragment(CLIENT_IP, P0_IP, 17, 11, 0, &[1; 16], true);
    let echo = raw_fragment(CLIENT_IP, P0_IP, 1, 12, 0, &[8, 0, 0, 0, 0, 0, 0, 0], true);
    let gre = raw_fragment(CLIENT_IP, VIP, 47, 13, 0, &[0; 8], true);
    assert_eq!(
        hostile(&[elsewhere, to_port, echo, gre], 0),
        (0, vec![d("drop.ipv4_fragment", 3), d("drop.not_for_us", 1)])
    );
}

#[test]
fn a_full_tracker_refuses_new_datagrams() {
    // 1,024 refused TCP first fragments (no session) pin every entry until they expire.
    let frames: Vec<_> = (0..1025u16)
        .map(|id| {
            let mut v = Vec::new();
            PacketBuilder::ipv4(CLIENT_IP.octets(), VIP.octets(), 64)
                .tcp(42000, 8990, 1, 64240)
                .ack(1)
                .write(&mut v, &[0; 16])
                .unwrap();
            fragments(FROM_CLIENT, &v, 24, id).swap_remove(0)
        })
        .collect();
    let (sent, ch) = hostile(&frames, 0);
    assert_eq!(sent, 0);
    assert_eq!(
        ch,
        vec![
            d("drop.frag_table_full", 1),
            d("drop.no_session", 1024),
            d("frag_live", 1024)
        ]
    );
}

#[test]
fn two_workers_fragments_reach_the_flow_owner_in_order() {
    let mut ws = workers(2);
    let rules = rules(FwdMethod::Masq);
    for (w, ctrl) in ws.iter_mut() {
        install(w, ctrl, rules.snapshot(), 0);
    }
    for (w, _) in ws.iter_mut() {
        learn(w, 0);
    }
    // A client port whose flow worker 1 owns, and idents whose fragments worker 0 steers.
    let sport = (40000..)
        .find(|p| flow_hash::owner_of_hash(flow_hash::hash_addr_port(CLIENT_IP, *p, 17), 2) == 1)
        .unwrap();
    let c = (CLIENT_IP, sport);
    let steered_by_0 = |src, dst| {
        (0..)
            .find(|i| {
                FragKey {
                    src,
                    dst,
                    proto: 17,
                    ident: *i,
                }
                .owner(2)
                    == 0
            })
            .unwrap()
    };
    let data = payload(4000, 10);
    let input = fragments(
        FROM_CLIENT,
        &udp_ip(c, V, 64, &data),
        1480,
        steered_by_0(CLIENT_IP, VIP),
    );
    // Later fragments first, received by worker 1 (passed to worker 0, held there), then the first,
    // received by worker 0 (the steering lcore: it passes everything to worker 1, in order).
    inject(&mut ws[1].0, 0, &input[2]);
    inject(&mut ws[1].0, 0, &input[1]);
    let poll = |ws: &mut Vec<(Worker<MemIo>, _)>, now| {
        for _ in 0..3 {
            for (w, _) in ws.iter_mut() {
                w.poll_once(now);
            }
        }
    };
    poll(&mut ws, 1);
    assert_eq!(ws[0].0.pipeline().frag.held_len(), 2);
    inject(&mut ws[0].0, 0, &input[0]);
    poll(&mut ws, 2);
    let want = fragments(TO_RS1, &udp_ip(c, R1, 63, &data), 1480, 1);
    assert!(take_tx(&mut ws[0].0, 1).is_empty());
    assert_eq!(
        take_tx(&mut ws[1].0, 1),
        vec![want[0].clone(), want[2].clone(), want[1].clone()],
        "translated by the flow owner (fresh ident 1 of worker 1), first fragment first"
    );

    // The reply, all received by worker 0, steered by worker 0 to worker 1.
    let reply = payload(2500, 11);
    let back = fragments(
        FROM_RS1,
        &udp_ip(R1, c, 64, &reply),
        1480,
        steered_by_0(RS1_IP, CLIENT_IP),
    );
    for f in &back {
        inject(&mut ws[0].0, 1, f);
    }
    poll(&mut ws, 3);
    assert_eq!(
        take_tx(&mut ws[1].0, 0),
        fragments(TO_CLIENT, &udp_ip(V, c, 63, &reply), 1480, 3)
    );
    for (w, _) in &ws {
        assert_eq!(drops(w), vec![]);
        let c = counters(w);
        assert_eq!(c["misowned_packets"], 0);
        assert_eq!(c["frag_live"], 0, "every datagram completed");
    }
    assert_eq!(counters(&ws[1].0)["frag_translated"], 5);
    assert_eq!(counters(&ws[0].0)["frag_translated"], 0);
}
