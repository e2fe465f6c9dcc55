//! Replays every saved fuzz input under `dataplane/fuzz/regressions/pipeline/` through the same
//! driver the cargo-fuzz `pipeline` target uses (tests/fuzz_driver), so a crash found once stays
//! fixed: drop the crash file into that directory and `make test` replays it.

mod common;
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

/// The seed files are what `seed_inputs` below builds: rewrite them if the lab fixtures change.
#[test]
fn seed_inputs_are_current() {
    for (name, data) in seed_inputs() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/pipeline")
            .join(name);
        if std::env::var_os("RVS_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::write(&path, &data).unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), data, "{}", path.display());
    }
}

/// The fragment seed: the SYN goes out, then the three fragments of the next segment, released by
/// its first fragment (the fragment path is reached).
#[test]
fn fragment_seed_is_forwarded() {
    let (_, data) = seed_inputs().remove(3);
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
    let (_, data) = seed_inputs().remove(1);
    assert_eq!(fuzz_driver::run(&data), 1);
}

fn seed_inputs() -> Vec<(&'static str, Vec<u8>)> {
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
