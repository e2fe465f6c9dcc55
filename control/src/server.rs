//! The daemon side of the control socket.
//!
//! [`serve`] binds a Unix stream socket (creating its parent directory, removing a stale socket left by a
//! dead daemon, refusing to steal a live one), restricts it to its owner (mode 0600) and runs an accept
//! loop on its own thread. Each client gets a thread (at most [`MAX_CLIENTS`] at once; the next one is
//! answered with an error and closed). A client thread reads frames, checks their length and version
//! *before* decoding, forwards each decoded request to the daemon's handler channel together with a
//! one-shot reply channel, and writes the reply back.
//!
//! Invariants:
//! - Only the daemon's own user may talk to it: besides the socket's mode (0600, and 0700 on a
//!   directory created here), every accepted connection's peer credentials (`SO_PEERCRED`) are read
//!   and a client whose effective uid is not the daemon's is answered [`ApiError::PermissionDenied`]
//!   and closed before any request of it is read ([`peer_allowed`]).
//! - A bad frame (garbage, oversized, wrong version, truncated) gets one error reply
//!   ([`ApiError::BadFrame`] or [`ApiError::Version`]) and its connection is closed; the daemon keeps
//!   serving everyone else.
//! - Nothing here blocks forever: the accept loop polls `stop` every [`POLL_INTERVAL`], client reads time
//!   out after [`IDLE_TIMEOUT`], and a handler that does not answer within [`HANDLER_TIMEOUT`] produces an
//!   [`ApiError::Internal`] reply.
//! - When `stop` is set the accept loop ends and removes the socket file; client threads end at their
//!   next read.

use crate::frame::{self, FrameError};
use crate::proto::{ApiError, Reply, Request};
use crossbeam_channel::Sender;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How many clients may be connected at once.
pub const MAX_CLIENTS: usize = 64;

/// How often the accept loop looks at `stop`.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long a client may stay silent (between or inside frames) before it is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client thread waits for the handler's reply.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The parent directory could not be created.
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Something other than a socket is in the way.
    #[error("{} exists and is not a socket", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// Another daemon answers on this socket.
    #[error("{} is in use by a running daemon", path.display())]
    InUse {
        /// The path.
        path: PathBuf,
    },
    /// Any other OS error while preparing the socket.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// The handler channel: each request comes with the sender its reply must go to.
pub type Handler = Sender<(Request, Sender<Reply>)>;

fn io_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(io::Error) -> ServerError + 'a {
    move |source| ServerError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// Removes a socket left by a dead daemon; refuses a live one or a non-socket.
fn remove_stale(path: &Path) -> Result<(), ServerError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(path, "stat")(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ServerError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    if UnixStream::connect(path).is_ok() {
        return Err(ServerError::InUse {
            path: path.to_path_buf(),
        });
    }
    std::fs::remove_file(path).map_err(io_err(path, "remove stale socket"))
}

/// Binds `path` and serves clients until `stop` is set.
///
/// Every decoded request is sent on `handler` with a reply sender; the daemon answers each one exactly
/// once. The returned thread ends (and removes the socket file) shortly after `stop` is set.
///
/// # Errors
/// [`ServerError`] if the socket cannot be prepared or bound.
pub fn serve(
    path: &Path,
    handler: Handler,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, ServerError> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|source| ServerError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
            // The directory we create is ours alone; an existing one is left as it is.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err(dir, "chmod directory"))?;
        }
    }
    remove_stale(path)?;
    let listener = UnixListener::bind(path).map_err(io_err(path, "bind"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_err(path, "chmod socket"))?;
    listener
        .set_nonblocking(true)
        .map_err(io_err(path, "set non-blocking"))?;
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("rvs-control".into())
        .spawn(move || accept_loop(listener, &path, handler, stop))
        .map_err(|source| ServerError::Io {
            path: PathBuf::new(),
            what: "spawn accept thread",
            source,
        })
}

fn accept_loop(listener: UnixListener, path: &Path, handler: Handler, stop: Arc<AtomicBool>) {
    let active = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = peer_allowed(&stream) {
                    let mut stream = stream;
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                    let _ = frame::write_msg(&mut stream, &Err::<crate::proto::Response, _>(e));
                    continue;
                }
                if active.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
                    active.fetch_sub(1, Ordering::AcqRel);
                    let mut stream = stream;
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                    let reply: Reply = Err(ApiError::Internal("too many clients".into()));
                    let _ = frame::write_msg(&mut stream, &reply);
                    continue;
                }
                let handler = handler.clone();
                let stop = stop.clone();
                let active2 = active.clone();
                let spawned = std::thread::Builder::new()
                    .name("rvs-control-client".into())
                    .spawn(move || {
                        serve_client(stream, &handler, &stop);
                        active2.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::AcqRel);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL_INTERVAL),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // EMFILE and friends: back off instead of spinning.
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
    let _ = std::fs::remove_file(path);
}

/// Whether the peer of `stream` may control the daemon: its effective uid (`SO_PEERCRED`, taken when
/// it connected) must be the daemon's own.
///
/// # Errors
/// [`ApiError::PermissionDenied`] for another uid, or when the credentials cannot be read.
pub fn peer_allowed(stream: &UnixStream) -> Result<(), ApiError> {
    let ours = rustix::process::geteuid().as_raw();
    match rustix::net::sockopt::socket_peercred(stream) {
        Ok(cred) if cred.uid.as_raw() == ours => Ok(()),
        Ok(cred) => Err(ApiError::PermissionDenied(format!(
            "uid {} may not control a daemon running as uid {ours}",
            cred.uid.as_raw()
        ))),
        Err(e) => Err(ApiError::PermissionDenied(format!(
            "peer credentials unreadable: {e}"
        ))),
    }
}

/// Reads and discards what the client may still be sending (bounded in bytes and time), so that closing
/// the connection does not turn into a reset that could hide our error reply.
fn drain(stream: &mut UnixStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut buf = [0u8; 8192];
    let mut left: usize = 4 * frame::MAX_FRAME;
    while left > 0 && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

fn frame_error_reply(e: &FrameError) -> Reply {
    match e {
        FrameError::Version { expected, got } => Err(ApiError::Version {
            expected: *expected,
            got: *got,
        }),
        other => Err(ApiError::BadFrame(other.to_string())),
    }
}

fn serve_client(mut stream: UnixStream, handler: &Handler, stop: &AtomicBool) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(IDLE_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(IDLE_TIMEOUT)).is_err()
    {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        let payload = match frame::read_payload(&mut stream) {
            Ok(p) => p,
            // Clean close, idle timeout or a dead peer: nothing to answer.
            Err(FrameError::Closed) | Err(FrameError::Io(_)) => return,
            Err(e) => {
                let _ = frame::write_msg(&mut stream, &frame_error_reply(&e));
                let _ = stream.shutdown(std::net::Shutdown::Write);
                drain(&mut stream);
                return;
            }
        };
        let req: Request = match frame::decode_payload(&payload) {
            Ok(r) => r,
            Err(e) => {
                let _ = frame::write_msg(&mut stream, &frame_error_reply(&e));
                return;
            }
        };
        let (tx, rx) = crossbeam_channel::bounded::<Reply>(1);
        let reply = if handler.send((req, tx)).is_err() {
            Err(ApiError::Internal("daemon is shutting down".into()))
        } else {
            match rx.recv_timeout(HANDLER_TIMEOUT) {
                Ok(r) => r,
                Err(_) => Err(ApiError::Internal("the daemon did not answer".into())),
            }
        };
        if frame::write_msg(&mut stream, &reply).is_err() {
            return;
        }
        let _ = stream.flush();
    }
}
