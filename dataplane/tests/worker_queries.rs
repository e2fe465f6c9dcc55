//! The worker's control-path queries behind rvsadm's listings: paged sessions (`-Lnc`), the neighbour
//! table, per-port traffic and FULLNAT local-port pools. Each answers between two polls, from the
//! worker's own state.

mod common;

use common::*;
use crossbeam_channel::Sender;
use rvs_control::proto::{FwdMethod, PortLcoreStats};
use rvs_dataplane::neigh::NeighState;
use rvs_dataplane::port::MemIo;
use rvs_dataplane::worker::{ConnPage, Worker, WorkerMsg};

/// A worker with one FULLNAT service (rs1, local address 10.10.9.1) that has seen the client's and
/// rs1's ARP requests, then `n` SYNs from client ports 40000.. .
fn worker_with_flows(n: u16) -> (Worker<MemIo>, Sender<WorkerMsg>) {
    let (mut w, ctrl) = one_worker();
    install(
        &mut w,
        &ctrl,
        lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::FullNat)], &[LADDR1]).snapshot(),
        0,
    );
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    w.poll_once(1);
    for p in 0..3 {
        take_tx(&mut w, p);
    }
    for i in 0..n {
        let syn = tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40000 + i),
            (VIP, 8990),
            64,
            100,
            true,
            None,
            b"",
        );
        inject(&mut w, 0, &syn);
    }
    w.poll_once(2);
    assert_eq!(take_tx(&mut w, 1).len(), usize::from(n));
    (w, ctrl)
}

fn page(w: &mut Worker<MemIo>, ctrl: &Sender<WorkerMsg>, cursor: u64, max: usize) -> ConnPage {
    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::GetConnsPage {
        cursor,
        max,
        reply: tx,
    })
    .unwrap();
    w.poll_once(3);
    rx.try_recv().unwrap()
}

#[test]
fn sessions_come_in_pages_that_add_up_to_the_table() {
    let (mut w, ctrl) = worker_with_flows(10);
    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::GetConns(tx)).unwrap();
    w.poll_once(3);
    let all = rx.try_recv().unwrap();
    assert_eq!(all.len(), 10);

    let (mut got, mut cursor, mut pages) = (Vec::new(), Some(0), 0);
    while let Some(c) = cursor {
        let p = page(&mut w, &ctrl, c, 3);
        assert!(p.conns.len() <= 3);
        got.extend(p.conns);
        cursor = p.next;
        pages += 1;
        assert!(pages < 100);
    }
    assert_eq!(got, all);
    assert!(pages >= 4, "10 sessions in pages of 3: {pages} pages");
    assert_eq!(got[0].state, "SYN_RECV");
    assert_eq!(got[0].lcore, 1);
    assert_eq!(got[0].local.map(|l| l.0), Some(LADDR1.into()));
}

#[test]
fn neighbours_ports_and_pools() {
    let (mut w, ctrl) = worker_with_flows(4);

    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::GetNeighbours(tx)).unwrap();
    w.poll_once(3);
    let n = rx.try_recv().unwrap();
    assert_eq!(n.lcore, 1);
    assert_eq!(
        n.entries,
        vec![
            (0, CLIENT_IP, CLIENT_MAC, NeighState::Reachable),
            (1, RS1_IP, RS1_MAC, NeighState::Reachable),
        ]
    );

    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::GetPortStats(tx)).unwrap();
    w.poll_once(3);
    let ps = rx.try_recv().unwrap();
    // Port 0: the client's ARP request and 4 SYNs in, our ARP reply out; port 1: rs1's ARP request
    // in, our ARP reply and 4 SYNs out; port 2: nothing.
    let want = |rx, tx| PortLcoreStats {
        lcore: 1,
        rx_packets: rx,
        tx_packets: tx,
        tx_dropped: 0,
    };
    assert_eq!(ps, vec![want(5, 1), want(1, 5), want(0, 0)]);

    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::GetLaddrPools(tx)).unwrap();
    w.poll_once(3);
    let (lcore, pools) = rx.try_recv().unwrap();
    assert_eq!(lcore, 1);
    // One worker owns every port from 1024: 64512, 4 of them in use.
    assert_eq!(pools, vec![(LADDR1, 64512 - 4, 4)]);
}
