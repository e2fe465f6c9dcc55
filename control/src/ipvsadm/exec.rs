//! Running a parsed [`Command`]: ask the daemon, print ipvsadm's output, return ipvsadm's exit status.
//!
//! The daemon is reached through [`Transport`] so that `-R` and the printing logic are tested without a
//! socket. Exit statuses: a refused mutation prints the error class message and gives 255; a failed
//! listing gives 1; a daemon that cannot be reached gives 2 with `Can't initialize ipvs: ...`.

use super::format;
use super::names::NameDb;
use super::{parse_restore_line, Command};
use crate::client::{Client, ClientError};
use crate::proto::{Reply, Request, Response};
use std::io::{BufRead, Write};

/// Something that answers requests: the daemon's socket, or a fake in tests.
pub trait Transport {
    /// Sends one request and returns the daemon's reply.
    ///
    /// # Errors
    /// [`ClientError`] when the daemon cannot be reached or does not answer.
    fn call(&mut self, req: &Request) -> Result<Reply, ClientError>;
}

impl Transport for Client {
    fn call(&mut self, req: &Request) -> Result<Reply, ClientError> {
        Client::call(self, req)
    }
}

/// Where a command prints, and how names are resolved.
pub struct Io<'a> {
    /// argv\[0\] as typed.
    pub prog: &'a str,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// Name tables for listings without `-n`.
    pub names: &'a NameDb,
}

/// The message printed when the daemon cannot be reached (exit 2).
pub fn unreachable_message(e: &ClientError) -> String {
    format!(
        "Can't initialize ipvs: {e}\nAre you sure that rvsd is running and that this is its control socket?"
    )
}

/// Runs one command; `stdin` is read only by `-R`. Returns the exit status.
pub fn execute(
    cmd: &Command,
    t: &mut dyn Transport,
    io: &mut Io<'_>,
    stdin: &mut dyn BufRead,
) -> i32 {
    match cmd {
        Command::Help => {
            let _ = io.out.write_all(format::help(io.prog).as_bytes());
            return 0;
        }
        Command::Version => {
            let _ = io.out.write_all(format::VERSION.as_bytes());
            return 0;
        }
        Command::ListDaemons => return 0,
        Command::Restore => return restore(stdin, t, io),
        _ => {}
    }
    let Some(req) = cmd.request() else {
        return 0;
    };
    let reply = match t.call(&req) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "{}", unreachable_message(&e));
            return 2;
        }
    };
    let is_list = !matches!(cmd, Command::Apply(_));
    let resp = match reply {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "{}", e.ipvsadm_message());
            return if is_list { 1 } else { 255 };
        }
    };
    let text = match (cmd, resp) {
        (Command::Apply(_), _) => String::new(),
        (Command::List { service, format }, Response::Services(s)) => {
            format::list(&s, service.is_none(), format, io.names)
        }
        (Command::Save { numeric }, Response::Services(s)) => format::save(&s, *numeric, io.names),
        (
            Command::ListConns {
                numeric,
                persistent_conn,
            },
            Response::Conns(c),
        ) => format::conns(&c, *numeric, *persistent_conn, io.names),
        (Command::ListTimeouts, Response::Timeouts(t)) => format::timeouts(&t),
        (Command::GetLaddrs { numeric, .. }, Response::Laddrs(l)) => {
            format::laddrs(&l, *numeric, io.names)
        }
        (Command::DataplaneStats, Response::DataplaneStats(s)) => format::dp_stats(&s),
        (_, other) => {
            let _ = writeln!(io.err, "unexpected answer from rvsd: {other:?}");
            return 1;
        }
    };
    let _ = io.out.write_all(text.as_bytes());
    0
}

/// Splits one `-R` line into words: whitespace-separated, `ipvsadm` tokens dropped, and (an rvs
/// extension) a word starting with `#` ends the line. `None` for a line with nothing to run.
pub fn restore_words(line: &str) -> Option<Vec<String>> {
    if line.trim().is_empty() || line.trim_start().starts_with('#') {
        return None;
    }
    Some(
        line.split_whitespace()
            .take_while(|w| !w.starts_with('#'))
            .filter(|w| *w != "ipvsadm")
            .map(str::to_string)
            .collect(),
    )
}

/// `-R`: runs every input line as an ipvsadm invocation. A parse error prints `line N: <message>` and
/// stops with its status (2, or 255 for `Try ...`); a refused operation is printed and the restore goes
/// on; the status is the last line's.
pub fn restore(input: &mut dyn BufRead, t: &mut dyn Transport, io: &mut Io<'_>) -> i32 {
    let mut status = 0;
    let mut line = String::new();
    let mut n = 0usize;
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(io.err, "cannot read standard input: {e}");
                return 2;
            }
        }
        n += 1;
        let Some(words) = restore_words(&line) else {
            continue;
        };
        let cmd = match parse_restore_line(io.prog, &words, io.names) {
            Ok(c) => c,
            Err(e) => {
                let _ = writeln!(io.err, "line {n}: {}", e.message);
                return e.code;
            }
        };
        let mut no_stdin = std::io::empty();
        status = execute(&cmd, t, io, &mut no_stdin);
        if status == 2 {
            // The daemon went away: nothing more can be restored.
            return status;
        }
    }
    status
}

/// A [`Transport`] that connects to the socket on its first call (so `-h`, parse errors and empty
/// restores never need a daemon) and keeps the connection for the following calls.
#[derive(Debug)]
pub struct SocketTransport {
    path: std::path::PathBuf,
    client: Option<Client>,
}

impl SocketTransport {
    /// A transport for the socket at `path`; nothing is connected yet.
    pub fn new(path: std::path::PathBuf) -> SocketTransport {
        SocketTransport { path, client: None }
    }
}

impl Transport for SocketTransport {
    fn call(&mut self, req: &Request) -> Result<Reply, ClientError> {
        let client = match self.client.as_mut() {
            Some(c) => c,
            None => self.client.insert(Client::connect(&self.path)?),
        };
        client.call(req)
    }
}
