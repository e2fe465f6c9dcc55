//! Parse, format and restore tests against the reference (`shared/reference/ipvsadm.md`).

use super::exec::{restore, Io, Transport};
use super::format;
use super::names::NameDb;
use super::*;
use crate::client::ClientError;
use crate::proto::*;
use std::net::IpAddr;

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn names() -> NameDb {
    NameDb::from_strs(
        "127.0.0.1 localhost\n10.9.9.9 realhost\n",
        "http 80/tcp www\nhttp 80/udp\nhttps 443/tcp\nhttps 443/udp\ndomain 53/tcp\ndomain 53/udp\nhttp-alt 8080/tcp webcache\n",
    )
}

fn parse(s: &str) -> Result<Command, ParseError> {
    parse_args_with("ipvsadm", &words(s), &names())
}

fn ok(s: &str) -> Command {
    match parse(s) {
        Ok(c) => c,
        Err(e) => panic!("{s}: {e:?}"),
    }
}

fn req(s: &str) -> Request {
    match ok(s) {
        Command::Apply(r) => r,
        other => panic!("{s}: {other:?}"),
    }
}

fn err(s: &str) -> (String, i32) {
    match parse(s) {
        Ok(c) => panic!("{s}: parsed as {c:?}"),
        Err(e) => (e.message, e.code),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn key(proto: Protocol, a: &str, port: u16) -> ServiceKey {
    ServiceKey {
        proto,
        addr: ip(a),
        port,
    }
}

// ---------------------------------------------------------------------------------------------
// Parse errors: every row of section 3.2 that rvs can represent.

#[test]
fn error_table_exit_2() {
    let rows: &[(&str, &str)] = &[
        ("-A", "You need to supply the 'service-address' option for the 'add-service' command"),
        ("-a -t 10.0.0.1:80", "You need to supply the 'real-server' option for the 'add-server' command"),
        ("-A -t 10.0.0.1:80 -r 1.2.3.4", "Illegal 'real-server' option with the 'add-service' command"),
        ("-d -t 10.0.0.1:80 -r 1.2.3.4 -w 3", "Illegal 'weight' option with the 'delete-server' command"),
        ("-L -s rr", "Illegal 'scheduler' option with the 'list' command"),
        ("-C -n", "Illegal 'numeric' option with the 'flush' command"),
        ("-Z -n", "Illegal 'numeric' option with the 'zero' command"),
        ("-S -c", "Illegal 'connection' option with the 'save' command"),
        ("-L -c --timeout", "The option 'timeout' conflicts with the 'connection' option in the 'list' command"),
        ("-L -t 10.0.0.1:80 -c", "The option 'service-address' conflicts with the 'connection' option in the 'list' command"),
        ("-L -c --stats", "options conflicts in the list command"),
        ("-L --timeout --stats", "options conflicts in the list command"),
        ("-L --timeout --persistent-conn", "options conflicts in the list command"),
        ("-L --daemon --rate", "options conflicts in the list command"),
        ("-A -t 10.0.0.1:80 -s rr -s wlc", "multiple 'scheduler' options specified"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -m -g", "multiple 'forwarding-method' options specified"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -m --fullnat", "multiple 'forwarding-method' options specified"),
        ("-A -t 10.0.0.1:80 -A -t 10.0.0.2:80", "invalid option `-A'"),
        ("-L -A", "invalid option `-A'"),
        ("-L -h", "invalid option `-h'"),
        ("-A -t 10.0.0.1", "Zero port specified for non-persistent service"),
        ("-A -t 10.0.0.1:0", "Zero port specified for non-persistent service"),
        ("-A -t 10.0.0.1:99999", "illegal virtual server address[:port] specified"),
        ("-A -t 300.1.1.1:80", "illegal virtual server address[:port] specified"),
        ("-A -t nosuchhost.invalid:80", "illegal virtual server address[:port] specified"),
        ("-A -t 10.0.0.6:foo", "illegal virtual server address[:port] specified"),
        ("-A -t 80", "illegal virtual server address[:port] specified"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4:99999", "illegal real server address[:port] specified"),
        ("-A -t 10.0.0.1:80 -p -M 300.0.0.0", "illegal virtual server persistent mask specified"),
        ("-A -t [2001:db8::1]:80 -p -M 200", "illegal ipv6 netmask specified"),
        ("-A -t 10.0.0.1:80 -p 0", "invalid timeout value `0' specified"),
        ("-A -t 10.0.0.1:80 -p 2678401", "invalid timeout value `2678401' specified"),
        ("-A -t 10.0.0.1:80 -p abc", "invalid timeout value `abc' specified"),
        ("-A -t 10.0.0.1:80 -o", "One-Packet Scheduling is only for UDP virtual services"),
        ("-A -t 10.0.0.1:80 -b sh-port", "incompatible scheduler flag `sh-port'"),
        ("-A -t 10.0.0.1:80 -s sh -b foo", "invalid scheduler flag `foo'"),
        ("-A -t 10.0.0.1:80 -s sh -b sh-port,mh-port", "incompatible scheduler flag `mh-port'"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -w -1", "illegal weight specified"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -w 2147483648", "illegal weight specified"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -x -5", "illegal u_threshold specified"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -y -5", "illegal l_threshold specified"),
        ("-a -t 10.0.0.1:80 -r [2001:db8::1]:80 -m", "Different address family is allowed only for tunneling servers"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 --tun-type gue", "Tunnel options conflict with forward method"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -i --tun-type gue", "You need to supply the 'tun-port' option for the 'gue' tunnel type"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -i --tun-type ipip --tun-port 5000", "Illegal 'tun-port' option with the 'ipip' tunnel type"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -i --tun-type gre --tun-remcsum", "Illegal 'tun-remcsum' option with the 'gre' tunnel type"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -i --tun-type gue --tun-port 5000 --tun-csum --tun-nocsum",
         "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -i --tun-type vxlan", "illegal tunnel type specified"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -i --tun-port 0", "illegal tunnel port specified"),
        ("--set 10 20", "--set option requires 3 timeout values"),
        ("--set 10 20 x", "invalid timeout value `x' specified"),
        ("--set 10 20 2678401", "invalid timeout value `2678401' specified"),
        ("--set 10 20 30 40", "unexpected argument 40"),
        ("-L foo", "unexpected argument foo"),
        ("-L --mcast-group 10.1.1.1", "invalid IPv4 mcast-group `10.1.1.1'"),
        ("-L --mcast-group 2001:db8::1", "invalid IPv6 mcast-group `2001:db8::1'"),
        ("-L --mcast-port 0", "illegal mcast-port specified"),
        ("-L --mcast-ttl 0", "illegal mcast-ttl specified"),
        ("-L --syncid 256", "illegal syncid specified"),
        ("-L --sync-maxlen 0", "illegal sync-maxlen specified"),
        ("-L --syncid 3 --mcast-port 5", "Illegal 'mcast-port' option with the 'list' command"),
        ("-A -6", "-6 used before -f\n"),
        ("-A -t 10.0.0.1:80 -6", "-6 used before -f\n"),
        // rvs extras.
        ("--add-laddr -t 10.0.0.1:80", "You need to supply the 'laddr' option for the 'add-laddr' command"),
        ("--add-laddr -z 10.10.9.1", "You need to supply the 'service-address' option for the 'add-laddr' command"),
        ("--add-laddr -z nothing -t 10.0.0.1:80", "illegal local address specified"),
        ("--get-laddr -z 1.1.1.1", "Illegal 'laddr' option with the 'get-laddr' command"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 -z 1.1.1.1", "Illegal 'laddr' option with the 'add-server' command"),
        ("--dp-stats -n", "Illegal 'numeric' option with the 'dp-stats' command"),
        ("-a -t 10.0.0.1:80 -r 1.2.3.4 --tun-info", "Illegal 'tun-info' option with the 'add-server' command"),
    ];
    for (line, msg) in rows {
        assert_eq!(err(line), (msg.to_string(), 2), "{line}");
    }
}

#[test]
fn error_table_exit_255() {
    let t = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.";
    let rows: &[(&str, &str)] = &[
        ("-6 -A -f 1", t),
        ("--bogus", t),
        ("-Q", t),
        ("-t 10.0.0.1:80", t),
        ("-n", t),
        ("foo", t),
        ("-A -t 10.0.0.1:80 -s", "-s: missing argument"),
        ("-A -t", "-t: missing argument"),
        ("-A -t 10.0.0.1:80 --foo", "--foo: unknown option"),
        ("-Lq", "-Lq: unknown option"),
        (
            "-L --numeric=3",
            "--numeric=3: option does not take an argument",
        ),
    ];
    for (line, msg) in rows {
        assert_eq!(err(line), (msg.to_string(), 255), "{line}");
    }
    // The first error in argument order wins: a fail() before a popt error...
    assert_eq!(err("-A -t 1.2.3.4:99999 --foo").1, 2);
    // ...and a popt error before a later fail().
    assert_eq!(err("-A --foo -t 1.2.3.4:99999").1, 255);
}

#[test]
fn refused_features_exit_2_with_a_clear_message() {
    for line in [
        "-A -f 1",
        "-A -f 0",
        "-A --sctp-service 10.0.0.9:3868",
        "-A -t 10.0.0.1:80 --pe sip",
        "--start-daemon master",
        "--stop-daemon backup",
    ] {
        let (m, code) = err(line);
        assert_eq!(code, 2, "{line}");
        assert!(m.contains("not supported by rvs"), "{line}: {m}");
    }
}

// ---------------------------------------------------------------------------------------------
// Parse results.

fn svc(k: ServiceKey, sched: &str, persistent: Option<u32>, prefix: u8) -> ServiceSpec {
    ServiceSpec {
        key: k,
        scheduler: sched.into(),
        persistent,
        netmask_prefix: prefix,
        sched_flags: 0,
        one_packet: false,
    }
}

fn dest(a: &str, port: u16, fwd: FwdMethod, weight: u32) -> DestSpec {
    DestSpec {
        addr: ip(a),
        port,
        fwd,
        weight,
        u_threshold: 0,
        l_threshold: 0,
        tun_type: TunnelType::Ipip,
        tun_csum: TunnelCsum::NoCsum,
    }
}

#[test]
fn no_arguments_is_a_plain_list() {
    assert_eq!(
        parse(""),
        Ok(Command::List {
            service: None,
            format: ListFormat::default()
        })
    );
}

#[test]
fn service_defaults_and_edit_sends_the_whole_entry() {
    let k = key(Protocol::Tcp, "10.0.0.1", 80);
    assert_eq!(
        req("-A -t 10.0.0.1:80"),
        Request::AddService(svc(k, "wlc", None, 32))
    );
    // -E without -s resets to wlc and clears persistence, flags and -o.
    assert_eq!(
        req("-E -t 10.0.0.1:80"),
        Request::EditService(svc(k, "wlc", None, 32))
    );
    assert_eq!(
        req("--add-service --tcp-service=10.0.0.1:http --scheduler=rr"),
        Request::AddService(svc(k, "rr", None, 32))
    );
    assert_eq!(
        req("-At 10.0.0.1:80 -s rr"),
        Request::AddService(svc(k, "rr", None, 32))
    );
    // Scheduler names are cut at 15 characters (the kernel then refuses unknown ones).
    assert_eq!(
        req("-A -t 10.0.0.1:80 -s abcdefghijklmnopq"),
        Request::AddService(svc(k, "abcdefghijklmno", None, 32))
    );
}

#[test]
fn persistent_takes_an_optional_argument() {
    let k = key(Protocol::Tcp, "10.0.0.1", 443);
    for (line, t) in [
        ("-A -t 10.0.0.1:443 -p", 360),
        ("-A -t 10.0.0.1:443 -p -s wlc", 360),
        ("-A -t 10.0.0.1:443 -p 100", 100),
        ("-A -t 10.0.0.1:443 -p600", 600),
        ("-A -t 10.0.0.1:443 --persistent=100", 100),
        ("-A -t 10.0.0.1:443 --persistent", 360),
    ] {
        assert_eq!(
            req(line),
            Request::AddService(svc(k, "wlc", Some(t), 32)),
            "{line}"
        );
    }
    // Zero port is fine when persistent.
    let k0 = key(Protocol::Tcp, "10.0.0.5", 0);
    assert_eq!(
        req("-A -t 10.0.0.5 -p"),
        Request::AddService(svc(k0, "wlc", Some(360), 32))
    );
}

#[test]
fn netmask_flags_ops_and_ipv6() {
    let mut s = svc(key(Protocol::Tcp, "10.0.0.9", 80), "sh", Some(600), 24);
    s.sched_flags = 0x18;
    assert_eq!(
        req("-A -t 10.0.0.9:80 -s sh -b sh-port,sh-fallback -p 600 -M 255.255.255.0"),
        Request::AddService(s)
    );
    // -b is checked after the whole line: -s may come later.
    let mut s = svc(key(Protocol::Tcp, "10.0.0.9", 80), "mh", None, 32);
    s.sched_flags = 0x10;
    assert_eq!(
        req("-A -t 10.0.0.9:80 -b mh-port -s mh"),
        Request::AddService(s)
    );
    let mut s = svc(key(Protocol::Udp, "10.0.0.53", 53), "wrr", None, 32);
    s.one_packet = true;
    assert_eq!(
        req("-A -u 10.0.0.53:domain -s wrr -o"),
        Request::AddService(s)
    );
    assert_eq!(
        req("-A -t [2001:db8::1]:80 -s lc -p 120 -M 64"),
        Request::AddService(svc(
            key(Protocol::Tcp, "2001:db8::1", 80),
            "lc",
            Some(120),
            64
        ))
    );
    assert_eq!(
        req("-A -t [2001:db8::1]:80"),
        Request::AddService(svc(key(Protocol::Tcp, "2001:db8::1", 80), "wlc", None, 128))
    );
    // Hosts from /etc/hosts, inet_aton forms.
    assert_eq!(
        req("-D -t realhost:https"),
        Request::DelService(key(Protocol::Tcp, "10.9.9.9", 443))
    );
    assert_eq!(
        req("-D -u 10.1:53"),
        Request::DelService(key(Protocol::Udp, "10.0.0.1", 53))
    );
}

#[test]
fn dest_defaults_and_forced_ports() {
    let k = key(Protocol::Tcp, "10.0.0.1", 80);
    // Default: Route, weight 1, port = service port.
    assert_eq!(
        req("-a -t 10.0.0.1:80 -r 192.168.1.10"),
        Request::AddDest(k, dest("192.168.1.10", 80, FwdMethod::Route, 1))
    );
    // Route and Tunnel force the service port.
    assert_eq!(
        req("-a -t 10.0.0.1:80 -r 1.2.3.4:8080 -g"),
        Request::AddDest(k, dest("1.2.3.4", 80, FwdMethod::Route, 1))
    );
    assert_eq!(
        req("-a -t 10.0.0.1:80 -r 1.2.3.4:8080 -i"),
        Request::AddDest(k, dest("1.2.3.4", 80, FwdMethod::Tunnel, 1))
    );
    // Masq and FullNat keep it.
    assert_eq!(
        req("-a -t 10.0.0.1:80 -r 192.168.1.3:8080 -m -w 3"),
        Request::AddDest(k, dest("192.168.1.3", 8080, FwdMethod::Masq, 3))
    );
    assert_eq!(
        req("-a -t 10.0.0.1:80 -r 10.10.1.2:8998 --fullnat"),
        Request::AddDest(k, dest("10.10.1.2", 8998, FwdMethod::FullNat, 1))
    );
    // -e sends the whole entry: fwd back to Route, thresholds to 0.
    assert_eq!(
        req("-e -t 10.0.0.1:80 -r 192.168.1.2:80 -w 0"),
        Request::EditDest(k, dest("192.168.1.2", 80, FwdMethod::Route, 0))
    );
    let mut d = dest("192.168.1.2", 53, FwdMethod::Masq, 2);
    d.u_threshold = 1000;
    d.l_threshold = 100;
    assert_eq!(
        req("-a -u 10.0.0.53:53 -r 192.168.1.2:53 -m -w 2 -x 1000 -y 100"),
        Request::AddDest(key(Protocol::Udp, "10.0.0.53", 53), d)
    );
    // Debian accepts weights up to INT_MAX.
    assert_eq!(
        req("-a -t 10.0.0.1:80 -r 1.2.3.4 -w 2147483647"),
        Request::AddDest(k, dest("1.2.3.4", 80, FwdMethod::Route, 2147483647))
    );
    // Tunnels.
    let mut d = dest("192.168.1.21", 80, FwdMethod::Tunnel, 1);
    d.tun_type = TunnelType::Gue { port: 6080 };
    d.tun_csum = TunnelCsum::Csum;
    assert_eq!(
        req("-a -t 10.0.0.1:80 -r 192.168.1.21 -i --tun-type gue --tun-port 6080 --tun-csum"),
        Request::AddDest(k, d)
    );
    let mut d = dest("2001:db8::5", 80, FwdMethod::Tunnel, 1);
    d.tun_type = TunnelType::Gre;
    assert_eq!(
        req("-a -t 10.0.0.1:80 -r 2001:db8::5 -i --tun-type gre --tun-nocsum"),
        Request::AddDest(k, d)
    );
    // -d: port must be given or is the service's.
    assert_eq!(
        req("-d -t 10.0.0.1:80 -r 192.168.1.2:8080"),
        Request::DelDest(k, ip("192.168.1.2"), 8080)
    );
    assert_eq!(
        req("-d -t 10.0.0.1:80 -r 192.168.1.2"),
        Request::DelDest(k, ip("192.168.1.2"), 80)
    );
}

#[test]
fn other_commands() {
    assert_eq!(req("-C"), Request::Flush);
    assert_eq!(req("-Z"), Request::Zero(None));
    assert_eq!(
        req("-Z -t 10.0.0.2:80"),
        Request::Zero(Some(key(Protocol::Tcp, "10.0.0.2", 80)))
    );
    assert_eq!(
        req("--set 900 0 300"),
        Request::SetTimeouts(Timeouts {
            tcp: 900,
            tcp_fin: 0,
            udp: 300
        })
    );
    let k = key(Protocol::Tcp, "10.10.0.100", 8990);
    let l = LaddrSpec {
        addr: ip("10.10.9.1"),
    };
    assert_eq!(
        req("--add-laddr -z 10.10.9.1 -t 10.10.0.100:8990"),
        Request::AddLaddr(k, l)
    );
    assert_eq!(
        req("--del-laddr -t 10.10.0.100:8990 --laddr=10.10.9.1"),
        Request::DelLaddr(k, l)
    );
    assert_eq!(
        ok("--get-laddr -t 10.10.0.100:8990"),
        Command::GetLaddrs {
            service: Some(k),
            numeric: false
        }
    );
    assert_eq!(ok("--dp-stats"), Command::DataplaneStats);
    assert_eq!(ok("-S -n"), Command::Save { numeric: true });
    assert_eq!(ok("-R"), Command::Restore);
    assert_eq!(ok("-h"), Command::Help);
    assert_eq!(ok("--version"), Command::Version);
    assert_eq!(ok("-L --daemon"), Command::ListDaemons);
    assert_eq!(ok("-L --timeout -n"), Command::ListTimeouts);
    assert_eq!(
        ok("-Lnc"),
        Command::ListConns {
            numeric: true,
            persistent_conn: false
        }
    );
    assert_eq!(
        ok("-l -c --persistent-conn"),
        Command::ListConns {
            numeric: false,
            persistent_conn: true
        }
    );
    // Restore mode: `-R` and an empty line are `Try ...`.
    let n = names();
    assert_eq!(
        parse_restore_line("ipvsadm", &words("-R"), &n)
            .unwrap_err()
            .code,
        255
    );
    assert_eq!(
        parse_restore_line("ipvsadm", &[], &n).unwrap_err().code,
        255
    );
    // Rule lines for rvsd.
    assert_eq!(ok("-C").into_rule(), Some(Request::Flush));
    assert_eq!(ok("-Ln").into_rule(), None);
}

#[test]
fn list_format_precedence_and_options() {
    let f = |s: &str| match ok(s) {
        Command::List { format, .. } => format,
        other => panic!("{other:?}"),
    };
    assert_eq!(f("-Ln --stats --rate").view, ListView::Stats);
    assert_eq!(f("-L --rate --thresholds").view, ListView::Rate);
    assert_eq!(
        f("-L --persistent-conn --thresholds").view,
        ListView::Thresholds
    );
    assert_eq!(
        f("-L --tun-info --persistent-conn").view,
        ListView::PersistentConn
    );
    assert_eq!(f("-L --tun-info").view, ListView::TunInfo);
    assert_eq!(
        f("-Ln --exact --nosort --sort"),
        ListFormat {
            numeric: true,
            exact: true,
            nosort: true,
            view: ListView::Plain
        }
    );
    assert!(f("-L -X").exact);
    match ok("-Lnt 10.0.0.2:80") {
        Command::List { service, format } => {
            assert_eq!(service, Some(key(Protocol::Tcp, "10.0.0.2", 80)));
            assert!(format.numeric);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn socket_flag_is_taken_anywhere() {
    let (p, rest) = take_socket_flag(&words("-L --socket /tmp/s -n")).unwrap();
    assert_eq!(p, Some(std::path::PathBuf::from("/tmp/s")));
    assert_eq!(rest, words("-L -n"));
    let (p, rest) = take_socket_flag(&words("--socket=/x -C")).unwrap();
    assert_eq!(p, Some(std::path::PathBuf::from("/x")));
    assert_eq!(rest, words("-C"));
    assert_eq!(
        take_socket_flag(&words("-C --socket")).unwrap_err().code,
        255
    );
}

// ---------------------------------------------------------------------------------------------
// Formats: the reference's example state (section 2.2) without its SCTP and fwmark services.

fn di(spec: DestSpec, active: u32, inactive: u32) -> DestInfo {
    DestInfo {
        spec,
        active_conns: active,
        inactive_conns: inactive,
        persist_conns: 0,
        stats: TrafficStats::default(),
        rates: RateStats::default(),
    }
}

fn si(spec: ServiceSpec, dests: Vec<DestInfo>) -> ServiceInfo {
    ServiceInfo {
        spec,
        dests,
        laddrs: vec![],
        stats: TrafficStats::default(),
        rates: RateStats::default(),
        acl: vec![],
        conn_limit: 0,
        acl_denied: 0,
        conn_limited: 0,
    }
}

fn ts(v: [u64; 5]) -> TrafficStats {
    TrafficStats {
        conns: v[0],
        inpkts: v[1],
        outpkts: v[2],
        inbytes: v[3],
        outbytes: v[4],
    }
}

fn rs(v: [u64; 5]) -> RateStats {
    RateStats {
        cps: v[0],
        inpps: v[1],
        outpps: v[2],
        inbps: v[3],
        outbps: v[4],
    }
}

/// The example state, in the insertion order given (dests scrambled to exercise the sort).
fn example_in_insertion_order() -> Vec<ServiceInfo> {
    let k80 = key(Protocol::Tcp, "10.0.0.1", 80);
    let mut d1 = di(dest("192.168.1.2", 80, FwdMethod::Masq, 1), 12, 34);
    d1.stats = ts([600, 30000, 20000, 4000000, 60000000]);
    d1.rates = rs([1, 9, 8, 1200, 75000]);
    let mut d2 = di(dest("192.168.1.3", 8080, FwdMethod::Masq, 3), 5, 6);
    d2.stats = ts([634, 26789, 23210, 5876543, 63456789012]);
    d2.rates = rs([1, 8, 7, 1210, 75000]);
    let d3 = di(dest("192.168.1.10", 80, FwdMethod::Route, 0), 0, 0);
    let mut s80 = si(svc(k80, "rr", None, 32), vec![d3, d1, d2]);
    s80.stats = ts([1234, 56789, 43210, 9876543, 123456789012]);
    s80.rates = rs([2, 17, 15, 2410, 150000]);

    let k443 = key(Protocol::Tcp, "10.0.0.1", 443);
    let mut d = di(dest("192.168.1.2", 443, FwdMethod::Route, 1), 3, 1);
    d.persist_conns = 2;
    let big = ts([120000000, 2500000000, 99, 150000000000, 200000000000000]);
    d.stats = big;
    let mut s443 = si(svc(k443, "wlc", Some(360), 32), vec![d]);
    s443.stats = big;

    let k53 = key(Protocol::Udp, "10.0.0.53", 53);
    let mut d = dest("192.168.1.2", 53, FwdMethod::Masq, 2);
    d.u_threshold = 1000;
    d.l_threshold = 100;
    let mut spec53 = svc(k53, "wrr", None, 32);
    spec53.one_packet = true;
    let s53 = si(spec53, vec![di(d, 0, 0)]);

    let k6 = key(Protocol::Tcp, "2001:db8::1", 80);
    let s6 = si(
        svc(k6, "lc", Some(120), 64),
        vec![di(dest("2001:db8::10", 80, FwdMethod::Masq, 5), 0, 0)],
    );
    // Kernel order scrambled: the listing sorts.
    vec![s6, s53, s443, s80]
}

/// A reference block without its SCTP and FWM parts (service line plus dest lines).
fn without_sctp_fwm(block: &str) -> String {
    let mut out = String::new();
    let mut skip = false;
    for line in block.lines() {
        if line.starts_with("SCTP ") || line.starts_with("FWM ") {
            skip = true;
            continue;
        }
        if skip && line.starts_with("  -> ") {
            continue;
        }
        skip = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn fmt(view: ListView, numeric: bool, exact: bool) -> ListFormat {
    ListFormat {
        numeric,
        exact,
        nosort: false,
        view,
    }
}

const LN: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 rr
  -> 192.168.1.2:80               Masq    1      12         34        
  -> 192.168.1.3:8080             Masq    3      5          6         
  -> 192.168.1.10:80              Route   0      0          0         
TCP  10.0.0.1:443 wlc persistent 360
  -> 192.168.1.2:443              Route   1      3          1         
UDP  10.0.0.53:53 wrr ops
  -> 192.168.1.2:53               Masq    2      0          0         
SCTP 10.0.0.9:3868 mh (mh-port)
  -> 192.168.1.30:3868            Masq    1      0          0         
TCP  [2001:db8::1]:80 lc persistent 120 mask 64
  -> [2001:db8::10]:80            Masq    5      0          0         
FWM  100 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0
  -> 192.168.1.20:0               Tunnel  1      0          0         
  -> 192.168.1.21:0               Tunnel  1      0          0         
  -> 192.168.1.22:0               Tunnel  1      0          0         
";

const L: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:http rr
  -> 192.168.1.2:http             Masq    1      12         34        
  -> 192.168.1.3:http-alt         Masq    3      5          6         
  -> 192.168.1.10:http            Route   0      0          0         
TCP  10.0.0.1:https wlc persistent 360
  -> 192.168.1.2:https            Route   1      3          1         
UDP  10.0.0.53:domain wrr ops
  -> 192.168.1.2:domain           Masq    2      0          0         
SCTP 10.0.0.9:3868 mh (mh-port)
  -> 192.168.1.30:3868            Masq    1      0          0         
TCP  [2001:db8::1]:http lc persistent 120 mask 64
  -> [2001:db8::10]:http          Masq    5      0          0         
FWM  100 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0
  -> 192.168.1.20:0               Tunnel  1      0          0         
  -> 192.168.1.21:0               Tunnel  1      0          0         
  -> 192.168.1.22:0               Tunnel  1      0          0         
";

const LN_ONE: &str = "Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 rr
  -> 192.168.1.2:80               Masq    1      12         34        
  -> 192.168.1.3:8080             Masq    3      5          6         
  -> 192.168.1.10:80              Route   0      0          0         
";

const STATS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.0.0.1:80                      1234    56789    43210  9876543     123G
  -> 192.168.1.2:80                    600    30000    20000  4000000 60000000
  -> 192.168.1.3:8080                  634    26789    23210  5876543   63456M
  -> 192.168.1.10:80                     0        0        0        0        0
TCP  10.0.0.1:443                  120000K    2500M       99     150G     200T
  -> 192.168.1.2:443               120000K    2500M       99     150G     200T
UDP  10.0.0.53:53                        0        0        0        0        0
  -> 192.168.1.2:53                      0        0        0        0        0
SCTP 10.0.0.9:3868                       0        0        0        0        0
  -> 192.168.1.30:3868                   0        0        0        0        0
TCP  [2001:db8::1]:80                    0        0        0        0        0
  -> [2001:db8::10]:80                   0        0        0        0        0
FWM  100                                 0        0        0        0        0
  -> 192.168.1.20:0                      0        0        0        0        0
  -> 192.168.1.21:0                      0        0        0        0        0
  -> 192.168.1.22:0                      0        0        0        0        0
";

const STATS_EXACT: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.0.0.1:80                      1234    56789    43210  9876543 123456789012
  -> 192.168.1.2:80                    600    30000    20000  4000000 60000000
  -> 192.168.1.3:8080                  634    26789    23210  5876543 63456789012
  -> 192.168.1.10:80                     0        0        0        0        0
TCP  10.0.0.1:443                 120000000 2500000000       99 150000000000 200000000000000
  -> 192.168.1.2:443              120000000 2500000000       99 150000000000 200000000000000
UDP  10.0.0.53:53                        0        0        0        0        0
  -> 192.168.1.2:53                      0        0        0        0        0
SCTP 10.0.0.9:3868                       0        0        0        0        0
  -> 192.168.1.30:3868                   0        0        0        0        0
TCP  [2001:db8::1]:80                    0        0        0        0        0
  -> [2001:db8::10]:80                   0        0        0        0        0
FWM  100                                 0        0        0        0        0
  -> 192.168.1.20:0                      0        0        0        0        0
  -> 192.168.1.21:0                      0        0        0        0        0
  -> 192.168.1.22:0                      0        0        0        0        0
";

const RATE: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  10.0.0.1:80                         2       17       15     2410   150000
  -> 192.168.1.2:80                      1        9        8     1200    75000
  -> 192.168.1.3:8080                    1        8        7     1210    75000
  -> 192.168.1.10:80                     0        0        0        0        0
TCP  10.0.0.1:443                        0        0        0        0        0
  -> 192.168.1.2:443                     0        0        0        0        0
UDP  10.0.0.53:53                        0        0        0        0        0
  -> 192.168.1.2:53                      0        0        0        0        0
SCTP 10.0.0.9:3868                       0        0        0        0        0
  -> 192.168.1.30:3868                   0        0        0        0        0
TCP  [2001:db8::1]:80                    0        0        0        0        0
  -> [2001:db8::10]:80                   0        0        0        0        0
FWM  100                                 0        0        0        0        0
  -> 192.168.1.20:0                      0        0        0        0        0
  -> 192.168.1.21:0                      0        0        0        0        0
  -> 192.168.1.22:0                      0        0        0        0        0
";

const THRESHOLDS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
  -> RemoteAddress:Port
TCP  10.0.0.1:80 rr
  -> 192.168.1.2:80               0          0          12         34        
  -> 192.168.1.3:8080             0          0          5          6         
  -> 192.168.1.10:80              0          0          0          0         
TCP  10.0.0.1:443 wlc persistent 360
  -> 192.168.1.2:443              0          0          3          1         
UDP  10.0.0.53:53 wrr ops
  -> 192.168.1.2:53               1000       100        0          0         
SCTP 10.0.0.9:3868 mh (mh-port)
  -> 192.168.1.30:3868            0          0          0          0         
TCP  [2001:db8::1]:80 lc persistent 120 mask 64
  -> [2001:db8::10]:80            0          0          0          0         
FWM  100 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0
  -> 192.168.1.20:0               0          0          0          0         
  -> 192.168.1.21:0               0          0          0          0         
  -> 192.168.1.22:0               0          0          0          0         
";

const PCONN: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn 
  -> RemoteAddress:Port
TCP  10.0.0.1:80 rr
  -> 192.168.1.2:80               1         0           12         34        
  -> 192.168.1.3:8080             3         0           5          6         
  -> 192.168.1.10:80              0         0           0          0         
TCP  10.0.0.1:443 wlc persistent 360
  -> 192.168.1.2:443              1         2           3          1         
UDP  10.0.0.53:53 wrr ops
  -> 192.168.1.2:53               2         0           0          0         
SCTP 10.0.0.9:3868 mh (mh-port)
  -> 192.168.1.30:3868            1         0           0          0         
TCP  [2001:db8::1]:80 lc persistent 120 mask 64
  -> [2001:db8::10]:80            5         0           0          0         
FWM  100 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0
  -> 192.168.1.20:0               1         0           0          0         
  -> 192.168.1.21:0               1         0           0          0         
  -> 192.168.1.22:0               1         0           0          0         
";

const TUNINFO: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn
TCP  10.0.0.1:80 rr
  -> 192.168.1.2:80               Masq    n/a           1      12         34        
  -> 192.168.1.3:8080             Masq    n/a           3      5          6         
  -> 192.168.1.10:80              Route   n/a           0      0          0         
TCP  10.0.0.1:443 wlc persistent 360
  -> 192.168.1.2:443              Route   n/a           1      3          1         
UDP  10.0.0.53:53 wrr ops
  -> 192.168.1.2:53               Masq    n/a           2      0          0         
SCTP 10.0.0.9:3868 mh (mh-port)
  -> 192.168.1.30:3868            Masq    n/a           1      0          0         
TCP  [2001:db8::1]:80 lc persistent 120 mask 64
  -> [2001:db8::10]:80            Masq    n/a           5      0          0         
FWM  100 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0
  -> 192.168.1.20:0               Tunnel  ipip          1      0          0         
  -> 192.168.1.21:0               Tunnel  gue:6080:+c   1      0          0         
  -> 192.168.1.22:0               Tunnel  gre:-c        1      0          0         
";

#[test]
fn listings_match_the_reference_byte_for_byte() {
    let s = example_in_insertion_order();
    let n = names();
    let cases: &[(&str, ListFormat)] = &[
        (LN, fmt(ListView::Plain, true, false)),
        (L, fmt(ListView::Plain, false, false)),
        (STATS, fmt(ListView::Stats, true, false)),
        (STATS_EXACT, fmt(ListView::Stats, true, true)),
        (RATE, fmt(ListView::Rate, true, false)),
        (THRESHOLDS, fmt(ListView::Thresholds, true, false)),
        (PCONN, fmt(ListView::PersistentConn, true, false)),
        (TUNINFO, fmt(ListView::TunInfo, true, false)),
    ];
    for (block, f) in cases {
        assert_eq!(
            format::list(&s, true, f, &n),
            without_sctp_fwm(block),
            "{f:?}"
        );
    }
    let one: Vec<ServiceInfo> = s
        .iter()
        .filter(|x| x.spec.key == key(Protocol::Tcp, "10.0.0.1", 80))
        .cloned()
        .collect();
    assert_eq!(
        format::list(&one, false, &fmt(ListView::Plain, true, false), &n),
        LN_ONE
    );
}

/// The reference's fwmark service, rebuilt as a TCP service on port 80: its flags, mask and tunnel
/// columns are representable even though fwmark services are not.
fn tunnel_service() -> ServiceInfo {
    let mut spec = svc(key(Protocol::Tcp, "10.0.0.100", 80), "sh", Some(600), 24);
    spec.sched_flags = 0x18;
    let t1 = dest("192.168.1.20", 80, FwdMethod::Tunnel, 1);
    let mut t2 = dest("192.168.1.21", 80, FwdMethod::Tunnel, 1);
    t2.tun_type = TunnelType::Gue { port: 6080 };
    t2.tun_csum = TunnelCsum::Csum;
    let mut t3 = dest("192.168.1.22", 80, FwdMethod::Tunnel, 1);
    t3.tun_type = TunnelType::Gre;
    si(spec, vec![di(t1, 0, 0), di(t2, 0, 0), di(t3, 0, 0)])
}

#[test]
fn fwmark_block_rebuilt_on_a_tcp_service() {
    let s = vec![tunnel_service()];
    let n = names();
    let fwm_as_tcp = |block: &str| -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in block.lines() {
            if line.starts_with("FWM  100") {
                inside = true;
                out.push_str(&line.replacen("FWM  100", "TCP  10.0.0.100:80", 1));
                out.push('\n');
            } else if inside && line.starts_with("  -> ") {
                // "192.168.1.20:0    " -> "192.168.1.20:80   " (same column width).
                out.push_str(&line.replacen(":0 ", ":80", 1));
                out.push('\n');
            } else {
                inside = false;
            }
        }
        out
    };
    let f = fmt(ListView::TunInfo, true, false);
    let got = format::list(&s, false, &f, &n);
    assert_eq!(
        got.lines().skip(2).collect::<Vec<_>>().join("\n") + "\n",
        fwm_as_tcp(TUNINFO)
    );
    let f = fmt(ListView::Plain, true, false);
    let got = format::list(&s, false, &f, &n);
    assert_eq!(
        got.lines().skip(2).collect::<Vec<_>>().join("\n") + "\n",
        fwm_as_tcp(LN)
    );
    assert_eq!(
        format::save(&s, true, &n),
        "-A -t 10.0.0.100:80 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -t 10.0.0.100:80 -r 192.168.1.20:80 -i -w 1 --tun-type ipip
-a -t 10.0.0.100:80 -r 192.168.1.21:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-a -t 10.0.0.100:80 -r 192.168.1.22:80 -i -w 1 --tun-type gre --tun-nocsum
"
    );
}

const SAVE_N: &str = "-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 1
-a -t 10.0.0.1:80 -r 192.168.1.3:8080 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.1.10:80 -g -w 0
-A -t 10.0.0.1:443 -s wlc -p 360
-a -t 10.0.0.1:443 -r 192.168.1.2:443 -g -w 1
-A -u 10.0.0.53:53 -s wrr -o
-a -u 10.0.0.53:53 -r 192.168.1.2:53 -m -w 2
-A --sctp-service 10.0.0.9:3868 -s mh -b mh-port
-a --sctp-service 10.0.0.9:3868 -r 192.168.1.30:3868 -m -w 1
-A -t [2001:db8::1]:80 -s lc -p 120 -M 64
-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m -w 5
-A -f 100 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -f 100 -r 192.168.1.20:0 -i -w 1 --tun-type ipip
-a -f 100 -r 192.168.1.21:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-a -f 100 -r 192.168.1.22:0 -i -w 1 --tun-type gre --tun-nocsum
";

const SAVE: &str = "-A -t 10.0.0.1:http -s rr
-a -t 10.0.0.1:http -r 192.168.1.2:http -m -w 1
-a -t 10.0.0.1:http -r 192.168.1.3:http-alt -m -w 3
-a -t 10.0.0.1:http -r 192.168.1.10:http -g -w 0
-A -t 10.0.0.1:https -s wlc -p 360
-a -t 10.0.0.1:https -r 192.168.1.2:https -g -w 1
-A -u 10.0.0.53:domain -s wrr -o
-a -u 10.0.0.53:domain -r 192.168.1.2:domain -m -w 2
-A --sctp-service 10.0.0.9:3868 -s mh -b mh-port
-a --sctp-service 10.0.0.9:3868 -r 192.168.1.30:3868 -m -w 1
-A -t [2001:db8::1]:http -s lc -p 120 -M 64
-a -t [2001:db8::1]:http -r [2001:db8::10]:http -m -w 5
-A -f 100 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -f 100 -r 192.168.1.20:0 -i -w 1 --tun-type ipip
-a -f 100 -r 192.168.1.21:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-a -f 100 -r 192.168.1.22:0 -i -w 1 --tun-type gre --tun-nocsum
";

fn without_sctp_fwm_rules(block: &str) -> String {
    block
        .lines()
        .filter(|l| !l.contains("--sctp-service") && !l.contains(" -f 100"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn save_matches_the_reference_and_restores_to_the_same_requests() {
    let s = example_in_insertion_order();
    let n = names();
    assert_eq!(format::save(&s, true, &n), without_sctp_fwm_rules(SAVE_N));
    assert_eq!(format::save(&s, false, &n), without_sctp_fwm_rules(SAVE));
    // Every saved line parses back to the entry it came from (thresholds are not saved, as ipvsadm).
    for text in [format::save(&s, true, &n), format::save(&s, false, &n)] {
        for line in text.lines() {
            let r = req(line);
            let found = s.iter().any(|svc| match &r {
                Request::AddService(spec) => *spec == svc.spec,
                Request::AddDest(k, d) => {
                    *k == svc.spec.key
                        && svc.dests.iter().any(|x| {
                            let mut want = x.spec.clone();
                            want.u_threshold = 0;
                            want.l_threshold = 0;
                            *d == want
                        })
                }
                _ => false,
            });
            assert!(found, "{line}");
        }
    }
}

#[test]
fn save_and_list_fullnat_with_local_addresses() {
    let k = key(Protocol::Tcp, "10.10.0.100", 8990);
    let mut s = si(
        svc(k, "rr", None, 32),
        vec![di(dest("10.10.1.2", 8998, FwdMethod::FullNat, 1), 1, 0)],
    );
    s.laddrs = vec![ip("10.10.9.1"), ip("10.10.9.2")];
    let n = names();
    let text = format::save(&[s.clone()], true, &n);
    assert_eq!(
        text,
        "-A -t 10.10.0.100:8990 -s rr
-a -t 10.10.0.100:8990 -r 10.10.1.2:8998 --fullnat -w 1
--add-laddr -z 10.10.9.1 -t 10.10.0.100:8990
--add-laddr -z 10.10.9.2 -t 10.10.0.100:8990
"
    );
    for line in text.lines() {
        assert!(matches!(ok(line), Command::Apply(_)), "{line}");
    }
    assert_eq!(
        format::list(&[s], false, &fmt(ListView::Plain, true, false), &n),
        "Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.10.0.100:8990 rr
  -> 10.10.1.2:8998               FullNat 1      1          0         
"
    );
}

#[test]
fn suffix_boundaries() {
    let k = key(Protocol::Tcp, "10.0.0.1", 80);
    let mut d1 = di(dest("192.168.1.2", 80, FwdMethod::Masq, 1), 0, 0);
    d1.stats = ts([
        100000000000,
        99999999999999,
        100000000000000,
        12345678901234567,
        18446744073709551615,
    ]);
    d1.rates = rs([100000000, 99999999, 1000000000, 99999999, 100000000]);
    let mut d2 = di(dest("192.168.1.3", 80, FwdMethod::Masq, 1), 0, 0);
    d2.stats = ts([1, 22, 333, 4444, 55555]);
    d2.rates = rs([1, 22, 333, 4444, 55555]);
    let mut s = si(svc(k, "rr", None, 32), vec![d1, d2]);
    s.stats = ts([99999999, 100000000, 999999999, 1000000000, 99999999999]);
    s.rates = rs([250, 123456789, 100000000, 5000000000, 123456789012345]);
    let s = vec![s];
    let n = names();
    let head_stats = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
";
    let head_rate = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
";
    assert_eq!(
        format::list(&s, true, &fmt(ListView::Stats, true, false), &n),
        format!("{head_stats}TCP  10.0.0.1:80                  99999999  100000K  999999K    1000M   99999M
  -> 192.168.1.2:80                   100G   99999G     100T   12345T18446744T
  -> 192.168.1.3:80                      1       22      333     4444    55555
")
    );
    assert_eq!(
        format::list(&s, true, &fmt(ListView::Stats, true, true), &n),
        format!("{head_stats}TCP  10.0.0.1:80                  99999999 100000000 999999999 1000000000 99999999999
  -> 192.168.1.2:80               100000000000 99999999999999 100000000000000 12345678901234567 18446744073709551615
  -> 192.168.1.3:80                      1       22      333     4444    55555
")
    );
    assert_eq!(
        format::list(&s, true, &fmt(ListView::Rate, true, false), &n),
        format!("{head_rate}TCP  10.0.0.1:80                       250  123456K  100000K    5000M     123T
  -> 192.168.1.2:80               100000000 99999999 1000000000 99999999  100000K
  -> 192.168.1.3:80                      1       22      333     4444    55555
")
    );
    assert_eq!(
        format::list(&s, true, &fmt(ListView::Rate, true, true), &n),
        format!("{head_rate}TCP  10.0.0.1:80                       250 123456789 100000000 5000000000 123456789012345
  -> 192.168.1.2:80               100000000 99999999 1000000000 99999999 100000000
  -> 192.168.1.3:80                      1       22      333     4444    55555
")
    );
}

#[test]
fn sorting_quirk_and_nosort() {
    let a = si(
        svc(key(Protocol::Tcp, "1.0.0.1", 80), "rr", None, 32),
        vec![],
    );
    let b = si(
        svc(key(Protocol::Tcp, "200.0.0.1", 80), "rr", None, 32),
        vec![],
    );
    let n = names();
    let f = fmt(ListView::Plain, true, false);
    let out = format::list(&[a.clone(), b.clone()], true, &f, &n);
    let first = out.lines().nth(3).unwrap();
    assert_eq!(first, "TCP  200.0.0.1:80 rr");
    let d1 = di(dest("10.0.0.1", 80, FwdMethod::Masq, 1), 0, 0);
    let d2 = di(dest("192.168.0.1", 80, FwdMethod::Masq, 1), 0, 0);
    let c = si(
        svc(key(Protocol::Tcp, "10.1.1.1", 80), "rr", None, 32),
        vec![d1, d2],
    );
    let out = format::list(std::slice::from_ref(&c), true, &f, &n);
    assert!(
        out.lines()
            .nth(4)
            .unwrap()
            .starts_with("  -> 192.168.0.1:80"),
        "{out}"
    );
    // --nosort keeps the daemon's order.
    let mut f2 = f;
    f2.nosort = true;
    let out = format::list(&[a, b], true, &f2, &n);
    assert_eq!(out.lines().nth(3).unwrap(), "TCP  1.0.0.1:80 rr");
    let out = format::list(&[c], true, &f2, &n);
    assert!(
        out.lines().nth(4).unwrap().starts_with("  -> 10.0.0.1:80"),
        "{out}"
    );
}

#[test]
fn long_names_are_cut_like_ipvsadm() {
    let n = NameDb::from_strs(
        "10.0.0.1 a-very-long-virtual-host-name.example.org\n192.168.1.2 a-very-long-real-server-name.example.org\n",
        "http 80/tcp\n",
    );
    let k = key(Protocol::Tcp, "10.0.0.1", 80);
    let s = si(
        svc(k, "rr", None, 32),
        vec![di(dest("192.168.1.2", 80, FwdMethod::Masq, 1), 0, 0)],
    );
    let out = format::list(&[s], false, &fmt(ListView::Plain, false, false), &n);
    let lines: Vec<&str> = out.lines().collect();
    // svc_name[33] = 0: "TCP  " + 28 characters.
    assert_eq!(lines[2], "TCP  a-very-long-virtual-host-nam rr");
    // dname[28] = 0.
    assert_eq!(
        lines[3],
        "  -> a-very-long-real-server-name Masq    1      0          0         "
    );
    // `[v6]` needs a port in ipvsadm's parser.
    assert_eq!(
        err("-a -t 10.0.0.1:80 -r [2001:db8::5] -i").0,
        "illegal real server address[:port] specified"
    );
}

fn conns_example() -> Vec<ConnInfo> {
    let c = |proto, e: u32, st: &str, cl: (&str, u16), v: (&str, u16), d: (&str, u16)| ConnInfo {
        proto,
        expires_s: e,
        state: st.into(),
        client: (ip(cl.0), cl.1),
        virt: (ip(v.0), v.1),
        dest: (ip(d.0), d.1),
        local: None,
        lcore: 1,
    };
    use Protocol::*;
    vec![
        c(
            Tcp,
            897,
            "ESTABLISHED",
            ("192.168.10.5", 54321),
            ("10.0.0.1", 80),
            ("192.168.1.2", 80),
        ),
        c(
            Tcp,
            62,
            "FIN_WAIT",
            ("192.168.10.6", 57842),
            ("10.0.0.1", 80),
            ("192.168.1.3", 8080),
        ),
        c(
            Tcp,
            41,
            "TIME_WAIT",
            ("192.168.10.7", 40000),
            ("10.0.0.1", 80),
            ("192.168.1.2", 80),
        ),
        c(
            Tcp,
            59,
            "SYN_RECV",
            ("192.168.10.8", 50000),
            ("10.0.0.1", 80),
            ("192.168.1.3", 8080),
        ),
        c(
            Tcp,
            283,
            "NONE",
            ("192.168.10.9", 0),
            ("10.0.0.1", 443),
            ("192.168.1.2", 443),
        ),
        c(
            Udp,
            299,
            "UDP",
            ("192.168.10.5", 36668),
            ("10.0.0.53", 53),
            ("192.168.1.2", 53),
        ),
        c(
            Tcp,
            899,
            "ESTABLISHED",
            ("2001:db8::99", 54321),
            ("2001:db8::1", 80),
            ("2001:db8::10", 80),
        ),
    ]
}

#[test]
fn connection_listings_match_the_reference() {
    let n = names();
    let c = conns_example();
    assert_eq!(
        format::conns(&c, true, false, &n),
        "IPVS connection entries
pro expire state       source             virtual            destination
TCP 14:57  ESTABLISHED 192.168.10.5:54321 10.0.0.1:80        192.168.1.2:80
TCP 01:02  FIN_WAIT    192.168.10.6:57842 10.0.0.1:80        192.168.1.3:8080
TCP 00:41  TIME_WAIT   192.168.10.7:40000 10.0.0.1:80        192.168.1.2:80
TCP 00:59  SYN_RECV    192.168.10.8:50000 10.0.0.1:80        192.168.1.3:8080
TCP 04:43  NONE        192.168.10.9:0     10.0.0.1:443       192.168.1.2:443
UDP 04:59  UDP         192.168.10.5:36668 10.0.0.53:53       192.168.1.2:53
TCP 14:59  ESTABLISHED [2001:db8::99]:54321 [2001:db8::1]:80   [2001:db8::10]:80
"
    );
    assert_eq!(
        format::conns(&c, false, false, &n),
        "IPVS connection entries
pro expire state       source             virtual            destination
TCP 14:57  ESTABLISHED 192.168.10.5:54321 10.0.0.1:http      192.168.1.2:http
TCP 01:02  FIN_WAIT    192.168.10.6:57842 10.0.0.1:http      192.168.1.3:http-alt
TCP 00:41  TIME_WAIT   192.168.10.7:40000 10.0.0.1:http      192.168.1.2:http
TCP 00:59  SYN_RECV    192.168.10.8:50000 10.0.0.1:http      192.168.1.3:http-alt
TCP 04:43  NONE        192.168.10.9:0     10.0.0.1:https     192.168.1.2:https
UDP 04:59  UDP         192.168.10.5:36668 10.0.0.53:domain   192.168.1.2:domain
TCP 14:59  ESTABLISHED [2001:db8::99]:54321 [2001:db8::1]:http [2001:db8::10]:http
"
    );
    assert_eq!(
        format::conns(&c, true, true, &n),
        "IPVS connection entries
pro expire state       source             virtual            destination        pe name          pe_data
TCP 14:57  ESTABLISHED 192.168.10.5:54321 10.0.0.1:80        192.168.1.2:80
TCP 01:02  FIN_WAIT    192.168.10.6:57842 10.0.0.1:80        192.168.1.3:8080
TCP 00:41  TIME_WAIT   192.168.10.7:40000 10.0.0.1:80        192.168.1.2:80
TCP 00:59  SYN_RECV    192.168.10.8:50000 10.0.0.1:80        192.168.1.3:8080
TCP 04:43  NONE        192.168.10.9:0     10.0.0.1:443       192.168.1.2:443
UDP 04:59  UDP         192.168.10.5:36668 10.0.0.53:53       192.168.1.2:53
TCP 14:59  ESTABLISHED [2001:db8::99]:54321 [2001:db8::1]:80   [2001:db8::10]:80
"
    );
}

#[test]
fn timeouts_laddrs_dpstats_help_version() {
    assert_eq!(
        format::timeouts(&Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }),
        "Timeout (tcp tcpfin udp): 900 120 300\n"
    );
    let k = key(Protocol::Tcp, "10.10.0.100", 8990);
    let l = vec![
        LaddrInfo {
            service: k,
            addr: ip("10.10.9.1"),
            conns: 3,
        },
        LaddrInfo {
            service: k,
            addr: ip("10.10.9.2"),
            conns: 0,
        },
    ];
    assert_eq!(
        format::laddrs(&l, true, &names()),
        "VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS
10.10.0.100:8990     2        10.10.9.1            0          3
10.10.0.100:8990     2        10.10.9.2            0          0
"
    );
    let st = DataplaneStats {
        lcores: vec![
            LcoreStats {
                lcore: 1,
                counters: vec![
                    Counter {
                        name: "rx_packets".into(),
                        value: 10,
                    },
                    Counter {
                        name: "drop.no_route".into(),
                        value: 0,
                    },
                ],
            },
            LcoreStats {
                lcore: 2,
                counters: vec![Counter {
                    name: "rx_packets".into(),
                    value: 7,
                }],
            },
        ],
        ports: vec![Counter {
            name: "port0.rx_packets".into(),
            value: 17,
        }],
    };
    assert_eq!(
        format::dp_stats(&st),
        "lcore 1 rx_packets 10\nlcore 1 drop.no_route 0\nlcore 2 rx_packets 7\nport port0.rx_packets 17\n"
    );
    let h = format::help("/usr/sbin/ipvsadm");
    assert!(h.starts_with("ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\nUsage:\n  /usr/sbin/ipvsadm -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n"));
    assert!(h.contains(
        "  /usr/sbin/ipvsadm -h\n\nCommands:\nEither long or short options are allowed.\n"
    ));
    assert!(h.ends_with("  --mcast-ttl ttl                     Multicast TTL (default=1)\n"));
    assert_eq!(h.lines().count(), 82);
    assert_eq!(
        format::VERSION,
        "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n"
    );
}

#[test]
fn largenum_boundaries() {
    assert_eq!(format::largenum(99_999_999, false), " 99999999");
    assert_eq!(format::largenum(100_000_000, false), "  100000K");
    assert_eq!(format::largenum(999_999_999, false), "  999999K");
    assert_eq!(format::largenum(1_000_000_000, false), "    1000M");
    assert_eq!(format::largenum(99_999_999_999, false), "   99999M");
    assert_eq!(format::largenum(100_000_000_000, false), "     100G");
    assert_eq!(format::largenum(u64::MAX, false), "18446744T");
    assert_eq!(format::largenum(12345678, true), " 12345678");
    assert_eq!(format::largenum(123456789, true), " 123456789");
}

// ---------------------------------------------------------------------------------------------
// Restore.

/// Records requests; refuses the ones `refuse` says.
struct Fake {
    sent: Vec<Request>,
    batches: usize,
    refuse: fn(&Request) -> Option<ApiError>,
}

impl Transport for Fake {
    /// A `Batch` is recorded as its requests (plus one `batches` mark) and answered per request.
    fn call(&mut self, req: &Request) -> Result<Reply, ClientError> {
        if let Request::Batch(reqs) = req {
            self.batches += 1;
            let results = reqs
                .iter()
                .map(|r| {
                    self.sent.push(r.clone());
                    (self.refuse)(r).map_or(Ok(()), Err)
                })
                .collect();
            return Ok(Ok(Response::Batch(results)));
        }
        self.sent.push(req.clone());
        Ok(match (self.refuse)(req) {
            Some(e) => Err(e),
            None => Ok(Response::Ok),
        })
    }
}

fn run_restore(
    input: &str,
    refuse: fn(&Request) -> Option<ApiError>,
) -> (i32, Vec<Request>, String, String) {
    let mut t = Fake {
        sent: vec![],
        batches: 0,
        refuse,
    };
    let (mut out, mut errb) = (Vec::new(), Vec::new());
    let n = names();
    let code = {
        let mut io = Io {
            prog: "ipvsadm",
            out: &mut out,
            err: &mut errb,
            names: &n,
        };
        let mut input = std::io::Cursor::new(input.as_bytes().to_vec());
        restore(&mut input, &mut t, &mut io)
    };
    (
        code,
        t.sent,
        String::from_utf8(out).unwrap(),
        String::from_utf8(errb).unwrap(),
    )
}

#[test]
fn restore_skips_blanks_and_comments_drops_ipvsadm_and_continues_after_refusals() {
    let input = "# rules\n\n   \n-A -t 10.0.0.1:80 -s rr\nipvsadm -a -t 10.0.0.1:80 -r 192.168.1.2 -m # trailing\n  # indented comment\n-a -t 10.0.0.1:80 -r 192.168.1.2 -m\n-a -t 10.0.0.1:80 -r 192.168.1.3 -m\n";
    let dup = |r: &Request| match r {
        Request::AddDest(_, d) if d.addr == "192.168.1.2".parse::<IpAddr>().unwrap() => {
            Some(ApiError::DestExists)
        }
        _ => None,
    };
    // Every AddDest of .2 is refused in this fake: both are sent, the restore continues.
    let (code, sent, out, err) = run_restore(input, dup);
    assert_eq!(sent.len(), 4);
    assert_eq!(code, 0, "last line succeeded");
    assert_eq!(out, "");
    assert_eq!(
        err,
        "Destination already exists\nDestination already exists\n"
    );
    // The status is the last line's.
    let (code, sent, _, _) =
        run_restore("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 192.168.1.2\n", dup);
    assert_eq!((code, sent.len()), (255, 2));
}

#[test]
fn restore_parse_error_reports_the_line_and_stops() {
    let input = "-A -t 10.0.0.1:80\n\n-a -t 10.0.0.1:80 -r 1.2.3.4:99999\n-C\n";
    let (code, sent, _, err) = run_restore(input, |_| None);
    assert_eq!(code, 2);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        err,
        "line 3: illegal real server address[:port] specified\n"
    );
    // A line that is only `ipvsadm`, or `-R`, is `Try ...` (255), as ipvsadm.
    let (code, _, _, err) = run_restore("ipvsadm\n", |_| None);
    assert_eq!(code, 255);
    assert_eq!(
        err,
        "line 1: Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"
    );
    let (code, _, _, _) = run_restore("-R\n", |_| None);
    assert_eq!(code, 255);
}

#[test]
fn restore_can_list() {
    let (code, sent, out, _) = run_restore("-L --timeout\n", |_| None);
    // The fake answers Ok to GetTimeouts, which is not a Timeouts answer: a listing failure.
    assert_eq!((code, sent.len(), out.as_str()), (1, 1, ""));
}

#[test]
fn c_number_and_address_parsers() {
    use super::parse::{inet_aton, string_to_number};
    assert_eq!(string_to_number(" +5", 0, 10), Some(5));
    assert_eq!(string_to_number("5x", 0, 10), None);
    assert_eq!(string_to_number("", 0, 10), None);
    assert_eq!(string_to_number("-1", 0, 10), None);
    assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
    let a = |s: &str| inet_aton(s).map(|x| x.to_string());
    assert_eq!(a("10.0.0.1").as_deref(), Some("10.0.0.1"));
    assert_eq!(a("10.1").as_deref(), Some("10.0.0.1"));
    assert_eq!(a("127.1").as_deref(), Some("127.0.0.1"));
    assert_eq!(a("0x0a.010.0.1").as_deref(), Some("10.8.0.1"));
    assert_eq!(a("167772161").as_deref(), Some("10.0.0.1"));
    assert_eq!(a("300.1.1.1"), None);
    assert_eq!(a("1.2.3.256"), None);
    assert_eq!(a("1.2.3.4.5"), None);
    assert_eq!(a("1..2"), None);
    assert_eq!(a("08.1.1.1"), None);
    assert_eq!(a("host"), None);
}

#[test]
fn restore_batches_rule_lines_and_reports_refusals_in_order() {
    // 2500 rule lines: three batches (1000, 1000, 500), every request in input order.
    let mut input = String::new();
    for i in 0..2500u32 {
        input.push_str(&format!("-A -t 10.{}.{}.1:80 -s rr\n", i / 256, i % 256));
    }
    let mut t = Fake {
        sent: vec![],
        batches: 0,
        refuse: |_| None,
    };
    let (mut out, mut errb) = (Vec::new(), Vec::new());
    let n = names();
    let code = {
        let mut io = Io {
            prog: "ipvsadm",
            out: &mut out,
            err: &mut errb,
            names: &n,
        };
        restore(
            &mut std::io::Cursor::new(input.into_bytes()),
            &mut t,
            &mut io,
        )
    };
    assert_eq!((code, t.sent.len(), t.batches), (0, 2500, 3));
    assert!(
        matches!(&t.sent[1234], Request::AddService(s) if s.key.addr == "10.4.210.1".parse::<IpAddr>().unwrap())
    );

    // A refusal in the middle of a batch is printed and the batch goes on; a listing line ends the
    // batch before it; a parse error sends what came before it, then stops with its line number.
    let refuse_2 = |r: &Request| match r {
        Request::AddService(s) if s.key.port == 2 => Some(ApiError::ServiceExists),
        _ => None,
    };
    let (code, sent, _, err) = run_restore(
        "-A -t 10.0.0.1:1\n-A -t 10.0.0.1:2\n-A -t 10.0.0.1:3\n-L --timeout\n-A -t 10.0.0.1:4\n-A -t 10.0.0.1:2\n-A -t 10.0.0.1:99999\n-A -t 10.0.0.1:5\n",
        refuse_2,
    );
    assert_eq!(code, 2);
    assert_eq!(
        sent.len(),
        6,
        "3 rules, the listing, 2 rules; nothing after the bad line"
    );
    assert_eq!(
        err,
        "Service already exists\nunexpected answer from rvsd: Ok\nService already exists\nline 7: illegal virtual server address[:port] specified\n"
    );
    // The status is the last line's, inside a batch too.
    let (code, _, _, _) = run_restore("-A -t 10.0.0.1:1\n-A -t 10.0.0.1:2\n", refuse_2);
    assert_eq!(code, 255);
    let (code, _, _, _) = run_restore("-A -t 10.0.0.1:2\n-A -t 10.0.0.1:1\n", refuse_2);
    assert_eq!(code, 0);
}

#[test]
fn show_options_parse_and_format() {
    use super::ShowWhat;
    for (opt, what, req) in [
        ("--show-links", ShowWhat::Links, Request::GetPorts),
        ("--show-addrs", ShowWhat::Addrs, Request::GetAddrs),
        ("--show-routes", ShowWhat::Routes, Request::GetRoutes),
        ("--show-neigh", ShowWhat::Neighbours, Request::GetNeighbours),
        (
            "--show-laddr-pools",
            ShowWhat::LaddrPools,
            Request::GetLaddrPools,
        ),
    ] {
        let cmd = parse_args(&[opt.to_string()]).unwrap();
        assert_eq!(cmd, Command::Show(what));
        assert_eq!(cmd.request(), Some(req));
        let e = parse_args(&[opt.to_string(), "-n".into()]).unwrap_err();
        assert_eq!(
            (e.message, e.code),
            (
                format!("Illegal 'numeric' option with the '{}' command", &opt[2..]),
                2
            )
        );
    }
    let links = format::links(&[PortInfo {
        index: 0,
        name: "client".into(),
        device: "net_tap0,iface=x".into(),
        mac: "02:00:00:00:00:10".into(),
        mtu: 1500,
        link_up: true,
        speed_mbps: 10000,
        counters: vec![
            Counter {
                name: "rx_packets".into(),
                value: 5,
            },
            Counter {
                name: "tx_packets".into(),
                value: 6,
            },
        ],
        lcores: vec![PortLcoreStats {
            lcore: 1,
            rx_packets: 5,
            tx_packets: 6,
            tx_dropped: 0,
        }],
    }]);
    assert_eq!(
        links,
        "port 0 client: link up speed 10000 mtu 1500 mac 02:00:00:00:00:10 device net_tap0,iface=x\n  rx_packets 5 tx_packets 6\n  lcore 1 rx_packets 5 tx_packets 6 tx_dropped 0\n"
    );
    let a = format::addrs(&[AddrInfo {
        addr: "10.10.0.100".parse().unwrap(),
        prefix: 32,
        kind: "vip".into(),
        port: "client".into(),
    }]);
    assert_eq!(a, "10.10.0.100/32     vip   client\n");
    let r = format::routes(&[
        RouteInfo {
            dest: "10.10.0.0".parse().unwrap(),
            prefix: 24,
            via: None,
            port: "client".into(),
            kind: "connected".into(),
        },
        RouteInfo {
            dest: "10.20.0.0".parse().unwrap(),
            prefix: 16,
            via: Some("10.10.1.254".parse().unwrap()),
            port: "rs1".into(),
            kind: "static".into(),
        },
    ]);
    assert_eq!(
        r,
        "10.10.0.0/24 dev client connected\n10.20.0.0/16 via 10.10.1.254 dev rs1 static\n"
    );
    let n = format::neighbours(&[NeighInfo {
        addr: "10.10.0.2".parse().unwrap(),
        mac: "02:00:00:00:00:02".into(),
        port: "client".into(),
        state: "REACHABLE".into(),
        lcore: 2,
    }]);
    assert_eq!(
        n,
        "10.10.0.2 dev client lladdr 02:00:00:00:00:02 REACHABLE lcore 2\n"
    );
    let p = format::laddr_pools(&[LaddrPoolInfo {
        addr: "10.10.9.1".parse().unwrap(),
        lcore: 1,
        free_ports: 32255,
        used_ports: 1,
    }]);
    assert_eq!(
        p,
        "LADDR            LCORE  FREE     USED\n10.10.9.1        1      32255    1\n"
    );
}

#[test]
fn access_control_commands() {
    let k = ServiceKey {
        proto: Protocol::Udp,
        addr: ip("10.10.0.100"),
        port: 9000,
    };
    let a = |action, addr: &str, prefix| AclSpec {
        action,
        addr: ip(addr),
        prefix,
    };
    assert_eq!(
        req("--add-acl -u 10.10.0.100:9000 --allow 10.10.0.0/24"),
        Request::AddAcl(k, a(AclAction::Allow, "10.10.0.0", 24))
    );
    assert_eq!(
        req("--del-acl --deny=10.10.0.66 -u 10.10.0.100:9000"),
        Request::DelAcl(k, a(AclAction::Deny, "10.10.0.66", 32))
    );
    assert_eq!(
        req("--add-acl -u 10.10.0.100:9000 --deny 0.0.0.0/0"),
        Request::AddAcl(k, a(AclAction::Deny, "0.0.0.0", 0))
    );
    assert_eq!(
        req("--conn-limit 5000 -u 10.10.0.100:9000"),
        Request::SetConnLimit(k, 5000)
    );
    assert_eq!(
        ok("--get-acl"),
        Command::GetAcls {
            service: None,
            numeric: false
        }
    );
    for (line, msg) in [
        (
            "--add-acl --allow 10.0.0.0/8",
            "You need to supply the 'service-address' option for the 'add-acl' command",
        ),
        (
            "--add-acl -t 1.2.3.4:80 --allow 10.0.0.1/8",
            "illegal ACL prefix specified",
        ),
        (
            "--add-acl -t 1.2.3.4:80 --allow 10.0.0.0/33",
            "illegal ACL prefix specified",
        ),
        (
            "--add-acl -t 1.2.3.4:80 --allow 10.0.0.0/",
            "illegal ACL prefix specified",
        ),
        (
            "--add-acl -t 1.2.3.4:80 --allow x",
            "illegal ACL prefix specified",
        ),
        (
            "--add-acl -t 1.2.3.4:80 -r 10.0.0.1 --deny 10.0.0.0/8",
            "Illegal 'real-server' option with the 'add-acl' command",
        ),
        (
            "-A -t 1.2.3.4:80 --allow 10.0.0.0/8",
            "Illegal 'allow' option with the 'add-service' command",
        ),
        (
            "--conn-limit -1 -t 1.2.3.4:80",
            "illegal connection limit specified",
        ),
        (
            "--conn-limit 5",
            "You need to supply the 'service-address' option for the 'conn-limit' command",
        ),
    ] {
        assert_eq!(err(line), (msg.to_string(), 2), "{line}");
    }
}
