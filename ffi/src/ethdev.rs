//! Ethernet ports (`rte_ethdev`): lookup, capabilities, configuration, queues, start/stop, MAC, link,
//! statistics, and the burst rx/tx of the fast path.
//!
//! Soundness rules enforced here (DPDK leaves them to the application):
//! - A queue is polled only through its handle ([`RxQueue`] / [`TxQueue`]); at most one handle exists per
//!   (port, queue, direction), handles are `Send` but not `Sync` and `&mut` for bursts, so no two threads
//!   poll one queue at once.
//! - A port cannot be reconfigured, stopped or closed while any of its queue handles is alive (stopping
//!   or reconfiguring under a polling thread is a data race in DPDK): shut workers down first.
//! - Every pool given to `rx_queue_setup` is kept alive by the port until [`EthDev::close`].
//!
//! Bursts move at most [`BURST`] mbufs through a stack array: no allocation per burst as long as the
//! caller's `Vec` has capacity.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::eal::{Eal, EalHandle};
use crate::error::{call_error, check, DpdkError};
use crate::mbuf::Mbuf;
use crate::mempool::Mempool;
use crate::sys;

/// Maximum mbufs moved by one rx burst (and per tx call to the driver).
pub const BURST: usize = 32;

/// Ethdev offload and RSS flag values (equal to DPDK's `RTE_ETH_*`; checked in the C shim).
pub mod flags {
    use crate::sys;
    /// Rx offload: IPv4 header checksum check.
    pub const RX_OFFLOAD_IPV4_CKSUM: u64 = sys::RVS_ETH_RX_OFFLOAD_IPV4_CKSUM;
    /// Rx offload: UDP checksum check.
    pub const RX_OFFLOAD_UDP_CKSUM: u64 = sys::RVS_ETH_RX_OFFLOAD_UDP_CKSUM;
    /// Rx offload: TCP checksum check.
    pub const RX_OFFLOAD_TCP_CKSUM: u64 = sys::RVS_ETH_RX_OFFLOAD_TCP_CKSUM;
    /// Rx offload: deliver the RSS hash in the mbuf.
    pub const RX_OFFLOAD_RSS_HASH: u64 = sys::RVS_ETH_RX_OFFLOAD_RSS_HASH;
    /// Tx offload: IPv4 header checksum.
    pub const TX_OFFLOAD_IPV4_CKSUM: u64 = sys::RVS_ETH_TX_OFFLOAD_IPV4_CKSUM;
    /// Tx offload: UDP checksum.
    pub const TX_OFFLOAD_UDP_CKSUM: u64 = sys::RVS_ETH_TX_OFFLOAD_UDP_CKSUM;
    /// Tx offload: TCP checksum.
    pub const TX_OFFLOAD_TCP_CKSUM: u64 = sys::RVS_ETH_TX_OFFLOAD_TCP_CKSUM;
    /// Tx offload: multi-segment mbufs.
    pub const TX_OFFLOAD_MULTI_SEGS: u64 = sys::RVS_ETH_TX_OFFLOAD_MULTI_SEGS;
    /// Tx offload: fast free (one pool, refcount 1).
    pub const TX_OFFLOAD_MBUF_FAST_FREE: u64 = sys::RVS_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    /// RSS over IPv4 addresses.
    pub const RSS_IPV4: u64 = sys::RVS_ETH_RSS_IPV4;
    /// RSS over fragmented IPv4.
    pub const RSS_FRAG_IPV4: u64 = sys::RVS_ETH_RSS_FRAG_IPV4;
    /// RSS over IPv4 TCP (addresses and ports).
    pub const RSS_NONFRAG_IPV4_TCP: u64 = sys::RVS_ETH_RSS_NONFRAG_IPV4_TCP;
    /// RSS over IPv4 UDP (addresses and ports).
    pub const RSS_NONFRAG_IPV4_UDP: u64 = sys::RVS_ETH_RSS_NONFRAG_IPV4_UDP;
    /// RSS over other IPv4.
    pub const RSS_NONFRAG_IPV4_OTHER: u64 = sys::RVS_ETH_RSS_NONFRAG_IPV4_OTHER;
    /// Every IPv4 RSS type above.
    pub const RSS_IPV4_ALL: u64 = RSS_IPV4
        | RSS_FRAG_IPV4
        | RSS_NONFRAG_IPV4_TCP
        | RSS_NONFRAG_IPV4_UDP
        | RSS_NONFRAG_IPV4_OTHER;
}

/// Slow-path bookkeeping per port: live queue handles and the pools its rx queues use.
#[derive(Default)]
struct PortState {
    live_rx: Vec<u16>,
    live_tx: Vec<u16>,
    started: bool,
    pools: Vec<Arc<Mempool>>,
}

static PORTS: Mutex<BTreeMap<u16, PortState>> = Mutex::new(BTreeMap::new());

fn ports() -> MutexGuard<'static, BTreeMap<u16, PortState>> {
    // A panic while holding this lock leaves consistent data (every update is a single push/retain).
    PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Capabilities and limits of a port (`rte_eth_dev_info`, the fields rvs uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevInfo {
    /// PMD name, e.g. `net_tap`.
    pub driver_name: String,
    /// Kernel interface index, 0 when none.
    pub if_index: u32,
    /// Maximum rx queues.
    pub max_rx_queues: u16,
    /// Maximum tx queues.
    pub max_tx_queues: u16,
    /// Supported rx offloads (`flags::RX_OFFLOAD_*`).
    pub rx_offload_capa: u64,
    /// Supported tx offloads (`flags::TX_OFFLOAD_*`).
    pub tx_offload_capa: u64,
    /// Supported RSS hash types (`flags::RSS_*`); 0 = no RSS.
    pub flow_type_rss_offloads: u64,
    /// RSS redirection table size.
    pub reta_size: u16,
    /// Minimum MTU.
    pub min_mtu: u16,
    /// Maximum MTU.
    pub max_mtu: u16,
    /// Currently configured rx queues.
    pub nb_rx_queues: u16,
    /// Currently configured tx queues.
    pub nb_tx_queues: u16,
}

/// What to configure on a port. [`EthDev::configure`] masks the requests with the port's capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EthConf {
    /// Number of rx queues.
    pub n_rxq: u16,
    /// Number of tx queues.
    pub n_txq: u16,
    /// Wanted RSS hash types (`flags::RSS_*`); 0 = no RSS.
    pub rss_hf: u64,
    /// Wanted rx offloads (`flags::RX_OFFLOAD_*`).
    pub rx_offloads: u64,
    /// Wanted tx offloads (`flags::TX_OFFLOAD_*`).
    pub tx_offloads: u64,
    /// MTU, 0 = the driver default (1500).
    pub mtu: u16,
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// Link up.
    pub up: bool,
    /// Speed in Mbit/s (0 unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Port statistics (`rte_eth_stats`). Per-queue arrays hold the first 16 queues.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EthStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets dropped by the hardware (rx queue full).
    pub imissed: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// Receive mbuf allocation failures.
    pub rx_nombuf: u64,
    /// Packets received per queue.
    pub q_ipackets: [u64; 16],
    /// Packets sent per queue.
    pub q_opackets: [u64; 16],
}

/// An ethdev port of the initialised EAL. Cheap to clone; the port id is the identity.
#[derive(Debug, Clone)]
pub struct EthDev {
    id: u16,
    _eal: EalHandle,
}

impl PartialEq for EthDev {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for EthDev {}

impl EthDev {
    /// Number of usable ports.
    pub fn count(_eal: &Eal) -> u16 {
        // SAFETY: EAL is initialised; a plain getter.
        unsafe { sys::rte_eth_dev_count_avail() }
    }

    /// The port whose device name is `name` (e.g. `net_tap0`, or a PCI address). A devargs string
    /// (`net_tap0,iface=x`) is cut at its first comma.
    ///
    /// # Errors
    /// [`DpdkError::NoSuchPort`] when no port has the name.
    pub fn by_name(eal: &Eal, name: &str) -> Result<EthDev, DpdkError> {
        let name = device_name(name);
        let c = CString::new(name)
            .map_err(|_| DpdkError::InvalidArgument(format!("NUL byte in {name:?}")))?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string and id a valid out pointer for the call.
        let rc = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if rc < 0 {
            return Err(DpdkError::NoSuchPort(name.to_owned()));
        }
        Ok(EthDev {
            id,
            _eal: eal.handle(),
        })
    }

    /// The port with id `id`.
    ///
    /// # Errors
    /// [`DpdkError::NoSuchPort`] when the id is not a valid port.
    pub fn from_id(eal: &Eal, id: u16) -> Result<EthDev, DpdkError> {
        // SAFETY: any id is accepted and checked.
        if unsafe { sys::rte_eth_dev_is_valid_port(id) } == 0 {
            return Err(DpdkError::NoSuchPort(format!("port id {id}")));
        }
        Ok(EthDev {
            id,
            _eal: eal.handle(),
        })
    }

    /// The port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The port's device name.
    ///
    /// # Errors
    /// The `rte_eth_dev_get_name_by_port` error.
    pub fn name(&self) -> Result<String, DpdkError> {
        let mut buf = [0 as c_char; 64]; // RTE_ETH_NAME_MAX_LEN
                                         // SAFETY: buf is RTE_ETH_NAME_MAX_LEN bytes, as the function requires.
        let rc = unsafe { sys::rte_eth_dev_get_name_by_port(self.id, buf.as_mut_ptr()) };
        check("rte_eth_dev_get_name_by_port", rc)?;
        // SAFETY: on success buf holds a NUL-terminated string.
        Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned())
    }

    /// Capabilities and limits.
    ///
    /// # Errors
    /// The `rte_eth_dev_info_get` error.
    pub fn info(&self) -> Result<DevInfo, DpdkError> {
        // SAFETY: rte_eth_dev_info is plain data (integers and pointers); all-zero is a valid value.
        let mut di: sys::rte_eth_dev_info = unsafe { std::mem::zeroed() };
        // SAFETY: di is a valid out pointer; the port id is valid (checked at construction).
        let rc = unsafe { sys::rte_eth_dev_info_get(self.id, &mut di) };
        check("rte_eth_dev_info_get", rc)?;
        let driver_name = if di.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: driver_name is a NUL-terminated string owned by the driver, static for its lifetime.
            unsafe { CStr::from_ptr(di.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(DevInfo {
            driver_name,
            if_index: di.if_index,
            max_rx_queues: di.max_rx_queues,
            max_tx_queues: di.max_tx_queues,
            rx_offload_capa: di.rx_offload_capa,
            tx_offload_capa: di.tx_offload_capa,
            flow_type_rss_offloads: di.flow_type_rss_offloads,
            reta_size: di.reta_size,
            min_mtu: di.min_mtu,
            max_mtu: di.max_mtu,
            nb_rx_queues: di.nb_rx_queues,
            nb_tx_queues: di.nb_tx_queues,
        })
    }

    /// Configures the port (it must be stopped). Requests are masked with the capabilities: RSS only
    /// for supported hash types (and then the RSS-hash rx offload too, when supported), offloads only
    /// where supported. Returns what was applied.
    ///
    /// # Errors
    /// [`DpdkError::QueueInUse`] while queue handles of the port are alive; `EINVAL` for too many queues;
    /// the `rte_eth_dev_configure` error otherwise.
    pub fn configure(&self, want: &EthConf) -> Result<EthConf, DpdkError> {
        self.check_no_live_queues()?;
        let info = self.info()?;
        if want.n_rxq == 0
            || want.n_txq == 0
            || want.n_rxq > info.max_rx_queues
            || want.n_txq > info.max_tx_queues
        {
            return Err(call_error("rte_eth_dev_configure", libc::EINVAL));
        }
        let rss_hf = want.rss_hf & info.flow_type_rss_offloads;
        let mut rx_offloads = want.rx_offloads & info.rx_offload_capa;
        if rss_hf != 0 {
            rx_offloads |= info.rx_offload_capa & flags::RX_OFFLOAD_RSS_HASH;
        }
        let applied = EthConf {
            n_rxq: want.n_rxq,
            n_txq: want.n_txq,
            rss_hf,
            rx_offloads,
            tx_offloads: want.tx_offloads & info.tx_offload_capa,
            mtu: want.mtu,
        };
        // SAFETY: the port id is valid; the shim builds a zeroed rte_eth_conf from plain integers.
        let rc = unsafe {
            sys::rvs_eth_dev_configure(
                self.id,
                applied.n_rxq,
                applied.n_txq,
                applied.rss_hf,
                applied.rx_offloads,
                applied.tx_offloads,
                u32::from(applied.mtu),
            )
        };
        check("rte_eth_dev_configure", rc)?;
        Ok(applied)
    }

    /// Sets up rx queue `queue` with about `nb_desc` descriptors (adjusted to the driver's limits),
    /// filling it from `pool`, and returns the only handle to poll it. The port keeps `pool` alive
    /// until [`EthDev::close`].
    ///
    /// # Errors
    /// [`DpdkError::QueueInUse`] when a handle for this queue is alive; the DPDK error otherwise.
    pub fn rx_queue_setup(
        &self,
        queue: u16,
        nb_desc: u16,
        pool: &Arc<Mempool>,
    ) -> Result<RxQueue, DpdkError> {
        let mut map = ports();
        let st = map.entry(self.id).or_default();
        if st.live_rx.contains(&queue) {
            return Err(DpdkError::QueueInUse {
                port: self.id,
                queue: Some(queue),
            });
        }
        let (mut nrx, mut ntx) = (nb_desc, nb_desc);
        // SAFETY: valid port id and out pointers.
        let rc = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(self.id, &mut nrx, &mut ntx) };
        check("rte_eth_dev_adjust_nb_rx_tx_desc", rc)?;
        let socket = self.socket_id().map_or(Mempool::SOCKET_ANY as u32, |s| s);
        // SAFETY: valid port id; NULL rxconf = driver defaults; pool is a live pktmbuf pool that the port
        // registry keeps alive until close (pushed below on success).
        let rc = unsafe {
            sys::rte_eth_rx_queue_setup(self.id, queue, nrx, socket, ptr::null(), pool.as_ptr())
        };
        check("rte_eth_rx_queue_setup", rc)?;
        if !st.pools.iter().any(|p| Arc::ptr_eq(p, pool)) {
            st.pools.push(Arc::clone(pool));
        }
        st.live_rx.push(queue);
        Ok(RxQueue {
            port: self.id,
            queue,
            _dev: self.clone(),
        })
    }

    /// Sets up tx queue `queue` with about `nb_desc` descriptors and the port's tx offloads, and
    /// returns the only handle to send on it.
    ///
    /// # Errors
    /// [`DpdkError::QueueInUse`] when a handle for this queue is alive; the DPDK error otherwise.
    pub fn tx_queue_setup(&self, queue: u16, nb_desc: u16) -> Result<TxQueue, DpdkError> {
        let mut map = ports();
        let st = map.entry(self.id).or_default();
        if st.live_tx.contains(&queue) {
            return Err(DpdkError::QueueInUse {
                port: self.id,
                queue: Some(queue),
            });
        }
        let (mut nrx, mut ntx) = (nb_desc, nb_desc);
        // SAFETY: valid port id and out pointers.
        let rc = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(self.id, &mut nrx, &mut ntx) };
        check("rte_eth_dev_adjust_nb_rx_tx_desc", rc)?;
        let socket = self.socket_id().map_or(Mempool::SOCKET_ANY as u32, |s| s);
        // SAFETY: valid port id; NULL txconf = driver defaults plus the port's configured tx offloads.
        let rc = unsafe { sys::rte_eth_tx_queue_setup(self.id, queue, ntx, socket, ptr::null()) };
        check("rte_eth_tx_queue_setup", rc)?;
        st.live_tx.push(queue);
        Ok(TxQueue {
            port: self.id,
            queue,
            _dev: self.clone(),
        })
    }

    /// Starts the port.
    ///
    /// # Errors
    /// The `rte_eth_dev_start` error.
    pub fn start(&self) -> Result<(), DpdkError> {
        // SAFETY: valid port id.
        let rc = unsafe { sys::rte_eth_dev_start(self.id) };
        check("rte_eth_dev_start", rc)?;
        ports().entry(self.id).or_default().started = true;
        Ok(())
    }

    /// Stops the port.
    ///
    /// # Errors
    /// [`DpdkError::QueueInUse`] while queue handles of the port are alive; the DPDK error otherwise.
    pub fn stop(&self) -> Result<(), DpdkError> {
        self.check_no_live_queues()?;
        // SAFETY: valid port id; no queue handle is alive, so no thread polls the port.
        let rc = unsafe { sys::rte_eth_dev_stop(self.id) };
        check("rte_eth_dev_stop", rc)?;
        ports().entry(self.id).or_default().started = false;
        Ok(())
    }

    /// Stops (if started) and closes the port, releasing its mbufs and the pools it kept alive.
    ///
    /// # Errors
    /// [`DpdkError::QueueInUse`] while queue handles of the port are alive; the DPDK error otherwise.
    pub fn close(&self) -> Result<(), DpdkError> {
        self.check_no_live_queues()?;
        if ports().get(&self.id).is_some_and(|st| st.started) {
            self.stop()?;
        }
        // SAFETY: as above; the port is stopped.
        let rc = unsafe { sys::rte_eth_dev_close(self.id) };
        check("rte_eth_dev_close", rc)?;
        let pools = ports().remove(&self.id).map(|st| st.pools);
        drop(pools); // outside the lock: may free the pools
        Ok(())
    }

    /// The port's MAC address.
    ///
    /// # Errors
    /// The `rte_eth_macaddr_get` error.
    pub fn mac_addr(&self) -> Result<[u8; 6], DpdkError> {
        let mut a = sys::rte_ether_addr::default();
        // SAFETY: valid port id and out pointer.
        check("rte_eth_macaddr_get", unsafe {
            sys::rte_eth_macaddr_get(self.id, &mut a)
        })?;
        Ok(a.addr_bytes)
    }

    /// The link state, without waiting.
    ///
    /// # Errors
    /// The `rte_eth_link_get_nowait` error.
    pub fn link(&self) -> Result<LinkStatus, DpdkError> {
        let (mut speed, mut up, mut fd) = (0u32, 0, 0);
        // SAFETY: valid port id and out pointers.
        let rc = unsafe { sys::rvs_eth_link_get_nowait(self.id, &mut speed, &mut up, &mut fd) };
        check("rte_eth_link_get_nowait", rc)?;
        Ok(LinkStatus {
            up: up != 0,
            speed_mbps: speed,
            full_duplex: fd != 0,
        })
    }

    /// Turns promiscuous mode on.
    ///
    /// # Errors
    /// The `rte_eth_promiscuous_enable` error (e.g. `ENOTSUP`).
    pub fn promiscuous_enable(&self) -> Result<(), DpdkError> {
        // SAFETY: valid port id.
        check("rte_eth_promiscuous_enable", unsafe {
            sys::rte_eth_promiscuous_enable(self.id)
        })
        .map(|_| ())
    }

    /// Whether promiscuous mode is on.
    pub fn promiscuous(&self) -> bool {
        // SAFETY: valid port id.
        unsafe { sys::rte_eth_promiscuous_get(self.id) == 1 }
    }

    /// Port statistics.
    ///
    /// # Errors
    /// The `rte_eth_stats_get` error.
    pub fn stats(&self) -> Result<EthStats, DpdkError> {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: valid port id and out pointer.
        check("rte_eth_stats_get", unsafe {
            sys::rte_eth_stats_get(self.id, &mut s)
        })?;
        Ok(EthStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
            q_ipackets: s.q_ipackets,
            q_opackets: s.q_opackets,
        })
    }

    /// Resets the port statistics.
    ///
    /// # Errors
    /// The `rte_eth_stats_reset` error.
    pub fn stats_reset(&self) -> Result<(), DpdkError> {
        // SAFETY: valid port id.
        check("rte_eth_stats_reset", unsafe {
            sys::rte_eth_stats_reset(self.id)
        })
        .map(|_| ())
    }

    /// Sets the MTU.
    ///
    /// # Errors
    /// The `rte_eth_dev_set_mtu` error (`EINVAL` outside the driver's range).
    pub fn set_mtu(&self, mtu: u16) -> Result<(), DpdkError> {
        // SAFETY: valid port id.
        check("rte_eth_dev_set_mtu", unsafe {
            sys::rte_eth_dev_set_mtu(self.id, mtu)
        })
        .map(|_| ())
    }

    /// The current MTU.
    ///
    /// # Errors
    /// The `rte_eth_dev_get_mtu` error.
    pub fn mtu(&self) -> Result<u16, DpdkError> {
        let mut m = 0u16;
        // SAFETY: valid port id and out pointer.
        check("rte_eth_dev_get_mtu", unsafe {
            sys::rte_eth_dev_get_mtu(self.id, &mut m)
        })?;
        Ok(m)
    }

    /// The port's NUMA socket, None when unknown.
    pub fn socket_id(&self) -> Option<u32> {
        // SAFETY: valid port id.
        let s = unsafe { sys::rte_eth_dev_socket_id(self.id) };
        u32::try_from(s).ok()
    }

    fn check_no_live_queues(&self) -> Result<(), DpdkError> {
        let map = ports();
        match map.get(&self.id) {
            Some(st) if !st.live_rx.is_empty() || !st.live_tx.is_empty() => {
                Err(DpdkError::QueueInUse {
                    port: self.id,
                    queue: None,
                })
            }
            _ => Ok(()),
        }
    }
}

/// The device name of a devargs string: everything before the first comma.
pub fn device_name(devargs: &str) -> &str {
    devargs.split(',').next().unwrap_or(devargs)
}

/// The only handle to poll one rx queue of a port. `Send`, not `Sync`.
#[derive(Debug)]
pub struct RxQueue {
    port: u16,
    queue: u16,
    _dev: EthDev,
}

impl RxQueue {
    /// Port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queue id.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives up to [`BURST`] frames, appended to `out` (wrapped by `T::from`); returns how many.
    /// Allocates nothing when `out` has room for them.
    pub fn rx_burst<T: From<Mbuf>>(&mut self, out: &mut Vec<T>) -> usize {
        let mut arr: [*mut sys::rte_mbuf; BURST] = [ptr::null_mut(); BURST];
        // SAFETY: arr has room for BURST pointers; &mut self is the only handle of this (port, queue),
        // which was set up and is not being reconfigured (registry rules in the module doc).
        let n = usize::from(unsafe {
            sys::rvs_eth_rx_burst(self.port, self.queue, arr.as_mut_ptr(), BURST as u16)
        });
        out.extend(arr[..n].iter().filter_map(|&p| {
            // SAFETY: the driver returned n valid mbufs (refcount 1) whose ownership passes to us; their pool
            // is kept alive by the port registry and by the in-use check of Mempool's Drop.
            ptr::NonNull::new(p).map(|p| T::from(unsafe { Mbuf::from_raw(p) }))
        }));
        n
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        if let Some(st) = ports().get_mut(&self.port) {
            st.live_rx.retain(|&q| q != self.queue);
        }
    }
}

/// The only handle to send on one tx queue of a port. `Send`, not `Sync`.
#[derive(Debug)]
pub struct TxQueue {
    port: u16,
    queue: u16,
    _dev: EthDev,
}

impl TxQueue {
    /// Port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queue id.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Sends frames from the front of `bufs` (in chunks of [`BURST`], after `rte_eth_tx_prepare`) and
    /// removes those the driver took; returns how many. What is left was not sent (queue full, or a
    /// frame the driver's tx_prepare rejected first in line): the caller frees and counts it, it is
    /// never retried here.
    pub fn tx_burst<T: AsRef<Mbuf> + Into<Mbuf>>(&mut self, bufs: &mut Vec<T>) -> usize {
        let mut arr: [*mut sys::rte_mbuf; BURST] = [ptr::null_mut(); BURST];
        let mut sent = 0;
        while sent < bufs.len() {
            let k = (bufs.len() - sent).min(BURST);
            for (slot, b) in arr.iter_mut().zip(&bufs[sent..sent + k]) {
                *slot = b.as_ref().as_ptr();
            }
            // SAFETY: arr[..k] holds valid mbufs we own; &mut self is the only handle of this queue; the
            // driver takes ownership of the first n returned, which we forget below without freeing.
            let n = usize::from(unsafe {
                sys::rvs_eth_tx_burst(self.port, self.queue, arr.as_mut_ptr(), k as u16)
            });
            sent += n;
            if n < k {
                break;
            }
        }
        for b in bufs.drain(..sent) {
            // Ownership went to the driver: give it up without freeing.
            let _ = b.into().into_raw();
        }
        sent
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        if let Some(st) = ports().get_mut(&self.port) {
            st.live_tx.retain(|&q| q != self.queue);
        }
    }
}
