//! The whole-pipeline fuzz driver, shared by the cargo-fuzz `pipeline` target (dataplane/fuzz) and
//! the `fuzz_regressions` test, which replays every saved input under `dataplane/fuzz/regressions/`.
//!
//! Input format: a sequence of records `port (1 byte, mod 3) | length (2 bytes, big endian) | frame`;
//! a short last frame takes what is left. The worker has a NAT service (TCP VIP:8990 to two real
//! servers) and a FULLNAT one (TCP VIP:8991, local address LADDR1), and knows every lab host's MAC,
//! so forwarded frames leave at once. Invariants: no panic, and every emitted frame parses cleanly
//! with etherparse (an independent parser) with a right IPv4 header checksum, or is a valid ARP packet.
#![allow(dead_code)]

use crate::common::*;
use rvs_control::proto::FwdMethod;
use rvs_dataplane::wire::arp::ArpPacket;
use rvs_dataplane::wire::ethernet::{ethertype, EthernetFrame};

/// Most frames one input may inject (bounds the time per input).
pub const MAX_FRAMES: usize = 64;

/// Split `data` into (port, frame) records (see the module doc).
pub fn split(data: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 3 && out.len() < MAX_FRAMES {
        let port = u16::from(rest[0] % 3);
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        out.push((port, rest[3..3 + len].to_vec()));
        rest = &rest[3 + len..];
    }
    out
}

/// Encode (port, frame) records into the input format (the inverse of [`split`]).
pub fn join(frames: &[(u8, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    for (port, f) in frames {
        v.push(*port);
        v.extend_from_slice(&u16::try_from(f.len()).unwrap().to_be_bytes());
        v.extend_from_slice(f);
    }
    v
}

/// Check one emitted frame: an ARP packet that parses, or a frame etherparse parses whole with a
/// right IPv4 header checksum.
pub fn check_emitted(frame: &[u8]) {
    let eth = EthernetFrame::new_checked(frame).expect("emitted frame has an Ethernet header");
    match eth.ethertype() {
        ethertype::ARP => {
            ArpPacket::new_checked(eth.payload()).expect("emitted ARP parses");
        }
        ethertype::IPV4 => {
            use etherparse::{NetSlice, SlicedPacket};
            let p = SlicedPacket::from_ethernet(frame)
                .unwrap_or_else(|e| panic!("emitted frame does not parse: {e:?}: {frame:02x?}"));
            let Some(NetSlice::Ipv4(ip)) = &p.net else {
                panic!("not IPv4: {frame:02x?}")
            };
            let h = ip.header().to_header();
            assert_eq!(
                h.calc_header_checksum(),
                h.header_checksum,
                "IPv4 header checksum: {frame:02x?}"
            );
        }
        t => panic!("emitted ethertype {t:#06x}: {frame:02x?}"),
    }
}

/// Run one fuzz input through a worker with NAT and FULLNAT services; panics on a broken invariant.
/// Returns the number of IPv4 frames emitted (tests use it to see that seeds reach the forwarding path).
pub fn run(data: &[u8]) -> usize {
    let (mut w, ctrl) = one_worker();
    let mut rules = lab_rules(
        8990,
        &[
            (RS1_IP, 8998, FwdMethod::Masq),
            (RS2_IP, 8999, FwdMethod::Masq),
        ],
        &[],
    );
    add_service(
        &mut rules,
        8991,
        &[(RS1_IP, 8998, FwdMethod::FullNat)],
        &[LADDR1],
    );
    install(&mut w, &ctrl, rules.snapshot(), 0);
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    inject(&mut w, 2, &arp_request(RS2_MAC, RS2_IP, P2_IP));
    w.poll_once(0);
    let frames = split(data);
    for (i, (port, f)) in frames.iter().enumerate() {
        inject(&mut w, *port, f);
        w.poll_once(1 + i as u64 * 300);
    }
    let c = w.counters();
    assert_eq!(c.rx_packets + c.handoff_in, frames.len() as u64 + 3);
    let mut emitted = 0;
    for p in 0..3 {
        for f in take_tx(&mut w, p) {
            check_emitted(&f);
            if f.get(12..14) == Some(&ethertype::IPV4.to_be_bytes()[..]) {
                emitted += 1;
            }
        }
    }
    emitted
}
