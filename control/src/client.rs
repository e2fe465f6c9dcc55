//! The client side of the control socket: one blocking request/reply at a time.
//!
//! [`Client`] keeps one connection. The daemon drops connections that stay idle, so when a call finds the
//! connection closed before it could be answered (broken pipe, reset, or end of stream before any reply
//! byte) the client reconnects once and resends: the daemon only closes an idle connection while waiting
//! for a new frame, so such a request was never processed and resending it is safe.
//!
//! Socket path precedence: `--socket` flag > `RVS_SOCKET` environment variable > [`DEFAULT_SOCKET`].

use crate::frame::{self, FrameError};
use crate::proto::{Reply, Request};
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where rvsd listens when nothing else is said.
pub const DEFAULT_SOCKET: &str = "/run/rvs/rvsd.sock";

/// The environment variable that overrides [`DEFAULT_SOCKET`].
pub const SOCKET_ENV: &str = "RVS_SOCKET";

/// How long a call waits for the daemon's reply by default (connection listings gather every lcore).
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long writing a request may block.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The socket path when neither flag nor environment says otherwise: `RVS_SOCKET` if set and non-empty,
/// else [`DEFAULT_SOCKET`].
pub fn default_socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// Resolves the socket path: the flag if given, else [`default_socket_path`].
pub fn resolve_socket_path(flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None => default_socket_path(),
    }
}

/// Why a call failed before a reply was received.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be connected.
    #[error("{}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing or reading the frame failed (timeout, closed connection, bad reply frame).
    #[error("{0}")]
    Frame(#[from] FrameError),
}

/// A connection to rvsd's control socket.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    stream: Option<UnixStream>,
    reply_timeout: Duration,
}

impl Client {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// [`ClientError::Connect`] if nothing listens there.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let mut c = Client {
            path: path.to_path_buf(),
            stream: None,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
        };
        c.stream = Some(c.open()?);
        Ok(c)
    }

    /// Changes how long [`Client::call`] waits for a reply.
    pub fn set_reply_timeout(&mut self, timeout: Duration) {
        self.reply_timeout = timeout;
        if let Some(s) = &self.stream {
            // Best effort: a zero duration is refused by the OS and keeps the previous timeout.
            let _ = s.set_read_timeout(Some(timeout));
        }
    }

    /// The socket path this client talks to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> Result<UnixStream, ClientError> {
        let connect_err = |source| ClientError::Connect {
            path: self.path.clone(),
            source,
        };
        let s = UnixStream::connect(&self.path).map_err(connect_err)?;
        s.set_read_timeout(Some(self.reply_timeout))
            .map_err(connect_err)?;
        s.set_write_timeout(Some(WRITE_TIMEOUT))
            .map_err(connect_err)?;
        Ok(s)
    }

    fn call_once(&mut self, req: &Request) -> Result<Reply, ClientError> {
        let stream = match self.stream.as_mut() {
            Some(s) => s,
            None => {
                let s = self.open()?;
                self.stream.insert(s)
            }
        };
        let res = frame::write_msg(stream, req).and_then(|()| frame::read_msg::<Reply>(stream));
        if res.is_err() {
            self.stream = None;
        }
        Ok(res?)
    }

    /// Sends one request and waits for its reply.
    ///
    /// # Errors
    /// [`ClientError`] when no reply could be obtained; a refused request is an `Ok(Err(ApiError))`.
    pub fn call(&mut self, req: &Request) -> Result<Reply, ClientError> {
        match self.call_once(req) {
            Err(ClientError::Frame(e)) if closed_before_reply(&e) => self.call_once(req),
            other => other,
        }
    }
}

/// True when the daemon closed the connection without reading our request (idle drop).
fn closed_before_reply(e: &FrameError) -> bool {
    match e {
        FrameError::Closed => true,
        FrameError::Io(io) => matches!(
            io.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_over_everything() {
        assert_eq!(
            resolve_socket_path(Some(Path::new("/tmp/x.sock"))),
            PathBuf::from("/tmp/x.sock")
        );
    }

    #[test]
    fn connect_to_nothing_is_a_connect_error() {
        let e = Client::connect(Path::new("/nonexistent-rvs-dir/none.sock")).unwrap_err();
        assert!(matches!(e, ClientError::Connect { .. }));
        assert!(e
            .to_string()
            .starts_with("/nonexistent-rvs-dir/none.sock: "));
    }
}
