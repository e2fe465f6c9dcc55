//! Per-service access control: allow/deny lists of client prefixes and the connection limit, checked
//! for every new connection before scheduling.
//!
//! Semantics (DPVS' blacklist/whitelist, one list per service): a client matching any deny entry is
//! refused; otherwise, when the service has at least one allow entry, a client matching none is
//! refused; a service without entries admits everyone. Only new connections are checked: packets of
//! existing sessions are never re-checked (an entry added later does not cut live connections, as in
//! DPVS). The connection limit compares the service's connections (active + inactive, summed over
//! every lcore through the dests' shared counters) with the limit; 0 means none.
//!
//! [`Acl`] is compiled by [`crate::rules::Rules`] into each snapshot (network and mask as `u32`, so a
//! check is a few ANDs per entry and allocates nothing); the refusal counters ([`AccessCounters`]) are
//! shared atomics that survive snapshot rebuilds, touched only when a connection is refused.

use rvs_control::proto::{AclAction, AclSpec};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A service's compiled allow/deny lists (IPv4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    deny: Vec<(u32, u32)>,
    allow: Vec<(u32, u32)>,
}

/// The netmask of a prefix length (`prefix >= 32`: all ones).
fn mask(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

impl Acl {
    /// Compile the entries of a service (IPv6 entries, which the rule set refuses, are ignored).
    pub fn new(entries: &[AclSpec]) -> Acl {
        let mut acl = Acl::default();
        for e in entries {
            if let IpAddr::V4(a) = e.addr {
                let m = mask(e.prefix);
                let list = match e.action {
                    AclAction::Allow => &mut acl.allow,
                    AclAction::Deny => &mut acl.deny,
                };
                list.push((u32::from(a) & m, m));
            }
        }
        acl
    }

    /// True when the service has no entry (every client is admitted without a check).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.deny.is_empty() && self.allow.is_empty()
    }

    /// Whether a new connection from `client` is admitted.
    #[inline]
    pub fn admits(&self, client: Ipv4Addr) -> bool {
        let c = u32::from(client);
        let hit = |l: &[(u32, u32)]| l.iter().any(|(net, m)| c & m == *net);
        !hit(&self.deny) && (self.allow.is_empty() || hit(&self.allow))
    }
}

/// Whether `spec` is a well-formed IPv4 entry: prefix at most 32 and no address bit set beyond it.
pub fn valid_v4(spec: &AclSpec) -> bool {
    match spec.addr {
        IpAddr::V4(a) => spec.prefix <= 32 && u32::from(a) & !mask(spec.prefix) == 0,
        IpAddr::V6(_) => false,
    }
}

/// New connections a service refused, over every lcore (shared by the rule set and every snapshot).
#[derive(Debug, Default)]
pub struct AccessCounters {
    /// Refused by the allow/deny lists.
    pub denied: AtomicU64,
    /// Refused by the connection limit.
    pub limited: AtomicU64,
}

impl AccessCounters {
    /// Count a refusal by the lists.
    #[inline]
    pub fn count_denied(&self) {
        self.denied.fetch_add(1, Relaxed);
    }

    /// Count a refusal by the limit.
    #[inline]
    pub fn count_limited(&self) {
        self.limited.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(action: AclAction, s: &str, prefix: u8) -> AclSpec {
        AclSpec {
            action,
            addr: s.parse().unwrap(),
            prefix,
        }
    }

    #[test]
    fn deny_first_then_allow_list() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(Acl::new(&[]).admits(ip("1.2.3.4")));
        assert!(Acl::new(&[]).is_empty());
        let acl = Acl::new(&[
            e(AclAction::Allow, "10.10.0.0", 24),
            e(AclAction::Deny, "10.10.0.66", 32),
        ]);
        assert!(acl.admits(ip("10.10.0.2")));
        assert!(acl.admits(ip("10.10.0.255")));
        assert!(!acl.admits(ip("10.10.0.66")));
        assert!(!acl.admits(ip("10.10.1.2")));
        // Deny only: everyone else admitted; /0 denies everyone.
        let acl = Acl::new(&[e(AclAction::Deny, "192.168.0.0", 16)]);
        assert!(acl.admits(ip("10.0.0.1")));
        assert!(!acl.admits(ip("192.168.200.1")));
        assert!(!Acl::new(&[e(AclAction::Deny, "0.0.0.0", 0)]).admits(ip("8.8.8.8")));
        assert!(Acl::new(&[e(AclAction::Allow, "0.0.0.0", 0)]).admits(ip("8.8.8.8")));
    }

    #[test]
    fn validity() {
        assert!(valid_v4(&e(AclAction::Allow, "10.10.0.0", 24)));
        assert!(valid_v4(&e(AclAction::Allow, "0.0.0.0", 0)));
        assert!(valid_v4(&e(AclAction::Allow, "10.10.0.1", 32)));
        assert!(!valid_v4(&e(AclAction::Allow, "10.10.0.1", 24)));
        assert!(!valid_v4(&e(AclAction::Allow, "10.10.0.0", 33)));
        assert!(!valid_v4(&e(AclAction::Allow, "::1", 128)));
    }
}
