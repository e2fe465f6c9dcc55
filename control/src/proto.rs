//! Every type that crosses the control socket.
//!
//! The protocol is versioned ([`API_VERSION`]): a frame carries the version, and a daemon refuses a frame
//! whose version differs with [`ApiError::Version`]. Requests mirror ipvsadm's commands one to one, with
//! the dpip-style extras (local addresses, stats) beside them. Errors are typed and map to ipvsadm's
//! error classes (see [`ApiError::ipvsadm_message`]) so keepalived-style tools can rely on them.
//!
//! Addresses are [`std::net::IpAddr`] throughout: the protocol is not IPv4-only even where the dataplane
//! still is.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The version of this protocol. Bumped on any incompatible change of the types below.
pub const API_VERSION: u32 = 1;

/// Transport protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Protocol {
    /// TCP (`-t`).
    Tcp,
    /// UDP (`-u`).
    Udp,
}

impl Protocol {
    /// The IP protocol number (6 or 17).
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// Identifies one virtual service: protocol, virtual address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceKey {
    /// TCP or UDP.
    pub proto: Protocol,
    /// The virtual IP address.
    pub addr: IpAddr,
    /// The virtual port (0 only for persistent services).
    pub port: u16,
}

/// How packets reach a real server (ipvsadm's forwarding method, plus DPVS' FULLNAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FwdMethod {
    /// Direct routing (`-g`, "Route"): the default of `-a`.
    Route,
    /// IP-in-IP tunnelling (`-i`, "Tunnel").
    Tunnel,
    /// NAT (`-m`, "Masq").
    Masq,
    /// Full NAT (`--fullnat`, "FullNat"): source rewritten to a local address.
    FullNat,
}

/// Tunnel encapsulation of a `Tunnel` real server (ipvsadm `--tun-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelType {
    /// Plain IPIP (the default).
    Ipip,
    /// Generic UDP Encapsulation to `port`.
    Gue {
        /// Destination UDP port.
        port: u16,
    },
    /// GRE.
    Gre,
}

/// Tunnel checksum option (`--tun-nocsum`, `--tun-csum`, `--tun-remcsum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelCsum {
    /// No checksum (the default).
    NoCsum,
    /// Outer checksum.
    Csum,
    /// Remote checksum offload (GUE only).
    RemCsum,
}

/// Everything `-A`/`-E` set on a service. `-E` replaces the whole entry (ipvsadm semantics): the client
/// sends a full spec built from the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Which service.
    pub key: ServiceKey,
    /// Scheduler name as typed (`rr`, `wrr`, `wlc`...); the daemon refuses unknown ones with
    /// [`ApiError::NoScheduler`].
    pub scheduler: String,
    /// Persistence timeout in seconds, `None` when not persistent.
    pub persistent: Option<u32>,
    /// Persistence netmask (IPv4: dotted mask as prefix length 0..=32; IPv6: 0..=128).
    pub netmask_prefix: u8,
    /// Scheduler flags bitmask (SCHED1 0x8, SCHED2 0x10, SCHED3 0x20), as ipvsadm's `-b`.
    pub sched_flags: u32,
    /// One-packet scheduling (`-o`).
    pub one_packet: bool,
}

/// Everything `-a`/`-e` set on a real server. `-e` replaces the whole entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestSpec {
    /// Real-server address.
    pub addr: IpAddr,
    /// Real-server port (forced to the service port for Route and Tunnel by the client, as ipvsadm does).
    pub port: u16,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// Weight, 0..=i32::MAX; 0 quiesces.
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub u_threshold: u32,
    /// Lower connection threshold.
    pub l_threshold: u32,
    /// Tunnel type (meaningful for `Tunnel`).
    pub tun_type: TunnelType,
    /// Tunnel checksum option.
    pub tun_csum: TunnelCsum,
}

/// A local address of a FULLNAT service (DPVS `--add-laddr -z LIP -t VIP:PORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaddrSpec {
    /// The local (source) address used towards real servers.
    pub addr: IpAddr,
}

/// What an access-control entry does with the clients it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AclAction {
    /// Admit (once a service has any allow entry, only clients matching one are admitted).
    Allow,
    /// Refuse (checked first: a deny match refuses whatever the allow entries say).
    Deny,
}

/// One access-control entry of a service: new connections from clients in `addr/prefix` are allowed
/// or denied (`rvsadm --add-acl -t VIP:PORT --allow|--deny PREFIX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclSpec {
    /// Allow or deny.
    pub action: AclAction,
    /// The network (host bits beyond `prefix` must be zero).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// `-A`.
    AddService(ServiceSpec),
    /// `-E` (whole entry replaced).
    EditService(ServiceSpec),
    /// `-D`.
    DelService(ServiceKey),
    /// `-C`: remove every service (and its dests and local addresses).
    Flush,
    /// `-a`.
    AddDest(ServiceKey, DestSpec),
    /// `-e` (whole entry replaced; the dest is found by address and port).
    EditDest(ServiceKey, DestSpec),
    /// `-d`: the dest is found by address and port.
    DelDest(ServiceKey, IpAddr, u16),
    /// `-Z`: zero counters of one service or of all.
    Zero(Option<ServiceKey>),
    /// `--set tcp tcpfin udp` (0 = unchanged).
    SetTimeouts(Timeouts),
    /// `-L`/`-S`: every service with its dests (or just one).
    GetServices(Option<ServiceKey>),
    /// `-L --timeout`.
    GetTimeouts,
    /// `-Lc`: live sessions from every lcore.
    GetConns,
    /// `--add-laddr -z LIP -t VIP:PORT`.
    AddLaddr(ServiceKey, LaddrSpec),
    /// `--del-laddr -z LIP -t VIP:PORT`.
    DelLaddr(ServiceKey, LaddrSpec),
    /// `--get-laddr -t VIP:PORT` (or all services).
    GetLaddrs(Option<ServiceKey>),
    /// `--add-acl -t VIP:PORT --allow|--deny PREFIX`: an access-control entry for new connections.
    AddAcl(ServiceKey, AclSpec),
    /// `--del-acl -t VIP:PORT --allow|--deny PREFIX`.
    DelAcl(ServiceKey, AclSpec),
    /// `--conn-limit N -t VIP:PORT`: at most N connections (active + inactive, all lcores) on the
    /// service; new ones beyond are refused. 0 = no limit.
    SetConnLimit(ServiceKey, u32),
    /// Dataplane statistics: per-lcore counters, drops by reason, ports (dpip-style extras).
    GetDataplaneStats,
    /// `-Lc` in bounded pages: at most `max` sessions from `cursor` on (answered by
    /// [`Response::ConnsPage`]). Each page costs a worker a bounded amount of work, so listing a huge
    /// table never stalls forwarding; start with `ConnCursor::default()` and follow `next`.
    GetConnsPage {
        /// Where to continue (`ConnCursor::default()` for the first page).
        cursor: ConnCursor,
        /// Most sessions wanted in this page (the daemon may answer fewer, and caps it).
        max: u32,
    },
    /// Ports: link state, addresses, device counters and per-lcore rx/tx/drop counters.
    GetPorts,
    /// Every address the dataplane answers for: port addresses, VIPs, FULLNAT local addresses.
    GetAddrs,
    /// The route table (connected routes from port addresses, then static routes).
    GetRoutes,
    /// The neighbour (ARP) table of every worker lcore.
    GetNeighbours,
    /// FULLNAT local-address pools: free ports per local address and lcore.
    GetLaddrPools,
    /// `-L`/`-S` of every service in bounded pages (answered by [`Response::ServicesPage`]): whole
    /// services from index `start` (insertion order) until `max_entries` lines (a service and each of
    /// its dests count one) are reached; at least one service per page. Keeps every answer far below
    /// the frame limit whatever the table size.
    GetServicesPage {
        /// Index of the first service (0 for the first page).
        start: u32,
        /// Most service + dest entries wanted in this page.
        max_entries: u32,
    },
    /// Several mutating requests applied in order and published to the workers once (what `rvsadm
    /// -R` sends). A refused request changes nothing and the others still apply (ipvsadm's restore
    /// semantics); the answer ([`Response::Batch`]) has one result per request, in order.
    Batch(Vec<Request>),
}

/// Position in the session listing: a worker (by index) and a slot in its tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnCursor {
    /// Worker index (0-based, in configuration order).
    pub worker: u32,
    /// Slot to continue from in that worker's session and template tables.
    pub slot: u64,
}

/// The three timeouts `--set` and `-L --timeout` handle, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// TCP ESTABLISHED.
    pub tcp: u32,
    /// TCP FIN_WAIT.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

/// Traffic counters (per service or per dest), summed over every lcore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficStats {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets client -> real server.
    pub inpkts: u64,
    /// Packets real server -> client.
    pub outpkts: u64,
    /// Bytes client -> real server.
    pub inbytes: u64,
    /// Bytes real server -> client.
    pub outbytes: u64,
}

/// Rates from the 2-second estimator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateStats {
    /// Connections per second.
    pub cps: u64,
    /// Packets per second in.
    pub inpps: u64,
    /// Packets per second out.
    pub outpps: u64,
    /// Bytes per second in.
    pub inbps: u64,
    /// Bytes per second out.
    pub outbps: u64,
}

/// One real server as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestInfo {
    /// Its configuration.
    pub spec: DestSpec,
    /// Connections in ESTABLISHED, summed over lcores.
    pub active_conns: u32,
    /// Connections in any other state.
    pub inactive_conns: u32,
    /// Persistence templates pointing at it.
    pub persist_conns: u32,
    /// Counters.
    pub stats: TrafficStats,
    /// Rates.
    pub rates: RateStats,
}

/// One virtual service as listed, dests in insertion order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Its configuration.
    pub spec: ServiceSpec,
    /// Its real servers, in insertion order (the kernel's order; the client sorts).
    pub dests: Vec<DestInfo>,
    /// Its local addresses (FULLNAT).
    pub laddrs: Vec<IpAddr>,
    /// Counters.
    pub stats: TrafficStats,
    /// Rates.
    pub rates: RateStats,
    /// Access-control entries, in insertion order.
    #[serde(default)]
    pub acl: Vec<AclSpec>,
    /// Connection limit (0 = none).
    #[serde(default)]
    pub conn_limit: u32,
    /// New connections refused by the access-control entries (all lcores).
    #[serde(default)]
    pub acl_denied: u64,
    /// New connections refused by the connection limit (all lcores).
    #[serde(default)]
    pub conn_limited: u64,
}

/// One live session as `-Lnc` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnInfo {
    /// TCP or UDP.
    pub proto: Protocol,
    /// Seconds until it expires.
    pub expires_s: u32,
    /// State name as IPVS prints it (`ESTABLISHED`, `UDP`, `NONE`...).
    pub state: String,
    /// Client address and port.
    pub client: (IpAddr, u16),
    /// Virtual address and port.
    pub virt: (IpAddr, u16),
    /// Real-server address and port.
    pub dest: (IpAddr, u16),
    /// Local address and port (FULLNAT only).
    pub local: Option<(IpAddr, u16)>,
    /// The lcore that owns it.
    pub lcore: u32,
}

/// One local address of a service with its free-port count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaddrInfo {
    /// The service.
    pub service: ServiceKey,
    /// The local address.
    pub addr: IpAddr,
    /// Sessions currently using it (summed over lcores).
    pub conns: u64,
}

/// A named counter (drop reasons, per-lcore counters, port counters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// Counter name, e.g. `drop.ipv4_bad_checksum` or `port0.rx_packets`.
    pub name: String,
    /// Its value.
    pub value: u64,
}

/// Counters of one worker lcore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LcoreStats {
    /// The lcore id.
    pub lcore: u32,
    /// Its counters, by name.
    pub counters: Vec<Counter>,
}

/// Dataplane statistics for the dpip-style extras.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataplaneStats {
    /// One entry per worker lcore.
    pub lcores: Vec<LcoreStats>,
    /// Port counters (rx/tx/drops per port), by name.
    pub ports: Vec<Counter>,
}

/// One port of the dataplane (`--show-links`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    /// Port index.
    pub index: u16,
    /// Name from the configuration.
    pub name: String,
    /// DPDK device (vdev arguments or PCI address).
    pub device: String,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// MTU.
    pub mtu: u16,
    /// Link up.
    pub link_up: bool,
    /// Link speed in Mbit/s (0 when unknown).
    pub speed_mbps: u32,
    /// Device counters (`rx_packets`, `tx_packets`, `rx_bytes`, `tx_bytes`, `rx_missed`,
    /// `rx_errors`, `tx_errors`, `rx_nombuf`).
    pub counters: Vec<Counter>,
    /// Per worker lcore: (lcore id, `rx_packets`, `tx_packets`, `tx_dropped`) on this port.
    pub lcores: Vec<PortLcoreStats>,
}

/// One worker's traffic on one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortLcoreStats {
    /// The lcore id.
    pub lcore: u32,
    /// Frames received from this port's queue of the lcore.
    pub rx_packets: u64,
    /// Frames the queue took for transmission.
    pub tx_packets: u64,
    /// Frames the queue refused (freed and counted, never retried).
    pub tx_dropped: u64,
}

/// One address the dataplane owns (`--show-addrs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrInfo {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (32 for VIPs and local addresses).
    pub prefix: u8,
    /// `port` (an interface address), `vip` or `laddr`.
    pub kind: String,
    /// The port name it is on (interface addresses), or the port whose subnet holds it (`-` if none).
    pub port: String,
}

/// One route (`--show-routes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// Destination network.
    pub dest: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Gateway, `None` for on-link destinations.
    pub via: Option<IpAddr>,
    /// Output port name.
    pub port: String,
    /// `connected` (from a port address) or `static`.
    pub kind: String,
}

/// One neighbour entry of one lcore (`--show-neigh`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighInfo {
    /// The neighbour's address.
    pub addr: IpAddr,
    /// Its MAC, `aa:bb:cc:dd:ee:ff` (`00:00:00:00:00:00` while unresolved).
    pub mac: String,
    /// The port name.
    pub port: String,
    /// State (`REACHABLE`, `STALE`, `INCOMPLETE`...).
    pub state: String,
    /// The lcore whose table holds it.
    pub lcore: u32,
}

/// The port pool of one FULLNAT local address on one lcore (`--show-laddr-pools`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaddrPoolInfo {
    /// The local address.
    pub addr: IpAddr,
    /// The lcore owning this slice of its ports.
    pub lcore: u32,
    /// Ports of the slice still free.
    pub free_ports: u64,
    /// Ports of the slice in use.
    pub used_ports: u64,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The command was applied.
    Ok,
    /// Services (answer to `GetServices`).
    Services(Vec<ServiceInfo>),
    /// Timeouts (answer to `GetTimeouts`).
    Timeouts(Timeouts),
    /// Sessions (answer to `GetConns`).
    Conns(Vec<ConnInfo>),
    /// Local addresses (answer to `GetLaddrs`).
    Laddrs(Vec<LaddrInfo>),
    /// Dataplane counters (answer to `GetDataplaneStats`).
    DataplaneStats(DataplaneStats),
    /// One page of sessions (answer to `GetConnsPage`); `next` is `None` after the last page.
    ConnsPage {
        /// The sessions of this page.
        conns: Vec<ConnInfo>,
        /// Where the next page starts.
        next: Option<ConnCursor>,
    },
    /// Ports (answer to `GetPorts`).
    Ports(Vec<PortInfo>),
    /// Addresses (answer to `GetAddrs`).
    Addrs(Vec<AddrInfo>),
    /// Routes (answer to `GetRoutes`).
    Routes(Vec<RouteInfo>),
    /// Neighbours of every lcore (answer to `GetNeighbours`).
    Neighbours(Vec<NeighInfo>),
    /// Local-address port pools (answer to `GetLaddrPools`).
    LaddrPools(Vec<LaddrPoolInfo>),
    /// One page of services (answer to `GetServicesPage`); `next` is `None` after the last page.
    ServicesPage {
        /// The services of this page, with their dests.
        services: Vec<ServiceInfo>,
        /// The `start` of the next page.
        next: Option<u32>,
    },
    /// One result per request of a `Batch`, in order.
    Batch(Vec<Result<(), ApiError>>),
}

/// A refused request. Each variant maps to one ipvsadm error class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// EEXIST on add-service.
    #[error("Service already exists")]
    ServiceExists,
    /// ESRCH on edit/delete/zero/get of a service.
    #[error("No such service")]
    NoSuchService,
    /// ESRCH on a dest operation whose service is missing.
    #[error("Service not defined")]
    ServiceNotDefined,
    /// EEXIST on add-dest.
    #[error("Destination already exists")]
    DestExists,
    /// ENOENT on edit/delete of a dest.
    #[error("No such destination")]
    NoSuchDest,
    /// ENOENT: unknown scheduler.
    #[error("Scheduler or persistence engine not found")]
    NoScheduler,
    /// ERANGE: l_threshold > u_threshold.
    #[error("Numerical result out of range")]
    OutOfRange,
    /// EINVAL: anything the daemon refuses as invalid, with a reason.
    #[error("Invalid operation.  Possibly wrong module version, address not unicast, ...")]
    Invalid(String),
    /// The local address already exists on the service.
    #[error("Local address already exists")]
    LaddrExists,
    /// The local address is not on the service.
    #[error("No such local address")]
    NoSuchLaddr,
    /// The access-control entry already exists on the service.
    #[error("ACL entry already exists")]
    AclExists,
    /// The access-control entry is not on the service.
    #[error("No such ACL entry")]
    NoSuchAcl,
    /// The daemon cannot do this (yet); the string says what.
    #[error("Operation not supported: {0}")]
    Unsupported(String),
    /// The frame's protocol version is not ours.
    #[error("Module is wrong version")]
    Version {
        /// The version the daemon speaks.
        expected: u32,
        /// The version the frame carried.
        got: u32,
    },
    /// The frame could not be decoded (garbage, oversized, truncated).
    #[error("bad request: {0}")]
    BadFrame(String),
    /// The client's user may not control this daemon (peer credentials of the control socket).
    #[error("Permission denied: {0}")]
    PermissionDenied(String),
    /// An internal failure (a worker did not answer, ...).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The exact message ipvsadm prints for this error class.
    pub fn ipvsadm_message(&self) -> String {
        self.to_string()
    }
}

/// What a daemon answers to one request.
pub type Reply = Result<Response, ApiError>;
