//! Golden tests of the direct forwarding modes and of ICMP errors, through a worker: direct routing
//! (`-g`), tunnels (`-i` with IPIP, GUE, GRE and their checksum options), path MTU for tunnels, and
//! ICMP errors of NAT/FULLNAT/DR sessions in both directions. Every input is built and every output
//! checked by the independent parser etherparse (checksums included); outputs are compared byte for
//! byte with frames built by etherparse, and counters that must change (and must not) are asserted.

mod common;

use std::net::Ipv4Addr;

use common::*;
use etherparse::icmpv4::{DestUnreachableHeader, TimeExceededCode};
use etherparse::{
    Icmpv4Header, Icmpv4Type, IpNumber, Ipv4Header, PacketBuilder, TcpHeader, UdpHeader,
};
use rvs_control::proto::{
    DestSpec, FwdMethod, Protocol, Request, Response, ServiceSpec, TunnelCsum, TunnelType,
};
use rvs_dataplane::lb::{LbCtx, LbLimits, LbVerdict};
use rvs_dataplane::port::MemIo;
use rvs_dataplane::rules::Rules;
use rvs_dataplane::worker::Worker;

const C: (Ipv4Addr, u16) = (CLIENT_IP, 40000);
const V: (Ipv4Addr, u16) = (VIP, 8990);

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// A TCP/IPv4 frame (DF set, ident 0, as etherparse builds it).
#[allow(clippy::too_many_arguments)]
fn tcp(
    eth: ([u8; 6], [u8; 6]),
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    ttl: u8,
    flags: u8,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(eth.0, eth.1)
        .ipv4(src.0.octets(), dst.0.octets(), ttl)
        .tcp(src.1, dst.1, seq, 64240);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    let mut v = Vec::new();
    b.write(&mut v, data).unwrap();
    v
}

/// An ICMP error frame quoting `quote`.
fn icmp_err(
    eth: ([u8; 6], [u8; 6]),
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    t: Icmpv4Type,
    quote: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(eth.0, eth.1)
        .ipv4(src.octets(), dst.octets(), ttl)
        .icmpv4(t);
    let mut v = Vec::new();
    b.write(&mut v, quote).unwrap();
    v
}

fn port_unreachable() -> Icmpv4Type {
    Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port)
}

/// One TCP service VIP:8990 (rr) with one dest `rip:rport` of `fwd` (tunnel settings given).
fn rules_with(fwd: FwdMethod, rip: Ipv4Addr, rport: u16, tun: (TunnelType, TunnelCsum)) -> Rules {
    let key = tcp_key(8990);
    let mut r = Rules::new();
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
            addr: rip.into(),
            port: rport,
            fwd,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: tun.0,
            tun_csum: tun.1,
        },
    ))
    .unwrap();
    if fwd == FwdMethod::FullNat {
        r.apply(&Request::AddLaddr(
            key,
            rvs_control::proto::LaddrSpec {
                addr: LADDR1.into(),
            },
        ))
        .unwrap();
    }
    r
}

const IPIP: (TunnelType, TunnelCsum) = (TunnelType::Ipip, TunnelCsum::NoCsum);

/// (ActiveConn, InActConn) of the only dest.
fn conns(r: &Rules) -> (u32, u32) {
    match r.query(&Request::GetServices(None)).unwrap() {
        Response::Services(v) => (v[0].dests[0].active_conns, v[0].dests[0].inactive_conns),
        other => panic!("{other:?}"),
    }
}

fn state(w: &Worker<MemIo>, now: u64) -> String {
    let mut v = Vec::new();
    w.pipeline().lb.conns(now, 0, &mut v);
    assert_eq!(v.len(), 1);
    v[0].state.clone()
}

/// A worker with `r` installed and the lab's hosts learned.
fn worker_with(r: &Rules) -> Worker<MemIo> {
    let (mut w, ctrl) = one_worker();
    install(&mut w, &ctrl, r.snapshot(), 0);
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    w.poll_once(0);
    take_tx(&mut w, 0);
    take_tx(&mut w, 1);
    // Keep the control channel alive for the worker's life.
    std::mem::forget(ctrl);
    w
}

/// Frames out on port 0, frames out on port 1, counter deltas.
type Sent = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<(String, u64)>);

/// Send `frame` in on `port`, return (frames out on port 0, on port 1) and the counter deltas.
fn send(w: &mut Worker<MemIo>, port: u16, frame: &[u8], now: u64) -> Sent {
    let before = counters(w);
    inject(w, port, frame);
    w.poll_once(now);
    let out0 = take_tx(w, 0);
    let out1 = take_tx(w, 1);
    for f in out0.iter().chain(out1.iter()) {
        assert_frame_valid(f);
    }
    (out0, out1, changed(&before, &counters(w)))
}

fn drops(d: &[(String, u64)]) -> Vec<(String, u64)> {
    d.iter()
        .filter(|(k, _)| k.starts_with("drop."))
        .cloned()
        .collect()
}

const CL: ([u8; 6], [u8; 6]) = (CLIENT_MAC, P0_MAC);
const TO_RS1: ([u8; 6], [u8; 6]) = (P1_MAC, RS1_MAC);
const FROM_RS1: ([u8; 6], [u8; 6]) = (RS1_MAC, P1_MAC);
const TO_CL: ([u8; 6], [u8; 6]) = (P0_MAC, CLIENT_MAC);

#[test]
fn direct_routing_tcp_golden_and_in_only_states() {
    let r = rules_with(FwdMethod::Route, RS1_IP, 8990, IPIP);
    let mut w = worker_with(&r);
    // SYN: IP untouched but the TTL, frame to the real server's MAC.
    let (o0, o1, d) = send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 100, 0, b""), 1);
    assert!(o0.is_empty());
    assert_eq!(o1, vec![tcp(TO_RS1, C, V, 63, SYN, 100, 0, b"")]);
    assert!(drops(&d).is_empty(), "{d:?}");
    assert_eq!(state(&w, 1), "SYN_RECV");
    assert_eq!(conns(&r), (0, 1));
    // ACK (the SYN-ACK went from the real server straight to the client): ESTABLISHED, active.
    let (_, o1, _) = send(&mut w, 0, &tcp(CL, C, V, 64, ACK, 101, 501, b"GET /"), 2);
    assert_eq!(o1, vec![tcp(TO_RS1, C, V, 63, ACK, 101, 501, b"GET /")]);
    assert_eq!(state(&w, 2), "ESTABLISHED");
    assert_eq!(conns(&r), (1, 0));
    // Client FIN: IN-ONLY moves ESTABLISHED to FIN_WAIT (the normal INPUT table would say
    // CLOSE_WAIT), inactive again.
    send(&mut w, 0, &tcp(CL, C, V, 64, FIN | ACK, 106, 900, b""), 3);
    assert_eq!(state(&w, 3), "FIN_WAIT");
    assert_eq!(conns(&r), (0, 1));
    // The last ACK and a repeated FIN keep FIN_WAIT (IN-ONLY rows), which expires 120 s later.
    send(&mut w, 0, &tcp(CL, C, V, 64, ACK, 107, 901, b""), 4);
    assert_eq!(state(&w, 4), "FIN_WAIT");
    send(&mut w, 0, &tcp(CL, C, V, 64, FIN | ACK, 107, 901, b""), 4);
    assert_eq!(state(&w, 4), "FIN_WAIT");
    // A packet from the real server with the session's reply tuple is not ours to rewrite.
    let (o0, _, d) = send(
        &mut w,
        1,
        &tcp(FROM_RS1, (RS1_IP, 8990), C, 64, ACK, 1, 1, b""),
        5,
    );
    assert!(o0.is_empty());
    assert_eq!(drops(&d), vec![("drop.not_for_us".to_string(), 1)]);
    assert_eq!(w.pipeline().lb.counter("lb_packets_in"), Some(5));
    assert_eq!(w.pipeline().lb.counter("lb_packets_out"), Some(0));
    w.poll_once(4 + 119_999);
    assert_eq!(conns(&r), (0, 1));
    w.poll_once(4 + 120_000);
    assert_eq!(conns(&r), (0, 0));
}

#[test]
fn direct_routing_rst_from_client_closes_in_only() {
    let r = rules_with(FwdMethod::Route, RS1_IP, 8990, IPIP);
    let mut w = worker_with(&r);
    send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 100, 0, b""), 1);
    send(&mut w, 0, &tcp(CL, C, V, 64, ACK, 101, 501, b""), 1);
    assert_eq!(conns(&r), (1, 0));
    send(&mut w, 0, &tcp(CL, C, V, 64, RST, 101, 0, b""), 1);
    assert_eq!(state(&w, 1), "CLOSE");
    assert_eq!(conns(&r), (0, 1));
}

/// The outer headers we expect in front of `inner` (built with etherparse).
fn outer_ipv4(proto: u8, payload_len: usize, inner_ident: u16) -> Vec<u8> {
    let mut h = Ipv4Header::new(
        payload_len as u16,
        64,
        IpNumber(proto),
        P1_IP.octets(),
        RS1_IP.octets(),
    )
    .unwrap();
    h.dont_fragment = true;
    h.identification = inner_ident;
    h.header_checksum = h.calc_header_checksum();
    h.to_bytes().to_vec()
}

fn eth(mac: ([u8; 6], [u8; 6])) -> Vec<u8> {
    let mut v = mac.1.to_vec();
    v.extend_from_slice(&mac.0);
    v.extend_from_slice(&[0x08, 0x00]);
    v
}

#[test]
fn tunnel_ipip_golden() {
    let r = rules_with(FwdMethod::Tunnel, RS1_IP, 8990, IPIP);
    let mut w = worker_with(&r);
    let (_, o1, d) = send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b"x"), 1);
    assert!(drops(&d).is_empty(), "{d:?}");
    let inner = tcp(TO_RS1, C, V, 63, SYN, 7, 0, b"x")[14..].to_vec();
    let mut want = eth(TO_RS1);
    want.extend(outer_ipv4(4, inner.len(), 0));
    want.extend_from_slice(&inner);
    assert_eq!(o1, vec![want]);
    // IN-ONLY state tracking applies to tunnels too.
    send(&mut w, 0, &tcp(CL, C, V, 64, ACK, 8, 1, b""), 2);
    assert_eq!(conns(&r), (1, 0));
}

#[test]
fn tunnel_gue_nocsum_csum_remcsum_golden() {
    for csum in [TunnelCsum::NoCsum, TunnelCsum::Csum, TunnelCsum::RemCsum] {
        let r = rules_with(
            FwdMethod::Tunnel,
            RS1_IP,
            8990,
            (TunnelType::Gue { port: 6080 }, csum),
        );
        let mut w = worker_with(&r);
        let (_, o1, d) = send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b"hello"), 1);
        assert!(drops(&d).is_empty(), "{d:?}");
        assert_eq!(o1.len(), 1);
        let f = &o1[0];
        let inner = tcp(TO_RS1, C, V, 63, SYN, 7, 0, b"hello")[14..].to_vec();
        let mut want = eth(TO_RS1);
        want.extend(outer_ipv4(17, 8 + 4 + inner.len(), 0));
        // The source port comes from the flow hash: read it, then check the whole datagram.
        let sport = u16::from_be_bytes([f[34], f[35]]);
        assert!((32768..=60999).contains(&sport), "{sport}");
        let mut payload = vec![0x00, 0x04, 0x00, 0x00];
        payload.extend_from_slice(&inner);
        let (ip, _) = Ipv4Header::from_slice(&want[14..]).unwrap();
        let mut u = UdpHeader {
            source_port: sport,
            destination_port: 6080,
            length: (8 + payload.len()) as u16,
            checksum: 0,
        };
        if csum != TunnelCsum::NoCsum {
            u.checksum = u.calc_checksum_ipv4(&ip, &payload).unwrap();
        }
        want.extend_from_slice(&u.to_bytes());
        want.extend_from_slice(&payload);
        assert_eq!(f, &want, "{csum:?}");
        // Same flow, same source port.
        let (_, o1, _) = send(&mut w, 0, &tcp(CL, C, V, 64, ACK, 8, 1, b""), 2);
        assert_eq!(u16::from_be_bytes([o1[0][34], o1[0][35]]), sport);
    }
}

#[test]
fn tunnel_gre_plain_and_csum_golden() {
    for csum in [TunnelCsum::NoCsum, TunnelCsum::Csum] {
        let r = rules_with(FwdMethod::Tunnel, RS1_IP, 8990, (TunnelType::Gre, csum));
        let mut w = worker_with(&r);
        let (_, o1, d) = send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b"abc"), 1);
        assert!(drops(&d).is_empty(), "{d:?}");
        let inner = tcp(TO_RS1, C, V, 63, SYN, 7, 0, b"abc")[14..].to_vec();
        let gre: Vec<u8> = if csum == TunnelCsum::Csum {
            let mut g = vec![0x80, 0x00, 0x08, 0x00, 0, 0, 0, 0];
            let mut all = g.clone();
            all.extend_from_slice(&inner);
            // Checksum computed here independently (RFC 1071 over GRE header + payload).
            let mut sum: u32 = all
                .chunks(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
                .sum();
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            g[4..6].copy_from_slice(&(!(sum as u16)).to_be_bytes());
            g
        } else {
            vec![0x00, 0x00, 0x08, 0x00]
        };
        let mut want = eth(TO_RS1);
        want.extend(outer_ipv4(47, gre.len() + inner.len(), 0));
        want.extend_from_slice(&gre);
        want.extend_from_slice(&inner);
        assert_eq!(o1, vec![want], "{csum:?}");
    }
    // GRE with remote checksum offload: refused per packet (ipvsadm refuses it at configuration).
    let r = rules_with(
        FwdMethod::Tunnel,
        RS1_IP,
        8990,
        (TunnelType::Gre, TunnelCsum::RemCsum),
    );
    let mut w = worker_with(&r);
    let (_, o1, d) = send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b""), 1);
    assert!(o1.is_empty());
    assert_eq!(drops(&d), vec![("drop.fwd_unsupported".to_string(), 1)]);
}

#[test]
fn tunnel_path_mtu_frag_needed_and_no_df() {
    let r = rules_with(FwdMethod::Tunnel, RS1_IP, 8990, IPIP);
    let mut w = worker_with(&r);
    send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b""), 1);
    // 1480 bytes inner + 20 = 1500: fits exactly.
    let fits = tcp(CL, C, V, 64, ACK, 8, 1, &[0x61; 1440]);
    assert_eq!(fits.len(), 14 + 1480);
    let (_, o1, d) = send(&mut w, 0, &fits, 2);
    assert_eq!(o1.len(), 1);
    assert_eq!(o1[0].len(), 14 + 1500);
    assert!(drops(&d).is_empty(), "{d:?}");
    // 1500 bytes with DF: fragmentation needed, MTU 1500 - 20, quoting the header as received.
    let big = tcp(CL, C, V, 64, ACK, 8, 1, &[0x62; 1460]);
    let (o0, o1, d) = send(&mut w, 0, &big, 3);
    assert!(o1.is_empty());
    let t = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
        next_hop_mtu: 1480,
    });
    let quote = &big[14..14 + 28];
    let icmp = Icmpv4Header::with_checksum(t, quote);
    let mut ip = Ipv4Header::new(36, 64, IpNumber(1), VIP.octets(), CLIENT_IP.octets()).unwrap();
    ip.dont_fragment = false;
    ip.dscp = etherparse::Ipv4Dscp::try_new(0x30).unwrap();
    ip.header_checksum = ip.calc_header_checksum();
    let mut want = eth(TO_CL);
    want.extend_from_slice(&ip.to_bytes());
    want.extend_from_slice(&icmp.to_bytes());
    want.extend_from_slice(quote);
    assert_eq!(o0, vec![want]);
    assert!(drops(&d).is_empty(), "{d:?}");
    // Without DF: dropped and counted (we do not fragment).
    let mut nodf = big.clone();
    nodf[14 + 6] = 0;
    let (h, _) = Ipv4Header::from_slice(&nodf[14..]).unwrap();
    let c = h.calc_header_checksum();
    nodf[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
    let (o0, o1, d) = send(&mut w, 0, &nodf, 4);
    assert!(o0.is_empty() && o1.is_empty());
    assert_eq!(drops(&d), vec![("drop.tunnel_too_big".to_string(), 1)]);
    // GUE adds 32 bytes: the advertised MTU is 1468.
    let r = rules_with(
        FwdMethod::Tunnel,
        RS1_IP,
        8990,
        (TunnelType::Gue { port: 6080 }, TunnelCsum::NoCsum),
    );
    let mut w = worker_with(&r);
    send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b""), 1);
    let (o0, _, _) = send(&mut w, 0, &tcp(CL, C, V, 64, ACK, 8, 1, &[0; 1430]), 2);
    assert_eq!(u16::from_be_bytes([o0[0][14 + 26], o0[0][14 + 27]]), 1468);
}

#[test]
fn nat_icmp_errors_both_directions_golden() {
    let rs = (RS1_IP, 8998);
    let r = rules_with(FwdMethod::Masq, RS1_IP, 8998, IPIP);
    let mut w = worker_with(&r);
    let (_, o1, _) = send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b""), 1);
    let as_rs_got = o1[0][14..].to_vec();
    assert_eq!(as_rs_got, tcp(TO_RS1, C, rs, 63, SYN, 7, 0, b"")[14..]);
    // The real server answers port unreachable (to the client, through us): the client gets it
    // from the VIP, quoting exactly the SYN it sent (but the TTL).
    let e = icmp_err(
        FROM_RS1,
        RS1_IP,
        CLIENT_IP,
        64,
        port_unreachable(),
        &as_rs_got,
    );
    let (o0, _, d) = send(&mut w, 1, &e, 2);
    let quote = tcp(CL, C, V, 63, SYN, 7, 0, b"")[14..].to_vec();
    assert_eq!(
        o0,
        vec![icmp_err(
            TO_CL,
            VIP,
            CLIENT_IP,
            63,
            port_unreachable(),
            &quote
        )]
    );
    assert!(drops(&d).is_empty(), "{d:?}");
    assert!(d.contains(&("icmp_errors_forwarded".into(), 1)), "{d:?}");
    // A router on the real server's side, header + 8 bytes quoted: also from the VIP (as IPVS).
    let te = Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit);
    let e = icmp_err(
        FROM_RS1,
        Ipv4Addr::new(10, 10, 1, 254),
        CLIENT_IP,
        64,
        te.clone(),
        &as_rs_got[..28],
    );
    let (o0, _, _) = send(&mut w, 1, &e, 2);
    assert_eq!(
        o0,
        vec![icmp_err(TO_CL, VIP, CLIENT_IP, 63, te, &quote[..28])]
    );
    // The client's side: port unreachable about the SYN-ACK it got from the VIP goes to the real
    // server, from the client, quoting the SYN-ACK as the real server sent it.
    let synack = tcp(TO_CL, V, C, 63, SYN | ACK, 500, 8, b"");
    let e = icmp_err(CL, CLIENT_IP, VIP, 64, port_unreachable(), &synack[14..]);
    let (_, o1, d) = send(&mut w, 0, &e, 3);
    let quote = tcp(TO_CL, rs, C, 63, SYN | ACK, 500, 8, b"")[14..].to_vec();
    assert_eq!(
        o1,
        vec![icmp_err(
            TO_RS1,
            CLIENT_IP,
            RS1_IP,
            63,
            port_unreachable(),
            &quote
        )]
    );
    assert!(drops(&d).is_empty(), "{d:?}");
    // The errors changed no session state.
    assert_eq!(state(&w, 3), "SYN_RECV");
}

#[test]
fn fullnat_icmp_errors_both_directions_golden() {
    let rs = (RS1_IP, 8998);
    let r = rules_with(FwdMethod::FullNat, RS1_IP, 8998, IPIP);
    let mut w = worker_with(&r);
    let (_, o1, _) = send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b""), 1);
    let lport = u16::from_be_bytes([o1[0][34], o1[0][35]]);
    let l = (LADDR1, lport);
    let as_rs_got = o1[0][14..].to_vec();
    assert_eq!(as_rs_got, tcp(TO_RS1, l, rs, 63, SYN, 7, 0, b"")[14..]);
    // Real server -> laddr error: to the client from the VIP, quoting client -> VIP.
    let e = icmp_err(FROM_RS1, RS1_IP, LADDR1, 64, port_unreachable(), &as_rs_got);
    let (o0, _, d) = send(&mut w, 1, &e, 2);
    let quote = tcp(CL, C, V, 63, SYN, 7, 0, b"")[14..].to_vec();
    assert_eq!(
        o0,
        vec![icmp_err(
            TO_CL,
            VIP,
            CLIENT_IP,
            63,
            port_unreachable(),
            &quote
        )]
    );
    assert!(drops(&d).is_empty(), "{d:?}");
    // Client -> VIP error about a reply: to the real server from the laddr, quoting rs -> laddr.
    let reply = tcp(TO_CL, V, C, 63, SYN | ACK, 500, 8, b"");
    let frag = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
        next_hop_mtu: 1400,
    });
    let e = icmp_err(CL, CLIENT_IP, VIP, 64, frag.clone(), &reply[14..]);
    let (_, o1, d) = send(&mut w, 0, &e, 3);
    let quote = tcp(TO_CL, rs, l, 63, SYN | ACK, 500, 8, b"")[14..].to_vec();
    assert_eq!(o1, vec![icmp_err(TO_RS1, LADDR1, RS1_IP, 63, frag, &quote)]);
    assert!(drops(&d).is_empty(), "{d:?}");
}

#[test]
fn icmp_error_without_session_is_dropped_and_counted() {
    let r = rules_with(FwdMethod::Masq, RS1_IP, 8998, IPIP);
    let mut w = worker_with(&r);
    let stray = tcp(TO_RS1, C, (RS1_IP, 8998), 63, SYN, 7, 0, b"");
    let e = icmp_err(
        FROM_RS1,
        RS1_IP,
        CLIENT_IP,
        64,
        port_unreachable(),
        &stray[14..],
    );
    let (o0, o1, d) = send(&mut w, 1, &e, 1);
    assert!(o0.is_empty() && o1.is_empty());
    assert_eq!(drops(&d), vec![("drop.icmp_no_session".to_string(), 1)]);
    // A bad ICMP checksum is malformed, whatever the session.
    let mut bad = e.clone();
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    let (_, _, d) = send(&mut w, 1, &bad, 1);
    assert_eq!(drops(&d), vec![("drop.icmp_malformed".to_string(), 1)]);
}

#[test]
fn direct_routing_icmp_error_from_client_goes_to_the_real_server_unchanged() {
    let r = rules_with(FwdMethod::Route, RS1_IP, 8990, IPIP);
    let mut w = worker_with(&r);
    send(&mut w, 0, &tcp(CL, C, V, 64, SYN, 7, 0, b""), 1);
    // The real server's reply went to the client directly with the VIP as source.
    let reply = tcp(TO_CL, V, C, 64, SYN | ACK, 500, 8, b"");
    let e = icmp_err(CL, CLIENT_IP, VIP, 64, port_unreachable(), &reply[14..]);
    let (_, o1, d) = send(&mut w, 0, &e, 2);
    assert_eq!(
        o1,
        vec![icmp_err(
            TO_RS1,
            CLIENT_IP,
            VIP,
            63,
            port_unreachable(),
            &reply[14..]
        )]
    );
    assert!(drops(&d).is_empty(), "{d:?}");
}

/// The ICMP errors about a flow are owned by the lcore owning the flow, in both directions, for NAT
/// and FULLNAT, with two workers.
#[test]
fn icmp_errors_are_owned_by_the_flow_owner() {
    for fwd in [FwdMethod::Masq, FwdMethod::FullNat] {
        let r = rules_with(fwd, RS1_IP, 8998, IPIP);
        let mut lb: Vec<LbCtx> = (0..2)
            .map(|i| {
                let mut c = LbCtx::new(i, 2, LbLimits { max_sessions: 64 });
                c.set_snapshot(r.snapshot());
                c
            })
            .collect();
        let mut seen = [0; 2];
        for cport in 41000..41024u16 {
            let cl = (CLIENT_IP, cport);
            let mut syn = tcp(CL, cl, V, 64, SYN, 1, 0, b"")[14..].to_vec();
            let o = lb[0].owner(&syn).unwrap();
            seen[o] += 1;
            assert_eq!(
                lb[o].process(&mut syn, 0),
                LbVerdict::Forward { next_hop: None }
            );
            let (h, _) = Ipv4Header::from_slice(&syn).unwrap();
            let src = Ipv4Addr::from(h.source);
            let sport = u16::from_be_bytes([syn[20], syn[21]]);
            // Real-server side error, addressed to what the real server saw as the source.
            let mut e =
                icmp_err(FROM_RS1, RS1_IP, src, 64, port_unreachable(), &syn)[14..].to_vec();
            assert_eq!(lb[0].owner(&e), Some(o), "{fwd:?} rs side");
            assert_eq!(lb[1].owner(&e), Some(o));
            assert_eq!(
                lb[o].process(&mut e, 0),
                LbVerdict::Forward { next_hop: None }
            );
            let _ = sport;
            // Client side error about a reply VIP -> client.
            let reply = tcp(TO_CL, V, cl, 63, SYN | ACK, 5, 2, b"");
            let e = icmp_err(CL, CLIENT_IP, VIP, 64, port_unreachable(), &reply[14..]);
            assert_eq!(lb[1 - o].owner(&e[14..]), Some(o), "{fwd:?} client side");
        }
        assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
        for c in &lb {
            assert_eq!(c.counter("misowned_packets"), Some(0));
        }
        // Not an error: no owner (any lcore answers echo).
        let echo = icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, VIP, 64, true, 1, 1, b"x");
        assert_eq!(lb[0].owner(&echo[14..]), None);
    }
}

#[test]
fn tcp_header_helper_is_sane() {
    // Guards the builder above: DF set, ident 0 (the tunnel goldens rely on both).
    let f = tcp(CL, C, V, 64, SYN, 1, 0, b"");
    let (h, rest) = Ipv4Header::from_slice(&f[14..]).unwrap();
    assert!(h.dont_fragment);
    assert_eq!(h.identification, 0);
    assert!(TcpHeader::from_slice(rest).unwrap().0.syn);
    let _ = Protocol::Tcp;
}

#[test]
fn udp_through_direct_routing_and_tunnel() {
    for fwd in [FwdMethod::Route, FwdMethod::Tunnel] {
        let key = rvs_control::proto::ServiceKey {
            proto: Protocol::Udp,
            addr: VIP.into(),
            port: 53,
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
        .unwrap();
        r.apply(&Request::AddDest(
            key,
            DestSpec {
                addr: RS1_IP.into(),
                port: 53,
                fwd,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: TunnelType::Ipip,
                tun_csum: TunnelCsum::NoCsum,
            },
        ))
        .unwrap();
        let mut w = worker_with(&r);
        let q = udp_frame(CLIENT_MAC, P0_MAC, C, (VIP, 53), b"query");
        let (_, o1, d) = send(&mut w, 0, &q, 1);
        assert!(drops(&d).is_empty(), "{d:?}");
        let mut inner = udp_frame(P1_MAC, RS1_MAC, C, (VIP, 53), b"query");
        inner[14 + 8] = 63;
        let (h, _) = Ipv4Header::from_slice(&inner[14..]).unwrap();
        let c = h.calc_header_checksum();
        inner[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
        let want = if fwd == FwdMethod::Route {
            inner
        } else {
            let mut v = eth(TO_RS1);
            v.extend(outer_ipv4(4, inner.len() - 14, 0));
            v.extend_from_slice(&inner[14..]);
            v
        };
        assert_eq!(o1, vec![want], "{fwd:?}");
        assert_eq!(state(&w, 1), "UDP");
        assert_eq!(conns(&r), (0, 1));
    }
}
