//! Hostile frames through a whole worker (with a NAT service on the VIP): each is dropped under its
//! own named counter, nothing is sent, no session is created, no neighbour is learnt or changed, and
//! no other counter moves. The same kinds are sent on a real wire by `tests/e2e/30-hostile.sh`.

mod common;

use std::net::Ipv4Addr;

use common::*;
use rvs_control::proto::FwdMethod;
use rvs_dataplane::port::MemIo;
use rvs_dataplane::worker::{Worker, WorkerMsg};

const ATTACKER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x00, 0x66];

fn with_service() -> (Worker<MemIo>, crossbeam_channel::Sender<WorkerMsg>) {
    let (mut w, ctrl) = one_worker();
    let rules = lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[]);
    install(&mut w, &ctrl, rules.snapshot(), 0);
    (w, ctrl)
}

/// Recompute the IPv4 header checksum of an Ethernet frame (header length from IHL).
fn fix_ip_csum(f: &mut [u8]) {
    let hl = usize::from(f[14] & 0x0f) * 4;
    f[24] = 0;
    f[25] = 0;
    let mut s: u32 = 0;
    for c in f[14..14 + hl].chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    f[24..26].copy_from_slice(&(!(s as u16)).to_be_bytes());
}

fn syn(src: Ipv4Addr, sport: u16) -> Vec<u8> {
    tcp_frame(
        CLIENT_MAC,
        P0_MAC,
        (src, sport),
        (VIP, 8990),
        64,
        1,
        true,
        None,
        b"",
    )
}

/// A SYN to the VIP with flags byte `flags` (TCP checksum recomputed).
fn tcp_flags(flags: u8) -> Vec<u8> {
    let mut f = syn(CLIENT_IP, 7001);
    f[14 + 20 + 13] = flags;
    // Incremental fix of the TCP checksum for the flags byte (word 12..14 of the TCP header).
    let old = u16::from_be_bytes([f[14 + 20 + 12], 0x02]);
    let new = u16::from_be_bytes([f[14 + 20 + 12], flags]);
    let c = u16::from_be_bytes([f[14 + 20 + 16], f[14 + 20 + 17]]);
    let sum = u32::from(!c) + u32::from(!old) + u32::from(new);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    f[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f
}

#[test]
fn every_hostile_frame_is_dropped_under_its_own_name() {
    // IP options: a valid Record Route option (IHL 8) on a SYN to the VIP.
    let base = syn(CLIENT_IP, 7000);
    let mut opts = base[..34].to_vec();
    opts[14] = 0x48;
    opts.extend_from_slice(&[7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    opts.extend_from_slice(&base[34..]);
    let total = (opts.len() - 14) as u16;
    opts[16..18].copy_from_slice(&total.to_be_bytes());
    fix_ip_csum(&mut opts);

    let martian = |src: Ipv4Addr| {
        let mut f = syn(Ipv4Addr::new(10, 10, 0, 2), 7002);
        f[26..30].copy_from_slice(&src.octets());
        fix_ip_csum(&mut f);
        f
    };
    let mut bcast_mac = syn(CLIENT_IP, 7003);
    bcast_mac[..6].copy_from_slice(&[0xff; 6]);
    let mut mcast_src_mac = syn(CLIENT_IP, 7004);
    mcast_src_mac[6..12].copy_from_slice(&[0x01, 0, 0x5e, 0, 0, 1]);
    let mut oversized = syn(CLIENT_IP, 7005);
    oversized.resize(14 + 1501, 0);
    let mut bad_tcp_csum = syn(CLIENT_IP, 7006);
    let n = bad_tcp_csum.len();
    bad_tcp_csum[14 + 20 + 17] ^= 1;
    let _ = n;
    let mut bad_udp_csum = udp_frame(CLIENT_MAC, P0_MAC, (CLIENT_IP, 7007), (VIP, 8990), b"x");
    // The service is TCP only: a UDP datagram to VIP:8990 is not for us before its checksum matters.
    bad_udp_csum[14 + 20 + 7] ^= 1;

    let cases: Vec<(&str, u16, Vec<u8>, &str)> = vec![
        ("ip options", 0, opts, "drop.ipv4_options"),
        (
            "zero source",
            0,
            martian(Ipv4Addr::UNSPECIFIED),
            "drop.ipv4_bad_source",
        ),
        (
            "broadcast source",
            0,
            martian(Ipv4Addr::BROADCAST),
            "drop.ipv4_bad_source",
        ),
        (
            "subnet broadcast source",
            0,
            martian(Ipv4Addr::new(10, 10, 0, 255)),
            "drop.ipv4_bad_source",
        ),
        (
            "multicast source",
            0,
            martian(Ipv4Addr::new(224, 0, 0, 1)),
            "drop.ipv4_bad_source",
        ),
        (
            "loopback source",
            0,
            martian(Ipv4Addr::LOCALHOST),
            "drop.ipv4_bad_source",
        ),
        (
            "land (source = VIP)",
            0,
            martian(VIP),
            "drop.ipv4_bad_source",
        ),
        (
            "source = port address",
            0,
            martian(P0_IP),
            "drop.ipv4_bad_source",
        ),
        (
            "broadcast MAC for a unicast IP",
            0,
            bcast_mac,
            "drop.ipv4_not_unicast",
        ),
        (
            "multicast source MAC",
            0,
            mcast_src_mac,
            "drop.eth_bad_source",
        ),
        ("oversized frame", 0, oversized, "drop.eth_oversized"),
        ("SYN+FIN", 0, tcp_flags(0x03), "drop.tcp_bad_flags"),
        ("SYN+RST", 0, tcp_flags(0x06), "drop.tcp_bad_flags"),
        ("null flags", 0, tcp_flags(0x00), "drop.tcp_bad_flags"),
        ("xmas", 0, tcp_flags(0x29), "drop.tcp_bad_flags"),
        (
            "SYN+ACK opens nothing",
            0,
            tcp_flags(0x12),
            "drop.no_session",
        ),
        ("bad TCP checksum", 0, bad_tcp_csum, "drop.tcp_bad_checksum"),
        ("UDP to a TCP service", 0, bad_udp_csum, "drop.not_for_us"),
        (
            "ARP reply claiming the VIP",
            0,
            arp_reply(ATTACKER_MAC, VIP, P0_MAC, P0_IP),
            "drop.arp_address_conflict",
        ),
        (
            "gratuitous ARP claiming the port address",
            0,
            arp_request(ATTACKER_MAC, P0_IP, P0_IP),
            "drop.arp_address_conflict",
        ),
        (
            "gratuitous ARP for a real server on the client port",
            0,
            arp_request(ATTACKER_MAC, RS1_IP, RS1_IP),
            "drop.arp_wrong_subnet",
        ),
        (
            "ARP reply for a real server on the client port",
            0,
            arp_reply(ATTACKER_MAC, RS1_IP, P0_MAC, P0_IP),
            "drop.arp_wrong_subnet",
        ),
        (
            "ARP from a broadcast sender MAC",
            0,
            arp_frame(
                [0xff; 6],
                ATTACKER_MAC,
                1,
                [0xff; 6],
                CLIENT_IP,
                [0; 6],
                P0_IP,
            ),
            "drop.arp_bad_sender",
        ),
        (
            "ARP from a broadcast sender address",
            0,
            arp_request(ATTACKER_MAC, Ipv4Addr::BROADCAST, P0_IP),
            "drop.arp_bad_sender",
        ),
    ];
    for (name, port, frame, reason) in cases {
        let (mut w, _ctrl) = with_service();
        // The real server is known on port 1; nothing may change it.
        inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
        w.poll_once(0);
        for p in 0..3 {
            take_tx(&mut w, p);
        }
        let before = counters(&w);
        inject(&mut w, port, &frame);
        w.poll_once(1);
        for p in 0..3 {
            assert!(take_tx(&mut w, p).is_empty(), "{name}: nothing sent");
        }
        let mut want = vec![("rx_packets".to_string(), 1), (reason.to_string(), 1)];
        want.sort();
        assert_eq!(changed(&before, &counters(&w)), want, "{name}");
        assert_eq!(w.pipeline().lb.sessions_live(), 0, "{name}: no session");
        assert_eq!(w.pipeline().neigh.len(), 1, "{name}: nothing learnt");
        assert_eq!(w.pipeline().neigh.mac(1, RS1_IP), Some(RS1_MAC), "{name}");
        assert_eq!(w.pipeline().neigh.mac(0, RS1_IP), None, "{name}");
    }
}

/// An ARP probe (sender 0.0.0.0, RFC 5227) for our address is answered but teaches nothing; a normal
/// request from an on-link host is answered and learnt.
#[test]
fn arp_probe_is_answered_not_learnt() {
    let (mut w, _ctrl) = with_service();
    inject(
        &mut w,
        0,
        &arp_request(CLIENT_MAC, Ipv4Addr::UNSPECIFIED, VIP),
    );
    w.poll_once(0);
    assert_eq!(take_tx(&mut w, 0).len(), 1);
    assert!(w.pipeline().neigh.is_empty());
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, VIP));
    w.poll_once(0);
    assert_eq!(take_tx(&mut w, 0).len(), 1);
    assert_eq!(w.pipeline().neigh.mac(0, CLIENT_IP), Some(CLIENT_MAC));
}

/// A valid SYN still goes through after the hostile ones (the positive control of the list above).
#[test]
fn valid_syn_is_forwarded() {
    let (mut w, _ctrl) = with_service();
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    w.poll_once(0);
    take_tx(&mut w, 1);
    inject(&mut w, 0, &syn(CLIENT_IP, 7100));
    w.poll_once(1);
    let out = take_tx(&mut w, 1);
    assert_eq!(out.len(), 1);
    assert_frame_valid(&out[0]);
    assert_eq!(w.pipeline().lb.sessions_live(), 1);
}
