//! rvs-config behaviour: the example files load, defaults are filled, every error kind has its exact message,
//! key and line:column.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use rvs_config::{
    from_str, load, ErrorKind, Ipv4Net, NeighbourConfig, RouteConfig, RuleLine, MAX_NEIGHBOURS,
};

/// Two ports, one worker: the smallest interesting valid config. Lines:
/// 1 [dataplane] / 2 workers / 3 [[port]] / 4 name / 5 device / 6 address / 7 [[port]] / 8 name / 9 device /
/// 10 address
const BASE: &str = r#"[dataplane]
workers = [1]
[[port]]
name = "client"
device = "net_tap0,iface=c"
address = ["10.10.0.1/24"]
[[port]]
name = "rs1"
device = "0000:00:08.0"
address = ["10.10.1.1/24", "10.10.1.9/24"]
"#;

/// The error message for `text` (which must fail).
fn err(text: &str) -> String {
    from_str(text, "rvsd.toml")
        .expect_err("config should be rejected")
        .to_string()
}

/// BASE with `extra` appended.
fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

#[test]
fn minimal_config_gets_defaults() {
    let cfg = from_str(BASE, "rvsd.toml").unwrap();
    assert!(cfg.eal.args.is_empty());
    assert_eq!(cfg.dataplane.workers, vec![1]);
    assert_eq!(cfg.dataplane.idle_backoff_us, 0);
    assert_eq!(cfg.dataplane.mbufs, 16383);
    assert_eq!(cfg.dataplane.max_sessions, 1 << 20);
    assert_eq!(cfg.control.socket, None);
    assert_eq!(cfg.ports.len(), 2);
    assert_eq!(cfg.ports[0].name, "client");
    assert_eq!(cfg.ports[0].mtu, 1500);
    assert_eq!(
        cfg.ports[1].addresses,
        vec![net("10.10.1.1/24"), net("10.10.1.9/24")]
    );
    assert!(cfg.routes.is_empty());
    assert!(cfg.services.rules.is_empty());
    assert_eq!(cfg.port_index("rs1"), Some(1));
    assert_eq!(cfg.port_index("rs9"), None);
    assert_eq!(
        cfg.eal_args(),
        ["rvsd", "--vdev", "net_tap0,iface=c", "-a", "0000:00:08.0"]
    );
}

#[test]
fn lab_example_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lab.toml");
    let cfg = load(&path).unwrap();
    assert_eq!(cfg.dataplane.workers, vec![1, 2]);
    assert_eq!(cfg.dataplane.idle_backoff_us, 50);
    assert_eq!(cfg.dataplane.mbufs, 16383);
    assert_eq!(cfg.dataplane.max_sessions, 1_048_576);
    assert_eq!(
        cfg.control.socket,
        Some(PathBuf::from("/run/rvs/rvsd.sock"))
    );
    let names: Vec<&str> = cfg.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["client", "rs1", "rs2"]);
    assert_eq!(cfg.ports[2].addresses, vec![net("10.10.2.1/24")]);
    assert_eq!(
        cfg.routes,
        vec![RouteConfig {
            dest: net("10.20.0.0/16"),
            via: Some(Ipv4Addr::new(10, 10, 1, 254)),
            port: 1,
        }]
    );
    let rules: Vec<&str> = cfg.services.rules.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        rules,
        [
            "-A -t 10.10.0.100:8990 -s rr",
            "-a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m",
            "-a -t 10.10.0.100:8990 -r 10.10.2.2:8999 -m",
        ]
    );
    assert_eq!(cfg.services.rules[0].line, 47);
    assert_eq!(
        cfg.eal_args(),
        [
            "rvsd",
            "--no-huge",
            "-m",
            "512",
            "--no-pci",
            "--file-prefix",
            "rvs-lab",
            "--lcores",
            "0@0,1@0,2@1",
            "--vdev",
            "net_tap0,iface=rvsc",
            "--vdev",
            "net_tap1,iface=rvs1",
            "--vdev",
            "net_tap2,iface=rvs2",
        ]
    );
}

#[test]
fn socket_precedence() {
    use std::ffi::OsStr;
    let mut cfg = from_str(BASE, "rvsd.toml").unwrap();
    assert_eq!(
        cfg.resolve_socket(None, None),
        PathBuf::from("/run/rvs/rvsd.sock")
    );
    cfg.control.socket = Some(PathBuf::from("/tmp/cfg.sock"));
    assert_eq!(
        cfg.resolve_socket(None, None),
        PathBuf::from("/tmp/cfg.sock")
    );
    assert_eq!(
        cfg.resolve_socket(None, Some(OsStr::new(""))),
        PathBuf::from("/tmp/cfg.sock")
    );
    let env = Some(OsStr::new("/tmp/env.sock"));
    assert_eq!(
        cfg.resolve_socket(None, env),
        PathBuf::from("/tmp/env.sock")
    );
    let flag = Path::new("/tmp/flag.sock");
    assert_eq!(
        cfg.resolve_socket(Some(flag), env),
        PathBuf::from("/tmp/flag.sock")
    );
}

#[test]
fn rules_carry_lines_and_rules_file_follows() {
    let dir = std::env::temp_dir().join(format!("rvs-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("more.rules"),
        "# comment\n\n-a -t 10.10.0.100:80 -r 10.10.1.2:80 -m\n",
    )
    .unwrap();
    let text = with("[services]\nrules = [\n  \"-A -t 10.10.0.100:80 -s wrr\",\n]\nrules_file = \"more.rules\"\n");
    let origin = dir.join("rvsd.toml").display().to_string();
    let cfg = from_str(&text, &origin).unwrap();
    let shown = dir.join("more.rules").display().to_string();
    assert_eq!(
        cfg.services.rules,
        vec![
            RuleLine {
                text: "-A -t 10.10.0.100:80 -s wrr".into(),
                origin: origin.clone(),
                line: 13,
            },
            RuleLine {
                text: "-a -t 10.10.0.100:80 -r 10.10.1.2:80 -m".into(),
                origin: shown.clone(),
                line: 3,
            },
        ]
    );
    assert_eq!(
        cfg.services.rules[1].to_string(),
        format!("{shown}:3: -a -t 10.10.0.100:80 -r 10.10.1.2:80 -m")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn io_errors() {
    let e = load("/nonexistent/rvsd.toml").unwrap_err();
    assert_eq!(e.to_string(), "/nonexistent/rvsd.toml: cannot read /nonexistent/rvsd.toml: No such file or directory (os error 2)");
    assert!(matches!(*e.kind, ErrorKind::Io { .. }));
    let e = err(&with("[services]\nrules_file = \"/nonexistent/x.rules\"\n"));
    assert_eq!(
        e,
        "rvsd.toml:12:14: services.rules_file: cannot read /nonexistent/x.rules: No such file or directory (os error 2)"
    );
}

#[test]
fn syntax_and_schema_errors() {
    assert_eq!(
        err("[dataplane\n"),
        "rvsd.toml:1:11: invalid table header; expected `.`, `]`"
    );
    assert_eq!(
        err(&with("mtu = 9000\nspeed = 10\n")),
        "rvsd.toml:12:1: unknown field `speed`, expected one of `name`, `device`, `address`, `mtu`"
    );
    assert_eq!(
        err(&with("[nope]\n")),
        "rvsd.toml:11:2: unknown field `nope`, expected one of `eal`, `dataplane`, `control`, `port`, `route`, `neighbour`, `services`"
    );
    assert_eq!(
        err("[dataplane]\nworkers = [1]\nmbuf = 3\n"),
        "rvsd.toml:3:1: unknown field `mbuf`, expected one of `workers`, `idle_backoff_us`, `mbufs`, `max_sessions`, `synproxy`, `synproxy_threshold`"
    );
    assert_eq!(
        err("[dataplane]\nmbufs = 3\n"),
        "rvsd.toml:1:1: missing field `workers`"
    );
    assert_eq!(
        err("[[port]]\nname = \"a\"\ndevice = \"d\"\naddress = []\n"),
        "rvsd.toml:1:1: missing field `dataplane`"
    );
    assert_eq!(
        err(&BASE.replace("workers = [1]", "workers = [-1]")),
        "rvsd.toml:2:12: invalid value: integer `-1`, expected u32"
    );
    assert_eq!(
        err(&BASE.replace("workers = [1]", "workers = \"1\"")),
        "rvsd.toml:2:11: invalid type: string \"1\", expected a sequence"
    );
    assert_eq!(
        err(&BASE.replace("device = \"0000:00:08.0\"\n", "")),
        "rvsd.toml:7:1: missing field `device`"
    );
}

#[test]
fn dataplane_errors() {
    let dp = |line: &str| err(&BASE.replace("workers = [1]", line));
    assert_eq!(
        dp("workers = []"),
        "rvsd.toml:2:11: dataplane.workers: must not be empty"
    );
    assert_eq!(
        dp("workers = [1, 2, 1]"),
        "rvsd.toml:2:18: dataplane.workers[2]: lcore 1 is already listed at dataplane.workers[0]"
    );
    assert_eq!(
        dp("workers = [1, 128]"),
        "rvsd.toml:2:15: dataplane.workers[1]: 128 is out of range 0..=127"
    );
    assert_eq!(
        dp("workers = [1]\nidle_backoff_us = 2000000"),
        "rvsd.toml:3:19: dataplane.idle_backoff_us: 2000000 is out of range 0..=1000000"
    );
    assert_eq!(
        dp("workers = [1]\nmbufs = 0"),
        "rvsd.toml:3:9: dataplane.mbufs: 0 is out of range 1..=4294967295"
    );
    assert_eq!(
        dp("workers = [1]\nmax_sessions = 0"),
        "rvsd.toml:3:16: dataplane.max_sessions: 0 is out of range 1..=67108864"
    );
    assert_eq!(
        err(&with("[control]\nsocket = \"\"\n")),
        "rvsd.toml:12:10: control.socket: must not be empty"
    );
    assert_eq!(
        err(&with("[control]\nstate_file = \"\"\n")),
        "rvsd.toml:12:14: control.state_file: must not be empty"
    );
    assert_eq!(
        err(&with("[control]\nstate_file = \"rules.state\"\n")),
        "rvsd.toml:12:14: control.state_file: \"rules.state\" is not an absolute file path"
    );
    assert_eq!(
        err(&with("[control]\nstate_file = \"/var/lib/rvs/\"\n")),
        "rvsd.toml:12:14: control.state_file: \"/var/lib/rvs/\" is not an absolute file path"
    );
    let cfg = from_str(
        &with("[control]\nstate_file = \"/var/lib/rvs/rules.state\"\n"),
        "rvsd.toml",
    )
    .unwrap();
    assert_eq!(
        cfg.control.state_file,
        Some(PathBuf::from("/var/lib/rvs/rules.state"))
    );
    assert_eq!(
        from_str(BASE, "rvsd.toml").unwrap().control.state_file,
        None
    );
}

#[test]
fn synproxy_keys() {
    use rvs_config::SynproxyMode;
    let cfg = from_str(BASE, "rvsd.toml").unwrap();
    assert_eq!(cfg.dataplane.synproxy, SynproxyMode::Auto);
    assert_eq!(cfg.dataplane.synproxy_threshold, 1024);
    let dp = |lines: &str| from_str(&BASE.replace("workers = [1]", lines), "rvsd.toml");
    let cfg = dp("workers = [1]\nmax_sessions = 64\nsynproxy = \"on\"").unwrap();
    assert_eq!(cfg.dataplane.synproxy, SynproxyMode::On);
    assert_eq!(
        cfg.dataplane.synproxy_threshold, 16,
        "a quarter of a small table"
    );
    let cfg = dp("workers = [1]\nsynproxy = \"off\"\nsynproxy_threshold = 5").unwrap();
    assert_eq!(
        (cfg.dataplane.synproxy, cfg.dataplane.synproxy_threshold),
        (SynproxyMode::Off, 5)
    );
    let e = |lines: &str| dp(lines).expect_err("rejected").to_string();
    assert_eq!(
        e("workers = [1]\nsynproxy = \"yes\""),
        "rvsd.toml:3:12: unknown variant `yes`, expected one of `off`, `on`, `auto`"
    );
    assert_eq!(
        e("workers = [1]\nmax_sessions = 100\nsynproxy_threshold = 101"),
        "rvsd.toml:4:22: dataplane.synproxy_threshold: 101 is out of range 1..=100"
    );
    assert_eq!(
        e("workers = [1]\nsynproxy_threshold = 0"),
        "rvsd.toml:3:22: dataplane.synproxy_threshold: 0 is out of range 1..=1048576"
    );
}

#[test]
fn port_errors() {
    assert_eq!(
        err("[dataplane]\nworkers = [1]\n"),
        "rvsd.toml: port: at least one [[port]] is required"
    );
    let mut many = String::from("[dataplane]\nworkers = [1]\n");
    for i in 0..33 {
        many.push_str(&format!(
            "[[port]]\nname = \"p{i}\"\ndevice = \"net_null{i}\"\naddress = [\"10.0.{i}.1/24\"]\n"
        ));
    }
    assert_eq!(
        err(&many),
        "rvsd.toml:131:1: port[32]: at most 32 ports are supported"
    );
    assert_eq!(
        err(&BASE.replace("\"rs1\"", "\"\"")),
        "rvsd.toml:8:8: port[1].name: must not be empty"
    );
    assert_eq!(
        err(&BASE.replace("\"rs1\"", "\"rs 1\"")),
        "rvsd.toml:8:8: port[1].name: invalid port name \"rs 1\" (1 to 32 letters, digits, '-' or '_')"
    );
    assert_eq!(
        err(&BASE.replace("\"rs1\"", "\"client\"")),
        "rvsd.toml:8:8: port[1].name: port name \"client\" is already used by port[0]"
    );
    assert_eq!(
        err(&BASE.replace("\"0000:00:08.0\"", "\" \"")),
        "rvsd.toml:9:10: port[1].device: must not be empty"
    );
    assert_eq!(
        err(&BASE.replace("[\"10.10.1.1/24\", \"10.10.1.9/24\"]", "[]")),
        "rvsd.toml:10:11: port[1].address: must not be empty"
    );
    assert_eq!(
        err(&with("mtu = 67\n")),
        "rvsd.toml:11:7: port[1].mtu: 67 is out of range 68..=9600"
    );
    assert_eq!(
        err(&with("mtu = 9601\n")),
        "rvsd.toml:11:7: port[1].mtu: 9601 is out of range 68..=9600"
    );
}

#[test]
fn address_errors() {
    let addr = |a: &str| err(&BASE.replace("\"10.10.1.9/24\"", &format!("\"{a}\"")));
    // port[1].address[1] starts at line 10, column 28.
    assert_eq!(
        addr("10.0.0.300/24"),
        "rvsd.toml:10:28: port[1].address[1]: invalid address \"10.0.0.300/24\""
    );
    assert_eq!(
        addr("10.10.1.9"),
        "rvsd.toml:10:28: port[1].address[1]: invalid address \"10.10.1.9\""
    );
    assert_eq!(
        addr("10.10.1.9/33"),
        "rvsd.toml:10:28: port[1].address[1]: invalid address \"10.10.1.9/33\""
    );
    assert_eq!(
        addr("224.0.0.1/24"),
        "rvsd.toml:10:28: port[1].address[1]: 224.0.0.1 is not a unicast address"
    );
    assert_eq!(
        addr("127.0.0.1/8"),
        "rvsd.toml:10:28: port[1].address[1]: 127.0.0.1 is not a unicast address"
    );
    assert_eq!(
        addr("0.0.0.0/0"),
        "rvsd.toml:10:28: port[1].address[1]: 0.0.0.0 is not a unicast address"
    );
    assert_eq!(
        addr("10.10.1.0/24"),
        "rvsd.toml:10:28: port[1].address[1]: 10.10.1.0 is the network address of its subnet"
    );
    assert_eq!(
        addr("10.10.1.255/24"),
        "rvsd.toml:10:28: port[1].address[1]: 10.10.1.255 is the broadcast address of its subnet"
    );
    assert_eq!(
        addr("10.10.1.1/24"),
        "rvsd.toml:10:28: port[1].address[1]: address 10.10.1.1 is already used by port[1].address[0]"
    );
    assert_eq!(
        addr("10.10.0.1/32"),
        "rvsd.toml:10:28: port[1].address[1]: address 10.10.0.1 is already used by port[0].address[0]"
    );
    assert_eq!(
        addr("10.10.0.7/16"),
        "rvsd.toml:10:28: port[1].address[1]: subnet 10.10.0.0/16 overlaps subnet 10.10.0.0/24 of port[0].address[0]"
    );
    // /31 and /32 have no network or broadcast address; a second subnet on the same port is fine.
    from_str(
        &BASE.replace("\"10.10.1.9/24\"", "\"10.10.5.0/31\", \"10.10.9.1/32\""),
        "rvsd.toml",
    )
    .unwrap();
}

#[test]
fn route_errors() {
    let route = |dest: &str, via: &str, port: &str| {
        err(&with(&format!(
            "[[route]]\ndest = \"10.20.0.0/16\"\nvia = \"10.10.1.254\"\nport = \"rs1\"\n[[route]]\ndest = \"{dest}\"\n{via}port = \"{port}\"\n"
        )))
    };
    // The second route's dest is at 16:8, via at 17:7, port at 18:8 (or 17:8 without via).
    assert_eq!(
        route("10.20.0.0/33", "", "rs1"),
        "rvsd.toml:16:8: route[1].dest: invalid address \"10.20.0.0/33\""
    );
    assert_eq!(
        route("10.30.0.1/16", "", "rs1"),
        "rvsd.toml:16:8: route[1].dest: destination 10.30.0.1/16 has host bits set (did you mean 10.30.0.0/16?)"
    );
    assert_eq!(
        route("10.20.0.0/16", "", "rs1"),
        "rvsd.toml:16:8: route[1].dest: route to 10.20.0.0/16 is already defined by route[0]"
    );
    assert_eq!(
        route("10.30.0.0/16", "", "rs3"),
        "rvsd.toml:17:8: route[1].port: no port named \"rs3\""
    );
    assert_eq!(
        route("10.30.0.0/16", "via = \"10.10.1\"\n", "rs1"),
        "rvsd.toml:17:7: route[1].via: invalid gateway \"10.10.1\""
    );
    assert_eq!(
        route("10.30.0.0/16", "via = \"255.255.255.255\"\n", "rs1"),
        "rvsd.toml:17:7: route[1].via: 255.255.255.255 is not a unicast address"
    );
    assert_eq!(
        route("10.30.0.0/16", "via = \"10.10.1.9\"\n", "rs1"),
        "rvsd.toml:17:7: route[1].via: gateway 10.10.1.9 is an address of this host"
    );
    assert_eq!(
        route("10.30.0.0/16", "via = \"10.10.0.254\"\n", "rs1"),
        "rvsd.toml:17:7: route[1].via: gateway 10.10.0.254 is not on a subnet of port \"rs1\""
    );
    let cfg = from_str(
        &with("[[route]]\ndest = \"0.0.0.0/0\"\nvia = \"10.10.0.254\"\nport = \"client\"\n[[route]]\ndest = \"10.9.0.0/24\"\nport = \"rs1\"\n"),
        "rvsd.toml",
    )
    .unwrap();
    assert_eq!(
        cfg.routes,
        vec![
            RouteConfig {
                dest: net("0.0.0.0/0"),
                via: Some(Ipv4Addr::new(10, 10, 0, 254)),
                port: 0
            },
            RouteConfig {
                dest: net("10.9.0.0/24"),
                via: None,
                port: 1
            },
        ]
    );
}

#[test]
fn services_errors() {
    assert_eq!(
        err(&with("[services]\nrules = [\"-C\", \"  \"]\n")),
        "rvsd.toml:12:16: services.rules[1]: must not be empty"
    );
    assert_eq!(
        err(&with("[services]\nrules_file = \"\"\n")),
        "rvsd.toml:12:14: services.rules_file: must not be empty"
    );
}

#[test]
fn static_neighbours() {
    let cfg = from_str(
        &with(
            "[[neighbour]]\nport = \"rs1\"\nip = \"10.10.1.2\"\nmac = \"02:00:00:00:01:0A\"\n\
             [[neighbour]]\nport = \"client\"\nip = \"10.10.0.2\"\nmac = \"02-00-00-00-00-02\"\n",
        ),
        "rvsd.toml",
    )
    .unwrap();
    assert_eq!(
        cfg.neighbours,
        vec![
            NeighbourConfig {
                port: 1,
                ip: Ipv4Addr::new(10, 10, 1, 2),
                mac: [2, 0, 0, 0, 1, 0x0a],
            },
            NeighbourConfig {
                port: 0,
                ip: Ipv4Addr::new(10, 10, 0, 2),
                mac: [2, 0, 0, 0, 0, 2],
            },
        ]
    );
    assert!(from_str(BASE, "rvsd.toml").unwrap().neighbours.is_empty());
}

#[test]
fn static_neighbour_errors() {
    let n = |port: &str, ip: &str, mac: &str| {
        err(&with(&format!(
            "[[neighbour]]\nport = \"rs1\"\nip = \"10.10.1.2\"\nmac = \"02:00:00:00:01:02\"\n[[neighbour]]\nport = \"{port}\"\nip = \"{ip}\"\nmac = \"{mac}\"\n"
        )))
    };
    // The second neighbour's port is at 16:8, ip at 17:6, mac at 18:7.
    let good_mac = "02:00:00:00:01:03";
    assert_eq!(
        n("rs3", "10.10.1.3", good_mac),
        "rvsd.toml:16:8: neighbour[1].port: no port named \"rs3\""
    );
    assert_eq!(
        n("rs1", "10.10.1", good_mac),
        "rvsd.toml:17:6: neighbour[1].ip: invalid IPv4 address \"10.10.1\""
    );
    assert_eq!(
        n("rs1", "224.0.0.1", good_mac),
        "rvsd.toml:17:6: neighbour[1].ip: 224.0.0.1 is not a unicast address"
    );
    assert_eq!(
        n("rs1", "10.10.1.9", good_mac),
        "rvsd.toml:17:6: neighbour[1].ip: neighbour 10.10.1.9 is an address of this host"
    );
    assert_eq!(
        n("rs1", "10.10.0.2", good_mac),
        "rvsd.toml:17:6: neighbour[1].ip: neighbour 10.10.0.2 is not on a subnet of port \"rs1\""
    );
    assert_eq!(
        n("rs1", "10.10.1.2", good_mac),
        "rvsd.toml:17:6: neighbour[1].ip: neighbour 10.10.1.2 on port \"rs1\" is already defined by neighbour[0]"
    );
    for bad in [
        "02:00:00:00:01",
        "02:00:00:00:01:02:03",
        "02:00:00:00:01:0g",
        "2:00:00:00:01:02",
        "",
    ] {
        assert_eq!(
            n("rs1", "10.10.1.3", bad),
            format!("rvsd.toml:18:7: neighbour[1].mac: invalid MAC address \"{bad}\" (aa:bb:cc:dd:ee:ff)")
        );
    }
    for bad in [
        "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:01",
        "00:00:00:00:00:00",
    ] {
        assert_eq!(
            n("rs1", "10.10.1.3", bad),
            format!("rvsd.toml:18:7: neighbour[1].mac: {bad} is not a unicast MAC address")
        );
    }
    assert_eq!(
        err(&with("[[neighbour]]\nport = \"rs1\"\nip = \"10.10.1.3\"\n")),
        "rvsd.toml:11:1: missing field `mac`"
    );
    // One more than allowed, all distinct, on a /16 port: the extra entry is refused where it starts.
    let head = "[dataplane]\nworkers = [1]\n[[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddress = [\"10.20.0.1/16\"]\n";
    let entry = |i: usize| {
        format!(
            "[[neighbour]]\nport = \"p\"\nip = \"10.20.{}.{}\"\nmac = \"02:00:00:00:01:02\"\n",
            i / 200 + 1,
            i % 200 + 2
        )
    };
    let most: String = (0..MAX_NEIGHBOURS).map(entry).collect();
    assert_eq!(
        from_str(&format!("{head}{most}"), "rvsd.toml")
            .unwrap()
            .neighbours
            .len(),
        MAX_NEIGHBOURS
    );
    assert_eq!(
        err(&format!("{head}{most}{}", entry(MAX_NEIGHBOURS))),
        format!(
            "rvsd.toml:{}:1: neighbour[{MAX_NEIGHBOURS}]: at most {MAX_NEIGHBOURS} static neighbours are supported",
            6 + 4 * MAX_NEIGHBOURS + 1
        )
    );
}
