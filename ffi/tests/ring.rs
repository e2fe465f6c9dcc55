//! Everything that needs a booted EAL, in one test function (EAL initialises once per process).
//!
//! Ports: `net_ring0` and `net_ring1` each loop back (tx queue i and rx queue i share one ring), so
//! what port 0 sends, port 0 receives and port 1 must not; `net_null0` swallows tx and makes rx frames
//! from our pool.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rvs_ffi::ethdev::flags;
use rvs_ffi::{DpdkError, Eal, EthConf, EthDev, L4Cksum, Mbuf, Mempool, TxOffload, BURST};

fn frame(i: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (j as u8).wrapping_mul(7).wrapping_add(i))
        .collect()
}

#[test]
fn eal_mempool_mbuf_ethdev_launch() {
    let prefix = format!("rvs-ffi-test-{}", std::process::id());
    let args = [
        "-l",
        "0-1",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--file-prefix",
        prefix.as_str(),
        "--log-level",
        "lib.eal:error",
        "--vdev=net_ring0",
        "--vdev=net_ring1",
        "--vdev=net_null0",
    ];
    let eal = Eal::init(&args).expect("EAL init");
    assert!(matches!(
        Eal::init(&args),
        Err(DpdkError::AlreadyInitialized)
    ));

    // --- lcores and remote launch ---
    assert_eq!(eal.lcore_count(), 2);
    assert_eq!(eal.main_lcore(), 0);
    assert_eq!(eal.worker_lcores(), vec![1]);
    assert_eq!(
        rvs_ffi::lcore_id(),
        Some(0),
        "the thread that ran init is the main lcore"
    );
    assert_eq!(
        std::thread::spawn(rvs_ffi::lcore_id).join().unwrap(),
        None,
        "other threads are no lcore"
    );
    static SEEN_LCORE: AtomicU32 = AtomicU32::new(u32::MAX);
    eal.launch(
        1,
        Box::new(|| SEEN_LCORE.store(rvs_ffi::lcore_id().unwrap_or(999), Ordering::SeqCst)),
    )
    .unwrap();
    eal.wait_all().unwrap();
    assert_eq!(SEEN_LCORE.load(Ordering::SeqCst), 1);
    eal.launch(1, Box::new(|| panic!("boom (expected by the test)")))
        .unwrap();
    assert_eq!(
        eal.wait_all(),
        Err(DpdkError::LcoreFailed { lcore: 1, code: -1 })
    );
    let main = eal.main_lcore();
    assert!(matches!(
        eal.launch(main, Box::new(|| ())),
        Err(DpdkError::Call {
            code: libc::EINVAL,
            ..
        })
    ));
    assert!(matches!(
        eal.launch(7, Box::new(|| ())),
        Err(DpdkError::Call {
            code: libc::EINVAL,
            ..
        })
    ));

    // --- mempool and mbuf ---
    let pool = Arc::new(
        Mempool::new(
            &eal,
            "rvs_test_pool",
            1023,
            0,
            Mempool::DEFAULT_DATA_ROOM,
            0,
        )
        .unwrap(),
    );
    assert!(matches!(
        Mempool::new(&eal, "rvs_test_pool", 63, 0, Mempool::DEFAULT_DATA_ROOM, 0),
        Err(DpdkError::Call {
            code: libc::EEXIST,
            ..
        })
    ));
    assert_eq!(pool.available(), 1023);
    assert_eq!(pool.in_use(), 0);
    {
        let mut m = pool.alloc().unwrap();
        assert_eq!(pool.in_use(), 1);
        assert!(m.is_empty());
        assert_eq!(m.data(), &[] as &[u8]);
        assert_eq!(m.headroom(), 128);
        assert_eq!(m.tailroom(), 2048);
        assert!(m.set_len(60));
        m.data_mut().copy_from_slice(&frame(1, 60));
        assert_eq!(m.data(), &frame(1, 60)[..]);
        assert!(m.prepend(4));
        assert_eq!(m.len(), 64);
        assert_eq!(m.headroom(), 124);
        assert_eq!(&m.data()[4..], &frame(1, 60)[..]);
        assert!(m.adj(4));
        assert_eq!(m.data(), &frame(1, 60)[..]);
        assert!(!m.adj(61), "adj past the end must fail");
        assert_eq!(m.len(), 60);
        assert!(!m.prepend(129), "prepend past the headroom must fail");
        assert!(
            !m.set_len(128 + 2048),
            "set_len past the tailroom must fail"
        );
        assert!(!m.set_len(70_000));
        assert_eq!(m.len(), 60);
        assert!(m.set_len(14));
        assert_eq!(m.data(), &frame(1, 60)[..14]);
        assert_eq!(m.pkt_len(), 14);
        assert_eq!(m.nb_segs(), 1);
        assert_eq!(m.rss_hash(), None);
        m.set_tx_offload(TxOffload {
            ipv4_cksum: true,
            l4: L4Cksum::Tcp,
            l2_len: 14,
            l3_len: 20,
        });
        assert_eq!(m.tx_lens(), (14, 20, 0));
        let f = m.ol_flags();
        assert_eq!(f, (1 << 52) | (1 << 54) | (1 << 55));
        m.set_tx_offload(TxOffload {
            l4: L4Cksum::Udp,
            l2_len: 14,
            l3_len: 24,
            ..TxOffload::default()
        });
        assert_eq!(m.ol_flags(), (3 << 52) | (1 << 55));
        m.set_tx_offload(TxOffload::default());
        assert_eq!(m.ol_flags(), 0);
        // Mbuf moves between threads and is freed there.
        std::thread::spawn(move || drop(m)).join().unwrap();
    }
    assert_eq!(pool.in_use(), 0, "dropping an Mbuf returns it to the pool");
    assert_eq!(pool.available(), 1023);

    // --- ethdev: lookup and info ---
    assert_eq!(EthDev::count(&eal), 3);
    let p0 = EthDev::by_name(&eal, "net_ring0").unwrap();
    let p1 = EthDev::by_name(&eal, "net_ring1,whatever=1").unwrap();
    let null = EthDev::by_name(&eal, "net_null0").unwrap();
    assert!(matches!(
        EthDev::by_name(&eal, "net_nope9"),
        Err(DpdkError::NoSuchPort(_))
    ));
    assert!(EthDev::from_id(&eal, 200).is_err());
    assert_eq!(EthDev::from_id(&eal, p1.id()).unwrap(), p1);
    assert_eq!(p0.name().unwrap(), "net_ring0");
    let info = p0.info().unwrap();
    assert_eq!(info.driver_name, "net_ring");
    assert!(info.max_rx_queues >= 1 && info.max_tx_queues >= 1);

    // --- configure, queues, start ---
    let want = EthConf {
        n_rxq: 1,
        n_txq: 1,
        rss_hf: flags::RSS_IPV4_ALL,
        rx_offloads: 0,
        tx_offloads: flags::TX_OFFLOAD_IPV4_CKSUM | flags::TX_OFFLOAD_TCP_CKSUM,
        mtu: 0,
    };
    let mut rxq = Vec::new();
    let mut txq = Vec::new();
    for p in [&p0, &p1, &null] {
        let info = p.info().unwrap();
        let applied = p.configure(&want).unwrap();
        assert_eq!(applied.rss_hf, want.rss_hf & info.flow_type_rss_offloads);
        assert_eq!(applied.tx_offloads, want.tx_offloads & info.tx_offload_capa);
        rxq.push(p.rx_queue_setup(0, 256, &pool).unwrap());
        txq.push(p.tx_queue_setup(0, 256).unwrap());
        assert!(matches!(
            p.rx_queue_setup(0, 256, &pool),
            Err(DpdkError::QueueInUse { queue: Some(0), .. })
        ));
        assert!(matches!(
            p.tx_queue_setup(0, 256),
            Err(DpdkError::QueueInUse { queue: Some(0), .. })
        ));
        assert!(matches!(
            p.configure(&want),
            Err(DpdkError::QueueInUse { queue: None, .. })
        ));
        p.start().unwrap();
        let _ = p.promiscuous_enable();
        p.stats_reset().unwrap();
    }
    assert_eq!(p0.mac_addr().unwrap().len(), 6);
    assert!(p0.link().unwrap().up, "a started ring port has link up");
    assert!(matches!(p0.stop(), Err(DpdkError::QueueInUse { .. })));
    assert!(matches!(p0.close(), Err(DpdkError::QueueInUse { .. })));

    // --- tx on ring0, rx on ring0 (loop), nothing on ring1: the bytes come back ---
    let n = 40usize; // more than one burst
    let mut out: Vec<Mbuf> = Vec::with_capacity(64);
    for i in 0..n {
        let mut m = pool.alloc().unwrap();
        let f = frame(i as u8, 60 + i);
        assert!(m.set_len(f.len()));
        m.data_mut().copy_from_slice(&f);
        out.push(m);
    }
    assert_eq!(pool.in_use(), n as u32);
    let cap = out.capacity();
    let sent = txq[0].tx_burst(&mut out);
    assert_eq!(sent, n);
    assert!(out.is_empty());
    assert_eq!(out.capacity(), cap, "tx_burst keeps the Vec's capacity");
    assert_eq!(pool.in_use(), n as u32, "mbufs sit in the ring");

    let mut got: Vec<Mbuf> = Vec::with_capacity(64);
    let cap = got.capacity();
    assert_eq!(rxq[1].rx_burst(&mut got), 0, "ring1 is a different port");
    assert_eq!(
        rxq[0].rx_burst(&mut got),
        BURST,
        "one burst is at most BURST"
    );
    assert_eq!(rxq[0].rx_burst(&mut got), n - BURST);
    assert_eq!(rxq[0].rx_burst(&mut got), 0);
    assert_eq!(
        got.capacity(),
        cap,
        "rx_burst does not grow a Vec with room"
    );
    assert_eq!(got.len(), n);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.data(), &frame(i as u8, 60 + i)[..], "frame {i}");
    }
    let s0 = p0.stats().unwrap();
    let s1 = p1.stats().unwrap();
    assert_eq!(s0.opackets, n as u64);
    assert_eq!(s0.q_opackets[0], n as u64);
    assert_eq!(s0.ipackets, n as u64);
    assert_eq!(s0.q_ipackets[0], n as u64);
    assert_eq!(s0.ierrors + s0.oerrors + s0.imissed + s0.rx_nombuf, 0);
    assert_eq!(s1, rvs_ffi::EthStats::default(), "ring1 saw nothing");
    drop(got);
    assert_eq!(
        pool.in_use(),
        0,
        "received mbufs return to the pool on drop"
    );

    // --- net_null: tx frees, rx allocates from the pool ---
    let mut out = vec![pool.alloc().unwrap(), pool.alloc().unwrap()];
    assert_eq!(txq[2].tx_burst(&mut out), 2);
    assert_eq!(pool.in_use(), 0, "net_null frees what it sends");
    let mut got: Vec<Mbuf> = Vec::with_capacity(BURST);
    assert_eq!(rxq[2].rx_burst(&mut got), BURST);
    assert!(got.iter().all(|m| m.len() == 64));
    assert_eq!(pool.in_use(), BURST as u32);
    got.clear();
    assert_eq!(pool.in_use(), 0);
    let sn = null.stats().unwrap();
    assert_eq!((sn.opackets, sn.ipackets), (2, BURST as u64));

    // --- a queue polled from a worker lcore ---
    let mut q = rxq.pop().unwrap(); // net_null rx
    static RX_ON_LCORE: AtomicU32 = AtomicU32::new(0);
    eal.launch(
        1,
        Box::new(move || {
            let mut v: Vec<Mbuf> = Vec::with_capacity(BURST);
            let n = q.rx_burst(&mut v);
            RX_ON_LCORE.store(n as u32, Ordering::SeqCst);
        }),
    )
    .unwrap();
    eal.wait(1).unwrap();
    assert_eq!(RX_ON_LCORE.load(Ordering::SeqCst), BURST as u32);

    // --- shutdown order: queues, ports, pool ---
    drop(rxq);
    drop(txq);
    for p in [&p0, &p1, &null] {
        p.stop().unwrap();
        p.close().unwrap();
    }
    assert_eq!(pool.in_use(), 0);
    drop(pool);
    drop(eal);
}
