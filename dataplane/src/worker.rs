//! The worker lcore loop (configuration types; the loop follows).

use std::net::Ipv4Addr;

/// One port as a worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConf {
    /// The port's MAC address.
    pub mac: [u8; 6],
    /// Its IPv4 addresses with prefix lengths (each gives a connected route).
    pub addrs: Vec<(Ipv4Addr, u8)>,
    /// Its MTU.
    pub mtu: u16,
}

/// A static route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteConf {
    /// Destination network.
    pub dest: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// Gateway; `None` for a device route (destinations are on-link).
    pub via: Option<Ipv4Addr>,
    /// Output port index.
    pub port: u16,
}
