//! L2/L3 behaviour around services: ARP and ICMP echo for VIPs and FULLNAT local addresses,
//! gratuitous ARP for them, snapshot install acks.

mod common;

use common::*;
use rvs_control::proto::FwdMethod;
use rvs_dataplane::worker::WorkerMsg;

fn with_services() -> (
    rvs_dataplane::worker::Worker<rvs_dataplane::port::MemIo>,
    crossbeam_channel::Sender<WorkerMsg>,
) {
    let (mut w, ctrl) = one_worker();
    let rules = lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[LADDR1]);
    let snap = rules.snapshot();
    let g = snap.generation();
    assert_eq!(install(&mut w, &ctrl, snap, 0), g);
    (w, ctrl)
}

#[test]
fn arp_for_vip_gets_exact_reply() {
    let (mut w, _ctrl) = with_services();
    let before = counters(&w);
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, VIP));
    w.poll_once(1);
    assert_eq!(
        take_tx(&mut w, 0),
        vec![arp_frame(
            CLIENT_MAC, P0_MAC, 2, P0_MAC, VIP, CLIENT_MAC, CLIENT_IP
        )]
    );
    let ch = changed(&before, &counters(&w));
    assert!(
        ch.contains(&("rx_packets".into(), 1)) && ch.contains(&("tx_packets".into(), 1)),
        "{ch:?}"
    );
    assert!(ch.iter().all(|(k, _)| !k.starts_with("drop.")), "{ch:?}");
}

#[test]
fn arp_for_laddr_answered_on_the_rs_port() {
    let (mut w, _ctrl) = with_services();
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, LADDR1));
    w.poll_once(1);
    assert_eq!(
        take_tx(&mut w, 1),
        vec![arp_frame(
            RS1_MAC, P1_MAC, 2, P1_MAC, LADDR1, RS1_MAC, RS1_IP
        )]
    );
}

#[test]
fn echo_to_vip_and_laddr() {
    let (mut w, _ctrl) = with_services();
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, VIP));
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    w.poll_once(1);
    take_tx(&mut w, 0);
    take_tx(&mut w, 1);
    inject(
        &mut w,
        0,
        &icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, VIP, 64, true, 3, 4, b"vip"),
    );
    inject(
        &mut w,
        1,
        &icmp_echo(RS1_MAC, P1_MAC, RS1_IP, LADDR1, 64, true, 5, 6, b"laddr"),
    );
    w.poll_once(2);
    let out0 = take_tx(&mut w, 0);
    assert_eq!(
        out0,
        vec![icmp_echo(
            P0_MAC, CLIENT_MAC, VIP, CLIENT_IP, 64, false, 3, 4, b"vip"
        )]
    );
    let out1 = take_tx(&mut w, 1);
    assert_eq!(
        out1,
        vec![icmp_echo(
            P1_MAC, RS1_MAC, LADDR1, RS1_IP, 64, false, 5, 6, b"laddr"
        )]
    );
    assert_frame_valid(&out0[0]);
    assert_frame_valid(&out1[0]);
}

#[test]
fn garp_covers_vips_and_laddrs() {
    let (mut w, ctrl) = with_services();
    ctrl.send(WorkerMsg::SendGarp).unwrap();
    w.poll_once(1);
    let g = |mac, ip| arp_frame([0xff; 6], mac, 1, mac, ip, [0; 6], ip);
    // VIP on the client subnet goes out on port 0 only; the local address (on no subnet) on every port.
    let mut p0 = take_tx(&mut w, 0);
    p0.sort();
    let mut e0 = vec![g(P0_MAC, P0_IP), g(P0_MAC, VIP), g(P0_MAC, LADDR1)];
    e0.sort();
    assert_eq!(p0, e0);
    let mut p1 = take_tx(&mut w, 1);
    p1.sort();
    let mut e1 = vec![g(P1_MAC, P1_IP), g(P1_MAC, LADDR1)];
    e1.sort();
    assert_eq!(p1, e1);
    assert_eq!(w.counters().garp_sent, 7);
}
