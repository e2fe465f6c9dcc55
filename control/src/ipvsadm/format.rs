//! ipvsadm 1.31's output, byte for byte (`shared/reference/ipvsadm.md` section 2).
//!
//! Every function returns the complete text (newlines included) so that tests compare whole blocks.
//! The printf formats are reproduced with Rust width specifiers; the remarkable details are kept on
//! purpose: trailing spaces after the last `%-10u` column, service names cut at 33 characters and
//! destination names at 28 (IPv4 only), names cut at 59 characters (ipvsadm's 60-byte buffer),
//! K/M/G/T values truncated rather than rounded and allowed to run into each other, and the first three
//! `--rate` destination columns never abbreviated.

use super::names::NameDb;
use super::parse::{SCHED_FLAG_1, SCHED_FLAG_2, SCHED_FLAG_3};
use super::sort::sorted_services;
use super::{ListFormat, ListView};
use crate::proto::*;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

/// The first line of a full listing (IPVS 1.2.1, connection table size 4096).
pub const HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)\n";

/// What `-v` prints.
pub const VERSION: &str = "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n";

/// `print_largenum()`: `%9llu` below 10^8, else truncated K/M/G/T in `%8llu` plus the suffix; with
/// `exact`, at least one leading space.
pub fn largenum(i: u64, exact: bool) -> String {
    if exact {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        return format!("{i:>w$}");
    }
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1_000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

fn proto_lower(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// `protocol_name()`.
pub fn proto_upper(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}

fn truncate(mut s: String, n: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(n) {
        s.truncate(i);
    }
    s
}

/// `addrport_to_anyname()`: `addr:port` (`[v6]:port`), with host and service names unless `numeric`.
pub fn addrport(addr: IpAddr, port: u16, proto: Protocol, numeric: bool, names: &NameDb) -> String {
    let (open, close) = if addr.is_ipv6() { ("[", "]") } else { ("", "") };
    let s = if numeric {
        format!("{open}{addr}{close}:{port}")
    } else {
        let host = names
            .host_by_addr(addr)
            .map(str::to_string)
            .unwrap_or_else(|| addr.to_string());
        let serv = names
            .service_by_port(port, proto_lower(proto))
            .map(str::to_string)
            .unwrap_or_else(|| port.to_string());
        format!("{open}{host}{close}:{serv}")
    };
    truncate(s, 59)
}

/// `fwd_name()`, plus FULLNAT.
pub fn fwd_name(f: FwdMethod) -> &'static str {
    match f {
        FwdMethod::Masq => "Masq",
        FwdMethod::Tunnel => "Tunnel",
        FwdMethod::Route => "Route",
        FwdMethod::FullNat => "FullNat",
    }
}

/// `print_sched_flags()`: the set flags, named after the scheduler, comma-separated.
pub fn sched_flags_text(scheduler: &str, flags: u32) -> String {
    let names: [&str; 3] = match scheduler {
        "sh" => ["sh-fallback", "sh-port", "flag-3"],
        "mh" => ["mh-fallback", "mh-port", "flag-3"],
        _ => ["flag-1", "flag-2", "flag-3"],
    };
    [SCHED_FLAG_1, SCHED_FLAG_2, SCHED_FLAG_3]
        .iter()
        .zip(names)
        .filter(|(bit, _)| flags & **bit != 0)
        .map(|(_, n)| n)
        .collect::<Vec<_>>()
        .join(",")
}

fn v4_mask(prefix: u8) -> Ipv4Addr {
    let p = u32::from(prefix.min(32));
    Ipv4Addr::from(u32::MAX.checked_shl(32 - p).unwrap_or(0))
}

/// The persistence mask text if it differs from the default, with its leading space.
fn mask_text(spec: &ServiceSpec) -> String {
    match spec.key.addr {
        IpAddr::V4(_) if spec.netmask_prefix < 32 => {
            format!(" mask {}", v4_mask(spec.netmask_prefix))
        }
        IpAddr::V6(_) if spec.netmask_prefix < 128 => format!(" mask {}", spec.netmask_prefix),
        _ => String::new(),
    }
}

fn svc_list_name(spec: &ServiceSpec, numeric: bool, names: &NameDb) -> String {
    let k = &spec.key;
    let v = addrport(k.addr, k.port, k.proto, numeric, names);
    let s = format!("{:<4} {}", proto_upper(k.proto), v);
    if k.addr.is_ipv6() {
        s
    } else {
        truncate(s, 33)
    }
}

fn dest_list_name(svc: &ServiceSpec, d: &DestSpec, numeric: bool, names: &NameDb) -> String {
    let s = addrport(d.addr, d.port, svc.key.proto, numeric, names);
    if d.addr.is_ipv6() {
        s
    } else {
        truncate(s, 28)
    }
}

/// The title lines of a listing view.
pub fn title(view: ListView) -> String {
    match view {
        ListView::Plain => "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_string(),
        ListView::TunInfo => "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n".to_string(),
        ListView::Stats => format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        ),
        ListView::Rate => format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        ListView::Thresholds => format!(
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        ),
        ListView::PersistentConn => format!(
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        ),
    }
}

fn stats5(out: &mut String, s: &TrafficStats, exact: bool) {
    for v in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
        out.push_str(&largenum(v, exact));
    }
}

fn rates5(out: &mut String, r: &RateStats, exact: bool) {
    for v in [r.cps, r.inpps, r.outpps, r.inbps, r.outbps] {
        out.push_str(&largenum(v, exact));
    }
}

/// The `--tun-info` column.
pub fn tun_info(d: &DestSpec) -> String {
    if d.fwd != FwdMethod::Tunnel {
        return "n/a".to_string();
    }
    let csum = match d.tun_csum {
        TunnelCsum::NoCsum => "-c",
        TunnelCsum::Csum => "+c",
        TunnelCsum::RemCsum => "r+c",
    };
    match d.tun_type {
        TunnelType::Ipip => "ipip".to_string(),
        TunnelType::Gue { port } => format!("gue:{port}:{csum}"),
        TunnelType::Gre => format!("gre:{csum}"),
    }
}

/// `print_service_entry()` for the listing views: the service line and its destination lines.
pub fn service_entry(svc: &ServiceInfo, fmt: &ListFormat, names: &NameDb) -> String {
    let spec = &svc.spec;
    let name = svc_list_name(spec, fmt.numeric, names);
    let mut out = String::new();
    match fmt.view {
        ListView::Stats => {
            let _ = write!(out, "{name:<33}");
            stats5(&mut out, &svc.stats, fmt.exact);
            out.push('\n');
        }
        ListView::Rate => {
            let _ = write!(out, "{name:<33}");
            rates5(&mut out, &svc.rates, fmt.exact);
            out.push('\n');
        }
        _ => {
            let _ = write!(out, "{name} {}", spec.scheduler);
            if spec.sched_flags & (SCHED_FLAG_1 | SCHED_FLAG_2 | SCHED_FLAG_3) != 0 {
                let _ = write!(
                    out,
                    " ({})",
                    sched_flags_text(&spec.scheduler, spec.sched_flags)
                );
            }
            if let Some(t) = spec.persistent {
                let _ = write!(out, " persistent {t}{}", mask_text(spec));
            }
            if spec.one_packet {
                out.push_str(" ops");
            }
            out.push('\n');
        }
    }
    for d in &svc.dests {
        let ds = &d.spec;
        let dname = dest_list_name(spec, ds, fmt.numeric, names);
        match fmt.view {
            ListView::Stats => {
                let _ = write!(out, "  -> {dname:<28}");
                stats5(&mut out, &d.stats, fmt.exact);
                out.push('\n');
            }
            ListView::Rate => {
                let r = &d.rates;
                let _ = write!(
                    out,
                    "  -> {dname:<28} {:>8} {:>8} {:>8}",
                    r.cps, r.inpps, r.outpps
                );
                out.push_str(&largenum(r.inbps, fmt.exact));
                out.push_str(&largenum(r.outbps, fmt.exact));
                out.push('\n');
            }
            ListView::Thresholds => {
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                    ds.u_threshold, ds.l_threshold, d.active_conns, d.inactive_conns
                );
            }
            ListView::PersistentConn => {
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                    ds.weight, d.persist_conns, d.active_conns, d.inactive_conns
                );
            }
            ListView::TunInfo => {
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
                    fwd_name(ds.fwd),
                    tun_info(ds),
                    ds.weight,
                    d.active_conns,
                    d.inactive_conns
                );
            }
            ListView::Plain => {
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                    fwd_name(ds.fwd),
                    ds.weight,
                    d.active_conns,
                    d.inactive_conns
                );
            }
        }
    }
    out
}

/// `-L` (`all`: header line, every service) or `-L -t VIP:PORT` (`!all`: no header line).
pub fn list(services: &[ServiceInfo], all: bool, fmt: &ListFormat, names: &NameDb) -> String {
    let mut out = String::new();
    if all {
        out.push_str(HEADER);
    }
    out.push_str(&title(fmt.view));
    let sorted;
    let services = if fmt.nosort {
        services
    } else {
        sorted = sorted_services(services);
        &sorted
    };
    for s in services {
        out.push_str(&service_entry(s, fmt, names));
    }
    out
}

fn save_svc_name(k: &ServiceKey, numeric: bool, names: &NameDb) -> String {
    let opt = match k.proto {
        Protocol::Tcp => "-t",
        Protocol::Udp => "-u",
    };
    format!(
        "{opt} {}",
        addrport(k.addr, k.port, k.proto, numeric, names)
    )
}

/// `-S`: rules that `-R` reads back (sorted; thresholds are not saved, as in ipvsadm). Local addresses
/// are saved as `--add-laddr` lines after each service's servers.
pub fn save(services: &[ServiceInfo], numeric: bool, names: &NameDb) -> String {
    let mut out = String::new();
    for svc in sorted_services(services) {
        let spec = &svc.spec;
        let name = save_svc_name(&spec.key, numeric, names);
        let _ = write!(out, "-A {name} -s {}", spec.scheduler);
        if let Some(t) = spec.persistent {
            let _ = write!(out, " -p {t}");
            match spec.key.addr {
                IpAddr::V4(_) if spec.netmask_prefix < 32 => {
                    let _ = write!(out, " -M {}", v4_mask(spec.netmask_prefix));
                }
                IpAddr::V6(_) if spec.netmask_prefix < 128 => {
                    let _ = write!(out, " -M {}", spec.netmask_prefix);
                }
                _ => {}
            }
        }
        if spec.one_packet {
            out.push_str(" -o");
        }
        if spec.sched_flags & (SCHED_FLAG_1 | SCHED_FLAG_2 | SCHED_FLAG_3) != 0 {
            let _ = write!(
                out,
                " -b {}",
                sched_flags_text(&spec.scheduler, spec.sched_flags)
            );
        }
        out.push('\n');
        for d in &svc.dests {
            let ds = &d.spec;
            let fwd = match ds.fwd {
                FwdMethod::Masq => "-m",
                FwdMethod::Tunnel => "-i",
                FwdMethod::Route => "-g",
                FwdMethod::FullNat => "--fullnat",
            };
            let dname = addrport(ds.addr, ds.port, spec.key.proto, numeric, names);
            let _ = write!(out, "-a {name} -r {dname} {fwd} -w {}", ds.weight);
            if ds.fwd == FwdMethod::Tunnel {
                let csum = match ds.tun_csum {
                    TunnelCsum::NoCsum => "--tun-nocsum",
                    TunnelCsum::Csum => "--tun-csum",
                    TunnelCsum::RemCsum => "--tun-remcsum",
                };
                match ds.tun_type {
                    TunnelType::Ipip => out.push_str(" --tun-type ipip"),
                    TunnelType::Gue { port } => {
                        let _ = write!(out, " --tun-type gue --tun-port {port} {csum}");
                    }
                    TunnelType::Gre => {
                        let _ = write!(out, " --tun-type gre {csum}");
                    }
                }
            }
            out.push('\n');
        }
        for l in &svc.laddrs {
            let _ = writeln!(out, "--add-laddr -z {l} {name}");
        }
        for a in &svc.acl {
            let _ = writeln!(out, "--add-acl {name} {}", acl_option(a));
        }
        if svc.conn_limit > 0 {
            let _ = writeln!(out, "--conn-limit {} {name}", svc.conn_limit);
        }
    }
    out
}

/// `--allow PREFIX` / `--deny PREFIX`.
fn acl_option(a: &AclSpec) -> String {
    let what = match a.action {
        AclAction::Allow => "--allow",
        AclAction::Deny => "--deny",
    };
    format!("{what} {}/{}", a.addr, a.prefix)
}

/// `--get-acl`, per service (sorted as `-L`): a header with the limit and the refusal counters, then
/// one line per entry in evaluation order (deny entries first, then allow entries):
/// ```text
/// TCP  10.10.0.100:8990 conn-limit 100 acl-denied 3 conn-limited 0
///   deny  10.10.0.66/32
///   allow 10.10.0.0/24
/// ```
pub fn acls(services: &[ServiceInfo], numeric: bool, names: &NameDb) -> String {
    let mut out = String::new();
    for svc in sorted_services(services) {
        let k = &svc.spec.key;
        let proto = match k.proto {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        };
        let _ = writeln!(
            out,
            "{proto}  {} conn-limit {} acl-denied {} conn-limited {}",
            addrport(k.addr, k.port, k.proto, numeric, names),
            svc.conn_limit,
            svc.acl_denied,
            svc.conn_limited
        );
        for action in [AclAction::Deny, AclAction::Allow] {
            for a in svc.acl.iter().filter(|a| a.action == action) {
                let word = if action == AclAction::Deny {
                    "deny "
                } else {
                    "allow"
                };
                let _ = writeln!(out, "  {word} {}/{}", a.addr, a.prefix);
            }
        }
    }
    out
}

/// `-L -c`: connection entries in the daemon's order.
pub fn conns(list: &[ConnInfo], numeric: bool, persistent_conn: bool, names: &NameDb) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if persistent_conn {
        out.push_str(
            "pro expire state       source             virtual            destination        pe name          pe_data\n",
        );
    } else {
        out.push_str("pro expire state       source             virtual            destination\n");
    }
    for c in list {
        let e = format!("{:02}:{:02}", c.expires_s / 60, c.expires_s % 60);
        let cname = addrport(c.client.0, c.client.1, c.proto, numeric, names);
        let vname = addrport(c.virt.0, c.virt.1, c.proto, numeric, names);
        let dname = addrport(c.dest.0, c.dest.1, c.proto, numeric, names);
        let _ = writeln!(
            out,
            "{:<3} {e:<6} {:<11} {cname:<18} {vname:<18} {dname}",
            proto_upper(c.proto),
            c.state
        );
    }
    out
}

/// `-L --timeout`.
pub fn timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp, t.tcp_fin, t.udp
    )
}

/// `--get-laddr`: DPVS-style header, one line per local address (TOTAL = local addresses of that
/// service, CONFLICTS always 0).
pub fn laddrs(list: &[LaddrInfo], numeric: bool, names: &NameDb) -> String {
    let mut out = format!(
        "{:<20} {:<8} {:<20} {:<10} {}\n",
        "VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS"
    );
    for l in list {
        let total = list.iter().filter(|o| o.service == l.service).count();
        let k = &l.service;
        let vip = addrport(k.addr, k.port, k.proto, numeric, names);
        let lip = if numeric {
            l.addr.to_string()
        } else {
            names
                .host_by_addr(l.addr)
                .map(str::to_string)
                .unwrap_or_else(|| l.addr.to_string())
        };
        let _ = writeln!(out, "{vip:<20} {total:<8} {lip:<20} {:<10} {}", 0, l.conns);
    }
    out
}

/// `--dp-stats`: `lcore <id> <name> <value>` for every worker counter, then `port <name> <value>`.
pub fn dp_stats(s: &DataplaneStats) -> String {
    let mut out = String::new();
    for l in &s.lcores {
        for c in &l.counters {
            let _ = writeln!(out, "lcore {} {} {}", l.lcore, c.name, c.value);
        }
    }
    for c in &s.ports {
        let _ = writeln!(out, "port {} {}", c.name, c.value);
    }
    out
}

/// `--show-links`, per port:
/// ```text
/// port <index> <name>: link <up|down> speed <Mbps> mtu <mtu> mac <mac> device <device>
///   <counter> <value> ...                      (device counters, one line)
///   lcore <id> rx_packets <n> tx_packets <n> tx_dropped <n>
/// ```
pub fn links(ports: &[PortInfo]) -> String {
    let mut out = String::new();
    for p in ports {
        let _ = writeln!(
            out,
            "port {} {}: link {} speed {} mtu {} mac {} device {}",
            p.index,
            p.name,
            if p.link_up { "up" } else { "down" },
            p.speed_mbps,
            p.mtu,
            p.mac,
            p.device
        );
        if !p.counters.is_empty() {
            let line: Vec<String> = p
                .counters
                .iter()
                .map(|c| format!("{} {}", c.name, c.value))
                .collect();
            let _ = writeln!(out, "  {}", line.join(" "));
        }
        for l in &p.lcores {
            let _ = writeln!(
                out,
                "  lcore {} rx_packets {} tx_packets {} tx_dropped {}",
                l.lcore, l.rx_packets, l.tx_packets, l.tx_dropped
            );
        }
    }
    out
}

/// `--show-addrs`: `%-18s %-5s %s` = `ADDRESS/PREFIX`, kind (`port`, `vip`, `laddr`), port name.
pub fn addrs(a: &[AddrInfo]) -> String {
    let mut out = String::new();
    for a in a {
        let _ = writeln!(
            out,
            "{:<18} {:<5} {}",
            format!("{}/{}", a.addr, a.prefix),
            a.kind,
            a.port
        );
    }
    out
}

/// `--show-routes`: `NET/PREFIX [via GW] dev PORT KIND` (kind `connected` or `static`).
pub fn routes(r: &[RouteInfo]) -> String {
    let mut out = String::new();
    for r in r {
        let via = r.via.map(|v| format!(" via {v}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{}/{}{via} dev {} {}",
            r.dest, r.prefix, r.port, r.kind
        );
    }
    out
}

/// `--show-neigh`: `ADDRESS dev PORT lladdr MAC STATE lcore N`, as `ip neigh` prints.
pub fn neighbours(n: &[NeighInfo]) -> String {
    let mut out = String::new();
    for n in n {
        let _ = writeln!(
            out,
            "{} dev {} lladdr {} {} lcore {}",
            n.addr, n.port, n.mac, n.state, n.lcore
        );
    }
    out
}

/// `--show-laddr-pools`: header `LADDR            LCORE  FREE     USED`, rows `%-16s %-6s %-8s %s`.
pub fn laddr_pools(p: &[LaddrPoolInfo]) -> String {
    let mut out = format!("{:<16} {:<6} {:<8} {}\n", "LADDR", "LCORE", "FREE", "USED");
    for p in p {
        let _ = writeln!(
            out,
            "{:<16} {:<6} {:<8} {}",
            p.addr.to_string(),
            p.lcore,
            p.free_ports,
            p.used_ports
        );
    }
    out
}

/// `-h`: ipvsadm's usage text with `prog` as argv\[0\].
pub fn help(prog: &str) -> String {
    let mut out = String::from(VERSION);
    out.push_str("Usage:\n");
    for u in [
        "-A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]",
        "-D virtual-service",
        "-C",
        "-R",
        "-S [-n]",
        "-a|e virtual-service -r server-address [options]",
        "-d virtual-service -r server-address",
        "-L|l [virtual-service] [options]",
        "-Z [virtual-service]",
        "--set tcp tcpfin udp",
        "--start-daemon {master|backup} [daemon-options]",
        "--stop-daemon {master|backup}",
        "-h",
    ] {
        let _ = writeln!(out, "  {prog} {u}");
    }
    out.push_str(HELP_BODY);
    out
}

const HELP_BODY: &str = "
Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
";
