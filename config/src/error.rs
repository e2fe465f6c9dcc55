//! `ConfigError`: where (file, line:column, key) and what (`ErrorKind`) went wrong.
//!
//! Display is one line, compiler style: `rvsd.toml:12:9: port[1].address[0]: invalid address "10.0.0.300/24"`.
//! The location is absent only when there is no single place to point at (the file cannot be read, or something
//! required is missing from the whole file); the key is absent for TOML syntax errors, whose message already
//! says what is wrong. Positions are 1-based; the column counts characters, not bytes.

use std::fmt;

/// A line and column in the config text (both 1-based; the column counts characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text` (clamped to the text; a offset inside a multi-byte character
    /// counts as that character).
    pub fn from_offset(text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let before = text.as_bytes().get(..offset).unwrap_or_default();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        Location { line, column }
    }
}

/// What is wrong. Each variant's text is the part of the message after the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The file (config or rules file) could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The path that failed.
        path: String,
        /// The OS error text.
        reason: String,
    },
    /// TOML syntax error, wrong type, unknown key or missing required key (toml's message).
    #[error("{0}")]
    Syntax(String),
    /// Not `a.b.c.d/len`.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
    /// Not a plain dotted-quad IPv4 address.
    #[error("invalid gateway {0:?}")]
    InvalidGateway(String),
    /// Multicast, loopback, unspecified, broadcast or reserved.
    #[error("{0} is not a unicast address")]
    NotUnicast(String),
    /// An interface address equal to its subnet's network address.
    #[error("{0} is the network address of its subnet")]
    NetworkAddress(String),
    /// An interface address equal to its subnet's broadcast address.
    #[error("{0} is the broadcast address of its subnet")]
    BroadcastAddress(String),
    /// The same interface address twice.
    #[error("address {addr} is already used by {first}")]
    DuplicateAddress {
        /// The repeated address.
        addr: String,
        /// Key of the first use.
        first: String,
    },
    /// Subnets of two different ports overlap, so connected routes would be ambiguous.
    #[error("subnet {net} overlaps subnet {other} of {first}")]
    OverlappingSubnet {
        /// This subnet.
        net: String,
        /// The other subnet.
        other: String,
        /// Key of the other port's address.
        first: String,
    },
    /// Route destination with host bits set.
    #[error("destination {given} has host bits set (did you mean {network}?)")]
    HostBitsSet {
        /// As written.
        given: String,
        /// With host bits cleared.
        network: String,
    },
    /// The same route destination twice.
    #[error("route to {dest} is already defined by {first}")]
    DuplicateRoute {
        /// Destination prefix.
        dest: String,
        /// Key of the first definition.
        first: String,
    },
    /// Gateway outside every subnet of the route's port.
    #[error("gateway {via} is not on a subnet of port {port:?}")]
    GatewayNotOnLink {
        /// The gateway.
        via: String,
        /// The port name.
        port: String,
    },
    /// A gateway that is one of our own addresses.
    #[error("gateway {0} is an address of this host")]
    GatewayIsLocal(String),
    /// A route names a port that does not exist.
    #[error("no port named {0:?}")]
    UnknownPort(String),
    /// Two ports with one name.
    #[error("port name {name:?} is already used by {first}")]
    DuplicateName {
        /// The name.
        name: String,
        /// Key of the first port with it.
        first: String,
    },
    /// Port names are short identifiers.
    #[error("invalid port name {0:?} (1 to 32 letters, digits, '-' or '_')")]
    InvalidName(String),
    /// A string or list that must have content.
    #[error("must not be empty")]
    Empty,
    /// A file path that must be absolute and name a file.
    #[error("{0:?} is not an absolute file path")]
    NotAbsoluteFile(String),
    /// A worker lcore listed twice.
    #[error("lcore {lcore} is already listed at {first}")]
    DuplicateWorker {
        /// The lcore id.
        lcore: u32,
        /// Key of the first listing.
        first: String,
    },
    /// A number outside its allowed range.
    #[error("{value} is out of range {min}..={max}")]
    OutOfRange {
        /// As given.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// Not a plain dotted-quad IPv4 address.
    #[error("invalid IPv4 address {0:?}")]
    InvalidIpv4(String),
    /// Not `aa:bb:cc:dd:ee:ff` (six two-digit hex bytes).
    #[error("invalid MAC address {0:?} (aa:bb:cc:dd:ee:ff)")]
    InvalidMac(String),
    /// A multicast, broadcast or all-zero MAC where a host's is needed.
    #[error("{0} is not a unicast MAC address")]
    NotUnicastMac(String),
    /// A static neighbour outside every subnet of its port.
    #[error("neighbour {ip} is not on a subnet of port {port:?}")]
    NeighbourNotOnLink {
        /// The neighbour's address.
        ip: String,
        /// The port name.
        port: String,
    },
    /// A static neighbour that is one of our own addresses.
    #[error("neighbour {0} is an address of this host")]
    NeighbourIsLocal(String),
    /// The same neighbour (port and address) twice.
    #[error("neighbour {ip} on port {port:?} is already defined by {first}")]
    DuplicateNeighbour {
        /// The address.
        ip: String,
        /// The port name.
        port: String,
        /// Key of the first definition.
        first: String,
    },
    /// More static neighbours than allowed.
    #[error("at most {max} static neighbours are supported")]
    TooManyNeighbours {
        /// The limit.
        max: usize,
    },
    /// No `[[port]]` at all.
    #[error("at least one [[port]] is required")]
    NoPorts,
    /// More ports than DPDK supports.
    #[error("at most {max} ports are supported")]
    TooManyPorts {
        /// The limit.
        max: usize,
    },
}

/// A configuration error with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as given (or whatever `from_str` was told).
    pub origin: String,
    /// Line and column of the offending value, when there is one.
    pub location: Option<Location>,
    /// Dotted key path of the offending value (`port[1].address[0]`), when there is one.
    pub key: Option<String>,
    /// What is wrong (boxed to keep `Result<_, ConfigError>` small).
    pub kind: Box<ErrorKind>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(loc) = self.location {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_to_line_and_column() {
        let text = "ab\ncdé\nf";
        assert_eq!(
            Location::from_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::from_offset(text, 2),
            Location { line: 1, column: 3 }
        );
        assert_eq!(
            Location::from_offset(text, 3),
            Location { line: 2, column: 1 }
        );
        // 'é' is two bytes: the 'f' line starts at byte 8.
        assert_eq!(
            Location::from_offset(text, 8),
            Location { line: 3, column: 1 }
        );
        assert_eq!(
            Location::from_offset(text, 7),
            Location { line: 2, column: 4 }
        );
        assert_eq!(
            Location::from_offset(text, 999),
            Location { line: 3, column: 2 }
        );
    }

    #[test]
    fn display_forms() {
        let e = ConfigError {
            origin: "rvsd.toml".into(),
            location: Some(Location {
                line: 12,
                column: 9,
            }),
            key: Some("port[1].address[0]".into()),
            kind: Box::new(ErrorKind::InvalidAddress("10.0.0.300/24".into())),
        };
        assert_eq!(
            e.to_string(),
            "rvsd.toml:12:9: port[1].address[0]: invalid address \"10.0.0.300/24\""
        );
        let e = ConfigError {
            origin: "x.toml".into(),
            location: None,
            key: None,
            kind: Box::new(ErrorKind::NoPorts),
        };
        assert_eq!(e.to_string(), "x.toml: at least one [[port]] is required");
    }
}
