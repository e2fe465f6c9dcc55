//! Per-lcore sessions: the cached transform of one connection, indexed in both directions.
//!
//! A [`Session`] is created by the first packet of a flow (after scheduling) and replayed by every later
//! packet. It lives only on the lcore that owns the flow ([`crate::flow_hash`]), in that lcore's
//! [`table::SessionTable`]: a preallocated slab with a preallocated open-addressing index holding both
//! keys of every session (client -> VIP as the client sends it, and real server -> client/laddr as the
//! real server replies), so neither insert nor lookup allocates. Expiry is kept in one FIFO list per
//! state ([`tcp_state`]): within a state every refresh sets `now + timeout(state)`, so each list is
//! ordered by due time and the sweep only looks at list heads; a per-packet refresh only stores the
//! new expiry and the sweep requeues refreshed heads (lazy refresh, see [`table`]).
//!
//! Direct routing and tunnel sessions (flags [`F_ROUTE`], [`F_TUNNEL`]) keep the method and the tunnel
//! settings the dest had when the session was created, as the kernel copies the dest's connection flags
//! into each connection; their replies never pass through us, so only the client's direction is
//! replayed (their out key is indexed but never answered).
//!
//! Sessions, keys and tables are generic over the address family ([`SessAddr`]): IPv4 sessions store
//! 4-byte addresses (a session is one 64-byte cache line), and IPv6 support is one more instance of the
//! same code (`Session<Ipv6Addr>`, `SessionTable<Ipv6Addr>`) rather than a new layout. The type
//! parameter defaults to [`Ipv4Addr`], the family the dataplane forwards today. The index hash of an
//! IPv4 key equals that of the same key stored IPv4-mapped in an IPv6 table ([`SessAddr::fold`]).

pub mod table;
pub mod tcp_state;

use crate::flow_hash;
use crate::service::DestCounters;
use crate::xmit::tunnel::Tunnel;
use rvs_control::proto::{TunnelCsum, TunnelType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// An address as sessions store it, per address family: [`Ipv4Addr`] (4 bytes) or [`Ipv6Addr`]
/// (16 bytes).
pub trait SessAddr: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// The unspecified address (`0.0.0.0`, `::`): the local address of a session that has none.
    const UNSPECIFIED: Self;
    /// The address folded to one 32-bit word for the index hash: an IPv4 address is its value, an
    /// IPv6 address goes through [`flow_hash::fold_v6`] (so an IPv4-mapped address folds to the
    /// IPv4 value).
    fn fold(&self) -> u32;
    /// The address as an [`IpAddr`] (an IPv4-mapped IPv6 address as IPv4).
    fn to_ip(&self) -> IpAddr;
}

impl SessAddr for Ipv4Addr {
    const UNSPECIFIED: Self = Ipv4Addr::UNSPECIFIED;
    #[inline]
    fn fold(&self) -> u32 {
        u32::from(*self)
    }
    #[inline]
    fn to_ip(&self) -> IpAddr {
        IpAddr::V4(*self)
    }
}

impl SessAddr for Ipv6Addr {
    const UNSPECIFIED: Self = Ipv6Addr::UNSPECIFIED;
    #[inline]
    fn fold(&self) -> u32 {
        flow_hash::fold_v6(self)
    }
    #[inline]
    fn to_ip(&self) -> IpAddr {
        match self.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(*self),
        }
    }
}

/// Store an IPv4 address as an IPv4 session address (the identity: kept so callers need not know
/// the representation).
#[inline]
pub fn sess_addr(a: Ipv4Addr) -> Ipv4Addr {
    a
}

/// A session address as an `IpAddr`.
#[inline]
pub fn ip_of<A: SessAddr>(a: &A) -> IpAddr {
    a.to_ip()
}

/// An IPv4 session address as IPv4 (the identity, see [`sess_addr`]).
#[inline]
pub fn v4_of(a: &Ipv4Addr) -> Ipv4Addr {
    *a
}

/// A packet's flow key as seen on the wire: protocol, source, destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey<A: SessAddr = Ipv4Addr> {
    /// IP protocol number.
    pub proto: u8,
    /// Source address.
    pub src: A,
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub dst: A,
    /// Destination port.
    pub dport: u16,
}

impl FlowKey<Ipv4Addr> {
    /// The key of an IPv4 packet.
    #[inline]
    pub fn v4(proto: u8, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> FlowKey {
        FlowKey {
            proto,
            src,
            sport,
            dst,
            dport,
        }
    }
}

impl<A: SessAddr> FlowKey<A> {
    /// The session-index hash ([`flow_hash::hash_tuple`] of the folded addresses).
    #[inline]
    pub fn hash(&self) -> u32 {
        flow_hash::hash_tuple(
            self.proto,
            self.src.fold(),
            self.sport,
            self.dst.fold(),
            self.dport,
        )
    }
}

/// Which way a packet travels relative to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client -> real server (the key the client sends: client -> VIP).
    In,
    /// Real server -> client (NAT: real server -> client; FULLNAT: real server -> local address).
    Out,
}

/// Session flag: counted as an active connection on its dest.
pub const F_ACTIVE: u8 = 0x1;
/// Session flag: FULLNAT (source rewritten to `laddr:lport`); otherwise NAT.
pub const F_FULLNAT: u8 = 0x2;
/// Session flag: direct routing (sent unchanged to the real server's MAC).
pub const F_ROUTE: u8 = 0x4;
/// Session flag: tunnel (encapsulated to the real server, see `tun_type`/`tun_csum`).
pub const F_TUNNEL: u8 = 0x8;
/// Session flag: proxied by the SYN proxy (sequence numbers shifted, see [`crate::synproxy`]).
pub const F_SYNPROXY: u8 = 0x10;
/// Session flag: proxied, and the real server has not answered the proxy's SYN yet.
pub const F_SP_PENDING: u8 = 0x20;

/// One connection's cached transform. Keep it small: an IPv4 session is one 64-byte cache line
/// (see the `session_is_small` test).
#[derive(Debug, Clone)]
pub struct Session<A: SessAddr = Ipv4Addr> {
    /// Client address.
    pub client: A,
    /// Virtual address.
    pub vip: A,
    /// Real-server address.
    pub rip: A,
    /// FULLNAT local address (unspecified for NAT).
    pub laddr: A,
    /// Client port.
    pub cport: u16,
    /// Virtual port.
    pub vport: u16,
    /// Real-server port.
    pub rport: u16,
    /// FULLNAT local port (0 for NAT).
    pub lport: u16,
    /// The dest it is bound to (connection counts, traffic counters, deleted flag).
    pub dest: Arc<DestCounters>,
    /// Monotonic expiry time in ms.
    pub expires_ms: u64,
    /// IP protocol number.
    pub proto: u8,
    /// State ([`tcp_state`]).
    pub state: u8,
    /// `F_*` flags.
    pub flags: u8,
    /// Tunnel type (meaningful with [`F_TUNNEL`]).
    pub tun_type: TunnelType,
    /// Tunnel checksum option (meaningful with [`F_TUNNEL`]).
    pub tun_csum: TunnelCsum,
    pub(crate) prev: u32,
    pub(crate) next: u32,
    /// How much earlier than `expires_ms` the session is due at its place in its expiry list: the
    /// expiry refreshes that did not move it (see [`table`]) since it was linked.
    pub(crate) due_lag_ms: u32,
}

impl<A: SessAddr> Session<A> {
    /// A new session (state `NONE` for TCP, `UDP` for UDP; not linked into any table yet).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        proto: u8,
        client: (A, u16),
        vip: (A, u16),
        rip: (A, u16),
        local: Option<(A, u16)>,
        dest: Arc<DestCounters>,
    ) -> Session<A> {
        let (laddr, lport, flags) = match local {
            Some((a, p)) => (a, p, F_FULLNAT),
            None => (A::UNSPECIFIED, 0, 0),
        };
        Session {
            client: client.0,
            vip: vip.0,
            rip: rip.0,
            laddr,
            cport: client.1,
            vport: vip.1,
            rport: rip.1,
            lport,
            dest,
            expires_ms: 0,
            proto,
            state: if proto == 17 {
                tcp_state::UDP
            } else {
                tcp_state::NONE
            },
            flags,
            tun_type: TunnelType::Ipip,
            tun_csum: TunnelCsum::NoCsum,
            prev: table::NIL,
            next: table::NIL,
            due_lag_ms: 0,
        }
    }

    /// Whether this is a FULLNAT session.
    #[inline]
    pub fn is_fullnat(&self) -> bool {
        self.flags & F_FULLNAT != 0
    }

    /// Make this a direct-routing session (`tunnel` None) or a tunnel session (call before insertion).
    pub fn set_direct(&mut self, tunnel: Option<Tunnel>) {
        match tunnel {
            None => self.flags |= F_ROUTE,
            Some(t) => {
                self.flags |= F_TUNNEL;
                self.tun_type = t.kind;
                self.tun_csum = t.csum;
            }
        }
    }

    /// Whether the real server answers the client directly (direct routing or tunnel).
    #[inline]
    pub fn is_direct(&self) -> bool {
        self.flags & (F_ROUTE | F_TUNNEL) != 0
    }

    /// The tunnel of a tunnel session.
    #[inline]
    pub fn tunnel(&self) -> Option<Tunnel> {
        (self.flags & F_TUNNEL != 0).then_some(Tunnel {
            kind: self.tun_type,
            csum: self.tun_csum,
        })
    }

    /// Whether it is counted active on its dest.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.flags & F_ACTIVE != 0
    }

    /// The key of packets travelling `dir`.
    #[inline]
    pub fn key(&self, dir: Dir) -> FlowKey<A> {
        match dir {
            Dir::In => FlowKey {
                proto: self.proto,
                src: self.client,
                sport: self.cport,
                dst: self.vip,
                dport: self.vport,
            },
            Dir::Out if self.is_fullnat() => FlowKey {
                proto: self.proto,
                src: self.rip,
                sport: self.rport,
                dst: self.laddr,
                dport: self.lport,
            },
            Dir::Out => FlowKey {
                proto: self.proto,
                src: self.rip,
                sport: self.rport,
                dst: self.client,
                dport: self.cport,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::TrafficCounters;

    #[test]
    fn session_is_small() {
        // IPv4: 4 addresses (16) + 4 ports (8) + Arc (8) + expiry (8) + proto, state, flags (3) +
        // tunnel type and checksum (5) + list links (8) + due lag (4) = 60, aligned to 64: one line.
        assert_eq!(std::mem::size_of::<Session>(), 64);
        assert_eq!(
            std::mem::size_of::<Option<Session>>(),
            std::mem::size_of::<Session>()
        );
        // IPv6: the same code with 16-byte addresses.
        assert_eq!(std::mem::size_of::<Session<Ipv6Addr>>(), 112);
    }

    #[test]
    fn ipv4_and_mapped_ipv6_keys_hash_alike() {
        let (c, v) = (Ipv4Addr::new(10, 10, 0, 2), Ipv4Addr::new(10, 10, 0, 100));
        let k4 = FlowKey::v4(6, c, 40000, v, 8990);
        let k6 = FlowKey {
            proto: 6,
            src: c.to_ipv6_mapped(),
            sport: 40000,
            dst: v.to_ipv6_mapped(),
            dport: 8990,
        };
        assert_eq!(k4.hash(), k6.hash());
        assert_eq!(ip_of(&k6.src), IpAddr::V4(c));
        let a6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(ip_of(&a6), IpAddr::V6(a6));
    }

    #[test]
    fn keys_both_directions() {
        let dc = Arc::new(DestCounters::new(
            Arc::new(TrafficCounters::default()),
            0,
            0,
        ));
        let c = (Ipv4Addr::new(10, 10, 0, 2), 40000);
        let v = (Ipv4Addr::new(10, 10, 0, 100), 8990);
        let r = (Ipv4Addr::new(10, 10, 1, 2), 8998);
        let nat = Session::new(6, c, v, r, None, dc.clone());
        assert_eq!(nat.key(Dir::In), FlowKey::v4(6, c.0, c.1, v.0, v.1));
        assert_eq!(nat.key(Dir::Out), FlowKey::v4(6, r.0, r.1, c.0, c.1));
        assert_eq!(nat.state, tcp_state::NONE);
        let l = (Ipv4Addr::new(10, 10, 9, 1), 1025);
        let full = Session::new(17, c, v, r, Some(l), dc);
        assert!(full.is_fullnat());
        assert_eq!(full.state, tcp_state::UDP);
        assert_eq!(full.key(Dir::Out), FlowKey::v4(17, r.0, r.1, l.0, l.1));
        assert_eq!(ip_of(&full.laddr), IpAddr::V4(l.0));
        assert_eq!(v4_of(&full.rip), r.0);
        assert!(!full.is_direct());
        let mut dr = Session::new(6, c, v, v, None, full.dest.clone());
        dr.set_direct(None);
        assert!(dr.is_direct() && dr.tunnel().is_none() && !dr.is_fullnat());
        let mut tun = dr.clone();
        tun.flags = 0;
        let t = Tunnel {
            kind: TunnelType::Gue { port: 6080 },
            csum: TunnelCsum::Csum,
        };
        tun.set_direct(Some(t));
        assert!(tun.is_direct());
        assert_eq!(tun.tunnel(), Some(t));
    }
}
