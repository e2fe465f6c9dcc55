//! `rvsadm`: ipvsadm's command line, output and exit codes, over rvsd's control socket.
fn main() {
    eprintln!("rvsadm: not built yet");
    std::process::exit(2);
}
