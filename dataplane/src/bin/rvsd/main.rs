//! rvsd: the rvs dataplane daemon.
fn main() {
    eprintln!("rvsd: not built yet");
    std::process::exit(2);
}
