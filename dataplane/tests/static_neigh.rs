//! Static neighbours through a whole worker: a frame towards a static neighbour leaves at once with its MAC (no
//! ARP request, nothing queued), an ARP packet claiming another MAC changes nothing, time never ages it, and the
//! neighbour listing shows it `Permanent`.

mod common;

use common::*;
use rvs_control::proto::FwdMethod;
use rvs_dataplane::neigh::NeighState;
use rvs_dataplane::worker::WorkerMsg;

#[test]
fn static_neighbour_is_used_at_once_and_never_changes() {
    let (mut w, ctrl) = one_worker();
    assert!(w.add_static_neighbour(1, RS1_IP, RS1_MAC));
    let rules = lab_rules(8990, &[(RS1_IP, 8998, FwdMethod::Masq)], &[]);
    install(&mut w, &ctrl, rules.snapshot(), 0);
    let syn = |sport: u16| {
        tcp_frame(
            CLIENT_MAC,
            P0_MAC,
            (CLIENT_IP, sport),
            (VIP, 8990),
            64,
            1,
            true,
            None,
            b"",
        )
    };
    let before = counters(&w);
    inject(&mut w, 0, &syn(40000));
    w.poll_once(1);
    let out = take_tx(&mut w, 1);
    assert_eq!(
        out.len(),
        1,
        "forwarded at once: no ARP request, nothing queued"
    );
    assert_frame_valid(&out[0]);
    assert_eq!(&out[0][0..6], &RS1_MAC);
    assert_eq!(&out[0][6..12], &P1_MAC);
    assert!(take_tx(&mut w, 0).is_empty());
    let delta = changed(&before, &counters(&w));
    assert!(
        !delta
            .iter()
            .any(|(k, _)| k.starts_with("drop.") || k.starts_with("arp")),
        "{delta:?}"
    );

    // An ARP reply (and a request addressed to us) claiming another MAC for it changes nothing.
    let other = [0x02, 0, 0, 0, 0x01, 0x99];
    inject(&mut w, 1, &arp_reply(other, RS1_IP, P1_MAC, P1_IP));
    inject(&mut w, 1, &arp_request(other, RS1_IP, P1_IP));
    w.poll_once(2);
    let answered = take_tx(&mut w, 1);
    assert_eq!(answered.len(), 1, "the request is still answered");
    // Long after every timer: still used as is, never refreshed.
    let late = 10 * rvs_dataplane::neigh::GC_STALE_MS;
    w.poll_once(late);
    inject(&mut w, 0, &syn(40001));
    w.poll_once(late + 1);
    let out = take_tx(&mut w, 1);
    assert_eq!(out.len(), 1, "no ARP refresh, only the SYN: {out:02x?}");
    assert_eq!(&out[0][0..6], &RS1_MAC);
    assert_eq!(
        w.pipeline().neigh.state(1, RS1_IP),
        Some(NeighState::Permanent)
    );
    let (tx, rx) = crossbeam_channel::bounded(1);
    ctrl.send(WorkerMsg::GetNeighbours(tx)).unwrap();
    w.poll_once(late + 2);
    let listing = rx.try_recv().unwrap();
    assert!(listing
        .entries
        .contains(&(1, RS1_IP, RS1_MAC, NeighState::Permanent)));
}
