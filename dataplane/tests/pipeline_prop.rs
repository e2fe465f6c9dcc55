//! Property tests of the whole worker pipeline: arbitrary bytes and mutated valid frames never panic,
//! every frame received is accounted for, and every frame emitted parses cleanly (Ethernet, ARP,
//! IPv4 with a right header checksum, and the transport header).

mod common;
mod fuzz_driver;

use common::*;
use fuzz_driver::check_emitted;
use proptest::prelude::*;
use rvs_control::proto::FwdMethod;

fn seeds() -> Vec<Vec<u8>> {
    vec![
        arp_request(CLIENT_MAC, CLIENT_IP, P0_IP),
        arp_request(CLIENT_MAC, CLIENT_IP, VIP),
        arp_reply(RS1_MAC, RS1_IP, P1_MAC, P1_IP),
        icmp_echo(
            CLIENT_MAC, P0_MAC, CLIENT_IP, P0_IP, 64, true, 1, 2, b"ping",
        ),
        icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, VIP, 64, true, 1, 2, b"ping"),
        tcp_frame(
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
        tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40000),
            (VIP, 8990),
            64,
            2,
            false,
            Some(7),
            b"GET /",
        ),
        tcp_frame(
            RS1_MAC,
            P1_MAC,
            (RS1_IP, 8998),
            (CLIENT_IP, 40000),
            64,
            7,
            true,
            Some(2),
            b"",
        ),
        udp_frame(CLIENT_MAC, P0_MAC, (CLIENT_IP, 5000), (VIP, 8990), b"dns?"),
        tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, 40001),
            (VIP, 8991),
            64,
            1,
            true,
            None,
            b"",
        ),
        tcp_frame(
            RS1_MAC,
            P1_MAC,
            (RS1_IP, 8998),
            (LADDR1, 1025),
            64,
            7,
            true,
            Some(2),
            b"",
        ),
    ]
}

/// The SYN proxy's secret in [`drive_proxied`].
const SP_SECRET: [u64; 2] = [5, 6];

/// Seeds for the SYN proxy: a SYN, the ACK with the right cookie (the driver's clock stays in the
/// first cookie period), data, and the real server's SYN-ACK, RST and data, for the NAT service and
/// the FULLNAT one.
fn synproxy_seeds() -> Vec<Vec<u8>> {
    use rvs_dataplane::synproxy::cookie::{CookieKey, CookieTuple};
    let key = CookieKey::new(SP_SECRET);
    let mut v = Vec::new();
    for (cport, vport, rs_to) in [
        (40000, 8990, (CLIENT_IP, 40000)),
        (40001, 8991, (LADDR1, 1024)),
    ] {
        let t = CookieTuple {
            client: CLIENT_IP,
            cport,
            vip: VIP,
            vport,
        };
        let k = key.make(&t, 1, 0, 1);
        let c = |seq, syn, ack, data: &[u8]| {
            tcp_frame(
                CLIENT_MAC,
                P0_MAC,
                (CLIENT_IP, cport),
                (VIP, vport),
                64,
                seq,
                syn,
                ack,
                data,
            )
        };
        let r = |seq, syn, ack, data: &[u8]| {
            tcp_frame(
                RS1_MAC,
                P1_MAC,
                (RS1_IP, 8998),
                rs_to,
                64,
                seq,
                syn,
                Some(ack),
                data,
            )
        };
        v.extend([
            c(1, true, None, b""),
            c(2, false, Some(k.wrapping_add(1)), b""),
            c(2, false, Some(k.wrapping_add(1)), b"GET /"),
            r(700, true, 2, b""),
            r(701, false, 7, b"page"),
        ]);
    }
    v
}

fn drive(frames: &[(u16, Vec<u8>)]) {
    drive_with(frames, None);
}

/// The unmutated proxied seeds go the whole way: SYN-ACK, the proxy's SYN, its ACK with the held
/// request, the page (NAT), and the same for FULLNAT.
#[test]
fn synproxy_seeds_reach_every_step() {
    let seeds = synproxy_seeds();
    let frames: Vec<(u16, Vec<u8>)> = seeds
        .iter()
        .enumerate()
        .map(|(i, f)| (if i % 5 < 3 { 0 } else { 1 }, f.clone()))
        .collect();
    assert_eq!(drive_proxied(&frames[..5]), 5, "NAT");
    assert_eq!(drive_proxied(&frames[5..]), 5, "FULLNAT");
}

/// [`drive`] with the SYN proxy on.
fn drive_proxied(frames: &[(u16, Vec<u8>)]) -> usize {
    drive_with(
        frames,
        Some(rvs_dataplane::synproxy::SynproxyConf {
            mode: rvs_dataplane::synproxy::SynproxyMode::On,
            threshold: 1,
            secret: SP_SECRET,
        }),
    )
}

/// Returns the IPv4 frames emitted.
fn drive_with(
    frames: &[(u16, Vec<u8>)],
    synproxy: Option<rvs_dataplane::synproxy::SynproxyConf>,
) -> usize {
    let (mut w, ctrl) = one_worker();
    if let Some(conf) = synproxy {
        w.set_synproxy(conf);
    }
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
    // Learn the hosts first so forwarded frames go out (and get checked) instead of queueing.
    inject(&mut w, 0, &arp_request(CLIENT_MAC, CLIENT_IP, P0_IP));
    inject(&mut w, 1, &arp_request(RS1_MAC, RS1_IP, P1_IP));
    inject(&mut w, 2, &arp_request(RS2_MAC, RS2_IP, P2_IP));
    w.poll_once(0);
    for (i, (port, f)) in frames.iter().enumerate() {
        inject(&mut w, *port, f);
        w.poll_once(1 + i as u64 * 300);
    }
    let c = w.counters();
    let handled: u64 = c.rx_packets + c.handoff_in;
    assert_eq!(handled, frames.len() as u64 + 3);
    let mut emitted = 0;
    for p in 0..3 {
        for f in take_tx(&mut w, p) {
            check_emitted(&f);
            emitted += usize::from(f.get(12..14) == Some(&[0x08, 0x00][..]));
        }
    }
    emitted
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(frames in proptest::collection::vec((0u16..3, proptest::collection::vec(any::<u8>(), 0..128)), 1..8)) {
        drive(&frames);
    }

    #[test]
    fn arbitrary_payload_behind_valid_ethernet(
        frames in proptest::collection::vec(
            (0u16..3, prop_oneof![Just(0x0800u16), Just(0x0806u16)], proptest::collection::vec(any::<u8>(), 0..96)),
            1..8,
        )
    ) {
        let frames: Vec<(u16, Vec<u8>)> = frames
            .into_iter()
            .map(|(port, et, body)| {
                let mac = [P0_MAC, P1_MAC, P2_MAC][usize::from(port)];
                let mut f = mac.to_vec();
                f.extend_from_slice(&CLIENT_MAC);
                f.extend_from_slice(&et.to_be_bytes());
                f.extend_from_slice(&body);
                (port, f)
            })
            .collect();
        drive(&frames);
    }

    #[test]
    fn mutated_valid_frames(
        muts in proptest::collection::vec(
            (0usize..11, 0u16..3, proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4), any::<prop::sample::Index>(), any::<bool>()),
            1..8,
        )
    ) {
        let seeds = seeds();
        let frames: Vec<(u16, Vec<u8>)> = muts
            .into_iter()
            .map(|(s, port, edits, cut, truncate)| {
                let mut f = seeds[s].clone();
                for (i, v) in edits {
                    let i = i.index(f.len());
                    f[i] = v;
                }
                if truncate {
                    f.truncate(cut.index(f.len() + 1));
                }
                (port, f)
            })
            .collect();
        drive(&frames);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Mutated proxied handshakes (cookies right or wrong, server answers, held data) through a worker
    /// with the SYN proxy on: the grown SYN-ACKs, the proxy's SYNs and ACKs, released and shifted
    /// packets all parse.
    #[test]
    fn mutated_frames_through_the_syn_proxy(
        muts in proptest::collection::vec(
            (0usize..10, proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3), any::<bool>()),
            1..10,
        )
    ) {
        let seeds = synproxy_seeds();
        let frames: Vec<(u16, Vec<u8>)> = muts
            .into_iter()
            .map(|(s, edits, mutate)| {
                let mut f = seeds[s].clone();
                if mutate {
                    for (i, v) in edits {
                        let i = i.index(f.len());
                        f[i] = v;
                    }
                }
                (if s % 5 < 3 { 0 } else { 1 }, f)
            })
            .collect();
        drive_proxied(&frames);
    }
}
