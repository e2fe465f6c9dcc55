//! IPv4 routing: a longest-prefix-match table of connected and static routes.
//!
//! Owns the forwarding decision "which port, which next hop, which source address" for a
//! destination. The table is built once on the control side from the port addresses (one connected
//! route per address, next hop = the destination itself) and the configured static routes (next hop =
//! the gateway `via`, which must itself be on a connected subnet of the route's port), then moved into
//! each worker and used read-only: [`RouteTable::lookup`] allocates nothing.
//!
//! Layout: one sorted `Vec` of (network, entry) per prefix length that has routes, visited from the
//! longest length down; a lookup costs one binary search per distinct prefix length in use (usually
//! two or three), whatever the number of routes. Among routes with the same prefix, connected routes
//! win over static ones and earlier ports over later ones.

use std::net::Ipv4Addr;

use crate::worker::{PortConf, RouteConf};

/// A route could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Prefix length above 32.
    #[error("bad prefix length /{0}")]
    BadPrefix(u8),
    /// The route names a port that does not exist.
    #[error("route {dest}/{prefix}: no port {port}")]
    NoSuchPort {
        /// Route destination.
        dest: Ipv4Addr,
        /// Route prefix length.
        prefix: u8,
        /// The missing port.
        port: u16,
    },
    /// The gateway is not on a connected subnet of the route's port.
    #[error("route {dest}/{prefix}: gateway {via} is not on a subnet of port {port}")]
    GatewayNotConnected {
        /// Route destination.
        dest: Ipv4Addr,
        /// Route prefix length.
        prefix: u8,
        /// The gateway.
        via: Ipv4Addr,
        /// The route's port.
        port: u16,
    },
    /// The port has no IPv4 address to source packets from.
    #[error("port {0} has no address")]
    PortWithoutAddress(u16),
    /// Two static routes for the same prefix.
    #[error("duplicate route {0}/{1}")]
    Duplicate(Ipv4Addr, u8),
}

/// The result of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Output port.
    pub port: u16,
    /// The neighbour to send to: the gateway, or the destination itself on a connected subnet.
    pub next_hop: Ipv4Addr,
    /// The out port's address to use as source for packets we originate.
    pub src: Ipv4Addr,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    port: u16,
    via: Option<Ipv4Addr>,
    src: Ipv4Addr,
}

/// A longest-prefix-match IPv4 route table.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// `by_len[l]`: routes of prefix length `l`, sorted by network.
    by_len: Vec<Vec<(u32, Entry)>>,
    /// Prefix lengths in use, longest first.
    lens: Vec<u8>,
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// True when `ip` is inside `net/prefix` (prefix <= 32).
pub fn in_subnet(ip: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let m = mask(prefix.min(32));
    u32::from(ip) & m == u32::from(net) & m
}

impl RouteTable {
    /// Build the table: a connected route per port address, then the static routes.
    ///
    /// # Errors
    /// [`RouteError`] for a prefix above 32, a route on a missing port or a port without address, a
    /// gateway not on a connected subnet of its port, or two static routes for one prefix.
    pub fn new(ports: &[PortConf], routes: &[RouteConf]) -> Result<Self, RouteError> {
        let mut t = RouteTable {
            by_len: vec![Vec::new(); 33],
            lens: Vec::new(),
        };
        for (p, pc) in ports.iter().enumerate() {
            let port = p as u16;
            for &(addr, prefix) in &pc.addrs {
                if prefix > 32 {
                    return Err(RouteError::BadPrefix(prefix));
                }
                let net = u32::from(addr) & mask(prefix);
                let list = &mut t.by_len[usize::from(prefix)];
                // The first port owning a subnet keeps it.
                if !list.iter().any(|(n, _)| *n == net) {
                    list.push((
                        net,
                        Entry {
                            port,
                            via: None,
                            src: addr,
                        },
                    ));
                }
            }
        }
        for r in routes {
            if r.prefix > 32 {
                return Err(RouteError::BadPrefix(r.prefix));
            }
            let pc = ports
                .get(usize::from(r.port))
                .ok_or(RouteError::NoSuchPort {
                    dest: r.dest,
                    prefix: r.prefix,
                    port: r.port,
                })?;
            let src = match r.via {
                Some(via) => pc
                    .addrs
                    .iter()
                    .find(|(a, l)| in_subnet(via, *a, *l))
                    .map(|(a, _)| *a)
                    .ok_or(RouteError::GatewayNotConnected {
                        dest: r.dest,
                        prefix: r.prefix,
                        via,
                        port: r.port,
                    })?,
                None => pc
                    .addrs
                    .first()
                    .map(|(a, _)| *a)
                    .ok_or(RouteError::PortWithoutAddress(r.port))?,
            };
            let net = u32::from(r.dest) & mask(r.prefix);
            let list = &mut t.by_len[usize::from(r.prefix)];
            match list.iter().find(|(n, _)| *n == net) {
                Some((_, e)) if e.via.is_some() => {
                    return Err(RouteError::Duplicate(Ipv4Addr::from(net), r.prefix));
                }
                // A connected route for the same prefix wins.
                Some(_) => {}
                None => list.push((
                    net,
                    Entry {
                        port: r.port,
                        via: r.via,
                        src,
                    },
                )),
            }
        }
        for (l, list) in t.by_len.iter_mut().enumerate() {
            list.sort_by_key(|(n, _)| *n);
            if !list.is_empty() {
                t.lens.push(l as u8);
            }
        }
        t.lens.reverse();
        Ok(t)
    }

    /// The longest-prefix match for `dst`, or `None` when no route covers it.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<Route> {
        let d = u32::from(dst);
        for &l in &self.lens {
            let list = &self.by_len[usize::from(l)];
            let key = d & mask(l);
            if let Ok(i) = list.binary_search_by_key(&key, |(n, _)| *n) {
                let e = list[i].1;
                return Some(Route {
                    port: e.port,
                    next_hop: e.via.unwrap_or(dst),
                    src: e.src,
                });
            }
        }
        None
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.by_len.iter().map(Vec::len).sum()
    }

    /// True when there is no route at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn port(addrs: &[(&str, u8)]) -> PortConf {
        PortConf {
            mac: [2, 0, 0, 0, 0, 1],
            addrs: addrs.iter().map(|(a, l)| (ip(a), *l)).collect(),
            mtu: 1500,
        }
    }

    fn lab() -> Vec<PortConf> {
        vec![
            port(&[("10.10.0.1", 24)]),
            port(&[("10.10.1.1", 24)]),
            port(&[("10.10.2.1", 24), ("10.10.3.1", 30)]),
        ]
    }

    fn r(dest: &str, prefix: u8, via: Option<&str>, port: u16) -> RouteConf {
        RouteConf {
            dest: ip(dest),
            prefix,
            via: via.map(ip),
            port,
        }
    }

    #[test]
    fn connected_routes() {
        let t = RouteTable::new(&lab(), &[]).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.lookup(ip("10.10.0.2")),
            Some(Route {
                port: 0,
                next_hop: ip("10.10.0.2"),
                src: ip("10.10.0.1")
            })
        );
        assert_eq!(
            t.lookup(ip("10.10.3.2")),
            Some(Route {
                port: 2,
                next_hop: ip("10.10.3.2"),
                src: ip("10.10.3.1")
            })
        );
        assert_eq!(t.lookup(ip("10.10.3.4")), None);
        assert_eq!(t.lookup(ip("10.10.9.1")), None);
    }

    #[test]
    fn longest_prefix_wins() {
        let routes = [
            r("0.0.0.0", 0, Some("10.10.0.254"), 0),
            r("10.20.0.0", 16, Some("10.10.1.254"), 1),
            r("10.20.5.0", 24, Some("10.10.2.254"), 2),
            r("10.20.5.7", 32, Some("10.10.3.2"), 2),
        ];
        let t = RouteTable::new(&lab(), &routes).unwrap();
        let hop = |d: &str| t.lookup(ip(d)).map(|r| (r.port, r.next_hop, r.src));
        assert_eq!(
            hop("8.8.8.8"),
            Some((0, ip("10.10.0.254"), ip("10.10.0.1")))
        );
        assert_eq!(
            hop("10.20.1.1"),
            Some((1, ip("10.10.1.254"), ip("10.10.1.1")))
        );
        assert_eq!(
            hop("10.20.5.1"),
            Some((2, ip("10.10.2.254"), ip("10.10.2.1")))
        );
        assert_eq!(
            hop("10.20.5.7"),
            Some((2, ip("10.10.3.2"), ip("10.10.3.1")))
        );
        assert_eq!(
            hop("10.10.1.9"),
            Some((1, ip("10.10.1.9"), ip("10.10.1.1")))
        );
    }

    #[test]
    fn host_bits_are_masked() {
        let t = RouteTable::new(&lab(), &[r("10.30.1.77", 16, Some("10.10.1.2"), 1)]).unwrap();
        assert_eq!(
            t.lookup(ip("10.30.200.1")).map(|r| r.next_hop),
            Some(ip("10.10.1.2"))
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            RouteTable::new(&lab(), &[r("10.30.0.0", 33, None, 0)]).unwrap_err(),
            RouteError::BadPrefix(33)
        );
        assert!(matches!(
            RouteTable::new(&lab(), &[r("10.30.0.0", 16, None, 7)]).unwrap_err(),
            RouteError::NoSuchPort { port: 7, .. }
        ));
        assert!(matches!(
            RouteTable::new(&lab(), &[r("10.30.0.0", 16, Some("10.10.2.9"), 1)]).unwrap_err(),
            RouteError::GatewayNotConnected { .. }
        ));
        let dup = [
            r("10.30.0.0", 16, Some("10.10.1.2"), 1),
            r("10.30.0.0", 16, Some("10.10.1.3"), 1),
        ];
        assert_eq!(
            RouteTable::new(&lab(), &dup).unwrap_err(),
            RouteError::Duplicate(ip("10.30.0.0"), 16)
        );
        let mut ports = lab();
        ports.push(port(&[]));
        assert_eq!(
            RouteTable::new(&ports, &[r("10.30.0.0", 16, None, 3)]).unwrap_err(),
            RouteError::PortWithoutAddress(3)
        );
    }

    #[test]
    fn device_route_without_gateway() {
        let t = RouteTable::new(&lab(), &[r("10.40.0.0", 16, None, 1)]).unwrap();
        assert_eq!(
            t.lookup(ip("10.40.1.1")),
            Some(Route {
                port: 1,
                next_hop: ip("10.40.1.1"),
                src: ip("10.10.1.1")
            })
        );
    }

    #[test]
    fn empty_table() {
        let t = RouteTable::new(&[], &[]).unwrap();
        assert!(t.is_empty());
        assert_eq!(t.lookup(ip("1.2.3.4")), None);
    }
}
