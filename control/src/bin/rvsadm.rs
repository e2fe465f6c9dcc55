//! `rvsadm`: ipvsadm's command line, output and exit codes, over rvsd's control socket.
//!
//! A thin main: take `--socket PATH` out of the arguments (it may appear anywhere), parse the rest as
//! ipvsadm 1.31 would, connect lazily (flag > `RVS_SOCKET` > `/run/rvs/rvsd.sock`), run, print, exit
//! with ipvsadm's status. All logic lives in `rvs_control::ipvsadm`.

use rvs_control::client::resolve_socket_path;
use rvs_control::ipvsadm::exec::{execute, Io, SocketTransport};
use rvs_control::ipvsadm::names::NameDb;
use rvs_control::ipvsadm::{parse_args_with, take_socket_flag, PROG};
use std::io::Write;

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let prog = argv.first().cloned().unwrap_or_else(|| PROG.to_string());
    let args = argv.get(1..).unwrap_or(&[]);
    let parsed = take_socket_flag(args).and_then(|(socket, rest)| {
        parse_args_with(&prog, &rest, NameDb::system()).map(|cmd| (socket, cmd))
    });
    let (socket, cmd) = match parsed {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}", e.message);
            std::process::exit(e.code);
        }
    };
    let mut transport = SocketTransport::new(resolve_socket_path(socket.as_deref()));
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let code = {
        let mut io = Io {
            prog: &prog,
            out: &mut out,
            err: &mut err,
            names: NameDb::system(),
        };
        execute(&cmd, &mut transport, &mut io, &mut input)
    };
    let _ = out.flush();
    drop(out);
    std::process::exit(code);
}
