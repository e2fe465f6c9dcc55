//! rvsd configuration: the raw TOML schema ([`raw`]), its validation into the typed [`Config`] ([`validate`]),
//! and errors that name the file, line:column and key ([`ConfigError`]).
//!
//! The file is parsed into raw serde structs first (unknown keys are errors), then validated into a different
//! type, so the rest of rvsd never sees an unchecked address, a dangling port name or a missing default.
//! Service rules are *not* parsed here: they are ipvsadm command lines that rvsd hands to rvs-control's ipvsadm
//! parser; this crate only carries them with their origin and line so rvsd can report errors in place.
//!
//! ```
//! let cfg = rvs_config::from_str(r#"
//! [dataplane]
//! workers = [1]
//! [[port]]
//! name = "client"
//! device = "net_tap0,iface=rvsc"
//! address = ["10.10.0.1/24"]
//! "#, "rvsd.toml").unwrap();
//! assert_eq!(cfg.ports[0].mtu, 1500);
//! assert_eq!(cfg.eal_args(), ["rvsd", "--vdev", "net_tap0,iface=rvsc"]);
//! ```
#![forbid(unsafe_code)]

mod error;
mod net;
pub mod raw;
mod validate;

use std::ffi::OsStr;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use error::{ConfigError, ErrorKind, Location};
pub use net::{Ipv4Net, Ipv4NetParseError};
pub use validate::validate;

/// Default control socket when neither `--socket`, `RVS_SOCKET` nor `[control] socket` name one.
pub const DEFAULT_SOCKET: &str = "/run/rvs/rvsd.sock";
/// Environment variable that overrides the config's socket path (but not `--socket`).
pub const SOCKET_ENV: &str = "RVS_SOCKET";
/// Default `[dataplane] mbufs`.
pub const DEFAULT_MBUFS: u32 = 16383;
/// Default `[dataplane] max_sessions` (per worker).
pub const DEFAULT_MAX_SESSIONS: usize = 1 << 20;
/// Default `[[port]] mtu`.
pub const DEFAULT_MTU: u16 = 1500;
/// Highest lcore id DPDK 22.11 (Debian build) supports, plus one (`RTE_MAX_LCORE`).
pub const MAX_LCORE: u32 = 128;
/// Most ports DPDK 22.11 (Debian build) supports (`RTE_MAX_ETHPORTS`).
pub const MAX_PORTS: usize = 32;

/// A validated rvsd configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `[eal]`.
    pub eal: EalConfig,
    /// `[dataplane]`.
    pub dataplane: DataplaneConfig,
    /// `[control]`.
    pub control: ControlConfig,
    /// `[[port]]` entries; the index is the DPDK port id rvsd assigns (in file order).
    pub ports: Vec<PortConfig>,
    /// `[[route]]` entries (connected routes are not listed: derive them from port addresses).
    pub routes: Vec<RouteConfig>,
    /// `[[neighbour]]` entries (static neighbours), in file order.
    pub neighbours: Vec<NeighbourConfig>,
    /// `[services]`.
    pub services: ServicesConfig,
}

/// `[eal]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EalConfig {
    /// Extra EAL arguments, in order.
    pub args: Vec<String>,
}

/// `[dataplane]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataplaneConfig {
    /// Worker lcore ids: non-empty, unique, each below [`MAX_LCORE`]; worker index = position in this list.
    pub workers: Vec<u32>,
    /// Idle back-off in microseconds when a poll found nothing (0 = busy polling).
    pub idle_backoff_us: u32,
    /// Mbuf pool size (> 0).
    pub mbufs: u32,
    /// Session table capacity per worker (> 0).
    pub max_sessions: usize,
    /// The SYN proxy's mode.
    pub synproxy: SynproxyMode,
    /// `auto`: half-open sessions per worker that engage the SYN proxy (1..=max_sessions).
    pub synproxy_threshold: usize,
}

/// `[dataplane] synproxy`: when the SYN proxy answers SYNs to NAT and FULLNAT TCP services with
/// SYN cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynproxyMode {
    /// Never.
    Off,
    /// For every new connection.
    On,
    /// On a worker while its half-open sessions reach `synproxy_threshold` (until they fall to half of
    /// it).
    #[default]
    Auto,
}

/// Default `[dataplane] synproxy_threshold`: this, or a quarter of `max_sessions` when smaller.
pub const DEFAULT_SYNPROXY_THRESHOLD: usize = 1024;

/// `[control]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlConfig {
    /// Socket path from the file, if given (see [`Config::socket_path`] for the full precedence).
    pub socket: Option<PathBuf>,
    /// Where rvsd persists its rules on every change (written atomically) and reloads them from at
    /// start, replacing the `[services]` rules; `None`: rules are not persisted. An absolute path.
    pub state_file: Option<PathBuf>,
}

/// One `[[port]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Unique name.
    pub name: String,
    /// DPDK device: `net_...` vdev spec or a PCI address.
    pub device: String,
    /// Interface addresses (non-empty, unicast, not network/broadcast, unique, subnets not shared with other ports).
    pub addresses: Vec<Ipv4Net>,
    /// MTU, 68..=9600.
    pub mtu: u16,
}

impl PortConfig {
    /// Whether the device is a virtual device (`--vdev`) rather than a PCI device (`-a`).
    pub fn is_vdev(&self) -> bool {
        self.device.starts_with("net_")
    }
}

/// One `[[route]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteConfig {
    /// Destination (host bits zero).
    pub dest: Ipv4Net,
    /// Gateway, on a subnet of `port`; `None` = on-link.
    pub via: Option<Ipv4Addr>,
    /// Index into [`Config::ports`].
    pub port: u16,
}

/// One `[[neighbour]]`: a permanent ARP entry installed in every worker's neighbour table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourConfig {
    /// Index into [`Config::ports`].
    pub port: u16,
    /// The neighbour's address (unicast, on a subnet of `port`, not ours; unique per port).
    pub ip: Ipv4Addr,
    /// Its MAC (unicast).
    pub mac: [u8; 6],
}

/// Most `[[neighbour]]` entries (each worker's table holds them next to the learned ones).
pub const MAX_NEIGHBOURS: usize = 1024;

/// `[services]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServicesConfig {
    /// Rule lines in application order: the inline `rules` first, then the lines of `rules_file` (blank lines and
    /// `#` comments skipped).
    pub rules: Vec<RuleLine>,
}

/// One ipvsadm-style rule line with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    /// The line, trimmed (e.g. `-A -t 10.10.0.100:8990 -s rr`).
    pub text: String,
    /// The file it came from (the config's origin, or the rules file path).
    pub origin: String,
    /// 1-based line number in `origin`.
    pub line: usize,
}

impl fmt::Display for RuleLine {
    /// `origin:line: text`, the prefix rvsd uses when a rule is rejected.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.origin, self.line, self.text)
    }
}

impl Config {
    /// The EAL argv: `["rvsd", <eal.args...>]`, then per port in order `"--vdev", device` for `net_*` devices and
    /// `"-a", device` for the others (PCI addresses).
    pub fn eal_args(&self) -> Vec<String> {
        let mut argv = Vec::with_capacity(1 + self.eal.args.len() + 2 * self.ports.len());
        argv.push("rvsd".to_string());
        argv.extend(self.eal.args.iter().cloned());
        for port in &self.ports {
            argv.push(if port.is_vdev() { "--vdev" } else { "-a" }.to_string());
            argv.push(port.device.clone());
        }
        argv
    }

    /// Index of the port called `name`.
    pub fn port_index(&self, name: &str) -> Option<u16> {
        let i = self.ports.iter().position(|p| p.name == name)?;
        u16::try_from(i).ok()
    }

    /// The control socket path: `flag` (`--socket`) > `$RVS_SOCKET` > `[control] socket` > [`DEFAULT_SOCKET`].
    pub fn socket_path(&self, flag: Option<&Path>) -> PathBuf {
        self.resolve_socket(flag, std::env::var_os(SOCKET_ENV).as_deref())
    }

    /// [`Config::socket_path`] with the environment value passed in (empty counts as unset).
    pub fn resolve_socket(&self, flag: Option<&Path>, env: Option<&OsStr>) -> PathBuf {
        if let Some(flag) = flag {
            return flag.to_path_buf();
        }
        if let Some(env) = env.filter(|e| !e.is_empty()) {
            return PathBuf::from(env);
        }
        self.control
            .socket
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
    }
}

/// Reads and validates the config file at `path` (a `rules_file` is resolved relative to the file's directory).
///
/// # Errors
/// [`ErrorKind::Io`] when a file cannot be read; otherwise as [`from_str`].
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        origin: origin.clone(),
        location: None,
        key: None,
        kind: Box::new(ErrorKind::Io {
            path: origin.clone(),
            reason: e.to_string(),
        }),
    })?;
    from_str(&text, &origin)
}

/// Parses and validates config `text`. `origin` names it in errors and, taken as a path, anchors a relative
/// `rules_file` (which this function reads).
///
/// # Errors
/// [`ErrorKind::Syntax`] for TOML errors (including unknown and missing keys), any other [`ErrorKind`] for a
/// value that fails validation; the error carries the line:column and key of the value.
pub fn from_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| ConfigError {
        origin: origin.to_string(),
        location: e.span().map(|s| Location::from_offset(text, s.start)),
        key: None,
        kind: Box::new(ErrorKind::Syntax(
            e.message().trim_end().replace('\n', "; "),
        )),
    })?;
    validate(&raw, text, origin)
}
