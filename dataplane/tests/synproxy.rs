//! The SYN proxy through a whole worker: frames on the ports, the hold store and its release, its
//! bounds and timeout, and exactly which counters move. The packet-level bytes of every step are
//! checked in `lb::proxied::tests`; here the frames are parsed with etherparse.

mod common;

use common::*;
use etherparse::{SlicedPacket, TransportSlice};
use rvs_control::proto::FwdMethod;
use rvs_dataplane::port::MemIo;
use rvs_dataplane::synproxy::hold::{HOLD_PER_SESSION, HOLD_TIMEOUT_MS};
use rvs_dataplane::synproxy::{SynproxyConf, SynproxyMode};
use rvs_dataplane::worker::Worker;
use std::net::Ipv4Addr;

const ISN: u32 = 5_000;
const S: u32 = 900_000;

/// (src, dst, flags byte, seq, ack, payload length) of a TCP frame, checksums verified.
fn tcp_of(frame: &[u8]) -> ((Ipv4Addr, u16), (Ipv4Addr, u16), u8, u32, u32, usize) {
    assert_frame_valid(frame);
    let p = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not IPv4");
    };
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!("not TCP");
    };
    let h = ip.header();
    let flags = u8::from(t.fin())
        | u8::from(t.syn()) << 1
        | u8::from(t.rst()) << 2
        | u8::from(t.psh()) << 3
        | u8::from(t.ack()) << 4;
    (
        (h.source_addr(), t.source_port()),
        (h.destination_addr(), t.destination_port()),
        flags,
        t.sequence_number(),
        t.acknowledgment_number(),
        t.payload().len(),
    )
}

fn worker() -> Worker<MemIo> {
    let (mut w, tx) = one_worker();
    w.set_synproxy(SynproxyConf {
        mode: SynproxyMode::On,
        threshold: 1,
        secret: [3, 4],
    });
    let rules = lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[]);
    install(&mut w, &tx, rules.snapshot(), 0);
    // The client and rs1 resolved, so frames leave at once.
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    w.poll_once(0);
    take_tx(&mut w, 0);
    take_tx(&mut w, 1);
    w
}

fn client(port: u16, seq: u32, syn: bool, ack: Option<u32>, data: &[u8]) -> Vec<u8> {
    tcp_frame(
        CLIENT_MAC,
        P0_MAC,
        (CLIENT_IP, port),
        (VIP, 8990),
        64,
        seq,
        syn,
        ack,
        data,
    )
}

fn rs1(port: u16, seq: u32, syn: bool, ack: u32, data: &[u8]) -> Vec<u8> {
    tcp_frame(
        RS1_MAC,
        P1_MAC,
        (RS1_IP, 8998),
        (CLIENT_IP, port),
        64,
        seq,
        syn,
        Some(ack),
        data,
    )
}

/// Handshake of client port `port` with the proxy; returns the cookie.
fn handshake(w: &mut Worker<MemIo>, port: u16, now: u64) -> u32 {
    inject(w, 0, &client(port, ISN, true, None, &[]));
    w.poll_once(now);
    let out = take_tx(w, 0);
    assert_eq!(out.len(), 1);
    let (src, dst, flags, cookie, ack, _) = tcp_of(&out[0]);
    assert_eq!(
        (src, dst, flags, ack),
        ((VIP, 8990), (CLIENT_IP, port), 0x12, ISN + 1)
    );
    assert_eq!(&out[0][..6], &CLIENT_MAC);
    inject(w, 0, &client(port, ISN + 1, false, Some(cookie + 1), &[]));
    w.poll_once(now);
    let out = take_tx(w, 1);
    assert_eq!(out.len(), 1);
    let (src, dst, flags, seq, _, _) = tcp_of(&out[0]);
    assert_eq!(
        (src, dst, flags, seq),
        ((CLIENT_IP, port), (RS1_IP, 8998), 0x02, ISN)
    );
    cookie
}

#[test]
fn held_request_is_released_after_the_proxy_ack() {
    let mut w = worker();
    let k = handshake(&mut w, 40000, 10);
    // The request before the real server answered: nothing leaves, one frame held.
    let before = counters(&w);
    inject(
        &mut w,
        0,
        &client(40000, ISN + 1, false, Some(k + 1), b"GET /"),
    );
    w.poll_once(11);
    assert!(take_tx(&mut w, 1).is_empty() && take_tx(&mut w, 0).is_empty());
    assert_eq!(w.held_frames(), 1);
    assert_eq!(
        changed(&before, &counters(&w)),
        vec![
            ("rx_packets".to_string(), 1),
            ("synproxy_held".to_string(), 1),
        ]
    );
    // The SYN-ACK: the proxy's ACK, then the held request, in that order, on rs1's port.
    let before = counters(&w);
    inject(&mut w, 1, &rs1(40000, S, true, ISN + 1, &[]));
    w.poll_once(12);
    let out = take_tx(&mut w, 1);
    assert_eq!(out.len(), 2);
    assert_eq!(
        tcp_of(&out[0]),
        ((CLIENT_IP, 40000), (RS1_IP, 8998), 0x10, ISN + 1, S + 1, 0)
    );
    assert_eq!(
        tcp_of(&out[1]),
        ((CLIENT_IP, 40000), (RS1_IP, 8998), 0x10, ISN + 1, S + 1, 5)
    );
    assert!(
        take_tx(&mut w, 0).is_empty(),
        "the SYN-ACK is not passed on"
    );
    assert_eq!(w.held_frames(), 0);
    let delta = changed(&before, &counters(&w));
    let names: Vec<&str> = delta.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "lb_packets_in",
            "lb_packets_out",
            "rx_packets",
            "synproxy_established",
            "tx_packets"
        ]
    );
    assert!(delta.contains(&("tx_packets".to_string(), 2)));
    // The answer: seq shifted back into the cookie's space.
    inject(&mut w, 1, &rs1(40000, S + 1, false, ISN + 6, b"page"));
    w.poll_once(13);
    let out = take_tx(&mut w, 0);
    assert_eq!(
        tcp_of(&out[0]),
        ((VIP, 8990), (CLIENT_IP, 40000), 0x10, k + 1, ISN + 6, 4)
    );
    assert!(counters(&w)
        .iter()
        .all(|(n, v)| !n.starts_with("drop.") || *v == 0));
}

#[test]
fn hold_store_bounds_and_timeout() {
    let mut w = worker();
    let k = handshake(&mut w, 40001, 10);
    for i in 0..HOLD_PER_SESSION as u32 + 2 {
        inject(
            &mut w,
            0,
            &client(40001, ISN + 1 + i, false, Some(k + 1), b"x"),
        );
    }
    w.poll_once(20);
    assert_eq!(w.held_frames(), HOLD_PER_SESSION);
    let c = counters(&w);
    assert_eq!(c["drop.synproxy_hold_full"], 2);
    assert_eq!(c["synproxy_held"], HOLD_PER_SESSION as u64 + 2);
    // The real server never answers: the held frames are dropped after the timeout (the worker
    // looks every 100 ms), and the client's next packet a second after the SYN repeats it.
    w.poll_once(20 + HOLD_TIMEOUT_MS + 200);
    assert_eq!(w.held_frames(), 0);
    assert_eq!(
        counters(&w)["drop.synproxy_hold_expired"],
        HOLD_PER_SESSION as u64
    );
    inject(&mut w, 0, &client(40001, ISN + 1, false, Some(k + 1), b"x"));
    w.poll_once(20 + HOLD_TIMEOUT_MS + 300);
    let out = take_tx(&mut w, 1);
    assert_eq!(out.len(), 1);
    assert_eq!(
        tcp_of(&out[0]),
        ((CLIENT_IP, 40001), (RS1_IP, 8998), 0x02, ISN, 0, 0)
    );
    assert_eq!(counters(&w)["synproxy_syn_retransmits"], 1);
}

#[test]
fn bad_cookies_through_the_worker() {
    let mut w = worker();
    let before = counters(&w);
    inject(&mut w, 0, &client(40002, ISN + 1, false, Some(12345), &[]));
    w.poll_once(5);
    assert!(take_tx(&mut w, 1).is_empty());
    assert_eq!(
        changed(&before, &counters(&w)),
        vec![
            ("drop.synproxy_bad_cookie".to_string(), 1),
            ("rx_packets".to_string(), 1),
            ("synproxy_cookies_invalid".to_string(), 1),
        ]
    );
}

/// Two workers, FULLNAT: every frame lands on worker 0's queues, worker 1 owns the flow (the
/// client's port hashes to it, and the local port it takes is in its slice): the SYN, the ACK, the
/// held request and the real server's SYN-ACK (to the local address) are all handed to worker 1,
/// which answers, proxies, holds and releases; no packet is processed by the wrong worker.
#[test]
fn two_workers_fullnat_proxied_connection_is_handled_by_the_owner() {
    use rvs_dataplane::flow_hash::{hash_addr_port, owner_of_hash};
    let mut ws = workers(2);
    let (mut w1, c1) = ws.pop().unwrap();
    let (mut w0, c0) = ws.pop().unwrap();
    let rules = lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::FullNat)], &[LADDR1]);
    for (w, c) in [(&mut w0, &c0), (&mut w1, &c1)] {
        w.set_synproxy(SynproxyConf {
            mode: SynproxyMode::On,
            threshold: 1,
            secret: [7, 8],
        });
        install(w, c, rules.snapshot(), 0);
    }
    inject(&mut w0, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(&mut w0, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    w0.poll_once(0);
    w1.poll_once(0); // neighbour updates from worker 0
    take_tx(&mut w0, 0);
    take_tx(&mut w0, 1);
    let sport = (1024..2048u16)
        .find(|p| owner_of_hash(hash_addr_port(CLIENT_IP, *p, 6), 2) == 1)
        .unwrap();
    // Feed a frame to worker 0, let both poll; what worker 1 sent on `port`.
    let step = |w0: &mut Worker<MemIo>, w1: &mut Worker<MemIo>, port, f: &[u8], now| {
        inject(w0, port, f);
        w0.poll_once(now);
        w1.poll_once(now);
        assert!(take_tx(w0, 0).is_empty() && take_tx(w0, 1).is_empty());
        (take_tx(w1, 0), take_tx(w1, 1))
    };
    let (to_client, _) = step(&mut w0, &mut w1, 0, &client(sport, ISN, true, None, &[]), 1);
    let (_, _, flags, k, _, _) = tcp_of(&to_client[0]);
    assert_eq!(flags, 0x12);
    let (_, to_rs) = step(
        &mut w0,
        &mut w1,
        0,
        &client(sport, ISN + 1, false, Some(k + 1), &[]),
        2,
    );
    let (src, dst, flags, seq, _, _) = tcp_of(&to_rs[0]);
    assert_eq!(
        (src.0, dst, flags, seq),
        (LADDR1, (RS1_IP, 8998), 0x02, ISN)
    );
    let lport = src.1;
    assert_eq!(lport % 2, 1, "the local port is in worker 1's slice");
    let (a, b) = step(
        &mut w0,
        &mut w1,
        0,
        &client(sport, ISN + 1, false, Some(k + 1), b"GET /"),
        3,
    );
    assert!(a.is_empty() && b.is_empty());
    assert_eq!(w1.held_frames(), 1);
    let synack = tcp_frame(
        RS1_MAC,
        P1_MAC,
        (RS1_IP, 8998),
        (LADDR1, lport),
        64,
        S,
        true,
        Some(ISN + 1),
        &[],
    );
    let (_, to_rs) = step(&mut w0, &mut w1, 1, &synack, 4);
    assert_eq!(to_rs.len(), 2);
    assert_eq!(
        tcp_of(&to_rs[0]),
        ((LADDR1, lport), (RS1_IP, 8998), 0x10, ISN + 1, S + 1, 0)
    );
    assert_eq!(
        tcp_of(&to_rs[1]),
        ((LADDR1, lport), (RS1_IP, 8998), 0x10, ISN + 1, S + 1, 5)
    );
    assert_eq!(w0.counters().handoff_out, 4);
    for w in [&w0, &w1] {
        let c = counters(w);
        assert_eq!(c["misowned_packets"], 0);
        assert!(
            c.iter().all(|(n, v)| !n.starts_with("drop.") || *v == 0),
            "{c:?}"
        );
    }
    assert_eq!(counters(&w1)["synproxy_established"], 1);
    assert_eq!(counters(&w0)["synproxy_cookies_sent"], 0);
}
