//! The DPDK implementation of the dataplane's port traits, and port bring-up.
//!
//! - [`DpdkBuf`] is a [`PacketBuf`] over an owned mbuf ([`rvs_ffi::Mbuf`]).
//! - [`DpdkIo`] is one worker's [`WorkerIo`]: its own rx and tx queue on every port (queue i of each
//!   port belongs to worker i), the shared mbuf pool, and each port's tx checksum capabilities. It owns
//!   its queue handles, so no other thread can poll those queues; drop it (end the worker) before
//!   stopping the ports.
//! - [`setup_port`] configures a port with one rx+tx queue per worker, RSS when the port supports it,
//!   TCP/UDP rx checksum checks and tx checksum offloads when supported, promiscuous mode, starts it
//!   and reports MAC and link.
//!
//! No `unsafe` here: everything goes through rvs-ffi's safe wrappers. Bursts move mbufs through the
//! caller's `Vec`s (capacity reused), so the fast path allocates nothing.
#![allow(dead_code)] // rvsd's main wires these in step by step

use std::sync::Arc;

use rvs_dataplane::port::{PacketBuf, RxL4Csum, TxOffloadCaps, WorkerIo};
use rvs_ffi::ethdev::flags;
use rvs_ffi::{
    DevInfo, DpdkError, Eal, EthConf, EthDev, LinkStatus, Mbuf, Mempool, RxQueue, TxOffload,
    TxQueue,
};

/// Rx descriptors per queue (adjusted to the driver's limits).
pub const RX_DESC: u16 = 1024;
/// Tx descriptors per queue (adjusted to the driver's limits).
pub const TX_DESC: u16 = 1024;

// Each worker's I/O and its buffers move into the worker lcore's closure.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<DpdkIo>();
    assert_send::<DpdkBuf>();
};

/// A packet buffer over one owned DPDK mbuf.
#[derive(Debug)]
pub struct DpdkBuf(pub Mbuf);

impl DpdkBuf {
    /// Requests tx checksum offloads for this frame (only on ports whose [`TxOffloadCaps`] say so).
    pub fn set_tx_offload(&mut self, req: TxOffload) {
        self.0.set_tx_offload(req);
    }
}

impl From<Mbuf> for DpdkBuf {
    fn from(m: Mbuf) -> Self {
        DpdkBuf(m)
    }
}

impl From<DpdkBuf> for Mbuf {
    fn from(b: DpdkBuf) -> Self {
        b.0
    }
}

impl AsRef<Mbuf> for DpdkBuf {
    fn as_ref(&self) -> &Mbuf {
        &self.0
    }
}

impl PacketBuf for DpdkBuf {
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.0.data_mut()
    }
    fn prepend(&mut self, n: usize) -> bool {
        self.0.prepend(n)
    }
    fn adj(&mut self, n: usize) -> bool {
        self.0.adj(n)
    }
    fn set_len(&mut self, len: usize) -> bool {
        self.0.set_len(len)
    }
    fn rss_hash(&self) -> Option<u32> {
        self.0.rss_hash()
    }
    fn rx_l4_csum(&self) -> RxL4Csum {
        match self.0.rx_l4_cksum() {
            Some(true) => RxL4Csum::Good,
            Some(false) => RxL4Csum::Bad,
            None => RxL4Csum::Unknown,
        }
    }
}

/// One port's queues for one worker.
#[derive(Debug)]
pub struct PortQueues {
    /// This worker's rx queue on the port.
    pub rx: RxQueue,
    /// This worker's tx queue on the port.
    pub tx: TxQueue,
    /// What the port computes on transmit.
    pub caps: TxOffloadCaps,
}

/// One worker lcore's DPDK I/O: its queue on every port (index = rvs port number) and the mbuf pool.
#[derive(Debug)]
pub struct DpdkIo {
    ports: Vec<PortQueues>,
    pool: Arc<Mempool>,
}

impl DpdkIo {
    /// I/O over `ports` (rvs port i = `ports[i]`) allocating from `pool`.
    pub fn new(ports: Vec<PortQueues>, pool: Arc<Mempool>) -> Self {
        DpdkIo { ports, pool }
    }

    /// The tx checksum capabilities of `port` as the port reported them. Not returned by
    /// [`WorkerIo::tx_offload`] until [`PacketBuf`] can carry an offload request (see there).
    pub fn port_tx_caps(&self, port: u16) -> TxOffloadCaps {
        self.ports
            .get(usize::from(port))
            .map(|p| p.caps)
            .unwrap_or_default()
    }
}

impl WorkerIo for DpdkIo {
    type Buf = DpdkBuf;

    fn n_ports(&self) -> u16 {
        u16::try_from(self.ports.len()).unwrap_or(u16::MAX)
    }

    fn rx_burst(&mut self, port: u16, out: &mut Vec<DpdkBuf>) -> usize {
        match self.ports.get_mut(usize::from(port)) {
            Some(p) => p.rx.rx_burst(out),
            None => 0,
        }
    }

    fn tx_burst(&mut self, port: u16, bufs: &mut Vec<DpdkBuf>) -> usize {
        match self.ports.get_mut(usize::from(port)) {
            Some(p) => p.tx.tx_burst(bufs),
            None => 0,
        }
    }

    fn alloc(&mut self) -> Option<DpdkBuf> {
        self.pool.alloc().map(DpdkBuf)
    }

    /// Always "no offload": the pipeline has no way yet to mark a [`PacketBuf`] for checksum offload
    /// (the trait lacks a `set_tx_offload`), and a port told to offload nothing must get full
    /// software checksums. [`DpdkIo::port_tx_caps`] has the port's real capabilities.
    fn tx_offload(&self, _port: u16) -> TxOffloadCaps {
        TxOffloadCaps::default()
    }
}

/// A started port and its per-worker queues.
#[derive(Debug)]
pub struct PortSetup {
    /// The port.
    pub dev: EthDev,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Link state right after start.
    pub link: LinkStatus,
    /// Capabilities.
    pub info: DevInfo,
    /// The configuration applied (RSS types and offloads actually enabled).
    pub conf: EthConf,
    /// Tx checksum capabilities enabled on the port.
    pub caps: TxOffloadCaps,
    /// Whether promiscuous mode is on.
    pub promiscuous: bool,
    /// Queue pair i, for worker i; taken by [`worker_ios`].
    pub queues: Vec<Option<(RxQueue, TxQueue)>>,
}

/// Brings up `device` (a devargs string such as `net_tap0,iface=rvsc`, or a PCI address): looks the
/// port up by name (hot-plugging the device when it was not given to the EAL), configures `n_queues`
/// rx and tx queues (one per worker), RSS over IPv4 when supported (`n_queues > 1`), TCP/UDP rx
/// checksum checks and IPv4/TCP/UDP tx checksum offloads when supported, MTU `mtu` (0 = default),
/// fills the rx queues from `pool`, starts the port and turns promiscuous mode on (where the driver
/// allows).
///
/// # Errors
/// The first DPDK error (unknown device, too many queues, queue setup, start).
pub fn setup_port(
    eal: &Eal,
    device: &str,
    n_queues: u16,
    pool: &Arc<Mempool>,
    mtu: u16,
) -> Result<PortSetup, DpdkError> {
    let dev = match EthDev::by_name(eal, device) {
        Ok(d) => d,
        Err(DpdkError::NoSuchPort(_)) => {
            eal.probe(device)?;
            EthDev::by_name(eal, device)?
        }
        Err(e) => return Err(e),
    };
    let info = dev.info()?;
    let want = EthConf {
        n_rxq: n_queues,
        n_txq: n_queues,
        rss_hf: if n_queues > 1 { flags::RSS_IPV4_ALL } else { 0 },
        // Where the driver checks TCP/UDP checksums on receive, the load balancer trusts its verdict
        // (`PacketBuf::rx_l4_csum`) instead of summing the segment again.
        rx_offloads: flags::RX_OFFLOAD_TCP_CKSUM | flags::RX_OFFLOAD_UDP_CKSUM,
        tx_offloads: flags::TX_OFFLOAD_IPV4_CKSUM
            | flags::TX_OFFLOAD_TCP_CKSUM
            | flags::TX_OFFLOAD_UDP_CKSUM,
        mtu,
    };
    let conf = dev.configure(&want)?;
    let caps = TxOffloadCaps {
        ipv4_cksum: conf.tx_offloads & flags::TX_OFFLOAD_IPV4_CKSUM != 0,
        tcp_cksum: conf.tx_offloads & flags::TX_OFFLOAD_TCP_CKSUM != 0,
        udp_cksum: conf.tx_offloads & flags::TX_OFFLOAD_UDP_CKSUM != 0,
    };
    let mut queues = Vec::with_capacity(usize::from(n_queues));
    for q in 0..n_queues {
        let rx = dev.rx_queue_setup(q, RX_DESC, pool)?;
        let tx = dev.tx_queue_setup(q, TX_DESC)?;
        queues.push(Some((rx, tx)));
    }
    dev.start()?;
    if let Err(e) = dev.promiscuous_enable() {
        tracing::warn!(device, error = %e, "cannot enable promiscuous mode");
    }
    let mac = dev.mac_addr()?;
    let link = dev.link()?;
    tracing::info!(
        device,
        port = dev.id(),
        driver = %info.driver_name,
        mac = %format_mac(&mac),
        link_up = link.up,
        speed_mbps = link.speed_mbps,
        queues = n_queues,
        rss_hf = conf.rss_hf,
        tx_offloads = conf.tx_offloads,
        "port started"
    );
    Ok(PortSetup {
        promiscuous: dev.promiscuous(),
        dev,
        mac,
        link,
        info,
        conf,
        caps,
        queues,
    })
}

/// Splits the ports' queues into one [`DpdkIo`] per worker: worker i gets queue pair i of every port
/// (rvs port numbers follow the order of `ports`).
///
/// # Errors
/// `EINVAL` when a port has fewer than `n_workers` queue pairs left.
pub fn worker_ios(
    ports: &mut [PortSetup],
    n_workers: usize,
    pool: &Arc<Mempool>,
) -> Result<Vec<DpdkIo>, DpdkError> {
    let mut ios = Vec::with_capacity(n_workers);
    for w in 0..n_workers {
        let mut pq = Vec::with_capacity(ports.len());
        for p in ports.iter_mut() {
            let caps = p.caps;
            let (rx, tx) = p.queues.get_mut(w).and_then(Option::take).ok_or_else(|| {
                DpdkError::InvalidArgument(format!("port {} has no queue {w}", p.dev.id()))
            })?;
            pq.push(PortQueues { rx, tx, caps });
        }
        ios.push(DpdkIo::new(pq, Arc::clone(pool)));
    }
    Ok(ios)
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Boots the EAL (once for this test binary) with two looping net_ring ports and runs two
    /// workers' DpdkIo over them through the WorkerIo trait.
    #[test]
    fn dpdk_io_over_net_ring() {
        let prefix = format!("rvsd-dpdk-io-test-{}", std::process::id());
        let args = [
            "-l",
            "0",
            "--no-huge",
            "-m",
            "128",
            "--no-pci",
            "--file-prefix",
            prefix.as_str(),
            "--log-level",
            "lib.eal:error",
            "--vdev=net_ring0",
        ];
        let eal = Eal::init(&args).expect("EAL init");
        let pool = Arc::new(
            Mempool::new(&eal, "rvsd_test", 511, 0, Mempool::DEFAULT_DATA_ROOM, -1).unwrap(),
        );
        let mut ports = vec![
            setup_port(&eal, "net_ring0", 2, &pool, 0).unwrap(),
            // Not on the EAL command line: hot-plugged by setup_port.
            setup_port(&eal, "net_ring1", 2, &pool, 0).unwrap(),
        ];
        assert_eq!(ports[0].dev.id(), 0);
        assert_eq!(ports[1].dev.id(), 1);
        assert!(ports[0].link.up);
        let mut ios = worker_ios(&mut ports, 2, &pool).unwrap();
        assert!(
            worker_ios(&mut ports, 1, &pool).is_err(),
            "queues are handed out once"
        );
        assert_eq!(ios.len(), 2);
        assert_eq!(ios[0].n_ports(), 2);

        // Worker 1 sends 3 frames on port 1: they loop back on worker 1's queue of port 1 only.
        let mut out = Vec::with_capacity(32);
        for i in 0..3u8 {
            let mut b = ios[1].alloc().unwrap();
            assert!(b.data().is_empty());
            assert!(b.set_len(60));
            b.data_mut().fill(i);
            assert!(b.prepend(4));
            b.data_mut()[..4].copy_from_slice(&[0xde, 0xad, 0xbe, i]);
            out.push(b);
        }
        assert_eq!(ios[1].tx_burst(1, &mut out), 3);
        assert!(out.is_empty());
        let mut got = Vec::with_capacity(32);
        assert_eq!(
            ios[0].rx_burst(1, &mut got),
            0,
            "worker 0's queue of port 1 is empty"
        );
        assert_eq!(ios[1].rx_burst(0, &mut got), 0, "port 0 is empty");
        assert_eq!(ios[1].rx_burst(1, &mut got), 3);
        for (i, b) in got.iter_mut().enumerate() {
            assert_eq!(b.data().len(), 64);
            assert_eq!(&b.data()[..4], &[0xde, 0xad, 0xbe, i as u8]);
            assert!(b.data()[4..].iter().all(|&x| x == i as u8));
            assert!(b.adj(4));
            assert_eq!(b.data().len(), 60);
            assert_eq!(b.rss_hash(), None);
        }
        assert_eq!(
            ios[0].tx_burst(7, &mut got),
            0,
            "no port 7: nothing sent, nothing lost"
        );
        assert_eq!(got.len(), 3);
        assert_eq!(pool.in_use(), 3, "net_ring keeps no mbufs of its own");
        drop(got);
        assert_eq!(pool.in_use(), 0);
        let s = ports[1].dev.stats().unwrap();
        assert_eq!(
            (s.opackets, s.ipackets, s.q_opackets[1], s.q_ipackets[1]),
            (3, 3, 3, 3)
        );
        assert_eq!(ports[0].dev.stats().unwrap().opackets, 0);
        assert_eq!(ios[0].tx_offload(0), TxOffloadCaps::default());

        // Shutdown order: workers' I/O, then ports.
        assert!(
            ports[0].dev.stop().is_err(),
            "queues still owned by a worker"
        );
        drop(ios);
        for p in &ports {
            p.dev.close().unwrap();
        }
    }
}
