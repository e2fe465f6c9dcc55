//! End-to-end flows through workers with services: NAT and FULLNAT TCP in both directions with
//! exact MACs, addresses, ports, TTL and valid checksums; flow hand-off between two workers.

mod common;

use std::net::Ipv4Addr;

use common::*;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use rvs_control::proto::FwdMethod;
use rvs_dataplane::flow_hash::{hash_addr_port, owner_of_hash};
use rvs_dataplane::port::MemIo;
use rvs_dataplane::worker::Worker;

/// Teach a worker the client's and the real servers' MACs (as their ARP requests for us would).
fn learn_hosts(w: &mut Worker<MemIo>, now: u64) {
    inject(w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    inject(w, 2, &arp_request(RS2_MAC, RS2_IP, P2_IP));
    w.poll_once(now);
    for p in 0..3 {
        take_tx(w, p);
    }
}

/// (eth src, eth dst, ip src, ip dst, ttl, sport, dport, syn, ack) of a TCP frame.
type Tcp = (
    [u8; 6],
    [u8; 6],
    Ipv4Addr,
    Ipv4Addr,
    u8,
    u16,
    u16,
    bool,
    bool,
);

fn tcp_fields(f: &[u8]) -> Tcp {
    assert_frame_valid(f);
    let p = SlicedPacket::from_ethernet(f).unwrap();
    let Some(etherparse::LinkSlice::Ethernet2(e)) = &p.link else {
        panic!()
    };
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        panic!()
    };
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!()
    };
    let h = ip.header();
    (
        e.source(),
        e.destination(),
        h.source_addr(),
        h.destination_addr(),
        h.ttl(),
        t.source_port(),
        t.destination_port(),
        t.syn(),
        t.ack(),
    )
}

fn drops(w: &Worker<MemIo>) -> Vec<(String, u64)> {
    counters(w)
        .into_iter()
        .filter(|(k, v)| k.starts_with("drop.") && *v != 0)
        .collect()
}

#[test]
fn nat_tcp_flow_both_directions() {
    let (mut w, ctrl) = one_worker();
    install(
        &mut w,
        &ctrl,
        lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[]).snapshot(),
        0,
    );
    learn_hosts(&mut w, 0);
    let before = counters(&w);
    // Client -> VIP: SYN goes to rs1 with only the destination rewritten.
    inject(
        &mut w,
        0,
        &tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40000),
            (VIP, 8990),
            64,
            100,
            true,
            None,
            b"",
        ),
    );
    w.poll_once(10);
    let out = take_tx(&mut w, 1);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0],
        tcp_frame(
            P1_MAC,
            RS1_MAC,
            (CLIENT_IP, 40000),
            (RS1_IP, 8998),
            63,
            100,
            true,
            None,
            b""
        )
    );
    // rs1 -> client: SYN-ACK comes back from the VIP.
    inject(
        &mut w,
        1,
        &tcp_frame(
            RS1_MAC,
            P1_MAC,
            (RS1_IP, 8998),
            (CLIENT_IP, 40000),
            64,
            500,
            true,
            Some(101),
            b"",
        ),
    );
    w.poll_once(20);
    let out = take_tx(&mut w, 0);
    assert_eq!(
        out,
        vec![tcp_frame(
            P0_MAC,
            CLIENT_MAC,
            (VIP, 8990),
            (CLIENT_IP, 40000),
            63,
            500,
            true,
            Some(101),
            b""
        )]
    );
    // Data with a payload, client -> rs1.
    inject(
        &mut w,
        0,
        &tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40000),
            (VIP, 8990),
            64,
            101,
            false,
            Some(501),
            b"GET / HTTP/1.0\r\n\r\n",
        ),
    );
    w.poll_once(30);
    let out = take_tx(&mut w, 1);
    assert_eq!(
        out,
        vec![tcp_frame(
            P1_MAC,
            RS1_MAC,
            (CLIENT_IP, 40000),
            (RS1_IP, 8998),
            63,
            101,
            false,
            Some(501),
            b"GET / HTTP/1.0\r\n\r\n"
        )]
    );
    let after = counters(&w);
    assert_eq!(after["rx_packets"] - before["rx_packets"], 3);
    assert_eq!(after["tx_packets"] - before["tx_packets"], 3);
    assert_eq!(
        after.get("sessions_created").copied().unwrap_or(0)
            - before.get("sessions_created").copied().unwrap_or(0),
        1
    );
    assert_eq!(after.get("misowned_packets").copied().unwrap_or(0), 0);
    assert!(drops(&w).is_empty(), "{:?}", drops(&w));
    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(rvs_dataplane::worker::WorkerMsg::GetConns(tx))
        .unwrap();
    w.poll_once(40);
    let conns = rx.try_recv().unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].client, (CLIENT_IP.into(), 40000));
    assert_eq!(conns[0].dest, (RS1_IP.into(), 8998));
    assert_eq!(conns[0].lcore, 1);
}

#[test]
fn nat_syn_to_unresolved_real_server_waits_for_arp() {
    let (mut w, ctrl) = one_worker();
    install(
        &mut w,
        &ctrl,
        lab_rules(8990, &[(RS2_IP, 8999, FwdMethod::Masq)], &[]).snapshot(),
        0,
    );
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    w.poll_once(0);
    take_tx(&mut w, 0);
    inject(
        &mut w,
        0,
        &tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40000),
            (VIP, 8990),
            64,
            1,
            true,
            None,
            b"",
        ),
    );
    w.poll_once(1);
    assert_eq!(
        take_tx(&mut w, 2),
        vec![arp_frame(
            [0xff; 6], P2_MAC, 1, P2_MAC, P2_IP, [0; 6], RS2_IP
        )]
    );
    inject(&mut w, 2, &arp_reply(RS2_MAC, RS2_IP, P2_MAC, P2_IP));
    w.poll_once(2);
    assert_eq!(
        take_tx(&mut w, 2),
        vec![tcp_frame(
            P2_MAC,
            RS2_MAC,
            (CLIENT_IP, 40000),
            (RS2_IP, 8999),
            63,
            1,
            true,
            None,
            b""
        )]
    );
    assert!(drops(&w).is_empty(), "{:?}", drops(&w));
}

#[test]
fn fullnat_tcp_flow_both_directions() {
    let (mut w, ctrl) = one_worker();
    install(
        &mut w,
        &ctrl,
        lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::FullNat)], &[LADDR1]).snapshot(),
        0,
    );
    learn_hosts(&mut w, 0);
    inject(
        &mut w,
        0,
        &tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40000),
            (VIP, 8990),
            64,
            100,
            true,
            None,
            b"",
        ),
    );
    w.poll_once(10);
    let out = take_tx(&mut w, 1);
    assert_eq!(out.len(), 1, "{:?}", drops(&w));
    let (es, ed, s, d, ttl, sp, dp, syn, _) = tcp_fields(&out[0]);
    assert_eq!(
        (es, ed, s, d, ttl, dp, syn),
        (P1_MAC, RS1_MAC, LADDR1, RS1_IP, 63, 8998, true)
    );
    let lport = sp;
    inject(
        &mut w,
        1,
        &tcp_frame(
            RS1_MAC,
            P1_MAC,
            (RS1_IP, 8998),
            (LADDR1, lport),
            64,
            9,
            true,
            Some(101),
            b"",
        ),
    );
    w.poll_once(20);
    let out = take_tx(&mut w, 0);
    assert_eq!(
        out,
        vec![tcp_frame(
            P0_MAC,
            CLIENT_MAC,
            (VIP, 8990),
            (CLIENT_IP, 40000),
            63,
            9,
            true,
            Some(101),
            b""
        )]
    );
    assert!(drops(&w).is_empty(), "{:?}", drops(&w));
}

#[test]
fn flow_owned_by_the_other_worker_is_handed_off() {
    let mut ws = workers(2);
    let (mut w1, c1) = ws.pop().unwrap();
    let (mut w0, c0) = ws.pop().unwrap();
    let rules = lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[]);
    install(&mut w0, &c0, rules.snapshot(), 0);
    install(&mut w1, &c1, rules.snapshot(), 0);
    learn_hosts(&mut w0, 0);
    w1.poll_once(0); // neighbour updates from worker 0
    assert_eq!(w1.pipeline().neigh.mac(1, RS1_IP), Some(RS1_MAC));
    let sport = (1024..2048u16)
        .find(|p| owner_of_hash(hash_addr_port(CLIENT_IP, *p, 6), 2) == 1)
        .unwrap();
    // The SYN arrives on worker 0's queue.
    inject(
        &mut w0,
        0,
        &tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, sport),
            (VIP, 8990),
            64,
            1,
            true,
            None,
            b"",
        ),
    );
    w0.poll_once(1);
    assert!(take_tx(&mut w0, 1).is_empty());
    assert_eq!(w0.counters().handoff_out, 1);
    w1.poll_once(2);
    assert_eq!(w1.counters().handoff_in, 1);
    assert_eq!(
        take_tx(&mut w1, 1),
        vec![tcp_frame(
            P1_MAC,
            RS1_MAC,
            (CLIENT_IP, sport),
            (RS1_IP, 8998),
            63,
            1,
            true,
            None,
            b""
        )]
    );
    // The real server's answer lands on worker 0 too: handed to worker 1, which has the session.
    inject(
        &mut w0,
        1,
        &tcp_frame(
            RS1_MAC,
            P1_MAC,
            (RS1_IP, 8998),
            (CLIENT_IP, sport),
            64,
            7,
            true,
            Some(2),
            b"",
        ),
    );
    w0.poll_once(3);
    w1.poll_once(4);
    assert_eq!(w0.counters().handoff_out, 2);
    assert_eq!(
        take_tx(&mut w1, 0),
        vec![tcp_frame(
            P0_MAC,
            CLIENT_MAC,
            (VIP, 8990),
            (CLIENT_IP, sport),
            63,
            7,
            true,
            Some(2),
            b""
        )]
    );
    for w in [&w0, &w1] {
        assert_eq!(counters(w).get("misowned_packets").copied().unwrap_or(0), 0);
        assert!(drops(w).is_empty(), "{:?}", drops(w));
    }
    assert_eq!(
        counters(&w0).get("sessions_created").copied().unwrap_or(0),
        0
    );
    assert_eq!(
        counters(&w1).get("sessions_created").copied().unwrap_or(0),
        1
    );
}

#[test]
fn tcp_without_session_is_dropped_with_a_reason() {
    let (mut w, ctrl) = one_worker();
    install(
        &mut w,
        &ctrl,
        lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[]).snapshot(),
        0,
    );
    learn_hosts(&mut w, 0);
    inject(
        &mut w,
        0,
        &tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40000),
            (VIP, 8990),
            64,
            1,
            false,
            Some(1),
            b"x",
        ),
    );
    inject(
        &mut w,
        0,
        &tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40000),
            (VIP, 9999),
            64,
            1,
            true,
            None,
            b"",
        ),
    );
    w.poll_once(1);
    for p in 0..3 {
        assert!(take_tx(&mut w, p).is_empty());
    }
    let d = drops(&w);
    assert_eq!(d.iter().map(|(_, v)| v).sum::<u64>(), 2, "{d:?}");
}
