//! ipvsadm 1.31 compatibility: command line, output formats, exit codes, `-R` restore.
//!
//! - [`parse_args`] turns one command line into a [`Command`] (a [`Request`] to send, a listing to
//!   print, or a local action such as help). rvsd uses it for the `[services] rules` lines of its
//!   configuration ([`Command::into_rule`]).
//! - [`format`] prints every listing byte for byte as ipvsadm does (see `shared/reference/ipvsadm.md`).
//! - [`exec`] runs a command against a [`exec::Transport`] (the daemon), prints, and returns ipvsadm's exit
//!   status; [`exec::restore`] runs `-R` input.
//!
//! Exit statuses: 0 success; 2 parse/validation errors and an unreachable daemon; 255 refused
//! operations, `Try ...` and popt errors; 1 listing failures.
//!
//! rvs extras beyond ipvsadm (not shown by `-h`, which prints ipvsadm's text unchanged):
//! - `--fullnat`: forwarding method FULLNAT, listed as `FullNat`, saved as `--fullnat`.
//! - `--add-laddr -z LIP -t|-u VIP:PORT`, `--del-laddr -z LIP -t|-u VIP:PORT`: FULLNAT local addresses.
//! - `--get-laddr [-t|-u VIP:PORT] [-n]`: one line per local address under the header
//!   `VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS` (`%-20s %-8s %-20s %-10s %s`;
//!   TOTAL = local addresses of that service, CONFLICTS always 0).
//! - Access control per service (applied to new connections before scheduling; see
//!   `rvs_dataplane::acl` for the semantics):
//!   - `--add-acl -t|-u VIP:PORT --allow PREFIX` / `--deny PREFIX` (`A.B.C.D[/LEN]`, no host bits
//!     beyond LEN; errors `ACL entry already exists`, `illegal ACL prefix specified`), and
//!     `--del-acl` with the same options (`No such ACL entry`). A deny match refuses; once a service
//!     has an allow entry only matching clients are admitted.
//!   - `--conn-limit N -t|-u VIP:PORT`: at most N connections (active + inactive, all lcores); 0 = no
//!     limit (the default).
//!   - `--get-acl [-t|-u VIP:PORT] [-n]`: per service `PROTO  VIP:PORT conn-limit N acl-denied N
//!     conn-limited N` (refusal counters), then `  deny  NET/LEN` lines, then `  allow NET/LEN` lines.
//!   - Refused connections are counted as `drop.acl_denied` and `drop.conn_limit` in `--dp-stats`.
//!   - `-S` saves them as `--add-acl ...` and `--conn-limit N ...` lines after each service.
//! - `--dp-stats`: dataplane counters, `lcore <id> <name> <value>` lines then `port <name> <value>`
//!   (per-drop-reason counters are the `drop.<reason>` names).
//! - dpip-style listings (see [`format`] for the exact formats):
//!   - `--show-links`: each port with link state, speed, MTU, MAC, device, its device counters
//!     (rx/tx packets and bytes, missed, errors, no-mbuf) and per lcore its rx/tx/tx-dropped frames;
//!   - `--show-addrs`: port addresses, VIPs and FULLNAT local addresses (`ADDRESS/PREFIX KIND PORT`);
//!   - `--show-routes`: connected then static routes (`NET/PREFIX [via GW] dev PORT KIND`);
//!   - `--show-neigh`: every lcore's ARP table (`ADDRESS dev PORT lladdr MAC STATE lcore N`);
//!   - `--show-laddr-pools`: FULLNAT local-port pools, free and used ports per address and lcore.
//! - `-Lc` fetches the sessions in bounded pages (`GetConnsPage`), so a huge table never stalls a
//!   worker; `-L` and `-S` of the whole table fetch the services in pages (`GetServicesPage`), so
//!   no answer outgrows the frame limit; each listing is printed once complete.
//! - `-R` sends consecutive rule lines as one `Batch` (applied in order, published to the workers
//!   once); each refused line is still reported, with ipvsadm's message, in input order.
//! - `-S` also saves local addresses as `--add-laddr -z LIP -t VIP:PORT` lines after each service.
//! - `-R` skips `#` comment lines and drops a `#` token and what follows it.
//! - Refused with exit 2: `-f`, `--sctp-service`, `--pe`, `--start-daemon`, `--stop-daemon`.

pub mod exec;
pub mod format;
pub mod names;
pub mod parse;
pub mod sort;

use crate::proto::{Request, ServiceKey};
use names::NameDb;

/// Which columns a service listing shows (ipvsadm's precedence: stats > rate > thresholds >
/// persistent-conn > tun-info > plain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListView {
    /// Scheduler, forward, weight, active/inactive connections.
    #[default]
    Plain,
    /// `--stats`.
    Stats,
    /// `--rate`.
    Rate,
    /// `--thresholds`.
    Thresholds,
    /// `--persistent-conn`.
    PersistentConn,
    /// `--tun-info`.
    TunInfo,
}

/// How to print a service listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListFormat {
    /// `-n`: no name resolution.
    pub numeric: bool,
    /// `--exact`: no K/M/G/T abbreviation.
    pub exact: bool,
    /// `--nosort`: the daemon's order.
    pub nosort: bool,
    /// The columns.
    pub view: ListView,
}

/// What a dpip-style `--show-*` listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowWhat {
    /// `--show-links`: ports, link state and counters.
    Links,
    /// `--show-addrs`: addresses.
    Addrs,
    /// `--show-routes`: routes.
    Routes,
    /// `--show-neigh`: neighbour tables.
    Neighbours,
    /// `--show-laddr-pools`: FULLNAT local-port pools.
    LaddrPools,
}

impl ShowWhat {
    /// The long option (without `--`), also the command's name in error messages.
    pub fn option(self) -> &'static str {
        match self {
            ShowWhat::Links => "show-links",
            ShowWhat::Addrs => "show-addrs",
            ShowWhat::Routes => "show-routes",
            ShowWhat::Neighbours => "show-neigh",
            ShowWhat::LaddrPools => "show-laddr-pools",
        }
    }

    /// The request it sends.
    pub fn request(self) -> Request {
        match self {
            ShowWhat::Links => Request::GetPorts,
            ShowWhat::Addrs => Request::GetAddrs,
            ShowWhat::Routes => Request::GetRoutes,
            ShowWhat::Neighbours => Request::GetNeighbours,
            ShowWhat::LaddrPools => Request::GetLaddrPools,
        }
    }
}

/// One parsed ipvsadm invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A mutating request (`-A -E -D -C -a -e -d -Z --set --add-laddr --del-laddr`): send it, print
    /// nothing on success.
    Apply(Request),
    /// `-L`/`-l` of every service (`service: None`) or one.
    List {
        /// The one service to list.
        service: Option<ServiceKey>,
        /// Columns and options.
        format: ListFormat,
    },
    /// `-L -c`: connection entries.
    ListConns {
        /// `-n`.
        numeric: bool,
        /// `--persistent-conn`: the wider header with pe name/data.
        persistent_conn: bool,
    },
    /// `-L --timeout`.
    ListTimeouts,
    /// `-L --daemon`: rvs runs no sync daemon, so this prints nothing.
    ListDaemons,
    /// `-S`.
    Save {
        /// `-n`.
        numeric: bool,
    },
    /// `--get-laddr`.
    GetLaddrs {
        /// One service, or all.
        service: Option<ServiceKey>,
        /// `-n`.
        numeric: bool,
    },
    /// `--get-acl`: access-control entries and connection limits of one service or all.
    GetAcls {
        /// One service, or all.
        service: Option<ServiceKey>,
        /// `-n`.
        numeric: bool,
    },
    /// `--dp-stats`.
    DataplaneStats,
    /// `--show-links`, `--show-addrs`, `--show-routes`, `--show-neigh`, `--show-laddr-pools`.
    Show(ShowWhat),
    /// `-R`: read command lines from stdin.
    Restore,
    /// `-h`.
    Help,
    /// `-v`.
    Version,
}

impl Command {
    /// The request this command sends to the daemon, if any.
    pub fn request(&self) -> Option<Request> {
        match self {
            Command::Apply(r) => Some(r.clone()),
            Command::List { service, .. } => Some(Request::GetServices(*service)),
            Command::ListConns { .. } => Some(Request::GetConns),
            Command::ListTimeouts => Some(Request::GetTimeouts),
            Command::Save { .. } => Some(Request::GetServices(None)),
            Command::GetLaddrs { service, .. } => Some(Request::GetLaddrs(*service)),
            Command::GetAcls { service, .. } => Some(Request::GetServices(*service)),
            Command::DataplaneStats => Some(Request::GetDataplaneStats),
            Command::Show(w) => Some(w.request()),
            Command::ListDaemons | Command::Restore | Command::Help | Command::Version => None,
        }
    }

    /// For configuration rule lines: the mutating request, or `None` for anything else (listings,
    /// help, restore...).
    pub fn into_rule(self) -> Option<Request> {
        match self {
            Command::Apply(r) => Some(r),
            _ => None,
        }
    }
}

/// A command line ipvsadm would refuse: the exact message (printed to stderr followed by a newline)
/// and the exit status (2 for `fail()`, 255 for `Try ...` and popt errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The message, without the final newline.
    pub message: String,
    /// The exit status.
    pub code: i32,
}

/// The program name used in messages when none is given.
pub const PROG: &str = "rvsadm";

/// Parses ipvsadm arguments (without argv\[0\]), resolving names with the machine's `/etc/hosts` and
/// `/etc/services`. Messages name the program `rvsadm`.
///
/// # Errors
/// [`ParseError`] with ipvsadm's message and exit status.
pub fn parse_args(args: &[String]) -> Result<Command, ParseError> {
    parse::parse(PROG, args, NameDb::system(), false)
}

/// [`parse_args`] with the program name as typed and explicit name tables.
///
/// # Errors
/// As [`parse_args`].
pub fn parse_args_with(prog: &str, args: &[String], names: &NameDb) -> Result<Command, ParseError> {
    parse::parse(prog, args, names, false)
}

/// Parses one `-R` input line's words (after dropping `ipvsadm` tokens): like [`parse_args_with`] but no
/// words is `Try ...` and `-R` is refused, as ipvsadm does when reading stdin.
///
/// # Errors
/// As [`parse_args`].
pub fn parse_restore_line(
    prog: &str,
    words: &[String],
    names: &NameDb,
) -> Result<Command, ParseError> {
    parse::parse(prog, words, names, true)
}

/// Removes every `--socket PATH` / `--socket=PATH` from the arguments (rvsadm accepts it anywhere on
/// the line) and returns the last path given with the remaining arguments.
///
/// # Errors
/// `--socket` without a path: `--socket: missing argument`, exit 255 (a popt error).
pub fn take_socket_flag(
    args: &[String],
) -> Result<(Option<std::path::PathBuf>, Vec<String>), ParseError> {
    let mut path = None;
    let mut rest = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--socket" {
            match it.next() {
                Some(p) => path = Some(std::path::PathBuf::from(p)),
                None => {
                    return Err(ParseError {
                        message: "--socket: missing argument".into(),
                        code: 255,
                    })
                }
            }
        } else if let Some(p) = a.strip_prefix("--socket=") {
            path = Some(std::path::PathBuf::from(p));
        } else {
            rest.push(a.clone());
        }
    }
    Ok((path, rest))
}

#[cfg(test)]
mod tests;
