//! Fuzz the whole worker pipeline: the input is split into frames (1-byte port, 2-byte length,
//! bytes), each received on that port of a worker over in-memory ports. No input may panic, and
//! every emitted frame must carry at least an Ethernet header.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use rvs_dataplane::port::{MemIo, PacketBuf, VecBuf};
use rvs_dataplane::worker::{handoff_mesh, PortConf, RouteConf, Worker, WorkerConf};

fn worker() -> Worker<MemIo> {
    let ports = (0..3u8)
        .map(|p| PortConf {
            mac: [2, 0, 0, 0, p, 0x10],
            addrs: vec![(Ipv4Addr::new(10, 10, p, 1), 24)],
            mtu: 1500,
        })
        .collect();
    let routes = vec![RouteConf {
        dest: Ipv4Addr::new(0, 0, 0, 0),
        prefix: 0,
        via: Some(Ipv4Addr::new(10, 10, 0, 2)),
        port: 0,
    }];
    let conf = WorkerConf {
        index: 0,
        lcore_id: 1,
        n_workers: 1,
        ports,
        routes,
        idle_backoff_us: 0,
        max_sessions: 64,
    };
    let (_tx, rx) = crossbeam_channel::unbounded();
    let h = handoff_mesh(1, 16).into_iter().next().expect("one worker");
    Worker::new(conf, MemIo::new(3), rx, h).expect("valid conf")
}

fuzz_target!(|data: &[u8]| {
    let mut w = worker();
    let mut rest = data;
    let mut now = 0;
    while rest.len() >= 3 {
        let port = u16::from(rest[0] % 3);
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        w.io_mut().rx[usize::from(port)].push_back(VecBuf::from_slice(&rest[3..3 + len]));
        rest = &rest[3 + len..];
        now += 250;
        w.poll_once(now);
    }
    for q in &w.io().tx {
        for f in q {
            assert!(f.data().len() >= 14);
        }
    }
});
