//! The control server over real Unix sockets in a temp dir, with a fake handler thread.

mod common;

use common::{fake_handler, TempDir};
use rvs_control::client::Client;
use rvs_control::frame;
use rvs_control::proto::*;
use rvs_control::server::{serve, ServerError};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn echo_timeouts(req: Request) -> Reply {
    match req {
        Request::SetTimeouts(t) => Ok(Response::Timeouts(t)),
        Request::Flush => Ok(Response::Ok),
        _ => Err(ApiError::NoSuchService),
    }
}

struct Running {
    _dir: TempDir,
    path: std::path::PathBuf,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
    }
}

fn start(tag: &str) -> Running {
    let dir = TempDir::new(tag);
    let path = dir.0.join("sub/dir/rvsd.sock");
    let stop = Arc::new(AtomicBool::new(false));
    let handle = serve(&path, fake_handler(echo_timeouts), stop.clone()).unwrap();
    Running {
        _dir: dir,
        path,
        stop,
        handle: Some(handle),
    }
}

fn raw_reply(path: &std::path::Path, bytes: &[u8]) -> Reply {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    frame::read_msg::<Reply>(&mut s).unwrap()
}

#[test]
fn round_trip_and_socket_mode() {
    let r = start("rt");
    let mode = std::fs::metadata(&r.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut c = Client::connect(&r.path).unwrap();
    let t = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    assert_eq!(
        c.call(&Request::SetTimeouts(t)).unwrap(),
        Ok(Response::Timeouts(t))
    );
    // Several requests on one connection.
    assert_eq!(c.call(&Request::Flush).unwrap(), Ok(Response::Ok));
    assert_eq!(
        c.call(&Request::GetTimeouts).unwrap(),
        Err(ApiError::NoSuchService)
    );
}

#[test]
fn thirty_two_concurrent_clients() {
    let r = start("conc");
    let threads: Vec<_> = (0..32u32)
        .map(|i| {
            let p = r.path.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&p).unwrap();
                for j in 0..20u32 {
                    let t = Timeouts {
                        tcp: i,
                        tcp_fin: j,
                        udp: i * 1000 + j,
                    };
                    assert_eq!(
                        c.call(&Request::SetTimeouts(t)).unwrap(),
                        Ok(Response::Timeouts(t))
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn garbage_gets_bad_frame_and_server_keeps_serving() {
    let r = start("garbage");
    let mut bytes = Vec::new();
    let junk = b"{this is not json";
    bytes.extend_from_slice(&((junk.len() + 4) as u32).to_be_bytes());
    bytes.extend_from_slice(&API_VERSION.to_be_bytes());
    bytes.extend_from_slice(junk);
    assert!(matches!(
        raw_reply(&r.path, &bytes),
        Err(ApiError::BadFrame(_))
    ));
    // Valid JSON, unknown request.
    let mut bytes = Vec::new();
    let junk = b"\"Reboot\"";
    bytes.extend_from_slice(&((junk.len() + 4) as u32).to_be_bytes());
    bytes.extend_from_slice(&API_VERSION.to_be_bytes());
    bytes.extend_from_slice(junk);
    assert!(matches!(
        raw_reply(&r.path, &bytes),
        Err(ApiError::BadFrame(_))
    ));
    // Length field shorter than the version.
    assert!(matches!(
        raw_reply(&r.path, &[0, 0, 0, 2, 0, 0, 0, 1]),
        Err(ApiError::BadFrame(_))
    ));
    let mut c = Client::connect(&r.path).unwrap();
    assert_eq!(c.call(&Request::Flush).unwrap(), Ok(Response::Ok));
}

#[test]
fn oversized_frame_is_refused_without_reading_it() {
    let r = start("big");
    let mut s = UnixStream::connect(&r.path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let len = (frame::MAX_FRAME + 1) as u32;
    s.write_all(&len.to_be_bytes()).unwrap();
    s.write_all(&API_VERSION.to_be_bytes()).unwrap();
    // Start sending a body: the server must answer from the header alone.
    let _ = s.write_all(&[b' '; 4096]);
    let reply = frame::read_msg::<Reply>(&mut s).unwrap();
    match reply {
        Err(ApiError::BadFrame(m)) => assert!(m.contains("too large"), "{m}"),
        other => panic!("{other:?}"),
    }
    // And the connection is then closed.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty());
    let mut c = Client::connect(&r.path).unwrap();
    assert_eq!(c.call(&Request::Flush).unwrap(), Ok(Response::Ok));
}

#[test]
fn wrong_version_gets_version_error() {
    let r = start("ver");
    let bytes = frame::encode_with_version(&Request::Flush, API_VERSION + 1).unwrap();
    assert_eq!(
        raw_reply(&r.path, &bytes),
        Err(ApiError::Version {
            expected: API_VERSION,
            got: API_VERSION + 1
        })
    );
    let mut c = Client::connect(&r.path).unwrap();
    assert_eq!(c.call(&Request::Flush).unwrap(), Ok(Response::Ok));
}

#[test]
fn stale_socket_is_replaced_live_one_is_refused_stop_removes_it() {
    let dir = TempDir::new("stale");
    let path = dir.0.join("rvsd.sock");
    // A stale socket: bound then dropped (nobody listens).
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let stop = Arc::new(AtomicBool::new(false));
    let h = serve(&path, fake_handler(echo_timeouts), stop.clone()).unwrap();
    // A second daemon on the same path is refused.
    let stop2 = Arc::new(AtomicBool::new(false));
    match serve(&path, fake_handler(echo_timeouts), stop2) {
        Err(ServerError::InUse { .. }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
    assert!(!path.exists());
    // A regular file in the way is never removed.
    std::fs::write(&path, b"x").unwrap();
    let stop3 = Arc::new(AtomicBool::new(false));
    assert!(matches!(
        serve(&path, fake_handler(echo_timeouts), stop3),
        Err(ServerError::NotASocket { .. })
    ));
    assert!(path.exists());
}

#[test]
fn handler_gone_gives_internal_error() {
    let dir = TempDir::new("gone");
    let path = dir.0.join("rvsd.sock");
    let (tx, rx) = crossbeam_channel::unbounded();
    drop(rx);
    let stop = Arc::new(AtomicBool::new(false));
    let h = serve(&path, tx, stop.clone()).unwrap();
    let mut c = Client::connect(&path).unwrap();
    assert!(matches!(
        c.call(&Request::Flush).unwrap(),
        Err(ApiError::Internal(_))
    ));
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}

#[test]
fn client_count_is_bounded() {
    let r = start("bound");
    let idle: Vec<UnixStream> = (0..rvs_control::server::MAX_CLIENTS)
        .map(|_| UnixStream::connect(&r.path).unwrap())
        .collect();
    // Let the accept loop take all of them.
    std::thread::sleep(Duration::from_millis(300));
    let mut c = Client::connect(&r.path).unwrap();
    match c.call(&Request::Flush).unwrap() {
        Err(ApiError::Internal(m)) => assert_eq!(m, "too many clients"),
        other => panic!("{other:?}"),
    }
    drop(idle);
    // Once they are gone, clients are served again.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = Client::connect(&r.path).unwrap();
        if c.call(&Request::Flush).unwrap() == Ok(Response::Ok) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never served again");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A client of another uid is refused by its peer credentials even when the socket's mode would let
/// it in: one `PermissionDenied` answer, nothing reaches the handler, the daemon's own user is still
/// served. Needs root (to run the client as another user); skipped otherwise.
#[test]
fn other_uid_is_refused_by_peer_credentials() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("skipped: needs root to run a client as another uid");
        return;
    }
    use std::os::unix::process::CommandExt;
    let r = start("peercred");
    // Open the path to everyone: only the credential check stands in the way.
    let mut p = r.path.clone();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    while p.pop() && p.starts_with(&r._dir.0) {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rvsadm"))
        .args(["--socket", r.path.to_str().unwrap(), "--set", "1", "2", "3"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Permission denied: uid 65534 may not control a daemon running as uid 0\n"
    );
    assert_eq!(out.status.code(), Some(255));
    // The handler never saw the request (it would have answered Timeouts), and we are still served.
    let mut c = Client::connect(&r.path).unwrap();
    let t = Timeouts {
        tcp: 4,
        tcp_fin: 5,
        udp: 6,
    };
    assert_eq!(
        c.call(&Request::SetTimeouts(t)).unwrap(),
        Ok(Response::Timeouts(t))
    );
}
