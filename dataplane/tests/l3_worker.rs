//! Golden L2/L3 behaviour of a worker over in-memory ports: ARP answers and learning, ICMP echo,
//! neighbour resolution (queue, request, release, give up), every malformed-input drop, tx overflow,
//! gratuitous ARP, stats, and the neighbour update channel between two workers.

mod common;

use std::net::Ipv4Addr;

use common::*;
use rvs_dataplane::neigh::NeighState;
use rvs_dataplane::port::{MemIo, TxOffloadCaps, VecBuf, WorkerIo};
use rvs_dataplane::worker::{handoff_mesh, Worker, WorkerMsg};

fn deltas(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut v: Vec<_> = v.iter().map(|(k, n)| ((*k).to_string(), *n)).collect();
    v.sort();
    v
}

#[test]
fn arp_request_for_port_address_gets_exact_reply_and_learns() {
    let (mut w, _ctrl) = one_worker();
    let before = counters(&w);
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    assert_eq!(w.poll_once(0), 1);
    let expect = arp_frame(CLIENT_MAC, P0_MAC, 2, P0_MAC, P0_IP, CLIENT_MAC, CLIENT_IP);
    assert_eq!(take_tx(&mut w, 0), vec![expect]);
    assert!(take_tx(&mut w, 1).is_empty() && take_tx(&mut w, 2).is_empty());
    assert_eq!(
        changed(&before, &counters(&w)),
        deltas(&[("rx_packets", 1), ("tx_packets", 1)])
    );
    assert_eq!(w.pipeline().neigh.mac(0, CLIENT_IP), Some(CLIENT_MAC));
    assert_eq!(
        w.pipeline().neigh.state(0, CLIENT_IP),
        Some(NeighState::Reachable)
    );
}

#[test]
fn padded_arp_request_reply_keeps_frame_length() {
    let (mut w, _ctrl) = one_worker();
    let mut req = arp_request(CLIENT_MAC, CLIENT_IP, P0_IP);
    req.resize(60, 0);
    inject(&mut w, 0, &req);
    w.poll_once(0);
    let mut expect = arp_frame(CLIENT_MAC, P0_MAC, 2, P0_MAC, P0_IP, CLIENT_MAC, CLIENT_IP);
    expect.resize(60, 0);
    assert_eq!(take_tx(&mut w, 0), vec![expect]);
}

#[test]
fn arp_not_for_us_is_not_answered_nor_learned() {
    let (mut w, _ctrl) = one_worker();
    let before = counters(&w);
    // Another host on the segment, and our port-1 address asked on port 0.
    inject(
        &mut w,
        0,
        &arp_request(CLIENT_MAC, CLIENT_IP, Ipv4Addr::new(10, 10, 0, 7)),
    );
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P1_IP));
    w.poll_once(0);
    assert!(take_tx(&mut w, 0).is_empty());
    assert_eq!(
        changed(&before, &counters(&w)),
        deltas(&[("rx_packets", 2), ("drop.not_for_us", 2)])
    );
    assert!(w.pipeline().neigh.is_empty());
}

#[test]
fn icmp_echo_to_port_address_gets_exact_reply() {
    let (mut w, _ctrl) = one_worker();
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    w.poll_once(0);
    take_tx(&mut w, 0);
    let before = counters(&w);
    let data = b"0123456789abcdefghij";
    inject(
        &mut w,
        0,
        &icmp_echo(
            CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 63, true, 0x4242, 7, data,
        ),
    );
    assert_eq!(w.poll_once(10), 1);
    let out = take_tx(&mut w, 0);
    assert_eq!(
        out,
        vec![icmp_echo(
            P0_MAC, CLIENT_MAC, P0_IP, CLIENT_IP, 64, false, 0x4242, 7, data
        )]
    );
    assert_frame_valid(&out[0]);
    assert_eq!(
        changed(&before, &counters(&w)),
        deltas(&[("rx_packets", 1), ("tx_packets", 1)])
    );
}

#[test]
fn echo_to_unresolved_sender_resolves_then_sends() {
    let (mut w, _ctrl) = one_worker();
    let req = icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 64, true, 1, 1, b"x");
    inject(&mut w, 0, &req);
    w.poll_once(0);
    // The reply waits; an ARP request goes out instead, sourced from the port address.
    let arp_req = arp_frame([0xff; 6], P0_MAC, 1, P0_MAC, P0_IP, [0; 6], CLIENT_IP);
    assert_eq!(take_tx(&mut w, 0), vec![arp_req]);
    assert_eq!(
        w.pipeline().neigh.state(0, CLIENT_IP),
        Some(NeighState::Incomplete)
    );
    assert_eq!(counters(&w)["arp_requests"], 1);
    let before = counters(&w);
    inject(&mut w, 0, &arp_reply(CLIENT_MAC, CLIENT_IP, P0_MAC, P0_IP));
    w.poll_once(50);
    let out = take_tx(&mut w, 0);
    assert_eq!(
        out,
        vec![icmp_echo(
            P0_MAC, CLIENT_MAC, P0_IP, CLIENT_IP, 64, false, 1, 1, b"x"
        )]
    );
    assert_eq!(
        changed(&before, &counters(&w)),
        deltas(&[("rx_packets", 1), ("tx_packets", 1)])
    );
}

#[test]
fn unanswered_resolution_retries_then_drops_queue() {
    let (mut w, _ctrl) = one_worker();
    for seq in 0..10u16 {
        inject(
            &mut w,
            0,
            &icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 64, true, 1, seq, b""),
        );
    }
    w.poll_once(0);
    assert_eq!(take_tx(&mut w, 0).len(), 1, "one ARP request");
    let c = counters(&w);
    assert_eq!(
        c["drop.neigh_unresolved"], 2,
        "8 queued, 2 over the queue bound"
    );
    let mut requests = 0;
    for t in (100..=3000).step_by(100) {
        w.poll_once(t);
        requests += take_tx(&mut w, 0).len();
    }
    assert_eq!(requests, 2, "retried twice, one second apart");
    let c = counters(&w);
    assert_eq!(
        c["drop.neigh_unresolved"], 10,
        "the 8 queued packets dropped on giving up"
    );
    assert_eq!(c["arp_requests"], 3);
    assert_eq!(c["tx_packets"], 3);
    assert!(w.pipeline().neigh.is_empty());
}

#[test]
fn static_route_resolves_gateway() {
    let (mut w, _ctrl) = one_worker();
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    w.poll_once(0);
    take_tx(&mut w, 0);
    // An echo from behind the gateway 10.10.1.254 (route 10.20.0.0/16 via port 1).
    let far = Ipv4Addr::new(10, 20, 3, 4);
    inject(
        &mut w,
        1,
        &icmp_echo(
            [2, 0, 0, 0, 1, 0xfe],
            P1_MAC,
            far,
            P1_IP,
            60,
            true,
            9,
            9,
            b"gw",
        ),
    );
    w.poll_once(1);
    let gw = Ipv4Addr::new(10, 10, 1, 254);
    assert_eq!(
        take_tx(&mut w, 1),
        vec![arp_frame([0xff; 6], P1_MAC, 1, P1_MAC, P1_IP, [0; 6], gw)]
    );
    inject(
        &mut w,
        1,
        &arp_reply([2, 0, 0, 0, 1, 0xfe], gw, P1_MAC, P1_IP),
    );
    w.poll_once(2);
    assert_eq!(
        take_tx(&mut w, 1),
        vec![icmp_echo(
            P1_MAC,
            [2, 0, 0, 0, 1, 0xfe],
            P1_IP,
            far,
            64,
            false,
            9,
            9,
            b"gw"
        )]
    );
}

#[test]
fn every_malformed_frame_is_dropped_with_its_reason() {
    let good = icmp_echo(
        CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 64, true, 1, 1, b"abcd",
    );
    let mut bad_ip_csum = good.clone();
    bad_ip_csum[24] ^= 0xff;
    let mut frag = good.clone();
    frag[20] = 0x20; // MF
    let fix_csum = |f: &mut Vec<u8>| {
        f[24] = 0;
        f[25] = 0;
        let mut s: u32 = 0;
        for c in f[14..34].chunks(2) {
            s += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        let c = !(s as u16);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    };
    fix_csum(&mut frag);
    let mut ihl4 = good.clone();
    ihl4[14] = 0x44;
    let mut long_total = good.clone();
    long_total[16] = 0x05;
    fix_csum(&mut long_total);
    let mut bad_icmp = good.clone();
    let n = bad_icmp.len();
    bad_icmp[n - 1] ^= 1;
    let mut short_icmp = good.clone();
    short_icmp.truncate(14 + 20 + 4);
    short_icmp[17] = 24; // total length 24
    fix_csum(&mut short_icmp);
    let mut ipv6 = good.clone();
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    let mut other_mac = good.clone();
    other_mac[..6].copy_from_slice(&[2, 9, 9, 9, 9, 9]);
    let mut arp_bad_htype = arp_request(CLIENT_MAC, CLIENT_IP, P0_IP);
    arp_bad_htype[15] = 6;
    let mut arp_bad_op = arp_request(CLIENT_MAC, CLIENT_IP, P0_IP);
    arp_bad_op[21] = 9;
    let arp_short = arp_request(CLIENT_MAC, CLIENT_IP, P0_IP)[..40].to_vec();
    let udp_to_port = udp_frame(CLIENT_MAC, P0_MAC, (CLIENT_IP, 1000), (P0_IP, 53), b"q");
    let echo_reply_to_us = icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 64, false, 1, 1, b"");
    let udp_elsewhere = udp_frame(CLIENT_MAC, P0_MAC, (CLIENT_IP, 1000), (RS1_IP, 53), b"q");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "drop.eth_truncated"),
        ("13 bytes", good[..13].to_vec(), "drop.eth_truncated"),
        ("ipv6", ipv6, "drop.eth_unsupported"),
        ("unicast to another MAC", other_mac, "drop.not_for_us"),
        ("ip header cut", good[..30].to_vec(), "drop.ipv4_malformed"),
        ("ihl 4", ihl4, "drop.ipv4_malformed"),
        ("total length past frame", long_total, "drop.ipv4_malformed"),
        ("ip checksum", bad_ip_csum, "drop.ipv4_bad_checksum"),
        ("fragment", frag, "drop.ipv4_fragment"),
        ("icmp checksum", bad_icmp, "drop.icmp_malformed"),
        ("icmp short", short_icmp, "drop.icmp_malformed"),
        ("arp htype", arp_bad_htype, "drop.arp_malformed"),
        ("arp op", arp_bad_op, "drop.arp_malformed"),
        ("arp short", arp_short, "drop.arp_malformed"),
        ("udp to port address", udp_to_port, "drop.not_for_us"),
        ("echo reply to us", echo_reply_to_us, "drop.not_for_us"),
        (
            "udp to a non-service address",
            udp_elsewhere,
            "drop.not_for_us",
        ),
    ];
    for (name, frame, reason) in cases {
        let (mut w, _ctrl) = one_worker();
        let before = counters(&w);
        inject(&mut w, 0, &frame);
        w.poll_once(0);
        for p in 0..3 {
            assert!(take_tx(&mut w, p).is_empty(), "{name}: nothing sent");
        }
        assert_eq!(
            changed(&before, &counters(&w)),
            deltas(&[("rx_packets", 1), (reason, 1)]),
            "{name}"
        );
        assert!(w.pipeline().neigh.is_empty(), "{name}: nothing learned");
    }
}

#[test]
fn ttl_does_not_matter_for_local_echo() {
    let (mut w, _ctrl) = one_worker();
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(
        &mut w,
        0,
        &icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 1, true, 1, 1, b""),
    );
    w.poll_once(0);
    assert_eq!(take_tx(&mut w, 0).len(), 2);
}

/// Port I/O whose tx queues take at most `room` frames per burst.
struct TightIo {
    inner: MemIo,
    room: usize,
}

impl WorkerIo for TightIo {
    type Buf = VecBuf;
    fn n_ports(&self) -> u16 {
        self.inner.n_ports()
    }
    fn rx_burst(&mut self, port: u16, out: &mut Vec<VecBuf>) -> usize {
        self.inner.rx_burst(port, out)
    }
    fn tx_burst(&mut self, port: u16, bufs: &mut Vec<VecBuf>) -> usize {
        let n = bufs.len().min(self.room);
        let mut rest = bufs.split_off(n);
        let sent = self.inner.tx_burst(port, bufs);
        bufs.append(&mut rest);
        sent
    }
    fn alloc(&mut self) -> Option<VecBuf> {
        self.inner.alloc()
    }
    fn tx_offload(&self, port: u16) -> TxOffloadCaps {
        self.inner.tx_offload(port)
    }
}

#[test]
fn tx_overflow_is_freed_and_counted() {
    let mesh = handoff_mesh::<VecBuf>(1, 8);
    let (_ctrl, rx) = crossbeam_channel::unbounded();
    let io = TightIo {
        inner: MemIo::new(3),
        room: 2,
    };
    let mut w = Worker::new(conf(0, 1), io, rx, mesh.into_iter().next().unwrap()).unwrap();
    for i in 0..5u8 {
        let mac = [2, 0, 0, 0, 0, 0x20 + i];
        let ip = Ipv4Addr::new(10, 10, 0, 20 + i);
        w.io_mut().inner.rx[0].push_back(VecBuf::from_slice(&arp_request(mac, ip, P0_IP)));
    }
    w.poll_once(0);
    assert_eq!(w.io().inner.tx[0].len(), 2);
    let c = w.counters();
    assert_eq!((c.rx_packets, c.tx_packets), (5, 2));
    assert_eq!(
        c.drops[rvs_dataplane::stats::DropReason::TxFull as usize],
        3
    );
    // Nothing is retried on the next poll.
    w.poll_once(1);
    assert_eq!(w.io().inner.tx[0].len(), 2);
}

#[test]
fn gratuitous_arp_for_every_port_address() {
    let (mut w, ctrl) = one_worker();
    ctrl.send(WorkerMsg::SendGarp).unwrap();
    w.poll_once(0);
    for (p, (mac, ip)) in [(P0_MAC, P0_IP), (P1_MAC, P1_IP), (P2_MAC, P2_IP)]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            take_tx(&mut w, p as u16),
            vec![arp_frame([0xff; 6], mac, 1, mac, ip, [0; 6], ip)]
        );
    }
    assert_eq!(w.counters().garp_sent, 3);
}

#[test]
fn no_buffer_for_arp_is_counted() {
    let (mut w, _ctrl) = one_worker();
    w.io_mut().alloc_fails = true;
    inject(
        &mut w,
        0,
        &icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 64, true, 1, 1, b""),
    );
    w.poll_once(0);
    assert!(take_tx(&mut w, 0).is_empty());
    assert_eq!(counters(&w)["drop.no_buffer"], 1);
    assert_eq!(counters(&w)["arp_requests"], 0);
}

#[test]
fn get_stats_names_every_counter() {
    let (mut w, ctrl) = one_worker();
    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::GetStats(tx)).unwrap();
    inject(&mut w, 0, &[0u8; 3]);
    w.poll_once(0);
    let s = rx.try_recv().unwrap();
    assert_eq!(s.lcore, 1);
    let names: Vec<&str> = s.counters.iter().map(|c| c.name.as_str()).collect();
    for n in ["rx_packets", "tx_packets", "handoff_in", "handoff_out"] {
        assert!(names.contains(&n), "{n}");
    }
    for r in rvs_dataplane::stats::DropReason::ALL {
        assert!(names.contains(&format!("drop.{}", r.name()).as_str()));
    }
    // Control messages are handled before the burst: the stats predate the frame.
    assert_eq!(
        s.counters
            .iter()
            .find(|c| c.name == "rx_packets")
            .unwrap()
            .value,
        0
    );
    assert_eq!(counters(&w)["drop.eth_truncated"], 1);
}

#[test]
fn arp_reply_on_another_worker_resolves_through_neighbour_updates() {
    let mut ws = workers(2);
    let (w1, _c1) = ws.pop().unwrap();
    let (w0, _c0) = ws.pop().unwrap();
    let (mut w0, mut w1) = (w0, w1);
    inject(
        &mut w0,
        0,
        &icmp_echo(
            CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 64, true, 5, 5, b"mesh",
        ),
    );
    w0.poll_once(0);
    assert_eq!(take_tx(&mut w0, 0).len(), 1, "ARP request from worker 0");
    // The reply lands on worker 1's queue.
    inject(&mut w1, 0, &arp_reply(CLIENT_MAC, CLIENT_IP, P0_MAC, P0_IP));
    w1.poll_once(1);
    assert!(take_tx(&mut w1, 0).is_empty());
    assert_eq!(
        w1.pipeline().neigh.mac(0, CLIENT_IP),
        Some(CLIENT_MAC),
        "worker 1 learned (reply to us)"
    );
    w0.poll_once(2);
    assert_eq!(
        take_tx(&mut w0, 0),
        vec![icmp_echo(
            P0_MAC, CLIENT_MAC, P0_IP, CLIENT_IP, 64, false, 5, 5, b"mesh"
        )]
    );
    assert_eq!(w0.counters().neigh_updates_in, 1);
    // Worker 0 does not send it back.
    w1.poll_once(3);
    assert_eq!(w1.counters().neigh_updates_in, 0);
}

#[test]
fn worker_new_rejects_bad_config() {
    let mesh = handoff_mesh::<VecBuf>(2, 8);
    let (_t, rx) = crossbeam_channel::unbounded();
    let mut c = conf(0, 1);
    let h = mesh.into_iter().next().unwrap();
    assert!(
        Worker::new(c.clone(), MemIo::new(3), rx.clone(), h).is_err(),
        "mesh of 2 for 1 worker"
    );
    c.routes[0].port = 9;
    let h = handoff_mesh::<VecBuf>(1, 8).into_iter().next().unwrap();
    assert!(Worker::new(c, MemIo::new(3), rx, h).is_err());
}

#[test]
fn run_answers_control_and_stops() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let mesh = handoff_mesh::<VecBuf>(1, 8);
    let (ctrl, rx) = crossbeam_channel::unbounded();
    let mut c = conf(0, 1);
    c.idle_backoff_us = 200;
    let mut w = Worker::new(c, MemIo::new(3), rx, mesh.into_iter().next().unwrap()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    let t = std::thread::spawn(move || {
        w.run(&s2);
        w
    });
    let (tx, rep) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::GetStats(tx)).unwrap();
    let stats = rep
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("worker answers while idle");
    assert_eq!(stats.lcore, 1);
    stop.store(true, Ordering::Relaxed);
    let w = t.join().unwrap();
    assert_eq!(w.counters().rx_packets, 0);
}

#[test]
fn refresh_answered_on_another_worker_keeps_entry_reachable() {
    use rvs_dataplane::neigh::REACHABLE_MS;
    let mut ws = workers(2);
    let (mut w1, _c1) = ws.pop().unwrap();
    let (mut w0, _c0) = ws.pop().unwrap();
    // The client asks worker 1 for us: both workers learn it (worker 0 through the update channel).
    inject(&mut w1, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    w1.poll_once(0);
    take_tx(&mut w1, 0);
    w0.poll_once(0);
    assert_eq!(
        w0.pipeline().neigh.state(0, CLIENT_IP),
        Some(NeighState::Reachable)
    );
    // Much later worker 0 uses the stale entry: the packet goes out and a refresh request too.
    let t = REACHABLE_MS + 10;
    inject(
        &mut w0,
        0,
        &icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 64, true, 1, 1, b""),
    );
    w0.poll_once(t);
    assert_eq!(take_tx(&mut w0, 0).len(), 2, "echo reply + ARP refresh");
    assert_eq!(
        w0.pipeline().neigh.state(0, CLIENT_IP),
        Some(NeighState::Stale)
    );
    // The answer lands on worker 1, whose entry has the same MAC: worker 0 still hears of it.
    inject(&mut w1, 0, &arp_reply(CLIENT_MAC, CLIENT_IP, P0_MAC, P0_IP));
    w1.poll_once(t + 1);
    w0.poll_once(t + 2);
    assert_eq!(
        w0.pipeline().neigh.state(0, CLIENT_IP),
        Some(NeighState::Reachable)
    );
}
