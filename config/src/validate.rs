//! Validation: [`RawConfig`] (as deserialized) into [`Config`] (typed, defaults filled, cross-references resolved).
//!
//! Checks run in file order and the first failure is returned, pointing at the offending value's span. What is
//! checked: worker lcores (non-empty, unique, < `MAX_LCORE`), sizes in range, port names (identifier, unique),
//! devices non-empty, addresses (syntax, unicast, not network/broadcast, unique, subnets not shared between
//! ports), routes (destination syntax and host bits, unique, port exists, gateway on that port's subnets and not
//! local), static neighbours (port exists, address unicast, on that port's subnets, not local, unique per port;
//! MAC six hex bytes and unicast; at most `MAX_NEIGHBOURS`), rule lines non-empty, rules file readable.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::raw::RawConfig;
use crate::{
    Config, ConfigError, ControlConfig, DataplaneConfig, EalConfig, ErrorKind, Ipv4Net, Location,
    NeighbourConfig, PortConfig, RouteConfig, RuleLine, ServicesConfig, DEFAULT_MAX_SESSIONS,
    DEFAULT_MBUFS, DEFAULT_MTU, DEFAULT_SYNPROXY_THRESHOLD, MAX_LCORE, MAX_NEIGHBOURS, MAX_PORTS,
};

const MAX_IDLE_BACKOFF_US: u64 = 1_000_000;
const MAX_MAX_SESSIONS: u64 = 1 << 26;
const MIN_MTU: u64 = 68;
const MAX_MTU: u64 = 9600;
const MAX_NAME_LEN: usize = 32;

/// Where errors point: the text (for line numbers) and its name.
struct Source<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Source<'_> {
    fn err(&self, span: Range<usize>, key: impl Into<String>, kind: ErrorKind) -> ConfigError {
        ConfigError {
            origin: self.origin.to_string(),
            location: Some(Location::from_offset(self.text, span.start)),
            key: Some(key.into()),
            kind: Box::new(kind),
        }
    }

    fn range(
        &self,
        key: &str,
        v: &Spanned<impl Copy + Into<u64>>,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let value: u64 = (*v.get_ref()).into();
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.err(v.span(), key, ErrorKind::OutOfRange { value, min, max }))
        }
    }
}

/// Validates `raw` (deserialized from `text`, which is named `origin` in errors) into a [`Config`].
/// Reads `[services] rules_file` if one is given (relative to `origin`'s directory).
///
/// # Errors
/// The first invalid value, as a [`ConfigError`] with its key and line:column.
pub fn validate(raw: &RawConfig, text: &str, origin: &str) -> Result<Config, ConfigError> {
    let src = Source { text, origin };
    let eal = EalConfig {
        args: raw.eal.args.iter().map(|a| a.get_ref().clone()).collect(),
    };
    let dataplane = validate_dataplane(&src, raw)?;
    let socket = match &raw.control.socket {
        Some(s) if s.get_ref().trim().is_empty() => {
            return Err(src.err(s.span(), "control.socket", ErrorKind::Empty))
        }
        Some(s) => Some(PathBuf::from(s.get_ref())),
        None => None,
    };
    let state_file = match &raw.control.state_file {
        Some(s) if s.get_ref().trim().is_empty() => {
            return Err(src.err(s.span(), "control.state_file", ErrorKind::Empty))
        }
        Some(s) if !Path::new(s.get_ref()).is_absolute() || s.get_ref().ends_with('/') => {
            return Err(src.err(
                s.span(),
                "control.state_file",
                ErrorKind::NotAbsoluteFile(s.get_ref().clone()),
            ))
        }
        Some(s) => Some(PathBuf::from(s.get_ref())),
        None => None,
    };
    let control = ControlConfig { socket, state_file };
    let ports = validate_ports(&src, raw)?;
    let routes = validate_routes(&src, raw, &ports)?;
    let neighbours = validate_neighbours(&src, raw, &ports)?;
    let services = validate_services(&src, raw)?;
    Ok(Config {
        eal,
        dataplane,
        control,
        ports,
        routes,
        neighbours,
        services,
    })
}

fn validate_dataplane(src: &Source<'_>, raw: &RawConfig) -> Result<DataplaneConfig, ConfigError> {
    let dp = raw.dataplane.get_ref();
    let list = &dp.workers;
    if list.get_ref().is_empty() {
        return Err(src.err(list.span(), "dataplane.workers", ErrorKind::Empty));
    }
    let mut workers = Vec::with_capacity(list.get_ref().len());
    for (i, w) in list.get_ref().iter().enumerate() {
        let key = format!("dataplane.workers[{i}]");
        src.range(&key, w, 0, u64::from(MAX_LCORE) - 1)?;
        let lcore = *w.get_ref();
        if let Some(first) = workers.iter().position(|&l| l == lcore) {
            let first = format!("dataplane.workers[{first}]");
            return Err(src.err(w.span(), key, ErrorKind::DuplicateWorker { lcore, first }));
        }
        workers.push(lcore);
    }
    let idle_backoff_us = match &dp.idle_backoff_us {
        Some(v) => {
            src.range("dataplane.idle_backoff_us", v, 0, MAX_IDLE_BACKOFF_US)?;
            *v.get_ref()
        }
        None => 0,
    };
    let mbufs = match &dp.mbufs {
        Some(v) => {
            src.range("dataplane.mbufs", v, 1, u64::from(u32::MAX))?;
            *v.get_ref()
        }
        None => DEFAULT_MBUFS,
    };
    let max_sessions = match &dp.max_sessions {
        Some(v) => {
            let n = src.range("dataplane.max_sessions", v, 1, MAX_MAX_SESSIONS)?;
            usize::try_from(n).unwrap_or(usize::MAX)
        }
        None => DEFAULT_MAX_SESSIONS,
    };
    let synproxy = dp
        .synproxy
        .as_ref()
        .map(|v| *v.get_ref())
        .unwrap_or_default();
    let synproxy_threshold = match &dp.synproxy_threshold {
        Some(v) => {
            let n = src.range("dataplane.synproxy_threshold", v, 1, max_sessions as u64)?;
            usize::try_from(n).unwrap_or(usize::MAX)
        }
        None => DEFAULT_SYNPROXY_THRESHOLD.min(max_sessions / 4).max(1),
    };
    Ok(DataplaneConfig {
        workers,
        idle_backoff_us,
        mbufs,
        max_sessions,
        synproxy,
        synproxy_threshold,
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_unicast(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.octets()[0] >= 240)
}

fn validate_ports(src: &Source<'_>, raw: &RawConfig) -> Result<Vec<PortConfig>, ConfigError> {
    if raw.port.is_empty() {
        return Err(ConfigError {
            origin: src.origin.to_string(),
            location: None,
            key: Some("port".to_string()),
            kind: Box::new(ErrorKind::NoPorts),
        });
    }
    if let Some(extra) = raw.port.get(MAX_PORTS) {
        return Err(src.err(
            extra.span(),
            format!("port[{MAX_PORTS}]"),
            ErrorKind::TooManyPorts { max: MAX_PORTS },
        ));
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    // Every address seen so far: (net, port index, key).
    let mut seen: Vec<(Ipv4Net, usize, String)> = Vec::new();
    let mut ports = Vec::with_capacity(raw.port.len());
    for (pi, port) in raw.port.iter().enumerate() {
        let port = port.get_ref();
        let name = port.name.get_ref();
        let key = format!("port[{pi}].name");
        if !valid_name(name) {
            let kind = if name.is_empty() {
                ErrorKind::Empty
            } else {
                ErrorKind::InvalidName(name.clone())
            };
            return Err(src.err(port.name.span(), key, kind));
        }
        if let Some(first) = names.insert(name, pi) {
            let kind = ErrorKind::DuplicateName {
                name: name.clone(),
                first: format!("port[{first}]"),
            };
            return Err(src.err(port.name.span(), key, kind));
        }
        let device = port.device.get_ref().trim();
        if device.is_empty() {
            return Err(src.err(
                port.device.span(),
                format!("port[{pi}].device"),
                ErrorKind::Empty,
            ));
        }
        let list = &port.address;
        if list.get_ref().is_empty() {
            return Err(src.err(list.span(), format!("port[{pi}].address"), ErrorKind::Empty));
        }
        let mut addresses = Vec::with_capacity(list.get_ref().len());
        for (ai, a) in list.get_ref().iter().enumerate() {
            let key = format!("port[{pi}].address[{ai}]");
            let text = a.get_ref();
            let e = |kind| src.err(a.span(), key.clone(), kind);
            let net: Ipv4Net = text
                .parse()
                .map_err(|_| e(ErrorKind::InvalidAddress(text.clone())))?;
            if !is_unicast(net.addr) {
                return Err(e(ErrorKind::NotUnicast(net.addr.to_string())));
            }
            if net.prefix <= 30 && net.addr == net.network() {
                return Err(e(ErrorKind::NetworkAddress(net.addr.to_string())));
            }
            if net.prefix <= 30 && net.addr == net.broadcast() {
                return Err(e(ErrorKind::BroadcastAddress(net.addr.to_string())));
            }
            for (other, opi, okey) in &seen {
                if other.addr == net.addr {
                    let kind = ErrorKind::DuplicateAddress {
                        addr: net.addr.to_string(),
                        first: okey.clone(),
                    };
                    return Err(e(kind));
                }
                if *opi != pi && other.overlaps(&net) {
                    let kind = ErrorKind::OverlappingSubnet {
                        net: net.trunc().to_string(),
                        other: other.trunc().to_string(),
                        first: okey.clone(),
                    };
                    return Err(e(kind));
                }
            }
            seen.push((net, pi, key.clone()));
            addresses.push(net);
        }
        let mtu = match &port.mtu {
            Some(v) => {
                let m = src.range(&format!("port[{pi}].mtu"), v, MIN_MTU, MAX_MTU)?;
                u16::try_from(m).unwrap_or(DEFAULT_MTU)
            }
            None => DEFAULT_MTU,
        };
        ports.push(PortConfig {
            name: name.clone(),
            device: device.to_string(),
            addresses,
            mtu,
        });
    }
    Ok(ports)
}

fn validate_routes(
    src: &Source<'_>,
    raw: &RawConfig,
    ports: &[PortConfig],
) -> Result<Vec<RouteConfig>, ConfigError> {
    let mut routes: Vec<RouteConfig> = Vec::with_capacity(raw.route.len());
    for (ri, route) in raw.route.iter().enumerate() {
        let route = route.get_ref();
        let key = format!("route[{ri}].dest");
        let text = route.dest.get_ref();
        let e = |kind| src.err(route.dest.span(), key.clone(), kind);
        let dest: Ipv4Net = text
            .parse()
            .map_err(|_| e(ErrorKind::InvalidAddress(text.clone())))?;
        if dest.addr != dest.network() {
            let kind = ErrorKind::HostBitsSet {
                given: text.clone(),
                network: dest.trunc().to_string(),
            };
            return Err(e(kind));
        }
        if let Some(first) = routes.iter().position(|r| r.dest == dest) {
            let kind = ErrorKind::DuplicateRoute {
                dest: dest.to_string(),
                first: format!("route[{first}]"),
            };
            return Err(e(kind));
        }
        let pname = route.port.get_ref();
        let Some(pi) = ports.iter().position(|p| &p.name == pname) else {
            let kind = ErrorKind::UnknownPort(pname.clone());
            return Err(src.err(route.port.span(), format!("route[{ri}].port"), kind));
        };
        let via = match &route.via {
            None => None,
            Some(v) => {
                let key = format!("route[{ri}].via");
                let e = |kind| src.err(v.span(), key.clone(), kind);
                let ip: Ipv4Addr = v
                    .get_ref()
                    .parse()
                    .map_err(|_| e(ErrorKind::InvalidGateway(v.get_ref().clone())))?;
                if !is_unicast(ip) {
                    return Err(e(ErrorKind::NotUnicast(ip.to_string())));
                }
                if ports
                    .iter()
                    .any(|p| p.addresses.iter().any(|a| a.addr == ip))
                {
                    return Err(e(ErrorKind::GatewayIsLocal(ip.to_string())));
                }
                if !ports[pi].addresses.iter().any(|a| a.contains(ip)) {
                    let kind = ErrorKind::GatewayNotOnLink {
                        via: ip.to_string(),
                        port: pname.clone(),
                    };
                    return Err(e(kind));
                }
                Some(ip)
            }
        };
        // MAX_PORTS (32) keeps the index well inside u16.
        let port = u16::try_from(pi).unwrap_or(u16::MAX);
        routes.push(RouteConfig { dest, via, port });
    }
    Ok(routes)
}

/// `aa:bb:cc:dd:ee:ff` (or with `-`), case-insensitive.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn validate_neighbours(
    src: &Source<'_>,
    raw: &RawConfig,
    ports: &[PortConfig],
) -> Result<Vec<NeighbourConfig>, ConfigError> {
    let mut out: Vec<NeighbourConfig> = Vec::with_capacity(raw.neighbour.len());
    for (ni, n) in raw.neighbour.iter().enumerate() {
        if ni >= MAX_NEIGHBOURS {
            let kind = ErrorKind::TooManyNeighbours {
                max: MAX_NEIGHBOURS,
            };
            return Err(src.err(n.span(), format!("neighbour[{ni}]"), kind));
        }
        let n = n.get_ref();
        let pname = n.port.get_ref();
        let Some(pi) = ports.iter().position(|p| &p.name == pname) else {
            let kind = ErrorKind::UnknownPort(pname.clone());
            return Err(src.err(n.port.span(), format!("neighbour[{ni}].port"), kind));
        };
        let key = format!("neighbour[{ni}].ip");
        let e = |kind| src.err(n.ip.span(), key.clone(), kind);
        let text = n.ip.get_ref();
        let ip: Ipv4Addr = text
            .parse()
            .map_err(|_| e(ErrorKind::InvalidIpv4(text.clone())))?;
        if !is_unicast(ip) {
            return Err(e(ErrorKind::NotUnicast(ip.to_string())));
        }
        if ports
            .iter()
            .any(|p| p.addresses.iter().any(|a| a.addr == ip))
        {
            return Err(e(ErrorKind::NeighbourIsLocal(ip.to_string())));
        }
        if !ports[pi].addresses.iter().any(|a| a.contains(ip)) {
            return Err(e(ErrorKind::NeighbourNotOnLink {
                ip: ip.to_string(),
                port: pname.clone(),
            }));
        }
        // MAX_PORTS (32) keeps the index well inside u16.
        let port = u16::try_from(pi).unwrap_or(u16::MAX);
        if let Some(first) = out.iter().position(|o| o.port == port && o.ip == ip) {
            return Err(e(ErrorKind::DuplicateNeighbour {
                ip: ip.to_string(),
                port: pname.clone(),
                first: format!("neighbour[{first}]"),
            }));
        }
        let key = format!("neighbour[{ni}].mac");
        let e = |kind| src.err(n.mac.span(), key.clone(), kind);
        let text = n.mac.get_ref();
        let mac = parse_mac(text).ok_or_else(|| e(ErrorKind::InvalidMac(text.clone())))?;
        if mac[0] & 1 != 0 || mac == [0; 6] {
            return Err(e(ErrorKind::NotUnicastMac(text.clone())));
        }
        out.push(NeighbourConfig { port, ip, mac });
    }
    Ok(out)
}

fn validate_services(src: &Source<'_>, raw: &RawConfig) -> Result<ServicesConfig, ConfigError> {
    let mut rules = Vec::new();
    for (i, r) in raw.services.rules.iter().enumerate() {
        let text = r.get_ref().trim();
        if text.is_empty() {
            return Err(src.err(r.span(), format!("services.rules[{i}]"), ErrorKind::Empty));
        }
        rules.push(RuleLine {
            text: text.to_string(),
            origin: src.origin.to_string(),
            line: Location::from_offset(src.text, r.span().start).line,
        });
    }
    if let Some(file) = &raw.services.rules_file {
        let key = "services.rules_file";
        if file.get_ref().trim().is_empty() {
            return Err(src.err(file.span(), key, ErrorKind::Empty));
        }
        let path = Path::new(src.origin)
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(file.get_ref());
        let shown = path.display().to_string();
        let body = std::fs::read_to_string(&path).map_err(|e| {
            let kind = ErrorKind::Io {
                path: shown.clone(),
                reason: e.to_string(),
            };
            src.err(file.span(), key, kind)
        })?;
        for (n, line) in body.lines().enumerate() {
            let text = line.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            rules.push(RuleLine {
                text: text.to_string(),
                origin: shown.clone(),
                line: n + 1,
            });
        }
    }
    Ok(ServicesConfig { rules })
}
