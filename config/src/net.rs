//! `Ipv4Net`: an IPv4 address with a prefix length, as written in the config (`"10.10.0.1/24"`).
//!
//! One type serves both port addresses (host bits set: the interface address) and route destinations (host bits
//! must be zero: validation checks that, not the parser). Parsing is strict: four dotted decimal octets, a `/`,
//! and a prefix length 0..=32; nothing else is accepted (no bare addresses, no spaces).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 address plus a prefix length (0..=32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    /// The address as written (host bits kept).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

/// The text was not `a.b.c.d/len` with len 0..=32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an IPv4 address with prefix length (a.b.c.d/len)")]
pub struct Ipv4NetParseError;

impl Ipv4Net {
    /// Builds a net; `None` when `prefix > 32`.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then_some(Self { addr, prefix })
    }

    /// The netmask as a host-order integer (`/24` -> `0xffff_ff00`).
    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The directed broadcast address (host bits set).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// The same prefix with host bits cleared.
    pub fn trunc(&self) -> Ipv4Net {
        Ipv4Net {
            addr: self.network(),
            prefix: self.prefix,
        }
    }

    /// Whether `ip` lies inside this subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// Whether the two subnets share at least one address (one contains the other).
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = Ipv4NetParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or(Ipv4NetParseError)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| Ipv4NetParseError)?;
        if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Ipv4NetParseError);
        }
        let prefix: u8 = len.parse().map_err(|_| Ipv4NetParseError)?;
        Ipv4Net::new(addr, prefix).ok_or(Ipv4NetParseError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_computes() {
        let n: Ipv4Net = "10.10.1.7/24".parse().unwrap();
        assert_eq!(n.addr, Ipv4Addr::new(10, 10, 1, 7));
        assert_eq!(n.prefix, 24);
        assert_eq!(n.mask(), 0xffff_ff00);
        assert_eq!(n.network(), Ipv4Addr::new(10, 10, 1, 0));
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 10, 1, 255));
        assert!(n.contains(Ipv4Addr::new(10, 10, 1, 200)));
        assert!(!n.contains(Ipv4Addr::new(10, 10, 2, 1)));
        assert_eq!(n.to_string(), "10.10.1.7/24");
        assert_eq!(n.trunc().to_string(), "10.10.1.0/24");
        let all: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        assert_eq!(all.mask(), 0);
        assert!(all.contains(Ipv4Addr::new(1, 2, 3, 4)));
        let host: Ipv4Net = "10.10.9.1/32".parse().unwrap();
        assert_eq!(host.mask(), u32::MAX);
        assert!(!host.overlaps(&n.trunc()));
        assert!("10.0.0.0/8".parse::<Ipv4Net>().unwrap().overlaps(&n));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "10.0.0.1",
            "10.0.0.1/",
            "10.0.0.1/33",
            "10.0.0.300/24",
            "10.0.0/24",
            " 10.0.0.1/24",
            "10.0.0.1/+4",
            "10.0.0.1/024",
            "10.0.0.1/2 ",
            "",
        ] {
            assert_eq!(bad.parse::<Ipv4Net>(), Err(Ipv4NetParseError), "{bad:?}");
        }
    }
}
