//! Running a parsed [`Command`]: ask the daemon, print ipvsadm's output, return ipvsadm's exit status.
//!
//! The daemon is reached through [`Transport`] so that `-R` and the printing logic are tested without a
//! socket. Exit statuses: a refused mutation prints the error class message and gives 255; a failed
//! listing gives 1; a daemon that cannot be reached gives 2 with `Can't initialize ipvs: ...`.

use super::format;
use super::names::NameDb;
use super::{parse_restore_line, Command};
use crate::client::{Client, ClientError};
use crate::proto::{ApiError, ConnCursor, Reply, Request, Response};
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

/// Sessions asked per `GetConnsPage` by `-Lc`.
pub const CONNS_PAGE: u32 = 4096;

/// Most rule lines `-R` sends in one `Batch` (keeps each frame far below the 1 MiB limit).
pub const RESTORE_BATCH: usize = 1000;

/// Most pages `-Lc` follows (a safety bound: 2^20 pages of up to [`CONNS_PAGE`] sessions).
const MAX_CONN_PAGES: usize = 1 << 20;

/// `-Lc`: every session, fetched page by page with `GetConnsPage` (each page is bounded work for a
/// worker), as one `Conns` answer.
///
/// # Errors
/// [`ClientError`] when the daemon cannot be reached.
pub fn fetch_conns(t: &mut dyn Transport) -> Result<Reply, ClientError> {
    let mut all = Vec::new();
    let mut cursor = ConnCursor::default();
    for _ in 0..MAX_CONN_PAGES {
        match t.call(&Request::GetConnsPage {
            cursor,
            max: CONNS_PAGE,
        })? {
            Ok(Response::ConnsPage { mut conns, next }) => {
                all.append(&mut conns);
                match next {
                    Some(n) => cursor = n,
                    None => return Ok(Ok(Response::Conns(all))),
                }
            }
            Ok(other) => return Ok(Ok(other)),
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Err(ApiError::Internal(
        "the session listing does not end".into(),
    )))
}

/// Service + dest entries asked per `GetServicesPage` (about 1 KB of JSON per entry at most: far
/// below the 1 MiB frame limit).
pub const SERVICES_PAGE_ENTRIES: u32 = 500;

/// Every service, fetched page by page with `GetServicesPage`, as one `Services` answer (what `-L`
/// and `-S` of the whole table print; a single frame could not hold a big table).
///
/// # Errors
/// [`ClientError`] when the daemon cannot be reached.
pub fn fetch_services(t: &mut dyn Transport) -> Result<Reply, ClientError> {
    let mut all = Vec::new();
    let mut start = 0;
    loop {
        match t.call(&Request::GetServicesPage {
            start,
            max_entries: SERVICES_PAGE_ENTRIES,
        })? {
            Ok(Response::ServicesPage { mut services, next }) => {
                all.append(&mut services);
                match next {
                    Some(n) if n > start => start = n,
                    Some(_) => {
                        return Ok(Err(ApiError::Internal(
                            "the service listing does not advance".into(),
                        )))
                    }
                    None => return Ok(Ok(Response::Services(all))),
                }
            }
            Ok(other) => return Ok(Ok(other)),
            Err(e) => return Ok(Err(e)),
        }
    }
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
    let reply = match if matches!(cmd, Command::ListConns { .. }) {
        fetch_conns(t)
    } else if matches!(req, Request::GetServices(None)) {
        fetch_services(t)
    } else {
        t.call(&req)
    } {
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
        (Command::GetAcls { numeric, .. }, Response::Services(s)) => {
            format::acls(&s, *numeric, io.names)
        }
        (Command::DataplaneStats, Response::DataplaneStats(s)) => format::dp_stats(&s),
        (Command::Show(_), Response::Ports(p)) => format::links(&p),
        (Command::Show(_), Response::Addrs(a)) => format::addrs(&a),
        (Command::Show(_), Response::Routes(r)) => format::routes(&r),
        (Command::Show(_), Response::Neighbours(n)) => format::neighbours(&n),
        (Command::Show(_), Response::LaddrPools(p)) => format::laddr_pools(&p),
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
/// stops with its status (2, or 255 for `Try ...`) after the lines before it were applied; a refused
/// operation is printed and the restore goes on; the status is the last line's.
///
/// Consecutive rule lines (up to [`RESTORE_BATCH`]) travel as one [`Request::Batch`]: the daemon
/// applies them in order and publishes the result to its workers once. Each refused line is printed
/// with ipvsadm's message, in input order, exactly as if the lines had been sent one by one.
pub fn restore(input: &mut dyn BufRead, t: &mut dyn Transport, io: &mut Io<'_>) -> i32 {
    let mut status = 0;
    let mut line = String::new();
    let mut n = 0usize;
    let mut batch: Vec<Request> = Vec::new();
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
                if send_batch(&mut batch, t, io) == 2 {
                    return 2;
                }
                let _ = writeln!(io.err, "line {n}: {}", e.message);
                return e.code;
            }
        };
        if let Command::Apply(req) = cmd {
            batch.push(req);
            if batch.len() >= RESTORE_BATCH {
                status = send_batch(&mut batch, t, io);
            }
        } else {
            if !batch.is_empty() {
                status = send_batch(&mut batch, t, io);
            }
            if status != 2 {
                let mut no_stdin = std::io::empty();
                status = execute(&cmd, t, io, &mut no_stdin);
            }
        }
        if status == 2 {
            // The daemon went away: nothing more can be restored.
            return status;
        }
    }
    if !batch.is_empty() {
        status = send_batch(&mut batch, t, io);
    }
    status
}

/// Send the pending rule lines of a restore (one alone as itself, several as a `Batch`), print each
/// refusal, and return the status of the last one (0, 255, or 2 when the daemon is unreachable). An
/// empty batch is status 0.
fn send_batch(batch: &mut Vec<Request>, t: &mut dyn Transport, io: &mut Io<'_>) -> i32 {
    let mut reqs = std::mem::take(batch);
    if reqs.len() <= 1 {
        return match reqs.pop() {
            None => 0,
            Some(req) => execute(&Command::Apply(req), t, io, &mut std::io::empty()),
        };
    }
    let len = reqs.len();
    match t.call(&Request::Batch(reqs)) {
        Err(e) => {
            let _ = writeln!(io.err, "{}", unreachable_message(&e));
            2
        }
        Ok(Ok(Response::Batch(results))) if results.len() == len => {
            let mut status = 0;
            for r in results {
                status = match r {
                    Ok(()) => 0,
                    Err(e) => {
                        let _ = writeln!(io.err, "{}", e.ipvsadm_message());
                        255
                    }
                };
            }
            status
        }
        Ok(Err(e)) => {
            let _ = writeln!(io.err, "{}", e.ipvsadm_message());
            255
        }
        Ok(Ok(other)) => {
            let _ = writeln!(io.err, "unexpected answer from rvsd: {other:?}");
            255
        }
    }
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
