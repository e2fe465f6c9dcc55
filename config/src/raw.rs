//! The raw TOML schema: what `toml` deserializes before any validation.
//!
//! Every table denies unknown keys, so a typo is an error with its position instead of a silently ignored setting.
//! Leaf values that validation checks are wrapped in [`Spanned`] so a validation error can point at the exact
//! line and column of the offending value. Nothing here is interpreted: addresses stay strings, ports are
//! referenced by name; [`crate::validate`] turns this into [`crate::Config`].

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[eal]`: extra EAL arguments (optional table).
    #[serde(default)]
    pub eal: RawEal,
    /// `[dataplane]`: workers and sizing (required: `workers` has no default).
    pub dataplane: Spanned<RawDataplane>,
    /// `[control]` (optional table).
    #[serde(default)]
    pub control: RawControl,
    /// `[[port]]` entries, in port-id order.
    #[serde(default)]
    pub port: Vec<Spanned<RawPort>>,
    /// `[[route]]` entries (connected routes come from port addresses).
    #[serde(default)]
    pub route: Vec<Spanned<RawRoute>>,
    /// `[[neighbour]]` entries: static (permanent) neighbours.
    #[serde(default)]
    pub neighbour: Vec<Spanned<RawNeighbour>>,
    /// `[services]` (optional table).
    #[serde(default)]
    pub services: RawServices,
}

/// One `[[neighbour]]`: a static IPv4 neighbour on a port.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNeighbour {
    /// Name of the `[[port]]` it is reached through.
    pub port: Spanned<String>,
    /// Its IPv4 address.
    pub ip: Spanned<String>,
    /// Its MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: Spanned<String>,
}

/// `[eal]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEal {
    /// Arguments passed to `rte_eal_init` after argv\[0\] and before the port devices.
    #[serde(default)]
    pub args: Vec<Spanned<String>>,
}

/// `[dataplane]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDataplane {
    /// Worker lcore ids.
    pub workers: Spanned<Vec<Spanned<u32>>>,
    /// Idle back-off in microseconds (0 = busy polling).
    pub idle_backoff_us: Option<Spanned<u32>>,
    /// Mbuf pool size.
    pub mbufs: Option<Spanned<u32>>,
    /// Session table capacity per worker.
    pub max_sessions: Option<Spanned<u64>>,
    /// SYN proxy mode: "off", "on" or "auto".
    pub synproxy: Option<Spanned<crate::SynproxyMode>>,
    /// Half-open sessions per worker that engage the SYN proxy in "auto" mode.
    pub synproxy_threshold: Option<Spanned<u64>>,
}

/// `[control]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawControl {
    /// Unix socket path for rvsadm.
    pub socket: Option<Spanned<String>>,
    /// File rvsd persists its rules to on every change and loads at start.
    pub state_file: Option<Spanned<String>>,
}

/// One `[[port]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPort {
    /// Unique port name (routes refer to it).
    pub name: Spanned<String>,
    /// DPDK device: a vdev spec (`net_...`) or a PCI address.
    pub device: Spanned<String>,
    /// Interface addresses, `a.b.c.d/len`.
    pub address: Spanned<Vec<Spanned<String>>>,
    /// MTU (default 1500).
    pub mtu: Option<Spanned<u32>>,
}

/// One `[[route]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Destination prefix, `a.b.c.d/len`, host bits zero.
    pub dest: Spanned<String>,
    /// Gateway (absent: the destination is on-link on `port`).
    pub via: Option<Spanned<String>>,
    /// Name of the egress port.
    pub port: Spanned<String>,
}

/// `[services]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServices {
    /// ipvsadm-style rule lines (`-A -t VIP:PORT -s rr`, ...), applied at start in order.
    #[serde(default)]
    pub rules: Vec<Spanned<String>>,
    /// A file of further rule lines (`ipvsadm -S` format), applied after `rules`.
    pub rules_file: Option<Spanned<String>>,
}
