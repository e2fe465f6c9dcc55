//! Full tables through a whole worker: when the session table is full, new flows are refused and
//! counted (`drop.session_table_full`, `sessions_table_full`), established sessions keep forwarding and
//! are never evicted, and service resumes by itself once sessions expire. (The FULLNAT local-port pool
//! has the same contract: see `lb::tests::full_local_port_pool_refuses_then_recovers`.)

mod common;

use std::net::Ipv4Addr;

use common::*;
use rvs_control::proto::FwdMethod;
use rvs_dataplane::port::{MemIo, VecBuf};
use rvs_dataplane::worker::{handoff_mesh, Handoff, Worker, WorkerMsg};

fn worker(max_sessions: usize) -> (Worker<MemIo>, crossbeam_channel::Sender<WorkerMsg>) {
    let mut c = conf(0, 1);
    c.max_sessions = max_sessions;
    let mesh: Vec<Handoff<VecBuf>> = handoff_mesh(1, 64);
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut w = Worker::new(c, MemIo::new(3), rx, mesh.into_iter().next().unwrap()).unwrap();
    let rules = lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[]);
    install(&mut w, &tx, rules.snapshot(), 0);
    // rs1 resolved, so forwarded frames leave at once.
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    w.poll_once(0);
    take_tx(&mut w, 1);
    (w, tx)
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

/// Send one frame from the client; returns (frames sent to rs1, counters that changed).
fn send(w: &mut Worker<MemIo>, frame: &[u8], now: u64) -> (usize, Vec<(String, u64)>) {
    let before = counters(w);
    inject(w, 0, frame);
    w.poll_once(now);
    // IPv4 frames only: after minutes of virtual time rs1's neighbour entry is refreshed by ARP.
    let out: Vec<_> = take_tx(w, 1)
        .into_iter()
        .filter(|f| f[12..14] == [0x08, 0x00])
        .collect();
    for f in &out {
        assert_frame_valid(f);
    }
    assert!(take_tx(w, 0).is_empty() && take_tx(w, 2).is_empty());
    (out.len(), changed(&before, &counters(w)))
}

fn get(ch: &[(String, u64)], name: &str) -> u64 {
    ch.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v)
}

#[test]
fn full_session_table_refuses_new_flows_keeps_old_ones_and_recovers() {
    let (mut w, _ctrl) = worker(2);
    // Two flows fill the table: one established (900 s), one left in SYN_RECV (60 s).
    assert_eq!(send(&mut w, &client(40001, 1, true, None, b""), 0).0, 1);
    assert_eq!(send(&mut w, &client(40001, 2, false, Some(1), b""), 0).0, 1);
    assert_eq!(send(&mut w, &client(40002, 1, true, None, b""), 0).0, 1);
    assert_eq!(w.pipeline().lb.sessions_live(), 2);

    // A flood of new flows: every one refused and counted, nothing sent, nothing evicted.
    for i in 0..50u16 {
        let (sent, ch) = send(&mut w, &client(50000 + i, 1, true, None, b""), 1_000);
        assert_eq!(sent, 0);
        assert_eq!(get(&ch, "drop.session_table_full"), 1, "{ch:?}");
        assert_eq!(get(&ch, "sessions_table_full"), 1, "{ch:?}");
        assert_eq!(get(&ch, "sessions_created"), 0, "{ch:?}");
        let other_drops: Vec<_> = ch
            .iter()
            .filter(|(k, _)| k.starts_with("drop.") && k != "drop.session_table_full")
            .collect();
        assert!(other_drops.is_empty(), "{ch:?}");
    }
    assert_eq!(w.pipeline().lb.sessions_live(), 2);

    // The established flow keeps working while the table is full.
    let (sent, ch) = send(&mut w, &client(40001, 2, false, Some(1), b"GET /"), 2_000);
    assert_eq!(sent, 1);
    assert!(ch.iter().all(|(k, _)| !k.starts_with("drop.")), "{ch:?}");

    // At 60 s the SYN_RECV flow expires (the worker's own sweep): a new flow gets its slot; the
    // established one is still there.
    w.poll_once(61_000);
    assert_eq!(w.pipeline().lb.sessions_live(), 1);
    let (sent, ch) = send(&mut w, &client(50000, 1, true, None, b""), 61_000);
    assert_eq!(sent, 1);
    assert_eq!(get(&ch, "sessions_created"), 1);
    assert_eq!(w.pipeline().lb.sessions_live(), 2);
    let (sent, _) = send(&mut w, &client(40001, 7, false, Some(1), b"more"), 61_000);
    assert_eq!(sent, 1);
    // Full again: refused again.
    let (sent, ch) = send(&mut w, &client(50001, 1, true, None, b""), 61_000);
    assert_eq!(sent, 0);
    assert_eq!(get(&ch, "drop.session_table_full"), 1);
}

#[test]
fn udp_flood_on_a_full_table_is_refused_and_counted() {
    use rvs_control::proto::{DestSpec, Protocol, Request, ServiceKey, ServiceSpec};
    let (mut w, ctrl) = worker(4);
    let key = ServiceKey {
        proto: Protocol::Udp,
        addr: VIP.into(),
        port: 9000,
    };
    let mut rules = lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[]);
    rules
        .apply(&Request::AddService(ServiceSpec {
            key,
            scheduler: "rr".into(),
            persistent: None,
            netmask_prefix: 32,
            sched_flags: 0,
            one_packet: false,
        }))
        .unwrap();
    rules
        .apply(&Request::AddDest(
            key,
            DestSpec {
                addr: RS1_IP.into(),
                port: 9000,
                fwd: FwdMethod::Masq,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: rvs_control::proto::TunnelType::Ipip,
                tun_csum: rvs_control::proto::TunnelCsum::NoCsum,
            },
        ))
        .unwrap();
    install(&mut w, &ctrl, rules.snapshot(), 0);
    assert_eq!(send(&mut w, &client(40001, 1, true, None, b""), 0).0, 1);
    let udp = |src: u8, sport: u16| {
        udp_frame(
            CLIENT_MAC,
            P0_MAC,
            (Ipv4Addr::new(10, 10, 0, src), sport),
            (VIP, 9000),
            b"x",
        )
    };
    let before = counters(&w);
    for i in 0..40u16 {
        inject(&mut w, 0, &udp(3, 1000 + i));
    }
    w.poll_once(1);
    w.poll_once(1); // rx bursts are 32 frames
                    // Three slots were left: three datagrams go through, 37 are refused.
    assert_eq!(take_tx(&mut w, 1).len(), 3, "forwarded datagrams");
    let ch = changed(&before, &counters(&w));
    assert_eq!(get(&ch, "drop.session_table_full"), 37, "{ch:?}");
    assert_eq!(get(&ch, "sessions_created"), 3, "{ch:?}");
    assert_eq!(w.pipeline().lb.sessions_live(), 4);
    // The TCP flow still forwards; after the UDP timeout (300 s) new datagrams pass again.
    assert_eq!(
        send(&mut w, &client(40001, 2, false, Some(1), b"x"), 2).0,
        1
    );
    w.poll_once(301_000);
    assert_eq!(w.pipeline().lb.sessions_live(), 1);
    assert_eq!(send(&mut w, &udp(4, 2000), 301_000).0, 1);
}
