//! rvs-gen's traffic logic against a real worker, in one process: the [`Driver`]'s two ports are
//! wired to the worker's client and real-server ports (frames moved between two `MemIo`s), with a
//! virtual clock. Full TCP connections through NAT and FULLNAT complete with no failure and the
//! worker's counters match exactly; UDP flows are counted at the responder; a SYN flood creates
//! one session per SYN.

use std::net::Ipv4Addr;

use rvs_control::ipvsadm::{self, Command};
use rvs_dataplane::port::{MemIo, VecBuf};
use rvs_dataplane::rules::Rules;
use rvs_dataplane::trafgen::client::{Client, ClientConf, ClientMode};
use rvs_dataplane::trafgen::driver::Driver;
use rvs_dataplane::trafgen::responder::{Responder, ResponderConf};
use rvs_dataplane::trafgen::AddrRange;
use rvs_dataplane::worker::{handoff_mesh, PortConf, Worker, WorkerConf, WorkerMsg};

const LB_MACS: [[u8; 6]; 2] = [[2, 0, 0, 0, 0, 0xa0], [2, 0, 0, 0, 0, 0xa1]];
const GEN_MACS: [[u8; 6]; 2] = [[2, 0, 0, 0, 0, 0xb0], [2, 0, 0, 0, 0, 0xb1]];
const VIP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);

fn rules(lines: &[&str]) -> Rules {
    let mut r = Rules::new();
    for l in lines {
        let words: Vec<String> = l.split_whitespace().map(String::from).collect();
        match ipvsadm::parse_args(&words).unwrap() {
            Command::Apply(req) => r.apply(&req).unwrap(),
            other => panic!("{other:?}"),
        }
    }
    r
}

fn worker(r: &Rules) -> Worker<MemIo> {
    let conf = WorkerConf {
        index: 0,
        lcore_id: 1,
        n_workers: 1,
        ports: vec![
            PortConf {
                mac: LB_MACS[0],
                addrs: vec![(Ipv4Addr::new(10, 10, 0, 1), 24)],
                mtu: 1500,
            },
            PortConf {
                mac: LB_MACS[1],
                addrs: vec![(Ipv4Addr::new(10, 10, 1, 1), 24)],
                mtu: 1500,
            },
        ],
        routes: vec![],
        idle_backoff_us: 0,
        max_sessions: 1 << 16,
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    let h = handoff_mesh::<VecBuf>(1, 64).into_iter().next().unwrap();
    let mut w = Worker::new(conf, MemIo::new(2), rx, h).unwrap();
    let (ack, acked) = crossbeam_channel::bounded(1);
    tx.send(WorkerMsg::Snapshot(r.snapshot(), ack)).unwrap();
    w.poll_once(0);
    acked.try_recv().unwrap();
    w
}

fn driver(mode: ClientMode, udp_flows: u32) -> Driver<MemIo> {
    let client = Client::new(ClientConf {
        vip: (
            VIP,
            if matches!(mode, ClientMode::Udp { .. }) {
                9000
            } else {
                80
            },
        ),
        clients: AddrRange {
            first: Ipv4Addr::new(10, 10, 0, 2),
            count: 4,
        },
        mac: GEN_MACS[0],
        mode,
        seed: 3,
    });
    let responder = Responder::new(ResponderConf {
        servers: AddrRange {
            first: Ipv4Addr::new(10, 10, 1, 2),
            count: 2,
        },
        mac: GEN_MACS[1],
        secret: 77,
        udp_flows,
    });
    Driver::new(MemIo::new(2), client, responder)
}

fn counter(w: &Worker<MemIo>, name: &str) -> u64 {
    w.stats()
        .counters
        .iter()
        .find(|c| c.name == name)
        .map_or_else(|| panic!("no counter {name}"), |c| c.value)
}

/// Run until the driver sent `limit` and everything settled (bounded by `max_iters`); 10 us per
/// iteration of virtual time. Returns the iterations used.
fn pump(d: &mut Driver<MemIo>, w: &mut Worker<MemIo>, limit: u64, max_iters: u64) -> u64 {
    d.announce(Ipv4Addr::new(10, 10, 1, 1));
    let mut quiet = 0;
    for i in 0..max_iters {
        if i == 3 {
            d.start(i * 10_000, 0, limit);
        }
        let now_ns = i * 10_000;
        let mut moved = d.poll(now_ns);
        for p in 0..2 {
            let frames: Vec<_> = d.io_mut().tx[p].drain(..).collect();
            moved += frames.len();
            w.io_mut().rx[p].extend(frames);
        }
        moved += w.poll_once(now_ns / 1_000_000);
        for p in 0..2 {
            let frames: Vec<_> = w.io_mut().tx[p].drain(..).collect();
            moved += frames.len();
            d.io_mut().rx[p].extend(frames);
        }
        quiet = if moved == 0 { quiet + 1 } else { 0 };
        if i > 3 && d.done_sending() && d.client.open() == 0 && quiet > 2 {
            return i;
        }
    }
    panic!(
        "did not settle in {max_iters} iterations: {:?}",
        d.client.stats()
    );
}

fn tcp_run(lines: &[&str]) {
    let r = rules(lines);
    let mut w = worker(&r);
    let mut d = driver(
        ClientMode::Tcp {
            concurrency: 256,
            timeout_ns: 1_000_000_000,
        },
        0,
    );
    pump(&mut d, &mut w, 3000, 100_000);
    let s = d.client.stats().clone();
    assert_eq!(
        (s.started, s.completed, s.failed, s.timed_out, s.unexpected),
        (3000, 3000, 0, 0, 0),
        "{s:?}"
    );
    assert_eq!(d.client.conn_latency.count(), 3000);
    let rs = d.responder.stats();
    assert_eq!(
        (rs.syns, rs.requests, rs.fins, rs.acks),
        (3000, 3000, 3000, 3000)
    );
    assert_eq!((rs.bad_cookie, rs.rsts, rs.other), (0, 0, 0));
    assert_eq!(
        (rs.arp_replies, rs.arp_answers),
        (0, 2),
        "announced: never asked"
    );
    assert_eq!(counter(&w, "sessions_created"), 3000);
    // 4 frames in, 3 out per connection; plus the ARP exchanges (answered by the pipeline).
    assert_eq!(d.client.stats().arp_replies, 0, "announced: never asked");
    assert_eq!(
        d.ports()[0].tx,
        3000 * 4 + 4 + 1,
        "connection frames, 4 announcements, the first poll's ARP for the VIP"
    );
    assert_eq!(d.ports()[1].tx, 3000 * 3 + 2);
    assert_eq!(d.ports()[0].rx, 3000 * 3 + 5);
    assert_eq!(d.ports()[1].rx, 3000 * 4 + 2);
    assert_eq!(counter(&w, "misowned_packets"), 0);
    let drops: u64 = w.counters().drops.iter().sum();
    assert_eq!(drops, 0);
}

#[test]
fn tcp_connections_through_nat() {
    tcp_run(&[
        "-A -t 10.10.0.100:80 -s rr",
        "-a -t 10.10.0.100:80 -r 10.10.1.2:8080 -m",
        "-a -t 10.10.0.100:80 -r 10.10.1.3:8080 -m",
    ]);
}

#[test]
fn tcp_connections_through_fullnat() {
    tcp_run(&[
        "-A -t 10.10.0.100:80 -s rr",
        "-a -t 10.10.0.100:80 -r 10.10.1.2:8080 --fullnat",
        "-a -t 10.10.0.100:80 -r 10.10.1.3:8080 --fullnat",
        "--add-laddr -z 10.10.9.1 -t 10.10.0.100:80",
    ]);
}

#[test]
fn udp_flows_counted_at_the_responder() {
    let r = rules(&[
        "-A -u 10.10.0.100:9000 -s rr",
        "-a -u 10.10.0.100:9000 -r 10.10.1.2:9000 -m",
    ]);
    let mut w = worker(&r);
    let mut d = driver(
        ClientMode::Udp {
            flows: 500,
            frame_len: 64,
        },
        1000,
    );
    pump(&mut d, &mut w, 2000, 10_000);
    let rs = d.responder.stats();
    assert_eq!((rs.udp_packets, rs.udp_flows), (2000, 500));
    assert_eq!(counter(&w, "sessions_created"), 500);
}

#[test]
fn syn_flood_creates_sessions_and_gets_syn_acks() {
    let r = rules(&[
        "-A -t 10.10.0.100:80 -s rr",
        "-a -t 10.10.0.100:80 -r 10.10.1.2:8080 -m",
    ]);
    let mut w = worker(&r);
    let mut d = driver(ClientMode::SynFlood, 0);
    pump(&mut d, &mut w, 1000, 10_000);
    let created = counter(&w, "sessions_created");
    // Random sources may repeat a tuple: a repeated SYN joins its session.
    assert!(created > 990 && created <= 1000, "{created}");
    assert_eq!(d.responder.stats().syns, 1000);
    assert_eq!(d.client.stats().flood_synacks, 1000);
}
