//! Replays every saved fuzz input under `dataplane/fuzz/regressions/<target>/` through the same code
//! the cargo-fuzz target runs: the pipeline driver (tests/fuzz_driver) for `pipeline`, the target
//! bodies in tests/fuzz_bodies for `wire`, `control_frame` and `config` (each fuzz target is a thin
//! `#[path]` include of its body, so the replay cannot drift from the target). A crash found once
//! stays fixed: drop the crash file (from `dataplane/fuzz/artifacts/<target>/`) into the target's
//! regressions directory and `make test` replays it. Besides crash inputs, each directory holds a few
//! corpus inputs that reach deep paths; the tests below check that they still do, so the replay
//! keeps exercising the parsers rather than failing early on every input.

mod common;
mod fuzz_bodies;
mod fuzz_driver;

use std::path::PathBuf;

use common::*;

fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect()
}

#[test]
fn pipeline_regressions_replay() {
    let files = regressions("pipeline");
    assert!(files.len() >= 2, "seed inputs missing");
    for (path, data) in files {
        eprintln!("replaying {}", path.display());
        fuzz_driver::run(&data);
    }
}

#[test]
fn wire_regressions_replay_and_reach_every_view() {
    let files = regressions("wire");
    assert!(files.len() >= 5, "saved inputs missing");
    let mut seen = fuzz_bodies::wire::Reached::default();
    for (path, data) in files {
        eprintln!("replaying {}", path.display());
        let r = fuzz_bodies::wire::run(&data);
        seen.ethernet |= r.ethernet;
        seen.arp |= r.arp;
        seen.ipv4 |= r.ipv4;
        seen.tcp |= r.tcp;
        seen.udp |= r.udp;
        seen.icmp |= r.icmp;
        seen.icmp_embedded_ipv4 |= r.icmp_embedded_ipv4;
    }
    let all = fuzz_bodies::wire::Reached {
        ethernet: true,
        arp: true,
        ipv4: true,
        tcp: true,
        udp: true,
        icmp: true,
        icmp_embedded_ipv4: true,
    };
    assert_eq!(
        seen, all,
        "views the saved inputs reach through the chained parse"
    );
}

#[test]
fn control_frame_regressions_replay_and_reach_the_decoders() {
    let files = regressions("control_frame");
    assert!(files.len() >= 5, "saved inputs missing");
    let (mut requests, mut replies, mut headers) = (0, 0, 0);
    for (path, data) in files {
        eprintln!("replaying {}", path.display());
        let d = fuzz_bodies::control_frame::run(&data);
        requests += usize::from(d.request);
        replies += usize::from(d.reply);
        headers += usize::from(d.header);
    }
    assert!(requests >= 2, "inputs that decode as requests: {requests}");
    assert!(replies >= 1, "inputs that decode as replies: {replies}");
    assert!(
        headers > requests,
        "inputs past the header check: {headers}"
    );
}

#[test]
fn config_regressions_replay_and_reach_validation() {
    let files = regressions("config");
    assert!(files.len() >= 5, "saved inputs missing");
    let (mut valid, mut errors) = (0, 0);
    for (path, data) in files {
        eprintln!("replaying {}", path.display());
        match fuzz_bodies::config::run(&data) {
            Some(true) => valid += 1,
            Some(false) => errors += 1,
            None => {}
        }
    }
    assert!(valid >= 1, "inputs that validate: {valid}");
    assert!(errors >= 3, "inputs with a typed error: {errors}");
}

/// Each hand-built seed reaches what its name says (so a fixture change cannot quietly turn a seed
/// into one more input rejected at the first check).
#[test]
fn seeds_reach_what_they_name() {
    for (name, data) in seed_inputs("wire") {
        let r = fuzz_bodies::wire::run(&data);
        let want = match name {
            "seed-arp-request" => r.arp,
            "seed-tcp-syn-with-data" => r.tcp,
            "seed-ipv4-cut-short" => r.ethernet && !r.ipv4,
            "seed-udp" => r.udp,
            "seed-icmp-echo" => r.icmp && !r.icmp_embedded_ipv4,
            "seed-icmp-port-unreachable" => r.icmp_embedded_ipv4,
            _ => unreachable!("{name}"),
        };
        assert!(want, "{name}: {r:?}");
    }
    for (name, data) in seed_inputs("control_frame") {
        let d = fuzz_bodies::control_frame::run(&data);
        let want = match name {
            "seed-reply-timeouts" => d.reply && !d.request,
            "seed-request-truncated" | "seed-two-requests-one-buffer" => d.header && !d.request,
            _ => d.request && !d.reply,
        };
        assert!(want, "{name}: {d:?}");
    }
    for (name, data) in seed_inputs("config") {
        let want = match name {
            "seed-lab-config" => Some(true),
            "seed-not-utf8" => None,
            _ => Some(false),
        };
        assert_eq!(fuzz_bodies::config::run(&data), want, "{name}");
    }
}

/// A tool, not a check of the tree: prints the outcome of every file of a corpus directory, to pick
/// inputs for a regressions directory.
#[test]
#[ignore = "tool: RVS_FUZZ_SCAN=<corpus dir> RVS_FUZZ_SCAN_TARGET=<target> cargo test --test fuzz_regressions -- --ignored scan_corpus --nocapture"]
fn scan_corpus() {
    let dir = std::env::var_os("RVS_FUZZ_SCAN").expect("RVS_FUZZ_SCAN=<corpus dir>");
    let target = std::env::var("RVS_FUZZ_SCAN_TARGET").unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for p in files {
        let data = std::fs::read(&p).unwrap();
        let what = match target.as_str() {
            "wire" => format!("{:?}", fuzz_bodies::wire::run(&data)),
            "control_frame" => format!("{:?}", fuzz_bodies::control_frame::run(&data)),
            _ => format!("{:?}", fuzz_bodies::config::run(&data)),
        };
        println!("SCAN {} {} {what}", data.len(), p.display());
    }
}

/// The seed files are what `seed_inputs` below builds: rewrite them (RVS_WRITE_FUZZ_SEEDS=1) if the
/// fixtures or the protocol change.
#[test]
fn seed_inputs_are_current() {
    for target in ["pipeline", "wire", "control_frame", "config"] {
        for (name, data) in seed_inputs(target) {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/regressions")
                .join(target)
                .join(name);
            if std::env::var_os("RVS_WRITE_FUZZ_SEEDS").is_some() {
                std::fs::write(&path, &data).unwrap();
            }
            assert_eq!(std::fs::read(&path).unwrap(), data, "{}", path.display());
        }
    }
}

/// The fragment seed: the SYN goes out, then the three fragments of the next segment, released by
/// its first fragment (the fragment path is reached).
#[test]
fn fragment_seed_is_forwarded() {
    let (_, data) = seed_inputs("pipeline").remove(3);
    assert_eq!(fuzz_driver::run(&data), 4);
}

/// Cut the IPv4 packet of Ethernet frame `f` (no options) into fragments of `chunk` payload bytes
/// (a multiple of 8), as Ethernet frames (IPv4 header checksums recomputed).
fn fragments(f: &[u8], chunk: usize, ident: u16) -> Vec<Vec<u8>> {
    let payload = &f[34..];
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| {
            let mut v = f[..34].to_vec();
            v.extend_from_slice(c);
            v[16..18].copy_from_slice(&((20 + c.len()) as u16).to_be_bytes());
            v[18..20].copy_from_slice(&ident.to_be_bytes());
            let mf = if (i + 1) * chunk < payload.len() {
                0x2000
            } else {
                0
            };
            v[20..22].copy_from_slice(&((mf | (i * chunk / 8)) as u16).to_be_bytes());
            v[24..26].copy_from_slice(&[0, 0]);
            let mut sum: u32 = v[14..34]
                .chunks(2)
                .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
                .sum();
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            v[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
            v
        })
        .collect()
}

/// A valid SYN to the NAT service goes out to a real server (the driver reaches the forwarding path).
#[test]
fn valid_syn_seed_is_forwarded() {
    let (_, data) = seed_inputs("pipeline").remove(1);
    assert_eq!(fuzz_driver::run(&data), 1);
}

/// Hand-built inputs for each target, for the paths a fuzzer is slow to find on its own (a whole
/// ARP packet, an ICMP error quoting an IPv4 header, a control frame whose JSON decodes).
fn seed_inputs(target: &str) -> Vec<(&'static str, Vec<u8>)> {
    match target {
        "pipeline" => pipeline_seeds(),
        "wire" => wire_seeds(),
        "control_frame" => control_frame_seeds(),
        "config" => config_seeds(),
        _ => unreachable!("{target}"),
    }
}

fn pipeline_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let syn = tcp_frame(
        CLIENT_MAC,
        P0_MAC,
        (CLIENT_IP, 40000),
        (VIP, 8990),
        64,
        1,
        true,
        None,
        b"",
    );
    let fnat_syn = tcp_frame(
        CLIENT_MAC,
        P0_MAC,
        (CLIENT_IP, 40001),
        (VIP, 8991),
        64,
        1,
        true,
        None,
        b"",
    );
    let segment = tcp_frame(
        CLIENT_MAC,
        P0_MAC,
        (CLIENT_IP, 40000),
        (VIP, 8990),
        64,
        2,
        false,
        Some(1),
        &[0x5a; 100],
    );
    let frags = fragments(&segment, 48, 0x0fab);
    vec![
        (
            "seed-truncated-ipv4",
            fuzz_driver::join(&[(0, &syn[..14 + 11])]),
        ),
        ("seed-nat-syn", fuzz_driver::join(&[(0, &syn)])),
        (
            "seed-fullnat-syn-and-truncated",
            fuzz_driver::join(&[(0, &fnat_syn), (1, &fnat_syn[..20]), (2, &[])]),
        ),
        (
            "seed-nat-fragments",
            fuzz_driver::join(&[(0, &syn), (0, &frags[2]), (0, &frags[1]), (0, &frags[0])]),
        ),
    ]
}

fn wire_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use etherparse::{icmpv4::DestUnreachableHeader, Icmpv4Type, PacketBuilder};
    let syn = tcp_frame(
        CLIENT_MAC,
        P0_MAC,
        (CLIENT_IP, 40000),
        (VIP, 8990),
        64,
        1,
        true,
        None,
        b"GET",
    );
    let udp = udp_frame(CLIENT_MAC, P0_MAC, (CLIENT_IP, 40000), (VIP, 9000), b"ping");
    // Port unreachable from a real server, quoting the whole (short) UDP datagram: `Ipv4Packet`
    // wants its total length present, which a quote of only the header and 8 bytes is not.
    let b = PacketBuilder::ethernet2(RS1_MAC, P1_MAC)
        .ipv4(RS1_IP.octets(), CLIENT_IP.octets(), 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            DestUnreachableHeader::Port,
        ));
    let quoted = &udp[14..];
    let mut unreach = Vec::with_capacity(b.size(quoted.len()));
    b.write(&mut unreach, quoted).unwrap();
    vec![
        (
            "seed-arp-request",
            arp_request(CLIENT_MAC, CLIENT_IP, P0_IP),
        ),
        ("seed-tcp-syn-with-data", syn.clone()),
        ("seed-ipv4-cut-short", syn[..14 + 20 + 12].to_vec()),
        ("seed-udp", udp),
        (
            "seed-icmp-echo",
            icmp_echo(CLIENT_MAC, P0_MAC, CLIENT_IP, VIP, 64, true, 7, 1, b"abcd"),
        ),
        ("seed-icmp-port-unreachable", unreach),
    ]
}

fn control_frame_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use rvs_control::frame;
    use rvs_control::proto::{
        AclAction, AclSpec, DestSpec, FwdMethod, Request, Response, Timeouts, TunnelCsum,
        TunnelType,
    };
    let dest = DestSpec {
        addr: RS1_IP.into(),
        port: 8998,
        fwd: FwdMethod::Masq,
        weight: 3,
        u_threshold: 0,
        l_threshold: 0,
        tun_type: TunnelType::Ipip,
        tun_csum: TunnelCsum::NoCsum,
    };
    let add_dest = frame::encode_request(&Request::AddDest(tcp_key(8990), dest)).unwrap();
    let acl = AclSpec {
        action: AclAction::Deny,
        addr: CLIENT_IP.into(),
        prefix: 32,
    };
    let mut two = frame::encode_request(&Request::GetTimeouts).unwrap();
    two.extend(frame::encode_request(&Request::Flush).unwrap());
    vec![
        ("seed-request-add-dest", add_dest.clone()),
        (
            "seed-request-add-acl",
            frame::encode_request(&Request::AddAcl(tcp_key(8990), acl)).unwrap(),
        ),
        (
            "seed-request-set-timeouts",
            frame::encode_request(&Request::SetTimeouts(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            }))
            .unwrap(),
        ),
        (
            "seed-request-truncated",
            add_dest[..add_dest.len() - 3].to_vec(),
        ),
        ("seed-two-requests-one-buffer", two),
        (
            "seed-reply-timeouts",
            frame::encode_reply(&Ok(Response::Timeouts(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            })))
            .unwrap(),
        ),
    ]
}

fn config_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let lab = r#"[eal]
args = ["--no-huge", "-m", "512", "--no-pci", "--lcores", "0@0,1@1"]

[dataplane]
workers = [1]
max_sessions = 65536

[control]
socket = "/run/rvs/rvsd.sock"

[[port]]
name = "client"
device = "net_tap0,iface=rvc"
address = ["10.10.0.1/24"]

[[port]]
name = "rs1"
device = "net_tap1,iface=rv1"
address = ["10.10.1.1/24"]
"#;
    vec![
        ("seed-lab-config", lab.as_bytes().to_vec()),
        (
            "seed-bad-prefix",
            lab.replace("10.10.1.1/24", "10.10.1.1/33").into_bytes(),
        ),
        (
            "seed-unknown-key",
            lab.replace("max_sessions", "max_sesions").into_bytes(),
        ),
        (
            "seed-duplicate-port-name",
            lab.replace("\"rs1\"", "\"client\"").into_bytes(),
        ),
        ("seed-not-utf8", b"[eal]\nargs = [\"\xff\"]\n".to_vec()),
    ]
}
