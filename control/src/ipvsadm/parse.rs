//! ipvsadm 1.31's command line, parsed the way its popt table and `process_options()` do.
//!
//! The parse runs in ipvsadm's order so that the *first* error is the one ipvsadm reports:
//! 1. popt-style tokenising ([`tokenize`]): bundled short options (`-Lnc`), `--opt=value`, required
//!    arguments taken from the next word whatever it is, `-p`'s optional argument taken only from a
//!    following word that does not start with `-`, leftover words kept for `--set` and
//!    `unexpected argument`.
//! 2. The first option must be a command, else `Try ...` (exit 255).
//! 3. Every further option in order: `set_option()` (`multiple '%s' options specified`) then its
//!    argument check (`fail()`, exit 2); a second command is `invalid option`; popt errors exit 255.
//! 4. `--set` values, leftover words, then `generic_opt_check()` over the command/option table, then the
//!    per-command checks (zero port, one-packet, scheduler flags, forced real-server port, address
//!    family, tunnel options, list conflicts).
//!
//! rvs refuses what a kernel-bypass dataplane cannot have (exit 2, clear message): firewall-mark services
//! (`-f`), SCTP (`--sctp-service`), persistence engines (`--pe`), sync daemons (`--start-daemon`,
//! `--stop-daemon`). `-6` without `-f` keeps ipvsadm's own message. DPVS extras: `--fullnat`,
//! `--add-laddr`/`--del-laddr -z LIP -t|-u VIP:PORT`, `--get-laddr [-t|-u VIP:PORT]`, access control
//! (`--add-acl`/`--del-acl -t|-u VIP:PORT --allow|--deny PREFIX`, `--get-acl [-t|-u VIP:PORT]`,
//! `--conn-limit N -t|-u VIP:PORT`), `--dp-stats`, and the `--show-*` listings
//! (`--show-links`, `--show-addrs`, `--show-routes`, `--show-neigh`, `--show-laddr-pools`).
//!
//! Deviation: ipvsadm stores any 32-bit persistence mask; rvs keeps a prefix length, so a
//! non-contiguous `-M` mask is refused as `illegal virtual server persistent mask specified`.

use super::names::NameDb;
use super::{Command, ListFormat, ListView, ParseError, ShowWhat};
use crate::proto::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `A.B.C.D[/LEN]` (IPv4) or `X::Y[/LEN]` (IPv6): an address with no bits set beyond the prefix
/// length (no length: a host). `None` when malformed.
pub fn parse_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match len {
        Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => l.parse().ok()?,
        Some(_) => return None,
        None => max,
    };
    if prefix > max {
        return None;
    }
    let host_bits_clear = match addr {
        IpAddr::V4(v) => u32::from(v).checked_shl(u32::from(prefix)).unwrap_or(0) == 0,
        IpAddr::V6(v) => u128::from(v).checked_shl(u32::from(prefix)).unwrap_or(0) == 0,
    };
    host_bits_clear.then_some((addr, prefix))
}

/// Longest accepted timeout (31 days), as ipvsadm's `MAX_TIMEOUT`.
pub const MAX_TIMEOUT: u32 = 2_678_400;

/// Persistence timeout of `-p` without a value.
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;

/// The scheduler of `-A`/`-E` without `-s`.
pub const DEFAULT_SCHEDULER: &str = "wlc";

/// Scheduler flag bits (`IP_VS_SVC_F_SCHED1..3`).
pub const SCHED_FLAG_1: u32 = 0x08;
/// See [`SCHED_FLAG_1`].
pub const SCHED_FLAG_2: u32 = 0x10;
/// See [`SCHED_FLAG_1`].
pub const SCHED_FLAG_3: u32 = 0x20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    None,
    Required,
    Optional,
}

/// Every option popt knows, commands first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    AddService,
    EditService,
    DelService,
    Clear,
    Restore,
    Save,
    AddServer,
    EditServer,
    DelServer,
    List,
    Zero,
    Set,
    StartDaemon,
    StopDaemon,
    Help,
    Version,
    AddLaddr,
    DelLaddr,
    GetLaddr,
    AddAcl,
    DelAcl,
    GetAcl,
    ConnLimit,
    DpStats,
    Show(ShowWhat),
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Ipv6,
    Scheduler,
    Pe,
    Persistent,
    Netmask,
    RealServer,
    Gatewaying,
    Ipip,
    Masq,
    FullNat,
    Weight,
    UThreshold,
    LThreshold,
    Connection,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    TunInfo,
    NoSort,
    Sort,
    Numeric,
    Exact,
    Ops,
    SchedFlags,
    Syncid,
    SyncMaxlen,
    McastInterface,
    McastGroup,
    McastPort,
    McastTtl,
    TunType,
    TunPort,
    TunNoCsum,
    TunCsum,
    TunRemCsum,
    Laddr,
    Allow,
    Deny,
}

struct OptDef {
    long: &'static str,
    short: Option<char>,
    arg: ArgKind,
    opt: Opt,
}

const fn d(long: &'static str, short: Option<char>, arg: ArgKind, opt: Opt) -> OptDef {
    OptDef {
        long,
        short,
        arg,
        opt,
    }
}

use ArgKind::{None as N, Optional as O, Required as R};

/// ipvsadm's popt table plus the rvs/DPVS extras.
const OPTIONS: &[OptDef] = &[
    d("add-service", Some('A'), N, Opt::AddService),
    d("edit-service", Some('E'), N, Opt::EditService),
    d("delete-service", Some('D'), N, Opt::DelService),
    d("clear", Some('C'), N, Opt::Clear),
    d("list", Some('L'), N, Opt::List),
    d("list", Some('l'), N, Opt::List),
    d("zero", Some('Z'), N, Opt::Zero),
    d("add-server", Some('a'), N, Opt::AddServer),
    d("edit-server", Some('e'), N, Opt::EditServer),
    d("delete-server", Some('d'), N, Opt::DelServer),
    d("set", None, N, Opt::Set),
    d("help", Some('h'), N, Opt::Help),
    d("version", Some('v'), N, Opt::Version),
    d("restore", Some('R'), N, Opt::Restore),
    d("save", Some('S'), N, Opt::Save),
    d("start-daemon", None, R, Opt::StartDaemon),
    d("stop-daemon", None, R, Opt::StopDaemon),
    d("add-laddr", None, N, Opt::AddLaddr),
    d("del-laddr", None, N, Opt::DelLaddr),
    d("get-laddr", None, N, Opt::GetLaddr),
    d("add-acl", None, N, Opt::AddAcl),
    d("del-acl", None, N, Opt::DelAcl),
    d("get-acl", None, N, Opt::GetAcl),
    d("conn-limit", None, R, Opt::ConnLimit),
    d("dp-stats", None, N, Opt::DpStats),
    d("show-links", None, N, Opt::Show(ShowWhat::Links)),
    d("show-addrs", None, N, Opt::Show(ShowWhat::Addrs)),
    d("show-routes", None, N, Opt::Show(ShowWhat::Routes)),
    d("show-neigh", None, N, Opt::Show(ShowWhat::Neighbours)),
    d("show-laddr-pools", None, N, Opt::Show(ShowWhat::LaddrPools)),
    d("tcp-service", Some('t'), R, Opt::Tcp),
    d("udp-service", Some('u'), R, Opt::Udp),
    d("sctp-service", None, R, Opt::Sctp),
    d("fwmark-service", Some('f'), R, Opt::Fwmark),
    d("ipv6", Some('6'), N, Opt::Ipv6),
    d("scheduler", Some('s'), R, Opt::Scheduler),
    d("pe", None, R, Opt::Pe),
    d("persistent", Some('p'), O, Opt::Persistent),
    d("netmask", Some('M'), R, Opt::Netmask),
    d("real-server", Some('r'), R, Opt::RealServer),
    d("masquerading", Some('m'), N, Opt::Masq),
    d("ipip", Some('i'), N, Opt::Ipip),
    d("gatewaying", Some('g'), N, Opt::Gatewaying),
    d("fullnat", None, N, Opt::FullNat),
    d("weight", Some('w'), R, Opt::Weight),
    d("u-threshold", Some('x'), R, Opt::UThreshold),
    d("l-threshold", Some('y'), R, Opt::LThreshold),
    d("numeric", Some('n'), N, Opt::Numeric),
    d("connection", Some('c'), N, Opt::Connection),
    d("mcast-interface", None, R, Opt::McastInterface),
    d("syncid", None, R, Opt::Syncid),
    d("timeout", None, N, Opt::Timeout),
    d("daemon", None, N, Opt::Daemon),
    d("stats", None, N, Opt::Stats),
    d("rate", None, N, Opt::Rate),
    d("thresholds", None, N, Opt::Thresholds),
    d("persistent-conn", None, N, Opt::PersistentConn),
    d("nosort", None, N, Opt::NoSort),
    d("sort", None, N, Opt::Sort),
    d("exact", Some('X'), N, Opt::Exact),
    d("ops", Some('o'), N, Opt::Ops),
    d("sched-flags", Some('b'), R, Opt::SchedFlags),
    d("mcast-group", None, R, Opt::McastGroup),
    d("mcast-port", None, R, Opt::McastPort),
    d("mcast-ttl", None, R, Opt::McastTtl),
    d("sync-maxlen", None, R, Opt::SyncMaxlen),
    d("tun-info", None, N, Opt::TunInfo),
    d("tun-type", None, R, Opt::TunType),
    d("tun-port", None, R, Opt::TunPort),
    d("tun-nocsum", None, N, Opt::TunNoCsum),
    d("tun-csum", None, N, Opt::TunCsum),
    d("tun-remcsum", None, N, Opt::TunRemCsum),
    d("laddr", Some('z'), R, Opt::Laddr),
    d("allow", None, R, Opt::Allow),
    d("deny", None, R, Opt::Deny),
];

/// One popt event: an option with its argument, or a popt error.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Opt {
        opt: Opt,
        arg: Option<String>,
        /// The argv word it came from (what `poptBadOption()` returns).
        word: String,
    },
    Error {
        word: String,
        message: &'static str,
    },
}

/// Splits argv into popt events and leftover words. Stops at the first popt error (popt's caller stops
/// there too).
fn tokenize(args: &[String]) -> (Vec<Token>, Vec<String>) {
    let mut toks = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    let take_next = |i: &mut usize, kind: ArgKind| -> Result<Option<String>, ()> {
        match kind {
            ArgKind::None => Ok(None),
            ArgKind::Required => match args.get(*i) {
                Some(w) => {
                    *i += 1;
                    Ok(Some(w.clone()))
                }
                None => Err(()),
            },
            ArgKind::Optional => match args.get(*i) {
                Some(w) if !w.starts_with('-') => {
                    *i += 1;
                    Ok(Some(w.clone()))
                }
                _ => Ok(None),
            },
        }
    };
    while i < args.len() {
        let word = &args[i];
        i += 1;
        if word == "--" {
            rest.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(def) = OPTIONS.iter().find(|o| o.long == name) else {
                toks.push(Token::Error {
                    word: word.clone(),
                    message: "unknown option",
                });
                return (toks, rest);
            };
            let arg = match (def.arg, value) {
                (ArgKind::None, Some(_)) => {
                    toks.push(Token::Error {
                        word: word.clone(),
                        message: "option does not take an argument",
                    });
                    return (toks, rest);
                }
                (_, Some(v)) => Some(v),
                (kind, None) => match take_next(&mut i, kind) {
                    Ok(a) => a,
                    Err(()) => {
                        toks.push(Token::Error {
                            word: word.clone(),
                            message: "missing argument",
                        });
                        return (toks, rest);
                    }
                },
            };
            toks.push(Token::Opt {
                opt: def.opt,
                arg,
                word: word.clone(),
            });
            continue;
        }
        if word.len() > 1 && word.starts_with('-') {
            let chars: Vec<char> = word.chars().skip(1).collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let Some(def) = OPTIONS.iter().find(|o| o.short == Some(c)) else {
                    toks.push(Token::Error {
                        word: word.clone(),
                        message: "unknown option",
                    });
                    return (toks, rest);
                };
                let mut arg = None;
                if def.arg != ArgKind::None {
                    if j < chars.len() {
                        arg = Some(chars[j..].iter().collect());
                        j = chars.len();
                    } else {
                        match take_next(&mut i, def.arg) {
                            Ok(a) => arg = a,
                            Err(()) => {
                                toks.push(Token::Error {
                                    word: word.clone(),
                                    message: "missing argument",
                                });
                                return (toks, rest);
                            }
                        }
                    }
                }
                toks.push(Token::Opt {
                    opt: def.opt,
                    arg,
                    word: word.clone(),
                });
            }
            continue;
        }
        rest.push(word.clone());
    }
    (toks, rest)
}

// Option indices, in ipvsadm's `optnames[]` order (the order of `generic_opt_check()`).
const O_NUMERIC: usize = 0;
const O_CONNECTION: usize = 1;
const O_SERVICE: usize = 2;
const O_SCHEDULER: usize = 3;
const O_PERSISTENT: usize = 4;
const O_NETMASK: usize = 5;
const O_SERVER: usize = 6;
const O_FORWARD: usize = 7;
const O_WEIGHT: usize = 8;
const O_UTHRESHOLD: usize = 9;
const O_LTHRESHOLD: usize = 10;
const O_MCAST_IF: usize = 11;
const O_TIMEOUT: usize = 12;
const O_DAEMON: usize = 13;
const O_STATS: usize = 14;
const O_RATE: usize = 15;
const O_THRESHOLDS: usize = 16;
const O_PERSISTENTCONN: usize = 17;
const O_NOSORT: usize = 18;
const O_SYNCID: usize = 19;
const O_EXACT: usize = 20;
const O_ONEPACKET: usize = 21;
const O_PE: usize = 22;
const O_SCHED_FLAGS: usize = 23;
const O_MCAST_GROUP: usize = 24;
const O_MCAST_PORT: usize = 25;
const O_MCAST_TTL: usize = 26;
const O_SYNC_MAXLEN: usize = 27;
const O_TUN_INFO: usize = 28;
const O_TUN_TYPE: usize = 29;
const O_TUN_PORT: usize = 30;
const O_TUN_NOCSUM: usize = 31;
const O_TUN_CSUM: usize = 32;
const O_TUN_REMCSUM: usize = 33;
const O_LADDR: usize = 34;
const O_ALLOW: usize = 35;
const O_DENY: usize = 36;
const N_OPTS: usize = 37;

const OPTNAMES: [&str; N_OPTS] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "laddr",
    "allow",
    "deny",
];

/// The commands, in ipvsadm's `cmdnames[]` order, plus the extras.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    SetTimeout,
    Restore,
    Save,
    Zero,
    AddLaddr,
    DelLaddr,
    GetLaddr,
    AddAcl,
    DelAcl,
    GetAcl,
    ConnLimit,
    DpStats,
    Show(ShowWhat),
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Add => "add-service",
            Cmd::Edit => "edit-service",
            Cmd::Del => "delete-service",
            Cmd::Flush => "flush",
            Cmd::List => "list",
            Cmd::AddDest => "add-server",
            Cmd::DelDest => "delete-server",
            Cmd::EditDest => "edit-server",
            Cmd::SetTimeout => "set",
            Cmd::Restore => "restore",
            Cmd::Save => "save",
            Cmd::Zero => "zero",
            Cmd::AddLaddr => "add-laddr",
            Cmd::DelLaddr => "del-laddr",
            Cmd::GetLaddr => "get-laddr",
            Cmd::AddAcl => "add-acl",
            Cmd::DelAcl => "del-acl",
            Cmd::GetAcl => "get-acl",
            Cmd::ConnLimit => "conn-limit",
            Cmd::DpStats => "dp-stats",
            Cmd::Show(w) => w.option(),
        }
    }

    /// `commands_v_options[]`: `+` required, `x` illegal, `1` at most one of them, blank optional.
    /// Columns in [`OPTNAMES`] order.
    fn table(self) -> &'static [u8; N_OPTS] {
        //                       n c s s p M r f w x y m t d s r t p n s e o p b g p t l i t p n c r z a d
        const ALL_X: &[u8; N_OPTS] = b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
        match self {
            Cmd::Add | Cmd::Edit => b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxxxxx",
            Cmd::Del => b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::Flush | Cmd::SetTimeout | Cmd::Restore | Cmd::DpStats | Cmd::Show(_) => ALL_X,
            Cmd::List => b" 11xxxxxxxxx11       xxxxxxx xxxxxxxx",
            Cmd::AddDest | Cmd::EditDest => b"xx+xxx+    xxxxxxxxxxxxxxxxxx     xxx",
            Cmd::DelDest => b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::Save => b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::Zero => b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::AddLaddr | Cmd::DelLaddr => b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx+xx",
            Cmd::GetLaddr => b" x xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::AddAcl | Cmd::DelAcl => b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx11",
            Cmd::GetAcl => b" x xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::ConnLimit => b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        }
    }
}

fn fail(message: impl Into<String>) -> ParseError {
    ParseError {
        message: message.into(),
        code: 2,
    }
}

fn try_help(prog: &str) -> ParseError {
    ParseError {
        message: format!("Try `{prog} -h' or '{prog} --help' for more information."),
        code: 255,
    }
}

/// glibc `strtol`-based `string_to_number()`: optional leading blanks and sign, decimal digits, nothing
/// after; `None` when out of `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Overflow of `long` is ERANGE: refused like an out-of-range value.
    let v: i64 = digits.parse().ok()?;
    let v = if neg { -v } else { v };
    (min..=max).contains(&v).then_some(v)
}

/// C `atoi()`: leading blanks, sign, digits up to the first non-digit; 0 when none.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for b in rest.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// glibc `inet_aton()`: 1 to 4 parts, each decimal, octal (`0` prefix) or hex (`0x`); the last part
/// fills the remaining bytes.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    if s.is_empty() {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"))
        {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if p.is_empty() {
            return None;
        }
        let v = if digits.is_empty() {
            0 // "0x" alone is 0 for glibc
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        vals.push(v);
    }
    let n = vals.len();
    let (head, last) = vals.split_at(n - 1);
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let max_last: u64 = match n {
        1 => 0xffff_ffff,
        2 => 0x00ff_ffff,
        3 => 0xffff,
        _ => 0xff,
    };
    if last[0] > max_last {
        return None;
    }
    let mut addr: u64 = last[0];
    for (i, v) in head.iter().enumerate() {
        addr |= v << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(addr as u32))
}

/// `parse_service()` result: address family, address, port if the text had one.
struct Parsed {
    addr: IpAddr,
    port: Option<u16>,
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// `parse_service()`: `host[:port]` or `[v6]:port`, host by number or `/etc/hosts` name, port by number
/// or `/etc/services` name for `proto`.
fn parse_service(buf: &str, proto: Option<Protocol>, names: &NameDb) -> Option<Parsed> {
    if buf.is_empty() || buf.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut host = buf;
    let mut port_text: Option<&str> = None;
    if let Some(b) = buf.strip_prefix('[') {
        let close = b.find(']')?;
        host = &b[..close];
        let after = &b[close + 1..];
        port_text = Some(after.strip_prefix(':')?);
    }
    let addr = if let Ok(v6) = host.parse::<Ipv6Addr>() {
        IpAddr::V6(v6)
    } else {
        // ipvsadm looks for the last ':' again in what is left (a bracketed IPv4 loses its port).
        port_text = None;
        if let Some(i) = host.rfind(':') {
            port_text = Some(&host[i + 1..]);
            host = &host[..i];
        }
        IpAddr::V4(inet_aton(host).or_else(|| names.ipv4_by_host(host))?)
    };
    let port = match port_text {
        None => None,
        Some(p) => Some(match string_to_number(p, 0, 65535) {
            Some(n) => n as u16,
            None => names.port_by_service(p, proto_name(proto?))?,
        }),
    };
    Some(Parsed { addr, port })
}

fn parse_timeout(arg: Option<&str>, min: i64) -> Result<u32, ParseError> {
    let Some(s) = arg else {
        return Ok(DEFAULT_PERSISTENT_TIMEOUT);
    };
    string_to_number(s, min, i64::from(MAX_TIMEOUT))
        .map(|v| v as u32)
        .ok_or_else(|| fail(format!("invalid timeout value `{s}' specified")))
}

fn parse_sched_flags(scheduler: &str, arg: &str) -> Result<u32, ParseError> {
    let mut flags = 0;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        let (bit, needs) = match flag {
            "flag-1" => (SCHED_FLAG_1, None),
            "flag-2" => (SCHED_FLAG_2, None),
            "flag-3" => (SCHED_FLAG_3, None),
            "sh-fallback" => (SCHED_FLAG_1, Some("sh")),
            "sh-port" => (SCHED_FLAG_2, Some("sh")),
            "mh-fallback" => (SCHED_FLAG_1, Some("mh")),
            "mh-port" => (SCHED_FLAG_2, Some("mh")),
            _ => return Err(fail(format!("invalid scheduler flag `{flag}'"))),
        };
        flags |= bit;
        if let Some(s) = needs {
            if scheduler != s {
                return Err(fail(format!("incompatible scheduler flag `{flag}'")));
            }
        }
    }
    Ok(flags)
}

/// A `-M` value: an IPv4 mask or an IPv6 prefix length, as ipvsadm keeps it in one u32.
fn mask_to_prefix(mask: u32) -> Option<u8> {
    let ones = mask.leading_ones();
    (mask.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TunKind {
    Ipip,
    Gue,
    Gre,
}

/// Everything `process_options()` accumulates.
struct State {
    cmd: Cmd,
    options: [bool; N_OPTS],
    proto: Option<Protocol>,
    svc_addr: Option<IpAddr>,
    svc_port: u16,
    netmask: u32,
    scheduler: String,
    persistent: Option<u32>,
    one_packet: bool,
    sched_flags_arg: Option<String>,
    dest_addr: Option<IpAddr>,
    dest_port: u16,
    fwd: FwdMethod,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_kind: TunKind,
    tun_port: u16,
    laddr: Option<IpAddr>,
    acl: Option<AclSpec>,
    conn_limit: Option<String>,
    set_values: Option<Timeouts>,
}

impl State {
    fn set_option(&mut self, idx: usize) -> Result<(), ParseError> {
        if self.options[idx] {
            return Err(fail(format!(
                "multiple '{}' options specified",
                OPTNAMES[idx]
            )));
        }
        self.options[idx] = true;
        Ok(())
    }

    fn has(&self, idx: usize) -> bool {
        self.options[idx]
    }

    fn key(&self) -> Option<ServiceKey> {
        Some(ServiceKey {
            proto: self.proto?,
            addr: self.svc_addr?,
            port: self.svc_port,
        })
    }

    fn is_v6(&self) -> bool {
        matches!(self.svc_addr, Some(IpAddr::V6(_)))
    }
}

/// An ipvsadm feature rvs does not have: exit 2 with `<what> are not supported by rvs[: why]`.
fn refuse(what: &str) -> ParseError {
    fail(format!("{what} are not supported by rvs"))
}

fn first_command(opt: Opt) -> Option<Cmd> {
    Some(match opt {
        Opt::AddService => Cmd::Add,
        Opt::EditService => Cmd::Edit,
        Opt::DelService => Cmd::Del,
        Opt::Clear => Cmd::Flush,
        Opt::Restore => Cmd::Restore,
        Opt::Save => Cmd::Save,
        Opt::AddServer => Cmd::AddDest,
        Opt::EditServer => Cmd::EditDest,
        Opt::DelServer => Cmd::DelDest,
        Opt::List => Cmd::List,
        Opt::Zero => Cmd::Zero,
        Opt::Set => Cmd::SetTimeout,
        Opt::AddLaddr => Cmd::AddLaddr,
        Opt::DelLaddr => Cmd::DelLaddr,
        Opt::GetLaddr => Cmd::GetLaddr,
        Opt::AddAcl => Cmd::AddAcl,
        Opt::DelAcl => Cmd::DelAcl,
        Opt::GetAcl => Cmd::GetAcl,
        Opt::ConnLimit => Cmd::ConnLimit,
        Opt::DpStats => Cmd::DpStats,
        Opt::Show(w) => Cmd::Show(w),
        _ => return None,
    })
}

fn is_command(opt: Opt) -> bool {
    first_command(opt).is_some()
        || matches!(
            opt,
            Opt::Help | Opt::Version | Opt::StartDaemon | Opt::StopDaemon
        )
}

/// Parses one ipvsadm invocation (`args` without argv\[0\]). `prog` is argv\[0\] as typed (used in
/// `Try ...` and in `-h`); `reading_stdin` is true for `-R` input lines.
pub(super) fn parse(
    prog: &str,
    args: &[String],
    names: &NameDb,
    reading_stdin: bool,
) -> Result<Command, ParseError> {
    if args.is_empty() && !reading_stdin {
        return Ok(Command::List {
            service: None,
            format: ListFormat::default(),
        });
    }
    let (tokens, leftover) = tokenize(args);
    let mut it = tokens.into_iter();
    let cmd_arg;
    let cmd = match it.next() {
        Some(Token::Opt { opt, arg, .. }) => match opt {
            Opt::Help => return Ok(Command::Help),
            Opt::Version => return Ok(Command::Version),
            Opt::StartDaemon | Opt::StopDaemon => {
                return Err(refuse(
                    "connection sync daemons (--start-daemon, --stop-daemon)",
                ))
            }
            Opt::Restore if reading_stdin => return Err(try_help(prog)),
            other => match first_command(other) {
                Some(c) => {
                    cmd_arg = arg;
                    c
                }
                None => return Err(try_help(prog)),
            },
        },
        _ => return Err(try_help(prog)),
    };
    let mut st = State {
        cmd,
        options: [false; N_OPTS],
        proto: None,
        svc_addr: None,
        svc_port: 0,
        netmask: u32::MAX,
        scheduler: String::new(),
        persistent: None,
        one_packet: false,
        sched_flags_arg: None,
        dest_addr: None,
        dest_port: 0,
        fwd: FwdMethod::Route,
        weight: 1,
        u_threshold: 0,
        l_threshold: 0,
        tun_kind: TunKind::Ipip,
        tun_port: 0,
        laddr: None,
        acl: None,
        conn_limit: cmd_arg,
        set_values: None,
    };
    let mut list = ListFormat::default();
    for tok in it {
        let (opt, arg, word) = match tok {
            Token::Opt { opt, arg, word } => (opt, arg, word),
            Token::Error { word, message } => {
                return Err(ParseError {
                    message: format!("{word}: {message}"),
                    code: 255,
                })
            }
        };
        if is_command(opt) {
            return Err(fail(format!("invalid option `{word}'")));
        }
        let a = arg.as_deref().unwrap_or("");
        match opt {
            Opt::Tcp | Opt::Udp => {
                st.set_option(O_SERVICE)?;
                let proto = if opt == Opt::Tcp {
                    Protocol::Tcp
                } else {
                    Protocol::Udp
                };
                st.proto = Some(proto);
                let p = parse_service(a, Some(proto), names)
                    .ok_or_else(|| fail("illegal virtual server address[:port] specified"))?;
                if p.addr.is_ipv6() {
                    st.netmask = 128;
                }
                st.svc_addr = Some(p.addr);
                if let Some(port) = p.port {
                    st.svc_port = port;
                }
            }
            Opt::Sctp => return Err(refuse("SCTP services (--sctp-service)")),
            Opt::Fwmark => {
                return Err(fail(
                    "firewall-mark services (-f, -6) are not supported by rvs: \
                     a kernel-bypass dataplane sees no netfilter marks",
                ))
            }
            Opt::Ipv6 => return Err(fail("-6 used before -f\n")),
            Opt::Scheduler => {
                st.set_option(O_SCHEDULER)?;
                st.scheduler = a.chars().take(15).collect();
            }
            Opt::Pe => {
                st.set_option(O_PE)?;
                return Err(refuse("persistence engines (--pe)"));
            }
            Opt::Persistent => {
                st.set_option(O_PERSISTENT)?;
                st.persistent = Some(parse_timeout(arg.as_deref(), 1)?);
            }
            Opt::Netmask => {
                st.set_option(O_NETMASK)?;
                if st.is_v6() {
                    let v = atoi(a);
                    if !(1..=128).contains(&v) {
                        return Err(fail("illegal ipv6 netmask specified"));
                    }
                    st.netmask = v as u32;
                } else {
                    let m = inet_aton(a)
                        .or_else(|| names.ipv4_by_host(a))
                        .ok_or_else(|| fail("illegal virtual server persistent mask specified"))?;
                    st.netmask = u32::from(m);
                }
            }
            Opt::RealServer => {
                st.set_option(O_SERVER)?;
                let p = parse_service(a, st.proto, names)
                    .ok_or_else(|| fail("illegal real server address[:port] specified"))?;
                st.dest_addr = Some(p.addr);
                st.dest_port = p.port.unwrap_or(st.svc_port);
            }
            Opt::Gatewaying | Opt::Ipip | Opt::Masq | Opt::FullNat => {
                st.set_option(O_FORWARD)?;
                st.fwd = match opt {
                    Opt::Gatewaying => FwdMethod::Route,
                    Opt::Ipip => FwdMethod::Tunnel,
                    Opt::Masq => FwdMethod::Masq,
                    _ => FwdMethod::FullNat,
                };
            }
            Opt::Weight => {
                st.set_option(O_WEIGHT)?;
                st.weight = string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal weight specified"))?
                    as u32;
            }
            Opt::UThreshold => {
                st.set_option(O_UTHRESHOLD)?;
                st.u_threshold = string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal u_threshold specified"))?
                    as u32;
            }
            Opt::LThreshold => {
                st.set_option(O_LTHRESHOLD)?;
                st.l_threshold = string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal l_threshold specified"))?
                    as u32;
            }
            Opt::Connection => st.set_option(O_CONNECTION)?,
            Opt::Timeout => st.set_option(O_TIMEOUT)?,
            Opt::Daemon => st.set_option(O_DAEMON)?,
            Opt::Stats => st.set_option(O_STATS)?,
            Opt::Rate => st.set_option(O_RATE)?,
            Opt::Thresholds => st.set_option(O_THRESHOLDS)?,
            Opt::PersistentConn => st.set_option(O_PERSISTENTCONN)?,
            Opt::TunInfo => st.set_option(O_TUN_INFO)?,
            Opt::NoSort => st.set_option(O_NOSORT)?,
            Opt::Sort => {}
            Opt::Numeric => st.set_option(O_NUMERIC)?,
            Opt::Exact => st.set_option(O_EXACT)?,
            Opt::Ops => {
                st.set_option(O_ONEPACKET)?;
                st.one_packet = true;
            }
            Opt::SchedFlags => {
                st.set_option(O_SCHED_FLAGS)?;
                st.sched_flags_arg = Some(a.to_string());
            }
            Opt::Syncid => {
                st.set_option(O_SYNCID)?;
                string_to_number(a, 0, 255).ok_or_else(|| fail("illegal syncid specified"))?;
            }
            Opt::SyncMaxlen => {
                st.set_option(O_SYNC_MAXLEN)?;
                string_to_number(a, 1, 65507)
                    .ok_or_else(|| fail("illegal sync-maxlen specified"))?;
            }
            Opt::McastInterface => st.set_option(O_MCAST_IF)?,
            Opt::McastGroup => {
                st.set_option(O_MCAST_GROUP)?;
                if a.contains(':') {
                    match a.parse::<Ipv6Addr>() {
                        Ok(g) if g.is_multicast() => {}
                        _ => return Err(fail(format!("invalid IPv6 mcast-group `{a}'"))),
                    }
                } else {
                    match a.parse::<Ipv4Addr>() {
                        Ok(g) if g.is_multicast() => {}
                        _ => return Err(fail(format!("invalid IPv4 mcast-group `{a}'"))),
                    }
                }
            }
            Opt::McastPort => {
                st.set_option(O_MCAST_PORT)?;
                string_to_number(a, 1, 65535)
                    .ok_or_else(|| fail("illegal mcast-port specified"))?;
            }
            Opt::McastTtl => {
                st.set_option(O_MCAST_TTL)?;
                string_to_number(a, 1, 255).ok_or_else(|| fail("illegal mcast-ttl specified"))?;
            }
            Opt::TunType => {
                st.set_option(O_TUN_TYPE)?;
                st.tun_kind = match a {
                    "ipip" => TunKind::Ipip,
                    "gue" => TunKind::Gue,
                    "gre" => TunKind::Gre,
                    _ => return Err(fail("illegal tunnel type specified")),
                };
            }
            Opt::TunPort => {
                st.set_option(O_TUN_PORT)?;
                st.tun_port = string_to_number(a, 1, 65535)
                    .ok_or_else(|| fail("illegal tunnel port specified"))?
                    as u16;
            }
            Opt::TunNoCsum => st.set_option(O_TUN_NOCSUM)?,
            Opt::TunCsum => st.set_option(O_TUN_CSUM)?,
            Opt::TunRemCsum => st.set_option(O_TUN_REMCSUM)?,
            Opt::Laddr => {
                st.set_option(O_LADDR)?;
                let ip = a
                    .parse::<IpAddr>()
                    .ok()
                    .or_else(|| inet_aton(a).map(IpAddr::V4))
                    .ok_or_else(|| fail("illegal local address specified"))?;
                st.laddr = Some(ip);
            }
            Opt::Allow | Opt::Deny => {
                let (idx, action) = if opt == Opt::Allow {
                    (O_ALLOW, AclAction::Allow)
                } else {
                    (O_DENY, AclAction::Deny)
                };
                st.set_option(idx)?;
                let (addr, prefix) =
                    parse_prefix(a).ok_or_else(|| fail("illegal ACL prefix specified"))?;
                st.acl = Some(AclSpec {
                    action,
                    addr,
                    prefix,
                });
            }
            // Commands were handled above.
            _ => return Err(fail(format!("invalid option `{word}'"))),
        }
    }

    let mut leftover = leftover.into_iter();
    if st.cmd == Cmd::SetTimeout {
        match (leftover.next(), leftover.next(), leftover.next()) {
            (Some(a), Some(b), Some(c)) => {
                st.set_values = Some(Timeouts {
                    tcp: parse_timeout(Some(&a), 0)?,
                    tcp_fin: parse_timeout(Some(&b), 0)?,
                    udp: parse_timeout(Some(&c), 0)?,
                });
            }
            _ => return Err(fail("--set option requires 3 timeout values")),
        }
    }
    if let Some(extra) = leftover.next() {
        return Err(fail(format!("unexpected argument {extra}")));
    }

    generic_opt_check(&st)?;
    finish(st, &mut list)
}

/// `generic_opt_check()`: the command/option table, in option order.
fn generic_opt_check(st: &State) -> Result<(), ParseError> {
    let table = st.cmd.table();
    let mut last: Option<usize> = None;
    for (j, &rule) in table.iter().enumerate() {
        if !st.options[j] {
            if rule == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPTNAMES[j],
                    st.cmd.name()
                )));
            }
            continue;
        }
        if rule == b'x' {
            return Err(fail(format!(
                "Illegal '{}' option with the '{}' command",
                OPTNAMES[j],
                st.cmd.name()
            )));
        }
        if rule == b'1' {
            match last {
                None => last = Some(j),
                Some(l) => {
                    return Err(fail(format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' command",
                        OPTNAMES[j],
                        OPTNAMES[l],
                        st.cmd.name()
                    )))
                }
            }
        }
    }
    Ok(())
}

/// `tunnel_opt_check()`: tun-port, tun-nocsum, tun-csum, tun-remcsum per tunnel type.
fn tunnel_opt_check(st: &State) -> Result<(), ParseError> {
    let (name, rules): (&str, &[u8; 4]) = match st.tun_kind {
        TunKind::Ipip => ("ipip", b"xxxx"),
        TunKind::Gue => ("gue", b"+111"),
        TunKind::Gre => ("gre", b"x11x"),
    };
    let mut last: Option<usize> = None;
    for (j, &rule) in rules.iter().enumerate() {
        let k = O_TUN_PORT + j;
        if !st.options[k] {
            if rule == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{}' option for the '{name}' tunnel type",
                    OPTNAMES[k]
                )));
            }
            continue;
        }
        if rule == b'x' {
            return Err(fail(format!(
                "Illegal '{}' option with the '{name}' tunnel type",
                OPTNAMES[k]
            )));
        }
        if rule == b'1' {
            match last {
                None => last = Some(k),
                Some(l) => {
                    return Err(fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{name}' tunnel type",
                    OPTNAMES[k], OPTNAMES[l]
                )))
                }
            }
        }
    }
    Ok(())
}

fn missing_service() -> ParseError {
    // generic_opt_check() guarantees the service for the commands that need it.
    fail("illegal virtual server address[:port] specified")
}

/// The per-command checks of `process_options()` and the resulting [`Command`].
fn finish(mut st: State, list: &mut ListFormat) -> Result<Command, ParseError> {
    match st.cmd {
        Cmd::Add | Cmd::Edit => {
            let key = st.key().ok_or_else(missing_service)?;
            if key.port == 0 && st.persistent.is_none() {
                return Err(fail("Zero port specified for non-persistent service"));
            }
            if st.one_packet && key.proto != Protocol::Udp {
                return Err(fail(
                    "One-Packet Scheduling is only for UDP virtual services",
                ));
            }
            if st.scheduler.is_empty() {
                st.scheduler = DEFAULT_SCHEDULER.to_string();
            }
            let sched_flags = match &st.sched_flags_arg {
                Some(arg) => parse_sched_flags(&st.scheduler, arg)?,
                None => 0,
            };
            let netmask_prefix = if key.addr.is_ipv6() {
                st.netmask as u8
            } else {
                mask_to_prefix(st.netmask)
                    .ok_or_else(|| fail("illegal virtual server persistent mask specified"))?
            };
            let spec = ServiceSpec {
                key,
                scheduler: st.scheduler,
                persistent: st.persistent,
                netmask_prefix,
                sched_flags,
                one_packet: st.one_packet,
            };
            Ok(Command::Apply(if st.cmd == Cmd::Add {
                Request::AddService(spec)
            } else {
                Request::EditService(spec)
            }))
        }
        Cmd::Del => Ok(Command::Apply(Request::DelService(
            st.key().ok_or_else(missing_service)?,
        ))),
        Cmd::Flush => Ok(Command::Apply(Request::Flush)),
        Cmd::Zero => Ok(Command::Apply(Request::Zero(st.key()))),
        Cmd::SetTimeout => Ok(Command::Apply(Request::SetTimeouts(
            st.set_values
                .ok_or_else(|| fail("--set option requires 3 timeout values"))?,
        ))),
        Cmd::AddDest | Cmd::EditDest => {
            let key = st.key().ok_or_else(missing_service)?;
            let daddr = st
                .dest_addr
                .ok_or_else(|| fail("illegal real server address[:port] specified"))?;
            if matches!(st.fwd, FwdMethod::Tunnel | FwdMethod::Route) {
                st.dest_port = key.port;
            }
            if daddr.is_ipv6() != key.addr.is_ipv6() && st.fwd != FwdMethod::Tunnel {
                return Err(fail(
                    "Different address family is allowed only for tunneling servers",
                ));
            }
            let tun_opts = [
                O_TUN_TYPE,
                O_TUN_PORT,
                O_TUN_NOCSUM,
                O_TUN_CSUM,
                O_TUN_REMCSUM,
            ];
            if tun_opts.iter().any(|&o| st.has(o)) && st.fwd != FwdMethod::Tunnel {
                return Err(fail("Tunnel options conflict with forward method"));
            }
            tunnel_opt_check(&st)?;
            let tun_type = match st.tun_kind {
                TunKind::Ipip => TunnelType::Ipip,
                TunKind::Gue => TunnelType::Gue { port: st.tun_port },
                TunKind::Gre => TunnelType::Gre,
            };
            let tun_csum = if st.has(O_TUN_CSUM) {
                TunnelCsum::Csum
            } else if st.has(O_TUN_REMCSUM) {
                TunnelCsum::RemCsum
            } else {
                TunnelCsum::NoCsum
            };
            let spec = DestSpec {
                addr: daddr,
                port: st.dest_port,
                fwd: st.fwd,
                weight: st.weight,
                u_threshold: st.u_threshold,
                l_threshold: st.l_threshold,
                tun_type,
                tun_csum,
            };
            Ok(Command::Apply(if st.cmd == Cmd::AddDest {
                Request::AddDest(key, spec)
            } else {
                Request::EditDest(key, spec)
            }))
        }
        Cmd::DelDest => {
            let key = st.key().ok_or_else(missing_service)?;
            let daddr = st
                .dest_addr
                .ok_or_else(|| fail("illegal real server address[:port] specified"))?;
            Ok(Command::Apply(Request::DelDest(key, daddr, st.dest_port)))
        }
        Cmd::List => {
            if ((st.has(O_CONNECTION) || st.has(O_TIMEOUT) || st.has(O_DAEMON))
                && (st.has(O_STATS) || st.has(O_RATE) || st.has(O_THRESHOLDS)))
                || ((st.has(O_TIMEOUT) || st.has(O_DAEMON)) && st.has(O_PERSISTENTCONN))
            {
                return Err(fail("options conflicts in the list command"));
            }
            list.numeric = st.has(O_NUMERIC);
            list.exact = st.has(O_EXACT);
            list.nosort = st.has(O_NOSORT);
            list.view = if st.has(O_STATS) {
                ListView::Stats
            } else if st.has(O_RATE) {
                ListView::Rate
            } else if st.has(O_THRESHOLDS) {
                ListView::Thresholds
            } else if st.has(O_PERSISTENTCONN) {
                ListView::PersistentConn
            } else if st.has(O_TUN_INFO) {
                ListView::TunInfo
            } else {
                ListView::Plain
            };
            if st.has(O_CONNECTION) {
                Ok(Command::ListConns {
                    numeric: list.numeric,
                    persistent_conn: st.has(O_PERSISTENTCONN),
                })
            } else if st.has(O_SERVICE) {
                Ok(Command::List {
                    service: Some(st.key().ok_or_else(missing_service)?),
                    format: *list,
                })
            } else if st.has(O_TIMEOUT) {
                Ok(Command::ListTimeouts)
            } else if st.has(O_DAEMON) {
                Ok(Command::ListDaemons)
            } else {
                Ok(Command::List {
                    service: None,
                    format: *list,
                })
            }
        }
        Cmd::Save => Ok(Command::Save {
            numeric: st.has(O_NUMERIC),
        }),
        Cmd::Restore => Ok(Command::Restore),
        Cmd::AddLaddr | Cmd::DelLaddr => {
            let key = st.key().ok_or_else(missing_service)?;
            let addr = st
                .laddr
                .ok_or_else(|| fail("illegal local address specified"))?;
            let spec = LaddrSpec { addr };
            Ok(Command::Apply(if st.cmd == Cmd::AddLaddr {
                Request::AddLaddr(key, spec)
            } else {
                Request::DelLaddr(key, spec)
            }))
        }
        Cmd::AddAcl | Cmd::DelAcl => {
            let key = st.key().ok_or_else(missing_service)?;
            let acl = st
                .acl
                .ok_or_else(|| fail("You need to supply the 'allow' or 'deny' option"))?;
            Ok(Command::Apply(if st.cmd == Cmd::AddAcl {
                Request::AddAcl(key, acl)
            } else {
                Request::DelAcl(key, acl)
            }))
        }
        Cmd::GetAcl => Ok(Command::GetAcls {
            service: st.key(),
            numeric: st.has(O_NUMERIC),
        }),
        Cmd::ConnLimit => {
            let key = st.key().ok_or_else(missing_service)?;
            let n = string_to_number(
                st.conn_limit.as_deref().unwrap_or(""),
                0,
                i64::from(u32::MAX),
            )
            .ok_or_else(|| fail("illegal connection limit specified"))?;
            Ok(Command::Apply(Request::SetConnLimit(key, n as u32)))
        }
        Cmd::GetLaddr => Ok(Command::GetLaddrs {
            service: st.key(),
            numeric: st.has(O_NUMERIC),
        }),
        Cmd::DpStats => Ok(Command::DataplaneStats),
        Cmd::Show(w) => Ok(Command::Show(w)),
    }
}
