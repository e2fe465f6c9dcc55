//! Host and service name lookups read straight from `/etc/hosts` and `/etc/services`.
//!
//! ipvsadm resolves names with `gethostbyaddr()`/`getservbyport()` when listing without `-n`, and
//! accepts host and service names on input (`gethostbyname()`, IPv4 only, and `getservbyname()`). We
//! read the two files ourselves (no libc resolver, no DNS) so the crate needs no `unsafe` and the
//! behaviour is the same everywhere. Lookups follow the files' order: the first matching line wins and
//! its first name is the canonical one, as glibc's `files` backend does. Tests build a [`NameDb`] from
//! strings so their expected output does not depend on the machine.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

/// One `/etc/services` entry.
#[derive(Debug, Clone)]
struct ServiceEntry {
    name: String,
    aliases: Vec<String>,
    port: u16,
    proto: String,
}

/// Host and service tables.
#[derive(Debug, Clone, Default)]
pub struct NameDb {
    hosts: Vec<(IpAddr, Vec<String>)>,
    services: Vec<ServiceEntry>,
}

fn strip_comment(line: &str) -> &str {
    match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    }
}

impl NameDb {
    /// Tables parsed from the text of a hosts file and a services file (unparsable lines are skipped).
    pub fn from_strs(hosts: &str, services: &str) -> NameDb {
        let mut db = NameDb::default();
        for line in hosts.lines() {
            let mut it = strip_comment(line).split_whitespace();
            let Some(addr) = it.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
                continue;
            };
            let names: Vec<String> = it.map(str::to_string).collect();
            if !names.is_empty() {
                db.hosts.push((addr, names));
            }
        }
        for line in services.lines() {
            let mut it = strip_comment(line).split_whitespace();
            let (Some(name), Some(pp)) = (it.next(), it.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            db.services.push(ServiceEntry {
                name: name.to_string(),
                aliases: it.map(str::to_string).collect(),
                port,
                proto: proto.to_string(),
            });
        }
        db
    }

    /// Empty tables: every lookup fails (numeric output everywhere).
    pub fn empty() -> NameDb {
        NameDb::default()
    }

    /// The machine's tables, read once from `/etc/hosts` and `/etc/services` (missing files = empty).
    pub fn system() -> &'static NameDb {
        static DB: OnceLock<NameDb> = OnceLock::new();
        DB.get_or_init(|| {
            let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
            NameDb::from_strs(&hosts, &services)
        })
    }

    /// `gethostbyaddr()`: the canonical name of the first hosts line with this address.
    pub fn host_by_addr(&self, addr: IpAddr) -> Option<&str> {
        self.hosts
            .iter()
            .find(|(a, _)| *a == addr)
            .and_then(|(_, names)| names.first().map(String::as_str))
    }

    /// `gethostbyname()` for IPv4: the first hosts line naming `name` (case-insensitive).
    pub fn ipv4_by_host(&self, name: &str) -> Option<Ipv4Addr> {
        self.hosts.iter().find_map(|(a, names)| match a {
            IpAddr::V4(v4) if names.iter().any(|n| n.eq_ignore_ascii_case(name)) => Some(*v4),
            _ => None,
        })
    }

    /// `getservbyport()`: the name of the first services line with this port and protocol.
    pub fn service_by_port(&self, port: u16, proto: &str) -> Option<&str> {
        self.services
            .iter()
            .find(|s| s.port == port && s.proto == proto)
            .map(|s| s.name.as_str())
    }

    /// `getservbyname()`: the port of the first services line naming `name` (or an alias) for `proto`.
    pub fn port_by_service(&self, name: &str, proto: &str) -> Option<u16> {
        self.services
            .iter()
            .find(|s| s.proto == proto && (s.name == name || s.aliases.iter().any(|a| a == name)))
            .map(|s| s.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_follow_file_order() {
        let db = NameDb::from_strs(
            "127.0.0.1 localhost\n# c\n10.0.0.7 web web.example # x\n10.0.0.7 other\n::1 ip6-localhost\n",
            "http 80/tcp www # WWW\nhttp 80/udp\nhttp-alt 8080/tcp webcache\ndomain 53/udp\n",
        );
        assert_eq!(db.host_by_addr("10.0.0.7".parse().unwrap()), Some("web"));
        assert_eq!(
            db.host_by_addr("::1".parse().unwrap()),
            Some("ip6-localhost")
        );
        assert_eq!(db.host_by_addr("10.0.0.8".parse().unwrap()), None);
        assert_eq!(
            db.ipv4_by_host("WEB.example"),
            Some(Ipv4Addr::new(10, 0, 0, 7))
        );
        assert_eq!(db.ipv4_by_host("ip6-localhost"), None);
        assert_eq!(db.service_by_port(8080, "tcp"), Some("http-alt"));
        assert_eq!(db.service_by_port(53, "tcp"), None);
        assert_eq!(db.port_by_service("www", "tcp"), Some(80));
        assert_eq!(db.port_by_service("webcache", "udp"), None);
    }
}
